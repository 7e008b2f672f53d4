"""Rollouts at the analytic fidelity: which share of a station's traffic each version
serves, over time, and the errors a bad version makes of it.

There are no replicas to replace one by one at this fidelity. A rollout is a *ramp*: the
new version's share of the traffic moves linearly from one value to another over the
rollout's time (the request level's replicas, replaced in rounds, become a straight line),
and a station's error ratio at any time is its mix's, (1 − x) × r_before + x × r_new, or 1
while a manual deploy has the service down. The delivery model drives it with the calls it
makes of `simulator.model.rollout.Rollouts` (`deploy`, `rollback`, `current_version`,
`bad_version`, `defect_share`), so the organisation does not know which fidelity it acts
on. How long each strategy takes (`ramp_time` and the processes below):

* rolling: ⌈desired / (surge + unavailable)⌉ rounds of a replica's start and `min_ready`
  (Kubernetes' fenceposts, as at request level); the share ramps 0 → 1 over them;
* canary: the slice starts (a replica's start), serves its share (`share`, or its replicas
  over the desired count) for the analysis, whose verdict compares the expected errors of
  both slices (`canary_passes`); then the rest as a rolling update, or the slice goes;
* blue-green: the copy starts (a replica's start, then `switch_after`), then all traffic
  switches at once;
* manual: `duration`; `down`: every request fails meanwhile, then the new version serves;
  `degraded`: the share ramps over the duration;
* a rollback: the same way back, from wherever the mix is (a canary's: rolling); it cuts a
  deploy in progress short.

A degraded manual deploy stops the servers in turn, as at request level: one replica fewer
serves from the step edge nearest its start to the one nearest its end (`hold_replicas`,
the run's steps recomputed from there on; one server alone is `down`-like and left to the
error ratio). A latency regression (`latency_factor` f) lengthens the work its share x
serves: each ramp also carries the mix's latency factor (the rest's E[F] and E[F²], the
version's f), and from the instant a ramp begins where a slow version serves or served the
run's steps are computed again (`slow_down`) with a share x̄ of the station's work steps f
times as long, x̄ the mean share over each step (`slowdown`): mean service time
(1 − x̄) + x̄·f times the base, so utilisation, queues, latencies and monitoring's latency
SLI follow. Not modelled here (docs/delivery.md): the capacity a rolling update takes away
while replicas restart (seconds per round; the queues keep their replicas). The canary
analysis compares the slices' expected errors and, with a latency factor, their mean
visit latencies (the station's visit with its work f times as long: `visit_latency`).
Scripted deploys (`services.NAME.deploys`) run through the same ramps (`scripted`, started
by the run).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import simpy

from ..engine import EventLog
from ..model.rollout import (
    RolloutOutcome,
    RolloutQueue,
    SliceStats,
    canary_passes,
    canary_size,
    fenceposts,
)
from ..records.rollout import (
    CANARY,
    DEPLOY,
    DONE,
    DOWN,
    FAILED,
    INTERRUPTED,
    PROMOTED,
    ROLLBACK,
    ROLLED_BACK,
    STARTED,
    SWITCHED,
    UP,
    ReplicaLives,
    RolloutLog,
    RolloutRecords,
)
from ..scenario.rollout import Defect, RolloutSettings
from ..scenario.units import format_duration

VisitCounter = Callable[[int, float, float], float]
"""`visits(station, start, end)`: the expected visits to a station in [start, end]."""


@dataclass(frozen=True)
class StationRef:
    """A station as the organisation names it."""

    index: int
    name: str


@dataclass
class Ramp:
    """From `start` to `end` the share of `version` goes linearly from `low` to `high`, and
    stays there after; `before` and `after` are the error ratios of the rest (the old mix)
    and of `version`; while `down`, every request fails."""

    start: float
    end: float
    low: float
    high: float
    before: float
    after: float
    version: int
    down: bool = False
    slow_before: tuple[float, float] = (1.0, 1.0)
    """E[F] and E[F²] of the latency factor F of what the rest (the old mix) serves."""
    slow_after: float = 1.0
    """`version`'s latency factor."""

    def share(self, time: float) -> float:
        if time >= self.end or self.end <= self.start:
            return self.high
        return self.low + (self.high - self.low) * (time - self.start) / (self.end - self.start)

    def mean_share(self, lo: float, hi: float) -> float:
        """The mean share of `version` over [lo, hi] (within this ramp's reign)."""
        if hi <= lo:
            return self.share(lo)
        mid = min(max(self.end, lo), hi)
        total = (mid - lo) * (self.share(lo) + self.share(mid)) / 2 + (hi - mid) * self.share(hi)
        return total / (hi - lo)

    def slowdown(self, lo: float, hi: float) -> tuple[float, float]:
        """E[F] and E[F²] of the latency factor of the mix, averaged over [lo, hi]: both
        are linear in the share, so its mean over the interval gives them exactly."""
        x = self.mean_share(lo, hi)
        (b1, b2), f = self.slow_before, self.slow_after
        return (1.0 - x) * b1 + x * f, (1.0 - x) * b2 + x * f * f

    def ratio(self, time: float) -> float:
        """The defect error ratio of the mix at `time` (outages aside)."""
        x = self.share(time)
        return (1.0 - x) * self.before + x * self.after

    def mean_ratio(self, lo: float, hi: float) -> float:
        """The mean defect error ratio over [lo, hi] (within this ramp's reign): linear on
        the ramp, constant after it."""
        if hi <= lo:
            return self.ratio(lo)
        mid = min(max(self.end, lo), hi)
        total = (mid - lo) * (self.ratio(lo) + self.ratio(mid)) / 2 + (hi - mid) * self.ratio(hi)
        return total / (hi - lo)


