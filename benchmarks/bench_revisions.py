"""Two revisions of the package side by side, on the same workloads, in one run.

A refactor must not make the simulator slower. This runs each workload in a fresh child
process against the package of this checkout and against another checkout (for example
`git worktree add /tmp/old <commit>`), alternating the order from one repeat to the next,
and compares the children's CPU time (user + system), which a busy neighbour disturbs far
less than wall time.

    .venv/bin/python benchmarks/bench_revisions.py --baseline /tmp/old [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

WORKLOADS: dict[str, str] = {
    "M/M/4, 60,000 s (request level)": (
        "import simulator; simulator.run('scenarios/validation/mmc.yaml')"
    ),
    "chain of 5 services, 1 h": (
        "import simulator; simulator.run('scenarios/what-if/honeymoon-microservices.yaml',"
        " overrides={'horizon': '1h'})"
    ),
    "Omega example, shared-state, 6 h": (
        "import simulator; simulator.run('scenarios/omega/shared-state.yaml',"
        " overrides={'horizon': '6h'})"
    ),
    "sre-1000, analytic, 30 d": "import simulator; simulator.run('scenarios/scale/sre-1000.yaml')",
    "eras: SRE preset, analytic with delivery, 8 weeks": (
        "import simulator; simulator.run('scenarios/eras/sre.yaml')"
    ),
}


def cpu_seconds(package_root: Path, code: str) -> float:
    """CPU time of one child that runs `code` in `package_root` with that checkout's package
    (and scenarios)."""
    env = {**os.environ, "PYTHONPATH": str(package_root), "MPLBACKEND": "Agg"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], cwd=package_root, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sides = {"this": HERE, "baseline": args.baseline.resolve()}
    print(f"{'workload':<52} {'baseline s':>10} {'this s':>8} {'ratio':>6}")
    for name, code in WORKLOADS.items():
        times: dict[str, list[float]] = {side: [] for side in sides}
        for repeat in range(args.repeats):
            order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
            for side in order:
                times[side].append(cpu_seconds(sides[side], code))
        base, this = (statistics.median(times[s]) for s in ("baseline", "this"))
        print(f"{name:<52} {base:>10.2f} {this:>8.2f} {this / base:>6.2f}", flush=True)
    print("ratio = this checkout's median CPU time / the baseline's (below 1: faster)")


if __name__ == "__main__":
    main()
