"""AWS CLI plugin: ``aws iam rotate-my-key`` and the administrator's key audits.

Enable with ``aws configure set plugins.rotate_key awscli_rotate_key``. This module is imported on
every ``aws`` run, so it imports nothing that can fail and nothing that is not already loaded:
the commands are imported only when the ``iam`` command table is built, and the log redaction
only when a debug record is actually emitted.
"""

import logging

__version__ = "0.1.0"

# Loggers whose records may carry a response body or request parameters with a secret in them.
# A filter must sit on the emitting logger itself: a parent logger's filters do not see records
# propagated from its children.
REDACTED_LOGGERS = (
    "botocore.parsers",
    "botocore.endpoint",
    "botocore.hooks",
    "botocore.auth",  # the canonical request: an MFA session's token
    "awscli.clidriver",
)


def awscli_initialize(cli):  # type: ignore[no-untyped-def]
    """Entry point called by the AWS CLI's plugin loader with the session's event emitter."""
    cli.register("building-command-table.iam", _inject_commands)
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _redact_record not in logger.filters:
            logger.addFilter(_redact_record)


def _inject_commands(command_table, session, **kwargs):  # type: ignore[no-untyped-def]
    from awscli_rotate_key.commands import lazy_commands

    for name, command in lazy_commands(session).items():  # type: ignore[no-untyped-call]
        command_table[name] = command


def _redact_record(record):  # type: ignore[no-untyped-def]
    """A logging filter (called only for emitted records, i.e. with --debug); never drops one."""
    from awscli_rotate_key.redact import redact_record

    return redact_record(record)
