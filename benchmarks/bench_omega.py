"""Speed of the scheduling model, side by side with a baseline checkout, on the same runs.

    .venv/bin/python benchmarks/bench_omega.py                        # this checkout only
    git worktree add /tmp/base HEAD                                   # the current model
    .venv/bin/python benchmarks/bench_omega.py --baseline /tmp/base   # both, about 5 minutes
    .venv/bin/python benchmarks/bench_omega.py --baseline /tmp/base --only example --repeats 3

Workloads (issue 16, point 4):

- the Omega example (`scenarios/omega/example.yaml`: 10,000 nodes of 4 cores and 16 GB, 60%
  prefilled, one simulated day) under each architecture; target at most 1.5 s each;
- notebook 03's 16× batch-rate run: shared-state, prefill 0.3, a batch job every 0.625 s,
  with 1, 2 and 4 batch schedulers (the notebook runs all three); target under 10 s each.

Each run happens in a fresh child process of the checkout being measured (its package and
scenarios), after an untimed one-minute run that pays for the lazy imports; the child times
`simulator.run` from the call to the returned Result (building the cell and the prefill, the
run, the KPIs and every table) in CPU time (what a busy neighbour disturbs least) and wall
time. The sides alternate from one repeat to the next. The child also hashes the summary and
every table, so the report says whether both sides gave the same numbers, bit for bit.
A benchmark, not a test: it always exits 0. Each line ends with the one-minute load
average when it was done (other work on the machine inflates CPU time too).

    .venv/bin/python benchmarks/bench_omega.py --baseline /tmp/base --compile-cost

measures instead what numba's compilation of the scheduler's kernels costs a process: a
short run of the example under each architecture in a fresh process with the kernels' cache
deleted (what a fresh clone pays once), then again with it (what every later process pays),
CPU seconds of the whole process, imports included.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from targets import record

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "scenarios/omega/example.yaml"
ARCHITECTURES = ("monolithic-single-path", "monolithic-multi-path", "two-level", "shared-state")
EXAMPLE_TARGET_S = 1.5
X16_TARGET_S = 10.0

NOTEBOOK_SIZE = ["horizon=1d", "warmup=1h"]
X16 = [
    *NOTEBOOK_SIZE,
    "scheduler.architecture=shared-state",
    "cluster.prefill=0.3",
    "workloads.batch.interarrival=0.625s",
]
"""Notebook 03's batch-rate sweep at 16× (its `10 / factor` s between batch jobs)."""

WORKLOADS: dict[str, tuple[list[str], float]] = {
    **{f"example, {a}": ([f"scheduler.architecture={a}"], EXAMPLE_TARGET_S) for a in ARCHITECTURES},
    **{
        f"16× batch, shared-state, {n} batch sched.": (
            [*X16, f"scheduler.batch_schedulers={n}"],
            X16_TARGET_S,
        )
        for n in (1, 2, 4)
    },
}

KEYS = {
    **{f"example, {a}": f"omega.example.{a}" for a in ARCHITECTURES},
    **{f"16× batch, shared-state, {n} batch sched.": f"omega.x16.{n}" for n in (1, 2, 4)},
}
"""The workloads whose figures go to benchmarks/targets.py's table."""

CHILD = """
import hashlib, json, sys, time
import pandas as pd
import simulator
overrides = json.loads(sys.argv[1])
simulator.run({example!r}, overrides=[*overrides, "horizon=60s", "warmup=0s"])  # imports
wall, cpu = time.perf_counter(), time.process_time()
result = simulator.run({example!r}, overrides=overrides)
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
digest = hashlib.sha256(repr(sorted(result.summary.items())).encode())
for name, table in sorted(result.tables.items()):
    digest.update(name.encode())
    digest.update(pd.util.hash_pandas_object(table, index=True).values.tobytes())
    digest.update(repr(list(table.columns)).encode())
print(json.dumps({{"cpu": cpu, "wall": wall, "digest": digest.hexdigest()[:16]}}))
"""


