"""The rotation core (sequence, steps, recovery) against a fake IAM, a fake clock, real files.

Every test reads like the issue's rules: which key is rotated, in which order the calls are
made and which key signs them, what the files hold at each point, and what the next plain run
does after a crash. Crashes are simulated by ``Killed``, a BaseException nothing may catch.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import awscli_rotate_key.rotate.rotation as rotation
from awscli_rotate_key.errors import (
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    EXIT_REFUSED,
    EXIT_ROLLED_BACK,
    IamError,
    Interrupted,
    PartlyDone,
    Refused,
    RolledBack,
)
from awscli_rotate_key.rotate.journal import CREATING, RETIRING, SAVED, Journal, JournalRecord
from awscli_rotate_key.rotate.profiles import Credentials, KeySource, ProfileFiles
from awscli_rotate_key.rotate.results import DryRun, NotDue, Result, Rotated
from awscli_rotate_key.rotate.rights import PROBE_KEY_ID
from awscli_rotate_key.rotate.rotation import ACTIVE, DELETED, INACTIVE, Options, Steps
from awscli_rotate_key.rotate.sequence import rotate_my_key
from tests.unit.fakes import Call, FakeClock, FakeIam, RecordingReporter

JOURNAL_FILES = ("rotate-my-key.journal.json", "rotate-my-key.rollback.json")


class Killed(BaseException):
    """The process dies at this point (SIGKILL): no except clause in the core may see it."""


def kill(*_: object) -> None:
    raise Killed


@dataclass
class Home:
    """A throwaway ~/.aws with a user ``alice`` whose key ``old`` is in profile ``default``."""

    aws: Path
    clock: FakeClock
    iam: FakeIam
    reporter: RecordingReporter
    files: ProfileFiles
    journal: Journal
    old: Credentials

    @property
    def credentials(self) -> Path:
        return Path(self.files.credentials)

    @property
    def config(self) -> Path:
        return Path(self.files.config)

    def steps(self) -> Steps:
        return Steps(
            files=self.files,
            journal=self.journal,
            iam_for=self.iam.iam_for,
            reporter=self.reporter,
            writer=None,
            now=self.clock.now,
            sleep=self.clock.sleep,
            monotonic=self.clock.monotonic,
        )

    def run(self, profile: str = "default", **options: Any) -> Result:
        options.setdefault("wait_timeout", 30.0)
        source = KeySource(profile, profile, (profile,))
        return rotate_my_key(self.steps(), source, Options(**options))

    def key_of(self, profile: str = "default") -> Credentials:
        return self.files.credentials_of(profile)

    def profile_files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (self.credentials, self.config)}

    def files_with(self, text: str) -> set[str]:
        """Names of the files under the AWS directory whose bytes contain ``text``."""
        return {p.name for p in self.aws.iterdir() if p.is_file() and text in p.read_text()}

    def in_flight(self) -> set[str]:
        return {name for name in JOURNAL_FILES if (self.aws / name).exists()}

    def record(self) -> JournalRecord:
        record = self.journal.load()
        assert record is not None
        return record

    def new_key_id(self) -> str:
        assert self.iam.created, "no new key was created"
        return self.iam.created[-1]

    def ops(self, since: int = 0) -> list[tuple[str, str, str | None]]:
        return [(c.operation, c.signer, c.target) for c in self.iam.log[since:]]


def make_home(root: Path) -> Home:
    clock = FakeClock()
    iam = FakeIam(clock)
    iam.add_user("alice")
    old = iam.add_key("alice", age_days=100)
    aws = root / ".aws"
    aws.mkdir()
    credentials, config = aws / "credentials", aws / "config"
    credentials.write_text(
        "# work account, rotated by cron\n"
        "[default]\n"
        f"aws_access_key_id = {old.access_key_id}\n"
        f"aws_secret_access_key = {old.secret_access_key}\n"
    )
    credentials.chmod(0o600)
    config.write_text("[default]\nregion = eu-west-1\noutput = json\n")
    files = ProfileFiles(str(credentials), str(config))
    return Home(aws, clock, iam, RecordingReporter(), files, Journal(str(aws)), old)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def assert_nothing_changed(home: Home, before: dict[str, bytes], keys: set[str]) -> None:
    assert home.iam.mutations() == []
    assert home.profile_files() == before
    assert set(home.iam.keys) == keys
    assert {p.name for p in home.aws.iterdir()} == {"credentials", "config"}  # no lock file


def hold(key: Credentials, section: str = "default") -> str:
    return (
        f"[{section}]\naws_access_key_id = {key.access_key_id}\n"
        f"aws_secret_access_key = {key.secret_access_key}\n"
    )


# -- which key, and the guards --------------------------------------------------------------


def test_the_profiles_key_is_rotated_not_the_users_oldest(home: Home) -> None:
    oldest = home.iam.add_key("alice", age_days=900, status=INACTIVE)

    result = home.run()

    assert isinstance(result, Rotated)
    assert result.old_key_id == home.old.access_key_id
    assert result.deleted_other_key_id == oldest.access_key_id
    new = home.key_of()
    assert {k.key_id for k in home.iam.keys_of("alice")} == {new.access_key_id}


def test_a_named_profile_in_the_config_file_rotates_its_own_key(home: Home) -> None:
    home.iam.add_user("bob")
    bobs = home.iam.add_key("bob", age_days=500)
    home.config.write_text("[default]\nregion = eu-west-1\n\n" + hold(bobs, "profile dev"))

    result = home.run("dev")

    assert isinstance(result, Rotated)
    assert (result.user_name, result.old_key_id) == ("bob", bobs.access_key_id)
    assert home.key_of("default") == home.old  # alice's profile is untouched
    assert home.iam.status(home.old.access_key_id) == ACTIVE
    assert home.key_of("dev").access_key_id == result.new_key_id
    assert result.updated_files == [str(home.config)]


@pytest.mark.parametrize(
    ("guard", "message"),
    [
        (
            {"access_key_id": "AKIAOTHEROTHEROTHER1"},
            "not AKIAOTHEROTHEROTHER1 \\(--access-key-id\\)",
        ),
        ({"user_name": "mallory"}, "belongs to IAM user 'alice', not 'mallory' \\(--user-name\\)"),
    ],
)
def test_a_guard_that_does_not_match_refuses_before_any_change(
    home: Home, guard: dict[str, str], message: str
) -> None:
    before = home.profile_files()

    with pytest.raises(Refused, match=message) as refused:
        home.run(**guard)

    assert refused.value.exit_code == EXIT_REFUSED
    assert_nothing_changed(home, before, {home.old.access_key_id})


def test_guards_that_match_let_the_rotation_run(home: Home) -> None:
    result = home.run(access_key_id=home.old.access_key_id, user_name="alice")

    assert isinstance(result, Rotated)


def test_a_root_key_is_refused(home: Home) -> None:
    home.iam.add_user("root-account", root=True)
    root = home.iam.add_key("root-account")
    home.credentials.write_text(hold(root))
    before = home.profile_files()

    with pytest.raises(Refused, match="root user") as refused:
        home.run()

    assert refused.value.exit_code == EXIT_REFUSED
    assert_nothing_changed(home, before, {home.old.access_key_id, root.access_key_id})


# -- the two-key limit ----------------------------------------------------------------------


def test_an_inactive_other_key_is_deleted_first_and_reported(home: Home) -> None:
    other = home.iam.add_key("alice", age_days=10, status=INACTIVE)

    result = home.run()

    assert isinstance(result, Rotated)
    assert result.to_output()["DeletedOtherAccessKeyId"] == other.access_key_id
    mutations = [(c.operation, c.signer, c.target) for c in home.iam.mutations()]
    assert mutations[:2] == [
        ("DeleteAccessKey", home.old.access_key_id, other.access_key_id),
        ("CreateAccessKey", home.old.access_key_id, None),
    ]


def test_an_active_other_key_is_refused_with_its_age_and_last_use(home: Home) -> None:
    other = home.iam.add_key("alice", age_days=45, last_used="2026-02-27 (s3 in eu-west-1)")
    before = home.profile_files()

    with pytest.raises(Refused) as refused:
        home.run()

    message = str(refused.value)
    assert other.access_key_id in message
    assert "45 days old" in message
    assert "last used 2026-02-27 (s3 in eu-west-1)" in message
    assert "--delete-other-key" in message
    assert_nothing_changed(home, before, {home.old.access_key_id, other.access_key_id})


def test_delete_other_key_deletes_an_active_other_key_first(home: Home) -> None:
    other = home.iam.add_key("alice", age_days=45)

    result = home.run(delete_other_key=True)

    assert isinstance(result, Rotated)
    assert result.deleted_other_key_id == other.access_key_id
    first = home.iam.mutations()[0]
    assert (first.operation, first.target) == ("DeleteAccessKey", other.access_key_id)
    assert home.iam.status(other.access_key_id) == DELETED


# -- the sequence ---------------------------------------------------------------------------


def test_the_happy_sequence_order_and_signers(home: Home) -> None:
    old_id = home.old.access_key_id

    result = home.run()

    assert isinstance(result, Rotated)
    new = home.key_of()
    assert new.access_key_id == result.new_key_id != old_id
    assert home.ops() == [
        ("GetUser", old_id, None),
        ("ListAccessKeys", old_id, None),
        # The retirement rights, checked on a key that cannot exist: changes nothing.
        ("UpdateAccessKey", old_id, f"{PROBE_KEY_ID}:{ACTIVE}"),
        ("DeleteAccessKey", old_id, PROBE_KEY_ID),
        ("CreateAccessKey", old_id, None),
        ("ListAccessKeys", new.access_key_id, None),
        ("ListAccessKeys", new.access_key_id, None),
        ("UpdateAccessKey", new.access_key_id, f"{old_id}:{INACTIVE}"),
        ("DeleteAccessKey", new.access_key_id, old_id),
    ]
    assert result.to_output() == {
        "Rotated": True,
        "UserName": "alice",
        "OldAccessKeyId": old_id,
        "NewAccessKeyId": new.access_key_id,
        "OldKeyStatus": DELETED,
        "UpdatedProfiles": ["default"],
        "UpdatedFiles": [str(home.credentials)],
    }
    assert home.iam.keys[new.access_key_id].secret == new.secret_access_key
    assert home.iam.status(old_id) == DELETED
    assert home.in_flight() == set()


def test_no_delete_leaves_the_old_key_inactive(home: Home) -> None:
    result = home.run(delete=False)

    assert isinstance(result, Rotated)
    assert result.old_key_status == INACTIVE
    assert home.iam.status(home.old.access_key_id) == INACTIVE
    assert "DeleteAccessKey" not in [c.operation for c in home.iam.mutations()]


def test_the_inactive_key_left_by_no_delete_makes_room_for_the_next_rotation(home: Home) -> None:
    first = home.run(delete=False)
    second = home.run()

    assert isinstance(first, Rotated) and isinstance(second, Rotated)
    assert second.old_key_id == first.new_key_id
    assert second.deleted_other_key_id == home.old.access_key_id


def test_every_profile_holding_the_old_key_is_updated_in_both_files(home: Home) -> None:
    home.iam.add_user("bob")
    bobs = home.iam.add_key("bob")
    home.credentials.write_text(
        "# work account\n" + hold(home.old) + "\n; backup copy\n" + hold(home.old, "backup")
    )
    home.config.write_text(
        "[default]\nregion = eu-west-1\n\n"
        + hold(home.old, "profile ci")
        + "region = us-east-1\n\n"
        + hold(bobs, "profile bob")
        + "\n[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\n"
        "source_profile = default\n"
    )

    result = home.run()

    assert isinstance(result, Rotated)
    new = home.key_of()
    assert [home.key_of(p) for p in ("default", "backup", "ci")] == [new, new, new]
    assert home.key_of("bob") == bobs
    assert result.updated_profiles == ["default", "backup", "ci"]
    assert result.updated_files == [str(home.credentials), str(home.config)]
    assert home.files_with(home.old.access_key_id) == set()
    credentials = home.credentials.read_text()
    assert "# work account\n" in credentials and "; backup copy\n" in credentials
    assert "region = us-east-1\n" in home.config.read_text()


# -- --older-than ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age_days", "due"),
    [(30, True), (30.5, True), (29, False), (30 - 1 / 86400, False)],
)
def test_older_than_boundaries(tmp_path: Path, age_days: float, due: bool) -> None:
    home = make_home(tmp_path)
    key = home.iam.keys[home.old.access_key_id]
    key.created = home.clock.now() - dt.timedelta(days=age_days)
    before = home.profile_files()

    result = home.run(older_than=30)

    if due:
        assert isinstance(result, Rotated)
        return
    assert isinstance(result, NotDue)
    assert result.to_output() == {
        "Rotated": False,
        "Reason": "NotDue",
        "AccessKeyId": home.old.access_key_id,
        "AgeDays": 29,
        "OlderThan": 30,
    }
    assert_nothing_changed(home, before, {home.old.access_key_id})


# -- --dry-run ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("other_status", "options", "action"),
    [
        (None, {}, None),
        (INACTIVE, {}, "Delete"),
        (ACTIVE, {}, "Refuse"),
        (ACTIVE, {"delete_other_key": True}, "Delete"),
    ],
)
def test_dry_run_calls_nothing_mutating_and_writes_nothing(
    home: Home, other_status: str | None, options: dict[str, Any], action: str | None
) -> None:
    keys = {home.old.access_key_id}
    if other_status is not None:
        keys.add(home.iam.add_key("alice", age_days=400, status=other_status).access_key_id)
    before = {p.name: p.read_bytes() for p in home.aws.iterdir()}

    result = home.run(dry_run=True, older_than=200, **options)

    assert isinstance(result, DryRun)
    out = result.to_output()
    assert (out["AccessKeyId"], out["AgeDays"], out["Due"]) == (home.old.access_key_id, 100, False)
    assert (out["Profiles"], out["Files"]) == (["default"], [str(home.credentials)])
    assert (out["OtherKey"] or {}).get("Action") == action
    assert {c.operation for c in home.iam.calls()} <= {"GetUser", "ListAccessKeys"}
    # The same rights checks as a run, on a key that cannot exist: they change nothing.
    old_id = home.old.access_key_id
    assert home.iam.probes() == [("UpdateAccessKey", old_id), ("DeleteAccessKey", old_id)]
    assert out["RetirementRights"] == {"UpdateAccessKey": "Allowed", "DeleteAccessKey": "Allowed"}
    assert {p.name: p.read_bytes() for p in home.aws.iterdir()} == before  # no journal
    assert set(home.iam.keys) == keys


# -- waiting for the new key ----------------------------------------------------------------


def test_a_new_key_rejected_three_times_then_accepted_twice_is_used(home: Home) -> None:
    home.iam.new_key_rejections = 3

    result = home.run()

    assert isinstance(result, Rotated)
    new_id = home.key_of().access_key_id
    assert len([c for c in home.iam.calls("ListAccessKeys") if c.signer == new_id]) == 3 + 2
    # A steady poll, then a short pause between the two successes (rotate/prove.py).
    assert home.clock.sleeps == [1.0, 1.0, 1.0, 0.5]
    assert home.reporter.waits == 4
    assert home.iam.status(home.old.access_key_id) == DELETED


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rejections=st.integers(0, 12), timeout=st.integers(1, 20))
def test_any_rejection_count_either_rotates_or_rolls_back_within_the_timeout(
    rejections: int, timeout: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = make_home(Path(tmp))
        home.iam.new_key_rejections = rejections
        original = home.profile_files()
        try:
            result = home.run(wait_timeout=float(timeout))
        except RolledBack:
            assert home.profile_files() == original
            assert [k.key_id for k in home.iam.keys_of("alice")] == [home.old.access_key_id]
            assert home.iam.status(home.old.access_key_id) == ACTIVE
        else:
            assert isinstance(result, Rotated)
            new_id = home.key_of().access_key_id
            polls = [c for c in home.iam.calls("ListAccessKeys") if c.signer == new_id]
            assert len(polls) == rejections + 2
        assert sum(home.clock.sleeps) <= timeout
        assert home.in_flight() == set()
        unbounded = 1.0 * rejections + 0.5  # the steady poll, then the confirming pause
        if unbounded < timeout:
            assert isinstance(result, Rotated)


def snapshot_files_at_delete(home: Home) -> list[tuple[str | None, str, bytes]]:
    """At each DeleteAccessKey: (target, key the default profile holds, credentials bytes)."""
    seen: list[tuple[str | None, str, bytes]] = []

    def hook(call: Call) -> None:
        seen.append((call.target, home.key_of().access_key_id, home.credentials.read_bytes()))

    home.iam.before["DeleteAccessKey"] = hook
    return seen


def assert_rolled_back(home: Home, error: RolledBack, seen: list[Any], original: bytes) -> None:
    """The files were restored before the new key was deleted, signed by the old key."""
    old_id, new_id = home.old.access_key_id, home.new_key_id()
    assert error.exit_code == EXIT_ROLLED_BACK
    assert (new_id, old_id, original) in seen
    deletes = [c for c in home.iam.calls("DeleteAccessKey") if c.target == new_id]
    assert [c.signer for c in deletes] == [old_id]
    assert home.iam.status(new_id) == DELETED
    assert home.iam.status(old_id) == ACTIVE
    assert home.credentials.read_bytes() == original
    assert home.in_flight() == set()


def test_a_new_key_that_never_works_is_deleted_after_the_files_are_restored(home: Home) -> None:
    home.iam.new_key_rejections = 10**6
    original = home.credentials.read_bytes()
    seen = snapshot_files_at_delete(home)

    with pytest.raises(RolledBack, match="did not work") as rolled_back:
        home.run(wait_timeout=10.0)

    assert_rolled_back(home, rolled_back.value, seen, original)
    assert sum(home.clock.sleeps) <= 10.0
    assert "UpdateAccessKey" not in [c.operation for c in home.iam.mutations()]


def test_access_denied_on_deactivate_rolls_back(home: Home) -> None:
    home.iam.fail("UpdateAccessKey", "AccessDenied")
    original = home.credentials.read_bytes()
    seen = snapshot_files_at_delete(home)

    with pytest.raises(RolledBack, match="iam:UpdateAccessKey") as rolled_back:
        home.run()

    assert_rolled_back(home, rolled_back.value, seen, original)
    assert [c.operation for c in home.iam.mutations()] == [
        "CreateAccessKey",
        "UpdateAccessKey",
        "DeleteAccessKey",
    ]


def test_access_denied_on_delete_reactivates_the_old_key_restores_files_deletes_new(
    home: Home,
) -> None:
    home.iam.fail("DeleteAccessKey", "AccessDenied")
    old_id = home.old.access_key_id
    original = home.credentials.read_bytes()
    seen = snapshot_files_at_delete(home)
    held_at_reactivation: list[str] = []
    home.iam.before["UpdateAccessKey"] = lambda call: held_at_reactivation.append(
        home.key_of().access_key_id
    )

    with pytest.raises(RolledBack, match="AccessDenied") as rolled_back:
        home.run()

    assert_rolled_back(home, rolled_back.value, seen, original)
    new_id = home.new_key_id()
    assert [(c.operation, c.signer, c.target) for c in home.iam.mutations()] == [
        ("CreateAccessKey", old_id, None),
        ("UpdateAccessKey", new_id, f"{old_id}:{INACTIVE}"),
        ("DeleteAccessKey", new_id, old_id),
        ("UpdateAccessKey", new_id, f"{old_id}:{ACTIVE}"),
        ("DeleteAccessKey", old_id, new_id),
    ]
    # The old key was Active again before the files pointed at it.
    assert held_at_reactivation == [new_id, new_id]


@pytest.mark.parametrize(
    ("operation", "old_status"), [("UpdateAccessKey", ACTIVE), ("DeleteAccessKey", INACTIVE)]
)
def test_transient_retirement_failure_is_partly_done_and_the_next_run_finishes(
    home: Home, operation: str, old_status: str
) -> None:
    fault = home.iam.fail(operation, "Throttling", times=None)
    old_id = home.old.access_key_id

    with pytest.raises(PartlyDone, match=f"still {old_status}") as partly:
        home.run(wait_timeout=20.0)

    assert partly.value.exit_code == EXIT_PARTIAL
    new = home.key_of()
    assert new.access_key_id != old_id and home.iam.status(old_id) == old_status
    assert len(home.iam.calls(operation)) > 3  # retried within the budget
    assert home.in_flight() == set(JOURNAL_FILES)
    # Retirement had started: the journal says so, and no later run may undo the rotation.
    assert (home.record().step, home.record().new_key_id) == (RETIRING, new.access_key_id)

    fault.times = 0
    mark = len(home.iam.log)
    again = home.run()

    assert isinstance(again, Rotated)
    assert again.recovered is not None and again.recovered["Action"] == "Completed"
    assert (again.old_key_id, again.new_key_id, again.old_key_status) == (
        old_id,
        new.access_key_id,
        DELETED,
    )
    assert "CreateAccessKey" not in [op for op, _, _ in home.ops(mark)]
    assert {signer for _, signer, _ in home.ops(mark)} == {new.access_key_id}
    assert home.key_of() == new
    assert home.in_flight() == set()


# -- an interrupted run is finished or undone by the next plain run -------------------------


def test_killed_after_create_the_next_run_deletes_the_orphan_then_rotates(home: Home) -> None:
    home.iam.after["CreateAccessKey"] = kill
    with pytest.raises(Killed):
        home.run()
    orphan = home.new_key_id()
    assert home.record().step == CREATING
    assert home.key_of() == home.old

    del home.iam.after["CreateAccessKey"]
    mark = len(home.iam.log)
    result = home.run()

    assert isinstance(result, Rotated)
    assert result.recovered == {
        "Action": "RolledBack",
        "OldAccessKeyId": home.old.access_key_id,
        "DeletedAccessKeyIds": [orphan],
    }
    mutations = [
        (op, signer, target)
        for op, signer, target in home.ops(mark)
        if op in ("CreateAccessKey", "DeleteAccessKey") and target != PROBE_KEY_ID
    ][:2]
    assert mutations == [
        ("DeleteAccessKey", home.old.access_key_id, orphan),
        ("CreateAccessKey", home.old.access_key_id, None),
    ]
    assert [k.key_id for k in home.iam.keys_of("alice")] == [home.key_of().access_key_id]
    assert home.in_flight() == set()


def test_killed_after_the_files_are_saved_before_the_journal_says_so_the_next_run_finishes(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    save = home.journal.save

    def save_then_die_at_saved(record: JournalRecord) -> None:
        if record.step == SAVED:
            raise Killed
        save(record)

    monkeypatch.setattr(home.journal, "save", save_then_die_at_saved)
    with pytest.raises(Killed):
        home.run()
    new = home.key_of()
    assert new != home.old and home.record().step == CREATING
    monkeypatch.undo()

    result = home.run()

    assert isinstance(result, Rotated)
    assert result.recovered is not None and result.recovered["Action"] == "Completed"
    assert (result.new_key_id, result.old_key_status) == (new.access_key_id, DELETED)
    assert [k.key_id for k in home.iam.keys_of("alice")] == [new.access_key_id]
    assert len(home.iam.calls("CreateAccessKey")) == 1
    assert home.in_flight() == set()


@pytest.mark.parametrize("killed_at", ["waiting", "after deactivating"])
def test_killed_after_saved_the_next_plain_run_retires_the_old_key(
    home: Home, killed_at: str
) -> None:
    old_id = home.old.access_key_id
    if killed_at == "waiting":
        home.iam.before["ListAccessKeys"] = lambda call: kill() if call.signer != old_id else None
    else:
        home.iam.after["UpdateAccessKey"] = kill
    with pytest.raises(Killed):
        home.run()
    new = home.key_of()
    assert home.record().step == (SAVED if killed_at == "waiting" else RETIRING)
    assert len(home.iam.keys_of("alice")) == 2  # the old key looks like an "other" key now
    home.iam.before.clear()
    home.iam.after.clear()

    result = home.run()  # no --delete-other-key

    assert isinstance(result, Rotated)
    assert result.recovered is not None and result.recovered["Action"] == "Completed"
    assert (result.old_key_id, result.new_key_id) == (old_id, new.access_key_id)
    assert [k.key_id for k in home.iam.keys_of("alice")] == [new.access_key_id]
    assert len(home.iam.calls("CreateAccessKey")) == 1
    assert home.in_flight() == set()


def test_killed_between_two_files_the_next_run_undoes_the_half_save(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The profile's own key is in the config file; another profile holds it in credentials."""
    home.credentials.write_text(hold(home.old, "dev-admin"))
    home.config.write_text(hold(home.old, "profile dev"))
    writes: list[str] = []
    update_file = rotation.update_file

    def die_on_second_file(path: str, *args: Any) -> str:
        writes.append(path)
        if len(writes) == 2:
            raise Killed
        return update_file(path, *args)

    monkeypatch.setattr(rotation, "update_file", die_on_second_file)
    with pytest.raises(Killed):
        home.run("dev")
    assert home.key_of("dev") == home.old and home.key_of("dev-admin") != home.old
    monkeypatch.undo()

    result = home.run("dev")

    assert isinstance(result, Rotated)
    new = home.key_of("dev")
    assert home.key_of("dev-admin") == new
    assert [k.key_id for k in home.iam.keys_of("alice")] == [new.access_key_id]
    assert home.in_flight() == set()