def ramp_time(desired: int, settings: RolloutSettings, replica_start: float) -> float:
    """A whole rolling update's time: rounds of a replica's start and `min_ready`, as many
    as the surge and unavailable fenceposts need to replace every replica."""
    rolling = settings.rolling
    surge, unavailable = fenceposts(desired, rolling.max_surge, rolling.max_unavailable)
    rounds = math.ceil(max(desired, 1) / max(surge + unavailable, 1))
    return rounds * (replica_start + rolling.min_ready)


@dataclass(eq=False)
class _Plan:
    number: int
    kind: str
    target: int | None
    settings: RolloutSettings
    done: simpy.Event
    from_version: int = 0
    to_version: int = 0
    started: float = math.nan


_DEFAULT_SETTINGS = RolloutSettings()
"""The settings of a station that has seen no rollout: one value for all (a frozen model),
not one validated per station (a thousand in a fleet)."""


@dataclass(eq=False)
class _Station:
    ref: StationRef
    desired: int
    ramps: list[Ramp] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    current: int = 0
    defined: dict[int, Defect] = field(default_factory=dict)
    deployed: tuple[int, int] | None = None
    deployed_at: float = math.nan
    last: RolloutSettings = field(default_factory=lambda: _DEFAULT_SETTINGS)
    plans: RolloutQueue[_Plan] = field(init=False)

    def ramp_at(self, time: float) -> Ramp | None:
        i = bisect.bisect_right(self.starts, time) - 1
        return self.ramps[i] if i >= 0 else None

    def ratio(self, version: int) -> float:
        defect = self.defined.get(version)
        return defect.error_ratio if defect is not None else 0.0

    def factor(self, version: int) -> float:
        defect = self.defined.get(version)
        return defect.latency_factor if defect is not None else 1.0

    slowed: bool = False
    """Whether a version with a latency factor has ever served here (the run's steps then
    follow every ramp's mix of service times, `AnalyticRollouts.slow_down`)."""

    clean_since: float = math.inf
    """Since when every ramp fails nothing (no defect on either side, no outage)."""
    board: np.ndarray | None = field(default=None, repr=False)
    """Where `clean_since` is copied (at `slot`): every station's, for one numpy scan."""
    slot: int = 0

    def add(self, ramp: Ramp) -> None:
        """A new ramp from now on (one starting at the same instant replaces it)."""
        if self.ramps and self.ramps[-1].start >= ramp.start:
            self.ramps.pop()
            self.starts.pop()
            if self.clean_since >= ramp.start:
                self.clean_since = math.inf  # what the replaced ramp made clean
        self.ramps.append(ramp)
        self.starts.append(ramp.start)
        clean = ramp.before == 0.0 and ramp.after == 0.0 and not ramp.down
        if not clean:  # a ramp to a clean version only (rolled back, fixed) is clean after it
            cured = ramp.high == 1.0 and ramp.after == 0.0
            self.clean_since = max(ramp.end, ramp.start) if cured else math.inf
        elif math.isinf(self.clean_since):
            self.clean_since = 0.0 if len(self.ramps) == 1 else ramp.start  # all clean: always
        if self.board is not None:
            self.board[self.slot] = self.clean_since

    def failing(self) -> list[tuple[float, float]]:
        """When the ramps as they stand may fail visits: each ramp's reign (to the next
        one's start) but a clean ramp's, and a cured one's only until its end (after it
        its mix's ratio is exactly 0, as `add`'s `clean_since` says)."""
        periods = []
        for i, ramp in enumerate(self.ramps):
            if ramp.before == 0.0 and ramp.after == 0.0 and not ramp.down:
                continue
            until = self.starts[i + 1] if i + 1 < len(self.ramps) else math.inf
            if ramp.high == 1.0 and ramp.after == 0.0:
                until = min(until, max(ramp.end, ramp.start))
            if until > ramp.start:
                periods.append((ramp.start, until))
        return periods


