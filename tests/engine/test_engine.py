"""The engine's promises: isolation, reproducibility, common random numbers, warm-up, records."""

import math

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.engine import RandomStreams
from simulator.engine.recorder import PENDING
from simulator.model.world import World
from tests.helpers import MMC

SHORT = {"horizon": "3000s", "warmup": "200s"}

TWO_SERVICES = {
    "seed": 5,
    "horizon": "2000s",
    "warmup": "100s",
    "services": {
        "api": {
            "replicas": 3,
            "load_balancer": "power-of-two",
            "service_time": {"distribution": "lognormal", "mean": "200ms", "cv": 2},
        },
        "db": {"replicas": 2, "concurrency": 2, "load_balancer": "least-connections"},
    },
    "traffic": {"api": {"rate": "10/s"}, "db": {"rate": "20/s"}},
}


def test_same_scenario_and_seed_give_identical_results_bit_for_bit():
    first = simulator.run(TWO_SERVICES)
    second = simulator.run(TWO_SERVICES)
    pd.testing.assert_series_equal(
        pd.Series(first.summary), pd.Series(second.summary), check_exact=True
    )
    for name, table in first.tables.items():
        pd.testing.assert_frame_equal(table, second.tables[name], check_exact=True)


def test_a_different_seed_gives_different_numbers():
    assert simulator.run(TWO_SERVICES).summary != simulator.run(TWO_SERVICES, seed=6).summary


def test_runs_do_not_touch_global_random_state():
    np.random.seed(0)
    import random

    random.seed(0)
    before = (np.random.random(), random.random())
    np.random.seed(0)
    random.seed(0)
    simulator.run(TWO_SERVICES)
    assert (np.random.random(), random.random()) == before


def test_changing_one_component_leaves_the_others_draws_unchanged():
    """Common random numbers: db's requests see the same arrivals and service times."""
    base = simulator.run(TWO_SERVICES).requests
    changed = simulator.run(
        simulator.load_scenario(
            TWO_SERVICES, {"services.api.service_time.cv": 0.5, "traffic.api.rate": "7/s"}
        )
    ).requests
    db_before = base[base.service == "db"].reset_index(drop=True)
    db_after = changed[changed.service == "db"].reset_index(drop=True)
    pd.testing.assert_frame_equal(db_before, db_after, check_exact=True)
    api_before = base[base.service == "api"]
    api_after = changed[changed.service == "api"]
    assert len(api_before) != len(api_after)


def test_streams_are_named_not_ordered():
    a = RandomStreams(1)
    b = RandomStreams(1)
    b.get("something else")
    assert a.get("traffic/api").random() == b.get("traffic/api").random()
    with pytest.raises(ValueError, match="already in use"):
        a.get("traffic/api")


def test_warmup_is_excluded_from_every_metric():
    result = simulator.run(MMC, overrides=SHORT)
    requests = result.requests
    assert requests.arrival.min() >= 200
    assert result.tables["timeseries"].time.min() >= 200
    completed = requests[requests.status == "ok"]
    assert result.summary["requests_completed"] == len(completed)
    latency = completed.end - completed.arrival
    assert result.summary["latency_mean_s"] == pytest.approx(latency.mean(), rel=1e-12)
    assert result.summary["wait_mean_s"] == pytest.approx(
        (completed.start - completed.arrival).mean(), rel=1e-12
    )


def test_every_request_is_accounted_for():
    """Conservation: each arrival is completed, in service or queued at the horizon."""
    world = World(simulator.load_scenario(MMC, SHORT), seed=3)
    world.run()
    columns = world.spans.columns()
    pending = columns["status"] == PENDING
    in_service = pending & ~np.isnan(columns["start"])
    queued = pending & np.isnan(columns["start"])
    station = world.stations[0]
    assert in_service.sum() == station.busy
    assert queued.sum() == station.queued
    done = ~pending
    assert np.all(columns["arrival"][done] <= columns["start"][done])
    assert np.all(columns["start"][done] <= columns["end"][done])
    assert np.all(np.diff(columns["arrival"]) >= 0)


