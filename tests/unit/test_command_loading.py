"""A command module that cannot be imported gets a stand-in that says so and exits 255."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from awscli_rotate_key import commands

LINE = "rotate-my-key: cannot load (No module named 'fcntl'); reinstall the plugin\n"


@pytest.fixture
def broken_rotate(monkeypatch: pytest.MonkeyPatch) -> None:
    real = commands.importlib.import_module

    def import_module(name: str) -> Any:
        if name == "awscli_rotate_key.commands.rotate":
            raise ModuleNotFoundError("No module named 'fcntl'", name="fcntl")
        return real(name)

    monkeypatch.setattr(commands.importlib, "import_module", import_module)


def test_a_command_that_cannot_be_imported_is_replaced_by_a_stand_in(
    broken_rotate: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from awscli.customizations.commands import BasicCommand

    from awscli_rotate_key.commands.audit import AuditAccessKeysCommand

    table = commands.lazy_commands(session=None)

    assert list(table) == ["rotate-my-key", "audit-access-keys", "enforce-key-rotation"]
    assert isinstance(table["audit-access-keys"], AuditAccessKeysCommand)
    stand_in = table["rotate-my-key"]
    assert isinstance(stand_in, BasicCommand) and stand_in.name == "rotate-my-key"
    for args in ([], ["--profile", "alice", "--dry-run"], ["help"]):
        assert stand_in(args, parsed_globals=None) == 255
        assert capsys.readouterr() == ("", LINE)


def test_any_error_while_loading_gives_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def import_module(name: str) -> Any:
        raise SyntaxError("invalid syntax\n  (rotate.py, line 3)")

    monkeypatch.setattr(commands.importlib, "import_module", import_module)
    table = commands.lazy_commands(session=None)

    assert table["audit-access-keys"].name == "audit-access-keys"
    assert table["rotate-my-key"].DESCRIPTION == (
        "rotate-my-key: cannot load (invalid syntax (rotate.py, line 3)); reinstall the plugin"
    )


STAND_IN_IMPORTS = """
import json, sys
import botocore
from awscli.clidriver import create_clidriver
create_clidriver()  # the CLI's own customizations are loaded, as when a table is built
sys.modules["awscli_rotate_key.commands.rotate"] = None  # `import` raises ImportError
sys.modules["awscli_rotate_key.commands.audit"] = None
sys.modules["awscli_rotate_key.commands.enforce"] = None
before = set(sys.modules)
from awscli_rotate_key.commands import lazy_commands
table = lazy_commands(None)
print(json.dumps({"new": sorted(set(sys.modules) - before), "names": sorted(table)}))
"""


def test_the_stand_in_imports_nothing_new() -> None:
    env = {**os.environ, "AWS_CONFIG_FILE": os.devnull}  # no plugin enabled by the user's config
    out = subprocess.run(
        [sys.executable, "-c", STAND_IN_IMPORTS],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    probe = json.loads(out.stdout)
    assert probe["names"] == ["audit-access-keys", "enforce-key-rotation", "rotate-my-key"]
    assert probe["new"] == ["awscli_rotate_key", "awscli_rotate_key.commands"]
