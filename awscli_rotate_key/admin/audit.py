"""Every access key of an account, judged as Trusted Advisor, AWS Config and CIS judge it.

Ages and last use come from the credential report; key IDs from ListAccessKeys, matched to the
report's slots by creation time (see ``match_slots``). Pure functions over plain data: the calls
are made by ``organization``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from awscli_rotate_key.admin.report import KeySlot, UserRow
from awscli_rotate_key.errors import EXIT_AUDIT_ACCOUNT_FAILED, EXIT_AUDIT_THRESHOLD, EXIT_OK
from awscli_rotate_key.keys import AccessKey

OK, WARNING, ALERT = "OK", "WARNING", "ALERT"
SEVERITY_ORDER = (OK, WARNING, ALERT)
OVERDUE, CRITICAL, UNUSED, ROOT_KEY = "OVERDUE", "CRITICAL", "UNUSED", "ROOT_KEY"
FROM_REPORT, FROM_LISTING = "CredentialReport", "ListAccessKeys"
ROOT_NOTE = "root user key: the credential report gives no key ID"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Thresholds:
    warn_days: int = 90
    alert_days: int = 730
    unused_days: int = 45


@dataclass(frozen=True)
class LastUse:
    date: dt.datetime | None = None
    region: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class KeyRow:
    """One access key in the audit's output."""

    account_id: str
    user_name: str
    user_arn: str
    access_key_id: str | None
    status: str
    last_rotated: dt.datetime | None
    age_days: int | None
    last_use: LastUse
    severity: str
    findings: tuple[str, ...]
    source: str = FROM_REPORT
    match_note: str | None = None

    def to_output(self) -> dict[str, Any]:
        return {
            "AccountId": self.account_id,
            "UserName": self.user_name,
            "UserArn": self.user_arn,
            "AccessKeyId": self.access_key_id,
            "Status": self.status,
            "LastRotated": _iso(self.last_rotated),
            "AgeDays": self.age_days,
            "LastUsedDate": _iso(self.last_use.date),
            "LastUsedRegion": self.last_use.region,
            "LastUsedService": self.last_use.service,
            "Severity": self.severity,
            "Findings": list(self.findings),
            "Source": self.source,
            "MatchNote": self.match_note,
        }


@dataclass
class AccountAudit:
    account_id: str
    generated_time: dt.datetime | None = None
    error: str | None = None
    keys: list[KeyRow] = field(default_factory=list)


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat()


# --- classification -------------------------------------------------------------------------