def test_central_queue_never_lets_a_worker_idle_while_requests_wait():
    world = World(simulator.load_scenario(MMC, SHORT), seed=4)
    world.run()
    columns = world.spans.columns()
    waited = columns["start"] > columns["arrival"]
    # While a request waits, all four workers are busy: count requests in service at each
    # arrival of a request that waits.
    starts, ends = columns["start"], np.nan_to_num(columns["end"], nan=math.inf)
    order_s, order_e = np.sort(starts[~np.isnan(starts)]), np.sort(ends)
    arrivals = columns["arrival"][waited]
    busy = np.searchsorted(order_s, arrivals, "right") - np.searchsorted(order_e, arrivals, "right")
    assert np.all(busy == 4)


def test_utilisation_is_busy_time_over_available_time():
    result = simulator.run(MMC, overrides=SHORT)
    requests = result.requests
    busy = (requests.end.clip(upper=3000) - requests.start.clip(lower=200)).clip(lower=0).sum()
    # Requests that arrived in warm-up but were served after it add a little busy time.
    assert result.summary["utilisation"] >= busy / (4 * 2800)
    assert result.summary["utilisation"] == pytest.approx(busy / (4 * 2800), rel=0.01)


def test_tables_have_their_documented_columns():
    result = simulator.run(TWO_SERVICES)
    assert list(result.requests.columns) == [
        "service",
        "replica",
        "arrival",
        "start",
        "end",
        "status",
        "attempts",
    ]
    assert list(result.tables["spans"].columns) == [
        "service", "replica", "parent", "request", "attempt", "arrival", "start", "end",
        "responded", "status", "outcome",
    ]  # fmt: skip
    assert {"requests_completed", "availability"} <= set(result.tables["entry_points"])
    assert list(result.tables["events"].columns) == ["time", "component", "kind", "detail"]
    assert set(result.tables["services"].index) == {"api", "db"}
    assert {"visits_ok", "latency_p99_s", "utilisation"} <= set(result.tables["services"])
    timeseries = result.tables["timeseries"]
    assert {"time", "service", "busy", "queued", "utilisation"} <= set(timeseries)
    assert len(timeseries) == 2 * 1000
    for kpi in [
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
        assert kpi in result.summary


def test_recording_is_columnar_and_cheap():
    world = World(simulator.load_scenario(MMC, SHORT), seed=1)
    world.run()
    assert world.requests.nbytes() / len(world.requests) == 34
    assert world.spans.nbytes() / len(world.spans) == 51


def test_replications_give_a_tidy_table_and_confidence_intervals():
    reps = simulator.run_replications(MMC, 4, overrides=SHORT)
    assert list(reps.table.seed) == [1, 2, 3, 4]
    assert reps.table.shape[0] == 4
    row = reps.summary.loc["wait_mean_s"]
    assert row.ci95_low < row["mean"] < row.ci95_high
    assert row["mean"] == pytest.approx(reps.table.wait_mean_s.mean())


def test_compare_runs_on_the_same_seeds_and_reports_differences():
    more = simulator.load_scenario(MMC, {**SHORT, "services.api.replicas": 5, "name": "five"})
    comparison = simulator.compare(simulator.load_scenario(MMC, SHORT), more, replications=2)
    table = comparison.table
    assert comparison.names == ["mmc", "five"]
    assert table.loc["wait_mean_s", "Δ five"] < 0
    assert table.loc["wait_mean_s", "Δ five"] == pytest.approx(
        table.loc["wait_mean_s", "five"] - table.loc["wait_mean_s", "mmc"]
    )
    assert "Δ ±95% five" in table
    # Same seeds: arrivals are identical, so the arrival counts match exactly.
    counts = [reps.table.requests_completed.sum() for reps in comparison.replications]
    assert abs(counts[0] - counts[1]) < 0.01 * counts[0]


def test_timeseries_interval_averages_add_up_to_the_run_averages():
    result = simulator.run(MMC, overrides=SHORT)
    timeseries = result.tables["timeseries"]
    assert timeseries.utilisation.mean() == pytest.approx(result.summary["utilisation"], rel=1e-9)
    assert timeseries.queued_mean.mean() == pytest.approx(
        result.summary["queue_length_mean"], rel=1e-9
    )
    assert timeseries.utilisation.between(0, 1).all()
