"""The scheduled AWS Lambda function: ``enforce-key-rotation`` over the same core as the CLI.

A thin adapter (deploy/enforce.yaml runs it): settings from environment variables
(admin/lambda_env.py), botocore clients from the function's role, one ``enforce()`` run, its
whole output written to the function's log as JSON lines, a short summary returned.

A run that could not do everything raises ``EnforcementIncomplete`` *after* logging the output,
so the invocation counts as an error in the function's CloudWatch ``Errors`` metric: exit 11
(an account could not be processed) and exit 12 (an action was attempted and failed) both need
an administrator, and an alarm on that metric is how one hears of it. What was done stays done;
the next scheduled run retries the rest.

Imports botocore and the standard library only, never awscli (the Lambda runtime has none).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import botocore.session
from botocore.config import Config

from awscli_rotate_key.admin.enforce import EnforceSettings, enforce
from awscli_rotate_key.admin.lambda_env import settings_from

Log = Callable[[str], None]
INCOMPLETE = {11: "an account could not be processed", 12: "an action was attempted and failed"}


class EnforcementIncomplete(Exception):
    """The run finished with exit code 11 or 12; its output is in the invocation's log."""

    def __init__(self, exit_code: int, summary: dict[str, Any]) -> None:
        super().__init__(
            f"enforce-key-rotation: exit {exit_code}: {INCOMPLETE[exit_code]}; everything else "
            "was done. The log of this invocation lists each failure (Accounts[].Error, "
            "Actions[] with Applied false and a Reason): fix the cause; the next run retries it."
        )
        self.exit_code = exit_code
        self.summary = summary


class LambdaClients:
    """botocore clients for the enforcement core, from the function's own credentials.

    The same policy as the CLI's audit clients: enough pooled connections for every call in
    flight, botocore's own retries and timeouts (AWS_RETRY_MODE / AWS_MAX_ATTEMPTS apply).
    """

    def __init__(self, max_concurrency: int, session: Any = None) -> None:
        self._session = session or botocore.session.get_session()
        self._config = Config(max_pool_connections=max(10, max_concurrency))
        self._region = (
            self._session.get_config_variable("region")
            or os.environ.get("AWS_REGION")
            or "us-east-1"  # IAM, STS and Organizations answer there
        )
        self._lock = threading.Lock()  # creating clients is not thread-safe in botocore
        self._own: dict[str, Any] = {}

    def client(self, service: str, credentials: Mapping[str, Any] | None = None) -> Any:
        """The function's own client for ``service`` (one each), or one for assumed credentials."""
        with self._lock:
            if credentials is not None:
                return self._create(service, credentials)
            if service not in self._own:
                self._own[service] = self._create(service, None)
            return self._own[service]

    def member_iam(self, credentials: Mapping[str, Any]) -> Any:
        return self.client("iam", credentials)

    def signing_key_id(self) -> str | None:
        """The access key ID the function signs with (read locally, no AWS call)."""
        credentials = self._session.get_credentials()
        return None if credentials is None else str(credentials.access_key)

    def _create(self, service: str, credentials: Mapping[str, Any] | None) -> Any:
        keys: dict[str, Any] = {}
        if credentials is not None:
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
        return self._session.create_client(
            service, region_name=self._region, config=self._config, **keys
        )


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The function's entry point (``awscli_rotate_key.admin.lambda_handler.handler``)."""
    return run(os.environ, event, now=dt.datetime.now(dt.timezone.utc).replace(microsecond=0))


def run(
    environ: Mapping[str, str],
    event: Any,
    now: dt.datetime,
    clients: LambdaClients | None = None,
    log: Log | None = None,
) -> dict[str, Any]:
    """One run at ``now``: the summary, or EnforcementIncomplete (exit 11/12) once logged."""
    write = log or _print
    settings = settings_from(environ, event)  # a bad value stops here, before any AWS call
    clients = clients or LambdaClients(settings.max_concurrency)
    settings = _signed_by(settings, clients.signing_key_id())
    result = enforce(clients, settings, now, progress=ProgressLog(write))
    output = result.to_output()
    log_output(output, result.exit_code, write)
    summary = summary_of(output, result.exit_code)
    if result.exit_code in INCOMPLETE:
        raise EnforcementIncomplete(result.exit_code, summary)
    return summary


def _signed_by(settings: EnforceSettings, key_id: str | None) -> EnforceSettings:
    """Never act on the key this run signs with (a role's session key: harmless, but cheap)."""
    if key_id is None:
        return settings
    return replace(settings, signing_key_ids=settings.signing_key_ids | {key_id})


def log_output(output: Mapping[str, Any], exit_code: int, log: Log) -> None:
    """The whole output as JSON lines: one per action, one per account, then the run's totals.

    One line per record keeps each log event far below CloudWatch's 256 KB limit however large
    the organization, and lets Logs Insights filter on the fields (``filter Record = "Action"``).
    """
    for action in output["Actions"]:
        log(_json({"Record": "Action", **action}))
    for account in output["Accounts"]:
        log(_json({"Record": "Account", **account}))
    log(_json({"Record": "Run", **summary_of(output, exit_code)}))


def summary_of(output: Mapping[str, Any], exit_code: int) -> dict[str, Any]:
    """What the invocation returns: totals and the accounts that could not be processed."""
    return {
        "DryRun": output["DryRun"],
        "ExitCode": exit_code,
        "Summary": output["Summary"],
        "Actions": len(output["Actions"]),
        "Accounts": len(output["Accounts"]),
        "AccountErrors": [a for a in output["Accounts"] if a.get("Error")],
    }


class ProgressLog:
    """Logs accounts done / total at most about ten times a run, for a run that times out."""

    def __init__(self, log: Log) -> None:
        self._log, self._last = log, -1
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int) -> None:
        tenth = 10 * done // max(total, 1)
        with self._lock:
            if tenth == self._last:
                return
            self._last = tenth
        self._log(_json({"Record": "Progress", "AccountsDone": done, "AccountsTotal": total}))


def _json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=False, default=str)


def _print(line: str) -> None:
    # Lambda sends the function's stdout to CloudWatch Logs, one event per line.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
