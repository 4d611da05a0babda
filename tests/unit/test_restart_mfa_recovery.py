"""The rotation core after a restart and under MFA: a restarted service keeps its key, MFA
recovery that cannot wedge, the MFA device journaled, a session that lasts and may expire,
the retirement budget after a restart, and the restart's environment.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from awscli_rotate_key.errors import IamError, PartlyDone, Refused
from awscli_rotate_key.rotate.journal import CREATING, RETIRING, SAVED, JournalRecord, _record
from awscli_rotate_key.rotate.mfa import MfaSession, session_seconds
from awscli_rotate_key.rotate.profiles import Credentials, KeySource
from awscli_rotate_key.rotate.restart import environment_with
from awscli_rotate_key.rotate.results import Rotated
from awscli_rotate_key.rotate.rotation import ACTIVE, DELETED, INACTIVE, Options
from awscli_rotate_key.rotate.sequence import rotate_my_key
from tests.unit.test_mfa_steps import DEVICE, FakeMfa, MfaHome, MfaIam
from tests.unit.test_restart_steps import FakeRestart, run
from tests.unit.test_rotation import Home, hold, make_home

SOURCE = KeySource("default", "default", ("default",))
RESTART = "systemctl restart app"


class Killed(BaseException):
    pass


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def journal_data(home: Home) -> dict[str, object]:
    return json.loads((home.aws / "rotate-my-key.journal.json").read_text())  # type: ignore[no-any-return]


# -- 1. once the restart command ran, the rotation is never undone ----------------------------


@pytest.mark.parametrize(
    ("refused", "old_status"), [("UpdateAccessKey", ACTIVE), ("DeleteAccessKey", INACTIVE)]
)
def test_a_refused_retirement_after_the_restart_is_not_undone(
    home: Home, refused: str, old_status: str
) -> None:
    fault = home.iam.fail(refused, "AccessDenied", times=None)  # not the rights checks
    restart = FakeRestart(home)

    with pytest.raises(PartlyDone) as stopped:
        run(home, restart, restart_command=RESTART)

    message = str(stopped.value)
    new_id = home.key_of().access_key_id
    assert stopped.value.exit_code == 5
    assert new_id != home.old.access_key_id and restart.runs[0][1].access_key_id == new_id
    assert home.iam.status(new_id) == ACTIVE  # the key the restarted service runs on
    assert home.iam.status(home.old.access_key_id) == old_status
    assert "not undone" in message and "--restart-command" in message and "AccessDenied" in message
    assert f"the new, working key {new_id}" in message and f"still {old_status}" in message
    assert "run `aws iam rotate-my-key` again to retire it" in message
    assert journal_data(home)["restarted"] is True

    # The policy fixed: the next plain run retires the old key without restarting again.
    fault.times = 0
    result = run(home, restart)

    assert isinstance(result, Rotated) and result.old_key_status == DELETED
    assert len(restart.runs) == 1
    assert home.iam.status(new_id) == ACTIVE and home.in_flight() == set()


def test_a_resumed_rotation_after_the_restart_is_not_undone_when_the_new_key_stops_working(
    home: Home,
) -> None:
    restart = FakeRestart(home)
    save = home.journal.save

    def killed_before_retiring(record: JournalRecord) -> None:
        if record.step == RETIRING:
            raise Killed
        save(record)

    home.journal.save = killed_before_retiring  # type: ignore[method-assign]
    with pytest.raises(Killed):
        run(home, restart, restart_command=RESTART)
    home.journal.save = save  # type: ignore[method-assign]
    assert (home.record().step, home.record().restarted) == (SAVED, True)
    new_id = home.key_of().access_key_id
    home.iam.keys[new_id].rejections_left = 10**6  # IAM stops accepting it for now

    with pytest.raises(PartlyDone) as stopped:
        run(home, restart, wait_timeout=5.0)

    assert "--restart-command" in str(stopped.value) and "not undone" in str(stopped.value)
    assert home.iam.status(new_id) == ACTIVE and home.key_of().access_key_id == new_id
    assert home.iam.status(home.old.access_key_id) == ACTIVE
    assert home.record().restarted


def test_files_put_back_on_the_old_key_after_the_restart_never_delete_the_new_key(
    home: Home,
) -> None:
    restart = FakeRestart(home)
    other_program = {"on": False}

    def restarted(*args: object) -> None:
        other_program["on"] = True  # from now on another program writes the old key back
        home.credentials.write_text(hold(home.old))

    def writes_old_key(_: int) -> None:
        if other_program["on"]:
            home.credentials.write_text(hold(home.old))

    home.clock.on_sleep = writes_old_key
    steps = home.steps()
    steps.restart = lambda r, new: restarted() or restart(r, new)  # type: ignore[func-returns-value]
    with pytest.raises(PartlyDone) as stopped:
        rotate_my_key(steps, SOURCE, Options(wait_timeout=30.0, restart_command=RESTART))
    new_id = home.new_key_id()
    assert "not undone" in str(stopped.value) and home.iam.status(new_id) == ACTIVE

    # The next run finds the old key in the files: it keeps the service's key, says what to do.
    home.clock.on_sleep = None
    with pytest.raises(Refused) as kept:
        home.run()
    assert home.iam.status(new_id) == ACTIVE and home.in_flight() != set()
    assert f"delete-access-key --access-key-id {new_id}" in str(kept.value)

    # The service back on the old key and the new key deleted by hand: the next run rotates.
    del home.iam.keys[new_id]
    assert isinstance(home.run(), Rotated)


def test_a_discarded_rotation_keeps_the_new_key_the_service_runs_on(home: Home) -> None:
    home.iam.fail("UpdateAccessKey", "AccessDenied", times=1)
    with pytest.raises(PartlyDone):
        run(home, FakeRestart(home), restart_command=RESTART)
    new_id = home.key_of().access_key_id
    home.iam.add_user("bob")
    third = home.iam.add_key("bob")  # someone puts another user's key in the files
    home.credentials.write_text(hold(third))

    result = home.run()  # the rotation is abandoned, then bob's key is rotated

    assert isinstance(result, Rotated) and result.recovered is not None
    assert result.recovered["Action"] == "Discarded"
    assert result.recovered["DeletedAccessKeyIds"] == []
    assert home.iam.status(new_id) == ACTIVE
    assert any(f"its new key {new_id} is kept" in w for w in home.reporter.warnings)


def test_a_journal_from_before_restarted_was_recorded_counts_retiring_as_restarted(
    home: Home,
) -> None:
    home.iam.before["DeleteAccessKey"] = lambda call: (home.iam.before.clear(), kill())  # type: ignore[func-returns-value]
    home.iam.fail("DeleteAccessKey", "AccessDenied", times=None)
    restart = FakeRestart(home)
    with pytest.raises(Killed):
        run(home, restart, restart_command=RESTART)
    data = journal_data(home)
    assert data["step"] == RETIRING
    del data["restarted"]  # as an older release wrote it
    (home.aws / "rotate-my-key.journal.json").write_text(json.dumps(data))

    with pytest.raises(PartlyDone) as stopped:
        run(home, restart)

    assert "not undone" in str(stopped.value) and len(restart.runs) == 1


def kill() -> None:
    raise Killed


# -- 5. the retirement gets a whole budget after the restart ----------------------------------


def test_a_long_restart_leaves_the_retirement_its_whole_budget(home: Home) -> None:
    home.iam.fail("UpdateAccessKey", "Throttling", times=2)
    restart = FakeRestart(home)

    def slow(*args: object) -> str | None:
        home.clock.seconds += 300  # the command took 5 minutes
        return restart(*args)  # type: ignore[arg-type]

    steps = home.steps()
    steps.restart = slow
    result = rotate_my_key(steps, SOURCE, Options(wait_timeout=30.0, restart_command=RESTART))

    assert isinstance(result, Rotated) and result.old_key_status == DELETED


# -- 7. the restart's environment --------------------------------------------------------------


def test_the_restart_environment_has_no_session_token_and_no_expiry() -> None:
    base = {
        "AWS_SESSION_TOKEN": "t",
        "AWS_SECURITY_TOKEN": "t",
        "AWS_CREDENTIAL_EXPIRATION": "2026-03-01T12:00:00Z",
        "PATH": "/bin",
    }
    env = environment_with(Credentials("AKIANEWNEWNEWNEWNEW1", "s"), base)
    assert env == {
        "PATH": "/bin",
        "AWS_ACCESS_KEY_ID": "AKIANEWNEWNEWNEWNEW1",
        "AWS_SECRET_ACCESS_KEY": "s",
    }


# -- the journal's new fields -------------------------------------------------------------------


def test_old_journals_still_load_and_unused_fields_are_not_written(home: Home) -> None:
    old = '{"Version": 1, "profile": "p", "user_name": "u", "old_key_id": "A",'
    record = _record(old + ' "keys_before": ["A"], "delete_old_key": true, "step": "saved"}')
    assert record.restarted is False and record.mfa_device is None
    home.journal.save(JournalRecord("p", "u", "A", ["A"], True))
    text = Path(home.journal.path).read_text()
    assert "restarted" not in text and "mfa_device" not in text
    home.journal.save(JournalRecord("p", "u", "A", ["A"], True, restarted=True, mfa_device=DEVICE))
    loaded = home.journal.load()
    assert loaded is not None and loaded.restarted and loaded.mfa_device == DEVICE


# -- MFA ----------------------------------------------------------------------------------------


class WorldSts:
    """STS for a real MfaSession: a session of the signing key; ``refuse`` for some keys."""

    def __init__(self, world: MfaIam, key: Credentials, asked: list[tuple[str, int]]) -> None:
        self.world, self.key, self.asked = world, key, asked

    def get_session_token(self, serial: str, code: str, seconds: int) -> Credentials:
        self.asked.append((self.key.access_key_id, seconds))
        if self.key.access_key_id not in self.world.iam.keys:
            raise IamError("GetSessionToken", "InvalidClientTokenId", "no such key")
        return self.world.session_of(self.key)


def real_mfa(world: MfaIam, asked: list[tuple[str, int]], codes: list[str]) -> MfaSession:
    def code_for(device: str) -> str:
        codes.append(device)
        return "123456"

    return MfaSession(DEVICE, code_for, lambda key: WorldSts(world, key, asked))


@pytest.fixture
def mfa(tmp_path: Path) -> MfaHome:
    home = make_home(tmp_path)
    world = MfaIam(home.iam)
    return MfaHome(home, world, FakeMfa(world))


def journal_for_another_key(mfa: MfaHome, new_key_id: str | None = None) -> Credentials:
    """A journal of the old key while the files hold a key of the user put there by hand."""
    home = mfa.home
    old = home.old
    home.journal.save_rollback(old)
    record = JournalRecord(
        "default", "alice", old.access_key_id, [old.access_key_id], True,
        new_key_id=new_key_id, files=list(home.files.paths()),
        step=CREATING if new_key_id is None else SAVED,
    )  # fmt: skip
    home.journal.save(record)
    fresh = home.iam.add_key("alice", age_days=1)
    home.credentials.write_text(hold(fresh))
    return fresh


def test_a_discard_whose_mfa_session_is_refused_clears_the_journal(mfa: MfaHome) -> None:
    """The old key was deleted by hand: no session of it can be had (the review's repro)."""
    journal_for_another_key(mfa, new_key_id="AKIAFAKE999999999999")
    del mfa.home.iam.keys[mfa.home.old.access_key_id]
    asked: list[tuple[str, int]] = []
    codes: list[str] = []
    mfa.mfa = real_mfa(mfa.world, asked, codes)  # type: ignore[assignment]

    with pytest.raises(Refused):  # this run's one code went to the old key's session
        mfa.run()

    assert mfa.home.in_flight() == set()  # not wedged: the next run rotates
    assert any("could not look for its unsaved new key" in w for w in mfa.home.reporter.warnings)
    assert codes == [DEVICE]  # never a second code in one run
    mfa.mfa = real_mfa(mfa.world, asked, codes)  # type: ignore[assignment]
    assert isinstance(mfa.run(), Rotated)


def test_a_discard_after_a_session_of_the_current_key_asks_for_no_second_code(
    mfa: MfaHome,
) -> None:
    """No new key ID journaled: the current key's session looks for the old key first."""
    fresh = journal_for_another_key(mfa)
    del mfa.home.iam.keys[mfa.home.old.access_key_id]  # deleted by hand
    asked: list[tuple[str, int]] = []
    codes: list[str] = []
    mfa.mfa = real_mfa(mfa.world, asked, codes)  # type: ignore[assignment]

    result = mfa.run()

    assert isinstance(result, Rotated) and result.old_key_id == fresh.access_key_id
    assert result.recovered is not None and result.recovered["Action"] == "Discarded"
    assert codes == [DEVICE] and [key for key, _ in asked] == [fresh.access_key_id]
    assert mfa.home.in_flight() == set()


def killed_while_retiring(mfa: MfaHome, **options: object) -> None:
    def die(call: object) -> None:
        mfa.home.iam.before.clear()
        raise Killed

    mfa.home.iam.before["DeleteAccessKey"] = die
    with pytest.raises(Killed):
        mfa.run(**options)


def test_the_mfa_device_is_journaled_and_a_resumed_run_without_it_refuses_first(
    mfa: MfaHome,
) -> None:
    killed_while_retiring(mfa)
    assert mfa.home.record().mfa_device == DEVICE
    calls = len(mfa.home.iam.log)
    steps = mfa.steps()
    steps.mfa = None  # the device came from --mfa-serial, and this run has none

    with pytest.raises(Refused) as refused:
        rotate_my_key(steps, SOURCE, Options(wait_timeout=30.0))

    assert refused.value.exit_code == 3
    assert str(refused.value) == (
        f"an interrupted rotation of profile 'default' needs the MFA device {DEVICE}: run "
        f"`aws iam rotate-my-key --mfa-serial {DEVICE} --token-code CODE` to finish it; "
        "nothing was changed"
    )
    assert len(mfa.home.iam.log) == calls  # no IAM call
    mfa.mfa = FakeMfa(mfa.world)
    assert isinstance(mfa.run(), Rotated)


def test_a_resumed_run_without_a_code_says_the_rotation_is_pending(mfa: MfaHome) -> None:
    killed_while_retiring(mfa)
    mfa.mfa = FakeMfa(mfa.world, refuse=True)

    with pytest.raises(Refused) as refused:
        mfa.run()

    message = str(refused.value)
    assert "an interrupted rotation of profile 'default' is pending" in message
    assert "--token-code" in message and "finishes it" in message


@pytest.mark.parametrize("code", ["ExpiredToken", "ExpiredTokenException"])
def test_an_expired_session_while_retiring_stops_without_undoing(mfa: MfaHome, code: str) -> None:
    old = mfa.home.old.access_key_id
    mfa.home.iam.fail("DeleteAccessKey", code, signer=old)

    with pytest.raises(PartlyDone) as stopped:
        mfa.run()

    message = str(stopped.value)
    new_id = mfa.home.key_of().access_key_id
    assert stopped.value.exit_code == 5 and "the MFA session expired" in message
    assert f"the new, working key {new_id}" in message and "still Active" in message
    assert "with a new code to finish" in message
    assert mfa.home.iam.status(old) == ACTIVE and mfa.home.iam.status(new_id) == ACTIVE
    mfa.mfa = FakeMfa(mfa.world)
    assert isinstance(mfa.run(), Rotated) and mfa.home.iam.status(old) == DELETED


@pytest.mark.parametrize(
    ("delete", "status"), [(False, "Active or Inactive"), (True, "Active or deleted")]
)
def test_an_unanswered_retirement_then_a_dead_session_says_what_the_key_may_be(
    tmp_path: Path, delete: bool, status: str
) -> None:
    home = make_home(tmp_path)
    world = MfaIam(home.iam, dies_with_parent=True)
    mfa = MfaHome(home, world, FakeMfa(world))
    operation = "DeleteAccessKey" if delete else "UpdateAccessKey"
    home.iam.fail(operation, "ReadTimeout", ambiguous=True, after=True)  # it took effect

    with pytest.raises(PartlyDone) as stopped:
        mfa.run(delete=delete)

    assert f"the old key {home.old.access_key_id} is {status}" in str(stopped.value)
    assert "still Active" not in str(stopped.value)


# -- 4. the session lasts for the restart --------------------------------------------------------


def test_the_session_lasts_through_this_runs_restart_command(mfa: MfaHome) -> None:
    asked: list[tuple[str, int]] = []
    mfa.mfa = real_mfa(mfa.world, asked, [])  # type: ignore[assignment]
    steps = mfa.steps()
    steps.restart = FakeRestart(mfa.home)
    options = Options(wait_timeout=30.0, restart_command=RESTART, restart_timeout=7200.0)

    assert isinstance(rotate_my_key(steps, SOURCE, options), Rotated)

    assert [seconds for _, seconds in asked] == [session_seconds(30.0, 7200.0)]
    assert asked[0][1] >= 7200 + 3 * 30


def test_the_session_lasts_through_the_restart_a_journal_recorded(mfa: MfaHome) -> None:
    restart = FakeRestart(mfa.home, failing="exited with status 1")
    steps = mfa.steps()
    steps.restart = restart
    options = Options(wait_timeout=30.0, restart_command=RESTART, restart_timeout=5000.0)
    with pytest.raises(PartlyDone):
        rotate_my_key(steps, SOURCE, options)
    asked: list[tuple[str, int]] = []
    mfa.mfa = real_mfa(mfa.world, asked, [])  # type: ignore[assignment]
    steps = mfa.steps()
    restart.failing = None
    steps.restart = restart

    assert isinstance(rotate_my_key(steps, SOURCE, Options(wait_timeout=30.0)), Rotated)
    assert [seconds for _, seconds in asked] == [session_seconds(30.0, 5000.0)]


# -- files put back on the old key by hand while its retirement was in flight ------------------


@pytest.mark.parametrize("killed_after", ["UpdateAccessKey", "DeleteAccessKey"])
def test_files_put_back_on_an_old_key_being_retired_get_one_line_saying_what_to_do(
    home: Home, killed_after: str
) -> None:
    def kill(*_: object) -> None:
        raise Killed

    home.iam.after[killed_after] = kill
    with pytest.raises(Killed):
        home.run()
    home.iam.after.clear()
    new_id = home.new_key_id()
    old_id = home.old.access_key_id
    assert home.record().step == RETIRING
    home.credentials.write_text(hold(home.old))  # a backup restored by hand

    with pytest.raises(Refused) as refused:
        home.run()

    message = str(refused.value)
    assert f"put {new_id} back in the files" in message
    assert f"update-access-key --access-key-id {old_id} --status Active" in message
    assert home.iam.status(new_id) == ACTIVE and home.in_flight() != set()  # nothing changed
    home.credentials.write_text(hold(Credentials(new_id, home.iam.keys[new_id].secret)))
    assert isinstance(home.run(), Rotated)  # the new key back in the files: finished
