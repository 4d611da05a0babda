"""The command side of an MFA run: --mfa-serial and --token-code, the device, the code, STS.

The core (rotate/mfa.py) gets one MFA session per run from these pieces; this module only reads
options and the profiles, asks for a code (once, and only when stdin is a terminal) and builds
the STS client from the CLI's session, like the IAM clients (commands/wiring.py).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from typing import Any

from awscli_rotate_key.commands.iam import history_off_for_this_run, history_suspended, translate
from awscli_rotate_key.commands.options import text
from awscli_rotate_key.commands.runtime import key_clients
from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate.mfa import CodeSource, MfaSession, session_seconds
from awscli_rotate_key.rotate.profiles import Credentials, KeySource

# GetSessionToken's SerialNumber: a virtual device's ARN, or a hardware device's serial (STS's
# pattern). A value starting with arn: must be an MFA device's ARN: a user's ARN is a common slip.
_MFA_ARN = r"arn:aws[-a-z]*:iam::\d{12}:mfa/[\w+=,.@/-]+"
_HARDWARE_SERIAL = r"[\w+=/:,.@-]{9,256}"
_SERIAL_WHAT = "an MFA device ARN (arn:aws:iam::ACCOUNT:mfa/NAME) or a hardware device serial"
_TOKEN_CODE = r"[0-9]{6}"


def mfa_serial_option(parsed_args: Any) -> str | None:
    value = text("mfa-serial", getattr(parsed_args, "mfa_serial", None))
    if value is None:
        return None
    pattern = _MFA_ARN if value.startswith("arn:") else _HARDWARE_SERIAL
    return text("mfa-serial", value, pattern, _SERIAL_WHAT)


def token_code_option(parsed_args: Any) -> str | None:
    value = getattr(parsed_args, "token_code", None)
    return text("token-code", value, _TOKEN_CODE, "a 6-digit MFA code")


def mfa_device(
    serial: str | None, source: KeySource, profiles: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """--mfa-serial, else ``mfa_serial`` of the profile holding the key, else of the one
    asked for (a role profile's device is usually its user's)."""
    if serial:
        return serial
    for name in (source.profile, source.requested):
        value = profiles.get(name, {}).get("mfa_serial")
        if value:
            return str(value).strip()
    return None


def code_source(
    token_code: str | None, terminal: bool, ask: Callable[[str], str] = getpass.getpass
) -> CodeSource:
    """--token-code, else one prompt when stdin is a terminal, else None (the core refuses)."""

    def code_for(device: str) -> str | None:
        if token_code is not None:
            return token_code
        if not terminal:
            return None
        try:
            return ask(f"MFA code for {device}: ").strip()
        except EOFError:
            return None

    return code_for


class BotocoreSts:
    """sts:GetSessionToken on a botocore client signed by the key the session is for."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get_session_token(self, serial: str, code: str, seconds: int) -> Credentials:
        with history_suspended():  # the answer carries a secret and a token
            answer = translate(
                "GetSessionToken",
                lambda: self._client.get_session_token(
                    SerialNumber=serial, TokenCode=code, DurationSeconds=seconds
                ),
            )["Credentials"]
        history_off_for_this_run()  # every call through the session would record its token
        return Credentials(
            answer["AccessKeyId"], answer["SecretAccessKey"], session_token=answer["SessionToken"]
        )


def sts_factory(
    session: Any, parsed_globals: Any, wait_timeout: float
) -> Callable[[Credentials], BotocoreSts]:
    """STS clients like the IAM ones (runtime.key_clients): one attempt, as a code is good once."""
    make = key_clients(session, parsed_globals, wait_timeout, "sts")
    return lambda key: BotocoreSts(make(key))


def mfa_sessions(
    session: Any,
    parsed_args: Any,
    parsed_globals: Any,
    source: KeySource,
    wait_timeout: float,
    terminal: bool,
) -> MfaSession | None:
    """The run's MFA sessions when a device is found (see ``mfa_device``), else None."""
    serial = mfa_serial_option(parsed_args)
    token_code = token_code_option(parsed_args)
    device = mfa_device(serial, source, session.full_config.get("profiles", {}))
    if device is None:
        if token_code is not None:
            raise Refused(
                "--token-code was given but no MFA device is known (no --mfa-serial, no "
                f"mfa_serial in profile {source.profile!r}); nothing was changed"
            )
        return None
    return MfaSession(
        device,
        code_source(token_code, terminal),
        sts_factory(session, parsed_globals, wait_timeout),
        session_seconds(wait_timeout),
    )
