"""Requests moving through a call graph: visits to services, and calls between them.

A `Visit` is one attempt at one service: it runs the service's handler step by step (work on
a worker of the station, calls in turn, or a parallel fan-out) and ends ok or with the cause
of its failure. An `OutgoingCall` is the caller's side: it sends attempts over the network, times
them out, retries with backoff within the budget, consults the circuit breaker, takes a
connection from the caller replica's pool when the caller has one, and tells its caller the
final outcome. Everything is driven by SimPy event callbacks, so a request costs a handful
of events and no generator. At a thread-per-request station a visit keeps its worker from
its first step to its answer (`services.ThreadedCentralQueueStation`), its calls included.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simpy import Environment
from simpy.events import Event

from ..engine.recorder import (
    CIRCUIT_OPEN,
    OK,
    PENDING,
    REJECTED,
    TIMEOUT,
    UNAVAILABLE,
    RequestLog,
    SpanLog,
)
from .resilience import BreakerState, ConnectionPool, ConnectionPools, RetryBudget, backoff_delay
from .services import HOLD, Station, Step

NAN = math.nan
WORK, CALL, PARALLEL = 0, 1, 2

Handler = tuple[tuple[Any, ...], ...]
"""A handler's compiled steps: (WORK, sampler) | (CALL, CallSpec) | (PARALLEL, specs, k)."""

Waiter = tuple["OutgoingCall", int]
"""A call waiting for a connection, and the attempt that waits (a retry may wait again)."""


@dataclass(eq=False)
class Target:
    """Where a call goes: a station and the handler its visits run."""

    station: Station
    handler: Handler


@dataclass(eq=False)
class CallSpec:
    """A compiled call: its target, the caller's policy, and the caller's shared state."""

    target: Target
    count: int
    probability: float
    uniform: Callable[[], float]
    timeout: float | None
    retries: int
    backoff: float
    backoff_max: float
    jitter: bool
    retry_on: frozenset[int]
    optional: bool
    network: Callable[[], float] | None  # one-way latency; None for in-process or edge calls
    prefix_work: Callable[[], float] | None  # the callee's serialisation work, network calls
    breaker: BreakerState | None
    budget: RetryBudget | None
    on_breaker_change: Callable[[str], None] | None = None
    local: Callable[[], bool] | None = None  # does this call stay on the caller's node?
    network_local: Callable[[], float] | None = None  # one-way latency when it does
    pools: ConnectionPools[Waiter] | None = None  # the caller's, for this callee


def thread_per_request(handler: Handler) -> Handler:
    """A handler for a thread-per-request station: one whose first step is not work first
    takes a thread (`HOLD`), so that its calls hold one too."""
    if handler and handler[0][0] == WORK:
        return handler
    return ((WORK, HOLD), *handler)


class Runtime:
    """What every visit and call of a run shares: the clock and the logs."""

    def __init__(
        self,
        env: Environment,
        spans: SpanLog,
        requests: RequestLog,
        keep_spans: bool = True,
        keep_requests: bool = True,
    ) -> None:
        """`keep_spans` False: span rows are reused once nothing reads them any more (see
        `_reused_span`), so the log holds the visits in flight rather than every visit;
        `keep_requests` False: end-to-end requests are not recorded at all."""
        self.env = env
        self.spans = spans
        self.requests = requests
        self.keep_requests = keep_requests
        self.reuse_after = 0.0
        """Seconds after a caller had its answer during which the row may still be read
        (the longest call timeout or retry backoff; World sets it while building calls)."""
        self._cursor = 0
        self.keep_spans = keep_spans

    def _append_span(self, station: Station, parent: int, request: int, attempt: int) -> int:
        """A new row of the span log: the next one of its chunk, which already holds a new
        visit's values (`SpanLog`), given the visit's four identifying fields."""
        spans = self.spans
        if not spans.padding:
            spans.grow()
        row = spans.rows
        spans.rows = row + 1
        spans.padding -= 1
        spans.live_service[row] = station.index
        spans.live_parent[row] = parent
        spans.live_request[row] = request
        spans.live_attempt[row] = attempt if attempt < 127 else 127
        return row

    def _reused_span(self, station: Station, parent: int, request: int, attempt: int) -> int:
        """A row for a new visit when spans are not kept: the next of a few rows after the
        last one handed out that is finished for good (the callee ended it, the caller had
        its answer more than `reuse_after` ago, so no timer or late answer of that attempt
        can still look at it); a new row when none is. Only `start` (read for the request
        log) and `outcome` (read to drop late answers) matter while a row is live."""
        spans = self.spans
        statuses, outcomes = spans.live_status, spans.live_outcome
        responded = spans.live_responded
        size = len(statuses) - spans.padding
        row = self._cursor
        oldest = self.env._now - self.reuse_after
        for _ in range(min(size, 4)):
            if row >= size:
                row = 0
            if statuses[row] != PENDING and outcomes[row] != PENDING and responded[row] < oldest:
                self._cursor = row + 1
                spans.live_service[row] = station.index
                spans.live_replica[row] = -1
                spans.live_parent[row] = parent
                spans.live_request[row] = request
                spans.live_attempt[row] = attempt if attempt < 127 else 127
                spans.live_arrival[row] = NAN
                spans.live_start[row] = NAN
                spans.live_end[row] = NAN
                spans.live_responded[row] = NAN
                statuses[row] = PENDING
                outcomes[row] = PENDING
                return row
            row += 1
        self._cursor = row
        return self._append_span(station, parent, request, attempt)


