"""Node failures at the analytic fidelity (`simulator.analytic.nodes`): the request level's
failed nodes on the analytic stations. Which replicas a node holds is the request level's
first-fit; the same node fails at the same instant at both fidelities (the same streams);
its replicas are gone from the step edge nearest the failure until a person replaces the
node; monitoring's node-down page (or a customer) opens the incident and the responder's
remedy brings them back, as at request level.

Cross-validated against the request level on `one-world/node-failure.yaml` with a scripted
failure at a higher load (so the lost server shows in the queues): the incidents agree to
the microsecond, requests failed within 25% over five seeds (measured −15%) and the mean
latency of every seed within 5% (measured −0.1% to +3.8%). Under the autoscaler the same
nodes fail and are replaced with no page; a rack takes all its nodes at once, at both
fidelities; a station with no replica left refuses its requests (`unavailable`) within 2%
(10% under the autoscaler) of the request level's share.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import simpy

import simulator
from simulator.analytic import AnalyticServices
from simulator.model.autoscaling import NodePool
from simulator.model.context import RunContext
from simulator.model.failures import first_fit, node_slots, simulates_node_failures
from simulator.model.world import World
from simulator.scenario.loader import load_scenario
from simulator.subsystems import build_subsystems

SHIPPED = "one-world/node-failure.yaml"
REPAIR, BOOT, START = 1200.0, 90.0, 26.0
"""The scenario's repair by hand, a VM's boot and a VM runtime's start."""

SCRIPTED = {
    "services.blog.queue_limit": None,  # failure KPIs are NaN at the analytic fidelity with it
    "services.blog.concurrency": 1,  # 1.6 busy of 3 workers, of 2 while a server is down
    "services.blog.load_balancer": "central-queue",
    "cluster.failures.node_mtbf": "100000d",  # only the scripted failure, in practice
    "cluster.failures.scripted": [{"node": 1, "at": "2h"}],
}
"""The shipped night at a load where a lost server queues (ρ = 0.53 → 0.8), with the failure
at a given time, so that every seed fails the same node at the same instant."""


def _analytic(overrides: dict, seed: int, organisation: bool = True) -> AnalyticServices:
    """The analytic services of a run, wired as the runner wires them (`connect`), run to
    the horizon; without `organisation` no subsystem is built (nobody acts)."""
    scenario = load_scenario(SHIPPED, {**overrides, "fidelity": "analytic"})
    context = RunContext.start(scenario, seed)
    services = AnalyticServices(context)
    context = replace(context, analytic=services.handles())
    services.connect(build_subsystems(context) if organisation else {})
    context.env.run(until=scenario.horizon)
    return services


def _replicas(services: AnalyticServices) -> pd.Series:
    """The blog's replicas per step start."""
    timeline = services.timeline
    return pd.Series(services.steps.replicas[timeline.state, 0], index=timeline.starts)


def test_first_fit_holds_what_the_request_level_binds():
    """Six replicas of two services, two a node: the World's binding, counted."""
    scenario = load_scenario(
        {
            "name": "bound",
            "services": {"web": {"replicas": 3}, "db": {"replicas": 3}},
            "traffic": {"web": {"rate": "1/s"}},
            "cluster": {
                "node_types": {"small": {"count": 3, "cpu": 1, "memory_gb": 4}},
                "failures": {"enabled": True},
            },
            "workloads": {"microservices": {"cpu": 0.5, "memory_gb": 1}},
        }
    )
    world = World(scenario, 1, build_subsystems)
    assert world.failures is not None
    held = first_fit([3, 3], node_slots(1, 4, 0.5, 1), 3)
    bound = [
        {s: list(b.values()).count(node) for s, b in enumerate(world.failures.bound)}
        for node in range(3)
    ]
    assert held == [{s: n for s, n in node.items() if n} for node in bound]
    assert held == [{0: 2}, {0: 1, 1: 1}, {1: 2}]
    assert first_fit([5], 2, 1) == [{0: 2}, {0: 2}, {0: 1}]  # nodes added, as at the start


