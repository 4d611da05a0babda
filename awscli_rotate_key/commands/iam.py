"""The IAM port of the rotation core, on a botocore client created by the CLI's session."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from awscli_rotate_key.errors import IamError
from awscli_rotate_key.keys import AccessKey
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.rotation import User

T = TypeVar("T")
READ_ATTEMPTS = 3
_NOT_YET_KNOWN = ("InvalidClientTokenId", "SignatureDoesNotMatch")  # a new key propagating


@contextlib.contextmanager
def history_suspended() -> Iterator[None]:
    """Keep a response that carries a secret out of the CLI history (``cli_history``)."""
    from botocore.history import get_global_history_recorder

    recorder = get_global_history_recorder()
    was_enabled = getattr(recorder, "_enabled", False)
    recorder.disable()
    try:
        yield
    finally:
        if was_enabled:
            recorder.enable()


def history_off_for_this_run() -> None:
    """Stop the CLI history for the rest of this run, once an MFA session exists: every request
    made through the session carries its token (X-Amz-Security-Token), and the history records
    each request's headers (``~/.aws/cli/history/history.db``)."""
    from botocore.history import get_global_history_recorder

    get_global_history_recorder().disable()


def translate(operation: str, call: Callable[[], T]) -> T:
    """Run one botocore call; turn its failures into IamError."""
    try:
        return call()
    except ClientError as error:
        info = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        code = info.get("Code") or f"HTTP{status}"
        # A 5xx may have been applied before it failed: treat it as unanswered.
        raise IamError(operation, code, info.get("Message", ""), ambiguous=status >= 500) from None
    except ConnectTimeoutError as error:
        raise IamError(operation, "ConnectTimeout", str(error)) from None
    except ReadTimeoutError as error:
        raise IamError(operation, "ReadTimeout", str(error), ambiguous=True) from None
    except ConnectionClosedError as error:
        raise IamError(operation, "ConnectionClosed", str(error), ambiguous=True) from None
    # Not OSErrors for the caller (requests' exception types make them so): a certificate the
    # client rejects (TLS interception without AWS_CA_BUNDLE) will not fix itself; a proxy or
    # other connection failure may; anything else of the HTTP client may have been sent.
    except SSLError as error:
        raise IamError(operation, "SSLError", str(error)) from None
    except BotocoreConnectionError as error:
        raise IamError(operation, "ConnectionError", str(error)) from None
    except HTTPClientError as error:
        raise IamError(operation, "HTTPClientError", str(error), ambiguous=True) from None


def _timestamp(value: Any) -> dt.datetime:
    """The CLI's session leaves timestamps as strings; plain botocore parses them."""
    if isinstance(value, dt.datetime):
        return value
    from botocore.utils import parse_timestamp

    parsed: dt.datetime = parse_timestamp(value)
    return parsed


class BotocoreIam:
    """IAM calls acting on the signing key's own user (no UserName)."""

    def __init__(
        self, client: Any, sleep: Callable[[float], None] = time.sleep, proof: bool = False
    ) -> None:
        self._client = client
        self._sleep = sleep
        self._proof = proof

    def single_attempts(self) -> BotocoreIam:
        """The same client for the proof (rotate/prove.py): each call one attempt, GetUser
        without its ListAccessKeys fallback (an AccessDenied counts there). The proof's wait
        paces its calls, at most one a second before the first success."""
        return BotocoreIam(self._client, self._sleep, proof=True)

    def _read(self, operation: str, call: Callable[[], T]) -> T:
        """Read-only calls are retried on quick transient errors (throttling, 5xx).

        Not on timeouts: a hung call already took a whole read timeout, and the waits of the
        core are bounded by --wait-timeout. Not on a key IAM does not know yet: the core's
        wait (rotate/prove.py) polls for it at its own pace, one call a second. Not at all
        for the proof (``single_attempts``).
        """
        attempts = 1 if self._proof else READ_ATTEMPTS
        for attempt in range(attempts):
            try:
                return translate(operation, call)
            except IamError as error:
                timed_out = error.code in ("ReadTimeout", "ConnectTimeout", *_NOT_YET_KNOWN)
                if not error.transient or timed_out or attempt == attempts - 1:
                    raise
                self._sleep(0.3 * 2**attempt)
        raise AssertionError("unreachable")

    def get_user(self) -> User:
        try:
            user = self._read("GetUser", self._client.get_user)["User"]
            return User(user.get("UserName", ""), user.get("Arn", ""))
        except IamError as error:
            if error.code != "AccessDenied" or self._proof:
                raise
        listed = self._read("ListAccessKeys", self._client.list_access_keys)
        names = [k["UserName"] for k in listed["AccessKeyMetadata"] if k.get("UserName")]
        return User(names[0] if names else "", "")

    def list_access_keys(self) -> list[AccessKey]:
        listed = self._read("ListAccessKeys", self._client.list_access_keys)
        return [
            AccessKey(k["AccessKeyId"], k["Status"], _timestamp(k["CreateDate"]))
            for k in listed["AccessKeyMetadata"]
        ]

    def create_access_key(self) -> Credentials:
        with history_suspended():
            created = translate("CreateAccessKey", self._client.create_access_key)["AccessKey"]
        return Credentials(created["AccessKeyId"], created["SecretAccessKey"])

    def update_access_key(self, key_id: str, status: str) -> None:
        translate(
            "UpdateAccessKey",
            lambda: self._client.update_access_key(AccessKeyId=key_id, Status=status),
        )

    def delete_access_key(self, key_id: str) -> None:
        translate("DeleteAccessKey", lambda: self._client.delete_access_key(AccessKeyId=key_id))

    def last_used(self, key_id: str) -> str:
        try:
            used = self._read(
                "GetAccessKeyLastUsed",
                lambda: self._client.get_access_key_last_used(AccessKeyId=key_id),
            )["AccessKeyLastUsed"]
        except IamError as error:
            return f"unknown ({error.code})"
        when = used.get("LastUsedDate")
        if when is None:
            return "never"
        where = f"{used.get('ServiceName', '?')} in {used.get('Region', '?')}"
        return f"{_timestamp(when):%Y-%m-%d} ({where})"
