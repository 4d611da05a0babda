"""The Lambda adapter on fakes: settings checked first, output logged, exit 11/12 raised."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest

from awscli_rotate_key.admin import lambda_handler
from awscli_rotate_key.admin.enforce import EnforceSettings
from awscli_rotate_key.admin.lambda_env import SettingError
from awscli_rotate_key.admin.lambda_handler import EnforcementIncomplete, LambdaClients, run

NOW = dt.datetime(2026, 6, 1, 6, 0, tzinfo=dt.timezone.utc)
OUTPUT = {
    "DryRun": False,
    "Actions": [
        {
            "AccountId": "111111111111",
            "UserName": "alice",
            "AccessKeyId": "AKIAALICE",
            "AgeDays": 130,
            "Action": "DISABLE",
            "DisableDate": "2026-05-30",
            "Recipient": "alice@example.com",
            "Applied": False,
            "Reason": "AccessDenied",
            "Notes": [],
        },
        {
            "AccountId": "111111111111",
            "UserName": "bob",
            "AccessKeyId": "AKIABOB",
            "AgeDays": 95,
            "Action": "REMIND",
            "DisableDate": "2026-06-08",
            "Recipient": "bob@example.com",
            "Applied": True,
            "Reason": None,
            "Notes": [],
        },
    ],
    "Accounts": [
        {"AccountId": "111111111111", "Error": None},
        {"AccountId": "222222222222", "Error": "AccessDenied: not authorized (role x)"},
    ],
    "Summary": {"DISABLE": 1, "REMIND": 1},
}


@dataclass
class FakeRun:
    output: dict[str, Any]
    exit_code: int

    def to_output(self) -> dict[str, Any]:
        return self.output


class Untouchable:
    """Clients that fail the test if anything is asked of them."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an AWS client was used: {name}")


class QuietClients:
    def signing_key_id(self) -> str:
        return "ASIAFUNCTIONROLE"


class FakeCore:
    """Stands in for ``enforce()``: records each call, returns a run with ``exit_code``."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, EnforceSettings, dt.datetime]] = []
        self.exit_code = 0

    def __call__(self, clients: Any, settings: EnforceSettings, now: Any, progress: Any) -> FakeRun:
        self.calls.append((clients, settings, now))
        progress(1, 2)
        progress(2, 2)
        return FakeRun(OUTPUT, self.exit_code)


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> FakeCore:
    fake = FakeCore()
    monkeypatch.setattr(lambda_handler, "enforce", fake)
    return fake


def test_a_bad_variable_fails_before_any_aws_call(core: FakeCore) -> None:
    with pytest.raises(SettingError, match="environment variable GRACE_DAYS"):
        run({"GRACE_DAYS": "a week"}, {}, NOW, clients=Untouchable())  # type: ignore[arg-type]
    assert core.calls == []


def test_a_bad_variable_fails_the_real_handler_before_clients_exist(
    core: FakeCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPLY", "maybe")
    monkeypatch.setattr(lambda_handler, "LambdaClients", Untouchable)
    with pytest.raises(SettingError, match="environment variable APPLY: 'maybe'"):
        lambda_handler.handler({}, None)
    assert core.calls == []


def test_a_complete_run_logs_everything_and_returns_the_summary(core: FakeCore) -> None:
    lines: list[str] = []
    summary = run({"APPLY": "true"}, {}, NOW, clients=QuietClients(), log=lines.append)  # type: ignore[arg-type]
    records = [json.loads(line) for line in lines]
    kinds = [r["Record"] for r in records]
    assert kinds == ["Progress", "Progress", "Action", "Action", "Account", "Account", "Run"]
    assert records[2] == {"Record": "Action", **OUTPUT["Actions"][0]}
    assert records[5] == {"Record": "Account", **OUTPUT["Accounts"][1]}
    assert summary == {
        "DryRun": False,
        "ExitCode": 0,
        "Summary": {"DISABLE": 1, "REMIND": 1},
        "Actions": 2,
        "Accounts": 2,
        "AccountErrors": [OUTPUT["Accounts"][1]],
    }
    assert records[-1] == {"Record": "Run", **summary}
    _, settings, now = core.calls[0]
    assert settings.apply is True and now == NOW
    assert settings.signing_key_ids == frozenset({"ASIAFUNCTIONROLE"})


@pytest.mark.parametrize("code", [11, 12])
def test_exit_11_or_12_raises_after_the_output_is_logged(core: FakeCore, code: int) -> None:
    core.exit_code = code
    lines: list[str] = []
    with pytest.raises(EnforcementIncomplete) as raised:
        run({}, {}, NOW, clients=QuietClients(), log=lines.append)  # type: ignore[arg-type]
    assert raised.value.exit_code == code
    assert str(raised.value).startswith(f"enforce-key-rotation: exit {code}: ")
    assert "the next run retries it" in str(raised.value)
    assert raised.value.summary["ExitCode"] == code
    assert json.loads(lines[-1])["Record"] == "Run"  # logged before raising
    assert sum(json.loads(line)["Record"] == "Action" for line in lines) == 2


def test_the_event_forces_a_dry_run(core: FakeCore) -> None:
    run({"APPLY": "true"}, {"DryRun": True}, NOW, clients=QuietClients(), log=[].append)  # type: ignore[arg-type]
    assert core.calls[0][1].apply is False


def test_progress_is_logged_about_ten_times_however_many_accounts() -> None:
    lines: list[str] = []
    progress = lambda_handler.ProgressLog(lines.append)
    for done in range(1001):
        progress(done, 1000)
    assert 10 <= len(lines) <= 11
    assert json.loads(lines[-1]) == {
        "Record": "Progress",
        "AccountsDone": 1000,
        "AccountsTotal": 1000,
    }


class FakeSession:
    def __init__(self, region: str | None) -> None:
        self.region, self.created = region, []

    def get_config_variable(self, name: str) -> str | None:
        assert name == "region"
        return self.region

    def create_client(self, service: str, **kwargs: Any) -> object:
        self.created.append((service, kwargs))
        return object()

    def get_credentials(self) -> None:
        return None


def test_clients_one_per_service_and_one_per_assumed_role() -> None:
    session = FakeSession("eu-west-1")
    clients = LambdaClients(32, session=session)
    assert clients.client("iam") is clients.client("iam")
    assert clients.client("ses") is not clients.client("iam")
    member = {"AccessKeyId": "ASIAMEMBER", "SecretAccessKey": "s", "SessionToken": "t"}
    assert clients.member_iam(member) is not clients.member_iam(member)
    service, kwargs = session.created[-1]
    assert service == "iam"
    assert kwargs["aws_access_key_id"] == "ASIAMEMBER" and kwargs["aws_session_token"] == "t"
    assert kwargs["region_name"] == "eu-west-1"
    assert kwargs["config"].max_pool_connections == 32  # every call in flight has a connection
    assert "retries" not in kwargs  # botocore's (and AWS_RETRY_MODE's), as the CLI's clients
    assert clients.signing_key_id() is None


def test_clients_region_from_the_lambda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    session = FakeSession(None)
    LambdaClients(1, session=session).client("sts")
    assert session.created[0][1]["region_name"] == "ap-south-1"
    assert session.created[0][1]["config"].max_pool_connections == 10
