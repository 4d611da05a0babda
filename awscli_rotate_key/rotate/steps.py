"""The rotation as one ordered list of named steps, walked by a fresh and a resumed run alike.

A fresh run starts at the first step. A run that finds a rotation in flight reads the journal
and the files (recovery.py) and, when the files hold the new key, walks the same list from
``save``: each step from there knows the journal's step it resumes from (a rotation journaled
``retiring`` may have an Inactive or deleted old key, so it is only ever finished). The steps
before ``save`` make nothing a resumed run needs again; when the files still hold the old key,
the recovery undoes the unsaved part (rollback) and the run starts over at the first step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from awscli_rotate_key.keys import AccessKey
from awscli_rotate_key.rotate import making, retiring
from awscli_rotate_key.rotate.journal import RETIRING, JournalRecord
from awscli_rotate_key.rotate.local import refused_on_local_error
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.restart import DEFAULT_TIMEOUT, Restart
from awscli_rotate_key.rotate.results import NotDue
from awscli_rotate_key.rotate.rotation import Iam, Options, Steps, User


@dataclass
class Rotation:
    """One rotation as its steps fill it in; a resumed one starts filled in from the journal."""

    profile: str
    options: Options
    record: JournalRecord | None = None
    old: Credentials | None = None  # a resumed run whose rollback file is gone: secret ""
    new: Credentials | None = None
    iam: Iam | None = None  # for the calls that manage keys (Steps.managing)
    user: User | None = None
    key: AccessKey | None = None  # the old key as IAM lists it
    other: AccessKey | None = None
    changed: str = ""  # what making room changed, told by every later failure (otherkey.py)
    deleted_other: str | None = None
    profiles: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    status: str = ""  # the old key's, once retired
    deadline: float = 0.0  # of the wait for the new key
    resumed: bool = False  # continued from a journal an earlier run left
    retiring_already: bool = False  # that journal's step was RETIRING: never undo
    not_due: NotDue | None = None  # set by ``due``: the run ends there
    restart: Restart | None = None  # --restart-command, or the one the journal recorded
    restarted: bool = False  # the command succeeded: the service runs on the new key

    @property
    def may_undo(self) -> bool:
        """Never once retiring began (the old key may be gone) or the command put the service
        on the new key (an undo would delete the key it runs on)."""
        return not (self.retiring_already or self.restarted)

    @property
    def journaled(self) -> JournalRecord:
        assert self.record is not None, "the journal is started before this step"
        return self.record

    @property
    def old_key(self) -> Credentials:
        assert self.old is not None, "read-key comes first"
        return self.old

    @property
    def new_key(self) -> Credentials:
        assert self.new is not None, "create comes before this step"
        return self.new

    @property
    def managing(self) -> Iam:
        assert self.iam is not None, "inspect comes before this step"
        return self.iam


def fresh(profile: str, options: Options) -> Rotation:
    """A rotation about to start at the first step."""
    command = options.restart_command
    restart = Restart(command, options.restart_timeout) if command else None
    return Rotation(profile, options, restart=restart)


def resumed(
    record: JournalRecord, new: Credentials, wait_timeout: float, restart: Restart | None = None
) -> Rotation:
    """The rotation ``record`` journaled, the files on its new key: it continues at ``save``.

    The restart command is the one the journal recorded, else ``restart`` (this run's, when it
    was asked for this profile).
    """
    if record.restart_command:
        timeout = record.restart_timeout or DEFAULT_TIMEOUT
        restart = Restart(record.restart_command, float(timeout))
    return Rotation(
        record.profile,
        Options(delete=record.delete_old_key, wait_timeout=wait_timeout),
        record=record,
        old=Credentials(record.old_key_id, ""),  # its secret comes from the rollback file
        new=new,
        resumed=True,
        retiring_already=record.step == RETIRING,
        restart=restart,
        # A journal from before ``restarted`` was recorded: RETIRING comes after the command.
        restarted=record.restarted or (record.step == RETIRING and bool(record.restart_command)),
    )


Step = Callable[[Steps, Rotation], None]


def _sequence() -> tuple[tuple[str, Step], ...]:
    return (
        ("read-key", making.read_key),  # the profile's key, the --access-key-id guard
        ("open-mfa-session", making.open_mfa_session),  # under MFA: before any IAM call
        ("inspect", making.inspect),  # its user and the other key, the guards
        ("due", making.due),  # --older-than
        ("check", making.check_before_any_change),  # files, the other key, IAM rights
        ("journal", making.start_journal),  # step CREATING, the old secret in the rollback file
        ("make-room", making.make_room_for_new_key),  # the two-key limit
        ("create", making.create_key),
        ("save", making.save_new_key),  # resumed: finish moving the profiles
        ("journal-saved", making.journal_saved_key),  # step SAVED
        ("prove", retiring.prove_new_key),  # two calls signed by the new key
        ("restart", retiring.restart_service),  # --restart-command, with the new key
        ("reread", retiring.reread_files),  # nothing put the old key back meanwhile
        ("journal-retiring", retiring.journal_retiring),  # step RETIRING: no undo from here
        ("retire", retiring.retire),  # deactivate, delete the old key
        ("clear", retiring.clear),  # the journal and the rollback file go
    )


# Nothing has changed before these end: a local error refuses the run (exit 3).
BEFORE_ANY_CHANGE = frozenset({"read-key", "open-mfa-session", "inspect", "due", "check"})
FIRST, RESUME = "read-key", "save"


def walk(steps: Steps, rotation: Rotation, start: str = FIRST) -> Rotation:
    """Run the steps from ``start`` to the end (or to ``due`` when the key is not due)."""
    sequence = _sequence()
    names = [name for name, _ in sequence]
    for name, step in sequence[names.index(start) :]:
        if name in BEFORE_ANY_CHANGE:
            with refused_on_local_error("read or check a local file"):
                step(steps, rotation)
        else:
            step(steps, rotation)
        if rotation.not_due is not None:
            break
    return rotation


def step_names() -> list[str]:
    return [name for name, _ in _sequence()]
