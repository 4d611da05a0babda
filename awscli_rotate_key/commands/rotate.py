"""``aws iam rotate-my-key``: arguments, wiring to the CLI's session, rendering, exit codes."""

from __future__ import annotations

import sys
from typing import Any

from awscli.customizations.commands import BasicCommand

import awscli_rotate_key
from awscli_rotate_key.commands import arg, report_cannot_load
from awscli_rotate_key.errors import (
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    EXIT_UNEXPECTED,
    IamError,
    InvalidOption,
    RotateKeyError,
)

_HELP = ("iam", "rotate-my-key")


class RotateMyKeyCommand(BasicCommand):
    NAME = "rotate-my-key"
    SUMMARY = (
        "Rotate the access key of the profile in use: the new key is saved and proven before "
        "the old one is retired"
    )
    DESCRIPTION = BasicCommand.FROM_FILE(*_HELP, "_description.rst", root_module=awscli_rotate_key)
    SYNOPSIS = (
        "aws iam rotate-my-key [--access-key-id <value>] [--user-name <value>]\n"
        "    [--delete | --no-delete] [--delete-other-key] [--older-than <days>]\n"
        "    [--wait-timeout <seconds>] [--mfa-serial <value>] [--token-code <value>]\n"
        "    [--restart-command <command>] [--restart-timeout <seconds>]\n"
        "    [--dry-run] [--verbose]\n"
        "aws iam rotate-my-key --all-profiles [--older-than <days>] [--delete | --no-delete]\n"
        "    [--delete-other-key] [--wait-timeout <seconds>] [--mfa-serial <value>]\n"
        "    [--token-code <value>] [--restart-command <command>]\n"
        "    [--restart-timeout <seconds>] [--dry-run] [--verbose]\n"
        "aws iam rotate-my-key --undo [--access-key-id <value>] [--user-name <value>]\n"
        "    [--wait-timeout <seconds>] [--mfa-serial <value>] [--token-code <value>]\n"
        "    [--dry-run] [--verbose]"
    )
    EXAMPLES = BasicCommand.FROM_FILE(*_HELP, "_examples.rst", root_module=awscli_rotate_key)
    ARG_TABLE = [
        arg("access-key-id", "<p>Guard: refuse (exit 3) unless the profile's key is this one.</p>"),
        arg("user-name", "<p>Guard: refuse (exit 3) unless the key belongs to this IAM user.</p>"),
        # No group_name for --delete/--no-delete: the help page would show only the first's text.
        arg(
            "delete",
            "<p>Delete the old key after deactivating it (the default). Cannot be used with "
            "<code>--no-delete</code>.</p>",
            action="store_true",
        ),
        arg(
            "no-delete",
            "<p>Leave the old key Inactive instead of deleting it, and keep its secret beside "
            "the journal (mode 0600) until the next rotation, so that <code>--undo</code> can "
            "put it back.</p>",
            action="store_true",
        ),
        arg(
            "delete-other-key",
            "<p>If the user already has two keys and the other one is "
            "Active, delete it to make room (otherwise the command refuses).</p>",
            action="store_true",
        ),
        arg(
            "older-than",
            "<p>Rotate only if the key is at least this many days old (a whole number, 0 or "
            "more); otherwise exit 0 without changing anything. For cron.</p>",
        ),
        arg(
            "wait-timeout",
            "<p>Seconds to wait for the new key to work and for another run "
            "holding the lock (a whole number, 1 or more; default 60).</p>",
        ),
        arg(
            "dry-run",
            "<p>Print the plan; change nothing (no key, no file).</p>",
            action="store_true",
        ),
        arg(
            "undo",
            "<p>Undo the last <code>--no-delete</code> rotation of the profile while its old key "
            "is still Inactive: reactivate the old key, prove it works, put it back in every "
            "profile that got the new key, and delete the new key. Exit 3 when there is nothing "
            "to undo. Cannot be used with <code>--no-delete</code>, <code>--delete</code>, "
            "<code>--delete-other-key</code>, <code>--older-than</code>, "
            "<code>--restart-command</code> or <code>--restart-timeout</code>.</p>",
            action="store_true",
        ),
        arg(
            "all-profiles",
            "<p>Rotate every long-term key that a profile in the credentials or config file "
            "holds, each key once (every profile holding it is moved), one after the other; "
            "a failure stops only that key's rotation. A rotation left in flight is finished "
            "or undone first, as its own entry; while it stays in flight (one per config "
            "directory) the other keys are not attempted (exit 3 each). Environment "
            "credentials and <code>--profile</code> select nothing. Output: "
            "<code>Results</code>, one entry per key with its <code>Profiles</code> and "
            "<code>ExitCode</code>; the command exits with the worst: 130, 255, 5, 4, 3, then "
            "0. Ctrl-C stops the run (130) and prints the entries done. Cannot be used with "
            "<code>--access-key-id</code>, <code>--user-name</code> or <code>--undo</code>.</p>",
            action="store_true",
        ),
        arg(
            "mfa-serial",
            "<p>The MFA device, for users whose policy denies key actions without MFA: an "
            "ARN (<code>arn:aws:iam::ACCOUNT:mfa/NAME</code>) or a hardware device serial. "
            "Default: <code>mfa_serial</code> of the profile that holds the key, else of the "
            "profile asked for. The run gets one MFA session (sts:GetSessionToken, signed by "
            "the old key) and does every key action through it. TOTP devices only: FIDO "
            "security keys and passkeys cannot be used with GetSessionToken.</p>",
        ),
        arg(
            "token-code",
            "<p>The current 6-digit code of the MFA device. Without it, the command asks for "
            "one only when stdin is a terminal, and otherwise refuses (exit 3) before any "
            "change. One code per run: a code is good once.</p>",
        ),
        arg(
            "restart-command",
            "<p>A shell command that restarts what holds the old key in memory (a service), "
            "run after the new key is saved and proven and before the old key is retired, "
            "with the new key in its environment (<code>AWS_ACCESS_KEY_ID</code>, "
            "<code>AWS_SECRET_ACCESS_KEY</code>; <code>AWS_SESSION_TOKEN</code> unset) and its "
            "output on stderr. It must exit 0 only when the service runs on the new key: "
            "otherwise the old key stays Active, the command exits 5, and the next run runs "
            "the command again before retiring the old key.</p>",
        ),
        arg(
            "restart-timeout",
            "<p>Seconds <code>--restart-command</code> may take (a whole number, 1 or more; "
            "default 300); past it, the command and every process it started are killed and "
            "it counts as failed.</p>",
        ),
        arg("verbose", "<p>Print each step on stderr.</p>", action="store_true"),
    ]

    def _run_main(self, parsed_args: Any, parsed_globals: Any) -> int:
        try:
            return self._rotate(parsed_args, parsed_globals)
        except ImportError as error:  # a module of a partial install, imported only now
            return report_cannot_load(self.NAME, error)

    def _rotate(self, parsed_args: Any, parsed_globals: Any) -> int:
        from awscli_rotate_key.commands.runtime import usage_exit_code
        from awscli_rotate_key.commands.terminal import stdin_is_a_terminal
        from awscli_rotate_key.commands.wiring import build_any_run
        from awscli_rotate_key.rotate.allprofiles import RunInterrupted

        reporter = StderrReporter(verbose=parsed_args.verbose)
        run = None
        try:
            run = build_any_run(
                self._session, parsed_args, parsed_globals, reporter, stdin_is_a_terminal()
            )
            result = run()
        except InvalidOption as error:
            reporter.error(str(error))
            return usage_exit_code()
        except RunInterrupted as stopped:  # --all-profiles: the keys done are still shown
            reporter.error(str(stopped))
            self._render(stopped.done.to_output(), parsed_globals)
            return EXIT_INTERRUPTED
        except RotateKeyError as error:
            reporter.error(str(error))
            return error.exit_code
        except IamError as error:
            reporter.error(failed_call_message(error, run is not None and run.journaled()))
            return EXIT_UNEXPECTED
        except OSError as error:  # the core words its own; these come from reading the setup
            from awscli_rotate_key.rotate.local import describe

            where = "nothing was changed" if run is None else "any rotation in flight is journaled"
            reporter.error(f"could not read or write a local file ({describe(error)}); {where}")
            return EXIT_REFUSED if run is None else EXIT_UNEXPECTED
        except KeyboardInterrupt:
            reporter.error(
                "interrupted; any rotation in flight is journaled and the next "
                "`aws iam rotate-my-key` finishes or undoes it"
            )
            return EXIT_INTERRUPTED
        reporter.done()
        self._render(result.to_output(), parsed_globals)
        return getattr(result, "exit_code", 0)  # --all-profiles: the worst result's

    def create_help_command(self) -> Any:
        from awscli_rotate_key.commands.helppage import help_with_summary

        return help_with_summary(self)

    def _render(self, output: dict[str, Any], parsed_globals: Any) -> None:
        from awscli_rotate_key.commands.terminal import render

        render(self._session, self.NAME, output, parsed_globals)


def failed_call_message(error: IamError, journaled: bool) -> str:
    """One line for a failed IAM call; the journal hint only when a rotation is in flight."""
    message = str(error).rstrip().rstrip(".")
    if not journaled:
        return message
    return (
        f"{message}. A rotation is in flight and journaled: run `aws iam rotate-my-key` again "
        "to finish or undo it"
    )


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
