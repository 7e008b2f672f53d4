"""Node failures at request level: the cluster's nodes fail, the replicas on them stop, and
they come back only when something acts.

When a request-level scenario's services run on nodes (a cluster with node types and no
`scheduler:` section, whose own model simulates failures) and `cluster.failures.enabled`,
each node fails at `failures.node_mtbf` (exponential times while it is up, drawn from its
own stream `failures/node/N`). The replicas on a failed node stop at once (the station's
`remove_replica(failed=True)`: the work they had fails), and:

- under an autoscaler (the SRE era's HPA and cluster), the failed node leaves the pool and
  its replicas are replaced without a human, as a ReplicaSet replaces evicted pods: new
  replicas placed on nodes with room (or, without room, booted nodes first), serving after
  the replica start time;
- otherwise the node stays down until a person repairs it (`repair`): monitoring's
  node-down rule pages and the responder's remedy replaces the node
  (`failures.node_repair`), which boots (`boot_time`) and starts its replicas again (the
  runtime's start time); without monitoring, a customer reports it to the organisation
  (`monitoring.customer_report_delay`); without an organisation nobody does.

Racks and power domains fail too, as in the scheduler model (`cluster.nodes_per_rack`,
`failures.nodes_per_power_domain`: consecutive nodes, `failure_domains`): each at its own
MTBF (`failures.rack_mtbf`, `power_mtbf`) from its own stream (`failures/rack/N`,
`failures/power/N`), of the domains the starting nodes fill; every node of it that is up
fails at once. Nobody replaces those machines: they serve again when the facility's repair
ends (`rack_repair`, `power_repair`), their boot and their replicas' start; a responder's
remedy waits for that. Under an autoscaler they leave the pool as a failed node does.

Which station replica ran on a node is a label: the replicas placed there at the start
(first-fit, as the World places them for the network), rebound to another live replica of
the station when a rollout retired it meanwhile.

The analytic fidelity fails the same nodes at the same instants (the same streams, the same
draws) and brings them back the same way (`simulator.analytic.nodes.AnalyticNodeFailures`,
a subclass): it counts replicas instead of binding them, with the pure functions here
(`node_slots`, `first_fit`: which replicas a node holds), so both fidelities share one model
of what a failed node takes and what repairs it.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from ..engine import EventLog, RandomStreams
from ..scenario.cluster import NodeType, Replicas
from ..scenario.units import format_duration
from .autoscaling import Autoscaler, Node, NodePool
from .placement import Placement
from .services import Station

if TYPE_CHECKING:
    from ..scenario.cluster import Failures
    from ..scenario.schema import Scenario
    from .context import Organisation

INFRASTRUCTURE = "infrastructure"
"""The delivery model's incident cause for a failed node."""

_Process = Generator[simpy.Event, Any, None]


def simulates_node_failures(scenario: Scenario) -> bool:
    """Whether a run of `scenario` fails its services' nodes itself, at either fidelity: a
    cluster without a scheduler model, with failures switched on."""
    cluster = scenario.cluster
    return cluster is not None and scenario.scheduler is None and cluster.failures.enabled


def replaced_automatically(scenario: Scenario) -> bool:
    """Whether an autoscaler replaces a failed node's replicas (the World builds one for
    microservices with `autoscaling.enabled`): then no person needs to act."""
    return scenario.autoscaling.enabled and scenario.deployment == "microservices"


def node_slots(node_cpu: float, node_memory_gb: float, cpu: float, memory_gb: float) -> int:
    """Replicas of one size that first-fit puts on an empty node: `NodePool.place`'s own
    arithmetic (take the replica's share while what is free covers it, to 1e-9)."""
    free_cpu, free_memory, count = node_cpu, node_memory_gb, 0
    while free_cpu >= cpu - 1e-9 and free_memory >= memory_gb - 1e-9:
        free_cpu -= cpu
        free_memory -= memory_gb
        count += 1
    return count


