"""rotate/mfa.py: one code and one GetSessionToken per run, refusals that change nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from awscli_rotate_key.errors import EXIT_REFUSED, IamError, Refused
from awscli_rotate_key.rotate.mfa import MfaSession, MfaSessions, session_seconds
from awscli_rotate_key.rotate.profiles import Credentials

DEVICE = "arn:aws:iam::123456789012:mfa/alice"
OLD = Credentials("AKIAOLDOLDOLDOLDOLD1", "old-secret")
SESSION = Credentials("ASIASESSIONSESSION01", "session-secret", session_token="token")
WRONG = "MultiFactorAuthentication failed with invalid MFA one time pass code."


@dataclass
class FakeSts:
    refuse_with: str | None = None
    calls: list[tuple[str, str, str, int]] = field(default_factory=list)

    def get_session_token(self, serial: str, code: str, seconds: int) -> Credentials:
        self.calls.append((self.signer, serial, code, seconds))
        if self.refuse_with:
            raise IamError("GetSessionToken", self.refuse_with, WRONG)
        return SESSION

    signer: str = ""


@dataclass
class Codes:
    code: str | None = "123456"
    asked: list[str] = field(default_factory=list)

    def __call__(self, device: str) -> str | None:
        self.asked.append(device)
        return self.code


def make(code: str | None = "123456", refuse_with: str | None = None, seconds: int = 900):  # type: ignore[no-untyped-def]
    sts, codes = FakeSts(refuse_with), Codes(code)

    def sts_for(key: Credentials) -> FakeSts:
        sts.signer = key.access_key_id
        return sts

    return MfaSession(DEVICE, codes, sts_for, seconds), sts, codes


def test_a_session_signed_by_the_key_with_the_device_and_the_code() -> None:
    mfa, sts, codes = make(seconds=1200)
    sessions: MfaSessions = mfa  # the contract the sequence uses

    assert sessions.device == DEVICE
    assert sessions.open(OLD) == SESSION
    assert sts.calls == [(OLD.access_key_id, DEVICE, "123456", 1200)]
    assert codes.asked == [DEVICE]


def test_one_code_and_one_get_session_token_per_run() -> None:
    mfa, sts, codes = make()

    assert mfa.open(OLD) is mfa.open(OLD) is mfa.open(OLD)
    assert len(sts.calls) == 1 and codes.asked == [DEVICE]


def test_a_session_of_another_key_would_need_a_second_code_and_is_refused() -> None:
    mfa, sts, codes = make()
    mfa.open(OLD)

    with pytest.raises(Refused, match="second code"):
        mfa.open(Credentials("AKIANEWNEWNEWNEWNEW1", "new-secret"))
    assert len(sts.calls) == 1 and len(codes.asked) == 1


def test_no_terminal_and_no_token_code_refuses_naming_the_option() -> None:
    mfa, sts, _ = make(code=None)

    with pytest.raises(Refused) as refused:
        mfa.open(OLD)
    assert refused.value.exit_code == EXIT_REFUSED
    assert "--token-code" in str(refused.value) and "nothing was changed" in str(refused.value)
    assert sts.calls == []


@pytest.mark.parametrize("code", ["12345", "1234567", "12a456", ""])
def test_a_code_that_is_not_six_digits_is_refused_before_sts(code: str) -> None:
    mfa, sts, _ = make(code=code)

    with pytest.raises(Refused, match="6 digits"):
        mfa.open(OLD)
    assert sts.calls == []


def test_a_code_sts_refuses_is_refused_once_and_never_retried() -> None:
    mfa, sts, codes = make(refuse_with="AccessDenied")

    for _ in range(2):
        with pytest.raises(Refused) as refused:
            mfa.open(OLD)
        message = str(refused.value)
        assert message.startswith(f"the MFA code for {DEVICE} was refused (AccessDenied: {WRONG})")
        assert "nothing was changed; wait for the next code and run again" in message
    assert len(sts.calls) == 1 and len(codes.asked) == 1


def test_any_other_sts_failure_changes_nothing_and_is_not_retried() -> None:
    mfa, sts, _ = make(refuse_with="ConnectionError")

    with pytest.raises(Refused, match=r"could not get an MFA session \(ConnectionError"):
        mfa.open(OLD)
    with pytest.raises(Refused):
        mfa.open(OLD)
    assert len(sts.calls) == 1


def test_the_session_never_shows_its_secret_or_token() -> None:
    assert "session-secret" not in repr(SESSION) and "token" not in repr(SESSION)


@pytest.mark.parametrize(
    ("wait_timeout", "restart_timeout", "seconds"),
    [
        (1, 0, 900),
        (60, 0, 900),
        (300, 0, 1200),
        (1000, 0, 3300),
        (5000, 0, 15300),  # a long --wait-timeout: the session outlasts it (was capped at 1 h)
        (60, 300, 900),
        (60, 3600, 4080),  # --restart-timeout counts: wait x 3 + restart + 300 s
        (30000, 50000, 129600),  # STS's longest: 36 hours
    ],
)
def test_the_session_lasts_for_the_run_within_15_minutes_and_36_hours(
    wait_timeout: float, restart_timeout: float, seconds: int
) -> None:
    assert session_seconds(wait_timeout, restart_timeout) == seconds
