"""``--undo`` on the core, against a fake IAM (which, unlike moto, rejects Inactive keys).

After ``--no-delete`` the old secret is kept in a 0600 file beside the journal; ``--undo``
reactivates the old key (signed by the new), proves it (signed by the old), restores every
profile, deletes the new key (signed by the old). Journaled: a kill in the middle is finished
by the next run.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

import awscli_rotate_key.rotate.rotation as rotation
from awscli_rotate_key.errors import EXIT_REFUSED, PartlyDone, Refused, RolledBack
from awscli_rotate_key.rotate.journal import UNDOING
from awscli_rotate_key.rotate.kept import KEPT_FILE
from awscli_rotate_key.rotate.results import Rotated, Undone, UndoPlan
from awscli_rotate_key.rotate.rights import PROBE_KEY_ID
from awscli_rotate_key.rotate.rotation import ACTIVE, DELETED, INACTIVE
from tests.unit.test_rotation import Home, Killed, hold, kill, make_home


def make_undo_home(tmp_path: Path) -> Home:
    """alice's key in ``default`` (credentials file) and ``ci`` (config file)."""
    h = make_home(tmp_path)
    h.config.write_text("[default]\nregion = eu-west-1\n\n" + hold(h.old, "profile ci"))
    return h


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_undo_home(tmp_path)


def rotated_keeping_the_old_key(home: Home) -> Rotated:
    result = home.run(delete=False)
    assert isinstance(result, Rotated) and result.old_key_status == INACTIVE
    return result


def kept_file(home: Home) -> Path:
    return home.aws / KEPT_FILE


