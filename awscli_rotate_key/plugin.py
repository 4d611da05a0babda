"""Event handlers that put our commands into the ``iam`` command table.

Imported on every ``aws`` run: standard library only, and only what is already loaded.
"""

import logging

from awscli_rotate_key.redact import SecretRedactor

# Loggers whose records may carry a response body or request parameters with a secret in them.
# A filter must sit on the emitting logger itself: filters of a parent logger do not see records
# propagated from its children.
_REDACTED_LOGGERS = ("botocore.parsers", "botocore.endpoint", "botocore.hooks", "awscli.clidriver")


def register(cli) -> None:  # type: ignore[no-untyped-def]
    cli.register("building-command-table.iam", inject_commands)
    install_redaction()


def install_redaction() -> None:
    for name in _REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretRedactor) for f in logger.filters):
            logger.addFilter(SecretRedactor())


def inject_commands(command_table, session, **kwargs) -> None:  # type: ignore[no-untyped-def]
    from awscli_rotate_key.commands import lazy_commands

    for name, command in lazy_commands(session).items():  # type: ignore[no-untyped-call]
        command_table[name] = command
