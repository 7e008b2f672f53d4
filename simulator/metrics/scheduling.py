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
import pandas as pd

if TYPE_CHECKING:
    from ..model.scheduling.model import SchedulingModel

DAY = 86400.0

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


def jobs_table(model: SchedulingModel) -> pd.DataFrame:
    """One row per job (prefill, workload, microservice or rescheduled).

    Columns: job, kind (batch/service), origin (batch, service, prefill, microservice,
    rescheduled), parent (the job whose killed tasks this one resubmits, −1 if none),
    scheduler, submit, tasks, cpu, memory_gb, duration (s; inf for long-running), attempts,
    first_attempt, scheduled (all tasks placed), abandoned (times in s, NaN if not reached),
    placed, killed, finished, unscheduled (tasks), start_delay_s (longest placement-to-running
    delay), wait_s (submit to first attempt), wait_full_s (submit to fully scheduled),
    measured (submitted after warm-up).
    """
    jobs = model.jobs
    table = pd.DataFrame(
        {
            "job": [j.id for j in jobs],
            "kind": pd.Categorical([j.kind for j in jobs], categories=["batch", "service"]),
            "origin": [j.origin for j in jobs],
            "parent": [j.parent for j in jobs],
            "scheduler": [j.scheduler for j in jobs],
            "submit": [j.submit for j in jobs],
            "tasks": [j.tasks for j in jobs],
            "cpu": [j.cpu for j in jobs],
            "memory_gb": [j.memory for j in jobs],
            "duration": [j.duration for j in jobs],
            "attempts": [j.attempts for j in jobs],
            "first_attempt": [j.first_attempt for j in jobs],
            "scheduled": [j.scheduled_at for j in jobs],
            "abandoned": [j.abandoned_at for j in jobs],
            "placed": [j.placed for j in jobs],
            "killed": [j.killed for j in jobs],
            "finished": [j.finished for j in jobs],
            "unscheduled": [j.unscheduled for j in jobs],
            "start_delay_s": [j.start_delay for j in jobs],
        }
    )
    table["wait_s"] = table.first_attempt - table.submit
    table["wait_full_s"] = table.scheduled - table.submit
    table["measured"] = table.submit >= model.warmup
    return table


def schedulers_table(model: SchedulingModel) -> pd.DataFrame:
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
    rows = []
    for s in model.schedulers:
        start = np.frombuffer(s.busy_start, dtype=float) if len(s.busy_start) else np.empty(0)
        end = np.frombuffer(s.busy_end, dtype=float) if len(s.busy_end) else np.empty(0)
        times = np.frombuffer(s.commit_time, dtype=float) if len(s.commit_time) else np.empty(0)
        flags = (
            np.frombuffer(s.commit_conflicted, dtype=np.int8)
            if len(s.commit_conflicted)
            else np.empty(0, dtype=np.int8)
        )
        measured = times >= model.warmup
        conflicted = int(flags[measured].sum())
        transactions = int(measured.sum())
        busy = np.clip(
            np.minimum(end, model.horizon) - np.maximum(start, model.warmup), 0.0, None
        ).sum()
        rows.append(
            {
                "scheduler": s.name,
                "handles": s.handles,
                "jobs": s.jobs,
                "decisions": len(start),
                "offers": getattr(s, "offers", 0),
                "busyness": float(
                    np.median(daily_busyness(start, end, model.warmup, model.horizon))
                ),
                "busy_s": float(busy),
                "transactions": transactions,
                "conflicted": conflicted,
                "conflict_fraction": _ratio(conflicted, transactions - conflicted),
                "locked_cpu_s": s.locked_cpu_s,
                "queued": len(s.queue),
            }
        )
    return pd.DataFrame(rows)