class Visit:
    """One attempt at one service, running that service's handler."""

    __slots__ = (
        "call",
        "group",
        "handler",
        "needed",
        "pending",
        "replica",
        "row",
        "runtime",
        "started",
        "station",
        "status",
        "step",
        "successes",
    )

    def __init__(self, runtime: Runtime, call: OutgoingCall, target: Target, row: int) -> None:
        self.runtime = runtime
        self.call = call
        self.station = target.station
        self.handler = target.handler
        self.row = row
        self.step = 0
        self.replica = -1
        self.started = False
        self.status = OK
        self.group = 0  # which parallel step is running; late answers of earlier ones are ignored
        # `needed`, `pending` and `successes` are set by each call step, before any answer.

    def begin(self, _event: Event | None = None) -> None:
        """Arrive at the station: rejected at once, or admitted and started (the callback of
        a network call's way there, or called at once)."""
        now = self.runtime.env._now
        spans = self.runtime.spans
        spans.live_arrival[self.row] = now
        if self.station.faults is not None:
            failed = self.station.faults.check(now)
            if failed is not None:
                self._fail_before_admission(*failed)
                return
        if not self.station.admit(self):
            # A full queue sheds the visit; with no replica serving, nothing could take it.
            status = REJECTED if self.station.replicas else UNAVAILABLE
            spans.live_end[self.row] = now
            spans.live_status[self.row] = status
            self.call.answered(self, status)
            return
        prefix_work = self.call.spec.prefix_work
        if prefix_work is not None:
            self.station.work(self, prefix_work)
            return
        handler = self.handler
        if handler and handler[0][0] == WORK:  # `advance`'s first step, inlined
            self.step = 1
            self.station.work(self, handler[0][1])
        else:
            self.advance()

    def _fail_before_admission(self, status: int, delay: float) -> None:
        """A stale address, a drifted host or a refused credential: the visit fails without
        using a worker, at once or after `delay` (a connection that hangs)."""
        spans = self.runtime.spans
        spans.live_status[self.row] = status

        def fail(_event: Event | None = None) -> None:
            spans.live_end[self.row] = self.runtime.env._now
            self.call.answered(self, status)

        if delay > 0:
            Step(self.runtime.env, delay, None, fail)
        else:
            fail()

    def advance(self) -> None:
        """Run the next step of the handler; called again whenever a step finishes."""
        handler = self.handler
        while self.step < len(handler):
            step = handler[self.step]
            self.step += 1
            kind = step[0]
            if kind == WORK:
                self.station.work(self, step[1])
                return
            if kind == CALL:
                spec = step[1]
                if spec.count == 1 and spec.probability >= 1.0:
                    # One call, always made (most calls): `_fan_out` of one, inlined.
                    self.group = group = self.group + 1
                    self.needed = self.pending = 1
                    self.successes = 0
                    OutgoingCall(self.runtime, spec, self, group).send()
                    return
                calls = [spec] * _draw_count(spec)
                if calls:
                    self._fan_out(calls, len(calls), sequential=True)
                    return
            else:
                calls = [spec for spec in step[1] for _ in range(_draw_count(spec))]
                if calls:
                    needed = len(calls) if step[2] is None else min(step[2], len(calls))
                    self._fan_out(calls, needed, sequential=False)
                    return
        self.finish(OK)

    def at_first_work(self) -> bool:
        """Whether the work step that just ended was this visit's first (the serialisation
        of a network call's payload counts): a bad version decides a visit's fate there."""
        step = self.step
        if step == 0:
            return True  # only the prefix work runs before the handler's first step
        if self.call.spec.prefix_work is not None:
            return False
        return not any(s[0] == WORK and s[1] is not HOLD for s in self.handler[: step - 1])

    def _fan_out(self, calls: list[CallSpec], needed: int, sequential: bool) -> None:
        self.group += 1
        self.needed = needed
        self.successes = 0
        self.pending = len(calls)
        if sequential:
            OutgoingCall(self.runtime, calls[0], self, self.group, rest=calls[1:]).send()
        else:
            for spec in calls:
                OutgoingCall(self.runtime, spec, self, self.group).send()

    def call_finished(self, call: OutgoingCall, status: int) -> None:
        """A call made by this visit has its final outcome."""
        if call.group != self.group or self.status != OK:
            return  # a straggler of a parallel step that has already moved on, or failed
        self.pending -= 1
        if status == OK or call.spec.optional:
            self.successes += 1
        elif self.successes + self.pending < self.needed:
            self.finish(status)
            return
        if call.rest:
            OutgoingCall(self.runtime, call.rest[0], self, self.group, rest=call.rest[1:]).send()
        elif self.successes >= self.needed:
            self.group += 1  # later answers belong to a finished step
            self.advance()

    def finish(self, status: int) -> None:
        self.status = status
        spans = self.runtime.spans
        spans.live_end[self.row] = self.runtime.env._now
        spans.live_status[self.row] = status
        self.station.leave(self)
        call = self.call
        if call.spec.network is None:  # `call.answered`, inlined
            call._outcome(self, status)
        else:
            Step(self.runtime.env, call.network(), (self, status), call._answer_arrived)


