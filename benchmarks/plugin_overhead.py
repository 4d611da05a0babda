"""What the plugin costs every ``aws`` command, measured side by side in one run.

(a) In-process: a fresh interpreter that has already imported ``awscli.clidriver`` and built the
    CLI's session (the state of the real CLI when it loads plugins) times
    ``awscli.plugin.load_plugins`` for our plugin alone: the import of ``awscli_rotate_key`` plus
    ``awscli_initialize(emitter)``. Interleaved with the same probe of a null plugin (one
    ``register`` call), which is the floor any plugin pays through importlib. A few extra probes
    under ``python -X importtime`` break the import down per module.
(b) End to end: CPU time (user+sys) of ``aws sts help`` with the plugin enabled vs without, runs
    interleaved, plus an A/A pair (without vs without) that shows the noise of the machine.
(c) The same under AWS CLI v2 (Debian's 2.9.19 at /usr/bin/aws unless --v2-aws says otherwise),
    the plugin installed as README says (``pip install --target DIR``, ``cli_legacy_plugin_path``),
    for ``aws sts help`` and ``aws iam help`` (the iam table is where our commands are built).
    Goal: ratio with/without ≤ 1.05. Skipped, loudly, when no v2 is found.

    .venv/bin/python benchmarks/plugin_overhead.py [--rounds N] [--check] [--no-bytecode-cache]
        [--v2-aws PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

GOAL_MS = 2.0
V2_GOAL_RATIO = 1.05
REPO = Path(__file__).resolve().parent.parent
PLUGIN = "awscli_rotate_key"
NULL_PLUGIN = "null_plugin_for_benchmark"
AWS = str(Path(sys.executable).parent / "aws")
PLUGIN_CONFIG = f"[plugins]\nrotate_key = {PLUGIN}\n"
MARKER = "--- load_plugins starts ---"

# Runs in a fresh interpreter; argv[1] is the plugin module to load.
PROBE = f"""
import sys, time
import awscli.clidriver, awscli.plugin, botocore.session
session = botocore.session.Session(awscli.clidriver.EnvironmentVariables)
awscli.clidriver._set_user_agent_for_session(session)
session.full_config
emitter = session.get_component("event_emitter")
sys.stderr.write("{MARKER}\\n")
sys.stderr.flush()
wall, cpu = time.perf_counter(), time.process_time()
awscli.plugin.load_plugins({{"probe": sys.argv[1]}}, event_hooks=emitter, include_builtins=False)
print((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
"""

NULL_PLUGIN_SOURCE = '''"""The cheapest possible plugin: one handler, no imports."""


def awscli_initialize(cli):
    cli.register("building-command-table.iam", lambda **kwargs: None)
'''


@dataclass(frozen=True)
class Interval:
    """A median and its bootstrap 95% confidence interval."""

    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.median:.4f} [95% CI {self.low:.4f}, {self.high:.4f}]"


@dataclass
class Samples:
    """In-process probes of one plugin, in ms: perf_counter and process_time deltas."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def median_interval(values: Sequence[float], resamples: int = 2000) -> Interval:
    """Median of ``values`` with a percentile-bootstrap 95% interval (seeded: reproducible)."""
    rng = random.Random(1)
    medians = sorted(
        statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples)
    )
    return Interval(
        statistics.median(values),
        medians[int(0.025 * resamples)],
        medians[int(0.975 * resamples) - 1],
    )


def child_cpu(argv: list[str], env: dict[str, str]) -> float:
    """Run ``argv`` with stdout to /dev/null; user+sys seconds of the child (from wait4)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {proc.returncode}:\n{stderr}")
    return usage.ru_utime + usage.ru_stime


class Workspace:
    """Throwaway homes: one with the plugin enabled, one without, and the null plugin.

    With ``bytecode_cache`` the children cache bytecode under the workspace (as a pip install
    does at install time) even if PYTHONDONTWRITEBYTECODE is set; the repo gets no __pycache__.
    """

    def __init__(self, root: Path, bytecode_cache: bool) -> None:
        self.root = root
        self.bytecode_cache = bytecode_cache
        self.with_plugin = self._home("with", PLUGIN_CONFIG)
        self.without_plugin = self._home("without", "")
        (root / f"{NULL_PLUGIN}.py").write_text(NULL_PLUGIN_SOURCE)

    def add_v2_homes(self) -> None:
        """Homes for AWS CLI v2: the plugin installed into a directory of its own (pip --target)."""
        target = self.root / "v2-plugin"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--target",
                str(target),
                str(REPO),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        v2_config = f"[plugins]\ncli_legacy_plugin_path = {target}\nrotate_key = {PLUGIN}\n"
        self.v2_with_plugin = self._home("v2-with", v2_config)
        self.v2_without_plugin = self._home("v2-without", "")

    def _home(self, name: str, config: str) -> Path:
        home = self.root / name
        (home / ".aws").mkdir(parents=True)
        (home / ".aws" / "config").write_text(config)
        (home / ".aws" / "credentials").write_text("")
        return home

    def env(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            HOME=str(home),
            AWS_CONFIG_FILE=str(home / ".aws" / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
            AWS_DEFAULT_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            PAGER="cat",
            MANPAGER="cat",
        )
        if self.bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.root / "pycache")
        return env

    def warm_up(self) -> None:
        """Fill the bytecode cache and the OS file cache; nothing is recorded."""
        for module in (PLUGIN, NULL_PLUGIN):
            probe(self, module)
        for home in (self.with_plugin, self.without_plugin):
            child_cpu([AWS, "sts", "help"], self.env(home))


# --- (a) in-process cost -------------------------------------------------------------------------


def probe(ws: Workspace, module: str) -> tuple[float, float]:
    """One fresh interpreter: (wall, CPU) milliseconds of load_plugins for ``module``."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        env=ws.env(ws.without_plugin),
        cwd=ws.root,  # makes the null plugin importable; never the repo root
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def importtime_breakdown(ws: Workspace, runs: int) -> dict[str, tuple[float, float]]:
    """Per module imported by load_plugins: median (self, cumulative) microseconds."""
    samples: dict[str, list[tuple[int, int]]] = {}
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", PROBE, PLUGIN],
            env=ws.env(ws.without_plugin),
            cwd=ws.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=True,
        )
        after_marker = out.stderr.split(MARKER, 1)[1]
        for line in after_marker.splitlines():
            if line.startswith("import time:") and "|" in line:
                own, cumulative, name = line.removeprefix("import time:").split("|")
                samples.setdefault(name.strip(), []).append((int(own), int(cumulative)))
    return {
        name: (statistics.median(s for s, _ in pairs), statistics.median(c for _, c in pairs))
        for name, pairs in samples.items()
    }