@pytest.mark.parametrize(
    ("node", "replica"),
    [((2, 8), (0.5, 1)), ((2, 8), (0.3, 1)), ((1, 4), (0.1, 0.3)), ((2, 8), (2, 8))],
)
def test_node_slots_are_what_first_fit_places(node, replica):
    pool = NodePool(simpy.Environment(), node[0], node[1], 0.0)
    pool.add(ready=True)
    placed = 0
    while pool.place(*replica) is not None:
        placed += 1
    assert node_slots(*node, *replica) == placed


def test_the_same_node_fails_at_the_same_instant_and_stays_down_when_nobody_acts():
    """Without an organisation the node is never replaced: at both fidelities the blog has
    two servers from the failure to the horizon; here from the step edge nearest it."""
    request = World(load_scenario(SHIPPED), 22, build_subsystems)
    request.run()
    assert request.failures is not None
    services = _analytic({}, 22, organisation=False)
    assert services.nodes is not None
    failed = [(round(t, 9), node, lost) for t, node, lost in services.nodes.failures]
    assert failed == [(round(t, 9), node, lost) for t, node, lost in request.failures.failures]
    assert [(round(t, 6), n, k) for t, n, k in failed] == [(6690.788213, 2, 1)]
    replicas = _replicas(services)
    edge = float(np.round(6690.788213 / 15) * 15)  # 15 s steps: 6,690 s is the nearest edge
    assert set(replicas[replicas.index < edge]) == {3}
    assert set(replicas[replicas.index >= edge]) == {2}
    stale = services.nodes.stale[0][1]
    assert 0 < stale < 1.6 / 3 + 0.2  # a third of the blog's 1.6 visits in progress, and waits


def test_without_monitoring_a_customer_reports_it_and_the_responder_replaces_the_node():
    services = _analytic({**SCRIPTED, "monitoring.enabled": False, "horizon": "2d"}, 3)
    events = services.events.table()
    repaired = events[events["kind"] == "node_repaired"]["time"].tolist()
    assert len(repaired) == 1
    replicas = _replicas(services)
    half = float(np.median(services.timeline.dt)) / 2  # the change is at the nearest edge
    assert set(replicas[replicas.index < 7200]) == {3}
    down = replicas[(replicas.index >= 7200) & (replicas.index < repaired[0] - half)]
    assert len(down) and set(down) == {2}
    assert set(replicas[replicas.index >= repaired[0] + half]) == {3}
    repair = events[events["kind"] == "node_repair"]["time"].tolist()
    assert repaired[0] - repair[0] == pytest.approx(REPAIR + BOOT + START)


def test_the_lost_server_queues_and_times_out():
    """With the server down from 2 h to the horizon (nobody acts) the two left run at 0.8:
    requests wait and time out; the visits in progress on it fail."""
    never = {**SCRIPTED, "cluster.failures.scripted": []}
    down = _analytic(SCRIPTED, 1, organisation=False).results()[0]
    baseline = _analytic(never, 1, organisation=False).results()[0]
    assert down["requests_failed"] > 3 * baseline["requests_failed"]
    assert down["latency_mean_s"] > 1.2 * baseline["latency_mean_s"]
    assert down["error_rate_stale_endpoint"] > 0 == baseline["error_rate_stale_endpoint"]
    for autoscaled in ("false", "true"):
        both = {"fidelity": "analytic", "autoscaling.enabled": autoscaled}
        assert simulates_node_failures(load_scenario(SHIPPED, both))


ALONE = {
    "services.blog.queue_limit": None,
    "services.blog.replicas": 1,
    "cluster.node_types.m5.large.count": 1,
    "cluster.failures.node_mtbf": "100000d",
    "cluster.failures.scripted": [{"node": 0, "at": "2h"}],
}
"""One server on one VM, which fails at 2 h: nothing serves the blog until it is replaced."""


