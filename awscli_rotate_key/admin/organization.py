"""Running the audit over one account or many: the IAM calls, assumed roles, bounded concurrency.

The caller's own account is audited with the caller's credentials, every other account through a
role assumed in it. At most ``max_concurrency`` API calls are in flight at any time, across
accounts and users together.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from awscli_rotate_key.admin.audit import (
    AccountAudit,
    Judge,
    KeyRow,
    LastUse,
    Listing,
    Thresholds,
    user_rows,
)
from awscli_rotate_key.admin.report import (
    AWS_FAILURES,
    DEFAULT_WAIT,
    ReportFormatError,
    ReportUnavailable,
    ReportWait,
    UserRow,
    describe_failure,
    error_code,
    fetch_credential_report,
    parse_timestamp,
)
from awscli_rotate_key.keys import AccessKey

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_ROLE = "OrganizationAccountAccessRole"
SESSION_NAME = "audit-access-keys"


class Mapper(Protocol):
    """Runs ``fn`` over ``items`` (maybe concurrently) and returns the results in order."""

    def __call__(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...


def run_in_order(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    return [fn(item) for item in items]


# --- one account ----------------------------------------------------------------------------


def list_user_keys(iam: Any, user_name: str) -> Listing:
    try:
        response = iam.list_access_keys(UserName=user_name)
    except AWS_FAILURES as error:
        if error_code(error) == "NoSuchEntity":
            return Listing(None)
        return Listing((), describe_failure(error))
    return Listing(
        tuple(
            AccessKey(k["AccessKeyId"], k["Status"], parse_timestamp(k["CreateDate"]))
            for k in response.get("AccessKeyMetadata", [])
        )
    )


def last_use_of(iam: Any, key_id: str) -> LastUse:
    """GetAccessKeyLastUsed (only for keys newer than the report); nothing known if refused."""
    try:
        used = iam.get_access_key_last_used(AccessKeyId=key_id).get("AccessKeyLastUsed", {})
    except AWS_FAILURES:
        return LastUse()

    def known(value: Any) -> str | None:
        return None if value in (None, "", "N/A") else str(value)

    when = used.get("LastUsedDate")
    return LastUse(
        None if when is None else parse_timestamp(when),
        known(used.get("Region")),
        known(used.get("ServiceName")),
    )


def audit_account(
    iam: Any,
    judge: Judge,
    map_users: Mapper = run_in_order,
    wait: ReportWait = DEFAULT_WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> AccountAudit:
    """Audit one account. AWS failures become the account's ``error``; bugs are raised."""
    return read_account(iam, judge, lambda user, listing, rows: None, map_users, wait, sleep)[0]


