"""What enforce-key-rotation does to each access key: pure decisions over plain data.

Each key is judged by its own access key ID, so a decision about one key of a two-key user never
touches the other. Ages count from the key's ``CreateDate`` (ListAccessKeys): reactivating a key
does not reset its clock. Thresholds use ``>`` as the audit does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from awscli_rotate_key.admin.audit import whole_days
from awscli_rotate_key.admin.organization import DEFAULT_ROLE
from awscli_rotate_key.admin.statetag import NO_STATE, KeyState, incredible_date

REMIND, DISABLE, DELETE = "REMIND", "DISABLE", "DELETE"
DISABLE_UNUSED, EXEMPT, SKIPPED = "DISABLE_UNUSED", "EXEMPT", "SKIPPED"
ACTIONS = (REMIND, DISABLE, DELETE, DISABLE_UNUSED, EXEMPT, SKIPPED)
# Reason codes (Notes carry the details).
SIGNING_KEY, ROOT_KEY, UNMATCHED_KEY = "SigningKey", "RootKey", "UnmatchedKey"
EXCLUDED_ACCOUNT, USER_UNREADABLE = "ExcludedAccount", "UserUnreadable"
EXEMPT_TAG, EXEMPT_GROUP, NO_RECIPIENT = "ExemptTag", "ExemptGroup", "NoRecipient"
INVALID_EXEMPTION = "INVALID_EXEMPTION"
_DAY = dt.timedelta(days=1)
MAX_DAYS = 36500  # the most any day setting may be: a century (beyond it, dates overflow)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class EnforceSettings:
    """Every option of enforce-key-rotation (README: the administrator's guide)."""

    remind_days: int = 90
    disable_days: int = 120
    grace_days: int = 7
    remind_every: int = 7
    remind_only: bool = False
    delete_days: int | None = None
    disable_unused_days: int | None = None
    email_tag: str = "email"
    sender: str | None = None
    admin_emails: tuple[str, ...] = ()
    sns_topic_arn: str | None = None
    exempt_tag: str = "key-rotation-exempt"
    max_exemption_days: int = 180
    exempt_groups: tuple[str, ...] = ()
    exclude_account_ids: tuple[str, ...] = ()
    apply: bool = False
    organization: bool = False
    account_ids: tuple[str, ...] = ()
    role_name: str = DEFAULT_ROLE
    max_concurrency: int = 8
    # The key(s) that sign this run: disabling one would lock the run out.
    signing_key_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def admin_channel(self) -> bool:
        return bool(self.sns_topic_arn or (self.admin_emails and self.sender))

    def check(self) -> None:
        """The rules across options, for the CLI and the function alike: SettingsConflict."""
        if self.disable_days < self.remind_days:
            why = f"must not be less than {{other}} ({self.disable_days} < {self.remind_days})"
            raise SettingsConflict("disable_days", why, "remind_days")
        if self.delete_days is not None and self.remind_only:
            raise SettingsConflict("delete_days", "cannot be used with {other}", "remind_only")
        if self.disable_unused_days is not None and self.remind_only:
            # It only ever disables: with --remind-only it would be silently ignored.
            why = "cannot be used with {other}"
            raise SettingsConflict("disable_unused_days", why, "remind_only")
        if self.organization and self.account_ids:
            raise SettingsConflict("organization", "cannot be used with {other}", "account_ids")
        if self.admin_emails and not self.sender:
            why = "needs {other} (the SES-verified address to send from)"
            raise SettingsConflict("admin_emails", why, "sender")


class SettingsConflict(ValueError):
    """Settings that break a rule across options. Each side names the settings its own way
    (``--remind-only``, ``REMIND_ONLY``): ``setting`` and ``other`` are EnforceSettings fields."""

    def __init__(self, setting: str, why: str, other: str) -> None:
        super().__init__(f"{setting}: {why.format(other=other)}")
        self.setting, self.other, self._why = setting, other, why

    def why(self, name: Callable[[str], str]) -> str:
        """The reason, the other setting named by ``name`` (field -> the user's name for it)."""
        return self._why.format(other=name(self.other))


@dataclass(frozen=True)
class KeyFacts:
    """One key as the audit's data path saw it (``create_date`` from ListAccessKeys)."""

    account_id: str
    user_name: str
    access_key_id: str | None
    status: str
    create_date: dt.datetime | None
    last_used: dt.datetime | None = None
    is_root: bool = False


@dataclass(frozen=True)
class UserFacts:
    """What the user's tags and groups say; ``unreadable`` when they could not be read."""

    email: str | None = None
    exemption: str | None = None  # the raw value of the exempt tag
    groups: tuple[str, ...] = ()
    states: Mapping[str, KeyState] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    unreadable: str | None = None


NO_USER_FACTS = UserFacts()


@dataclass(frozen=True)
class Decision:
    action: str
    age_days: int | None
    disable_date: dt.date | None = None
    reason: str | None = None
    notes: tuple[str, ...] = ()
    announces: bool = False  # a REMIND whose acceptance records disable_date in the tag
    state_ignored: bool = False  # the key's state tag entry was not believed (rewritten afresh)


def at_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.timezone.utc)


