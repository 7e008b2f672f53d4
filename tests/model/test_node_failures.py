"""Node failures at request level (`simulator/model/failures.py`): a failed node stops
exactly its replicas; nobody acts without an organisation; a customer reports it without
monitoring; monitoring's node-down rule pages and the responder's remedy replaces the node;
the autoscaler replaces the replicas with no page; the delivery model draws no
infrastructure incidents for the services whose failures are simulated."""

from __future__ import annotations

import copy
import math

import pytest

import simulator
from simulator.errors import ScenarioError
from simulator.model.delivery.capacity import infrastructure_mtbf
from simulator.model.failures import replaced_automatically, simulates_node_failures
from simulator.model.monitoring.rules import node_down
from simulator.model.world import World
from simulator.scenario.loader import load_scenario
from simulator.subsystems import build_subsystems

START = 26.0
"""A VM runtime's start time (the replicas' start)."""
BOOT = 90.0
REPAIR = 600.0

BASE: dict = {
    "name": "node-failures",
    "seed": 5,
    "horizon": "4h",
    "engine": "general",
    "services": {
        "web": {
            "replicas": 3,
            "concurrency": 4,
            "handler": [{"work": "10ms"}, {"call": "db"}],
        },
        "db": {"replicas": 3, "concurrency": 4},
    },
    "traffic": {"web": {"rate": "2/s"}},
    "network": {"same_node_latency": {"distribution": "constant", "mean": "50us"}},
    "cluster": {
        "node_types": {
            "small": {"count": 3, "cpu": 1, "memory_gb": 4, "boot_time": BOOT, "runtime": "vm"}
        },
        "failures": {
            "enabled": True,
            "node_mtbf": "6h",
            "node_repair": {"distribution": "constant", "mean": REPAIR},
        },
    },
}


def _scenario(**changes: object) -> dict:
    scenario = copy.deepcopy(BASE)
    scenario.update(copy.deepcopy(changes))
    return scenario


def _world(scenario: dict, seed: int = 5) -> World:
    world = World(load_scenario(scenario), seed, build_subsystems)
    world.run()
    return world


def _organisation() -> dict:
    return {
        "organisation": {"operators": 1},
        "delivery": {"services": 2, "change_rate": 0, "process": "ticket"},
    }


def test_the_rule_and_when_failures_are_simulated():
    assert node_down(1) and not node_down(0)
    assert simulates_node_failures(load_scenario(BASE))
    with_scheduler = _scenario(scheduler={"architecture": "shared-state"})
    assert not simulates_node_failures(load_scenario(with_scheduler))
    off = _scenario()
    off["cluster"]["failures"]["enabled"] = False
    assert not simulates_node_failures(load_scenario(off))
    assert not replaced_automatically(load_scenario(BASE))
    assert replaced_automatically(load_scenario(_scenario(autoscaling={"enabled": True})))


def test_a_failure_stops_exactly_the_replicas_of_its_node_and_nobody_acts():
    """Two replicas a node, first-fit: web 0, 1 on node 0; web 2 and db 0 on node 1; db 1,
    2 on node 2. Without an organisation nobody repairs anything: the replicas of each
    failed node are gone at the horizon, and only they (the network's placement too)."""
    scenario = _scenario(horizon="6h")
    before = World(load_scenario(scenario), 5, build_subsystems)
    assert before.failures is not None
    assert before.failures.bound == [{0: 0, 1: 0, 2: 1}, {0: 1, 1: 2, 2: 2}]
    world = _world(scenario)
    failures = world.failures
    assert failures is not None
    failed = {node for _, node, _ in failures.failures}
    assert failed and len(failed) == len(failures.failures)  # down for good: never again
    for station, bound in zip(world.stations, before.failures.bound, strict=True):
        expected = {replica for replica, node in bound.items() if node not in failed}
        assert set(station.live_replicas()) == expected
        assert world.placement is not None
        on_nodes = world.placement.replicas[station.name]
        assert sum(on_nodes.values()) == len(expected)
        assert not set(on_nodes) & failed
    lost = sum(n for _, _, n in failures.failures)
    assert lost == sum(1 for b in before.failures.bound for n in b.values() if n in failed)


def _timeline(result: simulator.Result):
    timeline = result.tables["incident_timeline"]
    return timeline[timeline["cause"] == "infrastructure"]


def test_without_monitoring_a_customer_reports_it_and_the_responder_replaces_the_node():
    result = simulator.run(_scenario(**_organisation()))
    timeline = _timeline(result)
    assert len(timeline) >= 1
    assert set(timeline["source"]) == {"customer"}
    assert "alerts" not in result.tables  # monitoring is off: nothing pages
    for _, row in timeline.iterrows():
        if math.isnan(row["resolved"]):
            continue
        assert row["remediation_s"] == pytest.approx(REPAIR + BOOT + START)


