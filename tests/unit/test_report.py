"""The credential report: parsing the real format and its quirks; waiting for IAM to make it."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given
from hypothesis import strategies as st

from awscli_rotate_key.admin.report import (
    HEADER,
    ReportFormatError,
    ReportUnavailable,
    ReportWait,
    describe_failure,
    fetch_credential_report,
    parse_credential_report,
    parse_timestamp,
)

CSV = (Path(__file__).parent.parent / "data" / "credential_report.csv").read_text()
UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- parsing the hand-written report (real format, real quirks) ------------------------------


def test_every_user_row_is_kept_with_its_arn() -> None:
    report = parse_credential_report(CSV, "2024-06-01T00:00:00Z")
    assert [u.user for u in report.users] == ["<root_account>", "alice", "bob", "carol", "dave"]
    assert report.users[4].arn == "arn:aws:iam::123456789012:user/ci/dave"
    assert report.generated_time == at("2024-06-01T00:00:00")


def test_the_root_row_is_recognised_and_keeps_its_key() -> None:
    root = parse_credential_report(CSV).users[0]
    assert root.is_root
    assert root.arn == "arn:aws:iam::123456789012:root"
    (slot,) = root.slots
    assert (slot.number, slot.active) == (1, True)
    assert slot.last_rotated == at("2019-03-01T08:00:00")
    assert (slot.last_used_region, slot.last_used_service) == ("us-east-1", "iam")


def test_lowercase_booleans_and_dates_of_both_slots() -> None:
    alice = parse_credential_report(CSV).users[1]
    first, second = alice.slots
    assert first.active is True and second.active is False
    assert first.last_rotated == at("2024-01-15T09:30:00")
    assert first.last_used_date == at("2024-05-31T07:59:00")
    assert (first.last_used_region, first.last_used_service) == ("eu-west-1", "s3")


def test_an_inactive_key_keeps_its_last_rotated_date() -> None:
    second = parse_credential_report(CSV).users[1].slots[1]
    assert second.active is False
    assert second.last_rotated == at("2023-02-01T10:00:00")


def test_markers_become_none() -> None:
    users = parse_credential_report(CSV).users
    never_used = users[2].slots[0]  # bob: N/A
    assert never_used.last_used_date is None
    assert never_used.last_used_region is None and never_used.last_used_service is None
    assert users[4].slots[0].last_used_date is None  # dave: no_information


def test_a_user_without_keys_has_no_slots() -> None:
    assert parse_credential_report(CSV).users[3].slots == ()


@pytest.mark.parametrize(
    "content",
    [
        CSV,
        CSV.encode(),
        ("\ufeff" + CSV).encode(),
        base64.b64encode(CSV.encode()).decode(),  # what the CLI's session hands over
    ],
    ids=["str", "bytes", "bom", "base64"],
)
def test_content_in_every_form_the_clients_give(content: Any) -> None:
    assert len(parse_credential_report(content).users) == 5


def test_uppercase_booleans_are_accepted() -> None:
    row = "eve,arn:aws:iam::1:user/eve,x,FALSE,N/A,N/A,N/A,FALSE,TRUE,2024-01-01T00:00:00+00:00"
    row += ",N/A,N/A,N/A,FALSE,N/A,N/A,N/A,N/A,FALSE,N/A,FALSE,N/A"
    (eve,) = parse_credential_report(f"{HEADER}\n{row}\n").users
    assert eve.slots[0].active is True


def test_a_report_without_the_key_columns_is_refused() -> None:
    with pytest.raises(ReportFormatError, match="access_key_1_last_rotated"):
        parse_credential_report("user,arn\nalice,arn:aws:iam::1:user/alice\n")


def test_content_that_is_neither_csv_nor_base64_is_refused() -> None:
    with pytest.raises(ReportFormatError):
        parse_credential_report("not a report!")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15T09:30:00+00:00", "2024-01-15T09:30:00"),
        ("2024-01-15T09:30:00Z", "2024-01-15T09:30:00"),
        ("2024-01-15T09:30:00.987654Z", "2024-01-15T09:30:00"),
        ("2024-01-15T09:30:00.9Z", "2024-01-15T09:30:00"),
        ("2024-01-15T11:30:00+02:00", "2024-01-15T09:30:00"),
        ("2024-01-15T04:30:00-0500", "2024-01-15T09:30:00"),
        ("2024-01-15 09:30:00", "2024-01-15T09:30:00"),
    ],
)
def test_timestamps_become_utc_to_the_second(text: str, expected: str) -> None:
    assert parse_timestamp(text) == at(expected)


@given(st.datetimes(timezones=st.just(UTC)))
def test_any_datetime_survives_its_iso_text(when: dt.datetime) -> None:
    assert parse_timestamp(when.isoformat()) == when.replace(microsecond=0)
    assert parse_timestamp(when) == when.replace(microsecond=0)


def test_a_garbage_timestamp_is_a_format_error() -> None:
    with pytest.raises(ReportFormatError):
        parse_timestamp("yesterday")


# --- waiting for the report -----------------------------------------------------------------


def client_error(code: str, operation: str, message: str = "injected") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class ScriptedIam:
    """Answers Generate/GetCredentialReport from scripts: a dict is returned, an error raised."""

    def __init__(self, generate: list[Any], get: list[Any]) -> None:
        self._scripts = {"GenerateCredentialReport": generate, "GetCredentialReport": get}
        self.calls: list[str] = []

    def _next(self, operation: str) -> Any:
        self.calls.append(operation)
        script = self._scripts[operation]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def generate_credential_report(self) -> Any:
        return self._next("GenerateCredentialReport")

    def get_credential_report(self) -> Any:
        return self._next("GetCredentialReport")


REPORT = {"Content": CSV.encode(), "GeneratedTime": at("2024-06-01T00:00:00")}
GEN, GET = "GenerateCredentialReport", "GetCredentialReport"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fetch(iam: ScriptedIam, clock: Clock, timeout: float = 300.0) -> Any:
    wait = ReportWait(first_delay=0.25, max_delay=8.0, timeout=timeout)
    return fetch_credential_report(iam, wait, sleep=clock.sleep, clock=lambda: clock.now)


def test_a_report_already_complete_is_downloaded_at_once() -> None:
    iam, clock = ScriptedIam([{"State": "COMPLETE"}], [REPORT]), Clock()
    assert len(fetch(iam, clock).users) == 5
    assert iam.calls == [GEN, GET] and clock.sleeps == []


def test_a_started_report_is_polled_with_doubling_delays() -> None:
    states = [{"State": "STARTED"}, {"State": "INPROGRESS"}, {"State": "INPROGRESS"}]
    iam, clock = ScriptedIam([*states, {"State": "COMPLETE"}], [REPORT]), Clock()
    fetch(iam, clock)
    assert iam.calls == [GEN, GEN, GEN, GEN, GET]
    assert clock.sleeps == [0.25, 0.5, 1.0]


def test_delays_are_capped() -> None:
    iam = ScriptedIam([{"State": "STARTED"}] * 8 + [{"State": "COMPLETE"}], [REPORT])
    clock = Clock()
    fetch(iam, clock)
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_report_in_progress_on_download_is_waited_out() -> None:
    busy = client_error("ReportInProgress", GET)
    iam = ScriptedIam([{"State": "COMPLETE"}], [busy, busy, REPORT])
    clock = Clock()
    fetch(iam, clock)
    assert iam.calls == [GEN, GET, GEN, GET, GEN, GET]
    assert clock.sleeps == [0.25, 0.5]


def test_limit_exceeded_tries_the_existing_report() -> None:
    limited = client_error("LimitExceeded", GEN, "Too many reports")
    iam, clock = ScriptedIam([limited], [REPORT]), Clock()
    fetch(iam, clock)
    assert iam.calls == [GEN, GET] and clock.sleeps == []


def test_limit_exceeded_without_a_report_waits_and_asks_again() -> None:
    limited = client_error("LimitExceeded", GEN)
    absent = client_error("ReportNotPresent", GET)
    iam = ScriptedIam([limited, {"State": "COMPLETE"}], [absent, REPORT])
    clock = Clock()
    fetch(iam, clock)
    assert iam.calls == [GEN, GET, GEN, GET] and clock.sleeps == [0.25]


def test_an_expired_report_is_regenerated_at_once() -> None:
    expired = client_error("ReportExpired", GET)
    iam = ScriptedIam([{"State": "COMPLETE"}, {"State": "STARTED"}, {"State": "COMPLETE"}],
                      [expired, REPORT])  # fmt: skip
    clock = Clock()
    fetch(iam, clock)
    assert iam.calls == [GEN, GET, GEN, GEN, GET]
    assert clock.sleeps == [0.25]  # no wait after the expiry, only for the new report


def test_a_report_that_keeps_expiring_is_waited_on_not_looped_on() -> None:
    expired = client_error("ReportExpired", GET, "The report has expired")
    iam, clock = ScriptedIam([{"State": "COMPLETE"}], [expired]), Clock()
    with pytest.raises(ReportUnavailable, match="ReportExpired: The report has expired"):
        fetch(iam, clock, timeout=5)
    assert clock.now <= 5


def test_giving_up_names_the_budget_and_the_last_answer() -> None:
    busy = client_error("ReportInProgress", GET, "Report is being generated")
    iam, clock = ScriptedIam([{"State": "COMPLETE"}], [busy]), Clock()
    with pytest.raises(ReportUnavailable) as raised:
        fetch(iam, clock, timeout=10)
    assert str(raised.value) == (
        "credential report not ready after 10 s (last answer: "
        "GetCredentialReport: ReportInProgress: Report is being generated)"
    )
    assert sum(clock.sleeps) <= 10
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0, 4.0]


def test_a_report_never_started_times_out_with_its_state() -> None:
    iam, clock = ScriptedIam([{"State": "INPROGRESS"}], [REPORT]), Clock()
    with pytest.raises(ReportUnavailable, match=r"State INPROGRESS"):
        fetch(iam, clock, timeout=3)
    assert GET not in iam.calls


@pytest.mark.parametrize("operation", [GEN, GET])
def test_access_denied_is_not_retried(operation: str) -> None:
    denied = client_error("AccessDenied", operation, "not authorized")
    iam = ScriptedIam(
        [denied if operation == GEN else {"State": "COMPLETE"}],
        [denied if operation == GET else REPORT],
    )
    with pytest.raises(ClientError):
        fetch(iam, Clock())
    assert iam.calls.count(operation) == 1


def test_failures_read_as_one_line() -> None:
    error = client_error("AccessDenied", GET, "User: x is not authorized")
    assert describe_failure(error) == "GetCredentialReport: AccessDenied: User: x is not authorized"
    offline = EndpointConnectionError(endpoint_url="https://iam.amazonaws.com/")
    assert describe_failure(offline) == (
        'Could not connect to the endpoint URL: "https://iam.amazonaws.com/"'
    )