# -- CreateAccessKey failures ---------------------------------------------------------------


def test_an_unanswered_create_that_made_a_key_leaves_no_orphan(home: Home) -> None:
    home.iam.fail("CreateAccessKey", "RequestTimeout", ambiguous=True, after=True)
    before = home.profile_files()

    with pytest.raises(RolledBack, match="was deleted") as rolled_back:
        home.run()

    assert rolled_back.value.exit_code == EXIT_ROLLED_BACK
    orphan = home.iam.calls("DeleteAccessKey")[0]
    assert orphan.signer == home.old.access_key_id
    assert orphan.target is not None and orphan.target in str(rolled_back.value)
    assert [k.key_id for k in home.iam.keys_of("alice")] == [home.old.access_key_id]
    assert home.iam.status(home.old.access_key_id) == ACTIVE
    assert home.profile_files() == before
    assert home.in_flight() == set()


def test_an_unanswered_create_whose_key_is_not_listed_yet_is_cleaned_by_the_next_run(
    home: Home,
) -> None:
    home.iam.fail("CreateAccessKey", "RequestTimeout", ambiguous=True, after=True)
    home.iam.new_key_unlisted = 1  # IAM is eventually consistent

    with pytest.raises(RolledBack):
        home.run()
    orphan = list(home.iam.created)
    assert home.iam.status(orphan[0]) == ACTIVE and home.in_flight() == set(JOURNAL_FILES)

    result = home.run()

    assert isinstance(result, Rotated)
    assert result.recovered is not None
    assert result.recovered["DeletedAccessKeyIds"] == orphan
    assert [k.key_id for k in home.iam.keys_of("alice")] == [home.key_of().access_key_id]


