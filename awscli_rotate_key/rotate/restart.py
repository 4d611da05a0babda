"""``--restart-command``: restart what holds the old key in memory, before the old key goes.

The command runs through the shell, as typed, with the new key in its environment only (never
in its argv), stdin closed, and its output on our stderr (never in the JSON on stdout). It must
exit 0 only when the service runs on the new key; past its timeout its whole process group is
killed and it counts as failed. A failure leaves the old key Active and the rotation journaled
with the command, and the next run runs it again before retiring the old key.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from awscli_rotate_key.rotate import oscalls
from awscli_rotate_key.rotate.profiles import Credentials

DEFAULT_TIMEOUT = 300.0
STDERR = 2  # the command's stdout and stderr both go to ours
# Variables that would make the command sign with something other than the new key, or tell
# it that the new key expires (AWS_CREDENTIAL_EXPIRATION: a static key does not).
_REMOVED = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION")


@dataclass(frozen=True)
class Restart:
    command: str
    timeout: float = DEFAULT_TIMEOUT


def environment_with(new: Credentials, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with the new key in it, and no session token or expiry."""
    env = {k: v for k, v in base.items() if k not in _REMOVED}
    env["AWS_ACCESS_KEY_ID"] = new.access_key_id
    env["AWS_SECRET_ACCESS_KEY"] = new.secret_access_key
    return env


def run_restart(restart: Restart, new: Credentials) -> str | None:
    """Run the command; None when it exited 0, else why it failed, in words."""
    process = subprocess.Popen(
        restart.command,
        shell=True,  # the command is the user's shell line, by design
        env=environment_with(new, os.environ),
        stdin=subprocess.DEVNULL,
        stdout=STDERR,
        stderr=STDERR,
        **oscalls.new_process_group(),
    )
    try:
        status = process.wait(timeout=restart.timeout)
    except subprocess.TimeoutExpired:
        oscalls.kill_process_group(process)
        process.wait()
        return f"timed out after {restart.timeout:g} s"
    except BaseException:  # Ctrl-C: the command does not outlive the run
        oscalls.kill_process_group(process)
        raise
    return None if status == 0 else exit_status(status)


def exit_status(status: int) -> str:
    if status < 0:  # POSIX: killed by a signal
        return f"was killed by signal {-status}"
    return f"exited with status {status}"
