"""``aws iam enforce-key-rotation`` at run time: options, the signing keys, rendering, exit code."""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from awscli_rotate_key.admin.enforce import EnforceRun, EnforceSettings, enforce
from awscli_rotate_key.admin.enforce_rules import MAX_DAYS, SettingsConflict
from awscli_rotate_key.admin.organization import DEFAULT_ROLE
from awscli_rotate_key.admin.report import AWS_FAILURES, describe_failure, parse_timestamp
from awscli_rotate_key.commands.audit_run import _ACCOUNT_ID, _ROLE_NAME, SessionClients
from awscli_rotate_key.commands.enforce import NAME
from awscli_rotate_key.commands.options import report_invalid, text, whole_number
from awscli_rotate_key.commands.progress import account_progress
from awscli_rotate_key.commands.terminal import no_mfa_prompt_without_terminal, render
from awscli_rotate_key.errors import EXIT_UNEXPECTED, InvalidOption, Refused
from awscli_rotate_key.rotate.profiles import static_key_source

# Tests drive the clock with this; it is honoured only with an endpoint URL on this machine (a
# local emulator such as moto), never against AWS itself, and the run says so on stderr.
TEST_NOW = "AWSCLI_ROTATE_KEY_TEST_NOW"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_EMAIL = r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+"
_TAG_KEY = r"[\w .:/=+\-@]{1,128}"
_GROUP = r"[\w+=,.@-]{1,128}"
_TOPIC = r"arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]{1,256}"
MAX_FAILURE_LINES = 20


def _days(parsed_args: Any, option: str, default: int | None, minimum: int = 0) -> int | None:
    value = getattr(parsed_args, option.replace("-", "_"))
    return whole_number(option, value, "days", minimum=minimum, default=default, maximum=MAX_DAYS)


def _texts(option: str, values: list[str] | None, pattern: str, what: str) -> tuple[str, ...]:
    return tuple(text(option, v, pattern, what) or "" for v in values or ())


def _account_ids(option: str, values: list[str] | None) -> tuple[str, ...]:
    for value in values or ():
        if not _ACCOUNT_ID.match(value):
            raise InvalidOption(option, f"{value!r} is not a 12-digit account ID")
    return tuple(values or ())


def option_of(setting: str) -> str:
    """The option of an EnforceSettings field, without its dashes (admin_emails: admin-email)."""
    return _OPTION_OF.get(setting, setting.replace("_", "-"))


_OPTION_OF = {"admin_emails": "admin-email", "exempt_groups": "exempt-group"}


def settings_from(parsed_args: Any) -> EnforceSettings:
    """The options of a run; InvalidOption (a usage error) for a value that cannot be used."""
    settings = _parsed(parsed_args)
    try:
        settings.check()  # the rules across options live in the core, shared with the function
    except SettingsConflict as error:
        why = error.why(lambda setting: f"--{option_of(setting)}")
        raise InvalidOption(option_of(error.setting), why) from None
    return settings


def _parsed(parsed_args: Any) -> EnforceSettings:
    """Each option's value on its own (InvalidOption for one that cannot be used)."""
    remind, disable = _days(parsed_args, "remind-days", 90), _days(parsed_args, "disable-days", 120)
    assert remind is not None and disable is not None
    sender = text("sender", parsed_args.sender, _EMAIL, "an e-mail address")
    admin_emails = _texts("admin-email", parsed_args.admin_email, _EMAIL, "an e-mail address")
    concurrency = whole_number("max-concurrency", parsed_args.max_concurrency, minimum=1, default=8)
    return EnforceSettings(
        remind_days=remind,
        disable_days=disable,
        grace_days=_days(parsed_args, "grace-days", 7) or 0,
        remind_every=_days(parsed_args, "remind-every", 7, minimum=1) or 7,
        remind_only=parsed_args.remind_only,
        delete_days=_days(parsed_args, "delete-days", None),
        disable_unused_days=_days(parsed_args, "disable-unused-days", None),
        email_tag=text("email-tag", parsed_args.email_tag, _TAG_KEY, "an IAM tag key") or "email",
        sender=sender,
        admin_emails=admin_emails,
        sns_topic_arn=text("sns-topic-arn", parsed_args.sns_topic_arn, _TOPIC, "an SNS topic ARN"),
        exempt_tag=text("exempt-tag", parsed_args.exempt_tag, _TAG_KEY, "an IAM tag key")
        or "key-rotation-exempt",
        max_exemption_days=_days(parsed_args, "max-exemption-days", 180) or 0,
        exempt_groups=_texts("exempt-group", parsed_args.exempt_group, _GROUP, "an IAM group name"),
        exclude_account_ids=_account_ids("exclude-account-ids", parsed_args.exclude_account_ids),
        apply=parsed_args.apply,
        organization=parsed_args.organization,
        account_ids=_account_ids("account-ids", parsed_args.account_ids),
        role_name=text("role-name", parsed_args.role_name, _ROLE_NAME, "an IAM role name")
        or DEFAULT_ROLE,
        max_concurrency=concurrency or 8,
    )