@pytest.mark.parametrize(
    ("code", "error"), [("AccessDenied", RolledBack), ("LimitExceeded", Refused)]
)
def test_a_refused_create_changes_nothing(home: Home, code: str, error: type[Exception]) -> None:
    home.iam.fail("CreateAccessKey", code)
    before = home.profile_files()

    with pytest.raises(error, match=code):
        home.run()

    assert [c.operation for c in home.iam.mutations()] == ["CreateAccessKey"]
    assert home.profile_files() == before
    assert home.in_flight() == set()


def test_a_failed_file_save_deletes_the_new_key_and_rolls_back(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rotation, "update_file", disk_full)
    before = home.profile_files()

    with pytest.raises(RolledBack, match="No space left"):
        home.run()

    assert [k.key_id for k in home.iam.keys_of("alice")] == [home.old.access_key_id]
    deleted = home.iam.calls("DeleteAccessKey")
    assert [c.signer for c in deleted] == [home.old.access_key_id]
    assert home.profile_files() == before
    assert home.in_flight() == set()


# -- Ctrl-C ---------------------------------------------------------------------------------


def test_ctrl_c_while_waiting_undoes_the_rotation(home: Home) -> None:
    home.iam.new_key_rejections = 1
    original = home.credentials.read_bytes()
    seen = snapshot_files_at_delete(home)

    def ctrl_c(index: int) -> None:
        if index == 0:
            raise KeyboardInterrupt

    home.clock.on_sleep = ctrl_c

    with pytest.raises(Interrupted, match="interrupted") as interrupted:
        home.run()

    assert interrupted.value.exit_code == EXIT_INTERRUPTED
    new_id = home.new_key_id()
    assert seen == [(new_id, home.old.access_key_id, original)]
    assert home.iam.calls("DeleteAccessKey")[0].signer == home.old.access_key_id
    assert [k.key_id for k in home.iam.keys_of("alice")] == [home.old.access_key_id]
    assert home.iam.status(home.old.access_key_id) == ACTIVE
    assert home.credentials.read_bytes() == original
    assert home.in_flight() == set()


