"""``aws iam enforce-key-rotation``: the command's arguments and help.

Built every time the ``iam`` command table is (every ``aws iam ...`` run), so it imports nothing
beyond what the CLI has loaded; the work lives in ``enforce_run`` and is imported when it runs.
"""

from __future__ import annotations

from typing import Any

from awscli.customizations.commands import BasicCommand

import awscli_rotate_key
from awscli_rotate_key.commands import arg, report_cannot_load

NAME = "enforce-key-rotation"
_HELP = ("iam", NAME)


class EnforceKeyRotationCommand(BasicCommand):
    NAME = NAME
    SUMMARY = (
        "Remind the owners of old access keys, then disable overdue keys, in an account or "
        "across an organization (a dry run unless --apply)"
    )
    DESCRIPTION = BasicCommand.FROM_FILE(*_HELP, "_description.rst", root_module=awscli_rotate_key)
    EXAMPLES = BasicCommand.FROM_FILE(*_HELP, "_examples.rst", root_module=awscli_rotate_key)
    SYNOPSIS = (
        "aws iam enforce-key-rotation [--remind-days 90] [--disable-days 120] [--grace-days 7]\n"
        "    [--remind-every 7] [--remind-only] [--delete-days <n>]\n"
        "    [--disable-unused-days <n>] [--email-tag email] [--sender <address>]\n"
        "    [--admin-email <address> ...] [--sns-topic-arn <arn>]\n"
        "    [--exempt-tag key-rotation-exempt] [--max-exemption-days 180]\n"
        "    [--exempt-group <name> ...] [--exclude-account-ids <id> ...] [--apply]\n"
        "    [--organization | --account-ids <id> ...] [--role-name <name>]\n"
        "    [--max-concurrency <n>]"
    )
    ARG_TABLE = [
        # Numbers are plain strings here, parsed in enforce_run (commands/options.py): an invalid
        # value gets one line and the CLI's usage exit code, not the CLI's own error.
        arg("remind-days", "<p>Remind the owner of an Active key older than this many days "
             "(default 90).</p>"),
        arg("disable-days", "<p>Disable an Active key older than this many days, on or after "
             "the <code>DisableDate</code> announced to its owner (default 120; not less than "
             "<code>--remind-days</code>).</p>"),
        arg("grace-days", "<p>Days between the final reminder that announces a disable and the "
             "disable (default 7; 0: the reminder names today and the next run disables). At "
             "most 36500, as every day option.</p>"),
        arg("remind-every", "<p>At most one reminder per key every this many days, except the "
             "final one that announces the <code>DisableDate</code> (default 7).</p>"),
        arg("remind-only", "<p>Only remind: never disable or delete.</p>", action="store_true"),
        arg("delete-days", "<p>Delete Inactive keys inactive for more than this many days "
             "(from the deactivation recorded in the state tag, else from CreateDate).</p>"),
        arg("disable-unused-days", "<p>Also disable Active keys not used for more than this "
             "many days (a never-used key counts from CreateDate), with the same announcement "
             "(CIS 1.12).</p>"),
        arg("email-tag", "<p>The user tag holding the owner's e-mail address (default "
             "<code>email</code>).</p>"),
        arg("sender", "<p>The SES-verified address e-mails are sent from; without it owners "
             "are not e-mailed.</p>"),
        arg("admin-email", "<p>Send the administrators' summary to these addresses (needs "
             "<code>--sender</code>).</p>", nargs="+"),
        arg("sns-topic-arn", "<p>Publish the administrators' summary to this SNS topic.</p>"),
        arg("exempt-tag", "<p>The user tag holding an exemption date YYYY-MM-DD (default "
             "<code>key-rotation-exempt</code>).</p>"),
        arg("max-exemption-days", "<p>An exemption date more than this many days ahead is "
             "invalid (default 180).</p>"),
        arg("exempt-group", "<p>Users in these IAM groups are exempt (listed in every "
             "summary).</p>", nargs="+"),
        arg("exclude-account-ids", "<p>Never assume, read or act in these accounts "
             "(break-glass accounts); each is listed in <code>Accounts</code> with the note "
             "<code>EXCLUDED_ACCOUNT</code>.</p>", nargs="+"),
        arg("apply", "<p>Act: disable, delete, e-mail, publish and write the state tags. "
             "Without it the run is a dry run that changes and sends nothing.</p>",
             action="store_true"),
        arg("organization", "<p>Every ACTIVE account of the AWS Organization. Cannot be used "
             "with <code>--account-ids</code>.</p>", action="store_true"),
        arg("account-ids", "<p>These accounts (12-digit IDs).</p>", nargs="+"),
        arg("role-name", "<p>Role assumed in every account other than the caller's "
             "(default OrganizationAccountAccessRole), as session "
             "<code>enforce-key-rotation</code>.</p>"),
        arg("max-concurrency", "<p>At most this many API calls in flight (default 8).</p>"),
    ]  # fmt: skip

    def create_help_command(self) -> Any:
        from awscli_rotate_key.commands.helppage import help_with_summary

        return help_with_summary(self)

    def _run_main(self, parsed_args: Any, parsed_globals: Any) -> int:
        try:
            from awscli_rotate_key.commands.enforce_run import run

            return run(self._session, parsed_args, parsed_globals)
        except ImportError as error:  # a module of a partial install, imported only now
            return report_cannot_load(self.NAME, error)