def test_a_station_with_no_replica_left_refuses_its_visits():
    """As the request level's load balancer with no backend: every request from the failure
    on fails `unavailable` (nobody acts: 21,600 of the 27,000 measured seconds), none
    queues, and the tables show no replica, nothing busy and nothing saturated."""
    services = _analytic(ALONE, 1, organisation=False)
    summary, tables = services.results()
    assert summary["error_rate_unavailable"] == pytest.approx(21600 / 27000, rel=2e-3)
    assert summary["latency_mean_s"] == pytest.approx(0.4, rel=0.01)  # those served before
    series = tables["timeseries"]
    after = series[series["time"] >= 7200]
    assert set(after["replicas"]) == {0} and set(after["utilisation"]) == {0.0}
    assert not after["saturated"].any()
    assert set(series[series["time"] < 7200]["replicas"]) == {1}


def test_a_lone_server_fails_alike_at_both_fidelities():
    """Refused until the node-down page's remedy: 39.1% of the requests unavailable at the
    analytic fidelity against 39.0% at request level (seed 1), the same incident."""
    runs = {
        fidelity: simulator.run(SHIPPED, seed=1, overrides={**ALONE, "fidelity": f})
        for fidelity in ("analytic", "request")
        for f in [fidelity]
    }
    assert _incidents(runs["analytic"]) == _incidents(runs["request"])
    assert len(_incidents(runs["analytic"])) == 1
    unavailable = runs["analytic"].summary["error_rate_unavailable"]
    assert unavailable == pytest.approx(runs["request"].summary["error_rate_unavailable"], rel=0.02)


def _failures(result: simulator.Result) -> list[tuple[float, str]]:
    events = result.tables["events"]
    failed = events[events["kind"] == "node_failed"]
    return [
        (round(t, 6), detail) for t, detail in zip(failed["time"], failed["detail"], strict=True)
    ]


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({}, [(6690.788213, "node 2: 1 replicas"), (13462.657836, "node 3: 1 replicas")]),
        ({**SCRIPTED, "horizon": "4h"}, [(7200.0, "node 1: 1 replicas")]),
    ],
)
def test_under_the_autoscaler_the_same_nodes_fail_and_are_replaced_alike(changes, failed):
    """The SRE era's way: the same VMs fail at the same instants at both fidelities (the
    one booted to replace the first, node 3, too), the node autoscaler boots a node at the
    scan after each, nothing pages (no node-down rule), and the nodes billed agree to 1%."""
    overrides = {**changes, "autoscaling.enabled": True, "services.blog.queue_limit": None}
    runs = {
        fidelity: simulator.run(SHIPPED, seed=22, overrides={**overrides, "fidelity": f})
        for fidelity in ("analytic", "request")
        for f in [fidelity]
    }
    assert _failures(runs["analytic"]) == _failures(runs["request"]) == failed
    for result in runs.values():
        events = result.tables["events"]
        boots = events[(events["component"] == "autoscaler/nodes") & (events["kind"] == "scale_up")]
        assert list(boots["time"])[: len(failed)] == [math.ceil(t / 10) * 10 for t, _ in failed]
        assert "node-down" not in set(result.tables["alerts"].get("rule", []))
    nodes = runs["analytic"].summary["nodes_mean"]
    assert nodes == pytest.approx(runs["request"].summary["nodes_mean"], rel=0.01)
    assert runs["analytic"].summary["error_rate_stale_endpoint"] > 0


def _incidents(result: simulator.Result) -> list[tuple]:
    timeline = result.tables["incident_timeline"]
    return [
        (
            row.cause,
            row.source,
            row.rule,
            round(row.started, 6),
            round(row.detected, 6),
            round(row.resolved, 6),
        )
        for row in timeline.itertuples()
    ]


def test_the_shipped_night_pages_alike_at_both_fidelities():
    """The VM that fails at 01:51 pages the sysadmin at 02:00 and serves again at 03:10, at
    both fidelities; the delivery model draws no infrastructure incident of its own."""
    request = simulator.run(SHIPPED)
    analytic = simulator.run(SHIPPED, overrides={"fidelity": "analytic"})
    assert _incidents(analytic) == _incidents(request)
    assert _incidents(analytic) == [
        ("infrastructure", "page", "node-down", 6690.788213, 7200.0, 11418.764598)
    ]
    alerts = analytic.tables["alerts"]
    assert list(alerts[alerts["rule"] == "node-down"]["fired"]) == [7200.0]


