"""What monitoring and the organisation read of the analytic services: expected requests,
visits and bad ones in any interval, integrated over the time steps.

Per step the analytic fidelity knows each entry point's arrival rate and, in each load
state, the share of its requests that end too slow (beyond the SLO latency) or by the
client's timeout, and each station's visit rate, workers and utilisation. A scrape over
(start, now] integrates those piecewise-constant rates exactly, and adds the requests that
fail:

* by what the running versions do (`AnalyticRollouts.error_ratios`: a bad version's defect,
  or a manual deploy's outage). A visit to station s fails on its own with err_s, so a
  request survives the call tree below its entry point: per visit of s, down the call DAG
  from the services that call nobody (`CallTree`),

      S_s = (1 − err_s) × Π_calls (1 − p × f_c)^count,   f_c = (1 − S_target)^attempts

  (the number of calls is Binomial(count, p), whose generating function this is; an
  optional call counts for nothing; `attempts` when the caller retries the failure's
  cause, `defect` or `unavailable`, else 1; a parallel step that needs the first k answers
  is summed exactly over its calls). A request of entry e fails with
  1 − (1 − slow_or_timed_out) × S_e (a request that fails is not also counted slow). The
  expected visits V[e, s] × err_s still count the visits that fail at each station.
* by a failed node (`simulator.analytic.nodes`, or the autoscaler's `ElasticFleet`): the
  visits in progress on its replicas fail (`stale_endpoint`) at its failure, as requests of
  the entry points whose trees visit those stations (in proportion to their visits there),
  and a station with no replica left refuses its visits (`unavailable`) in the steps it
  has none, an outage in the survival above.

The counts are expectations, not whole numbers. The arrays are rebuilt when replicas are
added by hand or lost with a node (`AnalyticServices.generation`).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..model.context import Scrape
from ..scenario.calls import Call, Parallel
from ..scenario.graph import call_lists
from .latency import LEVELS, interp_rows

if TYPE_CHECKING:
    from ..scenario.schema import Scenario
    from .elastic import ElasticFleet
    from .flows import Model
    from .nodes import AnalyticNodeFailures
    from .rollouts import AnalyticRollouts
    from .stations import StationSteps


class _Timeline(Protocol):
    @property
    def starts(self) -> np.ndarray: ...
    @property
    def dt(self) -> np.ndarray: ...
    @property
    def arrivals(self) -> np.ndarray: ...
    @property
    def state(self) -> np.ndarray: ...
    @property
    def state_arrivals(self) -> np.ndarray: ...


class _EntryLatency(Protocol):
    @property
    def quantiles(self) -> np.ndarray: ...
    @property
    def rows(self) -> np.ndarray: ...
    @property
    def weights(self) -> np.ndarray: ...
    @property
    def timed_out(self) -> np.ndarray | None: ...


class Steps(Protocol):
    """What the samples read of `AnalyticServices` (`simulator.analytic.run`)."""

    @property
    def model(self) -> Model: ...
    @property
    def timeline(self) -> _Timeline: ...
    @property
    def steps(self) -> StationSteps: ...
    @property
    def generation(self) -> int: ...

    @property
    def nodes(self) -> AnalyticNodeFailures | None: ...
    @property
    def fleet(self) -> ElasticFleet | None: ...

    def entry_latency(self) -> Mapping[str, _EntryLatency]: ...

    def add_replicas(self, station: int, count: int) -> int: ...

    def down(self) -> np.ndarray | None: ...


@dataclass(frozen=True)
class _Integrals:
    """Running integrals at the step edges, and the rates within each step."""

    edges: np.ndarray  # steps + 1
    state: np.ndarray  # step → load state
    arrivals: tuple[np.ndarray, np.ndarray]  # (cumulative at edges, rate per step), entries
    visits: tuple[np.ndarray, np.ndarray]  # stations
    busy: tuple[np.ndarray, np.ndarray]  # worker-seconds busy
    capacity: tuple[np.ndarray, np.ndarray]  # worker-seconds available
    bad_share: np.ndarray  # states × entries: too slow or timed out
    replicas: np.ndarray  # states × stations
    down: dict[int, np.ndarray] = field(default_factory=dict)  # step → stations with none
    bounds: list[float] = field(default_factory=list)
    """`edges` as Python floats: a scrape's searches by `bisect` (the same comparisons as
    `np.searchsorted`, without numpy's cost per call on small arrays)."""


