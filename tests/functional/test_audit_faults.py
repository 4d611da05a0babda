"""Credential report errors moto never gives, injected by the fault proxy: retries and messages."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.session import Session

from awscli_rotate_key.admin.audit import Judge, Thresholds
from awscli_rotate_key.admin.organization import audit_account
from awscli_rotate_key.admin.report import ReportWait
from tests.support.audit_fixtures import Account
from tests.support.cli import AwsHome
from tests.support.faultproxy import FaultProxy
from tests.support.moto import MotoServer

pytestmark = pytest.mark.timeout(120)
GEN, GET = "GenerateCredentialReport", "GetCredentialReport"


def account_with_a_key(moto_server: MotoServer) -> tuple[Account, str]:
    account = Account(moto_server)
    account.user("alice")
    return account, account.key("alice", 100, used_days_ago=1)


def home_through(proxy: FaultProxy, account: Account, tmp_path: Path) -> tuple[AwsHome, str]:
    session = account.assume()
    home = AwsHome(tmp_path / "home", proxy.url)
    home.add_profile("default", session, aws_session_token=session.session_token)
    return home, session.access_key_id


def report_calls(proxy: FaultProxy, key_id: str) -> list[tuple[str, str | None]]:
    return [
        (str(c.action), c.error_code)
        for c in proxy.calls
        if c.key_id == key_id and c.action in (GEN, GET)
    ]


def iam_client(account: Account, endpoint_url: str):  # type: ignore[no-untyped-def]
    """A plain botocore IAM client acting in the account, one attempt per call."""
    session = account.assume()
    return Session().create_client(
        "iam",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id=session.access_key_id,
        aws_secret_access_key=session.secret_access_key,
        aws_session_token=session.session_token,
        config=Config(retries={"total_max_attempts": 1}),
    )


def warm_up(moto_server: MotoServer, account: Account) -> None:
    """Make the account's first report, so GenerateCredentialReport says COMPLETE at once."""
    iam_client(account, moto_server.url).generate_credential_report()


def test_report_in_progress_is_waited_out_with_growing_delays(
    moto_server: MotoServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    account, key_id = account_with_a_key(moto_server)
    warm_up(moto_server, account)
    home, session_key = home_through(proxy, account, tmp_path)
    proxy.fail(GET, "ReportInProgress", times=2, message="Report generation in progress")
    result = home.run("iam", "audit-access-keys")
    assert result.returncode == 0, result.stderr
    assert [k["AccessKeyId"] for k in result.json["Keys"]] == [key_id]
    assert report_calls(proxy, session_key) == [
        (GEN, None),
        (GET, "ReportInProgress"),
        (GEN, None),
        (GET, "ReportInProgress"),
        (GEN, None),
        (GET, None),
    ]
    gets = [c for c in proxy.calls if c.action == GET and c.key_id == session_key]
    gaps = [b.started - a.started for a, b in itertools.pairwise(gets)]
    assert gaps[0] >= 0.25 and gaps[1] >= 0.5  # doubling delays, not a busy loop


def test_limit_exceeded_falls_back_to_the_last_report(
    moto_server: MotoServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    account, key_id = account_with_a_key(moto_server)
    warm_up(moto_server, account)
    home, session_key = home_through(proxy, account, tmp_path)
    proxy.fail(GEN, "LimitExceeded", times=1, message="Cannot generate another report yet")
    result = home.run("iam", "audit-access-keys")
    assert result.returncode == 0, result.stderr
    assert [k["AccessKeyId"] for k in result.json["Keys"]] == [key_id]
    assert report_calls(proxy, session_key) == [(GEN, "LimitExceeded"), (GET, None)]


def test_limit_exceeded_with_no_report_yet_waits_for_one(
    moto_server: MotoServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    account, key_id = account_with_a_key(moto_server)  # no report made yet
    home, session_key = home_through(proxy, account, tmp_path)
    proxy.fail(GEN, "LimitExceeded", times=1)
    result = home.run("iam", "audit-access-keys")
    assert result.returncode == 0, result.stderr
    assert [k["AccessKeyId"] for k in result.json["Keys"]] == [key_id]
    assert report_calls(proxy, session_key) == [
        (GEN, "LimitExceeded"),
        (GET, "ReportNotPresent"),  # moto's own answer: nothing to fall back to
        (GEN, None),  # STARTED
        (GEN, None),  # COMPLETE
        (GET, None),
    ]


def test_an_expired_report_is_regenerated(
    moto_server: MotoServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    account, key_id = account_with_a_key(moto_server)
    warm_up(moto_server, account)
    home, session_key = home_through(proxy, account, tmp_path)
    proxy.fail(GET, "ReportExpired", times=1, message="The credential report has expired")
    result = home.run("iam", "audit-access-keys")
    assert result.returncode == 0, result.stderr
    assert [k["AccessKeyId"] for k in result.json["Keys"]] == [key_id]
    assert report_calls(proxy, session_key) == [
        (GEN, None),
        (GET, "ReportExpired"),
        (GEN, None),
        (GET, None),
    ]


def test_a_denied_report_fails_the_account_with_exit_11(
    moto_server: MotoServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    account, _ = account_with_a_key(moto_server)
    home, _ = home_through(proxy, account, tmp_path)
    proxy.fail(GET, "AccessDenied", status=403, times=None, message="not authorized")
    result = home.run("iam", "audit-access-keys", "--fail-on", "warning")
    assert result.returncode == 11
    (entry,) = result.json["Accounts"]
    assert entry["Error"] == "GetCredentialReport: AccessDenied: not authorized"
    assert result.json["Keys"] == []
    assert result.stderr == (
        f"audit-access-keys: account {account.id} not audited: "
        "GetCredentialReport: AccessDenied: not authorized\n"
    )


def test_a_report_that_never_comes_gives_up_within_the_budget(
    moto_server: MotoServer, proxy: FaultProxy
) -> None:
    """The command waits 5 minutes: the same core, with a 2-second budget, through the proxy."""
    account, _ = account_with_a_key(moto_server)
    warm_up(moto_server, account)
    iam = iam_client(account, proxy.url)
    proxy.fail(GET, "ReportInProgress", times=None, message="still going")
    judge = Judge(account.id, dt.datetime.now(dt.timezone.utc), Thresholds())
    audit = audit_account(iam, judge, wait=ReportWait(first_delay=0.1, max_delay=0.4, timeout=2))
    assert audit.error == (
        "credential report not ready after 2 s "
        "(last answer: GetCredentialReport: ReportInProgress: still going)"
    )
    assert audit.keys == []
    gets = [c for c in proxy.calls if c.action == GET]
    assert 4 <= len(gets) <= 8  # 0.1 + 0.2 + 0.4 + 0.4 ... within 2 s: bounded, not a busy loop
