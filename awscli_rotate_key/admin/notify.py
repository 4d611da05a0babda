"""The messages of enforce-key-rotation: owners' e-mails (SES) and the administrators' summary.

One e-mail per owner address per run, listing all that address's keys across all accounts. The
administrators' summary goes to an SNS topic and/or admin addresses, one message per run, kept
under SNS's 256 KB (the full list is in the command's output or the function's log).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from awscli_rotate_key.admin.enforce_accounts import DISABLES, EXCLUDED_NOTE, AccountWork, Item
from awscli_rotate_key.admin.enforce_rules import ACTIONS, EXEMPT, EXEMPT_GROUP, INVALID_EXEMPTION
from awscli_rotate_key.admin.enforce_rules import REMIND as REMINDER
from awscli_rotate_key.admin.report import AWS_FAILURES, describe_failure

SNS_LIMIT = 256 * 1024
SUMMARY_BUDGET = SNS_LIMIT - 6 * 1024  # room for the cut-off line and SNS's own envelope
SUBJECT_LIMIT = 100  # SNS: at most 100 printable ASCII characters


def owner_mail(items: Sequence[Item]) -> dict[str, list[Item]]:
    """The items each owner address is told about: reminders, and keys disabled this run."""
    mail: dict[str, list[Item]] = {}
    for item in items:
        if item.recipient is None:
            continue
        action = item.decision.action
        if action == REMINDER or (action in DISABLES and item.applied):
            mail.setdefault(item.recipient, []).append(item)
    return mail


def _key_line(item: Item) -> str:
    key = item.key
    head = (
        f"- account {key.account_id}, user {key.user_name}, key {key.access_key_id}, "
        f"{item.decision.age_days} days old: "
    )
    when = item.decision.disable_date
    if item.decision.action in DISABLES:
        return head + "DISABLED by this run (an administrator can reactivate it)"
    if when is None:
        return head + "please rotate it"
    return head + f"will be disabled on or after {when.isoformat()} (UTC) unless you rotate it"


def owner_message(items: Sequence[Item]) -> tuple[str, str]:
    """(subject, body) of one owner's e-mail."""
    disabled = any(i.decision.action in DISABLES for i in items)
    subject = "Your AWS access keys: " + ("a key was disabled" if disabled else "time to rotate")
    lines = [
        "Hello,",
        "",
        "These AWS access keys of yours are older than your organization allows:",
        "",
        *[_key_line(i) for i in items],
        "",
        "To rotate a key, run (AWS CLI with the awscli-rotate-key plugin):",
        "",
        "    aws iam rotate-my-key --profile <the profile that holds the key>",
        "",
        "It creates a new key, puts it into your AWS CLI files, checks that it works, and only",
        "then deletes the old one. To read more, run `aws iam rotate-my-key help`, or see",
        'the section "rotate-my-key" of the awscli-rotate-key README (to install the plugin:',
        'its section "Install and enable").',
        "",
        "This message was sent by enforce-key-rotation.",
    ]
    return subject, "\n".join(lines) + "\n"


def send_email(ses: Any, sender: str, to: Sequence[str], subject: str, body: str) -> str | None:
    """SES SendEmail; None when accepted, else what SES said."""
    try:
        ses.send_email(
            Source=sender,
            Destination={"ToAddresses": list(to)},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
            },
        )
    except AWS_FAILURES as error:
        return describe_failure(error)
    return None


def publish(sns: Any, topic_arn: str, subject: str, body: str) -> str | None:
    """SNS Publish; None when accepted, else what SNS said."""
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject[:SUBJECT_LIMIT], Message=body)
    except AWS_FAILURES as error:
        return describe_failure(error)
    return None


# --- the administrators' summary -------------------------------------------------------------


def _row(item: Item) -> str:
    key, decision = item.key, item.decision
    parts = [
        f"{decision.action} {key.account_id} {key.user_name} {key.access_key_id or '(no key ID)'}",
        f"age {decision.age_days}",
    ]
    if decision.disable_date is not None:
        parts.append(f"DisableDate {decision.disable_date.isoformat()}")
    if item.recipient:
        parts.append(f"to {item.recipient}")
    if item.reason:
        parts.append(f"({item.reason})")
    return "  " + ", ".join(parts)