SCRAPE_BLOCK = 256
"""Scrapes of a known grid whose rows `AnalyticSli` computes at once (`_ScrapeRows`)."""


@dataclass(frozen=True)
class _ScrapeRows:
    """What consecutive scrapes of the grid read of the integrals, one row per scrape,
    computed together with the same operations on each element as one scrape alone (so the
    same floats): the searches of the steps and the integrals between the scrape's start and
    end. Built for one `_Integrals` (the stations' generation); a scrape whose start or
    end is not the grid's, or of another generation, computes its own."""

    got: _Integrals
    first: int
    """The grid index of the first row."""
    starts: np.ndarray
    ends: np.ndarray
    middle: np.ndarray
    last: np.ndarray
    lower: np.ndarray
    """bisect_right(edges, start) − 1, unclipped (the first step a down station is sought in)."""
    sent: np.ndarray
    visits: np.ndarray
    busy: np.ndarray
    capacity: np.ndarray
    ok: np.ndarray


def _scrape_rows(got: _Integrals, first: int, starts: np.ndarray, ends: np.ndarray) -> _ScrapeRows:
    """`_ScrapeRows` of scrapes (starts[i], ends[i]]: `AnalyticSli.scrape`'s searches and
    `_between`s, each element computed as there."""
    edges = got.edges
    top = len(edges) - 2

    def step_in(times: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(edges, times, side="right") - 1, 0, top)

    middle = step_in((starts + ends) / 2)
    last = np.clip(np.searchsorted(edges, ends, side="left") - 1, 0, len(got.state) - 1)
    begin, end = step_in(starts), step_in(ends)
    since = (starts - edges[begin])[:, None]
    until = (ends - edges[end])[:, None]

    def between(pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        cumulative, rates = pair
        return (cumulative[end] + rates[end] * until) - (cumulative[begin] + rates[begin] * since)

    return _ScrapeRows(
        got=got,
        first=first,
        starts=starts,
        ends=ends,
        middle=middle,
        last=last,
        lower=np.searchsorted(edges, starts, side="right") - 1,
        sent=between(got.arrivals),
        visits=between(got.visits),
        busy=between(got.busy),
        capacity=between(got.capacity),
        ok=1.0 - got.bad_share[got.state[middle]],
    )


def _cumulative(rates: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    head = np.zeros((1, rates.shape[1]))
    return np.vstack([head, np.cumsum(rates * dt[:, None], axis=0)]), rates


@dataclass(frozen=True)
class _Quorum:
    """A parallel step that goes on after the first `needed` answers: its calls (target,
    count, probability, optional, attempts, retried causes) at one caller."""

    caller: int
    needed: int
    calls: tuple[tuple[int, int, float, bool, int, bool, bool], ...]


@dataclass(frozen=True)
class CallTree:
    """The calls of every handler, as arrays for the survival pass (computed once per run).

    Calls in turn and the calls of a parallel step that waits for all are `edges` (a visit
    survives them all, in whatever order); a parallel step that waits for the first k is a
    `_Quorum`. `level` is a service's height in the DAG (0: it calls nobody), so that one
    pass from level 0 up meets every callee before its callers."""

    level: np.ndarray  # stations
    caller: np.ndarray  # edges
    target: np.ndarray
    count: np.ndarray
    probability: np.ndarray
    optional: np.ndarray
    attempts: np.ndarray  # 1 + retries
    on_defect: np.ndarray  # whether `defect` is retried
    on_unavailable: np.ndarray  # whether `unavailable` is retried
    quorums: tuple[_Quorum, ...]
    callers: tuple[tuple[int, ...], ...]  # per station, who calls it
    _plans: dict[tuple[int, ...], list[_Level]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, scenario: Scenario) -> CallTree:
        names = list(scenario.services)
        index = {name: i for i, name in enumerate(names)}
        rows: list[tuple[int, int, int, float, bool, int, bool, bool]] = []
        quorums: list[_Quorum] = []

        def row(caller: int, call: Call) -> tuple[int, int, int, float, bool, int, bool, bool]:
            retried = set(call.retry_on)
            return (
                caller, index[call.call], call.count, call.probability, call.optional,
                1 + call.retries, "defect" in retried, "unavailable" in retried,
            )  # fmt: skip

        for name, spec in scenario.services.items():
            for step in spec.handler or []:
                if isinstance(step, Call):
                    rows.append(row(index[name], step))
                elif isinstance(step, Parallel):
                    calls = [row(index[name], c) for c in step.parallel]
                    if step.wait_for == "all":
                        rows += calls
                    else:
                        quorums.append(
                            _Quorum(index[name], int(step.wait_for), tuple(c[1:] for c in calls))
                        )
        callees: list[set[int]] = [set() for _ in names]
        for r in rows:
            callees[r[0]].add(r[1])
        for q in quorums:
            callees[q.caller].update(c[0] for c in q.calls)
        level = np.zeros(len(names), dtype=np.int64)
        for name in reversed(call_lists(scenario.services).topological_order()):
            below = [int(level[t]) + 1 for t in callees[index[name]]]
            level[index[name]] = max(below, default=0)
        callers: list[list[int]] = [[] for _ in names]
        for s, targets in enumerate(callees):
            for t in targets:
                callers[t].append(s)
        columns = list(zip(*rows, strict=True)) if rows else [()] * 8
        return cls(
            level=level,
            caller=np.array(columns[0], dtype=np.int64),
            target=np.array(columns[1], dtype=np.int64),
            count=np.array(columns[2], dtype=float),
            probability=np.array(columns[3], dtype=float),
            optional=np.array(columns[4], dtype=bool),
            attempts=np.array(columns[5], dtype=float),
            on_defect=np.array(columns[6], dtype=bool),
            on_unavailable=np.array(columns[7], dtype=bool),
            quorums=tuple(quorums),
            callers=tuple(tuple(c) for c in callers),
        )

    def survival(
        self, failing: Mapping[int, float], defects: Mapping[int, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per station, the chance that a visit there meets no failure in its call tree, with
        every failure of `failing` (by station: a visit's own chance of failing) and with
        the `defects` among them only (a share of those chances; the rest are outages, the
        cause `unavailable`)."""
        size = len(self.level)
        stations = sorted(k for k, v in failing.items() if v > 0)
        if not stations:
            return np.ones(size), np.ones(size)
        plan = self._plan(tuple(stations))
        own_defect = np.zeros(size)
        for k, v in defects.items():
            own_defect[k] = v
        with_defects = self._pass(plan, own_defect, None)
        own = np.zeros(size)
        for k, v in failing.items():
            own[k] = v
        if np.array_equal(own, own_defect):
            return with_defects, with_defects
        return self._pass(plan, own, with_defects), with_defects

    def _plan(self, failing: tuple[int, ...]) -> list[_Level]:
        """Per level, from the bottom: the calls and quorum steps that reach a failing
        station (the others pass every visit); cached by the failing stations."""
        cached = self._plans.get(failing)
        if cached is not None:
            return cached
        affected = set(failing)
        todo = list(failing)
        while todo:
            for caller in self.callers[todo.pop()]:
                if caller not in affected:
                    affected.add(caller)
                    todo.append(caller)
        edges = np.flatnonzero(np.isin(self.target, np.fromiter(affected, dtype=np.int64)))
        levels = self.level[self.caller[edges]]
        quorums = [q for q in self.quorums if any(c[0] in affected for c in q.calls)]
        plan = [
            self._level(
                edges[levels == level], [q for q in quorums if self.level[q.caller] == level]
            )
            for level in sorted({*levels.tolist(), *(int(self.level[q.caller]) for q in quorums)})
        ]
        if len(self._plans) >= 64:
            self._plans.clear()
        self._plans[failing] = plan
        return plan

    def _level(self, edges: np.ndarray, quorums: list[_Quorum]) -> _Level:
        retried = (self.attempts[edges] > 1) & (self.on_defect[edges] | self.on_unavailable[edges])
        retries = (
            (self.attempts[edges], self.on_defect[edges], self.on_unavailable[edges])
            if retried.any()
            else None
        )
        return _Level(
            caller=self.caller[edges],
            target=self.target[edges],
            made=np.where(self.optional[edges], 0.0, self.probability[edges]),
            count=self.count[edges],
            retries=retries,
            quorums=tuple(quorums),
        )

    def _pass(self, plan: list[_Level], own: np.ndarray, defects: np.ndarray | None) -> np.ndarray:
        """One pass up the levels: each visit's survival from its own chance of failing and
        its callees' (final: a level's callees are all below it). `defects`: the survival
        with defects only, to tell an attempt's failures by cause (None: all are defects)."""
        survive = 1.0 - own
        for level in plan:
            if level.target.size:
                reached = survive[level.target]
                if level.retries is None:
                    fail = 1.0 - reached
                else:
                    known = None if defects is None else defects[level.target]
                    fail = _final_failure(reached, known, *level.retries)
                np.multiply.at(survive, level.caller, (1.0 - level.made * fail) ** level.count)
            for quorum in level.quorums:
                survive[quorum.caller] *= _quorum_survival(quorum, survive, defects)
        return survive


@dataclass(frozen=True)
class _Level:
    """One level of a survival pass: its calls that reach a failing station (the chance
    each is made, 0 for an optional one; retries when some are retried) and quorum steps."""

    caller: np.ndarray
    target: np.ndarray
    made: np.ndarray
    count: np.ndarray
    retries: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    quorums: tuple[_Quorum, ...]


def _final_failure(
    survive: np.ndarray,
    defects: np.ndarray | None,
    attempts: np.ndarray,
    on_defect: np.ndarray,
    on_unavailable: np.ndarray,
) -> np.ndarray:
    """A call's chance of failing for good: each attempt fails with F = 1 − survive, a
    defect with d (the failure with defects only) and an outage with u = F − d; a retried
    cause sends the next attempt (r = the retried share), so with A attempts the call fails
    with (unretried share) × (1 + r + … + r^(A−2)) + r^(A−1) × F."""
    failed = 1.0 - survive
    defect = failed if defects is None else np.minimum(1.0 - defects, failed)
    outage = failed - defect
    retried = np.where(on_defect, defect, 0.0) + np.where(on_unavailable, outage, 0.0)
    last = retried ** (attempts - 1.0)
    sent_again = np.where(
        retried < 1.0, (1.0 - last) / np.maximum(1.0 - retried, 1e-300), attempts - 1.0
    )
    return (failed - retried) * sent_again + last * failed


def _quorum_survival(quorum: _Quorum, survive: np.ndarray, defects: np.ndarray | None) -> float:
    """The chance that a parallel step waiting for the first k answers goes on: with N calls
    made (each with its probability), it fails when more than N − min(k, N) of the required
    ones fail (the request level's `call_finished`); summed exactly over (made, failed)."""
    calls = quorum.calls
    targets = np.array([c[0] for c in calls], dtype=np.int64)
    fail = _final_failure(
        survive[targets],
        None if defects is None else defects[targets],
        np.array([c[4] for c in calls], dtype=float),
        np.array([c[5] for c in calls], dtype=bool),
        np.array([c[6] for c in calls], dtype=bool),
    )
    total = sum(c[1] for c in calls)
    joint = np.zeros((total + 1, total + 1))  # [made, failed]
    joint[0, 0] = 1.0
    for (_, count, probability, optional, *_), f in zip(calls, fail.tolist(), strict=True):
        failing = 0.0 if optional else probability * f
        for _ in range(count):
            step = joint * (1.0 - probability)
            step[1:, :] += joint[:-1, :] * (probability - failing)
            step[1:, 1:] += joint[:-1, :-1] * failing
            joint = step
    made, failed = np.indices(joint.shape)
    return float(joint[failed <= made - np.minimum(quorum.needed, made)].sum())


class AnalyticSli:
    """Monitoring's samples at the analytic fidelity (an `SliSource`), and the visits the
    analytic rollouts' canary analysis and incident impact count."""

    expected_counts = True

    def __init__(self, services: Steps, scenario: Scenario) -> None:
        self.services = services
        self.scenario = scenario
        model = services.model
        self.rollouts: AnalyticRollouts | None = None
        names = list(scenario.services)
        self._entry_index = np.array([names.index(e) for e in model.entries], dtype=np.int64)
        self._size = len(names)
        if model.monolith:
            self.per_request = np.ones((len(model.entries), 1))
            self._entry_station = np.zeros(len(model.entries), dtype=np.int64)
        else:
            self.per_request = np.asarray(model.visits_per_request, dtype=float)
            self._entry_station = self._entry_index
        self._base_replicas = np.array([station.replicas for station in model.stations])
        latency = scenario.slo.latency
        self._slo_latency = float(latency) if latency is not None else np.inf
        self._built: tuple[int, _Integrals] | None = None
        self._active = False
        """Whether a rollout has begun (it stays so: a station's ramps are never all gone)."""
        self._last: tuple[tuple[object, object], tuple[np.ndarray, np.ndarray]] | None = None
        """The last survivals and what they were of (the same ratios step after step)."""
        self._ones: np.ndarray | None = None
        """`_survivals` without errors: ones per entry point (read-only, shared)."""
        self._grid: dict[float, int] = {}
        """The scrapes' ends monitoring announced (`expect_scrapes`), by their index."""
        self._grid_ends = np.zeros(0)
        self._rows: _ScrapeRows | None = None

    @property
    def station_names(self) -> list[str]:
        return [station.name for station in self.services.model.stations]

    def add_replicas(self, station: int, count: int) -> int:
        return self.services.add_replicas(station, count)

    # ------------------------------------------------------------------ integrals

    def _integrals(self) -> _Integrals:
        services = self.services
        if self._built is not None and self._built[0] == services.generation:
            return self._built[1]
        timeline, steps = services.timeline, services.steps
        state, dt = timeline.state, timeline.dt
        edges = np.append(timeline.starts, self.scenario.horizon)
        arrivals = timeline.arrivals
        visits = arrivals @ self.per_request
        workers = steps.workers[state]
        integrals = _Integrals(
            edges=edges,
            state=state,
            arrivals=_cumulative(arrivals, dt),
            visits=_cumulative(visits, dt),
            busy=_cumulative(steps.utilisation[state] * workers, dt),
            capacity=_cumulative(workers, dt),
            bad_share=self._bad_share(),
            replicas=steps.replicas,
            down=self._down_steps(),
            bounds=edges.tolist(),
        )
        self._built = (services.generation, integrals)
        return integrals

    def _down_steps(self) -> dict[int, np.ndarray]:
        """The steps in which some station has no replica serving (all on failed nodes),
        and those stations."""
        down = self.services.down()
        if down is None:
            return {}
        return {int(k): np.flatnonzero(down[k]) for k in np.flatnonzero(down.any(axis=1))}

    def _bad_share(self) -> np.ndarray:
        """Per load state and entry point, the share of requests that end too slow or by
        the client's timeout (from the quantile rows of `AnalyticServices.entry_latency`)."""
        services = self.services
        states = len(services.timeline.state_arrivals)
        shares = np.zeros((states, len(services.model.entries)))
        done: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # copied entry points share rows
        for e, info in enumerate(services.entry_latency().values()):
            rows = info.quantiles
            if id(rows) not in done:
                done[id(rows)] = (self._slow_rows(rows), rows)
            slow = done[id(rows)][0]
            failed = np.zeros(states)
            if info.timed_out is not None:
                sent = info.weights + info.timed_out
                failed = np.divide(info.timed_out, sent, out=failed, where=sent > 0)
            shares[:, e] = failed + (1.0 - failed) * slow[info.rows]
        return shares

    def _slow_rows(self, rows: np.ndarray) -> np.ndarray:
        """Per quantile row, the share of requests slower than the SLO latency."""
        if not (np.isfinite(self._slo_latency) and np.isfinite(rows).all()):
            return np.zeros(len(rows))
        if (rows[:, 1:] >= rows[:, :-1]).all():  # every row at once, the same floats
            at = np.full((len(rows), 1), self._slo_latency)
            within = interp_rows(at, rows, LEVELS)[:, 0]
        else:
            within = np.array([np.interp(self._slo_latency, row, LEVELS) for row in rows])
        return np.where(self._slo_latency >= rows[:, -1], 0.0, 1.0 - within)

    @staticmethod
    def _step(edges: np.ndarray, time: float) -> int:
        """The step `time` falls in (the first or last step beyond the edges)."""
        return min(max(int(np.searchsorted(edges, time, side="right")) - 1, 0), len(edges) - 2)

    @staticmethod
    def _step_in(bounds: list[float], time: float) -> int:
        """`_step` in the edges as a list."""
        return min(max(bisect.bisect_right(bounds, time) - 1, 0), len(bounds) - 2)

    @staticmethod
    def _at(
        pair: tuple[np.ndarray, np.ndarray], edges: np.ndarray, time: float, k: int
    ) -> np.ndarray:
        cumulative, rates = pair
        return cumulative[k] + rates[k] * (time - edges[k])

    def _between(
        self,
        pair: tuple[np.ndarray, np.ndarray],
        start: float,
        end: float,
        steps: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """The integral over [start, end]; `steps`: the steps of start and end, if known."""
        edges = self._integrals().edges
        first, last = (
            steps if steps is not None else (self._step(edges, start), self._step(edges, end))
        )
        return self._at(pair, edges, end, last) - self._at(pair, edges, start, first)

    def visits(self, station: int, start: float, end: float) -> float:
        """Expected visits to a station in [start, end]."""
        return float(self._between(self._integrals().visits, start, end)[station])

    # ------------------------------------------------------------------ a scrape

    def _deployed(self) -> bool:
        """`rollouts.active()`, asked of the stations only until it holds."""
        if not self._active and self.rollouts is not None:
            self._active = self.rollouts.active()
        return self._active

    def expect_scrapes(self, ends: list[float]) -> None:
        """The ends of the scrapes monitoring will ask for, in order (each starts at the
        one before, the first at 0): their rows are then computed `SCRAPE_BLOCK` at a time
        (`_ScrapeRows`), the same numbers as one by one."""
        self._grid = {end: index for index, end in enumerate(ends)}
        self._grid_ends = np.array(ends, dtype=float)
        self._rows = None

    def _row(self, got: _Integrals, start: float, now: float) -> tuple[_ScrapeRows, int] | None:
        """The rows holding scrape (start, now] of the announced grid and its row there, or
        None for a scrape off the grid."""
        index = self._grid.get(now)
        if index is None:
            return None
        rows = self._rows
        if rows is None or rows.got is not got or not 0 <= index - rows.first < len(rows.ends):
            ends = self._grid_ends[index : index + SCRAPE_BLOCK]
            previous = self._grid_ends[index - 1] if index else 0.0
            starts = np.concatenate([[previous], ends[:-1]])
            rows = self._rows = _scrape_rows(got, index, starts, ends)
        row = index - rows.first
        if rows.starts[row] != start:
            return None
        return rows, row

    def scrape(self, start: float, now: float) -> Scrape:
        got = self._integrals()
        edges, bounds = got.edges, got.bounds
        known = self._row(got, start, now)
        if known is not None:
            rows, row = known
            last = int(rows.last[row])
            sent, visits = rows.sent[row], rows.visits[row]
            busy, capacity = rows.busy[row], rows.capacity[row]
            ok = rows.ok[row]
            first = int(rows.lower[row])
        else:
            middle = self._step_in(bounds, (start + now) / 2)
            last = bisect.bisect_left(bounds, now) - 1
            last = min(max(last, 0), len(got.state) - 1)
            span = (self._step_in(bounds, start), self._step_in(bounds, now))  # one search each
            sent = self._between(got.arrivals, start, now, span)
            visits = self._between(got.visits, start, now, span)
            busy = self._between(got.busy, start, now, span)
            capacity = self._between(got.capacity, start, now, span)
            ok = 1.0 - got.bad_share[got.state[middle]]
            first = bisect.bisect_right(bounds, start) - 1  # not clipped to the last
        errors: dict[int, float] = {}
        defects: dict[int, float] = {}
        rollouts = self.rollouts
        if rollouts is not None and self._deployed():
            errors = rollouts.error_ratios(start, now)
            if errors:
                defects = rollouts.error_ratios(start, now, outages=False)
        failed = np.zeros(visits.shape, dtype=visits.dtype)  # `zeros_like`, without its wrapper
        down = [k for k in range(max(first, 0), last + 1) if k in got.down] if got.down else []
        if not down:
            survive = self._survival(errors, defects)
            bad = sent * (1.0 - ok * survive)
            if errors:
                stations = np.fromiter(errors, dtype=np.int64)
                failed[stations] = visits[stations] * np.fromiter(errors.values(), dtype=float)
        else:  # step by step: a station with no replica refuses every visit meanwhile
            bad = np.zeros_like(sent)
            for k in range(max(first, 0), last + 1):
                lo, hi = max(edges[k], start), min(edges[k + 1], now)
                if hi <= lo:
                    continue
                gone = got.down.get(k)
                ratios = dict(errors)
                if gone is not None:
                    ratios.update((int(s), 1.0) for s in gone)
                part = self._between(got.arrivals, lo, hi)
                bad += part * (1.0 - ok * self._survival(ratios, defects))
                if ratios:
                    stations = np.fromiter(ratios, dtype=np.int64)
                    seen = self._between(got.visits, lo, hi)[stations]
                    failed[stations] += seen * np.fromiter(ratios.values(), dtype=float)
        totals = np.zeros(self._size)
        bads = np.zeros(self._size)
        totals[self._entry_index] = sent
        bads[self._entry_index] = bad
        first_bad = dict.fromkeys(self._entry_index[bad > 0].tolist(), start)
        for time, per_station, per_entry in self._stale(got, start, now):
            failed += per_station
            bads[self._entry_index] += per_entry
            for i in self._entry_index[per_entry > 0].tolist():
                first_bad.setdefault(int(i), time)
        return Scrape(
            totals=totals,
            bads=bads,
            first_bad=first_bad,
            visits=visits,
            failed=failed,
            busy=busy,
            capacity=capacity,
            replicas=got.replicas[got.state[last]],
        )

    def _stale(
        self, got: _Integrals, start: float, now: float
    ) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """The visits in progress that failed nodes took down in (start, now]: per failure,
        its time, the failed visits per station and as requests per entry point.

        The failure's expected number is its own (`stale`); it is shared over the lost
        stations as the visits in service on them (busy workers × lost / replicas; under the
        autoscaler, whose failures do not say which replicas went, busy workers), and each
        station's share over the entry points as their visits there."""
        nodes, fleet = self.services.nodes, self.services.fleet
        failing = nodes if nodes is not None else fleet
        if failing is None or not failing.stale:
            return []
        out = []
        busy = got.busy[1]
        stale = failing.stale  # in time order
        lo = bisect.bisect_right(stale, start, key=lambda row: row[0])
        hi = bisect.bisect_right(stale, now, key=lambda row: row[0])
        for i in range(lo, hi):
            time, count = stale[i]
            if count <= 0:
                continue
            k = min(max(int(np.searchsorted(got.edges, time, side="right")) - 1, 0), len(busy) - 1)
            weight = busy[k].copy()
            if nodes is not None and i < len(nodes.failures) and nodes.failures[i][0] == time:
                lost = np.zeros_like(weight)
                for station, n in nodes.held[nodes.failures[i][1]].items():
                    lost[station] = n
                weight *= lost / np.maximum(self._base_replicas, 1)
            if weight.sum() <= 0:
                continue
            per_station = count * weight / weight.sum()
            reach = got.arrivals[1][k][:, None] * self.per_request  # entries × stations
            seen = reach.sum(axis=0)
            share = np.divide(reach, seen, out=np.zeros_like(reach), where=seen > 0)
            out.append((time, per_station, share @ per_station))
        return out

    # ------------------------------------------------------------------ the run's toll

    def failed_by_versions(self, start: float, end: float) -> tuple[float, float]:
        """Expected requests (at the entry points) that bad versions failed in [start, end],
        and those that failed because a manual deploy had a service down, step by step."""
        rollouts = self.rollouts
        if rollouts is None or not rollouts.active():
            return 0.0, 0.0
        got = self._integrals()
        edges = got.edges
        defect = unavailable = 0.0
        first = max(
            int(np.searchsorted(edges, max(start, rollouts.first_deploy()), "right")) - 1, 0
        )
        failing = rollouts.failing()  # the stations clean over a step are not asked
        for k in range(first, len(got.state)):
            lo, hi = max(edges[k], start), min(edges[k + 1], end)
            if hi <= lo:
                continue
            among = failing.among(lo, hi)
            if not len(among):
                continue
            with_outages = rollouts.error_ratios(lo, hi, among=among)
            if not with_outages:
                continue
            defects = rollouts.error_ratios(lo, hi, outages=False, among=among)
            sent = self._between(got.arrivals, lo, hi)
            survive, survive_defects = self._survivals(with_outages, defects)
            defect += float(sent @ (1.0 - survive_defects))
            unavailable += float(sent @ (survive_defects - survive))
        return defect, unavailable

    def _survival(self, errors: Mapping[int, float], defects: Mapping[int, float]) -> np.ndarray:
        """Per entry point, the chance that a request meets no failure at the stations of
        `errors` (each visit fails on its own; `defects`: the part of them that bad
        versions' defects make, the rest outages)."""
        return self._survivals(errors, defects)[0]

    @cached_property
    def tree(self) -> CallTree | None:
        """The call tree a request survives (None for a monolith: one visit per request),
        built when a visit first fails: a run without errors never needs it (sre-1000's
        takes some 15 ms to build)."""
        return None if self.services.model.monolith else CallTree.of(self.scenario)

    def _survivals(
        self, errors: Mapping[int, float], defects: Mapping[int, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """`_survival`, and the same with the defects only."""
        if not errors:  # every request survives: one read-only array of ones, made once
            ones = self._ones
            if ones is None or len(ones) != len(self._entry_station):
                ones = self._ones = np.ones(len(self._entry_station))
                ones.flags.writeable = False
            return ones, ones
        if self.tree is None:  # a monolith: one visit of its one station per request
            survive = np.full(len(self._entry_station), 1.0 - errors.get(0, 0.0))
            return survive, np.full(len(self._entry_station), 1.0 - defects.get(0, 0.0))
        key = (tuple(errors.items()), tuple(defects.items()))
        if self._last is not None and self._last[0] == key:  # a version's steady ratio
            return self._last[1]
        survive, survive_defects = self.tree.survival(errors, defects)
        got = survive[self._entry_station], survive_defects[self._entry_station]
        self._last = (key, got)
        return got
