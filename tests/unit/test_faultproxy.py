"""The fault-injection proxy forwards signed calls to moto intact and injects each kind of fault.

MotoServer clients use ``max_attempts=1``, which in botocore's legacy retry mode still allows one
retry of retryable errors (5xx, throttling, dropped connections), so faults here either use
non-retryable 4xx codes or last for every attempt.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.support.faultproxy import INVALID_TOKEN, Call, FaultProxy
from tests.support.moto import Key, MotoServer

WAIT = 5.0


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream=moto_server.url)
    yield proxy
    proxy.stop()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def _user_key(moto_server: MotoServer) -> tuple[str, Key]:
    """A fresh self-service user and one of its keys."""
    user = moto_server.make_user()
    return user, moto_server.make_key(user)


def _error_code(call: object) -> str:
    """The ClientError code a zero-argument callable raises."""
    with pytest.raises(ClientError) as raised:
        call()  # type: ignore[operator]
    return str(raised.value.response["Error"]["Code"])


def _exists(moto_server: MotoServer, user: str) -> bool:
    """Whether moto itself (not through the proxy) knows the user."""
    try:
        moto_server.iam.get_user(UserName=user)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchEntity"
        return False
    return True


def _new_name() -> str:
    return f"fp-{uuid.uuid4().hex[:10]}"


def test_forwards_signed_calls_and_logs_them(moto_server: MotoServer, proxy: FaultProxy) -> None:
    user, key = _user_key(moto_server)
    iam = moto_server.client("iam", key, endpoint_url=proxy.url)

    assert iam.get_user()["User"]["UserName"] == user
    assert _error_code(lambda: iam.get_user(UserName=_new_name())) == "NoSuchEntity"

    bogus = moto_server.client("iam", Key("AKIAAAAAAAAAAAAAAAAA", "x"), endpoint_url=proxy.url)
    assert _error_code(bogus.list_users) == "InvalidClientTokenId"
    first, second, third = proxy.calls
    assert (first.action, first.key_id, first.status, first.injected) == (
        "GetUser",
        key.access_key_id,
        200,
        False,
    )
    assert first.ended is not None and first.ended >= first.started
    assert (second.status, second.error_code, second.injected) == (404, "NoSuchEntity", False)
    assert (third.error_code, third.injected) == ("InvalidClientTokenId", False)
    assert proxy.actions(key.access_key_id) == ["GetUser", "GetUser"]
    proxy.reset_log()
    assert proxy.calls == []


def test_fail_query_protocol_stops_after_times(moto_server: MotoServer, proxy: FaultProxy) -> None:
    user, key = _user_key(moto_server)
    iam = moto_server.client("iam", key, endpoint_url=proxy.url)
    rule = proxy.fail("GetUser", "AccessDenied", status=403, times=2, message="no way")

    with pytest.raises(ClientError) as raised:
        iam.get_user()
    assert raised.value.response["Error"]["Message"] == "no way"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert _error_code(iam.get_user) == "AccessDenied"
    assert iam.get_user()["User"]["UserName"] == user
    assert rule.hits == 2
    assert [(c.status, c.error_code, c.injected) for c in proxy.calls] == [
        (403, "AccessDenied", True),
        (403, "AccessDenied", True),
        (200, None, False),
    ]


def test_fail_5xx_is_a_receiver_fault(moto_server: MotoServer, proxy: FaultProxy) -> None:
    iam = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
    proxy.fail("*", "ServiceFailure", status=500, times=None)

    with pytest.raises(ClientError) as raised:
        iam.list_users()
    assert raised.value.response["Error"]["Code"] == "ServiceFailure"
    assert raised.value.response["Error"]["Type"] == "Receiver"


def test_fail_json_protocol(moto_server: MotoServer, proxy: FaultProxy) -> None:
    org = moto_server.client("organizations", moto_server.admin, endpoint_url=proxy.url)
    rule = proxy.fail({"ListAccounts", "DescribeOrganization"}, "AccessDeniedException")

    assert _error_code(org.list_accounts) == "AccessDeniedException"
    try:
        org.list_accounts()
    except ClientError as error:
        assert error.response["Error"]["Code"] != "AccessDeniedException"
    assert rule.hits == 1
    assert [(c.action, c.injected) for c in proxy.calls] == [
        ("ListAccounts", True),
        ("ListAccounts", False),
    ]


def test_fail_after_lets_the_action_happen(moto_server: MotoServer, proxy: FaultProxy) -> None:
    iam = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
    name = _new_name()
    proxy.fail("CreateUser", "LimitExceeded", status=409, after=True)

    assert _error_code(lambda: iam.create_user(UserName=name)) == "LimitExceeded"
    assert _exists(moto_server, name)
    assert proxy.calls[0].injected


def test_reject_unknown_keys_times(moto_server: MotoServer, proxy: FaultProxy) -> None:
    user, key = _user_key(moto_server)
    iam = moto_server.client("iam", key, endpoint_url=proxy.url)
    admin = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
    rule = proxy.reject_unknown_keys([moto_server.admin.access_key_id], times=2)

    with pytest.raises(ClientError) as raised:
        iam.get_user()
    assert raised.value.response["Error"]["Message"] == INVALID_TOKEN
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    admin.get_user(UserName=user)
    assert _error_code(iam.get_user) == "InvalidClientTokenId"
    assert iam.get_user()["User"]["UserName"] == user
    assert rule.hits == 2
    assert [c.injected for c in proxy.calls] == [True, False, True, False]


def test_reject_keys_for_seconds_per_key(moto_server: MotoServer, proxy: FaultProxy) -> None:
    user, key = _user_key(moto_server)
    other = moto_server.make_key(user)
    iam = moto_server.client("iam", key, endpoint_url=proxy.url)
    proxy.reject_keys(
        lambda key_id: key_id in {key.access_key_id, other.access_key_id}, seconds=0.3
    )

    assert _error_code(iam.get_user) == "InvalidClientTokenId"
    assert _error_code(iam.get_user) == "InvalidClientTokenId"
    time.sleep(0.35)
    assert iam.get_user()["User"]["UserName"] == user
    late = moto_server.client("iam", other, endpoint_url=proxy.url)
    assert _error_code(late.get_user) == "InvalidClientTokenId"


def test_hang_before_holds_the_action(
    moto_server: MotoServer, proxy: FaultProxy, pool: ThreadPoolExecutor
) -> None:
    iam = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
    name = _new_name()
    rule = proxy.hang("CreateUser")

    pending = pool.submit(iam.create_user, UserName=name)
    assert rule.reached.wait(WAIT)
    assert not _exists(moto_server, name)
    assert not pending.done()
    rule.release()
    assert pending.result(WAIT)["User"]["UserName"] == name
    assert rule.hits == 1


def test_hang_after_holds_the_reply(
    moto_server: MotoServer, proxy: FaultProxy, pool: ThreadPoolExecutor
) -> None:
    iam = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
    name = _new_name()
    rule = proxy.hang("CreateUser", when="after")

    pending = pool.submit(iam.create_user, UserName=name)
    assert rule.reached.wait(WAIT)
    assert _exists(moto_server, name)
    assert not pending.done()
    proxy.remove(rule)
    assert pending.result(WAIT)["User"]["UserName"] == name


def test_hang_for_seconds_lets_go_by_itself(moto_server: MotoServer, proxy: FaultProxy) -> None:
    iam = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
    proxy.hang("*", seconds=0.2)

    started = time.monotonic()
    iam.list_users()
    assert time.monotonic() - started >= 0.2


def test_on_calls_back_before_and_after(moto_server: MotoServer, proxy: FaultProxy) -> None:
    _, key = _user_key(moto_server)
    iam = moto_server.client("iam", key, endpoint_url=proxy.url)
    seen: list[tuple[str, Call]] = []
    before = proxy.on("GetUser", lambda call: seen.append(("before", replace(call))))
    proxy.on("GetUser", lambda call: seen.append(("after", replace(call))), when="after")

    iam.get_user()
    iam.list_access_keys()
    assert [(when, c.action, c.key_id, c.status) for when, c in seen] == [
        ("before", "GetUser", key.access_key_id, None),
        ("after", "GetUser", key.access_key_id, 200),
    ]
    assert before.hits == 1
    proxy.clear_rules()
    iam.get_user()
    assert len(seen) == 2


def test_drop_after_loses_the_response(moto_server: MotoServer, proxy: FaultProxy) -> None:
    iam = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
    name = _new_name()
    proxy.drop("CreateUser", when="after", times=None)

    with pytest.raises(BotoCoreError):
        iam.create_user(UserName=name)
    assert _exists(moto_server, name)
    assert proxy.calls[0].status is None and proxy.calls[0].injected


def test_latency_delays_every_request(moto_server: MotoServer, proxy: FaultProxy) -> None:
    iam = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
    iam.list_users()
    proxy.latency = 0.2

    started = time.monotonic()
    iam.list_users()
    assert time.monotonic() - started >= 0.2
    call = proxy.calls[-1]
    assert call.ended is not None and call.ended - call.started >= 0.2


def test_unreachable_upstream_is_a_502(moto_server: MotoServer) -> None:
    with FaultProxy(upstream="http://127.0.0.1:1") as proxy:
        iam = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
        assert _error_code(iam.list_users) == "BadGateway"
        assert proxy.calls[0].status == 502


def test_stop_releases_hung_requests_fast(
    moto_server: MotoServer, proxy: FaultProxy, pool: ThreadPoolExecutor
) -> None:
    iam = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
    idle = moto_server.client("iam", moto_server.admin, endpoint_url=proxy.url)
    idle.list_users()  # leaves a keep-alive connection open on the proxy
    rule = proxy.hang("GetUser")
    pending: Future[object] = pool.submit(iam.get_user)
    assert rule.reached.wait(WAIT)

    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 1.0
    assert pending.exception(WAIT) is not None
