"""The wait for a new key (rotate/prove.py), on a fake clock: the schedule of its calls.

IAM is played as a propagation window: the key is refused (InvalidClientTokenId) until WINDOW
seconds after the wait starts. The goal of issue 9: the wait ends at most 2 s after the window,
at most one call a second before the first success, two successes in a row, the confirming call
soon after the first success.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awscli_rotate_key.errors import IamError
from awscli_rotate_key.rotate import prove
from awscli_rotate_key.rotate.prove import KeyNeverWorked, wait_until_key_works
from tests.unit.fakes import FakeClock, RecordingReporter

LATENCY = 0.05  # each call takes this long on the fake clock


@dataclass
class Steps:
    clock: FakeClock = field(default_factory=FakeClock)
    reporter: RecordingReporter = field(default_factory=RecordingReporter)

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)


@dataclass
class PropagatingIam:
    """Refuses the key until ``accepted_at``; logs (start, ok) of each call."""

    clock: FakeClock
    accepted_at: float
    code: str = "InvalidClientTokenId"
    refuse_after_first: bool = False  # one endpoint saw the key, the next did not yet
    calls: list[tuple[float, bool]] = field(default_factory=list)

    def list_access_keys(self) -> list[object]:
        start = self.clock.seconds
        self.clock.seconds += LATENCY
        ok = start >= self.accepted_at
        if ok and self.refuse_after_first and sum(o for _, o in self.calls) == 1:
            self.refuse_after_first, ok = False, False
        self.calls.append((start, ok))
        if not ok:
            raise IamError("ListAccessKeys", self.code, "not yet")
        return []


def run_wait(window: float, timeout: float = 60.0, **kw: object) -> tuple[Steps, PropagatingIam]:
    steps = Steps()
    iam = PropagatingIam(steps.clock, steps.clock.seconds + window, **kw)  # type: ignore[arg-type]
    wait_until_key_works(steps, iam, steps.clock.seconds + timeout)  # type: ignore[arg-type]
    return steps, iam


def check_schedule(window: float, steps: Steps, iam: PropagatingIam) -> None:
    starts = [start for start, _ in iam.calls]
    first_ok = next(i for i, (_, ok) in enumerate(iam.calls) if ok)
    # At most one call a second until the first success.
    gaps = [b - a for a, b in itertools.pairwise(starts[: first_ok + 1])]
    assert all(gap >= 1.0 for gap in gaps), gaps
    # Two successes in a row end the wait, the second soon after the first.
    assert [ok for _, ok in iam.calls[-2:]] == [True, True]
    assert starts[-1] - (starts[-2] + LATENCY) <= prove.CONFIRM_SECONDS
    # The wait ends at most 2 s after IAM starts accepting the key.
    overshoot = steps.clock.seconds - iam.accepted_at
    assert overshoot <= 2.0, overshoot


@pytest.mark.parametrize("window", [0.0, 2.0, 2.7, 5.3, 10.0])
def test_the_issue_windows_end_within_two_seconds(window: float) -> None:
    steps, iam = run_wait(window)
    check_schedule(window, steps, iam)
    assert steps.clock.sleeps[-1] == prove.CONFIRM_SECONDS


@settings(max_examples=60, deadline=None)
@given(window=st.floats(0.0, 50.0))
def test_any_window_within_the_timeout_keeps_the_schedule(window: float) -> None:
    steps, iam = run_wait(window)
    check_schedule(window, steps, iam)


def test_an_accepted_key_takes_two_calls_and_one_short_pause() -> None:
    steps, iam = run_wait(0.0)
    assert len(iam.calls) == 2 and steps.clock.sleeps == [prove.CONFIRM_SECONDS]


def test_a_refusal_after_the_first_success_starts_the_count_again() -> None:
    steps, iam = run_wait(3.0, refuse_after_first=True)
    oks = [ok for _, ok in iam.calls]
    assert oks[-4:] == [True, False, True, True]
    # After the reset, the steady poll again: one second before the next try.
    assert prove.POLL_SECONDS in steps.clock.sleeps[-3:]


def test_a_key_never_accepted_fails_at_the_deadline_without_overrunning_it() -> None:
    steps = Steps()
    iam = PropagatingIam(steps.clock, float("inf"))
    start = steps.clock.seconds
    with pytest.raises(KeyNeverWorked, match="--wait-timeout"):
        wait_until_key_works(steps, iam, start + 10.0)  # type: ignore[arg-type]
    assert sum(steps.clock.sleeps) <= 10.0
    assert len(iam.calls) <= 12  # one a second, not a burst


def test_a_permanent_error_ends_the_wait_at_once() -> None:
    steps = Steps()
    iam = PropagatingIam(steps.clock, float("inf"), code="AccessDenied")
    with pytest.raises(KeyNeverWorked, match="AccessDenied"):
        wait_until_key_works(steps, iam, steps.clock.seconds + 10.0)  # type: ignore[arg-type]
    assert len(iam.calls) == 1 and steps.clock.sleeps == []


def test_a_success_at_the_deadline_is_still_confirmed() -> None:
    steps, iam = run_wait(9.9, timeout=10.0)
    assert [ok for _, ok in iam.calls[-2:]] == [True, True]
