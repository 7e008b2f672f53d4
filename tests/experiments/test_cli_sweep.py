"""`sresim sweep`, experiment files and `--jobs`, as a user meets them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import simulator
from simulator.cli import main
from tests.helpers import MMC, ROOT

SHORT = ["--set", "horizon=600s", "--set", "warmup=100s"]


def status(argv: list[str]) -> int:
    """The exit status, also where argparse exits by itself (a malformed option)."""
    try:
        return main(argv)
    except SystemExit as exit:
        return int(exit.code or 0)


GRID = ["--axis", "traffic.api.rate=2/s,3/s,3.5/s", "--axis", "services.api.replicas=4,5"]


def test_a_sweep_prints_a_summary_writes_its_tables_and_matches_single_runs(capsys, tmp_path):
    out = tmp_path / "out"
    args = ["sweep", str(MMC), *GRID, "--replications", "3", "--jobs", "2", *SHORT]
    args += ["--kpi", "wait_mean_s", "--kpi", "latency_p99_s"]
    assert main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "6 points × 3 replications" in text and "wait_mean_s" in text
    assert "18 runs (0 more from the store)" in text
    assert {"sweep.parquet", "summary.csv", "summary.parquet", "sweep.json", "runs"} <= {
        p.name for p in out.iterdir()
    }
    table = pd.read_parquet(out / "sweep.parquet")
    assert len(table) == 18
    for row in table.sample(4, random_state=0).itertuples(index=False):
        rate = {2.0: "2/s", 3.0: "3/s", 3.5: "3.5/s"}[row[1]]
        single = simulator.run(
            MMC,
            row.seed,
            overrides=[
                "horizon=600s",
                "warmup=100s",
                f"traffic.api.rate={rate}",
                f"services.api.replicas={row[2]}",
            ],
        )
        assert row.wait_mean_s == single.summary["wait_mean_s"]
        assert row.latency_p99_s == single.summary["latency_p99_s"]
    charts = {p.name for p in (out / "charts").iterdir()}
    assert "wait_mean_s-by-traffic.api.rate.png" in charts
    assert "wait_mean_s-by-traffic.api.rate-and-services.api.replicas.svg" in charts
    took = json.loads((out / "sweep.json").read_text())
    assert (took["runs"], took["cached"], took["points"]) == (18, 0, 6)
    # the same sweep again: everything from the store, the same table
    assert main([*args, "--out", str(out)]) == 0
    assert "0 runs (18 more from the store)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(table, pd.read_parquet(out / "sweep.parquet"))


def test_a_killed_sweep_finishes_only_the_missing_runs(tmp_path):
    """SIGKILL half-way (no clean-up at all), then the same command again."""
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "simulator",
        "sweep",
        str(MMC),
        "--axis",
        "traffic.api.rate=2/s,2.5/s,3/s,3.5/s",
        "--replications",
        "4",
        "--set",
        "horizon=1500s",
        "--set",
        "warmup=100s",
        "--kpi",
        "wait_mean_s",
        "--out",
        str(out),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.rglob("*.json"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    finished = len(list((out / "runs").rglob("*.json")))
    assert 3 <= finished < 16
    assert not (out / "sweep.parquet").exists()
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert f"{16 - finished} runs ({finished} more from the store)" in again.stdout
    serial = simulator.sweep(
        MMC,
        {"traffic.api.rate": ["2/s", "2.5/s", "3/s", "3.5/s"]},
        replications=4,
        overrides=["horizon=1500s", "warmup=100s"],
        kpis=["wait_mean_s"],
    )
    pd.testing.assert_frame_equal(serial.table, pd.read_parquet(out / "sweep.parquet"))


@pytest.mark.parametrize(
    ("axis", "words"),
    [
        ("traffic.api.rat=2/s,3/s", "--axis traffic.api.rat"),
        ("traffic.api.rate=2/s,fast", "expected a rate"),
        ("services.api.replicas=4,4", "given twice"),
        ("=1,2", "expected PATH=V1,V2"),
        ("services.api.replicas=4,,5", "separated by commas"),
    ],
)
def test_a_bad_axis_is_one_line_exit_2_and_nothing_written(capsys, tmp_path, axis, words):
    out = tmp_path / "out"
    assert status(["sweep", str(MMC), "--axis", axis, *SHORT, "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert words in error and "\n" not in error and "Traceback" not in error
    assert not out.exists()


def test_axis_values_may_hold_commas_inside_braces(capsys):
    axis = (
        "services.api.service_time={distribution: exponential, mean: 0.5s},"
        "{distribution: constant, mean: 0.5s}"
    )
    code = main(["sweep", str(MMC), "--axis", axis, *SHORT, "--kpi", "utilisation"])
    assert code == 0
    text = capsys.readouterr().out
    assert "2 points × 1 replications" in text
    assert "distribution: constant" in text


def test_zipped_axes_on_the_command_line(capsys):
    args = ["sweep", str(MMC), *GRID, "--zip", "traffic.api.rate,services.api.replicas"]
    assert main([*args, *SHORT, "--format", "json"]) == 2  # 3 rates, 2 replica counts
    assert "as many values" in capsys.readouterr().err
    args = [
        "sweep",
        str(MMC),
        "--axis",
        "traffic.api.rate=2/s,3/s",
        "--axis",
        "services.api.replicas=4,5",
        "--zip",
        "traffic.api.rate,services.api.replicas",
        "--format",
        "json",
    ]
    assert main([*args, *SHORT]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["sweep"]["points"] == 2


def write_experiment(tmp_path, text: str):
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    return path


EXPERIMENT = f"""\
scenario: {MMC}
set: {{horizon: 600s, warmup: 100s}}
axes:
  traffic.api.rate: [2/s, 3/s]
  services.api.replicas: [4, 5]
