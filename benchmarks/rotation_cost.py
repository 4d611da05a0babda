"""CPU cost of one whole ``aws iam rotate-my-key`` against one ``aws sts get-caller-identity``.

Both run as the real ``aws`` executable with the plugin enabled, against the same in-process moto
server with request signing enforced. Each round makes a fresh IAM user, key and AWS home (so the
rotation really rotates), then runs the commands in an order that changes every round. A third
arm, ``aws iam list-access-keys``, is a reference: one call of the same service as the rotation.
The goal is on CPU time of the child (user+sys): the rotation's wall time includes deliberate
polling sleeps while it waits for the new key to work.

    .venv/bin/python benchmarks/rotation_cost.py [--rounds N] [--profile] [--check]
                                                 [--no-bytecode-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# botocore before anything could import awscli (its import alias would swap botocore under moto).
import botocore  # noqa: E402, F401

from tests.support.cli import AwsHome  # noqa: E402
from tests.support.moto import MotoServer  # noqa: E402

GOAL_RATIO = 1.5
PROFILE = "bench"
ROTATE = ("iam", "rotate-my-key", "--profile", PROFILE)
STS = ("sts", "get-caller-identity", "--profile", PROFILE)
IAM_CALL = ("iam", "list-access-keys", "--profile", PROFILE)
ARMS = {"rotate-my-key": ROTATE, "sts get-caller-identity": STS, "iam list-access-keys": IAM_CALL}


@dataclass(frozen=True)
class Run:
    returncode: int
    cpu: float  # user+sys seconds of the child
    wall: float
    stdout: str
    stderr: str


def run_measured(home: AwsHome, args: Sequence[str], prefix: Sequence[str] = ()) -> Run:
    """Run ``aws args`` in ``home``; its CPU time comes from wait4's rusage of the child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*prefix, *home.argv(*args)],
            env=home.env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            proc.returncode,
            usage.ru_utime + usage.ru_stime,
            wall,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


def bytecode_env(cache_dir: Path | None) -> dict[str, str]:
    """Child environment that caches bytecode in ``cache_dir`` (as a pip install does).

    Even with PYTHONDONTWRITEBYTECODE set here; the repo gets no __pycache__. None: inherit.
    """
    if cache_dir is None:
        return {}
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(cache_dir)}


def fresh_home(server: MotoServer, root: Path, env: dict[str, str]) -> tuple[AwsHome, str, str]:
    """A new IAM user with one key, held by profile ``bench`` of a new AWS home."""
    user = server.make_user()
    key = server.make_key(user, age_days=100)
    home = AwsHome(root / "home", server.url, extra_env=env)
    home.add_profile(PROFILE, key)
    return home, user, key.access_key_id


def check_rotated(server: MotoServer, home: AwsHome, user: str, old_key_id: str, run: Run) -> None:
    """Abort unless the rotation really replaced the key, in IAM and in the profile."""
    problem = None
    if run.returncode != 0:
        problem = f"exited {run.returncode}"
    else:
        new_key_id = json.loads(run.stdout).get("NewAccessKeyId")
        if new_key_id in (None, old_key_id):
            problem = "no new key in its output"
        elif server.keys(user) != {new_key_id: "Active"}:
            problem = f"IAM holds {server.keys(user)}"
        elif home.profile_key(PROFILE)[0] != new_key_id:
            problem = "the profile does not hold the new key"
    if problem:
        sys.exit(f"rotate-my-key did not rotate ({problem}); stderr:\n{run.stderr}")


def measure(server: MotoServer, rounds: int, env: dict[str, str]) -> dict[str, list[Run]]:
    """``rounds`` rounds of every arm, each round on a fresh user; the order rotates.

    Round 0 is a warm-up (bytecode and OS file caches) and is not recorded.
    """
    runs: dict[str, list[Run]] = {name: [] for name in ARMS}
    names = list(ARMS)
    for i in range(-1, rounds):
        with tempfile.TemporaryDirectory(prefix="rotation-cost-") as tmp:
            home, user, old_key_id = fresh_home(server, Path(tmp), env)
            for name in names[i % len(names) :] + names[: i % len(names)]:
                run = run_measured(home, ARMS[name])
                if name == "rotate-my-key":
                    check_rotated(server, home, user, old_key_id, run)
                elif run.returncode != 0:
                    sys.exit(f"aws {' '.join(ARMS[name])} exited {run.returncode}:\n{run.stderr}")
                if i >= 0:
                    runs[name].append(run)
    return runs


# --- where the CPU goes (--profile) --------------------------------------------------------------

# (label, file suffix, function name) picked out of a cProfile of the aws process.
PROFILE_ROWS = (
    ("whole process", None, None),
    ("CLIDriver main (after imports)", "awscli/clidriver.py", "main"),
    ("load_plugins (incl. awscli.handlers)", "awscli/plugin.py", "load_plugins"),
    ("plugin: build the iam table entries", "awscli_rotate_key/__init__.py", "_inject_commands"),
    ("plugin: RotateMyKeyCommand._run_main", "awscli_rotate_key/commands/rotate.py", "_run_main"),
    ("Session.create_client", "botocore/session.py", "create_client"),
    ("BaseClient._make_api_call", "botocore/client.py", "_make_api_call"),
    ("Loader.load_service_model", "botocore/loaders.py", "load_service_model"),
    ("time.sleep (wall, not CPU)", "~", "<built-in method time.sleep>"),
)


