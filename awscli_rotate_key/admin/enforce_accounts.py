"""enforce-key-rotation in one account: read it as the audit does, decide, disable and delete.

The keys come from the audit's own data path (``organization.read_account``: credential report
plus ListAccessKeys, matched to key IDs as the audit matches them). The members of each
``--exempt-group`` are read first, one GetGroup (every page) per group name; every key of a
member is listed EXEMPT. Of the other users, only those with a key that may be due get their
tags read (ListUserTags).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from awscli_rotate_key.admin.audit import Judge, KeyRow, Listing, Thresholds
from awscli_rotate_key.admin.enforce_rules import (
    DELETE,
    DISABLE,
    DISABLE_UNUSED,
    Decision,
    EnforceSettings,
    KeyFacts,
    UserFacts,
    decide,
    decide_member,
    planned,
    skip_reason,
)
from awscli_rotate_key.admin.organization import Fanout, read_account
from awscli_rotate_key.admin.report import AWS_FAILURES, UserRow, describe_failure, error_code
from awscli_rotate_key.admin.statetag import NO_STATE, STATE_TAG, StateTagError, parse_state

DISABLES = (DISABLE, DISABLE_UNUSED)
EXCLUDED_NOTE = "EXCLUDED_ACCOUNT"


@dataclass
class UserRecord:
    """A user some key of whom gets an action: what is needed to write its state tag."""

    account_id: str
    user_name: str
    iam: Any
    facts: UserFacts
    key_ids: tuple[str, ...]  # the keys the user has now (the tag keeps only these)


@dataclass
class Item:
    """One key's action in the run and what came of it."""

    key: KeyFacts
    user: UserRecord
    decision: Decision
    recipient: str | None = None
    applied: bool = False
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    failed: bool = False  # an action was attempted and failed (exit 12)

    def __post_init__(self) -> None:
        self.reason = self.reason or self.decision.reason
        self.notes = list(self.decision.notes) + self.notes

    def fail(self, why: str) -> None:
        self.failed, self.reason = True, why

    def to_output(self) -> dict[str, Any]:
        when = self.decision.disable_date
        return {
            "AccountId": self.key.account_id,
            "UserName": self.key.user_name,
            "AccessKeyId": self.key.access_key_id,
            "AgeDays": self.decision.age_days,
            "Action": self.decision.action,
            "DisableDate": None if when is None else when.isoformat(),
            "Recipient": self.recipient,
            "Applied": self.applied,
            "Reason": self.reason,
            "Notes": list(self.notes),
        }


@dataclass
class AccountWork:
    account_id: str
    error: str | None = None
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. an --exempt-group that does not exist


def excluded(account_id: str) -> AccountWork:
    """An account of --exclude-account-ids: listed, never assumed, read or acted in."""
    note = f"{EXCLUDED_NOTE}: excluded from enforcement (break-glass): not read, nothing done"
    return AccountWork(account_id, notes=[note])


def key_facts(account_id: str, user: UserRow, listing: Listing, row: KeyRow) -> KeyFacts:
    """The row's key, aged from its ListAccessKeys CreateDate (the report's date if unmatched)."""
    listed = {k.access_key_id: k for k in listing.keys or ()}
    known = listed.get(row.access_key_id or "")
    return KeyFacts(
        account_id=account_id,
        user_name=row.user_name,
        access_key_id=row.access_key_id,
        status=row.status,
        create_date=known.create_date if known else row.last_rotated,
        last_used=row.last_use.date,
        is_root=user.is_root,
    )


def read_user_facts(iam: Any, user_name: str, rules: EnforceSettings, today: dt.date) -> UserFacts:
    """The user's address, exemption and state tag; ``unreadable`` if a call failed."""
    try:
        tags = _user_tags(iam, user_name)
    except AWS_FAILURES as error:
        return UserFacts(unreadable=describe_failure(error))
    notes: tuple[str, ...] = ()
    states = {}
    if STATE_TAG in tags:
        try:
            states = parse_state(tags[STATE_TAG], today)
        except StateTagError as error:
            notes = (f"STATE_TAG_IGNORED: {STATE_TAG} {error}; it is rewritten on the next action",)
    email = tags.get(rules.email_tag)
    return UserFacts(
        email=email.strip() if email and email.strip() else None,
        exemption=tags.get(rules.exempt_tag),
        states=states,
        notes=notes,
    )