def announced_here(items: Sequence[Item]) -> list[Item]:
    """The reminders the summary itself announces: those of owners without an address."""
    return [
        i
        for i in items
        if i.decision.action == REMINDER and i.recipient is None and i.reason is None
    ]


def summary_sections(
    works: Sequence[AccountWork], items: Sequence[Item], problems: Sequence[str], applied: bool
) -> list[tuple[str, list[str]]]:
    """(heading, lines) of the summary after its announcements, most important first."""
    done = [i for i in items if i.applied or (not applied and i.decision.action in ACTIONS[:4])]
    notes = [(w.account_id, note) for w in works for note in w.notes]
    return [
        (
            "Could not be done",
            [f"  account {w.account_id}: {w.error}" for w in works if w.error]
            + [f"  {p}" for p in problems]
            + [_row(i) for i in items if i.failed or (i.reason == "NoRecipient")],
        ),
        (
            "Invalid exemptions",
            [_row(i) + " " + n for i in items for n in i.notes if n.startswith(INVALID_EXEMPTION)],
        ),
        (
            "Group exemptions (keys kept by group membership, with their age)",
            [f"  account {a}: {note}" for a, note in notes if note.startswith("EXEMPT_GROUP")]
            + [_row(i) for i in items if i.decision.action == EXEMPT and i.reason == EXEMPT_GROUP],
        ),
        (
            "Excluded accounts (not read)",
            [f"  account {a}: {note}" for a, note in notes if note.startswith(EXCLUDED_NOTE)],
        ),
        ("Done" if applied else "Planned (dry run: nothing was changed)", [_row(i) for i in done]),
    ]


def admin_message(
    works: Sequence[AccountWork],
    items: Sequence[Item],
    problems: Sequence[str],
    applied: bool,
    now: dt.datetime,
) -> tuple[str, str, list[Item]]:
    """(subject, body, the reminders it announces) of the summary, cut to fit SNS's 256 KB.

    The reminders of owners without an address come first; one whose line was cut off is not
    in the list returned, so it is not announced (a later run announces it).
    """
    counts = {a: sum(i.decision.action == a for i in items) for a in ACTIONS}
    said = ", ".join(f"{n} {a}" for a, n in counts.items() if n) or "nothing to do"
    subject = f"enforce-key-rotation: {said}"[:SUBJECT_LIMIT]
    head = [
        f"enforce-key-rotation at {now.isoformat()} over {len(works)} account(s)"
        + ("" if applied else " (dry run)"),
        "Counts: " + ", ".join(f"{a} {n}" for a, n in counts.items()),
    ]
    lines: list[tuple[str, Item | None]] = [(line, None) for line in head]
    here = announced_here(items)
    if here:
        lines += [("", None), ("Owners without an address (announced here):", None)]
        lines += [(_row(i), i) for i in here]
    lines += [
        (line, None)
        for heading, rows in summary_sections(works, items, problems, applied)
        if rows
        for line in ["", f"{heading}:", *rows]
    ]
    body, kept = _fit(lines)
    return subject, body, kept


def _fit(lines: Sequence[tuple[str, Item | None]]) -> tuple[str, list[Item]]:
    """The lines that fit the budget, and the items whose line is among them."""
    out: list[str] = []
    kept: list[Item] = []
    size = 0
    for n, (line, item) in enumerate(lines):
        size += len(line.encode("utf-8")) + 1
        if size > SUMMARY_BUDGET:
            cut = sum(item is not None for _, item in lines[n:])
            out.append(
                f"... {len(lines) - n} more line(s): the full list is in the command's output "
                "(or the function's log)"
                + (f"; {cut} key(s) not announced here: a later run announces them" if cut else "")
            )
            break
        out.append(line)
        if item is not None:
            kept.append(item)
    return "\n".join(out) + "\n", kept
