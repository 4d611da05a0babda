"""Issue 7, defects 4 and 10, as a review found them: messages that stay true.

Once the other key is deleted to make room (its profiles moved onto the old key), no later
message may say "nothing else changed": each says what happened to the other key and its
profiles. A failed deletion of the other key refuses with one line saying where its profiles
are. A recovery whose old secret is gone says what the files hold when another program keeps
writing the old key back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import awscli_rotate_key.rotate.rotation as rotation
from awscli_rotate_key.errors import (
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    EXIT_REFUSED,
    EXIT_ROLLED_BACK,
    IamError,
    PartlyDone,
    Refused,
    RotateKeyError,
)
from awscli_rotate_key.rotate.journal import SAVED
from awscli_rotate_key.rotate.results import Rotated
from awscli_rotate_key.rotate.rotation import ACTIVE, DELETED, INACTIVE, Steps
from tests.unit.fakes import Call
from tests.unit.test_rotate_defects import put_back, with_profile_on_other_key
from tests.unit.test_rotation import Home, Killed, hold, make_home


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def fail_new_key_polls(home: Home, error: BaseException) -> None:
    def hook(call: Call) -> None:
        if call.signer != home.old.access_key_id:
            raise error

    home.iam.after["ListAccessKeys"] = hook


def fail_first_save(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first write of the new key fails (after the other key's profiles were moved)."""
    real, writes = rotation.update_file, []

    def update_file(path: str, edits: dict[str, dict[str, str]], *args: Any) -> str:
        secrets = {e["aws_secret_access_key"] for e in edits.values()}
        if not writes and home.old.secret_access_key not in secrets:
            writes.append(path)
            raise OSError(28, "No space left on device", path)
        return real(path, edits, *args)

    monkeypatch.setattr(rotation, "update_file", update_file)


def keep_writing_the_old_key_back(home: Home, _: pytest.MonkeyPatch) -> None:
    """Another program keeps writing the files as they were once the other key's profiles moved."""
    moved = hold(home.old) + "\n" + hold(home.old, "alice2")

    def write_old(*_: object) -> None:
        home.credentials.write_text(moved)

    home.iam.after["ListAccessKeys"] = lambda call: (
        write_old() if call.signer != home.old.access_key_id else None
    )
    home.clock.on_sleep = write_old


def fault(operation: str, code: str) -> Callable[[Home, pytest.MonkeyPatch], None]:
    return lambda home, _: home.iam.fail(operation, code) and None


FAILURES: dict[str, Callable[[Home, pytest.MonkeyPatch], None]] = {
    "create refused": fault("CreateAccessKey", "AccessDenied"),
    "create over the limit": fault("CreateAccessKey", "LimitExceeded"),
    "save failed": fail_first_save,
    "new key never works": lambda home, _: setattr(home.iam, "new_key_rejections", 1000),
    "retirement refused": fault("UpdateAccessKey", "AccessDenied"),
    "key put back every time": keep_writing_the_old_key_back,
    "ctrl-c while proving": lambda home, _: fail_new_key_polls(home, KeyboardInterrupt()),
}


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("status", [ACTIVE, INACTIVE])
def test_every_failure_after_the_other_key_was_deleted_says_so(
    home: Home, monkeypatch: pytest.MonkeyPatch, failure: str, status: str
) -> None:
    other_id = with_profile_on_other_key(home, status)
    FAILURES[failure](home, monkeypatch)

    with pytest.raises(RotateKeyError) as raised:
        home.run(delete_other_key=status == ACTIVE, wait_timeout=5.0)

    message = str(raised.value)
    assert raised.value.exit_code in (EXIT_REFUSED, EXIT_ROLLED_BACK, EXIT_INTERRUPTED), message
    old_id = home.old.access_key_id
    assert (
        f"The other key {other_id} was deleted; profiles 'alice2', 'ci', which used it, now "
        f"use {old_id} (same user)." in message
    )
    assert "nothing else changed" not in message.lower()
    assert "files are unchanged" not in message
    # What the message says is what happened: the other key is gone, its profiles on the old.
    assert home.iam.status(other_id) == DELETED
    assert [home.key_of(p) for p in ("default", "alice2", "ci")] == [home.old] * 3
    assert [k.key_id for k in home.iam.keys_of("alice")] == [old_id]


def test_a_failure_with_no_other_key_still_says_nothing_else_changed(home: Home) -> None:
    home.iam.new_key_rejections = 1000

    with pytest.raises(RotateKeyError, match=r"in use again\. Nothing else changed\.$"):
        home.run(wait_timeout=5.0)


def deny_deleting(home: Home, key_id: str, code: str, times: int = 1000) -> list[int]:
    tries: list[int] = []

    def hook(call: Call) -> None:
        if call.target == key_id and len(tries) < times:
            tries.append(1)
            raise IamError("DeleteAccessKey", code, "scripted")

    home.iam.before["DeleteAccessKey"] = hook
    return tries


