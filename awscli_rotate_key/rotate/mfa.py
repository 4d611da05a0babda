"""One MFA session per run, for users whose policy denies key actions without MFA.

AWS's self-service policy for MFA users ("manage their own credentials", ../README "MFA-protected
users") denies ListAccessKeys, CreateAccessKey, UpdateAccessKey and DeleteAccessKey unless the
request is signed by an MFA session. The session comes from sts:GetSessionToken, signed by the
old key, with the device's serial and one TOTP code (GetSessionToken takes no FIDO/passkey).

A TOTP code can be used once, and a second prompt in the same 30 s window fails (the frequent
failure of other tools): so at most one code and one GetSessionToken per run, cached here, a
refusal cached too. The session lives in memory only: never written to disk, never logged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from awscli_rotate_key.errors import IamError, Refused
from awscli_rotate_key.rotate.profiles import Credentials

MIN_SECONDS, MAX_SECONDS = 900, 129600  # GetSessionToken allows 900 s to 36 h for an IAM user
MARGIN_SECONDS = 300  # the calls between the waits, and a clock a little off
# What IAM answers for a session past its expiry (the Query API's code, and the JSON APIs').
SESSION_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException"})
_CODE = re.compile(r"[0-9]{6}")


class MfaSessions(Protocol):
    """What a rotation needs: the device, and a session of ``key`` for it (one per run)."""

    device: str

    def open(self, key: Credentials) -> Credentials: ...


class Sts(Protocol):
    """The STS call, signed by the key the session is for."""

    def get_session_token(self, serial: str, code: str, seconds: int) -> Credentials: ...


# The device's code: from --token-code, or one prompt when stdin is a terminal; None when
# neither can give one.
CodeSource = Callable[[str], str | None]


def session_seconds(wait_timeout: float, restart_timeout: float = 0.0) -> int:
    """Long enough for the run: three waits (the lock, the new key, the retirement), the
    restart command, a margin; within STS's 15 min to 36 h."""
    seconds = int(wait_timeout) * 3 + int(restart_timeout) + MARGIN_SECONDS
    return max(MIN_SECONDS, min(MAX_SECONDS, seconds))


def cover_restarts(mfa: MfaSessions | None, wait_timeout: float, *restarts: float) -> None:
    """Make the run's session (not open yet) outlast the restart commands it may wait for."""
    if isinstance(mfa, MfaSession) and restarts:
        mfa.last_at_least(session_seconds(wait_timeout, max(restarts)))


@dataclass
class _Opened:
    key_id: str
    session: Credentials | None = None
    refusal: Refused | None = None


class MfaSession:
    """MFA sessions of one device for one run: the first ``open`` asks STS, the rest reuse it."""

    def __init__(
        self,
        device: str,
        code_for: CodeSource,
        sts_for: Callable[[Credentials], Sts],
        seconds: int = MIN_SECONDS,
    ) -> None:
        self.device = device
        self._code_for = code_for
        self._sts_for = sts_for
        self._seconds = seconds
        self._opened: _Opened | None = None

    def last_at_least(self, seconds: int) -> None:
        """Ask for a session of ``seconds`` or more (a restart command to wait for), if the
        session is not open yet; an open one cannot be made longer."""
        self._seconds = max(self._seconds, min(MAX_SECONDS, seconds))

    def open(self, key: Credentials) -> Credentials:
        """A session of ``key`` authenticated with the device; Refused (exit 3) if none."""
        if self._opened is None:
            self._opened = self._get(key)
        elif self._opened.key_id != key.access_key_id:
            raise SecondCodeNeeded(
                f"one run uses one MFA code for {self.device}: a session of "
                f"{key.access_key_id} would need a second code. Run again for that key"
            )
        if self._opened.refusal is not None:
            raise self._opened.refusal
        assert self._opened.session is not None
        return self._opened.session

    def _get(self, key: Credentials) -> _Opened:
        """The one GetSessionToken of the run; its refusal is kept, never retried."""
        opened = _Opened(key.access_key_id)
        code = self._code_for(self.device)
        if code is None:
            opened.refusal = Refused(
                f"an MFA code for {self.device} is needed and stdin is not a terminal to ask "
                "for one; nothing was changed. Pass the current code with --token-code CODE"
            )
        elif not _CODE.fullmatch(code):
            opened.refusal = Refused(
                f"the MFA code for {self.device} must be 6 digits; nothing was changed. Run "
                "again with the current code"
            )
        else:
            try:
                sts = self._sts_for(key)
                opened.session = sts.get_session_token(self.device, code, self._seconds)
            except IamError as error:
                opened.refusal = refused_by_sts(error, self.device)
        return opened


class SecondCodeNeeded(Refused):
    """A session of another key was asked for: that needs a second code, never asked in a run."""


def refused_by_sts(error: IamError, device: str) -> Refused:
    """GetSessionToken failed: nothing was changed, and the code may be spent."""
    if error.code == "AccessDenied":
        return Refused(
            f"the MFA code for {device} was refused ({error.code}: {error.message.strip()}); "
            "nothing was changed; wait for the next code and run again"
        )
    return Refused(
        f"could not get an MFA session ({error.code}: {error.message.strip()}); nothing was "
        "changed; wait for the next code and run again"
    )
