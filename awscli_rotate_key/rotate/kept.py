"""The old keys that ``--no-delete`` rotations left Inactive, kept so that ``--undo`` can work.

One 0600 file beside the journal, ``rotate-my-key.undo.json``, holds per profile the old key's
secret (IAM never shows a secret again) and the key that replaced it. An entry is written when
the retirement of its old key begins. It is removed only once it can no longer serve: when its
old key is deleted (the next rotation makes room by deleting the Inactive old key, or an
interrupted one deletes it as an orphan), when a later rotation of the profile or of its new key
starts retiring (the point of no return), or by ``--undo``. A run that is refused or rolled back
before then keeps it. The file goes with its last entry.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any

from awscli_rotate_key.rotate.credfile import write_atomically
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.statefiles import (
    VERSION,
    check_fields,
    parse_object,
    read_text,
    unreadable,
)

KEPT_FILE = "rotate-my-key.undo.json"
_FIELDS: dict[str, tuple[type, ...]] = {
    "Profile": (str,),
    "UserName": (str,),
    "OldAccessKeyId": (str,),
    "SecretAccessKey": (str,),
    "NewAccessKeyId": (str,),
    "Files": (list,),
}
_DESCRIBE = ("Profile", ("OldAccessKeyId", "NewAccessKeyId"))
_ADVICE = (
    "Remove the file and run again: --undo is then no longer possible, and "
    "the next rotation deletes the Inactive old keys it kept"
)


@dataclass(frozen=True)
class KeptKey:
    """The old key a ``--no-delete`` rotation of ``profile`` left Inactive, with its secret."""

    profile: str
    user_name: str
    old: Credentials
    new_key_id: str
    files: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "Profile": self.profile,
            "UserName": self.user_name,
            "OldAccessKeyId": self.old.access_key_id,
            "SecretAccessKey": self.old.secret_access_key,
            "NewAccessKeyId": self.new_key_id,
            "Files": self.files,
        }


class KeptKeys:
    """The kept-keys file of one AWS config directory (the run lock serializes its users)."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, KEPT_FILE)

    def all(self) -> list[KeptKey]:
        """Every kept key. Raises Unreadable (exit 3) for a file this release cannot read."""
        text = read_text(self.path)
        if text is None:
            return []
        try:
            return _entries(text)
        except ValueError as error:
            raise unreadable(
                "the kept-keys file", self.path, error, text, _DESCRIBE, _ADVICE
            ) from None

    def get(self, profile: str) -> KeptKey | None:
        return next((kept for kept in self.all() if kept.profile == profile), None)

    def retiring(
        self, profile: str, old_key_id: str, new_key_id: str, keep: KeptKey | None
    ) -> None:
        """A rotation of ``profile`` from ``old_key_id`` to ``new_key_id`` starts retiring.

        Past this point it is never undone, so what was kept for the profile, for the key now
        retired (it was Active: not one to undo to) or for an undo to that key is let go;
        ``keep`` (``--no-delete``) takes the profile's place. This rotation's own entry, kept by
        an earlier run that was interrupted, stays unless ``keep`` replaces it.
        """
        entries = self.all()

        def replaced(k: KeptKey) -> bool:
            own = (k.profile, k.old.access_key_id, k.new_key_id) == (
                profile,
                old_key_id,
                new_key_id,
            )
            if own:
                return keep is not None
            return profile == k.profile or old_key_id in (k.new_key_id, k.old.access_key_id)

        left = [k for k in entries if not replaced(k)] + ([keep] if keep else [])
        if left != entries:
            self._write(left)

    def forget_keys(self, key_ids: list[str]) -> None:
        """The keys ``key_ids`` were deleted: their secrets are let go (they open nothing now)."""
        entries = self.all()
        left = [k for k in entries if k.old.access_key_id not in key_ids]
        if len(left) != len(entries):
            self._write(left)

    def drop(self, profile: str) -> None:
        entries = self.all()
        left = [k for k in entries if k.profile != profile]
        if len(left) != len(entries):
            self._write(left)

    def _write(self, entries: list[KeptKey]) -> None:
        if not entries:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            return
        data = {"Version": VERSION, "Kept": [k.to_json() for k in entries]}
        write_atomically(self.path, json.dumps(data, indent=1).encode(), 0o600)


def _entries(text: str) -> list[KeptKey]:
    data = parse_object(text)
    if set(data) != {"Kept"} or not isinstance(data["Kept"], list):
        raise ValueError("expected only a list of kept keys")
    entries = []
    for item in data["Kept"]:
        if not isinstance(item, dict):
            raise ValueError("an entry is not a JSON object")
        check_fields(item, _FIELDS, set(_FIELDS))
        entries.append(
            KeptKey(
                item["Profile"],
                item["UserName"],
                Credentials(item["OldAccessKeyId"], item["SecretAccessKey"]),
                item["NewAccessKeyId"],
                list(item["Files"]),
            )
        )
    return entries