def test_with_monitoring_the_node_down_rule_pages_and_the_remedy_replaces_the_node():
    """The page comes `alert_for` after the failure (within a scrape and an evaluation),
    the incident is of cause infrastructure, and its time to restore is detection +
    response + diagnosis + remediation, the remediation the repair, the boot and the
    replicas' start. Once it is resolved every replica serves again."""
    scenario = _scenario(**_organisation(), monitoring={"enabled": True}, horizon="6h")
    world = _world(scenario, seed=17)  # three failures, all repaired within the horizon
    failures = world.failures
    assert failures is not None and len(failures.failures) == 3
    result = simulator.run(scenario, seed=17)
    alerts = result.tables["alerts"]
    down = alerts[alerts["rule"] == "node-down"]
    assert len(down) >= 1
    first = down.iloc[0]
    failed_at = failures.failures[0][0]
    assert first["started"] == pytest.approx(failed_at)
    settings = load_scenario(scenario).monitoring
    late = settings.scrape_interval + 2 * settings.evaluation_interval
    assert settings.alert_for <= first["fired"] - failed_at <= settings.alert_for + late
    assert first["action"] == "incident" and first["cause"] == "infrastructure"
    timeline = _timeline(result)
    assert set(timeline["source"]) == {"page"} and set(timeline["rule"]) == {"node-down"}
    resolved = timeline.dropna(subset=["resolved"])
    assert len(resolved) == len(timeline) == 3
    for _, row in resolved.iterrows():
        parts = row["detection_s"] + row["response_s"] + row["diagnosis_s"]
        assert row["time_to_restore_s"] == pytest.approx(parts + row["remediation_s"])
        assert row["remediation_s"] == pytest.approx(REPAIR + BOOT + START)
    assert not failures.down
    assert [s.replicas for s in world.stations] == [3, 3]


def test_the_autoscaler_replaces_the_replicas_after_their_start_with_no_page():
    """Under the HPA (held at 4 replicas) the failed node leaves the pool; its replicas
    start on the spare node (no node autoscaler to retire it) and serve after the replica
    start time; nothing pages."""
    scenario = _scenario(
        **_organisation(),
        monitoring={"enabled": True},
        autoscaling={"enabled": True, "nodes": {"enabled": False}},
        services={
            "web": {
                "replicas": 4,
                "min_replicas": 4,
                "max_replicas": 4,
                "concurrency": 4,
                "service_time": {"distribution": "exponential", "mean": "20ms"},
            }
        },
        network={},
        horizon="2h",  # one failure (the next, at 2 h 1 min, would leave no room)
    )
    scenario["cluster"]["failures"]["node_mtbf"] = "2h"
    world = World(load_scenario(scenario), 2, build_subsystems)  # a node with replicas fails
    failures = world.failures
    assert failures is not None
    station = world.stations[0]
    env = world.env
    while not failures.failures and env.now < 2 * 3600:
        env.run(until=env.now + 1.0)
    assert failures.failures, "no failure in the horizon: pick another seed"
    failed_at, _, lost = failures.failures[0]
    assert lost > 0 and station.replicas == 4 - lost
    env.run(until=failed_at + START - 0.5)
    assert station.replicas == 4 - lost
    env.run(until=failed_at + START + 0.5)
    assert station.replicas == 4
    result = simulator.run(scenario, seed=2)
    assert result.tables["alerts"].empty
    timeline = _timeline(result)
    assert timeline[timeline["service"] == 0].empty


def test_the_same_seed_gives_the_same_failures_and_incidents():
    scenario = _scenario(**_organisation(), monitoring={"enabled": True})
    one, two = _world(scenario), _world(scenario)
    assert one.failures is not None and two.failures is not None
    assert one.failures.failures == two.failures.failures
    first = simulator.run(scenario, seed=9).tables["incident_timeline"]
    again = simulator.run(scenario, seed=9).tables["incident_timeline"]
    assert first.equals(again)


def test_the_delivery_model_draws_no_infrastructure_incidents_for_served_services():
    """Delivery service 0 is the scenario's `web`, 1 its `db`, and a third one runs on a
    copy of `web` (`served_world`): all three run on the simulated nodes, so their
    infrastructure incidents are the runtime's node failures, none drawn. Under a
    scheduler model the runtime fails no service's node, and the node MTBF (a service's
    failure every 15 min here) draws nothing either: the one world has no such failures.
    A drawn `incidents.infrastructure_mtbf` beside the runtime is refused."""
    organisation = _organisation()
    organisation["delivery"]["services"] = 3
    scenario = _scenario(**organisation)
    scenario["cluster"]["failures"]["node_mtbf"] = "1000d"
    result = simulator.run(scenario)
    assert list(result.scenario.services) == ["web", "db", "web-2"]
    assert _timeline(result).empty
    scheduled = _scenario(**organisation, scheduler={"architecture": "shared-state"})
    scheduled["cluster"]["failures"]["node_mtbf"] = "30min"
    assert not simulates_node_failures(load_scenario(scheduled))
    assert infrastructure_mtbf(load_scenario(scheduled)) == 900.0
    assert simulator.run(scheduled).tables["incidents"].empty
    drawn = _scenario(**organisation, incidents={"infrastructure_mtbf": "30min"})
    with pytest.raises(ScenarioError, match=r"incidents\.infrastructure_mtbf: expected 0s"):
        load_scenario(drawn)


def test_a_scripted_failure_fails_its_node_at_its_time_once():
    """`failures.scripted`: node 1 fails at 1 h (the MTBF's own draws made rare), stops its
    replicas (web 2 and db 0), and a second failure asked of a node that is down already,
    or of one that does not exist, fails nothing (the log says so)."""
    scenario = _scenario()
    scenario["cluster"]["failures"].update(
        node_mtbf="10000d",
        scripted=[{"node": 1, "at": "1h"}, {"node": 1, "at": "90min"}, {"node": 7, "at": "2h"}],
    )
    world = _world(scenario)
    assert world.failures is not None
    assert world.failures.failures == [(3600.0, 1, 2)]
    events = world.events.table()
    refused = events[events["kind"] == "not_failed"]
    assert refused["time"].tolist() == [5400.0, 7200.0]
