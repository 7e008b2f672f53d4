"""What the cluster scheduling subsystem leaves behind: its jobs, its schedulers' busy periods
and transactions, samples of the cell's utilisation, its failures, and the few facts of the
cell that its KPIs need.

`simulator.model.scheduling` fills these once the horizon is reached; `simulator.metrics.
scheduling` turns them into KPIs and tables. Times are seconds from the start of the run, NaN
where something has not happened by the horizon. Categories are small integer codes into the
tuples below, so that a run of 100,000 jobs stays a handful of numpy columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

KINDS: tuple[str, ...] = ("batch", "service")
"""Job kinds; `JobRecords.kind` indexes this."""

ORIGINS: tuple[str, ...] = ("batch", "service", "prefill", "microservice", "rescheduled")
"""Where a job came from; `JobRecords.origin` indexes this."""

NO_SCHEDULER = -1
"""`JobRecords.scheduler` of a job never handed to a scheduler."""

PREFILL = -2
"""`JobRecords.scheduler` of work placed at time 0 without a scheduler (the prefill)."""

Handles = Literal["batch", "service", "all"]
"""The jobs a scheduler takes: one kind, or all of them (monolithic)."""

FailureScope = Literal["node", "rack", "power"]


@dataclass(frozen=True, slots=True)
class JobRecords:
    """One entry per job, as it stands at the horizon: row i is job i. A job is identical
    tasks sharing one duration; its tasks are always `placed + promised + unscheduled`, and
    `placed` is `finished + killed + running`."""

    kind: np.ndarray
    """int8 index into KINDS."""
    origin: np.ndarray
    """int8 index into ORIGINS."""
    parent: np.ndarray
    """The job whose killed tasks this one resubmits, −1 if none."""
    scheduler: np.ndarray
    """Index into `SchedulingRecords.schedulers`, or NO_SCHEDULER, or PREFILL."""
    submit: np.ndarray
    tasks: np.ndarray
    cpu: np.ndarray
    """Cores per task."""
    memory_gb: np.ndarray
    """GB per task."""
    duration: np.ndarray
    """Seconds each task runs once started; inf for long-running work."""
    attempts: np.ndarray
    first_attempt: np.ndarray
    scheduled: np.ndarray
    """When its last task was placed."""
    abandoned: np.ndarray
    """When it was given up on with tasks unplaced."""
    placed: np.ndarray
    """Tasks started."""
    promised: np.ndarray
    """Two-level: tasks accepted in an offer whose answer is still under way."""
    unscheduled: np.ndarray
    killed: np.ndarray
    finished: np.ndarray
    running: np.ndarray
    """Tasks running at the horizon."""
    waiting: np.ndarray
    """Whether it is queued, being decided on or backing off at the horizon."""
    start_delay_s: np.ndarray
    """Longest delay from placement to running (runtime start, image pulls)."""

    def __len__(self) -> int:
        return len(self.kind)


@dataclass(frozen=True, slots=True)
class SchedulerRecord:
    """One scheduler (or two-level framework): its counts, its busy periods (one per
    decision, or per stretch with at least one offer open) and its transactions, whole run."""

    name: str
    handles: Handles
    jobs: int
    """Jobs submitted to it."""
    offers: int
    """Two-level: offers received (0 otherwise)."""
    locked_cpu_s: float
    """Two-level: CPU-seconds offered to it in the measured period, hidden from the others."""
    queued: int
    """Jobs in its queue at the horizon."""
    busy_start: np.ndarray
    busy_end: np.ndarray
    """Decisions under way at the horizon end at the horizon."""
    commit_time: np.ndarray
    commit_conflicted: np.ndarray
    """int8: 1 where the transaction had at least one conflicting claim."""


@dataclass(frozen=True, slots=True)
class UtilisationSamples:
    """CPU and memory in use per rack at evenly spaced instants after warm-up: one entry per
    (instant, rack)."""

    time: np.ndarray
    rack: np.ndarray
    cpu: np.ndarray
    """Share of the rack's installed CPU in use."""
    memory: np.ndarray
    nodes_up: np.ndarray


class FailureRecord(NamedTuple):
    """One failure of a node, a rack or a power domain (whole run)."""

    time: float
    scope: FailureScope
    first_node: int
    nodes: int
    down_s: float
    """Repair plus boot."""
    cpu_lost: float
    """Cores down."""
    tasks_killed: int
    """Running tasks killed, and resubmitted as new jobs."""
    jobs_hit: int


@dataclass(frozen=True, slots=True)
class SchedulingRecords:
    """Everything the scheduling subsystem of one run leaves behind."""

    jobs: JobRecords
    schedulers: tuple[SchedulerRecord, ...]
    utilisation: UtilisationSamples
    failures: tuple[FailureRecord, ...]
    total_cpu: float
    """Installed cores in the cell."""
    total_memory_gb: float
    price_per_hour: float
    """All nodes, $/h."""
    used_cpu_s: float
    """CPU in use, integrated exactly over [warmup, horizon] (core-seconds)."""
    used_memory_gb_s: float
    locked_cpu_s: float
    """CPU locked in two-level offers, integrated over [warmup, horizon]."""
    down_cpu_s: float
    """CPU on failed nodes, integrated over [warmup, horizon]."""
