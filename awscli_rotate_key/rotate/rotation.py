"""The rotation of one profile's access key, as a list of small steps over an IAM port.

No printing and no awscli imports: progress goes to a Reporter, results are dataclasses.
Every step that changes something is journaled first so that an interrupted run can be
finished or undone by the next one (see recovery.py).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from awscli_rotate_key.errors import IamError, Interrupted, PartlyDone, RolledBack
from awscli_rotate_key.keys import AccessKey
from awscli_rotate_key.rotate import prove, rollback
from awscli_rotate_key.rotate.credfile import ConfigWriter, update_file
from awscli_rotate_key.rotate.journal import RETIRING, Journal, JournalRecord
from awscli_rotate_key.rotate.otherkey import NOTHING_ELSE, also
from awscli_rotate_key.rotate.profiles import Credentials, ProfileFiles
from awscli_rotate_key.rotate.prove import FIRST_DELAY, MAX_DELAY, KeyNeverWorked
from awscli_rotate_key.rotate.reread import make_sure_files_hold_new_key

ACTIVE, INACTIVE, DELETED = "Active", "Inactive", "Deleted"


@dataclass(frozen=True)
class User:
    name: str
    arn: str

    @property
    def is_root(self) -> bool:
        return self.arn.endswith(":root")


class Iam(Protocol):
    """The IAM calls a rotation needs, acting on the signing key's own user."""

    def get_user(self) -> User: ...
    def list_access_keys(self) -> list[AccessKey]: ...
    def create_access_key(self) -> Credentials: ...
    def update_access_key(self, key_id: str, status: str) -> None: ...
    def delete_access_key(self, key_id: str) -> None: ...
    def last_used(self, key_id: str) -> str: ...


