"""Classification, slot-to-key matching and the output document: pure functions, hand-made data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awscli_rotate_key.admin.audit import (
    ALERT,
    FROM_LISTING,
    OK,
    ROOT_NOTE,
    WARNING,
    AccountAudit,
    Judge,
    LastUse,
    Listing,
    Thresholds,
    audit_document,
    classify,
    exit_code,
    match_slots,
    user_rows,
)
from awscli_rotate_key.admin.report import KeySlot, UserRow, parse_credential_report
from awscli_rotate_key.keys import AccessKey

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 6, 1, tzinfo=UTC)
LIMITS = Thresholds()
CSV = (Path(__file__).parent.parent / "data" / "credential_report.csv").read_text()


def days_ago(days: float) -> dt.datetime:
    return (NOW - dt.timedelta(days=days)).replace(microsecond=0)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- classification: expected values written by hand ------------------------------------------

# (active, age in days, last used days ago or None (never), root) -> severity, findings
CLASSIFICATION = [
    (True, 0, None, False, OK, ()),
    (True, 45, None, False, OK, ()),  # never used, 45 days: not *more* than 45
    (True, 46, None, False, WARNING, ("UNUSED",)),
    (True, 46, 1, False, OK, ()),
    (True, 90, 1, False, OK, ()),  # 90 days is not *more* than 90
    (True, 91, 1, False, WARNING, ("OVERDUE",)),
    (True, 91, 46, False, WARNING, ("OVERDUE", "UNUSED")),
    (True, 730, 1, False, WARNING, ("OVERDUE",)),
    (True, 731, 1, False, ALERT, ("OVERDUE", "CRITICAL")),
    (True, 800, None, False, ALERT, ("OVERDUE", "CRITICAL", "UNUSED")),
    (True, 1, 0, True, ALERT, ("ROOT_KEY",)),
    (True, 100, 100, True, ALERT, ("OVERDUE", "UNUSED", "ROOT_KEY")),
    (False, 800, None, False, OK, ()),
    (False, 800, None, True, OK, ()),
]


@pytest.mark.parametrize(("active", "age", "used", "root", "severity", "findings"), CLASSIFICATION)
def test_classification(
    active: bool, age: int, used: int | None, root: bool, severity: str, findings: tuple[str, ...]
) -> None:
    last_used = None if used is None else days_ago(used)
    assert classify(active, days_ago(age), last_used, root, NOW, LIMITS) == (severity, findings)


def test_thresholds_are_options() -> None:
    strict = Thresholds(warn_days=30, alert_days=60, unused_days=10)
    assert classify(True, days_ago(31), days_ago(11), False, NOW, strict) == (
        WARNING,
        ("OVERDUE", "UNUSED"),
    )
    assert classify(True, days_ago(61), days_ago(0), False, NOW, strict)[0] == ALERT


def test_age_is_whole_days() -> None:
    just_under = NOW - dt.timedelta(days=91) + dt.timedelta(seconds=1)
    assert classify(True, just_under, NOW, False, NOW, LIMITS) == (OK, ())


# --- matching report slots to listed keys ---------------------------------------------------


def slot(number: int, rotated: dt.datetime | None, active: bool = True) -> KeySlot:
    return KeySlot(number, active, rotated, None, None, None)


def key(key_id: str, created: dt.datetime, status: str = "Active") -> AccessKey:
    return AccessKey(key_id, status, created)


def paired(slots: list[KeySlot], keys: list[AccessKey]) -> dict[int, str | None]:
    matches, _ = match_slots(slots, keys)
    return {m.slot.number: (m.key.access_key_id if m.key else None) for m in matches}


T1, T2, T3 = days_ago(400), days_ago(100), days_ago(10)


def test_one_key() -> None:
    assert paired([slot(1, T1)], [key("AKIA1", T1)]) == {1: "AKIA1"}


def test_two_keys_listed_in_either_order() -> None:
    slots = [slot(1, T1), slot(2, T2)]
    assert paired(slots, [key("OLD", T1), key("NEW", T2)]) == {1: "OLD", 2: "NEW"}
    assert paired(slots, [key("NEW", T2), key("OLD", T1)]) == {1: "OLD", 2: "NEW"}


def test_slots_in_either_order() -> None:
    slots = [slot(1, T2), slot(2, T1)]
    assert paired(slots, [key("OLD", T1), key("NEW", T2)]) == {1: "NEW", 2: "OLD"}


def test_same_second_told_apart_by_status() -> None:
    slots = [slot(1, T2, active=False), slot(2, T2, active=True)]
    keys = [key("ON", T2, "Active"), key("OFF", T2, "Inactive")]
    assert paired(slots, keys) == {1: "OFF", 2: "ON"}


def test_same_second_and_status_is_ambiguous_and_names_both() -> None:
    slots = [slot(1, T2), slot(2, T2)]
    matches, newer = match_slots(slots, [key("B", T2), key("A", T2)])
    assert [m.key for m in matches] == [None, None]
    assert [k.access_key_id for k in matches[0].candidates] == ["A", "B"]
    assert newer == []  # both keys are accounted for by the ambiguous rows


def test_a_reactivated_key_matches_by_status() -> None:
    # Created at T1, deactivated, reactivated at T2: the report says last_rotated = T2.
    assert paired([slot(1, T2)], [key("AKIA1", T1)]) == {1: "AKIA1"}


def test_a_reactivated_key_beside_an_exact_match() -> None:
    slots = [slot(1, T3), slot(2, T2)]  # slot 1: reactivated at T3; slot 2: created at T2
    keys = [key("REACTIVATED", T1), key("EXACT", T2)]
    assert paired(slots, keys) == {1: "REACTIVATED", 2: "EXACT"}


def test_a_deleted_key_is_dropped_and_its_replacement_listed() -> None:
    # The report (up to 4 h old) shows a key made at T1; it was deleted and a new one made since.
    matches, newer = match_slots([slot(1, T1)], [key("NEW", T3)])
    assert matches == [] and [k.access_key_id for k in newer] == ["NEW"]


def test_a_key_made_after_the_report_is_left_over() -> None:
    matches, newer = match_slots([slot(1, T1)], [key("OLD", T1), key("NEW", T3)])
    assert [m.key.access_key_id for m in matches if m.key] == ["OLD"]
    assert [k.access_key_id for k in newer] == ["NEW"]


def test_status_fallback_never_pairs_a_key_created_after_the_slot_date() -> None:
    matches, newer = match_slots([slot(1, T2)], [key("LATER", T3)])
    assert matches == [] and len(newer) == 1


def test_two_slots_one_key_same_second_may_be_the_deleted_one() -> None:
    matches, newer = match_slots([slot(1, T2), slot(2, T2)], [key("ONLY", T2)])
    assert [m.key for m in matches] == [None, None]
    assert all(m.maybe_deleted for m in matches) and newer == []


@given(
    st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=2, unique=True),
    st.lists(st.booleans(), min_size=2, max_size=2),
    st.booleans(),
    st.booleans(),
)
def test_distinct_creation_seconds_always_match_exactly(
    ages: list[int], actives: list[bool], reverse_slots: bool, reverse_keys: bool
) -> None:
    keys = [
        key(f"AKIA{i}", days_ago(age), "Active" if actives[i] else "Inactive")
        for i, age in enumerate(ages)
    ]
    slots = [slot(i + 1, k.create_date, k.status == "Active") for i, k in enumerate(keys)]
    slots = slots[::-1] if reverse_slots else slots
    listed = keys[::-1] if reverse_keys else keys
    expected = {s.number: f"AKIA{s.number - 1}" for s in slots}
    assert paired(slots, listed) == expected


# --- rows of one user -----------------------------------------------------------------------

JUDGE = Judge("123456789012", NOW, LIMITS, report_time=at("2024-05-31T22:00:00"))
REPORT = parse_credential_report(CSV)


def user(name: str) -> UserRow:
    return next(u for u in REPORT.users if u.user == name)


def never(_: str) -> LastUse:
    raise AssertionError("GetAccessKeyLastUsed is only for keys the report lacks")


# The hand-written report (tests/data/credential_report.csv) judged on 2024-06-01, by hand.
EXPECTED_REPORT_ROWS = [
    # user, slot's last_rotated, age, status, severity, findings
    ("alice", "2024-01-15T09:30:00", 137, "Active", WARNING, ["OVERDUE"]),
    ("alice", "2023-02-01T10:00:00", 485, "Inactive", OK, []),
    ("bob", "2022-04-01T00:00:00", 792, "Active", ALERT, ["OVERDUE", "CRITICAL", "UNUSED"]),
    ("bob", "2024-05-01T00:00:00", 31, "Active", OK, []),
    ("dave", "2015-01-01T00:00:00", 3439, "Active", ALERT, ["OVERDUE", "CRITICAL", "UNUSED"]),
]


@pytest.mark.parametrize(("name", "rotated", "age", "status", "severity", "findings"),
                         EXPECTED_REPORT_ROWS)  # fmt: skip
def test_report_rows_judged_by_hand(
    name: str, rotated: str, age: int, status: str, severity: str, findings: list[str]
) -> None:
    row_user = user(name)
    keys = tuple(
        key(f"AKIA{name.upper()}{s.number}", s.last_rotated, status_of(s))
        for s in row_user.slots
        if s.last_rotated
    )
    rows = user_rows(JUDGE, row_user, Listing(keys), never)
    (row,) = [r for r in rows if r.last_rotated == at(rotated)]
    out = row.to_output()
    assert (out["AgeDays"], out["Status"], out["Severity"], out["Findings"]) == (
        age,
        status,
        severity,
        findings,
    )
    assert out["AccessKeyId"].startswith(f"AKIA{name.upper()}")


def test_the_root_key_is_an_alert_without_an_id() -> None:
    (row,) = user_rows(JUDGE, user("<root_account>"), Listing(()), never)
    out = row.to_output()
    assert out["AccessKeyId"] is None and out["MatchNote"] == ROOT_NOTE
    assert out["UserArn"] == "arn:aws:iam::123456789012:root"
    assert (out["AgeDays"], out["Severity"]) == (1918, ALERT)
    assert out["Findings"] == ["OVERDUE", "CRITICAL", "ROOT_KEY"]
    assert (out["LastUsedDate"], out["LastUsedRegion"], out["LastUsedService"]) == (
        "2024-05-30T09:00:00+00:00",
        "us-east-1",
        "iam",
    )


def test_a_user_deleted_since_the_report_has_no_rows() -> None:
    assert user_rows(JUDGE, user("alice"), Listing(None), never) == []


def test_a_failed_listing_keeps_the_report_rows_without_ids() -> None:
    rows = user_rows(JUDGE, user("bob"), Listing((), "ListAccessKeys: AccessDenied: no"), never)
    assert [r.access_key_id for r in rows] == [None, None]
    assert rows[0].match_note == "key ID unknown: ListAccessKeys: AccessDenied: no"
    assert rows[0].severity == ALERT


def test_a_key_newer_than_the_report_is_aged_from_create_date() -> None:
    old = key("AKIAOLD", at("2024-01-15T09:30:00"))
    new = key("AKIANEW", at("2024-05-31T23:00:00"))
    asked = []

    def used(key_id: str) -> LastUse:
        asked.append(key_id)
        return LastUse(at("2024-05-31T23:30:00"), "us-east-1", "s3")

    alice_now = UserRow("alice", "arn:aws:iam::123456789012:user/alice", user("alice").slots[:1])
    rows = user_rows(JUDGE, alice_now, Listing((old, new)), used)
    listed = rows[-1].to_output()
    assert asked == ["AKIANEW"]
    assert listed["AccessKeyId"] == "AKIANEW" and listed["Source"] == FROM_LISTING
    assert (listed["AgeDays"], listed["Severity"], listed["LastUsedService"]) == (0, OK, "s3")
    assert listed["MatchNote"] == (
        "not in the credential report generated 2024-05-31T22:00:00+00:00"
    )


def test_the_listed_status_wins_over_the_report() -> None:
    # Deactivated after the report: same slot, but IAM now says Inactive, so no findings.
    (row,) = user_rows(
        JUDGE, user("dave"), Listing((key("AKIAD", at("2015-01-01T00:00:00"), "Inactive"),)), never
    )
    assert (row.status, row.severity, row.findings) == ("Inactive", OK, ())


# --- the document and the exit code ---------------------------------------------------------


def status_of(report_slot: KeySlot) -> str:
    return "Active" if report_slot.active else "Inactive"


def audits() -> list[AccountAudit]:
    judged = [
        r
        for u in REPORT.users
        for r in user_rows(
            JUDGE,
            u,
            Listing(
                tuple(key(f"K{u.user}{s.number}", s.last_rotated, status_of(s)) for s in u.slots)
            ),
            never,
        )
    ]
    return [AccountAudit("123456789012", at("2024-05-31T22:00:00"), None, judged)]


def test_document_shape_and_summary() -> None:
    document = audit_document(audits())
    assert document["Accounts"] == [
        {"AccountId": "123456789012", "GeneratedTime": "2024-05-31T22:00:00+00:00", "Error": None}
    ]
    assert document["Summary"] == {"Keys": 6, "Active": 5, "OK": 2, "WARNING": 1, "ALERT": 3}
    assert set(document["Keys"][0]) == {
        "AccountId", "UserName", "UserArn", "AccessKeyId", "Status", "LastRotated", "AgeDays",
        "LastUsedDate", "LastUsedRegion", "LastUsedService", "Severity", "Findings", "Source",
        "MatchNote",
    }  # fmt: skip
    names = [k["UserName"] for k in document["Keys"]]
    assert names == sorted(names)


@pytest.mark.parametrize(
    ("fail_on", "account_error", "expected"),
    [
        (None, None, 0),
        ("warning", None, 10),
        ("alert", None, 10),
        (None, "AssumeRole: AccessDenied: no", 11),
        ("alert", "AssumeRole: AccessDenied: no", 11),
    ],
)
def test_exit_codes(fail_on: str | None, account_error: str | None, expected: int) -> None:
    results = [*audits(), AccountAudit("210987654321", error=account_error)]
    assert exit_code(results, fail_on) == expected


def test_fail_on_alert_passes_when_the_worst_is_a_warning() -> None:
    only_warning = [r for r in audits()[0].keys if r.severity != ALERT]
    results = [AccountAudit("123456789012", keys=only_warning)]
    assert exit_code(results, "alert") == 0
    assert exit_code(results, "warning") == 10
