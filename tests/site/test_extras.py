"""The course's optional extra resolves: `make lab` can install it."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import ROOT


def test_lab_extra_resolves():
    """pip resolves the lab extra against the package index without installing anything (the
    site extra is installed by `make test` itself, and the site's build test uses it)."""
    extra, wanted = "lab", {"jupyterlab", "ipywidgets", "ipykernel"}
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-"]
    done = subprocess.run(
        [*command, "--ignore-installed", f".[{extra}]"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"pip cannot resolve the {extra} extra:\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout)
    resolved = {item["metadata"]["name"].lower() for item in report["install"]}
    assert wanted <= resolved, f"the {extra} extra resolves without {wanted - resolved}"
