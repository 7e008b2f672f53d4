"""Elasticity and cost: the HPA's rules as pure functions, and autoscaling in a run."""

import math
from collections import deque

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.metrics.scaling import SCALING_COLUMNS
from simulator.model.autoscaling import hpa_recommendation, scale_up_allowance, stabilised
from simulator.records.scaling import REASONS
from tests.helpers import SCENARIOS


@given(st.integers(1, 500), st.floats(0, 1), st.floats(0.05, 1), st.floats(0, 0.5))
def test_hpa_follows_the_kubernetes_rule_when_every_pod_is_ready(
    current, utilisation, target, tolerance
):
    desired = hpa_recommendation(current, 0, current * utilisation, target, tolerance)
    if abs(utilisation / target - 1) <= tolerance:
        assert desired == current
    else:
        wanted = current * utilisation / target
        assert desired >= 1
        assert desired >= wanted - 1e-6
        assert desired < max(wanted, 1) + 1  # ceil, but never below one replica


@given(
    st.integers(1, 200), st.integers(1, 200), st.floats(0, 1), st.floats(0.05, 1),
    st.floats(0, 0.5),
)  # fmt: skip
def test_pods_not_ready_are_not_asked_for_twice_nor_retired_early(
    ready, unready, utilisation, target, tolerance
):
    busy = ready * utilisation
    current = ready + unready
    desired = hpa_recommendation(ready, unready, busy, target, tolerance)
    needed = math.ceil(busy / target - 1e-9)  # pods the measured work needs at the target
    if utilisation / target > 1 + tolerance:  # up: the pods on their way count as idle
        assert desired in (current, needed)
        assert desired >= current
    elif utilisation / target < 1 - tolerance:  # down: they count as fully used
        assert desired in (current, max(1, math.ceil(busy / target + unready - 1e-9)))
        assert desired <= current
    else:
        assert desired == current


def test_a_replica_on_its_way_covers_the_load_it_was_asked_for():
    # 4 ready pods fully busy at target 0.5 want 8; with 4 more starting, nothing more.
    assert hpa_recommendation(4, 0, 4.0, 0.5, 0.1) == 8
    assert hpa_recommendation(4, 4, 4.0, 0.5, 0.1) == 8
    assert hpa_recommendation(4, 2, 4.0, 0.5, 0.1) == 8
    # idle ready pods but a starting one: counted as fully used, the scale-down is smaller
    assert hpa_recommendation(4, 0, 0.4, 0.5, 0.1) == 1
    assert hpa_recommendation(4, 2, 0.4, 0.5, 0.1) == 3


def test_scale_up_is_limited_per_period():
    assert scale_up_allowance(current=2, added_recently=0, pods=4, percent=100) == 4
    assert scale_up_allowance(current=10, added_recently=0, pods=4, percent=100) == 10
    assert scale_up_allowance(current=10, added_recently=7, pods=4, percent=100) == 3
    assert scale_up_allowance(current=10, added_recently=12, pods=4, percent=100) == 0


def test_scale_down_waits_for_the_stabilisation_window():
    history = deque([(0.0, 9), (100.0, 3), (200.0, 2)])
    assert stabilised(history, now=250.0, window=300.0) == 9
    assert stabilised(history, now=350.0, window=300.0) == 3


def step_scenario(enabled: bool) -> dict:
    return {
        "horizon": "3600s",
        "warmup": "60s",
        "services": {"api": {"replicas": 2, "concurrency": 2, "max_replicas": 12,
                             "service_time": {"distribution": "exponential", "mean": "100ms"}}},
        "traffic": {"api": {"rate": "20/s", "timeout": "10s",
                            "profile": {"profile": "step", "at": "1200s", "factor": 4,
                                        "until": "2400s"}}},
        "cluster": {"node_types": {"small": {"count": 1, "cpu": 2, "memory_gb": 8,
                                             "price_per_hour": "$0.10/h", "boot_time": "60s",
                                             "runtime": "container"}}},
        "workloads": {"microservices": {"cpu": 1, "memory_gb": 1}},
        "autoscaling": {"enabled": enabled, "nodes": {"scale_down_delay": "120s"}},
    }  # fmt: skip