def _still_waiting(waiter: Waiter) -> bool:
    call, attempt = waiter
    return call.waiting and call.attempt == attempt


def _draw_count(spec: CallSpec) -> int:
    if spec.probability >= 1.0:
        return spec.count
    uniform = spec.uniform
    return sum(1 for _ in range(spec.count) if uniform() < spec.probability)


class OutgoingCall:
    """The caller's side of one call (with all its attempts), or of one end-to-end request."""

    __slots__ = (
        "attempt",
        "caller",
        "done",
        "entry",
        "first_sent",
        "group",
        "network",
        "pool",
        "request",
        "rest",
        "runtime",
        "spec",
        "visit",
        "waiting",
    )

    network: Callable[[], float]  # set by `send` for a network call: the way back
    # Set only when the caller has connection pools (`_connect`), so other calls pay nothing:
    pool: ConnectionPool[Waiter]  # the pool the current attempt takes a connection of
    waiting: bool  # whether the current attempt waits for a connection

    def __init__(
        self,
        runtime: Runtime,
        spec: CallSpec,
        caller: Visit | None,
        group: int = 0,
        rest: list[CallSpec] | None = None,
        request: int = -1,
        entry: int = -1,
    ) -> None:
        self.runtime = runtime
        self.spec = spec
        self.caller = caller
        self.group = group
        self.rest = rest
        self.entry = entry  # the entry-point service of an end-to-end request
        self.request: int = request if caller is None else caller.call.request
        self.attempt = 0
        self.visit: Visit | None = None
        self.done = False
        self.first_sent = runtime.env._now

    def send(self, connected: bool = False) -> None:
        """Send the current attempt: through the breaker (and the caller replica's connection
        pool, if it has one) and the network to the target. `connected`: the attempt has
        waited for a connection and now holds one, so it goes straight to the network."""
        spec = self.spec
        if not connected:
            now = self.runtime.env._now
            if spec.breaker is not None and not spec.breaker.allows(now):
                self._failed(CIRCUIT_OPEN)
                return
            if self.attempt == 0 and spec.budget is not None:
                spec.budget.deposit(now)
            if spec.pools is not None and not self._connect(spec.pools):
                return
        parent = self.caller.row if self.caller is not None else -1
        target = spec.target
        runtime = self.runtime
        if runtime.keep_spans:  # `Runtime._append_span`, inlined
            spans = runtime.spans
            if not spans.padding:
                spans.grow()
            row = spans.rows
            spans.rows = row + 1
            spans.padding -= 1
            spans.live_service[row] = target.station.index
            spans.live_parent[row] = parent
            spans.live_request[row] = self.request
            attempt = self.attempt
            spans.live_attempt[row] = attempt if attempt < 127 else 127
        else:
            row = runtime._reused_span(target.station, parent, self.request, self.attempt)
        visit = self.visit = Visit(runtime, self, target, row)
        if spec.timeout is not None:
            Step(runtime.env, spec.timeout, visit, self._timed_out)
        if spec.network is not None:
            network = spec.network
            if spec.local is not None and spec.local():
                network_local = spec.network_local
                assert network_local is not None  # set with `local` (World._local_network)
                network = network_local
            self.network = network  # the answer comes back the same way
            Step(runtime.env, network(), visit, visit.begin)
        else:
            visit.begin()

    def _connect(self, pools: ConnectionPools[Waiter]) -> bool:
        """Take a connection of the caller replica's pool: True if there was a free one;
        else wait for one (FIFO; `send(connected=True)` when it comes), failing as `rejected`
        after the acquire timeout (at once with 0)."""
        assert self.caller is not None  # pools are on calls between services
        pool = self.pool = pools.of(self.caller.replica)
        if pool.try_acquire():
            self.waiting = False
            return True
        timeout = pools.acquire_timeout
        if timeout == 0:
            self.waiting = False
            self._failed(REJECTED)
            return False
        self.waiting = True
        pool.waiters.append((self, self.attempt))
        if timeout is not None:
            Step(self.runtime.env, timeout, self.attempt, self._no_connection)
        return False

    def _no_connection(self, event: Event) -> None:
        if self.waiting and event._value == self.attempt:
            self.waiting = False
            self._failed(REJECTED)

    def _release(self) -> None:
        """Give the attempt's connection back: to the longest waiter, which sends at once."""
        following = self.pool.release(_still_waiting)
        if following is not None:
            call = following[0]
            call.waiting = False
            call.send(connected=True)

    def answered(self, visit: Visit, status: int) -> None:
        """The callee finished this attempt; the answer travels back over the network."""
        if self.spec.network is not None:
            Step(self.runtime.env, self.network(), (visit, status), self._answer_arrived)
        else:
            self._outcome(visit, status)

    def _answer_arrived(self, event: Event) -> None:
        """An answer back over the network: `_outcome`, inlined (one Python call less for
        every network call)."""
        answer: tuple[Visit, int] = event._value
        visit, status = answer
        spans = self.runtime.spans
        if visit is not self.visit or self.done or spans.live_outcome[visit.row] != PENDING:
            return  # an answer after the caller gave up on this attempt
        spans.live_responded[visit.row] = self.runtime.env._now
        spans.live_outcome[visit.row] = status
        spec = self.spec
        if spec.pools is not None:
            self._release()
        breaker = spec.breaker
        if breaker is not None:
            change = breaker.record(self.runtime.env._now, status == OK)
            if change is not None and spec.on_breaker_change is not None:
                spec.on_breaker_change(change)
        if status == OK:
            self._complete(OK)
        else:
            self._failed(status)

    def _timed_out(self, event: Event) -> None:
        visit: Visit = event._value
        if (
            visit is self.visit
            and not self.done
            and self.runtime.spans.live_outcome[visit.row] == PENDING
        ):
            self._outcome(visit, TIMEOUT)

    def _outcome(self, visit: Visit, status: int) -> None:
        """The attempt's outcome, as the caller sees it (`_answer_arrived` repeats this body
        for answers over the network: a change here belongs there too)."""
        spans = self.runtime.spans
        if visit is not self.visit or self.done or spans.live_outcome[visit.row] != PENDING:
            return  # an answer after the caller gave up on this attempt
        spans.live_responded[visit.row] = self.runtime.env._now
        spans.live_outcome[visit.row] = status
        spec = self.spec
        if spec.pools is not None:
            self._release()
        breaker = spec.breaker
        if breaker is not None:
            change = breaker.record(self.runtime.env._now, status == OK)
            if change is not None and spec.on_breaker_change is not None:
                spec.on_breaker_change(change)
        if status == OK:
            self._complete(OK)
        else:
            self._failed(status)

    def _failed(self, status: int) -> None:
        spec = self.spec
        now = self.runtime.env._now
        if (
            self.attempt < spec.retries
            and status in spec.retry_on
            and (spec.budget is None or spec.budget.try_spend(now))
        ):
            self.attempt += 1
            delay = backoff_delay(
                self.attempt, spec.backoff, spec.backoff_max, spec.jitter, spec.uniform()
            )
            Step(self.runtime.env, delay, None, lambda _: self.send())
            return
        self._complete(status)

    def _complete(self, status: int) -> None:
        self.done = True
        visit = self.visit
        # The call and its visit refer to each other; once the call is done nothing reads
        # `visit` (late answers see `done`), so letting go of it frees both without waiting
        # for the cycle collector (which otherwise spent ~10% of a run finding them).
        self.visit = None
        if self.caller is not None:
            self.caller.call_finished(self, status)
            return
        runtime = self.runtime
        if not runtime.keep_requests:
            return
        # The end-to-end request, as one row of the request log (see `RequestLog`).
        log = runtime.requests
        attempts = self.attempt + 1
        if visit is not None:
            log.pending.append(
                (
                    self.entry,
                    visit.replica,
                    self.first_sent,
                    runtime.spans.live_start[visit.row],
                    runtime.env._now,
                    status,
                    attempts if attempts < 127 else 127,
                )
            )
        else:
            log.pending.append(
                (
                    self.entry,
                    -1,
                    self.first_sent,
                    NAN,
                    runtime.env._now,
                    status,
                    attempts if attempts < 127 else 127,
                )
            )
        log.room -= 1
        if not log.room:
            log.flush()
