"""`sresim --help`, `sresim validate` and `sresim chart --list` start without pandas,
matplotlib or scipy: a user checking a scenario in an editor loop, or looking for a chart's
name, should not wait for the data libraries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import MMC, ROOT

HEAVY = ("pandas", "matplotlib", "scipy")

PROBE = """
import contextlib, io, sys
from simulator.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        status = main({args!r})
    except SystemExit as stop:
        status = stop.code
print(status, *[m for m in {heavy!r} if m in sys.modules])
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["validate", str(MMC)],
        ["validate", "examples/web-shop"],
        ["chart", "--list"],
        ["chart", "--help"],
    ],
)
def test_help_validate_and_chart_list_do_not_import_the_data_libraries(args):
    code = PROBE.format(args=args, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    status, *loaded = done.stdout.split()
    assert status == "0"
    assert loaded == []


def test_the_probe_would_see_them():  # the check above can fail: a run loads pandas
    code = PROBE.format(
        args=["run", str(MMC), "--set", "horizon=200s", "--set", "warmup=10s"], heavy=HEAVY
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pandas" in done.stdout.split()


ANALYTIC = ["run", str(MMC), "--set", "fidelity=analytic", "--set", "horizon=2h"]


@pytest.mark.parametrize("output", [[], ["--format", "json"]])
def test_an_analytic_run_that_writes_no_tables_does_not_import_pandas(output):
    """`sresim run` without --out reads no table: an analytic run builds none, so pandas
    (some 0.25 s of an sre-1000 run) is not imported; nor is scipy.special's package (its
    ufuncs are loaded alone: `simulator.analytic.special`) or networkx."""
    heavy = ("pandas", "matplotlib", "networkx", "scipy.special", "numpy.f2py")
    code = PROBE.format(args=[*ANALYTIC, *output], heavy=heavy)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    status, *loaded = done.stdout.split()
    assert status == "0"
    assert loaded == []


def test_an_analytic_run_that_writes_tables_imports_pandas(tmp_path):  # the check can fail
    code = PROBE.format(
        args=[*ANALYTIC, "--out", str(tmp_path / "out"), "--no-charts"], heavy=HEAVY
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pandas" in done.stdout.split()
    assert (tmp_path / "out" / "entry_points.parquet").exists()


MODELS = ("simulator.model.delivery", "simulator.model.monitoring", "simulator.model.scheduling")


@pytest.mark.parametrize(
    ("more", "loaded"),
    [
        ([], []),
        (
            ["--set", "monitoring.enabled=true"],
            ["simulator.model.delivery", "simulator.model.monitoring"],
        ),
    ],
)
def test_a_run_imports_only_the_subsystem_models_its_scenario_switches_on(more, loaded):
    """The registry's specs import their models where they build them: an analytic run
    without delivery, monitoring or a scheduler loads none of them (some 30 ms of an
    sre-1000 run); with monitoring on, its model (which reads delivery's: the check can fail)."""
    code = PROBE.format(args=[*ANALYTIC, *more], heavy=MODELS)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    status, *found = done.stdout.split()
    assert status == "0"
    assert found == loaded


@pytest.mark.parametrize("before", [True, False])
def test_the_scenario_package_leaves_the_collector_as_it_found_it(before):
    """`simulator.scenario` is imported with the collector paused (its models' schemas
    make many objects and free none); it is on again afterwards, unless it was off."""
    code = (
        f"import gc\nif not {before}: gc.disable()\n"
        "import simulator.scenario\nprint(gc.isenabled())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(before)]
