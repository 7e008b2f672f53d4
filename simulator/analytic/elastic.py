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

With `cluster.failures.enabled` the fleet's nodes fail as the request level's do under an
autoscaler (`simulator.model.failures`): each an exponential time (`failures.node_mtbf`)
after it is asked for, from its own stream `failures/node/N` (nodes numbered as the pool
numbers them: the first ones, then each booted one in turn), and at `failures.scripted`
times. A failed node leaves the pool; the replicas it held (first-fit of the ready replicas
over the ready nodes, `failures.first_fit`: the k-th node holds replicas k·slots to
(k + 1)·slots − 1 in service order) stop, and the ReplicaSet asks for as many again at once:
on free slots, else waiting for the node autoscaler's next scan and a boot. Nobody is paged.
Empty nodes leave newest first, and a node that left does not fail. A failure acts on the
replicas of the step after the one it falls in (the HPA's own lag, at the default step).

What the clock finds later can change what the HPA saw: a latency regression (more work a
step) or replicas a person adds (`add_by_hand`: the ceiling raised, the replicas started
as the HPA's own). The fleet keeps its state at `CHECKPOINTS` evenly spaced steps and
`resume`s from the last one before the change (its logs cut back to then, its random
streams where they were), so computing it again costs the steps from there on, not the
run, and gives the same numbers as computing it from the start.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..engine import RandomStreams
from ..model.autoscaling import (
    forget,
    hpa_decision,
    hpa_recommendation,
    hpa_settled,
    memory_horizon,
)
from ..model.failures import RACK, failure_domains, first_fit, in_domain, simulates_node_failures
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
from ..scenario.cluster import Cluster
from ..scenario.schema import Scenario
from .flows import Model
from .stations import StepLoad

DEFAULT_REPLICA_START = 5.0
"""Without a cluster, replicas start in 5 s (the request level's default; docs/cost.md)."""

CHECKPOINTS = 32
"""States of the fleet kept over a run, evenly spaced in steps: a change found while the
clock runs (a latency regression, replicas added by hand) computes the fleet again from the
last one before it (`resume`), not from the start."""

_STATE = (
    "ready", "waiting", "starting", "recommendations", "scale_events", "_next_sync",
    "_next_scan", "nodes", "booting", "empty_since", "failing", "maximum", "_hand_next",
)  # fmt: skip
"""What a step changes of the fleet, copied at a checkpoint; its logs only grow and are
cut back to their lengths then."""


@dataclass(frozen=True)
class _Checkpoint:
    state: dict[str, object]
    logs: tuple[int, int, int, int, int]
    """Lengths of events, node_changes, failures, stale and scaling."""
    backlog: np.ndarray
    """The fluid backlog at the step's start (what the stations' loop carries)."""


class ElasticFleet:
    """The HPA and node autoscaler as an `Autoscaler` for `simulate_stations`.

    Called after each step with that step's station metrics; returns the replicas ready at the
    start of the next. Keeps the node count over time (`node_changes`) for cost, and its
    decisions in words (`events`) and as numbers (`scaling`).
    """

    def __init__(
        self,
        scenario: Scenario,
        model: Model,
        starts: np.ndarray,
        dt: np.ndarray,
        streams: RandomStreams | None = None,
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
        self._memory = memory_horizon(settings.behavior)
        """How far back recommendations and scale events matter (`memory_horizon`)."""
        self._recommended: tuple[tuple[bytes, bytes, bytes], np.ndarray, bool] | None = None
        """The last sync's inputs (the bytes of ready, on the way, busy), recommendation
        and whether it left the HPA settled (`_recommendation`)."""
        self._next_scan = settings.nodes.scan_interval
        self.hand: list[tuple[float, int, int]] = []
        """Replicas a person added: (time, station, count), in time order (`add_by_hand`)."""
        self._hand_next = 0
        self._backlog = np.zeros(len(self.names))
        self._every = max(1, math.ceil(len(dt) / CHECKPOINTS))
        self._checkpoints: dict[int, _Checkpoint] = {}
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
        self.replica_start = DEFAULT_REPLICA_START if replica_start is None else replica_start
        self.booting: deque[float] = deque()  # ready-at times of booting nodes
        self.empty_since: list[float] = []  # one entry per empty ready node, oldest first
        self.node_changes: list[tuple[float, int]] = [(0.0, self.nodes)]
        self.failing: _Failing | None = None
        """The nodes' failures (with `cluster.failures` and the streams to draw them)."""
        self.failures: list[tuple[float, int, int]] = []
        """(time, node, replicas lost) of every failure, as `NodeFailures.failures`."""
        self.stale: list[tuple[float, float]] = []
        """(time, expected visits in service on the failed node's replicas, which fail)."""
        self.empty_steps: dict[int, np.ndarray] = {}
        """Steps in which a station has no replica ready (all its nodes failed), and which:
        its visits are refused (the queues run it with one: `simulate_stations` keeps one)."""
        if streams is not None and self.pooled and simulates_node_failures(scenario):
            assert cluster is not None
            back = self.boot_time + self.replica_start
            self.failing = _Failing(cluster, streams, self.nodes, back)

    # --------------------------------------------------------------- the Autoscaler hook

    def __call__(self, step: int, row: StepLoad) -> np.ndarray:
        if step % self._every == 0:
            self._checkpoints[step] = self._checkpoint()
        end = float(self.starts[step] + self.dt[step])
        measured_busy = row.utilisation[0] * row.replicas[0]  # pods' worth of work served
        saturated = row.backlog[0] > 0
        offered = row.offered[0] / self.concurrency
        demand = np.where(saturated, np.inf, np.maximum(measured_busy, offered))
        for now, kind in self._timers(end):
            self._complete(now)
            if kind == "sync":
                self._sync(now, np.minimum(demand, self.ready))
            elif kind == "scan":
                self._scan(now)
            elif kind == "hand":
                self._by_hand(now)
            else:
                self._fail(now, row)
        self._complete(end)
        if self.failing is not None and not self.ready.all():
            self.empty_steps[step + 1] = self.ready == 0
        self._backlog = row.backlog[0].copy()
        return self.ready.copy()

    def _timers(self, end: float) -> Iterator[tuple[float, str]]:
        """The HPA's syncs, the node autoscaler's scans and the nodes' failures due up to
        `end`, in time order."""
        failing = self.failing
        while True:
            sync = self._next_sync
            scan = self._next_scan if self.pooled and self.settings.nodes.enabled else math.inf
            fail = failing.next_time() if failing is not None else math.inf
            hand = self.hand[self._hand_next][0] if self._hand_next < len(self.hand) else math.inf
            now = min(sync, scan, fail, hand)
            if now > end + 1e-9:
                return
            if hand <= now:  # (before an HPA sync at the same instant, which counts them)
                yield now, "hand"
            elif fail <= min(sync, scan):  # (a failure at a scan's instant: the scan sees it)
                yield now, "fail"
            elif sync <= scan:
                self._next_sync += self.settings.sync_period
                yield now, "sync"
            else:
                self._next_scan += self.settings.nodes.scan_interval
                yield now, "scan"

    def _fail(self, now: float, row: StepLoad) -> None:
        """The next failure: a node up (or every node up of a rack or power domain) fails,
        its replicas stop and are asked for again."""
        failing = self.failing
        assert failing is not None
        for index in failing.pop(now, failing.up(len(self.booting))):
            self._fail_node(now, index, row)

    def _fail_node(self, now: float, index: int, row: StepLoad) -> None:
        failing = self.failing
        assert failing is not None
        up = failing.up(len(self.booting))
        if index not in failing.nodes:
            return  # left the pool (scaled down) before
        if index not in up:  # still booting: its clock starts again, as at request level
            failing.redraw(index, now)
            return
        position = up.index(index)
        held = first_fit(self.ready.tolist(), self.slots_per_node, len(up))
        lost = np.zeros_like(self.ready)
        for station, count in (held[position] if position < len(held) else {}).items():
            lost[station] = count
        failing.remove(index)
        self.ready = self.ready - lost
        self.waiting = self.waiting + lost
        busy = row.utilisation[0] * self.concurrency  # visits in service per replica
        self.stale.append((now, float(lost @ busy)))
        self._set_nodes(now, self.nodes - 1)
        total = int(lost.sum())
        self.failures.append((now, index, total))
        self.events.append((now, "failures", "node_failed", f"node {index}: {total} replicas"))
        self._place(now)

    # --------------------------------------------------------------- by hand, and again

    def add_by_hand(self, now: float, station: int, count: int) -> None:
        """A person scales out a service the HPA owns, as an SRE does with `kubectl`: the
        HPA's ceiling up by `count` and `count` replicas more at `now`, started as the HPA
        starts its own (on the pool's free slots, else waiting for the node autoscaler);
        the HPA owns them from then on. Acts when the fleet is computed again from before
        `now` (`resume`)."""
        self.hand.append((now, station, count))
        self.hand.sort(key=lambda row: row[0])

    def _by_hand(self, now: float) -> None:
        _, station, count = self.hand[self._hand_next]
        self._hand_next += 1
        current = self.ready + self._on_the_way()
        more = np.zeros_like(self.ready)
        more[station] = count
        self.maximum[station] += count
        self._recommended = None  # (its `hpa_settled` read the old ceiling)
        self._start(now, more)
        self._log(now, "scaled_by_hand", more, current, BY_HAND)

    def resume(self, step: int) -> tuple[int, np.ndarray]:
        """Go back to the last state kept at or before `step`'s start, to compute the fleet
        again from there (with `autoscaled_from`): its logs are cut back to what it had
        done by then. Returns that step and the fluid backlog at its start."""
        kept = max(k for k in self._checkpoints if k <= step)
        checkpoint = self._checkpoints[kept]
        for later in [k for k in self._checkpoints if k > kept]:
            del self._checkpoints[later]
        for name, value in copy.deepcopy(checkpoint.state).items():
            setattr(self, name, value)
        events, changes, failures, stale, scaling = checkpoint.logs
        del self.events[events:], self.node_changes[changes:]
        del self.failures[failures:], self.stale[stale:]
        self.scaling.truncate(scaling)
        for later in [k for k in self.empty_steps if k > kept]:
            del self.empty_steps[later]
        self._backlog = checkpoint.backlog
        self._recommended = None  # (the ceiling may be the one before a person raised it)
        return kept, checkpoint.backlog.copy()

    def _checkpoint(self) -> _Checkpoint:
        state = copy.deepcopy({name: getattr(self, name) for name in _STATE})
        logs = (
            len(self.events), len(self.node_changes), len(self.failures), len(self.stale),
            len(self.scaling),
        )  # fmt: skip
        return _Checkpoint(state, logs, self._backlog.copy())

    # --------------------------------------------------------------- replicas

    def _on_the_way(self) -> np.ndarray:
        """Replicas asked for that do not serve yet: waiting for room, or starting (whole
        numbers: the sum's order changes nothing)."""
        if not self.starting:
            return self.waiting.copy()
        return self.waiting + sum((c for _, c in self.starting), np.zeros_like(self.ready))

    def _recommendation(
        self, on_the_way: np.ndarray, busy: np.ndarray, current: np.ndarray
    ) -> tuple[np.ndarray, bool]:
        """`hpa_recommendation` of the replicas and `busy`, and whether it leaves the HPA
        settled (`hpa_settled` of `current`, the ready replicas and those on the way); the
        last ones again when the inputs have the bits of the sync before (the syncs of a
        step see the same load: most of them, once no replica is starting). Pure functions
        of equal inputs: the same answers (inputs equal in value but not in bits, 0.0 and
        −0.0, are computed again). The bounds are the fleet's (`_by_hand` and `resume`
        forget the last answer)."""
        key = (self.ready.tobytes(), on_the_way.tobytes(), busy.tobytes())
        last = self._recommended
        if last is not None and last[0] == key:
            return last[1], last[2]
        settings = self.settings
        desired = hpa_recommendation(
            self.ready, on_the_way, busy, settings.target_utilisation, settings.tolerance
        )
        settled = hpa_settled(current, desired, self.minimum, self.maximum)
        self._recommended = (key, desired, settled)
        return desired, settled

    def _sync(self, now: float, busy: np.ndarray) -> None:
        settings = self.settings
        behavior = settings.behavior
        on_the_way = self._on_the_way()
        current = self.ready + on_the_way
        desired, settled = self._recommendation(on_the_way, busy, current)
        if settled:  # what `hpa_decision` returns then, without asking it
            new = current
        else:
            new = hpa_decision(
                current, desired, self.minimum, self.maximum, now, behavior,
                self.recommendations, self.scale_events,
            )  # fmt: skip
        windows, periods = self._memory
        self.recommendations.append((now, desired))
        forget(self.recommendations, now, windows)
        forget(self.scale_events, now, periods)
        if new is current:  # hpa_decision's "no change" (most syncs): nothing to start or log
            return
        more = np.maximum(new - current, 0)
        fewer = np.maximum(current - new, 0)
        # each asked once (a sync a minute), as counts: `any()` without numpy's Python wrapper
        up, down = np.count_nonzero(more) > 0, np.count_nonzero(fewer) > 0
        if up or down:
            self.scale_events.append((now, more, fewer))
        if up:
            self._start(now, more)
            self._log(now, "scale_up", more, current, UTILISATION)
        if down:
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
        self.ready -= np.minimum(left, np.maximum(self.ready - 1, 0))  # (none: a failed node's)
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
        # the common case, asked first (`waiting.any()` as a count): no sums over the fleet
        if not np.count_nonzero(self.waiting):
            return
        free = self._free_slots()
        if free <= 0:
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
                if self.failing is not None:
                    self.failing.add(now)
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
            if self.failing is not None:
                self.failing.retire(removable, len(self.booting))
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


class _Failing:
    """The fleet's nodes and when each fails: the pool's order (booting ones last, as they
    join), a failure time each from its own stream, the scripted failures, and the racks
    and power domains the first nodes fill (`failures.failure_domains`), each with its
    stream, as the request level's `NodeFailures._domain` draws them."""

    def __init__(self, cluster: Cluster, streams: RandomStreams, nodes: int, back: float) -> None:
        settings = cluster.failures
        self.settings = settings
        self.mtbf = settings.node_mtbf
        self.streams = streams
        self.back = back
        """A domain's nodes serve again this long after its repair (their boot and start)."""
        self.rngs: dict[int, np.random.Generator] = {}
        self.nodes: list[int] = []
        """Node indices in the pool, in pool order."""
        self.times: dict[int, float] = {}
        self.scripted = sorted((f.at, f.node) for f in settings.scripted)
        self.per = (cluster.nodes_per_rack, settings.nodes_per_power_domain)
        self.domains: dict[tuple[str, int], tuple[np.random.Generator, float]] = {}
        for scope, number in failure_domains(nodes, *self.per):
            rng = streams.get(f"failures/{scope}/{number}")
            self.domains[scope, number] = (rng, float(rng.exponential(self._domain_mtbf(scope))))
        for _ in range(nodes):
            self.add(0.0)

    def _domain_mtbf(self, scope: str) -> float:
        return self.settings.rack_mtbf if scope == RACK else self.settings.power_mtbf

    def add(self, now: float) -> None:
        index = len(self.rngs)
        self.rngs[index] = self.streams.get(f"failures/node/{index}")
        self.nodes.append(index)
        self.redraw(index, now)

    def redraw(self, index: int, now: float) -> None:
        self.times[index] = now + float(self.rngs[index].exponential(self.mtbf))

    def next_time(self) -> float:
        drawn = min(self.times.values(), default=math.inf)
        domains = min((t for _, t in self.domains.values()), default=math.inf)
        return min(drawn, domains, self.scripted[0][0] if self.scripted else math.inf)

    def pop(self, now: float, up: list[int]) -> list[int]:
        """The nodes of the next failure: a scripted one's, a rack's or power domain's that
        are `up`, or one whose time has come."""
        if self.scripted and self.scripted[0][0] <= now + 1e-9:
            return [self.scripted.pop(0)[1]]
        for (scope, number), (rng, time) in self.domains.items():
            if time <= now + 1e-9:
                members = [i for i in up if in_domain(i, scope, number, *self.per)]
                if members:  # the request level draws the repair then, and waits for it
                    repair = (
                        self.settings.rack_repair if scope == RACK else self.settings.power_repair
                    )
                    time += float(repair.draw(rng, 1)[0]) + self.back
                self.domains[scope, number] = (
                    rng,
                    time + float(rng.exponential(self._domain_mtbf(scope))),
                )
                return members
        drawn = min(self.times, key=lambda i: (self.times[i], i))
        self.times[drawn] = math.inf  # until redrawn (a booting node), or gone
        return [drawn]

    def up(self, booting: int) -> list[int]:
        """The nodes that serve: all but the `booting` last ones."""
        return self.nodes[: len(self.nodes) - booting]

    def remove(self, index: int) -> None:
        self.nodes.remove(index)
        self.times.pop(index, None)

    def retire(self, count: int, booting: int) -> None:
        """Empty nodes leave, the newest ready ones first (first-fit empties them first)."""
        up = self.up(booting)
        for index in up[len(up) - count :]:
            self.remove(index)
