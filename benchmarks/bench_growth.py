"""The growth experiment's cost: the one-world sweep (every era running N served services,
`one_world_growth`) beside the delivery-only sweep it replaces (`growth_sweep`), same eras,
sizes, horizon and workers, in one process.

    .venv/bin/python benchmarks/bench_growth.py                         # 1, 10, 100, 1,000; 3w
    .venv/bin/python benchmarks/bench_growth.py --points 6 --horizon 6w  # the issue's full sweep
    .venv/bin/python benchmarks/bench_growth.py --most 100 --horizon 3w  # a small one
    .venv/bin/python benchmarks/bench_growth.py --same-as /tmp/base/out/bench-growth  # vs a tree

Run it in a worktree of the code before a change first, then in this tree with `--same-as`
that run's `--out`: a speed-up must leave the tables as they were, value for value.

Prints, per sweep, the wall-clock time, the runs' own seconds (summed over the workers), the
slowest era at the largest size, and the load average before and after (the machine is
shared: a run's own seconds grow with the load). Tables go to `--out` as CSV.

It is a benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from simulator.experiments.eras import ERAS, ERAS_DIR
from simulator.experiments.growth import growth_sweep, one_world_growth, service_counts


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
    args = parser.parse_args()
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
