"""What a run will take, estimated before it starts, and a clear refusal above the limits.

The estimate reads only the scenario: external requests are the integral of each entry
point's rate profile over the horizon; visits follow the call graph (`expected_visits`,
without retries); the analytic fidelity's work is its distinct load states × services
(steps with the same arrival rates are computed once; with autoscaling every step is a
state); samples are horizon / sample interval × services. Memory uses per-item costs
measured on this code (docs/reliability.md, docs/analytic.md): about 80 B per request plus
170 B per visit at request level; at the analytic fidelity 150 B per load state and
service, 100 B per kept row of its per-step tables (steps × services, at most about
`MAX_TIMESERIES_CELLS` of them: longer runs merge steps), 60 B per step and entry point
60 kB per service (the scenario, the compiled flows) and 2 MB per run; 100 B per sample and service.
Tables switched off (`metrics.record.spans` / `.requests`) cost nothing per visit or per
request; a memory refusal driven by them names those switches. The refusal names the knob
that drives the estimate, the estimate and the limit, and how to raise the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import BudgetError, ScenarioError
from .experiments.fleet import served_world
from .scenario.limits import Limits, human_bytes
from .scenario.schema import Scenario

BYTES_PER_REQUEST = 80.0
BYTES_PER_VISIT = 170.0
BYTES_PER_ANALYTIC_STEP = 60.0
"""Per time step and entry point (the timeline: rates, states, latency per step)."""
BYTES_PER_ANALYTIC_CELL = 150.0
"""Per load state and service (the stations' arrays, latency moments)."""
BYTES_PER_ANALYTIC_ROW = 100.0
"""Per kept row of the per-step tables (timeseries, entry_timeseries)."""
BYTES_PER_ANALYTIC_SERVICE = 60_000.0
"""Per service (the scenario as loaded, the compiled flows and latency trees)."""
BYTES_PER_ANALYTIC_RUN = 2_000_000.0
"""Whatever the size (latency lattices, the tables' fixed parts)."""
MAX_FOLDED_STEPS = 2_000_000
"""Above this many steps the budget does not fold them (it would take seconds): it counts
every step as a state, the most there can be."""
BYTES_PER_SAMPLE = 100.0
BYTES_PER_WORKER = 100.0
BYTES_PER_REPLICA = 300.0
VISITS_PER_SECOND = 140_000.0
"""Visits simulated per second of wall-clock time on one core (measured), for messages."""


@dataclass(frozen=True)
class Estimate:
    """The work and memory of one run of a scenario, and the knobs that drive them."""

    requests: float = 0.0
    visits: float = 0.0
    analytic_cells: float = 0.0
    samples: float = 0.0
    workers: float = 0.0
    memory: float = 0.0
    drivers: dict[str, str] = field(default_factory=dict)
    """For each quantity, the scenario key that contributes most to it."""

    def describe(self) -> str:
        """One line, for `sresim validate`."""
        parts = []
        if self.visits:
            parts.append(f"about {self.requests:.2g} requests ({self.visits:.2g} visits)")
        if self.analytic_cells:
            parts.append(f"{self.analytic_cells:.2g} analytic load state × service cells")
        if self.memory >= 1e6:
            parts.append(f"~{human_bytes(self.memory)} of memory")
        return ", ".join(parts) or "no requests to simulate"


def estimate(scenario: Scenario) -> Estimate:
    """The work and memory of one run, from rates, horizons, call graphs and settings."""
    from .model.profiles import rate_function
    from .scenario.graph import call_graph, expected_visits

    horizon = scenario.horizon
    services = max(len(scenario.services), 1)
    drivers: dict[str, str] = {}
    replicas = 0.0
    workers = 0.0
    for name, service in scenario.services.items():
        most = service.replicas
        if scenario.autoscaling.enabled:
            most = max(most, service.max_replicas or 10 * service.replicas)
        replicas += most
        workers += most * service.concurrency
        if most * service.concurrency >= workers / 2:
            drivers["workers"] = f"services.{name}.replicas"
    requests = visits = 0.0
    analytic_cells = analytic_steps = 0.0
    analytic_rows = analytic_fixed = 0.0
    if scenario.fidelity == "analytic":
        from .analytic import MAX_TIMESERIES_CELLS

        steps, states = _analytic_states(scenario)
        entries = len(scenario.traffic)
        analytic_steps = steps * max(entries, 1)
        analytic_cells = states * (services + entries)
        analytic_rows = min(steps * services, MAX_TIMESERIES_CELLS) + min(
            steps * entries, MAX_TIMESERIES_CELLS
        )
        analytic_fixed = services * BYTES_PER_ANALYTIC_SERVICE + BYTES_PER_ANALYTIC_RUN
        drivers["analytic_cells"] = (
            "analytic.time_step" if scenario.analytic.time_step else "horizon"
        )
    elif scenario.traffic:
        graph = call_graph(scenario)
        heaviest = 0.0
        for entry, traffic in scenario.traffic.items():
            count = float(rate_function(traffic.profile, traffic.rate).expected_count(0, horizon))
            per_request = sum(expected_visits(graph, entry).values())
            requests += count
            visits += count * per_request
            if count * per_request >= heaviest:
                heaviest = count * per_request
                knob = "rate" if traffic.profile.profile != "replay" else "profile.scale"
                drivers["visits"] = f"horizon or traffic.{entry}.{knob}"
    samples = 0.0
    if scenario.services and scenario.fidelity == "request":
        samples = horizon / scenario.sample_interval * services
        drivers["samples"] = (
            "metrics.sample_interval" if scenario.metrics.sample_interval else "horizon"
        )
    # Tables switched off (metrics.record) keep only the rows in flight: nothing to count.
    record = scenario.metrics.record
    request_bytes = BYTES_PER_REQUEST if record.requests else 0.0
    visit_bytes = BYTES_PER_VISIT if record.spans else 0.0
    memory = (
        requests * request_bytes
        + visits * visit_bytes
        + analytic_memory(analytic_cells, analytic_rows, analytic_steps, analytic_fixed)
        + samples * BYTES_PER_SAMPLE
        + workers * BYTES_PER_WORKER
        + replicas * BYTES_PER_REPLICA
    )
    shares = {
        "visits": visits * visit_bytes + requests * request_bytes,
        "analytic_cells": analytic_memory(
            analytic_cells, analytic_rows, analytic_steps, analytic_fixed
        ),
        "samples": samples * BYTES_PER_SAMPLE,
        "workers": workers * BYTES_PER_WORKER + replicas * BYTES_PER_REPLICA,
    }
    biggest = max(shares, key=lambda key: shares[key])
    drivers["memory"] = drivers.get(biggest, "horizon")
    if biggest == "visits":
        switches = [f"metrics.record.{t}" for t in ("spans", "requests") if getattr(record, t)]
        if switches:
            drivers["memory"] += ", or set " + " or ".join(f"{s}=false" for s in switches)
    return Estimate(requests, visits, analytic_cells, samples, workers, memory, drivers)


def analytic_memory(cells: float, rows: float, step_entries: float, fixed: float) -> float:
    """Bytes of an analytic run: load states × services, kept table rows, steps × entry
    points, and what every service costs whatever the horizon."""
    return (
        cells * BYTES_PER_ANALYTIC_CELL
        + rows * BYTES_PER_ANALYTIC_ROW
        + step_entries * BYTES_PER_ANALYTIC_STEP
        + fixed
    )


def _analytic_states(scenario: Scenario) -> tuple[float, float]:
    """Time steps and distinct load states of an analytic run (simulator.analytic, imported
    lazily); beyond MAX_FOLDED_STEPS steps, every step counted as a state."""
    from .analytic import load_states, time_step

    steps = scenario.horizon / time_step(scenario)
    if steps > MAX_FOLDED_STEPS:
        return steps, steps
    found, states = load_states(scenario)
    return float(found), float(states)


def check_budget(
    scenario: Scenario, limits: Limits | None = None, replications: int = 1
) -> Estimate:
    """The estimate of `replications` runs, or a BudgetError (one line) above `limits`: runs
    of the world the run simulates (`served_world`: every delivery service served)."""
    limits = limits if limits is not None else Limits.from_environment()
    check_replications(replications, limits, scenario.source)
    found = estimate(served_world(scenario, limits))
    runs = f" in {replications:,} replications" if replications > 1 else ""
    how = "or raise it with --limit {name}=N (or SRESIM_LIMITS={name}=N)"
    checks = [
        (
            found.visits * replications,
            limits.max_requests,
            "max_requests",
            f"about {found.visits * replications:.2g} visits to services{runs} "
            f"(~{_duration(found.visits * replications / VISITS_PER_SECOND)} of run time)",
            found.drivers.get("visits", "horizon"),
        ),
        (
            found.analytic_cells * replications,
            limits.max_analytic_steps,
            "max_analytic_steps",
            f"about {found.analytic_cells * replications:.2g} analytic time steps × services"
            + " (steps with the same rates counted once)"
            + runs,
            found.drivers.get("analytic_cells", "horizon"),
        ),
        (
            found.samples,
            limits.max_samples,
            "max_samples",
            f"about {found.samples:.2g} timeseries samples × services",
            found.drivers.get("samples", "horizon"),
        ),
        (
            found.memory,
            limits.max_memory,
            "max_memory",
            f"~{human_bytes(found.memory)} of memory for one run",
            found.drivers.get("memory", "horizon"),
        ),
    ]
    for value, limit, name, what, knob in checks:
        if value > limit or not math.isfinite(value):
            shown = human_bytes(limit) if name == "max_memory" else f"{limit:.2g}"
            raise BudgetError(
                scenario.source,
                knob.split(" ")[0],
                f"{what}; the limit is {shown} ({name}); lower {knob}, " + how.format(name=name),
            )
    return found


def check_replications(replications: object, limits: Limits, source: str = "<arguments>") -> int:
    """A count of replications, as a whole number from 1 to `limits.max_replications`."""
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise ScenarioError(
            source, "replications", f"expected a whole number of at least 1, got {replications!r}"
        )
    if replications > limits.max_replications:
        raise BudgetError(
            source,
            "replications",
            f"{replications:.3g} replications; the limit is {limits.max_replications:,} "
            "(max_replications); run fewer, or raise it with --limit max_replications=N",
        )
    return replications


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365 * 86400.0), ("days", 86400.0), ("h", 3600.0)):
        if seconds >= 2 * size:
            return f"{seconds / size:,.0f} {unit}"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
