"""The autoscalers in the analytic fidelity: the same HPA and node rules, on the step grid.

The request level runs the HPA every `sync_period` on utilisation measured from the stations'
time integrals. Here a step's stations report their utilisation (work served, backlog
included, over workers), and `ElasticFleet` runs the HPA's syncs and the node autoscaler's
scans that fall within the step on it, with the decisions of `simulator.model.autoscaling`
(`hpa_recommendation`, `hpa_decision`: Kubernetes' replica calculator and `behavior`) on arrays
of services, so both fidelities decide alike. Replicas take
traffic `replica_start` after they have room; nodes take `boot_time`. The step after gets the
replicas that are ready at its start: with steps as long as the sync period (the default when
autoscaling is on) this is the HPA's own lag; with longer steps the response lags by up to a
step.

Nodes are counted, not placed: every replica asks the same CPU and memory, so a node holds
`slots` replicas and first-fit packing reduces to a count. That is exact while replicas are
packed densely; the request level's first-fit can leave gaps after scale-in, so it may keep
a node more here and there.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator

import numpy as np

from ..model.autoscaling import forget, hpa_decision, hpa_recommendation, memory_horizon
from ..records.scaling import (
    IDLE_NODE,
    NODES,
    PENDING_PODS,
    REPLICAS,
    STABILISED,
    UTILISATION,
    ScalingLog,
)
from ..scenario.schema import Scenario
from .flows import Model
from .stations import StepLoad

DEFAULT_REPLICA_START = 5.0
"""Without a cluster, replicas start in 5 s (the request level's default; docs/cost.md)."""


class ElasticFleet:
    """The HPA and node autoscaler as an `Autoscaler` for `simulate_stations`.

    Called after each step with that step's station metrics; returns the replicas ready at the
    start of the next. Keeps the node count over time (`node_changes`) for cost, and its
    decisions in words (`events`) and as numbers (`scaling`).
    """

    def __init__(
        self, scenario: Scenario, model: Model, starts: np.ndarray, dt: np.ndarray
    ) -> None:
        settings = scenario.autoscaling
        self.settings = settings
        self.starts, self.dt = starts, dt
        self.names = [station.name for station in model.stations]
        specs = [scenario.services[name] for name in self.names]
        self.minimum = np.array([s.min_replicas or s.replicas for s in specs])
        self.maximum = np.array([s.max_replicas or 10 * s.replicas for s in specs])
        self.concurrency = np.array([s.concurrency for s in model.stations], dtype=float)
        self.ready = np.array([s.replicas for s in model.stations])
        self.waiting = np.zeros_like(self.ready)  # asked for, no room on a node yet
        self.starting: deque[tuple[float, np.ndarray]] = deque()  # (ready at, replicas)
        self.recommendations: deque[tuple[float, np.ndarray]] = deque()  # the HPA's, raw
        self.scale_events: deque[tuple[float, np.ndarray, np.ndarray]] = deque()  # +, -
        self.events: list[tuple[float, str, str, str]] = []
        self.scaling = ScalingLog()
        self._next_sync = settings.sync_period
        cluster = scenario.cluster
        node_name, node_type = cluster.node_type_list()[0] if cluster is not None else ("", None)
        self.node_name = node_name
        replica_start = settings.replica_start
        self.pooled = node_type is not None
        if node_type is None:
            self.slots_per_node = 0
            self.nodes = 0
        else:
            sizes = scenario.workloads.microservices if scenario.workloads else None
            cpu = sizes.cpu if sizes else 1.0
            memory = sizes.memory_gb if sizes else 1.0
            self.slots_per_node = int(min(node_type.cpu / cpu, node_type.memory_gb / memory))
            if self.slots_per_node < 1:
                raise ValueError(f"a replica ({cpu} CPU, {memory} GB) does not fit on a node")
            self.node_cpu, self.node_memory = node_type.cpu, node_type.memory_gb
            self.replica_cpu, self.replica_memory = cpu, memory
            self.boot_time = node_type.boot_time
            if replica_start is None:
                assert cluster is not None  # node_type is the cluster's first node type
                replica_start = cluster.runtimes[node_type.runtime].start_time
            self.nodes = max(node_type.count, math.ceil(self.ready.sum() / self.slots_per_node))
            self._next_scan = settings.nodes.scan_interval
        self.replica_start = DEFAULT_REPLICA_START if replica_start is None else replica_start
        self.booting: deque[float] = deque()  # ready-at times of booting nodes
        self.empty_since: list[float] = []  # one entry per empty ready node, oldest first
        self.node_changes: list[tuple[float, int]] = [(0.0, self.nodes)]

    # --------------------------------------------------------------- the Autoscaler hook

    def __call__(self, step: int, row: StepLoad) -> np.ndarray:
        end = float(self.starts[step] + self.dt[step])
        measured_busy = row.utilisation[0] * row.replicas[0]  # pods' worth of work served
        saturated = row.backlog[0] > 0
        offered = row.offered[0] / self.concurrency
        demand = np.where(saturated, np.inf, np.maximum(measured_busy, offered))
        for now, kind in self._timers(end):
            self._complete(now)
            if kind == "sync":
                self._sync(now, np.minimum(demand, self.ready))
            else:
                self._scan(now)
        self._complete(end)
        return self.ready.copy()

    def _timers(self, end: float) -> Iterator[tuple[float, str]]:
        """The HPA's syncs and the node autoscaler's scans due up to `end`, in time order."""
        while True:
            sync = self._next_sync
            scan = self._next_scan if self.pooled and self.settings.nodes.enabled else math.inf
            now = min(sync, scan)
            if now > end + 1e-9:
                return
            if sync <= scan:
                self._next_sync += self.settings.sync_period
                yield now, "sync"
            else:
                self._next_scan += self.settings.nodes.scan_interval
                yield now, "scan"

    # --------------------------------------------------------------- replicas

    def _sync(self, now: float, busy: np.ndarray) -> None:
        settings = self.settings
        behavior = settings.behavior
        on_the_way = self.waiting + sum((c for _, c in self.starting), np.zeros_like(self.ready))
        current = self.ready + on_the_way
        desired = hpa_recommendation(
            self.ready, on_the_way, busy, settings.target_utilisation, settings.tolerance
        )
        new = hpa_decision(
            current, desired, self.minimum, self.maximum, now, behavior,
            self.recommendations, self.scale_events,
        )  # fmt: skip
        windows, periods = memory_horizon(behavior)
        self.recommendations.append((now, desired))
        forget(self.recommendations, now, windows)
        forget(self.scale_events, now, periods)
        more = np.maximum(new - current, 0)
        fewer = np.maximum(current - new, 0)
        if more.any() or fewer.any():
            self.scale_events.append((now, more, fewer))
        if more.any():
            self._start(now, more)
            self._log(now, "scale_up", more, current, UTILISATION)
        if fewer.any():
            self._retire(fewer)
            self._log(now, "scale_down", -fewer, current, STABILISED)

    def _start(self, now: float, more: np.ndarray) -> None:
        if not self.pooled:
            self.starting.append((now + self.replica_start, more))
            return
        self.waiting += more
        self._place(now)

    def _retire(self, fewer: np.ndarray) -> None:
        """Newest first, as the request level: waiting, then starting, then ready replicas."""
        left = fewer.copy()
        taken = np.minimum(left, self.waiting)
        self.waiting -= taken
        left -= taken
        for _, counts in reversed(self.starting):
            taken = np.minimum(left, counts)
            counts -= taken
            left -= taken
        self.ready -= np.minimum(left, self.ready - 1)
        while self.starting and not self.starting[0][1].any():
            self.starting.popleft()

    def _complete(self, now: float) -> None:
        """Replicas that finished starting take traffic; booted nodes take waiting replicas."""
        while self.starting and self.starting[0][0] <= now + 1e-9:
            self.ready += self.starting.popleft()[1]
        while self.booting and self.booting[0] <= now + 1e-9:
            self.booting.popleft()
            self._place(now)

    # --------------------------------------------------------------- nodes

    def _free_slots(self) -> int:
        ready_nodes = self.nodes - len(self.booting)
        starting = sum(int(c.sum()) for _, c in self.starting)
        return ready_nodes * self.slots_per_node - int(self.ready.sum()) - starting

    def _place(self, now: float) -> None:
        """Waiting replicas onto free slots, in service order."""
        free = self._free_slots()
        if free <= 0 or not self.waiting.any():
            return
        ahead = np.cumsum(self.waiting) - self.waiting  # waiting in services listed before
        placed = np.clip(free - ahead, 0, self.waiting)
        self.waiting -= placed
        self.starting.append((now + self.replica_start, placed))

    def _scan(self, now: float) -> None:
        settings = self.settings.nodes
        self._place(now)
        waiting = int(self.waiting.sum())
        if waiting:
            needed = max(
                math.ceil(waiting * self.replica_cpu / self.node_cpu - 1e-9),
                math.ceil(waiting * self.replica_memory / self.node_memory - 1e-9),
            )
            new = min(needed - len(self.booting), settings.max_nodes - self.nodes)
            for _ in range(max(0, new)):
                self.booting.append(now + self.boot_time)
            self._set_nodes(now, self.nodes + max(0, new))
            if new > 0:
                self.events.append(
                    (now, "autoscaler/nodes", "scale_up", f"{new} nodes for {waiting} replicas")
                )
                nodes = self.nodes
                self.scaling.record(now, self.node_name, NODES, nodes - new, nodes, PENDING_PODS)
        used = int(self.ready.sum()) + sum(int(c.sum()) for _, c in self.starting)
        empty = self.nodes - len(self.booting) - math.ceil(used / self.slots_per_node)
        while len(self.empty_since) < empty:
            self.empty_since.append(now)
        del self.empty_since[max(empty, 0) :]
        idle = sum(1 for since in self.empty_since if now - since >= settings.scale_down_delay)
        removable = min(idle, max(0, self.nodes - settings.min_nodes))
        if removable:
            self._set_nodes(now, self.nodes - removable)
            del self.empty_since[:removable]
            self.events.append((now, "autoscaler/nodes", "scale_down", f"{removable} empty nodes"))
            nodes = self.nodes
            self.scaling.record(now, self.node_name, NODES, nodes + removable, nodes, IDLE_NODE)

    def _set_nodes(self, now: float, nodes: int) -> None:
        if nodes != self.nodes:
            self.nodes = nodes
            self.node_changes.append((now, nodes))

    # --------------------------------------------------------------- results

    def nodes_at(self, times: np.ndarray) -> np.ndarray:
        """Nodes billed at each time (booting ones included)."""
        changed, counts = np.array(self.node_changes, dtype=float).T
        return counts[np.searchsorted(changed, times, side="right") - 1].astype(int)

    def node_seconds(self, start: float, end: float) -> float:
        """Node-seconds billed between `start` and `end`."""
        changed, counts = np.array(self.node_changes, dtype=float).T
        edges = np.clip(np.append(changed, np.inf), start, end)
        return float(counts @ np.diff(edges))

    def _log(
        self, now: float, kind: str, change: np.ndarray, before: np.ndarray, reason: str
    ) -> None:
        for index in np.flatnonzero(change):
            after = before[index] + change[index]
            name = self.names[index]
            self.events.append(
                (now, f"autoscaler/{name}", kind, f"{before[index]} → {after} replicas")
            )
            self.scaling.record(now, name, REPLICAS, before[index], after, reason)
