"""`make test` runs on two workers with `--dist loadgroup`: the website's tests share one
build only if xdist keeps their group on one worker. When it does not (pytest 9.2 with
xdist 3.8, pytest-dev/pytest-xdist#1386), nothing fails: one worker waits minutes on the
build lock while the other builds. This runs a two-worker session on a throwaway module and
checks where its tests ran."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GROUPED = """
import os
import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.mark.parametrize("n", range(6))
def test_grouped(n):
    print("RAN-ON", os.environ["PYTEST_XDIST_WORKER"])
"""


def test_a_group_runs_on_one_worker(tmp_path: Path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_loose.py").write_text("def test_loose():\n    pass\n")
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-rA", "-q"]
    done = subprocess.run(
        [*command, "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    workers = {line.split()[-1] for line in done.stdout.splitlines() if "RAN-ON" in line}
    assert len(workers) == 1, f"the group ran on {sorted(workers)}:\n{done.stdout[-2000:]}"
