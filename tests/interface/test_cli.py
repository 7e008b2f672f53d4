"""The `sresim` command as a user meets it."""

import gc
import json
import subprocess
import sys

import pytest

from simulator.cli import main
from tests.helpers import MMC, ROOT

SHORT = ["--set", "horizon=3000s", "--set", "warmup=100s"]


def test_run_prints_the_kpis_as_json(capsys):
    assert main(["run", str(MMC), "--format", "json", *SHORT]) == 0
    kpis = json.loads(capsys.readouterr().out)
    for key in [
        "requests_completed",
        "requests_failed",
        "throughput_rps",
        "wait_mean_s",
        "p_wait",
        "latency_mean_s",
        "latency_p50_s",
        "latency_p95_s",
        "latency_p99_s",
        "utilisation",
    ]:
        assert isinstance(kpis[key], int | float)


def test_a_run_collects_less_often_and_gives_the_thresholds_back(capsys, monkeypatch):
    seen = []
    from simulator import runner

    real_run = runner.run

    def watched(*args, **kwargs):
        seen.append(gc.get_threshold())
        return real_run(*args, **kwargs)

    monkeypatch.setattr(runner, "run", watched)
    before = gc.get_threshold()
    assert main(["run", str(MMC), *SHORT]) == 0
    assert seen == [(20_000, 20, 20)]
    assert gc.get_threshold() == before


def test_run_prints_a_table_and_writes_outputs(capsys, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(MMC), *SHORT, "--out", str(out), "--tables", "csv"]) == 0
    text = capsys.readouterr().out
    assert "wait_mean_s" in text and "M/M/4" in text
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "requests.csv", "services.csv", "events.csv"} <= names
    assert {"latency-cdf.png", "latency-cdf.svg", "utilisation.png", "utilisation.svg"} <= names
    assert json.loads((out / "summary.json").read_text())["scenario"] == "mmc"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch left
    assert "scaling.csv" in names


def test_run_out_adds_the_charts_to_the_data_or_leaves_them_out(capsys, tmp_path, monkeypatch):
    import simulator.plots

    drawn = []

    def spy(result, directory):
        drawn.append(result.scenario.name)
        (directory / "latency-cdf.png").write_bytes(b"")
        return [directory / "latency-cdf.png"]

    monkeypatch.setattr(simulator.plots, "save_run_charts", spy)
    assert main(["run", str(MMC), *SHORT, "--out", str(tmp_path / "a"), "--tables", "csv"]) == 0
    assert drawn == ["mmc"]
    assert {"summary.json", "requests.csv", "latency-cdf.png"} <= {
        p.name for p in (tmp_path / "a").iterdir()
    }
    assert main(["run", str(MMC), *SHORT, "--out", str(tmp_path / "b"), "--no-charts"]) == 0
    assert drawn == ["mmc"]
    assert not [p for p in (tmp_path / "b").iterdir() if p.suffix in (".png", ".svg")]


def test_run_out_is_all_or_nothing_when_a_chart_fails(capsys, tmp_path, monkeypatch):
    import simulator.plots

    def broken(result, directory):
        raise RuntimeError("no chart today")

    monkeypatch.setattr(simulator.plots, "save_run_charts", broken)
    assert main(["run", str(MMC), *SHORT, "--out", str(tmp_path / "out")]) == 1
    assert "internal error: RuntimeError: no chart today" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the data nor a scratch folder
    monkeypatch.setenv("SRESIM_DEBUG", "1")  # the traceback for whoever fixes it
    with pytest.raises(RuntimeError, match="no chart today"):
        main(["run", str(MMC), *SHORT, "--out", str(tmp_path / "out")])
    assert list(tmp_path.iterdir()) == []


def test_kpis_without_a_value_are_named_once_unless_all_are_asked_for(capsys):
    assert main(["run", str(MMC), *SHORT]) == 0
    short = capsys.readouterr().out
    assert "cost_usd" not in [line.split()[0] for line in short.splitlines() if line.strip()]
    assert "no value in this run (--all shows them): cost_usd" in short
    assert main(["run", str(MMC), *SHORT, "--all"]) == 0
    full = capsys.readouterr().out
    assert any(line.split()[:2] == ["cost_usd", "–"] for line in full.splitlines())
    assert "no value in this run" not in full


def test_run_with_replications(capsys):
    assert main(["run", str(MMC), *SHORT, "--replications", "3", "--format", "json"]) == 0
    kpis = json.loads(capsys.readouterr().out)
    assert set(kpis["wait_mean_s"]) == {"mean", "ci95_half_width"}


def test_seed_option_changes_the_numbers(capsys):
    main(["run", str(MMC), *SHORT, "--format", "json"])
    first = capsys.readouterr().out
    main(["run", str(MMC), *SHORT, "--format", "json", "--seed", "2"])
    assert capsys.readouterr().out != first


