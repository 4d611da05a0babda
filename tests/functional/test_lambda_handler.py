"""The scheduled function's handler, in-process, against moto's server with signing enforced.

It runs with the credentials of a role whose permissions are those of deploy/enforce.yaml's
execution role (and, in member accounts, deploy/member-role.yaml's role), copied with
``Resource: "*"`` (all moto evaluates): a template that lacks an action the code needs fails
here. Not tested here, because moto cannot: the Lambda runtime itself (moto runs function code
only through Docker; the handler runs on this machine's Python 3.11, the function on 3.12), the
EventBridge Scheduler schedule (moto's CloudFormation skips it and never fires schedules), trust
policies (moto evaluates none), resource ARNs and conditions in the policies (only the actions).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from awscli_rotate_key.admin import lambda_handler
from awscli_rotate_key.admin.lambda_env import VARIABLES
from awscli_rotate_key.admin.lambda_handler import EnforcementIncomplete
from awscli_rotate_key.admin.statetag import STATE_TAG
from tests.support import deploy_templates as templates
from tests.support.audit_fixtures import Account, SessionKey, iam_backend
from tests.support.cli import CLI
from tests.support.moto import REGION, MotoServer

pytestmark = [
    pytest.mark.timeout(180),
    # It runs no `aws` executable: once (under v1) is enough.
    pytest.mark.skipif(CLI.name != "v1", reason="runs no AWS CLI; the v1 half runs it"),
]
FUNCTION_ROLE = "enforce-EnforceRole"
MEMBER_ROLE = "KeyRotationEnforcer"
SENDER = "security@example.com"
LATER = dt.timedelta(days=8)  # past the DisableDate a first reminder announces (7 days' grace)


def role_with_policy(server: MotoServer, account_id: str, name: str, policy: Any) -> SessionKey:
    """A role in the account with exactly ``policy``, and credentials assumed from it."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    backend = iam_backend(account_id)
    backend.create_role(name, json.dumps(trust), "/", None, "", [], "3600")
    backend.put_role_policy(name, "from-template", json.dumps(policy))
    sts = server.client("sts", server.admin)
    response = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{name}", RoleSessionName="lambda-test"
    )
    c = response["Credentials"]
    return SessionKey(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def function_policy(**parameters: str) -> Any:
    return templates.policy_for_moto(templates.ENFORCE, "EnforceRole", **parameters)


def member_policy() -> Any:
    arn = "arn:aws:iam::123456789012:role/enforce-EnforceRole"
    return templates.policy_for_moto(templates.MEMBER_ROLE, "EnforcerRole", EnforcerRoleArn=arn)


def without(policy: Any, action: str) -> Any:
    (statement,) = policy["Statement"]
    assert action in statement["Action"]
    kept = [a for a in statement["Action"] if a != action]
    return {**policy, "Statement": [{**statement, "Action": kept}]}


@pytest.fixture
def lambda_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_server: MotoServer
) -> Callable[..., None]:
    """Sets the process environment as Lambda would: the role's keys, the region, the options."""
    for name in (*VARIABLES, "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)

    def set_up(credentials: SessionKey, **variables: str) -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key)
        monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.session_token)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_up


def logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The records the function wrote to its log (stdout) since the last call."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def actions(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["AccessKeyId"]: r for r in records if r["Record"] == "Action"}


def sent_mail(account_id: str) -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends[account_id][REGION].sent_messages)


def statuses(account: Account, user: str) -> dict[str, str]:
    return {k.access_key_id: k.status for k in account.backend.users[user].access_keys}


def state_tag(account: Account, user: str) -> str | None:
    tags = account.backend.list_user_tags(user)
    return next((t["Value"] for t in tags if t["Key"] == STATE_TAG), None)


