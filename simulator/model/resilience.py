"""Resilience decisions as pure functions and small state records: backoff, retry budgets,
circuit breakers and connection pools (bulkheads). The call machinery asks them; they never
touch the clock themselves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

W = TypeVar("W")


def backoff_delay(retry: int, base: float, cap: float, jitter: bool, u: float) -> float:
    """Exponential backoff before retry number `retry` (1 for the first retry).

    With full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015) the wait
    is uniform on [0, min(cap, base·2^(retry−1))), which spreads retries out instead of
    sending them in synchronised waves.
    """
    delay = min(cap, base * 2.0 ** (retry - 1))
    return delay * u if jitter else delay


@dataclass
class RetryBudget:
    """A token bucket: each first attempt deposits `ratio` tokens, time deposits `min_rate`
    per second, and a retry spends one. Capped so that a quiet spell cannot bank a storm."""

    ratio: float
    min_rate: float
    tokens: float = 0.0
    updated: float = 0.0

    @property
    def cap(self) -> float:
        return max(10.0, 10.0 * self.min_rate)

    def deposit(self, now: float) -> None:
        self._refill(now)
        self.tokens = min(self.cap, self.tokens + self.ratio)

    def try_spend(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def _refill(self, now: float) -> None:
        self.tokens = min(self.cap, self.tokens + self.min_rate * (now - self.updated))
        self.updated = now


CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass
class BreakerState:
    """Closed: calls pass and outcomes are counted over a sliding window. When the share of
    failures reaches `failure_ratio` (with at least `min_calls`), it opens: calls fail at
    once for `open_for`. Then it lets `half_open_calls` trial calls through: if all succeed
    it closes, if one fails it opens again."""

    failure_ratio: float
    window: float
    min_calls: int
    open_for: float
    half_open_calls: int
    state: str = CLOSED
    opened_at: float = 0.0
    trials_sent: int = 0
    trials_ok: int = 0
    outcomes: deque[tuple[float, bool]] = field(default_factory=deque)
    failures: int = 0

    def allows(self, now: float) -> bool:
        """Whether a call may go out now; counts it as a trial when half-open."""
        if self.state == OPEN:
            if now - self.opened_at < self.open_for:
                return False
            self.state, self.trials_sent, self.trials_ok = HALF_OPEN, 0, 0
        if self.state == HALF_OPEN:
            if self.trials_sent >= self.half_open_calls:
                return False
            self.trials_sent += 1
        return True

    def record(self, now: float, ok: bool) -> str | None:
        """Count an outcome; returns the new state when it changes, else None."""
        if self.state == HALF_OPEN:
            if not ok:
                return self._open(now)
            self.trials_ok += 1
            if self.trials_ok >= self.half_open_calls:
                self.state = CLOSED
                self.outcomes.clear()
                self.failures = 0
                return CLOSED
            return None
        if self.state == OPEN:
            return None  # an answer to a call sent before the breaker opened
        self.outcomes.append((now, ok))
        self.failures += not ok
        while self.outcomes and self.outcomes[0][0] < now - self.window:
            self.failures -= not self.outcomes.popleft()[1]
        calls = len(self.outcomes)
        if calls >= self.min_calls and self.failures >= self.failure_ratio * calls:
            return self._open(now)
        return None

    def _open(self, now: float) -> str:
        self.state, self.opened_at = OPEN, now
        self.outcomes.clear()
        self.failures = 0
        return OPEN


@dataclass(eq=False)
class ConnectionPool(Generic[W]):
    """`size` connections; callers that find none free wait in FIFO order. Waiters that gave
    up stay in the queue until a free connection skips them (`release`)."""

    size: int
    in_use: int = 0
    waiters: deque[W] = field(default_factory=deque)

    def try_acquire(self) -> bool:
        """Take a free connection if there is one."""
        if self.in_use < self.size:
            self.in_use += 1
            return True
        return False

    def release(self, still_waiting: Callable[[W], bool]) -> W | None:
        """Give a connection back: to the longest waiter still waiting (returned: it now
        holds the connection), else to the pool."""
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if still_waiting(waiter):
                return waiter
        self.in_use -= 1
        return None


@dataclass(eq=False)
class ConnectionPools(Generic[W]):
    """The pools of one caller→callee edge: one per replica of the caller, made when that
    replica first calls (replicas added by the autoscaler get theirs the same way)."""

    size: int
    acquire_timeout: float | None
    by_replica: dict[int, ConnectionPool[W]] = field(default_factory=dict)

    def of(self, replica: int) -> ConnectionPool[W]:
        pool = self.by_replica.get(replica)
        if pool is None:
            pool = self.by_replica[replica] = ConnectionPool(self.size)
        return pool
