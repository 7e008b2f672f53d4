"""`run_analytic`: a whole scenario by queueing approximations, step by step, in seconds.

The pipeline, one direction as everywhere else:

    scenario ─► flows (stations, latency trees, visits per request; once)
             ─► arrival rates per entry and time step (the traffic profiles' exact means)
             ─► stations per step (Erlang C / Allen–Cunneen, fluid backlog; an optional
                autoscaler sets replicas step by step)
             ─► latency moments per step, latency distributions at representative steps
             ─► Result: the request-level KPI names, per-service and per-step tables

There are no individual requests in this mode: the `requests` and `spans` tables are empty
(with the request-level columns) and counts are expectations, not integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine.recorder import RequestLog, SpanLog
from ..metrics.requests import FAILURE_CAUSES, requests_table, spans_table
from ..model.profiles import ConstantRate, RateFunction, rate_function
from ..results import Result
from ..scenario.calls import Call, Parallel
from ..scenario.schema import Scenario
from ..scenario.units import format_duration
from .flows import Fanout, Model, Node, Repeat, SharedWait, compile_model, contains_fanout
from .latency import (
    LEVELS,
    Moments,
    lattice_distribution,
    mixture_cdf,
    mixture_quantiles,
    quantile_function,
)
from .stations import RHO_CAP, Autoscaler, StationSteps, simulate_stations

DEFAULT_STEPS = 1000
"""Without a time step in the scenario, the horizon is cut into this many steps..."""

MAX_DEFAULT_STEP = 900.0
"""...but no step is longer than 15 minutes (so a diurnal cycle has at least 96 steps)."""

REPRESENTATIVE_STEPS = 16
"""Steps per entry point at which the full latency distribution is computed."""

MAX_BREAKPOINTS = 10_000
"""At most this many profile breakpoints (steps, spike knots, replay rows) become step edges."""

PERCENTILES = {
    "latency_p50_s": 0.5,
    "latency_p95_s": 0.95,
    "latency_p99_s": 0.99,
    "latency_p999_s": 0.999,
}


# ----------------------------------------------------------------------------- settings


def time_step(scenario: Scenario) -> float:
    """The scenario's `analytic.time_step`, else horizon / DEFAULT_STEPS up to 15 minutes."""
    settings = getattr(scenario, "analytic", None)
    step = getattr(settings, "time_step", None)
    if step:
        return float(step)
    return min(scenario.horizon / DEFAULT_STEPS, MAX_DEFAULT_STEP)


def representative_steps(scenario: Scenario) -> int:
    settings = getattr(scenario, "analytic", None)
    return int(getattr(settings, "representative_steps", None) or REPRESENTATIVE_STEPS)


def rate_functions(scenario: Scenario) -> dict[str, RateFunction]:
    """The arrival rate over time of each entry point (constant without a profile)."""
    functions = {}
    for name, traffic in scenario.traffic.items():
        profile = getattr(traffic, "profile", None)
        functions[name] = (
            ConstantRate(traffic.rate) if profile is None else rate_function(profile, traffic.rate)
        )
    return functions


def step_edges(scenario: Scenario, functions: dict[str, RateFunction], step: float) -> np.ndarray:
    """Edges of the time steps: a regular grid, the end of warm-up and the horizon, and the
    profiles' breakpoints (where a rate jumps or changes shape)."""
    horizon = scenario.horizon
    points = [np.arange(0.0, horizon, step), [scenario.warmup, horizon]]
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


# ----------------------------------------------------------------------------- the run


@dataclass
class EntryLatency:
    """One entry point at every measured step: latency moments and quantile functions."""

    mean: np.ndarray
    sd: np.ndarray
    quantiles: np.ndarray  # rows × LEVELS; one row when every step is the same
    rows: np.ndarray  # the quantile row of each measured step
    wait_mean: np.ndarray
    p_wait: np.ndarray


