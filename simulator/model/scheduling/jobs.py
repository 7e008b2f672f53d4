"""Jobs and their running claims: the state the schedulers update during a run (the model
turns it into `simulator.records.scheduling.JobRecords` at the horizon)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


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


@dataclass(eq=False)
class Claim:
    """Tasks of one job committed in one transaction: they start and end together."""

    job: Job
    owner: int
    nodes: np.ndarray
    counts: np.ndarray
    dcpu: np.ndarray
    dmem: np.ndarray
    end: float
    alive: bool = field(default=True)
