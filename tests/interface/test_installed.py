"""The package as someone who installed the wheel meets it: no checkout, an empty folder.

Builds the wheel from a copy of the sources (so the checkout gets no build/ or egg-info),
installs it, not editable and without dependencies, into a fresh virtual environment that
borrows the dependencies of this one (a path line, so this checkout's editable install is
not seen), and runs `sresim` from an empty folder: the shipped scenarios must come from
the installed package. About 15 s; no network (pip gets no index).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["MPLBACKEND"] = "Agg"
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a virtual environment with the built wheel installed."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "simulator", source / "simulator", ignore=shutil.ignore_patterns("__pycache__")
    )
    wheels = base / "dist"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(wheels), str(source)],
        cwd=base,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = wheels.glob("sre_sandbox-*.whl")
    environment = base / "venv"
    venv.EnvBuilder(with_pip=False).create(environment)
    python = environment / "bin" / "python"
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base
    )
    Path(theirs.stdout.strip(), "borrowed-dependencies.pth").write_text(f"{ours}\n")
    install = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        cwd=base,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    return environment / "bin"


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_the_wheel_holds_the_scenarios_and_not_the_checkout(installed: Path, empty: Path):
    where = _run(
        [str(installed / "python"), "-c", "import simulator; print(simulator.__file__)"], empty
    )
    assert where.returncode == 0, where.stderr
    package = Path(where.stdout.strip()).parent
    assert not package.is_relative_to(ROOT)  # the wheel's copy, not this checkout
    assert (package / "scenarios" / "validation" / "mmc.yaml").is_file()
    assert (package / "scenarios" / "eras" / "traffic.csv").is_file()


def test_list_and_run_by_name_from_an_empty_folder(installed: Path, empty: Path):
    listed = _run([str(installed / "sresim"), "list"], empty)
    assert listed.returncode == 0, listed.stderr
    assert "scenarios/validation/mmc.yaml" in listed.stdout
    assert "scenarios/eras/sre.yaml" in listed.stdout
    assert "invalid" not in listed.stdout
    ran = _run(
        [str(installed / "sresim"), "run", "validation/mmc", "--set", "horizon=2000s",
         "--set", "warmup=100s", "--format", "json"],
        empty,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert '"requests_completed"' in ran.stdout
    assert list(empty.iterdir()) == []  # wrote nothing where it ran


def test_an_era_runs_by_name_with_or_without_yaml(installed: Path, empty: Path):
    checked = _run([str(installed / "sresim"), "validate", "eras/sre"], empty)
    assert checked.returncode == 0, checked.stderr
    assert "valid (sre:" in checked.stdout
    ran = _run(
        [
            str(installed / "sresim"),
            "run",
            "eras/sre.yaml",
            "--set",
            "horizon=8d",
            "--format",
            "json",
        ],
        empty,
    )
    assert ran.returncode == 0, ran.stderr
    assert '"throughput_rps"' in ran.stdout


def test_one_chart_by_command_from_an_empty_folder(installed: Path, tmp_path: Path):
    drawn = _run(
        [str(installed / "sresim"), "chart", "validation/mmc", "latency-cdf", "-o", "cdf.svg",
         "--set", "horizon=2000s", "--set", "warmup=100s"],
        tmp_path,
    )  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr
    assert (tmp_path / "cdf.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def test_a_users_scenario_extends_a_shipped_preset(installed: Path, empty: Path):
    (empty / "mine.yaml").write_text(
        "extends: presets/lb-cluster.yaml\nname: mine\nhorizon: 600s\nwarmup: 60s\n"
    )
    checked = _run([str(installed / "sresim"), "validate", "mine.yaml"], empty)
    assert checked.returncode == 0, checked.stderr
    assert "mine.yaml: valid (mine:" in checked.stdout


def test_the_eras_experiment_finds_its_scenarios_in_the_package(installed: Path, empty: Path):
    code = (
        "from simulator.experiments import eras; from simulator.scenario import load_scenario;"
        "print(eras.ERAS_DIR); [load_scenario(eras.ERAS_DIR / f'{e}.yaml') for e in eras.ERAS]"
    )
    found = _run([str(installed / "python"), "-c", code], empty)
    assert found.returncode == 0, found.stderr[-2000:]
    assert not Path(found.stdout.strip()).is_relative_to(ROOT)
