"""``aws iam audit-access-keys`` at scale, against local moto behind a proxy adding fixed latency.

(a) One account of 5,000 users (IAM's default quota) with a fixed mix of key ages and states:
    the audit (credential report + ListAccessKeys for users with keys, 8 calls in flight) vs a
    sequential per-user scan in-process with botocore (ListUsers, then ListAccessKeys and
    GetAccessKeyLastUsed per key: the method of the AWS sample rotation solution and ScoutSuite).
    Wall time and API calls of each. Goals: >= 5x faster, >= 2x fewer calls.
(b) An organization of 200 accounts: the audit with --max-concurrency 16 vs 1. Goal: >= 8x.

moto runs in a child process that builds every account in-process through its backend (fast) and
then serves; the proxy (in this process) adds the same latency to every request of both sides,
standing for the network, and counts the calls. Each account's credential report is made before
the timed runs (as IAM keeps one for 4 hours), so no side waits for report generation.

    .venv/bin/python benchmarks/audit_scale.py [--users N] [--accounts N] [--latency S] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# botocore before anything could import awscli (its import alias would swap botocore under moto).
import botocore  # noqa: E402, F401
from botocore.session import Session  # noqa: E402

from tests.support.audit_fixtures import Account, grant_admin  # noqa: E402
from tests.support.cli import AwsHome  # noqa: E402
from tests.support.faultproxy import FaultProxy  # noqa: E402

GOAL_SPEED, GOAL_CALLS, GOAL_ORG = 5.0, 2.0, 8.0
ROLE = "OrganizationAccountAccessRole"


# --- the moto side (child process) ----------------------------------------------------------


def key_mix(i: int) -> list[tuple[int, str, int | None]]:
    """User i's keys as (age days, status, last used days ago or None): a fixed mix.

    10% no key, 40% one Active key, 20% Active + Inactive, 30% two Active keys; ages 0-1,199
    days; a third of the keys never used.
    """
    kind, age = i % 10, (i * 37) % 1200
    used = None if i % 3 == 0 else (i * 7) % 90
    first = (age, "Active", used)
    if kind == 0:
        return []
    if kind <= 4:
        return [first]
    second_status = "Inactive" if kind <= 6 else "Active"
    return [first, (age // 3, second_status, None if used is None else used // 2)]


def fill(account: Account, users: int, mix: Callable[[int], list[Any]] = key_mix) -> int:
    """Make ``users`` users with their keys in the backend; return the number of keys."""
    keys = 0
    for i in range(users):
        name = account.user(f"user-{i:05d}")
        for age, status, used in mix(i):
            account.key(name, age, status, used)
            keys += 1
    return keys


def organization(account: Account, url: str, size: int) -> list[Account]:
    """Make ``account`` the management account of an organization of ``size`` accounts."""
    session = account.assume()
    org = Session().create_client(
        "organizations",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=session.access_key_id,
        aws_secret_access_key=session.secret_access_key,
        aws_session_token=session.session_token,
    )
    org.create_organization(FeatureSet="ALL")
    members = []
    for n in range(size - 1):
        created = org.create_account(AccountName=f"member-{n}", Email=f"m{n}@example.com")
        member = Account(account.server, created["CreateAccountStatus"]["AccountId"])
        grant_admin(member.id, ROLE)
        members.append(member)
    return members


def serve(users: int, accounts: int) -> None:
    """Child: build both scenarios, print how to reach them, serve until stdin closes."""
    from tests.support.moto import MotoServer

    server = MotoServer()
    big = Account(server)
    big_keys = fill(big, users)
    management = Account(server)
    members = organization(management, server.url, accounts)
    org_keys = sum(fill(a, 5) for a in [management, *members])
    for account in [big, management, *members]:
        account.backend.generate_report()  # IAM keeps a report for 4 hours: both sides reuse it
    print(
        json.dumps(
            {
                "url": server.url,
                "big": {"key": big.assume().__dict__, "users": users, "keys": big_keys},
                "org": {
                    "key": management.assume().__dict__,
                    "accounts": accounts,
                    "keys": org_keys,
                },
            }
        ),
        flush=True,
    )
    sys.stdin.read()
    server.stop()


@contextmanager
def moto_child(users: int, accounts: int) -> Iterator[tuple[dict[str, Any], int]]:
    """(how to reach the accounts, the child's pid) while the moto child serves."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--users", str(users), "--accounts", str(accounts)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        line = child.stdout.readline()
        if not line:
            raise SystemExit("the moto child process failed to start")
        yield json.loads(line), child.pid
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=30)


# --- the two sides and how they are measured ------------------------------------------------


@dataclass(frozen=True)
class Measure:
    seconds: float
    calls: int
    keys: int
    cpu: dict[str, float]  # CPU seconds: "aws" (the CLI), "moto", "here" (proxy + in-process)

    def line(self, name: str) -> str:
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in self.cpu.items() if v >= 0.05)
        return f"  {name:<36} {self.seconds:7.1f} s {self.calls:7,} calls   (CPU s: {cpu})"


