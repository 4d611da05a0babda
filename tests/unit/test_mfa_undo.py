"""``--undo`` under the MFA policy, against fakes (tests/faults/test_mfa_undo.py drives the CLI).

Under AWS's "manage your own credentials with MFA" policy a bare key may only call GetUser, so
the undo's key-managing calls go through the MFA session of the key the files hold (the new
key). That key is the session's parent and the key the undo deletes: deleting it is the last
call through the session, safe whether the session dies with its parent key or outlives it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate.journal import UNDOING
from awscli_rotate_key.rotate.results import Rotated, Undone, UndoPlan
from awscli_rotate_key.rotate.rotation import ACTIVE, DELETED, INACTIVE
from tests.unit.test_mfa_steps import DEVICE, FakeMfa, MfaHome, MfaIam
from tests.unit.test_rotation import Killed, kill
from tests.unit.test_undo import kept_file, make_undo_home

Log = list[tuple[str, str, str | None]]


@pytest.fixture(params=[False, True], ids=["session-outlives-its-key", "session-dies-with-its-key"])
def mfa_home(request: pytest.FixtureRequest, tmp_path: Path) -> MfaHome:
    home = make_undo_home(tmp_path)
    world = MfaIam(home.iam, dies_with_parent=request.param)
    return MfaHome(home, world, FakeMfa(world))


def rotated_keeping_the_old_key(mfa_home: MfaHome) -> str:
    rotated = mfa_home.run(delete=False)
    assert isinstance(rotated, Rotated) and rotated.old_key_status == INACTIVE
    mfa_home.world.log.clear()
    mfa_home.mfa.opened.clear()
    return rotated.new_key_id


def assert_undone_through_the_new_keys_session(log: Log, old: str, new: str) -> None:
    """A session of the new key, opened before any managing call; the proof signed by the old
    key; the new key's deletion the last call of all."""
    assert log[0] == ("GetSessionToken", f"key:{new}", None)
    managing = [op for op in log if op[0] not in ("GetSessionToken", "GetUser")]
    assert {signer for _, signer, _ in managing} == {f"session:{new}"}, log
    assert ("UpdateAccessKey", f"session:{new}", f"{old}:{ACTIVE}") in log
    reactivated = log.index(("UpdateAccessKey", f"session:{new}", f"{old}:{ACTIVE}"))
    assert log[reactivated + 1 : reactivated + 3] == [("GetUser", f"key:{old}", None)] * 2
    assert log[-1] == ("DeleteAccessKey", f"session:{new}", new)


def assert_back_on_the_old_key(mfa_home: MfaHome, old: str, new: str) -> None:
    home = mfa_home.home
    assert home.key_of("default") == home.key_of("ci") == home.old
    assert home.iam.status(old) == ACTIVE and home.iam.status(new) == DELETED
    assert not kept_file(home).exists() and home.in_flight() == set()


def test_undo_goes_through_the_session_of_the_new_key_and_deletes_it_last(
    mfa_home: MfaHome,
) -> None:
    old = mfa_home.home.old.access_key_id
    new = rotated_keeping_the_old_key(mfa_home)

    result = mfa_home.run(undo=True)

    assert isinstance(result, Undone), result
    assert mfa_home.mfa.opened == [new]  # one code, for the key the files hold
    assert_undone_through_the_new_keys_session(mfa_home.world.log, old, new)
    assert_back_on_the_old_key(mfa_home, old, new)


def test_the_undo_dry_run_asks_the_rights_through_the_session(mfa_home: MfaHome) -> None:
    new = rotated_keeping_the_old_key(mfa_home)
    before = mfa_home.home.profile_files()
    mutated = len(mfa_home.home.iam.mutations())

    plan = mfa_home.run(undo=True, dry_run=True)

    assert isinstance(plan, UndoPlan)
    assert plan.retirement_rights == {"UpdateAccessKey": "Allowed", "DeleteAccessKey": "Allowed"}
    assert mfa_home.mfa.opened == [new]
    assert mfa_home.world.ops("ListAccessKeys") == [("ListAccessKeys", f"session:{new}", None)]
    assert len(mfa_home.home.iam.mutations()) == mutated
    assert mfa_home.home.profile_files() == before


def test_without_a_code_the_undo_refuses_before_any_iam_call(mfa_home: MfaHome) -> None:
    old = mfa_home.home.old.access_key_id
    new = rotated_keeping_the_old_key(mfa_home)
    mfa_home.mfa.refuse = True
    mark = len(mfa_home.home.iam.log)
    before = mfa_home.home.profile_files()

    for dry_run in (True, False):
        with pytest.raises(Refused) as refused:
            mfa_home.run(undo=True, dry_run=dry_run)
        assert refused.value.exit_code == 3

    assert mfa_home.home.iam.log[mark:] == []
    assert mfa_home.home.profile_files() == before
    assert mfa_home.home.iam.status(old) == INACTIVE and mfa_home.home.iam.status(new) == ACTIVE
    assert kept_file(mfa_home.home).exists() and mfa_home.home.in_flight() == set()


@pytest.mark.parametrize("killed_at", ["reactivated", "files restored"])
def test_a_killed_mfa_undo_is_finished_by_the_next_undo_with_a_new_code(
    mfa_home: MfaHome, killed_at: str
) -> None:
    home = mfa_home.home
    old = home.old.access_key_id
    new = rotated_keeping_the_old_key(mfa_home)
    hooks = home.iam.after if killed_at == "reactivated" else home.iam.before
    hooks["UpdateAccessKey" if killed_at == "reactivated" else "DeleteAccessKey"] = kill
    with pytest.raises(Killed):
        mfa_home.run(undo=True)
    hooks.clear()
    assert home.record().step == UNDOING and home.iam.status(old) == ACTIVE
    mfa_home.world.log.clear()
    mfa_home.mfa.opened.clear()

    result = mfa_home.run(undo=True)

    assert isinstance(result, Undone), result
    log = mfa_home.world.log
    # The session of the key the files held at the start of this run, opened first.
    signer = old if killed_at == "files restored" else new
    assert mfa_home.mfa.opened == [signer]
    assert log[0] == ("GetSessionToken", f"key:{signer}", None)
    managing = [op for op in log if op[0] not in ("GetSessionToken", "GetUser")]
    assert {s for _, s, _ in managing} == {f"session:{signer}"}, log
    assert log[-1] == ("DeleteAccessKey", f"session:{signer}", new)
    assert_back_on_the_old_key(mfa_home, old, new)


@pytest.mark.parametrize("plain_run", [False, True], ids=["--undo", "a plain run"])
def test_a_killed_mfa_undo_resumed_without_its_device_refuses_before_any_call(
    mfa_home: MfaHome, plain_run: bool
) -> None:
    home = mfa_home.home
    old = home.old.access_key_id
    rotated_keeping_the_old_key(mfa_home)
    home.iam.after["UpdateAccessKey"] = kill  # the old key reactivated, then the run died
    with pytest.raises(Killed):
        mfa_home.run(undo=True)
    home.iam.after.clear()
    assert home.record().mfa_device == DEVICE
    mfa_home.world.log.clear()
    before = len(home.iam.log)

    with pytest.raises(Refused) as refused:
        home.run() if plain_run else home.run(undo=True)  # no --mfa-serial: no session

    assert f"--mfa-serial {DEVICE} --token-code CODE" in str(refused.value)
    assert home.iam.log[before:] == []  # not one IAM call
    assert home.record().step == UNDOING and home.iam.status(old) == ACTIVE
