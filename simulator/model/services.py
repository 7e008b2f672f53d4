"""Services as queueing stations: replicas with workers, behind a load balancer.

A station only keeps time: it admits visits (choosing a replica with the pure functions in
`balancing`, or shedding load past the queue limit), runs their work steps on workers in
FCFS order, and integrates busy workers, queued work and visits in flight over time.
What a visit does between work steps (calls, retries) lives in `calls`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np
from simpy import Environment
from simpy.events import Event, Timeout

from ..engine.recorder import STALE_ENDPOINT, SpanLog
from ..scenario.distributions import block_stream
from . import balancing

if TYPE_CHECKING:
    from .discovery.faults import StationFaults


class Visit(Protocol):
    """What a station needs of a visit (`calls.Visit`, which imports stations): its span
    row, its replica, whether its work has started, and how to move it on."""

    row: int
    replica: int
    started: bool

    def advance(self) -> None: ...

    def finish(self, status: int) -> None: ...


class Station:
    """The replicas of one service (or of the monolith). Subclasses differ in where work waits."""

    def __init__(
        self,
        env: Environment,
        name: str,
        index: int,
        replicas: int,
        concurrency: int,
        queue_limit: int | None,
    ) -> None:
        self.env = env
        self.name = name
        self.index = index
        self.replicas = replicas
        self.concurrency = concurrency
        self.workers = replicas * concurrency
        self.queue_limit = queue_limit
        self.spans: SpanLog | None = None  # set by World: the station writes when work starts
        self.busy = 0
        self.queued = 0
        self.in_flight = 0
        self.busy_area = 0.0
        self.queued_area = 0.0
        self.in_flight_area = 0.0
        self.capacity_area = 0.0  # worker-seconds available: workers change with autoscaling
        self._last = 0.0
        self.faults: StationFaults | None = None  # stale endpoints, drift, bad credentials
        self.on_endpoint_change: Callable[[Station, str], None] | None = None  # discovery
        self._dead: set[int] | None = None  # replicas lost with their node (discovery)

    def touch(self, now: float) -> None:
        """Bring the time integrals up to `now`."""
        elapsed = now - self._last
        if elapsed:
            self.busy_area += self.busy * elapsed
            self.queued_area += self.queued * elapsed
            self.in_flight_area += self.in_flight * elapsed
            self.capacity_area += self.workers * elapsed
            self._last = now

    def add_replica(self) -> None:
        """A new replica is ready to serve (autoscaling)."""
        raise NotImplementedError

    def remove_replica(self, failed: bool = False) -> None:
        """Stop sending work to one replica; it finishes what it has and goes (autoscaling).
        `failed`: its node died, so the work it has fails instead (`_lose`)."""
        raise NotImplementedError

    def _lose(self, replica: int) -> None:
        """A replica died with its node: each visit working there fails with `stale_endpoint`
        when its current step would have ended (nothing answers; the caller hears no sooner,
        or at its own timeout)."""
        if self._dead is None:
            self._dead = set()
        self._dead.add(replica)

    def _run(self, visit: Visit, sampler: Callable[[], float], now: float) -> None:
        if not visit.started:
            visit.started = True
            spans = self.spans
            assert spans is not None  # World sets it before any visit arrives
            spans.start[visit.row] = now
            spans.replica[visit.row] = visit.replica
        Timeout(self.env, sampler(), visit).callbacks.append(self._done)

    def admit(self, visit: Visit) -> bool:
        raise NotImplementedError

    def work(self, visit: Visit, sampler: Callable[[], float]) -> None:
        raise NotImplementedError

    def leave(self, visit: Visit) -> None:
        self.touch(self.env._now)
        self.in_flight -= 1

    def _done(self, event: Event) -> None:
        raise NotImplementedError


class CentralQueueStation(Station):
    """One FCFS queue feeding every worker of every replica: the M/M/c queue of the textbook.

    When several workers are free, the one that has been idle longest takes the work, so load
    spreads over replicas.
    """

    def __init__(
        self,
        env: Environment,
        name: str,
        index: int,
        replicas: int,
        concurrency: int,
        queue_limit: int | None,
    ) -> None:
        super().__init__(env, name, index, replicas, concurrency, queue_limit)
        self._queue: deque[tuple[Visit, Callable[[], float]]] = deque()
        # One entry per idle worker, naming its replica; interleaved so replicas share load.
        self._idle: deque[int] = deque(
            replica for _ in range(self.concurrency) for replica in range(self.replicas)
        )
        self._live = list(range(self.replicas))  # replicas taking work, newest last
        self._retiring: dict[int, int] = {}  # replica → workers still to stop
        self._next_replica = self.replicas

    def add_replica(self) -> None:
        now = self.env._now
        self.touch(now)
        replica = self._next_replica
        self._next_replica += 1
        self._live.append(replica)
        self.replicas += 1
        self.workers += self.concurrency
        for _ in range(self.concurrency):
            self._release_worker(replica, now)
        if self.on_endpoint_change is not None:
            self.on_endpoint_change(self, "added")

    def remove_replica(self, failed: bool = False) -> None:
        self.touch(self.env._now)
        replica = self._live.pop()
        self.replicas -= 1
        idle = sum(1 for r in self._idle if r == replica)
        self._idle = deque(r for r in self._idle if r != replica)
        self.workers -= idle
        if idle < self.concurrency:
            self._retiring[replica] = self.concurrency - idle
        if self.on_endpoint_change is not None:
            self.on_endpoint_change(self, "removed")
        if failed:
            self._lose(replica)

    def _release_worker(self, replica: int, now: float) -> None:
        if self._queue:
            following, sampler = self._queue.popleft()
            self.queued -= 1
            following.replica = replica
            self.busy += 1
            self._run(following, sampler, now)
        else:
            self._idle.append(replica)

    def admit(self, visit: Visit) -> bool:
        self.touch(self.env._now)
        if self.queue_limit is not None and not self._idle and self.queued >= self.queue_limit:
            return False
        self.in_flight += 1
        return True

    def work(self, visit: Visit, sampler: Callable[[], float]) -> None:
        now = self.env._now
        self.touch(now)
        if self._idle:
            visit.replica = self._idle.popleft()
            self.busy += 1
            self._run(visit, sampler, now)
        else:
            self._queue.append((visit, sampler))
            self.queued += 1

    def _done(self, event: Event) -> None:
        visit: Visit = event._value
        now = self.env._now
        self.touch(now)
        replica = visit.replica
        if self._retiring and replica in self._retiring:
            self.busy -= 1
            self.workers -= 1
            self._retiring[replica] -= 1
            if not self._retiring[replica]:
                del self._retiring[replica]
        elif self._queue:
            following, sampler = self._queue.popleft()
            self.queued -= 1
            following.replica = replica
            self._run(following, sampler, now)
        else:
            self._idle.append(replica)
            self.busy -= 1
        if self._dead is not None and replica in self._dead:
            visit.finish(STALE_ENDPOINT)
        else:
            visit.advance()


class ReplicaQueueStation(Station):
    """The load balancer picks a replica on arrival; each replica has its own FCFS queue."""

    def __init__(
        self,
        env: Environment,
        name: str,
        index: int,
        replicas: int,
        concurrency: int,
        queue_limit: int | None,
        *,
        choose: Callable[[list[int]], int],
    ) -> None:
        super().__init__(env, name, index, replicas, concurrency, queue_limit)
        self._choose = choose
        self._queues: list[deque[tuple[Visit, Callable[[], float]]]] = [
            deque() for _ in range(self.replicas)
        ]
        self._replica_in_flight = [0] * self.replicas
        self._replica_busy = [0] * self.replicas
        self._live: list[int] | None = None  # replicas taking work, when some are retiring
        self._retiring: set[int] = set()

    def add_replica(self) -> None:
        self.touch(self.env._now)
        self._queues.append(deque())
        self._replica_in_flight.append(0)
        self._replica_busy.append(0)
        if self._live is not None:
            self._live.append(len(self._queues) - 1)
        self.replicas += 1
        self.workers += self.concurrency
        if self.on_endpoint_change is not None:
            self.on_endpoint_change(self, "added")

    def remove_replica(self, failed: bool = False) -> None:
        self.touch(self.env._now)
        live = self._live if self._live is not None else list(range(len(self._queues)))
        replica = live.pop()
        self._live = live
        self._retiring.add(replica)
        self.replicas -= 1
        self.workers -= self.concurrency - self._replica_busy[replica]
        if self.on_endpoint_change is not None:
            self.on_endpoint_change(self, "removed")
        if failed:
            self._lose(replica)

    def _lose(self, replica: int) -> None:
        """As `Station._lose`; the visits waiting in the replica's own queue fail at once."""
        super()._lose(replica)
        queue = self._queues[replica]
        while queue:
            visit, _ = queue.popleft()
            self.queued -= 1
            visit.finish(STALE_ENDPOINT)

    def admit(self, visit: Visit) -> bool:
        self.touch(self.env._now)
        if self._live is None:
            replica = self._choose(self._replica_in_flight)
        else:
            live = self._live
            replica = live[self._choose([self._replica_in_flight[r] for r in live])]
        if (
            self.queue_limit is not None
            and self._replica_busy[replica] >= self.concurrency
            and len(self._queues[replica]) >= self.queue_limit
        ):
            return False
        visit.replica = replica
        self._replica_in_flight[replica] += 1
        self.in_flight += 1
        return True

    def work(self, visit: Visit, sampler: Callable[[], float]) -> None:
        now = self.env._now
        self.touch(now)
        replica = visit.replica
        if self._replica_busy[replica] < self.concurrency:
            if self._retiring and replica in self._retiring:
                self.workers += 1  # a retiring replica's visit needs a worker once more
            self._replica_busy[replica] += 1
            self.busy += 1
            self._run(visit, sampler, now)
        else:
            self._queues[replica].append((visit, sampler))
            self.queued += 1

    def _done(self, event: Event) -> None:
        visit: Visit = event._value
        now = self.env._now
        self.touch(now)
        replica = visit.replica
        queue = self._queues[replica]
        if queue:
            following, sampler = queue.popleft()
            self.queued -= 1
            self._run(following, sampler, now)
        else:
            self._replica_busy[replica] -= 1
            self.busy -= 1
            if replica in self._retiring:
                self.workers -= 1  # a retiring replica's workers stop as they finish
        if self._dead is not None and replica in self._dead:
            visit.finish(STALE_ENDPOINT)
        else:
            visit.advance()

    def leave(self, visit: Visit) -> None:
        super().leave(visit)
        self._replica_in_flight[visit.replica] -= 1


