"""Speed of the scheduling model on the Omega simulator's example workload, per architecture.

    .venv/bin/python benchmarks/bench_omega.py               # four runs, about a minute
    .venv/bin/python benchmarks/bench_omega.py --horizon 6h --repeats 2

Each architecture runs `scenarios/omega/example.yaml` as written (10,000 nodes of 4 cores
and 16 GB, 60% prefilled, batch and service jobs for one simulated day), timed from the call
of `simulator.run` to the returned Result: building the cell and the prefill, the run, the
KPIs and every table. Wall time and this process's CPU time are both reported; the target is
under 60 s per architecture on one core. A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import simulator  # noqa: E402
from simulator.scenario.cluster import ARCHITECTURES  # noqa: E402

TARGET_S = 60.0


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
    parser.add_argument("--horizon", default=None, help="override the horizon (default: 1d)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per architecture")
    args = parser.parse_args()
    scenario = simulator.load_scenario(ROOT / "scenarios" / "omega" / "example.yaml")
    cluster = scenario.cluster
    assert cluster is not None  # the Omega example schedules a cell
    print("\n".join(machine()))
    print(
        f"scenario {scenario.name}: {cluster.nodes} nodes, horizon "
        f"{args.horizon or '1d'}, {args.repeats} timed run(s) each\n"
    )
    header = f"{'architecture':<24}{'wall s':>8}{'CPU s':>8}{'jobs':>8}{'tasks':>10}  target"
    print(header)
    for architecture in ARCHITECTURES:
        overrides = [f"scheduler.architecture={architecture}"]
        if args.horizon:
            overrides.append(f"horizon={args.horizon}")
        walls, cpus = [], []
        for _ in range(args.repeats):
            wall0, cpu0 = time.perf_counter(), time.process_time()
            result = simulator.run(scenario, overrides=overrides)
            walls.append(time.perf_counter() - wall0)
            cpus.append(time.process_time() - cpu0)
        jobs = result.tables["jobs"]
        work = jobs[jobs.origin.isin(["batch", "service"])]
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        verdict = "met" if wall < TARGET_S else "MISSED"
        print(
            f"{architecture:<24}{wall:>8.1f}{cpu:>8.1f}{len(work):>8}{int(work.tasks.sum()):>10}"
            f"  {verdict} (< {TARGET_S:.0f} s)"
        )


if __name__ == "__main__":
    main()
