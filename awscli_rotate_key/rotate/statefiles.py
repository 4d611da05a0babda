"""Reading the plugin's own state files (journal, rollback file, kept keys) and saying why not.

Each file is read strictly: a file this release cannot read (corrupt, cut short, unknown
fields, a newer format version) refuses the run before any AWS call (exit 3), with one line
naming the file, what can still be read of it (profiles, access key IDs) and what to do. The
description is read leniently, from the raw text, because the JSON may not parse. Secrets are
never read into a message: key IDs are taken only from fields that hold a key ID.
"""

from __future__ import annotations

import json
import re
from typing import Any

from awscli_rotate_key.errors import Refused

VERSION = 1  # the format version this release writes and reads (plus the unversioned format)

# A key ID, even where the file was cut right after it (no closing quote).
_KEY_ID = r"(?:AKIA|ASIA)[A-Z0-9]{16,124}(?![A-Za-z0-9])"
_STRING = r'"((?:[^"\\\r\n]|\\.){1,256})"'


class NewerFormat(ValueError):
    """A format version this release does not know (a newer release wrote the file)."""


class Unreadable(Refused):
    """A state file this release cannot read; nothing was changed."""

    def __init__(
        self, what: str, path: str, why: str, profiles: list[str], key_ids: list[str], advice: str
    ) -> None:
        self.path = path
        self.why = why
        self.profiles = profiles
        self.key_ids = key_ids
        super().__init__(
            f"{what} {path} cannot be read ({why}); {_named(profiles, key_ids)}. "
            f"Nothing was changed. {advice}"
        )

    def summary(self) -> dict[str, Any]:
        """What a dry run shows under ``PendingRecovery``."""
        return {
            "Error": str(self),
            "File": self.path,
            "Profiles": self.profiles,
            "AccessKeyIds": self.key_ids,
        }


def _named(profiles: list[str], key_ids: list[str]) -> str:
    parts = []
    if profiles:
        parts.append("profile " + ", ".join(repr(p) for p in profiles))
    if key_ids:
        parts.append("keys " + ", ".join(key_ids))
    return "it names " + " and ".join(parts) if parts else "nothing in it names a profile or key"


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist; undecodable bytes are replaced."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None


def parse_object(text: str) -> dict[str, Any]:
    """The JSON object in ``text``, checked for a format version this release reads.

    Raises ValueError saying why not. The ``Version`` field is removed from the result; a file
    without one was written by a release from before format versions.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    version = data.pop("Version", None)
    if version is not None and (type(version) is not int or version != VERSION):
        raise NewerFormat(
            f"format version {version!r}; this release reads version {VERSION} and the "
            "unversioned format before it"
        )
    return data


def unreadable(
    what: str,
    path: str,
    error: ValueError,
    text: str,
    fields: tuple[str, tuple[str, ...]],
    advice: str,
) -> Unreadable:
    """The refusal for the file ``what`` at ``path``; ``fields`` (profile field, key ID fields)
    are where to look for what it names."""
    profiles, key_ids = described(text, *fields)
    if isinstance(error, NewerFormat):
        advice = "A newer release wrote it: upgrade awscli-rotate-key. Otherwise: " + advice
    return Unreadable(what, path, str(error), profiles, key_ids, advice)


def described(
    text: str, profile_field: str, key_id_fields: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """(profiles, key IDs) that ``text`` names in the given fields, whether or not it parses."""
    profiles = _values(text, profile_field)
    key_ids: list[str] = []
    for name in key_id_fields:
        for value in _values(text, name, r'"(' + _KEY_ID + r")"):
            if value not in key_ids:
                key_ids.append(value)
    # Lists of key IDs ("keys_before": ["AKIA...", ...]) are read element by element.
    for name in key_id_fields:
        for listing in re.findall(rf'"{re.escape(name)}"\s*:\s*\[([^\]]*)', text):
            for value in re.findall(r'"(' + _KEY_ID + r")", listing):
                if value not in key_ids:
                    key_ids.append(value)
    return profiles, key_ids


def _values(text: str, name: str, value: str = _STRING) -> list[str]:
    found: list[str] = []
    for match in re.findall(rf'"{re.escape(name)}"\s*:\s*{value}', text):
        try:
            decoded = str(json.loads(f'"{match}"'))
        except json.JSONDecodeError:
            decoded = match
        if decoded not in found:
            found.append(decoded)
    return found


def check_fields(
    data: dict[str, Any], types: dict[str, tuple[type, ...]], required: set[str]
) -> None:
    """Raise ValueError unless ``data`` has only known fields, the required ones, of their types."""
    for name in data:
        if name not in types:
            raise ValueError(f"unknown field {name!r}")
    for name in sorted(required - set(data)):
        raise ValueError(f"field {name!r} is missing")
    for name, value in data.items():
        allowed = types[name]
        if list in allowed and isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ValueError(f"field {name!r} is not a list of strings")
        elif type(value) not in allowed:
            raise ValueError(f"field {name!r} has the wrong type")