def measure_in_process(ws: Workspace, rounds: int) -> tuple[Samples, Samples]:
    """Interleaved probes of our plugin and of the null plugin."""
    ours, null = Samples(), Samples()
    for i in range(rounds):
        pair = [(ours, PLUGIN), (null, NULL_PLUGIN)]
        for samples, module in pair if i % 2 == 0 else reversed(pair):
            wall, cpu = probe(ws, module)
            samples.wall.append(wall)
            samples.cpu.append(cpu)
    return ours, null


# --- (b) end to end ------------------------------------------------------------------------------


def measure_end_to_end(
    ws: Workspace,
    rounds: int,
    argv: Sequence[str] = (AWS, "sts", "help"),
    homes: tuple[Path, Path] | None = None,
) -> dict[str, list[float]]:
    """CPU seconds of ``argv`` per arm; the order of the arms rotates every round."""
    without, with_plugin = homes or (ws.without_plugin, ws.with_plugin)
    arms = {"without": without, "with": with_plugin, "without (A/A)": without}
    cpu: dict[str, list[float]] = {name: [] for name in arms}
    names = list(arms)
    for i in range(rounds):
        for name in names[i % 3 :] + names[: i % 3]:
            cpu[name].append(child_cpu(list(argv), ws.env(arms[name])))
    return cpu