def chooser(policy: str, rng: np.random.Generator) -> Callable[[list[int]], int]:
    """The replica-picking function of a load-balancer policy, bound to its random stream.

    It is given the requests in flight at each replica taking work (so its length is the
    number of such replicas, which autoscaling changes)."""
    uniform = block_stream(rng.random)
    if policy == "round-robin":
        turns = iter(range(2**62))
        return lambda in_flight: balancing.round_robin(next(turns), len(in_flight))
    if policy == "random":
        return lambda in_flight: balancing.uniform_random(uniform(), len(in_flight))
    if policy == "least-connections":
        return lambda in_flight: balancing.least_connections(in_flight, uniform())
    if policy == "power-of-two":
        return lambda in_flight: balancing.power_of_two(in_flight, uniform(), uniform())
    raise ValueError(f"unknown load-balancer policy {policy!r}")


def build_station(
    env: Environment,
    name: str,
    index: int,
    *,
    replicas: int,
    concurrency: int,
    load_balancer: str,
    queue_limit: int | None,
    balancer_rng: np.random.Generator,
) -> Station:
    if load_balancer == "central-queue":
        return CentralQueueStation(env, name, index, replicas, concurrency, queue_limit)
    choose = chooser(load_balancer, balancer_rng)
    return ReplicaQueueStation(env, name, index, replicas, concurrency, queue_limit, choose=choose)
