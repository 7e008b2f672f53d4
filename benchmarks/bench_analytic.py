"""Speed and memory of the analytic fidelity at scale, and its accuracy against request level.

    .venv/bin/python benchmarks/bench_analytic.py                  # speed: about a minute
    .venv/bin/python benchmarks/bench_analytic.py --repeats 1      # one timed run
    .venv/bin/python benchmarks/bench_analytic.py --fleet          # 10,000 services × 365 d
    .venv/bin/python benchmarks/bench_analytic.py --fleet --repeats 1 --fleet-horizon 2d
    .venv/bin/python benchmarks/bench_analytic.py --fleet --baseline /tmp/old   # both sides
    .venv/bin/python benchmarks/bench_analytic.py --baseline /tmp/old   # side by side, horizons
    .venv/bin/python benchmarks/bench_analytic.py --failures --baseline /tmp/old   # node failures
    .venv/bin/python benchmarks/bench_analytic.py --accuracy       # cross-validation: ~1 h
    .venv/bin/python benchmarks/bench_analytic.py --accuracy --save runs.json   # keep runs
    .venv/bin/python benchmarks/bench_analytic.py --accuracy --load runs.json   # reuse them

Speed: each repeat is a fresh child process that does what `sresim run
scenarios/scale/sre-1000.yaml` does (import, load and validate the YAML, run, print the
summary table; the CLI's own `main`, its output discarded) and reports its wall time, CPU
time and peak resident set size (`VmHWM` of /proc/self/status, read by the child itself:
`ru_maxrss` of a child can carry its parent's peak over `exec` on Linux). The target: under
3 s and under 1 GB.

Fleet (`--fleet`): the same in a child process on a generated 10,000-service fleet over 365
days: ten copies of sre-1000's services and entry points (`c0-edge-000`, ...,
`c9-data-199`: 200 entry points, the same call graphs, rates and replicas), written to a
temporary YAML and run as `sresim run FILE --set horizon=365d` (`--fleet-horizon` for a
quick look). Targets: under 60 s and under 1 GiB (as checked). (A benchmark, not a
shipped scenario: the file is 1.9 MB and the test suite stays fast.) With `--baseline
CHECKOUT`, the other checkout runs the same file too, the two sides alternating; each run
shows the SHA-256 of its summary, which a change that keeps the numbers keeps.

Node failures (`--failures`): sre-1000 over 3 days with the cluster's node failures on
(`cluster.failures.node_mtbf=30d`, seed 1: 17 of its 200 nodes fail), each failure and
repair changing the replicas from a step on; with `--baseline CHECKOUT` both sides, which
must print the same summary (its SHA-256 is shown).

Side by side (`--baseline CHECKOUT`): sre-1000 over 30, 90 and 365 days, each in child
processes of this checkout and of another one (e.g. `git worktree add /tmp/old HEAD`),
alternating which goes first, with CPU time, peak RSS and the summary's SHA-256 of each.

Accuracy: the scenarios of `simulator.analytic.crosscheck` (a single M/G/4 queue, four
round-robin replicas, a call graph with a chain and a fan-out) at utilisations 0.3, 0.6
and 0.9, each run at request level (replications with seeds 1, 2, ...) and analytically;
the table gives the analytic value, the request-level mean and its 95% half-width, and the
relative error. The request-level runs dominate the time; `--save` keeps them in a JSON file
so the analytic side can be re-evaluated with `--load` after a change to the model.

Bytecode (`--compiled`): before the runs, each checkout's `simulator` package is compiled
to bytecode (`compileall`, into its `__pycache__`, which git ignores), as an installed
package is. Without it, a shell with PYTHONDONTWRITEBYTECODE set (as the project's agents'
is) compiles the package's 100-odd modules from source in every child run: about 0.25 s of
CPU of an sre-1000 run that is Python's, not the simulator's. The line "bytecode:" says
which was measured.

It is a benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from targets import record

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "scale" / "sre-1000.yaml"
TARGET_SECONDS = 3.0
TARGET_BYTES = 1024**3
FLEET_COPIES = 10
FLEET_HORIZON = "365d"
FLEET_TARGET_SECONDS = 60.0
FLEET_LIMITS = ("--limit", "max_nodes=2e6", "--limit", "max_file_bytes=2e7")
"""The scenario file is larger than the default limits allow (docs/reliability.md)."""

CHILD = r"""
import contextlib, hashlib, io, json, sys, time
wall0, cpu0 = time.perf_counter(), time.process_time()
try:  # the process settings of the `sresim` command (a baseline before them has none)
    from simulator.__main__ import own_process
    own_process()