def reminder_due(state: KeyState, today: dt.date, remind_every: int) -> bool:
    last = state.last_reminded
    return last is None or (today - last).days >= remind_every


def planned(
    key: KeyFacts, state: KeyState, rules: EnforceSettings, now: dt.datetime
) -> Decision | None:
    """The action for this key before exemptions and skips; None when nothing is due."""
    if key.create_date is None:
        return None
    if key.status != "Active":
        return _deletion(key.create_date, state, rules, now)
    return _active(key, state, rules, now)


def _deletion(
    created: dt.datetime, state: KeyState, rules: EnforceSettings, now: dt.datetime
) -> Decision | None:
    if rules.delete_days is None or rules.remind_only:
        return None
    since = created if state.deactivated is None else at_midnight(state.deactivated)
    if whole_days(since, now) > rules.delete_days:
        return Decision(DELETE, whole_days(created, now))
    return None


def _disable_track(
    key: KeyFacts, age: int, rules: EnforceSettings, now: dt.datetime
) -> tuple[str, dt.date, dt.date | None] | None:
    """(DISABLE or DISABLE_UNUSED, the earliest DisableDate, the day an announcement must be
    made on or after to count) when a disable is due, else None."""
    assert key.create_date is not None
    if rules.remind_only:
        return None
    if age > rules.disable_days:
        return DISABLE, (key.create_date + rules.disable_days * _DAY).date(), None
    idle_since = key.last_used or key.create_date
    limit = rules.disable_unused_days
    if limit is not None and whole_days(idle_since, now) > limit:
        # A key used again starts a new idle period: a warning about an earlier one is void.
        return DISABLE_UNUSED, (idle_since + limit * _DAY).date(), idle_since.date()
    return None


def _announced(state: KeyState, since: dt.date | None) -> dt.date | None:
    """The DisableDate announced for this track: none if announced before ``since``."""
    if since is not None and (state.last_reminded is None or state.last_reminded < since):
        return None
    return state.disable_date


def _active(
    key: KeyFacts, state: KeyState, rules: EnforceSettings, now: dt.datetime
) -> Decision | None:
    assert key.create_date is not None
    age, today = whole_days(key.create_date, now), now.date()
    track = _disable_track(key, age, rules, now)
    announced = state.disable_date
    if track is not None:
        action, earliest, since = track
        announced = _announced(state, since)
        if announced is None:  # the final reminder, whatever --remind-every says
            # With --grace-days 0 it names today: a later run (the same day or after) disables,
            # so no key is disabled before an accepted reminder announced its date.
            return Decision(
                REMIND, age, max(earliest, today + rules.grace_days * _DAY), announces=True
            )
        when = max(announced, earliest)
        if today >= when:
            return Decision(action, age, when)
        if reminder_due(state, today, rules.remind_every):
            return Decision(REMIND, age, when, announces=True)
        return None
    if age <= rules.remind_days or not reminder_due(state, today, rules.remind_every):
        return None
    if rules.remind_only:
        return Decision(REMIND, age)
    when = max(
        (key.create_date + rules.disable_days * _DAY).date(), today + rules.grace_days * _DAY
    )
    if announced is not None:
        when = max(when, announced)
    return Decision(REMIND, age, when, announces=True)


