"""enforce-key-rotation over an organization on moto: members through the role, one lost."""

from __future__ import annotations

import datetime as dt
import os
import pty
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.session import Session

from awscli_rotate_key.admin.organization import DEFAULT_ROLE
from awscli_rotate_key.commands.enforce_run import TEST_NOW
from tests.support.audit_fixtures import Account, grant_admin
from tests.support.cli import AwsHome
from tests.support.faultproxy import FaultProxy
from tests.support.moto import MotoServer

pytestmark = pytest.mark.timeout(180)
SENDER = "keys@example.com"
AHEAD = dt.timedelta(minutes=5)  # keys made just after the clock is fixed are whole days old


def client(moto_server: MotoServer, service: str, session: Any) -> Any:
    return Session().create_client(
        service,
        region_name="us-east-1",
        endpoint_url=moto_server.url,
        aws_access_key_id=session.access_key_id,
        aws_secret_access_key=session.secret_access_key,
        aws_session_token=session.session_token,
    )


@pytest.fixture
def org(moto_server: MotoServer) -> Iterator[dict[str, Any]]:
    """A management account and two members; each has one overdue, announced key of alice's.

    Its clock (``now``, given to every run) is fixed here, so that no date moves if UTC
    midnight passes during the test.
    """
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + AHEAD
    today = now.date()
    management = Account(moto_server)
    session = management.assume()
    client(moto_server, "ses", session).verify_email_identity(EmailAddress=SENDER)
    organizations = client(moto_server, "organizations", session)
    organizations.create_organization(FeatureSet="ALL")
    members = []
    for n in range(2):
        created = organizations.create_account(AccountName=f"m{n}", Email=f"m{n}@example.com")
        member = Account(moto_server, created["CreateAccountStatus"]["AccountId"])
        grant_admin(member.id, DEFAULT_ROLE)
        members.append(member)
    keys = {}
    for account in (management, *members):
        account.user("alice")
        keys[account.id] = account.key("alice", 130)
        state = f"v1 {keys[account.id]}/r{today - dt.timedelta(days=8)}/d{today}"
        tags = [{"Key": "email", "Value": "alice@example.com"}]
        account.backend.tag_user("alice", [*tags, {"Key": "key-rotation-state", "Value": state}])
    yield {
        "management": management,
        "session": session,
        "members": members,
        "keys": keys,
        "now": now,
    }


def home(tmp_path: Path, url: str, org: dict[str, Any]) -> AwsHome:
    session = org["session"]
    aws = AwsHome(tmp_path / "home", url, extra_env={TEST_NOW: org["now"].isoformat()})
    aws.add_profile("default", session, aws_session_token=session.session_token)
    return aws


def statuses(org: dict[str, Any]) -> dict[str, str]:
    return {
        a.id: a.backend.users["alice"].access_keys[0].status
        for a in (org["management"], *org["members"])
    }


def test_one_unreachable_account_exits_11_and_the_others_are_done(
    org: dict[str, Any], proxy: FaultProxy, tmp_path: Path
) -> None:
    from moto.ses.models import ses_backends

    proxy.fail("AssumeRole", "AccessDenied", status=403, times=1, message="not authorized")
    args = ("--organization", "--sender", SENDER, "--apply", "--max-concurrency", "2")
    result = home(tmp_path, proxy.url, org).run("iam", "enforce-key-rotation", *args)
    assert result.returncode == 11, result.stderr
    errors = {a["AccountId"]: a["Error"] for a in result.json["Accounts"]}
    (lost,) = [account_id for account_id, error in errors.items() if error]
    assert lost != org["management"].id
    assert errors[lost] == (
        f"AssumeRole: AccessDenied: not authorized (role arn:aws:iam::{lost}:role/{DEFAULT_ROLE})"
    )
    assert f"account {lost} not processed" in result.stderr
    done = {a: k for a, k in org["keys"].items() if a != lost}
    assert {a["AccessKeyId"]: a["Action"] for a in result.json["Actions"]} == {
        key: "DISABLE" for key in done.values()
    }
    assert statuses(org) == {a: ("Active" if a == lost else "Inactive") for a in org["keys"]}
    (mail,) = ses_backends[org["management"].id]["us-east-1"].sent_messages  # one per address
    assert all(f"account {a}, user alice, key {k}" in mail.body for a, k in done.items())


def run_with_terminal_stderr(aws: AwsHome, *args: str) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal (stdout piped); what the terminal showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        aws.argv(*args),
        env=aws.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        shown += chunk
    proc.communicate(timeout=120)
    os.close(master)
    return proc.returncode, shown.decode()


@pytest.mark.parametrize("command", ["enforce-key-rotation", "audit-access-keys"])
def test_progress_on_a_terminal_only(org: dict[str, Any], tmp_path: Path, command: str) -> None:
    aws = home(tmp_path, org["management"].server.url, org)
    code, shown = run_with_terminal_stderr(aws, "iam", command, "--organization")
    assert code == 0, shown
    assert f"\r{command}: accounts 3/3" in shown and f"{command}: accounts 1/3" in shown
    piped = aws.run("iam", command, "--organization")
    assert piped.returncode == 0 and "accounts 3/3" not in piped.stderr


def test_an_excluded_account_is_listed_but_never_assumed_or_read(
    org: dict[str, Any], proxy: FaultProxy, tmp_path: Path
) -> None:
    excluded, kept = org["members"]
    args = ("--organization", "--sender", SENDER, "--apply", "--exclude-account-ids", excluded.id)
    result = home(tmp_path, proxy.url, org).run("iam", "enforce-key-rotation", *args)
    assert result.returncode == 0, result.stderr
    accounts = {a["AccountId"]: (a["Error"], a["Notes"]) for a in result.json["Accounts"]}
    note = "EXCLUDED_ACCOUNT: excluded from enforcement (break-glass): not read, nothing done"
    assert accounts == {
        org["management"].id: (None, []),
        excluded.id: (None, [note]),
        kept.id: (None, []),
    }
    assert {a["AccessKeyId"] for a in result.json["Actions"]} == {
        org["keys"][org["management"].id],
        org["keys"][kept.id],
    }
    called = proxy.actions()
    assert called.count("AssumeRole") == 1  # the kept member only
    assert called.count("GetCredentialReport") == 2
    assert statuses(org)[excluded.id] == "Active"