def test_a_failure_costs_alike_at_both_fidelities():
    """Five seeds, the same failure: the incidents agree to the microsecond (the same
    streams decide the response, the diagnosis and the repair), the requests failed within
    25% of the request level's over the five (measured −15%: 1,281 against 1,505), the mean
    latency of each seed within 5%."""
    failed = {"analytic": 0.0, "request": 0.0}
    for seed in range(1, 6):
        runs = {
            fidelity: simulator.run(
                SHIPPED, seed=seed, overrides={**SCRIPTED, "fidelity": fidelity}
            )
            for fidelity in failed
        }
        incidents = _incidents(runs["analytic"])
        assert incidents == _incidents(runs["request"])
        assert [i[:3] for i in incidents] == [("infrastructure", "page", "node-down")]
        for fidelity, result in runs.items():
            failed[fidelity] += result.summary["requests_failed"]
        mean = runs["analytic"].summary["latency_mean_s"]
        assert mean == pytest.approx(runs["request"].summary["latency_mean_s"], rel=0.05)
    assert failed["analytic"] == pytest.approx(failed["request"], rel=0.25)
    assert not math.isnan(failed["analytic"])


RACK = {
    "services.blog.queue_limit": None,
    "cluster.failures.node_mtbf": "100000d",
    "cluster.failures.rack_mtbf": "4h",  # short, so that the rack fails within the night
}
"""The three VMs in one rack (40 nodes a rack), which fails: nothing serves until the
facility's repair (1–6 h), the boot and the start."""


def _failure_events(events: pd.DataFrame) -> list[tuple[float, str, str]]:
    rows = events[events["component"] == "failures"]
    rows = rows[rows["kind"].isin(["rack_failed", "node_failed", "node_repaired"])]
    return [
        (round(t, 6), k, d)
        for t, k, d in zip(rows["time"], rows["kind"], rows["detail"], strict=True)
    ]


def test_a_rack_fails_its_nodes_alike_at_both_fidelities():
    """Every node of the rack fails at the rack's instant and serves again when the
    facility's repair, the boot and the start are over, at both fidelities (nobody
    replaces a machine of a rack that is down: the remedy waits); meanwhile the blog
    refuses every request (`unavailable`), within 2% of the request level's share."""
    request = simulator.run(SHIPPED, seed=22, overrides=RACK)
    services = _analytic(RACK, 22, organisation=False)
    analytic = _failure_events(services.events.table())
    assert analytic == _failure_events(request.tables["events"])
    kinds = [kind for _, kind, _ in analytic]
    assert kinds[:4] == ["rack_failed"] + ["node_failed"] * 3
    assert kinds.count("node_repaired") == 3
    unavailable = services.results()[0]["error_rate_unavailable"]
    assert unavailable == pytest.approx(request.summary["error_rate_unavailable"], rel=0.02)
    assert unavailable > 0.1


def test_under_the_autoscaler_a_rack_leaves_nothing_serving_until_new_nodes_boot():
    """The rack's three VMs leave the pool at once; the node autoscaler boots three more at
    its next scan; until they and the blog have started every request is refused: 0.44% of
    the night's requests against 0.43% at request level (within 10%)."""
    overrides = {**RACK, "autoscaling.enabled": True}
    runs = {
        fidelity: simulator.run(SHIPPED, seed=22, overrides={**overrides, "fidelity": f})
        for fidelity in ("analytic", "request")
        for f in [fidelity]
    }
    assert _failures(runs["analytic"]) == _failures(runs["request"])
    assert len(_failures(runs["analytic"])) == 3
    unavailable = runs["analytic"].summary["error_rate_unavailable"]
    assert unavailable == pytest.approx(runs["request"].summary["error_rate_unavailable"], rel=0.1)
    assert unavailable > 0
