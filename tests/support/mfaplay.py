"""The fault proxy's play of STS and of the MFA self-service policy, which moto cannot do.

moto does not evaluate ``aws:MultiFactorAuthPresent`` (it applies the statement as if the
condition held), never checks MFA codes, and rejects its own GetSessionToken credentials once
signing is enforced (../shared/DOMAIN.md). So, in front of moto:

- ``sts:GetSessionToken`` is answered here: the signer must be a long-term key moto knows and
  that is Active; SerialNumber must be a device given to the signer's user (``add_device``) and
  TokenCode one of the codes the test allowed (``allow_codes``), each good once. A wrong or
  reused code gets STS's ``AccessDenied``; an unknown device the other ``AccessDenied`` STS
  gives. The session (``ASIA...`` id, secret, token) is bound to the signing key.
- A request signed by such a session is re-signed (botocore's SigV4Auth) with the parent key's
  secret, read from moto's in-process backend, and forwarded: moto sees the parent key.
- Requests of a protected user (``protect``) that do not come through an MFA session are denied
  (403 ``AccessDenied``, IAM's XML) when the policy's Deny statement denies them: every action
  but its ``NotAction`` list, parsed from the policy text the test uses. GetCallerIdentity is
  never denied (it works whatever the policies).
- ``parent_key_kills_sessions``: AWS does not document what deactivating the parent key does to
  a GetSessionToken session. True: the session is refused (``InvalidClientTokenId``) once its
  parent key is Inactive or deleted. False: it lives on until it expires (re-signed with
  another key of the same user once the parent is gone).

moto gets ``adapted_for_moto(policy)``: Resource ``"*"`` (moto matches nothing else) and without
the MFA Deny, which this play enforces instead.
"""

from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import re
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
WRONG_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code."
UNKNOWN_DEVICE = (
    "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA "
    "serial number is valid and associated with this user."
)
SESSION_CALLER = "Cannot call GetSessionToken with session credentials"
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_NOT_RESIGNED = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})

# AWS's example "allows MFA-authenticated IAM users to manage their own credentials" (the
# statements rotate-my-key meets; the full example also covers passwords, signing certificates,
# SSH keys and Git credentials in the same shape). ../shared/DOMAIN.md, "IAM facts".
MFA_SELF_SERVICE_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowViewAccountInfo",
            "Effect": "Allow",
            "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
            "Resource": "*",
        },
        {
            "Sid": "AllowManageOwnPasswords",
            "Effect": "Allow",
            "Action": ["iam:ChangePassword", "iam:GetUser"],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "AllowManageOwnAccessKeys",
            "Effect": "Allow",
            "Action": [
                "iam:CreateAccessKey",
                "iam:DeleteAccessKey",
                "iam:ListAccessKeys",
                "iam:UpdateAccessKey",
                "iam:GetAccessKeyLastUsed",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "AllowManageOwnUserMFA",
            "Effect": "Allow",
            "Action": [
                "iam:DeactivateMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:GetUser",
                "iam:GetMFADevice",
                "iam:ListMFADevices",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                "sts:GetSessionToken",
            ],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    ],
}


