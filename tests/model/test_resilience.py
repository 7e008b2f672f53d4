"""Resilience decisions as pure functions: backoff, retry budgets, circuit breakers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.model.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerState,
    RetryBudget,
    backoff_delay,
)

unit = st.floats(min_value=0, max_value=1, exclude_max=True)


@given(st.integers(min_value=1, max_value=40), unit)
def test_backoff_doubles_up_to_the_cap_and_jitter_stays_below_it(retry, u):
    plain = backoff_delay(retry, 0.1, 5.0, jitter=False, u=u)
    assert plain == min(5.0, 0.1 * 2 ** (retry - 1))
    assert 0 <= backoff_delay(retry, 0.1, 5.0, jitter=True, u=u) <= plain


def test_retry_budget_allows_a_share_of_first_attempts():
    budget = RetryBudget(ratio=0.2, min_rate=0.0)
    allowed = 0
    for i in range(1000):
        budget.deposit(now=0.0)
        if i % 2 == 0:  # try to retry every other request: far more than 20%
            allowed += budget.try_spend(now=0.0)
    assert allowed == pytest.approx(200, abs=1)


def test_retry_budget_refills_with_time_up_to_its_cap():
    budget = RetryBudget(ratio=0.0, min_rate=10.0)
    assert not budget.try_spend(now=0.0)
    assert budget.try_spend(now=0.15)  # 1.5 tokens
    assert not budget.try_spend(now=0.15)
    spent = sum(budget.try_spend(now=1000.0) for _ in range(1000))
    assert spent == budget.cap  # a quiet spell cannot bank a storm


def breaker() -> BreakerState:
    return BreakerState(failure_ratio=0.5, window=10.0, min_calls=4, open_for=5.0,
                          half_open_calls=2)  # fmt: skip


def test_breaker_opens_on_failures_then_probes_and_closes():
    cb = breaker()
    for t, ok in [(0, True), (1, False), (2, True)]:
        assert cb.allows(t) and cb.record(t, ok) is None
    assert cb.record(3, False) == OPEN  # 2 of 4 failed
    assert not cb.allows(4) and not cb.allows(7.9)
    assert cb.allows(8.1) and cb.state == HALF_OPEN
    assert cb.allows(8.2)
    assert not cb.allows(8.3)  # only two trial calls
    assert cb.record(8.5, True) is None
    assert cb.record(8.6, True) == CLOSED


def test_a_failed_trial_reopens_the_breaker():
    cb = breaker()
    for t in range(4):
        cb.allows(t)
        cb.record(t, False)
    assert cb.state == OPEN
    assert cb.allows(10)
    assert cb.record(10.1, False) == OPEN
    assert not cb.allows(12)


def test_old_outcomes_leave_the_window():
    cb = breaker()
    for t in range(3):
        cb.record(t, False)
    # Long after, one failure among fresh successes does not open it.
    for t in (20, 21, 22):
        assert cb.record(t, True) is None
    assert cb.record(23, False) is None
    assert cb.state == CLOSED


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=0.5), st.booleans()), max_size=60))
def test_breaker_never_opens_without_enough_calls_or_failures(steps):
    cb = breaker()
    now = 0.0
    for gap, ok in steps:
        now += gap
        if cb.allows(now):
            cb.record(now, ok)
    if cb.state != CLOSED:
        assert sum(not ok for _, ok in steps) >= 2
