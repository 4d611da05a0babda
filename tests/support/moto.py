"""moto's server in this process, with request signing enforced, and helpers to shape IAM state.

In-process so tests can read and backdate the backend (moto has no API for a key's age).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import urllib.request
import uuid
from dataclasses import dataclass

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

# What rotate-my-key needs. moto evaluates policies against Resource "*" only, so the
# `${aws:username}` form of the README's policy is tested for shape, not here.
SELF_SERVICE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:GetUser",
                "iam:ListAccessKeys",
                "iam:CreateAccessKey",
                "iam:UpdateAccessKey",
                "iam:DeleteAccessKey",
                "iam:GetAccessKeyLastUsed",
                "sts:GetCallerIdentity",
            ],
            "Resource": "*",
        }
    ],
}

ADMIN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}

_lock = threading.Lock()


@dataclass(frozen=True)
class Key:
    access_key_id: str
    secret_access_key: str


class MotoServer:
    """A running moto server on 127.0.0.1 with signing enforced and an admin identity."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.admin = self._bootstrap_admin()
        self._enforce_signing()
        self.iam = self.client("iam", self.admin)

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str, key: Key, endpoint_url: str | None = None):  # type: ignore[no-untyped-def]
        session = botocore.session.Session()
        return session.create_client(
            service,
            region_name=REGION,
            endpoint_url=endpoint_url or self.url,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
            config=Config(retries={"total_max_attempts": 1}),
        )

    def _bootstrap_admin(self) -> Key:
        unsigned = self.client("iam", Key("AKIAIOSFODNN7EXAMPLE", "bootstrap"))
        unsigned.create_user(UserName="admin")
        unsigned.put_user_policy(
            UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY)
        )
        created = unsigned.create_access_key(UserName="admin")["AccessKey"]
        return Key(created["AccessKeyId"], created["SecretAccessKey"])

    def _enforce_signing(self) -> None:
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=b"0",
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def assert_signing_enforced(self) -> None:
        """A bogus key must be refused, or every test here would pass unsigned."""
        bogus = self.client("iam", Key("AKIAAAAAAAAAAAAAAAAA", "not-a-secret"))
        try:
            bogus.list_users()
        except ClientError as error:
            assert error.response["Error"]["Code"] == "InvalidClientTokenId", error.response
        else:
            raise AssertionError("moto accepted a bogus key: request signing is not enforced")

    # --- shaping IAM state -------------------------------------------------------------------

    def make_user(self, name: str | None = None, policy: dict | None = None) -> str:  # type: ignore[type-arg]
        name = name or f"user-{uuid.uuid4().hex[:10]}"
        self.iam.create_user(UserName=name)
        self.iam.put_user_policy(
            UserName=name,
            PolicyName="self-service",
            PolicyDocument=json.dumps(policy or SELF_SERVICE_POLICY),
        )
        return name

    def make_key(self, user: str, age_days: float = 0, status: str = "Active") -> Key:
        created = self.iam.create_access_key(UserName=user)["AccessKey"]
        key = Key(created["AccessKeyId"], created["SecretAccessKey"])
        if age_days:
            self.backdate(user, key.access_key_id, age_days)
        if status != "Active":
            self.iam.update_access_key(UserName=user, AccessKeyId=key.access_key_id, Status=status)
        return key

    def backdate(self, user: str, key_id: str, age_days: float) -> None:
        from moto.iam.models import iam_backends

        backend = iam_backends[ACCOUNT_ID]["global"]
        with _lock:
            for key in backend.users[user].access_keys:
                if key.access_key_id == key_id:
                    key.create_date = dt.datetime.utcnow() - dt.timedelta(days=age_days)
                    return
        raise KeyError(key_id)

    def keys(self, user: str) -> dict[str, str]:
        """The user's keys as {AccessKeyId: Status}, read through the API."""
        listed = self.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        return {k["AccessKeyId"]: k["Status"] for k in listed}