def process_cpu(pid: int) -> float:
    """user+sys CPU seconds of a running process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall time, calls seen by the proxy and CPU of every process, around one run."""

    def __init__(self, proxy: FaultProxy, moto_pid: int) -> None:
        self.proxy, self.moto_pid = proxy, moto_pid

    def __call__(self, run: Callable[[], int]) -> Measure:
        self.proxy.reset_log()
        before = self._cpu()
        started = time.perf_counter()
        keys = run()
        seconds = time.perf_counter() - started
        cpu = {name: after - before[name] for name, after in self._cpu().items()}
        return Measure(seconds, len(self.proxy.calls), keys, cpu)

    def _cpu(self) -> dict[str, float]:
        here = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the aws runs, once waited for
        return {
            "aws": children.ru_utime + children.ru_stime,
            "moto": process_cpu(self.moto_pid),
            "here": here.ru_utime + here.ru_stime,
        }


def sequential_scan(url: str, key: dict[str, str]) -> Callable[[], int]:
    """The per-user method: ListUsers, then ListAccessKeys and GetAccessKeyLastUsed per key."""

    def run() -> int:
        iam = Session().create_client(
            "iam",
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id=key["access_key_id"],
            aws_secret_access_key=key["secret_access_key"],
            aws_session_token=key["session_token"],
        )
        keys = 0
        for page in iam.get_paginator("list_users").paginate():
            for user in page["Users"]:
                listed = iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]
                for access_key in listed:
                    iam.get_access_key_last_used(AccessKeyId=access_key["AccessKeyId"])
                    keys += 1
        return keys

    return run


def audit_cli(home: AwsHome, *args: str) -> Callable[[], int]:
    def run() -> int:
        result = home.run("iam", "audit-access-keys", *args, timeout=1800)
        if result.returncode != 0:
            raise SystemExit(f"audit-access-keys exited {result.returncode}: {result.stderr}")
        return int(result.json["Summary"]["Keys"])

    return run


def home_for(root: Path, url: str, key: dict[str, str]) -> AwsHome:
    home = AwsHome(root, url)
    (root / ".aws" / "credentials").write_text(
        "[default]\n"
        f"aws_access_key_id = {key['access_key_id']}\n"
        f"aws_secret_access_key = {key['secret_access_key']}\n"
        f"aws_session_token = {key['session_token']}\n"
    )
    return home


# --- the two parts --------------------------------------------------------------------------


def one_account(big: dict[str, Any], meter: Meter, url: str, root: Path) -> bool:
    """Part (a); True if both goals are met."""
    print(f"(a) one account: {big['users']:,} users, {big['keys']:,} access keys", flush=True)
    ours = meter(audit_cli(home_for(root, url, big["key"])))
    print(ours.line("aws iam audit-access-keys"), flush=True)
    theirs = meter(sequential_scan(url, big["key"]))
    print(theirs.line("sequential per-user scan (botocore)"), flush=True)
    if not ours.keys == theirs.keys == big["keys"]:
        raise SystemExit(f"the sides found {ours.keys} and {theirs.keys} keys, not {big['keys']}")
    speed, fewer = theirs.seconds / ours.seconds, theirs.calls / ours.calls
    print(
        f"  -> {speed:.1f}x faster (goal >= {GOAL_SPEED:g}x), "
        f"{fewer:.2f}x fewer calls (goal >= {GOAL_CALLS:g}x)"
    )
    return speed >= GOAL_SPEED and fewer >= GOAL_CALLS


def organization_part(org: dict[str, Any], meter: Meter, url: str, root: Path) -> bool:
    """Part (b); True if the goal is met."""
    print(f"(b) organization: {org['accounts']} accounts, {org['keys']:,} access keys", flush=True)
    home = home_for(root, url, org["key"])
    wide = meter(audit_cli(home, "--organization", "--max-concurrency", "16"))
    print(wide.line("--max-concurrency 16"), flush=True)
    narrow = meter(audit_cli(home, "--organization", "--max-concurrency", "1"))
    print(narrow.line("--max-concurrency 1"), flush=True)
    if not wide.keys == narrow.keys == org["keys"]:
        raise SystemExit(f"the runs found {wide.keys} and {narrow.keys} keys, not {org['keys']}")
    speed = narrow.seconds / wide.seconds
    # Every process here shares the same cores: 16 calls in flight cannot finish faster than
    # the CPU they need, however short the network latency is.
    floor = sum(wide.cpu.values()) / (os.cpu_count() or 1)
    print(
        f"  -> {speed:.1f}x faster (goal >= {GOAL_ORG:g}x); this machine's ceiling: "
        f"{narrow.seconds / floor:.1f}x ({sum(wide.cpu.values()):.1f} CPU s on "
        f"{os.cpu_count()} CPUs)"
    )
    return speed >= GOAL_ORG


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.020, help="seconds per request")
    parser.add_argument("--part", choices=["account", "organization", "both"], default="both")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.users, args.accounts)
        return 0
    users = args.users if args.part != "organization" else 1
    accounts = args.accounts if args.part != "account" else 1
    print(
        f"audit_scale: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; moto in a child process; the proxy adds "
        f"{args.latency * 1000:g} ms to every request of both sides",
        flush=True,
    )
    met = True
    with moto_child(users, accounts) as (moto, pid), tempfile.TemporaryDirectory() as tmp:
        proxy = FaultProxy(upstream=moto["url"], latency=args.latency)
        meter = Meter(proxy, pid)
        try:
            if args.part != "organization":
                met &= one_account(moto["big"], meter, proxy.url, Path(tmp) / "big")
            if args.part != "account":
                met &= organization_part(moto["org"], meter, proxy.url, Path(tmp) / "org")
        finally:
            proxy.stop()
    if not met:
        print("  goal missed")
    return 1 if (args.check and not met) else 0


if __name__ == "__main__":
    sys.exit(main())
