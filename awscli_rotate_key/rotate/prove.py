"""Proving that a new key works: polling IAM, signed by it, until it is accepted twice in a row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from awscli_rotate_key.errors import IamError

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.rotation import Iam, Steps

FIRST_DELAY, MAX_DELAY = 0.5, 3.0
NEEDED_SUCCESSES = 2


class KeyNeverWorked(Exception):
    """The new key was not accepted twice in a row within the wait budget."""


def wait_until_key_works(steps: Steps, iam: Iam, deadline: float) -> None:
    """Poll ListAccessKeys signed by the new key until it succeeds twice in a row."""
    steps.reporter.step("Waiting until the new key works")
    successes, delay = 0, FIRST_DELAY
    while True:
        try:
            iam.list_access_keys()
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
        steps.sleep(min(delay, max(0.0, deadline - steps.monotonic())))
        if successes == 0:
            delay = min(delay * 2, MAX_DELAY)
