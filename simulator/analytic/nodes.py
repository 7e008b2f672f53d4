"""Node failures at the analytic fidelity: the request level's failed nodes, on the steps.

The analytic fidelity counts replicas; it does not place them. Which replicas a node holds
is the request level's first-fit at the start (`simulator.model.failures.first_fit`: every
replica asks the same CPU and memory, so node k holds replicas k·slots to (k + 1)·slots − 1
of the stations in order), which is also where the request level binds them. A node fails
as at request level: an exponential time (mean `failures.node_mtbf`) after it is up, from
its own stream `failures/node/N` (so the same node fails at the same instant at both
fidelities, with the same seed), and at `failures.scripted` times besides. Its replicas
stop: the stations lose them from the step edge nearest the failure on (the steps are
computed again, as for replicas added by hand), so the queues, the latency and the
client's timeouts of the steps after see the lost capacity; the visits in progress on them
fail (`stale_endpoint`, as at request level: their expected number, the station's visits in
progress × lost / replicas). The node stays down until a person replaces it: monitoring's
node-down rule (which reads `lost`, as at request level) pages, or a customer reports it,
and the responder's remedy (`repair`, the request level's code) brings the replicas back
after `failures.node_repair`, the boot and their start. Racks and power domains fail as at
request level (the request level's `_domain` process, on these nodes): every node of one
that is up fails at once and serves again after the facility's repair.

Under an autoscaler `ElasticFleet` (`simulator/analytic/elastic.py`) fails the fleet's
nodes itself, with no page.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol

import simpy

from ..engine import EventLog, RandomStreams
from ..model.failures import NodeDown, NodeFailures, first_fit, in_domain, node_slots
from ..scenario.cluster import Replicas
from ..scenario.units import format_duration

if TYPE_CHECKING:
    from ..scenario.schema import Scenario

_Process = Generator[simpy.Event, Any, None]


class Capacity(Protocol):
    """What a failed node acts on: the analytic services' replicas (`AnalyticServices`)."""

    def lose_replicas(self, lost: dict[int, int]) -> float:
        """Replicas stop (station index → count); the expected visits in progress on them."""
        ...

    def restore_replicas(self, back: dict[int, int]) -> None:
        """Replicas serve again (station index → count)."""
        ...


class AnalyticNodeFailures(NodeFailures):
    """The request level's `NodeFailures` (what monitoring watches and the responder
    repairs: `lost`, `down_since`, `sharing`, `repair`, `connect`) on counted replicas."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        streams: RandomStreams,
        events: EventLog,
        station_names: list[str],
        replicas: list[int],
        capacity: Capacity,
        replica_start: float,
    ) -> None:
        node_type = self._setup(env, scenario, streams, events, replica_start)
        self.names = station_names
        self.capacity = capacity
        workloads = scenario.workloads
        sizes = workloads.microservices if workloads is not None else Replicas()
        slots = node_slots(node_type.cpu, node_type.memory_gb, sizes.cpu, sizes.memory_gb)
        self.held = first_fit(replicas, slots, node_type.count)
        """Per node: the replicas of each station on it (index → count)."""
        self.stale: list[tuple[float, float]] = []
        """(time, expected visits in progress that failed) of every failure."""

    def _station_name(self, station: int) -> str:
        return self.names[station]

    def start(self) -> None:
        """Fail the nodes from now on (the run's start), as the request level does."""
        env = self.env
        for scripted in self.settings.scripted:
            env.process(self._scripted_failure(scripted.node, scripted.at))
        for index in range(len(self.held)):
            env.process(self._lifetime(index))
        self._start_domains(len(self.held))
        self.events.record(
            env.now,
            "failures",
            "started",
            f"{len(self.held)} nodes, each failing every "
            f"{format_duration(self.settings.node_mtbf)} on average",
        )

    def _scripted_failure(self, index: int, at: float) -> _Process:
        yield self.env.timeout(at)
        if index >= len(self.held) or index in self.down:
            self.events.record(
                self.env.now, "failures", "not_failed", f"node {index} is not up to fail"
            )
            return
        self._fail_node(index)

    def _lifetime(self, index: int) -> _Process:
        """The request level's `_node` on a fixed pool: the same stream, the same draws."""
        rng = self._streams.get(f"failures/node/{index}")
        mtbf = self.settings.node_mtbf
        while True:
            yield self.env.timeout(float(rng.exponential(mtbf)))
            if index in self.down:
                continue  # down already (a scripted failure)
            down = self._fail_node(index)
            yield down.back

    def _up_in(self, scope: str, number: int) -> list[int]:
        nodes = range(len(self.held))
        return [i for i in nodes if i not in self.down and in_domain(i, scope, number, *self._per)]

    def _fail_index(self, index: int) -> NodeDown:
        return self._fail_node(index)

    def _fail_node(self, index: int) -> NodeDown:
        now = self.env.now
        down = NodeDown(now, self.env.event())
        self.down[index] = down
        down.lost = {station: n for station, n in sorted(self.held[index].items()) if n}
        self.stale.append((now, self.capacity.lose_replicas(down.lost)))
        self._failed(index, down, reported=True)
        return down

    def _restore(self, index: int, down: NodeDown) -> None:
        self.capacity.restore_replicas(down.lost)