def test_no_delete_keeps_the_old_secret_in_a_private_file_beside_the_journal(home: Home) -> None:
    rotated = rotated_keeping_the_old_key(home)

    path = kept_file(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["Version"] == 1
    (entry,) = data["Kept"]
    assert entry["Profile"] == "default" and entry["UserName"] == "alice"
    assert entry["OldAccessKeyId"] == home.old.access_key_id
    assert entry["SecretAccessKey"] == home.old.secret_access_key
    assert entry["NewAccessKeyId"] == rotated.new_key_id
    assert home.files_with(home.old.secret_access_key) == {KEPT_FILE}
    assert home.in_flight() == set()


def test_undo_puts_the_old_key_back_everywhere_and_deletes_the_new_key(home: Home) -> None:
    rotated = rotated_keeping_the_old_key(home)
    old, new_id = home.old, rotated.new_key_id
    mark = len(home.iam.log)

    result = home.run(undo=True)

    assert isinstance(result, Undone)
    assert result.to_output() == {
        "Undone": True,
        "UserName": "alice",
        "RestoredAccessKeyId": old.access_key_id,
        "DeletedAccessKeyId": new_id,
        "UpdatedProfiles": ["default", "ci"],
        "UpdatedFiles": [str(home.credentials), str(home.config)],
    }
    assert home.key_of("default") == home.key_of("ci") == old
    assert {k.key_id: k.status for k in home.iam.keys_of("alice")} == {old.access_key_id: ACTIVE}
    # Checked with the new key (the old key's status, then the rights to reactivate and to
    # delete, asked about a key that cannot exist), reactivated by the new key, proven and the
    # new key deleted by the old key.
    k, n = old.access_key_id, new_id
    assert home.ops(mark) == [
        ("ListAccessKeys", n, None),
        ("UpdateAccessKey", n, f"{PROBE_KEY_ID}:Active"),
        ("DeleteAccessKey", n, PROBE_KEY_ID),
        ("UpdateAccessKey", n, f"{k}:Active"),
        ("ListAccessKeys", k, None),
        ("ListAccessKeys", k, None),
        ("DeleteAccessKey", k, n),
    ]
    assert not kept_file(home).exists() and home.in_flight() == set()
    assert home.files_with(new_id) == set()


def test_the_undone_old_key_is_rotated_normally_afterwards(home: Home) -> None:
    rotated_keeping_the_old_key(home)
    home.run(undo=True)

    again = home.run()

    assert isinstance(again, Rotated) and again.old_key_id == home.old.access_key_id


@pytest.mark.parametrize(
    "situation",
    [
        "never kept",
        "rotated since",
        "old key deleted",
        "old key Active",
        "files changed",
        "files hold the old key",
    ],
)
def test_nothing_to_undo_is_refused_saying_why(home: Home, situation: str) -> None:
    expected = {
        "never kept": "no old key is kept",
        "rotated since": "no old key is kept",
        "old key deleted": "no longer exists",
        "old key Active": "is Active, not Inactive",
        "files changed": "its files hold",
        "files hold the old key": "its files already hold the old key",
    }[situation]
    if situation == "never kept":
        home.run()
    else:
        rotated_keeping_the_old_key(home)
    if situation == "rotated since":
        home.run()
        assert not kept_file(home).exists()  # the next rotation let it go
        assert home.iam.status(home.old.access_key_id) == DELETED
    if situation == "old key deleted":
        del home.iam.keys[home.old.access_key_id]
    if situation == "old key Active":
        home.iam.keys[home.old.access_key_id].status = ACTIVE
    if situation == "files changed":
        home.iam.add_user("bob")
        home.credentials.write_text(hold(home.iam.add_key("bob")))
    if situation == "files hold the old key":
        home.credentials.write_text(hold(home.old))  # put back by hand; ci keeps the new key
    before = home.profile_files()
    mutations = len(home.iam.mutations())

    with pytest.raises(Refused) as caught:
        home.run(undo=True)

    assert caught.value.exit_code == EXIT_REFUSED
    assert expected in str(caught.value) and "'default'" in str(caught.value)
    assert len(home.iam.mutations()) == mutations
    assert home.profile_files() == before and home.in_flight() == set()
    if situation in ("old key deleted", "files hold the old key"):
        assert not kept_file(home).exists()  # the secret could never be used again
    if situation in ("old key Active", "files changed"):
        assert kept_file(home).exists()


def test_a_plain_rotation_after_no_delete_deletes_the_old_key_and_the_kept_secret(
    home: Home,
) -> None:
    rotated = rotated_keeping_the_old_key(home)

    again = home.run()

    assert isinstance(again, Rotated)
    assert again.deleted_other_key_id == home.old.access_key_id
    assert again.old_key_id == rotated.new_key_id
    assert not kept_file(home).exists()
    assert home.files_with(home.old.secret_access_key) == set()


def test_undo_dry_run_shows_the_plan_and_changes_nothing(home: Home) -> None:
    rotated = rotated_keeping_the_old_key(home)
    before = {p.name: p.read_bytes() for p in home.aws.iterdir()}
    mutations = len(home.iam.mutations())

    plan = home.run(undo=True, dry_run=True)

    assert isinstance(plan, UndoPlan)
    assert plan.to_output() == {
        "Undone": False,
        "DryRun": True,
        "UserName": "alice",
        "RestoreAccessKeyId": home.old.access_key_id,
        "DeleteAccessKeyId": rotated.new_key_id,
        "Profiles": ["default", "ci"],
        "Files": [str(home.credentials), str(home.config)],
        "RetirementRights": {"UpdateAccessKey": "Allowed", "DeleteAccessKey": "Allowed"},
    }
    assert {p.name: p.read_bytes() for p in home.aws.iterdir()} == before
    assert len(home.iam.mutations()) == mutations


def test_a_refused_reactivation_leaves_the_new_key_in_use(home: Home) -> None:
    rotated = rotated_keeping_the_old_key(home)
    home.iam.fail("UpdateAccessKey", "AccessDenied", times=1)
    before = home.profile_files()

    with pytest.raises(RolledBack) as caught:
        home.run(undo=True)

    assert "could not be reactivated (AccessDenied)" in str(caught.value)
    assert home.profile_files() == before
    assert home.iam.status(home.old.access_key_id) == INACTIVE
    assert home.iam.status(rotated.new_key_id) == ACTIVE
    assert home.in_flight() == set() and kept_file(home).exists()  # it can be tried again
    assert isinstance(home.run(undo=True), Undone)


def test_an_old_key_that_never_works_again_is_deactivated_again(home: Home) -> None:
    rotated = rotated_keeping_the_old_key(home)
    home.iam.keys[home.old.access_key_id].secret = "changed"  # it will be rejected
    before = home.profile_files()

    with pytest.raises(RolledBack) as caught:
        home.run(undo=True)

    assert "did not work once reactivated" in str(caught.value)
    assert "Inactive again" in str(caught.value)
    assert home.profile_files() == before
    assert home.iam.status(home.old.access_key_id) == INACTIVE
    assert home.iam.status(rotated.new_key_id) == ACTIVE
    assert home.in_flight() == set()


def test_a_new_key_that_cannot_be_deleted_is_partly_done_and_finished_by_the_next_run(
    home: Home,
) -> None:
    rotated = rotated_keeping_the_old_key(home)
    home.iam.fail("DeleteAccessKey", "AccessDenied", times=1)

    with pytest.raises(PartlyDone) as caught:
        home.run(undo=True)

    assert "again, Active and working" in str(caught.value)
    assert home.key_of("default") == home.key_of("ci") == home.old
    assert home.record().step == UNDOING

    result = home.run(undo=True)

    assert isinstance(result, Undone) and result.deleted_key_id == rotated.new_key_id
    assert result.recovered is not None and result.recovered["Action"] == "Undone"
    assert home.iam.status(rotated.new_key_id) == DELETED
    assert home.in_flight() == set() and not kept_file(home).exists()


@pytest.mark.parametrize("killed_at", ["reactivated", "one file restored", "files restored"])
def test_a_killed_undo_is_finished_by_the_next_run(
    home: Home, killed_at: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated = rotated_keeping_the_old_key(home)
    old_id, new_id = home.old.access_key_id, rotated.new_key_id
    if killed_at == "reactivated":
        home.iam.after["UpdateAccessKey"] = kill
    elif killed_at == "files restored":
        home.iam.before["DeleteAccessKey"] = kill
    else:
        writes: list[str] = []
        real = rotation.update_file

        def second_write_dies(path: str, *args: Any) -> str:
            writes.append(path)
            if len(writes) == 2:
                raise Killed
            return real(path, *args)

        monkeypatch.setattr(rotation, "update_file", second_write_dies)
    with pytest.raises(Killed):
        home.run(undo=True)
    monkeypatch.undo()
    home.iam.after.clear()
    home.iam.before.clear()
    assert home.record().step == UNDOING
    assert home.iam.status(old_id) == ACTIVE  # both keys Active: the journal must resolve it

    result = home.run()  # a plain run: it finishes the undo, then rotates as asked

    assert isinstance(result, Rotated)
    assert result.recovered == {
        "Action": "Undone",
        "Profile": "default",
        "RestoredAccessKeyId": old_id,
        "DeletedAccessKeyId": new_id,
    }
    assert home.iam.status(new_id) == DELETED
    assert result.old_key_id == old_id  # the restored key was then rotated
    assert home.key_of("default") == home.key_of("ci")
    assert not kept_file(home).exists() and home.in_flight() == set()


def test_a_no_delete_rotation_killed_while_retiring_can_still_be_undone(home: Home) -> None:
    home.iam.after["UpdateAccessKey"] = kill
    with pytest.raises(Killed):
        home.run(delete=False)
    del home.iam.after["UpdateAccessKey"]

    result = home.run(undo=True)  # finishes the rotation, then undoes it

    assert isinstance(result, Undone)
    assert result.recovered is not None and result.recovered["Action"] == "Completed"
    assert home.key_of() == home.old and home.iam.status(home.old.access_key_id) == ACTIVE
    assert len(home.iam.keys_of("alice")) == 1


def test_files_that_cannot_be_restored_leave_the_new_key_in_use(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated = rotated_keeping_the_old_key(home)
    before = home.profile_files()
    real = rotation.update_file
    writes: list[str] = []

    def second_write_fails(path: str, *args: Any) -> str:
        writes.append(path)
        if len(writes) == 2:
            raise PermissionError(13, "Permission denied", path)
        return real(path, *args)

    monkeypatch.setattr(rotation, "update_file", second_write_fails)
    with pytest.raises(RolledBack) as caught:
        home.run(undo=True)
    monkeypatch.undo()

    message = str(caught.value)
    assert "the files could not be restored (Permission denied: " in message
    assert "[Errno" not in message and "Inactive again" in message
    assert home.profile_files() == before  # the first file went back to the new key
    assert home.iam.status(home.old.access_key_id) == INACTIVE
    assert home.iam.status(rotated.new_key_id) == ACTIVE
    assert home.in_flight() == set() and kept_file(home).exists()
