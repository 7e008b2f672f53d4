"""Services as queueing stations: replicas with workers, behind a load balancer.

A station only keeps time: it admits visits (choosing a replica with the pure functions in
`balancing`, or shedding load past the queue limit), runs their work steps on workers in
FCFS order, and integrates busy workers, queued work and visits in flight over time.
What a visit does between work steps (calls, retries) lives in `calls`.

Replicas carry a version once a rollout (`rollout`) puts versions in play on a station; until
then a station keeps no versions and its hot path tests nothing more than before. A bad
version's replicas are *marked*, like replicas lost with their node: a station looks at a
work step's replica again only when some replica is marked (one test, shared with node loss).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from heapq import heappush
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from simpy import Environment
from simpy.events import NORMAL, Event, EventCallbacks, Timeout

from ..engine.recorder import DEFECT, STALE_ENDPOINT, SpanLog
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

    def at_first_work(self) -> bool: ...


@dataclass(frozen=True, eq=False)
class ReplicaDefect:
    """What a bad version does to the work its replicas run. A share `error_ratio` of the
    visits whose first work step it runs fail (`defect`) when that step ends, so one visit
    draws once however many work steps its handler has; each work step it runs takes
    `latency_factor` times as long, holding its worker meanwhile."""

    error_ratio: float
    latency_factor: float
    uniform: Callable[[], float]


LOST = ReplicaDefect(0.0, 1.0, float)
"""The mark of a replica that died with its node: its work fails with `stale_endpoint`."""


class Step(Timeout):
    """A `Timeout` with its one callback, built in one Python call: what `Timeout.__init__`,
    `Environment.schedule` and `callbacks.append` do, inlined (the same event, the same
    place in the event queue, the same event id), because the request level makes one per
    work step, network leg, timer and arrival."""

    def __init__(
        self, env: Environment, delay: float, value: Any, callback: Callable[[Event], None]
    ) -> None:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        self.env = env
        self.callbacks = [callback]
        self._value = value
        self._delay = delay
        self._ok = True
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))


class _Slowed(Timeout):
    """The rest of a work step on a replica of a slow version."""


def split_side(
    live: Sequence[int], version: Mapping[int, int], canary: int, share: float, u: float
) -> list[int]:
    """Where among `live` a load balancer that splits traffic by weight chooses for one
    request (positions in `live`): the canary version's replicas with probability `share`
    (uniform `u` below it), else the others; all of them when one side has none serving."""
    new = [i for i, replica in enumerate(live) if version[replica] == canary]
    old = [i for i, replica in enumerate(live) if version[replica] != canary]
    if not new or not old:
        return list(range(len(live)))
    return new if u < share else old


def HOLD() -> float:
    """The sampler of a handler's first step at a thread-per-request station whose handler
    does not start with work: take a thread (queueing for it) and go on at once."""
    return 0.0


class NothingServes(Exception):
    """A load balancer with no replica to send a request to (it refuses: `unavailable`)."""


@dataclass(eq=False)
class Versions:
    """A station's versions, once a rollout puts them in play (`Station.enable_versions`):
    which version each replica runs (serving and retiring ones), the version replicas added
    by others get (the autoscaler, a replacement), what bad versions do wrong, a hook that
    hears of every replica added or retired, and a canary's traffic split (share, canary
    version, uniform draws), with the plain balancer it wraps meanwhile."""

    of: dict[int, int]
    current: int = 0
    defects: dict[int, ReplicaDefect] = field(default_factory=dict)
    on_change: Callable[[Station, int, int, bool], None] | None = None
    split: tuple[float, int, Callable[[], float]] | None = None
    balancer: Callable[[list[int]], int] | None = None


def newest_of(live: Sequence[int], version: Mapping[int, int], current: int) -> int:
    """The replica scale-in retires when versions are in play: the newest of the current
    version (a canary or a surge replica of another version stays), else the newest."""
    for replica in reversed(live):
        if version.get(replica, current) == current:
            return replica
    return live[-1]


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
        # Replicas whose work ends unusually: lost with their node (discovery), or of a bad
        # version (rollouts). None until there is one, so the hot path pays a single test.
        # (Few attributes: past 30, CPython stops sharing instance dict keys, and every
        # attribute read on the hot path gets slower.)
        self._marked: dict[int, ReplicaDefect] | None = None
        self.versions: Versions | None = None  # once a rollout puts them in play
        self._queue_limit_serving = queue_limit  # restored when a replica serves again
        self._done_callbacks: EventCallbacks = [self._done]  # `_done` reuses work steps

    def touch(self, now: float) -> None:
        """Bring the time integrals up to `now`."""
        elapsed = now - self._last
        if elapsed:
            self.busy_area += self.busy * elapsed
            self.queued_area += self.queued * elapsed
            self.in_flight_area += self.in_flight * elapsed
            self.capacity_area += self.workers * elapsed
            self._last = now

    def add_replica(self, version: int | None = None) -> None:
        """A new replica is ready to serve (autoscaling, a rollout). `version`: the code it
        runs, when versions are in play (default: the current one)."""
        self.new_replica(version)

    def new_replica(self, version: int | None = None) -> int:
        """As `add_replica`, and returns the new replica's number."""
        raise NotImplementedError

    def remove_replica(self, failed: bool = False, replica: int | None = None) -> None:
        """Stop sending work to one replica; it finishes what it has and goes (autoscaling).
        `failed`: its node died, so the work it has fails instead (`_lose`). `replica`: which
        one (a rollout retires old versions); by default the newest (of the current version,
        when versions are in play)."""
        raise NotImplementedError

    def live_replicas(self) -> list[int]:
        """The replicas taking work, oldest first."""
        raise NotImplementedError

    def enable_versions(self) -> Versions:
        """Put versions in play: every serving replica runs version 0. Idempotent."""
        if self.versions is None:
            self.versions = Versions(dict.fromkeys(self.live_replicas(), 0))
        return self.versions

    @property
    def current_version(self) -> int:
        """The version the station runs, or is rolling out (replicas added by others get it)."""
        return self.versions.current if self.versions is not None else 0

    def set_defect(self, version: int, defect: ReplicaDefect | None) -> None:
        """What `version` does wrong (None: nothing); marks its replicas already serving."""
        versions = self.enable_versions()
        if defect is None:
            versions.defects.pop(version, None)
        else:
            versions.defects[version] = defect
        for replica, runs in versions.of.items():
            if runs == version:
                self._mark(replica, defect)

    def _mark(self, replica: int, defect: ReplicaDefect | None) -> None:
        marked = self._marked
        if marked is not None and marked.get(replica) is LOST:
            return  # lost with its node: that is how its work ends
        if defect is None:
            if marked is not None:
                marked.pop(replica, None)
                if not marked:
                    self._marked = None
            return
        if marked is None:
            marked = self._marked = {}
        marked[replica] = defect

    def _added(self, replica: int, version: int | None) -> None:
        """Bookkeeping of a replica that starts serving, when versions are in play."""
        versions = self.versions
        if versions is None:
            if not version:
                return  # version 0, which every replica runs until versions are in play
            versions = self.enable_versions()
        runs = versions.current if version is None else version
        versions.of[replica] = runs
        defect = versions.defects.get(runs)
        if defect is not None:
            self._mark(replica, defect)
        if versions.on_change is not None:
            versions.on_change(self, replica, runs, True)

    def _retired(self, replica: int) -> None:
        versions = self.versions
        if versions is not None and versions.on_change is not None:
            versions.on_change(self, replica, versions.of[replica], False)

    def _lose(self, replica: int) -> None:
        """A replica died with its node: each visit working there fails with `stale_endpoint`
        when its current step would have ended (nothing answers; the caller hears no sooner,
        or at its own timeout)."""
        if self._marked is None:
            self._marked = {}
        self._marked[replica] = LOST

    def _slowed(self, event: Event, mark: ReplicaDefect) -> bool:
        """A work step on a replica of a slow version goes on for (factor − 1) × its drawn
        time more, on the same worker; True while it does."""
        if mark.latency_factor == 1.0 or type(event) is _Slowed:
            return False
        assert isinstance(event, Timeout)  # a work step (`_run`)
        extra = (mark.latency_factor - 1.0) * event._delay
        _Slowed(self.env, extra, event._value).callbacks.append(self._done)
        return True

    def _marked_end(self, visit: Visit, mark: ReplicaDefect) -> None:
        """The end of a work step on a marked replica: lost with its node, or of a bad version
        (which fails a share of the visits it served, once per visit, at their first work)."""
        if mark is LOST:
            visit.finish(STALE_ENDPOINT)
        elif mark.error_ratio and visit.at_first_work() and mark.uniform() < mark.error_ratio:
            visit.finish(DEFECT)
        else:
            visit.advance()

    def _run(self, visit: Visit, sampler: Callable[[], float], now: float) -> None:
        if not visit.started:
            visit.started = True
            spans = self.spans
            assert spans is not None  # World sets it before any visit arrives
            spans.live_start[visit.row] = now
            spans.live_replica[visit.row] = visit.replica
        Step(self.env, sampler(), visit, self._done)

    def admit(self, visit: Visit) -> bool:
        raise NotImplementedError

    def work(self, visit: Visit, sampler: Callable[[], float]) -> None:
        raise NotImplementedError

    def _queue_work(self, visit: Visit, sampler: Callable[[], float]) -> None:
        raise NotImplementedError

    def leave(self, visit: Visit) -> None:
        now = self.env._now
        elapsed = now - self._last  # `touch`, inlined
        if elapsed:
            self.busy_area += self.busy * elapsed
            self.queued_area += self.queued * elapsed
            self.in_flight_area += self.in_flight * elapsed
            self.capacity_area += self.workers * elapsed
            self._last = now
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

    def new_replica(self, version: int | None = None) -> int:
        now = self.env._now
        self.touch(now)
        replica = self._next_replica
        self._next_replica += 1
        self._live.append(replica)
        if not self.replicas:
            self.queue_limit = self._queue_limit_serving  # serving again (see remove_replica)
        self.replicas += 1
        self.workers += self.concurrency
        self._added(replica, version)
        for _ in range(self.concurrency):
            self._release_worker(replica, now)
        if self.on_endpoint_change is not None:
            self.on_endpoint_change(self, "added")
        return replica

    def remove_replica(self, failed: bool = False, replica: int | None = None) -> None:
        self.touch(self.env._now)
        if replica is None:
            if self.versions is None:
                replica = self._live.pop()
            else:
                replica = newest_of(self._live, self.versions.of, self.versions.current)
                self._live.remove(replica)
        else:
            self._live.remove(replica)
        self.replicas -= 1
        if not self.replicas:
            # Nothing serves: the load balancer has no backend and refuses new work at once
            # (`unavailable`); a zero queue limit does it with no test in `admit`.
            self._queue_limit_serving = self.queue_limit
            self.queue_limit = 0
        idle = sum(1 for r in self._idle if r == replica)
        self._idle = deque(r for r in self._idle if r != replica)
        self.workers -= idle
        if idle < self.concurrency:
            self._retiring[replica] = self.concurrency - idle
        self._retired(replica)
        if self.on_endpoint_change is not None:
            self.on_endpoint_change(self, "removed")
        if failed:
            self._lose(replica)

    def live_replicas(self) -> list[int]:
        return list(self._live)

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
        now = self.env._now
        elapsed = now - self._last  # `touch`, inlined
        if elapsed:
            self.busy_area += self.busy * elapsed
            self.queued_area += self.queued * elapsed
            self.in_flight_area += self.in_flight * elapsed
            self.capacity_area += self.workers * elapsed
            self._last = now
        if self.queue_limit is not None and not self._idle and self.queued >= self.queue_limit:
            return False
        self.in_flight += 1
        return True

    def work(self, visit: Visit, sampler: Callable[[], float]) -> None:
        now = self.env._now
        if now != self._last:  # usually the instant the visit was admitted
            self.touch(now)
        if self._idle:
            visit.replica = self._idle.popleft()
            self.busy += 1
            # `_run`, inlined (the thread-per-request stations call `_queue_work`)
            if not visit.started:
                visit.started = True
                spans = self.spans
                assert spans is not None  # World sets it before any visit arrives
                spans.live_start[visit.row] = now
                spans.live_replica[visit.row] = visit.replica
            Step(self.env, sampler(), visit, self._done)
        else:
            self._queue.append((visit, sampler))
            self.queued += 1

    def _queue_work(self, visit: Visit, sampler: Callable[[], float]) -> None:
        """`work` through `_run`, which the thread-per-request stations override."""
        now = self.env._now
        if now != self._last:
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
        replica = visit.replica
        marked = self._marked
        if marked is not None and replica in marked and self._slowed(event, marked[replica]):
            return
        now = self.env._now
        elapsed = now - self._last  # `touch`, inlined
        if elapsed:
            self.busy_area += self.busy * elapsed
            self.queued_area += self.queued * elapsed
            self.in_flight_area += self.in_flight * elapsed
            self.capacity_area += self.workers * elapsed
            self._last = now
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
            if not following.started:  # `_run`, inlined
                following.started = True
                spans = self.spans
                assert spans is not None
                spans.live_start[following.row] = now
                spans.live_replica[following.row] = replica
            if type(event) is Step:
                # This event again, as the following visit's work step: what `Step` does
                # (the same time, priority and event id) without making a new event.
                env = self.env
                event._delay = delay = sampler()
                if delay < 0:
                    raise ValueError(f"Negative delay {delay}")
                event._value = following
                event.callbacks = self._done_callbacks
                heappush(env._queue, (now + delay, NORMAL, next(env._eid), event))
            else:
                Step(self.env, sampler(), following, self._done)
        else:
            self._idle.append(replica)
            self.busy -= 1
        if marked is not None and replica in marked:
            self._marked_end(visit, marked[replica])
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

    def new_replica(self, version: int | None = None) -> int:
        self.touch(self.env._now)
        replica = len(self._queues)
        self._queues.append(deque())
        self._replica_in_flight.append(0)
        self._replica_busy.append(0)
        if self._live is not None:
            self._live.append(replica)
        self.replicas += 1
        self.workers += self.concurrency
        self._added(replica, version)
        if self.replicas == 1:
            self._route()  # serving again
        if self.on_endpoint_change is not None:
            self.on_endpoint_change(self, "added")
        return replica

    def remove_replica(self, failed: bool = False, replica: int | None = None) -> None:
        self.touch(self.env._now)
        live = self.live_replicas()
        if replica is None:
            if self.versions is None:
                replica = live[-1]
            else:
                replica = newest_of(live, self.versions.of, self.versions.current)
        live.remove(replica)
        self._live = live
        self._retiring.add(replica)
        self.replicas -= 1
        if not self.replicas:
            self._route()  # nothing serves
        self.workers -= self.concurrency - self._replica_busy[replica]
        self._retired(replica)
        if self.on_endpoint_change is not None:
            self.on_endpoint_change(self, "removed")
        if failed:
            self._lose(replica)

    def live_replicas(self) -> list[int]:
        return list(self._live) if self._live is not None else list(range(len(self._queues)))

    def set_split(self, split: tuple[float, int, Callable[[], float]] | None) -> None:
        """Split traffic by weight between a canary version and the rest (None: stop)."""
        self.enable_versions().split = split
        self._route()

    def _route(self) -> None:
        """The balancer as it stands: the plain one, or (with a split, or nothing serving)
        one that wraps it, on the slower path of `admit` (`_live` set), so the plain path
        tests nothing more."""
        versions = self.enable_versions()
        plain = versions.balancer or self._choose
        split = versions.split
        if split is None and self.replicas:
            self._choose, versions.balancer = plain, None
            return
        self._live = self.live_replicas()

        def choose(in_flight: list[int]) -> int:
            live = self._live
            if not live:
                raise NothingServes
            if split is None:
                return plain(in_flight)
            share, canary, uniform = split
            side = split_side(live, versions.of, canary, share, uniform())
            return side[plain([in_flight[i] for i in side])]

        self._choose, versions.balancer = choose, plain

    def _lose(self, replica: int) -> None:
        """As `Station._lose`; the visits waiting in the replica's own queue fail at once."""
        super()._lose(replica)
        queue = self._queues[replica]
        while queue:
            visit, _ = queue.popleft()
            self.queued -= 1
            visit.finish(STALE_ENDPOINT)

    def admit(self, visit: Visit) -> bool:
        now = self.env._now
        elapsed = now - self._last  # `touch`, inlined
        if elapsed:
            self.busy_area += self.busy * elapsed
            self.queued_area += self.queued * elapsed
            self.in_flight_area += self.in_flight * elapsed
            self.capacity_area += self.workers * elapsed
            self._last = now
        if self._live is None:
            replica = self._choose(self._replica_in_flight)
        else:
            live = self._live
            try:
                replica = live[self._choose([self._replica_in_flight[r] for r in live])]
            except NothingServes:
                return False  # refused (`unavailable`)
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
        if now != self._last:
            self.touch(now)
        replica = visit.replica
        if self._replica_busy[replica] < self.concurrency:
            if self._retiring and replica in self._retiring:
                self.workers += 1  # a retiring replica's visit needs a worker once more
            self._replica_busy[replica] += 1
            self.busy += 1
            # `_run`, inlined (the thread-per-request stations call `_queue_work`)
            if not visit.started:
                visit.started = True
                spans = self.spans
                assert spans is not None  # World sets it before any visit arrives
                spans.live_start[visit.row] = now
                spans.live_replica[visit.row] = replica
            Step(self.env, sampler(), visit, self._done)
        else:
            self._queues[replica].append((visit, sampler))
            self.queued += 1

    def _queue_work(self, visit: Visit, sampler: Callable[[], float]) -> None:
        """`work` through `_run`, which the thread-per-request stations override."""
        now = self.env._now
        if now != self._last:
            self.touch(now)
        replica = visit.replica
        if self._replica_busy[replica] < self.concurrency:
            if self._retiring and replica in self._retiring:
                self.workers += 1
            self._replica_busy[replica] += 1
            self.busy += 1
            self._run(visit, sampler, now)
        else:
            self._queues[replica].append((visit, sampler))
            self.queued += 1

    def _done(self, event: Event) -> None:
        visit: Visit = event._value
        replica = visit.replica
        marked = self._marked
        if marked is not None and replica in marked and self._slowed(event, marked[replica]):
            return
        now = self.env._now
        elapsed = now - self._last  # `touch`, inlined
        if elapsed:
            self.busy_area += self.busy * elapsed
            self.queued_area += self.queued * elapsed
            self.in_flight_area += self.in_flight * elapsed
            self.capacity_area += self.workers * elapsed
            self._last = now
        queue = self._queues[replica]
        if queue:
            following, sampler = queue.popleft()
            self.queued -= 1
            if not following.started:  # `_run`, inlined
                following.started = True
                spans = self.spans
                assert spans is not None
                spans.live_start[following.row] = now
                spans.live_replica[following.row] = following.replica
            if type(event) is Step:
                # This event again, as the following visit's work step: what `Step` does
                # (the same time, priority and event id) without making a new event.
                env = self.env
                event._delay = delay = sampler()
                if delay < 0:
                    raise ValueError(f"Negative delay {delay}")
                event._value = following
                event.callbacks = self._done_callbacks
                heappush(env._queue, (now + delay, NORMAL, next(env._eid), event))
            else:
                Step(self.env, sampler(), following, self._done)
        else:
            self._replica_busy[replica] -= 1
            self.busy -= 1
            if replica in self._retiring:
                self.workers -= 1  # a retiring replica's workers stop as they finish
        if marked is not None and replica in marked:
            self._marked_end(visit, marked[replica])
        else:
            visit.advance()

    def leave(self, visit: Visit) -> None:
        now = self.env._now  # `Station.leave`, inlined (a visit's end: no `super()` call)
        elapsed = now - self._last  # `touch`, inlined
        if elapsed:
            self.busy_area += self.busy * elapsed
            self.queued_area += self.queued * elapsed
            self.in_flight_area += self.in_flight * elapsed
            self.capacity_area += self.workers * elapsed
            self._last = now
        self.in_flight -= 1
        self._replica_in_flight[visit.replica] -= 1


