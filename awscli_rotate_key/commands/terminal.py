"""What changes without a terminal: never page unless stdout is one, never prompt unless stdin is.

Unattended runs (cron, systemd, launchd, Task Scheduler) have neither; a pager would wait for a
key press, and a prompt would read the job's stdin or fail on a missing /dev/tty.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError


def stdin_is_a_terminal(stream: TextIO | None = None) -> bool:
    return _isatty(stream or sys.stdin)


def stdout_is_a_terminal(stream: TextIO | None = None) -> bool:
    return _isatty(stream or sys.stdout)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed, replaced or detached
        return False


def render(session: Any, command: str, output: dict[str, Any], parsed_globals: Any) -> None:
    """Print ``output`` as the CLI prints a response: --output, --query, and v2's pager."""
    from awscli.formatter import get_formatter

    fmt = parsed_globals.output or session.get_config_variable("output") or "json"
    formatter = get_formatter(fmt, parsed_globals)
    formatter.query = parsed_globals.query
    with output_stream(session) as stream:
        formatter(command, output, stream)


def output_stream(session: Any) -> contextlib.AbstractContextManager[Any]:
    """AWS CLI v2's pager (cli_pager, AWS_PAGER, PAGER, --no-cli-pager) when stdout is a
    terminal, as for every v2 command; otherwise ``None``: the formatter writes to stdout.

    v1 has no pager. The terminal test is ours too, so a CLI change cannot make a cron job page.
    """
    from awscli_rotate_key.commands.runtime import cli_major_version

    if cli_major_version() < 2 or not stdout_is_a_terminal():
        return contextlib.nullcontext(None)
    try:
        from awscli.utils import OutputStreamFactory
    except ImportError:  # a v2 without it: print as v1 does
        return contextlib.nullcontext(None)
    stream: contextlib.AbstractContextManager[Any] = OutputStreamFactory(
        session
    ).get_output_stream()
    return stream


class NoTerminalForMfaCode(BotoCoreError):
    fmt = (
        "the profile assumes a role with mfa_serial, which needs an MFA code, and stdin is not "
        "a terminal to ask for one; nothing was changed. Run the command from a terminal, or "
        "with a profile that needs no MFA code"
    )


def no_mfa_prompt_without_terminal(session: Any) -> None:
    """botocore asks for an assume-role MFA code with getpass, which falls back to reading
    stdin when there is no /dev/tty: without a terminal on stdin, fail instead of prompting.

    Only the prompt is replaced: cached role credentials still work without a code.
    """
    if stdin_is_a_terminal():
        return
    from botocore.exceptions import UnknownCredentialError

    try:
        provider = session.get_component("credential_provider").get_provider("assume-role")
    except UnknownCredentialError:  # no assume-role provider: nothing would prompt
        return
    if hasattr(provider, "_prompter"):
        provider._prompter = _refuse_to_prompt


def _refuse_to_prompt(prompt: str = "") -> str:
    raise NoTerminalForMfaCode()
