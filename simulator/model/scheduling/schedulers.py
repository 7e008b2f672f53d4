"""The scheduler architectures of the Omega paper, as SimPy processes that only keep time.

Each scheduler takes jobs from its own FIFO queue and spends `t_job + t_task × unscheduled
tasks` deciding about one job (one attempt). What differs is what it decides on and how it
commits, all on the one `CellState`:

- monolithic (single- or multi-path): decides on the live cell, so it never conflicts;
- shared-state: decides on a private copy taken when it starts thinking, then commits
  optimistically; claims whose nodes changed meanwhile conflict (fine or coarse);
- two-level: a framework decides on a resource offer, which the resource manager locks
  for the whole decision, so it never conflicts but hides those resources from the others.

Placement itself, conflict checks and the allocator's choice are pure functions elsewhere.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from typing import TYPE_CHECKING

import numpy as np
import simpy

from .jobs import Job
from .placement import EPS, drf_pick

if TYPE_CHECKING:
    from .model import SchedulingModel


class Scheduler:
    """A scheduler's queue, its busy periods and its transaction counts."""

    def __init__(self, model: SchedulingModel, name: str, handles: str, index: int) -> None:
        self.model = model
        self.env: simpy.Environment = model.env
        self.name = name
        self.handles = handles  # "batch", "service" or "all"
        self.index = index
        self.queue: deque[Job] = deque()
        self.busy_start = array("d")
        self.busy_end = array("d")
        self.commit_time = array("d")
        self.commit_conflicted = array("b")
        self.locked_cpu_s = 0.0
        self.jobs = 0
        self._wake: simpy.Event | None = None
        self.thinking_since = math.nan
        self.deciding: list[Job] = []

    def enqueue(self, job: Job) -> None:
        job.scheduler = self.name
        self.queue.append(job)
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def think_time(self, job: Job) -> float:
        return self.model.decision_time(job) + self.model.t_task * job.unscheduled

    def _begin(self, job: Job) -> None:
        if math.isnan(job.first_attempt):
            job.first_attempt = self.env.now
        job.attempts += 1

    def _busy(self, start: float) -> None:
        self.busy_start.append(start)
        self.busy_end.append(self.env.now)

    def _transaction(self, conflicted: bool) -> None:
        self.commit_time.append(self.env.now)
        self.commit_conflicted.append(1 if conflicted else 0)


class QueueScheduler(Scheduler):
    """Monolithic (live state) or shared-state (private copy, optimistic commit)."""

    def __init__(
        self, model: SchedulingModel, name: str, handles: str, index: int, optimistic: bool
    ) -> None:
        super().__init__(model, name, handles, index)
        self.optimistic = optimistic
        self.env.process(self._run())

    def _run(self):  # type: ignore[no-untyped-def]
        env, model, cell = self.env, self.model, self.model.cell
        while True:
            if not self.queue:
                self._wake = env.event()
                yield self._wake
                self._wake = None
                continue
            job = self.queue.popleft()
            self.deciding = [job]
            self._begin(job)
            start = env.now
            self.thinking_since = start
            if self.optimistic:
                free_cpu, free_mem = cell.free()
                seen = cell.seq.copy()
            yield env.timeout(self.think_time(job))
            self.thinking_since = math.nan
            self._busy(start)
            if not self.optimistic:
                free_cpu, free_mem = cell.free()
                seen = None
            nodes = model.place(self, job, free_cpu, free_mem)
            if len(nodes):
                conflicted = model.commit(self, job, nodes, seen)
                self._transaction(conflicted)
            model.after_attempt(self, job)
            self.deciding = []


class Framework(Scheduler):
    """A two-level framework scheduler: it decides only when it holds a resource offer."""

    def __init__(self, model: SchedulingModel, name: str, handles: str, index: int) -> None:
        super().__init__(model, name, handles, index)
        self.offer: tuple[np.ndarray, np.ndarray] | None = None
        self.offers = 0

    def enqueue(self, job: Job) -> None:
        super().enqueue(job)
        self.model.allocator.poke()

    def receive(self, cpu: np.ndarray, mem: np.ndarray) -> None:
        self.offer = (cpu, mem)
        self.offers += 1
        self.env.process(self._decide())

    def _decide(self):  # type: ignore[no-untyped-def]
        """Decide about every queued job on the offer; locked resources go back at the end."""
        env, model, cell = self.env, self.model, self.model.cell
        assert self.offer is not None
        cpu, mem = self.offer
        start = env.now
        self.thinking_since = start
        if model.scheduler.offer_cost > 0:
            yield env.timeout(model.scheduler.offer_cost)
        self.deciding = list(self.queue)
        self.queue.clear()
        while self.deciding:
            job = self.deciding[0]
            self._begin(job)
            yield env.timeout(self.think_time(job))
            nodes = model.place(self, job, cpu * cell.up, mem * cell.up)
            if len(nodes):
                used, dcpu, dmem = model.commit_offer(self, job, nodes)
                cpu[used] -= dcpu
                mem[used] -= dmem
                self._transaction(False)
            self.deciding.pop(0)
            model.after_attempt(self, job)
        self.thinking_since = math.nan
        self._busy(start)
        self.offer = None
        model.allocator.returned(self, cpu, mem)


class Allocator:
    """The two-level resource manager: offers all free resources to one framework at a time.

    Each framework holds at most one offer. Whatever is free and not locked in an offer
    (resources freed by finishing tasks, say) goes to the framework with work, without an
    offer, and the lowest dominant share (DRF) or the next in turn (round-robin).
    """

    def __init__(self, model: SchedulingModel, frameworks: list[Framework], policy: str) -> None:
        self.model = model
        self.frameworks = frameworks
        self.policy = policy
        self.next_rr = 0
        self.offered_at = [0.0] * len(frameworks)
        self.offered_cpu = [0.0] * len(frameworks)

    def poke(self) -> None:
        """Offer the free resources if a framework without an offer has work."""
        wanting = np.array([bool(f.queue) and f.offer is None for f in self.frameworks])
        if not wanting.any():
            return
        cell = self.model.cell
        cpu, mem = cell.free()
        cpu = np.clip(cpu, 0.0, None)
        mem = np.clip(mem, 0.0, None)
        if cpu.sum() <= EPS or mem.sum() <= EPS:
            return
        if self.policy == "drf":
            pick = drf_pick(self.model.shares(), wanting)
        else:
            count = len(self.frameworks)
            pick = next(i for i in ((self.next_rr + k) % count for k in range(count)) if wanting[i])
            self.next_rr = (pick + 1) % count
        framework = self.frameworks[pick]
        now = self.model.env.now
        cell.lock(now, cpu, mem)
        self.offered_at[pick] = now
        self.offered_cpu[pick] = float(cpu.sum())
        framework.receive(cpu.copy(), mem.copy())

    def returned(self, framework: Framework, cpu: np.ndarray, mem: np.ndarray) -> None:
        """The framework is done: what it did not use goes back to the pool."""
        now = self.model.env.now
        self.model.cell.lock(now, cpu, mem, sign=-1.0)
        i = framework.index
        framework.locked_cpu_s += (
            self.model.clip_period(self.offered_at[i], now) * self.offered_cpu[i]
        )
        self.poke()