@pytest.mark.parametrize("status", [ACTIVE, INACTIVE])
def test_an_other_key_that_cannot_be_deleted_refuses_saying_where_its_profiles_are(
    home: Home, status: str
) -> None:
    other_id = with_profile_on_other_key(home, status)
    deny_deleting(home, other_id, "AccessDenied")

    with pytest.raises(Refused) as refused:
        home.run(delete_other_key=True)

    old_id = home.old.access_key_id
    assert refused.value.exit_code == EXIT_REFUSED
    assert str(refused.value) == (
        f"could not delete the other key {other_id}: it is still {status} (AccessDenied); "
        f"profiles 'alice2', 'ci', which used it, now use {old_id} (same user), which works. "
        f"No new key was created and the old key {old_id} is unchanged. Run "
        f"`aws iam rotate-my-key` again as before, or delete {other_id} yourself first"
    )
    assert home.iam.status(other_id) == status and home.iam.created == []
    assert [home.key_of(p) for p in ("default", "alice2", "ci")] == [home.old] * 3
    assert home.in_flight() == set()  # nothing in flight: the next run starts afresh
    del home.iam.before["DeleteAccessKey"]
    assert isinstance(home.run(delete_other_key=True), Rotated)
    assert [k.key_id for k in home.iam.keys_of("alice")] == [home.key_of("ci").access_key_id]


def test_a_throttled_deletion_of_the_other_key_is_asked_again(home: Home) -> None:
    other_id = with_profile_on_other_key(home)
    tries = deny_deleting(home, other_id, "Throttling", times=2)

    result = home.run(delete_other_key=True)

    assert isinstance(result, Rotated) and result.deleted_other_key_id == other_id
    assert len(tries) == 2 and home.iam.status(other_id) == DELETED


def test_a_failed_move_off_the_other_key_says_which_profiles_moved(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_id = with_profile_on_other_key(home)  # 'alice2' in credentials, 'ci' in config
    real = rotation.update_file

    def config_fails(path: str, *args: Any) -> str:
        if path == str(home.config):
            raise PermissionError(13, "Permission denied", path)
        return real(path, *args)

    monkeypatch.setattr(rotation, "update_file", config_fails)

    with pytest.raises(Refused) as refused:
        home.run(delete_other_key=True)

    old_id = home.old.access_key_id
    assert str(refused.value) == (
        f"could not move profiles 'alice2', 'ci' off the other key {other_id} (Permission "
        f"denied: {home.config}); no key was created or deleted, and profile 'alice2' now "
        f"uses {old_id} (same user); 'ci' still use {other_id}. Fix that, then run "
        "`aws iam rotate-my-key` again"
    )
    assert home.key_of("alice2") == home.old and home.key_of("ci").access_key_id == other_id
    assert set(home.iam.keys) == {old_id, other_id} and home.in_flight() == set()


def test_a_recovery_without_the_old_secret_says_the_files_went_back_to_the_old_key(
    home: Home,
) -> None:
    writes = put_back(home, when=lambda: armed)  # captures the files holding the old key
    armed = False
    put_back_hook = home.iam.after["ListAccessKeys"]

    def die_at_first_poll(call: Call) -> None:
        if call.signer != home.old.access_key_id:
            raise Killed

    home.iam.after["ListAccessKeys"] = die_at_first_poll
    with pytest.raises(Killed):
        home.run()
    new_id = home.new_key_id()
    assert home.record().step == SAVED
    Path(home.journal.rollback_path).unlink()  # the old secret is gone (deleted by hand)
    home.iam.after["ListAccessKeys"] = put_back_hook
    armed = True

    with pytest.raises(PartlyDone) as partly:
        home.run()

    old_id = home.old.access_key_id
    message = str(partly.value)
    assert writes and f"{home.credentials} went back to another key" in message
    assert f"profile 'default' now uses {old_id}" in message
    assert f"the old key {old_id} and the new key {new_id} are both Active" in message
    assert "is not accepted" not in message and "files keep the new key" not in message
    assert partly.value.exit_code == EXIT_PARTIAL
    assert home.key_of() == home.old  # what the message says the files hold
    assert home.iam.status(old_id) == ACTIVE and home.iam.status(new_id) == ACTIVE
    # Once that program stops, the next run puts everything back on the old key and rotates.
    armed = False
    result = home.run()
    assert isinstance(result, Rotated) and result.recovered is not None
    assert result.recovered["Action"] == "RolledBack" and new_id in str(result.recovered)
    assert [k.key_id for k in home.iam.keys_of("alice")] == [home.key_of().access_key_id]
    assert home.in_flight() == set()


@pytest.mark.parametrize("times", ["once", "every time"])
def test_a_new_key_written_back_during_a_rollback_is_never_deleted_under_a_profile(
    home: Home, times: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rollback restores the files, then deletes the new key: not while a profile holds it."""
    home.iam.new_key_rejections = 1000  # the new key never works: the run rolls back
    restore = Steps.move_profiles
    written_back: list[str] = []

    def restore_then_write_back(self: Steps, from_key_id: str, to: Any) -> Any:
        moved = restore(self, from_key_id, to)
        if to.access_key_id == home.old.access_key_id and (
            times == "every time" or not written_back
        ):
            # Another program puts the new key back in the file right after the restore.
            text = home.credentials.read_text()
            home.credentials.write_text(text.replace(to.access_key_id, from_key_id, 1))
            written_back.append(from_key_id)
        return moved

    monkeypatch.setattr(Steps, "move_profiles", restore_then_write_back)

    with pytest.raises(RotateKeyError):
        home.run(wait_timeout=5.0)

    held = home.key_of().access_key_id
    assert written_back
    # Whatever the profile holds exists and is Active: never a deleted key.
    assert home.iam.status(held) == ACTIVE, (held, times)
    if times == "once":
        assert held == home.old.access_key_id
        assert [k.key_id for k in home.iam.keys_of("alice")] == [home.old.access_key_id]
