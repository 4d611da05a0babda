"""commands/mfa.py: which device, where the code comes from, the option checks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from awscli_rotate_key.commands.mfa import (
    code_source,
    mfa_device,
    mfa_serial_option,
    token_code_option,
)
from awscli_rotate_key.errors import InvalidOption
from awscli_rotate_key.rotate.profiles import KeySource

ARN = "arn:aws:iam::123456789012:mfa/alice"
ROLE = KeySource("dev", "alice", ("dev", "alice"))  # profile dev assumes a role from alice's key


@pytest.mark.parametrize(
    ("option", "profiles", "device"),
    [
        (ARN, {"alice": {"mfa_serial": "GAHT12345678"}}, ARN),
        (
            None,
            {"alice": {"mfa_serial": "GAHT12345678"}, "dev": {"mfa_serial": ARN}},
            "GAHT12345678",
        ),
        (None, {"alice": {}, "dev": {"mfa_serial": ARN}}, ARN),
        (None, {"alice": {}, "dev": {}}, None),
    ],
    ids=["option", "holder", "asked-for", "none"],
)
def test_the_device_option_then_the_holder_then_the_profile_asked_for(
    option: str | None, profiles: dict[str, dict[str, str]], device: str | None
) -> None:
    assert mfa_device(option, ROLE, profiles) == device


def test_the_code_is_the_option_or_one_prompt_on_a_terminal_only() -> None:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return " 123456 "

    assert code_source("654321", terminal=True, ask=ask)(ARN) == "654321"
    assert code_source(None, terminal=False, ask=ask)(ARN) is None
    assert asked == []
    assert code_source(None, terminal=True, ask=ask)(ARN) == "123456"
    assert asked == [f"MFA code for {ARN}: "]


def test_end_of_input_at_the_prompt_is_no_code() -> None:
    def ask(prompt: str) -> str:
        raise EOFError

    assert code_source(None, terminal=True, ask=ask)(ARN) is None


@pytest.mark.parametrize(
    "serial", [ARN, "arn:aws-us-gov:iam::123456789012:mfa/path/alice", "GAHT12345678"]
)
def test_good_serials(serial: str) -> None:
    assert mfa_serial_option(SimpleNamespace(mfa_serial=serial)) == serial


@pytest.mark.parametrize(
    "serial",
    ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::1234:mfa/a", "short", "a b c d e f"],
)
def test_bad_serials_are_usage_errors(serial: str) -> None:
    with pytest.raises(InvalidOption, match="--mfa-serial"):
        mfa_serial_option(SimpleNamespace(mfa_serial=serial))


@pytest.mark.parametrize("code", ["12345", "1234567", "12 456", "abcdef"])
def test_bad_codes_are_usage_errors(code: str) -> None:
    with pytest.raises(InvalidOption, match="not a 6-digit MFA code"):
        token_code_option(SimpleNamespace(token_code=code))
    assert token_code_option(SimpleNamespace(token_code="012345")) == "012345"
