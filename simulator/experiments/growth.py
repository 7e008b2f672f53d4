"""The growth experiment: one era's organisation running 1 to 1,000 services.

Two sweeps, one row per era and number of services N:

- `one_world_growth`: the era runs N services that serve requests (`fleet.fleet_scenario`:
  the preset's workload copied until N services, its infrastructure scaled to them), at
  the analytic fidelity; its deploys act on them, bad versions fail requests, monitoring
  or customers open incidents from what the requests saw. The serving columns
  (availability, requests failed by bad deploys, pages, incident hours, the bill for the
  nodes) are measured at every size.
- `growth_sweep`: the delivery model alone (no request traffic; `DELIVERY_ONLY`), faster,
  for the organisation's queues only; its serving columns are not measured.

Both record the DORA keys, operator load and cost beside the arithmetic expectation of the
operators' utilisation (`simulator.model.delivery.capacity`). Where that reaches 1 the
ticket queue is unstable: work arrives faster than the team can do it, and lead times grow
with the horizon.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..model.delivery.capacity import operator_load
from ..model.discovery.common import delivery_service
from ..runner import run_task
from ..scenario.loader import load_scenario
from ..scenario.schema import Scenario
from ..scenario.units import DAY
from .executor import Execution, RunOutcome, RunTask, execute
from .fleet import fleet_scenario

DELIVERY_ONLY = {
    "fidelity": "request",
    "services": {},
    "traffic": {},
    "deployment": "microservices",
}
"""Overrides that leave only the delivery model in a run: no request workload, so nothing the
organisation deploys serves requests and the serving columns are not measured
(`one_world_growth` serves them)."""

KPIS = (
    "lead_time_median_s",
    "lead_time_p90_s",
    "deploys_per_service_per_day",
    "change_failure_rate",
    "mttr_median_s",
    "operator_hours_per_week",
    "operator_utilisation",
    "operator_backlog",
    "ci_utilisation",
    "changes_undeployed",
    "changes_committed",
    "cost_per_service_per_week_usd",
    "pages_per_shift",
    "dora_rank",
)


def service_counts(points: int, most: int = 1000) -> list[int]:
    """`points` numbers of services from 1 to `most`, evenly spaced on a log scale."""
    values = np.unique(np.round(np.geomspace(1, most, max(points, 2))).astype(int))
    return [int(v) for v in values]


def _staffing(base: Scenario, scenario: Scenario, summary: dict[str, float]) -> dict[str, float]:
    """The arithmetic beside a run: expected utilisation of the operators and the runners at
    this size, the era's break points, and the team the run staffed."""
    load = operator_load(scenario)
    return {
        "utilisation_expected": load.utilisation,
        "ci_utilisation_expected": load.ci_utilisation,
        "break_services": operator_load(base).break_services,
        "ci_break_services": operator_load(base).ci_break_services,
        "operators": team(scenario, summary),
    }


def growth_sweep(
    eras: Iterable[str | Path],
    services: Sequence[int],
    horizon: str = "6w",
    warmup: str = "1w",
    seed: int = 1,
    jobs: int = 1,
) -> pd.DataFrame:
    """One row per era and number of services: simulated KPIs, the expected utilisation
    and the era's break point (services at which the expected utilisation reaches 1).
    The runs go through the experiment engine (`jobs` local workers)."""
    points = []
    for path in eras:
        base = load_scenario(path, {**DELIVERY_ONLY, "horizon": horizon, "warmup": warmup})
        for n in services:
            points.append((base, int(n), load_scenario(base, {"delivery.services": int(n)})))
    _, outcomes = _largest_first(points, seed, jobs)
    rows = []
    for (base, n, scenario), outcome in zip(points, outcomes, strict=True):
        row = {"era": base.name, "services": n}
        row.update({k: outcome.summary.get(k, np.nan) for k in KPIS})
        row.update(_staffing(base, scenario, outcome.summary))
        rows.append(row)
    return pd.DataFrame(rows)


ONE_WORLD_KPIS = (
    "availability",
    "error_rate_defect",
    "error_rate_timeout",
    "slo_attainment",
    "uptime",
    "pages_per_week",
    "night_pages_per_week",
    "incident_hours_per_week",
    "on_call_hours_per_week",
    "project_share",
    "incidents",
    "nodes_mean",
    "latency_p99_s",
    "throughput_rps",
)
"""What the one-world sweep adds to KPIS: measured on the requests the N services served."""