@pytest.fixture
def seeded(moto_server: MotoServer) -> Iterator[dict[str, Any]]:
    """An account of its own, SES's sender verified, users with keys of these ages (days):
    alice 130 and 5, bob 100, carol 10 (no e-mail tag), erin 70, frank 200 (group vendors);
    all used yesterday."""
    from moto.ses.models import ses_backends

    account = Account(moto_server)
    keys = {}
    ages = {"alice": (130, 5), "bob": (100,), "carol": (10,), "erin": (70,), "frank": (200,)}
    for user, user_ages in ages.items():
        account.user(user)
        if user != "carol":
            account.backend.tag_user(user, [{"Key": "email", "Value": f"{user}@example.com"}])
        keys[user] = [account.key(user, age, used_days_ago=1) for age in user_ages]
    account.backend.create_group("vendors")
    account.backend.add_user_to_group("vendors", "frank")
    ses_backends[account.id][REGION].verify_email_identity(SENDER)
    yield {"account": account, "keys": keys}


def test_a_dry_run_needs_no_permission_to_change_anything_and_changes_nothing(
    seeded: dict[str, Any],
    moto_server: MotoServer,
    lambda_environment: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    account, keys = seeded["account"], seeded["keys"]
    # The role a dry-run deployment (Apply=false) gets: no write action at all.
    policy = function_policy(Apply="false", Sender=SENDER)
    credentials = role_with_policy(moto_server, account.id, FUNCTION_ROLE, policy)
    # Exempt groups and unused keys need the groups and the last uses (GetGroup,
    # GetAccessKeyLastUsed): erin's key, used yesterday, is not unused.
    lambda_environment(
        credentials, SENDER=SENDER, EXEMPT_GROUPS="vendors", DISABLE_UNUSED_DAYS="60"
    )

    summary = lambda_handler.handler({}, None)

    assert summary["DryRun"] is True and summary["ExitCode"] == 0, summary
    assert summary["AccountErrors"] == []
    found = actions(logged(capsys))
    old, new = keys["alice"]
    assert found[old]["Action"] == "REMIND" and found[old]["DisableDate"]
    assert found[keys["bob"][0]]["Action"] == "REMIND"
    assert found[keys["frank"][0]]["Action"] == "EXEMPT"
    assert new not in found and keys["carol"][0] not in found and keys["erin"][0] not in found
    assert not any(a["Applied"] for a in found.values())
    assert sent_mail(account.id) == []
    assert all(s == "Active" for u in keys for s in statuses(account, u).values())
    assert state_tag(account, "alice") is None and state_tag(account, "bob") is None


def test_apply_reminds_then_disables_only_the_overdue_key(
    seeded: dict[str, Any],
    moto_server: MotoServer,
    lambda_environment: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    account, keys = seeded["account"], seeded["keys"]
    policy = function_policy(Apply="true", Sender=SENDER)
    credentials = role_with_policy(moto_server, account.id, FUNCTION_ROLE, policy)
    lambda_environment(credentials, APPLY="true", SENDER=SENDER, EXEMPT_GROUPS="vendors")
    old, new = keys["alice"]

    first = lambda_handler.handler({}, None)

    assert first["DryRun"] is False and first["ExitCode"] == 0, (first, capsys.readouterr())
    found = actions(logged(capsys))
    assert found[old]["Action"] == "REMIND" and found[old]["Applied"] is True
    assert {m.destinations["ToAddresses"][0] for m in sent_mail(account.id)} == {
        "alice@example.com",
        "bob@example.com",
    }
    assert old in (state_tag(account, "alice") or "")
    assert statuses(account, "alice") == {old: "Active", new: "Active"}

    # The next daily run after the announced DisableDate (the clock injected, not slept).
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + LATER
    second = lambda_handler.run(dict(os.environ), {}, now)

    assert second["ExitCode"] == 0, (second, capsys.readouterr())
    found = actions(logged(capsys))
    assert found[old]["Action"] == "DISABLE" and found[old]["Applied"] is True
    assert statuses(account, "alice") == {old: "Inactive", new: "Active"}
    assert statuses(account, "bob") == {keys["bob"][0]: "Active"}


def test_a_template_without_an_action_the_code_needs_fails_the_run(
    seeded: dict[str, Any],
    moto_server: MotoServer,
    lambda_environment: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What the tests above rely on: moto enforces the copied policy, action by action."""
    account = seeded["account"]
    policy = without(function_policy(Apply="true", Sender=SENDER), "iam:TagUser")
    credentials = role_with_policy(moto_server, account.id, FUNCTION_ROLE, policy)
    lambda_environment(credentials, APPLY="true", SENDER=SENDER)

    with pytest.raises(EnforcementIncomplete) as raised:
        lambda_handler.handler({}, None)

    assert raised.value.exit_code == 12
    records = logged(capsys)
    assert records[-1]["Record"] == "Run" and records[-1]["ExitCode"] == 12  # logged first
    old = seeded["keys"]["alice"][0]
    assert actions(records)[old]["Applied"] is False
    assert state_tag(account, "alice") is None


@pytest.fixture
def organization(moto_server: MotoServer) -> Iterator[dict[str, Any]]:
    """A management account and three members with member-role.yaml's role (the third's
    lacking GenerateCredentialReport), each with a 130-day key of the same owner."""
    from moto.ses.models import ses_backends

    management = Account(moto_server)
    admin = management.assume()
    organizations = _with_token(moto_server, "organizations", admin)
    organizations.create_organization(FeatureSet="ALL")
    members, keys = [], {}
    for n in range(3):
        created = organizations.create_account(AccountName=f"m{n}", Email=f"m{n}@example.com")
        member = Account(moto_server, created["CreateAccountStatus"]["AccountId"])
        policy = member_policy()
        if n == 2:
            policy = without(policy, "iam:GenerateCredentialReport")
        role_with_policy(moto_server, member.id, MEMBER_ROLE, policy)
        member.user("deployer")
        member.backend.tag_user("deployer", [{"Key": "email", "Value": "ops@example.com"}])
        keys[member.id] = member.key("deployer", 130, used_days_ago=1)
        members.append(member)
    ses_backends[management.id][REGION].verify_email_identity(SENDER)
    yield {"management": management, "members": members, "keys": keys}


def _with_token(server: MotoServer, service: str, key: SessionKey) -> Any:
    from botocore.session import Session

    return Session().create_client(
        service,
        region_name=REGION,
        endpoint_url=server.url,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        aws_session_token=key.session_token,
    )


def test_organization_mode_through_the_member_roles(
    organization: dict[str, Any],
    moto_server: MotoServer,
    lambda_environment: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    management, (one, two, broken) = organization["management"], organization["members"]
    keys = organization["keys"]
    policy = function_policy(Apply="true", Sender=SENDER, Organization="true")
    credentials = role_with_policy(moto_server, management.id, FUNCTION_ROLE, policy)
    settings = {"APPLY": "true", "SENDER": SENDER, "ORGANIZATION": "true", "ROLE_NAME": MEMBER_ROLE}
    lambda_environment(credentials, **settings)

    with pytest.raises(EnforcementIncomplete) as raised:  # one account could not be processed
        lambda_handler.handler({}, None)

    assert raised.value.exit_code == 11
    summary = raised.value.summary
    assert [a["AccountId"] for a in summary["AccountErrors"]] == [broken.id]
    found = actions(logged(capsys))
    for member in (one, two):
        assert found[keys[member.id]]["Action"] == "REMIND" and found[keys[member.id]]["Applied"]
        assert keys[member.id] in (state_tag(member, "deployer") or "")
    (mail,) = sent_mail(management.id)  # one e-mail per address, both accounts' keys in it
    assert mail.destinations["ToAddresses"] == ["ops@example.com"]
    assert keys[one.id] in mail.body and keys[two.id] in mail.body

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + LATER
    with pytest.raises(EnforcementIncomplete):
        lambda_handler.run(dict(os.environ), {}, now)

    found = actions(logged(capsys))
    for member in (one, two):
        assert found[keys[member.id]]["Action"] == "DISABLE"
        assert statuses(member, "deployer") == {keys[member.id]: "Inactive"}
    assert statuses(broken, "deployer") == {keys[broken.id]: "Active"}