class _HoldsThread(Station):
    """What thread-per-request adds to a station, mixed in before it: a visit that has its
    thread runs its later work steps on it without queueing again, and `HOLD` takes a thread
    without work (a handler that starts with a call)."""

    def work(self, visit: Visit, sampler: Callable[[], float]) -> None:
        if visit.started:  # it holds its thread
            if sampler is HOLD:
                visit.advance()
            else:
                Step(self.env, sampler(), visit, self._done)
            return
        self._queue_work(visit, sampler)

    def _run(self, visit: Visit, sampler: Callable[[], float], now: float) -> None:
        if sampler is HOLD:
            visit.started = True
            spans = self.spans
            assert spans is not None  # World sets it before any visit arrives
            spans.live_start[visit.row] = now
            spans.live_replica[visit.row] = visit.replica
            visit.advance()
            return
        super()._run(visit, sampler, now)

    def _done(self, event: Event) -> None:
        _step_done(self, event)


class ThreadedCentralQueueStation(_HoldsThread, CentralQueueStation):
    """Thread per request behind one FCFS queue: a visit takes a worker (its thread) at its
    first work step (or `HOLD`) and keeps it, through its calls, until it leaves; its later
    work steps run on that thread without queueing again. The base class frees a worker at
    the end of every work step; this one only in `leave`, so the general path tests nothing
    more."""

    def leave(self, visit: Visit) -> None:
        now = self.env._now
        self.touch(now)
        self.in_flight -= 1
        if not visit.started:
            return  # it never had a thread
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


