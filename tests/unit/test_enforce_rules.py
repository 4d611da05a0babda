"""The decisions of enforce-key-rotation, one rule per test; expectations written by hand.

NOW is 2024-06-01 12:00 UTC; a key "N days old" was created N days before NOW.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from awscli_rotate_key.admin.enforce_rules import (
    DELETE,
    DISABLE,
    DISABLE_UNUSED,
    EXEMPT,
    REMIND,
    SKIPPED,
    Decision,
    EnforceSettings,
    KeyFacts,
    SettingsConflict,
    UserFacts,
    decide,
    decide_member,
)
from awscli_rotate_key.admin.statetag import KeyState

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
KEY = "AKIAAAAAAAAAAAAAAAAA"
RULES = EnforceSettings()


def key(age: float, status: str = "Active", **extra: object) -> KeyFacts:
    facts = KeyFacts("111111111111", "alice", KEY, status, NOW - dt.timedelta(days=age))
    return replace(facts, **extra)  # type: ignore[arg-type]


def user(state: KeyState | None = None, **extra: object) -> UserFacts:
    return replace(UserFacts(states={KEY: state} if state else {}), **extra)  # type: ignore[arg-type]


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_a_key_of_90_days_is_not_due_and_91_is_reminded_with_its_disable_date() -> None:
    assert decide(key(90), user(), RULES, NOW) is None
    # CreateDate 2024-03-02 + 120 days = 2024-06-30, later than today + 7.
    assert decide(key(91), user(), RULES, NOW) == Decision(
        REMIND, 91, day("2024-06-30"), announces=True
    )


def test_remind_every_holds_between_reminders() -> None:
    assert decide(key(100), user(KeyState(day("2024-05-26"))), RULES, NOW) is None  # 6 days
    got = decide(key(100), user(KeyState(day("2024-05-25"))), RULES, NOW)  # 7 days
    assert got is not None and got.action == REMIND
    longer = replace(RULES, remind_every=30)
    assert decide(key(100), user(KeyState(day("2024-05-25"))), longer, NOW) is None


def test_a_130_day_key_never_reminded_gets_a_final_reminder_naming_today_plus_grace() -> None:
    assert decide(key(130), user(), RULES, NOW) == Decision(
        REMIND, 130, day("2024-06-08"), announces=True
    )


def test_the_final_reminder_ignores_remind_every() -> None:
    reminded_yesterday = KeyState(last_reminded=day("2024-05-31"))  # but no date announced
    got = decide(key(130), user(reminded_yesterday), RULES, NOW)
    assert got == Decision(REMIND, 130, day("2024-06-08"), announces=True)


def test_an_announced_key_is_disabled_on_its_date_not_before() -> None:
    announced = KeyState(day("2024-05-25"), day("2024-06-01"))
    assert decide(key(130), user(announced), RULES, NOW) == Decision(
        DISABLE, 130, day("2024-06-01")
    )
    later = KeyState(day("2024-05-30"), day("2024-06-02"))
    assert decide(key(130), user(later), RULES, NOW) is None  # reminded 2 days ago: no repeat
    again = KeyState(day("2024-05-20"), day("2024-06-02"))
    assert decide(key(130), user(again), RULES, NOW) == Decision(
        REMIND, 130, day("2024-06-02"), announces=True
    )


def test_the_announced_date_never_moves_earlier_but_a_raised_threshold_moves_it_later() -> None:
    announced = KeyState(day("2024-05-25"), day("2024-06-01"))
    raised = replace(RULES, disable_days=125)  # CreateDate 2024-01-23 + 125 = 2024-05-27
    assert decide(key(130), user(announced), raised, NOW) == Decision(
        DISABLE, 130, day("2024-06-01")
    )
    much = replace(RULES, disable_days=129)
    assert decide(key(130), user(announced), much, NOW) == Decision(DISABLE, 130, day("2024-06-01"))
    # age 130 is not > 130: only reminded, until the later of 06-01 (CreateDate + 130) and 06-08
    at_130 = replace(RULES, disable_days=130)
    early = KeyState(disable_date=day("2024-05-01"))
    assert decide(key(130), user(early), at_130, NOW) == Decision(
        REMIND, 130, day("2024-06-08"), announces=True
    )


def test_an_early_reminder_announces_the_later_of_create_plus_disable_days_and_grace() -> None:
    # 115 days old: CreateDate + 120 = 2024-06-06, but a first reminder today gives until 06-08.
    assert decide(key(115), user(), RULES, NOW) == Decision(
        REMIND, 115, day("2024-06-08"), announces=True
    )


def test_grace_days_0_announces_today_and_any_later_run_disables() -> None:
    """No key is disabled before an accepted reminder announced its date, even with no grace:
    the final reminder names today, and the next run (the same day or later) disables."""
    no_grace = replace(RULES, grace_days=0)
    assert decide(key(130), user(), no_grace, NOW) == Decision(
        REMIND, 130, day("2024-06-01"), announces=True
    )
    announced_today = KeyState(day("2024-06-01"), day("2024-06-01"))
    assert decide(key(130), user(announced_today), no_grace, NOW) == Decision(
        DISABLE, 130, day("2024-06-01")
    )
    unused = replace(no_grace, disable_unused_days=30)
    assert decide(key(60), user(), unused, NOW) == Decision(
        REMIND, 60, day("2024-06-01"), announces=True
    )


def test_a_reactivated_key_gets_a_final_reminder_with_a_fresh_grace() -> None:
    """A disable leaves only x in the tag (no d): reactivated, the key is announced anew."""
    disabled_yesterday = KeyState(deactivated=day("2024-05-31"))
    assert decide(key(130), user(disabled_yesterday), RULES, NOW) == Decision(
        REMIND, 130, day("2024-06-08"), announces=True
    )


def test_a_key_used_again_after_an_unused_announcement_is_announced_anew() -> None:
    """Announced unused 60 days ago (d long past), used 46 days ago, idle again past 45 days:
    the old announcement was about an earlier idle period, so a new final reminder."""
    rules = replace(RULES, disable_unused_days=45)
    relapsed = key(80, last_used=NOW - dt.timedelta(days=46))
    old = KeyState(day("2024-04-02"), day("2024-04-09"))
    assert decide(relapsed, user(old), rules, NOW) == Decision(
        REMIND, 80, day("2024-06-08"), announces=True
    )
    # Reminded on or after the idle period began (2024-04-16): the announcement holds.
    current = KeyState(day("2024-05-25"), day("2024-06-01"))
    assert decide(relapsed, user(current), rules, NOW) == Decision(
        DISABLE_UNUSED, 80, day("2024-06-01")
    )
    on_the_day = KeyState(day("2024-04-16"), day("2024-05-31"))
    assert decide(relapsed, user(on_the_day), rules, NOW) == Decision(
        DISABLE_UNUSED, 80, day("2024-05-31")
    )


def test_a_disable_date_later_than_this_tool_announces_is_ignored_and_reported() -> None:
    """A hand-written far-future d would be an exemption past --max-exemption-days."""
    far = KeyState(day("2024-05-30"), day("9999-12-31"))
    got = decide(key(130), user(far), RULES, NOW)
    assert got is not None and (got.action, got.disable_date) == (REMIND, day("2024-06-08"))
    assert got.announces and got.state_ignored
    assert got.notes == (
        "STATE_TAG_IGNORED: key-rotation-state entry of AKIAAAAAAAAAAAAAAAAA: DisableDate "
        "9999-12-31 is later than this tool announces (at most 2024-06-06 with these options); "
        "the key is judged as never announced",
    )
    # Believed up to --max-exemption-days (180) past the latest it could announce now
    # (reminder + grace 2024-06-06, or CreateDate + 120): no longer than an exemption tag.
    assert (
        decide(key(130), user(KeyState(day("2024-05-30"), day("2024-12-03"))), RULES, NOW) is None
    )
    beyond = decide(key(130), user(KeyState(day("2024-05-30"), day("2024-12-04"))), RULES, NOW)
    assert beyond is not None and beyond.state_ignored
    shorter = replace(RULES, max_exemption_days=3)  # at least 7 days' margin, whatever it says
    assert (
        decide(key(130), user(KeyState(day("2024-05-30"), day("2024-06-13"))), shorter, NOW) is None
    )
    beyond = decide(key(130), user(KeyState(day("2024-05-30"), day("2024-06-14"))), shorter, NOW)
    assert beyond is not None and beyond.state_ignored
    early = KeyState(day("2024-05-30"), day("2024-06-25"))  # a 95-day key: CreateDate + 120
    assert decide(key(95), user(early), RULES, NOW) is None
    no_reminder = KeyState(disable_date=day("2024-12-06"))  # past today + 7 + 180
    got = decide(key(130), user(no_reminder), RULES, NOW)
    assert got is not None and got.state_ignored and got.action == REMIND


def test_a_date_announced_under_a_longer_grace_never_moves_earlier() -> None:
    """--grace-days lowered from 30 to 7: the date announced with 30 days stands."""
    announced = KeyState(day("2024-05-20"), day("2024-06-19"))  # reminded, + 30 days
    again = decide(key(130), user(announced), RULES, NOW)  # reminded again, same date
    assert again is not None and (again.action, again.disable_date) == (REMIND, day("2024-06-19"))
    assert not again.state_ignored
    later = NOW + dt.timedelta(days=18)
    got = decide(key(148), user(announced), RULES, later)
    assert got is not None and (got.action, got.disable_date) == (DISABLE, day("2024-06-19"))


def test_remind_only_never_disables_or_deletes() -> None:
    only = replace(RULES, remind_only=True, delete_days=1)
    assert decide(key(500), user(), only, NOW) == Decision(REMIND, 500)
    announced = KeyState(day("2024-05-01"), day("2024-05-08"))
    assert decide(key(500), user(announced), only, NOW) == Decision(REMIND, 500)
    assert decide(key(500, "Inactive"), user(), only, NOW) is None


def test_inactive_keys_are_deleted_only_with_delete_days_counting_from_the_deactivation() -> None:
    assert decide(key(500, "Inactive"), user(), RULES, NOW) is None
    rules = replace(RULES, delete_days=30)
    assert decide(key(500, "Inactive"), user(), rules, NOW) == Decision(DELETE, 500)
    recent = KeyState(deactivated=day("2024-05-10"))  # 22 days ago
    assert decide(key(500, "Inactive"), user(recent), rules, NOW) is None
    old = KeyState(deactivated=day("2024-05-01"))  # 31 days and 12 hours ago
    assert decide(key(500, "Inactive"), user(old), rules, NOW) == Decision(DELETE, 500)


def test_unused_keys_are_announced_then_disabled_with_disable_unused_days() -> None:
    rules = replace(RULES, disable_unused_days=45)
    idle = key(60, last_used=NOW - dt.timedelta(days=50))
    assert decide(idle, user(), RULES, NOW) is None
    assert decide(idle, user(), rules, NOW) == Decision(
        REMIND, 60, day("2024-06-08"), announces=True
    )
    announced = KeyState(day("2024-05-25"), day("2024-06-01"))
    assert decide(idle, user(announced), rules, NOW) == Decision(
        DISABLE_UNUSED, 60, day("2024-06-01")
    )
    never_used = key(46)  # counts from CreateDate
    got = decide(never_used, user(announced), rules, NOW)
    assert got is not None and got.action == DISABLE_UNUSED


@pytest.mark.parametrize(
    ("tag", "note"),
    [
        ("2024-06-01", None),  # through the end of today
        ("2024-11-28", None),  # 180 days ahead
        ("2024-11-29", "is more than 180 days ahead (--max-exemption-days)"),
        ("2024-05-31", "has passed"),
        ("soon", "is not a date YYYY-MM-DD"),
        ("2024-02-30", "is not a date YYYY-MM-DD"),
        ("", "is not a date YYYY-MM-DD"),
    ],
)
def test_exemption_by_tag_with_expiry_and_maximum(tag: str, note: str | None) -> None:
    got = decide(key(130), user(exemption=tag), RULES, NOW)
    assert got is not None
    if note is None:
        assert (got.action, got.reason, got.notes) == (
            EXEMPT,
            "ExemptTag",
            (f"EXEMPT_UNTIL: {tag}",),
        )
    else:
        assert got.action == REMIND
        assert got.notes == (f"INVALID_EXEMPTION: key-rotation-exempt={tag!r} {note}",)


def test_exemption_by_group() -> None:
    rules = replace(RULES, exempt_groups=("break-glass",))
    got = decide(key(130), user(groups=("devs", "break-glass")), rules, NOW)
    assert got == Decision(EXEMPT, 130, reason="ExemptGroup", notes=("EXEMPT_GROUP: break-glass",))
    assert decide(key(130), user(groups=("devs",)), rules, NOW).action == REMIND  # type: ignore[union-attr]


def test_a_key_with_nothing_due_is_not_listed_even_when_exempt() -> None:
    assert decide(key(10), user(exemption="2024-07-01"), RULES, NOW) is None


@pytest.mark.parametrize(
    ("facts", "rules", "reason"),
    [
        (key(200), replace(RULES, signing_key_ids=frozenset({KEY})), "SigningKey"),
        (key(200, is_root=True, access_key_id=None), RULES, "RootKey"),
        (key(200, access_key_id=None), RULES, "UnmatchedKey"),
        (key(200), replace(RULES, exclude_account_ids=("111111111111",)), "ExcludedAccount"),
    ],
)
def test_skipped_keys_say_why(facts: KeyFacts, rules: EnforceSettings, reason: str) -> None:
    announced = KeyState(day("2024-05-01"), day("2024-05-08"))
    assert decide(facts, user(announced), rules, NOW) == Decision(SKIPPED, 200, reason=reason)


def test_a_user_whose_tags_cannot_be_read_is_never_acted_on() -> None:
    got = decide(key(200), user(unreadable="ListUserTags: AccessDenied: no"), RULES, NOW)
    assert got == Decision(
        SKIPPED, 200, reason="UserUnreadable", notes=("ListUserTags: AccessDenied: no",)
    )


def test_each_key_of_a_two_key_user_is_judged_by_its_own_state() -> None:
    other = "AKIABBBBBBBBBBBBBBBB"
    facts = UserFacts(states={KEY: KeyState(day("2024-05-25"), day("2024-06-01"))})
    assert decide(key(130), facts, RULES, NOW).action == DISABLE  # type: ignore[union-attr]
    assert decide(key(130, access_key_id=other), facts, RULES, NOW).action == REMIND  # type: ignore[union-attr]
    assert decide(key(5, access_key_id=other), facts, RULES, NOW) is None


# (settings, the setting named first, the reason with the other named by str.upper)
CONFLICTS = [
    (
        {"remind_days": 100, "disable_days": 50},
        "disable_days",
        "must not be less than REMIND_DAYS (50 < 100)",
    ),
    ({"delete_days": 30, "remind_only": True}, "delete_days", "cannot be used with REMIND_ONLY"),
    (
        {"disable_unused_days": 45, "remind_only": True},
        "disable_unused_days",
        "cannot be used with REMIND_ONLY",
    ),
    (
        {"organization": True, "account_ids": ("222222222222",)},
        "organization",
        "cannot be used with ACCOUNT_IDS",
    ),
    (
        {"admin_emails": ("a@example.com",)},
        "admin_emails",
        "needs SENDER (the SES-verified address to send from)",
    ),
]


@pytest.mark.parametrize(("settings", "setting", "why"), CONFLICTS)
def test_the_rules_across_options_are_checked_by_the_core(
    settings: dict[str, object], setting: str, why: str
) -> None:
    with pytest.raises(SettingsConflict) as raised:
        EnforceSettings(**settings).check()  # type: ignore[arg-type]
    assert raised.value.setting == setting
    assert raised.value.why(str.upper) == why


def test_what_the_rules_across_options_allow() -> None:
    EnforceSettings().check()
    EnforceSettings(remind_days=120, disable_days=120, delete_days=30).check()
    EnforceSettings(remind_only=True, account_ids=("222222222222",)).check()
    EnforceSettings(admin_emails=("a@example.com",), sender="k@example.com").check()


def test_a_group_member_with_nothing_due_is_listed_exempt_with_its_age() -> None:
    rules = replace(RULES, exempt_groups=("break-glass",))
    got = decide_member(key(10), ("break-glass",), rules, NOW)
    assert got == Decision(EXEMPT, 10, reason="ExemptGroup", notes=("EXEMPT_GROUP: break-glass",))
    inactive = decide_member(key(400, "Inactive"), ("break-glass",), rules, NOW)
    assert (inactive.action, inactive.age_days) == (EXEMPT, 400)
    signing = replace(rules, signing_key_ids=frozenset({KEY}))
    assert decide_member(key(130), ("break-glass",), signing, NOW).action == SKIPPED
