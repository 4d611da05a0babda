"""botocore sends each request once, under v1's botocore and v2's fork alike.

The retry config differs between the two (``total_max_attempts`` vs ``max_attempts``); a second
CreateAccessKey would make a second key, so this runs under every CLI ``make test`` covers.
"""

from __future__ import annotations

import pytest

ROTATE = ("iam", "rotate-my-key", "--profile", "alice")


@pytest.mark.parametrize(
    ("code", "status"),
    [("ServiceUnavailable", 503), ("Throttling", 400), ("InternalFailure", 500)],
)
def test_a_failed_create_access_key_is_sent_exactly_once(world, proxy, code, status):
    proxy.fail("CreateAccessKey", code, status=status, times=None)

    result = world.home.run(*ROTATE)

    assert result.returncode == 4, result.stderr
    assert proxy.actions().count("CreateAccessKey") == 1, proxy.actions()
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active"}
    assert world.profile_keys() == {world.old.access_key_id}


def test_botocore_does_not_retry_a_throttled_read(world, proxy):
    """The core's own bounded retries (3 reads) are all there is: no botocore retries below."""
    proxy.fail("GetUser", "Throttling", status=400, times=None)

    result = world.home.run(*ROTATE, "--dry-run")

    assert proxy.actions().count("GetUser") == 3, proxy.actions()
    assert result.returncode != 0
