"""Speed and memory of the analytic fidelity at scale, and its accuracy against request level.

    .venv/bin/python benchmarks/bench_analytic.py                  # speed: about a minute
    .venv/bin/python benchmarks/bench_analytic.py --repeats 1      # one timed run
    .venv/bin/python benchmarks/bench_analytic.py --accuracy       # cross-validation: ~1 h
    .venv/bin/python benchmarks/bench_analytic.py --accuracy --save runs.json   # keep runs
    .venv/bin/python benchmarks/bench_analytic.py --accuracy --load runs.json   # reuse them

Speed: each repeat is a fresh child process that does what `sresim run
scenarios/scale/sre-1000.yaml` does (import, load and validate the YAML, run, print the
summary table; the CLI's own `main`, its output discarded) and reports its wall time, CPU
time and peak resident set size (`VmHWM` of /proc/self/status, read by the child itself:
`ru_maxrss` of a child can carry its parent's peak over `exec` on Linux). The target: under
30 s on one core and under 1 GB.

Accuracy: the scenarios of `simulator.analytic.crosscheck` (a single M/G/4 queue, four
round-robin replicas, a call graph with a chain and a fan-out) at utilisations 0.3, 0.6
and 0.9, each run at request level (replications with seeds 1, 2, ...) and analytically;
the table gives the analytic value, the request-level mean and its 95% half-width, and the
relative error. The request-level runs dominate the time; `--save` keeps them in a JSON file
so the analytic side can be re-evaluated with `--load` after a change to the model.

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

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "scale" / "sre-1000.yaml"
TARGET_SECONDS = 30.0
TARGET_BYTES = 1024**3

CHILD = r"""
import contextlib, io, json, sys, time
wall0, cpu0 = time.perf_counter(), time.process_time()
from simulator.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(["run", sys.argv[1]])
wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
status = open("/proc/self/status").read()
peak_kib = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"code": code, "wall": wall, "cpu": cpu, "peak_bytes": peak_kib * 1024,
                  "summary_lines": out.getvalue().count("\n")}))
"""


def child_run(scenario: Path) -> dict:
    """One `sresim run` equivalent in a fresh interpreter, on one core where possible."""
    command = [sys.executable, "-c", CHILD, str(scenario)]
    if hasattr(os, "sched_setaffinity"):
        core = sorted(os.sched_getaffinity(0))[0]
        command = ["taskset", "-c", str(core), *command] if _has_taskset() else command
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _has_taskset() -> bool:
    from shutil import which

    return which("taskset") is not None


def speed(repeats: int) -> None:
    print(f"scenario: {SCENARIO.relative_to(ROOT)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {platform.platform()}")  # fmt: skip
    runs = []
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
          f"{peak / 2**20:.0f} MiB")  # fmt: skip
    met = cpu < TARGET_SECONDS and wall < TARGET_SECONDS and peak < TARGET_BYTES
    print(
        f"target (< {TARGET_SECONDS:.0f} s on one core, < 1 GiB): " + ("met" if met else "NOT met")
    )
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
    args = parser.parse_args()
    if args.accuracy:
        accuracy(args.replications, args.save, args.load)
    else:
        speed(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