def test_replicas_and_nodes_follow_a_step_in_traffic_and_cost_follows_them():
    result = simulator.run(step_scenario(enabled=True))
    timeseries = result.tables["timeseries"]
    before = timeseries[timeseries.time < 1100].replicas
    during = timeseries[(timeseries.time > 1800) & (timeseries.time < 2400)].replicas
    after = timeseries[timeseries.time > 3300].replicas
    # 80/s × 0.1 s = 8 busy workers at 60% target: at least 14 workers, 7 replicas.
    assert before.max() <= 2 < during.min()
    assert during.max() >= 7
    assert after.max() < during.max()
    # Workers never serve more than they have, through every scale-up and scale-down.
    assert (timeseries.utilisation <= 1 + 1e-9).all()
    costs = result.tables["costs"]
    assert costs.nodes.max() >= 4 and costs.nodes.iloc[0] == 1
    node_hours = result.summary["nodes_mean"] * (3600 - 60) / 3600
    assert result.summary["cost_usd"] == pytest.approx(node_hours * 0.10)
    # The step overloads the service until new capacity boots (15 s sync, 60 s node boot);
    # once it has, requests succeed again.
    requests = result.requests
    settled = requests[(requests.arrival > 1800) & (requests.arrival < 2400)]
    assert (settled.status == "ok").mean() > 0.99


def test_fixed_capacity_costs_nodes_times_hours_and_fails_under_the_step():
    result = simulator.run(step_scenario(enabled=False))
    assert result.summary["cost_usd"] == pytest.approx(1 * 0.10 * (3600 - 60) / 3600)
    assert result.summary["nodes_mean"] == 1
    assert (result.tables["timeseries"].replicas == 2).all()
    assert result.summary["availability"] < 0.9  # 80/s against 40/s of capacity


def test_cost_is_not_a_number_without_priced_nodes():
    result = simulator.run(
        {"horizon": "100s", "services": {"a": {}}, "traffic": {"a": {"rate": 1}}}
    )
    assert np.isnan(result.summary["cost_usd"])


def test_the_spike_scenario_trades_cost_for_availability():
    path = "scenarios/what-if/hacker-news-spike.yaml"
    small = {"horizon": "3h", "traffic.blog.profile.hold": "30min"}
    elastic = simulator.run(path, overrides=small).summary
    fixed = simulator.run(path, overrides={**small, "autoscaling.enabled": False}).summary
    assert elastic["availability"] > 0.99 > 0.8 > fixed["availability"]
    assert elastic["cost_usd"] > fixed["cost_usd"]


# ------------------------------------------------------------------ the scaling table

SPIKE = SCENARIOS / "what-if" / "hacker-news-spike.yaml"
TINY_SPIKE = {
    "horizon": "1500s",
    "warmup": "100s",
    "traffic.blog.profile.start": "200s",
    "traffic.blog.profile.ramp_up": "100s",
    "traffic.blog.profile.hold": "500s",
    "traffic.blog.profile.decay": "100s",
    "cluster.node_types.m5.large.boot_time": "30s",
    "autoscaling.scale_down_stabilisation": "60s",
    "autoscaling.nodes.scale_down_delay": "60s",
}
"""A whole spike in 25 simulated minutes: replicas and nodes go up and back down."""
WHY = {
    ("replicas", True): "utilisation",
    ("replicas", False): "stabilised",
    ("nodes", True): "pending_pods",
    ("nodes", False): "idle_node",
}
"""The reason code of each kind of decision, by direction (up or not)."""


@pytest.fixture(scope="module")
def spike() -> simulator.Result:
    return simulator.run(SPIKE, overrides=TINY_SPIKE)


