"""The IAM credential report: ask for it, wait for it with bounded backoff, download and parse it.

The report is one CSV row per IAM user (and one for the root user) with two access key slots.
It names no access key IDs. IAM makes a new report at most every 4 hours and otherwise hands
back the last one, so what we parse may be up to 4 hours old: ``generated_time`` says how old.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

ROOT_USER = "<root_account>"
HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
COLUMNS = tuple(HEADER.split(","))
# Markers IAM writes where a value does not exist or is not known; all become None.
NO_VALUE = frozenset({"", "n/a", "not_supported", "no_information"})
# GetCredentialReport codes that mean "not yet": wait and ask again.
NOT_READY = frozenset({"ReportInProgress", "ReportNotPresent"})
# What a failed AWS call raises: an error answer, or a transport/credentials failure.
AWS_FAILURES = (ClientError, BotoCoreError)
LIMITED = "LIMITED"  # GenerateCredentialReport said LimitExceeded: a report may still exist

_BOM = "\ufeff"
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


class ReportUnavailable(Exception):
    """The credential report could not be had within the wait budget."""


class ReportFormatError(ValueError):
    """The credential report is not the CSV we know."""


@dataclass(frozen=True)
class KeySlot:
    """One of a user's two access key slots in the report (only slots holding a key)."""

    number: int
    active: bool
    last_rotated: dt.datetime | None
    last_used_date: dt.datetime | None
    last_used_region: str | None
    last_used_service: str | None


@dataclass(frozen=True)
class UserRow:
    user: str
    arn: str
    slots: tuple[KeySlot, ...]

    @property
    def is_root(self) -> bool:
        return self.user == ROOT_USER


@dataclass(frozen=True)
class CredentialReport:
    generated_time: dt.datetime | None
    users: tuple[UserRow, ...]


@dataclass(frozen=True)
class ReportWait:
    """How long to wait for IAM to finish a report: doubling delays, capped, within a budget."""

    first_delay: float = 0.25
    max_delay: float = 8.0
    timeout: float = 300.0


DEFAULT_WAIT = ReportWait()


# --- parsing --------------------------------------------------------------------------------


def parse_timestamp(value: Any) -> dt.datetime:
    """A UTC datetime to the second from a datetime or an ISO 8601 string ("Z" or an offset).

    The CLI's session leaves timestamps as the strings on the wire; plain botocore parses them.
    The report has no fractions of a second, so neither do we.
    """
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        match = _ISO.match(str(value).strip())
        if not match:
            raise ReportFormatError(f"not a timestamp: {value!r}")
        day, clock, zone = match.groups()
        offset = "+00:00" if zone in (None, "Z") else zone
        if len(offset) == 5:  # +0000
            offset = f"{offset[:3]}:{offset[3:]}"
        parsed = dt.datetime.fromisoformat(f"{day}T{clock}{offset}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc).replace(microsecond=0)


def _value(text: str | None) -> str | None:
    if text is None or text.strip().lower() in NO_VALUE:
        return None
    return text.strip()


def _boolean(text: str | None) -> bool:
    # Real reports say "true"/"false"; accept any case.
    value = _value(text)
    return value is not None and value.lower() == "true"


def _time(text: str | None) -> dt.datetime | None:
    value = _value(text)
    return None if value is None else parse_timestamp(value)


def _slot(row: dict[str, str], number: int) -> KeySlot | None:
    prefix = f"access_key_{number}_"
    active = _boolean(row.get(prefix + "active"))
    last_rotated = _time(row.get(prefix + "last_rotated"))
    if not active and last_rotated is None:
        return None  # an empty slot (an inactive key still has its last_rotated date)
    return KeySlot(
        number=number,
        active=active,
        last_rotated=last_rotated,
        last_used_date=_time(row.get(prefix + "last_used_date")),
        last_used_region=_value(row.get(prefix + "last_used_region")),
        last_used_service=_value(row.get(prefix + "last_used_service")),
    )


def report_text(content: bytes | str) -> str:
    """The CSV text of GetCredentialReport's ``Content``.

    Plain botocore decodes the blob to bytes; the CLI's session leaves it as base64 text.
    """
    if isinstance(content, str) and not content.lstrip(_BOM).startswith("user,"):
        try:
            content = base64.b64decode(content, validate=True)
        except binascii.Error as error:
            raise ReportFormatError("credential report is neither CSV nor base64") from error
    if isinstance(content, bytes):
        content = content.decode("utf-8")
    return content.lstrip(_BOM)


def parse_credential_report(content: bytes | str, generated_time: Any = None) -> CredentialReport:
    """Parse the report's CSV; quirk markers (``N/A``, ``not_supported``, ...) become None."""
    text = report_text(content)
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("user", "arn", *COLUMNS[8:18]) if c not in (reader.fieldnames or [])]
    if missing:
        raise ReportFormatError(f"credential report lacks columns: {', '.join(missing)}")
    users = []
    for row in reader:
        slots = tuple(s for s in (_slot(row, 1), _slot(row, 2)) if s is not None)
        users.append(UserRow(user=row["user"], arn=row["arn"], slots=slots))
    when = None if generated_time in (None, "") else parse_timestamp(generated_time)
    return CredentialReport(generated_time=when, users=tuple(users))


