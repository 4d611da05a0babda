"""``enforce-key-rotation --apply`` vs ``audit-access-keys`` over one organization, side by side.

An organization of 200 accounts x 25 users (``benchmarks/_org.py`` states the seeded mix: 10 %
of keys due a reminder, 5 % due to be disabled, 2 % exempt by tag) in moto, behind the audit
benchmark's proxy adding 100 ms to every request, both commands with the same
``--max-concurrency``. Rounds alternate which command goes first (machines are noisy); after
each enforcement the moto child puts every key status and tag back as seeded, so every round
does the same work. Printed: wall time and API calls of each, the calls per action, the ratio
(goal: enforcement <= 1.5x the audit's time) and the projected time for 1,000 accounts against
Lambda's 15 minutes.

    .venv/bin/python benchmarks/enforce_scale.py [--accounts 200] [--users 25] [--latency 0.1]
        [--max-concurrency 16] [--rounds 2] [--seed 8] [--audit-only] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

# Nothing below imports awscli (its import alias would swap botocore under moto).
import _org  # noqa: E402
from audit_scale import Measure, Meter, audit_cli, home_for, organization  # noqa: E402

from tests.support.audit_fixtures import Account  # noqa: E402
from tests.support.cli import AwsHome  # noqa: E402
from tests.support.faultproxy import Call, FaultProxy  # noqa: E402

GOAL_RATIO, LAMBDA_SECONDS, PROJECTED_ACCOUNTS = 1.5, 900.0, 1000
SENDER, TOPIC = "key-rotation@example.com", "key-rotation-summary"


# --- the moto side (child process) ----------------------------------------------------------


def serve(accounts: int, users: int, seed: int) -> None:
    """Child: build the organization, print how to reach it, then answer ``reseed`` lines."""
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    from tests.support.moto import MotoServer

    server = MotoServer()
    management = Account(server)
    every = [management, *organization(management, server.url, accounts)]
    mix = _org.draw(accounts, users, seed)
    for account, seeded in zip(every, mix, strict=True):
        _org.build(account, seeded)
        account.backend.generate_report()  # IAM keeps a report for 4 hours: both sides reuse it
    ses = ses_backends[management.id]["us-east-1"]
    ses.verify_email_identity(SENDER)
    topic = sns_backends[management.id]["us-east-1"].create_topic(TOPIC, {}, {}).arn
    reach = {"url": server.url, "key": management.assume().__dict__, "topic": topic}
    print(json.dumps({**reach, "expected": _org.expected(mix)}), flush=True)
    for line in sys.stdin:
        if line.strip() == "reseed":
            changed = Counter[str]()
            for account, seeded in zip(every, mix, strict=True):
                changed += _org.restore(account, seeded)
            changed["e-mails sent"] = len(ses.sent_messages)
            ses.sent_messages.clear()
            print(json.dumps(changed), flush=True)
    server.stop()


class MotoChild:
    """The moto child process: how to reach it, its pid, and its reseeding."""

    def __init__(self, child: subprocess.Popen[str], reach: dict[str, Any]) -> None:
        self.child, self.reach, self.pid = child, reach, child.pid

    def reseed(self) -> Counter[str]:
        """Put the seeded state back; what the last enforcement had changed."""
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write("reseed\n")
        self.child.stdin.flush()
        return Counter(json.loads(self.child.stdout.readline()))


@contextmanager
def moto_child(accounts: int, users: int, seed: int) -> Iterator[MotoChild]:
    command = [sys.executable, __file__, "--serve", "--accounts", str(accounts)]
    command += ["--users", str(users), "--seed", str(seed)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise SystemExit("the moto child process failed to start")
        yield MotoChild(child, json.loads(line))
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=60)


# --- the two sides ----------------------------------------------------------------------------


def enforce_cli(home: AwsHome, summary: dict[str, Any], *args: str) -> Callable[[], int]:
    """``enforce-key-rotation``; its Summary lands in ``summary``; returns the keys it listed."""

    def run() -> int:
        result = home.run("iam", "enforce-key-rotation", *args, timeout=3600)
        if result.returncode != 0:
            raise SystemExit(f"enforce-key-rotation exited {result.returncode}: {result.stderr}")
        summary.clear()
        summary.update(result.json["Summary"])
        return len(result.json["Actions"])

    return run


def check_enforcement(summary: dict[str, Any], changed: Counter[str], want: Counter[str]) -> None:
    """The run did the seeded work: every due key reminded, every overdue key disabled."""
    problems = [
        f"{name}: {got} (seeded {want[kind]})"
        for kind, name, got in [
            ("REMIND", "REMIND", summary.get("REMIND", 0)),
            ("DISABLE", "DISABLE", summary.get("DISABLE", 0)),
            ("DISABLE", "keys made Inactive", changed["keys made Inactive"]),
        ]
        if got != want[kind]
    ]
    if summary.get("EXEMPT", 0) < want["EXEMPT"]:
        problems.append(f"EXEMPT: {summary.get('EXEMPT', 0)} (seeded {want['EXEMPT']})")
    if problems:
        raise SystemExit("enforce-key-rotation did not do the seeded work: " + "; ".join(problems))


def check_audit(measure: Measure, want: Counter[str]) -> Measure:
    if measure.keys != want["Keys"]:
        raise SystemExit(f"audit-access-keys found {measure.keys} keys, not {want['Keys']}")
    return measure


# --- measuring and reporting ----------------------------------------------------------------


class Side:
    """One command's rounds: measures and calls per action."""

    def __init__(self, name: str) -> None:
        self.name, self.measures, self.actions = name, list[Measure](), Counter[str]()
        self.timeline = ""

    def add(self, measure: Measure, proxy: FaultProxy) -> None:
        calls = proxy.calls
        self.measures.append(measure)
        self.actions.update(call.action or "?" for call in calls)
        self.timeline = timeline(calls)
        print(measure.line(f"{self.name} (round {len(self.measures)})"), flush=True)

    @property
    def seconds(self) -> float:
        return sum(m.seconds for m in self.measures) / len(self.measures)

    @property
    def calls(self) -> float:
        return sum(m.calls for m in self.measures) / len(self.measures)

    def per_run(self, action: str) -> float:
        return self.actions[action] / len(self.measures)