def run_analytic(
    scenario: Scenario,
    seed: int | None = None,
    *,
    autoscaler: Autoscaler | None = None,
) -> Result:
    """Run a scenario with the analytic fidelity; returns the same Result as a request-level
    run, with the same KPI names (see `simulator.metrics.requests.KPI_DESCRIPTIONS`).

    Deterministic: `seed` is recorded but not used (nothing is random here).

    Tables:

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
    * `requests` and `spans`: empty, with the request-level columns: there are no
      individual requests in this mode.

    `autoscaler` (for the autoscaler model to come) sets replicas step by step; see
    `simulator.analytic.stations.Autoscaler`.
    """
    seed = scenario.seed if seed is None else seed
    events: list[tuple[float, str, str, str]] = []
    functions = rate_functions(scenario)
    edges = step_edges(scenario, functions, time_step(scenario))
    dt = np.diff(edges)
    starts = edges[:-1]
    model = compile_model(scenario)
    arrivals = (
        np.column_stack([functions[e].mean_rates(edges) for e in model.entries])
        if (model.entries)
        else np.zeros((len(dt), 0))
    )
    steps = simulate_stations(model, arrivals, dt, autoscaler=autoscaler)
    moments = Moments(model, steps)
    measured = starts >= scenario.warmup - 1e-9 * scenario.horizon
    failures = _failure_mechanisms(scenario)
    events.append(
        (
            0.0,
            "analytic",
            "started",
            f"{len(dt)} steps of {format_duration(float(np.median(dt)))}; "
            f"{len(model.stations)} stations, {len(model.entries)} entry points",
        )
    )
    for what in [*failures, *_ignored(scenario)]:
        events.append((0.0, "analytic", "not_modelled", what))
    shared: dict = {}  # lattice spectra of the fixed pieces, shared by all entry points
    entries = {
        name: _entry_latency(scenario, model, steps, moments, arrivals[:, e], measured, e, shared)
        for e, name in enumerate(model.entries)
    }
    events += _saturation_events(model, steps, starts, dt)
    tables = _tables(scenario, model, steps, moments, arrivals, entries, starts, dt, measured)
    tables["events"] = pd.DataFrame(
        sorted(events, key=lambda row: row[0]), columns=["time", "component", "kind", "detail"]
    )
    summary = _summary(scenario, model, steps, moments, arrivals, entries, dt, measured, failures)
    return Result(scenario=scenario, seed=seed, summary=summary, tables=tables)


# ----------------------------------------------------------------------------- entries


def _entry_latency(
    scenario: Scenario,
    model: Model,
    steps: StationSteps,
    moments: Moments,
    rate: np.ndarray,
    measured: np.ndarray,
    entry: int,
    shared: dict,
) -> EntryLatency:
    """Latency of one entry point at every measured step.

    The full distribution is computed on a lattice at up to REPRESENTATIVE_STEPS steps,
    spread evenly over the ranks of the entry's mean latency; at every step the
    standardised quantile function ((q − mean) / sd) is interpolated between the two
    representatives nearest in mean latency and scaled by that step's mean and standard
    deviation from the moment layer. With a parallel step in the tree, the lattice's mean
    and sd (exact for fan-out, up to the lattice) replace the moment layer's gamma-based
    ones, by the same interpolation of their ratios. Steps whose quantile rows agree to
    1e-9 share one row.
    """
    name = model.entries[entry]
    node = model.visits[name]
    mean_all, variance_all = moments.visit(name)
    mean, sd = mean_all[measured], np.sqrt(np.maximum(variance_all[measured], 0.0))
    indices = np.flatnonzero(measured)
    wait_mean, p_wait = _first_wait(model, steps, moments, name)
    wait_mean, p_wait = wait_mean[measured], p_wait[measured]
    candidates = np.flatnonzero(rate[measured] > 0)
    if not candidates.size:
        empty = np.full((1, LEVELS.size), np.nan)
        return EntryLatency(mean, sd, empty, np.zeros(len(mean), int), wait_mean, p_wait)
    order = candidates[np.argsort(mean[candidates], kind="stable")]
    count = representative_steps(scenario)
    picks = np.unique(np.round(np.linspace(0, len(order) - 1, count)).astype(int))
    reps = order[picks]
    reps = reps[np.concatenate([[True], np.diff(mean[reps]) > 1e-12 * mean[reps][-1]])]
    shapes, ratios = [], []
    for r in reps:
        points, masses = lattice_distribution(
            model, steps, int(indices[r]), node, float(mean[r]), float(sd[r]), shared
        )
        q = quantile_function(points, masses)
        mean_num = float(points @ masses)
        sd_num = float(np.sqrt(max(((points - mean_num) ** 2) @ masses, 0.0)))
        shapes.append((q - mean_num) / sd_num if sd_num > 0 else np.zeros_like(q))
        ratios.append(
            (mean_num / mean[r] if mean[r] > 0 else 1.0, sd_num / sd[r] if sd[r] > 0 else 1.0)
        )
    shape_rows, ratio_rows = np.array(shapes), np.array(ratios)
    if len(reps) == 1:
        position = np.zeros(len(mean))
    else:
        position = np.interp(mean, mean[reps], np.arange(len(reps)))
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, len(reps) - 1)
    weight = position - low
    z = shape_rows[low] * (1 - weight[:, None]) + shape_rows[high] * weight[:, None]
    if contains_fanout(node, model.visits):
        ratio = ratio_rows[low] * (1 - weight[:, None]) + ratio_rows[high] * weight[:, None]
        mean, sd = mean * ratio[:, 0], sd * ratio[:, 1]
    quantiles = np.maximum(mean[:, None] + sd[:, None] * z, 0.0)
    top = float(np.abs(quantiles).max()) or 1.0
    keys = np.round(quantiles / top * 1e9).astype(np.int64)
    _, first, rows = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return EntryLatency(mean, sd, quantiles[first], rows.ravel(), wait_mean, p_wait)