# -- the journal and the secrets ------------------------------------------------------------


def test_journal_files_are_private_hold_no_secret_and_are_gone_after_success(home: Home) -> None:
    old_secret = home.old.secret_access_key
    observed: dict[str, Any] = {}

    def at(moment: str) -> Callable[[Call], None]:
        def hook(call: Call) -> None:
            if moment in observed or (
                moment == "waiting" and call.signer == home.old.access_key_id
            ):
                return
            observed[moment] = {
                "modes": {n: stat.S_IMODE(os.stat(home.aws / n).st_mode) for n in JOURNAL_FILES},
                "old secret in": home.files_with(old_secret),
                "journal": (home.aws / JOURNAL_FILES[0]).read_text(),
                "new secret": home.key_of().secret_access_key,
            }

        return hook

    home.iam.before["CreateAccessKey"] = at("creating")
    home.iam.before["ListAccessKeys"] = at("waiting")

    result = home.run()

    assert isinstance(result, Rotated)
    creating, waiting = observed["creating"], observed["waiting"]
    assert creating["modes"] == waiting["modes"] == {n: 0o600 for n in JOURNAL_FILES}
    assert creating["old secret in"] == {"credentials", "rotate-my-key.rollback.json"}
    assert waiting["old secret in"] == {"rotate-my-key.rollback.json"}
    new_secret = waiting["new secret"]
    for moment in (creating, waiting):
        assert old_secret not in moment["journal"]
        assert new_secret not in moment["journal"]
    assert home.files_with(new_secret) == {"credentials"}
    assert home.in_flight() == set()
    assert home.files_with(old_secret) == set()
    assert stat.S_IMODE(home.credentials.stat().st_mode) == 0o600