class Reporter(Protocol):
    def step(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def waiting(self) -> None: ...


@dataclass
class Options:
    access_key_id: str | None = None
    user_name: str | None = None
    delete: bool = True
    delete_other_key: bool = False
    older_than: int | None = None
    wait_timeout: float = 60.0
    dry_run: bool = False
    undo: bool = False  # --undo: undo the last --no-delete rotation (undo.py)


class RetirementRefused(Exception):
    """IAM refused for good (AccessDenied, ...) to deactivate or delete the old key."""

    def __init__(self, error: IamError, deactivated: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.deactivated = deactivated


class RetirementUnfinished(Exception):
    """Transient failures of the retirement calls outlasted the budget."""

    def __init__(self, error: IamError, old_status: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.old_status = old_status


def age_days(created: dt.datetime, now: dt.datetime) -> int:
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    return max(0, (now - created).days)


@dataclass
class Steps:
    """The environment a rotation runs in; every collaborator can be replaced by a fake."""

    files: ProfileFiles
    journal: Journal
    iam_for: Callable[[Credentials], Iam]
    reporter: Reporter
    writer: ConfigWriter | None = None
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.timezone.utc))
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def lock_directories(self) -> list[str]:
        """Every directory whose files a run changes: the journal's and both files' (sorted)."""
        found = {self.journal.directory}
        found.update(os.path.dirname(os.path.realpath(p)) for p in self.files.paths())
        return sorted(d for d in found if os.path.isdir(d))

    def move_profiles(self, from_key_id: str, to: Credentials) -> tuple[list[str], list[str]]:
        """Make every profile holding ``from_key_id`` hold ``to``; return (profiles, files)."""
        by_path: dict[str, dict[str, dict[str, str]]] = {}
        profiles: list[str] = []
        for loc in self.files.holding(from_key_id):
            by_path.setdefault(loc.path, {})[loc.section] = {
                "aws_access_key_id": to.access_key_id,
                "aws_secret_access_key": to.secret_access_key,
            }
            if loc.profile not in profiles:
                profiles.append(loc.profile)
        written = [update_file(p, e, self.writer, self.reporter.warn) for p, e in by_path.items()]
        return profiles, written

    def wait_until_key_works(self, iam: Iam, deadline: float) -> None:
        prove.wait_until_key_works(self, iam, deadline)

    def retry(self, call: Callable[[], None], deadline: float) -> None:
        """Run ``call``, retrying transient errors with backoff until ``deadline``."""
        delay = FIRST_DELAY
        while True:
            try:
                call()
                return
            except IamError as error:
                if not error.transient or self.monotonic() >= deadline:
                    raise
            self.reporter.waiting()
            self.sleep(min(delay, max(0.0, deadline - self.monotonic())))
            delay = min(delay * 2, MAX_DELAY)

    def retire_old_key(self, iam: Iam, old_key_id: str, delete: bool, deadline: float) -> str:
        """Deactivate, then delete, the old key, signed by the new key. Returns its status."""
        status = ACTIVE
        try:
            self.reporter.step(f"Deactivating the old key {old_key_id}")
            self.retry(lambda: iam.update_access_key(old_key_id, INACTIVE), deadline)
            status = INACTIVE
            if delete:
                self.reporter.step(f"Deleting the old key {old_key_id}")
                self.retry(lambda: iam.delete_access_key(old_key_id), deadline)
                status = DELETED
        except IamError as error:
            if error.code == "NoSuchEntity":
                return DELETED
            if error.transient:
                raise RetirementUnfinished(error, status) from error
            raise RetirementRefused(error, status == INACTIVE) from error
        return status

    def delete_orphans(self, iam: Iam, keys_before: list[str]) -> list[str]:
        """Delete keys created by an interrupted run: not listed before it, held by no profile."""
        deleted = []
        for key in iam.list_access_keys():
            if key.access_key_id in keys_before or self.files.holding(key.access_key_id):
                continue
            self.reporter.step(f"Deleting the orphan key {key.access_key_id} (its secret was lost)")
            iam.delete_access_key(key.access_key_id)
            deleted.append(key.access_key_id)
            self.journal.forget_deleted([key.access_key_id])  # a secret kept for --undo goes too
        return deleted

    # The undo and its journal writes live in rollback.py; these names are what callers use.
    def undo(self, old: Credentials, new: Credentials, reactivate: bool) -> str:
        return rollback.undo(self, old, new, reactivate)

    def reactivate_old_key(self, old: Credentials, new: Credentials) -> None:
        rollback.reactivate_old_key(self, old, new)

    def delete_new_key(self, old: Credentials, new_key_id: str) -> None:
        rollback.delete_new_key(self, old, new_key_id)

    def save_journal(self, record: JournalRecord, old: Credentials, new: Credentials) -> None:
        rollback.save_journal(self, record, old, new)

    def journal_cleared_quietly(self) -> str:
        return rollback.journal_cleared_quietly(self)

    def finish_or_undo(
        self,
        record: JournalRecord,
        old: Credentials,
        new: Credentials,
        wait_timeout: float,
        changed: str = "",
    ) -> str:
        """From a saved new key: prove it, retire the old key; undo on a permanent failure.

        ``changed`` is what this run changed before creating the key (otherkey.make_room),
        told in every undo message. Returns the old key's final status. Raises RolledBack,
        PartlyDone or Interrupted.
        """
        deadline = self.monotonic() + wait_timeout
        new_iam = self.iam_for(new)
        self.wait_for_new_key(new_iam, deadline, record, old, new, changed)
        resumed = record.step == RETIRING  # an earlier run may have deactivated the old key
        make_sure_files_hold_new_key(self, record, old, new, not resumed, changed)
        if not resumed:
            record.step = RETIRING  # from here on the old key may be Inactive or gone: no undo
            self.save_journal(record, old, new)
        try:
            status = self.retire_old_key(
                new_iam,
                old.access_key_id,
                record.delete_old_key,
                max(deadline, self.monotonic() + FIRST_DELAY),
            )
        except RetirementRefused as error:
            note = self.undo(old, new, reactivate=error.deactivated or resumed)
            raise RolledBack(
                f"IAM refused to retire the old key {old.access_key_id} ({error.error.code}); "
                f"the new key was deleted and the old key is in use again. Check that your "
                f"policy allows iam:UpdateAccessKey and iam:DeleteAccessKey on your own user."
                f"{also(changed)}{note}"
            ) from None
        except RetirementUnfinished as error:
            raise PartlyDone(
                f"the files hold the new, working key {new.access_key_id}, but the old key "
                f"{old.access_key_id} is still {error.old_status} ({error.error.code}). "
                "Run `aws iam rotate-my-key` again to finish"
            ) from None
        note = self.journal_cleared_quietly()
        if note:  # the rotation is done; the next run only tidies up
            self.reporter.warn(f"the old key {old.access_key_id} is {status}.{note}")
        return status

    def wait_for_new_key(
        self,
        iam: Iam,
        deadline: float,
        record: JournalRecord,
        old: Credentials,
        new: Credentials,
        changed: str = "",
    ) -> None:
        """Wait until the new key works; undo if it never does, or on Ctrl-C, while that is safe.

        Once an earlier run started retiring the old key (journal step RETIRING), the new key has
        worked and the old one may be Inactive or deleted: the files keep the new key.
        """
        try:
            self.wait_until_key_works(iam, deadline)
        except KeyNeverWorked as error:
            if record.step == RETIRING:
                raise PartlyDone(
                    f"the files hold the new key {new.access_key_id}, which IAM does not accept "
                    f"right now ({error}); the old key {old.access_key_id} may already be "
                    "retired, so it is not restored. Run `aws iam rotate-my-key` again later"
                ) from None
            note = self.undo(old, new, reactivate=False)
            raise RolledBack(
                f"the new key {new.access_key_id} did not work ({error}); it was deleted and the "
                f"old key {old.access_key_id} is in use again. {changed or NOTHING_ELSE}{note}"
            ) from None
        except KeyboardInterrupt:
            if record.step == RETIRING:
                raise
            note = self.undo(old, new, reactivate=False)
            raise Interrupted(
                f"interrupted: the new key {new.access_key_id} was deleted and the old key "
                f"{old.access_key_id} is in use again.{also(changed)}{note}"
            ) from None
