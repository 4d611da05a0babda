"""A logging filter that removes secret access keys and session tokens from log records.

``--debug`` logs every response body through ``botocore.parsers``, the body of CreateAccessKey
included; this filter rewrites such records in place so the rest of the debug output stays.
"""

import logging
import re

REDACTED = "<redacted>"

_PATTERNS = (
    # Query/XML protocols (IAM, STS): <SecretAccessKey>...</SecretAccessKey>
    re.compile(r"(<(SecretAccessKey|SessionToken)>)[^<]*(</\2>)"),
    # JSON protocols and parsed dicts: "SecretAccessKey": "..." / 'SecretAccessKey': '...'
    re.compile(
        r"""(["'](?:SecretAccessKey|SessionToken|aws_secret_access_key|aws_session_token"""
        r"""|X-Amz-Security-Token)["']\s*:\s*b?["'])[^"']*(["'])""",
        re.IGNORECASE,  # also request headers, e.g. 'X-Amz-Security-Token': b'...'
    ),
    # An MFA session's token in the canonical request that botocore.auth logs.
    re.compile(r"(x-amz-security-token:)\S+", re.IGNORECASE),
)


def redact(text: str) -> str:
    """Return ``text`` with every secret value replaced by a marker."""
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(2)}", text)
    return _PATTERNS[2].sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def _redact_value(value: object) -> object:
    if isinstance(value, bytes | bytearray):
        raw = bytes(value).decode("utf-8", "replace")
        cleaned = redact(raw)
        return value if cleaned == raw else cleaned.encode("utf-8")
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        text = repr(value)
        cleaned = redact(text)
        return value if cleaned == text else cleaned
    if isinstance(value, int | float) or value is None:
        return value
    # e.g. the request botocore.endpoint logs, whose headers carry an MFA session's token
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


def redact_record(record: logging.LogRecord) -> bool:
    """Redact secrets in a record's message and arguments, in place; keep the record."""
    if isinstance(record.msg, str) and ("Secret" in record.msg or "Token" in record.msg):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_value(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _redact_value(v) for k, v in record.args.items()}
    return True
