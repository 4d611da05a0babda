"""Proving that a new key works: polling IAM, signed by it, until it is accepted twice in a row.

IAM takes seconds to accept a new key everywhere (eventual consistency). The poll is steady, one
call a second, so the wait ends at most about a second after IAM first accepts the key and never
hammers it; the confirming call follows the first success shortly (not after a grown delay), as
one success does not prove every endpoint sees the key yet. benchmarks/propagation_wait.py
measures the overshoot past the moment IAM starts accepting the key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from awscli_rotate_key.errors import IamError

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.rotation import Iam, Steps

POLL_SECONDS = 1.0  # between calls until the first success: at most one call a second
CONFIRM_SECONDS = 0.5  # from the first success to the confirming call
NEEDED_SUCCESSES = 2
# The backoff of the retirement calls (rotation.Steps.retry), which retry a transient failure.
FIRST_DELAY, MAX_DELAY = 0.5, 3.0


@runtime_checkable
class RetriesOnItsOwn(Protocol):
    """An IAM port that retries quick failures itself (commands/iam.py) and can do without."""

    def single_attempts(self) -> Iam: ...


class KeyNeverWorked(Exception):
    """The new key was not accepted twice in a row within the wait budget."""


def lists_keys(iam: Iam) -> None:
    """The default proof: ListAccessKeys, signed by the key being proven."""
    iam.list_access_keys()


def wait_until_key_works(
    steps: Steps, iam: Iam, deadline: float, check: Callable[[Iam], object] = lists_keys
) -> None:
    """Call ``check(iam)`` (signed by the new key) until it succeeds twice in a row.

    ``check`` raises IamError when the key is not accepted: a transient error (the key not seen
    yet, throttling, a fault) resets the count and polls on; any other error ends the wait.
    """
    steps.reporter.step("Waiting until the new key works")
    if isinstance(iam, RetriesOnItsOwn):  # this loop paces the calls: one attempt each
        iam = iam.single_attempts()
    successes = 0
    while True:
        try:
            check(iam)
            successes += 1
            if successes >= NEEDED_SUCCESSES:
                return
        except IamError as error:
            if not error.transient:
                raise KeyNeverWorked(str(error)) from error
            successes = 0
        # After a success, always confirm once more, even past the deadline (a laptop
        # that slept through the wait should not undo a key that works).
        if successes == 0 and steps.monotonic() >= deadline:
            raise KeyNeverWorked("the new key was not accepted before --wait-timeout")
        steps.reporter.waiting()
        pause = CONFIRM_SECONDS if successes else POLL_SECONDS
        steps.sleep(min(pause, max(0.0, deadline - steps.monotonic())))
