"""The Lambda runtime has botocore but no awscli: the handler must import without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: any import of awscli (or of the CLI layer) raises.
BLOCK_AWSCLI = """
import importlib.abc, sys

class NoAwscli(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "awscli" or name.startswith("awscli.") or name.startswith(
            "awscli_rotate_key.commands"
        ):
            raise ImportError(f"blocked: {name} (the Lambda runtime has no awscli)")
        return None

sys.meta_path.insert(0, NoAwscli())
"""


def import_blocked(code: str, path: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_AWSCLI + code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=path,
        check=False,
    )


def test_the_handler_imports_without_awscli() -> None:
    proc = import_blocked(
        "import awscli_rotate_key.admin.lambda_handler as h\n"
        "assert callable(h.handler)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'awscli')\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_the_block_works() -> None:
    """The check above would prove nothing if the finder let awscli through."""
    proc = import_blocked("import awscli.clidriver\n")
    assert proc.returncode != 0
    assert "blocked: awscli" in proc.stderr