def first_fit(replicas: Sequence[int], slots: int, nodes: int) -> list[dict[int, int]]:
    """Per node, the replicas of each station (index → count) that first-fit places at the
    start, the stations in order and every replica of the same size (`slots` a node): node
    k holds the replicas k·slots to (k + 1)·slots − 1 of the stations' sequence, as the
    World's `NodePool.place_at_start` puts them; nodes are added when `nodes` are full."""
    if slots < 1:
        raise ValueError("a replica does not fit on an empty node")
    total = sum(replicas)
    held: list[dict[int, int]] = [{} for _ in range(max(nodes, -(-total // slots)))]
    position = 0
    for station, count in enumerate(replicas):
        for _ in range(count):
            node = held[position // slots]
            node[station] = node.get(station, 0) + 1
            position += 1
    return held


def repair_time(settings: Failures, rng: np.random.Generator, boot_time: float,
                start: float) -> float:  # fmt: skip
    """From a responder's replacing a node to its replicas' serving: the repair drawn from
    `failures.node_repair`, the node's boot and the replicas' start."""
    fix = float(settings.node_repair.draw(rng, 1)[0])
    return fix + boot_time + start


RACK, POWER = "rack", "power"
"""The failure domains above a node."""


def failure_domains(nodes: int, per_rack: int, per_power: int) -> list[tuple[str, int]]:
    """The racks and power domains `nodes` nodes fill (consecutive nodes, as the scheduler
    model's cell numbers them): (scope, number) of each."""
    racks = -(-nodes // per_rack)
    powers = -(-nodes // per_power)
    return [(RACK, r) for r in range(racks)] + [(POWER, d) for d in range(powers)]


def in_domain(index: int, scope: str, number: int, per_rack: int, per_power: int) -> bool:
    """Whether node `index` is in that rack or power domain."""
    return index // (per_rack if scope == RACK else per_power) == number


@dataclass
class NodeDown:
    """A failed node: since when, the replicas it took per station, its repair."""

    since: float
    back: simpy.Event
    lost: dict[int, int] = field(default_factory=dict)
    repair: simpy.Event | None = None


class NodeFailures:
    """Fails the nodes the services run on and brings them back when repaired."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        streams: RandomStreams,
        events: EventLog,
        stations: list[Station],
        replica_start: float,
        autoscaler: Autoscaler | None = None,
        placement: Placement | None = None,
    ) -> None:
        node_type = self._setup(env, scenario, streams, events, replica_start)
        self.stations = stations
        self.autoscaler = autoscaler if autoscaler is not None and autoscaler.pool else None
        """The autoscaler that replaces failed nodes' replicas (its pool holds the nodes)."""
        self.placement = placement
        self.bound: list[dict[int, int]] = [{} for _ in stations]
        """Per station: replica → the index of the node it runs on."""
        if self.autoscaler is not None and self.autoscaler.pool is not None:
            self.pool = self.autoscaler.pool
            self._bind_autoscaled(self.autoscaler)
        else:
            self.pool = self._place_fixed(node_type.cpu, node_type.memory_gb, node_type.count)
        env.process(self._watch())
        events.record(
            0.0,
            "failures",
            "started",
            f"{len(self.pool.nodes)} nodes, each failing every "
            f"{format_duration(self.settings.node_mtbf)} on average",
        )

    def _setup(self, env: simpy.Environment, scenario: Scenario, streams: RandomStreams,
               events: EventLog, replica_start: float) -> NodeType:  # fmt: skip
        """What both fidelities keep: the clock, the settings, the streams of repairs and
        customers' reports, the nodes down and every failure. Returns the nodes' type."""
        cluster = scenario.cluster
        assert cluster is not None  # `simulates_node_failures`
        self.env = env
        self.scenario = scenario
        self.events = events
        self.settings = cluster.failures
        self.replica_start = replica_start
        node_type = cluster.node_type_list()[0][1]
        self.boot_time = node_type.boot_time
        self._streams = streams
        self._repair_rng = streams.get("failures/repair")
        self._report_rng = streams.get("failures/incidents")
        self.down: dict[int, NodeDown] = {}
        """Failed nodes not yet back, by index."""
        self.failures: list[tuple[float, int, int]] = []
        """(time, node, replicas lost) of every failure."""
        self.organisation: Organisation | None = None
        self.report = False
        """Whether a customer reports a failure to the organisation (no monitoring)."""
        return node_type

    def _station_name(self, station: int) -> str:
        return self.stations[station].name

    # -- where replicas run ----------------------------------------------------------------
    def _sizes(self) -> Replicas:
        workloads = self.scenario.workloads
        return workloads.microservices if workloads is not None else Replicas()

    def _place_fixed(self, cpu: float, memory_gb: float, count: int) -> NodePool:
        """First-fit, in the order the World places replicas for the network."""
        sizes = self._sizes()
        pool = NodePool(self.env, cpu, memory_gb, self.boot_time)
        for _ in range(count):
            pool.add(ready=True)
        for index, station in enumerate(self.stations):
            for replica in station.live_replicas():
                node = pool.place_at_start(sizes.cpu, sizes.memory_gb, station.name)
                self.bound[index][replica] = node.index
        return pool

    def _bind_autoscaled(self, autoscaler: Autoscaler) -> None:
        """The autoscaler placed the initial replicas in the stations' order."""
        for scaled in autoscaler.services:
            index = scaled.station.index
            for replica, placed in zip(
                scaled.station.live_replicas(), scaled.replicas, strict=False
            ):
                if placed.node is not None:
                    self.bound[index][replica] = placed.node.index

    def _up(self) -> list[Node]:
        return [n for n in self.pool.nodes if n.ready and n.index not in self.down]

    def lost(self, station: int) -> int:
        """Replicas of `station` on nodes that are down now (what a scrape of the nodes'
        `up` sees, per service)."""
        return sum(down.lost.get(station, 0) for down in self.down.values())

    def down_since(self, station: int) -> float:
        """When the first node now down with replicas of `station` failed (NaN: none)."""
        times = [d.since for d in self.down.values() if d.lost.get(station, 0)]
        return min(times) if times else math.nan

    def sharing(self, station: int) -> set[int]:
        """The stations that lost replicas on the nodes `station` lost replicas on."""
        found: set[int] = set()
        for down in self.down.values():
            if down.lost.get(station, 0):
                found |= {s for s, n in down.lost.items() if n}
        return found

    # -- failing -----------------------------------------------------------------------
    def _watch(self) -> _Process:
        """Give every node its own failure process: those at the start, and (under the
        node autoscaler) each new one at the scan after it joined the pool."""
        env = self.env
        watched: set[int] = set()
        nodes = self.scenario.autoscaling.nodes
        for scripted in self.settings.scripted:
            env.process(self._scripted(scripted.node, scripted.at))
        self._start_domains(len(self.pool.nodes))
        while True:
            for node in self.pool.nodes:
                if node.index not in watched:
                    watched.add(node.index)
                    env.process(self._node(node))
            if self.autoscaler is None or not nodes.enabled:
                return
            yield env.timeout(nodes.scan_interval)

    def _scripted(self, index: int, at: float) -> _Process:
        """A failure the scenario asks for at `at` (`failures.scripted`), of the node with
        that index if it is up then (else nothing fails, and the log says so)."""
        yield self.env.timeout(at)
        node = next((n for n in self.pool.nodes if n.index == index), None)
        if node is None or not node.ready or index in self.down:
            self.events.record(
                self.env.now, "failures", "not_failed", f"node {index} is not up to fail"
            )
            return
        self._fail(node)

    def _node(self, node: Node) -> _Process:
        """One node fails an exponential time (mean `node_mtbf`) after it is up, from its
        own stream (`failures/node/N`), so that the same node fails at the same time in
        runs that differ elsewhere (common random numbers); a repaired node starts again,
        a replaced one is gone."""
        env = self.env
        rng = self._streams.get(f"failures/node/{node.index}")
        mtbf = self.settings.node_mtbf
        while True:
            yield env.timeout(float(rng.exponential(mtbf)))
            if node not in self.pool.nodes:
                return  # retired by the node autoscaler, or failed and replaced
            if not node.ready or node.index in self.down:
                continue  # still booting, or down already (a scripted failure)
            down = self._fail(node)
            if self.autoscaler is not None:
                return
            yield down.back

    # -- racks and power domains ---------------------------------------------------------
    def _start_domains(self, nodes: int) -> None:
        """A failure process for each rack and power domain the first `nodes` nodes fill."""
        cluster = self.scenario.cluster
        assert cluster is not None
        self._per = (cluster.nodes_per_rack, self.settings.nodes_per_power_domain)
        for scope, number in failure_domains(nodes, *self._per):
            self.env.process(self._domain(scope, number))

    def _up_in(self, scope: str, number: int) -> list[int]:
        """The nodes of a rack or power domain that are up now (request level: the pool's)."""
        up = [n.index for n in self.pool.nodes if n.ready and n.index not in self.down]
        return [index for index in up if in_domain(index, scope, number, *self._per)]

    def _fail_index(self, index: int) -> NodeDown:
        node = next(n for n in self.pool.nodes if n.index == index)
        return self._fail(node)

    def _domain(self, scope: str, number: int) -> _Process:
        """A rack or power domain fails at its MTBF, from its own stream: its nodes that are
        up fail at once, and (unless an autoscaler replaced them) serve again after the
        facility's repair, their boot and their replicas' start; meanwhile a responder's
        remedy waits for that (their `repair` event is the domain's)."""
        env, settings = self.env, self.settings
        rng = self._streams.get(f"failures/{scope}/{number}")
        mtbf = settings.rack_mtbf if scope == RACK else settings.power_mtbf
        repair = settings.rack_repair if scope == RACK else settings.power_repair
        while True:
            yield env.timeout(float(rng.exponential(mtbf)))
            up = self._up_in(scope, number)
            if not up:
                continue
            took = float(repair.draw(rng, 1)[0]) + self.boot_time + self.replica_start
            self.events.record(
                env.now,
                "failures",
                f"{scope}_failed",
                f"{scope} {number}: nodes {', '.join(map(str, up))}, serving again in "
                f"{format_duration(float(round(took)))}",
            )
            back = env.event()
            downs = [(index, self._fail_index(index)) for index in up]
            for _, down in downs:
                down.repair = back  # nobody replaces them: a remedy waits for the facility

            def restore(_event: simpy.Event, downs: list[tuple[int, NodeDown]] = downs,
                        back: simpy.Event = back) -> None:  # fmt: skip
                for index, down in downs:
                    if self.down.get(index) is down:
                        self._back(index, down)
                back.succeed()

            env.timeout(took).callbacks.append(restore)
            yield back

    def _replica_on(self, station: int, node: int, taken: set[int]) -> int | None:
        """A live replica of `station` to stop with `node`: one bound to it, else (a
        rollout replaced it) one not bound to a node that is up."""
        live = self.stations[station].live_replicas()
        bound = self.bound[station]
        up = {n.index for n in self._up()} | {node}
        for replica in live:
            if bound.get(replica) == node and replica not in taken:
                return replica
        for replica in live:
            if replica not in taken and (replica not in bound or bound[replica] not in up):
                return replica
        return None

    def _fail(self, node: Node) -> NodeDown:
        now = self.env.now
        down = NodeDown(now, self.env.event())
        self.down[node.index] = down
        if self.autoscaler is not None:
            self._fail_autoscaled(node, down)
        else:
            for station, bound in enumerate(self.bound):
                count = sum(1 for n in bound.values() if n == node.index)
                self._stop(station, node.index, count, down)
        self._failed(node.index, down, reported=self.autoscaler is None)
        return down

    def _failed(self, index: int, down: NodeDown, reported: bool) -> None:
        """Log a failure (its replicas taken); a customer reports it, when `reported` and
        nobody monitors."""
        total = sum(down.lost.values())
        self.failures.append((down.since, index, total))
        self.events.record(down.since, "failures", "node_failed", f"node {index}: {total} replicas")
        if reported and self.report and self.organisation is not None:
            self._customer_report(index, down)

    def _stop(self, station: int, node: int, count: int, down: NodeDown) -> None:
        taken: set[int] = set()
        target = self.stations[station]
        for _ in range(count):
            replica = self._replica_on(station, node, taken)
            if replica is None:
                break
            taken.add(replica)
            target.remove_replica(failed=True, replica=replica)
            self.bound[station].pop(replica, None)
            if self.placement is not None:
                self.placement.remove(target.name, node)
        if taken:
            down.lost[station] = down.lost.get(station, 0) + len(taken)
        stale = [r for r, n in self.bound[station].items() if n == node]
        for replica in stale:
            del self.bound[station][replica]

    def _fail_autoscaled(self, node: Node, down: NodeDown) -> None:
        """Pods on a dead node go; the ReplicaSet asks for as many new ones (placed where
        there is room, else pending for the node autoscaler), serving after the start."""
        autoscaler = self.autoscaler
        assert autoscaler is not None
        for scaled in autoscaler.services:
            on_node = [r for r in scaled.replicas if r.node is node and not r.cancelled]
            index = scaled.station.index
            serving = sum(1 for r in on_node if r.serving)
            for replica in on_node:
                replica.cancelled = True
                scaled.replicas.remove(replica)
            self._stop(index, node.index, serving, down)
            for _ in on_node:
                autoscaler._start(scaled)
        self.pool.remove(node)
        del self.down[node.index]  # gone from the pool: replaced, not repaired

    # -- repairing ---------------------------------------------------------------------
    def repair(self, station: int, who: str) -> simpy.Event:
        """A responder replaces the failed nodes `station` lost replicas on: each is back
        after the repair, its boot and its replicas' start; fires when all are."""
        env = self.env
        repairs = [
            self._repair(index, down, who)
            for index, down in sorted(self.down.items())
            if down.lost.get(station, 0)
        ]
        if not repairs:
            done = env.event()
            done.succeed()
            return done
        return env.all_of(repairs)

    def _repair(self, index: int, down: NodeDown, who: str) -> simpy.Event:
        if down.repair is not None:
            return down.repair  # somebody is on it already
        env = self.env
        done = down.repair = env.event()
        took = repair_time(self.settings, self._repair_rng, self.boot_time, self.replica_start)
        self.events.record(
            env.now,
            "failures",
            "node_repair",
            f"{who}: node {index} replaced, serving again in {format_duration(took)}",
        )

        def back(_event: simpy.Event) -> None:
            self._back(index, down)
            done.succeed()

        env.timeout(took).callbacks.append(back)
        return done

    def _back(self, index: int, down: NodeDown) -> None:
        """A node serves again: its replicas back, its failure clock going again."""
        del self.down[index]
        self._restore(index, down)
        self.events.record(self.env.now, "failures", "node_repaired", f"node {index}")
        down.back.succeed()

    def _restore(self, index: int, down: NodeDown) -> None:
        """A replaced node's replicas serve again, bound to it."""
        for station, count in down.lost.items():
            target = self.stations[station]
            for _ in range(count):
                self.bound[station][target.new_replica()] = index
                if self.placement is not None:
                    self.placement.add(target.name, index)

    def _customer_report(self, index: int, down: NodeDown) -> None:
        """Without monitoring, the organisation hears of it from a customer."""
        organisation = self.organisation
        assert organisation is not None
        stations = [s for s, n in down.lost.items() if n]
        if not stations:
            return
        names = list(self.scenario.services)
        delivery = self.scenario.delivery
        assert delivery is not None
        name = self._station_name(stations[0])
        service = (names.index(name) if name in names else 0) % delivery.services

        def remedy(who: str) -> simpy.Event:
            return self._repair(index, down, who)

        organisation.report_incident(
            service, INFRASTRUCTURE, self.env.now, self._report_rng, remedy=remedy
        )

    def connect(self, organisation: Organisation | None, monitored: bool) -> None:
        """The organisation that repairs nodes; `monitored`: monitoring pages it (else a
        customer reports each failure)."""
        self.organisation = organisation
        self.report = organisation is not None and not monitored
