"""The scheduling subsystem of a run: cell, workloads, schedulers and failures, wired together.

The registry (`simulator.subsystems.scheduling`) builds a `SchedulingModel` from the run's
context when the scenario has a `scheduler`. It simulates on the run's environment and random
streams and, once the horizon is reached, hands back its records (`records`, see
`simulator.records.scheduling`); `simulator.metrics.scheduling` turns them into KPIs and tables.

Cost per job, for speed at 10,000 nodes: one SimPy event per arrival, one per decision (per
offer in two-level, plus the allocator's offer rounds, at most one a second) and one per
committed claim's end (not per task); placement works on numpy arrays, on slots per node
that the cell keeps up to date node by node rather than recomputing for every decision, and
random first-fit, the default policy, scans task by task in compiled code (`kernels`).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np
import simpy

from ...records.scheduling import (
    KINDS,
    NO_SCHEDULER,
    ORIGINS,
    PREFILL,
    FailureRecord,
    FailureScope,
    JobRecords,
    SchedulerRecord,
    SchedulingRecords,
    UtilisationSamples,
)
from ...scenario.cluster import (
    Cluster,
    Count,
    JobClass,
    Replicas,
    Runtime,
    RuntimeSpec,
    Workloads,
    default_runtimes,
)
from ...scenario.distributions import Distribution
from ...scenario.units import format_duration
from ..context import RunContext
from .cell import CellState
from .jobs import UNPLACED_ATTEMPTS, Claim, Job
from .placement import (
    POLICIES,
    claims,
    load_kernels,
    random_first_fit,
)
from .schedulers import Allocator, Framework, QueueScheduler, SchedulerAgent, Taken

SAMPLES = 240
"""Cluster utilisation is sampled this many times over the measured period (heat map)."""

LOGGED_ABANDONMENTS = 20
"""Abandonments logged one by one before the log only counts them (the log explains, the
jobs table records)."""


class SchedulingModel:
    """Cell state, job arrivals, the scheduler architecture and failures of one run."""

    def __init__(self, context: RunContext) -> None:
        scenario = context.scenario
        assert scenario.scheduler is not None
        env, events = context.env, context.events
        self.env = env
        self.scenario = scenario
        self.scheduler = scenario.scheduler
        self.cluster = scenario.cluster or Cluster()
        self.workloads = scenario.workloads or Workloads()
        self.streams = context.streams
        self.events = events
        self.t_task = self.scheduler.t_task
        self.warmup, self.horizon = scenario.warmup, scenario.horizon
        self.cell = self._build_cell()
        self._kernels = load_kernels()
        self._scratch = np.zeros(self.cell.n, dtype=np.int64)  # random first-fit's, all zeros
        self._build_images()
        self.policy = POLICIES[self.scheduler.placement]
        # optimistic decisions place and check in one compiled call (`decide`)
        self._fused = self.policy is random_first_fit and self.scheduler.conflict_mode == "fine"
        self._incremental = self.scheduler.commit_mode != "all-or-nothing"
        self._placement_draws: dict[str, _Draws] = {}
        self._decision_times: dict[str, float] = {}
        self.jobs: list[Job] = []
        self.running: dict[int, Claim] = {}
        self._claim_ids = 0
        # where claims were started, for failures to find the claims they hit (None: no
        # failures, nothing kept)
        self._where: _ClaimIndex | None = _ClaimIndex() if self.cluster.failures.enabled else None
        self.abandoned = 0
        self.failures: list[FailureRecord] = []
        self._records: SchedulingRecords | None = None
        self._build_schedulers()
        self._prefill()
        self._submit_microservices()
        for kind in ("batch", "service"):
            spec = getattr(self.workloads, kind)
            if spec is not None:
                env.process(self._arrivals(kind, spec))
        if self.cluster.failures.enabled:
            self._start_failures()
        self._samples: dict[str, array[float]] = {
            k: array("d") for k in ("time", "cpu", "mem", "up")
        }
        self._sample_rack = array("i")
        env.process(self._sample())
        events.record(
            0.0,
            "scheduling",
            "started",
            f"{self.scheduler.architecture} over {self.cell.n} nodes "
            f"({self.cell.total_cpu:g} cores, {self.cell.total_mem:g} GB), "
            f"{', '.join(s.name for s in self.schedulers)}",
        )

    # -- construction --------------------------------------------------------------------
    def _build_cell(self) -> CellState:
        cluster = self.cluster
        types = cluster.node_type_list()
        runtimes = [_runtime(cluster, spec.runtime) for _, spec in types]

        def per_node(values: list[float]) -> np.ndarray:
            return np.repeat(np.asarray(values, dtype=float), [t.count for _, t in types])

        self.start_time = per_node([r.start_time for r in runtimes])
        self.price = per_node([t.price_per_hour for _, t in types])
        self.boot = per_node([t.boot_time for _, t in types])
        starts = {r.start_time for r in runtimes}
        # one start time for every node: a claim's delay needs no look-up over its nodes
        self._start_time: float | None = starts.pop() if len(starts) == 1 else None
        n = len(self.price)
        return CellState(
            per_node([t.cpu for _, t in types]),
            per_node([t.memory_gb for _, t in types]),
            per_node([r.overhead_cpu for r in runtimes]),
            per_node([r.overhead_memory_gb for r in runtimes]),
            per_node([r.density_limit for r in runtimes]).astype(np.int64),
            np.arange(n) // cluster.nodes_per_rack,
            self.warmup,
            sequence_numbers=self.scheduler.conflict_mode == "coarse",
        )

    def _build_images(self) -> None:
        """A layer cache per node: a boolean matrix of nodes × every layer of every image."""
        layers: dict[str, float] = {}
        for image in self.workloads.images.values():
            layers.update(image.layers)
        self.layer_names = list(layers)
        self.layer_mb = np.asarray([layers[k] for k in self.layer_names], dtype=float)
        self.image_names = list(self.workloads.images)
        self.image_layers = [
            np.asarray([self.layer_names.index(k) for k in image.layers], dtype=np.int64)
            for image in self.workloads.images.values()
        ]
        self.cache = np.zeros((self.cell.n, len(self.layer_names)), dtype=bool)

    def _build_schedulers(self) -> None:
        architecture = self.scheduler.architecture
        self.schedulers: list[SchedulerAgent] = []
        self.allocator: Allocator | None = None
        if architecture.startswith("monolithic"):
            self.schedulers.append(QueueScheduler(self, "monolithic", "all", 0, optimistic=False))
            self.batch_schedulers = self.service_schedulers = self.schedulers
            return
        batch_names = (
            ["batch"]
            if self.scheduler.batch_schedulers == 1
            else [f"batch-{i}" for i in range(self.scheduler.batch_schedulers)]
        )
        if architecture == "shared-state":
            self.schedulers = [
                QueueScheduler(self, name, "batch", i, optimistic=True)
                for i, name in enumerate(batch_names)
            ]
            self.schedulers.append(
                QueueScheduler(self, "service", "service", len(batch_names), optimistic=True)
            )
        else:
            frameworks = [Framework(self, name, "batch", i) for i, name in enumerate(batch_names)]
            frameworks.append(Framework(self, "service", "service", len(batch_names)))
            self.schedulers = list(frameworks)
            self.allocator = Allocator(self, frameworks, self.scheduler.allocator)
        self.batch_schedulers = self.schedulers[:-1]
        self.service_schedulers = self.schedulers[-1:]
        # Python floats: the same IEEE sums as numpy's, and DRF reads them every offer
        self._owner_cpu = [0.0] * len(self.schedulers)
        self._owner_mem = [0.0] * len(self.schedulers)
        self._next_batch = 0

    def _new_job(
        self, kind: str, origin: str, tasks: int, duration: float, spec: JobClass | Replicas
    ) -> Job:
        image = -1 if spec.image is None else self.image_names.index(spec.image)
        job = Job(
            len(self.jobs),
            kind,
            origin,
            self.env.now,
            tasks,
            duration,
            spec.cpu,
            spec.memory_gb,
            image,
            spec.anti_affinity,
        )
        self.jobs.append(job)
        return job

    def _prefill(self) -> None:
        """Long-running work already in the cell at time 0, placed without a scheduler."""
        cluster = self.cluster
        if cluster.prefill <= 0:
            return
        target = cluster.prefill * self.cell.total_cpu
        per_task = cluster.prefill_cpu
        tasks = int(target // per_task)
        rng = self.streams.get("scheduling/prefill")
        free_cpu, free_mem = self.cell.free()
        slots = self.cell.slots(free_cpu, free_mem, per_task, cluster.prefill_memory_gb, False)
        nodes = random_first_fit(slots, tasks, rng.random(tasks))
        size = 100
        for first in range(0, len(nodes), size):
            chunk = nodes[first : first + size]
            job = Job(
                len(self.jobs),
                "service",
                "prefill",
                0.0,
                len(chunk),
                math.inf,
                per_task,
                cluster.prefill_memory_gb,
            )
            job.scheduler = "prefill"
            job.first_attempt = job.scheduled_at = 0.0
            self.jobs.append(job)
            unique, counts = claims(chunk)
            dcpu, dmem = self.cell.deltas(unique, counts, job.cpu, job.memory)
            self._apply(-1, job, unique, counts, dcpu, dmem)
        self.events.record(
            0.0,
            "scheduling",
            "prefilled",
            f"{len(nodes)} long-running tasks take "
            f"{len(nodes) * per_task / self.cell.total_cpu:.0%} of the cell's CPU",
        )

    def _submit_microservices(self) -> None:
        """Each service's replicas become one long-running service job at time 0."""
        spec = self.workloads.microservices
        for name, service in self.scenario.services.items():
            job = self._new_job("service", "microservice", service.replicas, math.inf, spec)
            self.submit(job)
            self.events.record(
                0.0, f"service/{name}", "submitted", f"{service.replicas} replicas as job {job.id}"
            )

    def _arrivals(self, kind: str, spec: JobClass) -> Generator[simpy.Event, Any, None]:
        rng = self.streams.get(f"scheduling/workload/{kind}")
        gap = spec.interarrival.sampler(rng)
        length = spec.duration.sampler(rng)
        tasks = _count_sampler(spec.tasks, rng)
        env = self.env
        while True:
            yield env.timeout(gap())
            self.submit(self._new_job(kind, kind, tasks(), length(), spec))

    # -- decisions -----------------------------------------------------------------------
    def decision_time(self, job: Job) -> float:
        time = self._decision_times.get(job.kind)
        if time is None:
            time = self._decision_times[job.kind] = self.scheduler.decision_time(job.kind)
        return time

    def submit(self, job: Job) -> None:
        if job.kind == "service" or len(self.batch_schedulers) == 1:
            target = (
                self.service_schedulers[0] if job.kind == "service" else self.batch_schedulers[0]
            )
        else:
            target = self.batch_schedulers[self._next_batch]
            self._next_batch = (self._next_batch + 1) % len(self.batch_schedulers)
        target.jobs += 1
        target.enqueue(job)

    def place(
        self, scheduler: SchedulerAgent, job: Job, slots: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Claims (distinct nodes, ascending, and tasks on each) for the job's unscheduled
        tasks, by the scenario's policy, on what it sees: `slots`, the tasks of its shape
        that fit per node (not changed here)."""
        if job.anti_affinity:
            slots = np.minimum(slots, 1)
            if job.placed:
                slots[self._nodes_of(job)] = 0
        draws = self._draws(scheduler).take(max(job.unscheduled, 1))
        if self.policy is random_first_fit:
            # compiled, one task after the other: `random_first_fit_claims`' counts
            return self._kernels.random_first_fit_claims(
                slots, job.unscheduled, draws, self._scratch
            )
        return claims(self.policy(slots, job.unscheduled, draws))

    def place_on_offer(
        self,
        scheduler: SchedulerAgent,
        job: Job,
        slots: np.ndarray,
        offer_cpu: np.ndarray,
        offer_mem: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, bool]:
        """A framework's `place` on its offer, the claims' deltas (`CellState.deltas`) and
        the tasks placed: the nodes, tasks, CPU and memory of the claims, the tasks in all,
        and whether the offer's arrays have the claims taken off already (random first-fit,
        which does all of it in one compiled call, `kernels.place_take`: the same kernels
        and the same element-wise subtraction as `Offer.take`)."""
        if self.policy is not random_first_fit or job.anti_affinity:
            unique, counts = self.place(scheduler, job, slots)
            if not len(unique):
                return unique, counts, _EMPTY_FLOATS, _EMPTY_FLOATS, 0, False
            dcpu, dmem = self.cell.deltas(unique, counts, job.cpu, job.memory)
            return unique, counts, dcpu, dmem, int(np.add.reduce(counts)), False
        draws = self._draws(scheduler).take(max(job.unscheduled, 1))
        cell = self.cell
        if cell.no_overhead and job.cpu > 0.0 and job.memory > 0.0:  # size + 0.0 is size
            unique, counts, dcpu, dmem, placed = self._kernels.place_take_bare(
                slots, job.unscheduled, draws, self._scratch, job.cpu, job.memory,
                offer_cpu, offer_mem,
            )  # fmt: skip
            return unique, counts, dcpu, dmem, placed, True
        unique, counts, dcpu, dmem, placed = self._kernels.place_take(
            slots, job.unscheduled, draws, self._scratch, job.cpu, job.memory,
            cell.overhead_cpu, cell.overhead_mem, offer_cpu, offer_mem,
        )  # fmt: skip
        return unique, counts, dcpu, dmem, placed, True

    def decide(
        self,
        scheduler: SchedulerAgent,
        job: Job,
        slots: np.ndarray,
        optimistic: bool,
        seen: np.ndarray | None = None,
    ) -> bool | None:
        """`place` and, if anything was placed, `commit`: whether any claim conflicted
        (None if nothing was placed). An optimistic decision with random first-fit and fine
        conflicts (shared-state's) does both in one compiled call, `CellState.place_commit`
        (the start of the claims that do not conflict included): the same kernels in the
        same order, so the same numbers."""
        if not (optimistic and self._fused) or job.anti_affinity:
            unique, counts = self.place(scheduler, job, slots)
            if not len(unique):
                return None
            return self.commit(scheduler, job, unique, counts, optimistic, seen)
        draws = self._draws(scheduler).take(max(job.unscheduled, 1))
        cell = self.cell
        # with incremental commits the claims that do not conflict start in the same call
        unique, counts, dcpu, dmem, placed, outcome = cell.place_commit(
            slots, job.unscheduled, draws, self._scratch, job.cpu, job.memory, self._incremental
        )
        if placed:
            sums = cell.claim_sums(placed, job.cpu, job.memory)
            self._apply(scheduler.index, job, unique, counts, dcpu, dmem, placed, sums, True)
        return None if outcome < 0 else outcome > 0

    def _draws(self, scheduler: SchedulerAgent) -> _Draws:
        draws = self._placement_draws.get(scheduler.name)
        if draws is None:
            rng = self.streams.get(f"scheduling/{scheduler.name}/placement")
            draws = self._placement_draws[scheduler.name] = _Draws(rng)
        return draws

    def _nodes_of(self, job: Job) -> np.ndarray:
        held = [c.nodes for c in self.running.values() if c.job is job]
        return np.concatenate(held) if held else np.empty(0, dtype=np.int64)

    def commit(
        self,
        scheduler: SchedulerAgent,
        job: Job,
        unique: np.ndarray,
        counts: np.ndarray,
        optimistic: bool,
        seen: np.ndarray | None = None,
    ) -> bool:
        """Commit a placement's claims (`place`); if it was made on a snapshot (`optimistic`),
        check conflicts first (coarse ones against the snapshot's sequence numbers, `seen`).
        True if any."""
        conflicted = False
        bad: np.ndarray | None = None
        if optimistic and self.scheduler.conflict_mode == "fine":
            dcpu, dmem, bad = self.cell.fine_check(unique, counts, job.cpu, job.memory)
        else:
            dcpu, dmem = self.cell.deltas(unique, counts, job.cpu, job.memory)
            if optimistic:
                bad = self.cell.conflicts(
                    unique,
                    dcpu,
                    dmem,
                    counts,
                    None if seen is None else seen[unique],
                    self.scheduler.conflict_mode,
                )
                if not np.logical_or.reduce(bad):
                    bad = None
        if bad is not None:
            conflicted = True
            if self.scheduler.commit_mode == "all-or-nothing":
                return True
            keep = ~bad
            unique, counts, dcpu, dmem = unique[keep], counts[keep], dcpu[keep], dmem[keep]
        if len(unique):
            self._apply(scheduler.index, job, unique, counts, dcpu, dmem)
        return conflicted

    def commit_offer(self, scheduler: SchedulerAgent, taken: Taken) -> int:
        """Start tasks a framework accepted in its offer (they cannot conflict: the offer was
        locked). Tasks on nodes that failed meanwhile go back to the job: how many."""
        job, nodes, counts, dcpu, dmem, total, sums = taken
        cell, now = self.cell, self.env.now
        up = cell.up_among(nodes)
        # every node up: the start below marks the same nodes changed, right after
        cell.unlock(now, nodes, dcpu, dmem, sums[0], sums[1], touch=up is not None)
        job.promised -= total
        job.unscheduled += total  # `_apply` moves the started ones to `placed`
        if up is None:  # every node is up: the claims start whole, as added up when taken
            self._apply(scheduler.index, job, nodes, counts, dcpu, dmem, total, sums)
            return 0
        nodes, counts, dcpu, dmem = nodes[up], counts[up], dcpu[up], dmem[up]
        if len(nodes):
            self._apply(scheduler.index, job, nodes, counts, dcpu, dmem)
        return total - int(np.add.reduce(counts))

    def _apply(
        self,
        owner: int,
        job: Job,
        nodes: np.ndarray,
        counts: np.ndarray,
        dcpu: np.ndarray,
        dmem: np.ndarray,
        placed: int | None = None,
        sums: tuple[float, float] | None = None,
        written: bool = False,
    ) -> None:
        """Start claims (`placed`, `sums`: their tasks and CPU and memory in all, if known;
        `written`: the cell's arrays have them already, `CellState.place_commit`)."""
        now = self.env.now
        if placed is None:
            placed = int(np.add.reduce(counts))
            sums = self.cell.claim_sums(placed, job.cpu, job.memory)
        sums = self.cell.apply(now, nodes, counts, dcpu, dmem, sums, written)
        job.placed += placed
        job.unscheduled -= placed
        if not len(nodes):
            delay = 0.0
        elif self._start_time is not None:
            delay = self._start_time
        else:
            delay = float(self.start_time[nodes].max())
        if job.image >= 0:
            layers = self.image_layers[job.image]
            missing = ~self.cache[np.ix_(nodes, layers)]
            pull = (missing @ self.layer_mb[layers]) / self.cluster.pull_bandwidth_mb_s
            delay = float((self.start_time[nodes] + pull).max())
            self.cache[np.ix_(nodes, layers)] = True
        job.start_delay = max(job.start_delay, delay)
        end = now + delay + job.duration
        claim = Claim(job, owner, nodes, counts, dcpu, dmem, end, sums, placed)
        self._claim_ids += 1
        key = self._claim_ids
        self.running[key] = claim
        if self._where is not None:
            self._where.add(key, nodes)
        if owner >= 0 and self.allocator is not None:
            self._owner_cpu[owner] += sums[0]
            self._owner_mem[owner] += sums[1]
        if math.isfinite(end):
            event = self.env.timeout(delay + job.duration)

            def ended(_event: simpy.Event, key: int = key) -> None:
                self._end(key)

            event.callbacks.append(ended)

    def _end(self, key: int) -> None:
        claim = self.running.pop(key, None)
        if claim is None or not claim.alive:
            return
        claim.job.finished += claim.tasks
        self._release(claim, claim.nodes, claim.counts, claim.dcpu, claim.dmem, claim.sums)

    def _release(
        self,
        claim: Claim,
        nodes: np.ndarray,
        counts: np.ndarray,
        dcpu: np.ndarray,
        dmem: np.ndarray,
        sums: tuple[float, float] | None = None,
    ) -> None:
        if sums is None:
            sums = (float(dcpu.sum()), float(dmem.sum()))
        self.cell.release(self.env.now, nodes, counts, dcpu, dmem, sums)
        if claim.owner >= 0 and self.allocator is not None:
            self._owner_cpu[claim.owner] -= sums[0]
            self._owner_mem[claim.owner] -= sums[1]
            self.allocator.wake()

    def after_attempt(self, scheduler: SchedulerAgent, job: Job) -> None:
        """Done, retried at the back of the queue, or abandoned (`give_up`)."""
        if job.unscheduled == 0:
            job.scheduled_at = self.env.now
            return
        if not self.give_up(scheduler, job):
            scheduler.queue.append(job)

    def give_up(self, scheduler: SchedulerAgent, job: Job) -> bool:
        """Abandon a job not fully placed if its attempts are used up (then True).

        The Omega simulator's rule: after `max_attempts` (1,000) attempts, or after
        UNPLACED_ATTEMPTS (100) in which not one of its tasks found a place."""
        never_placed = job.placed + job.promised == 0 and job.attempts >= UNPLACED_ATTEMPTS
        if job.attempts < self.scheduler.max_attempts and not never_placed:
            return False
        now = self.env.now
        job.abandoned_at = now
        self.abandoned += 1
        if self.abandoned <= LOGGED_ABANDONMENTS:
            self.events.record(
                now,
                f"scheduler/{scheduler.name}",
                "job_abandoned",
                f"{job.kind} job {job.id}: {job.unscheduled} of {job.tasks} tasks unplaced "
                f"after {job.attempts} attempts",
            )
        return True

    def shares(self) -> list[float]:
        """Each framework's dominant share: its larger share of CPU or of memory (DRF)."""
        total_cpu, total_mem = self.cell.total_cpu, self.cell.total_mem
        owned = zip(self._owner_cpu, self._owner_mem, strict=True)
        return [max(c / total_cpu, m / total_mem) for c, m in owned]

    def clip_period(self, start: float, end: float) -> float:
        return max(0.0, min(end, self.horizon) - max(start, self.warmup))

    # -- failures ------------------------------------------------------------------------
    def _start_failures(self) -> None:
        spec = self.cluster.failures
        n = self.cell.n
        racks = int(self.cell.rack.max()) + 1
        domain_size = spec.nodes_per_power_domain
        domains = math.ceil(n / domain_size)
        scopes: list[
            tuple[FailureScope, float, Callable[[np.random.Generator], np.ndarray], Distribution]
        ] = [
            ("node", n / spec.node_mtbf, lambda rng: np.array([rng.integers(n)]), spec.node_repair),
            (
                "rack",
                racks / spec.rack_mtbf,
                lambda rng: np.flatnonzero(self.cell.rack == rng.integers(racks)),
                spec.rack_repair,
            ),
            (
                "power",
                domains / spec.power_mtbf,
                lambda rng: np.arange(n)[
                    (first := int(rng.integers(domains)) * domain_size) : first + domain_size
                ],
                spec.power_repair,
            ),
        ]
        for scope, rate, pick, repair in scopes:
            rng = self.streams.get(f"scheduling/failures/{scope}")
            self.env.process(self._failures(scope, rate, pick, repair.sampler(rng), rng))

    def _failures(
        self,
        scope: FailureScope,
        rate: float,
        pick: Callable[[np.random.Generator], np.ndarray],
        repair: Callable[[], float],
        rng: np.random.Generator,
    ) -> Generator[simpy.Event, Any, None]:
        while True:
            yield self.env.timeout(rng.exponential(1.0 / rate))
            self.fail(scope, pick(rng), repair())

    def fail(self, scope: FailureScope, nodes: np.ndarray, down_for: float) -> None:
        """Take nodes down: their tasks die and are resubmitted; they return after repair."""
        cell, now = self.cell, self.env.now
        nodes = nodes[cell.up[nodes]]
        if len(nodes) == 0:
            return
        cell.set_up(now, nodes, False)
        self.cache[nodes] = False  # a repaired or replaced machine starts with no layers
        mask = np.zeros(cell.n, dtype=bool)
        mask[nodes] = True
        killed_tasks = jobs_hit = 0
        where = self._where
        if where is None:  # failures off, yet a failure: index the claims from now on
            where = self._where = _ClaimIndex()
        # the running claims on these nodes, in the order of `running` (ascending keys):
        # the same claims as testing every running claim, found without a pass over them
        for key in where.among(mask, self.running):
            claim = self.running.get(key)
            if claim is None:
                continue  # ended
            hit = mask[claim.nodes]
            if not np.logical_or.reduce(hit):
                continue
            killed = int(claim.counts[hit].sum())
            self._release(
                claim, claim.nodes[hit], claim.counts[hit], claim.dcpu[hit], claim.dmem[hit]
            )
            keep = ~hit
            claim.set(claim.nodes[keep], claim.counts[keep], claim.dcpu[keep], claim.dmem[keep])
            if not len(claim.nodes):
                claim.alive = False
                del self.running[key]
            job = claim.job
            job.killed += killed
            killed_tasks += killed
            jobs_hit += 1
            remaining = claim.end - now if math.isfinite(claim.end) else math.inf
            again = Job(
                len(self.jobs),
                job.kind,
                "rescheduled",
                now,
                killed,
                max(remaining, 0.0),
                job.cpu,
                job.memory,
                job.image,
                job.anti_affinity,
                parent=job.id,
            )
            self.jobs.append(again)
            self.submit(again)
        back = down_for + float(self.boot[nodes].max())
        self.failures.append(
            FailureRecord(
                now,
                scope,
                int(nodes[0]),
                len(nodes),
                back,
                float(cell.cap_cpu[nodes].sum()),
                killed_tasks,
                jobs_hit,
            )
        )
        self.events.record(
            now,
            f"cluster/{scope}",
            "failed",
            f"{len(nodes)} nodes from {int(nodes[0])} down for {format_duration(round(back))}; "
            f"{killed_tasks} tasks of {jobs_hit} jobs resubmitted",
        )
        repair = self.env.timeout(back)
        repair.callbacks.append(lambda _e: self._repair(scope, nodes))

    def _repair(self, scope: str, nodes: np.ndarray) -> None:
        self.cell.set_up(self.env.now, nodes, True)
        self.events.record(
            self.env.now, f"cluster/{scope}", "repaired", f"{len(nodes)} nodes from {nodes[0]} up"
        )
        if self.allocator is not None:
            self.allocator.wake()

    # -- measurement ---------------------------------------------------------------------
    def _sample(self) -> Generator[simpy.Event, Any, None]:
        """CPU and memory in use per rack, at SAMPLES instants over the measured period."""
        env, cell = self.env, self.cell
        interval = (self.horizon - self.warmup) / SAMPLES
        starts = np.flatnonzero(np.r_[True, cell.rack[1:] != cell.rack[:-1]])
        cap_cpu = np.add.reduceat(cell.cap_cpu, starts)
        cap_mem = np.add.reduceat(cell.cap_mem, starts)
        racks = cell.rack[starts].tolist()
        # nodes up per rack while none has ever failed: every node (the same sums of ones)
        every = np.add.reduceat(np.ones(cell.n), starts).tolist()
        yield env.timeout(self.warmup)
        while True:
            s = self._samples
            s["time"].extend([env.now] * len(racks))
            s["cpu"].extend((np.add.reduceat(cell.used_cpu, starts) / cap_cpu).tolist())
            s["mem"].extend((np.add.reduceat(cell.used_mem, starts) / cap_mem).tolist())
            if cell.ever_down:
                s["up"].extend(np.add.reduceat(cell.up.astype(float), starts).tolist())
            else:
                s["up"].extend(every)
            self._sample_rack.extend(racks)
            yield env.timeout(interval)

    def records(self) -> SchedulingRecords:
        """The run's records, taken once at the horizon: decisions still under way count as
        busy up to the horizon, and the cell's time integrals end there."""
        if self._records is None:
            self._records = self._take_records()
        return self._records

    def _take_records(self) -> SchedulingRecords:
        for scheduler in self.schedulers:
            if not math.isnan(scheduler.thinking_since):
                scheduler.busy_start.append(scheduler.thinking_since)
                scheduler.busy_end.append(self.horizon)
        areas = self.cell.finish(self.horizon)
        if self.abandoned > LOGGED_ABANDONMENTS:
            self.events.record(
                self.horizon,
                "scheduling",
                "jobs_abandoned",
                f"{self.abandoned} jobs abandoned in all (the first {LOGGED_ABANDONMENTS} "
                "are logged)",
            )
        samples = self._samples
        return SchedulingRecords(
            jobs=self._job_records(),
            schedulers=tuple(_scheduler_record(s) for s in self.schedulers),
            utilisation=UtilisationSamples(
                time=np.array(samples["time"]),
                rack=np.array(self._sample_rack),
                cpu=np.array(samples["cpu"]),
                memory=np.array(samples["mem"]),
                nodes_up=np.array(samples["up"]).astype(int),
            ),
            failures=tuple(self.failures),
            total_cpu=self.cell.total_cpu,
            total_memory_gb=self.cell.total_mem,
            price_per_hour=float(self.price.sum()),
            used_cpu_s=float(areas[0]),
            used_memory_gb_s=float(areas[1]),
            locked_cpu_s=float(areas[2]),
            down_cpu_s=float(areas[3]),
        )

    def _job_records(self) -> JobRecords:
        """Every job's state at the horizon, as columns (one pass, after the run: the hot path
        only updates `Job` objects)."""
        jobs = self.jobs
        running = np.zeros(len(jobs), dtype=np.int64)
        for claim in self.running.values():
            running[claim.job.id] += claim.tasks
        waiting = np.zeros(len(jobs), dtype=bool)
        for scheduler in self.schedulers:
            held = [*scheduler.queue, *scheduler.deciding]
            held.extend(getattr(scheduler, "backing_off", {}).values())
            waiting[[job.id for job in held]] = True
        kind = {name: code for code, name in enumerate(KINDS)}
        origin = {name: code for code, name in enumerate(ORIGINS)}
        by_name = {s.name: index for index, s in enumerate(self.schedulers)}
        by_name.update({"": NO_SCHEDULER, "prefill": PREFILL})

        def ints(values: list[int]) -> np.ndarray:
            return np.asarray(values, dtype=np.int64)

        def floats(values: list[float]) -> np.ndarray:
            return np.asarray(values, dtype=float)

        return JobRecords(
            kind=np.asarray([kind[j.kind] for j in jobs], dtype=np.int8),
            origin=np.asarray([origin[j.origin] for j in jobs], dtype=np.int8),
            parent=ints([j.parent for j in jobs]),
            scheduler=np.asarray([by_name[j.scheduler] for j in jobs], dtype=np.int16),
            submit=floats([j.submit for j in jobs]),
            tasks=ints([j.tasks for j in jobs]),
            cpu=floats([j.cpu for j in jobs]),
            memory_gb=floats([j.memory for j in jobs]),
            duration=floats([j.duration for j in jobs]),
            attempts=ints([j.attempts for j in jobs]),
            first_attempt=floats([j.first_attempt for j in jobs]),
            scheduled=floats([j.scheduled_at for j in jobs]),
            abandoned=floats([j.abandoned_at for j in jobs]),
            placed=ints([j.placed for j in jobs]),
            promised=ints([j.promised for j in jobs]),
            unscheduled=ints([j.unscheduled for j in jobs]),
            killed=ints([j.killed for j in jobs]),
            finished=ints([j.finished for j in jobs]),
            running=running,
            waiting=waiting,
            start_delay_s=floats([j.start_delay for j in jobs]),
        )


class _ClaimIndex:
    """Every claim's nodes as it started, flat, with its key: a superset of where the
    running claims are (ended claims stay until the next rebuild, and a claim a failure
    shrinks keeps its old nodes), so a failure finds the claims it may hit with one
    look-up over the flat arrays instead of one numpy call per running claim."""

    __slots__ = ("keys", "new_keys", "new_nodes", "nodes", "rebuilt")

    def __init__(self) -> None:
        self.nodes = np.empty(0, dtype=np.int64)
        self.keys = np.empty(0, dtype=np.int64)
        self.new_nodes: list[np.ndarray] = []
        self.new_keys: list[np.ndarray] = []
        self.rebuilt = 0  # entries at the last rebuild

    def add(self, key: int, nodes: np.ndarray) -> None:
        self.new_nodes.append(nodes)
        self.new_keys.append(np.full(len(nodes), key, dtype=np.int64))

    def among(self, failed: np.ndarray, running: dict[int, Claim]) -> list[int]:
        """Keys, ascending and distinct, of the claims that had a node where `failed`
        (a mask over nodes) is true: every running claim with a failed node among them
        (`running`'s order, since keys only grow), and perhaps some that ended."""
        if sum(map(len, self.new_nodes)) + len(self.nodes) > 2 * self.rebuilt + 4096:
            self._rebuild(running)  # mostly ended claims: keep the running ones only
        elif self.new_nodes:
            self.nodes = np.concatenate([self.nodes, *self.new_nodes])
            self.keys = np.concatenate([self.keys, *self.new_keys])
        self.new_nodes.clear()
        self.new_keys.clear()
        keys: list[int] = np.unique(self.keys[failed[self.nodes]]).tolist()
        return keys

    def _rebuild(self, running: dict[int, Claim]) -> None:
        claims = list(running.values())
        self.nodes = np.concatenate([np.empty(0, dtype=np.int64), *(c.nodes for c in claims)])
        self.keys = np.repeat(
            np.fromiter(running, dtype=np.int64, count=len(running)),
            [len(c.nodes) for c in claims],
        )
        self.rebuilt = len(self.nodes)


class _Draws:
    """A placement stream's uniform draws, handed out in order and drawn `DRAWS` at a time:
    the same numbers as `rng.random(k)` per request, since PCG64 makes each double of one
    64-bit output, in order (the request level's `value_stream` relies on the same)."""

    __slots__ = ("at", "block", "rng")

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.block = np.empty(0)
        self.at = 0

    def take(self, count: int) -> np.ndarray:
        """The next `count` draws (a read-only view)."""
        at, end = self.at, self.at + count
        if end > len(self.block):
            fresh = self.rng.random(max(count, DRAWS))
            self.block = np.concatenate((self.block[at:], fresh)) if at < len(self.block) else fresh
            self.block.flags.writeable = False
            at, end = 0, count
        self.at = end
        return self.block[at:end]


_EMPTY_FLOATS = np.empty(0)
_EMPTY_FLOATS.flags.writeable = False

DRAWS = 4096
"""Placement draws taken from a stream per numpy call."""


def _scheduler_record(scheduler: SchedulerAgent) -> SchedulerRecord:
    """A scheduler's counts and its busy periods and transactions as numpy columns."""
    return SchedulerRecord(
        name=scheduler.name,
        handles=scheduler.handles,
        jobs=scheduler.jobs,
        offers=getattr(scheduler, "offers", 0),
        locked_cpu_s=scheduler.locked_cpu_s,
        queued=len(scheduler.queue),
        busy_start=np.array(scheduler.busy_start),
        busy_end=np.array(scheduler.busy_end),
        commit_time=np.array(scheduler.commit_time),
        commit_conflicted=np.array(scheduler.commit_conflicted),
    )


def _runtime(cluster: Cluster, name: Runtime) -> RuntimeSpec:
    """The scenario's spec of a runtime, or the default one when it does not give it."""
    return cluster.runtimes.get(name) or default_runtimes()[name]


def _count_sampler(spec: Count, rng: np.random.Generator) -> Callable[[], int]:
    if spec.distribution == "constant":
        value = int(spec.mean)
        return lambda: value
    p = 1.0 / spec.mean

    def values() -> Iterator[int]:
        while True:
            yield from rng.geometric(p, 4096).tolist()

    return values().__next__
