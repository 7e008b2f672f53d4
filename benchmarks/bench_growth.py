"""The growth experiment's cost: the one-world sweep (every era running N served services,
`one_world_growth`) beside the delivery-only sweep it replaces (`growth_sweep`), same eras,
sizes, horizon and workers, in one process.

    .venv/bin/python benchmarks/bench_growth.py                         # 1, 10, 100, 1,000; 3w
    .venv/bin/python benchmarks/bench_growth.py --points 6 --horizon 6w  # the issue's full sweep
    .venv/bin/python benchmarks/bench_growth.py --most 100 --horizon 3w  # a small one
    .venv/bin/python benchmarks/bench_growth.py --same-as /tmp/base/out/bench-growth  # vs a tree

Run it in a worktree of the code before a change first, then in this tree with `--same-as`
that run's `--out`: a speed-up must leave the tables as they were, value for value. Or let
it do both, one after the other, the sides alternating from one repeat to the next:

    git worktree add /tmp/base HEAD && ln -s "$PWD/.venv" /tmp/base/.venv
    .venv/bin/python benchmarks/bench_growth.py --skip-delivery-only --baseline /tmp/base

Each side then runs in a child process of its own checkout (that checkout first on
`PYTHONPATH`, so the child and the experiment engine's workers import its `simulator`), and
the CPU of every process under the child (the main process, the fork server, the workers)
is sampled from /proc, as `bench_notebook_cells.py` does: per side, the wall time, the main
process's CPU, each worker's, and an **idle estimate** (the main process's CPU plus the
busiest worker's: what two free cores would take, the main process building the points
before the workers start). The tables of the two sides are compared byte for byte.

Prints, per sweep, the wall-clock time, the runs' own seconds (summed over the workers), the
slowest era at the largest size, and the load average before and after (the machine is
shared: a run's own seconds grow with the load). Tables go to `--out` as CSV.

It is a benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from simulator.experiments.eras import ERAS, ERAS_DIR
from simulator.experiments.growth import growth_sweep, one_world_growth, service_counts

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=4, help="service counts, log-spaced")
    parser.add_argument("--most", type=int, default=1000, help="the largest fleet")
    parser.add_argument("--horizon", default="3w", help="each run's horizon (warm-up 1w)")
    parser.add_argument("--jobs", type=int, default=2, help="local worker processes")
    parser.add_argument("--out", type=Path, default=Path("out/bench-growth"))
    parser.add_argument("--skip-delivery-only", action="store_true")
    parser.add_argument(
        "--same-as", type=Path, help="a folder of an earlier run's tables: say if these equal them"
    )
    parser.add_argument("--baseline", type=Path, help="a checkout to measure beside this one")
    parser.add_argument("--repeats", type=int, default=1, help="with --baseline: runs per side")
    args = parser.parse_args()
    if args.baseline is not None:
        side_by_side(args)
        return
    counts = service_counts(args.points, args.most)
    eras = [ERAS_DIR / f"{era}.yaml" for era in ERAS]
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{len(eras)} eras × {counts} services, {args.horizon} runs, {args.jobs} workers")
    print(f"load average {os.getloadavg()[0]:.1f} at the start")
    sweeps = {"one world": one_world_growth}
    if not args.skip_delivery_only:
        sweeps["delivery only"] = growth_sweep
    for name, sweep in sweeps.items():
        began = time.perf_counter()
        table = sweep(eras, counts, horizon=args.horizon, jobs=args.jobs)
        wall = time.perf_counter() - began
        table.to_csv(args.out / f"{name.replace(' ', '-')}.csv", index=False)
        inside = table.attrs.get("run_seconds")
        own = f", runs' own {inside:.0f} s" if inside is not None else ""
        print(f"  {name:13s} wall {wall:6.1f} s{own}; load {os.getloadavg()[0]:.1f}")
        if "seconds_each" in table.attrs:
            each = table.assign(seconds=table.attrs["seconds_each"])
            print(each.pivot(index="services", columns="era", values="seconds").round(1))
        if args.same_as is not None:
            print(f"  {name}: {_compared(args.out, args.same_as, name.replace(' ', '-') + '.csv')}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end; tables in {args.out}/")


def side_by_side(args: argparse.Namespace) -> None:
    """Both checkouts' sweeps, one after the other, in children of their own checkouts; the
    CPU of each side's processes and its tables compared."""
    from bench_notebook_cells import TreeCpu, load_average

    sides = [("baseline", args.baseline.resolve()), ("this", ROOT)]
    forwarded = [
        f"--points={args.points}",
        f"--most={args.most}",
        f"--horizon={args.horizon}",
        f"--jobs={args.jobs}",
    ]
    if args.skip_delivery_only:
        forwarded.append("--skip-delivery-only")
    outs: dict[str, list[Path]] = {side: [] for side, _ in sides}
    for repeat in range(args.repeats):
        for side, checkout in sides if repeat % 2 == 0 else sides[::-1]:
            out = (args.out / f"{side}-{repeat}").resolve()
            outs[side].append(out)
            environment = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONWARNINGS": "ignore"}
            command = [sys.executable, __file__, *forwarded, f"--out={out}"]
            cpu = TreeCpu()
            before, began = load_average(), time.perf_counter()
            child = subprocess.Popen(
                command, cwd=checkout, env=environment, stdout=subprocess.PIPE, text=True
            )
            cpu.root = child.pid
            printed, _ = child.communicate()
            wall = time.perf_counter() - began
            if child.returncode != 0:
                raise SystemExit(f"{side}: the sweep failed in {checkout}")
            used = cpu.snapshot()
            cpu.stop()
            main_cpu = used.pop(child.pid, 0.0)
            workers = sorted(used.values(), reverse=True)
            print(f"== {side} ({checkout}), repeat {repeat + 1}")
            print(printed.rstrip())
            print(
                f"  {side}: wall {wall:.1f} s; CPU main {main_cpu:.1f} s, others "
                f"{' + '.join(f'{w:.1f}' for w in workers if w >= 0.05)} s; idle estimate "
                f"{main_cpu + (workers[0] if workers else 0.0):.1f} s; load {before} -> "
                f"{load_average()}",
                flush=True,
            )
    for name in sorted(p.name for p in outs["this"][0].glob("*.csv")):
        tables = [out / name for side in outs for out in outs[side]]
        same = all(filecmp.cmp(tables[0], other, shallow=False) for other in tables[1:])
        print(f"{name}: {'identical byte for byte' if same else 'DIFFERENT'} on both sides")


def _compared(here: Path, there: Path, name: str) -> str:
    """Whether two runs' tables hold the same values (NaN equal to NaN), as read back from
    their CSV files (written with every digit of each float)."""
    if not (there / name).exists():
        return f"no {name} in {there} to compare with"
    ours, theirs = pd.read_csv(here / name), pd.read_csv(there / name)
    if list(ours.columns) != list(theirs.columns) or ours.shape != theirs.shape:
        return f"different columns or shape from {there / name}"
    differ = [c for c in ours.columns if not ours[c].equals(theirs[c])]
    return (
        f"values differ from {there / name} in {differ}"
        if differ
        else f"identical to {there / name}"
    )


if __name__ == "__main__":
    main()