def test_validate_explain_and_list(capsys):
    assert main(["validate", str(MMC)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["explain", str(MMC), "--set", "services.api.replicas=6"]) == 0
    assert "replicas: 6" in capsys.readouterr().out
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "validation/mmc.yaml" in listing and "M/M/4" in listing


def test_compare_puts_scenarios_side_by_side(capsys, tmp_path):
    other = tmp_path / "five.yaml"
    other.write_text(f"extends: {MMC}\nname: five\nservices:\n  api: {{replicas: 5}}\n")
    assert main(["compare", str(MMC), str(other), *SHORT, "--out", str(tmp_path / "c")]) == 0
    text = capsys.readouterr().out
    assert "mmc" in text and "five" in text and "difference from mmc" in text
    assert (tmp_path / "c" / "compare.csv").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["validate", "missing.yaml"], "missing.yaml: file not found"),
        (["run", str(MMC), "--set", "services.api.replcas=3"], "did you mean 'replicas'?"),
        (["run", str(MMC), "--set", "traffic.api.rate=fast"], "traffic.api.rate: expected a rate"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, expected, tmp_path):
    out = tmp_path / "out"
    process = subprocess.run(
        [sys.executable, "-m", "simulator", *args, "--out", str(out)]
        if args[0] == "run"
        else [sys.executable, "-m", "simulator", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert process.returncode == 2
    assert process.stdout == ""
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]
    assert "Traceback" not in process.stderr
    assert not out.exists()


def test_replications_summary_is_valid_json_with_nan_kpis(tmp_path):
    import json

    out = tmp_path / "reps"
    code = main(
        ["run", str(MMC), "--set", "horizon=2000s", "--replications", "2", "--out", str(out)]
    )
    assert code == 0
    text = (out / "summary.json").read_text()
    assert "NaN" not in text
    json.loads(text)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run"], "sresim run: error: the following arguments are required: scenario"),
        (["run", str(MMC), "--bogus"], "sresim: error: unrecognized arguments: --bogus"),
        (["run", str(MMC), "--replications", "1e9"], "expected a whole number, got '1e9'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_argument_errors_are_one_line_with_a_pointer_to_help(args, expected, capsys):
    with pytest.raises(SystemExit) as exit:
        main(args)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert expected in err and "(see sresim" in err and "--help)" in err


@pytest.mark.parametrize(
    "args",
    [
        ["run", str(MMC), "--set", "services.api.replicas=1000000000000"],
        ["run", str(MMC), "--set", "horizon=1e15s"],
        ["run", str(MMC), "--set", "traffic.api.rate=1000", "--set", "horizon=1e6s"],
        ["run", str(MMC), "--set", "metrics.sample_interval=1us"],
        ["run", str(MMC), "--set", "fidelity=analytic", "--set", "horizon=1e15s"],
        ["run", str(MMC), "--replications", "99999999999999999999999"],
        ["validate", str(MMC), "--set", "horizon=1e15s"],
        ["compare", str(MMC), str(MMC), "--set", "horizon=1e15s"],
    ],
)
def test_runs_above_the_budget_are_refused_up_front_in_one_line(args, tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "simulator", *args, "--limit", "max_memory=4GB"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert process.returncode == 2, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and "the limit is" in lines[0] and "--limit max_" in lines[0]


def test_a_limit_raised_on_the_command_line_lets_the_run_go(capsys):
    args = ["validate", str(MMC), "--set", "horizon=1e8s"]
    assert main(args) == 2
    assert "max_requests" in capsys.readouterr().err
    assert main([*args, "--limit", "max_requests=1e9", "--limit", "max_memory=1TB"]) == 0
    assert "about 3.6e+08 requests" in capsys.readouterr().out
    assert main([*args, "--limit", "max_requests=lots"]) == 2
    assert "expected a positive number such as 1e9 or 64GB" in capsys.readouterr().err


def test_run_without_out_builds_no_table_it_does_not_print(capsys, monkeypatch, tmp_path):
    # the printout reads only the KPIs and the events, so a large analytic fleet's per-step
    # tables (seconds, hundreds of MiB) are not built; with --out they are all written
    from simulator.analytic import run as analytic_run

    fleet = ["--set", "horizon=2h", "--set", "warmup=10min"]
    scenario = str(ROOT / "scenarios" / "scale" / "sre-1000.yaml")
    built = analytic_run._tables

    def unwanted(*args: object, **kwargs: object) -> None:
        raise AssertionError("a table nobody reads was built")

    monkeypatch.setattr(analytic_run, "_tables", unwanted)
    assert main(["run", scenario, *fleet, "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(analytic_run, "_tables", built)
    assert main(["run", scenario, *fleet, "--format", "json", "--out", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0]) == printed
    assert (tmp_path / "timeseries.parquet").exists()
