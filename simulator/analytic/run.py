"""`AnalyticServices`: a whole scenario by queueing approximations, step by step, in seconds.

The pipeline, one direction as everywhere else:

    scenario ─► flows (stations, latency trees, visits per request; once)
             ─► arrival rates per entry and time step (the traffic profiles' exact means)
             ─► steps folded into distinct load states (`Timeline`)
             ─► stations in each state (Erlang C / Allen–Cunneen / M^X/M/c, fluid
                backlog; an optional autoscaler sets replicas step by step)
             ─► latency moments in each state, distributions in representative ones
             ─► KPIs with the request level's names, per-service and per-step tables

There are no individual requests in this mode: the `requests` and `spans` tables are empty
(with the request-level columns) and counts are expectations, not integers.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..engine import RandomStreams
from ..engine.recorder import RequestLog, SpanLog
from ..metrics.columns import FAILURE_CAUSES, frame
from ..metrics.cost import cost_kpis, costs_table
from ..metrics.requests import requests_table, spans_table
from ..metrics.rollout import ROLLOUT_TABLES, rollout_tables
from ..metrics.scaling import scaling_table
from ..model.context import AnalyticHandles, Organisation, RunContext, Subsystem
from ..model.failures import simulates_node_failures
from ..model.handscale import HandNodes
from ..model.profiles import RateFunction, rate_function
from ..model.rollout import replica_start, scripted
from ..records.scaling import ScalingLog
from ..scenario.calls import Call, Parallel
from ..scenario.schema import Scenario
from ..scenario.units import format_duration
from .elastic import ElasticFleet
from .flows import Fanout, Model, Node, Repeat, SharedWait, compile_model, contains_fanout
from .latency import (
    LEVELS,
    Moments,
    RepeatedRows,
    StackedRows,
    interp_rows,
    lattice_distributions,
    mixture_cdf,
    mixture_quantiles,
    quantile_function,
)
from .nodes import AnalyticNodeFailures
from .rollouts import AnalyticRollouts, StationRef
from .sli import AnalyticSli
from .stations import (
    RHO_CAP,
    Autoscaler,
    StationColumns,
    StationSteps,
    autoscaled_from,
    coupled_parts,
    simulate_rows,
    simulate_stations,
    slowed_work,
    station_work,
    unslowed,
)

if TYPE_CHECKING:
    import pandas as pd
    import simpy

DEFAULT_STEPS = 1000
"""Without a time step in the scenario, the horizon is cut into about this many steps..."""

MAX_DEFAULT_STEP = 900.0
"""...but no step is longer than 15 minutes (so a diurnal cycle has at least 96 steps)."""

NICE_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0)
"""Default steps are one of these (each divides a day, so a daily profile repeats exactly
on the step grid and its days fold into one day's load states)."""

REPRESENTATIVE_STEPS = 16
"""Steps per entry point at which the full latency distribution is computed."""

MAX_BREAKPOINTS = 10_000
"""At most this many profile breakpoints (steps, spike knots, replay rows) become step edges."""

MAX_TIMESERIES_CELLS = 2_000_000
"""At most about this many rows in a per-step table (`timeseries`: rows are steps ×
services; `entry_timeseries`: steps × entry points). A longer run or a larger fleet gets
consecutive measured steps merged into one row each (`timeseries_stride`), so the tables,
and the run's memory, do not grow with the horizon: 2,000 points per service still draw a
year at about 4-hour resolution, and a month of 1,000 services at 30 minutes."""

CHUNK_CELLS = 1_000_000
"""Merged rows are built this many step × column cells at a time (bounded scratch memory)."""

FOLD_UNITS = 1e9
"""Steps fold into one load state when every entry point's arrival rate, in units of the
run's largest rate, rounds to the same multiple of 1/FOLD_UNITS (`_fold`; `load_states`
counts them the same way): rates that differ by less than 10⁻⁹ of the largest (absolute)
are one state, computed at its first step's rates. A profile's step means at long
horizons differ in their last bits (the cumulative rate at 3·10⁷ s: about 10⁻¹¹ of the
largest), which 10⁻¹² split into 302 states over a year of sre-1000 instead of 48 (a
cosine's day is symmetric). Harmless: a station's rates at a folded step are within
10⁻⁹·top of its own, so its numbers move by at most their sensitivity to a rate times
10⁻⁹·top (by round-off on the golden runs: under 10⁻¹⁴ relative); the latency quantiles
move by the representative states picked among fewer states (at most 2.6·10⁻⁵ relative
on the golden runs; docs/analytic.md, "Folding tolerance")."""

PERCENTILES = {
    "latency_p50_s": 0.5,
    "latency_p95_s": 0.95,
    "latency_p99_s": 0.99,
    "latency_p999_s": 0.999,
}


# ----------------------------------------------------------------------------- settings


def time_step(scenario: Scenario) -> float:
    """The scenario's `analytic.time_step`; else the longest of NICE_STEPS (at most 15
    minutes) that gives at least DEFAULT_STEPS steps, or horizon / DEFAULT_STEPS for
    horizons under 1,000 s; with autoscaling, no longer than the HPA's sync period."""
    step = scenario.analytic.time_step
    if step:
        return float(step)
    most = min(scenario.horizon / DEFAULT_STEPS, MAX_DEFAULT_STEP)
    if _elastic(scenario):  # one HPA sync per step: the autoscaler's own lag, no more
        most = min(most, scenario.autoscaling.sync_period)
    nice = [value for value in NICE_STEPS if value <= most]
    return nice[-1] if nice else most


def representative_steps(scenario: Scenario) -> int:
    return scenario.analytic.representative_steps


def rate_functions(scenario: Scenario) -> dict[str, RateFunction]:
    """The arrival rate over time of each entry point."""
    return {name: rate_function(t.profile, t.rate) for name, t in scenario.traffic.items()}


def step_edges(scenario: Scenario, functions: dict[str, RateFunction], step: float) -> np.ndarray:
    """Edges of the time steps: a regular grid, the end of warm-up and the horizon, and the
    profiles' breakpoints (where a rate jumps or changes shape)."""
    horizon = scenario.horizon
    points: list[npt.ArrayLike] = [np.arange(0.0, horizon, step), [scenario.warmup, horizon]]
    for function in functions.values():
        breaks = function.breakpoints(0.0, horizon)
        if len(breaks) > MAX_BREAKPOINTS:
            breaks = breaks[:: math.ceil(len(breaks) / MAX_BREAKPOINTS)]
        points.append(breaks)
    edges = np.unique(np.concatenate(points))
    edges = edges[(edges >= 0) & (edges <= horizon)]
    keep = np.concatenate([[True], np.diff(edges) > 1e-9 * horizon])
    edges = edges[keep]
    edges[-1] = horizon
    return edges


def load_states(scenario: Scenario) -> tuple[int, int]:
    """Time steps and distinct load states of a run, read from the traffic profiles alone
    (what `_simulate` folds), for the budget before a run. With autoscaling every step is
    its own state; a run that saturates a station is too, which only the run can tell."""
    functions = rate_functions(scenario)
    edges = step_edges(scenario, functions, time_step(scenario))
    steps = len(edges) - 1
    if _elastic(scenario) or not functions:
        return steps, steps if functions else 1
    arrivals = np.column_stack([f.mean_rates(edges) for f in functions.values()])
    top = float(np.abs(arrivals).max(initial=0.0)) or 1.0
    keys = np.round(arrivals / top * FOLD_UNITS).astype(np.int64)
    return steps, len(_distinct_rows(keys))


# ----------------------------------------------------------------------------- the run


@dataclass
class Timeline:
    """The time steps of a run and the load states they map to.

    Steps with the same arrival rates (and no backlog, and no autoscaler) have the same
    queues and latencies: they are computed once, as one *state*. A diurnal profile over 30
    days then costs one day's states. `state[t]` is the state of step t.
    """

    starts: np.ndarray
    dt: np.ndarray
    measured: np.ndarray
    arrivals: np.ndarray  # steps × entries
    state: np.ndarray  # steps → state
    state_arrivals: np.ndarray  # states × entries
    per_step: bool = False
    """Every step its own state, in order (an autoscaler, or a station saturated)."""

    @property
    def state_steps(self) -> np.ndarray:
        """The first step of each state (whose rates and replicas its numbers are)."""
        if self.per_step:
            return np.arange(len(self.state))
        _, first = np.unique(self.state, return_index=True)
        return first

    @property
    def state_dt(self) -> np.ndarray:
        """Measured seconds spent in each state."""
        m = self.measured
        return np.bincount(self.state[m], self.dt[m], len(self.state_arrivals))

    def state_weights(self, entry: int) -> np.ndarray:
        """Requests sent in each state during the measured period (at one entry point)."""
        m = self.measured
        sent = self.arrivals[m, entry] * self.dt[m]
        return np.bincount(self.state[m], sent, len(self.state_arrivals))


@dataclass(frozen=True)
class StepView:
    """One step's state per station, as the analytic fidelity computed it."""

    start: float
    replicas: np.ndarray
    workers: np.ndarray
    utilisation: np.ndarray
    saturated: np.ndarray


@dataclass
class EntryLatency:
    """One entry point in every state: latency moments, quantile rows and first wait."""

    mean: np.ndarray
    sd: np.ndarray
    quantiles: np.ndarray  # rows × LEVELS
    rows: np.ndarray  # state → its quantile row
    wait_mean: np.ndarray
    p_wait: np.ndarray
    weights: np.ndarray  # requests that succeed, per state (measured period)
    timed_out: np.ndarray | None = None  # requests that fail by the client's timeout

    @property
    def row_weights(self) -> np.ndarray:
        return np.bincount(self.rows, self.weights, len(self.quantiles))

    @property
    def failed(self) -> float:
        return float(self.timed_out.sum()) if self.timed_out is not None else 0.0


def client_timeout(
    info: EntryLatency,
    timeout: float,
    memo: dict[tuple[int, float], tuple[np.ndarray, ...]] | None = None,
) -> EntryLatency:
    """The entry point as its clients see it with a timeout: a request whose latency passes
    the timeout fails (status `timeout`); the servers keep working on it, as at the request
    level, so the queues are unchanged. The quantile rows and means become those of the
    requests that succeed (the request level's latency KPIs are of successful requests).
    `memo` keeps the rows' part by the quantile array (the same object: copied entry points
    share theirs, see `_entries`) and the timeout."""
    if memo is None:
        ok, kept, shrink = _timeout_rows(info.quantiles, timeout)
    else:
        key = (id(info.quantiles), timeout)
        if key not in memo:  # the array kept with them: its id is not reused meanwhile
            memo[key] = (*_timeout_rows(info.quantiles, timeout), info.quantiles)
        ok, kept, shrink, _ = memo[key]
    share = ok[info.rows]
    return EntryLatency(
        mean=info.mean * np.nan_to_num(shrink, nan=1.0)[info.rows],
        sd=info.sd,
        quantiles=kept,
        rows=info.rows,
        wait_mean=info.wait_mean,
        p_wait=info.p_wait,
        weights=info.weights * share,
        timed_out=info.weights * (1 - share),
    )


def _timeout_rows(rows: np.ndarray, timeout: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per quantile row, under a client's timeout: the share of requests that succeed, the
    quantile row of those, and how much the timeout cuts the row's mean (`client_timeout`)."""
    steps = np.diff(LEVELS)
    area = np.concatenate(
        [np.zeros((len(rows), 1)), np.cumsum(steps * (rows[:, 1:] + rows[:, :-1]) / 2, axis=1)],
        axis=1,
    )
    if np.isfinite(rows).all() and (rows[:, 1:] >= rows[:, :-1]).all():
        # every row at once (`interp_rows`: the same floats as a call per row)
        ok = interp_rows(np.full((len(rows), 1), timeout), rows, LEVELS, 0.0, 1.0)[:, 0]
        kept = interp_rows(LEVELS[None, :] * ok[:, None], LEVELS, rows)
        below = interp_rows(ok[:, None], LEVELS, area)[:, 0]
    else:
        ok = np.array([np.interp(timeout, row, LEVELS, left=0.0, right=1.0) for row in rows])
        kept = np.array([np.interp(LEVELS * f, LEVELS, r) for r, f in zip(rows, ok, strict=True)])
        below = np.array([np.interp(f, LEVELS, a) for f, a in zip(ok, area, strict=True)])
    with np.errstate(divide="ignore", invalid="ignore"):
        # the moment layer's mean, scaled by how much the timeout cuts the row's own mean
        shrink = np.where(ok > 0, below / ok / (area[:, -1] / LEVELS[-1]), np.nan)
    return ok, kept, shrink


class AnalyticServices:
    """The services of a run at the analytic fidelity, on the run's clock.

    Built from the run context like any subsystem. The numbers of every step are computed
    when it is built (vectorised, folded into distinct load states: nothing acts on them
    yet); a SimPy process then walks the step grid on the run's clock, beside the delivery
    model on the same environment: it enters each step as the clock reaches it (`current`
    is that step's state, for other subsystems to read) and writes the steps' decisions
    (saturation, recovery, the autoscalers' choices) to the run's decision log at their
    times. `results()` gives the KPIs, with the request level's names (see
    `simulator.metrics.requests.KPI_DESCRIPTIONS`), and these tables:
    * `services`: per service (or the monolith): mean replicas and workers, expected
      visits, throughput, mean and peak arrival rate and utilisation, mean wait per work
      step, mean visit latency, time-average queue and visits in progress, and the time
      spent saturated (a fluid backlog, or load at or above the workers);
    * `timeseries`: per measured step and service: workers, arrival_rate (visits/s),
      utilisation and queued_mean (step averages, as in the request-level timeseries),
      in_system_mean, latency_mean_s (of a visit) and saturated;
    * `entry_timeseries`: per measured step and entry point: arrival_rate and the latency
      mean and percentiles of requests sent in that step;
    * `entry_points`: per entry point, the end-to-end KPIs over the measured period;
    * `events`: the decision log (what was modelled, what was ignored, saturation);
    * `scaling`: the autoscalers' decisions as numbers, as at request level (empty without
      `ElasticFleet`);
    * `requests` and `spans`: empty, with the request-level columns: there are no
      individual requests in this mode.

    With `autoscaling.enabled`, the HPA and the node autoscaler set replicas and nodes step by
    step (`simulator.analytic.elastic.ElasticFleet`); an explicit `autoscaler` (see
    `simulator.analytic.stations.Autoscaler`) replaces the HPA, and nodes stay fixed.
    """

    incremental = True
    """Replicas changed during the run: compute only the steps from the change on (False:
    every step again, the same numbers; for the tests that compare the two)."""

    def __init__(self, context: RunContext, autoscaler: Autoscaler | None = None) -> None:
        scenario = self.scenario = context.scenario
        self.model = model = compile_model(scenario)
        fleet = None
        if autoscaler is None and _elastic(scenario):
            fleet = autoscaler = _fleet(scenario, model, context.streams)
        self.fleet = fleet
        self.autoscaler = autoscaler
        self.timeline, self.steps = timeline, steps = _simulate(scenario, model, autoscaler)
        self.billing = Billing.of(scenario, fleet, [s.replicas for s in model.stations])
        self.moments = Moments(model, steps)
        self.generation = 0
        """How many times the steps were computed again (replicas added by hand)."""
        self.changed_from = 0
        """The first step whose numbers the last computation may have changed (0 at the
        start, or when all were computed again): the steps before are the same, bit for bit,
        for a reader that keeps integrals over the steps (`AnalyticSli`)."""
        self._extra: np.ndarray | None = None
        self._slow: np.ndarray | None = None
        """Latency regressions per step and station (`StationSteps.slow`; None: none)."""
        self._rollouts: AnalyticRollouts | None = None
        self._entry_latency: dict[str, EntryLatency] | None = None
        self._lattices: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        """Lattice distributions by (entry, first step of the state), kept across a
        recomputation for the states it keeps."""
        self._sli: AnalyticSli | None = None
        self.failures = _failure_mechanisms(scenario)
        self.nodes: AnalyticNodeFailures | None = None
        """The cluster's node failures (`connect` starts them), when it simulates them."""
        if simulates_node_failures(scenario) and autoscaler is None:
            self.nodes = AnalyticNodeFailures(
                context.env,
                scenario,
                context.streams,
                context.events,
                [station.name for station in model.stations],
                [station.replicas for station in model.stations],
                self,
                replica_start(scenario),
            )
        events = [
            (
                0.0,
                "analytic",
                "started",
                f"{len(timeline.dt)} steps of {format_duration(float(np.median(timeline.dt)))} "
                f"({len(timeline.state_arrivals)} distinct load states); {len(model.stations)} "
                f"stations, {len(model.entries)} entry points",
            )
        ]
        events += [
            (0.0, "analytic", "not_modelled", what) for what in self.failures + _ignored(scenario)
        ]
        events += _saturation_events(model, steps, timeline)
        events += fleet.events if fleet is not None else []
        self.step = -1
        """The step the clock is in (-1 before the first)."""
        self.env = context.env
        self.events = context.events
        self._pending = deque(sorted(events, key=lambda row: row[0]))
        context.env.process(self._walk())

    @property
    def current(self) -> StepView:
        """The state of the step the clock is in, per station (model.stations' order)."""
        index = max(self.step, 0)
        state = self.timeline.state[index]
        steps = self.steps
        return StepView(
            start=float(self.timeline.starts[index]),
            replicas=steps.replicas[state],
            workers=steps.workers[state],
            utilisation=steps.utilisation[state],
            saturated=steps.saturated[state],
        )

    def add_replicas(self, station: int, count: int) -> int:
        """Replicas added to a station by hand, serving from the next step on: the steps
        from there are computed again (the queues, the backlog, the latencies), and the
        station's saturation events after now follow. Under the HPA (`ElasticFleet`) a
        person raises its ceiling and scales out as much (`ElasticFleet.add_by_hand`), and
        the fleet is computed again from before now; under another autoscaler nothing
        changes (logged). Returns the station's replicas then (asked for, under the HPA)."""
        now = self.env.now
        name = self.model.stations[station].name
        fleet = self.fleet
        if fleet is not None:
            step = int(np.searchsorted(self.timeline.starts, now, side="right")) - 1
            before = int(self.current.replicas[station])
            fleet.add_by_hand(now, station, count)
            self._recompute(max(step, 0))
            return before + count
        if self.autoscaler is not None:
            self.events.record(
                now,
                f"service/{name}",
                "not_modelled",
                f"{count} replicas added by hand: under this autoscaler the analytic "
                "fidelity keeps its count",
            )
            return int(self.current.replicas[station])
        if self.billing.hand is not None:  # the nodes they run on, billed from now
            self.billing.hand.add(now, name, count, self.events)
        first = int(np.searchsorted(self.timeline.starts, now, side="right"))
        return self._change_replicas({station: count}, first)[station]

    def _change_replicas(self, change: dict[int, int], first: int) -> dict[int, int]:
        """Replicas added (or, negative, taken away) from step `first` on; the steps from
        there computed again (`_resimulate`: the states before are kept, with their latency
        moments and lattices). Returns each changed station's replicas then."""
        steps = len(self.timeline.dt)
        if self._extra is None:
            self._extra = np.zeros((steps, len(self.model.stations)), dtype=np.int64)
        for station, count in change.items():
            self._extra[first:, station] += count
        self._recompute(first)
        timeline, steps_now = self.timeline, self.steps
        state = timeline.state[min(first, len(timeline.dt) - 1)]
        return {station: int(steps_now.replicas[state, station]) for station in change}

    def slow_down(self, station: int, time: float) -> None:
        """A station's mix of latency factors changes from `time` on (the rollouts' ramp
        that began then): its steps' service times become the mix's, averaged over each
        step (`AnalyticRollouts.slowdown`), from the step that holds `time`, and the steps
        from there are computed again (as for replicas added by hand; under the HPA, the
        fleet too, so the HPA answers the slower service). Under another autoscaler the
        steps stand (logged)."""
        rollouts = self._rollouts
        if rollouts is None:
            return
        if self.autoscaler is not None and self.fleet is None:
            self.events.record(
                self.env.now,
                f"service/{self.model.stations[station].name}",
                "not_modelled",
                "a latency regression's service times: under this autoscaler the analytic "
                "fidelity keeps the steps it computed",
            )
            return
        starts = self.timeline.starts
        count = len(starts)
        first = min(max(int(np.searchsorted(starts, time, side="right")) - 1, 0), count - 1)
        edges = np.append(starts, self.scenario.horizon)
        settled = rollouts.settled(station)
        slow = np.empty((count - first, 2))
        for k in range(first, count):
            lo, hi = float(edges[k]), float(edges[k + 1])
            slow[k - first] = _two_point(*rollouts.slowdown(station, lo, hi))
            if lo >= settled:  # the mix stays as it is from here on
                slow[k - first :] = slow[k - first]
                break
        if self._slow is None:
            if not (slow[:, 0] > 0).any():
                return  # as fast as ever
            self._slow = unslowed((count, len(self.model.stations)))
        if _same_bits(self._slow[first:, station], slow):
            return
        self._slow[first:, station] = slow
        self._recompute(first)

    def visit_latency(self, station: int, start: float, end: float) -> tuple[float, float]:
        """A station's mean visit latency over [start, end] (weighted by its visits per
        step) were its own work as fast as the first version's, and the mean work time of a
        visit there: what a canary analysis's slices differ by (`AnalyticRollouts`)."""
        timeline, steps, model = self.timeline, self.steps, self.model
        starts = timeline.starts
        edges = np.append(starts, self.scenario.horizon)
        lo = max(int(np.searchsorted(starts, start, side="right")) - 1, 0)
        hi = max(int(np.searchsorted(starts, end, side="left")), lo + 1)
        k = np.arange(lo, min(hi, len(starts)))
        seconds = np.minimum(edges[k + 1], end) - np.maximum(edges[k], start)
        seconds = np.maximum(seconds, 0.0) if end > start else np.ones(len(k))
        rate, latency = _visit_latency(
            model, steps, self.moments, timeline.state_arrivals, [station]
        )
        visits = rate[:, station]
        with np.errstate(divide="ignore", invalid="ignore"):
            work = np.where(
                visits > 0,
                steps.service_mean[:, station] * steps.work_rate[:, station] / visits,
                0.0,
            )
        factor = np.ones(len(visits))
        if steps.slow is not None:
            x, f = steps.slow[:, station, 0], steps.slow[:, station, 1]
            factor = 1.0 + x * (f - 1.0)
        work = work / factor
        fast = latency[:, station] - (factor - 1.0) * work
        state = timeline.state[k]
        weights = visits[state] * seconds
        if weights.sum() <= 0:
            return math.nan, math.nan
        return (
            float(weights @ fast[state] / weights.sum()),
            float(weights @ work[state] / weights.sum()),
        )

    def _recompute(self, first: int) -> None:
        """The steps from `first` on computed again with the replicas added or taken away
        and the latency regressions (`_resimulate`: the states before are kept, with their
        latency moments and lattices); under the HPA, the fleet's replicas computed again
        first (`_fleet_again`)."""
        now = self.env.now
        fleet = self.fleet
        fleet_rows: set[tuple[float, str, str, str]] = set()
        logged: set[tuple[float, str, str, str]] = set()
        if fleet is not None:
            fleet_rows = set(fleet.events)
            logged = fleet_rows - set(self._pending)
            self._extra = self._fleet_again(first)
        elif self._extra is None:
            self._extra = np.zeros((len(self.timeline.dt), len(self.model.stations)), np.int64)
        before, rows_before = self.steps, self.timeline.state_steps
        timeline, steps_now, kept = _resimulate(
            self.model,
            self._extra,
            self.timeline,
            before,
            first,
            self.incremental,
            self._slow,
            per_step=fleet is not None,
        )
        self.timeline, self.steps = timeline, steps_now
        if kept is None:
            self.moments = Moments(self.model, steps_now)
            self._lattices = {}
            self.changed_from = 0
        else:
            self.moments = Moments(self.model, steps_now, (self.moments, kept.rows, kept.taken))
            kept_steps = set(rows_before[kept.taken].tolist())
            self._lattices = {k: v for k, v in self._lattices.items() if k[1] in kept_steps}
            self.changed_from = first
        self._entry_latency = None
        self.generation += 1
        later = [
            row
            for row in self._pending
            if row[2] not in ("saturated", "recovered") and row not in fleet_rows
        ]
        later += [row for row in _saturation_events(self.model, steps_now, timeline)
                  if row[0] > now]  # fmt: skip
        if fleet is not None:  # its decisions from now on (those before are logged)
            later += [row for row in fleet.events if row[0] >= now and row not in logged]
        self._pending = deque(sorted(later, key=lambda row: row[0]))

    def _fleet_again(self, first: int) -> np.ndarray:
        """The HPA and node autoscaler computed again from the last state the fleet kept at
        or before step `first` (`ElasticFleet.resume`), with the latency regressions and
        replicas added by hand: every step's replicas, as added to the scenario's."""
        fleet, model, timeline = self.fleet, self.model, self.timeline
        assert fleet is not None and timeline.per_step
        start, backlog = fleet.resume(first)
        work, _ = station_work(model, timeline.arrivals[start:])
        work = slowed_work(work, self._slow[start:] if self._slow is not None else None)
        schedule = self.steps.replicas[timeline.state].astype(np.int64)
        current = np.maximum(fleet.ready, 1)
        autoscaled_from(model, work[1], timeline.dt, fleet, start, current, backlog, schedule)
        base = np.array([station.replicas for station in model.stations], dtype=np.int64)
        return schedule - base

    def lose_replicas(self, lost: dict[int, int]) -> float:
        """Replicas whose node failed stop serving from the step edge nearest now on (the
        steps computed again, as for replicas added by hand). Returns the expected visits
        in progress on them, which fail: each station's visits in progress in the step the
        clock is in × lost / its replicas (Little's law, visits spread over replicas)."""
        timeline, steps = self.timeline, self.steps
        now_step = int(np.searchsorted(timeline.starts, self.env.now, side="right")) - 1
        state = timeline.state[max(now_step, 0)]
        stations = [s for s in lost if int(steps.replicas[state, s]) > 0]
        rate, latency = _visit_latency(
            self.model, steps, self.moments, timeline.state_arrivals, stations
        )
        failed = 0.0
        for station, count in lost.items():
            replicas = int(steps.replicas[state, station])
            if replicas > 0:
                in_progress = float(rate[state, station] * latency[state, station])
                failed += in_progress * min(count, replicas) / replicas
        self._change_replicas({s: -n for s, n in lost.items()}, self._nearest_step())
        return failed

    def hold_replicas(self, station: int, count: int) -> None:
        """Replicas a degraded manual deploy has stopped (`count` > 0) or started again
        (< 0), from the step edge nearest now on; under an autoscaler the HPA's count
        stands (the analytic fleet does not place the deploy's servers)."""
        if self.autoscaler is None:
            self._change_replicas({station: -count}, self._nearest_step())

    def restore_replicas(self, back: dict[int, int]) -> None:
        """A replaced node's replicas serve again, from the step edge nearest now on."""
        self._change_replicas(dict(back), self._nearest_step())

    def _nearest_step(self) -> int:
        """The step that starts at the step edge nearest the clock (the number of steps
        when that is the horizon): a change at a random instant lands on the grid half a
        step early or late on average, not always up to a step late."""
        now = self.env.now
        starts = self.timeline.starts
        k = max(int(np.searchsorted(starts, now, side="right")) - 1, 0)
        end = float(starts[k + 1]) if k + 1 < len(starts) else self.scenario.horizon
        return k + 1 if now - float(starts[k]) > end - now else k

    def connect(self, subsystems: Mapping[str, Subsystem]) -> None:
        """Start the nodes' failures, when the cluster simulates them, and tell them who
        acts, as the World does at request level: monitoring watches the nodes (its
        node-down rule) and pages the organisation, else a customer reports each failure to
        it. The runner calls this once the subsystems are built, before the clock runs."""
        nodes = self.nodes
        if nodes is None:
            return
        from ..model.delivery import DeliveryModel  # imported by runs with node failures only
        from ..model.monitoring import MonitoringModel

        monitoring = subsystems.get("monitoring")
        delivery = subsystems.get("delivery")
        if isinstance(monitoring, MonitoringModel):
            monitoring.watch_nodes(nodes)
        organisation: Organisation | None = (
            delivery if isinstance(delivery, DeliveryModel) else None
        )
        nodes.connect(organisation, monitored=monitoring is not None)
        nodes.start()

    def handles(self) -> AnalyticHandles:
        """What other subsystems act on: versions rolled out on these stations (the
        delivery model's deploys and rollbacks) and the samples monitoring scrapes."""
        scenario, model = self.scenario, self.model
        sli = AnalyticSli(self, scenario)
        if model.monolith:  # every service, and the station by its own name
            one = StationRef(0, model.stations[0].name)
            refs = {name: one for name in [*scenario.services, one.name]}
        else:
            refs = {name: StationRef(i, name) for i, name in enumerate(model.services)}
        rollouts = AnalyticRollouts(
            self.env,
            refs,
            {i: station.replicas for i, station in enumerate(model.stations)},
            self.events,
            replica_start(scenario),
            sli.visits,
        )
        rollouts.hold_replicas = self.hold_replicas
        rollouts.slow_down = self.slow_down
        rollouts.visit_latency = self.visit_latency
        self._rollouts = rollouts
        sli.rollouts = rollouts
        self._sli = sli
        scripted(
            self.env, rollouts, [(n, d) for n, s in scenario.services.items() for d in s.deploys]
        )
        return AnalyticHandles(rollouts, sli)

    def entry_latency(self) -> dict[str, EntryLatency]:
        """Latency of every entry point in every state (computed once per generation)."""
        if self._entry_latency is None:
            self._entry_latency = _entries(
                self.scenario, self.model, self.steps, self.moments, self.timeline, self._lattices
            )
        return self._entry_latency

    def _walk(self) -> Generator[simpy.Event, Any, None]:
        """Enter each step when the clock reaches its start; log each decision at its time."""
        env, log = self.env, self.events
        for index, start in enumerate(self.timeline.starts.tolist()):
            while self._pending and self._pending[0][0] <= start:
                time, component, kind, detail = self._pending.popleft()
                if time > env.now:
                    yield env.timeout(time - env.now)
                log.record(time, component, kind, detail)
            if start > env.now:
                yield env.timeout(start - env.now)
            self.step = index
        while self._pending:
            time, component, kind, detail = self._pending.popleft()
            if time > env.now:
                yield env.timeout(time - env.now)
            log.record(time, component, kind, detail)

    def results(
        self, wanted: frozenset[str] | None = None
    ) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
        """KPIs and tables over the measured period; `_tables`' (TABLES) only if one of
        them is `wanted` (None: every table): a fleet's take seconds, the KPIs none. The
        scaling and rollout tables only if wanted too (an empty `wanted`: no table at all,
        and no pandas imported)."""
        scenario, model, steps = self.scenario, self.model, self.steps
        moments, timeline, billing = self.moments, self.timeline, self.billing
        failures = bool(self.failures)
        entries = self.entry_latency()
        steps = _serving(steps, self._down(), timeline)
        tables: dict[str, pd.DataFrame] = {}
        if wanted is None or not wanted.isdisjoint(TABLES):
            tables = _tables(scenario, model, steps, moments, timeline, entries, failures, billing)
        fleet = self.fleet
        if wanted is None or "scaling" in wanted:
            tables["scaling"] = scaling_table(fleet.scaling if fleet is not None else ScalingLog())
        summary = _summary(scenario, model, steps, moments, timeline, entries, failures, billing)
        failed_by: dict[str, float] = {}
        if self._sli is not None:
            failed_by.update(self._versions_failed())
            if self._sli.rollouts is not None and (
                wanted is None or not wanted.isdisjoint(ROLLOUT_TABLES)
            ):
                tables.update(rollout_tables(self._sli.rollouts.records()))
        failing = self.nodes if self.nodes is not None else fleet
        if failing is not None:
            warmup = self.scenario.warmup
            nodes = {
                "stale_endpoint": sum(n for time, n in failing.stale if time >= warmup),
                "unavailable": self._unavailable(),
            }
            for cause, count in nodes.items():
                if count > 0:
                    failed_by[cause] = failed_by.get(cause, 0.0) + count
        if failed_by:
            summary.update(self._toll(summary, failed_by))
        return summary, tables

    def down(self) -> np.ndarray | None:
        """`_down`, for monitoring's samples (`AnalyticSli`): they count the refused visits."""
        return self._down()

    def _down(self) -> np.ndarray | None:
        """Per step and station: whether no replica serves (all on nodes that are down, or
        under the autoscaler none ready again yet)."""
        fleet = self.fleet
        if fleet is not None and fleet.empty_steps:
            down = np.zeros((len(self.timeline.dt), len(self.model.stations)), dtype=bool)
            for step, empty in fleet.empty_steps.items():
                if step < len(down):
                    down[step] = empty
            return down
        if self._extra is None:
            return None
        base = np.array([station.replicas for station in self.model.stations])
        down = base + self._extra <= 0
        return down if down.any() else None

    def _unavailable(self) -> float:
        """Requests sent in the measured period to a station with no replica, refused
        (`unavailable`, as the request level's load balancer refuses them): per step, a
        request of entry e meets station s with probability min(1, V[e, s]) (its expected
        visits, capped: exact for one call at most)."""
        down = self._down()
        if down is None:
            return 0.0
        timeline = self.timeline
        rows = np.flatnonzero(down.any(axis=1) & timeline.measured)
        model = self.model
        if model.monolith:
            visits = np.ones((len(model.entries), 1))
        else:
            visits = np.minimum(np.asarray(model.visits_per_request, dtype=float), 1.0)
        met = down[rows][:, None, :] * visits[None, :, :]  # steps × entries × stations
        share = 1.0 - np.prod(1.0 - met, axis=2)
        sent = timeline.arrivals[rows] * timeline.dt[rows, None]
        return float((sent * share).sum())

    def _versions_failed(self) -> dict[str, float]:
        """The requests that bad versions and manual deploys' outages failed (none: {})."""
        assert self._sli is not None
        scenario = self.scenario
        defect, down = self._sli.failed_by_versions(scenario.warmup, scenario.horizon)
        if defect + down == 0:
            return {}
        return {"defect": defect, "unavailable": down}

    def _toll(self, summary: dict[str, float], failed_by: dict[str, float]) -> dict[str, float]:
        """The KPIs with requests that failed (expected numbers, by cause: bad versions, a
        manual deploy's outage, a failed node's visits in progress, a station with no
        replica left) instead of completing: they finished, as failures."""
        scenario = self.scenario
        if math.isnan(summary.get("availability", math.nan)):
            return {}
        completed = summary["requests_completed"]
        failed = summary["requests_failed"]
        finished = completed + failed
        now_completed = completed
        now_failed = failed
        for count in failed_by.values():
            now_completed -= count
            now_failed += count
        kpis = {
            "requests_completed": now_completed,
            "requests_failed": now_failed,
            "throughput_rps": now_completed / scenario.measured_period,
            "availability": now_completed / finished,
            **{f"error_rate_{cause}": n / finished for cause, n in failed_by.items()},
        }
        if "slo_attainment" in summary and completed > 0:
            kpis["slo_attainment"] = summary["slo_attainment"] * now_completed / completed
        node_seconds = self.billing.node_seconds(scenario.warmup, scenario.horizon)
        period = scenario.measured_period
        kpis.update(cost_kpis(node_seconds, self.billing.price_per_hour, period, now_completed))
        return kpis


def _simulate(
    scenario: Scenario,
    model: Model,
    autoscaler: Autoscaler | None,
    extra: np.ndarray | None = None,
) -> tuple[Timeline, StationSteps]:
    """Arrival rates per step, folded into distinct load states, and the stations in each.
    `extra` (steps × stations) are replicas added to the scenario's counts (by hand)."""
    functions = rate_functions(scenario)
    edges = step_edges(scenario, functions, time_step(scenario))
    dt = np.diff(edges)
    starts = edges[:-1]
    measured = starts >= scenario.warmup - 1e-9 * scenario.horizon
    entries = model.entries
    arrivals = (
        np.column_stack([functions[e].mean_rates(edges) for e in entries])
        if entries
        else np.zeros((len(dt), 0))
    )
    replicas = _replicas(model, extra) if extra is not None else None
    if autoscaler is None and not _saturates(model, arrivals, replicas):
        first, state = _fold(arrivals, extra)
        chosen = replicas[first] if replicas is not None else None
        stations = simulate_stations(model, arrivals[first], dt[first], replicas=chosen)
        timeline = Timeline(starts, dt, measured, arrivals, state, arrivals[first])
        return timeline, stations
    stations = simulate_stations(model, arrivals, dt, replicas=replicas, autoscaler=autoscaler)
    timeline = Timeline(starts, dt, measured, arrivals, np.arange(len(dt)), arrivals, True)
    return timeline, stations


def _replicas(model: Model, extra: np.ndarray) -> np.ndarray:
    """The scenario's replicas plus `extra` (steps × stations)."""
    base = np.array([s.replicas for s in model.stations], dtype=np.int64)
    replicas = base + extra
    # A station left with no replica (all on failed nodes) refuses its visits
    # (`_unavailable`) and builds no queue: its queue is computed with the replicas it
    # had, for the requests that do not visit it, and reported as none (`_serving`).
    return np.where(replicas > 0, replicas, base)


def _two_point(first: float, second: float) -> tuple[float, float]:
    """The share x and factor f of the two-point mix {1, f} with these E[F] and E[F²] of a
    latency factor F ≥ 1 (exact for one slow version beside fast ones; for several, the
    mix with the same two moments). (0, 1): as fast as the first version."""
    if first <= 1.0:
        return 0.0, 1.0
    f = max((second - 1.0) / (first - 1.0) - 1.0, first)
    return min((first - 1.0) / (f - 1.0), 1.0), f


def _fold(
    arrivals: np.ndarray, extra: np.ndarray | None, slow: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Steps with the same arrival rates (to 1/FOLD_UNITS of the largest), the same replicas
    added and the same latency regressions (bit for bit), as one state: the first step of
    each state, and each step's state."""
    top = float(np.abs(arrivals).max(initial=0.0)) or 1.0
    keys = np.round(arrivals / top * FOLD_UNITS).astype(np.int64)
    if extra is not None:
        keys = np.column_stack([keys, extra])
    if slow is not None:
        keys = np.column_stack([keys, slow.reshape(len(slow), -1).view(np.int64)])
    return _unique_rows(keys)


def _unique_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(keys, axis=0, return_index=True, return_inverse=True)`'s index and
    inverse, the same arrays, sooner: rows (int64) sorted by their first column alone when
    it has no ties, else by every column (`np.lexsort`, stable), instead of as structured
    records (several times slower for a state per step, or a fleet's replicas added)."""
    if not keys.size:
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        return first, inverse.ravel()
    order = np.argsort(keys[:, 0], kind="stable")
    column = keys[order, 0]
    if (column[1:] == column[:-1]).any():
        order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    new = np.concatenate([[True], (ordered[1:] != ordered[:-1]).any(axis=1)])
    inverse = np.empty(len(keys), dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


@dataclass(frozen=True)
class Kept:
    """What a recomputation from step `first` on kept of the steps before: the new states
    `rows` are the earlier states `taken` (the same first step, rates, replicas and queues)."""

    first: int
    rows: np.ndarray
    taken: np.ndarray


def _resimulate(
    model: Model,
    extra: np.ndarray,
    before: Timeline,
    steps: StationSteps,
    first: int,
    keep: bool = True,
    slow: np.ndarray | None = None,
    per_step: bool = False,
) -> tuple[Timeline, StationSteps, Kept | None]:
    """`_simulate` with `extra` (and `slow`, the latency regressions per step and station)
    changed from step `first` on, the same numbers bit for bit, computing only the states
    that begin from `first` on: the states before cannot change (their rates, replicas,
    service times and, step by step, the backlog they start with are the same).

    What is solved for all states together (`Coupled`) is solved again for every state and
    must come out the same at the states kept; so must their work. Otherwise, or when the
    run changes between folded states and a state per step, everything is computed again
    (`_simulate`) and nothing is kept (None); so it is without `keep`. `per_step`: a state
    per step whatever the load (an autoscaler's run, as `_simulate` makes it)."""
    starts, dt, measured, arrivals = before.starts, before.dt, before.measured, before.arrivals
    replicas = _replicas(model, extra)
    per_step = per_step or _saturates(model, arrivals, replicas, slow)
    if per_step:
        rows, state = np.arange(len(dt)), np.arange(len(dt))
        timeline = Timeline(starts, dt, measured, arrivals, state, arrivals, True)
    else:
        rows, state = _fold(arrivals, extra, slow)
        timeline = Timeline(starts, dt, measured, arrivals, state, arrivals[rows])
    earlier = before.state_steps
    old = before.state[rows]
    kept = (rows < first) & (earlier[old] == rows)
    slow_rows = slow[rows] if slow is not None else None
    if per_step != before.per_step or not keep:
        return (*_simulate_again(model, timeline, replicas, rows, slow_rows), None)
    fresh = np.flatnonzero(~kept)
    kept_rows, taken = np.flatnonzero(kept), old[kept]
    work, batches = station_work(model, timeline.state_arrivals)
    work = slowed_work(work, slow_rows)
    chosen = replicas[rows]
    coupled = coupled_parts(model, work, chosen, batches, steps.coupled)
    concurrency = np.array([s.concurrency for s in model.stations])
    overloaded = not per_step and bool((work[1] >= chosen * concurrency).any())
    previous = steps.coupled
    same = (
        previous is not None
        and not overloaded
        and kept_rows.size > 0
        and _same_bits(work[0][kept_rows], steps.work_rate[taken])
        and _same_bits(work[1][kept_rows], steps.offered[taken])
        and coupled.same_rows(kept_rows, previous, taken)
    )
    if not same:
        timeline, steps_now = _simulate_again(model, timeline, replicas, rows, slow_rows)
        return timeline, steps_now, None
    parts: list[tuple[StationSteps, np.ndarray, np.ndarray]] = [(steps, taken, kept_rows)]
    if fresh.size:
        start = np.zeros(len(model.stations))
        if per_step and fresh[0] > 0:  # the backlog left by the step before, kept
            start = steps.backlog[fresh[0] - 1]
        part = simulate_rows(
            model,
            work[:, fresh],
            batches[fresh] if batches is not None else None,
            dt[rows[fresh]],
            chosen[fresh],
            start,
            coupled.take(fresh),
            slow_rows[fresh] if slow_rows is not None else None,
        )
        parts.append((part, np.arange(fresh.size), fresh))
    steps_now = StationSteps.gathered(parts, len(rows), coupled)
    return timeline, steps_now, Kept(first, kept_rows, taken)


def _simulate_again(
    model: Model,
    timeline: Timeline,
    replicas: np.ndarray,
    rows: np.ndarray,
    slow: np.ndarray | None = None,
) -> tuple[Timeline, StationSteps]:
    """Every state computed, as `_simulate` does (`slow`: the states' latency regressions)."""
    arrivals, dt = timeline.arrivals, timeline.dt
    if timeline.per_step:
        return timeline, simulate_stations(model, arrivals, dt, replicas=replicas, slow=slow)
    return timeline, simulate_stations(
        model, arrivals[rows], dt[rows], replicas=replicas[rows], slow=slow
    )


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def _serving(steps: StationSteps, down: np.ndarray | None, timeline: Timeline) -> StationSteps:
    """The stations as the tables and KPIs report them: one with no replica serving (`down`,
    steps × stations) has no replicas or workers, nothing busy or queued, and is not
    saturated (it refuses its visits)."""
    if down is None:
        return steps
    _, first = np.unique(timeline.state, return_index=True)
    gone = down[first]  # states × stations (a down station's steps are states of their own)

    def zero(values: np.ndarray) -> np.ndarray:
        return np.where(gone, 0, values).astype(values.dtype)

    shown = replace(
        steps,
        replicas=zero(steps.replicas),
        workers=zero(steps.workers),
        utilisation=StationColumns(zero(steps.utilisation.array())),
        queued_mean=StationColumns(zero(steps.queued_mean.array())),
    )
    shown.__dict__["saturated"] = steps.saturated & ~gone  # its cached property, set
    return shown


def _saturates(
    model: Model,
    arrivals: np.ndarray,
    replicas: np.ndarray | None = None,
    slow: np.ndarray | None = None,
) -> bool:
    """Whether any step offers a station as much work as it has workers, a chunk of steps
    at a time (steps × stations at once would be the largest array of a long run);
    `replicas` (steps × stations), if given, replace the scenario's counts; `slow`, if
    given, the latency regressions that lengthen the work (`slowed_work`)."""
    workers = np.array([s.workers for s in model.stations])
    per_replica = np.array([s.concurrency for s in model.stations])
    if replicas is None and slow is None and len(arrivals) > 1:
        # a step equal to one tried offers the same: a year of a daily profile, one day's rows
        arrivals = _distinct_rows(arrivals)
    rows = max(1, CHUNK_CELLS // max(len(workers), 1))
    for lo in range(0, len(arrivals), rows):
        have = workers if replicas is None else replicas[lo : lo + rows] * per_replica
        offered = arrivals[lo : lo + rows] @ model.loads[1]
        if slow is not None:
            part = slow[lo : lo + rows]
            offered = offered * (1.0 + part[..., 0] * (part[..., 1] - 1.0))
        if (offered >= have).any():
            return True
    return False


def _distinct_rows(values: np.ndarray) -> np.ndarray:
    """The distinct rows of a 2-D array (bit for bit), in order of first appearance: rows
    hashed to one integer each, then only rows whose hash repeats compared in full (sorting
    whole rows, as `np.unique(axis=0)` does, is slow for wide ones)."""
    values = np.ascontiguousarray(values)
    bits = values.view(np.uint64) if values.dtype.itemsize == 8 else None
    if bits is None or values.ndim != 2 or not values.shape[1]:
        _, first = np.unique(values, axis=0, return_index=True)
        return values[np.sort(first)]
    weights = np.random.default_rng(0).integers(1, 2**63, values.shape[1], dtype=np.uint64)
    with np.errstate(over="ignore"):
        hashes = (bits * weights).sum(axis=1, dtype=np.uint64)
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    same = np.array_equal(values.view(np.uint64), values[first][inverse.ravel()].view(np.uint64))
    if not same:  # a collision of hashes: sort whole rows after all
        _, first = np.unique(values, axis=0, return_index=True)
    return values[np.sort(first)]


def _distinct_pairs(mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The states with a (mean, sd) pair not seen before (bit for bit), in order, and each
    state's index among them: `_unique_rows` of the kept states then gives the states' own
    answer (its first rows are the earliest states of their groups either way)."""
    bits = np.column_stack([mean, sd]).view(np.int64)
    first, inverse = _unique_rows(bits)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(first), dtype=np.intp)
    rank[order] = np.arange(len(first))
    return first[order], rank[inverse]


# ----------------------------------------------------------------------------- entries


def _entries(
    scenario: Scenario,
    model: Model,
    steps: StationSteps,
    moments: Moments,
    timeline: Timeline,
    cache: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, EntryLatency]:
    """Latency of every entry point in every state.

    The full distribution is computed on a lattice in up to REPRESENTATIVE_STEPS states per
    entry, spread evenly over the ranks of its mean latency; in every state the standardised
    quantile function ((q − mean) / sd) is interpolated between the two representatives
    nearest in mean latency and scaled by that state's mean and standard deviation from the
    moment layer. With a parallel step in the tree, the lattice's mean and sd (exact for
    fan-out, up to the lattice) replace the moment layer's gamma-based ones, by the same
    interpolation of their ratios. States whose quantile rows agree to 1e-9 share a row.

    `cache` keeps the lattice distributions by (entry, first step of the state): those
    found there are not computed again (a lattice is the same, bit for bit, whatever is
    computed beside it), and it is left with the ones this computation used.
    """
    count = representative_steps(scenario)
    plans: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    jobs: list[tuple[str, int, float, float]] = []
    for e, name in enumerate(model.entries):
        mean, variance = moments.visit(name)
        sd = np.sqrt(np.maximum(variance, 0.0))
        weights = timeline.state_weights(e)
        candidates = np.flatnonzero(weights > 0)
        reps = np.zeros(0, dtype=int)
        if candidates.size:
            order = candidates[np.argsort(mean[candidates], kind="stable")]
            picks = np.unique(np.round(np.linspace(0, len(order) - 1, count)).astype(int))
            reps = order[picks]
            reps = reps[np.concatenate([[True], np.diff(mean[reps]) > 1e-12 * mean[reps][-1]])]
        plans[name] = (mean, sd, weights, reps)
        jobs += [(name, int(r), float(mean[r]), float(sd[r])) for r in reps]
    distributions = _lattices(model, steps, timeline, jobs, cache)
    # Asked once, not per entry point: it walks every service's handler (5 ms in a fleet).
    timeouts_modelled = _timeouts_modelled(scenario)
    entries: dict[str, EntryLatency] = {}
    made: dict[tuple[object, ...], tuple[tuple[np.ndarray, ...], object]] = {}
    timed: dict[tuple[int, float], tuple[np.ndarray, ...]] = {}
    for name, (mean, sd, weights, reps) in plans.items():
        wait_mean, p_wait = _first_wait(model, steps, moments, name)
        if not reps.size:
            empty = np.full((1, LEVELS.size), np.nan)
            rows = np.zeros(len(mean), int)
            entries[name] = EntryLatency(mean, sd, empty, rows, wait_mean, p_wait, weights)
            continue
        fanout = contains_fanout(model.visits[name], model.visits)
        # An entry point's rows are a function of its moments, representatives, their
        # lattices (the same arrays for copied entry points: `lattice_distributions`) and
        # whether it fans out: computed once for copies, the same arrays shared.
        lattices = tuple(distributions[name, int(r)] for r in reps)
        ids = tuple(id(masses) for _, masses in lattices)
        key: tuple[object, ...] = (mean.tobytes(), sd.tobytes(), reps.tobytes(), fanout, ids)
        if key not in made:  # the lattices kept with it: their ids are not reused meanwhile
            made[key] = (_entry_rows(mean, sd, reps, lattices, fanout), lattices)
        state_mean, state_sd, quantiles, rows = made[key][0]
        if fanout:  # the lattices' (else the moments', this entry point's own arrays)
            mean, sd = state_mean, state_sd
        entries[name] = EntryLatency(mean, sd, quantiles, rows, wait_mean, p_wait, weights)
        timeout = scenario.traffic[name].timeout
        if timeout is not None and timeouts_modelled:
            entries[name] = client_timeout(entries[name], timeout, timed)
    return entries


def _entry_rows(
    mean: np.ndarray,
    sd: np.ndarray,
    reps: np.ndarray,
    lattices: tuple[tuple[np.ndarray, np.ndarray], ...],
    fanout: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An entry point's mean and sd per state (the lattices' with a fan-out), its distinct
    quantile rows and each state's row (see `_entries`)."""
    shapes: list[np.ndarray] = []
    ratios: list[tuple[float, float]] = []
    for r, (points, masses) in zip(reps, lattices, strict=True):
        q = quantile_function(points, masses)
        mean_num = float(points @ masses)
        sd_num = float(np.sqrt(max(((points - mean_num) ** 2) @ masses, 0.0)))
        shapes.append((q - mean_num) / sd_num if sd_num > 0 else np.zeros_like(q))
        ratios.append(
            (mean_num / mean[r] if mean[r] > 0 else 1.0, sd_num / sd[r] if sd[r] > 0 else 1.0)
        )
    shape_rows, ratio_rows = np.array(shapes), np.array(ratios)
    # A state's row is a function of its (mean, sd) alone: computed once per distinct
    # pair (an autoscaled run has a state per step, and far fewer distinct pairs).
    seen, inverse = _distinct_pairs(mean, sd)
    state_mean, state_sd = mean[seen], sd[seen]
    position = np.zeros(len(seen))
    if len(reps) > 1:
        position = np.interp(state_mean, mean[reps], np.arange(len(reps)))
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, len(reps) - 1)
    weight = (position - low)[:, None]
    z = shape_rows[low] * (1 - weight) + shape_rows[high] * weight
    if fanout:
        ratio = ratio_rows[low] * (1 - weight) + ratio_rows[high] * weight
        state_mean, state_sd = state_mean * ratio[:, 0], state_sd * ratio[:, 1]
        mean, sd = state_mean[inverse], state_sd[inverse]
    quantiles = np.maximum(state_mean[:, None] + state_sd[:, None] * z, 0.0)
    top = float(np.abs(quantiles).max()) or 1.0
    keys = np.round(quantiles / top * 1e9).astype(np.int64)
    first, rows = _unique_rows(keys)
    return mean, sd, quantiles[first], rows[inverse]


def _lattices(
    model: Model,
    steps: StationSteps,
    timeline: Timeline,
    jobs: list[tuple[str, int, float, float]],
    cache: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] | None,
) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """`lattice_distributions` of the jobs, those in `cache` taken from it (see `_entries`)."""
    if cache is None:
        return lattice_distributions(model, steps, jobs)
    first_step = timeline.state_steps
    keys = {(name, state): (name, int(first_step[state])) for name, state, _, _ in jobs}
    missing = [job for job in jobs if keys[job[0], job[1]] not in cache]
    found = lattice_distributions(model, steps, missing) if missing else {}
    used = {}
    for name, state, _, _ in jobs:
        key = keys[name, state]
        if (name, state) in found:
            used[key] = found[name, state]
        else:
            used[key] = cache[key]
        found[name, state] = used[key]
    cache.clear()
    cache.update(used)
    return found


def _first_wait(
    model: Model, steps: StationSteps, moments: Moments, entry: str
) -> tuple[np.ndarray, np.ndarray]:
    """Mean time from a request's arrival to the start of its first work step at the entry,
    and the chance that it is positive (the request-level `start` − `arrival`)."""
    first = model.first_wait[entry]
    count = steps.workers.shape[0]
    if first is None:
        return np.full(count, np.nan), np.full(count, np.nan)
    prefix, station = first
    mean = steps.wait_mean[:, station].copy()
    nothing_before = 1.0
    for node in prefix:
        mean += moments.of(node)[0]
        nothing_before *= _chance_of_no_call(node)
    share = steps.delay_share[:, station]  # `steps.p_wait`'s column, not the whole array
    at_station = (1.0 - share) * steps.p_wait_stationary[:, station] + share
    p_wait = 1.0 - nothing_before * (1.0 - at_station)
    return mean, p_wait


def _chance_of_no_call(node: Node) -> float:
    if isinstance(node, Repeat):
        return (1 - node.probability) ** node.count
    if isinstance(node, SharedWait):
        return math.prod(_chance_of_no_call(m) for m in node.members)
    if isinstance(node, Fanout):
        return math.prod(_chance_of_no_call(b) for b in node.branches)
    return 0.0


# ----------------------------------------------------------------------------- KPIs


def _timeouts_modelled(scenario: Scenario) -> bool:
    """Client timeouts at the entry points are modelled when nothing else can fail (no
    retries, call timeouts or queue limits), which would change the load or need more."""
    return not _failure_mechanisms(scenario)


def _failure_mechanisms(scenario: Scenario) -> list[str]:
    """What can fail a request in the request-level model and is not modelled here: a
    timeout at an entry point is (see `client_timeout`), unless its requests are retried."""
    found = []
    timeouts = [
        f"traffic.{n}" for n, t in scenario.traffic.items() if t.timeout is not None and t.retries
    ]
    limits = []
    for name, spec in scenario.services.items():
        if spec.queue_limit is not None:
            limits.append(name)
        for step in spec.handler or []:
            calls = step.parallel if isinstance(step, Parallel) else [step]
            if any(isinstance(c, Call) and c.timeout is not None for c in calls):
                timeouts.append(f"services.{name}")
    if timeouts:
        found.append(
            "retries and call timeouts (and the budgets and circuit breakers they trigger) are "
            f"not modelled: {', '.join(dict.fromkeys(timeouts))}; failure KPIs are NaN"
        )
    if limits:
        found.append(
            f"queue limits (load shedding) are not modelled: {', '.join(limits)}; failure KPIs "
            "are NaN"
        )
    return found


def _ignored(scenario: Scenario) -> list[str]:
    ignored = [
        f"{section} is not modelled in the analytic fidelity"
        for section in ("workloads", "scheduler")
        if getattr(scenario, section, None) is not None
    ]
    if scenario.network.same_node_latency is not None:
        ignored.append(
            "network.same_node_latency is not modelled (replicas are counted, not placed): "
            "every call takes network.latency"
        )
    if scenario.autoscaling.enabled and scenario.deployment == "monolith":
        ignored.append("autoscaling scales microservices only: the monolith keeps its replicas")
    return ignored


def _elastic(scenario: Scenario) -> bool:
    """Autoscaling applies, as at the request level: to microservices only."""
    return scenario.autoscaling.enabled and scenario.deployment == "microservices"


def _fleet(scenario: Scenario, model: Model, streams: RandomStreams) -> ElasticFleet:
    functions = rate_functions(scenario)
    edges = step_edges(scenario, functions, time_step(scenario))
    return ElasticFleet(scenario, model, edges[:-1], np.diff(edges), streams)


@dataclass(frozen=True)
class Billing:
    """Billed nodes over time and their hourly price, as the request level counts them: the
    cluster's first node type, fixed (and the nodes a person adds: `hand`) or moved by the
    node autoscaler; no nodes and a NaN price without a priced cluster (or with a
    scheduler, whose cell is not billed here)."""

    price_per_hour: float
    fixed: int = 0
    fleet: ElasticFleet | None = None
    hand: HandNodes | None = None

    @classmethod
    def of(cls, scenario: Scenario, fleet: ElasticFleet | None, replicas: list[int]) -> Billing:
        cluster = scenario.cluster
        if cluster is None or scenario.scheduler is not None:
            return cls(math.nan)
        node_type = cluster.node_type_list()[0][1]
        if fleet is not None and fleet.pooled:
            return cls(node_type.price_per_hour, fleet=fleet)
        hand = HandNodes.of(scenario, replicas)
        return cls(node_type.price_per_hour, fixed=node_type.count, hand=hand)

    def node_seconds(self, start: float, end: float) -> float:
        if self.fleet is not None:
            return self.fleet.node_seconds(start, end)
        added = self.hand.node_seconds(start, end) if self.hand is not None else 0.0
        return self.fixed * (end - start) + added

    def nodes_at(self, times: np.ndarray) -> np.ndarray:
        if self.fleet is not None:
            return self.fleet.nodes_at(times)
        fixed = np.full(len(times), self.fixed)
        return fixed + self.hand.added_at(times) if self.hand is not None else fixed


def _summary(
    scenario: Scenario,
    model: Model,
    steps: StationSteps,
    moments: Moments,
    timeline: Timeline,
    entries: dict[str, EntryLatency],
    failures: bool,
    billing: Billing,
) -> dict[str, float]:
    period = scenario.measured_period
    summary: dict[str, float] = {}
    if not model.services:
        return summary
    nan = math.nan
    infos = list(entries.values())
    weight = sum(float(info.weights.sum()) for info in infos)
    completed = sum(_completed(info, timeline, e) for e, info in enumerate(infos))

    def average(values: str) -> float:
        total = sum(info.weights @ np.nan_to_num(getattr(info, values)) for info in infos)
        return float(total / weight) if weight else nan

    summary.update(
        {
            "requests_completed": completed,
            "requests_failed": nan if failures else sum(info.failed for info in infos),
            "throughput_rps": completed / period,
            "wait_mean_s": average("wait_mean"),
            "wait_total_mean_s": _wait_total(model, steps, timeline, infos, weight),
            "p_wait": average("p_wait"),
            "latency_mean_s": average("mean"),
        }
    )
    # Every entry point's rows, as stacked but read a block at a time (a fleet's stacked
    # would be entries × load states × LEVELS: about 155 MiB for 10,000 services over 2 days).
    quantiles = StackedRows([i.quantiles for i in infos])
    weights = np.concatenate([i.row_weights for i in infos]) if infos else np.zeros(0)
    repeats = RepeatedRows.of(quantiles)  # a fleet's copied entry points' rows, found once
    found = mixture_quantiles(quantiles, weights, list(PERCENTILES.values()), repeats=repeats)
    summary.update(dict(zip(PERCENTILES, found, strict=True)))
    failed = sum(info.failed for info in infos)
    summary.update(_failure_kpis(scenario, quantiles, weights, failures, failed, repeats))
    del quantiles, weights, repeats  # the distinct rows' CDFs, before the stations' sums
    summary.update(_station_summary(model, steps, moments, timeline, period))
    node_seconds = billing.node_seconds(scenario.warmup, scenario.horizon)
    summary.update(
        cost_kpis(node_seconds, billing.price_per_hour, period, summary["requests_completed"])
    )
    return summary


def _failure_kpis(
    scenario: Scenario,
    quantiles: np.ndarray | StackedRows,
    weights: np.ndarray,
    failures: bool,
    failed: float = 0.0,
    repeats: RepeatedRows | None = None,
) -> dict[str, float]:
    """Requests fail here only by a client's timeout (`failed` of them, expected); with
    anything else that fails requests (retries, call timeouts, queue limits), NaN."""
    nan = math.nan
    ok = float(weights.sum())
    if failures or ok + failed <= 0:
        kpis = {"availability": nan, **{f"error_rate_{c}": nan for c in FAILURE_CAUSES}}
        if scenario.slo.latency is not None:
            kpis["slo_attainment"] = nan
        return {**kpis, "attempts_mean": nan}
    finished = ok + failed
    kpis = {"availability": ok / finished}
    for cause in FAILURE_CAUSES:
        kpis[f"error_rate_{cause}"] = failed / finished if cause == "timeout" else 0.0
    if scenario.slo.latency is not None:
        at = np.array([scenario.slo.latency])
        within = float(mixture_cdf(quantiles, weights, at, repeats=repeats)[0])
        kpis["slo_attainment"] = within * ok / finished
    kpis["attempts_mean"] = 1.0
    return kpis


def _wait_total(
    model: Model, steps: StationSteps, timeline: Timeline, infos: list[EntryLatency], weight: float
) -> float:
    """Whole-path wait per successful request: in each load state, the stations' visit rates
    × their mean waits, over the entry arrival rate (the expected waits summed over the
    visits of one request, retries included as the flows include them); weighted over the
    states as `wait_mean_s`, by the requests that succeed."""
    if not weight:
        return math.nan
    rate = _visit_rates(model, timeline.state_arrivals)[0]  # the calls' array let go
    sent = timeline.state_arrivals.sum(axis=1)
    succeeded = np.vstack([info.weights for info in infos]).sum(axis=0)
    used = succeeded > 0
    if used.all():  # the same rows, without copying them; the product in place
        wait = steps.wait_mean
        for rows in range(0, len(rate), SUMMARY_ROWS):  # the waits gathered a block at a time
            part = slice(rows, rows + SUMMARY_ROWS)
            np.multiply(rate[part], wait[part], out=rate[part])
        per_request = rate.sum(axis=1) / sent
    else:
        per_request = (rate[used] * steps.wait_mean[used]).sum(axis=1) / sent[used]
    return float(succeeded[used] @ per_request / weight)


def _completed(info: EntryLatency, timeline: Timeline, entry: int) -> float:
    """Requests sent in the measured period, less those still running at the horizon
    (Little's law at the last step: rate × mean latency)."""
    sent = float(info.weights.sum())
    last = timeline.state[-1]
    in_flight = timeline.arrivals[-1, entry] * info.mean[last]
    return float(max(sent - (in_flight if np.isfinite(in_flight) else 0.0), 0.0))


def _visit_rates(model: Model, arrivals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Visits per second to each station, in total and through network calls."""
    if model.monolith:
        total = arrivals.sum(axis=1, keepdims=True)
        return total, np.zeros_like(total)
    return arrivals @ model.visits_per_request, arrivals @ model.called_per_request


def _visit_latency(
    model: Model,
    steps: StationSteps,
    moments: Moments,
    arrivals: np.ndarray,
    stations: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per state and station: visit rate and mean visit latency (arrival at the station to
    its answer; a called visit includes its serialisation work, as a request-level span).
    With `stations`, the latency of those only (the others' columns are NaN): a visit's
    moments are computed over its whole tree, and a fleet has many."""
    total, called = _visit_rates(model, arrivals)
    if model.monolith:
        latency = np.zeros_like(total)
        for e, name in enumerate(model.entries):
            latency[:, 0] += arrivals[:, e] * moments.visit(name)[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            latency = np.where(total > 0, latency / total, 0.0)
        return total, latency
    if stations is not None:
        latency = np.full(total.shape, np.nan)
        for s in stations:
            latency[:, s] = moments.visit(model.services[s])[0]
    else:
        latency = np.column_stack([moments.visit(name)[0] for name in model.services])
    if model.serialisation > 0:  # in place: a fleet's states × stations arrays are large
        wait = steps.wait_mean
        for rows in range(0, len(called), SUMMARY_ROWS):  # `called` × (wait + serialisation)
            part = slice(rows, rows + SUMMARY_ROWS)
            called[part] *= wait[part] + model.serialisation
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(called, total, out=called)
        called[~(total > 0)] = 0.0
        latency += called
    return total, latency


SUMMARY_ROWS = 64
"""Load states a fleet's summary computes a temporary for at once (`_visit_latency`)."""


def _station_summary(
    model: Model, steps: StationSteps, moments: Moments, timeline: Timeline, period: float
) -> dict[str, float]:
    rate, latency = _visit_latency(model, steps, moments, timeline.state_arrivals)
    seconds = timeline.state_dt[:, None]
    # In place, each states × stations product summed and let go before the next (a
    # fleet's are 27 MiB each at 360 load states × 10,000 stations): the same products.
    in_system = np.multiply(rate, latency, out=latency)  # `_visit_latency`'s own arrays
    del rate
    in_system *= seconds
    in_system_sum = float(in_system.sum() / period)
    del in_system, latency
    capacity = float((steps.workers * seconds).sum())
    busy = np.multiply(steps.utilisation.array(), steps.workers)
    busy *= seconds
    busy_sum = float(busy.sum())
    del busy
    return {
        "utilisation": busy_sum / capacity if capacity else math.nan,
        "queue_length_mean": float((steps.queued_mean.array() * seconds).sum() / period),
        "in_system_mean": in_system_sum,
    }


# ----------------------------------------------------------------------------- tables

TABLES = (
    "requests",
    "services",
    "entry_points",
    "spans",
    "timeseries",
    "entry_timeseries",
    "costs",
)
"""The tables `_tables` builds (all at once: they share their sums)."""


def _tables(
    scenario: Scenario,
    model: Model,
    steps: StationSteps,
    moments: Moments,
    timeline: Timeline,
    entries: dict[str, EntryLatency],
    failures: bool,
    billing: Billing,
) -> dict[str, pd.DataFrame]:
    import pandas as pd

    period = scenario.measured_period
    names = [station.name for station in model.stations]
    rate, latency = _visit_latency(model, steps, moments, timeline.state_arrivals)
    seconds = timeline.state_dt[:, None]
    seen = timeline.state_dt > 0
    visits = (rate * seconds).sum(axis=0)
    work_rate = steps.work_rate.array()  # whole arrays made where read (a fleet's are large)
    work = (work_rate * seconds).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = (work_rate * steps.wait_mean.array() * seconds).sum(0)
        wait = np.where(work > 0, wait / work, 0.0)
        visit_latency = np.where(visits > 0, (rate * latency * seconds).sum(0) / visits, np.nan)
    del work_rate
    utilisation, queued = steps.utilisation.array(), steps.queued_mean.array()
    saturated = steps.saturated
    services = frame(
        "services",
        "analytic",
        {
            "service": names,
            "replicas": (steps.replicas * seconds).sum(0) / period,
            "workers": (steps.workers * seconds).sum(0) / period,
            "visits": visits,
            "throughput_rps": visits / period,
            "arrival_rate_mean": visits / period,
            "arrival_rate_max": rate[seen].max(axis=0, initial=0.0),
            "utilisation": (utilisation * seconds).sum(0) / period,
            "utilisation_max": utilisation[seen].max(axis=0, initial=0.0),
            "wait_mean_s": wait,
            "latency_mean_s": visit_latency,
            "queue_length_mean": (queued * seconds).sum(0) / period,
            "in_system_mean": (rate * latency * seconds).sum(0) / period,
            "saturated_s": (saturated * seconds).sum(0),
        },
    )
    m = timeline.measured
    state = timeline.state[m]
    stations = len(names)
    stride = timeseries_stride(len(state), stations)
    bins = _Bins(timeline.starts[m], timeline.dt[m], state, stride)
    count = bins.count
    # a fleet's per-step tables have millions of rows: each column is allocated once and
    # the table takes them without consolidating them into a second copy (`copy=False`)
    timeseries = frame(
        "timeseries",
        "analytic",
        pd.DataFrame(
            {
                "time": np.repeat(bins.starts, stations),
                "service": pd.Categorical.from_codes(
                    np.tile(np.arange(stations, dtype=np.int32), count),
                    categories=pd.Index(names),
                ),
                "workers": bins.most(steps.workers).astype(np.int32).ravel(),
                "replicas": bins.most(steps.replicas).astype(np.int32).ravel(),
                "arrival_rate": bins.mean(rate).ravel(),
                "utilisation": bins.mean(utilisation).ravel(),
                "queued_mean": bins.mean(queued).ravel(),
                "in_system_mean": bins.mean(rate * latency).ravel(),
                "latency_mean_s": bins.mean(latency).ravel(),
                "saturated": bins.most(saturated).ravel(),
            },
            copy=False,
        ),
    )
    level_index = {k: int(np.searchsorted(LEVELS, p)) for k, p in PERCENTILES.items()}
    point_rows: list[dict[str, str | float]] = []
    stride = timeseries_stride(len(state), len(entries))
    by_step = _Bins(timeline.starts[m], timeline.dt[m], np.arange(len(state)), stride)
    columns = {
        key: np.empty((len(entries), by_step.count))
        for key in ("arrival_rate", "latency_mean_s", *level_index)
    }  # an entry point's rows are its row of each column (filled in place, no concatenation)
    for e, (name, info) in enumerate(entries.items()):
        rows = info.rows[state]
        columns["arrival_rate"][e] = by_step.mean(timeline.arrivals[m, e][:, None])[:, 0]
        columns["latency_mean_s"][e] = by_step.mean(info.mean[state][:, None])[:, 0]
        for k, j in level_index.items():
            columns[k][e] = by_step.most(info.quantiles[rows, j][:, None])[:, 0]
        point_rows.append(_entry_point_row(scenario, name, info, timeline, e, failures))
    entry_timeseries = pd.DataFrame()
    if entries:  # one table at once: no frame per entry point to concatenate
        codes = np.repeat(np.arange(len(entries), dtype=np.int32), by_step.count)
        entry_timeseries = frame(
            "entry_timeseries",
            "analytic",
            pd.DataFrame(
                {
                    "time": np.tile(by_step.starts, len(entries)),
                    "entry_point": pd.Categorical.from_codes(
                        codes, categories=pd.Index(list(model.entries))
                    ),
                    **{key: values.ravel() for key, values in columns.items()},
                },
                copy=False,
            ),
        )
    entry_points = pd.DataFrame(point_rows)
    if point_rows:
        entry_points = entry_points.set_index("entry_point")
    return {
        "requests": requests_table(RequestLog().columns(), list(scenario.services), 0.0),
        "services": services,
        "entry_points": entry_points,
        "spans": spans_table(SpanLog().columns(), names, 0.0),
        "timeseries": timeseries,
        "entry_timeseries": entry_timeseries,
        "costs": costs_table(
            list(zip(timeline.starts[m], billing.nodes_at(timeline.starts[m]), strict=True)),
            billing.price_per_hour,
        ),
    }


def timeseries_stride(steps: int, columns: int) -> int:
    """Measured steps merged into one row of a per-step table with `columns` rows per step
    (services or entry points): 1 while steps × columns ≤ MAX_TIMESERIES_CELLS."""
    if steps * columns <= MAX_TIMESERIES_CELLS:
        return 1
    return math.ceil(steps * columns / MAX_TIMESERIES_CELLS)


class _Bins:
    """Consecutive measured steps merged `stride` at a time, for the per-step tables.

    `values` are per state (rows: `state` maps each measured step to one); a bin's value is
    the time-weighted mean (`mean`) or the largest (`most`) of its steps'. With stride 1 a
    bin is a step and the values are the steps' own, exactly. Merged bins are computed per
    state, not per step: a bin's mean is Σ_states (its seconds in the state) × value / its
    seconds, one small matrix product (bins × states) whatever the horizon (summed by
    state, not step by step: the same number to about 1e-15 relative, see
    tests/analytic/test_speed.py); a bin's largest value is looked up only for columns
    that differ between states (fixed replicas and workers, no saturation: none). Where
    states are more than half the steps (entry points' per-step values, an autoscaled run),
    bins are reduced a chunk of steps at a time (CHUNK_CELLS), so scratch memory does not
    grow with the horizon."""

    def __init__(self, starts: np.ndarray, dt: np.ndarray, state: np.ndarray, stride: int):
        self.stride, self.dt, self.state = stride, dt, state
        self.first = np.arange(0, len(state), stride)
        self.starts = starts[self.first]
        self.count = len(self.first)
        self._seconds: np.ndarray | None = None

    def mean(self, values: np.ndarray) -> np.ndarray:
        if self.stride == 1:
            return values[self.state]
        if self.count * len(values) > CHUNK_CELLS or 2 * len(values) > len(self.state):
            return self._reduce(values, np.add, weighted=True)
        return (self._time_in_states(len(values)) @ values) / self._bin_seconds()[:, None]

    def most(self, values: np.ndarray) -> np.ndarray:
        if self.stride == 1:
            return values[self.state]
        out = np.empty((self.count, values.shape[1]), dtype=values.dtype)
        varies = np.flatnonzero((values != values[:1]).any(axis=0) if len(values) else [])
        fixed = np.setdiff1d(np.arange(values.shape[1]), varies)
        out[:, fixed] = values[0, fixed] if len(values) else 0
        if len(varies):
            out[:, varies] = self._reduce(values[:, varies], np.maximum, weighted=False)
        return out

    def _bin_seconds(self) -> np.ndarray:
        if self._seconds is None:
            self._seconds = np.add.reduceat(self.dt, self.first) if self.count else self.dt[:0]
        return self._seconds

    def _time_in_states(self, states: int) -> np.ndarray:
        """bins × states: seconds each bin spends in each state."""
        bins = np.arange(len(self.state)) // self.stride
        cells = np.bincount(bins * states + self.state, self.dt, self.count * states)
        return cells.reshape(self.count, states)

    def _reduce(self, values: np.ndarray, ufunc: np.ufunc, weighted: bool) -> np.ndarray:
        out = np.empty((self.count, values.shape[1]), dtype=float if weighted else values.dtype)
        per_chunk = max(1, CHUNK_CELLS // max(values.shape[1] * self.stride, 1))
        for lo in range(0, self.count, per_chunk):
            hi = min(lo + per_chunk, self.count)
            begin = int(self.first[lo])
            end = int(self.first[hi]) if hi < self.count else len(self.state)
            block = values[self.state[begin:end]]
            offsets = self.first[lo:hi] - begin
            if weighted:
                dt = self.dt[begin:end]
                block = block * dt[:, None]
                seconds = np.add.reduceat(dt, offsets)
                out[lo:hi] = np.add.reduceat(block, offsets, axis=0) / seconds[:, None]
            else:
                out[lo:hi] = ufunc.reduceat(block, offsets, axis=0)
        return out


def _entry_point_row(
    scenario: Scenario,
    name: str,
    info: EntryLatency,
    timeline: Timeline,
    entry: int,
    failures: bool,
) -> dict[str, str | float]:
    weights = info.weights
    total = float(weights.sum())
    nan = math.nan
    completed = _completed(info, timeline, entry)
    row_weights = info.row_weights
    found = mixture_quantiles(info.quantiles, row_weights, list(PERCENTILES.values()))

    def average(values: np.ndarray) -> float:
        return float(weights @ np.nan_to_num(values) / total) if total else nan

    first_wait = not np.all(np.isnan(info.wait_mean))  # no work step at the top: NaN
    return {
        "entry_point": name,
        "requests_completed": completed,
        "requests_failed": nan if failures else info.failed,
        "throughput_rps": completed / scenario.measured_period,
        "wait_mean_s": average(info.wait_mean) if first_wait else nan,
        "p_wait": average(info.p_wait) if first_wait else nan,
        "latency_mean_s": average(info.mean),
        **dict(zip(PERCENTILES, found, strict=True)),
        **_failure_kpis(scenario, info.quantiles, row_weights, failures, info.failed),
    }


def _saturation_events(
    model: Model, steps: StationSteps, timeline: Timeline
) -> list[tuple[float, str, str, str]]:
    """One event when a station becomes saturated and one when it recovers."""
    events: list[tuple[float, str, str, str]] = []
    ever = np.flatnonzero(steps.saturated.any(axis=0))  # only these: steps × all is large
    if not ever.size:
        return events
    saturated = steps.saturated[:, ever][timeline.state]
    padded = np.vstack([np.zeros((1, saturated.shape[1]), bool), saturated])
    for t, column in np.argwhere(padded[1:] != padded[:-1]):
        s, u = int(ever[column]), timeline.state[t]
        name = model.stations[s].name
        if saturated[t, column]:
            load = steps.offered[u, s] / steps.workers[u, s]
            detail = (
                f"offered load {load:.0%} of {int(steps.workers[u, s])} workers; the queue "
                f"beyond {RHO_CAP:.0%} utilisation is carried as a fluid backlog"
            )
            events.append((float(timeline.starts[t]), f"service/{name}", "saturated", detail))
        else:
            events.append((float(timeline.starts[t]), f"service/{name}", "recovered", ""))
    return events
