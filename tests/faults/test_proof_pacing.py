"""The proof of a new key calls IAM at most once a second before its first success (issue 9),
also while IAM throttles it: the proof's calls are single attempts, paced by the wait itself.

The proxy answers Throttling to every call signed by a new key for a window after it first
sees it; the test measures the gaps between those calls up to the first success.
"""

from __future__ import annotations

import itertools
import threading
import time

from tests.faults.test_mfa import CODE, make_world
from tests.support.faultproxy import Reply, Request, Rule, error_reply

WINDOW = 2.5  # seconds of Throttling for each new key
MIN_GAP = 0.9  # the wait polls once a second; a little slack for a loaded machine


class ThrottleNewKeys(Rule):
    """Throttling for keys not in ``known`` during WINDOW; then, if ``deny_get_user``, GetUser
    signed by them answers AccessDenied (a policy without iam:GetUser)."""

    def __init__(self, known: set[str], deny_get_user: bool = False) -> None:
        super().__init__("*")
        self.known, self.deny_get_user = known, deny_get_user
        self.first_seen: dict[str, float] = {}
        self._guard = threading.Lock()

    def before(self, request: Request) -> Reply | None:
        key_id = request.call.key_id
        if key_id is None or not key_id.startswith("AKIA") or key_id in self.known:
            return None
        with self._guard:
            first = self.first_seen.setdefault(key_id, time.monotonic())
        if time.monotonic() - first < WINDOW:
            return error_reply(request, 400, "Throttling", "Rate exceeded")
        if self.deny_get_user and request.call.action == "GetUser":
            return error_reply(request, 403, "AccessDenied", "not authorized: iam:GetUser")
        return None


def proof_gaps(proxy, new_id: str) -> tuple[list[float], list[str | None]]:  # type: ignore[no-untyped-def]
    """Gaps between the new key's calls up to its first success, and all its calls' actions."""
    calls = [c for c in proxy.calls if c.key_id == new_id]
    ok = next(i for i, c in enumerate(calls) if c.error_code in (None, "AccessDenied"))
    assert ok >= 2, [(c.action, c.error_code) for c in calls]  # the window was hit
    starts = [c.started for c in calls[: ok + 1]]
    return [b - a for a, b in itertools.pairwise(starts)], [c.action for c in calls]


def test_a_throttled_proof_calls_at_most_once_a_second(world, proxy) -> None:  # type: ignore[no-untyped-def]
    rule = proxy._add(ThrottleNewKeys(world.known_keys()))

    result = world.home.run("iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 0, result.stderr
    assert rule.first_seen
    gaps, _ = proof_gaps(proxy, result.json["NewAccessKeyId"])
    assert min(gaps) >= MIN_GAP, gaps


def test_under_mfa_a_throttled_proof_is_paced_and_get_user_has_no_fallback(  # type: ignore[no-untyped-def]
    moto_server, proxy, proxied_home
) -> None:
    world = make_world(moto_server, proxy, proxied_home)
    known = {world.old.access_key_id, moto_server.admin.access_key_id}
    proxy._add(ThrottleNewKeys(known, deny_get_user=True))

    result = world.rotate("--token-code", CODE)

    assert result.returncode == 0, result.stderr  # an AccessDenied counts: IAM knew the key
    new_id = result.json["NewAccessKeyId"]
    gaps, actions = proof_gaps(proxy, new_id)
    assert min(gaps) >= MIN_GAP, gaps
    assert set(actions) == {"GetUser"}, actions  # no ListAccessKeys fallback