def profile_rows(path: str) -> dict[str, tuple[int, float]]:
    """(calls, cumulative seconds) of each PROFILE_ROWS entry in a cProfile dump."""
    loaded = pstats.Stats(path)
    stats = loaded.stats  # type: ignore[attr-defined]
    rows: dict[str, tuple[int, float]] = {}
    for label, suffix, function in PROFILE_ROWS:
        if suffix is None:
            rows[label] = (1, loaded.total_tt)  # type: ignore[attr-defined]
            continue
        hits = [
            (calls, cumulative)
            for (file, _, name), (_, calls, _, cumulative, _) in stats.items()
            if name == function and file.endswith(suffix)
        ]
        # Same name in one file (clidriver's main() and CLIDriver.main): the outermost one.
        rows[label] = max(hits, key=lambda hit: hit[1], default=(0, 0.0))
    return rows


def imported_modules(stderr: str) -> dict[str, int]:
    """Module name -> self microseconds, from ``python -X importtime`` output."""
    modules: dict[str, int] = {}
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own, _, name = line.removeprefix("import time:").split("|")
            modules[name.strip()] = int(own)
    return modules


def profile(server: MotoServer, env: dict[str, str]) -> None:
    """One rotation and one sts call under cProfile, then under -X importtime; print both."""
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="rotation-profile-") as tmp:
        rows: dict[str, dict[str, tuple[int, float]]] = {}
        imports: dict[str, dict[str, int]] = {}
        for name in ("rotate-my-key", "sts get-caller-identity"):
            out = f"{tmp}/{len(rows)}.prof"
            home, user, old = fresh_home(server, Path(tmp) / f"p{len(rows)}", env)
            run = run_measured(home, ARMS[name], prefix=(python, "-m", "cProfile", "-o", out))
            if name == "rotate-my-key":
                check_rotated(server, home, user, old, run)
            rows[name] = profile_rows(out)
            home, user, old = fresh_home(server, Path(tmp) / f"i{len(rows)}", env)
            imports[name] = imported_modules(
                run_measured(home, ARMS[name], prefix=(python, "-X", "importtime")).stderr
            )

    print("\nWhere the time goes, under cProfile (inflated ~1.5-2x; calls / cumulative ms):")
    print(f"  {'':40} {'rotate-my-key':>20} {'sts get-caller-identity':>24}")
    for label, *_ in PROFILE_ROWS:
        (rc, rt), (sc, st) = rows["rotate-my-key"][label], rows["sts get-caller-identity"][label]
        print(f"  {label:40} {rc:5d} {1000 * rt:10.1f} ms {sc:9d} {1000 * st:10.1f} ms")
    extra = {
        m: t
        for m, t in imports["rotate-my-key"].items()
        if m not in imports["sts get-caller-identity"]
    }
    print(
        f"\nModules imported by the rotation and not by sts: {len(extra)}, "
        f"{sum(extra.values()) / 1000:.1f} ms of import time (self, under -X importtime):"
    )
    for module, own in sorted(extra.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {own / 1000:7.2f} ms  {module}")


# --- report --------------------------------------------------------------------------------------


def summarize(runs: dict[str, list[Run]]) -> float:
    """Print medians per arm and the ratios; return the median per-round CPU ratio."""
    print("\nper arm (median / min / max over rounds):")
    for name, arm in runs.items():
        cpu = [r.cpu * 1000 for r in arm]
        wall = [r.wall * 1000 for r in arm]
        print(
            f"  {name:24} CPU {statistics.median(cpu):7.1f} / {min(cpu):7.1f} / {max(cpu):7.1f} ms"
            f"   wall {statistics.median(wall):7.1f} / {min(wall):7.1f} / {max(wall):7.1f} ms"
        )
    rotate, sts, iam = (runs[name] for name in ARMS)
    ratio = statistics.median(r.cpu / s.cpu for r, s in zip(rotate, sts, strict=True))
    versus_iam = statistics.median(r.cpu / i.cpu for r, i in zip(rotate, iam, strict=True))
    wall_ratio = statistics.median(r.wall / s.wall for r, s in zip(rotate, sts, strict=True))
    print(f"\n{'=' * 30} SUMMARY {'=' * 30}")
    print(
        f"rotate-my-key CPU {1000 * statistics.median(r.cpu for r in rotate):.0f} ms vs "
        f"sts get-caller-identity CPU {1000 * statistics.median(s.cpu for s in sts):.0f} ms"
    )
    print(
        f"  CPU ratio rotation / one call (median per round): {ratio:.3f}   "
        f"goal ≤ {GOAL_RATIO:g}   {'PASS' if ratio <= GOAL_RATIO else 'MISS'}"
    )
    print(f"  CPU ratio rotation / one iam call (reference):    {versus_iam:.3f}")
    print(f"  wall ratio rotation / one call (incl. polling sleeps): {wall_ratio:.3f}")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20, help="rounds (default 20, ~1.5 min)")
    parser.add_argument(
        "--profile", action="store_true", help="also profile one rotation and one sts call"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the goal is missed")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep the inherited environment: with PYTHONDONTWRITEBYTECODE set, every run "
        "compiles the plugin from source (default: cache bytecode in a temporary directory)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load}")
    started = time.monotonic()
    server = MotoServer()
    try:
        server.assert_signing_enforced()
        print(f"moto at {server.url}, signing enforced; {args.rounds} rounds")
        with tempfile.TemporaryDirectory(prefix="rotation-cost-pycache-") as cache:
            env = bytecode_env(None if args.no_bytecode_cache else Path(cache))
            print(f"bytecode: {'inherited environment' if not env else 'cached in ' + cache}")
            runs = measure(server, args.rounds, env)
            if args.profile:
                profile(server, env)
    finally:
        server.stop()

    ratio = summarize(runs)
    print(f"rounds {args.rounds}, took {time.monotonic() - started:.0f} s")
    print("=" * 69)
    return 1 if args.check and ratio > GOAL_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
