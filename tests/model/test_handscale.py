"""Servers added by hand are real (request level): the remedy of an overload page buys the
nodes its replicas run on (servers and VMs: one each; a container cluster: room first), and
the run bills them from when they serve."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.engine import EventLog
from simulator.model.handscale import HandNodes, hand_placement
from simulator.model.world import World
from simulator.scenario import load_scenario
from simulator.subsystems import build_subsystems

PRICE = 0.096
LOCAL = {"same_node_latency": {"distribution": "constant", "mean": "50us"}}
"""A same-node latency: the World places replicas on nodes for the network."""

room = st.lists(st.integers(0, 4), max_size=6)


@given(st.integers(0, 12), room, st.integers(1, 4))
def test_servers_and_vms_get_a_new_machine_per_replica(count, free, slots):
    nodes, new = hand_placement(count, free, True, slots)
    assert new == count
    assert nodes == list(range(len(free), len(free) + count))


@given(st.integers(0, 12), room, st.integers(1, 4))
def test_a_cluster_fills_the_room_first_fit_then_adds_full_nodes(count, free, slots):
    nodes, new = hand_placement(count, free, False, slots)
    assert len(nodes) == count
    used = [nodes.count(node) for node in range(len(free) + new)]
    assert all(used[i] <= free[i] for i in range(len(free)))
    assert all(0 < n <= slots for n in used[len(free) :])
    rest = max(0, count - sum(free))
    assert new == -(-rest // slots)  # whole nodes, only for what did not fit
    if rest == 0:  # first-fit: a node is used only when the ones before it are full
        for node in set(nodes):
            assert all(used[i] == free[i] for i in range(node))


def test_the_fleet_a_person_grows():
    """Two replicas at the start, first-fit on m5.large (four slots of 0.5 CPU): room on
    node 0 for two, on node 1 for four. Nothing applies under an autoscaler or without
    priced nodes."""
    scenario = load_scenario(overloaded("vm"))
    hand = HandNodes.of(scenario, [2])
    assert hand is not None and hand.new_machines and hand.free == [2, 4]
    assert HandNodes.of(load_scenario(overloaded("vm", autoscaling={"enabled": True})), [2]) is None
    without = overloaded("vm")
    del without["cluster"]
    assert HandNodes.of(load_scenario(without), [2]) is None
    container = HandNodes.of(load_scenario(overloaded("container")), [2])
    assert container is not None and not container.new_machines


def test_bought_nodes_are_billed_from_when_they_serve():
    hand = HandNodes("m5.large", True, 1, [0, 0])
    events = EventLog()
    assert hand.add(100.0, "web", 2, events) == [2, 3]
    assert hand.add(400.0, "web", 1, events) == [4]
    assert hand.node_seconds(200.0, 1000.0) == 2 * 800 + 1 * 600
    assert hand.node_seconds(0.0, 50.0) == 0.0
    assert [hand.added_by(t) for t in (99.0, 100.0, 400.0)] == [0, 2, 3]


def overloaded(runtime: str, count: int = 2, cpu: float = 0.5, **more: object) -> dict:
    """One service 40% busy whose traffic triples at 10 min; checks every minute, a page
    after 2 minutes of saturation, and the responder's two servers serve a constant 15
    minutes after the diagnosis: on `count` priced nodes of the `runtime`."""
    scenario: dict = {
        "name": "overload-on-nodes",
        "seed": 4,
        "horizon": "45min",
        "warmup": "5min",
        "services": {
            "web": {
                "replicas": 2,
                "concurrency": 5,
                "service_time": {"distribution": "exponential", "mean": "500ms"},
                "load_balancer": "central-queue",
            }
        },
        "traffic": {"web": {"rate": 8, "profile": {"profile": "step", "at": "10min", "factor": 3}}},
        "slo": {"latency": "5s"},
        "cluster": {
            "node_types": {
                "m5.large": {
                    "count": count,
                    "cpu": 2,
                    "memory_gb": 8,
                    "price_per_hour": f"${PRICE}/h",
                    "runtime": runtime,
                }
            }
        },
        "workloads": {"microservices": {"cpu": cpu, "memory_gb": 1}},
        "organisation": {"operators": 1, "day_start": "0s", "day_end": "24h", "working_days": 7},
        "delivery": {"services": 1, "change_rate": 0, "process": "ticket"},
        "incidents": {
            "diagnosis_effort": "10min",
            "manual_scale_out": {
                "replicas": 2,
                "lead_time": {"distribution": "constant", "mean": "15min"},
            },
        },
        "monitoring": {"enabled": True, "slo": 0.99, "saturation": {"alert_for": "2min"}},
    }
    scenario.update(copy.deepcopy(more))
    return scenario


def _served(result: simulator.Result) -> float:
    """When the hand-added replicas started serving (the one scale-out of these runs)."""
    events = result.tables["events"]
    times = events.loc[events["kind"] == "replicas_added_by_hand", "time"]
    assert len(times) == 1
    return float(times.iloc[0])


def test_two_servers_added_by_hand_are_billed_until_the_horizon():
    """VMs: the two replicas come with two new VMs, billed from when they serve: the cost
    is the two fixed VMs over the measured period plus the new ones from then on."""
    result = simulator.run(overloaded("vm"))
    assert_billed(result)


def assert_billed(result: simulator.Result) -> None:
    """Two fixed VMs and two bought when the hand-added replicas served, billed to 45 min."""
    served = _served(result)
    assert result.summary["replicas_added_by_hand"] == 2
    period, horizon = 40 * 60.0, 45 * 60.0
    node_seconds = 2 * period + 2 * (horizon - served)
    assert result.summary["cost_usd"] == pytest.approx(node_seconds / 3600 * PRICE, rel=1e-12)
    assert result.summary["nodes_mean"] == pytest.approx(node_seconds / period, rel=1e-12)
    # The hand-added replicas ran exactly as long as the servers bought for them.
    hours = result.summary["replica_hours_added_by_hand"]
    assert result.summary["cost_usd"] - 2 * period / 3600 * PRICE == pytest.approx(hours * PRICE)
    costs = result.tables["costs"]
    assert (costs.loc[costs["time"] < served, "nodes"] == 2).all()
    assert (costs.loc[costs["time"] >= served, "nodes"] == 4).all()


def test_the_replicas_run_on_the_new_servers():
    """With a same-node latency the World places replicas for the network: the two at the
    start share node 0 (four slots each), the two added by hand get nodes 2 and 3."""
    scenario = load_scenario(overloaded("vm", network=LOCAL))
    world = World(scenario, 4, build_subsystems)
    world.run()
    assert world.placement is not None
    assert world.placement.replicas["web"] == {0: 2, 2: 1, 3: 1}
    assert world.nodes_now == 4


def test_a_container_cluster_places_them_where_there_is_room():
    """Containers of one CPU, two a node: with a second node's room the replicas go there
    and nothing is bought; on one full node, the person adds one node for both."""
    roomy = load_scenario(overloaded("container", cpu=1, network=LOCAL))
    world = World(roomy, 4, build_subsystems)
    world.run()
    assert world.placement is not None and world.placement.replicas["web"] == {0: 2, 1: 2}
    assert world.nodes_now == 2
    full = simulator.run(overloaded("container", count=1, cpu=1))
    served = _served(full)
    node_seconds = 40 * 60.0 + (45 * 60.0 - served)
    assert full.summary["cost_usd"] == pytest.approx(node_seconds / 3600 * PRICE, rel=1e-12)