except ImportError:
    pass
from simulator.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(["run", *sys.argv[1:]])
wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
status = open("/proc/self/status").read()
peak_kib = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"code": code, "wall": wall, "cpu": cpu, "peak_bytes": peak_kib * 1024,
                  "summary_lines": out.getvalue().count("\n"),
                  "summary_sha": hashlib.sha256(out.getvalue().encode()).hexdigest()[:12]}))
"""


def child_run(scenario: Path, *extra: str, root: Path = ROOT) -> dict:
    """One `sresim run` equivalent in a fresh interpreter, on one core where possible, with
    the package of the checkout at `root`."""
    command = [sys.executable, "-c", CHILD, str(scenario), *extra]
    if hasattr(os, "sched_setaffinity"):
        core = sorted(os.sched_getaffinity(0))[0]
        command = ["taskset", "-c", str(core), *command] if _has_taskset() else command
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(command, capture_output=True, text=True, cwd=root, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compile_bytecode(*roots: Path) -> None:
    """Each checkout's package compiled to bytecode, as an installed one is (`--compiled`)."""
    import compileall

    for root in roots:
        compileall.compile_dir(root / "simulator", quiet=1)


def _bytecode_line(compiled: bool) -> str:
    if compiled:
        return "bytecode: compiled before the runs (as an installed package)"
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not (ROOT / "simulator/__pycache__").exists():
        return "bytecode: none (PYTHONDONTWRITEBYTECODE: every run compiles the package)"
    return "bytecode: as found"


def _has_taskset() -> bool:
    from shutil import which

    return which("taskset") is not None


