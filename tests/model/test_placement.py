"""The network knows where replicas run: a call between replicas on one node is faster."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.model.placement import share_same_node
from simulator.model.world import World

per_node = st.dictionaries(st.integers(0, 5), st.integers(1, 4), max_size=6)


@given(per_node, per_node)
def test_the_chance_of_staying_local_is_that_of_two_independent_replicas(caller, callee):
    share = share_same_node(caller, callee)
    assert share == pytest.approx(share_same_node(callee, caller))
    assert 0.0 <= share <= 1.0
    if not set(caller) & set(callee):
        assert share == 0.0
    if caller and callee:
        expected = sum(
            caller[node] / sum(caller.values()) * callee.get(node, 0) / sum(callee.values())
            for node in caller
        )
        assert share == pytest.approx(expected)


def test_one_shared_node_keeps_every_call_local():
    assert share_same_node({7: 3}, {7: 2}) == 1.0


CHAIN = {
    "horizon": "600s",
    "warmup": "60s",
    "seed": 3,
    "services": {
        "front": {"replicas": 2, "handler": [{"work": {"distribution": "exponential",
                                                        "mean": "5ms"}}, {"call": "back"}]},
        "back": {"replicas": 2, "service_time": {"distribution": "exponential", "mean": "5ms"}},
    },
    "traffic": {"front": {"rate": "20/s"}},
    "network": {"latency": {"distribution": "constant", "mean": "10ms"},
                "same_node_latency": {"distribution": "constant", "mean": "1ms"}},
    "cluster": {"node_types": {"n": {"count": 1, "cpu": 8, "memory_gb": 32,
                                     "price_per_hour": 1}}},
    "workloads": {"microservices": {"cpu": 1, "memory_gb": 1}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("cpu", "local_share"),
    [(8, 1.0), (3, 0.5), (1, 0.0)],  # first-fit: f f b b on one node; f f b | b; one per node
)
def test_calls_between_replicas_on_one_node_take_the_same_node_latency(cpu, local_share):
    scenario = copy.deepcopy(CHAIN)
    scenario["cluster"]["node_types"]["n"]["cpu"] = cpu
    summary = simulator.run(scenario).summary
    # 10 ms of work, and the call's round trip: 2 × (1 ms local, or 10 ms across nodes).
    expected = 0.010 + 2 * (local_share * 0.001 + (1 - local_share) * 0.010)
    # ~10,800 requests: the work's standard error is ~0.07 ms and that of the share of
    # local calls ~0.09 ms, so 0.6 ms is more than five standard errors.
    assert summary["latency_mean_s"] == pytest.approx(expected, abs=0.0006)


def test_without_a_same_node_latency_every_call_crosses_the_network():
    scenario = copy.deepcopy(CHAIN)
    del scenario["network"]["same_node_latency"]
    summary = simulator.run(scenario).summary
    assert summary["latency_mean_s"] == pytest.approx(0.030, abs=0.0006)


def test_the_autoscaler_keeps_the_placement_of_serving_replicas():
    scenario = copy.deepcopy(CHAIN)
    scenario["traffic"]["front"] = {
        "rate": "20/s",
        "profile": {"profile": "step", "at": "200s", "factor": 20, "until": "400s"},
    }
    scenario["cluster"]["node_types"]["n"].update({"cpu": 2, "boot_time": "30s"})
    scenario["autoscaling"] = {
        "enabled": True,
        "behavior": {"scale_down": {"stabilization_window_seconds": "60s"}},
    }
    world = World(simulator.load_scenario(scenario), seed=1)
    world.run()
    assert world.placement is not None
    for station in world.stations:
        placed = world.placement.replicas[station.name]
        assert sum(placed.values()) == station.replicas
    kinds = set(world.events.table().kind)
    assert {"scale_up", "scale_down"} <= kinds
