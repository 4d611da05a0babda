"""The fault proxy's play of STS and the MFA self-service policy (tests/support/mfaplay.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.faultproxy import FaultProxy
from tests.support.mfaplay import (
    MFA_SELF_SERVICE_POLICY,
    UNKNOWN_DEVICE,
    WRONG_CODE,
    MfaPlay,
    adapted_for_moto,
    not_actions,
)
from tests.support.moto import REGION, Key, MotoServer

CODE, OTHER_CODE = "123456", "654321"


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream=moto_server.url)
    yield proxy
    proxy.stop()


class Mfa:
    """A protected user with one key and one device, behind the proxy's play."""

    def __init__(self, moto: MotoServer, proxy: FaultProxy, kills: bool = True) -> None:
        self.moto, self.proxy = moto, proxy
        self.user = moto.make_user(policy=adapted_for_moto(MFA_SELF_SERVICE_POLICY))
        self.key = moto.make_key(self.user)
        self.serial = f"arn:aws:iam::123456789012:mfa/{self.user}"
        self.play = proxy.play_mfa(MfaPlay(parent_key_kills_sessions=kills))
        self.play.protect(self.user)
        self.play.add_device(self.user, self.serial)
        self.play.allow_codes(self.serial, CODE, OTHER_CODE)

    def client(self, service: str, key: Key | None = None, token: str | None = None) -> Any:
        key = key or self.key
        return botocore.session.Session().create_client(
            service,
            region_name=REGION,
            endpoint_url=self.proxy.url,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
            aws_session_token=token,
            config=Config(retries={"total_max_attempts": 1}),
        )

    def session(self, code: str | None = CODE, key: Key | None = None) -> dict[str, str]:
        kwargs = {"SerialNumber": self.serial, "TokenCode": code} if code else {}
        answer = self.client("sts", key).get_session_token(DurationSeconds=900, **kwargs)
        return dict(answer["Credentials"])

    def through(self, session: dict[str, str], service: str = "iam") -> Any:
        key = Key(session["AccessKeyId"], session["SecretAccessKey"])
        return self.client(service, key, token=session["SessionToken"])


