"""--restart-command: run with the new key in its environment, before the old key is retired.

The command is a small Python script that records what it saw (its environment and argv) and
says something on its stdout and stderr; a proxy hook records, at the instant each retirement
request arrives, whether the command had already run.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

ROTATE = ("iam", "rotate-my-key", "--profile", "alice")
RETIREMENT = ("UpdateAccessKey", "DeleteAccessKey")
SCRIPT = """\
import json, os, sys
out = sys.argv[1]
runs = json.load(open(out)) if os.path.exists(out) else []
names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
runs.append({"env": {n: os.environ.get(n) for n in names}, "argv": sys.argv})
json.dump(runs, open(out, "w"))
print("restart says hello on stdout")
print("restart says hello on stderr", file=sys.stderr)
sys.exit(3 if os.path.exists(out + ".fail") else 0)
"""


def restart_script(tmp_path: Path) -> tuple[str, Path]:
    """The command line, and the file where each run of it records what it saw."""
    script, seen = tmp_path / "restart.py", tmp_path / "restart-runs.json"
    script.write_text(SCRIPT)
    return (
        f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(str(seen))}",
        seen,
    )


def runs_of(seen: Path) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(seen.read_text()) if seen.exists() else []


def record_runs_at_retirement(proxy, seen: Path) -> list[int]:  # type: ignore[no-untyped-def]
    """How many times the command had run when each retirement request arrived."""
    counts: list[int] = []
    proxy.on(RETIREMENT, lambda call: counts.append(len(runs_of(seen))))
    return counts


def test_the_command_runs_with_the_new_key_before_the_old_key_is_retired(world, proxy, tmp_path):
    command, seen = restart_script(tmp_path)
    counts = record_runs_at_retirement(proxy, seen)

    result = world.home.run(*ROTATE, "--restart-command", command)

    assert result.returncode == 0, result.stderr
    new_id, new_secret = world.home.profile_key("alice")
    (run,) = runs_of(seen)
    assert run["env"] == {
        "AWS_ACCESS_KEY_ID": new_id,
        "AWS_SECRET_ACCESS_KEY": new_secret,
        "AWS_SESSION_TOKEN": None,
    }
    assert new_id == result.json["NewAccessKeyId"] != world.old.access_key_id
    # The command line is the one given; the secret is never in its argv.
    assert shlex.join(run["argv"][1:]) == shlex.join(shlex.split(command)[2:])
    assert all(new_secret not in arg for arg in run["argv"])
    # Both retirement calls came after the command ran.
    assert counts == [1, 1], (counts, proxy.actions())
    # Its output went to our stderr; stdout is the JSON alone.
    assert "restart says hello on stdout" in result.stderr
    assert "restart says hello on stderr" in result.stderr
    assert "restart says hello" not in result.stdout
    world.assert_clean_final_state()


def test_a_failing_command_keeps_the_old_key_and_the_next_run_runs_it_again(world, proxy, tmp_path):
    command, seen = restart_script(tmp_path)
    Path(str(seen) + ".fail").touch()

    failed = world.home.run(*ROTATE, "--restart-command", command)

    assert failed.returncode == 5, failed.stderr
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("rotate-my-key: ") and "exited with status 3" in line, line
    assert "--restart-command" in line and "Active" in line
    new_id = world.assert_files_hold_an_active_key()
    assert new_id != world.old.access_key_id
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active", new_id: "Active"}
    assert not {"UpdateAccessKey", "DeleteAccessKey"} & set(proxy.actions())
    journal = json.loads((world.home.root / ".aws" / "rotate-my-key.journal.json").read_text())
    assert journal["restart_command"] == command
    assert len(runs_of(seen)) == 1

    # Fixed: the next plain run (no --restart-command) runs the recorded command, then retires.
    os.unlink(str(seen) + ".fail")
    proxy.reset_log()
    counts = record_runs_at_retirement(proxy, seen)
    finished = world.home.run(*ROTATE)

    assert finished.returncode == 0, finished.stderr
    assert finished.json["Recovered"]["Action"] == "Completed"
    assert len(runs_of(seen)) == 2
    assert runs_of(seen)[1]["env"]["AWS_ACCESS_KEY_ID"] == new_id
    assert counts == [2, 2], (counts, proxy.actions())
    assert world.assert_clean_final_state() == new_id


def test_a_command_past_its_timeout_is_killed_with_its_process_group(world, tmp_path):
    pid_file = tmp_path / "child.pid"
    command = f"sleep 1000 & echo $! > {shlex.quote(str(pid_file))}; wait"

    started = time.monotonic()
    result = world.home.run(*ROTATE, "--restart-command", command, "--restart-timeout", "2")

    assert result.returncode == 5, result.stderr
    assert "timed out after 2 s" in result.stderr
    assert time.monotonic() - started < 60
    child = int(pid_file.read_text())
    assert gone(child), f"the command's child {child} outlived the timeout"
    new_id = world.assert_files_hold_an_active_key()
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active", new_id: "Active"}


def gone(pid: int, timeout: float = 5.0) -> bool:
    """The process no longer runs (it may linger as a zombie where nothing reaps orphans)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False