def timeline(calls: list[Call]) -> str:
    """When each action's calls ran, in seconds from the run's first call: where time goes."""
    if not calls:
        return "no calls"
    start, spans = calls[0].started, dict[str, tuple[float, float]]()
    for call in calls:
        first, last = spans.get(call.action or "?", (call.started, 0.0))
        spans[call.action or "?"] = (first, max(last, call.ended or call.started))
    ordered = sorted(spans.items(), key=lambda item: item[1])
    return ", ".join(f"{a} {b - start:.1f}-{e - start:.1f}" for a, (b, e) in ordered)


def print_actions(audit: Side, enforce: Side, want: Counter[str], accounts: int) -> None:
    """Calls per run by action, and each extra call of enforcement per account, user and key."""
    print("  calls per run, by action        audit  enforce   extra/account  /user  /key")
    for action in sorted(set(audit.actions) | set(enforce.actions)):
        a, e = audit.per_run(action), enforce.per_run(action)
        extra = e - a
        print(
            f"    {action:<28} {a:7.0f} {e:8.0f}   {extra / accounts:13.2f} "
            f"{extra / want['Users']:6.2f} {extra / want['Keys']:5.2f}"
        )


def print_verdict(audit: Side, enforce: Side, args: argparse.Namespace) -> bool:
    ratio = enforce.seconds / audit.seconds
    rounds = [e.seconds / a.seconds for e, a in zip(enforce.measures, audit.measures, strict=True)]
    scale = PROJECTED_ACCOUNTS / args.accounts
    projected = enforce.seconds * scale
    print(
        f"  -> enforcement {enforce.seconds:.1f} s vs audit {audit.seconds:.1f} s (mean of "
        f"{len(enforce.measures)}; per round {', '.join(f'{r:.2f}x' for r in rounds)}): "
        f"{ratio:.2f}x (goal <= {GOAL_RATIO:g}x); {enforce.calls / audit.calls:.2f}x the calls"
    )
    print(
        f"  -> projected for {PROJECTED_ACCOUNTS:,} accounts (linear in accounts): "
        f"{projected:.0f} s at --max-concurrency {args.max_concurrency}; Lambda's limit "
        f"{LAMBDA_SECONDS:.0f} s"
    )
    floors = {
        c: enforce.calls * scale * args.latency / c for c in sorted({8, args.max_concurrency})
    }
    print(
        f"     latency alone for {enforce.calls * scale:,.0f} calls at {args.latency * 1000:g} ms: "
        + ", ".join(f"{f:.0f} s at --max-concurrency {c}" for c, f in floors.items())
        + " (8: the command's default; 16: the template's)"
    )
    cpu = sum(sum(m.cpu.values()) for m in enforce.measures) / len(enforce.measures)
    print(f"  enforcement used {cpu:.1f} CPU s per run on {os.cpu_count()} CPUs (all processes)")
    return ratio <= GOAL_RATIO and projected <= LAMBDA_SECONDS