def decisions(result: simulator.Result) -> pd.DataFrame:
    """The autoscalers' scale-ups and scale-downs in the (prose) event log."""
    events = result.tables["events"]
    mine = events["component"].astype(str).str.startswith("autoscaler/") & events["kind"].isin(
        ["scale_up", "scale_down"]
    )
    return events[mine]


def assert_a_numeric_scaling_table(result: simulator.Result) -> None:
    """One row per decision of the event log, integer counts that chain per target, and the
    reason that goes with the kind and direction of each decision."""
    scaling = result.tables["scaling"]
    assert tuple(scaling.columns) == SCALING_COLUMNS
    assert scaling["from"].dtype.kind == "i" and scaling["to"].dtype.kind == "i"
    logged = decisions(result)
    assert len(scaling) == len(logged) > 0
    assert np.array_equal(scaling["time"].to_numpy(), np.sort(logged["time"].to_numpy()))
    assert set(scaling["reason"]) <= set(REASONS)
    up = scaling["to"] > scaling["from"]
    assert (scaling["to"] != scaling["from"]).all()
    expected = [WHY[kind, bool(u)] for kind, u in zip(scaling["kind"], up, strict=True)]
    assert list(scaling["reason"]) == expected
    assert {("replicas", True), ("replicas", False), ("nodes", True), ("nodes", False)} <= set(
        zip(scaling["kind"], up, strict=True)
    )
    replicas = scaling[scaling["kind"] == "replicas"]
    assert set(replicas["target"]) == {"blog"}
    assert replicas["from"].iloc[0] == result.scenario.services["blog"].replicas
    assert set(scaling.loc[scaling["kind"] == "nodes", "target"]) == {"m5.large"}
    for _, rows in scaling.groupby(["kind", "target"]):
        assert (rows["from"].to_numpy()[1:] == rows["to"].to_numpy()[:-1]).all()


def test_the_scaling_table_has_one_numeric_row_per_decision(spike: simulator.Result) -> None:
    assert_a_numeric_scaling_table(spike)


def test_the_scaling_table_agrees_with_the_sampled_replicas(spike: simulator.Result) -> None:
    """Replicas serve at most what was asked for, and exactly that once the slowest path
    from a decision to serving (a node scan, a node boot, a replica start) is over."""
    scenario = spike.scenario
    asked = spike.tables["scaling"]
    asked = asked[(asked["kind"] == "replicas") & (asked["target"] == "blog")]
    when = asked["time"].to_numpy()
    levels = np.concatenate([asked["from"].to_numpy()[:1], asked["to"].to_numpy()])
    series = spike.tables["timeseries"]
    series = series[series["service"].astype(str) == "blog"]
    time, serving = series["time"].to_numpy(), series["replicas"].to_numpy()
    after = levels[np.searchsorted(when, time, side="right")]
    before = levels[np.searchsorted(when, time, side="left")]  # a decision at a sample's instant
    assert (serving <= np.maximum(after, before)).all()
    node_type = scenario.cluster.node_type_list()[0][1]
    start = scenario.cluster.runtimes[node_type.runtime].start_time
    lag = scenario.autoscaling.nodes.scan_interval + node_type.boot_time + start
    last = np.concatenate([[-np.inf], when])[np.searchsorted(when, time, side="right")]
    settled = time > last + lag + 1e-6
    assert settled.sum() > len(time) / 2
    assert np.array_equal(serving[settled], after[settled])
    assert (serving[~settled] != after[~settled]).any()  # the lag shows


def test_the_analytic_fidelity_gives_the_same_scaling_table() -> None:
    fast = simulator.run(SPIKE, overrides={**TINY_SPIKE, "fidelity": "analytic"})
    assert_a_numeric_scaling_table(fast)


def test_the_scaling_table_is_there_when_nothing_scales() -> None:
    for fidelity in ("request", "analytic"):
        overrides = {**TINY_SPIKE, "autoscaling.enabled": False, "fidelity": fidelity}
        scaling = simulator.run(SPIKE, overrides=overrides).tables["scaling"]
        assert scaling.empty and tuple(scaling.columns) == SCALING_COLUMNS
