"""Recording what a run did in each user's state tag (one TagUser per user, after the sends).

A reminder counts only once SES or SNS accepted it, so the tag is written after the sends; a
failed TagUser leaves the reminder unrecorded (the grace does not start) and exits 12.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from awscli_rotate_key.admin.enforce_accounts import DISABLES, Item, UserRecord, map_concurrently
from awscli_rotate_key.admin.enforce_rules import DELETE, REMIND
from awscli_rotate_key.admin.report import AWS_FAILURES, describe_failure
from awscli_rotate_key.admin.statetag import (
    NO_STATE,
    STATE_TAG,
    KeyState,
    StateTagError,
    format_state,
    reminded,
    updated_state,
)


def change_of(item: Item, today: dt.date) -> tuple[bool, KeyState | None]:
    """(whether the item changes the tag, the key's new state or None to forget the key)."""
    key_id = item.key.access_key_id or ""
    state = item.user.facts.states.get(key_id, NO_STATE)
    if item.decision.state_ignored:  # an entry not believed is not merged into the new one
        state = NO_STATE
    action = item.decision.action
    if not item.applied:
        return False, None
    if action == REMIND:
        announced = item.decision.disable_date if item.decision.announces else None
        return True, reminded(state, today, announced)
    if action in DISABLES:
        return True, KeyState(deactivated=today)  # DELETE counts from here
    if action == DELETE:
        return True, None
    return False, None


def tag_value(record: UserRecord, items: Sequence[Item], today: dt.date) -> str | None:
    """The user's new tag value, or None when nothing changes."""
    changes: dict[str, KeyState | None] = {}
    for item in items:
        changed, state = change_of(item, today)
        if changed:
            changes[item.key.access_key_id or ""] = state
    new = updated_state(record.facts.states, changes, keep=record.key_ids)
    if not changes or (new == dict(record.facts.states) and not record.facts.notes):
        return None  # e.g. a key deleted that the tag never named
    return format_state(new)


def write_user_tag(record: UserRecord, items: Sequence[Item], today: dt.date) -> None:
    try:
        value = tag_value(record, items, today)
        if value is None:
            return
        record.iam.tag_user(UserName=record.user_name, Tags=[{"Key": STATE_TAG, "Value": value}])
    except (*AWS_FAILURES, StateTagError) as error:
        why = describe_failure(error) if not isinstance(error, StateTagError) else str(error)
        _not_recorded(items, why)


def _not_recorded(items: Sequence[Item], why: str) -> None:
    for item in items:
        if not item.applied:
            continue
        if item.decision.action == REMIND:
            item.applied = False
            item.fail(f"{why} (the reminder was sent but not recorded: the grace does not start)")
        elif item.decision.action in DISABLES:
            item.failed = True
            item.notes.append(f"STATE_NOT_RECORDED: {why}")


def write_state_tags(items: Sequence[Item], today: dt.date, limit: int) -> None:
    """One TagUser for every user an applied action changed, concurrently."""
    by_user: dict[int, tuple[UserRecord, list[Item]]] = {}
    for item in items:
        by_user.setdefault(id(item.user), (item.user, []))[1].append(item)
    map_concurrently(
        lambda pair: write_user_tag(pair[0], pair[1], today), list(by_user.values()), limit
    )
