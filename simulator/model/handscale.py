"""Capacity a person adds by hand: where the replicas of an overload's remedy run, and the
machines bought for them, in both fidelities.

Monitoring's overload remedy (`incidents.manual_scale_out`) adds replicas to a station once
the lead time of getting a server (a purchase or a VM, its boot, a hand install) has passed.
What those replicas take depends on what they run on (`hand_placement`, a pure function):

- **servers and VMs** (the first node type's runtime `bare-metal` or `vm`: the sysadmin's
  servers, the DevOps era's VMs): a person adds servers, not processes on a busy one; each
  replica comes with a machine of its own, a new node of the cluster's first node type;
- **a container cluster** (runtime `container`): the replicas go first-fit on the nodes
  with room (every replica the size `workloads.microservices` asks, the nodes holding the
  replicas placed at the start as `failures.first_fit` puts them), and the person adds
  nodes of the same type for those that do not fit.

A new node is billed from the moment its replicas serve until the horizon (the lead time's
order, boot and install are not: an assumption in the fleet's favour), so the cost KPIs,
`nodes_mean` and the `costs` table count it. Under an autoscaler the HPA owns the replicas
and its pool the nodes: `HandNodes.of` gives None and nothing here applies (the person
scales the HPA out instead: `Autoscaler.add_by_hand`, `ElasticFleet.add_by_hand`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..scenario.cluster import Replicas
from .failures import first_fit, node_slots, replaced_automatically

if TYPE_CHECKING:
    from ..engine import EventLog
    from ..scenario.schema import Scenario

MACHINES = ("bare-metal", "vm")
"""Runtimes on which a replica added by hand is a server added by hand."""


def hand_placement(
    count: int, free: Sequence[int], new_machines: bool, slots: int
) -> tuple[list[int], int]:
    """The node of each of `count` replicas a person adds, and how many nodes are new.

    `free`: replicas each existing node still has room for (nodes 0 to len(free) − 1); new
    nodes are numbered on from len(free). With `new_machines` (servers and VMs) every
    replica gets a new node of its own; otherwise the replicas fill the nodes with room
    first-fit and the rest go `slots` a node on new ones."""
    if new_machines:
        return [len(free) + k for k in range(count)], count
    room = list(free)
    nodes: list[int] = []
    for _ in range(count):
        node = next((i for i, left in enumerate(room) if left > 0), None)
        if node is None:
            node = len(room)
            room.append(max(slots, 1))
        room[node] -= 1
        nodes.append(node)
    return nodes, len(room) - len(free)


@dataclass
class HandNodes:
    """The nodes of a fixed fleet as a person grows it: room left per node, and the nodes
    bought (when, how many) that the cost KPIs bill. Bookkeeping only: the services of
    either fidelity call `add` when hand-added replicas serve."""

    node_type: str
    new_machines: bool
    slots: int
    free: list[int]
    bought: list[tuple[float, int]] = field(default_factory=list)

    @classmethod
    def of(cls, scenario: Scenario, replicas: Sequence[int]) -> HandNodes | None:
        """The fixed fleet of a scenario whose stations start with `replicas`; None when
        nothing is billed or placed (no cluster, a scheduler's cell) or an autoscaler owns
        the replicas."""
        cluster = scenario.cluster
        if cluster is None or scenario.scheduler is not None or replaced_automatically(scenario):
            return None
        name, node_type = cluster.node_type_list()[0]
        sizes = scenario.workloads.microservices if scenario.workloads else Replicas()
        slots = max(node_slots(node_type.cpu, node_type.memory_gb, sizes.cpu, sizes.memory_gb), 1)
        held = first_fit(replicas, slots, node_type.count)
        free = [slots - sum(node.values()) for node in held]
        return cls(name, node_type.runtime in MACHINES, slots, free)

    def add(self, now: float, service: str, count: int, events: EventLog) -> list[int]:
        """Place `count` replicas of `service` that serve from `now`; the nodes they run on
        (new ones billed from now, and logged)."""
        nodes, new = hand_placement(count, self.free, self.new_machines, self.slots)
        self.free += [self.slots] * new
        for node in nodes:
            self.free[node] -= 1
        if new:
            self.bought.append((now, new))
            events.record(
                now,
                "placement",
                "nodes_added_by_hand",
                f"{new} {self.node_type} nodes for {count} replicas of {service}, "
                f"{len(self.free)} nodes now",
            )
        return nodes

    def node_seconds(self, start: float, end: float) -> float:
        """Node-seconds of the bought nodes within [start, end]."""
        return sum(n * max(0.0, end - max(t, start)) for t, n in self.bought)

    def added_by(self, now: float) -> int:
        """Nodes bought by `now`."""
        return sum(n for t, n in self.bought if t <= now)

    def added_at(self, times: np.ndarray) -> np.ndarray:
        """Nodes bought by each of `times`."""
        counts = np.zeros(len(times), dtype=np.int64)
        for t, n in self.bought:
            counts += np.where(times >= t, n, 0)
        return counts
