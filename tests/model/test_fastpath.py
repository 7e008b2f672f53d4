"""The fast path (`model/fastpath.py`) against the general engine: the same scenario and seed
must give the same tables and KPIs, bit for bit, and anything the fast path cannot reproduce
must fall back to the event loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator
from simulator.model import fastpath
from simulator.model.world import World
from tests.helpers import MMC, SCENARIOS

LOAD_BALANCERS = SCENARIOS / "examples" / "load-balancers"


def general(scenario: simulator.Scenario, seed: int) -> simulator.Result:
    return simulator.run(scenario.model_copy(update={"engine": "general"}), seed)


def used_fast_path(result: simulator.Result) -> bool:
    ran = fastpath.ran(result.tables["events"])
    assert result.fast_path == ran  # the engine's word (what `sresim run` reads) and the log's
    return ran


def assert_same_run(expected: simulator.Result, got: simulator.Result) -> None:
    """Every table and KPI equal, exactly; the decision log differs only by the fast path's
    note in its `horizon_reached` row."""
    assert not used_fast_path(expected)
    assert used_fast_path(got)
    assert set(expected.tables) == set(got.tables)
    for name, table in expected.tables.items():
        other = got.tables[name]
        if name == "events":
            other = other.assign(
                detail=other["detail"].str.replace(f"; {fastpath.NOTE}", "", regex=False)
            )
        pd.testing.assert_frame_equal(table, other, check_exact=True, obj=name)
    assert list(expected.summary) == list(got.summary)
    for kpi, value in expected.summary.items():
        same = value == got.summary[kpi] or (math.isnan(value) and math.isnan(got.summary[kpi]))
        assert same, f"{kpi}: {value!r} != {got.summary[kpi]!r}"


def compare(scenario: simulator.Scenario, seed: int) -> simulator.Result:
    assert fastpath.blocker(scenario) is None
    fast = simulator.run(scenario, seed)
    assert_same_run(general(scenario, seed), fast)
    return fast


TWO_ENTRIES = {
    "name": "two entry points",
    "horizon": "600s",
    "warmup": "60s",
    "metrics": {"sample_interval": "7s"},
    "services": {
        "api": {
            "replicas": 3,
            "concurrency": 2,
            "load_balancer": "least-connections",
            "handler": [{"work": {"distribution": "gamma", "mean": "80ms", "cv": 2.0}}],
        },
        "search": {
            "replicas": 2,
            "service_time": {"distribution": "constant", "mean": "50ms"},
            "load_balancer": "central-queue",
        },
        "idle": {"replicas": 2, "load_balancer": "power-of-two"},
    },
    "traffic": {
        "api": {"rate": "30/s"},
        "search": {
            "rate": "25/s",
            "profile": {"profile": "step", "at": "300s", "factor": 1.5},
        },
    },
}


@pytest.mark.parametrize(
    ("source", "overrides"),
    [
        (MMC, {"horizon": "4000s", "warmup": "200s"}),
        (MMC, {"horizon": "1500s", "warmup": "0s", "services.api.concurrency": 3}),
        (LOAD_BALANCERS / "central-queue.yaml", {"horizon": "4min", "warmup": "1min"}),
        (LOAD_BALANCERS / "round-robin.yaml", {"horizon": "4min", "warmup": "1min"}),
        (LOAD_BALANCERS / "random.yaml", {"horizon": "4min", "warmup": "1min"}),
        (LOAD_BALANCERS / "least-connections.yaml", {"horizon": "4min", "warmup": "1min"}),
        (LOAD_BALANCERS / "power-of-two.yaml", {"horizon": "4min", "warmup": "1min"}),
        (TWO_ENTRIES, {}),
        (SCENARIOS / "examples" / "web-shop.yaml", {"horizon": "8min", "warmup": "1min"}),
        (
            MMC,
            {
                "horizon": "2h",
                "warmup": "10min",
                "traffic.api.profile": {"profile": "diurnal", "peak_hour": 1},
            },
        ),
        (
            MMC,
            {
                "horizon": "60s",
                "warmup": "5s",
                "services.api.replicas": 200,
                "traffic.api.profile": {
                    "profile": "replay",
                    "file": "../eras/traffic.csv",
                    "interpolate": "linear",
                },
            },
        ),
        (
            MMC,
            {
                "horizon": "3000s",
                "services.api.service_time": {
                    "distribution": "empirical",
                    "samples": [0.2, 0.5, 1.0, 3.0],
                },
                "services.api.load_balancer": "round-robin",
                "services.api.concurrency": 2,
            },
        ),
    ],
    ids=[
        "mmc",
        "mmc-no-warmup",
        "central-queue",
        "round-robin",
        "random",
        "least-connections",
        "power-of-two",
        "two-entries",
        "web-shop",
        "diurnal",
        "replay",
        "empirical",
    ],
)
@pytest.mark.parametrize("seed", [1, 20261206])
def test_same_tables_and_kpis_as_the_general_engine(source, overrides, seed):
    scenario = simulator.load_scenario(source, overrides=overrides)
    result = compare(scenario, seed)
    assert len(result.tables["requests"]) > 100  # enough requests for the check to mean much


@pytest.mark.parametrize("table", ["spans", "requests"])
def test_same_results_with_a_table_not_recorded(table):
    scenario = simulator.load_scenario(
        MMC, overrides={"horizon": "2000s", f"metrics.record.{table}": False}
    )
    result = compare(scenario, 3)
    assert result.tables[table].empty


@pytest.mark.parametrize(
    "data",
    [{"horizon": 100, "services": {"a": {"replicas": 2}, "b": {}}}, {"horizon": 100}],
    ids=["no-traffic", "nothing"],
)
def test_same_results_with_nothing_to_serve(data):
    """Idle stations still have samples and capacity; an empty world has neither."""
    compare(simulator.load_scenario(data), 1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    replicas=st.integers(1, 4),
    concurrency=st.integers(1, 3),
    balancer=st.sampled_from(fastpath.BALANCERS),
    load=st.floats(0.2, 1.3),
    horizon=st.floats(20.0, 400.0),
    warmup_share=st.floats(0.0, 0.5),
    family=st.sampled_from(["exponential", "lognormal", "constant", "uniform"]),
    seed=st.integers(0, 2**32),
)
def test_any_simple_queue_matches_the_general_engine(
    replicas, concurrency, balancer, load, horizon, warmup_share, family, seed
):
    """Under- and overloaded queues of any size, policy, service family and horizon."""
    workers = replicas * concurrency
    service_time = {"distribution": family, "mean": 0.5}
    if family in ("lognormal", "uniform"):
        service_time["cv"] = 0.5
    scenario = simulator.load_scenario(
        {
            "horizon": horizon,
            "warmup": horizon * warmup_share,
            "services": {
                "api": {
                    "replicas": replicas,
                    "concurrency": concurrency,
                    "load_balancer": balancer,
                    "service_time": service_time,
                }
            },
            "traffic": {"api": {"rate": load * workers / 0.5}},
        }
    )
    compare(scenario, seed)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"engine": "general"}, "engine: general"),
        ({"services.api.queue_limit": 10}, "services.api.queue_limit"),
        ({"traffic.api.timeout": "5s"}, "traffic.api.timeout"),
        ({"autoscaling.enabled": True}, "autoscaling.enabled"),
        ({"deployment": "monolith"}, "deployment: monolith"),
        (
            {"services.api.slowdowns": [{"at": "100s", "duration": "100s", "factor": 2}]},
            "services.api.slowdowns",
        ),
        ({"services.api.handler": [{"work": "1s"}, {"work": "1s"}]}, "services.api.handler"),
        ({"services.api.threading": "thread-per-request"}, "services.api.threading"),
        ({"fidelity": "analytic"}, "fidelity: analytic"),
    ],
)
def test_what_the_fast_path_cannot_reproduce_runs_the_event_loop(overrides, key):
    scenario = simulator.load_scenario(
        MMC, overrides={"horizon": "300s", "warmup": "30s", **overrides}
    )
    assert fastpath.blocker(scenario) == key
    if scenario.fidelity == "request":
        world = World(scenario, 1)
        assert not fastpath.simulate(world)
        assert len(world.spans) == 0 and world.events.rows[-1][2] != "horizon_reached"
    assert not used_fast_path(simulator.run(scenario, 1))


def test_calls_and_subsystems_run_the_event_loop():
    for name in (
        "what-if/retry-storm.yaml",
        "examples/social-network.yaml",
        "delivery/lean-staging.yaml",
        "secrets/leak.yaml",
        "omega/example.yaml",
    ):
        assert fastpath.blocker(simulator.load_scenario(SCENARIOS / name)) is not None


def test_simultaneous_events_send_the_run_to_the_general_engine(monkeypatch):
    """An arrival exactly at a sampling instant: the recursion cannot tell which came first,
    so it leaves the world untouched and the runner runs the event loop."""
    scenario = simulator.load_scenario(
        MMC, overrides={"horizon": "100s", "warmup": "10s", "metrics.sample_interval": "1s"}
    )
    real = fastpath.arrival_times

    def arrivals_on_a_sample(traffic, rng, horizon):
        return np.sort(np.append(real(traffic, rng, horizon), 20.0))

    monkeypatch.setattr(fastpath, "arrival_times", arrivals_on_a_sample)
    world = World(scenario, 1)
    events = list(world.events.rows)
    assert not fastpath.simulate(world)
    assert len(world.spans) == 0 and len(world.samples.time) == 0
    assert world.events.rows == events
    assert not used_fast_path(simulator.run(scenario, 1))


def test_fcfs_by_hand():
    """Two workers (replicas 0 and 1): the first two start at once, the third takes the
    worker free first, the fourth the other; ends at or after `until` are not reached."""
    start, end, replica = fastpath.fcfs([0.0, 0.5, 1.0, 1.2], [2.0, 2.0, 2.0, 1.0], [0, 1], 3.0)
    assert start.tolist() == [0.0, 0.5, 2.0, 2.5]
    assert end[:2].tolist() == [2.0, 2.5] and np.isnan(end[2:]).all()
    assert replica.tolist() == [0, 1, 0, 1]
    start, end, replica = fastpath.fcfs([0.0, 5.0], [1.0, 1.0], [0], 5.0)
    assert start[0] == 0.0 and math.isnan(start[1]) and replica.tolist() == [0, -1]


def test_integrals_by_hand():
    """One worker: a request in service over [1, 3), another waiting over [2, 3) and then
    in service to 4; touched at 2.5 and at the horizon 5. Read at every instant, and at
    2.2, which takes the first instant after it (2.5)."""
    sampled, final = fastpath.integrals(
        np.array([1.0, 2.0]),
        np.array([1.0, 3.0]),
        np.array([3.0, 4.0]),
        np.array([2.5, 5.0]),
        1,
        np.array([1.0, 2.0, 2.2, 2.5, 3.0, 4.0, 5.0]),
    )
    busy, queued, in_flight, capacity = sampled.T.tolist()
    assert busy == [0.0, 1.0, 1.5, 1.5, 2.0, 3.0, 3.0]
    assert queued == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    assert in_flight == [0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0]
    assert capacity == [1.0, 2.0, 2.5, 2.5, 3.0, 4.0, 5.0]
    assert final.tolist() == [3.0, 1.0, 4.0, 5.0]
