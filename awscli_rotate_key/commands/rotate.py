"""``aws iam rotate-my-key``: arguments, wiring to the CLI's session, rendering, exit codes."""

from __future__ import annotations

import sys
from typing import Any

from awscli.customizations.commands import BasicCommand

import awscli_rotate_key
from awscli_rotate_key.commands import arg
from awscli_rotate_key.errors import (
    EXIT_INTERRUPTED,
    EXIT_UNEXPECTED,
    IamError,
    RotateKeyError,
)

_HELP = ("iam", "rotate-my-key")


class RotateMyKeyCommand(BasicCommand):
    NAME = "rotate-my-key"
    DESCRIPTION = BasicCommand.FROM_FILE(*_HELP, "_description.rst", root_module=awscli_rotate_key)
    SYNOPSIS = (
        "aws iam rotate-my-key [--access-key-id <value>] [--user-name <value>]\n"
        "    [--delete | --no-delete] [--delete-other-key] [--older-than <days>]\n"
        "    [--wait-timeout <seconds>] [--dry-run] [--verbose]"
    )
    EXAMPLES = BasicCommand.FROM_FILE(*_HELP, "_examples.rst", root_module=awscli_rotate_key)
    ARG_TABLE = [
        arg("access-key-id", "<p>Guard: refuse (exit 3) unless the profile's key is this one.</p>"),
        arg("user-name", "<p>Guard: refuse (exit 3) unless the key belongs to this IAM user.</p>"),
        arg(
            "delete",
            "<p>Delete the old key after deactivating it (the default).</p>",
            action="store_true",
            group_name="delete",
        ),
        arg(
            "no-delete",
            "<p>Leave the old key Inactive instead of deleting it, so that it "
            "can be reactivated to undo the rotation.</p>",
            action="store_true",
            group_name="delete",
        ),
        arg(
            "delete-other-key",
            "<p>If the user already has two keys and the other one is "
            "Active, delete it to make room (otherwise the command refuses).</p>",
            action="store_true",
        ),
        arg(
            "older-than",
            "<p>Rotate only if the key is at least this many days old; "
            "otherwise exit 0 without changing anything. For cron.</p>",
            cli_type_name="integer",
        ),
        arg(
            "wait-timeout",
            "<p>Seconds to wait for the new key to work and for another run "
            "holding the lock (default 60).</p>",
            cli_type_name="integer",
            default=60,
        ),
        arg(
            "dry-run",
            "<p>Print the plan; call no mutating API, write no file.</p>",
            action="store_true",
        ),
        arg("verbose", "<p>Print each step on stderr.</p>", action="store_true"),
    ]

    def _run_main(self, parsed_args: Any, parsed_globals: Any) -> int:
        from awscli_rotate_key.commands.wiring import build_run

        reporter = StderrReporter(verbose=parsed_args.verbose)
        try:
            run = build_run(self._session, parsed_args, parsed_globals, reporter)
            result = run()
        except RotateKeyError as error:
            reporter.error(str(error))
            return error.exit_code
        except IamError as error:
            reporter.error(
                f"{error}. If a rotation was in flight it is journaled: run "
                "`aws iam rotate-my-key` again to finish or undo it"
            )
            return EXIT_UNEXPECTED
        except KeyboardInterrupt:
            reporter.error(
                "interrupted; any rotation in flight is journaled and the next "
                "`aws iam rotate-my-key` finishes or undoes it"
            )
            return EXIT_INTERRUPTED
        reporter.done()
        self._render(result.to_output(), parsed_globals)
        return 0

    def _render(self, output: dict[str, Any], parsed_globals: Any) -> None:
        from awscli.formatter import get_formatter

        fmt = parsed_globals.output or self._session.get_config_variable("output") or "json"
        formatter = get_formatter(fmt, parsed_globals)
        formatter.query = parsed_globals.query
        formatter(self.NAME, output)


class StderrReporter:
    """Progress on stderr: steps with --verbose, warnings always, dots while waiting on a TTY."""

    def __init__(self, verbose: bool, stream: Any = None) -> None:
        self._stream = stream or sys.stderr
        self._verbose = verbose
        self._tty = hasattr(self._stream, "isatty") and self._stream.isatty()
        self._dots = False

    def _line(self, text: str) -> None:
        if self._dots:
            self._stream.write("\n")
            self._dots = False
        self._stream.write(text + "\n")
        self._stream.flush()

    def step(self, message: str) -> None:
        if self._verbose:
            self._line(message)

    def warn(self, message: str) -> None:
        self._line(f"rotate-my-key: {message}")

    def error(self, message: str) -> None:
        self._line(f"rotate-my-key: {message}")

    def waiting(self) -> None:
        if self._tty:
            self._stream.write(".")
            self._stream.flush()
            self._dots = True

    def done(self) -> None:
        if self._dots:
            self._stream.write("\n")
            self._stream.flush()
            self._dots = False