def test_a_run_leaves_only_the_profile_files_behind(home: Home) -> None:
    home.run()

    assert {p.name for p in home.aws.iterdir()} == {"credentials", "config"}


# -- review findings: never undo past the point of no return ---------------------------------


def test_reactivation_failure_during_undo_keeps_the_new_key(home: Home) -> None:
    """AccessDenied on delete after the deactivation, and the reactivation fails too."""
    home.iam.fail("DeleteAccessKey", "AccessDenied")

    def reactivation_fails(call: Call) -> None:
        if call.target and call.target.endswith(":Active"):
            raise IamError("UpdateAccessKey", "ServiceUnavailable", "down")

    home.iam.before["UpdateAccessKey"] = reactivation_fails

    with pytest.raises(PartlyDone, match="could not be reactivated"):
        home.run()

    new = home.key_of()
    assert new != home.old  # the files keep the new key: the old one is Inactive
    assert home.iam.status(new.access_key_id) == ACTIVE
    assert home.iam.status(home.old.access_key_id) == INACTIVE
    assert home.in_flight()  # the next run finishes it


def test_a_new_key_that_cannot_be_deleted_in_an_undo_is_left_to_the_next_run(
    home: Home,
) -> None:
    home.iam.fail("UpdateAccessKey", "AccessDenied")
    home.iam.fail("DeleteAccessKey", "ServiceUnavailable", times=None)

    with pytest.raises(RolledBack, match="the next run deletes it"):
        home.run(wait_timeout=5.0)

    assert home.key_of() == home.old
    orphan = home.new_key_id()
    assert home.iam.status(orphan) == ACTIVE and home.in_flight()
    home.iam.faults.clear()

    result = home.run(older_than=90)

    assert isinstance(result, Rotated)
    assert result.recovered is not None and result.recovered["DeletedAccessKeyIds"] == [orphan]


