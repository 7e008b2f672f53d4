"""Every notebook at full size, timed: issue 16's "every notebook at full size in at most 60 s".

Each notebook runs from top to bottom as a student runs it (papermill, its own parameters,
the `python3` kernel, matplotlib without a display), one after the other, timed by the wall
clock: what the student waits. The load average at the start and end of each says how busy
the machine was. For the CPU each notebook uses (its workers included), cell by cell and
beside a baseline checkout, use `bench_notebook_cells.py`. A benchmark, not a test: it
always exits 0 and prints whether each notebook met the target.

    .venv/bin/python benchmarks/bench_notebooks.py            # every notebook
    .venv/bin/python benchmarks/bench_notebooks.py 00 09      # the ones whose names start so
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import papermill
from targets import record

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TARGET_S = 60.0


def run(path: Path, out: Path) -> float:
    """One notebook at full size: its wall seconds."""
    wall = time.perf_counter()
    papermill.execute_notebook(
        str(path),
        str(out / path.name),
        kernel_name="python3",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        log_output=False,
    )
    return time.perf_counter() - wall


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
    print(f"{'notebook':<40}{'wall s':>8}{'load':>11}  target (≤ {TARGET_S:.0f} s)")
    met = 0
    with tempfile.TemporaryDirectory() as scratch:
        for path in paths:
            before = os.getloadavg()[0]
            try:
                wall = run(path, Path(scratch))
            except papermill.PapermillExecutionError as error:
                print(f"{path.stem:<40}  FAILED: {error.ename}: {error.evalue}", flush=True)
                record(f"notebook.{path.stem}", None, f"failed: {error.ename}")
                continue
            load = f"{before:.1f}-{os.getloadavg()[0]:.1f}"
            verdict = "met" if wall <= TARGET_S else "NOT met"
            met += wall <= TARGET_S
            print(f"{path.stem:<40}{wall:>8.1f}{load:>11}  {verdict}", flush=True)
            record(f"notebook.{path.stem}", wall, f"load {load} over the run")
    print(f"{met} of {len(paths)} notebooks within {TARGET_S:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
