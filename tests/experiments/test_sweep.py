"""Sweeps: the grid, the tidy table and its summary, paired seeds, and bad axes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.errors import ScenarioError
from simulator.experiments.sweep import grid, prepare
from simulator.metrics.statistics import mean_ci
from tests.helpers import MMC

SHORT = {"horizon": "600s", "warmup": "100s"}
SHORT_SET = ["horizon=600s", "warmup=100s"]


def test_the_grid_is_every_combination_with_the_last_axis_fastest():
    points = grid({"a": [1, 2], "b": ["x", "y", "z"]})
    assert points == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 1, "b": "z"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
        {"a": 2, "b": "z"},
    ]


def test_zipped_axes_go_together_and_the_grid_is_taken_over_the_groups():
    points = grid({"a": [1, 2], "b": [3, 4], "c": [5, 6, 7]})
    assert len(points) == 12
    points = grid({"a": [1, 2, 3], "b": ["x", "y"], "c": [10, 20, 30]}, zipped=[("a", "c")])
    assert [(p["a"], p["c"]) for p in points[::2]] == [(1, 10), (2, 20), (3, 30)]
    assert [p["b"] for p in points[:2]] == ["x", "y"]
    assert list(points[0]) == ["a", "b", "c"]  # the columns keep the axes' order


@pytest.mark.parametrize(
    ("axes", "zipped", "words"),
    [
        ({}, (), "at least one axis"),
        ({"a": []}, (), "at least one value"),
        ({"a": "1,2"}, (), "list of values"),
        ({"a": [1, 1]}, (), "given twice"),
        ({"a.": [1]}, (), "dotted key"),
        ({"a": [1, 2], "b": [1]}, [("a", "b")], "as many values"),
        ({"a": [1, 2]}, [("a", "c")], "no such axis"),
        ({"a": [1], "b": [1], "c": [1]}, [("a", "b"), ("b", "c")], "zipped twice"),
    ],
)
def test_bad_axes_are_one_line_errors(axes, zipped, words):
    with pytest.raises(ScenarioError) as caught:
        grid(axes, zipped)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_sweep_is_the_single_runs_bit_for_bit_with_paired_seeds():
    axes = {"traffic.api.rate": ["2/s", "3/s"], "services.api.service_time.mean": ["500ms", 1]}
    result = simulator.sweep(MMC, axes, replications=2, seed=5, overrides=SHORT)
    table = result.table
    assert len(table) == 4 * 2
    assert list(table.columns[:5]) == [
        "point",
        "traffic.api.rate",
        "services.api.service_time.mean",
        "replication",
        "seed",
    ]
    # values in the scenario's units, resolved to SI in the table
    assert sorted(table["traffic.api.rate"].unique()) == [2.0, 3.0]
    assert sorted(table["services.api.service_time.mean"].unique()) == [0.5, 1.0]
    # replication i of every point has seed 5 + i
    assert (table["seed"] == 5 + table["replication"]).all()
    for row in table.itertuples(index=False):
        rate = "2/s" if row[1] == 2.0 else "3/s"
        mean = "500ms" if row[2] == 0.5 else "1s"
        single = simulator.run(
            MMC,
            row.seed,
            overrides=[
                *SHORT_SET,
                f"traffic.api.rate={rate}",
                f"services.api.service_time.mean={mean}",
            ],
        )
        got = table.iloc[row.point * 2 + row.replication]
        for kpi, value in single.summary.items():
            assert got[kpi] == value or (np.isnan(value) and np.isnan(got[kpi])), kpi
    assert (result.runs, result.cached, result.replications, result.seed) == (8, 0, 2, 5)
    assert result.seconds > 0


def test_the_summary_is_the_mean_and_confidence_interval_per_point_and_kpi():
    result = simulator.sweep(
        MMC, {"services.api.replicas": [4, 5]}, replications=3, overrides=SHORT
    )
    wait = result.means("wait_mean_s")
    assert list(wait["services.api.replicas"]) == [4, 5]
    for point, rows in result.table.groupby("point"):
        mean, half = mean_ci(rows["wait_mean_s"].to_numpy())
        assert wait.loc[point, "mean"] == mean
        assert wait.loc[point, "ci95_half_width"] == half
        assert wait.loc[point, "n"] == 3
    # more replicas, less waiting: the seeds are paired, so this holds run by run
    four, five = (result.table[result.table["point"] == p] for p in (0, 1))
    assert (five["wait_mean_s"].to_numpy() < four["wait_mean_s"].to_numpy()).all()


def test_the_seed_defaults_to_the_scenarios_and_kpis_and_tables_can_be_kept():
    result = simulator.sweep(
        MMC,
        {"traffic.api.rate": [2, 3]},
        overrides=SHORT,
        kpis=["wait_mean_s", "utilisation"],
        tables=["services"],
    )
    assert list(result.table.columns) == [
        "point",
        "traffic.api.rate",
        "replication",
        "seed",
        "wait_mean_s",
        "utilisation",
    ]
    assert (result.table["seed"] == 1).all()  # mmc.yaml's seed
    assert set(result.summary["kpi"]) == {"wait_mean_s", "utilisation"}
    services = result.tables["services"]
    assert list(services["traffic.api.rate"]) == [2.0, 3.0]
    assert "utilisation" in services


def test_a_value_that_is_no_number_stays_as_given():
    result = simulator.sweep(
        MMC,
        {"services.api.load_balancer": ["central-queue", "round-robin"]},
        overrides=SHORT,
        kpis=["wait_mean_s"],
    )
    assert list(result.table["services.api.load_balancer"]) == ["central-queue", "round-robin"]
    assert result.table["wait_mean_s"].iloc[1] > result.table["wait_mean_s"].iloc[0]


@pytest.mark.parametrize(
    ("axes", "words"),
    [
        ({"traffic.api.rat": ["2/s"]}, "--axis traffic.api.rat"),
        ({"traffic.api.rate": ["2/s", "fast"]}, "--axis traffic.api.rate"),
        ({"services.api.replicas": [4, "many"]}, "--axis services.api.replicas"),
    ],
)
def test_a_bad_axis_key_or_value_is_refused_before_anything_runs(axes, words, monkeypatch):
    import simulator.runner

    def no_runs(*args, **kwargs):
        raise AssertionError("ran before every point was checked")

    monkeypatch.setattr(simulator.runner, "run", no_runs)
    with pytest.raises(ScenarioError) as caught:
        simulator.sweep(MMC, axes, overrides=SHORT)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_unknown_kpis_and_bad_arguments_are_one_line_errors():
    with pytest.raises(ScenarioError, match="no KPI 'wait'"):
        simulator.sweep(MMC, {"traffic.api.rate": [2]}, overrides=SHORT, kpis=["wait"])
    with pytest.raises(ScenarioError, match="jobs"):
        simulator.sweep(MMC, {"traffic.api.rate": [2]}, overrides=SHORT, jobs=0)
    with pytest.raises(ScenarioError, match="backend"):
        simulator.sweep(MMC, {"traffic.api.rate": [2]}, overrides=SHORT, backend="spark")
    with pytest.raises(ScenarioError, match="replications"):
        simulator.sweep(MMC, {"traffic.api.rate": [2]}, overrides=SHORT, replications=0)


def test_a_plan_counts_its_runs_before_running():
    plan = prepare(MMC, {"traffic.api.rate": [1, 2, 3]}, replications=4, overrides=SHORT)
    assert plan.runs == 12 and len(plan.scenarios) == 3


def test_numpy_values_are_plain_numbers():
    rates = np.linspace(2.0, 3.0, 2)
    result = simulator.sweep(
        MMC, {"traffic.api.rate": rates}, overrides=SHORT, kpis=["wait_mean_s"]
    )
    assert list(result.table["traffic.api.rate"]) == [2.0, 3.0]
    assert isinstance(result.table, pd.DataFrame)


def test_the_summary_carries_erlang_c_where_it_applies():
    from simulator.theory import mmc

    result = simulator.sweep(
        MMC,
        {"traffic.api.rate": ["3/s", "4.5/s"], "services.api.replicas": [4, 5]},
        overrides=SHORT,
        kpis=["wait_mean_s", "requests_completed"],
    )
    wait = result.means("wait_mean_s")
    for _, row in wait.iterrows():
        rate, replicas = row["traffic.api.rate"], int(row["services.api.replicas"])
        if rate / replicas < 1:
            assert row["theory"] == mmc(rate, 1.0, replicas).wait_mean
        else:  # 4.5/s on 4 servers of 1/s: no steady state
            assert np.isnan(row["theory"])
    assert result.means("requests_completed")["theory"].isna().all()
    eight = simulator.sweep(
        MMC,
        {"traffic.api.rate": ["4.5/s"]},
        overrides={**SHORT, "services.api.concurrency": 2},
        kpis=["wait_mean_s"],
    )
    assert eight.means("wait_mean_s")["theory"].iloc[0] == mmc(4.5, 1.0, 8).wait_mean
