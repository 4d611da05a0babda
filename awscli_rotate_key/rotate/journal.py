"""The durable record of a rotation in flight, and the one file that holds the old secret.

Both live beside the AWS config file (so separate config homes stay separate), are 0600 and are
written atomically. The journal holds no secret; the rollback file holds the old key's secret,
needed to put it back into the files if the new key never works, and exists only while a
rotation is in flight. A ``--no-delete`` rotation hands that secret on to the kept-keys file
(kept.py) when retirement begins, so that ``--undo`` can put the old key back later; kept
secrets are let go only when their key is deleted or a later rotation starts retiring.

Both files carry a format ``Version``; a journal without one was written by the release before
versions and is read as before. A file this release cannot read refuses the run (statefiles).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from dataclasses import asdict, dataclass, field

from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate.credfile import write_atomically
from awscli_rotate_key.rotate.kept import KeptKey, KeptKeys
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.statefiles import (
    VERSION,
    Unreadable,
    check_fields,
    described,
    parse_object,
    read_text,
    unreadable,
)

CREATING = "creating"  # keys_before is known; CreateAccessKey may or may not have happened
SAVED = "saved"  # the new key is in the files; it is being proven
RETIRING = "retiring"  # the old key is being retired: it may be Inactive or gone, never undo
UNDOING = "undoing"  # --undo is putting the kept old key back (undo.py): only ever finished
STEPS = (CREATING, SAVED, RETIRING, UNDOING)

_TYPES: dict[str, tuple[type, ...]] = {
    "profile": (str,),
    "user_name": (str,),
    "old_key_id": (str,),
    "keys_before": (list,),
    "delete_old_key": (bool,),
    "step": (str,),
    "new_key_id": (str, type(None)),
    "files": (list,),
    "restart_command": (str, type(None)),
    "restart_timeout": (int, float, type(None)),
    "restarted": (bool,),
    "mfa_device": (str, type(None)),
}
_REQUIRED = {"profile", "user_name", "old_key_id", "keys_before", "delete_old_key"}
_JOURNAL_FIELDS = ("profile", ("old_key_id", "new_key_id", "keys_before"))
_ROLLBACK_FIELDS = ("Profile", ("AccessKeyId",))


@dataclass
class JournalRecord:
    profile: str
    user_name: str
    old_key_id: str
    keys_before: list[str]
    delete_old_key: bool
    step: str = CREATING
    new_key_id: str | None = None
    files: list[str] = field(default_factory=list)
    # --restart-command and its timeout, so that a run that stops before retiring (the command
    # failed, a crash) has the next run restart with them again. Older journals lack them.
    restart_command: str | None = None
    restart_timeout: float | None = None
    # The command succeeded: the service runs on the new key, so the rotation is never undone.
    restarted: bool = False
    # The MFA device of the run (an MFA policy): the next run needs a session of it to finish.
    mfa_device: str | None = None


class Journal:
    """One rotation in flight per AWS config directory (the run lock keeps it at one)."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "rotate-my-key.journal.json")
        self.rollback_path = os.path.join(directory, "rotate-my-key.rollback.json")
        self.directory = directory
        self.kept = KeptKeys(directory)

    def load(self) -> JournalRecord | None:
        """The rotation in flight, if any.

        Raises Unreadable (exit 3, before any AWS call) when the journal, its rollback file or
        the kept-keys file cannot be read by this release, so no run acts on a half-read state.
        """
        self.kept.all()
        text = read_text(self.path)
        if text is None:
            return None
        try:
            record = _record(text)
        except ValueError as error:
            raise unreadable(
                "the rotation journal",
                self.path,
                error,
                text,
                _JOURNAL_FIELDS,
                _journal_advice(text),
            ) from None
        self._read_rollback()
        return record

    def pending(self) -> JournalRecord | Unreadable | None:
        """What a dry run shows: the rotation in flight, or why it cannot be read."""
        try:
            return self.load()
        except Unreadable as error:
            return error

    def save(self, record: JournalRecord) -> None:
        # Kept old keys are let go only past the point of no return (or when deleted: see
        # forget_deleted), so a run refused or rolled back before it leaves --undo possible.
        if record.step == RETIRING:
            self.kept.retiring(
                record.profile,
                record.old_key_id,
                record.new_key_id or "",
                self._old_to_keep(record),
            )
        data = {"Version": VERSION, **asdict(record)}
        for name in ("restart_command", "restart_timeout", "restarted", "mfa_device"):
            if data[name] is None or data[name] is False:  # as before when not used
                del data[name]
        write_atomically(self.path, json.dumps(data, indent=1).encode(), 0o600)

    def save_rollback(self, old: Credentials) -> None:
        data = {
            "Version": VERSION,
            "AccessKeyId": old.access_key_id,
            "SecretAccessKey": old.secret_access_key,
        }
        write_atomically(self.rollback_path, json.dumps(data).encode(), 0o600)

    def load_rollback(self, key_id: str) -> Credentials | None:
        old = self._read_rollback()
        return old if old is not None and old.access_key_id == key_id else None

    def forget_deleted(self, key_ids: list[str]) -> None:
        """Let go of the kept secrets of keys just deleted.

        Quietly: a secret of a deleted key opens nothing, and an entry left behind is dropped by
        ``--undo`` (which finds its old key gone) or by the profile's next rotation.
        """
        if key_ids:
            with contextlib.suppress(OSError, Refused):
                self.kept.forget_keys(key_ids)

    def clear(self) -> None:
        """Remove the rollback file first: a journal without it can still be finished."""
        for path in (self.rollback_path, self.path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _read_rollback(self) -> Credentials | None:
        text = read_text(self.rollback_path)
        if text is None:
            return None
        try:
            data = parse_object(text)
            types: dict[str, tuple[type, ...]] = {"AccessKeyId": (str,), "SecretAccessKey": (str,)}
            check_fields(data, types, set(types))
        except ValueError as error:
            raise unreadable(
                "the rollback file",
                self.rollback_path,
                error,
                text,
                _ROLLBACK_FIELDS,
                _ROLLBACK_ADVICE,
            ) from None
        return Credentials(data["AccessKeyId"], data["SecretAccessKey"])

    def _old_to_keep(self, record: JournalRecord) -> KeptKey | None:
        """What ``--no-delete`` keeps for ``--undo``: the old key with its secret."""
        if record.delete_old_key or not record.new_key_id:
            return None
        old = self.load_rollback(record.old_key_id)
        if old is None or not old.secret_access_key:
            return None
        return KeptKey(record.profile, record.user_name, old, record.new_key_id, record.files)


def _record(text: str) -> JournalRecord:
    data = parse_object(text)
    check_fields(data, _TYPES, _REQUIRED)
    record = JournalRecord(**data)
    if record.step not in STEPS:
        raise ValueError(f"unknown step {record.step!r}")
    return record


def _journal_advice(text: str) -> str:
    profiles, _ = described(text, "profile", ())
    where = f" --profile {shlex.quote(profiles[0])}" if len(profiles) == 1 else ""
    return (
        "A rotation may have been in flight: check the keys with "
        f"`aws iam list-access-keys{where}` and which one your files hold, then remove the file "
        "and run again"
    )


_ROLLBACK_ADVICE = (
    "It holds the old key's secret while a rotation is in flight: remove it "
    "and run again, and the rotation is finished without it (the old key can then no longer be "
    "put back)"
)