def _user_tags(iam: Any, user_name: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    marker = None
    while True:
        page = iam.list_user_tags(UserName=user_name, **({"Marker": marker} if marker else {}))
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        marker = page.get("Marker") if page.get("IsTruncated") else None
        if not marker:
            return tags


class GroupsUnreadable(Exception):
    """An --exempt-group could not be read (other than not existing): exemptions are unknown."""


def exempt_group_members(
    iam: Any, names: Sequence[str]
) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """(user name -> the exempt groups it is in, notes on groups that do not exist)."""
    members: dict[str, tuple[str, ...]] = {}
    notes: list[str] = []
    for name in names:
        try:
            users = _group_users(iam, name)
        except AWS_FAILURES as error:
            if error_code(error) != "NoSuchEntity":
                raise GroupsUnreadable(f"{describe_failure(error)} (exempt group {name})") from None
            notes.append(
                f"EXEMPT_GROUP_MISSING: group {name} does not exist in this account; "
                "no one is exempt by it"
            )
            continue
        for user in users:
            members[user] = (*members.get(user, ()), name)
    return members, notes


def _group_users(iam: Any, name: str) -> list[str]:
    users: list[str] = []
    marker = None
    while True:
        page = iam.get_group(GroupName=name, **({"Marker": marker} if marker else {}))
        users += [u["UserName"] for u in page.get("Users", [])]
        marker = page.get("Marker") if page.get("IsTruncated") else None
        if not marker:
            return users


def enforce_account(
    account_id: str, iam: Any, fanout: Fanout, rules: EnforceSettings, now: dt.datetime
) -> AccountWork:
    """Read, decide and (with ``apply``) disable and delete in one account."""
    try:
        members, notes = exempt_group_members(iam, rules.exempt_groups)
    except GroupsUnreadable as error:  # acting could hit a key that is exempt: do nothing
        why = f"{error}: its members are unknown, so nothing was read or done in this account"
        return AccountWork(account_id, why)

    def items_of(user: UserRow, listing: Listing, rows: list[KeyRow]) -> list[Item]:
        keys = [key_facts(account_id, user, listing, row) for row in rows]
        if user.user in members and not user.is_root:
            return _member_items(account_id, user.user, iam, keys, members[user.user], rules, now)
        if not any(planned(k, NO_STATE, rules, now) for k in keys):
            return []  # nothing can be due whatever the tags say: no call for this user
        reads = not user.is_root and not all(skip_reason(k, rules) for k in keys)
        facts = read_user_facts(iam, user.user, rules, now.date()) if reads else UserFacts()
        record = UserRecord(account_id, user.user, iam, facts, held_keys(listing, keys))
        decisions = [(k, decide(k, facts, rules, now)) for k in keys]
        return [Item(k, record, d) for k, d in decisions if d is not None]

    judge = Judge(account_id, now, Thresholds())  # its findings are not used, only its rows
    audit, per_user = read_account(iam, judge, items_of, fanout.map_users)
    work = AccountWork(
        account_id, audit.error, [item for items in per_user for item in items], notes
    )
    work.error = work.error or _unreadable(work.items)
    if rules.apply:
        fanout.map_users(lambda item: apply_key_action(item, iam), _mutations(work.items))
    return work


def held_keys(listing: Listing, keys: Sequence[KeyFacts]) -> tuple[str, ...]:
    """The IDs of the keys the user has: ListAccessKeys' (a key the report did not match too),
    so that rewriting the state tag keeps the entry of every key that still exists."""
    listed = [k.access_key_id for k in listing.keys or ()]
    return tuple(dict.fromkeys([*listed, *(k.access_key_id for k in keys if k.access_key_id)]))


def _unreadable(items: Sequence[Item]) -> str | None:
    """The account's error when some users' tags could not be read (their keys are SKIPPED)."""
    unreadable = [i for i in items if i.user.facts.unreadable]
    if not unreadable:
        return None
    users = len({i.user.user_name for i in unreadable})
    return f"tags of {users} user(s) unreadable: " + (unreadable[0].user.facts.unreadable or "")


def _member_items(
    account_id: str,
    user_name: str,
    iam: Any,
    keys: list[KeyFacts],
    groups: tuple[str, ...],
    rules: EnforceSettings,
    now: dt.datetime,
) -> list[Item]:
    """Every key of an exempt group's member (no tag is read: the group decides)."""
    held = tuple(k.access_key_id for k in keys if k.access_key_id)
    record = UserRecord(account_id, user_name, iam, UserFacts(groups=groups), held)
    return [Item(k, record, decide_member(k, groups, rules, now)) for k in keys]


def _mutations(items: Sequence[Item]) -> list[Item]:
    return [i for i in items if i.decision.action in (*DISABLES, DELETE)]


def apply_key_action(item: Item, iam: Any) -> None:
    """UpdateAccessKey Inactive or DeleteAccessKey, on this key's own ID only."""
    key_id = item.key.access_key_id
    assert key_id is not None  # unmatched keys are SKIPPED, never acted on
    try:
        if item.decision.action == DELETE:
            iam.delete_access_key(UserName=item.key.user_name, AccessKeyId=key_id)
        else:
            iam.update_access_key(
                UserName=item.key.user_name, AccessKeyId=key_id, Status="Inactive"
            )
    except AWS_FAILURES as error:
        item.fail(describe_failure(error))
        return
    item.applied = True


def map_concurrently(fn: Callable[[Any], None], items: Sequence[Any], limit: int) -> None:
    """Run ``fn`` over ``items`` with at most ``limit`` at once (sends and tag writes)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, limit), thread_name_prefix="enforce") as pool:
        list(pool.map(fn, items))