def read_account(
    iam: Any,
    judge: Judge,
    then: Callable[[UserRow, Listing, list[KeyRow]], T],
    map_users: Mapper = run_in_order,
    wait: ReportWait = DEFAULT_WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[AccountAudit, list[T]]:
    """The audit of one account, and ``then`` of each user with keys (called in its task).

    enforce-key-rotation reads accounts through this same path and uses ``then`` for what it
    needs beyond the audit (the listed keys' CreateDate, the user's tags).
    """
    try:
        report = fetch_credential_report(iam, wait, sleep)
    except (*AWS_FAILURES, ReportUnavailable, ReportFormatError) as error:
        return AccountAudit(judge.account_id, error=describe_failure(error)), []
    judge = replace(judge, report_time=report.generated_time)

    def rows_of(user: UserRow) -> tuple[list[KeyRow], str | None, T]:
        listing = Listing(()) if user.is_root else list_user_keys(iam, user.user)
        rows = user_rows(judge, user, listing, lambda key_id: last_use_of(iam, key_id))
        return rows, listing.error, then(user, listing, rows)

    results = map_users(rows_of, [u for u in report.users if u.slots])
    audit = AccountAudit(judge.account_id, report.generated_time)
    for rows, _, _ in results:
        audit.keys.extend(rows)
    errors = [error for _, error, _ in results if error]
    if errors:
        audit.error = f"ListAccessKeys failed for {len(errors)} user(s): {errors[0]}"
    return audit, [extra for _, _, extra in results]


# --- many accounts --------------------------------------------------------------------------


def organization_accounts(organizations: Any) -> list[str]:
    """IDs of the organization's ACTIVE accounts, every page, sorted."""
    ids, token = [], None
    while True:
        page = organizations.list_accounts(**({"NextToken": token} if token else {}))
        for account in page.get("Accounts", []):
            # ``State`` replaces ``Status``; older endpoints send only ``Status``.
            if (account.get("State") or account.get("Status")) == "ACTIVE":
                ids.append(str(account["Id"]))
        token = page.get("NextToken")
        if not token:
            return sorted(ids)


@dataclass(frozen=True)
class Access:
    """How to reach each account: the caller's own clients, and a role in every other one."""

    caller_account: str
    partition: str
    caller_iam: Any
    sts: Any
    iam_with: Callable[[dict[str, Any]], Any]  # AssumeRole's Credentials -> an IAM client
    role_name: str = DEFAULT_ROLE
    session_name: str = SESSION_NAME  # as CloudTrail shows the assumed role's calls

    def role_arn(self, account_id: str) -> str:
        return f"arn:{self.partition}:iam::{account_id}:role/{self.role_name}"


def plan_accounts(
    clients: Any,
    role_name: str,
    organization: bool,
    account_ids: Sequence[str],
    session_name: str = SESSION_NAME,
) -> tuple[Access, list[str]]:
    """Who is calling, and which accounts to read: the organization's, the ones named, or the
    caller's own. ``clients``: ``client(service)`` and ``member_iam(credentials)``."""
    sts = clients.client("sts")
    identity = sts.get_caller_identity()
    caller = str(identity["Account"])
    access = Access(
        caller_account=caller,
        partition=str(identity["Arn"]).split(":")[1],
        caller_iam=clients.client("iam"),
        sts=sts,
        iam_with=clients.member_iam,
        role_name=role_name,
        session_name=session_name,
    )
    if organization:
        return access, organization_accounts(clients.client("organizations"))
    return access, list(account_ids) or [caller]


@dataclass(frozen=True)
class Settings:
    now: dt.datetime
    limits: Thresholds = field(default_factory=Thresholds)
    max_concurrency: int = 8
    wait: ReportWait = field(default_factory=ReportWait)
    sleep: Callable[[float], None] = time.sleep


class _Limited:
    """A client whose every call first takes one of the shared in-flight slots."""

    def __init__(self, client: Any, slots: threading.BoundedSemaphore) -> None:
        self._client, self._slots = client, slots

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._slots:
                return method(*args, **kwargs)

        return call


class Fanout:
    """Thread pools for accounts and for users, under one bound on calls in flight."""

    def __init__(self, max_concurrency: int) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._accounts = ThreadPoolExecutor(max_concurrency, thread_name_prefix="audit-account")
        # Account threads wait on user tasks, never the other way round: no deadlock.
        self._users = ThreadPoolExecutor(max_concurrency, thread_name_prefix="audit-user")

    def limit(self, client: Any) -> Any:
        return _Limited(client, self._slots)

    def map_users(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return list(self._users.map(fn, items))

    def map_accounts(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return list(self._accounts.map(fn, items))

    def close(self, wait: bool = True) -> None:
        for pool in (self._accounts, self._users):
            pool.shutdown(wait=wait, cancel_futures=True)


def audit_accounts(
    account_ids: Sequence[str],
    access: Access,
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
) -> list[AccountAudit]:
    """Audit every account, concurrently; an account that cannot be reached gets an ``error``."""

    def one(account_id: str, iam: Any, fanout: Fanout) -> AccountAudit:
        judge = Judge(account_id, settings.now, settings.limits)
        return audit_account(iam, judge, fanout.map_users, settings.wait, settings.sleep)

    def unreachable(account_id: str, error: str) -> AccountAudit:
        return AccountAudit(account_id, error=error)

    return over_accounts(account_ids, access, settings.max_concurrency, one, unreachable, progress)


def over_accounts(
    account_ids: Sequence[str],
    access: Access,
    max_concurrency: int,
    per_account: Callable[[str, Any, Fanout], R],
    unreachable: Callable[[str, str], R],
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """``per_account`` of each account (its IAM client limited by the shared bound), in order.

    ``progress(done, total)`` is called as each account finishes.
    """
    fanout = Fanout(max_concurrency)
    sts = fanout.limit(access.sts)
    ids = list(dict.fromkeys(account_ids))
    done, lock = [0], threading.Lock()

    def one(account_id: str) -> R:
        iam, error = access.caller_iam, None
        if account_id != access.caller_account:
            iam, error = _member_iam(sts, access, account_id)
        result = (
            unreachable(account_id, error)
            if error is not None
            else per_account(account_id, fanout.limit(iam), fanout)
        )
        if progress is not None:
            with lock:
                done[0] += 1
                progress(done[0], len(ids))
        return result

    try:
        results = fanout.map_accounts(one, ids)
    except BaseException:
        fanout.close(wait=False)
        raise
    fanout.close()
    return results


def _member_iam(sts: Any, access: Access, account_id: str) -> tuple[Any, str | None]:
    """(IAM client acting in the account, None), or (None, why the role could not be assumed)."""
    arn = access.role_arn(account_id)
    try:
        response = sts.assume_role(RoleArn=arn, RoleSessionName=access.session_name)
    except AWS_FAILURES as error:
        return None, f"{describe_failure(error)} (role {arn})"
    return access.iam_with(response["Credentials"]), None
