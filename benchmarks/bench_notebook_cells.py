"""Full-size notebooks cell by cell, side by side with a baseline checkout, workers included.

    .venv/bin/python benchmarks/bench_notebook_cells.py 00 09            # this checkout only
    git worktree add /tmp/base HEAD                                      # the notebooks before
    .venv/bin/python benchmarks/bench_notebook_cells.py --baseline /tmp/base 00 01 02 09

Target (issue 16, point 5): every notebook at full size in at most 60 s on the 2-core machine.
`bench_notebooks.py` times every notebook of this checkout as a student runs it; this one is
for a change to a notebook's speed: both sides in the same session, the CPU of the experiment
engine's workers counted, and the cells that take the time named. Both report the same wall
time, the cells' (here their sum; there from the first cell's start to the last's end,
papermill's record), without the kernel's start and shutdown (since session 14: before, the
other counted those and papermill's writes of the notebook at every cell, about 4 s more for
notebook 01 on a quiet machine). This one's short pauses between cells (its CPU samples)
are not counted either, which lets a background process (the fork server's start) gain a
little.

Each notebook runs from top to bottom at its full size (no parameters injected), in a fresh
kernel started by a child process of the checkout being measured: the child puts that
checkout first on `PYTHONPATH`, so the kernel and the experiment engine's workers import its
`simulator` (the editable install would otherwise import the main checkout's), and runs the
notebook from its `notebooks/` folder with `MPLBACKEND=Agg`. It times the cells (not the
kernel's start) and samples, every 0.1 s, the CPU time of every process under the kernel
(the kernel, the fork server and the workers, which `RUSAGE_CHILDREN` misses: nobody reaps
the fork server), so the CPU is what the notebook used whatever the neighbours did. On a
shared machine the wall time depends on the load, so the report also gives an **idle
estimate**: per cell, the kernel's CPU plus the busiest other process's (two idle cores run
the two workers at once while the kernel waits), summed over the cells. The load average is
printed before and after each run; `--keep DIR` writes the executed notebooks, to check that
both sides print the same numbers; `--cells` prints every cell's wall time, CPU, kernel CPU
and idle estimate. The sides alternate from one repeat to the next. A
benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 60.0
TICK_S = 0.1


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class TreeCpu:
    """CPU seconds of a process and its descendants, sampled from /proc (last value per pid:
    a process that ends loses at most one tick)."""

    def __init__(self) -> None:
        self.root: int | None = None
        self.seconds: dict[int, float] = {}
        self._stop = threading.Event()
        self._clock = os.sysconf("SC_CLK_TCK")
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _tree(self, pid: int) -> list[int]:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return [pid]
        return [pid, *(p for child in children for p in self._tree(int(child)))]

    def _poll(self) -> None:
        while not self._stop.is_set():
            if self.root is not None:
                for pid in self._tree(self.root):
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.seconds[pid] = (int(fields[11]) + int(fields[12])) / self._clock
            self._stop.wait(TICK_S)

    def snapshot(self) -> dict[int, float]:
        time.sleep(1.5 * TICK_S)  # one more sample after the cell
        return dict(self.seconds)

    def stop(self) -> None:
        self._stop.set()


def child(notebook: Path, keep: Path | None) -> dict[str, Any]:
    """Run one notebook at full size here (a child of the checkout) and measure it; with
    `keep`, write the executed notebook there (to compare the two sides' outputs)."""
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        book,
        timeout=3600,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    cpu = TreeCpu()
    cells = []
    load_before = load_average()
    with client.setup_kernel():
        cpu.root = client.km.provisioner.process.pid
        began = time.perf_counter()
        after = cpu.snapshot()
        for index, cell in enumerate(book.cells):
            before, start = after, time.perf_counter()
            client.execute_cell(cell, index)
            wall = time.perf_counter() - start
            after = cpu.snapshot()
            used = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
            kernel = used.pop(cpu.root, 0.0)
            busiest = max(used.values(), default=0.0)
            cells.append(
                {
                    "cell": index,
                    "wall": wall,
                    "cpu": kernel + sum(used.values()),
                    "kernel": kernel,
                    "idle": kernel + busiest,
                }
            )
        total = time.perf_counter() - began
    cpu.stop()
    if keep is not None:
        nbformat.write(book, keep)
    return {
        "notebook": notebook.name,
        "wall": sum(c["wall"] for c in cells),
        "wall_with_snapshots": total,
        "cpu": sum(c["cpu"] for c in cells),
        "idle": sum(c["idle"] for c in cells),
        "cells": cells,
        "load_before": load_before,
        "load_after": load_average(),
        "at": time.strftime("%H:%M:%S", time.gmtime()),
    }


def measure(checkout: Path, key: str, keep: Path | None) -> dict[str, Any]:
    (notebook,) = (checkout / "notebooks").glob(f"{key}-*.ipynb")
    environment = {
        **os.environ,
        "PYTHONPATH": str(checkout),
        "MPLBACKEND": "Agg",
        "PYTHONWARNINGS": "ignore",
    }
    command = [sys.executable, __file__, "--child", str(notebook)]
    if keep is not None:
        command += ["--keep", str(keep)]
    done = subprocess.run(
        command,
        cwd=notebook.parent,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout} {notebook.name} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def report(side: str, run: dict[str, Any], every_cell: bool = False) -> None:
    heavy = sorted(run["cells"], key=lambda c: -c["cpu"])[:4]
    cells = ", ".join(f"{c['cell']}: {c['cpu']:.1f}" for c in heavy)
    met = "met" if run["idle"] <= TARGET_S else "missed"
    print(
        f"{run['notebook']:<34} {side:<8} wall {run['wall']:6.1f} s  CPU {run['cpu']:6.1f} s  "
        f"idle estimate {run['idle']:6.1f} s ({met})  load {run['load_before']} -> "
        f"{run['load_after']}  at {run['at']} UTC  [CPU s of the heaviest cells: {cells}]",
        flush=True,
    )
    if every_cell:
        for c in run["cells"]:
            if c["cpu"] >= 0.05 or c["wall"] >= 0.05:
                print(
                    f"    cell {c['cell']:3d}: wall {c['wall']:6.2f} s  CPU {c['cpu']:6.2f} s  "
                    f"kernel {c.get('kernel', 0.0):6.2f} s  idle estimate {c['idle']:6.2f} s",
                    flush=True,
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=["00", "01", "02", "09"])
    parser.add_argument("--baseline", type=Path, help="a checkout to measure beside this one")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="a folder for the executed notebooks")
    parser.add_argument("--cells", action="store_true", help="print every cell's figures")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child.resolve(), args.keep)))
        return
    sides = [("this", ROOT)]
    if args.baseline is not None:
        sides.insert(0, ("baseline", args.baseline.resolve()))
    print(f"target: at most {TARGET_S:g} s at full size on 2 cores; load now {load_average()}")
    for repeat in range(args.repeats):
        for key in args.notebooks:
            order = sides if repeat % 2 == 0 else sides[::-1]
            for side, checkout in order:
                keep = None
                if args.keep is not None:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    keep = args.keep.resolve() / f"{side}-{key}-{repeat}.ipynb"
                report(side, measure(checkout, key, keep), args.cells)


if __name__ == "__main__":
    main()
