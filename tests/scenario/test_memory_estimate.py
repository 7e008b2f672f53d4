"""The budget's memory estimate against the peak resident memory of `sresim run` in a fresh
interpreter (VmHWM, the interpreter and its libraries included): an upper bound, and not a
loose one (within 1.5×), for runs without tables (no --out), with their tables written and
with charts, at both fidelities. Small runs, so the fixed part (the interpreter, numpy,
pandas, matplotlib) weighs most here; docs/performance.md ("Session 15, helper `anmem`")
has the large fleets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import simulator
from simulator.budget import estimate
from simulator.scenario.loader import load_scenario
from tests.helpers import MMC

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="peak RSS read from /proc (Linux)"
)

CHILD = """
import contextlib, io, json, sys
from simulator.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["run", *sys.argv[1:]])
status = open("/proc/self/status").read()
print(json.dumps({"code": code, "peak": int(status.split("VmHWM:")[1].split()[0]) * 1024}))
"""

ANALYTIC = {
    "name": "two-services",
    "fidelity": "analytic",
    "horizon": "2d",
    "warmup": "1h",
    "services": {
        "a": {"replicas": 3, "handler": [{"work": "20ms"}, {"call": "b"}]},
        "b": {"replicas": 2},
    },
    "traffic": {"a": {"rate": 20, "profile": {"profile": "diurnal", "trough_ratio": 0.3}}},
}
CALLS = {
    "name": "three-services",
    "horizon": "3000s",
    "services": {
        "a": {"replicas": 4, "handler": [{"call": "b"}, {"call": "c"}]},
        "b": {"replicas": 4},
        "c": {"replicas": 4},
    },
    "traffic": {"a": {"rate": 20}},
}


def peak_rss(path: Path, *arguments: str) -> float:
    """`sresim run PATH ARGUMENTS` in a fresh interpreter: its peak resident memory."""
    root = Path(simulator.__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), *arguments],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "MPLBACKEND": "Agg"},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["code"] == 0
    return float(found["peak"])


@pytest.mark.parametrize(
    ("source", "out", "charts"),
    [
        (ANALYTIC, False, False),  # `sresim run` without --out: no table built
        (ANALYTIC, True, False),  # its tables written
        (ANALYTIC, True, True),  # and its charts drawn
        (CALLS, False, False),  # request level, calls: the general engine
        (MMC, False, False),  # request level, the M/M/c fast path (72,000 requests)
    ],
    ids=["analytic", "analytic-tables", "analytic-charts", "calls", "mmc"],
)
def test_the_estimate_bounds_a_runs_peak_memory_closely(tmp_path, source, out, charts):
    path = source if isinstance(source, Path) else tmp_path / "scenario.yaml"
    if isinstance(source, dict):
        path.write_text(yaml.safe_dump(source))
    arguments = ["--out", str(tmp_path / "out")] if out else []
    if out and not charts:
        arguments.append("--no-charts")
    if source is MMC:
        arguments += ["--set", "horizon=20000s"]
    measured = peak_rss(path, *arguments)
    scenario = load_scenario(path, [a for a in arguments if a.startswith("horizon=")])
    predicted = estimate(scenario, tables=None if out else (), charts=charts).memory
    ratio = predicted / measured
    print(f"{path.name} {arguments}: peak {measured / 2**20:.0f} MiB, estimate / peak {ratio:.2f}")
    assert 1.0 <= ratio <= 1.5


def test_the_estimate_follows_the_tables_asked_for():
    """An analytic run builds its per-step tables only when one of them is asked for
    (they are built together): without them neither their rows nor pandas are counted,
    and a run refused with every table fits without. A request-level run builds its
    tables whatever is asked."""
    from simulator.budget import check_budget
    from simulator.errors import BudgetError
    from simulator.scenario.limits import Limits

    scenario = load_scenario({**ANALYTIC, "horizon": "365d"})
    memory = {
        str(tables): estimate(scenario, tables=tables).memory
        for tables in [(), ("scaling",), ("timeseries",), None]
    }
    assert memory["()"] < memory["('scaling',)"] < memory["('timeseries',)"] == memory["None"]
    charted = estimate(scenario, charts=True).memory
    assert charted > memory["None"]
    limits = Limits(max_memory=(memory["()"] + memory["None"]) / 2)
    with pytest.raises(BudgetError, match="of memory for one run"):
        check_budget(scenario, limits)
    assert check_budget(scenario, limits, tables=()).memory == memory["()"]
    request = load_scenario(MMC)
    assert estimate(request, tables=()).memory == estimate(request).memory


def test_validate_shows_the_memory_without_and_with_the_tables(tmp_path, capsys):
    """`validate` checks the run `sresim run` does without --out, and shows what --out's
    tables and charts would take beside it."""
    from simulator.cli import main

    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({**ANALYTIC, "horizon": "365d"}))
    assert main(["validate", str(path)]) == 0
    line = capsys.readouterr().out
    assert "MB of memory (~" in line and "MB with --out's tables and charts)" in line