# --- fetching -------------------------------------------------------------------------------


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a ClientError; None for any other exception."""
    if not isinstance(error, ClientError):
        return None
    return str(error.response.get("Error", {}).get("Code") or "Unknown")


def describe_failure(error: BaseException) -> str:
    """One line: ``Operation: Code: message`` for AWS errors, the exception text otherwise."""
    if not isinstance(error, ClientError):
        return str(error) or type(error).__name__
    operation = getattr(error, "operation_name", None)
    message = error.response.get("Error", {}).get("Message") or ""
    said = f"{error_code(error)}: {message}" if message else str(error_code(error))
    return f"{operation}: {said}" if operation else said


def fetch_credential_report(
    iam: Any,
    wait: ReportWait = DEFAULT_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CredentialReport:
    """Generate (or reuse) the account's credential report, wait until it is ready, parse it.

    ``ReportInProgress``/``ReportNotPresent`` and ``LimitExceeded`` are waited out with
    doubling delays; ``ReportExpired`` asks for a new report at once, then waits like the rest.
    Any other error is raised as it came.
    """
    deadline = clock() + wait.timeout
    delay = wait.first_delay
    regenerated = False
    while True:
        state, last = _request_report(iam)
        if state in ("COMPLETE", LIMITED):
            report, code, last = _download_report(iam)
            if report is not None:
                return report
            if code == "ReportExpired" and not regenerated:
                regenerated = True
                continue
        if clock() + delay > deadline:
            raise ReportUnavailable(
                f"credential report not ready after {wait.timeout:g} s (last answer: {last})"
            )
        sleep(delay)
        delay = min(delay * 2, wait.max_delay)


def _request_report(iam: Any) -> tuple[str, str]:
    """(state, what IAM said): the report's state, or LIMITED when IAM refused for now."""
    try:
        state = str(iam.generate_credential_report().get("State", ""))
    except ClientError as error:
        if error_code(error) not in ("LimitExceeded", "LimitExceededException"):
            raise
        return LIMITED, describe_failure(error)
    return state, f"GenerateCredentialReport: State {state}"


def _download_report(iam: Any) -> tuple[CredentialReport | None, str, str]:
    """(report, "", "") or, when it is not ready or has expired, (None, code, what IAM said)."""
    try:
        response = iam.get_credential_report()
    except ClientError as error:
        code = error_code(error) or ""
        if code not in NOT_READY and code != "ReportExpired":
            raise
        return None, code, describe_failure(error)
    report = parse_credential_report(response["Content"], response.get("GeneratedTime"))
    return report, "", ""
