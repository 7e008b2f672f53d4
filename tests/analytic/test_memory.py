"""The analytic fidelity's memory does not grow with the horizon: per-step tables keep at
most about `MAX_TIMESERIES_CELLS` rows (consecutive steps merged), the KPIs are
accumulated over load states and do not depend on that, and the budget's estimate follows."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

import simulator
import simulator.analytic.run as analytic_run
import simulator.analytic.stations as stations
from simulator.budget import estimate
from simulator.scenario.loader import load_scenario


def fleet(horizon: str = "6h") -> dict:
    """Three services in a chain, a step of overload (so every step is its own state, with a
    backlog and saturation) on a diurnal base."""
    work = {"distribution": "exponential", "mean": "50ms"}
    return {
        "name": "merge",
        "fidelity": "analytic",
        "horizon": horizon,
        "warmup": "30min",
        "services": {
            "a": {
                "replicas": 2,
                "service_time": work,
                "handler": [{"work": "20ms"}, {"call": "b"}],
            },
            "b": {
                "replicas": 2,
                "service_time": work,
                "handler": [{"work": "50ms"}, {"call": "c"}],
            },
            "c": {"replicas": 1, "concurrency": 2, "service_time": work},
        },
        "traffic": {
            "a": {
                "rate": 20,
                "profile": {"profile": "step", "at": "2h", "factor": 2.5, "until": "3h"},
            }
        },
    }


def test_long_runs_merge_steps_in_the_tables_and_keep_every_kpi(monkeypatch):
    full = simulator.run(fleet())
    monkeypatch.setattr(analytic_run, "MAX_TIMESERIES_CELLS", 300)
    merged = simulator.run(fleet())
    assert merged.summary.keys() == full.summary.keys()
    for kpi, value in full.summary.items():  # bit for bit: KPIs are sums over load states
        assert merged.summary[kpi] == value or (np.isnan(value) and np.isnan(merged.summary[kpi]))
    steps = full.tables["timeseries"].time.nunique()
    stride = analytic_run.timeseries_stride(steps, 3)
    assert stride > 1 and len(merged.tables["timeseries"]) <= 300 + 3 * stride
    # Each merged row is the time-weighted mean (or the largest) of its steps' rows.
    series = full.tables["timeseries"].copy()
    times = np.sort(series.time.unique())
    dt = np.diff(np.append(times, 6 * 3600.0))
    series["bin"] = series.time.map(dict(zip(times, np.arange(len(times)) // stride, strict=True)))
    series["dt"] = series.time.map(dict(zip(times, dt, strict=True)))
    for column in ("utilisation", "arrival_rate", "queued_mean", "latency_mean_s"):
        series[column + "_w"] = series[column] * series["dt"]
    grouped = series.groupby(["bin", "service"], observed=True)
    seconds = grouped["dt"].sum()
    got = merged.tables["timeseries"].set_index(
        [np.repeat(np.arange(len(merged.tables["timeseries"]) // 3), 3), "service"]
    )
    for column in ("utilisation", "arrival_rate", "queued_mean", "latency_mean_s"):
        expected = grouped[column + "_w"].sum() / seconds
        assert np.allclose(got[column].to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert (got["saturated"].to_numpy() == grouped["saturated"].max().to_numpy()).all()
    assert got["saturated"].any()  # the overload shows in the merged rows
    assert (got["workers"].to_numpy() == grouped["workers"].max().to_numpy()).all()
    # The entry point: merged too (300 cells for one entry point), percentiles the worst.
    entry = full.tables["entry_timeseries"]
    entry_stride = analytic_run.timeseries_stride(len(entry), 1)
    kept = merged.tables["entry_timeseries"]
    assert len(kept) == -(-len(entry) // entry_stride)
    worst = entry.latency_p99_s.to_numpy()
    padded = np.pad(worst, (0, -len(worst) % entry_stride), constant_values=-np.inf)
    assert np.array_equal(kept.latency_p99_s.to_numpy(), padded.reshape(-1, entry_stride).max(1))
    assert kept.time.iloc[1] == entry.time.iloc[entry_stride]


def test_short_runs_keep_every_step():
    result = simulator.run(fleet("2h"))
    assert analytic_run.timeseries_stride(len(result.tables["entry_timeseries"]), 3) == 1
    assert len(result.tables["timeseries"]) == 3 * len(result.tables["entry_timeseries"])


def test_the_memory_estimate_follows_the_analytic_fidelity():
    """The budget's estimate is within a factor of two of what Python allocates
    (tracemalloc counts numpy's arrays), for a week and for a year (which here stays below
    the tables' cap: small fleets keep every step)."""
    base = fleet()
    base["traffic"]["a"]["profile"] = {"profile": "diurnal", "trough_ratio": 0.3}
    simulator.run({**base, "horizon": "2d"})  # imports paid before measuring
    peaks = {}
    for horizon in ("7d", "365d"):
        scenario = load_scenario({**base, "horizon": horizon, "warmup": "1d"})
        tracemalloc.start()
        result = simulator.run(scenario)
        peaks[horizon] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert isinstance(result.tables["timeseries"], pd.DataFrame)
        ratio = estimate(scenario).memory / peaks[horizon]
        print(f"{horizon}: traced {peaks[horizon] / 1e6:.1f} MB, estimate / traced {ratio:.2f}")
        assert 0.5 < ratio < 2.0


@pytest.mark.parametrize("horizon", ["7d", "365d"])
def test_the_budget_counts_the_load_states_the_run_folds(horizon):
    base = fleet()
    base["traffic"]["a"]["profile"] = {"profile": "diurnal", "trough_ratio": 0.3}
    scenario = load_scenario({**base, "horizon": horizon, "warmup": "1d"})
    steps, states = analytic_run.load_states(scenario)
    assert steps == round(scenario.horizon / analytic_run.time_step(scenario))
    started = simulator.run(scenario).tables["events"].detail.iloc[0]
    assert started.startswith(f"{steps} steps") and f"({states} distinct load states)" in started
    per_day = round(86_400 / analytic_run.time_step(scenario))
    assert states <= per_day // 2 + 1  # the days fold into one day's states (a symmetric cosine)
    assert estimate(scenario).analytic_cells == states * 4  # three services, one entry


def test_a_year_folds_into_one_days_load_states():
    """The profile's step means at a year's times differ in their last bits (the cumulative
    rate at 3·10⁷ s): folding at FOLD_UNITS keeps them one state per phase of the day (a
    year of 15-minute steps: 48 states; 223 at 10¹²), so the stations' arrays are a day's."""
    base = fleet()
    base["traffic"]["a"]["profile"] = {"profile": "diurnal", "trough_ratio": 0.3}
    steps, states = analytic_run.load_states(load_scenario({**base, "horizon": "365d"}))
    assert steps == 35_040 and states <= 96 // 2 + 1


def test_folding_moves_the_station_kpis_by_round_off_and_the_latencies_little(monkeypatch):
    """Folding at 10⁻⁹ instead of 10⁻¹² of the largest rate (fewer states) changes the
    stations' KPIs by round-off only (their rates move by the profile's last bits); the
    latency KPIs move by the representative states' interpolation (`_entries` picks them
    among fewer states), far below the lattice's own error."""
    base = fleet()
    base["traffic"]["a"]["profile"] = {"profile": "diurnal", "trough_ratio": 0.3}
    scenario = load_scenario({**base, "horizon": "120d", "warmup": "1d"})
    folded = simulator.run(scenario)
    monkeypatch.setattr(analytic_run, "FOLD_UNITS", 1e12)
    finer = simulator.run(scenario)
    states = [r.tables["events"].detail.iloc[0].split("(")[1].split()[0] for r in (folded, finer)]
    assert int(states[0]) < int(states[1])  # the two fold differently
    assert folded.summary.keys() == finer.summary.keys()
    for kpi, value in finer.summary.items():
        tolerance = 1e-4 if kpi.startswith("latency_") else 1e-12
        assert folded.summary[kpi] == pytest.approx(value, rel=tolerance, nan_ok=True), kpi


def test_the_per_step_tables_take_their_columns_without_a_second_copy(monkeypatch):
    """The per-step tables are handed their columns (a DataFrame built from a dict of
    arrays would consolidate them into a second copy, as large as the table: for a year of
    a 10,000-service fleet, hundreds of MB at the run's peak): building the table from its
    columns allocates a small fraction of the table's size."""
    base = fleet()
    base["traffic"]["a"]["profile"] = {"profile": "diurnal", "trough_ratio": 0.3}
    scenario = load_scenario({**base, "horizon": "365d", "warmup": "1d"})
    simulator.run({**base, "horizon": "2d"})  # imports paid before measuring
    built = analytic_run.frame
    found: dict[str, tuple[int, int]] = {}

    def measured(table, fidelity, data):
        tracemalloc.start()
        out = built(table, fidelity, data)
        found[table] = (tracemalloc.get_traced_memory()[1], out.memory_usage(deep=False).sum())
        tracemalloc.stop()
        return out

    monkeypatch.setattr(analytic_run, "frame", measured)
    simulator.run(scenario)
    for table in ("timeseries", "entry_timeseries"):
        allocated, size = found[table]
        print(f"{table}: {size / 1e6:.2f} MB, {allocated / 1e6:.3f} MB allocated building it")
        assert size > 1e6
        assert allocated < 0.1 * size


def test_a_stations_wait_variance_alone_is_its_column_of_the_whole(monkeypatch):
    """The latency moments read a station's wait variance by itself (a fleet's whole
    array is hundreds of MB): the same bits as the column of the whole, with a backlog.
    Up to `WHOLE_VARIANCE_CELLS` the whole is computed at the first column instead."""
    scenario = load_scenario(fleet())
    model = analytic_run.compile_model(scenario)
    _, steps = analytic_run._simulate(scenario, model, None)
    assert steps.delay_share.any() and (steps.p_wait_stationary.array() > 0).any()
    assert steps.delay_share.size <= stations.WHOLE_VARIANCE_CELLS
    steps.wait_variance_at(0)
    assert "wait_variance" in steps.__dict__  # small: the whole array, once
    _, steps = analytic_run._simulate(scenario, model, None)
    monkeypatch.setattr(stations, "WHOLE_VARIANCE_CELLS", steps.delay_share.size - 1)
    alone = [steps.wait_variance_at(s) for s in range(len(model.stations))]
    assert "wait_variance" not in steps.__dict__
    whole = steps.wait_variance
    for s, column in enumerate(alone):
        assert np.array_equal(column.view(np.uint64), whole[:, s].view(np.uint64))
        assert np.array_equal(steps.wait_variance_at(s), whole[:, s])
