"""The environment a rotation runs in (``Steps``), the IAM port it talks to, and its options.

No printing and no awscli imports: progress goes to a Reporter, results are dataclasses. The
rotation itself is the ordered list of named steps in steps.py; a fresh and a resumed run walk
the same list (recovery.py reads the journal and the files to know where to continue).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from awscli_rotate_key.errors import IamError
from awscli_rotate_key.keys import AccessKey
from awscli_rotate_key.rotate import prove, rollback
from awscli_rotate_key.rotate.credfile import ConfigWriter, update_file
from awscli_rotate_key.rotate.journal import Journal, JournalRecord
from awscli_rotate_key.rotate.profiles import Credentials, ProfileFiles
from awscli_rotate_key.rotate.prove import FIRST_DELAY, MAX_DELAY
from awscli_rotate_key.rotate.restart import DEFAULT_TIMEOUT, Restart, run_restart

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.mfa import MfaSessions  # the contract: open(key) -> session

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
    restart_command: str | None = None  # run before the old key is retired (restart.py)
    restart_timeout: float = DEFAULT_TIMEOUT


def iam_knows_the_key(iam: Iam) -> None:
    """The proof under MFA: GetUser signed by the key; AccessDenied counts (IAM knew the key),
    InvalidClientTokenId does not (it is raised, transient: the key is not seen yet)."""
    try:
        iam.get_user()
    except IamError as error:
        if error.code not in ("AccessDenied", "AccessDeniedException"):
            raise


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
    # Runs --restart-command with the new key: None when it worked, else why not (restart.py).
    restart: Callable[[Restart, Credentials], str | None] = run_restart
    # Set when the policy requires MFA: every call that manages keys goes through its session.
    mfa: MfaSessions | None = None
    session: Credentials | None = field(default=None, repr=False)  # of the rotation running
    # Per Steps, never shared: dataclasses.replace (one Steps per key of --all-profiles) makes a
    # new dict for a field that is not an __init__ argument.
    _sessions: dict[str, Credentials] = field(init=False, default_factory=dict, repr=False)

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

    def open_session(self, key: Credentials) -> None:
        """Under MFA: the session of ``key`` signs this rotation's managing calls from now on.

        One session per key and run (mfa.py asks STS at most once); never written to disk.
        """
        if self.mfa is None:
            self.session = None  # a Steps reused for another rotation keeps no stale session
            return
        if key.access_key_id not in self._sessions:
            self._sessions[key.access_key_id] = self.mfa.open(key)
        self.session = self._sessions[key.access_key_id]

    def managing(self, key: Credentials) -> Iam:
        """IAM for the calls that manage keys (list, create, update, delete): through the MFA
        session when there is one (an MFA policy denies them otherwise), else signed by ``key``.
        """
        return self.iam_for(self.session if self.session is not None else key)

    def wait_until_key_works(self, iam: Iam, deadline: float) -> None:
        if self.mfa is None:
            prove.wait_until_key_works(self, iam, deadline)
        else:  # an MFA policy denies ListAccessKeys without MFA: GetUser proves the key there
            prove.wait_until_key_works(self, iam, deadline, check=iam_knows_the_key)

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
