"""The scheduler architectures of the Omega paper, as SimPy processes that only keep time.

Each scheduler takes jobs from its own FIFO queue and spends `t_job + t_task × unscheduled
tasks` deciding about one job (one attempt). What differs is what it decides on and how it
commits, all on the one `CellState`:

- monolithic (single- or multi-path): decides on the live cell, so it never conflicts;
- shared-state: decides on a private copy taken when it starts thinking, then commits
  optimistically; claims whose nodes changed meanwhile conflict (fine or coarse);
- two-level: a framework decides on a resource offer of all the free resources, which the
  resource manager locks until the framework answers, so it never conflicts but hides those
  resources from the other frameworks (the Omega simulator's Mesos model, see `Allocator`).

Placement itself, conflict checks and the allocator's choice are pure functions elsewhere.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Generator, Sequence
from typing import Any, Protocol

import numpy as np
import simpy

from ...records.scheduling import Handles
from ...scenario.cluster import Scheduler as SchedulerSettings
from .cell import CellState, Snapshot, Takes
from .jobs import UNPLACED_ATTEMPTS, Job
from .placement import EPS, drf_pick

OFFER_INTERVAL = 1.0
"""Two-level: the allocator gathers what frees up and makes its next offer this long after a
change (the Omega simulator's Mesos `offerBatchInterval`), not at every task's end."""

MIN_OFFER_CPU_SHARE = 0.0025
"""Two-level: no offer smaller than this share of the cell's CPU (the Omega simulator's minimum
offer of 100 cores, on its example cell of 40,000)."""

RETRY_DELAY = 1.0
"""Two-level: a job not fully placed asks again this long after its attempt (the Omega
simulator's Mesos frameworks wait 1 s)."""


class SchedulerHost(Protocol):
    """What the schedulers use of the model that builds them (`model.SchedulingModel`): the
    clock, the cell, the scenario's settings and the model's placement and commit rules. A
    protocol, so that this module need not import the one that imports it."""

    env: simpy.Environment
    cell: CellState
    scheduler: SchedulerSettings
    t_task: float
    allocator: Allocator | None

    def decision_time(self, job: Job) -> float: ...

    def place(
        self, scheduler: SchedulerAgent, job: Job, slots: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def place_on_offer(
        self,
        scheduler: SchedulerAgent,
        job: Job,
        slots: np.ndarray,
        offer_cpu: np.ndarray,
        offer_mem: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, bool]: ...

    def decide(
        self,
        scheduler: SchedulerAgent,
        job: Job,
        slots: np.ndarray,
        optimistic: bool,
        seen: np.ndarray | None = None,
    ) -> bool | None: ...

    def commit(
        self,
        scheduler: SchedulerAgent,
        job: Job,
        unique: np.ndarray,
        counts: np.ndarray,
        optimistic: bool,
        seen: np.ndarray | None = None,
    ) -> bool: ...

    def commit_offer(self, scheduler: SchedulerAgent, taken: Taken) -> int: ...

    def after_attempt(self, scheduler: SchedulerAgent, job: Job) -> None: ...

    def give_up(self, scheduler: SchedulerAgent, job: Job) -> bool: ...

    def shares(self) -> list[float]: ...

    def clip_period(self, start: float, end: float) -> float: ...


class SchedulerAgent:
    """A scheduler's queue, its busy periods and its transaction counts."""

    def __init__(self, model: SchedulerHost, name: str, handles: Handles, index: int) -> None:
        self.model = model
        self.env: simpy.Environment = model.env
        self.name = name
        self.handles = handles
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


class QueueScheduler(SchedulerAgent):
    """Monolithic (live state) or shared-state (private copy, optimistic commit).

    The private copy is what placement needs of the cell: the slots of the job's shape per
    node when the decision starts (plus the sequence numbers, for coarse conflicts), shared
    with the live cell until the cell writes them (`CellState.snapshot_slots`). With a
    density limit the room for instances is read when placing, as the live cell has it, so
    then the copy is of the free resources instead.
    """

    def __init__(
        self, model: SchedulerHost, name: str, handles: Handles, index: int, optimistic: bool
    ) -> None:
        super().__init__(model, name, handles, index)
        self.optimistic = optimistic
        self.env.process(self._run())

    def _run(self) -> Generator[simpy.Event, Any, None]:
        env, model, cell = self.env, self.model, self.model.cell
        coarse = model.scheduler.conflict_mode == "coarse"
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
            seen: np.ndarray | None = None
            copy: np.ndarray | None = None
            token: Snapshot | None = None
            free: tuple[np.ndarray, np.ndarray] | None = None
            if self.optimistic:
                if cell.density_limited:
                    free = cell.free()
                else:
                    copy, token = cell.snapshot_slots(job.cpu, job.memory)
                if coarse:
                    seen = cell.seq.copy()
            yield env.timeout(self.think_time(job))
            self.thinking_since = math.nan
            self._busy(start)
            if copy is not None:
                slots = copy
            elif free is not None:
                slots = cell.slots(free[0], free[1], job.cpu, job.memory, False)
            else:
                slots = cell.live_slots(job.cpu, job.memory)
            conflicted = model.decide(self, job, slots, self.optimistic, seen)
            if token is not None:
                cell.release_snapshot(token)
            if conflicted is not None:
                self._transaction(conflicted)
            model.after_attempt(self, job)
            self.deciding = []


Taken = tuple[Job, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, tuple[float, float]]
"""Claims a framework accepted in an offer: the job, nodes, task counts, CPU and memory per
node, the tasks in all and the CPU and memory in all."""


class Offer:
    """Resources the allocator locked for one framework: a private view it decides on."""

    __slots__ = (
        "accepted",
        "cpu",
        "framework",
        "made_at",
        "mem",
        "offered_cpu",
        "offered_mem",
        "shared",
        "takes",
    )

    def __init__(
        self,
        framework: Framework,
        cpu: np.ndarray,
        mem: np.ndarray,
        now: float,
        sums: tuple[float, float] | None = None,
        takes: Takes | None = None,
        shared: bool = False,
    ) -> None:
        self.framework = framework
        self.cpu = cpu  # what is left of the offer as the framework's decisions take from it
        self.mem = mem
        self.made_at = now
        if sums is None:
            sums = (float(np.add.reduce(cpu)), float(np.add.reduce(mem)))
        self.offered_cpu, self.offered_mem = sums
        self.accepted: list[Taken] = []
        # (nodes, cpu, mem) of each take, in order: the cell's own list when it made the
        # offer (`CellState.offer_takes`), and whether the arrays are the cell's free ones
        self.takes: Takes = [] if takes is None else takes
        self.shared = shared

    def take(self, taken: Taken, written: bool = False) -> None:
        """Accept claims of a job: what they cost leaves the offer's arrays (`written`: it
        has left them already, `SchedulingModel.place_on_offer`). Every change to those
        arrays is recorded here, so `takes` says all that was taken, in order
        (`CellState.return_offer` relies on it)."""
        _, nodes, _, dcpu, dmem, _, _ = taken
        if not written:
            self.cpu[nodes] -= dcpu
            self.mem[nodes] -= dmem
        self.accepted.append(taken)
        self.takes.append((nodes, dcpu, dmem))

    def unshare(self, cell: CellState) -> None:
        """Decide from now on on copies of the arrays shared with the cell (before a take
        of claims off the 2^-10 grid, `CellState.offer_takes`)."""
        self.cpu, self.mem = cell.unshare_offer()
        self.shared = False

    def room(self) -> tuple[float, float]:
        """What is left of the offer, in all (before any decision: what was offered)."""
        if not self.accepted:
            return self.offered_cpu, self.offered_mem
        return float(np.add.reduce(self.cpu)), float(np.add.reduce(self.mem))


class Framework(SchedulerAgent):
    """A two-level framework scheduler: it decides only on the resource offers it receives.

    On an offer it takes the jobs from the head of its queue, one attempt each, until the
    offer is used up or the queue is empty, placing what fits (a job may take part of an
    offer). Its answer reaches the allocator after the sum of those decision times; only then
    do the accepted tasks start and the rest of the offer unlock. A job left with unplaced
    tasks tries again `RETRY_DELAY` after its attempt, in a later offer, unless its attempts
    are used up. As in the Omega simulator, each offer is handled when it arrives, so a
    framework may be answering several at once; it is busy while at least one is open.
    """

    def __init__(self, model: SchedulerHost, name: str, handles: Handles, index: int) -> None:
        super().__init__(model, name, handles, index)
        self.offers = 0
        self.open_offers = 0
        self.backing_off: dict[int, Job] = {}  # jobs waiting out RETRY_DELAY, by id

    @property
    def _allocator(self) -> Allocator:
        """The resource manager that makes this framework its offers."""
        allocator = self.model.allocator
        assert allocator is not None  # frameworks exist only under the two-level allocator
        return allocator

    def enqueue(self, job: Job) -> None:
        super().enqueue(job)
        self._allocator.request(self)

    def receive(self, offer: Offer) -> None:
        """Decide now on the offer; the answer goes back after the decisions' total time."""
        env, model = self.env, self.model
        self.offers += 1
        if self.open_offers == 0:
            self.thinking_since = env.now
        self.open_offers += 1
        think = model.scheduler.offer_cost + self._decide(offer)
        if not self.queue:
            self._allocator.cancel(self)  # nothing left to place: stop asking for offers
        answer = env.timeout(think)
        answer.callbacks.append(lambda _event: self._answer(offer))

    def _decide(self, offer: Offer) -> float:
        """Attempt queued jobs on the offer while it has room; the time those decisions take.

        An attempt that finds no node with room for one task places nothing but still counts
        (and takes its decision time): that is how a framework fed small offers uses up its
        jobs' attempts."""
        model, cell = self.model, self.model.cell
        think = 0.0
        room_cpu, room_mem = offer.room()
        no_room: set[tuple[float, float]] = set()  # task shapes no node of the offer can hold
        exact: set[tuple[float, float]] = set()  # shapes whose claims are on the grid
        # slots per task shape on what is left of the offer, updated where it shrinks (the
        # live cell's instances, which bound them with a density limit, stay as they are
        # until the answer), when next read: the nodes taken from since (per shape), which
        # the last decision usually leaves unread
        shapes: dict[tuple[float, float], np.ndarray] = {}
        shrunk: dict[tuple[float, float], list[np.ndarray]] = {}
        retry: list[Job] = []  # jobs to try again RETRY_DELAY from now, in order
        queue, t_task = self.queue, model.t_task
        times: dict[str, float] = {}  # `model.decision_time` per kind of job
        # `model.give_up` is False below these attempts, whatever else (asked only from there)
        max_attempts = model.scheduler.max_attempts
        surely_kept = min(max_attempts, UNPLACED_ATTEMPTS)
        while queue and room_cpu > EPS and room_mem > EPS:
            job = queue.popleft()
            if job.first_attempt != job.first_attempt:  # NaN: `_begin`, inline
                job.first_attempt = self.env.now
            job.attempts += 1
            decision = times.get(job.kind)
            if decision is None:
                decision = times[job.kind] = model.decision_time(job)
            think += decision + t_task * job.unscheduled  # `think_time`
            shape = (job.cpu, job.memory)
            if shape not in no_room:
                slots = shapes.get(shape)
                if slots is None:
                    slots = cell.offered_slots(job.cpu, job.memory)
                    if slots is None:
                        slots = cell.slots(offer.cpu, offer.mem, job.cpu, job.memory, False)
                    shapes[shape] = slots
                    shrunk[shape] = []
                elif shrunk[shape]:
                    # the same numbers as updating them at every decision: each node's
                    # slots come from what is left of it now
                    touched = shrunk[shape]
                    nodes = touched[0] if len(touched) == 1 else np.unique(np.concatenate(touched))
                    touched.clear()
                    if not slots.flags.writeable:  # the cell's, handed out read-only
                        slots = shapes[shape] = slots.copy()
                    slots[nodes] = cell.slots_at(
                        nodes, offer.cpu[nodes], offer.mem[nodes], job.cpu, job.memory
                    )
                if offer.shared and shape not in exact:
                    if cell.claim_sums(job.unscheduled, job.cpu, job.memory) is None:
                        offer.unshare(cell)  # claims off the grid: the cell's arrays kept
                    else:
                        exact.add(shape)
                unique, counts, dcpu, dmem, placed, written = model.place_on_offer(
                    self, job, slots, offer.cpu, offer.mem
                )
                if not len(unique) and not slots.any():
                    no_room.add(shape)  # the offer only shrinks: it stays so for this offer
                if len(unique):
                    sums = cell.claim_sums(placed, job.cpu, job.memory)
                    if sums is None:
                        # np.add.reduce is what .sum() calls, without its Python layers
                        sums = (float(np.add.reduce(dcpu)), float(np.add.reduce(dmem)))
                    offer.take((job, unique, counts, dcpu, dmem, placed, sums), written)
                    for touched in shrunk.values():
                        touched.append(unique)
                    room_cpu -= sums[0]
                    room_mem -= sums[1]
                    job.unscheduled -= placed
                    job.promised += placed
            if job.unscheduled and (job.attempts < surely_kept or not model.give_up(self, job)):
                self.backing_off[job.id] = job
                retry.append(job)
        if retry:
            self._back_off(retry)
        return think

    def _back_off(self, jobs: list[Job]) -> None:
        """These jobs ask again after `RETRY_DELAY`, in this order: one event for them all,
        which is what one event each comes to (events due at the same time run in the order
        they were made, and nothing else is made between these)."""
        retry = self.env.timeout(RETRY_DELAY)
        retry.callbacks.append(lambda _event: self._retry(jobs))

    def _retry(self, jobs: list[Job]) -> None:
        """`enqueue` of each job in turn, asking for offers once (asking again changes
        nothing: a framework has no wake-up event of its own)."""
        backing_off, queue, name = self.backing_off, self.queue, self.name
        for job in jobs:
            del backing_off[job.id]
            job.scheduler = name
            queue.append(job)
        self._allocator.request(self)

    def _answer(self, offer: Offer) -> None:
        """The framework's answer: accepted tasks start, the rest of the offer unlocks."""
        model, now = self.model, self.env.now
        for taken in offer.accepted:
            job = taken[0]
            lost = model.commit_offer(self, taken)
            if lost and job.id not in self.backing_off and job not in self.queue:
                if math.isnan(job.abandoned_at):
                    self.enqueue(job)  # its nodes failed while the framework was deciding
            elif job.unscheduled == 0 and job.promised == 0:
                job.scheduled_at = now
            self._transaction(False)
        self._allocator.returned(offer)
        self.open_offers -= 1
        if self.open_offers == 0:
            self._busy(self.thinking_since)
            self.thinking_since = math.nan


class Allocator:
    """The two-level resource manager, after the Omega simulator's Mesos allocator.

    A framework asks for offers while it has jobs queued. At most `OFFER_INTERVAL` after
    something changes (a request, a task's end, an answer to an offer, a repair), the
    allocator makes one offer: *all* free resources not already locked in an offer, to the
    requesting framework with the lowest dominant share of resources in use (DRF) or the next
    in turn (round-robin), and only if they come to at least `MIN_OFFER_CPU_SHARE` of the
    cell. They stay locked, hidden from every other framework, until that framework answers.
    """

    def __init__(self, model: SchedulerHost, frameworks: list[Framework], policy: str) -> None:
        self.model = model
        self.frameworks = frameworks
        self.policy = policy
        self.next_rr = 0
        self.requesting = [False] * len(frameworks)
        self.min_cpu = MIN_OFFER_CPU_SHARE * model.cell.total_cpu
        model.cell.share_offers = True  # `Offer` records its takes, `Framework` unshares
        self._round_due = False

    def request(self, framework: Framework) -> None:
        self.requesting[framework.index] = True
        self.wake()

    def cancel(self, framework: Framework) -> None:
        self.requesting[framework.index] = False

    def wake(self) -> None:
        """Something changed: make the next offer `OFFER_INTERVAL` from now (once)."""
        if self._round_due:
            return
        self._round_due = True
        event = self.model.env.timeout(OFFER_INTERVAL)
        event.callbacks.append(self._round)

    def _round(self, _event: object) -> None:
        self._round_due = False
        if not any(self.requesting):
            return
        now = self.model.env.now
        offered = self.model.cell.offer_all(now, self.min_cpu)
        if offered is None:
            return  # too little to offer: wait for more to free up
        cpu, mem, cpu_sum, mem_sum = offered
        pick = offer_pick(self.policy, self.model.shares(), self.requesting, self.next_rr)
        self.next_rr = (pick + 1) % len(self.frameworks)
        takes, shared = self.model.cell.offer_takes(cpu)
        offer = Offer(self.frameworks[pick], cpu, mem, now, (cpu_sum, mem_sum), takes, shared)
        self.frameworks[pick].receive(offer)

    def returned(self, offer: Offer) -> None:
        """The answer is in: what the framework did not take goes back to the pool."""
        model, now = self.model, self.model.env.now
        model.cell.return_offer(now, offer.cpu, offer.mem, offer.takes)
        offer.framework.locked_cpu_s += model.clip_period(offer.made_at, now) * offer.offered_cpu
        self.wake()


def offer_pick(
    policy: str, shares: Sequence[float], requesting: Sequence[bool], next_rr: int
) -> int:
    """Which requesting framework gets the next offer: DRF, or round-robin from `next_rr`."""
    if policy == "drf":
        return drf_pick(shares, requesting)
    count = len(requesting)
    return next(i for i in ((next_rr + k) % count for k in range(count)) if requesting[i])
