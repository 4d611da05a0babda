"""Running the audit over accounts with fake clients: calls, assumed roles, errors, concurrency."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from awscli_rotate_key.admin.audit import ALERT, OK, WARNING, Judge, Thresholds
from awscli_rotate_key.admin.organization import (
    Access,
    Settings,
    audit_account,
    audit_accounts,
    organization_accounts,
)
from awscli_rotate_key.admin.report import HEADER, ReportWait

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 6, 1, tzinfo=UTC)
CALLER = "111111111111"
NO_WAIT = ReportWait(first_delay=0.0, max_delay=0.0, timeout=1.0)


def days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def denied(operation: str, message: str = "not authorized") -> ClientError:
    return ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, operation)


@dataclass
class FakeKey:
    key_id: str
    created: dt.datetime
    status: str = "Active"
    in_report: bool = True


class InFlight:
    """Counts calls in flight across threads and remembers the most seen at once."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency, self.now, self.most = latency, 0, 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        time.sleep(self.latency)
        with self._lock:
            self.now -= 1


@dataclass
class FakeIam:
    """One account's IAM: users and keys; the report shows keys marked ``in_report``."""

    account_id: str
    users: dict[str, list[FakeKey]] = field(default_factory=dict)
    flight: InFlight = field(default_factory=InFlight)
    deny_listing: set[str] = field(default_factory=set)
    deleted_users: set[str] = field(default_factory=set)
    fail_generate: Exception | None = None
    calls: list[str] = field(default_factory=list)

    def _call(self, name: str) -> None:
        self.calls.append(name)

    def generate_credential_report(self) -> dict[str, Any]:
        with self.flight:
            self._call("GenerateCredentialReport")
            if self.fail_generate:
                raise self.fail_generate
            return {"State": "COMPLETE"}

    def get_credential_report(self) -> dict[str, Any]:
        with self.flight:
            self._call("GetCredentialReport")
            rows = [HEADER] + [self._row(name, keys) for name, keys in self.users.items()]
            return {"Content": "\n".join(rows).encode(), "GeneratedTime": NOW}

    def _row(self, name: str, keys: list[FakeKey]) -> str:
        slots = []
        for k in [k for k in keys if k.in_report] + [None, None]:
            if k is None:
                slots.append("false,N/A,N/A,N/A,N/A")
            else:
                active = "true" if k.status == "Active" else "false"
                slots.append(f"{active},{k.created.isoformat()},N/A,N/A,N/A")
        arn = f"arn:aws:iam::{self.account_id}:user/{name}"
        return f"{name},{arn},N/A,false,N/A,N/A,N/A,false,{slots[0]},{slots[1]},false,N/A,false,N/A"

    def list_access_keys(self, UserName: str) -> dict[str, Any]:
        with self.flight:
            self._call(f"ListAccessKeys {UserName}")
            if UserName in self.deny_listing:
                raise denied("ListAccessKeys")
            if UserName in self.deleted_users:
                raise ClientError({"Error": {"Code": "NoSuchEntity"}}, "ListAccessKeys")
            return {
                "AccessKeyMetadata": [
                    {"AccessKeyId": k.key_id, "Status": k.status, "CreateDate": k.created}
                    for k in self.users[UserName]
                ]
            }

    def get_access_key_last_used(self, AccessKeyId: str) -> dict[str, Any]:
        with self.flight:
            self._call(f"GetAccessKeyLastUsed {AccessKeyId}")
            return {"AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}


def judge(account_id: str = CALLER) -> Judge:
    return Judge(account_id, NOW, Thresholds())


def rows_by_id(audit: Any) -> dict[str | None, Any]:
    return {row.access_key_id: row for row in audit.keys}


# --- one account ----------------------------------------------------------------------------


def test_one_account_lists_only_users_with_keys_and_matches_ids() -> None:
    iam = FakeIam(CALLER)
    iam.users = {
        "alice": [FakeKey("AKIANEWER", days_ago(10)), FakeKey("AKIAOLDER", days_ago(100))],
        "bob": [],
        "carol": [FakeKey("AKIACAROL", days_ago(800), "Inactive")],
    }
    audit = audit_account(iam, judge(), wait=NO_WAIT)
    rows = rows_by_id(audit)
    assert audit.error is None and audit.generated_time == NOW
    assert set(rows) == {"AKIANEWER", "AKIAOLDER", "AKIACAROL"}
    assert (rows["AKIAOLDER"].age_days, rows["AKIAOLDER"].severity) == (100, WARNING)
    assert (rows["AKIANEWER"].age_days, rows["AKIANEWER"].severity) == (10, OK)
    assert (rows["AKIACAROL"].status, rows["AKIACAROL"].severity) == ("Inactive", OK)
    listed = [c for c in iam.calls if c.startswith("ListAccessKeys")]
    assert sorted(listed) == ["ListAccessKeys alice", "ListAccessKeys carol"]  # not bob
    assert not any(c.startswith("GetAccessKeyLastUsed") for c in iam.calls)


def test_a_key_newer_than_the_report_is_listed_with_its_last_use() -> None:
    iam = FakeIam(CALLER)
    iam.users = {"alice": [FakeKey("AKIAOLD", days_ago(800)), FakeKey("AKIANEW", NOW, "Active")]}
    iam.users["alice"][1].in_report = False
    audit = audit_account(iam, judge(), wait=NO_WAIT)
    rows = rows_by_id(audit)
    assert rows["AKIAOLD"].severity == ALERT and rows["AKIAOLD"].source == "CredentialReport"
    assert rows["AKIANEW"].source == "ListAccessKeys" and rows["AKIANEW"].age_days == 0
    assert "GetAccessKeyLastUsed AKIANEW" in iam.calls
    assert "GetAccessKeyLastUsed AKIAOLD" not in iam.calls


def test_a_user_deleted_since_the_report_is_left_out() -> None:
    iam = FakeIam(CALLER, {"gone": [FakeKey("AKIAGONE", days_ago(5))]}, deleted_users={"gone"})
    audit = audit_account(iam, judge(), wait=NO_WAIT)
    assert audit.error is None and audit.keys == []


def test_a_denied_listing_fails_the_account_but_keeps_its_findings() -> None:
    iam = FakeIam(CALLER)
    iam.users = {"alice": [FakeKey("AKIAA", days_ago(800))], "bob": [FakeKey("AKIAB", NOW)]}
    iam.deny_listing = {"alice"}
    audit = audit_account(iam, judge(), wait=NO_WAIT)
    assert audit.error == (
        "ListAccessKeys failed for 1 user(s): ListAccessKeys: AccessDenied: not authorized"
    )
    alice = next(r for r in audit.keys if r.user_name == "alice")
    assert alice.access_key_id is None and alice.severity == ALERT
    assert "AKIAB" in rows_by_id(audit)


def test_a_report_that_cannot_be_had_is_the_account_error() -> None:
    iam = FakeIam(CALLER, fail_generate=denied("GenerateCredentialReport", "no report for you"))
    audit = audit_account(iam, judge(), wait=NO_WAIT)
    assert audit.error == "GenerateCredentialReport: AccessDenied: no report for you"
    assert audit.keys == [] and audit.generated_time is None


def test_a_bug_is_not_turned_into_an_account_error() -> None:
    iam = FakeIam(CALLER, fail_generate=TypeError("a bug"))
    with pytest.raises(TypeError):
        audit_account(iam, judge(), wait=NO_WAIT)


# --- organization ---------------------------------------------------------------------------


class FakeOrganizations:
    def __init__(self, pages: list[list[dict[str, str]]]) -> None:
        self.pages, self.tokens = pages, []

    def list_accounts(self, **kwargs: Any) -> dict[str, Any]:
        self.tokens.append(kwargs.get("NextToken"))
        index = int(kwargs.get("NextToken", 0))
        page: dict[str, Any] = {"Accounts": self.pages[index]}
        if index + 1 < len(self.pages):
            page["NextToken"] = str(index + 1)
        return page


def test_organization_accounts_reads_every_page_and_keeps_active_ones() -> None:
    org = FakeOrganizations(
        [
            [{"Id": "333333333333", "State": "ACTIVE"}, {"Id": "444444444444", "State": "CLOSED"}],
            [{"Id": "222222222222", "Status": "ACTIVE"}, {"Id": "5555", "Status": "SUSPENDED"}],
            [{"Id": "666666666666", "State": "PENDING_CLOSURE", "Status": "ACTIVE"}],
        ]
    )  # fmt: skip
    assert organization_accounts(org) == ["222222222222", "333333333333"]
    assert org.tokens == [None, "1", "2"]


class FakeSts:
    def __init__(self, refuse: set[str], flight: InFlight) -> None:
        self.refuse, self.flight, self.roles = refuse, flight, []

    def assume_role(self, RoleArn: str, RoleSessionName: str) -> dict[str, Any]:
        with self.flight:
            self.roles.append((RoleArn, RoleSessionName))
            account = RoleArn.split(":")[4]
            if account in self.refuse:
                raise denied("AssumeRole", f"not authorized to assume {RoleArn}")
            return {"Credentials": {"AccessKeyId": f"ASIA{account}", "SecretAccessKey": "s"}}


def organization(
    members: int,
    users: int,
    refuse: set[str] = frozenset(),
    latency: float = 0.0,  # type: ignore[assignment]
) -> tuple[Access, dict[str, FakeIam], FakeSts, InFlight]:
    flight = InFlight(latency)
    ids = [CALLER] + [f"{200000000000 + n}" for n in range(members)]
    iams = {
        account: FakeIam(
            account,
            {f"u{n}": [FakeKey(f"AKIA{account}{n}", days_ago(100))] for n in range(users)},
            flight,
        )
        for account in ids
    }
    sts = FakeSts(set(refuse), flight)
    access = Access(
        caller_account=CALLER,
        partition="aws-cn",
        caller_iam=iams[CALLER],
        sts=sts,
        iam_with=lambda credentials: iams[credentials["AccessKeyId"][4:]],
        role_name="Auditor",
    )
    return access, iams, sts, flight


def settings(max_concurrency: int) -> Settings:
    return Settings(now=NOW, max_concurrency=max_concurrency, wait=NO_WAIT)


def test_the_caller_uses_its_own_credentials_and_members_a_role() -> None:
    access, iams, sts, _ = organization(members=2, users=1)
    ids = list(iams)
    audits = audit_accounts(ids, access, settings(4))
    assert [a.account_id for a in audits] == ids
    assert [a.error for a in audits] == [None, None, None]
    assert sorted(sts.roles) == [
        (f"arn:aws-cn:iam::{ids[1]}:role/Auditor", "audit-access-keys"),
        (f"arn:aws-cn:iam::{ids[2]}:role/Auditor", "audit-access-keys"),
    ]
    assert all(len(a.keys) == 1 for a in audits)


def test_an_unreachable_account_gets_an_error_and_the_others_complete() -> None:
    access, iams, _, _ = organization(members=3, users=2, refuse={"200000000001"})
    audits = {a.account_id: a for a in audit_accounts(list(iams), access, settings(4))}
    failed = audits.pop("200000000001")
    assert failed.error == (
        "AssumeRole: AccessDenied: not authorized to assume "
        "arn:aws-cn:iam::200000000001:role/Auditor (role arn:aws-cn:iam::200000000001:role/Auditor)"
    )
    assert failed.keys == []
    assert all(a.error is None and len(a.keys) == 2 for a in audits.values())


def test_an_account_named_twice_is_audited_once() -> None:
    access, iams, sts, _ = organization(members=1, users=1)
    ids = list(iams)
    assert len(audit_accounts([ids[1], ids[1], ids[0]], access, settings(2))) == 2
    assert len(sts.roles) == 1


@pytest.mark.parametrize("limit", [1, 3])
def test_calls_in_flight_never_exceed_max_concurrency(limit: int) -> None:
    access, iams, _, flight = organization(members=4, users=6, latency=0.005)
    audits = audit_accounts(list(iams), access, settings(limit))
    assert all(a.error is None and len(a.keys) == 6 for a in audits)
    assert flight.most == limit  # reached, never passed


def test_many_accounts_at_concurrency_one_do_not_deadlock() -> None:
    access, iams, _, _ = organization(members=5, users=3)
    assert len(audit_accounts(list(iams), access, settings(1))) == 6


def test_a_bug_in_one_account_is_raised() -> None:
    access, iams, _, _ = organization(members=1, users=1)
    iams["200000000000"].fail_generate = KeyError("a bug")
    with pytest.raises(KeyError):
        audit_accounts(list(iams), access, settings(2))
