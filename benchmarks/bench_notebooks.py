"""Every notebook at full size, timed: issue 16's "every notebook at full size in at most 60 s".

Each notebook runs from top to bottom as a student runs it (papermill, its own parameters,
the `python3` kernel, matplotlib without a display), one after the other. The figure is what
the student waits once the notebook runs: from the first cell's start to the last cell's
end (papermill's own record of each cell, in the executed notebook's metadata). Beside it,
the kernel's start and its shutdown, in their own columns and not in the figure: a student
does not wait for the shutdown, which takes about 2 s after a notebook that started worker
processes (the kernel signals its children, the fork server among them, and sleeps between
rounds). Papermill writes no notebook here (`request_save_on_cell_execute=False`, no output
file): otherwise it writes the whole notebook at every cell's start and end (110 writes for
notebook 01), which a student's Jupyter does not do (it saves every two minutes, in the
server). Until session 14 this script timed the whole call, those writes and the kernel's
start and stop included: for notebook 01 about 4 s more than its cells on a quiet machine,
6 to 9 s at a load of 9 to 10 (docs/performance.md, "Session 14, helper `nb01`").
The load average at the start and end of each says how busy the machine was. For the CPU
each notebook uses (its workers included), cell by cell and beside a baseline checkout, use
`bench_notebook_cells.py`. A benchmark, not a test: it always exits 0 and prints whether
each notebook met the target.

    .venv/bin/python benchmarks/bench_notebooks.py            # every notebook
    .venv/bin/python benchmarks/bench_notebooks.py 00 09      # the ones whose names start so
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import papermill
from targets import record

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TARGET_S = 60.0


def run(path: Path) -> tuple[float, float, float]:
    """One notebook at full size: the seconds from its first cell's start to its last cell's
    end, and the seconds before (the kernel's start) and after (its shutdown)."""
    called = datetime.now(UTC)
    executed = papermill.execute_notebook(
        str(path),
        None,  # no output file, so no write of the notebook between its cells
        kernel_name="python3",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=False,
    )
    returned = datetime.now(UTC)
    times = [cell.metadata.papermill for cell in executed.cells]
    began = datetime.fromisoformat(times[0]["start_time"])
    ended = datetime.fromisoformat(times[-1]["end_time"])
    return (
        (ended - began).total_seconds(),
        (began - called).total_seconds(),
        (returned - ended).total_seconds(),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="notebooks whose names start with these")
    args = parser.parse_args()
    os.environ["MPLBACKEND"] = "Agg"  # the kernel inherits it, and this checkout first:
    os.environ["PYTHONPATH"] = os.pathsep.join(  # (the editable install may be another's)
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    print(
        f"{'notebook':<36}{'wait s':>8}{'kernel start':>14}{'stop':>6}{'load':>11}"
        f"  target (≤ {TARGET_S:.0f} s)"
    )
    met = 0
    for path in paths:
        before = os.getloadavg()[0]
        try:
            wait, start, stop = run(path)
        except papermill.PapermillExecutionError as error:
            print(f"{path.stem:<36}  FAILED: {error.ename}: {error.evalue}", flush=True)
            record(f"notebook.{path.stem}", None, f"failed: {error.ename}")
            continue
        load = f"{before:.1f}-{os.getloadavg()[0]:.1f}"
        verdict = "met" if wait <= TARGET_S else "NOT met"
        met += wait <= TARGET_S
        print(
            f"{path.stem:<36}{wait:>8.1f}{start:>14.1f}{stop:>6.1f}{load:>11}  {verdict}",
            flush=True,
        )
        record(
            f"notebook.{path.stem}",
            wait,
            f"first cell to last {wait:.1f} s; kernel start {start:.1f} s, stop {stop:.1f} s; "
            f"load {load}",
        )
    print(f"{met} of {len(paths)} notebooks within {TARGET_S:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
