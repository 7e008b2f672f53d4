"""numba (the scheduler model's compiled kernels) is imported only when a scheduling model is
built: `sresim --help` and `sresim validate`, even of a scenario with a scheduler, and runs
without one do not pay its fifth of a second."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import MMC, ROOT, SCENARIOS

OMEGA = SCENARIOS / "omega" / "example.yaml"

PROBE = """
import contextlib, io, sys
from simulator.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        status = main({args!r})
    except SystemExit as stop:
        status = stop.code
print(status, "numba" in sys.modules)
"""


def _probe(args: list[str]) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    status, loaded = done.stdout.split()[-2:]
    return status, loaded


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["validate", str(OMEGA)],
        ["run", str(MMC), "--set", "horizon=200s", "--set", "warmup=10s"],
    ],
)
def test_help_validate_and_runs_without_a_scheduler_do_not_import_numba(args):
    assert _probe(args) == ("0", "False")


def test_the_probe_would_see_it():  # the check above can fail: a scheduling run loads numba
    args = ["run", str(OMEGA), "--set", "horizon=60s", "--set", "cluster.nodes=50"]
    assert _probe(args) == ("0", "True")
