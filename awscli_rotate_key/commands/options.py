"""Option values checked by us, before any AWS call, the same way for every command.

The rule (README, "Exit codes"): an invalid value -- wrong type, out of range, empty, or options
that cannot be used together -- ends the command with one line ``<command>: --<option>: <why>``
on stderr and the CLI's own exit code for a usage error (255 under v1, 252 under v2). Exit 3
stays for refusals based on the account or the files.

So an option whose value needs checking is declared as a plain string in ARG_TABLE (the CLI's
``integer`` type would stop with ``invalid literal for int()``, and ``choices`` with exit 2 under
v1) and parsed here.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from awscli_rotate_key.errors import InvalidOption

_WHOLE = re.compile(r"^-?[0-9]+$")


def whole_number(
    option: str,
    value: str | None,
    unit: str = "",
    minimum: int = 0,
    default: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """``value`` as an int from ``minimum`` to ``maximum`` (if given); ``default`` when the
    option was not given."""
    if value is None:
        return default
    of_unit = f" of {unit}" if unit else ""
    if not _WHOLE.match(value):
        raise InvalidOption(option, f"{value!r} is not a whole number{of_unit}")
    in_unit = f" {unit}" if unit else ""
    number, shown = (int(value), str(int(value))) if maximum is None else _bounded_int(value)
    if number < minimum:
        raise InvalidOption(option, f"must be {minimum} or more{in_unit}, not {shown}")
    if maximum is not None and number > maximum:
        raise InvalidOption(option, f"must be {maximum} or less{in_unit}, not {shown}")
    return number


def _bounded_int(value: str) -> tuple[int, str]:
    """(the number, how a message shows it); past 18 digits +-10**18 (int() refuses 4300)."""
    if len(value.lstrip("-").lstrip("0")) <= 18:
        return int(value), str(int(value))
    return (-1 if value.startswith("-") else 1) * 10**18, value[:20] + "..."


def text(option: str, value: str | None, pattern: str | None = None, what: str = "") -> str | None:
    """A non-empty string (matching ``pattern``, which ``what`` describes), or None if not given."""
    if value is None:
        return None
    if not value.strip():
        raise InvalidOption(option, "must not be empty")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise InvalidOption(option, f"{value!r} is not {what}")
    return value


def one_of(option: str, value: str | None, choices: Sequence[str]) -> str | None:
    if value is None or value in choices:
        return value
    raise InvalidOption(option, f"{value!r} is not one of {', '.join(choices)}")


def not_together(option: str, other: str, parsed_args: Any) -> None:
    """Refuse two options that contradict each other (``option`` is named first in the line)."""
    if _given(parsed_args, option) and _given(parsed_args, other):
        raise InvalidOption(option, f"cannot be used with --{other}")


def _given(parsed_args: Any, option: str) -> bool:
    value = getattr(parsed_args, option.replace("-", "_"), None)
    return value not in (None, False, [])


def report_invalid(command: str, error: InvalidOption, stream: TextIO | None = None) -> int:
    """Write the one-line message; return the CLI's exit code for a usage error."""
    from awscli_rotate_key.commands.runtime import usage_exit_code

    out = stream or sys.stderr
    out.write(f"{command}: {error}\n")
    out.flush()
    return usage_exit_code()
