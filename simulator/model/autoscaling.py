"""Elasticity: a horizontal autoscaler for replicas (as Kubernetes' HPA) and a node autoscaler.

The decisions are pure functions (`hpa_recommendation`, `scale_up_allowance`, `stabilised`); the
`Autoscaler` only keeps time: every sync period it reads each service's utilisation from
the station's time integrals, asks the decisions, and starts or retires replicas. Replicas
need room on a node (CPU and memory); the `NodePool` places them first-fit and, when they do
not fit, boots nodes (which are billed from the moment they are asked for, as clouds do).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import simpy
from numpy.typing import ArrayLike
from simpy import Environment

from ..engine.recorder import EventLog
from ..records.scaling import (
    IDLE_NODE,
    NODES,
    PENDING_PODS,
    REPLICAS,
    STABILISED,
    UTILISATION,
    ScalingLog,
)
from ..scenario.schema import Autoscaling
from .placement import Placement
from .services import Station


@overload
def hpa_recommendation(
    ready: float, unready: float, busy: float, target: float, tolerance: float
) -> int: ...


@overload
def hpa_recommendation(
    ready: np.ndarray, unready: np.ndarray, busy: ArrayLike, target: float, tolerance: float
) -> np.ndarray: ...


def hpa_recommendation(
    ready: ArrayLike, unready: ArrayLike, busy: ArrayLike, target: float, tolerance: float
) -> int | np.ndarray:
    """Kubernetes' rule with its treatment of pods that report no usage yet.

    `busy` is the ready pods' usage summed, in pods (a pod fully busy counts 1). Pods that
    are waiting for a node or still starting have no metrics: when the ready pods alone say
    "scale up", Kubernetes counts them as idle, so a replica already on its way is not asked
    for twice; when they say "scale down", it counts them as fully used, so a starting replica
    is not retired before it could serve. If that flips the direction, or lands within the
    tolerance, nothing changes. Takes numbers or arrays (one entry per service).
    """
    ready = np.asarray(ready, dtype=float)
    unready = np.asarray(unready, dtype=float)
    busy = np.asarray(busy, dtype=float)
    current = ready + unready
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = busy / (ready * target)
        assumed = np.where(ratio > 1.0, 0.0, unready)
        rebalanced = (busy + assumed * target) / (current * target)
    steady = np.abs(ratio - 1.0) <= tolerance
    flipped = (unready > 0) & (
        (np.abs(rebalanced - 1.0) <= tolerance) | ((rebalanced - 1.0) * (ratio - 1.0) < 0)
    )
    ratio = np.where(unready > 0, rebalanced, ratio)
    desired = np.maximum(1.0, np.ceil(current * ratio - 1e-9))
    desired = np.where(steady | flipped, current, desired)
    desired = np.where(ready <= 0, np.maximum(current, 1.0), desired).astype(np.int64)
    return int(desired) if desired.ndim == 0 else desired


@overload
def scale_up_allowance(current: float, added_recently: float, pods: int, percent: float) -> int: ...


@overload
def scale_up_allowance(
    current: np.ndarray, added_recently: ArrayLike, pods: int, percent: float
) -> np.ndarray: ...


def scale_up_allowance(
    current: ArrayLike, added_recently: ArrayLike, pods: int, percent: float
) -> int | np.ndarray:
    """Replicas that may still be added in this period: the larger of `pods` and `percent`
    of the current replicas (the HPA's default scale-up policies), less what was added.
    Takes numbers or arrays (one entry per service)."""
    limit = np.maximum(pods, np.floor(np.asarray(current) * percent / 100.0))
    allowance = np.maximum(0, limit - np.asarray(added_recently)).astype(np.int64)
    return int(allowance) if allowance.ndim == 0 else allowance


def stabilised(history: deque[tuple[float, int]], now: float, window: float) -> int:
    """The highest recommendation of the last `window` seconds: scale down only to that."""
    while history and history[0][0] < now - window:
        history.popleft()
    return max(desired for _, desired in history)


@dataclass
class Node:
    free_cpu: float
    free_memory_gb: float
    ready: bool
    replicas: int = 0
    empty_since: float = 0.0
    index: int = 0  # the how-manieth node of its pool, for placement


@dataclass
class NodePool:
    """Nodes of one type; replicas are placed first-fit; counts nodes over time for cost."""

    env: Environment
    cpu: float
    memory_gb: float
    boot_time: float
    name: str = "nodes"  # the node type, as the scaling log names the pool
    nodes: list[Node] = field(default_factory=list)
    node_seconds: float = 0.0
    added: int = 0
    _last: float = 0.0

    def touch(self, now: float) -> None:
        self.node_seconds += len(self.nodes) * (now - self._last)
        self._last = now

    def add(self, ready: bool) -> Node:
        self.touch(self.env.now)
        node = Node(self.cpu, self.memory_gb, ready, empty_since=self.env.now, index=self.added)
        self.added += 1
        self.nodes.append(node)
        return node

    def place_at_start(self, cpu: float, memory_gb: float, service: str) -> Node:
        """At time 0 the cluster holds the initial replicas: ready nodes are added if needed."""
        node = self.place(cpu, memory_gb)
        if node is None:
            self.add(ready=True)
            node = self.place(cpu, memory_gb)
        if node is None:
            raise ValueError(f"a replica of {service} does not fit on an empty node")
        return node

    def place(self, cpu: float, memory_gb: float) -> Node | None:
        for node in self.nodes:
            if (
                node.ready
                and node.free_cpu >= cpu - 1e-9
                and node.free_memory_gb >= memory_gb - 1e-9
            ):
                node.free_cpu -= cpu
                node.free_memory_gb -= memory_gb
                node.replicas += 1
                return node
        return None

    def release(self, node: Node, cpu: float, memory_gb: float) -> None:
        node.free_cpu += cpu
        node.free_memory_gb += memory_gb
        node.replicas -= 1
        if not node.replicas:
            node.empty_since = self.env.now

    def remove(self, node: Node) -> None:
        self.touch(self.env.now)
        self.nodes.remove(node)


@dataclass
class Replica:
    """A replica the autoscaler asked for: waiting for room, starting, or serving."""

    service: str
    node: Node | None = None
    serving: bool = False
    cancelled: bool = False


@dataclass
class Scaled:
    """One autoscaled service: its station, its limits and its recent recommendations."""

    name: str
    station: Station
    minimum: int
    maximum: int
    cpu: float
    memory_gb: float
    replicas: list[Replica] = field(default_factory=list)
    history: deque[tuple[float, int]] = field(default_factory=deque)
    additions: deque[tuple[float, int]] = field(default_factory=deque)
    busy_seen: float = 0.0
    capacity_seen: float = 0.0
    seen_at: float = 0.0


class Autoscaler:
    """Keeps time for the HPA and the node autoscaler; decisions come from the functions above."""

    def __init__(
        self,
        env: Environment,
        settings: Autoscaling,
        services: list[Scaled],
        pool: NodePool | None,
        replica_start: float,
        events: EventLog,
        scaling: ScalingLog,
        placement: Placement | None = None,
    ) -> None:
        """`events` gets each decision in words, `scaling` the same decision as numbers."""
        self.env = env
        self.settings = settings
        self.services = services
        self.pool = pool
        self.replica_start = replica_start
        self.events = events
        self.scaling = scaling
        self.placement = placement if pool is not None else None
        self.pending: deque[Replica] = deque()
        self.booting = 0
        for scaled in services:
            for _ in range(scaled.station.replicas):
                replica = Replica(scaled.name, serving=True)
                if pool is not None:
                    replica.node = pool.place_at_start(scaled.cpu, scaled.memory_gb, scaled.name)
                    self._placed(replica, +1)
                scaled.replicas.append(replica)
        env.process(self._hpa())
        if pool is not None and settings.nodes.enabled:
            env.process(self._node_autoscaler())

    def _placed(self, replica: Replica, change: int) -> None:
        """Tell the network model that a replica started or stopped serving on its node."""
        if self.placement is None or replica.node is None:
            return
        if change > 0:
            self.placement.add(replica.service, replica.node.index)
        else:
            self.placement.remove(replica.service, replica.node.index)

    # ------------------------------------------------------------------ HPA

    def _hpa(self) -> Generator[simpy.Event, Any, None]:
        settings = self.settings
        while True:
            yield self.env.timeout(settings.sync_period)
            for scaled in self.services:
                self._sync(scaled)

    def _sync(self, scaled: Scaled) -> None:
        now = self.env.now
        station = scaled.station
        station.touch(now)
        busy = station.busy_area - scaled.busy_seen
        capacity = station.capacity_area - scaled.capacity_seen
        scaled.busy_seen, scaled.capacity_seen = station.busy_area, station.capacity_area
        elapsed = now - scaled.seen_at
        scaled.seen_at = now
        if capacity <= 0 or elapsed <= 0:
            return
        settings = self.settings
        current = sum(1 for r in scaled.replicas if not r.cancelled)
        ready = sum(1 for r in scaled.replicas if r.serving and not r.cancelled)
        busy_pods = busy / (elapsed * station.concurrency)
        desired = hpa_recommendation(
            ready,
            current - ready,
            busy_pods,
            settings.target_utilisation,
            settings.tolerance,
        )
        desired = min(scaled.maximum, max(scaled.minimum, desired))
        scaled.history.append((now, desired))
        target = stabilised(scaled.history, now, settings.scale_down_stabilisation)
        if desired > current:
            while scaled.additions and scaled.additions[0][0] <= now - settings.scale_up_period:
                scaled.additions.popleft()
            added = sum(count for _, count in scaled.additions)
            allowance = scale_up_allowance(
                current, added, settings.max_scale_up_pods, settings.max_scale_up_percent
            )
            more = min(desired - current, allowance)
            if more > 0:
                scaled.additions.append((now, more))
                for _ in range(more):
                    self._start(scaled)
                self.events.record(
                    now,
                    f"autoscaler/{scaled.name}",
                    "scale_up",
                    f"{current} → {current + more} replicas at {busy / capacity:.0%} busy",
                )
                self.scaling.record(
                    now, scaled.name, REPLICAS, current, current + more, UTILISATION
                )
        elif target < current:
            for _ in range(current - target):
                self._retire(scaled)
            self.events.record(
                now,
                f"autoscaler/{scaled.name}",
                "scale_down",
                f"{current} → {target} replicas (highest target of the last "
                f"{settings.scale_down_stabilisation:g} s)",
            )
            self.scaling.record(now, scaled.name, REPLICAS, current, target, STABILISED)

    def _start(self, scaled: Scaled) -> None:
        replica = Replica(scaled.name)
        scaled.replicas.append(replica)
        if self.pool is None:
            self._boot_replica(scaled, replica)
            return
        replica.node = self.pool.place(scaled.cpu, scaled.memory_gb)
        if replica.node is None:
            self.pending.append(replica)
        else:
            self._boot_replica(scaled, replica)

    def _boot_replica(self, scaled: Scaled, replica: Replica) -> None:
        def serve(_event: simpy.Event) -> None:
            if not replica.cancelled:
                replica.serving = True
                scaled.station.add_replica()
                self._placed(replica, +1)

        self.env.timeout(self.replica_start).callbacks.append(serve)

    def _retire(self, scaled: Scaled) -> None:
        """Retire the newest replica: a waiting or starting one first, else a serving one."""
        for replica in reversed(scaled.replicas):
            if not replica.cancelled:
                break
        else:
            return
        replica.cancelled = True
        scaled.replicas.remove(replica)
        if replica.serving:
            scaled.station.remove_replica()
            self._placed(replica, -1)
        if replica in self.pending:
            self.pending.remove(replica)
        elif replica.node is not None and self.pool is not None:
            self.pool.release(replica.node, scaled.cpu, scaled.memory_gb)

    # ------------------------------------------------------------------ nodes

    def _node_autoscaler(self) -> Generator[simpy.Event, Any, None]:
        pool = self.pool
        assert pool is not None
        settings = self.settings.nodes
        by_name = {scaled.name: scaled for scaled in self.services}
        while True:
            yield self.env.timeout(settings.scan_interval)
            now = self.env.now
            self._place_pending(by_name)
            if self.pending:
                cpu = sum(by_name[r.service].cpu for r in self.pending)
                memory = sum(by_name[r.service].memory_gb for r in self.pending)
                needed = max(
                    math.ceil(cpu / pool.cpu - 1e-9), math.ceil(memory / pool.memory_gb - 1e-9)
                )
                new = min(needed - self.booting, settings.max_nodes - len(pool.nodes))
                for _ in range(max(0, new)):
                    self._boot_node(by_name)
                if new > 0:
                    self.events.record(
                        now, "autoscaler/nodes", "scale_up",
                        f"{new} nodes for {len(self.pending)} unplaced replicas",
                    )  # fmt: skip
                    nodes = len(pool.nodes)
                    self.scaling.record(now, pool.name, NODES, nodes - new, nodes, PENDING_PODS)
            delay = settings.scale_down_delay
            idle = [
                node for node in pool.nodes
                if node.ready and not node.replicas and now - node.empty_since >= delay
            ]  # fmt: skip
            removable = max(0, len(pool.nodes) - settings.min_nodes)
            for node in idle[:removable]:
                pool.remove(node)
            if idle[:removable]:
                self.events.record(
                    now, "autoscaler/nodes", "scale_down", f"{len(idle[:removable])} empty nodes"
                )
                nodes = len(pool.nodes)
                removed = len(idle[:removable])
                self.scaling.record(now, pool.name, NODES, nodes + removed, nodes, IDLE_NODE)

    def _boot_node(self, by_name: dict[str, Scaled]) -> None:
        assert self.pool is not None
        node = self.pool.add(ready=False)
        self.booting += 1

        def ready(_event: simpy.Event) -> None:
            node.ready = True
            node.empty_since = self.env.now
            self.booting -= 1
            self._place_pending(by_name)

        self.env.timeout(self.pool.boot_time).callbacks.append(ready)

    def _place_pending(self, by_name: dict[str, Scaled]) -> None:
        assert self.pool is not None
        for replica in list(self.pending):
            scaled = by_name[replica.service]
            node = self.pool.place(scaled.cpu, scaled.memory_gb)
            if node is None:
                continue
            replica.node = node
            self.pending.remove(replica)
            self._boot_replica(scaled, replica)