def whole_days(since: dt.datetime, now: dt.datetime) -> int:
    return max(0, (now - since) // dt.timedelta(days=1))


def classify(
    active: bool,
    last_rotated: dt.datetime | None,
    last_used: dt.datetime | None,
    is_root: bool,
    now: dt.datetime,
    limits: Thresholds,
) -> tuple[str, tuple[str, ...]]:
    """(severity, findings) of one key. Only Active keys get findings.

    Trusted Advisor: yellow after 90 days, red after 2 years, from creation or last activation
    (``last_rotated``). AWS Config ``access-keys-rotated``: 90 days. CIS / Security Hub IAM.22:
    unused for 45 days, a never-used key counting from its ``last_rotated``. CIS: no root key.
    """
    if not active:
        return OK, ()
    findings = []
    age = None if last_rotated is None else whole_days(last_rotated, now)
    if age is not None and age > limits.warn_days:
        findings.append(OVERDUE)
    if age is not None and age > limits.alert_days:
        findings.append(CRITICAL)
    idle_since = last_used or last_rotated
    if idle_since is not None and whole_days(idle_since, now) > limits.unused_days:
        findings.append(UNUSED)
    if is_root:
        findings.append(ROOT_KEY)
    if CRITICAL in findings or ROOT_KEY in findings:
        return ALERT, tuple(findings)
    return (WARNING if findings else OK), tuple(findings)


# --- matching report slots to key IDs --------------------------------------------------------


@dataclass(frozen=True)
class SlotMatch:
    """A report slot and its key; ``key`` None with ``candidates`` means it is ambiguous."""

    slot: KeySlot
    key: AccessKey | None
    candidates: tuple[AccessKey, ...] = ()
    maybe_deleted: bool = False  # one equally good pairing leaves the slot's key deleted


def _same_second(slot: KeySlot, key: AccessKey) -> bool:
    return slot.last_rotated is not None and slot.last_rotated == key.create_date


def _same_status(slot: KeySlot, key: AccessKey) -> bool:
    return slot.active == (key.status == "Active")


def _admissible(slot: KeySlot, key: AccessKey) -> bool:
    """Same creation second, or (a reactivated key) same status and activated after creation."""
    if _same_second(slot, key):
        return True
    activated_after = slot.last_rotated is None or slot.last_rotated >= key.create_date
    return _same_status(slot, key) and activated_after


def _assignments(
    slots: Sequence[KeySlot], keys: Sequence[AccessKey]
) -> list[tuple[AccessKey | None, ...]]:
    """Every way to give each slot a distinct admissible key or none (at most 3 x 3 ways)."""
    options = [[None, *[k for k in keys if _admissible(s, k)]] for s in slots]
    return [
        combo
        for combo in itertools.product(*options)
        if len([k for k in combo if k]) == len({k.access_key_id for k in combo if k})
    ]


def _score(slots: Sequence[KeySlot], combo: tuple[AccessKey | None, ...]) -> tuple[int, int, int]:
    pairs = [(s, k) for s, k in zip(slots, combo, strict=True) if k is not None]
    return (
        len(pairs),
        sum(_same_second(s, k) for s, k in pairs),
        sum(_same_status(s, k) for s, k in pairs),
    )


def match_slots(
    slots: Sequence[KeySlot], keys: Sequence[AccessKey]
) -> tuple[list[SlotMatch], list[AccessKey]]:
    """Pair report slots with listed keys: (matches, keys no slot accounts for).

    The best pairing has the most pairs, then the most same-second pairs, then the most
    same-status pairs. A slot paired differently by equally good pairings is ambiguous. A slot
    no pairing uses held a key deleted since the report: it is dropped.
    """
    combos = _assignments(slots, keys)
    best = max(_score(slots, c) for c in combos)
    tied = [c for c in combos if _score(slots, c) == best]
    matches: list[SlotMatch] = []
    used: set[str] = set()
    for index, slot in enumerate(slots):
        paired = [c[index] for c in tied]
        choices = {k.access_key_id: k for k in paired if k is not None}
        unpaired = None in paired
        used.update(choices)
        if len(choices) == 1 and not unpaired:
            matches.append(SlotMatch(slot, next(iter(choices.values()))))
        elif choices:
            ordered = tuple(sorted(choices.values(), key=lambda k: k.access_key_id))
            matches.append(SlotMatch(slot, None, ordered, maybe_deleted=unpaired))
    return matches, [k for k in keys if k.access_key_id not in used]


def ambiguity_note(match: SlotMatch) -> str:
    ids = [k.access_key_id for k in match.candidates]
    if match.maybe_deleted:
        ids.append("a key deleted since the report")
    return (
        f"slot {match.slot.number} of the credential report: {' or '.join(ids)} "
        "(same creation second and status)"
    )


@dataclass(frozen=True)
class Judge:
    """What every row of one account shares: whose keys, when, by which limits."""

    account_id: str
    now: dt.datetime
    limits: Thresholds
    report_time: dt.datetime | None = None

    def slot_row(
        self, user: UserRow, slot: KeySlot, key: AccessKey | None, note: str | None = None
    ) -> KeyRow:
        """A key as the report shows it; its status is the listed one when we know the key."""
        active = slot.active if key is None else key.status == "Active"
        severity, findings = classify(
            active, slot.last_rotated, slot.last_used_date, user.is_root, self.now, self.limits
        )
        return KeyRow(
            account_id=self.account_id,
            user_name=user.user,
            user_arn=user.arn,
            access_key_id=None if key is None else key.access_key_id,
            status="Active" if active else "Inactive",
            last_rotated=slot.last_rotated,
            age_days=None if slot.last_rotated is None else whole_days(slot.last_rotated, self.now),
            last_use=LastUse(slot.last_used_date, slot.last_used_region, slot.last_used_service),
            severity=severity,
            findings=findings,
            match_note=note,
        )

    def listed_row(self, user: UserRow, key: AccessKey, last_use: LastUse) -> KeyRow:
        """A key the report does not show (newer than the report): aged from its CreateDate."""
        active = key.status == "Active"
        severity, findings = classify(
            active, key.create_date, last_use.date, user.is_root, self.now, self.limits
        )
        when = "" if self.report_time is None else f" generated {self.report_time.isoformat()}"
        return KeyRow(
            account_id=self.account_id,
            user_name=user.user,
            user_arn=user.arn,
            access_key_id=key.access_key_id,
            status=key.status,
            last_rotated=key.create_date,
            age_days=whole_days(key.create_date, self.now),
            last_use=last_use,
            severity=severity,
            findings=findings,
            source=FROM_LISTING,
            match_note=f"not in the credential report{when}",
        )


@dataclass(frozen=True)
class Listing:
    """ListAccessKeys for one user: its keys, None if the user is gone, or why it failed."""

    keys: tuple[AccessKey, ...] | None
    error: str | None = None


def user_rows(
    judge: Judge, user: UserRow, listing: Listing, last_use: Callable[[str], LastUse]
) -> list[KeyRow]:
    """The rows of one user of the report, given its listed keys (root: an empty listing).

    ``last_use`` is asked only about keys the report does not show.
    """
    if user.is_root:
        return [judge.slot_row(user, slot, None, ROOT_NOTE) for slot in user.slots]
    if listing.keys is None:
        return []  # the user was deleted after the report
    if listing.error is not None:
        note = f"key ID unknown: {listing.error}"
        return [judge.slot_row(user, slot, None, note) for slot in user.slots]
    matches, newer = match_slots(user.slots, listing.keys)
    rows = [
        judge.slot_row(user, m.slot, m.key, None if m.key else ambiguity_note(m)) for m in matches
    ]
    rows += [judge.listed_row(user, key, last_use(key.access_key_id)) for key in newer]
    return rows


# --- the whole audit's output ---------------------------------------------------------------


def summarize(rows: Sequence[KeyRow]) -> dict[str, int]:
    counts = {"Keys": len(rows), "Active": sum(r.status == "Active" for r in rows)}
    counts.update({level: sum(r.severity == level for r in rows) for level in SEVERITY_ORDER})
    return counts


def audit_document(audits: Sequence[AccountAudit]) -> dict[str, Any]:
    """The command's output: accounts, every key of every user, counts."""
    rows = [row for audit in audits for row in audit.keys]
    rows.sort(key=lambda r: (r.account_id, r.user_name, r.last_rotated or _EPOCH))
    return {
        "Accounts": [
            {"AccountId": a.account_id, "GeneratedTime": _iso(a.generated_time), "Error": a.error}
            for a in audits
        ],
        "Keys": [row.to_output() for row in rows],
        "Summary": summarize(rows),
    }


def exit_code(audits: Sequence[AccountAudit], fail_on: str | None) -> int:
    """11 if an account could not be audited, else 10 if a key reaches ``fail_on``, else 0."""
    if any(a.error for a in audits):
        return EXIT_AUDIT_ACCOUNT_FAILED
    if fail_on is not None:
        floor = SEVERITY_ORDER.index(fail_on.upper())
        if any(SEVERITY_ORDER.index(r.severity) >= floor for a in audits for r in a.keys):
            return EXIT_AUDIT_THRESHOLD
    return EXIT_OK
