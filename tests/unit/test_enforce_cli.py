"""The CLI side of enforce-key-rotation: the keys that sign a run, the test clock, progress."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest

from awscli_rotate_key.admin import lambda_env
from awscli_rotate_key.commands.enforce import EnforceKeyRotationCommand
from awscli_rotate_key.commands.enforce_run import (
    TEST_NOW,
    option_of,
    run_time,
    settings_from,
    signing_key_ids,
)
from awscli_rotate_key.commands.progress import AccountProgress, account_progress
from awscli_rotate_key.errors import InvalidOption
from tests.unit.test_enforce_rules import CONFLICTS


class FakeSession:
    def __init__(self, profile: str, profiles: dict[str, dict[str, str]], key: str) -> None:
        self.profile, self.full_config, self._key = profile, {"profiles": profiles}, key

    def get_credentials(self) -> Any:
        frozen = SimpleNamespace(access_key=self._key)
        return SimpleNamespace(get_frozen_credentials=lambda: frozen)


def test_an_assume_role_profile_is_signed_by_its_session_and_the_chains_static_key() -> None:
    profiles = {
        "admin": {"role_arn": "arn:aws:iam::1:role/a", "source_profile": "hop"},
        "hop": {"role_arn": "arn:aws:iam::1:role/b", "source_profile": "base"},
        "base": {"aws_access_key_id": "AKIABASE000000000000", "aws_secret_access_key": "s"},
    }
    session = FakeSession("admin", profiles, "ASIASESSION000000000")
    ids = signing_key_ids(session, SimpleNamespace(profile="admin"))
    assert ids == {"ASIASESSION000000000", "AKIABASE000000000000"}


def test_environment_credentials_are_the_only_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV0000000000000")
    session = FakeSession("default", {}, "AKIAENV0000000000000")
    assert signing_key_ids(session, SimpleNamespace(profile=None)) == {"AKIAENV0000000000000"}


def test_credential_source_environment_protects_the_environments_static_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run signs with the role's session key; the environment's key signed AssumeRole."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV0000000000000")
    profiles = {"admin": {"role_arn": "arn:aws:iam::1:role/a", "credential_source": "Environment"}}
    session = FakeSession("admin", profiles, "ASIASESSION000000000")
    ids = signing_key_ids(session, SimpleNamespace(profile="admin"))
    assert ids == {"ASIASESSION000000000", "AKIAENV0000000000000"}


def test_the_environments_key_is_protected_whatever_the_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV0000000000000")
    profiles = {"p": {"aws_access_key_id": "AKIAFILE000000000000", "aws_secret_access_key": "s"}}
    session = FakeSession("p", profiles, "AKIAFILE000000000000")
    ids = signing_key_ids(session, SimpleNamespace(profile="p"))
    assert ids == {"AKIAFILE000000000000", "AKIAENV0000000000000"}


@pytest.mark.parametrize(
    "endpoint",
    [None, "https://iam.amazonaws.com", "https://127.0.0.1.example.com", "http://[::1"],
)
def test_the_test_clock_needs_an_endpoint_url_on_this_machine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], endpoint: str | None
) -> None:
    monkeypatch.setenv(TEST_NOW, "2030-01-02T03:04:05Z")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert run_time(SimpleNamespace(endpoint_url=endpoint)).year != 2030
    assert "ignored: it is honoured only with an --endpoint-url on this machine" in (
        capsys.readouterr().err
    )
    if endpoint:  # the environment's endpoint URL is judged the same way
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        assert run_time(SimpleNamespace(endpoint_url=None)).year != 2030


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:5000", "http://localhost:5000/", "http://[::1]:5000"]
)
def test_the_test_clock_is_honoured_with_a_loopback_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], endpoint: str
) -> None:
    monkeypatch.setenv(TEST_NOW, "2030-01-02T03:04:05Z")
    forced = run_time(SimpleNamespace(endpoint_url=endpoint))
    assert forced.isoformat() == "2030-01-02T03:04:05+00:00"
    assert "clock set to 2030-01-02T03:04:05+00:00" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option",
    [
        "remind-days",
        "disable-days",
        "grace-days",
        "remind-every",
        "delete-days",
        "disable-unused-days",
        "max-exemption-days",
    ],
)
def test_day_options_are_at_most_a_century(option: str) -> None:
    """Past that, date arithmetic overflows (OverflowError, not a message)."""
    big = {"remind_days": "36500", "disable_days": "36500"}  # so the cross rule holds
    settings_from(parsed_args(**{**big, option.replace("-", "_"): "36500"}))
    with pytest.raises(InvalidOption, match="must be 36500 or less days, not 1000000000"):
        settings_from(parsed_args(**{**big, option.replace("-", "_"): "1000000000"}))


def test_progress_only_for_an_organization_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert account_progress("x", organization=True, stream=io.StringIO()) is None
    assert account_progress("x", organization=False, stream=Tty()) is None
    stream = Tty()
    progress = account_progress("x", organization=True, stream=stream)
    assert isinstance(progress, AccountProgress)
    progress(1, 2)
    progress(2, 2)
    progress.end()
    assert stream.getvalue() == "\rx: accounts 1/2\rx: accounts 2/2\n"


def parsed_args(**given: Any) -> SimpleNamespace:
    """What the CLI's parser gives: every option, None (or False for a flag) unless given."""
    flags = {a["name"] for a in EnforceKeyRotationCommand.ARG_TABLE if a.get("action")}
    names = [a["name"].replace("-", "_") for a in EnforceKeyRotationCommand.ARG_TABLE]
    args = {n: (False if n.replace("_", "-") in flags else None) for n in names}
    return SimpleNamespace(**{**args, **given})


def as_cli(settings: dict[str, Any]) -> dict[str, Any]:
    def value(v: Any) -> Any:
        return list(v) if isinstance(v, tuple) else v if isinstance(v, bool) else str(v)

    return {option_of(k).replace("-", "_"): value(v) for k, v in settings.items()}


def as_environment(settings: dict[str, Any]) -> dict[str, str]:
    def value(v: Any) -> str:
        return ",".join(v) if isinstance(v, tuple) else str(v).lower()

    return {lambda_env.VARIABLE_OF[k]: value(v) for k, v in settings.items()}


@pytest.mark.parametrize(("settings", "setting", "why"), CONFLICTS)
def test_the_cli_and_the_function_refuse_the_same_settings_by_the_cores_rule(
    settings: dict[str, Any], setting: str, why: str
) -> None:
    with pytest.raises(InvalidOption) as cli:
        settings_from(parsed_args(**as_cli(settings)))
    assert cli.value.option == option_of(setting)
    with pytest.raises(lambda_env.SettingError) as function:
        lambda_env.settings_from(as_environment(settings))
    assert function.value.variable == lambda_env.VARIABLE_OF[setting]
