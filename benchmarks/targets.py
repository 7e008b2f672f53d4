"""Every target `make bench` checks, as data, and the one table that says where each stands.

    BENCH_RESULTS=out/bench-results.jsonl .venv/bin/python benchmarks/bench_chain.py --repeats 1
    .venv/bin/python benchmarks/targets.py out/bench-results.jsonl

When the environment variable BENCH_RESULTS names a file, each benchmark appends its headline
figures to it, one JSON object per line (`record`): the figure's key (`mmc.general`,
`notebook.03-schedulers`, ...), its value in the target's unit (or null, with a note saying
why there is none), a note, the script, the time and the one-minute load average. `make bench`
empties the file, runs the benchmarks and then this script, which prints one row per target
(`TARGETS`, and one per notebook): the figure, the bound, whether it is met, and the load when
it was measured. A target with no figure is "not measured", never met; when a key was recorded
more than once, the last figure counts.

The bounds are the scripts' own (each script still prints its verdict beside its figures);
issue 16's targets come first, then issue 12's sweep and issue 13's one world.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_ENV = "BENCH_RESULTS"
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_S = 60.0
ARCH = ("monolithic-single-path", "monolithic-multi-path", "two-level", "shared-state")


@dataclass(frozen=True)
class Target:
    """A figure `key` that must be `op` (`>=`, `<=`, `<`) `bound`, in `unit`."""

    issue: int
    key: str
    what: str
    op: str
    bound: float
    unit: str
    script: str


X16 = "16× batch rate, shared-state, {} batch sched. (CPU)"
"""Notebook 03's runs at 16× the batch rate, with 1, 2 and 4 batch schedulers."""

BY_SCRIPT: dict[str, list[tuple[int, str, str, str, float, str]]] = {
    "bench_mmc.py": [
        (16, "mmc.general", "general path / bare SimPy, M/M/4 (CPU)", ">=", 1.6, "×"),
        (16, "mmc.fast", "fast path / bare SimPy, M/M/4 (CPU)", ">=", 5.0, "×"),
        (16, "mmc.memory", "1 M recorded requests, peak RSS", "<=", 300.0, "MB"),
    ],
    "bench_chain.py": [
        (16, "chain.hop", "a call hop / a bare SimPy hop (CPU)", "<=", 0.8, "×"),
    ],
    "bench_omega.py": [
        *((16, f"omega.example.{a}", f"Omega example, {a} (CPU)", "<=", 1.5, "s") for a in ARCH),
        *((16, f"omega.x16.{n}", X16.format(n), "<", 10.0, "s") for n in (1, 2, 4)),
    ],
    "bench_analytic.py": [
        (16, "analytic.sre1000.cpu", "sre-1000 as shipped, sresim run (CPU)", "<", 3.0, "s"),
        (16, "analytic.sre1000.wall", "sre-1000 as shipped, sresim run (wall)", "<", 3.0, "s"),
    ],
    "bench_analytic.py --fleet": [
        (16, "analytic.fleet.cpu", "10,000 services × 365 d (CPU)", "<", 60.0, "s"),
        (16, "analytic.fleet.peak", "10,000 services × 365 d, peak RSS", "<", 1024.0, "MiB"),
    ],
    "bench_startup.py": [
        (16, "startup.help", "sresim --help: pandas, matplotlib loaded", "<=", 0, "modules"),
        (16, "startup.validate", "sresim validate: pandas, matplotlib loaded", "<=", 0, "modules"),
    ],
    "bench_sweep.py": [
        (12, "sweep.local", "sweep speed-up, 2 local workers", ">=", 1.7, "×"),
        (12, "sweep.dask", "sweep speed-up, local Dask cluster of 2", ">=", 1.7, "×"),
    ],
    "bench_one_world.py": [
        (13, "one_world.eras", "the three eras, 8 weeks, summed (CPU)", "<=", 55.0, "s"),
        (13, "one_world.fleet.cpu", "1,000-service SRE fleet, 30 d (CPU)", "<", 60.0, "s"),
        (13, "one_world.fleet.peak", "1,000-service SRE fleet, peak RSS", "<", 1024.0, "MiB"),
    ],
}
"""Every target but the notebooks' (`notebook_targets`), by the script that measures it:
(issue, key, what, op, bound, unit)."""

TARGETS: tuple[Target, ...] = tuple(
    Target(*fields, script=script) for script, found in BY_SCRIPT.items() for fields in found
)