def test_the_profile_in_use_must_receive_the_new_key(home: Home) -> None:
    """If the profile's key changed under the run (another process), the new key is undone."""

    def someone_edits_the_file(call: Call) -> None:
        home.credentials.write_text(
            "[default]\naws_access_key_id = AKIAELSEWHERE0000001\naws_secret_access_key = x\n"
        )

    home.iam.after["CreateAccessKey"] = someone_edits_the_file

    with pytest.raises(RolledBack, match="no longer holds"):
        home.run()

    assert home.iam.status(home.new_key_id()) == DELETED
    assert home.iam.status(home.old.access_key_id) == ACTIVE


def test_the_lock_covers_the_directories_of_both_files(home: Home, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "credentials").write_text(home.credentials.read_text())
    link = tmp_path / "link-to-credentials"
    link.symlink_to(shared / "credentials")
    steps = home.steps()
    steps.files = ProfileFiles(str(link), str(home.config))

    assert steps.lock_directories() == sorted([str(home.aws), str(shared)])


def test_a_refusal_after_an_earlier_run_deactivated_never_restores_an_inactive_key(
    home: Home,
) -> None:
    home.iam.after["UpdateAccessKey"] = kill  # deactivated, then the process died
    with pytest.raises(Killed):
        home.run()
    home.iam.after.clear()
    new = home.key_of()
    assert home.iam.status(home.old.access_key_id) == INACTIVE
    home.iam.fail("UpdateAccessKey", "AccessDenied", times=None)  # the policy changed since

    with pytest.raises(PartlyDone, match="could not be reactivated"):
        home.run()

    assert home.key_of() == new  # never the Inactive old key
    assert home.iam.status(new.access_key_id) == ACTIVE
