"""The growth experiment: one era's organisation running 1 to 1,000 services.

For each era and number of services it simulates the delivery model alone (no request
traffic, so a thousand services take seconds) and records the DORA keys, operator load and
cost, beside the arithmetic expectation of the operators' utilisation
(`simulator.model.delivery.capacity`). Where that reaches 1 the ticket queue is unstable:
work arrives faster than the team can do it, and lead times grow with the horizon.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..model.delivery.capacity import operator_load
from ..runner import run_task
from ..scenario.loader import load_scenario
from .executor import RunTask, execute

DELIVERY_ONLY = {
    "fidelity": "request",
    "services": {},
    "traffic": {},
    "deployment": "microservices",
}
"""Overrides that leave only the delivery model in a run (the request workload is the same
in every era and does not depend on the number of services the organisation deploys)."""

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
    tasks = [RunTask(scenario, seed) for _, _, scenario in points]
    outcomes = execute(tasks, run_task, jobs=jobs, label="growth").outcomes
    rows = []
    for (base, n, scenario), outcome in zip(points, outcomes, strict=True):
        load = operator_load(scenario)
        row = {"era": base.name, "services": n}
        row.update({k: outcome.summary.get(k, np.nan) for k in KPIS})
        row["utilisation_expected"] = load.utilisation
        row["ci_utilisation_expected"] = load.ci_utilisation
        row["break_services"] = operator_load(base).break_services
        row["ci_break_services"] = operator_load(base).ci_break_services
        row["operators"] = scenario.organisation.operators
        rows.append(row)
    return pd.DataFrame(rows)


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