def signing_key_ids(session: Any, parsed_globals: Any) -> frozenset[str]:
    """The caller's own key and, for an assume-role profile, the static key at the chain's end
    (a source_profile's, or the environment's for ``credential_source = Environment``).

    Disabling either would lock this run (and the next) out. The environment's key counts
    whenever it is set: it signs the run or the AssumeRole behind it, or is the operator's.
    """
    ids = set()
    credentials = session.get_credentials()
    if credentials is not None:
        ids.add(str(credentials.get_frozen_credentials().access_key))
    if os.environ.get("AWS_ACCESS_KEY_ID", "").strip():
        ids.add(os.environ["AWS_ACCESS_KEY_ID"].strip())
    profiles = session.full_config.get("profiles", {})
    try:
        source = static_key_source(
            session.profile or "default",
            profiles,
            os.environ,
            profile_from_flag=parsed_globals.profile is not None,
        )
    except Refused:  # environment keys, SSO, an instance role...: no static key behind them
        return frozenset(ids)
    static = profiles.get(source.profile, {}).get("aws_access_key_id")
    if static:
        ids.add(str(static).strip())
    return frozenset(ids)


def run_time(parsed_globals: Any) -> dt.datetime:
    """Now (UTC, to the second), or the test clock when it may be used."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    forced = os.environ.get(TEST_NOW)
    if not forced:
        return now
    endpoint = parsed_globals.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or ""
    if _host(endpoint) not in _LOOPBACK:
        _say(
            f"{TEST_NOW} ignored: it is honoured only with an --endpoint-url on this machine "
            "(127.0.0.1, localhost or ::1: an emulator)"
        )
        return now
    clock = parse_timestamp(forced)
    _say(f"clock set to {clock.isoformat()} by {TEST_NOW} (tests only)")
    return clock


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket: not this machine
        return None


def run(session: Any, parsed_args: Any, parsed_globals: Any) -> int:
    """The whole command: options, the run over every account, render, exit code."""
    try:
        settings = settings_from(parsed_args)
    except InvalidOption as error:
        return report_invalid(NAME, error)
    no_mfa_prompt_without_terminal(session)  # commands/terminal.py: unattended runs
    clients = SessionClients(session, parsed_globals, settings.max_concurrency)
    progress = account_progress(NAME, settings.organization)
    try:
        now = run_time(parsed_globals)
        settings = _with_signing_keys(settings, session, parsed_globals)
        result = enforce(clients, settings, now, progress)
    except AWS_FAILURES as error:
        _say(describe_failure(error))
        return EXIT_UNEXPECTED
    finally:
        if progress is not None:
            progress.end()
    document = result.to_output()
    if (parsed_globals.output or session.get_config_variable("output")) == "table" and (
        parsed_globals.query is None
    ):
        document = for_table(document)
    render(session, NAME, document, parsed_globals)
    tell(result)
    return result.exit_code


def _with_signing_keys(settings: EnforceSettings, session: Any, parsed_globals: Any) -> Any:
    from dataclasses import replace

    return replace(settings, signing_key_ids=signing_key_ids(session, parsed_globals))


def for_table(document: dict[str, Any]) -> dict[str, Any]:
    """``--output table`` without ``--query``: Notes as one cell, empty cells for nulls."""

    def cells(row: dict[str, Any]) -> dict[str, Any]:
        flat = {k: ("" if v is None else v) for k, v in row.items()}
        flat["Notes"] = "; ".join(row.get("Notes") or [])
        return flat

    return {
        **document,
        "Actions": [cells(a) for a in document["Actions"]],
        "Accounts": [cells(a) for a in document["Accounts"]],
    }


def tell(result: EnforceRun) -> None:
    """One stderr line per thing that went wrong, then what to do next."""
    for work in result.accounts:
        if work.error:
            _say(f"account {work.account_id} not processed: {work.error}")
        for note in work.notes:  # e.g. a mistyped --exempt-group: no one is exempt by it
            _say(f"account {work.account_id}: {note}")
    failed = [i for i in result.items if i.failed]
    for item in failed[:MAX_FAILURE_LINES]:
        key = item.key
        _say(
            f"{item.decision.action} of {key.access_key_id} (user {key.user_name}, account "
            f"{key.account_id}) failed: {item.reason or '; '.join(item.notes)}"
        )
    if len(failed) > MAX_FAILURE_LINES:
        _say(f"... and {len(failed) - MAX_FAILURE_LINES} more failures (see Actions)")
    for problem in result.problems:
        _say(problem)
    if result.dry_run:
        count = len([i for i in result.items if i.decision.action in ("REMIND", "DISABLE")])
        _say(
            f"dry run: nothing was changed or sent ({len(result.items)} key(s) listed, "
            f"{count} to remind or disable); run again with --apply to act"
        )


def _say(message: str) -> None:
    sys.stderr.write(f"{NAME}: {message}\n")
    sys.stderr.flush()
