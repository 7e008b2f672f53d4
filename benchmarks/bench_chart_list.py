"""`sresim chart --list` against another revision: wall time, CPU time and what it imports.

A presenter looking for a chart's name should not wait for matplotlib and pandas. This runs
`python -m simulator chart --list` in fresh child processes against this checkout and
another (`git worktree add /tmp/old <commit>`), alternating the order, and reports the
median wall and CPU time (user + system) of the children, the import time Python reports
(`-X importtime`, the top-level imports summed) and which of the data libraries were loaded.

    .venv/bin/python benchmarks/bench_chart_list.py --baseline /tmp/old [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
HEAVY = ("matplotlib", "pandas", "scipy")


def once(
    checkout: Path, folder: str, arguments: Sequence[str] = ("chart", "--list")
) -> tuple[float, float, float, list[str]]:
    """Wall s, CPU s, import s and the heavy libraries imported by one `sresim ARGUMENTS`
    (`chart --list`), run in an empty `folder` (`-m` puts the working folder first on the
    path)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    command = [sys.executable, "-X", "importtime", "-m", "simulator", *arguments]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    imports, heavy = 0.0, []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if not cumulative.strip().isdigit():  # the header line
            continue
        if not name.startswith("  "):  # top level: one space; nested ones are indented
            imports += int(cumulative) / 1e6
        if name.strip() in HEAVY:  # at any depth: a module is imported once
            heavy.append(name.strip())
    return wall, cpu, imports, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    sides = {"baseline": args.baseline.resolve(), "this checkout": HERE}
    found: dict[str, list[tuple[float, float, float, list[str]]]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
            for side in order:
                found[side].append(once(sides[side], folder))
    print(f"load average {os.getloadavg()[0]:.2f}; medians of {args.repeats}")
    print("| revision | wall (s) | CPU (s) | imports (s) | heavy libraries imported |")
    print("|---|---|---|---|---|")
    for side, rows in found.items():
        wall, cpu, imports = (statistics.median(r[i] for r in rows) for i in range(3))
        heavy = ", ".join(sorted({name for r in rows for name in r[3]})) or "none"
        print(f"| {side} | {wall:.2f} | {cpu:.2f} | {imports:.2f} | {heavy} |")


if __name__ == "__main__":
    main()