def v2_version(aws: str) -> str | None:
    """``aws --version`` of ``aws`` if it is an AWS CLI v2, else None."""
    try:
        out = subprocess.run([aws, "--version"], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    version = (out.stdout or out.stderr).strip()
    return version if version.startswith("aws-cli/2.") else None


def measure_v2(ws: Workspace, aws: str, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Part (c): ``sts help`` and ``iam help`` under v2, with / without the plugin."""
    ws.add_v2_homes()
    homes = (ws.v2_without_plugin, ws.v2_with_plugin)
    results = {}
    for command in ("sts", "iam"):
        argv = (aws, command, "help")
        for home in homes:  # warm the OS and bytecode caches
            child_cpu(list(argv), ws.env(home))
        results[f"aws {command} help"] = measure_end_to_end(ws, rounds, argv, homes)
    return results


# --- report --------------------------------------------------------------------------------------


def describe_machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load}, "
        f"aws at {AWS}"
    )


def report_in_process(
    ours: Samples, null: Samples, modules: dict[str, tuple[float, float]]
) -> Interval:
    """Print part (a); return the median perf_counter time of our plugin with its interval."""
    print("\n(a) import + awscli_initialize, fresh interpreter each time (ms)")
    for label, samples in ((PLUGIN, ours), ("null plugin (floor)", null)):
        for clock, values in (("perf_counter", samples.wall), ("process_time", samples.cpu)):
            print(
                f"  {label:20} {clock}  median {median_interval(values)}  "
                f"min {min(values):6.3f}  max {max(values):6.3f}  n={len(values)}"
            )
    print("  -X importtime of what load_plugins imports (median µs: self / cumulative):")
    for name, (own, cumulative) in sorted(modules.items(), key=lambda kv: -kv[1][1]):
        print(f"    {own:8.0f} / {cumulative:8.0f}  {name}")
    return median_interval(ours.wall)


def report_end_to_end(
    cpu: dict[str, list[float]], title: str = "(b) `aws sts help`"
) -> tuple[Interval, Interval, float]:
    print(f"\n{title} CPU time of the child, user+sys (ms)")
    for name, values in cpu.items():
        print(
            f"  {name:14} median {1000 * statistics.median(values):7.1f}  "
            f"min {1000 * min(values):7.1f}  max {1000 * max(values):7.1f}  n={len(values)}"
        )
    base = cpu["without"]
    with_ratio = median_interval([w / b for w, b in zip(cpu["with"], base, strict=True)])
    aa_ratio = median_interval([a / b for a, b in zip(cpu["without (A/A)"], base, strict=True)])
    diff = statistics.median(1000 * (w - b) for w, b in zip(cpu["with"], base, strict=True))
    print(f"  per-round ratio with/without  {with_ratio}   (median difference {diff:+.1f} ms)")
    print(f"  per-round ratio A/A           {aa_ratio}")
    return with_ratio, aa_ratio, statistics.median(base) * 1000


def bytecode_mode(cached: bool) -> str:
    if cached:
        return "cached in a temporary PYTHONPYCACHEPREFIX (as after a pip install)"
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return "PYTHONDONTWRITEBYTECODE is set: modules without a .pyc compile on every run"
    return "inherited environment"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=30, help="rounds of each part (default 30)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep the inherited environment: with PYTHONDONTWRITEBYTECODE set, every run "
        "compiles the plugin from source (default: cache bytecode in a temporary directory)",
    )
    parser.add_argument(
        "--v2-aws", default="/usr/bin/aws", help="an AWS CLI v2 executable (default /usr/bin/aws)"
    )
    args = parser.parse_args(argv)
    if args.rounds < 3:
        parser.error("--rounds must be at least 3")

    print(describe_machine())
    print(f"bytecode: {bytecode_mode(not args.no_bytecode_cache)}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="plugin-overhead-") as tmp:
        ws = Workspace(Path(tmp), bytecode_cache=not args.no_bytecode_cache)
        ws.warm_up()
        ours, null = measure_in_process(ws, args.rounds)
        modules = importtime_breakdown(ws, runs=max(3, args.rounds // 3))
        cpu = measure_end_to_end(ws, args.rounds)
        v2 = v2_version(args.v2_aws)
        v2_cpu = measure_v2(ws, args.v2_aws, args.rounds) if v2 else {}

    in_process = report_in_process(ours, null, modules)
    with_ratio, aa_ratio, base_ms = report_end_to_end(cpu)
    v2_ratios = {
        name: report_end_to_end(samples, f"(c) v2 `{name}`")[0] for name, samples in v2_cpu.items()
    }

    a_ok = in_process.median <= GOAL_MS
    floor = statistics.median(null.wall)
    # End to end the goal is the same 2 ms, as a ratio of the command's own CPU time. One run's
    # noise is far above 2 ms, so it passes when the data are consistent with it (CI low end).
    ratio_goal = 1 + GOAL_MS / base_ms
    b_ok = with_ratio.low <= ratio_goal
    print(f"\n{'=' * 30} SUMMARY {'=' * 30}")
    print(f"(a) import + awscli_initialize (perf_counter): {in_process} ms")
    print(
        f"    null plugin {floor:.3f} ms, ours above it {in_process.median - floor:+.3f} ms; "
        f"CPU (process_time) {statistics.median(ours.cpu):.3f} ms   "
        f"goal median ≤ {GOAL_MS:g} ms   {verdict(a_ok)}"
    )
    print(f"(b) `aws sts help` CPU with/without plugin: {with_ratio}")
    print(f"    A/A (without/without), the noise:       {aa_ratio}")
    print(
        f"    goal ≤ {GOAL_MS:g} ms of {base_ms:.0f} ms, i.e. ratio ≤ {ratio_goal:.4f} "
        f"(CI low end within it)   {verdict(b_ok)}"
    )
    c_ok = all(ratio.median <= V2_GOAL_RATIO for ratio in v2_ratios.values())
    if v2:
        for name, ratio in v2_ratios.items():
            print(f"(c) {v2.split()[0]} `{name}` with/without plugin: {ratio}")
        print(f"    goal median ratio ≤ {V2_GOAL_RATIO}   {verdict(c_ok)}")
    else:
        print(f"(c) SKIPPED: no AWS CLI v2 at {args.v2_aws} (apt-get install awscli)")
    print(f"rounds {args.rounds}, took {time.monotonic() - started:.0f} s")
    print("=" * 69)
    return 1 if args.check and not (a_ok and b_ok and c_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
