"""Unattended runs: never page unless stdout is a terminal, never prompt unless stdin is one.

The pager is a script that records that it ran (then passes the output through). AWS CLI v2
pages its own commands' output when stdout is a terminal (cli_pager, AWS_PAGER, PAGER); our
commands do the same, and never page otherwise. v1 never pages.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cli import CLI

COMMANDS = {
    "rotate-my-key": ("iam", "rotate-my-key", "--profile", "alice", "--dry-run"),
    "audit-access-keys": ("iam", "audit-access-keys", "--profile", "alice"),
}


def recording_pager(tmp_path: Path) -> tuple[str, Path]:
    marker = tmp_path / "pager-ran"
    script = tmp_path / "pager.sh"
    script.write_text(f"#!/bin/sh\necho ran >> '{marker}'\nexec cat\n")
    script.chmod(0o755)
    return str(script), marker


def with_alice(moto_server, home, tmp_path):  # type: ignore[no-untyped-def]
    user = moto_server.make_user(policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]})  # fmt: skip
    home.add_profile("alice", moto_server.make_key(user, age_days=100))
    pager, marker = recording_pager(tmp_path)
    home.extra_env.update(AWS_PAGER=pager, PAGER=pager)
    with open(home.config, "a") as f:
        f.write(f"[profile alice]\ncli_pager = {pager}\n")
    return marker


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_pager_when_stdout_is_not_a_terminal(moto_server, aws_home, tmp_path, command):
    marker = with_alice(moto_server, aws_home, tmp_path)

    result = aws_home.run(*COMMANDS[command])

    assert result.returncode == 0, result.stderr
    assert result.json  # the whole output reached stdout
    assert not marker.exists()


def run_on_a_terminal(home, args, timeout=90.0):  # type: ignore[no-untyped-def]
    """Run with stdout (only) on a pseudo-terminal; return (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        home.argv(*args), env=home.env(), stdin=subprocess.DEVNULL, stdout=slave,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: every writer is gone
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    code = proc.wait(timeout=30)
    assert proc.stderr is not None
    proc.stderr.close()
    return code, seen.decode(errors="replace")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_on_a_terminal_v2_pages_through_the_users_pager(moto_server, aws_home, tmp_path, command):
    marker = with_alice(moto_server, aws_home, tmp_path)

    code, seen = run_on_a_terminal(aws_home, COMMANDS[command])

    assert code == 0, seen
    assert '"' in seen  # the JSON reached the terminal, through the pager or not
    assert marker.exists() is (CLI.major == 2)  # as every v2 command; v1 has no pager


@pytest.mark.skipif(CLI.major != 2, reason="--no-cli-pager is an AWS CLI v2 option")
def test_no_cli_pager_is_honoured_on_a_terminal(moto_server, aws_home, tmp_path):
    marker = with_alice(moto_server, aws_home, tmp_path)
    code, seen = run_on_a_terminal(aws_home, (*COMMANDS["rotate-my-key"], "--no-cli-pager"))
    assert code == 0, seen
    assert not marker.exists()
