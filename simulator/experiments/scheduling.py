"""The Omega paper's experiments on the scheduling model: one run per architecture and
decision time, one row of KPIs per run (`simulator.plots.scheduling` draws them).

    sweep = decision_time_sweep("scenarios/omega/example.yaml", [0.1, 1, 10, 30, 100])
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..runner import ScenarioLike, run_task
from ..scenario.cluster import ARCHITECTURES
from ..scenario.loader import load_scenario
from .executor import RunTask, execute


def decision_time_sweep(
    scenario: ScenarioLike,
    t_jobs: Sequence[float],
    architectures: Sequence[str] = ARCHITECTURES,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    jobs: int = 1,
) -> pd.DataFrame:
    """Run each architecture at each service decision time: the data of the paper's figures.

    One row per run: architecture, t_job_service and every summary KPI. The runs go
    through the experiment engine (`jobs` local workers).
    """
    points = [(a, t) for a in architectures for t in t_jobs]
    scenarios = [
        load_scenario(
            scenario,
            [*overrides, f"scheduler.architecture={a}", f"scheduler.t_job.service={t}s"],
        )
        for a, t in points
    ]
    tasks = [RunTask(s, s.seed if seed is None else seed) for s in scenarios]
    # the longest runs first, so that workers finish together (each outcome depends on its
    # task only, so the order they run in changes no number)
    order = heaviest_first(points)
    done = execute([tasks[i] for i in order], run_task, jobs=jobs, label="decision times")
    ran = dict(zip(order, done.outcomes, strict=True))
    outcomes = [ran[i] for i in range(len(points))]
    rows = [
        {"architecture": a, "t_job_service": t, **outcome.summary}
        for (a, t), outcome in zip(points, outcomes, strict=True)
    ]
    return pd.DataFrame(rows)


COST_RANK = {"two-level": 0, "shared-state": 1}
"""Architectures by how long their runs take, the slowest first (the monolithic ones
after these): two-level's offers take the most, shared-state's copies next."""


def heaviest_first(points: Sequence[tuple[str, float]]) -> list[int]:
    """The points' indices, the runs expected to take longest first: by architecture, then
    the longer service decision time first (two-level's offers stay out longer and its
    jobs retry more). Only an estimate: it decides when runs start, never what they give."""
    return sorted(
        range(len(points)), key=lambda i: (COST_RANK.get(points[i][0], 2), -points[i][1], i)
    )