@dataclass(frozen=True)
class Failing:
    """The periods in which stations may fail visits, one row each: the station's slot
    (its place in `AnalyticRollouts`' order), the period's start and end. Outside them a
    station's error ratio is exactly 0, so asking it changes nothing."""

    slot: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def among(self, start: float, end: float) -> np.ndarray:
        """The slots, ascending and once each, that may fail a visit in [start, end] (a
        period that only touches it adds nothing to a mean over it)."""
        return np.unique(self.slot[(self.start < end) & (self.end > start)])


class AnalyticRollouts:
    """Deploys and rollbacks on the analytic stations, one rollout at a time per station
    (later ones wait; a rollback cuts the one in progress short)."""

    def __init__(
        self,
        env: simpy.Environment,
        stations: Mapping[str, StationRef],
        replicas: Mapping[int, int],
        events: EventLog,
        replica_start: float,
        visits: VisitCounter,
    ) -> None:
        """`stations`: by the service names callers use (a monolith's services all name its
        one station); `replicas`: each station's desired count; `visits`: the expected
        visits to a station in an interval (for the canary analysis and `defect_share`)."""
        self.env = env
        self.stations = dict(stations)
        self.events = events
        self.replica_start = replica_start
        self.visits = visits
        self.log = RolloutLog()
        self._states = {
            ref.index: _Station(ref, max(replicas[ref.index], 1)) for ref in stations.values()
        }
        self._order = list(self._states.values())
        self._clean_since = np.full(len(self._order), math.inf)
        for slot, state in enumerate(self._order):
            state.plans = RolloutQueue(env, partial(self._run, state))
            state.board, state.slot = self._clean_since, slot
        self._count = 0
        self.hold_replicas: Callable[[int, int], None] | None = None
        """Takes replicas out of a station's capacity (a negative count puts them back):
        a degraded manual deploy stops one server at a time (set by the run)."""
        self.slow_down: Callable[[int, float], None] | None = None
        """Told that a station's mix of latency factors changes from a time on (a ramp
        began where a slow version serves or served): the run computes its steps again
        from there with `slowdown` (set by the run)."""
        self.visit_latency: Callable[[int, float, float], tuple[float, float]] | None = None
        """`(latency, work)`: a station's mean visit latency in [start, end] were its own
        work as fast as the first version's, and a visit's mean work time there (set by the
        run; for the canary analysis's latency comparison)."""

    # ------------------------------------------------------------------ what others read

    def error_ratio(self, station: int, start: float, end: float) -> float:
        """The mean share of the station's visits in [start, end] that fail: by a bad
        version's defect, or all of them while a manual deploy has it down."""
        state = self._states.get(station)
        if state is None or not state.ramps:
            return 0.0
        return self._mean(state, start, end, outages=True)

    def error_ratios(
        self, start: float, end: float, outages: bool = True, among: np.ndarray | None = None
    ) -> dict[int, float]:
        """`error_ratio` of every station that has been deployed to and fails some of its
        visits in [start, end], by station index (without `outages`: by defects only).
        `among`: the slots that may (`Failing.among`; by default those not clean since
        `start`); the others fail nothing."""
        ratios: dict[int, float] = {}
        if among is None:
            among = (self._clean_since > start).nonzero()[0]  # `flatnonzero` of a 1-d array
        for slot in among.tolist():
            state = self._order[slot]
            index = state.ref.index
            if state.ramps and state.ramps[0].start <= end:
                ratio = self._mean(state, start, end, outages=outages)
                if ratio > 0:
                    ratios[index] = ratio
        return ratios

    def slowdown(self, station: int, start: float, end: float) -> tuple[float, float]:
        """E[F] and E[F²] of the latency factor F of the station's visits, averaged over
        [start, end] ramp by ramp ((1, 1): all as fast as the first version)."""
        state = self._states.get(station)
        if state is None or not state.slowed:
            return 1.0, 1.0
        if end <= start:
            ramp = state.ramp_at(start)
            return ramp.slowdown(start, start) if ramp is not None else (1.0, 1.0)
        starts, ramps = state.starts, state.ramps
        i = bisect.bisect_right(starts, start) - 1
        lo, first, second = start, 0.0, 0.0
        if i < 0:  # before the first ramp: the first version
            lo = min(end, starts[0])
            first = second = lo - start
            i = 0
        while i < len(ramps) and lo < end:
            hi = min(end, starts[i + 1]) if i + 1 < len(ramps) else end
            if hi > lo:
                m1, m2 = ramps[i].slowdown(lo, hi)
                first, second = first + m1 * (hi - lo), second + m2 * (hi - lo)
                lo = hi
            i += 1
        return first / (end - start), second / (end - start)

    def failing(self) -> Failing:
        """When each station may fail visits, by its ramps as they stand (after the run:
        its whole history, which `clean_since`, the last state only, does not tell)."""
        rows = [(slot, *period) for slot, s in enumerate(self._order) for period in s.failing()]
        if not rows:
            return Failing(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
        slot, start, end = zip(*rows, strict=True)
        return Failing(np.array(slot, dtype=np.int64), np.array(start), np.array(end))

    def settled(self, station: int) -> float:
        """When the station's last ramp ends (after it the mix stays as it is)."""
        state = self._states.get(station)
        return max((ramp.end for ramp in state.ramps), default=0.0) if state else 0.0

    def first_deploy(self) -> float:
        """When the first rollout began to change what serves (infinity if none did)."""
        return min((s.ramps[0].start for s in self._states.values() if s.ramps), default=math.inf)

    def active(self) -> bool:
        """Whether any station has ever been deployed to (otherwise nothing fails)."""
        return any(state.ramps for state in self._states.values())

    def defect_share(self, stations: list[int], start: float, end: float) -> float | None:
        """The share of the visits to `stations` in [start, end] that a defect failed (None
        when no visit is expected)."""
        visits = failed = 0.0
        for index in stations:
            count = self.visits(index, start, end)
            visits += count
            state = self._states.get(index)
            if state is not None and state.ramps:
                failed += count * self._mean(state, start, end, outages=False)
        return failed / visits if visits > 0 else None

    def current_version(self, service: str) -> int:
        return self._state(service).current

    def bad_version(self, service: str) -> tuple[float, int, Defect] | None:
        """If the last deploy's version serves and fails or slows requests: when that
        deploy started, the version before it and its defect (else None)."""
        state = self._state(service)
        if state.deployed is None:
            return None
        before, version = state.deployed
        defect = state.defined.get(version)
        ramp = state.ramp_at(self.env.now)
        serving = ramp is not None and ramp.share(self.env.now) > 0 and state.current == version
        if defect is None or not serving:
            return None
        if (defect.error_ratio, defect.latency_factor) == (0.0, 1.0):
            return None
        return state.deployed_at, before, defect

    def records(self) -> RolloutRecords:
        """The rollouts' steps (no replicas at this fidelity: an empty `replica_versions`)."""
        return RolloutRecords(self.log, ReplicaLives())

    # ------------------------------------------------------------------ the API

    def deploy(
        self,
        service: str,
        version: int,
        strategy: RolloutSettings,
        defect: Defect | None = None,
    ) -> simpy.Event:
        """Roll `version` out to the service's station; the event fires with a
        `RolloutOutcome` when the rollout ends."""
        state = self._state(service)
        if defect is not None:
            state.defined.setdefault(version, defect)
        return state.plans.ask(_Plan(self._next(), DEPLOY, version, strategy, self.env.event()))

    def rollback(
        self,
        service: str,
        to_version: int | None = None,
        settings: RolloutSettings | None = None,
    ) -> simpy.Event:
        """Roll the service back to the version before its last deploy (or `to_version`),
        the way that deploy went unless `settings` say otherwise; a deploy in progress ends
        there (its event fires with `interrupted`)."""
        state = self._state(service)
        how = state.last if settings is None else settings
        plan = _Plan(self._next(), ROLLBACK, to_version, how, self.env.event())
        return state.plans.ask_rollback(plan, deployed=state.deployed is not None)

    # ------------------------------------------------------------------ bookkeeping

    def _state(self, service: str) -> _Station:
        if service not in self.stations:
            raise ValueError(f"no service {service!r} to roll out; expected one of "
                             f"{', '.join(sorted(self.stations))}")  # fmt: skip
        return self._states[self.stations[service].index]

    def _next(self) -> int:
        self._count += 1
        return self._count - 1

    def _mean(self, state: _Station, start: float, end: float, outages: bool) -> float:
        """The mean error ratio over [start, end], ramp by ramp."""
        if end <= start:
            ramp = state.ramp_at(start)
            if ramp is None:
                return 0.0
            return 1.0 if outages and ramp.down and start < ramp.end else ramp.ratio(start)
        starts, ramps = state.starts, state.ramps
        i = max(bisect.bisect_right(starts, start) - 1, 0)
        total, covered = 0.0, 0.0
        while i < len(ramps):
            ramp = ramps[i]
            lo = max(start, ramp.start)
            hi = min(end, starts[i + 1]) if i + 1 < len(ramps) else end
            if lo >= end:
                break
            if hi > lo:
                covered += hi - lo
                down_end = min(hi, max(lo, ramp.end)) if outages and ramp.down else lo
                total += down_end - lo  # every request fails while down
                if hi > down_end:
                    total += ramp.mean_ratio(down_end, hi) * (hi - down_end)
            i += 1
        return total / (end - start) if covered else 0.0

    def _record(self, state: _Station, plan: _Plan, step: str) -> None:
        new = round(self._on(state, plan.to_version, plan.kind == ROLLBACK) * state.desired)
        self.log.record(
            self.env.now,
            state.ref.name,
            plan.number,
            plan.kind,
            plan.settings.strategy,
            step,
            (plan.from_version, plan.to_version),
            (state.desired - new, new, 0),
        )

    def _mix_now(self, state: _Station) -> float:
        """The defect error ratio of what serves now (0 before any deploy)."""
        ramp = state.ramp_at(self.env.now)
        return ramp.ratio(self.env.now) if ramp is not None else 0.0

    def _slow_now(self, state: _Station) -> tuple[float, float]:
        """E[F] and E[F²] of the latency factor of what serves now."""
        ramp = state.ramp_at(self.env.now)
        return ramp.slowdown(self.env.now, self.env.now) if ramp is not None else (1.0, 1.0)

    def _add(self, state: _Station, ramp: Ramp) -> None:
        """`state.add`, and the run told when the station's service times change with it."""
        state.add(ramp)
        if ramp.slow_after != 1.0 or ramp.slow_before != (1.0, 1.0):
            state.slowed = True
        if state.slowed and self.slow_down is not None:
            self.slow_down(state.ref.index, ramp.start)

    def _ramp(
        self,
        state: _Station,
        duration: float,
        low: float,
        high: float,
        *,
        running: float = 0.0,
        down: bool = False,
    ) -> None:
        """From now, the share of the version being rolled out (`state.current`) goes from
        `low` to `high` over `duration`; `running` of the traffic is on it already (the rest
        keeps the error ratio it has)."""
        now = self.env.now
        after = state.ratio(state.current)
        mix = self._mix_now(state)
        before = (mix - running * after) / (1.0 - running) if running < 1 else after
        factor = state.factor(state.current)
        m1, m2 = self._slow_now(state)
        b1, b2 = factor, factor * factor
        if running < 1 and (m1, m2, factor) != (1.0, 1.0, 1.0):  # the rest's, as `before`
            b1 = max((m1 - running * factor) / (1.0 - running), 1.0)
            b2 = max((m2 - running * factor * factor) / (1.0 - running), b1 * b1)
        self._add(state, Ramp(now, now + duration, low, high, max(before, 0.0), after,
                              state.current, down, (b1, b2), factor))  # fmt: skip

    def _on(self, state: _Station, version: int, rollback: bool) -> float:
        """The share of the traffic `version` serves now: the current ramp's, or for a
        rollback to the version its ramp replaces, the rest."""
        ramp = state.ramp_at(self.env.now)
        if ramp is None:
            return 1.0 if state.current == version else 0.0
        if ramp.version == version:
            return ramp.share(self.env.now)
        return 1.0 - ramp.share(self.env.now) if rollback else 0.0

    # ------------------------------------------------------------------ one rollout

    def _run(self, state: _Station, plan: _Plan) -> Generator[simpy.Event, Any, None]:
        plan.started = self.env.now
        if plan.kind == ROLLBACK:
            assert state.deployed is not None
            plan.to_version, plan.from_version = state.deployed
            if plan.target is not None:
                plan.to_version = plan.target
        else:
            assert plan.target is not None
            plan.from_version, plan.to_version = state.current, plan.target
            state.deployed = (plan.from_version, plan.to_version)
            state.deployed_at = plan.started
            state.last = plan.settings
        self._record(state, plan, STARTED)
        self.events.record(
            self.env.now,
            f"rollout/{state.ref.name}",
            f"{plan.kind}_started",
            f"{plan.settings.strategy} from version {plan.from_version} to {plan.to_version}",
        )
        outcome = DONE
        try:
            outcome = yield from self._strategy(state, plan)
        except simpy.Interrupt:
            outcome = INTERRUPTED
            ramp = state.ramp_at(self.env.now)
            if ramp is not None and ramp.end > self.env.now:  # the mix stops where it is
                x = ramp.share(self.env.now)
                self._add(state, Ramp(self.env.now, self.env.now, x, x, ramp.before,
                                      ramp.after, ramp.version, False, ramp.slow_before,
                                      ramp.slow_after))  # fmt: skip
        self._record(state, plan, outcome)
        self.events.record(
            self.env.now,
            f"rollout/{state.ref.name}",
            f"{plan.kind}_{outcome}",
            f"version {plan.to_version if outcome == DONE else plan.from_version} serves"
            if outcome != INTERRUPTED
            else "a rollback takes over",
        )
        plan.done.succeed(
            RolloutOutcome(
                state.ref.name, plan.number, plan.kind, plan.settings.strategy,
                plan.from_version, plan.to_version, outcome, plan.started, self.env.now,
            )
        )  # fmt: skip
        state.plans.start_next()

    def _strategy(self, state: _Station, plan: _Plan) -> Generator[simpy.Event, Any, str]:
        settings = plan.settings
        strategy = settings.strategy
        if plan.kind == ROLLBACK and strategy == "canary":
            strategy = "rolling"  # as at request level: a canary's slice goes the way it came
        low = self._on(state, plan.to_version, plan.kind == ROLLBACK)
        state.current = plan.to_version
        if strategy == "manual":
            manual = settings.manual
            down = manual.outage == "down"
            if down:
                self._record(state, plan, DOWN)
            self._ramp(state, manual.duration, low, 1.0, running=low, down=down)
            hold = None if down or state.desired < 2 else self.hold_replicas
            if hold is not None:  # the servers stop in turn: one fewer serves throughout
                hold(state.ref.index, 1)
            try:
                yield self.env.timeout(manual.duration)
            finally:
                if hold is not None:
                    hold(state.ref.index, -1)
            if down:
                self._record(state, plan, UP)
            return DONE
        if strategy == "blue-green":
            yield self.env.timeout(self.replica_start + settings.blue_green.switch_after)
            self._ramp(state, 0.0, 1.0, 1.0)
            self._record(state, plan, SWITCHED)
            return DONE
        if strategy == "canary":
            return (yield from self._canary(state, plan))
        whole = ramp_time(state.desired, settings, self.replica_start)
        self._ramp(state, whole * (1.0 - low), low, 1.0, running=low)
        yield self.env.timeout(whole * (1.0 - low))
        return DONE

    def _slices_latency(
        self, state: _Station, version: int, others: float, start: float
    ) -> tuple[float, float]:
        """The mean visit latency of the canary's slice and of the others' since `start`:
        the station's visit with its work f times as long, f the canary's latency factor
        and the others' mean one (NaN, NaN when both are 1: nothing tells them apart)."""
        factor = state.factor(version)
        if self.visit_latency is None or (factor, others) == (1.0, 1.0):
            return math.nan, math.nan
        latency, work = self.visit_latency(state.ref.index, start, self.env.now)
        return latency + (factor - 1.0) * work, latency + (others - 1.0) * work

    def _canary(self, state: _Station, plan: _Plan) -> Generator[simpy.Event, Any, str]:
        canary = plan.settings.canary
        size = canary_size(state.desired, canary.replicas, canary.share, split=True)
        share = canary.share if canary.share is not None else size / state.desired
        before = self._mix_now(state)
        slow_before = self._slow_now(state)
        yield self.env.timeout(self.replica_start)
        self._ramp(state, 0.0, share, share)
        self._record(state, plan, CANARY)
        start = self.env.now
        yield self.env.timeout(canary.analysis)
        passes = canary.verdict == "promote"
        if canary.verdict == "analysis":
            seen = self.visits(state.ref.index, start, self.env.now)
            on_canary, on_others = seen * share, seen * (1.0 - share)
            new = state.ratio(plan.to_version)
            slow = self._slices_latency(state, plan.to_version, slow_before[0], start)
            passes = canary_passes(
                SliceStats(round(on_canary), round(on_canary * new), slow[0]),
                SliceStats(round(on_others), round(on_others * before), slow[1]),
                canary,
            )
            self.events.record(
                self.env.now,
                f"rollout/{state.ref.name}",
                "canary_analysis",
                f"{'passed' if passes else 'failed'} after {format_duration(canary.analysis)}",
            )
        if not passes:
            state.current = plan.from_version
            now = self.env.now
            self._add(state, Ramp(now, now, 1.0, 1.0, before, before, plan.from_version,
                                  False, slow_before, slow_before[0]))  # fmt: skip
            self._record(state, plan, FAILED)
            return ROLLED_BACK
        self._record(state, plan, PROMOTED)
        whole = ramp_time(state.desired, plan.settings, self.replica_start)
        self._ramp(state, whole * (1.0 - share), share, 1.0, running=share)
        yield self.env.timeout(whole * (1.0 - share))
        return DONE
