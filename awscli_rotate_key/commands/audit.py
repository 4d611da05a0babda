"""``aws iam audit-access-keys``: the command's arguments and help.

Built every time the ``iam`` command table is (every ``aws iam ...`` run), so it imports nothing
beyond what the CLI has loaded; the work lives in ``audit_run`` and is imported when it runs.
"""

from __future__ import annotations

from typing import Any

from awscli.customizations.commands import BasicCommand

import awscli_rotate_key
from awscli_rotate_key.commands import arg, report_cannot_load

NAME = "audit-access-keys"
_HELP = ("iam", NAME)


class AuditAccessKeysCommand(BasicCommand):
    NAME = NAME
    SUMMARY = (
        "List every access key of an account or organization and judge each one as Trusted "
        "Advisor, AWS Config and CIS do"
    )
    DESCRIPTION = BasicCommand.FROM_FILE(*_HELP, "_description.rst", root_module=awscli_rotate_key)
    EXAMPLES = BasicCommand.FROM_FILE(*_HELP, "_examples.rst", root_module=awscli_rotate_key)
    SYNOPSIS = (
        "aws iam audit-access-keys [--warn-days <days>] [--alert-days <days>]\n"
        "    [--unused-days <days>] [--fail-on <warning|alert>]\n"
        "    [--organization | --account-ids <id> [<id> ...]] [--role-name <name>]\n"
        "    [--max-concurrency <n>]"
    )
    ARG_TABLE = [
        # Numbers and choices are plain strings here, parsed in audit_run (commands/options.py):
        # an invalid value gets one line and the CLI's usage exit code, not the CLI's own error.
        arg("warn-days", "<p>An Active key older than this many days is <code>OVERDUE</code> "
             "(WARNING). Default 90, as Trusted Advisor and AWS Config "
             "<code>access-keys-rotated</code>.</p>"),
        arg("alert-days", "<p>An Active key older than this many days is <code>CRITICAL</code> "
             "(ALERT). Default 730 (2 years), Trusted Advisor's red, or <code>--warn-days</code> "
             "if that is more; must not be less than <code>--warn-days</code>.</p>"),
        arg("unused-days", "<p>An Active key not used for more than this many days (counted "
             "from its last rotation if never used) is <code>UNUSED</code> (WARNING). "
             "Default 45, as CIS and Security Hub IAM.22.</p>"),
        arg("fail-on", "<p><code>warning</code> or <code>alert</code>: exit 10 if any key has "
             "this severity or worse.</p>"),
        arg("organization", "<p>Audit every ACTIVE account of the AWS Organization. Cannot be "
             "used with <code>--account-ids</code>.</p>", action="store_true"),
        arg("account-ids", "<p>Audit these accounts (12-digit IDs), not the organization's.</p>",
             nargs="+"),
        arg("role-name", "<p>Role assumed in every account other than the caller's "
             "(default OrganizationAccountAccessRole).</p>"),
        arg("max-concurrency", "<p>At most this many API calls in flight, across accounts "
             "and users (a whole number, 1 or more; default 8).</p>"),
    ]  # fmt: skip

    def create_help_command(self) -> Any:
        from awscli_rotate_key.commands.helppage import help_with_summary

        return help_with_summary(self)

    def _run_main(self, parsed_args: Any, parsed_globals: Any) -> int:
        try:
            from awscli_rotate_key.commands.audit_run import run

            return run(self._session, parsed_args, parsed_globals)
        except ImportError as error:  # a module of a partial install, imported only now
            return report_cannot_load(self.NAME, error)
