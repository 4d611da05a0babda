"""--restart-command in the core: a step after the proof and before retirement, journaled.

The command runner is a fake (``Steps.restart``); restart.py's own runner and the Windows
process-group switch are tested at the bottom on real processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from awscli_rotate_key.errors import PartlyDone
from awscli_rotate_key.rotate import oscalls
from awscli_rotate_key.rotate.journal import SAVED, JournalRecord, _record
from awscli_rotate_key.rotate.profiles import Credentials, KeySource
from awscli_rotate_key.rotate.restart import Restart, environment_with, run_restart
from awscli_rotate_key.rotate.results import NotDue, Rotated
from awscli_rotate_key.rotate.rotation import ACTIVE, DELETED, Options
from awscli_rotate_key.rotate.sequence import rotate_my_key
from awscli_rotate_key.rotate.steps import step_names
from tests.unit.fakes import Call
from tests.unit.test_rotation import Home, make_home


class FakeRestart:
    """Records each run (with the IAM log's length then); fails while ``failing`` is set."""

    def __init__(self, home: Home, failing: str | None = None) -> None:
        self.home, self.failing = home, failing
        self.runs: list[tuple[Restart, Credentials, int]] = []

    def __call__(self, restart: Restart, new: Credentials) -> str | None:
        self.runs.append((restart, new, len(self.home.iam.log)))
        return self.failing


def run(home: Home, restart: FakeRestart, **options: object) -> object:
    steps = home.steps()
    steps.restart = restart
    options.setdefault("wait_timeout", 30.0)
    return rotate_my_key(steps, KeySource("default", "default", ("default",)), Options(**options))  # type: ignore[arg-type]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def test_the_restart_is_a_step_between_the_proof_and_the_retirement() -> None:
    names = step_names()
    assert names.index("prove") < names.index("restart") < names.index("retire")
    assert names.index("save") < names.index("restart")


def test_the_command_runs_with_the_new_key_after_the_proof_and_before_any_retirement(
    home: Home,
) -> None:
    restart = FakeRestart(home)

    result = run(home, restart, restart_command="systemctl restart app", restart_timeout=12.0)

    assert isinstance(result, Rotated)
    ((command, new, calls_before),) = restart.runs
    assert command == Restart("systemctl restart app", 12.0)
    assert new == home.key_of()  # the new key, with its secret, as the files hold it
    before = [c.operation for c in home.iam.log[:calls_before]]
    after = [
        c.operation for c in home.iam.log[calls_before:] if c.target != "AKIA0ROTATEMYKEYCHECK"
    ]
    assert before[-1] == "ListAccessKeys" and "UpdateAccessKey" not in before[-3:]
    assert after == ["UpdateAccessKey", "DeleteAccessKey"]
    assert home.iam.status(home.old.access_key_id) == DELETED


def test_without_the_option_no_command_runs(home: Home) -> None:
    restart = FakeRestart(home)
    assert isinstance(run(home, restart), Rotated)
    assert restart.runs == []


def test_a_key_not_due_runs_no_command(home: Home) -> None:
    restart = FakeRestart(home)
    assert isinstance(run(home, restart, older_than=365, restart_command="x"), NotDue)
    assert restart.runs == []


def test_a_failing_command_leaves_the_old_key_active_journaled_and_the_next_run_reruns_it(
    home: Home,
) -> None:
    restart = FakeRestart(home, failing="exited with status 3")

    with pytest.raises(PartlyDone) as failed:
        run(home, restart, restart_command="./restart-app", restart_timeout=60.0)

    message = str(failed.value)
    assert failed.value.exit_code == 5
    assert "exited with status 3" in message and "--restart-command" in message
    new_id = home.key_of().access_key_id
    assert f"the old key {home.old.access_key_id} is still Active" in message
    assert home.iam.status(home.old.access_key_id) == ACTIVE
    assert home.iam.status(new_id) == ACTIVE
    assert home.iam.calls("UpdateAccessKey", "DeleteAccessKey") == []
    record = home.record()
    assert (record.step, record.new_key_id) == (SAVED, new_id)
    assert (record.restart_command, record.restart_timeout) == ("./restart-app", 60.0)

    # The next plain run (no --restart-command) runs the recorded command, then retires.
    restart.failing = None
    result = run(home, restart)

    assert isinstance(result, Rotated) and result.recovered is not None
    assert result.recovered["Action"] == "Completed"
    assert [(r.command, r.timeout) for r, _, _ in restart.runs] == [("./restart-app", 60.0)] * 2
    assert restart.runs[1][1].access_key_id == new_id
    assert home.iam.status(home.old.access_key_id) == DELETED
    assert home.in_flight() == set()


def test_a_resumed_rotation_of_this_profile_restarts_with_this_runs_command(home: Home) -> None:
    """A crash before retiring, with no command recorded: the run asked to restart does."""
    restart = FakeRestart(home)
    home.iam.before["ListAccessKeys"] = _die_once(home, unless_signed_by=home.old.access_key_id)
    with pytest.raises(_Killed):
        run(home, restart)  # killed while proving the new key: journaled SAVED
    assert restart.runs == [] and home.record().step == SAVED

    result = run(home, restart, restart_command="./restart-app")

    assert isinstance(result, Rotated) and result.recovered is not None
    assert [r.command for r, _, _ in restart.runs] == ["./restart-app"]


def test_a_rotation_resumed_while_retiring_does_not_run_the_command_again(home: Home) -> None:
    restart = FakeRestart(home)
    home.iam.before["DeleteAccessKey"] = _die_once(home)
    with pytest.raises(_Killed):
        run(home, restart, restart_command="./restart-app")
    assert len(restart.runs) == 1

    result = run(home, restart)

    assert isinstance(result, Rotated)
    assert len(restart.runs) == 1  # the old key may be Inactive already: the service has run
    assert home.iam.status(home.old.access_key_id) == DELETED


class _Killed(BaseException):
    pass


def _die_once(home: Home, unless_signed_by: str = ""):  # type: ignore[no-untyped-def]
    def die(call: Call) -> None:
        if call.signer == unless_signed_by:
            return
        home.iam.before.clear()
        raise _Killed

    return die


def test_journals_without_the_restart_fields_still_load_and_unused_fields_are_not_written(
    home: Home,
) -> None:
    old = '{"Version": 1, "profile": "p", "user_name": "u", "old_key_id": "A",'
    record = _record(old + ' "keys_before": ["A"], "delete_old_key": true}')
    assert record.restart_command is None and record.restart_timeout is None
    home.journal.save(JournalRecord("p", "u", "A", ["A"], True))
    assert "restart" not in Path(home.journal.path).read_text()


# -- the runner, on real processes ------------------------------------------------------------
NEW = Credentials("AKIANEWNEWNEWNEWNEW1", "new/secret+value")


def test_the_environment_has_the_new_key_and_no_session_token() -> None:
    base = {"PATH": "/bin", "AWS_SESSION_TOKEN": "t", "AWS_SECURITY_TOKEN": "t", "AWS_PROFILE": "p"}
    env = environment_with(NEW, base)
    assert env == {
        "PATH": "/bin",
        "AWS_PROFILE": "p",
        "AWS_ACCESS_KEY_ID": NEW.access_key_id,
        "AWS_SECRET_ACCESS_KEY": NEW.secret_access_key,
    }


def test_the_runner_reports_the_exit_status_and_a_timeout(tmp_path: Path) -> None:
    assert run_restart(Restart("exit 0"), NEW) is None
    assert run_restart(Restart("exit 7"), NEW) == "exited with status 7"
    assert run_restart(Restart("kill -9 $$"), NEW) == "was killed by signal 9"
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    assert run_restart(Restart(f"sleep 100 & echo $! > {pid_file}; wait", 0.5), NEW) == (
        "timed out after 0.5 s"
    )
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the command's background child survived the timeout"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_the_runner_passes_the_secret_in_the_environment_only(tmp_path: Path) -> None:
    out = tmp_path / "seen"
    script = "import os,sys; open(sys.argv[1],'w').write(os.environ['AWS_SECRET_ACCESS_KEY'])"
    assert run_restart(Restart(f'{sys.executable} -c "{script}" {out}'), NEW) is None
    assert out.read_text() == NEW.secret_access_key


def test_the_process_group_switch_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oscalls, "WINDOWS", False)
    assert oscalls.new_process_group() == {"start_new_session": True}
    monkeypatch.setattr(oscalls, "WINDOWS", True)
    flags = oscalls.new_process_group()["creationflags"]
    assert flags == getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200) == 0x200
    ran: list[list[str]] = []
    monkeypatch.setattr(oscalls.subprocess, "run", lambda argv, **_: ran.append(argv))
    killed: list[int] = []

    class Process:
        pid = 4242

        def kill(self) -> None:
            killed.append(self.pid)

    monkeypatch.setattr(os, "killpg", lambda *_: pytest.fail("os.killpg on Windows"))
    oscalls.kill_process_group(Process())  # type: ignore[arg-type]
    assert ran == [["taskkill", "/F", "/T", "/PID", "4242"]]
    assert killed == [4242]
