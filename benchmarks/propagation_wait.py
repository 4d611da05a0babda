"""How long ``rotate-my-key`` waits past the moment IAM starts accepting the new key.

IAM's propagation is played by the fault proxy: every key CreateAccessKey makes is refused
(``InvalidClientTokenId``) until WINDOW seconds after CreateAccessKey was answered. The real
``aws`` runs one rotation per window through the proxy in front of moto (signing enforced); from
the proxy's log of calls signed by the new key before its first retirement call:

- overshoot = end of the wait (end of the last proving call) - end of the window;
- calls before the first success, and their rate (calls per second, from the first proving
  call to the first success);
- the gap between the first success and the confirming call.

Goal (issue 9): overshoot <= 2 s at every window, at most one call per second before the first
success, two successes in a row.

    .venv/bin/python benchmarks/propagation_wait.py [--windows 2.0 2.7 5.3 10.0] [--check]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# botocore before anything could import awscli (its import alias would swap botocore under moto).
import botocore  # noqa: E402, F401

from tests.support.cli import AwsHome  # noqa: E402
from tests.support.faultproxy import Call, FaultProxy  # noqa: E402
from tests.support.moto import MotoServer  # noqa: E402

WINDOWS = (2.0, 2.7, 5.3, 10.0)
GOAL_OVERSHOOT, GOAL_RATE = 2.0, 1.0
RETIRE = ("UpdateAccessKey", "DeleteAccessKey")


@dataclass(frozen=True)
class Figures:
    window: float
    overshoot: float
    calls_before_success: int
    rate: float  # calls per second before the first success
    confirm_gap: float  # seconds from the first success's end to the confirming call's start
    successes: int  # successes in a row that ended the wait


def proving_calls(calls: list[Call], new_key_id: str) -> list[Call]:
    """Calls signed by the new key before it retired the old key (or before the end)."""
    signed = [c for c in calls if c.key_id == new_key_id]
    retire = next((i for i, c in enumerate(signed) if c.action in RETIRE), len(signed))
    return signed[:retire]


def figures(window: float, created: float, calls: list[Call]) -> Figures:
    """The figures of one wait from its proving calls."""
    first_ok = next(i for i, c in enumerate(calls) if c.status == 200)
    end = calls[-1].ended or calls[-1].started
    first_end = calls[first_ok].ended or calls[first_ok].started
    confirm_gap = calls[first_ok + 1].started - first_end if first_ok + 1 < len(calls) else 0.0
    before = first_ok  # the calls refused before the first success
    # Calls per second until the first success: each refused call opens one interval.
    span = calls[first_ok].started - calls[0].started
    return Figures(
        window=window,
        overshoot=end - (created + window),
        calls_before_success=before,
        rate=before / span if span > 0 else 0.0,
        confirm_gap=confirm_gap,
        successes=sum(1 for c in calls[first_ok:] if c.status == 200),
    )


def measure(server: MotoServer, window: float, root: Path) -> Figures:
    with FaultProxy(upstream=server.url) as proxy:
        user = server.make_user()
        old = server.make_key(user, age_days=100)
        home = AwsHome(root, proxy.url)
        home.add_profile("bench", old)
        rule = proxy.reject_new_keys_for(window)
        run = home.run("iam", "rotate-my-key", "--profile", "bench", timeout=120)
        if run.returncode != 0:
            raise SystemExit(f"rotation failed ({run.returncode}): {run.stderr.strip()}")
        ((new_key_id, created),) = rule.created.items()
        return figures(window, created, proving_calls(proxy.calls, new_key_id))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=float, nargs="+", default=list(WINDOWS))
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    args = parser.parse_args()
    server = MotoServer()
    server.assert_signing_enforced()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n, window in enumerate(args.windows):
                rows.append(measure(server, window, Path(tmp) / f"home-{n}"))
    finally:
        server.stop()
    print("window s | overshoot s | calls before 1st success | calls/s before | confirm gap s")
    for f in rows:
        print(
            f"{f.window:8.1f} | {f.overshoot:11.2f} | {f.calls_before_success:24d} | "
            f"{f.rate:14.2f} | {f.confirm_gap:13.2f}"
        )
    missed = [
        f for f in rows if f.overshoot > GOAL_OVERSHOOT or f.rate > GOAL_RATE or f.successes < 2
    ]
    print(f"goal: overshoot <= {GOAL_OVERSHOOT} s, <= {GOAL_RATE} call/s, two successes: ", end="")
    print("met" if not missed else f"MISSED at {[f.window for f in missed]}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
