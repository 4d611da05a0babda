"""What enforce-key-rotation remembers between runs: one tag on each IAM user it acted on.

The tag ``key-rotation-state`` holds, per access key ID, when the key was last reminded (``r``),
the ``DisableDate`` announced to its owner (``d``) and when the key was deactivated (``x``)::

    v1 AKIAIOSFODNN7EXAMPLE/r2024-06-01/d2024-06-08 AKIAI44QH8DHBEXAMPLE/x2024-05-02

IAM allows a tag value of at most 256 characters of letters, digits, spaces and
``_ . : / = + - @`` and 50 tags per user (moto checks none of it): the format uses only those
characters and one tag, and a user has at most two keys. A value that is not exactly this
format (hand-edited, cut short, a newer version) is not guessed at: it is ignored as a whole.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

STATE_TAG = "key-rotation-state"
VERSION = "v1"
MAX_VALUE = 256
ALLOWED = re.compile(r"^[A-Za-z0-9 _.:/=+\-@]*$")  # IAM's characters for tag values
_ENTRY = re.compile(r"^([A-Z0-9]{16,128})((?:/[rdx]\d{4}-\d{2}-\d{2})*)$")
_FIELDS = (("r", "last_reminded"), ("d", "disable_date"), ("x", "deactivated"))
# How far past the latest DisableDate a run could announce with today's options a `d` may be
# and still be believed: at least this, and at least --max-exemption-days (room for a
# --grace-days or --disable-days lowered since); later, it is a self-granted exemption.
MARGIN = dt.timedelta(days=7)


class StateTagError(ValueError):
    """The tag's value is not one this version wrote; it is ignored, and why is reported."""


@dataclass(frozen=True)
class KeyState:
    """What the tag says about one key (every field may be unknown)."""

    last_reminded: dt.date | None = None
    disable_date: dt.date | None = None  # the DisableDate announced to the owner
    deactivated: dt.date | None = None


NO_STATE = KeyState()


def parse_state(value: str, today: dt.date) -> dict[str, KeyState]:
    """The state per key ID; StateTagError if the value is not exactly the format above.

    A last reminder or deactivation after ``today`` cannot have been written by a run: refused.
    """
    words = value.split(" ")
    if not words or words[0] != VERSION:
        raise StateTagError(f"does not start with {VERSION!r}")
    states: dict[str, KeyState] = {}
    for word in words[1:]:
        key_id, state = _parse_entry(word, today)
        if key_id in states:
            raise StateTagError(f"names {key_id} twice")
        states[key_id] = state
    return states


def _parse_entry(word: str, today: dt.date) -> tuple[str, KeyState]:
    match = _ENTRY.match(word)
    if not match:
        raise StateTagError(f"{word[:40]!r} is not KEYID/r|d|xYYYY-MM-DD")
    key_id, rest = match.groups()
    found: dict[str, dt.date] = {}
    for part in rest.split("/")[1:]:
        letter, name = part[0], dict(_FIELDS)[part[0]]
        if name in found:
            raise StateTagError(f"{key_id}: {letter} given twice")
        try:
            found[name] = dt.date.fromisoformat(part[1:])
        except ValueError as error:
            raise StateTagError(f"{key_id}: {part[1:]!r} is not a date") from error
    for name in ("last_reminded", "deactivated"):
        if name in found and found[name] > today:
            raise StateTagError(
                f"{key_id}: {name.replace('_', ' ')} {found[name]} is in the future"
            )
    return key_id, KeyState(**found)


def incredible_date(
    key_id: str,
    state: KeyState,
    latest_by_age: dt.date,
    grace_days: int,
    today: dt.date,
    max_exemption_days: int = 0,
) -> str | None:
    """Why the key's ``d`` cannot be believed, or None.

    A run announces at most max(CreateDate + --disable-days (``latest_by_age``), its reminder
    + --grace-days); a later ``d`` (e.g. a hand-written 9999-12-31) would exempt the key for
    ever, past --max-exemption-days. A ``d`` up to --max-exemption-days past that bound is
    believed: a date announced under a longer grace stays, as an announced date never moves
    earlier, and a forged one exempts no longer than an exemption tag may.
    """
    announced = state.disable_date
    if announced is None:
        return None
    reminded = state.last_reminded or today
    latest = max(today, latest_by_age, reminded + dt.timedelta(days=grace_days))
    if announced <= latest + max(MARGIN, dt.timedelta(days=max_exemption_days)):
        return None
    return (
        f"STATE_TAG_IGNORED: {STATE_TAG} entry of {key_id}: DisableDate {announced} is later "
        f"than this tool announces (at most {latest} with these options); the key is judged as "
        "never announced"
    )


def format_state(states: Mapping[str, KeyState]) -> str:
    """The tag value for these keys (sorted by key ID; keys with nothing known are left out)."""
    words = [VERSION]
    for key_id in sorted(states):
        state = states[key_id]
        parts = [key_id] + [
            f"{letter}{getattr(state, name).isoformat()}"
            for letter, name in _FIELDS
            if getattr(state, name) is not None
        ]
        if len(parts) > 1:
            words.append("/".join(parts))
    value = " ".join(words)
    if len(value) > MAX_VALUE or not ALLOWED.match(value):
        raise StateTagError(f"would be {len(value)} characters, over IAM's {MAX_VALUE}")
    return value


def updated_state(
    states: Mapping[str, KeyState], changes: Mapping[str, KeyState | None], keep: Iterable[str]
) -> dict[str, KeyState]:
    """``states`` with ``changes`` applied (None forgets a key), keeping only keys in ``keep``.

    Keys the user no longer has are dropped, so the value never grows past two entries.
    """
    kept = set(keep)
    merged = {k: v for k, v in states.items() if k in kept}
    for key_id, state in changes.items():
        if state is None:
            merged.pop(key_id, None)
        else:
            merged[key_id] = state
    return merged


def reminded(state: KeyState, today: dt.date, disable_date: dt.date | None) -> KeyState:
    """After an accepted reminder: reminded today; the announced date never moves earlier."""
    announced = state.disable_date
    if disable_date is not None and (announced is None or disable_date > announced):
        announced = disable_date
    return replace(state, last_reminded=today, disable_date=announced)