class ThreadedReplicaQueueStation(_HoldsThread, ReplicaQueueStation):
    """Thread per request with a queue per replica (see `ThreadedCentralQueueStation`)."""

    def leave(self, visit: Visit) -> None:
        super().leave(visit)
        if not visit.started:
            return  # it never had a thread
        replica = visit.replica
        queue = self._queues[replica]
        if queue:
            following, sampler = queue.popleft()
            self.queued -= 1
            self._run(following, sampler, self.env._now)
        else:
            self._replica_busy[replica] -= 1
            self.busy -= 1
            if replica in self._retiring:
                self.workers -= 1


def _step_done(station: Station, event: Event) -> None:
    """The end of a work step on a thread the visit keeps: it goes on (or, on a marked
    replica, ends as the mark says); no worker changes hands."""
    visit: Visit = event._value
    marked = station._marked
    if marked is not None and visit.replica in marked:
        mark = marked[visit.replica]
        if station._slowed(event, mark):
            return
        station._marked_end(visit, mark)
    else:
        visit.advance()


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
    threading: str = "event-loop",
) -> Station:
    """A station of the scenario's kind; `threading` thread-per-request keeps a visit's
    worker for its whole stay (see `ThreadedCentralQueueStation`)."""
    threaded = threading == "thread-per-request"
    if load_balancer == "central-queue":
        central = ThreadedCentralQueueStation if threaded else CentralQueueStation
        return central(env, name, index, replicas, concurrency, queue_limit)
    choose = chooser(load_balancer, balancer_rng)
    per_replica = ThreadedReplicaQueueStation if threaded else ReplicaQueueStation
    return per_replica(env, name, index, replicas, concurrency, queue_limit, choose=choose)
