"""``aws iam audit-access-keys`` at run time: options, clients from the CLI session, rendering."""

from __future__ import annotations

import datetime as dt
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from awscli_rotate_key.admin.audit import Thresholds, audit_document, exit_code
from awscli_rotate_key.admin.organization import Settings, audit_accounts, plan_accounts
from awscli_rotate_key.admin.report import AWS_FAILURES, describe_failure
from awscli_rotate_key.commands.audit import NAME
from awscli_rotate_key.commands.options import (
    not_together,
    one_of,
    report_invalid,
    text,
    whole_number,
)
from awscli_rotate_key.commands.progress import account_progress
from awscli_rotate_key.commands.terminal import no_mfa_prompt_without_terminal, output_stream
from awscli_rotate_key.errors import EXIT_UNEXPECTED, InvalidOption

_ACCOUNT_ID = re.compile(r"^\d{12}$")


_ROLE_NAME = r"[\w+=,.@/-]{1,512}"  # a role name, or path/name, as in a role ARN


@dataclass(frozen=True)
class Options:
    limits: Thresholds
    fail_on: str | None
    organization: bool
    account_ids: tuple[str, ...]
    role_name: str
    max_concurrency: int


def options_from(parsed_args: Any) -> Options:
    """The options of a run; InvalidOption (a usage error) for a value that cannot be used."""
    warn = whole_number("warn-days", parsed_args.warn_days, "days", default=90)
    alert = whole_number("alert-days", parsed_args.alert_days, "days", default=max(730, warn or 0))
    unused = whole_number("unused-days", parsed_args.unused_days, "days", default=45)
    limits = Thresholds(warn or 0, alert or 0, unused or 0)
    if limits.alert_days < limits.warn_days:
        raise InvalidOption(
            "alert-days",
            f"must not be less than --warn-days ({limits.alert_days} < {limits.warn_days})",
        )
    fail_on = one_of("fail-on", parsed_args.fail_on, ("warning", "alert"))
    not_together("organization", "account-ids", parsed_args)
    account_ids = tuple(parsed_args.account_ids or ())
    for account_id in account_ids:
        if not _ACCOUNT_ID.match(account_id):
            raise InvalidOption("account-ids", f"{account_id!r} is not a 12-digit account ID")
    role_name = text("role-name", parsed_args.role_name, _ROLE_NAME, "an IAM role name")
    concurrency = whole_number("max-concurrency", parsed_args.max_concurrency, minimum=1, default=8)
    return Options(
        limits=limits,
        fail_on=fail_on,
        organization=parsed_args.organization,
        account_ids=account_ids,
        role_name=role_name or "OrganizationAccountAccessRole",
        max_concurrency=concurrency or 8,
    )


class SessionClients:
    """Clients made from the CLI's session, honouring --endpoint-url, --region, --no-verify-ssl."""

    def __init__(self, session: Any, parsed_globals: Any, max_concurrency: int) -> None:
        self._session, self._globals = session, parsed_globals
        # Enough pooled connections for every call in flight; retries as the profile says.
        self._config = Config(max_pool_connections=max(10, max_concurrency))
        self._region = parsed_globals.region or session.get_config_variable("region")
        self._lock = threading.Lock()  # creating clients is not thread-safe in botocore

    def client(self, service: str, credentials: dict[str, Any] | None = None) -> Any:
        from awscli.customizations.utils import create_client_from_parsed_globals

        overrides: dict[str, Any] = {"config": self._config}
        if not self._region:
            overrides["region_name"] = "us-east-1"  # IAM, STS and Organizations answer there
        if credentials is not None:
            overrides.update(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
        with self._lock:
            return create_client_from_parsed_globals(
                self._session, service, self._globals, overrides=overrides
            )

    def member_iam(self, credentials: dict[str, Any]) -> Any:
        return self.client("iam", credentials)


def for_table(document: dict[str, Any]) -> dict[str, Any]:
    """What ``--output table`` shows when there is no ``--query``: one narrow line per key.

    The full rows are too wide for a terminal, and a list inside each row would make the CLI's
    table formatter draw a sub-table per key. Scripts use json, text or --query.
    """
    several = len(document["Accounts"]) > 1

    def line(key: dict[str, Any]) -> dict[str, Any]:
        cells = {
            "UserName": key["UserName"],
            "AccessKeyId": key["AccessKeyId"] or "?",
            "Status": key["Status"],
            "AgeDays": key["AgeDays"],
            "LastUsed": (key["LastUsedDate"] or "never")[:10],
            "Severity": key["Severity"],
            "Findings": " ".join(key["Findings"]),
        }
        if several:
            cells["AccountId"] = key["AccountId"]
        if key["MatchNote"]:
            cells["Note"] = key["MatchNote"]
        return cells

    accounts = [{k: "" if v is None else v for k, v in a.items()} for a in document["Accounts"]]
    return {**document, "Accounts": accounts, "Keys": [line(k) for k in document["Keys"]]}


def run(session: Any, parsed_args: Any, parsed_globals: Any) -> int:
    """The whole command: plan, audit every account, render, exit code."""
    try:
        options = options_from(parsed_args)
    except InvalidOption as error:
        return report_invalid(NAME, error)
    no_mfa_prompt_without_terminal(session)  # commands/terminal.py: unattended runs
    clients = SessionClients(session, parsed_globals, options.max_concurrency)
    try:
        access, account_ids = plan_accounts(
            clients, options.role_name, options.organization, options.account_ids
        )
    except AWS_FAILURES as error:
        _say(describe_failure(error))
        return EXIT_UNEXPECTED
    settings = Settings(
        now=dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
        limits=options.limits,
        max_concurrency=options.max_concurrency,
    )
    progress = account_progress(NAME, options.organization)
    try:
        audits = audit_accounts(account_ids, access, settings, progress)
    finally:
        if progress is not None:
            progress.end()
    document = audit_document(audits)
    render(session, document, parsed_globals)
    for audit in audits:
        if audit.error:
            _say(f"account {audit.account_id} not audited: {audit.error}")
    return exit_code(audits, options.fail_on)


def render(session: Any, document: dict[str, Any], parsed_globals: Any) -> None:
    from awscli.formatter import get_formatter

    output = parsed_globals.output or session.get_config_variable("output") or "json"
    if output == "table" and parsed_globals.query is None:
        document = for_table(document)
    with output_stream(session) as stream:  # v2's pager only when stdout is a terminal
        get_formatter(output, parsed_globals)(NAME, document, stream)


def _say(message: str) -> None:
    sys.stderr.write(f"{NAME}: {message}\n")
    sys.stderr.flush()