def cluster_utilisation_table(model: SchedulingModel) -> pd.DataFrame:
    """CPU and memory in use per rack at SAMPLES instants after warm-up.

    Columns: time (s), rack, cpu and memory (share of the rack's installed capacity in use),
    nodes_up.
    """
    s = model._samples
    return pd.DataFrame(
        {
            "time": np.frombuffer(s["time"], dtype=float),
            "rack": np.frombuffer(model._sample_rack, dtype=np.int32),
            "cpu": np.frombuffer(s["cpu"], dtype=float),
            "memory": np.frombuffer(s["mem"], dtype=float),
            "nodes_up": np.frombuffer(s["up"], dtype=float).astype(int),
        }
    )


def failures_table(model: SchedulingModel) -> pd.DataFrame:
    """One row per failure: time, scope (node, rack or power), first_node, nodes, down_s
    (repair plus boot), cpu_lost (cores down), tasks_killed and jobs_hit (resubmitted)."""
    columns = ["time", "scope", "first_node", "nodes", "down_s", "cpu_lost", "tasks_killed"]
    return pd.DataFrame(model.failures, columns=[*columns, "jobs_hit"])


def scheduling_tables(model: SchedulingModel) -> dict[str, pd.DataFrame]:
    """The tables `jobs`, `schedulers`, `cluster_utilisation` and `failures` of a run."""
    cached = getattr(model, "_tables", None)
    if cached is None:
        cached = {
            "jobs": jobs_table(model),
            "schedulers": schedulers_table(model),
            "cluster_utilisation": cluster_utilisation_table(model),
            "failures": failures_table(model),
        }
        model._tables = cached  # type: ignore[attr-defined]
    return dict(cached)


def scheduling_kpis(model: SchedulingModel) -> dict[str, float]:
    """The summary KPIs (see SCHEDULING_KPI_DESCRIPTIONS)."""
    tables = scheduling_tables(model)
    jobs, schedulers = tables["jobs"], tables["schedulers"]
    period = model.horizon - model.warmup
    kpis: dict[str, Any] = {}
    groups = {
        "batch": [s.name for s in model.batch_schedulers],
        "service": [s.name for s in model.service_schedulers],
    }
    for kind, names in groups.items():
        rows = schedulers[schedulers.scheduler.isin(names)]
        kpis[f"busyness_{kind}"] = float(rows.busyness.mean())
        conflicted = int(rows.conflicted.sum())
        kpis[f"conflict_fraction_{kind}"] = _ratio(
            conflicted, int(rows.transactions.sum()) - conflicted
        )
    measured = jobs[jobs.measured & jobs.origin.isin(["batch", "service"])]
    for kind in ("batch", "service"):
        rows = measured[measured.kind == kind]
        kpis[f"jobs_submitted_{kind}"] = len(rows)
        kpis[f"jobs_abandoned_{kind}"] = int(rows.abandoned.notna().sum())
        kpis[f"wait_mean_s_{kind}"] = _mean(rows.wait_s)
        kpis[f"wait_full_mean_s_{kind}"] = _mean(rows.wait_full_s)
    every = jobs[jobs.measured]
    kpis["jobs_abandoned"] = int(every.abandoned.notna().sum())
    kpis["jobs_unscheduled"] = int((every.scheduled.isna() & every.abandoned.isna()).sum())
    areas = model._areas
    cell = model.cell
    kpis["utilisation_cpu"] = float(areas[0] / (cell.total_cpu * period))
    kpis["utilisation_memory"] = float(areas[1] / (cell.total_mem * period))
    kpis["locked_share"] = float(areas[2] / (cell.total_cpu * period))
    kpis["capacity_lost_share"] = float(areas[3] / (cell.total_cpu * period))
    failures = tables["failures"]
    after = failures[failures.time >= model.warmup]
    kpis["failures"] = len(after)
    kpis["tasks_killed"] = int(after.tasks_killed.sum())
    placed = measured[measured.placed > 0]
    kpis["task_start_delay_mean_s"] = _mean(placed.start_delay_s)
    kpis["cluster_cost_per_hour"] = float(model.price.sum())
    return kpis


def _mean(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.mean()) if len(values) else math.nan


def _ratio(numerator: int, denominator: int) -> float:
    if denominator > 0:
        return numerator / denominator
    return 0.0 if numerator == 0 else math.inf
