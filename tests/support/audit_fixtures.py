"""Accounts of their own for audit tests, shaped in-process through moto's backend.

The audit reads a whole account, so each test gets a fresh account ID nobody else writes to: the
admin assumes a role there (moto's assumed credentials act in that account) and users and keys
are made directly in the backend, with the ages and last uses the test wants.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from dataclasses import dataclass

from tests.support.moto import ADMIN_POLICY, MotoServer

AUDIT_ROLE = "Auditor"
_lock = threading.Lock()
_used_ids: set[str] = set()


@dataclass(frozen=True)
class SessionKey:
    """Temporary credentials, shaped like tests.support.moto.Key for AwsHome.add_profile."""

    access_key_id: str
    secret_access_key: str
    session_token: str


def new_account_id() -> str:
    with _lock:
        while True:
            account_id = str(random.randrange(300000000000, 399999999999))
            if account_id not in _used_ids:
                _used_ids.add(account_id)
                return account_id


def iam_backend(account_id: str):  # type: ignore[no-untyped-def]
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["global"]


def grant_admin(account_id: str, role_name: str) -> None:
    """Let a role do anything (the role CreateAccount makes in a member account grants nothing)."""
    backend = iam_backend(account_id)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    if role_name not in {role.name for role in backend.roles.values()}:
        backend.create_role(role_name, json.dumps(trust), "/", None, "", [], "3600")
    backend.put_role_policy(role_name, "admin", json.dumps(ADMIN_POLICY))


class Account:
    """A moto account of one's own, and the helpers to give it users and keys."""

    def __init__(self, server: MotoServer, account_id: str | None = None) -> None:
        self.server = server
        self.id = account_id or new_account_id()
        self.backend = iam_backend(self.id)

    def assume(self, role_name: str = AUDIT_ROLE) -> SessionKey:
        """Credentials acting in this account through an admin role."""
        grant_admin(self.id, role_name)
        sts = self.server.client("sts", self.server.admin)
        response = sts.assume_role(
            RoleArn=f"arn:aws:iam::{self.id}:role/{role_name}", RoleSessionName="audit-test"
        )
        c = response["Credentials"]
        return SessionKey(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    def user(self, name: str) -> str:
        self.backend.create_user("us-east-1", name)
        return name

    def key(
        self,
        user: str,
        age_days: float = 0,
        status: str = "Active",
        used_days_ago: float | None = None,
        created: dt.datetime | None = None,
    ) -> str:
        """A key created ``age_days`` ago (or at ``created``), used ``used_days_ago`` (or never)."""
        from moto.iam.models import AccessKeyLastUsed

        key = self.backend.create_access_key(user)
        now = dt.datetime.utcnow()
        key.create_date = created or now - dt.timedelta(days=age_days)
        if status != "Active":
            key.status = status
        if used_days_ago is not None:
            when = now - dt.timedelta(days=used_days_ago)
            key.last_used = AccessKeyLastUsed(when, "s3", "eu-west-1")
        return str(key.access_key_id)
