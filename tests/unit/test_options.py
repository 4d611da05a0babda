"""The option parsers every command uses, and the one line a failed IAM call gets."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from awscli_rotate_key.commands.options import (
    not_together,
    one_of,
    report_invalid,
    text,
    whole_number,
)
from awscli_rotate_key.errors import IamError, InvalidOption


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 60), ("0", 0), ("90", 90), ("007", 7)],
)
def test_whole_number_accepts_digits_and_takes_the_default_when_absent(
    value: str | None, expected: int
) -> None:
    assert whole_number("older-than", value, "days", default=60) == expected


@pytest.mark.parametrize(
    ("value", "minimum", "why"),
    [
        ("abc", 0, "'abc' is not a whole number of days"),
        ("1.5", 0, "'1.5' is not a whole number of days"),
        (" 5", 0, "' 5' is not a whole number of days"),
        ("", 0, "'' is not a whole number of days"),
        ("٣", 0, "'٣' is not a whole number of days"),  # int() would take this Arabic digit
        ("-1", 0, "must be 0 or more days, not -1"),
        ("0", 1, "must be 1 or more days, not 0"),
    ],
)
def test_whole_number_refuses_with_the_reason(value: str, minimum: int, why: str) -> None:
    with pytest.raises(InvalidOption) as error:
        whole_number("older-than", value, "days", minimum=minimum)

    assert str(error.value) == f"--older-than: {why}"


def test_text_refuses_empty_and_values_not_matching() -> None:
    assert text("user-name", None) is None
    assert text("user-name", "alice", r"\w+", "a name") == "alice"
    with pytest.raises(InvalidOption, match=r"^--user-name: must not be empty$"):
        text("user-name", "")
    with pytest.raises(InvalidOption, match=r"^--user-name: must not be empty$"):
        text("user-name", "  ")
    with pytest.raises(InvalidOption, match=r"^--user-name: 'a b' is not a name$"):
        text("user-name", "a b", r"\w+", "a name")


def test_one_of_and_not_together() -> None:
    assert one_of("fail-on", "alert", ("warning", "alert")) == "alert"
    with pytest.raises(InvalidOption, match="'x' is not one of warning, alert"):
        one_of("fail-on", "x", ("warning", "alert"))
    not_together("delete", "no-delete", SimpleNamespace(delete=True, no_delete=False))
    with pytest.raises(InvalidOption, match=r"^--delete: cannot be used with --no-delete$"):
        not_together("delete", "no-delete", SimpleNamespace(delete=True, no_delete=True))


def test_report_invalid_writes_one_line_and_returns_the_usage_code() -> None:
    from awscli_rotate_key.commands.runtime import usage_exit_code

    out = io.StringIO()
    code = report_invalid("my-command", InvalidOption("days", "must not be empty"), out)

    assert out.getvalue() == "my-command: --days: must not be empty\n"
    assert code == usage_exit_code() == 255  # this venv's awscli is v1


def test_a_failed_call_mentions_the_journal_only_when_one_exists() -> None:
    from awscli_rotate_key.commands.rotate import failed_call_message

    error = IamError("GetUser", "InvalidClientTokenId", "The security token is invalid.")

    assert failed_call_message(error, journaled=False) == (
        "GetUser: InvalidClientTokenId: The security token is invalid"
    )
    assert failed_call_message(error, journaled=True) == (
        "GetUser: InvalidClientTokenId: The security token is invalid. A rotation is in flight "
        "and journaled: run `aws iam rotate-my-key` again to finish or undo it"
    )