def run_rounds(moto: MotoChild, proxy: FaultProxy, home: AwsHome, args: argparse.Namespace) -> bool:
    want = Counter(moto.reach["expected"])
    meter, audit, enforce = Meter(proxy, moto.pid), Side("audit-access-keys"), Side("enforce")
    common = ["--organization", "--max-concurrency", str(args.max_concurrency)]
    summary: dict[str, Any] = {}
    enforce_args = [*common, "--apply", "--sender", SENDER, "--sns-topic-arn", moto.reach["topic"]]
    audit_run, enforce_run = audit_cli(home, *common), enforce_cli(home, summary, *enforce_args)
    for number in range(args.rounds):
        order = ["audit", "enforce"] if number % 2 == 0 else ["enforce", "audit"]
        for name in order if not args.audit_only else ["audit"]:
            if name == "audit":
                audit.add(check_audit(meter(audit_run), want), proxy)
                continue
            enforce.add(meter(enforce_run), proxy)
            check_enforcement(summary, moto.reseed(), want)
    if args.audit_only:
        return True
    print(f"  enforcement Summary (last round): {json.dumps(summary, sort_keys=True)}")
    for side in (audit, enforce):
        print(f"  {side.name} calls, s from its first call (last round): {side.timeline}")
    print_actions(audit, enforce, want, args.accounts)
    return print_verdict(audit, enforce, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--users", type=int, default=25, help="users per account")
    parser.add_argument("--latency", type=float, default=0.100, help="seconds per request")
    parser.add_argument("--max-concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of both")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--audit-only", action="store_true", help="seed and audit only")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.accounts, args.users, args.seed)
        return 0
    print(
        f"enforce_scale: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; {args.accounts} accounts x {args.users} users, seed "
        f"{args.seed}; the proxy adds {args.latency * 1000:g} ms to every request",
        flush=True,
    )
    with moto_child(args.accounts, args.users, args.seed) as moto:
        want = moto.reach["expected"]
        print("  seeded: " + ", ".join(f"{k} {v:,}" for k, v in sorted(want.items())), flush=True)
        proxy = FaultProxy(upstream=moto.reach["url"], latency=args.latency)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                home = home_for(Path(tmp), proxy.url, moto.reach["key"])
                met = run_rounds(moto, proxy, home, args)
        finally:
            proxy.stop()
    if not met:
        print("  goal missed")
    return 1 if (args.check and not met) else 0


if __name__ == "__main__":
    sys.exit(main())
