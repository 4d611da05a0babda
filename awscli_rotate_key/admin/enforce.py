"""enforce-key-rotation: remind owners of old keys, then disable overdue keys, across accounts.

The same core serves the CLI command and the scheduled Lambda function: both pass a ``Clients``
(plain botocore clients) and ``EnforceSettings``, and render the returned ``EnforceRun``. A dry
run (no ``apply``) makes no mutating call: no UpdateAccessKey, DeleteAccessKey, TagUser, SES or
SNS call. Order of a run that applies: read and decide every account, disable and delete (in
each account's task), e-mail the owners, send the administrators' summary, write the tags.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from awscli_rotate_key.admin.enforce_accounts import (
    DISABLES,
    AccountWork,
    Item,
    enforce_account,
    excluded,
    map_concurrently,
)
from awscli_rotate_key.admin.enforce_rules import (
    ACTIONS,
    NO_RECIPIENT,
    REMIND,
    EnforceSettings,
)
from awscli_rotate_key.admin.enforce_tags import write_state_tags
from awscli_rotate_key.admin.notify import (
    admin_message,
    announced_here,
    owner_mail,
    owner_message,
    publish,
    send_email,
)
from awscli_rotate_key.admin.organization import over_accounts, plan_accounts
from awscli_rotate_key.errors import (
    EXIT_AUDIT_ACCOUNT_FAILED,
    EXIT_ENFORCE_ACTION_FAILED,
    EXIT_OK,
)

__all__ = ["Clients", "EnforceRun", "EnforceSettings", "enforce"]
SESSION_NAME = "enforce-key-rotation"


class Clients(Protocol):
    """Makes clients: the caller's (``credentials`` None) or an assumed role's."""

    def client(self, service: str, credentials: dict[str, Any] | None = None) -> Any: ...

    def member_iam(self, credentials: dict[str, Any]) -> Any: ...


@dataclass
class EnforceRun:
    """What a run found and did."""

    dry_run: bool
    accounts: list[AccountWork]
    items: list[Item]
    problems: list[str] = field(default_factory=list)  # failed sends of the summary

    def summary(self) -> dict[str, int]:
        return {a: sum(i.decision.action == a for i in self.items) for a in ACTIONS}

    def to_output(self) -> dict[str, Any]:
        return {
            "DryRun": self.dry_run,
            "Actions": [item.to_output() for item in self.items],
            "Accounts": [
                {"AccountId": w.account_id, "Error": w.error, "Notes": list(w.notes)}
                for w in self.accounts
            ],
            "Summary": self.summary(),
        }

    @property
    def exit_code(self) -> int:
        """12 an attempted action failed (wins; never in a dry run), 11 an account failed."""
        if not self.dry_run and (self.problems or any(i.failed for i in self.items)):
            return EXIT_ENFORCE_ACTION_FAILED
        if any(w.error for w in self.accounts):
            return EXIT_AUDIT_ACCOUNT_FAILED
        return EXIT_OK


def enforce(
    clients: Clients,
    settings: EnforceSettings,
    now: dt.datetime,
    progress: Callable[[int, int], None] | None = None,
) -> EnforceRun:
    """The whole run. AWS failures before any account is read (identity, organization) raise."""
    access, account_ids = plan_accounts(
        clients,
        settings.role_name,
        settings.organization,
        settings.account_ids,
        session_name=SESSION_NAME,
    )

    def one(account_id: str, iam: Any, fanout: Any) -> AccountWork:
        return enforce_account(account_id, iam, fanout, settings, now)

    skipped = set(settings.exclude_account_ids)  # break-glass accounts: not even assumed
    read = over_accounts(
        [a for a in account_ids if a not in skipped],
        access,
        settings.max_concurrency,
        one,
        lambda account_id, error: AccountWork(account_id, error),
        progress,
    )
    by_id = {work.account_id: work for work in read}
    works = [by_id.get(a) or excluded(a) for a in dict.fromkeys(account_ids)]
    items = [item for work in works for item in work.items]
    items.sort(key=lambda i: (i.key.account_id, i.key.user_name, i.key.access_key_id or ""))
    run = EnforceRun(not settings.apply, works, items)
    for item in items:
        _address(item, settings)
    if settings.apply:
        _tell_owners(run, clients, settings)
        _tell_administrators(run, clients, settings, now)
        write_state_tags(run.items, now.date(), settings.max_concurrency)
    return run


def _address(item: Item, settings: EnforceSettings) -> None:
    """Who is told about the item: its owner, else the administrators, else nobody."""
    action = item.decision.action
    if action != REMIND and action not in DISABLES:
        return
    email = item.user.facts.email
    if email and settings.sender:
        item.recipient = email
        return
    why = "no --sender" if email else f"no {settings.email_tag} tag on the user"
    if settings.admin_channel:
        item.notes.append(f"NO_OWNER_ADDRESS: {why}; for the administrators' summary")
    elif action == REMIND:
        item.reason = NO_RECIPIENT  # never announced, so never disabled
        item.notes.append(f"NO_RECIPIENT: {why} and no administrators' channel")
    else:
        item.notes.append(f"NO_RECIPIENT: {why}; the owner is not told")


def _tell_owners(run: EnforceRun, clients: Clients, settings: EnforceSettings) -> None:
    mail = owner_mail(run.items)
    if not mail or settings.sender is None:
        return
    ses, sender = clients.client("ses"), settings.sender

    def send(address: str) -> None:
        subject, body = owner_message(mail[address])
        error = send_email(ses, sender, [address], subject, body)
        for item in mail[address]:
            if item.decision.action != REMIND:
                if error:
                    item.failed = True
                    item.notes.append(f"OWNER_NOT_TOLD: {error}")
            elif error:
                item.fail(f"{error} (not reminded: the grace does not start)")
            else:
                item.applied = True

    map_concurrently(send, sorted(mail), settings.max_concurrency)


def _tell_administrators(
    run: EnforceRun, clients: Clients, settings: EnforceSettings, now: dt.datetime
) -> None:
    """One summary per run; it also announces the reminders of owners without an address:
    those whose line fits in it, once SNS or SES accepted it."""
    if not settings.admin_channel:
        return
    subject, body, kept = admin_message(run.accounts, run.items, run.problems, True, now)
    accepted = False
    if settings.sns_topic_arn:
        error = publish(clients.client("sns"), settings.sns_topic_arn, subject, body)
        accepted |= error is None
        if error:
            run.problems.append(f"administrators' summary to {settings.sns_topic_arn}: {error}")
    if settings.admin_emails and settings.sender:
        to = settings.admin_emails
        error = send_email(clients.client("ses"), settings.sender, to, subject, body)
        accepted |= error is None
        if error:
            run.problems.append(f"administrators' summary to {', '.join(to)}: {error}")
    in_summary = {id(item) for item in kept}
    for item in announced_here(run.items):
        if not accepted:
            item.fail("the administrators' summary was not accepted (not reminded)")
        elif id(item) in in_summary:
            item.applied = True
        else:  # its line was cut to keep the summary under SNS's limit: nobody was told
            item.notes.append(
                "NOT_ANNOUNCED: the administrators' summary was full; a later run announces it"
            )
