"""``--undo`` review fixes on the core, against the fake IAM.

A kept old key survives a refused or rolled-back rotation and goes only when it can no longer
serve; ``--undo`` checks the rights to reactivate and delete first; the dry run changes no file;
local errors are one line with the state of the keys.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

import awscli_rotate_key.rotate.journal as journal_module
import awscli_rotate_key.rotate.rotation as rotation
from awscli_rotate_key.errors import (
    EXIT_PARTIAL,
    EXIT_REFUSED,
    EXIT_ROLLED_BACK,
    Refused,
    RotateKeyError,
)
from awscli_rotate_key.rotate.journal import UNDOING
from awscli_rotate_key.rotate.kept import KEPT_FILE
from awscli_rotate_key.rotate.profiles import ProfileFiles
from awscli_rotate_key.rotate.results import Rotated, Undone, UndoPlan
from awscli_rotate_key.rotate.rotation import ACTIVE, DELETED, INACTIVE
from tests.unit.test_rotation import Home, Killed, hold, kill, make_home
from tests.unit.test_undo import make_undo_home, rotated_keeping_the_old_key


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_undo_home(tmp_path)


def kept(home: Home) -> Path:
    return home.aws / KEPT_FILE


def aws_dir(home: Home) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in home.aws.iterdir() if p.is_file()}


# -- 1. the kept old key survives a refused run; it goes with its key --------------------------


@pytest.mark.parametrize("refusal", ["journal write fails", "other key's profiles cannot move"])
def test_a_refused_rotation_after_no_delete_keeps_the_old_key_for_undo(
    home: Home, refusal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated_keeping_the_old_key(home)
    old_id = home.old.access_key_id
    if refusal == "journal write fails":
        real_write = journal_module.write_atomically

        def journal_write_fails(path: str, *args: Any) -> None:
            if path == home.journal.path:
                raise PermissionError(errno.EACCES, "Permission denied", path)
            real_write(path, *args)

        monkeypatch.setattr(journal_module, "write_atomically", journal_write_fails)
    else:
        # The Inactive old key is also in a third profile: it is moved before the key goes.
        with home.config.open("a") as f:
            f.write("\n" + hold(home.old, "profile legacy"))

        def file_write_fails(path: str, *_: Any) -> str:
            raise PermissionError(errno.EACCES, "Permission denied", path)

        monkeypatch.setattr(rotation, "update_file", file_write_fails)

    with pytest.raises(Refused):
        home.run()
    monkeypatch.undo()

    assert home.iam.status(old_id) == INACTIVE and kept(home).exists()
    assert home.in_flight() == set()
    undone = home.run(undo=True)
    assert isinstance(undone, Undone) and undone.restored_key_id == old_id
    assert home.key_of("default") == home.key_of("ci") == home.old


def test_the_kept_secret_goes_when_its_old_key_is_deleted_even_if_the_run_then_fails(
    home: Home,
) -> None:
    rotated_keeping_the_old_key(home)
    home.iam.fail("CreateAccessKey", "ServiceFailure")  # after the old key made room

    with pytest.raises(RotateKeyError):
        home.run()

    assert home.iam.status(home.old.access_key_id) == DELETED
    assert not kept(home).exists()
    assert home.files_with(home.old.secret_access_key) == set()


@pytest.mark.parametrize("how", ["rotated from another profile", "deleted by hand"])
def test_a_kept_secret_whose_key_is_gone_does_not_stay_on_disk(home: Home, how: str) -> None:
    rotated = rotated_keeping_the_old_key(home)
    old = home.old
    if how == "rotated from another profile":
        # The kept old key was put back to use elsewhere (and the new key deleted by hand):
        # rotating that profile deletes it, so its kept secret must go too.
        home.iam.keys[old.access_key_id].status = ACTIVE
        del home.iam.keys[rotated.new_key_id]
        with home.config.open("a") as f:
            f.write("\n" + hold(old, "profile spare"))
        result = home.run("spare")
    else:
        del home.iam.keys[old.access_key_id]
        result = home.run()  # the profile's next rotation: nothing can be undone after it

    assert isinstance(result, Rotated)
    assert home.iam.status(old.access_key_id) == DELETED
    assert not kept(home).exists()
    assert home.files_with(old.secret_access_key) == set()


def test_a_no_delete_rotation_of_another_profile_keeps_both_kept_keys(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    bob = home.iam.add_key(home.iam.add_user("bob"))
    home.config.write_text(hold(bob, "profile bob"))
    home.run(delete=False)
    home.run("bob", delete=False)

    assert isinstance(home.run(undo=True), Undone)
    assert isinstance(home.run("bob", undo=True), Undone)
    assert home.key_of("bob") == bob and home.key_of() == home.old


# -- 2. rights ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["UpdateAccessKey", "DeleteAccessKey"])
def test_undo_without_a_right_is_refused_before_any_change(home: Home, action: str) -> None:
    rotated = rotated_keeping_the_old_key(home)
    home.iam.deny("alice", action)
    before, mutations = aws_dir(home), len(home.iam.mutations())

    plan = home.run(undo=True, dry_run=True)

    assert isinstance(plan, UndoPlan)
    assert plan.to_output()["RetirementRights"][action] == "Denied"

    with pytest.raises(Refused) as caught:
        home.run(undo=True)

    assert caught.value.exit_code == EXIT_REFUSED
    assert f"does not allow iam:{action} " in str(caught.value)
    assert "nothing was changed" in str(caught.value)
    assert len(home.iam.mutations()) == mutations and aws_dir(home) == before
    assert home.iam.status(home.old.access_key_id) == INACTIVE
    assert home.iam.status(rotated.new_key_id) == ACTIVE


# -- 3. the dry run changes no file ---------------------------------------------------------


@pytest.mark.parametrize("situation", ["old key deleted by hand", "files hold the old key"])
def test_undo_dry_run_leaves_the_kept_file_as_it_was(home: Home, situation: str) -> None:
    rotated_keeping_the_old_key(home)
    if situation == "old key deleted by hand":
        del home.iam.keys[home.old.access_key_id]
    else:
        home.credentials.write_text(hold(home.old))
    before = aws_dir(home)

    with pytest.raises(Refused) as caught:
        home.run(undo=True, dry_run=True)

    assert "nothing to undo" in str(caught.value)
    assert aws_dir(home) == before  # byte for byte, the kept file included

    with pytest.raises(Refused):
        home.run(undo=True)  # the real --undo lets the useless secret go, under the lock
    assert not kept(home).exists()


# -- 4. local errors ------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_journal_path_that_is_a_directory_refuses_undo_naming_it(
    home: Home, dry_run: bool
) -> None:
    rotated_keeping_the_old_key(home)
    (home.aws / "rotate-my-key.journal.json").mkdir()

    with pytest.raises(Refused) as caught:
        home.run(undo=True, dry_run=dry_run)

    message = str(caught.value)
    assert caught.value.exit_code == EXIT_REFUSED
    assert "Is a directory: " in message and "rotate-my-key.journal.json" in message
    assert "[Errno" not in message and "nothing was changed" in message


def test_a_journal_that_cannot_be_removed_after_a_failed_undo_is_exit_4_saying_so(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated_keeping_the_old_key(home)
    home.iam.fail("UpdateAccessKey", "AccessDenied")  # the reactivation, not the rights check

    def cannot_remove() -> None:
        raise PermissionError(errno.EACCES, "Permission denied", home.journal.path)

    monkeypatch.setattr(home.journal, "clear", cannot_remove)
    with pytest.raises(RotateKeyError) as caught:
        home.run(undo=True)

    message = str(caught.value)
    assert caught.value.exit_code == EXIT_ROLLED_BACK
    assert "The journal could not be removed (Permission denied: " in message
    assert "the next run tries the --undo again" in message and "[Errno" not in message
    assert home.iam.status(home.old.access_key_id) == INACTIVE


def test_files_unreadable_while_an_undo_is_pending_refuse_with_its_state(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated = rotated_keeping_the_old_key(home)
    home.iam.after["UpdateAccessKey"] = kill
    with pytest.raises(Killed):
        home.run(undo=True)
    home.iam.after.clear()
    assert home.record().step == UNDOING

    def unreadable(*_: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", str(home.credentials))

    monkeypatch.setattr(ProfileFiles, "credentials_of", unreadable)
    with pytest.raises(RotateKeyError) as caught:
        home.run(undo=True)

    message = str(caught.value)
    assert caught.value.exit_code == EXIT_REFUSED
    assert "an interrupted --undo of profile 'default' is pending" in message
    assert f"Permission denied: {home.credentials}" in message
    assert rotated.new_key_id in message and "[Errno" not in message
    monkeypatch.undo()
    assert isinstance(home.run(undo=True), Undone)


def test_partly_done_undo_says_the_new_key_may_still_be_in_some_profiles(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated_keeping_the_old_key(home)
    real = rotation.update_file
    writes: list[str] = []

    def second_and_later_writes_fail(path: str, *args: Any) -> str:
        writes.append(path)
        if len(writes) >= 2:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real(path, *args)

    monkeypatch.setattr(rotation, "update_file", second_and_later_writes_fail)
    with pytest.raises(RotateKeyError) as caught:
        home.run(undo=True)

    assert caught.value.exit_code == EXIT_PARTIAL
    assert "some profiles may still hold the new key" in str(caught.value)


def test_a_kept_old_key_deleted_as_an_orphan_by_the_next_run_takes_its_secret_along(
    home: Home,
) -> None:
    rotated_keeping_the_old_key(home)
    home.iam.before["DeleteAccessKey"] = kill  # killed while making room: the journal says so
    with pytest.raises(Killed):
        home.run()
    home.iam.before.clear()
    assert kept(home).exists()

    result = home.run()  # finishes the interrupted run: the Inactive old key goes, then rotates

    assert isinstance(result, Rotated)
    assert home.iam.status(home.old.access_key_id) == DELETED
    assert not kept(home).exists()
