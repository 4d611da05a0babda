"""The proof's calls are single attempts, and an MFA session keeps the CLI history off.

commands/iam.py retries quick read failures (throttling, 5xx) three times within ~0.9 s; the
proof (rotate/prove.py) paces its own calls, at most one a second before the first success, so
it uses the port's single attempts (and GetUser without its ListAccessKeys fallback: under MFA
an AccessDenied counts as IAM knowing the key).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.history import get_global_history_recorder

from awscli_rotate_key.commands.iam import BotocoreIam
from awscli_rotate_key.commands.mfa import BotocoreSts
from awscli_rotate_key.errors import IamError
from awscli_rotate_key.rotate.prove import lists_keys, wait_until_key_works
from awscli_rotate_key.rotate.rotation import iam_knows_the_key
from tests.unit.fakes import FakeClock, RecordingReporter


def client_error(operation: str, code: str, status: int = 400) -> ClientError:
    meta = {"HTTPStatusCode": status}
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": meta}, operation
    )


@dataclass
class Client:
    """A botocore IAM client: ``code`` answers every call until ``clock`` reaches ``until``."""

    clock: FakeClock
    code: str = "Throttling"
    until: float = float("inf")
    calls: list[tuple[str, float]] = field(default_factory=list)

    def _call(self, operation: str, answer: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, self.clock.monotonic()))
        self.clock.sleep(0.05)  # latency
        if self.clock.monotonic() < self.until:
            raise client_error(operation, self.code, 403 if self.code == "AccessDenied" else 400)
        return answer

    def get_user(self) -> dict[str, Any]:
        return self._call("GetUser", {"User": {"UserName": "alice", "Arn": "arn:user/alice"}})

    def list_access_keys(self) -> dict[str, Any]:
        return self._call("ListAccessKeys", {"AccessKeyMetadata": []})


@dataclass
class Steps:
    clock: FakeClock = field(default_factory=FakeClock)
    reporter: RecordingReporter = field(default_factory=RecordingReporter)

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)


def test_other_reads_keep_their_retries_the_proofs_are_single_attempts() -> None:
    clock = FakeClock()
    client = Client(clock)
    iam = BotocoreIam(client, sleep=clock.sleep)

    with pytest.raises(IamError):
        iam.list_access_keys()
    assert len(client.calls) == 3  # inspect and the checks still ride out a short throttle
    client.calls.clear()
    with pytest.raises(IamError):
        iam.single_attempts().list_access_keys()
    assert len(client.calls) == 1


def test_a_proofs_get_user_access_denied_does_not_fall_back_to_list_access_keys() -> None:
    clock = FakeClock()
    client = Client(clock, code="AccessDenied")

    with pytest.raises(IamError):  # the fallback is denied too (AccessDenied on both)
        BotocoreIam(client, sleep=clock.sleep).get_user()
    assert [op for op, _ in client.calls] == ["GetUser", "ListAccessKeys"]
    client.calls.clear()
    iam_knows_the_key(BotocoreIam(client, sleep=clock.sleep).single_attempts())  # counts
    assert [op for op, _ in client.calls] == ["GetUser"]


@pytest.mark.parametrize("check", [lists_keys, iam_knows_the_key], ids=["list", "get-user"])
def test_through_a_throttling_window_the_proof_calls_at_most_once_a_second(check: Any) -> None:
    steps = Steps()
    end = steps.clock.monotonic() + 3.2  # the window of Throttling
    client = Client(steps.clock, until=end)

    iam = BotocoreIam(client, sleep=steps.clock.sleep)
    wait_until_key_works(steps, iam, end + 60, check=check)  # type: ignore[arg-type]

    times = [t for _, t in client.calls]
    first_success = next(i for i, t in enumerate(times) if t + 0.05 >= end)
    gaps = [b - a for a, b in itertools.pairwise(times[: first_success + 1])]
    assert gaps and min(gaps) >= 0.99, times
    assert len(times) == first_success + 2  # the confirming call, then done


@pytest.fixture
def history() -> Iterator[Any]:
    recorder = get_global_history_recorder()
    was = getattr(recorder, "_enabled", False)
    recorder.enable()
    yield recorder
    if not was:
        recorder.disable()


class Sts:
    def __init__(self, error: ClientError | None = None) -> None:
        self.error = error

    def get_session_token(self, **_: object) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return {
            "Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t"}
        }


def test_an_mfa_session_turns_the_cli_history_off_for_the_rest_of_the_run(history: Any) -> None:
    BotocoreSts(Sts()).get_session_token("arn:aws:iam::1:mfa/a", "123456", 900)

    assert history._enabled is False  # every call through the session would record its token


def test_a_refused_code_leaves_the_cli_history_as_it_was(history: Any) -> None:
    with pytest.raises(IamError):
        BotocoreSts(Sts(client_error("GetSessionToken", "AccessDenied", 403))).get_session_token(
            "arn:aws:iam::1:mfa/a", "123456", 900
        )

    assert history._enabled is True
