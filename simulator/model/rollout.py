"""Rollouts on the running services: replicas carry a version, rollouts replace replicas,
and a bad version acts on the requests it serves.

The decisions are pure functions: how many replicas may be started and retired next from
the surge settings (`fenceposts`, `rolling_step`, as Kubernetes' Deployment controller
computes them), which replicas go first (`retirees`), the canary's slice (`canary_size`)
and its verdict (`canary_passes`). `Rollouts` only keeps time: one SimPy process per rollout
starts replicas (each takes the runtime's start time), adds them to the station when they
serve and retires old ones through the station's own mechanisms (draining, the
`on_endpoint_change` hook that discovery listens to), and records every step.

A station has no versions until its first rollout; from then on each replica runs a version
(`Station.version`) and a bad version's replicas are marked, so their work is slower or a
share of the visits they serve fail with `defect` (`services.ReplicaDefect`).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np
import simpy
from simpy import Environment

from ..engine import EventLog, RandomStreams, SpanLog
from ..engine.recorder import DEFECT, OK, PENDING
from ..records.rollout import (
    CANARY,
    DEPLOY,
    DONE,
    DOWN,
    FAILED,
    INTERRUPTED,
    PROMOTED,
    RETIRED,
    ROLLBACK,
    ROLLED_BACK,
    SERVING,
    STANDBY_RETIRED,
    STARTED,
    STARTING,
    SWITCHED,
    UP,
    ReplicaLives,
    RolloutLog,
    RolloutRecords,
)
from ..scenario.distributions import block_stream
from ..scenario.rollout import Canary, Defect, Deploy, RolloutSettings, resolve_count
from ..scenario.units import format_duration
from .services import ReplicaDefect, ReplicaQueueStation, Station

if TYPE_CHECKING:
    from ..scenario.schema import Scenario
    from .context import VersionedStations

DEFAULT_REPLICA_START = 5.0
"""Seconds from an autoscaler's decision to a replica taking traffic when no cluster runtime
says otherwise: the Kubernetes pod-startup SLO, p99 ≤ 5 s (REFERENCE.md §4)."""

# ---------------------------------------------------------------------------- decisions


def replica_start(scenario: Scenario) -> float:
    """Seconds from asking for a replica to its taking traffic: `autoscaling.replica_start`,
    else the start time of the runtime of the nodes' first type (when the services run on
    nodes, not under a cluster scheduler), else DEFAULT_REPLICA_START."""
    start = scenario.autoscaling.replica_start
    cluster = scenario.cluster
    if start is None and cluster is not None and scenario.scheduler is None:
        node_type = cluster.node_type_list()[0][1]
        start = cluster.runtimes[node_type.runtime].start_time
    return DEFAULT_REPLICA_START if start is None else start


def fenceposts(desired: int, max_surge: int | str, max_unavailable: int | str) -> tuple[int, int]:
    """Replicas a rolling update may run above `desired` (surge) and leave missing below it
    (unavailable): percentages of `desired` rounded up and down, and one may be missing when
    both come to 0 (Kubernetes' `ResolveFenceposts`). Neither is more than `desired`."""
    surge = min(resolve_count(max_surge, desired, round_up=True), max(desired, 1))
    unavailable = min(resolve_count(max_unavailable, desired, round_up=False), desired)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def rolling_step(
    desired: int, old: int, new_ready: int, starting: int, surge: int, unavailable: int
) -> tuple[int, int]:
    """(new replicas to start, old replicas to retire) now, as the Deployment controller
    scales its two ReplicaSets: never more than `desired + surge` replicas in all, never
    fewer than `desired − unavailable` available (ready old and new), and never more new
    ones than `desired`. `old`: old-version replicas serving; `new_ready`: new-version ones
    available; `starting`: new ones asked for and not yet available."""
    total = old + new_ready + starting
    start = max(0, min(desired + surge - total, desired - new_ready - starting))
    retire = max(0, min(old, old + new_ready - (desired - unavailable)))
    return start, retire


def retirees(candidates: Iterable[int], count: int) -> list[int]:
    """The replicas that go first: the oldest (lowest-numbered) of `candidates`."""
    return sorted(candidates)[: max(count, 0)]


def canary_size(desired: int, replicas: int | None, share: float | None, split: bool) -> int:
    """Replicas of a canary. A given number, at most `desired`; for a traffic share with a
    load balancer that splits by weight, enough that none carries more than a replica did
    before (⌈share × desired⌉, each at most 1/desired of the traffic); without one, that
    share of the replicas (rounded, at least 1), which then gets about that share."""
    if share is None:
        return max(1, min(replicas or 1, desired))
    exact = share * desired
    count = math.ceil(exact - 1e-9) if split else round(exact)
    return max(1, min(count, desired))


@dataclass(frozen=True)
class SliceStats:
    """What the canary analysis compares: finished visits, failed ones, and the mean
    latency of those that succeeded (NaN when none did)."""

    finished: int
    failed: int
    latency_mean: float

    @property
    def error_ratio(self) -> float:
        return self.failed / self.finished if self.finished else 0.0


def canary_passes(canary: SliceStats, others: SliceStats, settings: Canary) -> bool:
    """The analysis's verdict: the canary fails when its error ratio exceeds the others' by
    more than `max_error_increase`, or its mean latency theirs by more than
    `max_latency_increase` (relative); with fewer than `min_requests` finished visits on the
    canary there is nothing to judge by, and it passes."""
    if canary.finished < settings.min_requests:
        return True
    if canary.error_ratio - others.error_ratio > settings.max_error_increase:
        return False
    slower = canary.latency_mean > others.latency_mean * (1.0 + settings.max_latency_increase)
    return not (math.isfinite(others.latency_mean) and slower)


def slice_stats(status: np.ndarray, arrival: np.ndarray, end: np.ndarray) -> SliceStats:
    """Finished and failed visits, and the mean latency of the successful ones."""
    finished = status != PENDING
    ok = status == OK
    latency = end[ok] - arrival[ok]
    return SliceStats(
        finished=int(finished.sum()),
        failed=int(finished.sum() - ok.sum()),
        latency_mean=float(latency.mean()) if latency.size else math.nan,
    )


# ---------------------------------------------------------------------------- time keeping


@dataclass(frozen=True)
class RolloutOutcome:
    """What a rollout's event carries when it fires."""

    service: str
    rollout: int
    kind: str
    strategy: str
    from_version: int
    to_version: int
    outcome: str  # done, rolled_back or interrupted (`records.rollout.ENDS`)
    started: float
    ended: float


class _QueuedPlan(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def done(self) -> simpy.Event: ...


PlanT = TypeVar("PlanT", bound=_QueuedPlan)


class RolloutQueue(Generic[PlanT]):
    """One service's rollouts, one at a time (in both fidelities): later ones wait for it;
    a rollback cuts a deploy in progress short and goes first. `run(plan)` is the process of
    one rollout; it calls `start_next` when it ends."""

    def __init__(
        self, env: Environment, run: Callable[[PlanT], Generator[simpy.Event, Any, None]]
    ) -> None:
        self.env = env
        self.run = run
        self.queue: deque[PlanT] = deque()
        self.running: PlanT | None = None
        self.process: simpy.Process | None = None

    def ask(self, plan: PlanT) -> simpy.Event:
        self.queue.append(plan)
        if self.running is None:
            self.start_next()
        return plan.done

    def ask_rollback(self, plan: PlanT, deployed: bool) -> simpy.Event:
        """A rollback: at once with None when nothing was ever deployed (nor is being)."""
        if not deployed and self.running is None and not self.queue:
            plan.done.succeed(None)
            return plan.done
        if self.running is not None and self.running.kind == DEPLOY:
            self.queue.appendleft(plan)
            assert self.process is not None
            self.process.interrupt("rollback")
            return plan.done
        return self.ask(plan)

    def start_next(self) -> None:
        if not self.queue:
            self.running = self.process = None
            return
        plan = self.queue.popleft()
        self.running = plan
        self.process = self.env.process(self.run(plan))


@dataclass(eq=False)
class _Start:
    """A new replica asked for: starting, then serving, then available (after min_ready)."""

    version: int
    replica: int = -1
    serving: bool = False
    available: bool = False
    cancelled: bool = False


@dataclass(eq=False)
class _Plan:
    """One rollout, asked for and maybe waiting for the service's earlier ones."""

    number: int
    kind: str
    target: int | None  # a rollback's None: the version before (resolved when it starts)
    settings: RolloutSettings
    done: simpy.Event
    from_version: int = 0
    to_version: int = 0
    started: float = math.nan
    starts: list[_Start] = field(default_factory=list)
    wake: simpy.Event | None = None
    analysis_row: int = 0  # the first span row of a canary's analysis


@dataclass(eq=False)
class _Service:
    """The rollout state of one station."""

    station: Station
    desired: int
    deployed: tuple[int, int] | None = None  # (from, to) of the last deploy: what to undo
    deployed_at: float = math.nan  # when the last deploy started
    last: RolloutSettings = field(default_factory=RolloutSettings)
    plans: RolloutQueue[_Plan] = field(init=False)
    standby: tuple[int, int, float] | None = None  # blue-green's old copy: version, count, until
    life_rows: dict[int, int] = field(default_factory=dict)  # replica → ReplicaLives row
    draws: dict[str, Callable[[], float]] = field(default_factory=dict)  # uniform, by use
    defined: dict[int, tuple[float, float]] = field(default_factory=dict)  # what versions do


class Rollouts:
    """Deploys and rollbacks on the request-level services, one rollout at a time per
    service (later ones wait; a rollback interrupts the rollout in progress)."""

    def __init__(
        self,
        env: Environment,
        stations: dict[str, Station],
        streams: RandomStreams,
        events: EventLog,
        spans: SpanLog,
        replica_start: float,
        in_place: bool = False,
    ) -> None:
        """`stations`: by the service names callers use (in a monolith every service names
        the one station); `replica_start`: seconds from asking for a replica to its serving;
        `in_place`: new versions replace old ones on the same servers, keeping their addresses
        (static discovery: there is nothing that would tell clients of new ones), as a deploy
        by hand always does."""
        self.env = env
        self.stations = stations
        self.streams = streams
        self.events = events
        self.spans = spans
        self.replica_start = replica_start
        self.in_place = in_place
        self.log = RolloutLog()
        self.lives = ReplicaLives()
        self._services: dict[int, _Service] = {}  # by station index
        self._count = 0

    # ------------------------------------------------------------------ the API

    def deploy(
        self,
        service: str,
        version: int,
        strategy: str | RolloutSettings = "rolling",
        defect: Defect | ReplicaDefect | None = None,
    ) -> simpy.Event:
        """Roll `version` out to `service`'s replicas; the event fires with a
        `RolloutOutcome` when the rollout ends. `strategy` is a strategy's name (with the
        default settings) or full settings; `defect` what the version does wrong."""
        state = self._state(service)
        if isinstance(strategy, RolloutSettings):
            settings = strategy
        else:  # a bad name is pydantic's ValueError
            settings = RolloutSettings.model_validate({"strategy": strategy})
        self._define(state, version, defect)
        return state.plans.ask(_Plan(self._next(), DEPLOY, version, settings, self.env.event()))

    def rollback(
        self,
        service: str,
        to_version: int | None = None,
        settings: RolloutSettings | None = None,
    ) -> simpy.Event:
        """Roll `service` back to the version before its last deploy (or to `to_version`, a
        version it ran before: the last good one, under later deploys that carried the same
        bug), the way that deploy went unless `settings` say otherwise (a canary's slice goes;
        blue-green switches back, at once while the old copy is kept); the rollout in
        progress, if any, ends there. The event fires with a `RolloutOutcome` (None at once
        when nothing was ever deployed). Rolling back twice, or after a canary that was
        rolled back already, replaces nothing: a rollback never brings the rolled-back
        version back."""
        state = self._state(service)
        how = state.last if settings is None else settings
        plan = _Plan(self._next(), ROLLBACK, to_version, how, self.env.event())
        return state.plans.ask_rollback(plan, deployed=state.deployed is not None)

    def serving_versions(self, service: str) -> dict[int, int]:
        """Replicas serving now, by version."""
        station = self.stations[service]
        if station.versions is None:
            return {0: station.replicas} if station.replicas else {}
        runs = station.versions.of
        return dict(sorted(Counter(runs[r] for r in station.live_replicas()).items()))

    def bad_version(self, service: str) -> tuple[float, int, Defect] | None:
        """If replicas of the last deploy's version serve and it does something wrong: when
        that deploy started, the version before it and what it does (else None)."""
        station = self.stations[service]
        state = self._services.get(station.index)
        if state is None or state.deployed is None:
            return None
        before, version = state.deployed
        ratio, factor = state.defined.get(version, (0.0, 1.0))
        if (ratio, factor) == (0.0, 1.0) or version not in self.serving_versions(service):
            return None
        return state.deployed_at, before, Defect(error_ratio=ratio, latency_factor=factor)

    def current_version(self, service: str) -> int:
        """The version the service runs, or is rolling out (new replicas get it)."""
        return self.stations[service].current_version

    def defect_share(self, stations: list[int], start: float, end: float) -> float | None:
        """The share of the visits to `stations` (indices) that ended in [start, end] and
        failed with `defect`: what a bad version cost its users (None if none ended, or the
        spans are not kept)."""
        ends = np.frombuffer(self.spans.end, dtype=np.float64)
        if not len(ends):
            return None
        mine = np.isin(np.frombuffer(self.spans.service, dtype=np.int32), stations)
        mine &= (ends >= start) & (ends <= end)
        visits = int(mine.sum())
        if not visits:
            return None
        defect = np.frombuffer(self.spans.status, dtype=np.int8)[mine] == DEFECT
        return float(defect.sum()) / visits

    def records(self) -> RolloutRecords:
        return RolloutRecords(self.log, self.lives)

    # ------------------------------------------------------------------ bookkeeping

    def _next(self) -> int:
        self._count += 1
        return self._count - 1

    def _state(self, service: str) -> _Service:
        if service not in self.stations:
            raise ValueError(f"no service {service!r} to roll out; expected one of "
                             f"{', '.join(sorted(self.stations))}")  # fmt: skip
        station = self.stations[service]
        state = self._services.get(station.index)
        if state is None:
            state = self._services[station.index] = _Service(station, station.replicas)
            state.plans = RolloutQueue(self.env, partial(self._run, state))
            state.defined[station.current_version] = (0.0, 1.0)
            now = self.env.now
            versions = station.enable_versions()
            for replica, version in versions.of.items():
                state.life_rows[replica] = self.lives.add(station.name, replica, version, now)
            versions.on_change = self._replica_changed
        return state

    def _replica_changed(self, station: Station, replica: int, version: int, added: bool) -> None:
        rows = self._services[station.index].life_rows
        if added:
            rows[replica] = self.lives.add(station.name, replica, version, self.env.now)
        elif replica in rows:
            self.lives.remove(rows.pop(replica), self.env.now)

    def _draws(self, state: _Service, use: str) -> Callable[[], float]:
        """Uniform numbers for one use on one station (`rollout/NAME/USE`), one stream each."""
        if use not in state.draws:
            stream = self.streams.get(f"rollout/{state.station.name}/{use}")
            state.draws[use] = block_stream(stream.random)
        return state.draws[use]

    def _define(self, state: _Service, version: int, defect: Defect | ReplicaDefect | None) -> None:
        """What `version` does wrong: a version's code is the same wherever and whenever it
        runs, so a version already known (the one the service started with does nothing
        wrong) keeps what it does; `None` means "whatever it does" (nothing, if new)."""
        if defect is None:
            state.defined.setdefault(version, (0.0, 1.0))
            return
        wanted = (defect.error_ratio, defect.latency_factor)
        known = state.defined.setdefault(version, wanted)
        if known != wanted:
            raise ValueError(
                f"version {version} of {state.station.name} does {known} (error ratio, "
                f"latency factor), not {wanted}: a version's code is the same wherever it runs"
            )
        if wanted != (0.0, 1.0) and version not in state.station.enable_versions().defects:
            if isinstance(defect, Defect):
                defect = ReplicaDefect(*wanted, self._draws(state, "defect"))
            state.station.set_defect(version, defect)

    def _unfinished(self, state: _Service) -> bool:
        """Whether replicas of more than one version serve (a rollout was cut short), so the
        desired count is the last rollout's, not the replicas serving now."""
        station = state.station
        runs = station.enable_versions().of
        return len({runs[r] for r in station.live_replicas()}) > 1

    def _counts(self, state: _Service, plan: _Plan) -> tuple[int, int, int]:
        """(old serving, new serving, new starting) for the records."""
        station = state.station
        runs = station.enable_versions().of
        live = station.live_replicas()
        new = sum(1 for r in live if runs[r] == plan.to_version)
        starting = sum(1 for s in plan.starts if not s.serving and not s.cancelled)
        return len(live) - new, new, starting

    def _record(self, state: _Service, plan: _Plan, step: str) -> None:
        self.log.record(
            self.env.now,
            state.station.name,
            plan.number,
            plan.kind,
            plan.settings.strategy,
            step,
            (plan.from_version, plan.to_version),
            self._counts(state, plan),
        )

    # ------------------------------------------------------------------ one rollout

    def _run(self, state: _Service, plan: _Plan) -> Generator[simpy.Event, Any, None]:
        station = state.station
        plan.started = self.env.now
        interrupted = state.deployed is not None and self._unfinished(state)
        if plan.kind == ROLLBACK:
            assert state.deployed is not None  # (`rollback` answers at once otherwise)
            plan.to_version, plan.from_version = state.deployed
            if plan.target is not None:
                plan.to_version = plan.target
        else:
            assert plan.target is not None
            plan.from_version, plan.to_version = station.current_version, plan.target
            state.deployed = (plan.from_version, plan.to_version)
            state.deployed_at = plan.started
            state.last = plan.settings
        if not interrupted:
            state.desired = max(station.replicas, 1)
        self._record(state, plan, STARTED)
        self.events.record(
            self.env.now,
            f"rollout/{station.name}",
            f"{plan.kind}_started",
            f"{plan.settings.strategy} from version {plan.from_version} to {plan.to_version}",
        )
        outcome = DONE
        try:
            outcome = yield from self._strategy(state, plan)
        except simpy.Interrupt:
            outcome = INTERRUPTED
            for start in plan.starts:
                start.cancelled = start.cancelled or not start.serving
            split = station.versions is not None and station.versions.split is not None
            if split and isinstance(station, ReplicaQueueStation):
                station.set_split(None)
        self._record(state, plan, outcome)
        self.events.record(
            self.env.now,
            f"rollout/{station.name}",
            f"{plan.kind}_{outcome}",
            f"version {plan.to_version if outcome == DONE else plan.from_version} serves"
            if outcome != INTERRUPTED
            else "a rollback takes over",
        )
        plan.done.succeed(
            RolloutOutcome(
                station.name, plan.number, plan.kind, plan.settings.strategy,
                plan.from_version, plan.to_version, outcome, plan.started, self.env.now,
            )
        )  # fmt: skip
        state.plans.start_next()

    def _strategy(self, state: _Service, plan: _Plan) -> Generator[simpy.Event, Any, str]:
        strategy = plan.settings.strategy
        if plan.kind == ROLLBACK and strategy == "canary":
            strategy = "rolling"  # a canary's slice goes the way it came, a promoted one back
        if strategy == "blue-green":
            return (yield from self._blue_green(state, plan))
        if strategy == "manual":
            return (yield from self._manual(state, plan))
        if strategy == "canary":
            return (yield from self._canary(state, plan))
        state.station.enable_versions().current = plan.to_version
        return (yield from self._rolling(state, plan, state.desired))

    # ------------------------------------------------------------------ replicas

    def _start(self, state: _Service, plan: _Plan, version: int, serve: bool = True) -> _Start:
        """Ask for a replica of `version`: it serves after the start time (unless `serve`
        is False: blue-green's new copy waits for the switch) and is available `min_ready`
        later."""
        start = _Start(version)
        plan.starts.append(start)
        min_ready = plan.settings.rolling.min_ready

        def ready(_: simpy.Event) -> None:
            if start.cancelled:
                return
            start.serving = True
            if serve:
                with self._addresses(state.station):
                    start.replica = state.station.new_replica(version)
                self._record(state, plan, SERVING)
            if min_ready > 0:
                self.env.timeout(min_ready).callbacks.append(available)
            else:
                available(None)

        def available(_: simpy.Event | None) -> None:
            if not start.cancelled:
                start.available = True
                self._wake(plan)

        self.env.timeout(self.replica_start).callbacks.append(ready)
        return start

    def _wake(self, plan: _Plan) -> None:
        if plan.wake is not None and not plan.wake.triggered:
            plan.wake.succeed()

    def _wait(self, plan: _Plan) -> simpy.Event:
        plan.wake = self.env.event()
        return plan.wake

    def _retire(self, state: _Service, replicas: Iterable[int]) -> None:
        with self._addresses(state.station):
            for replica in replicas:
                state.station.remove_replica(replica=replica)

    def _addresses(self, station: Station) -> AbstractContextManager[None]:
        return _in_place(station) if self.in_place else nullcontext()

    def _serving(self, state: _Service, version: int, same: bool) -> list[int]:
        """Serving replicas of `version` (`same`), or of any other version."""
        station = state.station
        runs = station.enable_versions().of
        return [r for r in station.live_replicas() if (runs[r] == version) == same]

    # ------------------------------------------------------------------ strategies

    def _rolling(
        self, state: _Service, plan: _Plan, desired: int
    ) -> Generator[simpy.Event, Any, str]:
        """Replace every replica of another version, `rolling_step` at a time."""
        target = plan.to_version
        surge, unavailable = fenceposts(
            desired, plan.settings.rolling.max_surge, plan.settings.rolling.max_unavailable
        )
        while True:
            old = self._serving(state, target, same=False)
            pending = [s for s in plan.starts if not s.available and not s.cancelled]
            waiting = {s.replica for s in pending if s.serving}
            new_ready = len(self._serving(state, target, same=True)) - len(waiting)
            if not old and not pending and new_ready >= desired:
                return DONE
            start, retire = rolling_step(
                desired, len(old), new_ready, len(pending), surge, unavailable
            )
            if retire:
                self._retire(state, retirees(old, retire))
                self._record(state, plan, RETIRED)
            for _ in range(start):
                self._start(state, plan, target)
            if start:
                self._record(state, plan, STARTING)
            if not start and not retire:
                yield self._wait(plan)

    def _canary(self, state: _Service, plan: _Plan) -> Generator[simpy.Event, Any, str]:
        """A slice of the new version for the analysis, then the rest, or the slice goes."""
        station = state.station
        settings = plan.settings.canary
        target, desired = plan.to_version, state.desired
        split = settings.share is not None and isinstance(station, ReplicaQueueStation)
        size = canary_size(desired, settings.replicas, settings.share, split)
        starts = [self._start(state, plan, target) for _ in range(size)]
        self._record(state, plan, STARTING)
        while not all(s.available for s in starts):
            yield self._wait(plan)
        canaries = [s.replica for s in starts]
        if split:
            assert settings.share is not None and isinstance(station, ReplicaQueueStation)
            station.set_split((settings.share, target, self._draws(state, "split")))
        else:
            self._retire(state, retirees(self._serving(state, target, same=False), size))
        plan.analysis_row = len(self.spans.arrival)
        self._record(state, plan, CANARY)
        if settings.analysis > 0:
            yield self.env.timeout(settings.analysis)
        if split:
            assert isinstance(station, ReplicaQueueStation)
            station.set_split(None)
        if self._verdict(state, plan, canaries):
            self._record(state, plan, PROMOTED)
            station.enable_versions().current = target
            return (yield from self._rolling(state, plan, desired))
        self._record(state, plan, FAILED)
        back = [self._start(state, plan, plan.from_version) for _ in range(0 if split else size)]
        while not all(s.available for s in back):
            yield self._wait(plan)
        self._retire(state, [r for r in canaries if r in station.live_replicas()])
        self._record(state, plan, RETIRED)
        return ROLLED_BACK

    def _verdict(self, state: _Service, plan: _Plan, canaries: list[int]) -> bool:
        settings = plan.settings.canary
        if settings.verdict != "analysis":
            return settings.verdict == "promote"
        spans, first = self.spans, plan.analysis_row
        mine = np.frombuffer(spans.service[first:], dtype=np.int32) == state.station.index
        replica = np.frombuffer(spans.replica[first:], dtype=np.int32)[mine]
        status = np.frombuffer(spans.status[first:], dtype=np.int8)[mine]
        arrival = np.frombuffer(spans.arrival[first:], dtype=np.float64)[mine]
        end = np.frombuffer(spans.end[first:], dtype=np.float64)[mine]
        canary = np.isin(replica, canaries)
        other = ~canary & (replica >= 0)
        passed = canary_passes(
            slice_stats(status[canary], arrival[canary], end[canary]),
            slice_stats(status[other], arrival[other], end[other]),
            settings,
        )
        self.events.record(
            self.env.now,
            f"rollout/{state.station.name}",
            "canary_analysis",
            f"{'passed' if passed else 'failed'} after {format_duration(settings.analysis)}",
        )
        return passed

    def _blue_green(self, state: _Service, plan: _Plan) -> Generator[simpy.Event, Any, str]:
        """A second full copy, then all traffic switches; the old copy is kept a while."""
        station = state.station
        settings = plan.settings.blue_green
        target, desired = plan.to_version, state.desired
        standby = state.standby
        old = self._serving(state, target, same=False)
        if not old:
            return DONE  # nothing to replace
        if standby is not None and standby[0] == target and standby[2] >= self.env.now:
            count = standby[1]  # the old copy is still there: switch straight back
        else:
            count = desired
            starts = [self._start(state, plan, target, serve=False) for _ in range(count)]
            self._record(state, plan, STARTING)
            while not all(s.available for s in starts):
                yield self._wait(plan)
            if settings.switch_after > 0:
                yield self.env.timeout(settings.switch_after)
        with self._addresses(station):
            for _ in range(count):
                station.add_replica(target)
        self._retire(state, old)
        station.enable_versions().current = target
        until = self.env.now + settings.scale_down_delay
        state.standby = (plan.from_version, len(old), until)
        self._record(state, plan, SWITCHED)
        if settings.scale_down_delay > 0:
            yield self.env.timeout(settings.scale_down_delay)
        if state.standby is not None and state.standby[2] == until:
            state.standby = None
            self._record(state, plan, STANDBY_RETIRED)
        return DONE

    def _manual(self, state: _Service, plan: _Plan) -> Generator[simpy.Event, Any, str]:
        """By hand: every replica stops for the whole duration, or one at a time (each for
        its share of it). Servers a cut-short manual deploy left stopped come back too."""
        station = state.station
        settings = plan.settings.manual
        target = plan.to_version
        old = self._serving(state, target, same=False)
        missing = max(0, state.desired - station.replicas)
        servers: list[int | None] = [*old, *([None] * missing)]
        if not servers:
            return DONE  # nothing to replace
        station.enable_versions().current = target
        if settings.outage == "down" or len(servers) == 1:
            with _in_place(station):
                self._retire(state, old)
            self._record(state, plan, DOWN)
            yield self.env.timeout(settings.duration)
            with _in_place(station):
                for _ in servers:  # the servers that stopped come back with the new version
                    station.add_replica(target)
            self._record(state, plan, UP)
            return DONE
        share = settings.duration / len(servers)
        for replica in servers:
            if replica is not None and replica not in station.live_replicas():
                continue  # it went meanwhile (a failure, a scale-in): nothing to replace
            if replica is not None:
                with _in_place(station):
                    self._retire(state, [replica])
                self._record(state, plan, DOWN)
            yield self.env.timeout(share)
            with _in_place(station):
                station.add_replica(target)
            self._record(state, plan, UP)
        return DONE


@contextmanager
def _in_place(station: Station) -> Iterator[None]:
    """A server restarted by hand keeps its address: discovery hears of no change (the
    replica's number changes only for the records)."""
    hook, station.on_endpoint_change = station.on_endpoint_change, None
    try:
        yield
    finally:
        station.on_endpoint_change = hook


def stations_by_service(
    services: Iterable[str], stations: list[Station], monolith: bool
) -> dict[str, Station]:
    """The station each service name deploys to: its own, or in a monolith the one process
    (which also answers to its own name)."""
    if monolith:
        (station,) = stations
        return {station.name: station, **dict.fromkeys(services, station)}
    return {station.name: station for station in stations}


def scripted(
    env: Environment, rollouts: VersionedStations, deploys: Iterable[tuple[str, Deploy]]
) -> None:
    """Start each scripted deploy (`services.NAME.deploys`) at its time, and its rollback
    `rollback_after` later (on the rollouts of either fidelity)."""
    for service, deploy in deploys:

        def go(_: simpy.Event, service: str = service, deploy: Deploy = deploy) -> None:
            rollouts.deploy(service, deploy.version, deploy, deploy.defect)
            if deploy.rollback_after is not None:
                env.timeout(deploy.rollback_after).callbacks.append(back(service))

        def back(service: str) -> Callable[[simpy.Event], None]:
            def roll_back(_: simpy.Event) -> None:
                rollouts.rollback(service)

            return roll_back

        env.timeout(deploy.at).callbacks.append(go)
