"""A command module that cannot be imported (a broken or partial install) through the real `aws`.

A copy of the plugin whose ``commands/rotate.py`` fails to import is what the CLI loads: for v1
first on ``PYTHONPATH``, for v2 as its ``cli_legacy_plugin_path`` (README's v2 install).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

import awscli_rotate_key
from tests.support.cli import CLI

MISSING = "awscli_rotate_key_missing_dependency"
LINE = f"rotate-my-key: cannot load (No module named '{MISSING}'); reinstall the plugin"


def broken_copy(root: Path, module: str = "commands/rotate.py") -> Path:
    """The plugin as installed, except that ``module`` cannot be imported."""
    source = Path(awscli_rotate_key.__file__).parent
    target = root / "awscli_rotate_key"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / module).write_text(f"import {MISSING}\n")
    return root


def use_broken_copy(aws_home, tmp_path: Path, module: str = "commands/rotate.py") -> None:  # type: ignore[no-untyped-def]
    plugin = broken_copy(tmp_path / "plugin", module)
    if CLI.major == 2:
        aws_home.config.write_text(dataclasses.replace(CLI, plugin_dir=str(plugin)).plugin_config)
    else:
        aws_home.extra_env["PYTHONPATH"] = str(plugin)


def test_iam_help_still_lists_both_commands(aws_home, tmp_path):
    use_broken_copy(aws_home, tmp_path)

    result = aws_home.run("iam", "help")

    assert result.returncode == 0, result.stderr
    assert "rotate-my-key" in result.stdout and "audit-access-keys" in result.stdout


def test_the_command_says_it_cannot_load_and_exits_255(aws_home, tmp_path):
    use_broken_copy(aws_home, tmp_path)

    for args in (["--profile", "alice"], ["--dry-run", "--older-than", "90"], ["help"]):
        result = aws_home.run("iam", "rotate-my-key", *args)

        assert result.returncode == 255
        assert result.stderr == LINE + "\n"
        assert result.stdout == ""


def test_the_other_command_still_runs(aws_home, tmp_path):
    use_broken_copy(aws_home, tmp_path)

    result = aws_home.run("iam", "audit-access-keys", "help")

    assert result.returncode == 0, result.stderr
    assert "audit-access-keys" in result.stdout


@pytest.mark.parametrize(
    ("module", "command"),
    [
        ("rotate/credfile.py", "rotate-my-key"),  # as `fcntl` was on Windows
        ("rotate/sequence.py", "rotate-my-key"),
        ("admin/audit.py", "audit-access-keys"),
    ],
)
def test_a_core_module_that_cannot_load_is_named_with_one_line(aws_home, tmp_path, module, command):
    """The commands import the core only when they run: that failure gets the same line."""
    use_broken_copy(aws_home, tmp_path, module)

    result = aws_home.run("iam", command, "--profile", "alice")

    assert result.returncode == 255
    assert result.stderr == (
        f"{command}: cannot load (No module named '{MISSING}'); reinstall the plugin\n"
    )
    assert result.stdout == ""