def notebook_targets(names: Iterable[str]) -> tuple[Target, ...]:
    """Issue 16's 'every notebook at full size in at most 60 s', one target per notebook."""
    what = "notebook {}, full size (wall, first cell to last)"
    return tuple(
        Target(16, f"notebook.{n}", what.format(n), "<=", NOTEBOOK_S, "s", "bench_notebooks.py")
        for n in names
    )


def all_targets(notebooks: Path = ROOT / "notebooks") -> tuple[Target, ...]:
    """TARGETS and one target per course notebook, issue 16's first (notebooks last of them),
    then issue 12's and 13's."""
    found = notebook_targets(sorted(p.stem for p in notebooks.glob("*.ipynb")))
    issue16 = tuple(t for t in TARGETS if t.issue == 16)
    return (*issue16, *found, *(t for t in TARGETS if t.issue != 16))


# ------------------------------------------------------------------------------ writing


def record(key: str, value: float | None, note: str = "") -> None:
    """Append one figure to the file named by BENCH_RESULTS (nothing when it is unset).

    `value` is in the unit of the target with this key; None (with a note saying why) when
    there is no figure, which the table shows as not measured."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    line = {
        "key": key,
        "value": value,
        "note": note,
        "script": Path(sys.argv[0]).name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load": round(os.getloadavg()[0], 2),
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def read_results(lines: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The figures of a results file's lines by key, the last of a key counting."""
    found: dict[str, dict[str, Any]] = {}
    for text in lines:
        if text.strip():
            entry = json.loads(text)
            found[entry["key"]] = entry
    return found


# ------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Row:
    issue: int
    what: str
    measured: str
    target: str
    verdict: str
    load: str
    note: str


MET, MISSED, NOT_MEASURED = "met", "NOT met", "not measured"

COMPARE = {">=": lambda v, b: v >= b, "<=": lambda v, b: v <= b, "<": lambda v, b: v < b}
SHOWN_OP = {">=": "≥", "<=": "≤", "<": "<"}


def _number(value: float, unit: str) -> str:
    """A measured figure: ratios and seconds to two decimals, memory to the unit."""
    if unit == "×":
        return f"{value:.2f}×"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "modules":
        return "none" if value == 0 else f"{value:g}"
    return f"{value:,.0f} {unit}"


def _bound(target: Target) -> str:
    """A target's bound as the issue states it (`≥ 1.6×`, `< 10 s`)."""
    unit = {"×": "×", "modules": ""}.get(target.unit, f" {target.unit}")
    return f"{SHOWN_OP[target.op]} {target.bound:,g}{unit}"


def _figure(value: object) -> float | None:
    """A result's value as a number, or None when there is none (missing, null, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def rows(targets: Iterable[Target], results: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """One row per target: its figure from `results` (by key), and whether it meets the
    bound. No figure (no result, a null value or NaN) is "not measured", never met."""
    table = []
    for target in targets:
        bound = _bound(target)
        result = results.get(target.key, {})
        value = _figure(result.get("value"))
        note = str(result.get("note", ""))
        load = result.get("load")
        load_text = f"{load:.1f}" if isinstance(load, int | float) else ""
        if value is None:
            measured, verdict = "-", NOT_MEASURED
        else:
            measured = _number(value, target.unit)
            verdict = MET if COMPARE[target.op](value, target.bound) else MISSED
        if not result:
            note = f"run {target.script}"
        table.append(Row(target.issue, target.what, measured, bound, verdict, load_text, note))
    return table


def render(table: list[Row], source: str = "") -> str:
    """The rows as a plain-text table with a count of each verdict below."""
    header = ("issue", "target", "measured", "bound", "verdict", "load", "note")
    cells = [header] + [
        (str(r.issue), r.what, r.measured, r.target, r.verdict, r.load, r.note) for r in table
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = []
    for k, row in enumerate(cells):
        text = "  ".join(
            cell.rjust(width) if i in (2, 5) else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        )
        lines.append(f"{text}  {row[-1]}".rstrip())
        if k == 0:
            lines.append("-" * len(lines[0]))
    counts = {v: sum(r.verdict == v for r in table) for v in (MET, MISSED, NOT_MEASURED)}
    title = "Where the targets stand" + (f" ({source})" if source else "")
    summary = (
        f"{counts[MET]} of {len(table)} targets met, {counts[MISSED]} not met, "
        f"{counts[NOT_MEASURED]} not measured"
    )
    return "\n".join([title, "", *lines, "", summary])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(os.environ.get(RESULTS_ENV, "bench-results.jsonl"))
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    print(render(rows(all_targets(), read_results(lines)), str(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
