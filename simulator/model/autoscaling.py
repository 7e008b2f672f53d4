"""Elasticity: a horizontal autoscaler for replicas (as Kubernetes' HPA) and a node autoscaler.

The decisions are pure functions (`hpa_recommendation`, then `hpa_decision`: `stabilised` and
`scale_limit`), shared with the analytic fidelity (`analytic/elastic.py`); the
`Autoscaler` only keeps time: every sync period it reads each service's utilisation from
the station's time integrals, asks the decisions, and starts or retires replicas. Replicas
need room on a node (CPU and memory); the `NodePool` places them first-fit and, when they do
not fit, boots nodes (which are billed from the moment they are asked for, as clouds do).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import simpy
from numpy.typing import ArrayLike
from simpy import Environment

from ..engine.recorder import EventLog
from ..records.scaling import (
    BY_HAND,
    IDLE_NODE,
    NODES,
    PENDING_PODS,
    REPLICAS,
    STABILISED,
    UTILISATION,
    ScalingLog,
)
from ..scenario.autoscaling import Autoscaling, Behavior, ScaleDownRules, ScaleUpRules
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
    """Kubernetes' replica calculator for a utilisation target (`GetResourceReplicas` in
    pkg/controller/podautoscaler/replica_calculator.go), with its treatment of pods that are
    not ready.

    `busy` is the ready pods' usage summed, in pods (a pod fully busy counts 1). Pods that
    are waiting for a node or still starting are not ready: when the ready pods alone say
    "scale up", Kubernetes counts them as idle (so a replica already on its way is not asked
    for twice) and gives up if that flips the direction or lands within the tolerance; when
    they say "scale down", it leaves them out (4 ready pods at 20% against 60% with 2
    starting: ⌈4 × 20/60⌉ = 2). Without ready pods there are no metrics and nothing changes.
    Takes numbers or arrays (one entry per service).
    """
    ready = np.asarray(ready, dtype=float)
    unready = np.asarray(unready, dtype=float)
    busy = np.asarray(busy, dtype=float)
    current = ready + unready
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = busy / (ready * target)
    steady = np.abs(ratio - 1.0) <= tolerance
    plain = np.ceil(ready * ratio - 1e-9)
    with_unready = (unready > 0) & (ratio > 1.0) if unready.any() else None
    if with_unready is not None and with_unready.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            rebalanced = busy / (current * target)  # the pods on their way count as idle
        flipped = (np.abs(rebalanced - 1.0) <= tolerance) | (rebalanced < 1.0)
        up = np.maximum(np.ceil(current * rebalanced - 1e-9), current)
        desired = np.where(
            with_unready, np.where(flipped, current, up), np.where(steady, current, plain)
        )
    else:  # no pod on its way, or none counted (most syncs): the same, without rebalancing
        desired = np.where(steady, current, plain)
    desired = np.where(ready <= 0, current, desired).astype(np.int64)
    return int(desired) if desired.ndim == 0 else desired


ScaleRules = ScaleUpRules | ScaleDownRules

Events = Sequence[tuple[float, ArrayLike, ArrayLike]]
"""Scale events: (time, replicas added, replicas removed), per service when arrays."""


def replicas_changed(events: Events, now: float, period: float) -> tuple[Any, Any]:
    """Replicas added and removed by scale events less than `period` ago (Kubernetes'
    `getReplicasChangePerPeriod`: events strictly after now − period)."""
    added: Any = 0
    removed: Any = 0
    for time, up, down in events:
        if time > now - period + 1e-9:
            added = added + np.asarray(up)
            removed = removed + np.asarray(down)
    return added, removed


def scale_limit(current: ArrayLike, events: Events, now: float, rules: ScaleRules) -> np.ndarray:
    """The most replicas a scale-up may reach (`ScaleUpRules`) or the fewest a scale-down
    may leave (`ScaleDownRules`), as Kubernetes' `calculateScaleUpLimitWithScalingRules` and
    `calculateScaleDownLimitWithBehaviors` (pkg/controller/podautoscaler/horizontal.go):
    each policy counts from the replicas at the start of its sliding period (current − added
    + removed since then); Pods adds (removes) `value` to (from) them, Percent multiplies
    them by 1 ± value/100 (rounded up for scale-up, down for scale-down); `select_policy`
    Max takes the policy allowing the largest change, Min the smallest, Disabled none."""
    current = np.asarray(current, dtype=np.int64)
    if rules.select_policy == "Disabled":
        return current
    up = isinstance(rules, ScaleUpRules)
    proposals = []
    for policy in rules.policies:
        added, removed = replicas_changed(events, now, policy.period_seconds)
        start = current - added + removed
        if policy.type == "Pods":
            proposals.append(start + policy.value if up else start - policy.value)
        elif up:
            proposals.append(np.ceil(start * (1 + policy.value / 100) - 1e-9))
        else:
            proposals.append(np.floor(start * (1 - policy.value / 100) + 1e-9))
    largest_change = (rules.select_policy == "Max") == up
    limit = np.max(proposals, axis=0) if largest_change else np.min(proposals, axis=0)
    return np.asarray(limit, dtype=np.int64)


def stabilised(
    current: ArrayLike,
    desired: ArrayLike,
    recommendations: Sequence[tuple[float, ArrayLike]],
    now: float,
    behavior: Behavior,
) -> np.ndarray:
    """Kubernetes' `stabilizeRecommendationWithBehaviors`: scale up no further than the
    lowest recommendation of the scale-up window, down no further than the highest of the
    scale-down window (both windows include this sync's `desired`)."""
    up_window = behavior.scale_up.stabilization_window_seconds
    down_window = behavior.scale_down.stabilization_window_seconds
    lowest = np.asarray(desired, dtype=np.int64)
    highest = lowest
    for time, recommendation in recommendations:
        if time > now - up_window + 1e-9:
            lowest = np.minimum(lowest, recommendation)
        if time > now - down_window + 1e-9:
            highest = np.maximum(highest, recommendation)
    return np.minimum(np.maximum(np.asarray(current), lowest), highest)


def hpa_decision(
    current: ArrayLike,
    desired: ArrayLike,
    minimum: ArrayLike,
    maximum: ArrayLike,
    now: float,
    behavior: Behavior,
    recommendations: Sequence[tuple[float, ArrayLike]],
    events: Events,
) -> np.ndarray:
    """The replicas the HPA sets: Kubernetes' `normalizeDesiredReplicasWithBehaviors`, the
    recommendation stabilised, then held within the rate limits and min/max replicas
    (`convertDesiredReplicasWithBehaviorRate`). Out-of-range replicas go to the range first,
    as in `reconcileAutoscaler`. `recommendations` and `events` are the earlier syncs'; the
    caller appends this one's. Numbers or arrays (one entry per service); returns an array.
    """
    current = np.asarray(current, dtype=np.int64)
    within = (current >= minimum) & (current <= maximum)
    # `x.all()` as a count (the same answer without numpy's Python wrapper: a sync a minute)
    if _all(within) and _all(np.asarray(desired) == current):
        # the recommendation is the current count: both windows hold it (the lowest is at
        # most it, the highest at least), so `stabilised` gives the current count and the
        # lines below return it: the same, without the windows (most syncs; `hpa_settled`)
        return current
    stable = stabilised(current, desired, recommendations, now, behavior)
    held = (stable == current) | np.where(stable < current, current <= minimum, current >= maximum)
    if _all(within & held):  # no change, or at a bound: what the lines below give then,
        return current  # without the rate limits' sums
    up_limit = np.maximum(scale_limit(current, events, now, behavior.scale_up), current)
    down_limit = np.minimum(scale_limit(current, events, now, behavior.scale_down), current)
    upper = np.minimum(maximum, up_limit)
    lower = np.maximum(minimum, down_limit)
    new = np.where(
        stable > current,
        np.minimum(stable, upper),
        np.where(stable < current, np.maximum(stable, lower), current),
    )
    new = np.where(current > maximum, maximum, np.where(current < minimum, minimum, new))
    return np.asarray(new, dtype=np.int64)


def hpa_settled(
    current: ArrayLike, desired: ArrayLike, minimum: ArrayLike, maximum: ArrayLike
) -> bool:
    """Whether `hpa_decision` keeps `current` whatever the windows and rate limits hold
    (it returns `current` itself then): every service within its bounds and either
    recommended its current count, or recommended fewer while at its minimum, or more while
    at its maximum. The windows hold `desired`, so the lowest recommendation is at most it
    and the highest at least: with `desired` equal to the count, `stabilised` gives the
    count; below it, at most the count, which the minimum holds; above, at least the count,
    which the maximum holds. Most syncs (a service idling at its minimum recommends fewer);
    a caller that knows it may skip the decision."""
    current = np.asarray(current, dtype=np.int64)
    desired = np.asarray(desired)
    # `x.all()` as a count (the same answer without numpy's Python wrapper: a sync a minute)
    if not _all((current >= minimum) & (current <= maximum)):
        return False
    below, above = desired < current, desired > current
    return not np.count_nonzero(below & (current > minimum)) and not np.count_nonzero(
        above & (current < maximum)
    )


def _all(flags: np.ndarray) -> bool:
    """`flags.all()`: every element true (nonzero)."""
    return np.count_nonzero(flags) == np.size(flags)


def forget(history: deque[Any], now: float, horizon: float) -> None:
    """Drop entries (time first) that no window reaches any more."""
    while history and history[0][0] <= now - horizon:
        history.popleft()


def memory_horizon(behavior: Behavior) -> tuple[float, float]:
    """How far back recommendations and scale events matter: the longest stabilisation
    window and the longest policy period."""
    up, down = behavior.scale_up, behavior.scale_down
    windows = max(up.stabilization_window_seconds, down.stabilization_window_seconds)
    periods = max([p.period_seconds for p in (*up.policies, *down.policies)], default=0.0)
    return windows, periods


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
    recommendations: deque[tuple[float, int]] = field(default_factory=deque)
    events: deque[tuple[float, int, int]] = field(default_factory=deque)  # added, removed
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
        behavior = settings.behavior
        current = sum(1 for r in scaled.replicas if not r.cancelled)
        ready = sum(1 for r in scaled.replicas if r.serving and not r.cancelled)
        # The ready pods' mean busy share over the sync period (workers that served part of
        # it count for that part), as the metrics pipeline averages pods' usage.
        utilisation = busy / capacity
        desired = hpa_recommendation(
            ready, current - ready, ready * utilisation, settings.target_utilisation,
            settings.tolerance,
        )  # fmt: skip
        new = int(
            hpa_decision(
                current, desired, scaled.minimum, scaled.maximum, now, behavior,
                scaled.recommendations, scaled.events,
            )
        )  # fmt: skip
        windows, periods = memory_horizon(behavior)
        scaled.recommendations.append((now, desired))
        forget(scaled.recommendations, now, windows)
        forget(scaled.events, now, periods)
        if new == current:
            return
        scaled.events.append((now, max(new - current, 0), max(current - new, 0)))
        if new > current:
            for _ in range(new - current):
                self._start(scaled)
            self.events.record(
                now,
                f"autoscaler/{scaled.name}",
                "scale_up",
                f"{current} → {new} replicas at {utilisation:.0%} busy",
            )
            self.scaling.record(now, scaled.name, REPLICAS, current, new, UTILISATION)
        else:
            for _ in range(current - new):
                self._retire(scaled)
            window = behavior.scale_down.stabilization_window_seconds
            self.events.record(
                now,
                f"autoscaler/{scaled.name}",
                "scale_down",
                f"{current} → {new} replicas (highest recommendation of the last {window:g} s)",
            )
            self.scaling.record(now, scaled.name, REPLICAS, current, new, STABILISED)

    def add_by_hand(self, index: int, count: int) -> int:
        """A person scales out a service the HPA owns, as an SRE does with `kubectl`: the
        HPA's ceiling up by `count` (else its next sync takes them back) and `count`
        replicas more, started as the HPA starts its own (placed on the pool, or waiting
        for the node autoscaler, and billed with the pool's nodes). The HPA owns them from
        then on: it retires them, after its stabilisation window, when utilisation no
        longer asks for them. Returns the service's replicas, starting ones included."""
        scaled = self.services[index]
        now = self.env.now
        current = sum(1 for r in scaled.replicas if not r.cancelled)
        scaled.maximum += count
        for _ in range(count):
            self._start(scaled)
        self.events.record(
            now,
            f"autoscaler/{scaled.name}",
            "scaled_by_hand",
            f"{current} → {current + count} replicas",
        )
        self.scaling.record(now, scaled.name, REPLICAS, current, current + count, BY_HAND)
        return current + count

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