def _first_wait(model: Model, steps: StationSteps, moments: Moments, entry: str):  # type: ignore[no-untyped-def]
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
    p_wait = 1.0 - nothing_before * (1.0 - steps.p_wait[:, station])
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


def _failure_mechanisms(scenario: Scenario) -> list[str]:
    """What can fail a request in the request-level model; none of it is modelled here."""
    found = []
    timeouts = [f"traffic.{n}" for n, t in scenario.traffic.items() if t.timeout is not None]
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
            "timeouts (and the retries, budgets and circuit breakers they trigger) are not "
            f"modelled: {', '.join(dict.fromkeys(timeouts))}; failure KPIs are NaN"
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
        for section in ("cluster", "workloads", "scheduler")
        if getattr(scenario, section, None) is not None
    ]
    return ignored


def _summary(scenario, model, steps, moments, arrivals, entries, dt, measured, failures):  # type: ignore[no-untyped-def]
    period = scenario.measured_period
    summary: dict[str, float] = {}
    if not model.services:
        return summary
    blocks, totals = [], {"completed": 0.0, "weight": 0.0, "wait": 0.0, "p_wait": 0.0,
                          "latency": 0.0}  # fmt: skip
    for e, name in enumerate(model.entries):
        info = entries[name]
        weights = arrivals[measured, e] * dt[measured]
        totals["completed"] += _completed(info, arrivals[:, e], weights)
        totals["weight"] += weights.sum()
        totals["wait"] += weights @ np.nan_to_num(info.wait_mean, nan=0.0)
        totals["p_wait"] += weights @ np.nan_to_num(info.p_wait, nan=0.0)
        totals["latency"] += weights @ info.mean
        blocks.append((info.quantiles, np.bincount(info.rows, weights, len(info.quantiles))))
    weight = totals["weight"]
    nan = math.nan
    completed = totals["completed"]
    failed = nan if failures else 0.0
    summary.update(
        {
            "requests_completed": completed,
            "requests_failed": failed,
            "throughput_rps": completed / period,
            "wait_mean_s": totals["wait"] / weight if weight else nan,
            "p_wait": totals["p_wait"] / weight if weight else nan,
            "latency_mean_s": totals["latency"] / weight if weight else nan,
        }
    )
    quantiles = np.vstack([q for q, _ in blocks]) if blocks else np.zeros((0, LEVELS.size))
    weights = np.concatenate([w for _, w in blocks]) if blocks else np.zeros(0)
    found = mixture_quantiles(quantiles, weights, list(PERCENTILES.values()))
    summary.update(dict(zip(PERCENTILES, found, strict=True)))
    summary["availability"] = nan if failures else (1.0 if weight else nan)
    for cause in FAILURE_CAUSES:
        summary[f"error_rate_{cause}"] = nan if failures else (0.0 if weight else nan)
    if scenario.slo.latency is not None:
        within = nan
        if not failures and weights.sum() > 0:
            within = float(mixture_cdf(quantiles, weights, np.array([scenario.slo.latency]))[0])
        summary["slo_attainment"] = within
    summary["attempts_mean"] = nan if failures else (1.0 if weight else nan)
    summary.update(_station_summary(model, steps, moments, arrivals, dt, measured, period))
    return summary


