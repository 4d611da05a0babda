"""Organization mode on moto: Organizations lists the accounts, AssumeRole reaches each one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.session import Session

from awscli_rotate_key.admin.organization import DEFAULT_ROLE
from tests.support.audit_fixtures import Account, grant_admin
from tests.support.cli import AwsHome
from tests.support.faultproxy import FaultProxy
from tests.support.moto import MotoServer

pytestmark = pytest.mark.timeout(120)
MEMBERS = 3


def client(moto_server: MotoServer, service: str, session: Any) -> Any:
    return Session().create_client(
        service,
        region_name="us-east-1",
        endpoint_url=moto_server.url,
        aws_access_key_id=session.access_key_id,
        aws_secret_access_key=session.secret_access_key,
        aws_session_token=session.session_token,
    )


@pytest.fixture(scope="module")
def org(moto_server: MotoServer) -> Iterator[dict[str, Any]]:
    """A management account with one old key, and members with one key each of known ages."""
    management = Account(moto_server)
    session = management.assume()
    organizations = client(moto_server, "organizations", session)
    organizations.create_organization(FeatureSet="ALL")
    members = []
    for n in range(MEMBERS):
        created = organizations.create_account(AccountName=f"m{n}", Email=f"m{n}@example.com")
        member = Account(moto_server, created["CreateAccountStatus"]["AccountId"])
        grant_admin(member.id, DEFAULT_ROLE)  # the role CreateAccount made grants nothing
        grant_admin(member.id, "SecurityAudit")
        members.append(member)
    keys = {}
    for account, age in [(management, 800), *zip(members, (10, 100, 200), strict=True)]:
        account.user("deployer")
        keys[account.id] = account.key("deployer", age, used_days_ago=1)
    yield {"management": management, "session": session, "members": members, "keys": keys}


def home(tmp_path: Path, url: str, session: Any) -> AwsHome:
    aws = AwsHome(tmp_path / "home", url)
    aws.add_profile("default", session, aws_session_token=session.session_token)
    return aws


def by_account(result: Any) -> dict[str, dict[str, Any]]:
    return {a["AccountId"]: a for a in result.json["Accounts"]}


def key_ids(result: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key in result.json["Keys"]:
        found.setdefault(key["AccountId"], []).append(key["AccessKeyId"])
    return found


def test_every_account_of_the_organization(
    org: dict[str, Any], moto_server: MotoServer, tmp_path: Path
) -> None:
    result = home(tmp_path, moto_server.url, org["session"]).run(
        "iam", "audit-access-keys", "--organization", "--max-concurrency", "4"
    )
    assert result.returncode == 0, result.stderr
    accounts = by_account(result)
    assert set(accounts) == set(org["keys"])  # the management account and every member
    assert all(a["Error"] is None and a["GeneratedTime"] for a in accounts.values())
    assert key_ids(result) == {account: [key] for account, key in org["keys"].items()}
    severities = {k["AccountId"]: k["Severity"] for k in result.json["Keys"]}
    members = [m.id for m in org["members"]]
    assert severities == {
        org["management"].id: "ALERT",
        members[0]: "OK",
        members[1]: "WARNING",
        members[2]: "WARNING",
    }
    assert result.json["Summary"] == {"Keys": 4, "Active": 4, "OK": 1, "WARNING": 2, "ALERT": 1}


def test_an_unreachable_account_exits_11_and_the_others_complete(
    org: dict[str, Any], proxy: FaultProxy, tmp_path: Path
) -> None:
    proxy.fail("AssumeRole", "AccessDenied", status=403, times=1, message="not authorized")
    result = home(tmp_path, proxy.url, org["session"]).run(
        "iam", "audit-access-keys", "--organization", "--max-concurrency", "4"
    )
    assert result.returncode == 11, result.stderr
    accounts = by_account(result)
    failed = [account_id for account_id, a in accounts.items() if a["Error"]]
    assert len(failed) == 1 and failed[0] != org["management"].id
    (lost,) = failed
    role = f"arn:aws:iam::{lost}:role/{DEFAULT_ROLE}"
    assert accounts[lost]["Error"] == f"AssumeRole: AccessDenied: not authorized (role {role})"
    assert accounts[lost]["GeneratedTime"] is None
    expected = {account: [key] for account, key in org["keys"].items() if account != lost}
    assert key_ids(result) == expected  # every other account is complete
    assert f"account {lost} not audited" in result.stderr


def test_named_accounts_through_a_custom_role(
    org: dict[str, Any], proxy: FaultProxy, tmp_path: Path
) -> None:
    chosen = [m.id for m in org["members"][1:]]
    result = home(tmp_path, proxy.url, org["session"]).run(
        "iam", "audit-access-keys", "--account-ids", *chosen, "--role-name", "SecurityAudit"
    )
    assert result.returncode == 0, result.stderr
    assert [a["AccountId"] for a in result.json["Accounts"]] == chosen
    assert key_ids(result) == {account: [org["keys"][account]] for account in chosen}
    assumed = [c for c in proxy.calls if c.action == "AssumeRole"]
    assert len(assumed) == 2 and "ListAccounts" not in proxy.actions()
    # Each member is read with that member's role credentials, through the same endpoint.
    listers = {c.key_id for c in proxy.calls if c.action == "ListAccessKeys"}
    assert len(listers) == 2 and org["session"].access_key_id not in listers


def test_max_concurrency_bounds_the_calls_in_flight(
    org: dict[str, Any], proxy: FaultProxy, tmp_path: Path
) -> None:
    proxy.latency = 0.05  # long enough for calls to overlap when they may
    aws = home(tmp_path, proxy.url, org["session"])
    for limit in (1, 3):
        proxy.reset_log()
        result = aws.run(
            "iam", "audit-access-keys", "--organization", "--max-concurrency", str(limit)
        )
        assert result.returncode == 0, result.stderr
        assert most_in_flight(proxy) <= limit
    assert most_in_flight(proxy) > 1  # and with 3, calls did overlap


def most_in_flight(proxy: FaultProxy) -> int:
    """The most calls the proxy was answering at one time."""
    events = sorted(
        [(c.started, 1) for c in proxy.calls] + [(c.ended or c.started, -1) for c in proxy.calls]
    )
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most
