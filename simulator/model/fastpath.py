"""The fast path: a run of simple stations by a sequential recursion, not the event loop.

A scenario whose requests each make one visit to one FCFS station (no calls, timeouts, queue
limits, autoscaling, faults, slowdowns, deploys or subsystems) needs no event loop: the
Kiefer–Wolfowitz recursion gives each request's start, end and worker from its arrival time
and its service time alone (behind a central queue or one replica; behind a balancer that
picks a replica on arrival, a walk over arrivals and ends in time order does the same).
Drawing those from the run's own named random streams, in the order the general engine
draws them (arrivals in time order, service times in the order work starts), gives the same
requests and spans, bit for bit, and the stations' time integrals are summed over the same
instants in the same order, so samples, utilisation and queue lengths are bit for bit too.

`blocker` (a pure function of the scenario) says why a scenario cannot take the fast path;
`simulate` runs a built `World` by it, filling the same records `World.run` fills, or leaves
the world untouched and returns False when it cannot (then the runner runs the event loop).
Two events at the very same instant whose order the recursion cannot tell (an arrival at a
sampling instant, say: with continuous distributions this does not happen in practice) send
the run to the general engine too, so the fast path never guesses.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine import RandomStreams
from ..engine.recorder import OK, PENDING
from ..scenario.calls import Work
from ..scenario.distributions import BLOCK, Distribution, Exponential
from ..scenario.profiles import ReplayProfile
from ..scenario.schema import Scenario, Service, Traffic
from ..scenario.units import format_duration
from .failures import simulates_node_failures
from .profiles import arrival_stream, rate_function
from .services import chooser
from .world import World

if TYPE_CHECKING:
    import pandas as pd

NOTE = (
    "fast path: simple FCFS stations run by a sequential recursion, with the same numbers "
    "as the SimPy event loop (engine: general forces the loop)"
)
"""What the run's decision log says (in its `horizon_reached` row) when the fast path ran.
(A row of its own would change the shape of every such run's log.)"""


def ran(events: pd.DataFrame) -> bool:
    """Whether a run's decision log (`Result.tables["events"]`) says the fast path ran it."""
    return bool(events["detail"].str.contains(NOTE, regex=False).any())


BALANCERS = ("central-queue", "round-robin", "random", "least-connections", "power-of-two")
"""The load-balancer policies the fast path reproduces (`services.chooser`'s, as they are)."""


def blocker(scenario: Scenario) -> str | None:
    """Why the fast path cannot reproduce this scenario exactly, naming the key; None when it
    can. A whitelist: stations of one work step each, FCFS behind one of `BALANCERS`, with
    no queue limit, slowdown or deploy; Poisson traffic of any profile without a timeout;
    no autoscaling, monolith, cluster scheduler or other subsystem."""
    checks: list[tuple[bool, str]] = [
        (scenario.engine != "auto", "engine: general"),
        (scenario.fidelity != "request", "fidelity: analytic"),
        (scenario.deployment != "microservices", "deployment: monolith"),
        (scenario.autoscaling.enabled, "autoscaling.enabled"),
        (simulates_node_failures(scenario), "cluster.failures.enabled"),
        (scenario.scheduler is not None, "scheduler"),
        (scenario.workloads is not None, "workloads"),
        (scenario.delivery is not None, "delivery"),
        (scenario.monitoring.enabled, "monitoring.enabled"),
        (
            scenario.discovery.kind != "none" or bool(scenario.discovery.events),
            "discovery",
        ),
        ("configuration" in scenario.model_fields_set, "configuration"),
        (scenario.secrets.kind != "none", "secrets.kind"),
    ]
    for blocked, key in checks:
        if blocked:
            return key
    for name, service in scenario.services.items():
        reason = _service_blocker(service)
        if reason is not None:
            return f"services.{name}.{reason}"
    for name, traffic in scenario.traffic.items():
        if traffic.timeout is not None:
            return f"traffic.{name}.timeout"
        if traffic.arrivals != "poisson":
            return f"traffic.{name}.arrivals"
    return None


def _service_blocker(service: Service) -> str | None:
    handler = service.handler
    if handler is not None and (len(handler) != 1 or not isinstance(handler[0], Work)):
        return "handler"  # calls, fan-outs or more than one work step
    if service.load_balancer not in BALANCERS:
        return "load_balancer"
    if service.queue_limit is not None:
        return "queue_limit"
    if service.slowdowns:
        return "slowdowns"
    if service.deploys:
        return "deploys"
    if service.threading != "event-loop":
        return "threading"
    return None


class Simultaneous(Exception):
    """Two events at one instant whose order the recursion does not know."""


def arrival_times(traffic: Traffic, rng: np.random.Generator, horizon: float) -> np.ndarray:
    """The arrival times before `horizon` of one entry point, as `model.traffic` makes them:
    a constant rate adds exponential gaps drawn BLOCK at a time (sums in the same order as
    the clock's, so the same floats); a profile takes `arrival_stream`'s times, each reached
    as the clock does, from the previous arrival plus the delay to it."""
    rate = rate_function(traffic.profile, traffic.rate)
    if rate.is_constant and not isinstance(traffic.profile, ReplayProfile):
        mean_gap = 1.0 / traffic.rate
        expected = horizon / mean_gap
        blocks = max(1, math.ceil((expected + 8 * math.sqrt(expected) + 16) / BLOCK))
        gaps = [rng.exponential(mean_gap, BLOCK) for _ in range(blocks)]
        times = np.cumsum(np.concatenate(gaps))  # sequential sums: the clock's floats
        while times[-1] < horizon:
            gaps.append(rng.exponential(mean_gap, BLOCK))
            times = np.cumsum(np.concatenate(gaps))
        return times[: int(np.searchsorted(times, horizon, side="left"))]
    next_time = arrival_stream(rate, rng, horizon)
    out: list[float] = []
    now = 0.0
    while True:
        at = next_time()
        if at == math.inf:
            break
        now = now + max(0.0, at - now)
        if now >= horizon:
            break
        out.append(now)
    return np.array(out, dtype=np.float64)


def fcfs(
    arrival: Sequence[float],
    work: Sequence[float],
    workers: Sequence[int],
    until: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, end and replica of each request of an FCFS queue with `len(workers)` workers
    (`workers[i]`: the replica of the i-th idle worker at the start), before `until`;
    `work[k]`: the k-th service time drawn, which the k-th request to start gets.

    Kiefer–Wolfowitz with a heap of (free at, order): the request takes the worker free
    first, which is the one idle longest when any is idle (the station's idle queue), or the
    one whose work ends first (ties in the order the ends were scheduled, i.e. started).
    Unstarted: NaN, −1; unfinished at `until`: end NaN.

    Starts and ends are kept as C doubles (`array`), not as float objects: a run's
    floats then never fill the interpreter's arenas, which it would hand back to the
    kernel at the run's end and fault in again at the next (docs/performance.md)."""
    start = array("d")
    end = array("d")
    replica = array("i")
    if len(workers) == 1:  # Lindley: one worker, no heap
        free = -math.inf
        for arrived, needed in zip(arrival, work, strict=False):
            began = arrived if arrived > free else free
            if began >= until:
                break
            free = began + needed
            start.append(began)
            end.append(free)
        replica = array("i", [workers[0]]) * len(start)
    else:
        heap = [(-math.inf, position - len(workers), r) for position, r in enumerate(workers)]
        replace = heapq.heapreplace
        begin, finish, serve = start.append, end.append, replica.append
        for k, (arrived, needed) in enumerate(zip(arrival, work, strict=False)):
            free, _, r = heap[0]
            began = arrived if arrived > free else free
            if began >= until:
                break  # starts never decrease: nothing later starts before `until`
            ended = began + needed
            replace(heap, (ended, k, r))
            begin(began)
            finish(ended)
            serve(r)
    count, started = len(arrival), len(start)
    starts = np.full(count, math.nan)
    starts[:started] = np.frombuffer(start, dtype=np.float64)
    ends = np.full(count, math.nan)
    ends[:started] = np.frombuffer(end, dtype=np.float64)
    ends[ends >= until] = math.nan
    replicas = np.full(count, -1, dtype=np.int32)
    replicas[:started] = np.frombuffer(replica, dtype=np.intc)
    return starts, ends, replicas


def per_replica(
    arrival: Sequence[float],
    work: Sequence[float],
    choose: Callable[[list[int]], int],
    replicas: int,
    concurrency: int,
    until: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start, end, replica and start order of each request behind a load balancer that
    picks a replica on arrival, each replica an FCFS queue of `concurrency` workers.

    `choose` is the station's own balancer (`services.chooser`), asked with the requests in
    flight per replica at each arrival. Work starts on arrivals and on ends, in time order
    across replicas, and takes the next service time (one stream per station), so this
    walks arrivals and ends in time order: a heap of ends (time, start order) beside the
    sorted arrivals. An end at the very instant of an arrival raises `Simultaneous` (the
    order of the two decides the snapshot and the draws)."""
    count = len(arrival)
    start = _doubles(np.full(count, math.nan))  # C doubles, as in `fcfs`
    end = _doubles(np.full(count, math.nan))
    started_as = array("q", [-1]) * count
    chosen = array("i", [0]) * count
    in_flight = [0] * replicas
    idle = [concurrency] * replicas
    waiting: list[deque[int]] = [deque() for _ in range(replicas)]
    ends: list[tuple[float, int, int]] = []  # (end, start order, request)
    draw = iter(work).__next__
    push, pop = heapq.heappush, heapq.heappop
    order = 0

    def finish_before(limit: float, strict_tie: bool) -> None:
        nonlocal order
        while ends and ends[0][0] <= limit:
            now, _, done = ends[0]
            if now == limit:
                if strict_tie:
                    raise Simultaneous
                return
            pop(ends)
            r = chosen[done]
            in_flight[r] -= 1
            queue = waiting[r]
            if queue:
                following = queue.popleft()
                ended = now + draw()
                start[following], end[following], started_as[following] = now, ended, order
                push(ends, (ended, order, following))
                order += 1
            else:
                idle[r] += 1

    for k, arrived in enumerate(arrival):
        finish_before(arrived, True)
        r = choose(in_flight)
        chosen[k] = r
        in_flight[r] += 1
        if idle[r]:
            idle[r] -= 1
            ended = arrived + draw()
            start[k], end[k], started_as[k] = arrived, ended, order
            push(ends, (ended, order, k))
            order += 1
        else:
            waiting[r].append(k)
    finish_before(until, False)
    starts = np.frombuffer(start, dtype=np.float64)
    ended_at = np.frombuffer(end, dtype=np.float64)
    ended_at[ended_at >= until] = math.nan
    replica = np.where(np.isnan(starts), -1, np.frombuffer(chosen, dtype=np.intc)).astype(np.int32)
    return starts, ended_at, replica, np.frombuffer(started_as, dtype=np.int64)


def _doubles(values: np.ndarray) -> array[float]:
    """`values` as C doubles that a loop reads as floats, made one at a time (`fcfs`)."""
    return array("d", np.ascontiguousarray(values, dtype=np.float64).tobytes())


def work_times(distribution: Distribution, rng: np.random.Generator, count: int) -> Sequence[float]:
    """The first `count` values the station's sampler (`distribution.sampler(rng)`) hands
    out: whole blocks of `draw` for the families whose sampler draws blocks of `draw` (the
    same numpy calls, so the same numbers), the sampler itself for the others."""
    if type(distribution).sampler is Exponential.sampler:  # the base class's block sampler
        blocks = max(1, math.ceil(count / BLOCK))
        return _doubles(np.concatenate([distribution.draw(rng, BLOCK) for _ in range(blocks)]))
    sampler = distribution.sampler(rng)
    return array("d", (sampler() for _ in range(count)))


def _worker_order(service: Service) -> list[int]:
    """The replicas of the idle workers at the start, in the order they are taken."""
    if service.load_balancer == "central-queue":  # interleaved (`CentralQueueStation`)
        return [r for _ in range(service.concurrency) for r in range(service.replicas)]
    return [0] * service.concurrency  # one replica behind its own queue


def _work(name: str, service: Service) -> tuple[Distribution, str]:
    """The distribution and stream of the work step `World._work_sampler` builds."""
    if service.handler is None:  # the one implicit step keeps its historical stream name
        return service.service_time, f"service/{name}/service_time"
    step = service.handler[0]
    assert isinstance(step, Work)  # `blocker` lets nothing else through
    return step.work or service.service_time, f"service/{name}/handler/0/work"


def integrals(
    arrival: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    touches: np.ndarray,
    workers: int,
    samples: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Busy, queued, in-flight and capacity integrals as `Station.touch` sums them: at each
    instant the station is touched (every arrival and end, and `touches`), count × time
    since the last touch, added in time order (cumsum adds in sequence, as the station
    does); the counts over an interval are those after every event at its left end.
    `start` and `end` hold NaN for what did not happen.

    Returned just after the first instant at or after each of the sorted `samples` (one
    row each), and at the last instant: each running sum is made whole, read there and
    let go before the next, so that a run of 720,000 requests holds a few of its
    2-million-long arrays at a time rather than a dozen (a peak of 289 MiB before)."""
    starts = np.sort(start[~np.isnan(start)])
    ends = np.sort(end[~np.isnan(end)])
    times = np.concatenate((arrival, starts, ends, touches))  # four sorted runs
    order = np.argsort(times, kind="stable")
    times = times[order]
    last = np.flatnonzero(np.append(times[1:] != times[:-1], True))  # each instant's last
    instants = times[last]
    del times
    first_start, first_end = len(arrival), len(arrival) + len(starts)
    first_touch = first_end + len(ends)
    arrived = np.cumsum(order < first_start, dtype=np.int64)[last]
    began = np.cumsum(order < first_end, dtype=np.int64)[last]  # arrivals and starts
    finished = np.cumsum(order < first_touch, dtype=np.int64)[last]  # and ends
    del order, last
    started = began - arrived
    ended = finished - began
    del began, finished
    elapsed = instants - np.concatenate(([0.0], instants[:-1]))
    at = np.searchsorted(instants, samples)
    del instants
    sampled = np.empty((len(samples), 4))
    final = np.empty(4)
    for column, (after, before) in enumerate(
        ((started, ended), (arrived, started), (arrived, ended))  # busy, queued, in flight
    ):
        # the count over (previous instant, instant]
        count = np.concatenate(([0], (after - before)[:-1]))
        running = np.cumsum(count * elapsed)
        sampled[:, column], final[column] = running[at], running[-1]
    running = np.cumsum(workers * elapsed)  # capacity
    sampled[:, 3], final[3] = running[at], running[-1]
    return sampled, final


def sample_times(warmup: float, interval: float, horizon: float) -> np.ndarray:
    """The sampler's instants: the end of warm-up, then every `interval`, added in turn."""
    times: list[float] = []
    now = 0.0 + warmup
    while now < horizon:
        times.append(now)
        now = now + interval
    return np.array(times, dtype=np.float64)


@dataclass
class _Run:
    """Everything the fast path computed, before anything is written to the world."""

    arrival: np.ndarray
    start: np.ndarray
    end: np.ndarray
    replica: np.ndarray
    station: np.ndarray
    finished_order: np.ndarray
    samples: np.ndarray
    counts: np.ndarray  # (samples, stations, 3): busy, queued, in flight
    areas: np.ndarray  # (samples, stations, 4): busy, queued, in flight, capacity
    final_counts: np.ndarray  # (stations, 3)
    final_areas: np.ndarray  # (stations, 4)


def simulate(world: World) -> bool:
    """Run a freshly built world by the fast path, filling the records `World.run` fills
    (requests, spans, samples, the stations' integrals, warm-up areas, the decision log);
    False, with the world untouched, when the fast path cannot reproduce it exactly."""
    if blocker(world.scenario) is not None or world.subsystems or world.pool is not None:
        return False
    try:
        computed = _compute(world)
    except Simultaneous:
        return False
    _write(world, computed)
    return True


@dataclass
class _Queue:
    """One station's requests, in the order they arrived there."""

    index: int
    arrival: np.ndarray
    start: np.ndarray
    end: np.ndarray
    replica: np.ndarray
    order: np.ndarray  # when its work started, among the station's starts


def _queue(index: int, name: str, service: Service, arrival: np.ndarray, seed: int,
           until: float) -> _Queue:  # fmt: skip
    """A station's requests through its queue(s), drawing from fresh copies of its streams."""
    streams = RandomStreams(seed)
    distribution, stream = _work(name, service)
    work = work_times(distribution, streams.get(stream), len(arrival))
    if service.load_balancer == "central-queue" or service.replicas == 1:
        # One FCFS queue (a single replica's own queue is one too): start order is arrival
        # order; the balancer's draws, which only pick among one replica, change nothing.
        start, end, replica = fcfs(_doubles(arrival), work, _worker_order(service), until)
        order = np.arange(len(arrival))
    else:
        choose = chooser(service.load_balancer, streams.get(f"service/{name}/load_balancer"))
        start, end, replica, order = per_replica(
            _doubles(arrival), work, choose, service.replicas, service.concurrency, until
        )
    return _Queue(index, arrival, start, end, replica, order)


def _compute(world: World) -> _Run:
    scenario = world.scenario
    horizon = scenario.horizon
    streams = RandomStreams(world.seed)
    services = list(scenario.services.items())
    samples = sample_times(scenario.warmup, scenario.sample_interval, horizon)
    queues: list[_Queue] = []
    for index, (name, service) in enumerate(services):
        traffic = scenario.traffic.get(name)
        if traffic is None:
            empty = np.empty(0)
            queue = _Queue(index, empty, empty, empty, np.empty(0, np.int32), np.empty(0, int))
        else:
            arrival = arrival_times(traffic, streams.get(f"traffic/{name}"), horizon)
            queue = _queue(index, name, service, arrival, world.seed, horizon)
        if _meets(samples, queue.arrival) or _meets(samples, np.sort(_happened(queue.end))):
            raise Simultaneous  # an arrival or an end at a sampling instant
        queues.append(queue)
    arrival, start, end, replica, order, station = _merge([q for q in queues if len(q.arrival)])
    finished = np.flatnonzero(~np.isnan(end))
    finished_order = finished[np.lexsort((order[finished], end[finished]))]
    ordered = end[finished_order]
    same = ordered[1:] == ordered[:-1]
    if same.any() and (station[finished_order][1:] != station[finished_order][:-1])[same].any():
        raise Simultaneous  # two stations' requests end at one instant
    touches = np.append(samples, horizon)
    counts = np.zeros((len(samples), len(services), 3), dtype=np.int64)
    areas = np.zeros((len(samples), len(services), 4))
    final_counts = np.zeros((len(services), 3), dtype=np.int64)
    final_areas = np.zeros((len(services), 4))
    for queue, (_, service) in zip(queues, services, strict=True):
        index = queue.index
        areas[:, index], final_areas[index] = integrals(
            queue.arrival,
            queue.start,
            queue.end,
            touches,
            service.replicas * service.concurrency,
            samples,
        )
        starts = np.sort(_happened(queue.start))
        ends = np.sort(_happened(queue.end))
        arrived = np.searchsorted(queue.arrival, samples, side="left")
        began = np.searchsorted(starts, samples, side="left")
        done = np.searchsorted(ends, samples, side="left")
        counts[:, index] = np.stack((began - done, arrived - began, arrived - done), axis=1)
        final_counts[index] = (
            len(starts) - len(ends),
            len(queue.arrival) - len(starts),
            len(queue.arrival) - len(ends),
        )
    return _Run(
        arrival,
        start,
        end,
        replica,
        station,
        finished_order,
        samples,
        counts,
        areas,
        final_counts,
        final_areas,
    )


def _happened(times: np.ndarray) -> np.ndarray:
    return times[~np.isnan(times)]


def _meets(instants: np.ndarray, times: np.ndarray) -> bool:
    """Whether any of the sorted `times` falls exactly on one of `instants`."""
    if not len(times):
        return False
    at = np.searchsorted(times, instants).clip(max=len(times) - 1)
    return bool((times[at] == instants).any())


def _merge(
    queues: list[_Queue],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every entry point's requests in the order they arrived (request numbers and span rows
    are handed out in that order)."""
    if not queues:
        empty = np.empty(0)
        nothing = np.empty(0, np.int32)
        return empty, empty, empty, nothing, np.empty(0, np.int64), nothing
    station = np.concatenate([np.full(len(q.arrival), q.index, dtype=np.int32) for q in queues])
    arrival, start, end, replica, order = (
        np.concatenate([getattr(q, name) for q in queues])
        for name in ("arrival", "start", "end", "replica", "order")
    )
    if len(queues) > 1:
        by_time = np.argsort(arrival, kind="stable")
        arrival = arrival[by_time]
        if (arrival[1:] == arrival[:-1]).any():
            raise Simultaneous  # two entry points' requests arrive at one instant
        start, end, replica, order, station = (
            column[by_time] for column in (start, end, replica, order, station)
        )
    return arrival, start, end, replica, order, station


def _extend(column: array[Any], values: np.ndarray, dtype: type[np.generic]) -> None:
    """Append numpy values to an `array` column of a log in one copy."""
    if values.size:
        column.frombytes(np.ascontiguousarray(values, dtype=dtype).data.cast("B"))


def _write(world: World, run: _Run) -> None:
    scenario = world.scenario
    horizon = scenario.horizon
    record = scenario.metrics.record
    count = len(run.arrival)
    finished = ~np.isnan(run.end)
    status = np.where(finished, OK, PENDING)
    if record.spans:
        spans = world.spans
        for name, values, dtype in (
            ("service", run.station, np.int32),
            ("replica", run.replica, np.int32),
            ("parent", np.full(count, -1), np.int32),
            ("request", np.arange(count), np.int32),
            ("attempt", np.zeros(count), np.int8),
            ("arrival", run.arrival, np.float64),
            ("start", run.start, np.float64),
            ("end", run.end, np.float64),
            ("responded", run.end, np.float64),
            ("status", status, np.int8),
            ("outcome", status, np.int8),
        ):
            _extend(getattr(spans, name), values, dtype)
    if record.requests:
        requests = world.requests
        rows = run.finished_order
        for name, values, dtype in (
            ("service", run.station[rows], np.int32),
            ("replica", run.replica[rows], np.int32),
            ("arrival", run.arrival[rows], np.float64),
            ("start", run.start[rows], np.float64),
            ("end", run.end[rows], np.float64),
            ("status", np.full(len(rows), OK), np.int8),
            ("attempts", np.ones(len(rows)), np.int8),
        ):
            _extend(getattr(requests, name), values, dtype)
    stations = world.stations
    times = run.samples
    if len(times):
        world.events.record(
            times[0],
            "run",
            "warmup_ended",
            f"metrics start after {format_duration(scenario.warmup)}",
        )
        for station in stations:
            busy, queued, in_flight, capacity = (float(v) for v in run.areas[0, station.index])
            world.warmup_areas[station.index] = (busy, queued, in_flight, capacity)
    # the sampler's rows: per instant, one per station, in station order
    shape = (len(times), len(stations))
    samples = world.samples
    for name, values, dtype in (
        ("time", np.repeat(times, len(stations)), np.float64),
        ("service", np.tile(np.arange(len(stations)), len(times)), np.int32),
        ("busy", run.counts[:, :, 0], np.int32),
        ("queued", run.counts[:, :, 1], np.int32),
        ("in_flight", run.counts[:, :, 2], np.int32),
        ("workers", np.broadcast_to([s.workers for s in stations], shape), np.int32),
        ("replicas", np.broadcast_to([s.replicas for s in stations], shape), np.int32),
        ("busy_area", run.areas[:, :, 0], np.float64),
        ("queued_area", run.areas[:, :, 1], np.float64),
        ("in_flight_area", run.areas[:, :, 2], np.float64),
        ("capacity_area", run.areas[:, :, 3], np.float64),
    ):
        _extend(getattr(samples, name), values, dtype)
    nodes = world.nodes_now
    world.node_samples.extend((float(t), nodes) for t in times)
    for station in stations:
        station.touch(horizon)  # the clock of its integrals at the horizon, as `World.run`
        busy, queued, in_flight = (int(v) for v in run.final_counts[station.index])
        station.busy, station.queued, station.in_flight = busy, queued, in_flight
        (
            station.busy_area,
            station.queued_area,
            station.in_flight_area,
            station.capacity_area,
        ) = (float(v) for v in run.final_areas[station.index])
    in_service = int(run.final_counts[:, 0].sum())
    queued_total = int(run.final_counts[:, 1].sum())
    world.events.record(
        horizon,
        "run",
        "horizon_reached",
        f"{in_service} requests in service, {queued_total} queued; {NOTE}",
    )
