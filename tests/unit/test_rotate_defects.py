"""Issue 7, defects 1, 4, 9 and 10, on the rotation core with a fake IAM and real files.

1: the retirement rights are checked (on a key that cannot exist) before any key is created.
4: the local profiles on the other key are named, and moved with the rotation when it goes.
9: every local I/O error ends in one message and the exit code of the state the keys are in.
10: right before retirement the files are read again; a key put back by another program is
    written once more, and if it still does not hold, the rotation is undone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import awscli_rotate_key.rotate.credfile as credfile
import awscli_rotate_key.rotate.journal as journal
import awscli_rotate_key.rotate.kept as kept
from awscli_rotate_key.errors import (
    EXIT_PARTIAL,
    EXIT_REFUSED,
    EXIT_ROLLED_BACK,
    PartlyDone,
    Refused,
    RolledBack,
    RotateKeyError,
)
from awscli_rotate_key.rotate.journal import CREATING, JournalRecord
from awscli_rotate_key.rotate.results import DryRun, Rotated
from awscli_rotate_key.rotate.rights import PROBE_KEY_ID
from awscli_rotate_key.rotate.rotation import ACTIVE, DELETED, INACTIVE
from tests.unit.fakes import Call
from tests.unit.test_rotation import Home, hold, make_home
from tests.unit.test_rotation import assert_nothing_changed as assert_no_change


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def assert_nothing_changed(home: Home, before: dict[str, bytes], keys: set[str]) -> None:
    """test_rotation's check (no mutation, same files and keys, nothing beside them), plus no
    journal left."""
    assert_no_change(home, before, keys)
    assert home.in_flight() == set()


# -- 1. retirement rights -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("denied", "options"),
    [
        (("DeleteAccessKey",), {}),
        (("UpdateAccessKey",), {}),
        (("UpdateAccessKey", "DeleteAccessKey"), {}),
        # --no-delete still needs DeleteAccessKey: an undo deletes the new key.
        (("DeleteAccessKey",), {"delete": False}),
    ],
)
def test_a_missing_retirement_right_refuses_before_any_key_is_created(
    home: Home, denied: tuple[str, ...], options: dict[str, Any]
) -> None:
    home.iam.deny("alice", *denied)
    before = home.profile_files()

    with pytest.raises(Refused) as refused:
        home.run(**options)

    assert refused.value.exit_code == EXIT_REFUSED
    message = str(refused.value)
    assert f"does not allow {' or '.join('iam:' + a for a in denied)} " in message
    assert "nothing was changed" in message
    assert_nothing_changed(home, before, {home.old.access_key_id})
    old_id = home.old.access_key_id
    assert home.iam.probes() == [("UpdateAccessKey", old_id), ("DeleteAccessKey", old_id)]


def test_the_rights_are_checked_after_the_cheaper_refusals_and_only_when_due(home: Home) -> None:
    home.iam.deny("alice", "DeleteAccessKey")

    assert home.run(older_than=1000).to_output()["Reason"] == "NotDue"
    assert home.iam.probes() == []  # a daily cron run adds no denied call to CloudTrail
    with pytest.raises(Refused, match="iam:DeleteAccessKey"):
        home.run(older_than=10)


def test_a_throttled_rights_check_is_asked_again(home: Home) -> None:
    home.iam.fail("UpdateAccessKey", "Throttling", times=2, on_probe=True)

    result = home.run()

    assert isinstance(result, Rotated)
    assert [op for op, _ in home.iam.probes()].count("UpdateAccessKey") == 3


def test_a_rights_check_that_never_gets_an_answer_refuses(home: Home) -> None:
    home.iam.fail("DeleteAccessKey", "ServiceUnavailable", times=None, on_probe=True)
    before = home.profile_files()

    expected = r"could not check .*\(iam:DeleteAccessKey: Unknown \(ServiceUnavailable\)\)"
    with pytest.raises(Refused, match=expected):
        home.run()

    assert_nothing_changed(home, before, {home.old.access_key_id})


def test_the_dry_run_shows_the_retirement_rights(home: Home) -> None:
    home.iam.deny("alice", "DeleteAccessKey")

    result = home.run(dry_run=True)

    assert isinstance(result, DryRun)
    assert result.to_output()["RetirementRights"] == {
        "UpdateAccessKey": "Allowed",
        "DeleteAccessKey": "Denied",
    }
    assert home.iam.mutations() == [] and home.in_flight() == set()


# -- 4. the other key's local profiles ----------------------------------------------------------


def with_profile_on_other_key(home: Home, status: str = ACTIVE) -> str:
    other = home.iam.add_key("alice", age_days=20, status=status)
    home.credentials.write_text(hold(home.old) + "\n" + hold(other, "alice2"))
    home.config.write_text("[default]\nregion = eu-west-1\n\n" + hold(other, "profile ci"))
    return other.access_key_id


def test_the_refusal_and_the_dry_run_name_the_profiles_on_the_other_key(home: Home) -> None:
    other_id = with_profile_on_other_key(home)
    before = home.profile_files()

    with pytest.raises(Refused) as refused:
        home.run()

    assert "local profiles 'alice2', 'ci' use it" in str(refused.value)
    assert_nothing_changed(home, before, {home.old.access_key_id, other_id})
    plan = home.run(dry_run=True).to_output()
    assert plan["OtherKey"] == {
        "AccessKeyId": other_id,
        "Status": ACTIVE,
        "Action": "Refuse",
        "Profiles": ["alice2", "ci"],
    }


@pytest.mark.parametrize(
    ("status", "options"), [(ACTIVE, {"delete_other_key": True}), (INACTIVE, {})]
)
def test_profiles_on_the_deleted_other_key_move_to_the_new_key(
    home: Home, status: str, options: dict[str, Any]
) -> None:
    other_id = with_profile_on_other_key(home, status)
    at_delete: list[str] = []
    home.iam.before["DeleteAccessKey"] = lambda call: at_delete.append(
        home.key_of("alice2").access_key_id
    )

    result = home.run(**options)

    assert isinstance(result, Rotated)
    new = home.key_of()
    assert [home.key_of(p) for p in ("default", "alice2", "ci")] == [new, new, new]
    assert result.updated_profiles == ["default", "alice2", "ci"]
    assert result.deleted_other_key_id == other_id
    assert home.iam.status(other_id) == DELETED
    # Never on a deleted key: on the old one (same user) when the other key was deleted.
    assert at_delete[0] == home.old.access_key_id
    assert home.files_with(other_id) == set()


def test_a_run_stopped_after_moving_the_other_keys_profiles_is_finished_by_the_next(
    home: Home,
) -> None:
    other_id = with_profile_on_other_key(home)

    class Killed(BaseException):
        pass

    def kill(call: Call) -> None:
        if call.target == other_id:
            raise Killed

    home.iam.before["DeleteAccessKey"] = kill
    with pytest.raises(Killed):
        home.run(delete_other_key=True)
    assert home.key_of("alice2") == home.old  # on a working key, journaled
    del home.iam.before["DeleteAccessKey"]

    result = home.run()  # a plain run: the journal says the other key goes

    assert isinstance(result, Rotated)
    assert result.recovered is not None and other_id in result.recovered["DeletedAccessKeyIds"]
    new = home.key_of()
    assert home.key_of("alice2") == new and home.key_of("ci") == new
    assert [k.key_id for k in home.iam.keys_of("alice")] == [new.access_key_id]
    assert home.in_flight() == set()


# -- 9. local I/O errors ------------------------------------------------------------------------


class DiskFault:
    """The n-th local write (file replace, journal write or removal) fails; ``stays`` keeps
    every later one failing too (a full disk, a directory made read-only)."""

    def __init__(self, fail_at: int, stays: bool) -> None:
        self.fail_at, self.stays, self.count = fail_at, stays, 0

    def check(self, what: str) -> None:
        self.count += 1
        if self.count == self.fail_at or (self.stays and self.count > self.fail_at):
            raise PermissionError(13, "Permission denied", what)

    def install(self, home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
        real_write, real_clear = credfile.write_atomically, home.journal.clear

        def write(path: str, *args: Any, **kwargs: Any) -> str:
            self.check(path)
            return real_write(path, *args, **kwargs)

        def clear() -> None:
            self.check(home.journal.path)
            real_clear()

        for module in (credfile, journal, kept):
            monkeypatch.setattr(module, "write_atomically", write)
        monkeypatch.setattr(home.journal, "clear", clear)


def writes_of_a_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    (tmp_path / "count").mkdir()
    home = make_home(tmp_path / "count")
    fault = DiskFault(0, stays=False)
    fault.install(home, monkeypatch)
    home.run()
    monkeypatch.undo()
    return fault.count


def assert_state_matches_exit_code(home: Home, error: RotateKeyError) -> None:
    message = str(error)
    assert "[Errno" not in message and "Permission denied" in message
    held = home.key_of()
    created = set(home.iam.created)
    if error.exit_code == EXIT_REFUSED:
        assert held == home.old and created == set()
        assert set(home.iam.keys) == {home.old.access_key_id}
    elif error.exit_code == EXIT_ROLLED_BACK:
        assert held == home.old and home.iam.status(held.access_key_id) == ACTIVE
        assert created.isdisjoint(home.iam.keys), "the new key was not deleted"
    else:
        assert error.exit_code == EXIT_PARTIAL, message
        assert held.access_key_id in created and home.iam.status(held.access_key_id) == ACTIVE
        assert held.access_key_id in message


@pytest.mark.parametrize("stays", [False, True], ids=["once", "from-then-on"])
def test_a_failed_local_write_at_any_point_ends_in_the_state_its_exit_code_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stays: bool
) -> None:
    writes = writes_of_a_rotation(tmp_path, monkeypatch)
    assert writes >= 6  # rollback, journal x3, credentials, clear
    outcomes = set()
    for fail_at in range(1, writes + 1):
        (tmp_path / f"{stays}-{fail_at}").mkdir()
        home = make_home(tmp_path / f"{stays}-{fail_at}")
        with monkeypatch.context() as patch:
            DiskFault(fail_at, stays).install(home, patch)
            try:
                home.run()
                outcomes.add(0)
            except RotateKeyError as error:
                outcomes.add(error.exit_code)
                assert_state_matches_exit_code(home, error)
        # Once the disk is fixed, the next plain run always ends with one working key.
        result = home.run()
        assert isinstance(result, Rotated)
        (only,) = home.iam.keys_of("alice")
        assert (only.key_id, only.status) == (home.key_of().access_key_id, ACTIVE)
        assert home.in_flight() == set()
    assert outcomes == {0, EXIT_REFUSED, EXIT_ROLLED_BACK, EXIT_PARTIAL}


def fail_journal_from(home: Home, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """Every journal write from the one that records ``step`` on fails (files still work)."""
    real_save, failing = home.journal.save, []

    def save(record: JournalRecord) -> None:
        if record.step == step or failing:
            failing.append(record.step)
            raise PermissionError(13, "Permission denied", home.journal.path)
        real_save(record)

    monkeypatch.setattr(home.journal, "save", save)


def test_a_journal_that_cannot_record_the_saved_key_stops_before_retiring(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_journal_from(home, monkeypatch, "saved")

    with pytest.raises(PartlyDone) as partly:
        home.run()

    message = str(partly.value)
    assert f"Permission denied: {home.journal.path}" in message
    assert "working key" in message and "was not retired" in message
    new = home.key_of()
    assert home.iam.status(new.access_key_id) == ACTIVE
    assert home.iam.status(home.old.access_key_id) == ACTIVE  # not retired without a journal
    assert [c.operation for c in home.iam.calls() if c.signer == new.access_key_id] == [
        "ListAccessKeys",
        "ListAccessKeys",
    ]
    assert home.record().step == CREATING  # what the disk still says; enough for the next run
    monkeypatch.undo()
    result = home.run()
    assert isinstance(result, Rotated) and result.recovered is not None
    assert result.recovered["Action"] == "Completed"
    assert home.iam.status(home.old.access_key_id) == DELETED


def test_a_journal_failure_with_a_new_key_that_never_works_is_undone(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_journal_from(home, monkeypatch, "saved")
    home.iam.new_key_rejections = 1000
    before = home.profile_files()

    with pytest.raises(RolledBack) as rolled_back:
        home.run(wait_timeout=5.0)

    assert rolled_back.value.exit_code == EXIT_ROLLED_BACK
    assert str(rolled_back.value).startswith("could not write the rotation journal (Permission")
    assert home.profile_files() == before
    assert [k.key_id for k in home.iam.keys_of("alice")] == [home.old.access_key_id]


def test_a_journal_that_cannot_record_the_retirement_stops_before_it(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_journal_from(home, monkeypatch, "retiring")

    with pytest.raises(PartlyDone, match="could not be written"):
        home.run()

    assert home.iam.status(home.old.access_key_id) == ACTIVE
    assert home.iam.mutations()[-1].operation == "CreateAccessKey"


def test_an_unreadable_credentials_file_is_one_line_and_refused(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(*_: object) -> Any:
        raise PermissionError(13, "Permission denied", str(home.credentials))

    monkeypatch.setattr(type(home.files), "credentials_of", unreadable)

    with pytest.raises(Refused) as refused:
        home.run()

    assert str(refused.value) == (
        f"could not read or check a local file (Permission denied: {home.credentials}); "
        "nothing was changed"
    )


# -- 10. the files read again before retirement -------------------------------------------------


def put_back(home: Home, when: Callable[[], bool]) -> list[int]:
    """Another program writes the original credentials file back at each poll of the new key
    (and at each pause) while ``when()`` says so."""
    original = home.credentials.read_bytes()
    writes: list[int] = []

    def write_old(*_: object) -> None:
        if when():
            home.credentials.write_bytes(original)
            writes.append(1)

    def on_poll(call: Call) -> None:
        if call.signer != home.old.access_key_id:
            write_old()

    home.iam.after["ListAccessKeys"] = on_poll
    home.clock.on_sleep = write_old
    return writes


def test_a_key_put_back_once_is_written_again_and_the_rotation_finishes(home: Home) -> None:
    writes = put_back(home, when=lambda: not writes)

    result = home.run()

    assert isinstance(result, Rotated) and writes == [1]
    assert home.key_of().access_key_id == result.new_key_id
    assert home.iam.status(home.old.access_key_id) == DELETED
    assert any(str(home.credentials) in w and "once more" in w for w in home.reporter.warnings)


def test_a_key_put_back_every_time_undoes_the_rotation_naming_the_file(home: Home) -> None:
    put_back(home, when=lambda: True)

    with pytest.raises(RolledBack) as rolled_back:
        home.run()

    assert rolled_back.value.exit_code == EXIT_ROLLED_BACK
    assert str(home.credentials) in str(rolled_back.value)
    assert home.key_of() == home.old
    assert [k.key_id for k in home.iam.keys_of("alice")] == [home.old.access_key_id]
    assert home.iam.status(home.old.access_key_id) == ACTIVE
    assert [c.operation for c in home.iam.mutations()] == ["CreateAccessKey", "DeleteAccessKey"]
    assert home.in_flight() == set()


def test_another_profile_put_back_on_the_old_key_is_checked_too(home: Home) -> None:
    home.config.write_text("[default]\nregion = eu-west-1\n\n" + hold(home.old, "profile ci"))
    original = home.config.read_bytes()
    done: list[int] = []

    def on_poll(call: Call) -> None:
        if call.signer != home.old.access_key_id and not done:
            home.config.write_bytes(original)
            done.append(1)

    home.iam.after["ListAccessKeys"] = on_poll

    result = home.run()

    assert isinstance(result, Rotated)
    assert home.key_of("ci").access_key_id == result.new_key_id
    assert home.files_with(home.old.access_key_id) == set()
    assert PROBE_KEY_ID not in home.credentials.read_text()
