"""The same sweep serially, on local worker processes and on a local Dask cluster, side by
side in one process: speed-up, overhead per run and the parent's memory.

    .venv/bin/python benchmarks/bench_sweep.py               # about two minutes on 2 cores
    .venv/bin/python benchmarks/bench_sweep.py --horizon 20000s --no-dask   # quick look

1. Speed-up: scenarios/validation/mmc.yaml over `--rates` arrival rates × `--replications`
   (runs of about two CPU seconds at 200,000 simulated seconds: issue 12's "runs of a few
   seconds"; since the M/M/c fast path a run of the scenario's own 60,000 s takes a quarter
   of a second, and a sweep of eight of those is decided by the pool's fixed costs),
   serially in this process, then on `--jobs` local workers, then on a local Dask cluster of
   as many workers (its start-up timed apart), in `--rounds` rounds of the three in turn;
   each round's speed-ups are against that round's serial sweep, and the median round is the
   figure (one serial sweep varied by ±15% from one minute to the next here). Every
   backend's tidy table must equal the serial one bit for bit. A tiny sweep runs first,
   untimed, so that the serial side does not pay the imports (the summary's scipy.stats)
   that the others then find done; the local workers' fork server is started before their
   row (`warm_up` and a pool of tiny runs, timed apart and printed, as the Dask cluster's
   start-up is), as a notebook starts it at its imports: the row is then what every sweep
   after the first pays. This process takes the workers' memory settings
   (`pool.worker_memory`) before the serial sweep, so that the speed-up is the parallelism's
   alone (with numpy's huge pages the serial runs took 0.93 s each against 0.69 s in a
   worker, a speed-up of 2.62 on two workers). The Dask cluster's workers are started as
   docs/experiments.md tells a cluster's operator to and as the engine's own local cluster
   is: `--preload simulator.experiments.preload` (the simulator imported, the same memory
   settings), one malloc arena and no profiler (`executor.DASK_LOCAL_CONFIG`).
2. Overhead per run: `--tiny` runs of 50 simulated seconds on each backend; the overhead is
   the worker-seconds not spent inside runs, (wall × workers − Σ run seconds) / runs.
3. Memory: the parent's resident memory after sweeps of `--tiny` and 4 × `--tiny` tiny runs
   on local workers; it should grow with the tidy table only.

It is a benchmark, not a test: it always exits 0 and says whether the target (a speed-up of
at least 1.7 on 2 workers for runs of a few seconds) is met. The wall time depends on what
else the machine runs; the load average is printed with the figures, and "s inside a run"
(a run's own wall time, averaged) shows how much CPU the workers got: on a machine whose
cores are taken by others (and, on Linux with autogroup, by other sessions), two workers
each run at half speed and there is no speed-up to be had.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import time
from pathlib import Path

import pandas as pd
from targets import record

import simulator
from simulator.experiments import warm_up
from simulator.experiments.executor import DASK_LOCAL_CONFIG
from simulator.experiments.pool import worker_memory
from simulator.experiments.sweep import prepare

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "validation" / "mmc.yaml"
TARGET = 1.7


def rss_mib() -> float:
    """This process's resident memory now (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(plan, **where) -> tuple[simulator.SweepResult, float]:
    began = time.perf_counter()
    result = plan.run(**where)
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", default="200000s", help="simulated time of each run")
    parser.add_argument("--rates", default="3.0,3.2,3.4,3.6", help="arrival rates per second")
    parser.add_argument("--replications", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tiny", type=int, default=40, help="tiny runs for the overhead")
    parser.add_argument("--dask", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--rounds", type=int, default=3, help="serial, local, Dask in turn")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    axes = {"traffic.api.rate": rates}
    plan = prepare(
        SCENARIO,
        axes,
        replications=args.replications,
        overrides={"horizon": args.horizon, "warmup": "1000s"},
    )
    print(
        f"sweep: {len(rates)} rates × {args.replications} replications = {plan.runs} runs of "
        f"M/M/4 over {args.horizon}; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the start"
    )
    # The serial side with the memory settings of the engine's local workers (huge pages
    # off, freed blocks kept: `pool.worker_memory`), which make the fast path's large
    # arrays cheaper on this machine: otherwise the speed-up would count them as well.
    worker_memory()
    tiny_size = {"horizon": "100s", "warmup": "10s"}
    # the imports of a run and of a sweep's summary (its confidence intervals), untimed
    prepare(SCENARIO, {"traffic.api.rate": rates[:1]}, replications=2, overrides=tiny_size).run()

    # The local workers' fork server starts (and imports the simulator) once per process,
    # timed apart as the Dask cluster's start-up is: a notebook starts it at its imports
    # (`warm_up`). The first pool's workers are kept for the later sweeps of as many jobs
    # (`pool.workers`), as a notebook's later cells find them.
    began = time.perf_counter()
    warm_up()
    prepare(
        SCENARIO, {"traffic.api.rate": rates[:1]}, replications=args.jobs, overrides=tiny_size
    ).run(jobs=args.jobs)
    notes = [f"local fork server start-up and a first pool: {time.perf_counter() - began:.1f} s"]
    # Each backend in rounds of (serial, backend): a round's speed-up is against its own
    # serial sweep, seconds apart, so that a slower or faster phase of a shared machine
    # moves both sides; the median round is reported. Local rounds come before the Dask
    # cluster starts: right after Dask's sweeps, a local pool's new workers took 0.1-0.3 s
    # more system time per run for the same page faults (docs/performance.md, session 17).
    walls: dict[str, list[float]] = {"serial": []}
    ups: dict[str, list[float]] = {"serial": []}
    per_run: dict[str, list[float]] = {"serial": []}
    same = {"serial": "yes"}
    tables: list[pd.DataFrame] = []  # the first sweep's: the numbers every backend must give

    def rounds(name: str, where: dict) -> None:
        walls[name], ups[name], per_run[name], same[name] = [], [], [], "yes"
        for _ in range(args.rounds):
            for side, options in (("serial", {}), (name, where)):
                result, wall = timed(plan, **options)
                if not tables:
                    tables.append(result.table)
                if not result.table.equals(tables[0]):
                    same[side] = "NO"
                walls[side].append(wall)
                per_run[side].append(result.run_seconds / plan.runs)
            ups[name].append(walls["serial"][-1] / wall)
            ups["serial"].append(1.0)

    rounds(f"local, {args.jobs} workers", {"jobs": args.jobs})
    if args.dask:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            notes.append("dask: not installed (pip install 'sre-sandbox[dask]')")
        else:
            began = time.perf_counter()
            with (
                dask.config.set(DASK_LOCAL_CONFIG),  # as the engine's own cluster
                LocalCluster(
                    n_workers=args.jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                    preload=["simulator.experiments.preload"],  # as docs/experiments.md says
                ) as cluster,
                Client(cluster),
            ):
                notes.append(f"dask local cluster start-up: {time.perf_counter() - began:.1f} s")
                where = {"backend": "dask", "scheduler": cluster.scheduler_address}
                rounds(f"dask local, {args.jobs} workers", where)
    rows = [
        (
            name,
            statistics.median(walls[name]),
            statistics.median(ups[name]),
            ", ".join(f"{u:.2f}" for u in ups[name]),
            statistics.median(per_run[name]),
            same[name],
        )
        for name in walls
    ]
    columns = ["backend", "wall s", "speed-up", "each round", "s inside a run", "same numbers"]
    table = pd.DataFrame(rows, columns=columns)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print("\n".join(f"{note} (not in the rows above)" for note in notes))
    best = max(r[2] for r in rows[1:])
    runs = f"{plan.runs} runs × {args.horizon}, {args.jobs} workers, median of {args.rounds} rounds"
    for key, row in zip(("sweep.local", "sweep.dask"), rows[1:], strict=False):
        same_note = "" if row[5] == "yes" else "; NOT the serial numbers"
        record(key, row[2] if row[5] == "yes" else None, f"{runs}{same_note}")
    if len(rows) < 3:
        record("sweep.dask", None, notes[-1] if len(notes) > 1 else "--no-dask")
    verdict = "met" if best >= TARGET else "not met"
    print(f"target: speed-up ≥ {TARGET} on {args.jobs} workers: {verdict} (best {best:.2f})")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")

    # ---------------------------------------------------------------- overhead per run
    tiny = prepare(
        SCENARIO,
        {"traffic.api.rate": [3.0 + 0.01 * i for i in range(args.tiny)]},
        overrides={"horizon": "50s", "warmup": "5s"},
    )
    print(f"\noverhead per run: {tiny.runs} runs of 50 simulated seconds")
    from simulator.experiments.executor import RunTask, execute
    from simulator.runner import run_task

    tasks = [RunTask(s, tiny.seed) for s in tiny.scenarios]
    lines = []
    ways: list[tuple[str, dict, int]] = [
        ("serial", {}, 1),
        ("local", {"jobs": args.jobs}, args.jobs),
    ]
    if len(walls) > 2:  # Dask ran above
        ways.append(
            ("dask local (start-up included)", {"backend": "dask", "workers": args.jobs}, args.jobs)
        )
    for name, where, workers in ways:
        began = time.perf_counter()
        done = execute(tasks, run_task, **where)
        wall = time.perf_counter() - began
        inside = sum(o.seconds for o in done.outcomes)
        lines.append(
            (name, wall, inside / len(tasks) * 1e3, (wall * workers - inside) / len(tasks) * 1e3)
        )
    print(
        pd.DataFrame(lines, columns=["backend", "wall s", "run ms", "overhead ms/run"]).to_string(
            index=False, float_format=lambda v: f"{v:.1f}"
        )
    )

    # ---------------------------------------------------------------- parent's memory
    print("\nparent's resident memory, local workers, tiny runs")
    for factor in (1, 4):
        many = prepare(
            SCENARIO,
            {"traffic.api.rate": [3.0 + 0.001 * i for i in range(args.tiny * factor)]},
            overrides={"horizon": "50s", "warmup": "5s"},
        )
        gc.collect()
        before = rss_mib()
        result = many.run(jobs=args.jobs)
        gc.collect()
        after = rss_mib()
        size = result.table.memory_usage(deep=True).sum() / 1024
        print(
            f"  {many.runs:4d} runs: {before:.0f} → {after:.0f} MiB "
            f"(+{after - before:.1f}); tidy table {size:.0f} KiB"
        )
        del result, many


if __name__ == "__main__":
    main()
