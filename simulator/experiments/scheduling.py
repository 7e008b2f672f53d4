"""The Omega paper's experiments on the scheduling model: one run per architecture and
decision time, one row of KPIs per run (`simulator.plots.scheduling` draws them).

    sweep = decision_time_sweep("scenarios/omega/example.yaml", [0.1, 1, 10, 30, 100])
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..runner import ScenarioLike, run
from ..scenario.cluster import ARCHITECTURES


def decision_time_sweep(
    scenario: ScenarioLike,
    t_jobs: Sequence[float],
    architectures: Sequence[str] = ARCHITECTURES,
    overrides: Sequence[str] = (),
    seed: int | None = None,
) -> pd.DataFrame:
    """Run each architecture at each service decision time: the data of the paper's figures.

    One row per run: architecture, t_job_service and every summary KPI.
    """
    rows = []
    for architecture in architectures:
        for t_job in t_jobs:
            result = run(
                scenario,
                seed,
                overrides=[
                    *overrides,
                    f"scheduler.architecture={architecture}",
                    f"scheduler.t_job.service={t_job}s",
                ],
            )
            rows.append({"architecture": architecture, "t_job_service": t_job, **result.summary})
    return pd.DataFrame(rows)