ONE_WORLD_HORIZON = "3w"
"""The one-world sweep's default horizon: a week of warm-up and two measured weeks, the first
with the front-page spike (with one, the sysadmin's weekly releases leave no lead time to
measure); a thousand services served for six weeks take minutes per era."""


def team(scenario: Scenario, summary: dict[str, float]) -> int:
    """The operators the run staffed: services over the measured services per operator (a
    team that grows with the fleet), or the preset's `organisation.operators`."""
    per = summary.get("services_per_operator", np.nan)
    services = scenario.delivery.services if scenario.delivery is not None else 0
    if services and per == per and per > 0:
        return round(services / per)
    return scenario.organisation.operators


def services_served(scenario: Scenario) -> int:
    """How many of the organisation's delivery services run in the request workload."""
    if scenario.delivery is None:
        return 0
    return len({delivery_service(scenario, name) for name in scenario.services})


def one_world_growth(
    eras: Iterable[str | Path],
    services: Sequence[int],
    horizon: str = ONE_WORLD_HORIZON,
    warmup: str = "1w",
    seed: int = 1,
    jobs: int = 1,
    overrides: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per era and number of services N, each era running N served services
    (`fleet.fleet_scenario`): the columns of `growth_sweep` (the cost per service now the
    measured bill), those of ONE_WORLD_KPIS, `services_served` and the bill per week
    (`serving_per_week_usd`: the nodes the requests ran on; `infrastructure_per_week_usd`:
    those plus CI runners, previews and blue-green copies; `people_per_week_usd`;
    `cost_per_week_usd`). `overrides` apply to every preset before its fleet is built
    (e.g. a defect probability). The runs go through the experiment engine (`jobs`
    workers); `attrs["seconds"]` is the sweep's wall-clock time, `attrs["run_seconds"]` the
    runs' own, summed, and `attrs["seconds_each"]` each run's, in the rows' order."""
    window = {**dict(overrides or {}), "horizon": horizon, "warmup": warmup}
    points = []
    for path in eras:
        base = load_scenario(path, window)
        for n in services:
            points.append((base, int(n), fleet_scenario(path, int(n), window)))
    execution, outcomes = _largest_first(points, seed, jobs)
    rows = []
    for (base, n, scenario), outcome in zip(points, outcomes, strict=True):
        summary = outcome.summary
        weeks = scenario.measured_period / (7 * DAY)
        row: dict[str, object] = {"era": base.name, "services": n}
        row["services_served"] = services_served(scenario)
        row.update({k: summary.get(k, np.nan) for k in (*KPIS, *ONE_WORLD_KPIS)})
        serving = summary.get("cost_usd", 0.0) / weeks
        tooling = summary.get("cost_tooling_usd", 0.0) / weeks
        people = summary.get("cost_people_usd", 0.0) / weeks
        row["serving_per_week_usd"] = serving
        row["infrastructure_per_week_usd"] = serving + tooling
        row["people_per_week_usd"] = people
        row["cost_per_week_usd"] = serving + tooling + people
        row["cost_per_service_per_week_usd"] = (serving + tooling + people) / n
        row.update(_staffing(base, scenario, outcome.summary))
        rows.append(row)
    sweep = pd.DataFrame(rows)
    sweep.attrs["seconds"] = execution.seconds  # wall clock, not part of the table's values
    sweep.attrs["run_seconds"] = execution.run_seconds
    sweep.attrs["seconds_each"] = [outcome.seconds for outcome in outcomes]
    return sweep


TICKS_PER_SERVICE = 150.0
"""About how many `clock_ticks` cost a run as much as one more service (the era presets on
this machine: a thousand sysadmin services, no ticks, about 10 s of a run; one SRE service,
90,720 ticks over three weeks, about 6.5 s). Only the order of the runs depends on it."""


def largest_first(services: Sequence[int], ticks: Sequence[float] | None = None) -> list[int]:
    """The order to hand the runs to the workers: the heaviest first (services plus
    `ticks` / TICKS_PER_SERVICE; ties in the given order), so that no worker starts a
    thousand-service run when the others are nearly done and the sweep waits for it alone.
    By size alone the three eras' thousand-service runs went out sysadmin first and the
    SRE's (three times the sysadmin's) third, after the sysadmin's; and an SRE run of one
    service, its one-minute clocks for three weeks, costs more than a sysadmin's hundred."""
    clock = ticks if ticks is not None else [0.0] * len(services)
    weight = [n + t / TICKS_PER_SERVICE for n, t in zip(services, clock, strict=True)]
    return sorted(range(len(services)), key=lambda i: -weight[i])


def clock_ticks(scenario: Scenario) -> float:
    """The periodic work a run of `scenario` does whatever its fleet: monitoring's scrapes
    and rule evaluations and the HPA's syncs (one a minute each in the SRE preset, none in
    the sysadmin's)."""
    ticks = 0.0
    monitoring = scenario.monitoring
    if monitoring.enabled and scenario.traffic:
        ticks += scenario.horizon / monitoring.scrape_interval
        ticks += scenario.horizon / monitoring.evaluation_interval
    if scenario.autoscaling.enabled and scenario.services:
        ticks += scenario.horizon / scenario.autoscaling.sync_period
    return ticks


def _largest_first(
    points: Sequence[tuple[Scenario, int, Scenario]], seed: int, jobs: int
) -> tuple[Execution, list[RunOutcome]]:
    """The points' runs handed out `largest_first` (weighed with their `clock_ticks`), and
    their outcomes in the points' order (the order runs are done in changes no number: each has
    its own seed and streams)."""
    order = largest_first([n for _, n, _ in points], [clock_ticks(s) for _, _, s in points])
    tasks = [RunTask(points[i][2], seed) for i in order]
    execution = execute(tasks, run_task, jobs=jobs, label="growth")
    position = {point: rank for rank, point in enumerate(order)}
    return execution, [execution.outcomes[position[i]] for i in range(len(points))]


FLAGSHIP_POINTS = 4
"""Service counts of the flagship's growth step (`make demo`, notebook 07, `sresim chart
--eras growth`): 1, 10, 100 and 1,000 served services per era."""
DELIVERY_ONLY_POINTS = 6
DELIVERY_ONLY_HORIZON = "4w"
"""The delivery-only sweep's sizes and horizon behind `--delivery-only` (the flagship's
growth step before the one world was fast enough: 1, 4, 16, 63, 251 and 1,000 services)."""


def flagship_growth(
    eras: Iterable[str | Path],
    points: int | None = None,
    horizon: str | None = None,
    seed: int = 1,
    jobs: int = 1,
    delivery_only: bool = False,
    most: int = 1000,
) -> pd.DataFrame:
    """The flagship's growth step: `one_world_growth` at `points` (FLAGSHIP_POINTS) sizes
    from 1 to `most` over `horizon` (ONE_WORLD_HORIZON), or with `delivery_only` the
    delivery model alone (`growth_sweep`, DELIVERY_ONLY_POINTS over DELIVERY_ONLY_HORIZON
    unless given). One place, so the demo, the notebook and the CLI grow the same way."""
    if delivery_only:
        counts = service_counts(points or DELIVERY_ONLY_POINTS, most)
        horizon = horizon or DELIVERY_ONLY_HORIZON
        sweep = growth_sweep(eras, counts, horizon=horizon, seed=seed, jobs=jobs)
    else:
        counts = service_counts(points or FLAGSHIP_POINTS, most)
        horizon = horizon or ONE_WORLD_HORIZON
        sweep = one_world_growth(eras, counts, horizon=horizon, seed=seed, jobs=jobs)
    sweep.attrs["horizon"] = horizon
    return sweep


def break_points(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per era: the expected break point of the operators' queue, the first simulated size
    at which more than five work items per operator waited at the horizon, and the size at
    which the CI runners saturate during working hours (automated delivery only)."""
    out = []
    for era, rows in sweep.groupby("era", sort=False):
        rows = rows.sort_values("services")
        piling = rows[rows["operator_backlog"] > rows["operators"] * 5]
        out.append(
            {
                "era": era,
                "break_services_expected": float(rows["break_services"].iloc[0]),
                "first_unstable_simulated": int(piling["services"].iloc[0])
                if not piling.empty
                else np.nan,
                "operators": int(rows["operators"].iloc[0]),
                "ci_break_services_expected": float(rows["ci_break_services"].iloc[0]),
            }
        )
    frame = pd.DataFrame(out).set_index("era")
    frame["services_per_operator_at_break"] = frame["break_services_expected"] / frame["operators"]
    return frame
