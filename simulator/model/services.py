"""Services as queueing stations: replicas with workers, behind a load balancer.

These classes only keep time: they start and finish requests on SimPy's clock and write
each request's times into the run's RequestLog. Which replica serves a request is decided
by the pure functions in `balancing`.

A request is an index into the RequestLog; completions are SimPy Timeout events whose
callback finishes the request, so a request costs two scheduled events (arrival and
completion) and no Python generator of its own.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np
from simpy import Environment
from simpy.events import Event, Timeout

from ..engine.recorder import OK, PENDING, RequestLog
from ..scenario.distributions import block_stream
from ..scenario.schema import Service
from . import balancing

NAN = math.nan


class Station:
    """The replicas of one service. Subclasses differ only in where requests wait."""

    def __init__(
        self,
        env: Environment,
        name: str,
        index: int,
        spec: Service,
        log: RequestLog,
        service_time_rng: np.random.Generator,
    ) -> None:
        self.env = env
        self.name = name
        self.index = index
        self.spec = spec
        self.replicas = spec.replicas
        self.concurrency = spec.concurrency
        self.workers = spec.workers
        self._service_time = spec.service_time.sampler(service_time_rng)
        self._log = log
        # Bound methods of the log's buffers, looked up once rather than per request.
        self._append_service = log.service.append
        self._append_replica = log.replica.append
        self._append_arrival = log.arrival.append
        self._append_start = log.start.append
        self._append_end = log.end.append
        self._append_status = log.status.append
        self._start_times = log.start
        self._end_times = log.end
        self._replica_of = log.replica
        self._status_of = log.status

    def _new_request(self, now: float) -> int:
        request = len(self._start_times)
        self._append_service(self.index)
        self._append_replica(-1)
        self._append_arrival(now)
        self._append_start(NAN)
        self._append_end(NAN)
        self._append_status(PENDING)
        return request

    def _start(self, request: int, replica: int, now: float) -> None:
        self._start_times[request] = now
        self._replica_of[request] = replica
        Timeout(self.env, self._service_time(), request).callbacks.append(self._finish)

    def _finish(self, event: Event) -> None:
        request: int = event._value  # type: ignore[assignment]
        self._end_times[request] = self.env._now
        self._status_of[request] = OK
        self._released(self._replica_of[request])

    def arrive(self) -> None:
        raise NotImplementedError

    def _released(self, replica: int) -> None:
        raise NotImplementedError

    @property
    def busy(self) -> int:
        raise NotImplementedError

    @property
    def queued(self) -> int:
        raise NotImplementedError


class CentralQueueStation(Station):
    """One FCFS queue feeding every worker of every replica: the M/M/c queue of the textbook.

    When several workers are free, the one that has been idle longest takes the request, so
    load spreads over replicas.
    """

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._queue: deque[int] = deque()
        # One entry per idle worker, naming its replica; interleaved so replicas share load.
        self._idle: deque[int] = deque(
            replica for _ in range(self.concurrency) for replica in range(self.replicas)
        )

    def arrive(self) -> None:
        now = self.env._now
        request = self._new_request(now)
        if self._idle:
            self._start(request, self._idle.popleft(), now)
        else:
            self._queue.append(request)

    def _released(self, replica: int) -> None:
        if self._queue:
            self._start(self._queue.popleft(), replica, self.env._now)
        else:
            self._idle.append(replica)

    @property
    def busy(self) -> int:
        return self.workers - len(self._idle)

    @property
    def queued(self) -> int:
        return len(self._queue)


class ReplicaQueueStation(Station):
    """The load balancer picks a replica on arrival; each replica has its own FCFS queue."""

    def __init__(
        self,
        *args,  # type: ignore[no-untyped-def]
        choose: Callable[[list[int]], int],
        **kwargs,  # type: ignore[no-untyped-def]
    ) -> None:
        super().__init__(*args, **kwargs)
        self._choose = choose
        self._queues: list[deque[int]] = [deque() for _ in range(self.replicas)]
        self._in_flight = [0] * self.replicas
        self._busy = [0] * self.replicas

    def arrive(self) -> None:
        now = self.env._now
        request = self._new_request(now)
        replica = self._choose(self._in_flight)
        self._in_flight[replica] += 1
        if self._busy[replica] < self.concurrency:
            self._busy[replica] += 1
            self._start(request, replica, now)
        else:
            self._queues[replica].append(request)

    def _released(self, replica: int) -> None:
        self._in_flight[replica] -= 1
        queue = self._queues[replica]
        if queue:
            self._start(queue.popleft(), replica, self.env._now)
        else:
            self._busy[replica] -= 1

    @property
    def busy(self) -> int:
        return sum(self._busy)

    @property
    def queued(self) -> int:
        return sum(len(queue) for queue in self._queues)


def chooser(policy: str, replicas: int, rng: np.random.Generator) -> Callable[[list[int]], int]:
    """The replica-picking function of a load-balancer policy, bound to its random stream."""
    uniform = block_stream(rng.random)
    if policy == "round-robin":
        turns = iter(range(2**62))
        return lambda in_flight: balancing.round_robin(next(turns), replicas)
    if policy == "random":
        return lambda in_flight: balancing.uniform_random(uniform(), replicas)
    if policy == "least-connections":
        return lambda in_flight: balancing.least_connections(in_flight, uniform())
    if policy == "power-of-two":
        return lambda in_flight: balancing.power_of_two(in_flight, uniform(), uniform())
    raise ValueError(f"unknown load-balancer policy {policy!r}")


def build_station(
    env: Environment,
    name: str,
    index: int,
    spec: Service,
    log: RequestLog,
    service_time_rng: np.random.Generator,
    balancer_rng: np.random.Generator,
) -> Station:
    if spec.load_balancer == "central-queue":
        return CentralQueueStation(env, name, index, spec, log, service_time_rng)
    choose = chooser(spec.load_balancer, spec.replicas, balancer_rng)
    return ReplicaQueueStation(env, name, index, spec, log, service_time_rng, choose=choose)
