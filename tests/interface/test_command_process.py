"""The `sresim` command's own process keeps numpy's large arrays on ordinary pages
(`simulator.__main__.own_process`), unless the user chose otherwise; checked in fresh
interpreters, since numpy reads the setting once, at its import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

CODE = """
import sys
from simulator.__main__ import entry
sys.argv = ["sresim", "--help"]
try:
    entry()
except SystemExit:
    pass
from numpy._core import multiarray
print("hugepages", multiarray._get_madvise_hugepage())
"""


def _hugepages(environment: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    done = subprocess.run(
        [sys.executable, "-c", CODE],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT), **environment},
        cwd=ROOT,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="numpy's madvise is Linux's")
def test_the_command_keeps_arrays_on_ordinary_pages_unless_told():
    assert _hugepages({}) == "hugepages False"
    assert _hugepages({"NUMPY_MADVISE_HUGEPAGE": "1"}) == "hugepages True"