def _completed(info: EntryLatency, rate: np.ndarray, weights: np.ndarray) -> float:
    """Requests sent in the measured period, less those still running at the horizon
    (Little's law at the last step: rate × mean latency)."""
    if not len(weights):
        return 0.0
    in_flight = rate[-1] * info.mean[-1] if np.isfinite(info.mean[-1]) else 0.0
    return float(max(weights.sum() - in_flight, 0.0))


def _visit_rates(model: Model, arrivals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Visits per second to each station, in total and through network calls."""
    if model.monolith:
        total = arrivals.sum(axis=1, keepdims=True)
        return total, np.zeros_like(total)
    return arrivals @ model.visits_per_request, arrivals @ model.called_per_request


def _visit_latency(model: Model, steps: StationSteps, moments: Moments, arrivals: np.ndarray):  # type: ignore[no-untyped-def]
    """Per step and station: visit rate and mean visit latency (arrival at the station to its
    answer; a called visit includes its serialisation work, as a request-level span does)."""
    total, called = _visit_rates(model, arrivals)
    if model.monolith:
        latency = np.zeros_like(total)
        for e, name in enumerate(model.entries):
            latency[:, 0] += arrivals[:, e] * moments.visit(name)[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            latency = np.where(total > 0, latency / total, 0.0)
        return total, latency
    latency = np.column_stack([moments.visit(name)[0] for name in model.services])
    serialisation = model.serialisation
    if serialisation > 0:
        extra = steps.wait_mean + serialisation
        with np.errstate(divide="ignore", invalid="ignore"):
            latency = latency + np.where(total > 0, called * extra / total, 0.0)
    return total, latency


def _station_summary(model, steps, moments, arrivals, dt, measured, period):  # type: ignore[no-untyped-def]
    rate, latency = _visit_latency(model, steps, moments, arrivals)
    weights = dt[measured][:, None]
    busy = (steps.utilisation * steps.workers)[measured]
    capacity = (steps.workers[measured] * weights).sum()
    return {
        "utilisation": float((busy * weights).sum() / capacity) if capacity else math.nan,
        "queue_length_mean": float((steps.queued_mean[measured] * weights).sum() / period),
        "in_system_mean": float(((rate * latency)[measured] * weights).sum() / period),
    }


# ----------------------------------------------------------------------------- tables


def _tables(scenario, model, steps, moments, arrivals, entries, starts, dt, measured):  # type: ignore[no-untyped-def]
    period = scenario.measured_period
    names = [station.name for station in model.stations]
    rate, latency = _visit_latency(model, steps, moments, arrivals)
    m = measured
    w = dt[m][:, None]
    visits = (rate[m] * w).sum(axis=0)
    work = (steps.work_rate[m] * w).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(work > 0, (steps.work_rate[m] * steps.wait_mean[m] * w).sum(0) / work, 0.0)
        visit_latency = np.where(visits > 0, (rate[m] * latency[m] * w).sum(0) / visits, np.nan)
    saturated = steps.saturated[m]
    services = pd.DataFrame(
        {
            "service": names,
            "replicas": (steps.replicas[m] * w).sum(0) / period,
            "workers": (steps.workers[m] * w).sum(0) / period,
            "visits": visits,
            "throughput_rps": visits / period,
            "arrival_rate_mean": visits / period,
            "arrival_rate_max": rate[m].max(axis=0, initial=0.0),
            "utilisation": (steps.utilisation[m] * w).sum(0) / period,
            "utilisation_max": steps.utilisation[m].max(axis=0, initial=0.0),
            "wait_mean_s": wait,
            "latency_mean_s": visit_latency,
            "queue_length_mean": (steps.queued_mean[m] * w).sum(0) / period,
            "in_system_mean": (rate[m] * latency[m] * w).sum(0) / period,
            "saturated_s": (saturated * w).sum(0),
        }
    ).set_index("service")
    count, stations = rate[m].shape
    timeseries = pd.DataFrame(
        {
            "time": np.repeat(starts[m], stations),
            "service": pd.Categorical.from_codes(
                np.tile(np.arange(stations, dtype=np.int32), count), categories=names
            ),
            "workers": steps.workers[m].astype(np.int32).ravel(),
            "arrival_rate": rate[m].ravel(),
            "utilisation": steps.utilisation[m].ravel(),
            "queued_mean": steps.queued_mean[m].ravel(),
            "in_system_mean": (rate[m] * latency[m]).ravel(),
            "latency_mean_s": latency[m].ravel(),
            "saturated": saturated.ravel(),
        }
    )
    entry_rows, point_rows = [], []
    level_index = {k: int(np.searchsorted(LEVELS, p)) for k, p in PERCENTILES.items()}
    for e, name in enumerate(model.entries):
        info = entries[name]
        quantiles = info.quantiles[info.rows]
        entry_rows.append(
            pd.DataFrame(
                {
                    "time": starts[m],
                    "entry_point": name,
                    "arrival_rate": arrivals[m, e],
                    "latency_mean_s": info.mean,
                    **{k: quantiles[:, j] for k, j in level_index.items()},
                }
            )
        )
        point_rows.append(_entry_point_row(scenario, name, info, arrivals[:, e], dt, m))
    entry_timeseries = pd.concat(entry_rows, ignore_index=True) if entry_rows else pd.DataFrame()
    if not entry_timeseries.empty:
        entry_timeseries["entry_point"] = pd.Categorical(
            entry_timeseries["entry_point"], categories=list(model.entries)
        )
    entry_points = pd.DataFrame(point_rows)
    if point_rows:
        entry_points = entry_points.set_index("entry_point")
    services_names = list(scenario.services)
    return {
        "requests": requests_table(RequestLog().columns(), services_names, scenario.warmup),
        "services": services,
        "entry_points": entry_points,
        "spans": spans_table(SpanLog().columns(), names, scenario.warmup),
        "timeseries": timeseries,
        "entry_timeseries": entry_timeseries,
    }


def _entry_point_row(scenario, name, info, rate, dt, measured):  # type: ignore[no-untyped-def]
    failures = bool(_failure_mechanisms(scenario))
    weights = rate[measured] * dt[measured]
    total = weights.sum()
    nan = math.nan
    completed = _completed(info, rate, weights)
    row_weights = np.bincount(info.rows, weights, len(info.quantiles))
    found = mixture_quantiles(info.quantiles, row_weights, list(PERCENTILES.values()))
    row = {
        "entry_point": name,
        "requests_completed": completed,
        "requests_failed": nan if failures else 0.0,
        "throughput_rps": completed / scenario.measured_period,
        "wait_mean_s": float(weights @ info.wait_mean / total) if total else nan,
        "p_wait": float(weights @ info.p_wait / total) if total else nan,
        "latency_mean_s": float(weights @ info.mean / total) if total else nan,
        **dict(zip(PERCENTILES, found, strict=True)),
        "availability": nan if failures else 1.0,
        **{f"error_rate_{c}": nan if failures else 0.0 for c in FAILURE_CAUSES},
    }
    if scenario.slo.latency is not None:
        row["slo_attainment"] = (
            nan
            if failures or not total
            else float(
                mixture_cdf(info.quantiles, row_weights, np.array([scenario.slo.latency]))[0]
            )
        )
    row["attempts_mean"] = nan if failures else 1.0
    return row


def _saturation_events(model: Model, steps: StationSteps, starts: np.ndarray, dt: np.ndarray):  # type: ignore[no-untyped-def]
    """One event when a station becomes saturated and one when it recovers."""
    events = []
    saturated = steps.saturated
    if not saturated.any():
        return events
    padded = np.vstack([np.zeros((1, saturated.shape[1]), bool), saturated])
    changes = np.argwhere(padded[1:] != padded[:-1])
    for t, s in changes:
        name = model.stations[s].name
        if saturated[t, s]:
            peak = steps.offered[t, s] / steps.workers[t, s]
            detail = (
                f"offered load {peak:.0%} of {int(steps.workers[t, s])} workers; the queue "
                f"beyond {RHO_CAP:.0%} utilisation is carried as a fluid backlog"
            )
            events.append((float(starts[t]), f"service/{name}", "saturated", detail))
        else:
            events.append((float(starts[t]), f"service/{name}", "recovered", "backlog cleared"))
    return events
