"""Jobs and their running claims: the state the schedulers update during a run (the model
turns it into `simulator.records.scheduling.JobRecords` at the horizon)."""

from __future__ import annotations

import math

import numpy as np

UNPLACED_ATTEMPTS = 100
"""A job none of whose tasks could be placed in this many attempts is abandoned early (as in
the Omega simulator): the cell evidently has no room of its shape."""


class Job:
    """One job: identical tasks sharing one duration, placed over one or more attempts.

    Its tasks are always `placed + promised + unscheduled`; `placed` counts the started ones
    (then `finished`, `killed` or still running).
    """

    __slots__ = (
        "abandoned_at",
        "anti_affinity",
        "attempts",
        "cpu",
        "duration",
        "finished",
        "first_attempt",
        "id",
        "image",
        "killed",
        "kind",
        "memory",
        "origin",
        "parent",
        "placed",
        "promised",
        "scheduled_at",
        "scheduler",
        "start_delay",
        "submit",
        "tasks",
        "unscheduled",
    )

    def __init__(
        self,
        id: int,
        kind: str,
        origin: str,
        submit: float,
        tasks: int,
        duration: float,
        cpu: float,
        memory: float,
        image: int = -1,
        anti_affinity: bool = False,
        parent: int = -1,
    ) -> None:
        self.id = id
        self.kind = kind
        self.origin = origin
        self.submit = submit
        self.tasks = tasks
        self.unscheduled = tasks
        self.duration = duration
        self.cpu = cpu
        self.memory = memory
        self.image = image
        self.anti_affinity = anti_affinity
        self.parent = parent
        self.attempts = 0
        self.first_attempt = math.nan
        self.scheduled_at = math.nan
        self.abandoned_at = math.nan
        self.placed = 0
        self.promised = 0  # two-level: tasks a framework accepted in an offer, not yet started
        self.killed = 0
        self.finished = 0
        self.start_delay = 0.0
        self.scheduler = ""


class Claim:
    """Tasks of one job committed in one transaction: they start and end together.

    `tasks` and `sums` (the CPU and memory the claim holds) are kept beside the arrays so
    that its end need not add them up again; `set` changes all of them together."""

    __slots__ = ("alive", "counts", "dcpu", "dmem", "end", "job", "nodes", "owner", "sums", "tasks")

    def __init__(
        self,
        job: Job,
        owner: int,
        nodes: np.ndarray,
        counts: np.ndarray,
        dcpu: np.ndarray,
        dmem: np.ndarray,
        end: float,
        sums: tuple[float, float],
        tasks: int,
    ) -> None:
        self.job = job
        self.owner = owner
        self.nodes = nodes
        self.counts = counts
        self.dcpu = dcpu
        self.dmem = dmem
        self.end = end
        self.sums = sums
        self.tasks = tasks
        self.alive = True

    def set(
        self, nodes: np.ndarray, counts: np.ndarray, dcpu: np.ndarray, dmem: np.ndarray
    ) -> None:
        """What is left of the claim (after some of its nodes failed)."""
        self.nodes, self.counts, self.dcpu, self.dmem = nodes, counts, dcpu, dmem
        self.sums = (float(dcpu.sum()), float(dmem.sum()))
        self.tasks = int(counts.sum())
