"""Elasticity and cost: the HPA's rules as pure functions, and autoscaling in a run."""

import math
from collections import deque

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.model.autoscaling import hpa_recommendation, scale_up_allowance, stabilised


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