def speed(repeats: int) -> None:
    print(f"scenario: {SCENARIO.relative_to(ROOT)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {platform.platform()}")  # fmt: skip
    runs = []
    print(f"load average {_load()}")
    for repeat in range(repeats):
        result = child_run(SCENARIO)
        runs.append(result)
        print(
            f"run {repeat + 1}: wall {result['wall']:.2f} s, CPU {result['cpu']:.2f} s, "
            f"peak RSS {result['peak_bytes'] / 2**20:.0f} MiB"
        )
    wall = statistics.median(r["wall"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    peak = max(r["peak_bytes"] for r in runs)
    print(f"median wall {wall:.2f} s, median CPU {cpu:.2f} s, highest peak RSS "
          f"{peak / 2**20:.0f} MiB; load average at the end {_load()}")  # fmt: skip
    met = cpu < TARGET_SECONDS and wall < TARGET_SECONDS and peak < TARGET_BYTES
    print(
        f"target (< {TARGET_SECONDS:.0f} s on one core, < 1 GiB): " + ("met" if met else "NOT met")
    )
    note = f"median of {repeats}, peak {peak / 2**20:.0f} MiB"
    record("analytic.sre1000.cpu", cpu, note)
    record("analytic.sre1000.wall", wall, note)
    _stages()


def _stages() -> None:
    """Where the time goes, in this process (imports already paid): load, run, tables."""
    import simulator

    start = time.perf_counter()
    scenario = simulator.load_scenario(SCENARIO)
    loaded = time.perf_counter()
    result = simulator.run(scenario)
    ran = time.perf_counter()
    rows = sum(len(t) for t in result.tables.values())
    print(
        f"in-process: load and validate {loaded - start:.2f} s, run "
        f"{ran - loaded:.2f} s ({rows:,} table rows; "
        f"{result.tables['events']['detail'].iloc[0]})"
    )


def accuracy(replications: int, save: Path | None, load: Path | None) -> None:
    from simulator.analytic import crosscheck

    stored = json.loads(load.read_text()) if load else {}
    rows = []
    for name, build in crosscheck.SCENARIOS.items():
        for utilisation in crosscheck.UTILISATIONS:
            scenario = build(utilisation, LONG_REQUESTS[name])
            key = f"{name}@{utilisation:g}"
            started = time.perf_counter()
            if key not in stored:
                stored[key] = crosscheck.request_level(scenario, replications)
                if save:
                    save.write_text(json.dumps(stored))
            table = crosscheck.compare(scenario, measured=stored[key])
            for kpi, row in table.iterrows():
                rows.append((name, utilisation, kpi, row))
            print(f"{key}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print("| scenario | ρ | KPI | analytic | request level (95% CI) | error |")
    print("|---|---:|---|---:|---:|---:|")
    for name, utilisation, kpi, row in rows:
        print(
            f"| {name} | {utilisation:g} | {kpi} | {row['analytic'] * 1000:.3f} ms | "
            f"{row['request'] * 1000:.3f} ± {row['ci95'] * 1000:.3f} ms | "
            f"{row['error']:+.1%} |"
        )


HORIZONS = ("30d", "90d", "365d")


def side_by_side(baseline: Path, repeats: int) -> None:
    """sre-1000 at several horizons, this checkout against `baseline`, CPU and peak RSS."""
    sides = {"baseline": baseline.resolve(), "this": ROOT}
    print(f"load average {_load()}")
    print(
        f"{'sre-1000 horizon':<18} {'side':<9} {'CPU s (median)':>14} {'peak RSS MiB (max)':>19}"
        f"  summary"
    )
    for horizon in HORIZONS:
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        for repeat in range(repeats):
            order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
            for side in order:
                scenario = sides[side] / "scenarios" / "scale" / "sre-1000.yaml"
                runs[side].append(
                    child_run(scenario, "--set", f"horizon={horizon}", root=sides[side])
                )
        for side, found in runs.items():
            cpu = statistics.median(r["cpu"] for r in found)
            peak = max(r["peak_bytes"] for r in found) / 2**20
            shas = " ".join(sorted({r["summary_sha"] for r in found}))  # one, if repeatable
            print(f"{horizon:<18} {side:<9} {cpu:>14.2f} {peak:>19.0f}  {shas}", flush=True)
    print(f"load average at the end {_load()}")


def _load() -> str:
    """The 1, 5 and 15-minute load averages."""
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


FAILURES = ("--set", "horizon=3d", "--set", "cluster.failures.enabled=true", "--set",
            "cluster.failures.node_mtbf=30d", "--seed", "1")  # fmt: skip


def failures(repeats: int, baseline: Path | None = None) -> None:
    """sre-1000 × 3 d with node failures, in child runs (both sides alternating)."""
    sides = {"this": ROOT} if baseline is None else {"baseline": baseline.resolve(), "this": ROOT}
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    print(f"scenario: sre-1000, {' '.join(FAILURES)}; load average {os.getloadavg()[0]:.1f}")
    for repeat in range(repeats):
        for side in list(sides) if repeat % 2 == 0 else list(reversed(sides)):
            scenario = sides[side] / "scenarios" / "scale" / "sre-1000.yaml"
            result = child_run(scenario, *FAILURES, root=sides[side])
            runs[side].append(result)
            print(
                f"{side} run {repeat + 1}: wall {result['wall']:.2f} s, CPU {result['cpu']:.2f} s, "
                f"peak RSS {result['peak_bytes'] / 2**20:.0f} MiB, summary "
                f"{result['summary_sha']}",
                flush=True,
            )
    for side, found in runs.items():
        cpu = statistics.median(r["cpu"] for r in found)
        print(f"{side}: median CPU {cpu:.2f} s")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


def fleet_yaml(copies: int, path: Path) -> Path:
    """sre-1000's services and entry points `copies` times over, under prefixed names."""
    import yaml

    data = yaml.safe_load(SCENARIO.read_text())

    def renamed(value: object, prefix: str) -> object:
        if isinstance(value, dict):
            return {renamed(k, prefix): renamed(v, prefix) for k, v in value.items()}
        if isinstance(value, list):
            return [renamed(v, prefix) for v in value]
        if isinstance(value, str) and value in data["services"]:
            return prefix + value
        return value

    services: dict[object, object] = {}
    traffic: dict[str, object] = {}
    for copy in range(copies):
        prefix = f"c{copy}-"
        services.update({prefix + k: renamed(v, prefix) for k, v in data["services"].items()})
        traffic.update({prefix + k: v for k, v in data["traffic"].items()})
    data.update(
        name=f"sre-{len(services)}",
        description=f"{copies} copies of sre-1000: {len(services):,} services",
        services=services,
        traffic=traffic,
    )
    data["cluster"] = {**data["cluster"], "nodes": data["cluster"]["nodes"] * copies}
    dumper = type("Plain", (yaml.SafeDumper,), {"ignore_aliases": lambda self, data: True})
    text = yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=None, width=1000)
    path.write_text(text)
    return path


def fleet(repeats: int, baseline: Path | None = None, horizon: str = FLEET_HORIZON) -> None:
    import tempfile

    sides = {"this": ROOT} if baseline is None else {"baseline": baseline.resolve(), "this": ROOT}
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as folder:
        path = fleet_yaml(FLEET_COPIES, Path(folder) / "fleet.yaml")
        print(f"scenario: {FLEET_COPIES} copies of sre-1000, horizon {horizon}")
        print(f"load average {_load()}")
        for repeat in range(repeats):
            for side in list(sides) if repeat % 2 == 0 else list(reversed(sides)):
                result = child_run(
                    path, "--set", f"horizon={horizon}", *FLEET_LIMITS, root=sides[side]
                )
                runs[side].append(result)
                print(
                    f"{side} run {repeat + 1}: wall {result['wall']:.2f} s, CPU "
                    f"{result['cpu']:.2f} s, peak RSS {result['peak_bytes'] / 2**20:.0f} MiB, "
                    f"summary {result['summary_sha']}",
                    flush=True,
                )
    print(f"load average at the end {_load()}")
    cpu = statistics.median(r["cpu"] for r in runs["this"])
    peak = max(r["peak_bytes"] for r in runs["this"])
    met = cpu < FLEET_TARGET_SECONDS and peak < TARGET_BYTES
    print(f"target (< {FLEET_TARGET_SECONDS:.0f} s CPU, < 1 GiB): " + ("met" if met else "NOT met"))
    wall = statistics.median(r["wall"] for r in runs["this"])
    record("analytic.fleet.cpu", cpu, f"median of {repeats}, wall {wall:.1f} s, {horizon}")
    record("analytic.fleet.peak", peak / 2**20, f"highest of {repeats}, {horizon}")


LONG_REQUESTS = {"single-queue": 200_000, "round-robin": 200_000, "call-graph": 100_000}
"""Requests per replication in --accuracy runs (the tests use far fewer)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed child runs (speed)")
    parser.add_argument(
        "--accuracy", action="store_true", help="cross-validate against request-level runs"
    )
    parser.add_argument("--replications", type=int, default=10, help="request-level seeds")
    parser.add_argument("--save", type=Path, help="write the request-level KPIs to this JSON")
    parser.add_argument("--load", type=Path, help="reuse request-level KPIs from this JSON")
    parser.add_argument("--baseline", type=Path, help="another checkout, side by side")
    parser.add_argument(
        "--fleet", action="store_true", help="10,000 services over 365 days (child runs)"
    )
    parser.add_argument(
        "--fleet-horizon",
        default=FLEET_HORIZON,
        help="the fleet's horizon (365d; a quick look: 2d)",
    )
    parser.add_argument(
        "--failures", action="store_true", help="sre-1000 × 3 d with node failures (child runs)"
    )
    parser.add_argument(
        "--compiled", action="store_true", help="compile the checkouts' bytecode before the runs"
    )
    args = parser.parse_args()
    if args.compiled:
        compile_bytecode(ROOT, *([args.baseline.resolve()] if args.baseline else []))
    print(_bytecode_line(args.compiled))
    if args.failures:
        failures(args.repeats, args.baseline)
    elif args.fleet:
        fleet(args.repeats, args.baseline, args.fleet_horizon)
    elif args.baseline:
        side_by_side(args.baseline, args.repeats)
    elif args.accuracy:
        accuracy(args.replications, args.save, args.load)
    else:
        speed(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