def _is_mfa_deny(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition", {})
    return statement.get("Effect") == "Deny" and any(
        "aws:MultiFactorAuthPresent" in values for values in condition.values()
    )


def not_actions(policy: dict[str, Any]) -> tuple[str, ...]:
    """The NotAction list of the policy's MFA Deny statement: what works without MFA."""
    (deny,) = [s for s in policy["Statement"] if _is_mfa_deny(s)]
    listed = deny["NotAction"]
    return (listed,) if isinstance(listed, str) else tuple(listed)


def adapted_for_moto(policy: dict[str, Any]) -> dict[str, Any]:
    """The copy moto gets: Resource "*" everywhere, the MFA Deny left to the play.

    GetCallerIdentity is allowed too: real AWS answers it whatever the policies say.
    """
    adapted = copy.deepcopy(policy)
    statements = [s for s in adapted["Statement"] if not _is_mfa_deny(s)]
    for statement in statements:
        statement["Resource"] = "*"
    statements.append({"Effect": "Allow", "Action": sorted(ALWAYS_ALLOWED), "Resource": "*"})
    adapted["Statement"] = statements
    return adapted


# --- moto's backend, in this process -------------------------------------------------------------


@dataclass(frozen=True)
class KeyRecord:
    user: str
    access_key_id: str
    secret: str = field(repr=False)
    status: str


def moto_keys(user: str | None = None) -> list[KeyRecord]:
    """Every access key moto holds (of ``user`` only, if given), read from its backend."""
    from moto.iam.models import iam_backends

    from tests.support.moto import ACCOUNT_ID

    backend = iam_backends[ACCOUNT_ID]["global"]
    return [
        KeyRecord(name, k.access_key_id, k.secret_access_key, k.status)
        for name, u in list(backend.users.items())
        if user in (None, name)
        for k in list(u.access_keys)
    ]


def moto_key(key_id: str) -> KeyRecord | None:
    return next((k for k in moto_keys() if k.access_key_id == key_id), None)


# --- the play ------------------------------------------------------------------------------------


@dataclass
class Session:
    access_key_id: str
    secret: str = field(repr=False)
    token: str = field(repr=False)
    parent_key_id: str
    user: str
    mfa: bool
    expires: float  # time.time()


@dataclass(frozen=True)
class Answer:
    """What the play decided for one request: a reply to send, or a re-signed forward."""

    status: int = 0
    body: bytes = b""
    code: str | None = None
    headers: list[tuple[str, str]] | None = None  # re-signed headers to forward instead


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


class MfaPlay:
    """STS and the MFA condition, for the fault proxy (see the module docstring)."""

    def __init__(
        self,
        policy: dict[str, Any] = MFA_SELF_SERVICE_POLICY,
        parent_key_kills_sessions: bool = True,
        lookup: Callable[[str], KeyRecord | None] = moto_key,
        user_keys: Callable[[str], list[KeyRecord]] = moto_keys,
    ) -> None:
        self.allowed_without_mfa = not_actions(policy)
        self.parent_key_kills_sessions = parent_key_kills_sessions
        self._lookup, self._user_keys = lookup, user_keys
        self._lock = threading.Lock()
        self._devices: dict[str, str] = {}  # serial -> user
        self._codes: dict[str, set[str]] = {}  # serial -> codes still good
        self._used: set[tuple[str, str]] = set()
        self._protected: set[str] = set()
        self.sessions: dict[str, Session] = {}
        self.denied: list[tuple[str, str]] = []  # (action, signer) the Deny refused

    # --- what the test sets up -------------------------------------------------------------------

    def protect(self, user: str) -> None:
        """The MFA policy is attached to ``user``: the Deny applies to its requests."""
        with self._lock:
            self._protected.add(user)

    def add_device(self, user: str, serial: str) -> None:
        with self._lock:
            self._devices[serial] = user

    def allow_codes(self, serial: str, *codes: str) -> None:
        """Codes the device shows now; each is good once (TOTP codes cannot be reused)."""
        with self._lock:
            self._codes.setdefault(serial, set()).update(codes)

    def expire_sessions(self) -> None:
        """Every session issued so far reaches its expiry now (IAM answers ``ExpiredToken``)."""
        with self._lock:
            for session in self.sessions.values():
                session.expires = min(session.expires, time.time())

    def session_ids(self) -> set[str]:
        with self._lock:
            return set(self.sessions)

    # --- one request -----------------------------------------------------------------------------

    def answer(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        action: str | None,
    ) -> Answer | None:
        """A reply, re-signed headers, or None to forward the request as it is."""
        auth = next((v for k, v in headers if k.lower() == "authorization"), "")
        scope = _SCOPE.search(auth)
        if scope is None:
            return None
        key_id, region, service = scope.groups()
        qualified = f"{service}:{action}"
        if action == "GetSessionToken" and service == "sts":
            return self._get_session_token(key_id, _params(path, body))
        with self._lock:
            session = self.sessions.get(key_id)
        if session is not None:
            return self._through_session(session, method, path, headers, body, region, service)
        record = self._lookup(key_id)
        if record is not None and self._denied(record.user, qualified):
            self.denied.append((qualified, key_id))
            return _iam_denied(record.user, qualified)
        return None

    def _denied(self, user: str, qualified: str) -> bool:
        """The Deny without MFA: every action but the NotAction list (wildcards allowed)."""
        if user not in self._protected or qualified in ALWAYS_ALLOWED:
            return False
        allowed = self.allowed_without_mfa
        return not any(fnmatch.fnmatch(qualified.lower(), a.lower()) for a in allowed)

    def _get_session_token(self, key_id: str, params: dict[str, str]) -> Answer:
        with self._lock:
            if key_id in self.sessions:
                return _sts_error(403, "AccessDenied", SESSION_CALLER)
        record = self._lookup(key_id)
        if record is None or record.status != "Active":
            return _sts_error(403, "InvalidClientTokenId", INVALID_TOKEN)
        serial, code = params.get("SerialNumber"), params.get("TokenCode")
        seconds = int(params.get("DurationSeconds", "43200"))
        if code is not None and not re.fullmatch(r"\d{6}", code):
            return _sts_error(400, "ValidationError", _bad_code(code))
        if serial is not None:
            refusal = self._spend_code(record.user, serial, code)
            if refusal is not None:
                return refusal
        session = Session(
            "ASIA" + _random(string.ascii_uppercase + string.digits, 16),
            _random(string.ascii_letters + string.digits + "+/", 40),
            "FwoGZXIvYXdzE" + _random(string.ascii_letters + string.digits, 120),
            record.access_key_id,
            record.user,
            mfa=serial is not None,
            expires=time.time() + seconds,
        )
        with self._lock:
            self.sessions[session.access_key_id] = session
        return Answer(200, _session_xml(session))

    def _spend_code(self, user: str, serial: str, code: str | None) -> Answer | None:
        """None if ``code`` is good for ``serial`` (and now spent); else STS's refusal."""
        with self._lock:
            if self._devices.get(serial) != user:
                return _sts_error(403, "AccessDenied", UNKNOWN_DEVICE)
            good = self._codes.get(serial, set())
            if code is None or code not in good or (serial, code) in self._used:
                return _sts_error(403, "AccessDenied", WRONG_CODE)
            good.discard(code)
            self._used.add((serial, code))
        return None

    def _through_session(
        self,
        session: Session,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        region: str,
        service: str,
    ) -> Answer:
        token = next((v for k, v in headers if k.lower() == "x-amz-security-token"), None)
        signer = self._signer_for(session)
        if token == session.token and time.time() >= session.expires:
            return _iam_error(403, "ExpiredToken", EXPIRED_TOKEN)
        if token != session.token or signer is None:
            return _iam_error(403, "InvalidClientTokenId", INVALID_TOKEN)
        if not session.mfa:
            action = _params(path, body).get("Action")
            if self._denied(session.user, f"{service}:{action}"):
                return _iam_denied(session.user, f"{service}:{action}")
        return Answer(headers=resign(method, path, headers, body, signer, region, service))

    def _signer_for(self, session: Session) -> KeyRecord | None:
        """The long-term key to re-sign with, or None if the session is dead."""
        parent = self._lookup(session.parent_key_id)
        if self.parent_key_kills_sessions:
            return parent if parent is not None and parent.status == "Active" else None
        if parent is not None:
            return parent
        # The session outlives its deleted parent: moto needs some key of the same user.
        return next(iter(self._user_keys(session.user)), None)


def resign(
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    key: KeyRecord,
    region: str,
    service: str,
) -> list[tuple[str, str]]:
    """The request's headers signed by ``key`` (SigV4) instead of the session."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    kept = [(k, v) for k, v in headers if k.lower() not in _NOT_RESIGNED]
    host = next((v for k, v in kept if k.lower() == "host"), "localhost")
    request = AWSRequest(method=method, url=f"http://{host}{path}", data=body, headers=dict(kept))
    SigV4Auth(Credentials(key.access_key_id, key.secret), service, region).add_auth(request)
    return list(request.headers.items())


def _params(path: str, body: bytes) -> dict[str, str]:
    params = parse_qs(urlsplit(path).query)
    params.update(parse_qs(body.decode("utf-8", "replace")))
    return {k: v[0] for k, v in params.items()}


def _bad_code(code: str) -> str:
    return (
        f"1 validation error detected: Value '{code}' at 'tokenCode' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\d]*"
    )


def _session_xml(session: Session) -> bytes:
    expires = dt.datetime.fromtimestamp(session.expires, dt.timezone.utc)
    return (
        f'<GetSessionTokenResponse xmlns="{STS_NS}"><GetSessionTokenResult><Credentials>'
        f"<AccessKeyId>{session.access_key_id}</AccessKeyId>"
        f"<SecretAccessKey>{escape(session.secret)}</SecretAccessKey>"
        f"<SessionToken>{session.token}</SessionToken>"
        f"<Expiration>{expires:%Y-%m-%dT%H:%M:%SZ}</Expiration>"
        f"</Credentials></GetSessionTokenResult><ResponseMetadata>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></GetSessionTokenResponse>"
    ).encode()


def _error_xml(namespace: str, status: int, code: str, message: str) -> bytes:
    kind = "Receiver" if status >= 500 else "Sender"
    return (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()


def _sts_error(status: int, code: str, message: str) -> Answer:
    return Answer(status, _error_xml(STS_NS, status, code, message), code)


def _iam_error(status: int, code: str, message: str) -> Answer:
    from tests.support.faultproxy import IAM_NS

    return Answer(status, _error_xml(IAM_NS, status, code, message), code)


def _iam_denied(user: str, qualified: str) -> Answer:
    from tests.support.moto import ACCOUNT_ID

    arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    return _iam_error(
        403,
        "AccessDenied",
        f"User: {arn} is not authorized to perform: {qualified} on resource: {arn} with an "
        "explicit deny in an identity-based policy",
    )