def exemption(
    user: UserFacts, rules: EnforceSettings, today: dt.date
) -> tuple[str | None, tuple[str, ...]]:
    """(EXEMPT_TAG or EXEMPT_GROUP or None, notes saying why or why not)."""
    groups = [g for g in user.groups if g in rules.exempt_groups]
    if groups:
        return EXEMPT_GROUP, (f"EXEMPT_GROUP: {', '.join(groups)}",)
    if user.exemption is None:
        return None, ()
    value, tag = user.exemption.strip(), rules.exempt_tag
    why = _exemption_flaw(value, rules.max_exemption_days, today)
    if why is not None:
        return None, (f"{INVALID_EXEMPTION}: {tag}={user.exemption!r} {why}",)
    return EXEMPT_TAG, (f"EXEMPT_UNTIL: {value}",)


def _exemption_flaw(value: str, max_days: int, today: dt.date) -> str | None:
    try:
        until = dt.date.fromisoformat(value) if _ISO_DATE.match(value) else None
    except ValueError:
        until = None
    if until is None:
        return "is not a date YYYY-MM-DD"
    if until < today:
        return "has passed"
    if until > today + max_days * _DAY:
        return f"is more than {max_days} days ahead (--max-exemption-days)"
    return None


def skip_reason(key: KeyFacts, rules: EnforceSettings) -> str | None:
    if key.account_id in rules.exclude_account_ids:
        return EXCLUDED_ACCOUNT
    if key.is_root:
        return ROOT_KEY
    if key.access_key_id is None:
        return UNMATCHED_KEY
    if key.access_key_id in rules.signing_key_ids:
        return SIGNING_KEY
    return None


def decide_member(
    key: KeyFacts, groups: tuple[str, ...], rules: EnforceSettings, now: dt.datetime
) -> Decision:
    """A key of a member of ``groups`` (--exempt-group): listed in every run, due or not.

    Listing every such key, with its age, is what keeps a group exemption from being forgotten.
    A skip (the signing key, an excluded account) of a key that is due still wins.
    """
    facts = UserFacts(groups=groups)
    due = decide(key, facts, rules, now)
    if due is not None:
        return due
    age = None if key.create_date is None else whole_days(key.create_date, now)
    return Decision(EXEMPT, age, reason=EXEMPT_GROUP, notes=exemption(facts, rules, now.date())[1])


def credible_state(
    key: KeyFacts, state: KeyState, rules: EnforceSettings, today: dt.date
) -> tuple[KeyState, str | None]:
    """The key's state, or NO_STATE and why when its ``d`` is later than this tool announces."""
    if key.create_date is None:
        return state, None
    latest = (key.create_date + rules.disable_days * _DAY).date()  # besides reminder + grace
    flaw = incredible_date(
        key.access_key_id or "",
        state,
        latest,
        rules.grace_days,
        today,
        rules.max_exemption_days,
    )
    return (state, None) if flaw is None else (NO_STATE, flaw)


def decide(
    key: KeyFacts, user: UserFacts, rules: EnforceSettings, now: dt.datetime
) -> Decision | None:
    """The one action for this key, or None when nothing is due (the key is not listed)."""
    state = user.states.get(key.access_key_id or "", NO_STATE)
    state, flaw = credible_state(key, state, rules, now.date())
    base = planned(key, state, rules, now)
    if base is None:
        return None
    skip = skip_reason(key, rules)
    if skip is not None:
        return Decision(SKIPPED, base.age_days, reason=skip)
    if user.unreadable is not None:
        return Decision(SKIPPED, base.age_days, reason=USER_UNREADABLE, notes=(user.unreadable,))
    exempt, notes = exemption(user, rules, now.date())
    notes += user.notes + ((flaw,) if flaw else ())
    if exempt is not None:
        return Decision(EXEMPT, base.age_days, reason=exempt, notes=notes)
    return replace(base, notes=notes, state_ignored=flaw is not None)
