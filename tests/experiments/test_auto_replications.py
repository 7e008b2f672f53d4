"""`replications="auto"`: the sequential stopping rule, and runs that equal a fixed count."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator.errors import ScenarioError
from simulator.experiments.executor import precise, stop_at
from simulator.metrics.statistics import mean_ci
from simulator.runner import run_replications
from tests.experiments.test_cli_sweep import SHORT, status
from tests.helpers import MMC

OVERRIDES = ["horizon=600s", "warmup=100s"]

values = st.lists(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32), min_size=0, max_size=30
)


def first_precise(series: list[list[float]], precision: float, low: int, high: int) -> int | None:
    """The rule written the slow, obvious way: the first n in [low, high] at which the
    half-width of every series' first n values is within precision × |mean|."""
    for n in range(low, high + 1):
        if n > min(len(s) for s in series):
            return None
        if all(
            math.isfinite(h) and h <= precision * abs(m)
            for m, h in (mean_ci(s[:n]) for s in series)
        ):
            return n
    return high


@settings(max_examples=200, deadline=None)
@given(
    series=st.lists(values, min_size=1, max_size=3),
    precision=st.floats(min_value=0.001, max_value=0.9),
    low=st.integers(min_value=2, max_value=8),
    extra=st.integers(min_value=0, max_value=20),
)
def test_the_stopping_rule(series, precision, low, extra):
    high = low + extra
    length = min(len(s) for s in series)
    series = [s[:length] for s in series]
    n = stop_at(series, precision, low, high)
    # never before the minimum, and always by the maximum once there are that many values
    assert n is None or low <= n <= high
    if length >= high:
        assert n is not None
    if length < low:
        assert n is None
    # exactly when the criterion first holds
    assert n == first_precise(series, precision, low, high)
    if n is not None and n < high:
        assert all(precise(s[:n], precision) for s in series)
        assert not any(all(precise(s[:m], precision) for s in series) for m in range(low, n))


def test_precise_needs_two_values_and_a_finite_interval():
    assert not precise([1.0], 0.5)
    assert not precise([math.nan, math.nan], 0.5)
    assert precise([2.0, 2.0], 0.01)  # no spread: half-width 0
    assert not precise([1.0, 3.0], 0.5)  # t(1) × 1 = 12.7 > 1
    assert not precise([0.0, 0.0], 0.5) or mean_ci([0.0, 0.0])[1] == 0.0


def test_an_auto_run_equals_the_fixed_count_run_of_its_final_count_bit_for_bit():
    light = [*OVERRIDES, "traffic.api.rate=2/s"]
    auto = run_replications(MMC, "auto", 1, overrides=light, precision=0.05)
    n = len(auto.table)
    assert 3 <= n < 50 and auto.precise is True and auto.precision_kpis == ["latency_mean_s"]
    fixed = run_replications(MMC, n, 1, overrides=light)
    pd.testing.assert_frame_equal(auto.table, fixed.table, check_exact=True)
    pd.testing.assert_frame_equal(auto.summary, fixed.summary, check_exact=True)
    row = auto.summary.loc["latency_mean_s"]
    assert row["ci95_half_width"] <= 0.05 * abs(row["mean"])
    # and one run fewer would not have done
    shorter = auto.table["latency_mean_s"].iloc[: n - 1]
    assert n == 3 or not precise(list(shorter), 0.05)


def test_an_auto_sweep_on_two_workers_equals_fixed_counts_and_resumes_from_its_store(tmp_path):
    axes = {"traffic.api.rate": ["2/s", "3/s"]}
    options = dict(replications="auto", precision=0.05, seed=1, overrides=OVERRIDES)
    first = simulator.sweep(MMC, axes, **options, jobs=2, store=tmp_path, progress=False)
    counts = first.summary.drop_duplicates("point")["replications"].tolist()
    assert first.summary.drop_duplicates("point")["precise"].tolist() == [True, True]
    assert len(set(counts)) == 2  # the points need different counts here
    assert first.runs + first.cached >= sum(counts)
    for point, (rate, n) in enumerate(zip(axes["traffic.api.rate"], counts, strict=True)):
        fixed = run_replications(MMC, n, 1, overrides=[*OVERRIDES, f"traffic.api.rate={rate}"])
        rows = first.table[first.table["point"] == point]
        assert rows["seed"].tolist() == list(range(1, n + 1))
        for kpi in ("latency_mean_s", "wait_mean_s", "throughput_rps"):
            assert rows[kpi].tolist() == fixed.table[kpi].tolist()
    again = simulator.sweep(MMC, axes, **options, store=tmp_path, progress=False)
    assert again.runs == 0 and again.cached >= sum(counts)
    pd.testing.assert_frame_equal(again.table, first.table, check_exact=True)


def test_the_ceiling_is_reported_when_the_precision_is_not_reached():
    reps = run_replications(
        MMC, "auto", 1, overrides=OVERRIDES, precision=0.001, max_replications=4
    )
    assert len(reps.table) == 4 and reps.precise is False


@pytest.mark.parametrize(
    ("arguments", "key"),
    [
        (dict(replications="auto", precision=0.0), "precision"),
        (dict(replications="auto", precision=1.5), "precision"),
        (dict(replications="auto", precision="5%"), "precision"),
        (dict(replications="auto", max_replications=1), "max_replications"),
        (dict(replications="several"), "replications"),
        (dict(replications=3, precision=0.05), "precision"),
        (dict(replications="auto", precision_kpis=["nope"]), "precision_kpis"),
    ],
)
def test_bad_auto_arguments_are_one_line(arguments, key):
    with pytest.raises(ScenarioError) as error:
        simulator.sweep(
            MMC, {"traffic.api.rate": ["2/s"]}, overrides=OVERRIDES, progress=False, **arguments
        )
    assert error.value.path == key and "\n" not in str(error.value)


def test_the_cli_reports_the_replications_each_point_took(capsys, tmp_path):
    args = ["sweep", str(MMC), "--axis", "traffic.api.rate=2/s,3/s", *SHORT]
    args += ["--replications", "auto", "--precision", "5%", "--kpi", "latency_mean_s"]
    assert status([*args, "--out", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "runs  precise" in text and "precision reached everywhere" in text
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert {"replications", "precise"} <= set(summary.columns)
    assert status([*args, "--out", str(tmp_path / "out")]) == 0
    assert "0 runs (" in capsys.readouterr().out  # resumed whole from the store


@pytest.mark.parametrize(
    "bad",
    [
        ["--replications", "autox"],
        ["--replications", "auto", "--precision", "0"],
        ["--replications", "auto", "--precision", "150%"],
        ["--replications", "auto", "--precision", "five"],
        ["--precision", "5%"],
        ["--replications", "auto", "--precision-kpi", "nope"],
    ],
)
def test_bad_cli_values_are_one_line_and_exit_2(capsys, bad):
    assert status(["run", str(MMC), *SHORT, *bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("precision" in err[0] or "replications" in err[0])


def test_an_experiment_file_asks_for_auto_replications(capsys, tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text(
        f"scenario: {MMC}\nset: {{horizon: 600s, warmup: 100s}}\n"
        "axes: {traffic.api.rate: [2/s, 3/s]}\nreplications: auto\nprecision: 0.1\n"
    )
    assert status(["sweep", str(path)]) == 0
    assert "precision reached everywhere" in capsys.readouterr().out
    path.write_text(path.read_text().replace("replications: auto", "replications: 2"))
    assert status(["sweep", str(path)]) == 2
    assert "precision: applies only with replications: auto" in capsys.readouterr().err
    assert status(["sweep", str(path), "--replications", "2"]) == 0  # the command line wins
