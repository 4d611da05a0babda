"""The durable record of a rotation in flight, and the one file that holds the old secret.

Both live beside the AWS config file (so separate config homes stay separate), are 0600 and are
written atomically. The journal holds no secret; the rollback file holds the old key's secret,
needed to put it back into the files if the new key never works, and exists only while a
rotation is in flight.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from awscli_rotate_key.rotate.credfile import write_atomically
from awscli_rotate_key.rotate.profiles import Credentials

CREATING = "creating"  # keys_before is known; CreateAccessKey may or may not have happened
SAVED = "saved"  # the new key is in the files; it is being proven
RETIRING = "retiring"  # the old key is being retired: it may be Inactive or gone, never undo


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


class Journal:
    """One rotation in flight per AWS config directory (the run lock keeps it at one)."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "rotate-my-key.journal.json")
        self.rollback_path = os.path.join(directory, "rotate-my-key.rollback.json")
        self.directory = directory

    def load(self) -> JournalRecord | None:
        try:
            with open(self.path, encoding="utf-8") as f:
                data: dict[str, Any] = json.load(f)
        except FileNotFoundError:
            return None
        return JournalRecord(**data)

    def save(self, record: JournalRecord) -> None:
        write_atomically(self.path, json.dumps(asdict(record), indent=1).encode(), 0o600)

    def save_rollback(self, old: Credentials) -> None:
        data = {"AccessKeyId": old.access_key_id, "SecretAccessKey": old.secret_access_key}
        write_atomically(self.rollback_path, json.dumps(data).encode(), 0o600)

    def load_rollback(self, key_id: str) -> Credentials | None:
        try:
            with open(self.rollback_path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return None
        if data.get("AccessKeyId") != key_id:
            return None
        return Credentials(data["AccessKeyId"], data["SecretAccessKey"])

    def clear(self) -> None:
        """Remove the rollback file first: a journal without it can still be finished."""
        for path in (self.rollback_path, self.path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