def _error(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    error = raised.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def test_without_mfa_only_the_not_action_list_works(
    moto_server: MotoServer, proxy: FaultProxy
) -> None:
    mfa = Mfa(moto_server, proxy)
    iam = mfa.client("iam")

    assert iam.get_user()["User"]["UserName"] == mfa.user
    assert mfa.client("sts").get_caller_identity()["Arn"].endswith(f"user/{mfa.user}")
    for call in (iam.list_access_keys, iam.create_access_key):
        code, message = _error(call)
        assert code == "AccessDenied" and "explicit deny" in message
    code, _ = _error(iam.update_access_key, AccessKeyId=mfa.key.access_key_id, Status="Inactive")
    assert code == "AccessDenied"
    assert moto_server.keys(mfa.user) == {mfa.key.access_key_id: "Active"}  # moto never saw it


def test_an_mfa_session_is_bound_to_the_key_and_re_signed_with_it(
    moto_server: MotoServer, proxy: FaultProxy
) -> None:
    mfa = Mfa(moto_server, proxy)
    session = mfa.session()
    iam = mfa.through(session)

    assert session["AccessKeyId"].startswith("ASIA") and session["SessionToken"]
    listed = iam.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [mfa.key.access_key_id]
    assert mfa.play.sessions[session["AccessKeyId"]].parent_key_id == mfa.key.access_key_id
    calls = [(c.action, c.key_id, c.status) for c in proxy.calls]
    assert calls == [
        ("GetSessionToken", mfa.key.access_key_id, 200),
        ("ListAccessKeys", session["AccessKeyId"], 200),
    ]
    # STS calls other than GetSessionToken go to moto, re-signed too.
    assert mfa.through(session, "sts").get_caller_identity()["Account"] == "123456789012"


def test_a_wrong_a_reused_and_a_malformed_code_are_refused_like_sts(
    moto_server: MotoServer, proxy: FaultProxy
) -> None:
    mfa = Mfa(moto_server, proxy)
    sts = mfa.client("sts")

    assert _error(sts.get_session_token, SerialNumber=mfa.serial, TokenCode="000000") == (
        "AccessDenied",
        WRONG_CODE,
    )
    mfa.session(CODE)
    assert _error(sts.get_session_token, SerialNumber=mfa.serial, TokenCode=CODE) == (
        "AccessDenied",
        WRONG_CODE,
    )
    code, _ = _error(sts.get_session_token, SerialNumber=mfa.serial, TokenCode="12ab56")
    assert code == "ValidationError"
    other = f"arn:aws:iam::123456789012:mfa/{uuid.uuid4().hex[:8]}"
    assert _error(sts.get_session_token, SerialNumber=other, TokenCode=OTHER_CODE) == (
        "AccessDenied",
        UNKNOWN_DEVICE,
    )
    assert len(mfa.play.sessions) == 1


def test_a_session_without_mfa_is_still_denied_and_cannot_get_another(
    moto_server: MotoServer, proxy: FaultProxy
) -> None:
    mfa = Mfa(moto_server, proxy)
    plain = mfa.session(code=None)

    assert _error(mfa.through(plain).list_access_keys)[0] == "AccessDenied"
    assert mfa.through(plain).get_user()["User"]["UserName"] == mfa.user
    code, _ = _error(mfa.through(mfa.session(), "sts").get_session_token)
    assert code == "AccessDenied"


def test_a_session_with_a_wrong_token_is_an_invalid_client_token(
    moto_server: MotoServer, proxy: FaultProxy
) -> None:
    mfa = Mfa(moto_server, proxy)
    session = mfa.session() | {"SessionToken": "forged"}

    assert _error(mfa.through(session).list_access_keys)[0] == "InvalidClientTokenId"


@pytest.mark.parametrize("kills", [True, False])
def test_a_deactivated_parent_key_kills_its_sessions_or_not(
    moto_server: MotoServer, proxy: FaultProxy, kills: bool
) -> None:
    mfa = Mfa(moto_server, proxy, kills=kills)
    iam = mfa.through(mfa.session())
    new = iam.create_access_key()["AccessKey"]

    iam.update_access_key(AccessKeyId=mfa.key.access_key_id, Status="Inactive")
    if kills:
        assert _error(iam.list_access_keys)[0] == "InvalidClientTokenId"
        assert moto_server.keys(mfa.user)[mfa.key.access_key_id] == "Inactive"
        return
    iam.delete_access_key(AccessKeyId=mfa.key.access_key_id)
    # Lives on past its parent's deletion, re-signed with the user's remaining key.
    listed = iam.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [new["AccessKeyId"]]


def test_get_session_token_needs_an_active_known_key(
    moto_server: MotoServer, proxy: FaultProxy
) -> None:
    mfa = Mfa(moto_server, proxy)
    bogus = Key("AKIAAAAAAAAAAAAAAAAA", "x")
    assert _error(mfa.client("sts", bogus).get_session_token)[0] == "InvalidClientTokenId"
    moto_server.iam.update_access_key(
        UserName=mfa.user, AccessKeyId=mfa.key.access_key_id, Status="Inactive"
    )
    assert _error(mfa.session)[0] == "InvalidClientTokenId"


def test_users_without_the_policy_are_not_denied(
    moto_server: MotoServer, proxy: FaultProxy
) -> None:
    Mfa(moto_server, proxy)
    user = moto_server.make_user()
    iam = moto_server.client("iam", moto_server.make_key(user), endpoint_url=proxy.url)
    assert len(iam.list_access_keys()["AccessKeyMetadata"]) == 1


def test_the_policy_is_parsed_and_adapted_for_moto() -> None:
    assert "iam:GetUser" in not_actions(MFA_SELF_SERVICE_POLICY)
    assert "iam:ListAccessKeys" not in not_actions(MFA_SELF_SERVICE_POLICY)
    adapted = adapted_for_moto(MFA_SELF_SERVICE_POLICY)
    assert {s["Resource"] for s in adapted["Statement"]} == {"*"}
    assert {s["Effect"] for s in adapted["Statement"]} == {"Allow"}
    assert any("${aws:username}" in str(s) for s in MFA_SELF_SERVICE_POLICY["Statement"])