replications: 2
seed: 7
kpis: [wait_mean_s, utilisation]
"""


def test_an_experiment_file_runs_like_the_same_options(capsys, tmp_path):
    path = write_experiment(tmp_path, EXPERIMENT)
    assert main(["sweep", str(path), "--format", "json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    options = [
        "sweep",
        str(MMC),
        "--axis",
        "traffic.api.rate=2/s,3/s",
        "--axis",
        "services.api.replicas=4,5",
        "--replications",
        "2",
        "--seed",
        "7",
        "--kpi",
        "wait_mean_s",
        "--kpi",
        "utilisation",
        *SHORT,
        "--format",
        "json",
    ]
    assert main(options) == 0
    from_options = json.loads(capsys.readouterr().out)
    assert from_file["summary"] == from_options["summary"]
    assert from_file["sweep"]["seed"] == 7


def test_an_experiment_file_may_name_its_scenario_relative_to_itself(capsys, tmp_path):
    (tmp_path / "base.yaml").write_text(MMC.read_text())
    text = EXPERIMENT.replace(str(MMC), "base.yaml")
    path = write_experiment(tmp_path, text)
    assert main(["sweep", str(path), "--replications", "1"]) == 0
    assert "4 points × 1 replications" in capsys.readouterr().out


def test_an_experiment_file_names_its_charts(capsys, tmp_path):
    text = EXPERIMENT + "charts:\n  - {kpi: utilisation, x: services.api.replicas}\n"
    out = tmp_path / "out"
    assert main(["sweep", str(write_experiment(tmp_path, text)), "--out", str(out)]) == 0
    names = {p.name for p in (out / "charts").iterdir()}
    assert names == {
        "utilisation-by-services.api.replicas.png",
        "utilisation-by-services.api.replicas.svg",
    }


@pytest.mark.parametrize(
    ("chart", "words"),
    [
        ("{kpi: utilisation, x: traffic.api.rat}", "'traffic.api.rat' is not an axis"),
        ("{kpi: latency_p99_s, x: traffic.api.rate}", "not among those kept"),
        ("{kpi: utilisation, axis: traffic.api.rate}", "charts.0.axis: unknown key"),
    ],
)
def test_a_bad_chart_is_refused_before_anything_runs(capsys, tmp_path, chart, words):
    out = tmp_path / "out"
    path = write_experiment(tmp_path, EXPERIMENT + f"charts: [{chart}]\n")
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("replications: 2", "replications: 0"), "replications: "),
        (("kpis:", "kpi:"), "kpi: unknown key"),
        (("traffic.api.rate: [2/s, 3/s]", "traffic.api.rate: 2/s"), "axes.traffic.api.rate"),
        ((str(MMC), "missing.yaml"), "scenario: no scenario file"),
        (("services.api.replicas: [4, 5]", "services.api.replica: [4, 5]"), "--axis"),
    ],
)
def test_a_bad_experiment_file_is_one_line_exit_2(capsys, tmp_path, change, words):
    path = write_experiment(tmp_path, EXPERIMENT.replace(*change))
    assert main(["sweep", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert words in error and "\n" not in error


def test_run_replications_and_compare_take_jobs(capsys):
    base = ["run", str(MMC), "--replications", "3", *SHORT, "--format", "json"]
    assert main(base) == 0
    serial = capsys.readouterr().out
    assert main([*base, "--jobs", "2"]) == 0
    assert capsys.readouterr().out == serial
    compare = ["compare", str(MMC), str(MMC), "--replications", "2", *SHORT, "--format", "json"]
    assert main(compare) == 0
    serial = capsys.readouterr().out
    assert main([*compare, "--jobs", "2"]) == 0
    assert capsys.readouterr().out == serial


def test_the_dask_backend_without_the_extra_is_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    args = ["sweep", str(MMC), "--axis", "traffic.api.rate=2,3", *SHORT, "--backend", "dask"]
    assert main(args) == 2
    assert "pip install 'sre-sandbox[dask]'" in capsys.readouterr().err


def test_sweep_is_in_the_help():
    shown = subprocess.run(
        [sys.executable, "-m", "simulator", "sweep", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert shown.returncode == 0 and "--axis" in shown.stdout and "--jobs" in shown.stdout


def test_sigterm_stops_the_workers_at_once(tmp_path):
    """Runs of about twenty seconds each: the command ends within seconds, not after them."""
    command = [
        sys.executable,
        "-m",
        "simulator",
        "sweep",
        str(MMC),
        "--axis",
        "traffic.api.rate=2/s,3/s",
        "--set",
        "horizon=600000s",
        "--jobs",
        "2",
        "--out",
        str(tmp_path / "out"),
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_group(process.pid)) < 4:
            time.sleep(0.1)  # the parent, the fork server, its resource tracker, workers
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        _, error = process.communicate(timeout=60)
        assert time.monotonic() - began < 8
    finally:
        process.kill()
    assert process.returncode == 143 and "terminated" in error
    assert not list((tmp_path / "out" / "runs").rglob("*.json"))


def _group(pid: int) -> list[str]:
    """The processes descended from `pid` (pgrep -g needs a group of its own)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    children = found.stdout.split()
    for child in list(children):
        more = subprocess.run(["pgrep", "-P", child], capture_output=True, text=True)
        children += more.stdout.split()
    return [str(pid), *children]