COMPILE_CHILD = """
import json, time
cpu = time.process_time()
import simulator
for architecture in {architectures!r}:
    overrides = [f"scheduler.architecture={{architecture}}", "horizon=10min", "warmup=0s"]
    simulator.run({example!r}, overrides=overrides)
print(json.dumps({{"cpu": time.process_time() - cpu}}))
"""


def compile_cost(checkout: Path) -> tuple[float, float]:
    """CPU seconds of a fresh process running the example briefly under each architecture,
    without the kernels' numba cache (deleted first) and then with it."""
    for cached in (checkout / "simulator/model/scheduling/__pycache__").glob("kernels.*.nb[ic]"):
        cached.unlink()
    code = COMPILE_CHILD.format(architectures=ARCHITECTURES, example=EXAMPLE)
    env = {**os.environ, "PYTHONPATH": str(checkout), "MPLBACKEND": "Agg"}
    times = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=checkout,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        times.append(json.loads(done.stdout.strip().splitlines()[-1])["cpu"])
    return times[0], times[1]


def measure(checkout: Path, overrides: list[str]) -> dict:
    """One timed run in a fresh child process of `checkout`."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "MPLBACKEND": "Agg"}
    code = CHILD.format(example=EXAMPLE)
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(overrides)],
        cwd=checkout,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> list[str]:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return [
        f"CPU      {cpu}, {os.cpu_count()} logical CPUs",
        f"OS       {platform.platform()}",
        f"Python   {platform.python_version()} ({platform.python_implementation()})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side")
    parser.add_argument("--only", help="only the workloads whose name contains this")
    parser.add_argument(
        "--compile-cost", action="store_true", help="measure numba's compilation instead"
    )
    args = parser.parse_args()
    sides = {"this": ROOT}
    if args.baseline is not None:
        sides = {"baseline": args.baseline.resolve(), **sides}
    if args.compile_cost:
        print("\n".join(machine()))
        print("CPU s of a process: imports and 10 min of the example per architecture")
        print(f"{'side':<10}{'no cache':>10}{'cached':>8}{'compile':>9}  load")
        for side, checkout in sides.items():
            cold, warm = compile_cost(checkout)
            load = os.getloadavg()[0]
            print(f"{side:<10}{cold:>10.2f}{warm:>8.2f}{cold - warm:>9.2f}  {load:.1f}")
        return
    workloads = WORKLOADS
    if args.only:
        workloads = {k: v for k, v in WORKLOADS.items() if args.only in k}
    print("\n".join(machine()))
    print(f"{args.repeats} timed run(s) per side; CPU seconds of simulator.run, median\n")
    base = "baseline s" if args.baseline else ""
    header = f"{'workload':<42}{base:>11}{'this s':>8}{'speed-up':>9}{'wall s':>8}  same  target"
    print(f"{header:<100}load")
    for name, (overrides, target) in workloads.items():
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        for repeat in range(args.repeats):
            order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
            for side in order:
                runs[side].append(measure(sides[side], overrides))
        this = statistics.median(r["cpu"] for r in runs["this"])
        wall = statistics.median(r["wall"] for r in runs["this"])
        digests = {r["digest"] for rs in runs.values() for r in rs}
        verdict = "met" if this <= target else "MISSED"
        if args.baseline:
            before = statistics.median(r["cpu"] for r in runs["baseline"])
            compared = f"{before:>11.2f}{this:>8.2f}{before / this:>8.1f}×"
            same = "yes " if len(digests) == 1 else "NO  "
        else:
            compared = f"{'':>11}{this:>8.2f}{'':>9}"
            same = "-   "
        line = f"{name:<42}{compared}{wall:>8.2f}  {same}  {verdict} (≤ {target:g} s)"
        print(f"{line:<100}{os.getloadavg()[0]:.1f}", flush=True)
        if name in KEYS:
            note = f"median of {args.repeats}, wall {wall:.2f} s"
            record(KEYS[name], this, note + ("" if same != "NO  " else "; NOT the same numbers"))
    print("same: the summary and every table hash equal on both sides (and across repeats)")


if __name__ == "__main__":
    main()
