"""The state tag's format against IAM's rules (moto checks none of them), and corrupt values."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awscli_rotate_key.admin.statetag import (
    KeyState,
    StateTagError,
    format_state,
    parse_state,
    reminded,
    updated_state,
)

TODAY = dt.date(2024, 6, 1)
# IAM: a tag value is at most 256 characters of letters, digits, spaces and _ . : / = + - @.
IAM_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$", re.ASCII)

key_ids = st.from_regex(r"\A(AKIA|ASIA)[A-Z0-9]{16}\Z")
dates = st.none() | st.dates(min_value=dt.date(2000, 1, 1), max_value=TODAY)
states = st.builds(KeyState, last_reminded=dates, disable_date=dates, deactivated=dates)


@given(st.dictionaries(key_ids, states, max_size=2))
def test_any_state_of_a_users_two_keys_is_a_valid_iam_tag_value_and_reads_back(
    tag: dict[str, KeyState],
) -> None:
    value = format_state(tag)
    assert IAM_TAG_VALUE.match(value), value
    known = {k: s for k, s in tag.items() if s != KeyState()}
    assert parse_state(value, TODAY) == known


@given(st.dictionaries(st.from_regex(r"\A[A-Z0-9]{16,40}\Z"), states, max_size=2))
def test_longer_key_ids_still_fit(tag: dict[str, KeyState]) -> None:
    assert len(format_state(tag)) <= 256


def test_the_documented_example() -> None:
    value = "v1 AKIAIOSFODNN7EXAMPLE/r2024-06-01/d2024-06-08 AKIAI44QH8DHBEXAMPLE/x2024-05-02"
    assert parse_state(value, TODAY) == {
        "AKIAIOSFODNN7EXAMPLE": KeyState(dt.date(2024, 6, 1), dt.date(2024, 6, 8)),
        "AKIAI44QH8DHBEXAMPLE": KeyState(deactivated=dt.date(2024, 5, 2)),
    }
    assert format_state(parse_state(value, TODAY)) == (
        "v1 AKIAI44QH8DHBEXAMPLE/x2024-05-02 AKIAIOSFODNN7EXAMPLE/r2024-06-01/d2024-06-08"
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "v2 AKIAIOSFODNN7EXAMPLE/r2024-06-01",
        "AKIAIOSFODNN7EXAMPLE/r2024-06-01",
        "v1 AKIAIOSFODNN7EXAMPLE/r2024-13-01",
        "v1 AKIAIOSFODNN7EXAMPLE/r2024-06-0",
        "v1 AKIAIOSFODNN7EXAMPLE/q2024-06-01",
        "v1 AKIAIOSFODNN7EXAMPLE/r2024-06-01/r2024-05-01",
        "v1 AKIAIOSFODNN7EXAMPLE/r2024-06-01 AKIAIOSFODNN7EXAMPLE/d2024-06-08",
        "v1 akiaiosfodnn7example/r2024-06-01",
        "v1  AKIAIOSFODNN7EXAMPLE/r2024-06-01",
        "v1 AKIAIOSFODNN7EXAMPLE/r2024-06-02",  # reminded tomorrow: no run wrote that
        '{"AKIAIOSFODNN7EXAMPLE": "2024-06-01"}',
    ],
)
def test_a_value_not_in_the_format_is_refused_as_a_whole(value: str) -> None:
    with pytest.raises(StateTagError):
        parse_state(value, TODAY)


@given(st.text(max_size=300))
def test_any_text_either_parses_or_is_refused_never_crashes(value: str) -> None:
    with contextlib.suppress(StateTagError):
        parse_state(value, TODAY)


def test_an_impossible_length_is_refused_not_written() -> None:
    with pytest.raises(StateTagError, match="over IAM's 256"):
        format_state({"A" * 128 + str(n): KeyState(TODAY, TODAY, TODAY) for n in range(3)})


def test_updates_drop_keys_the_user_no_longer_has_and_forget_deleted_ones() -> None:
    old = {"AKIAOLD0000000000001": KeyState(TODAY), "AKIAGONE000000000001": KeyState(TODAY)}
    merged = updated_state(
        old,
        {"AKIANEW0000000000001": KeyState(TODAY), "AKIAOLD0000000000001": None},
        keep={"AKIAOLD0000000000001", "AKIANEW0000000000001"},
    )
    assert merged == {"AKIANEW0000000000001": KeyState(TODAY)}


def test_a_reminder_never_moves_the_announced_date_earlier() -> None:
    announced = KeyState(dt.date(2024, 5, 1), dt.date(2024, 6, 20))
    assert reminded(announced, TODAY, dt.date(2024, 6, 8)) == KeyState(TODAY, dt.date(2024, 6, 20))
    assert reminded(announced, TODAY, dt.date(2024, 7, 1)) == KeyState(TODAY, dt.date(2024, 7, 1))
    assert reminded(KeyState(), TODAY, None) == KeyState(TODAY)
