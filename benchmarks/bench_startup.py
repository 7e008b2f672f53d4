"""Startup: what `sresim --help` and `sresim validate` import, and how long they take.

    .venv/bin/python benchmarks/bench_startup.py               # a few seconds
    .venv/bin/python benchmarks/bench_startup.py --repeats 1

Issue 16, point 6: a user checking a scenario in an editor loop should not wait for the data
libraries, so `sresim --help` and `sresim validate` must import neither pandas nor matplotlib
(scipy is reported too). Each command runs `--repeats` times in a fresh process from an
empty folder, with `python -X importtime -m simulator ...` (`bench_chart_list.once`); the
report gives the median wall and CPU time, the import time Python reports and the heavy
libraries any run loaded. tests/interface/test_startup.py checks the same imports in the
test suite; this is the figure `make bench` shows. A benchmark: it always exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from bench_chart_list import once
from targets import record

ROOT = Path(__file__).resolve().parents[1]
TARGETED = ("pandas", "matplotlib")
COMMANDS = {
    "startup.help": ("--help", ["--help"]),
    "startup.validate": (
        "validate validation/mmc.yaml",
        ["validate", str(ROOT / "scenarios" / "validation" / "mmc.yaml")],
    ),
    "startup.validate-shipped": ("validate examples/web-shop", ["validate", "examples/web-shop"]),
}
"""The commands timed (as shown, and their arguments), by the key of their figure (`validate`
on a file and on a shipped name; the table's `startup.validate` row counts both)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; medians of {args.repeats} fresh processes")
    print(f"{'command':<38}{'wall s':>8}{'CPU s':>7}{'imports s':>11}  heavy libraries loaded")
    loaded: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for key, (shown, arguments) in COMMANDS.items():
            runs = [once(ROOT, folder, arguments) for _ in range(args.repeats)]
            wall, cpu, imports = (statistics.median(r[i] for r in runs) for i in range(3))
            heavy = sorted({name for r in runs for name in r[3]})
            loaded[key] = set(heavy)
            print(f"{'sresim ' + shown:<38}{wall:>8.2f}{cpu:>7.2f}{imports:>11.2f}  "
                  f"{', '.join(heavy) or 'none'}")  # fmt: skip
    validate = loaded["startup.validate"] | loaded.pop("startup.validate-shipped")
    for key, heavy in (("startup.help", loaded["startup.help"]), ("startup.validate", validate)):
        targeted = sorted(heavy & set(TARGETED))
        verdict = "met" if not targeted else "NOT met"
        command = "--help" if key == "startup.help" else "validate"
        print(f"target: sresim {command} imports neither pandas nor matplotlib: {verdict}")
        record(key, len(targeted), ", ".join(sorted(heavy)) or "nothing heavy loaded")


if __name__ == "__main__":
    main()
