"""KPIs and tables of the cluster scheduling model, computed once after the run.

Measurement rules (the Omega paper's metrics, §4):

- **busyness**: share of time a scheduler spends deciding, per day of measured time, and
  the median of those daily values; a measured period shorter than a day counts as one
  "day". Decisions under way at the horizon count up to the horizon. A two-level framework
  is deciding while at least one of its offers is open (it may answer several at once).
- **conflict fraction**: transactions with at least one conflicting claim, per transaction
  that committed without conflict (so it can exceed 1).
- **wait**: from submission to the first scheduling attempt (the paper's "job wait time");
  `wait_full` to the moment the last task was placed. Both are over workload jobs
  submitted after the warm-up that got that far; jobs still waiting at the horizon are
  counted in `jobs_unscheduled`, not in the means.
- **utilisation**: CPU (memory) in use over installed capacity, integrated exactly over
  [warmup, horizon], down nodes included in the capacity.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..records.run import RunRecords
from ..records.scheduling import (
    KINDS,
    NO_SCHEDULER,
    ORIGINS,
    PREFILL,
    FailureRecord,
    JobRecords,
    SchedulerRecord,
    SchedulingRecords,
    UtilisationSamples,
)
from ..scenario.units import DAY

if TYPE_CHECKING:
    import pandas as pd

SCHEDULING_KPI_DESCRIPTIONS: dict[str, str] = {
    "busyness_batch": "share of time the batch scheduler(s) spend deciding (median daily value)",
    "busyness_service": "share of time the service scheduler spends deciding (median daily)",
    "conflict_fraction_batch": "conflicted per conflict-free transaction, batch scheduler(s)",
    "conflict_fraction_service": "conflicted per conflict-free transaction, service scheduler",
    "jobs_submitted_batch": "batch jobs submitted after warm-up",
    "jobs_submitted_service": "service jobs submitted after warm-up",
    "jobs_abandoned": "jobs submitted after warm-up and abandoned: max_attempts used up, or "
    "100 attempts without placing a task",
    "jobs_abandoned_batch": "batch jobs abandoned",
    "jobs_abandoned_service": "service jobs abandoned",
    "jobs_unscheduled": "jobs submitted after warm-up still not fully placed at the horizon",
    "wait_mean_s_batch": "mean time from submission to first scheduling attempt, batch",
    "wait_mean_s_service": "mean time from submission to first scheduling attempt, service",
    "wait_full_mean_s_batch": "mean time from submission until fully scheduled, batch",
    "wait_full_mean_s_service": "mean time from submission until fully scheduled, service",
    "utilisation_cpu": "CPU in use over installed CPU, time average",
    "utilisation_memory": "memory in use over installed memory, time average",
    "locked_share": "share of the cell's CPU locked in two-level offers, time average",
    "capacity_lost_share": "share of CPU-time on failed nodes",
    "failures": "node, rack and power failures after warm-up",
    "tasks_killed": "running tasks killed by failures after warm-up (and resubmitted)",
    "task_start_delay_mean_s": "mean delay from placement to running (runtime start, pulls)",
    "cluster_cost_per_hour": "price of all nodes, $/h",
}


JOBS_COLUMNS: tuple[str, ...] = (
    "job",
    "kind",
    "origin",
    "parent",
    "scheduler",
    "submit",
    "tasks",
    "cpu",
    "memory_gb",
    "duration",
    "attempts",
    "first_attempt",
    "scheduled",
    "abandoned",
    "placed",
    "killed",
    "finished",
    "unscheduled",
    "start_delay_s",
    "wait_s",
    "wait_full_s",
    "measured",
)
SCHEDULERS_COLUMNS: tuple[str, ...] = (
    "scheduler",
    "handles",
    "jobs",
    "decisions",
    "offers",
    "busyness",
    "busy_s",
    "transactions",
    "conflicted",
    "conflict_fraction",
    "locked_cpu_s",
    "queued",
)
CLUSTER_UTILISATION_COLUMNS: tuple[str, ...] = ("time", "rack", "cpu", "memory", "nodes_up")
FAILURES_COLUMNS: tuple[str, ...] = FailureRecord._fields


def scheduling_results(
    records: SchedulingRecords, run: RunRecords
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """The summary KPIs (see SCHEDULING_KPI_DESCRIPTIONS) and the tables `jobs`,
    `schedulers`, `cluster_utilisation` and `failures` of a run."""
    warmup, horizon = run.scenario.warmup, run.scenario.horizon
    tables = {
        "jobs": jobs_table(records, warmup),
        "schedulers": schedulers_table(records.schedulers, warmup, horizon),
        "cluster_utilisation": cluster_utilisation_table(records.utilisation),
        "failures": failures_table(records.failures),
    }
    return scheduling_kpis(records, tables, warmup, horizon), tables


def daily_busyness(start: np.ndarray, end: np.ndarray, warmup: float, horizon: float) -> np.ndarray:
    """Busy share of each whole day of [warmup, horizon] (one window if shorter than a day)."""
    period = horizon - warmup
    days = max(1, int(period // DAY))
    width = period / days if period < DAY else DAY
    shares = np.empty(days)
    for day in range(days):
        low, high = warmup + day * width, warmup + (day + 1) * width
        clipped = np.minimum(end, high) - np.maximum(start, low)
        shares[day] = float(np.clip(clipped, 0.0, None).sum()) / width
    return shares


def jobs_table(records: SchedulingRecords, warmup: float) -> pd.DataFrame:
    """One row per job (prefill, workload, microservice or rescheduled).

    Columns: job, kind (batch/service), origin (batch, service, prefill, microservice,
    rescheduled), parent (the job whose killed tasks this one resubmits, −1 if none),
    scheduler, submit, tasks, cpu, memory_gb, duration (s; inf for long-running), attempts,
    first_attempt, scheduled (all tasks placed), abandoned (times in s, NaN if not reached),
    placed, killed, finished, unscheduled (tasks), start_delay_s (longest placement-to-running
    delay), wait_s (submit to first attempt), wait_full_s (submit to fully scheduled),
    measured (submitted after warm-up).
    """
    import pandas as pd

    jobs: JobRecords = records.jobs
    names = [s.name for s in records.schedulers]
    labels = np.empty(len(names) + 2, dtype=object)  # NO_SCHEDULER and PREFILL index from the end
    labels[: len(names)] = names
    labels[NO_SCHEDULER], labels[PREFILL] = "", "prefill"
    return _frame(
        JOBS_COLUMNS,
        {
            "job": np.arange(len(jobs)),
            "kind": pd.Categorical.from_codes(jobs.kind, categories=pd.Index(KINDS)),
            "origin": np.array(ORIGINS, dtype=object)[jobs.origin],
            "parent": jobs.parent,
            "scheduler": labels[jobs.scheduler],
            "submit": jobs.submit,
            "tasks": jobs.tasks,
            "cpu": jobs.cpu,
            "memory_gb": jobs.memory_gb,
            "duration": jobs.duration,
            "attempts": jobs.attempts,
            "first_attempt": jobs.first_attempt,
            "scheduled": jobs.scheduled,
            "abandoned": jobs.abandoned,
            "placed": jobs.placed,
            "killed": jobs.killed,
            "finished": jobs.finished,
            "unscheduled": jobs.unscheduled,
            "start_delay_s": jobs.start_delay_s,
            "wait_s": jobs.first_attempt - jobs.submit,
            "wait_full_s": jobs.scheduled - jobs.submit,
            "measured": jobs.submit >= warmup,
        },
    )


def schedulers_table(
    schedulers: tuple[SchedulerRecord, ...], warmup: float, horizon: float
) -> pd.DataFrame:
    """One row per scheduler.

    Columns: scheduler, handles (batch, service or all), jobs (submitted to it, whole run),
    decisions (busy periods, whole run: one per decision; for a two-level framework one per
    stretch with at least one offer open), offers (two-level: offers received, whole run),
    busyness (median daily share, measured period), busy_s (time deciding in the measured
    period), transactions and conflicted (commits in
    the measured period, and those with a conflicting claim), conflict_fraction, locked_cpu_s
    (two-level: CPU-seconds offered to it and so hidden from the others), queued (jobs in its
    queue at the horizon).
    """
    import pandas as pd

    rows = []
    for s in schedulers:
        start, end = s.busy_start, s.busy_end
        measured = s.commit_time >= warmup
        conflicted = int(s.commit_conflicted[measured].sum())
        transactions = int(measured.sum())
        busy = np.clip(np.minimum(end, horizon) - np.maximum(start, warmup), 0.0, None).sum()
        rows.append(
            (
                s.name,
                s.handles,
                s.jobs,
                len(start),
                s.offers,
                float(np.median(daily_busyness(start, end, warmup, horizon))),
                float(busy),
                transactions,
                conflicted,
                _ratio(conflicted, transactions - conflicted),
                s.locked_cpu_s,
                s.queued,
            )
        )
    return pd.DataFrame(rows, columns=list(SCHEDULERS_COLUMNS))


def cluster_utilisation_table(samples: UtilisationSamples) -> pd.DataFrame:
    """CPU and memory in use per rack at evenly spaced instants after warm-up.

    Columns: time (s), rack, cpu and memory (share of the rack's installed capacity in use),
    nodes_up.
    """
    return _frame(
        CLUSTER_UTILISATION_COLUMNS,
        {
            "time": samples.time,
            "rack": samples.rack,
            "cpu": samples.cpu,
            "memory": samples.memory,
            "nodes_up": samples.nodes_up,
        },
    )


def failures_table(failures: tuple[FailureRecord, ...]) -> pd.DataFrame:
    """One row per failure: time, scope (node, rack or power), first_node, nodes, down_s
    (repair plus boot), cpu_lost (cores down), tasks_killed and jobs_hit (resubmitted)."""
    import pandas as pd

    return pd.DataFrame(list(failures), columns=list(FAILURES_COLUMNS))


def scheduling_kpis(
    records: SchedulingRecords, tables: dict[str, pd.DataFrame], warmup: float, horizon: float
) -> dict[str, float]:
    """The summary KPIs (see SCHEDULING_KPI_DESCRIPTIONS), from the records and their tables."""
    jobs, schedulers = tables["jobs"], tables["schedulers"]
    period = horizon - warmup
    kpis: dict[str, Any] = {}
    for kind in KINDS:
        handles = [s.handles in (kind, "all") for s in records.schedulers]
        rows = schedulers[handles]
        kpis[f"busyness_{kind}"] = float(rows.busyness.mean())
        conflicted = int(rows.conflicted.sum())
        kpis[f"conflict_fraction_{kind}"] = _ratio(
            conflicted, int(rows.transactions.sum()) - conflicted
        )
    measured = jobs[jobs.measured & jobs.origin.isin(["batch", "service"])]
    for kind in KINDS:
        rows = measured[measured.kind == kind]
        kpis[f"jobs_submitted_{kind}"] = len(rows)
        kpis[f"jobs_abandoned_{kind}"] = int(rows.abandoned.notna().sum())
        kpis[f"wait_mean_s_{kind}"] = _mean(rows.wait_s)
        kpis[f"wait_full_mean_s_{kind}"] = _mean(rows.wait_full_s)
    every = jobs[jobs.measured]
    kpis["jobs_abandoned"] = int(every.abandoned.notna().sum())
    kpis["jobs_unscheduled"] = int((every.scheduled.isna() & every.abandoned.isna()).sum())
    kpis["utilisation_cpu"] = float(records.used_cpu_s / (records.total_cpu * period))
    kpis["utilisation_memory"] = float(
        records.used_memory_gb_s / (records.total_memory_gb * period)
    )
    kpis["locked_share"] = float(records.locked_cpu_s / (records.total_cpu * period))
    kpis["capacity_lost_share"] = float(records.down_cpu_s / (records.total_cpu * period))
    failures = tables["failures"]
    after = failures[failures.time >= warmup]
    kpis["failures"] = len(after)
    kpis["tasks_killed"] = int(after.tasks_killed.sum())
    placed = measured[measured.placed > 0]
    kpis["task_start_delay_mean_s"] = _mean(placed.start_delay_s)
    kpis["cluster_cost_per_hour"] = records.price_per_hour
    return kpis


def _frame(columns: tuple[str, ...], data: dict[str, Any]) -> pd.DataFrame:
    """A table whose columns are exactly the declared ones, in their order."""
    import pandas as pd

    assert tuple(data) == columns, f"columns {tuple(data)} differ from {columns}"
    return pd.DataFrame(data)


def _mean(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.mean()) if len(values) else math.nan


def _ratio(numerator: int, denominator: int) -> float:
    if denominator > 0:
        return numerator / denominator
    return 0.0 if numerator == 0 else math.inf
