"""Thread-per-request services, connection pools and bulkheads: hand-checked timings,
the same numbers as the event loop where there is nothing to wait for, queueing theory where
a thread is held across a call, and a cascading failure that a bulkhead stops."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import simpy
from simpy.events import Timeout

import simulator
from simulator import ScenarioError, load_scenario
from simulator.engine.recorder import OK, REJECTED, RequestLog, SpanLog
from simulator.model import calls
from simulator.model.resilience import ConnectionPool, ConnectionPools
from simulator.model.services import build_station
from simulator.theory import erlang_b, mmc
from tests.helpers import MMC, SCENARIOS, assert_agrees

TPR = "thread-per-request"

# --------------------------------------------------------------- hand-checked timings


def _spec(target: calls.Target, **policy: object) -> calls.CallSpec:
    settings = {
        "count": 1, "probability": 1.0, "uniform": lambda: 0.5, "timeout": None, "retries": 0,
        "backoff": 0.0, "backoff_max": 0.0, "jitter": False, "retry_on": frozenset([REJECTED]),
        "optional": False, "network": None, "prefix_work": None, "breaker": None, "budget": None,
    }  # fmt: skip
    settings.update(policy)
    return calls.CallSpec(target=target, **settings)


def rig(
    threading: str,
    sends: list[float],
    pools: ConnectionPools[calls.Waiter] | None = None,
    db_time: float = 2.0,
    threads: int = 1,
    **policy: object,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`api` (`threads` workers, 1 s of work then a call to `db`, which takes `db_time` on
    one of its 10 workers; no network latency); requests sent at `sends`. Returns the
    request log and the span log as frames."""
    env = simpy.Environment()
    spans, requests = SpanLog(), RequestLog()
    runtime = calls.Runtime(env, spans, requests)
    rng = np.random.default_rng(0)
    api = build_station(
        env,
        "api",
        0,
        replicas=1,
        concurrency=threads,
        load_balancer="central-queue",
        queue_limit=None,
        balancer_rng=rng,
        threading=threading,
    )
    db = build_station(
        env,
        "db",
        1,
        replicas=1,
        concurrency=10,
        load_balancer="central-queue",
        queue_limit=None,
        balancer_rng=rng,
    )
    api.spans = db.spans = spans
    to_db = _spec(
        calls.Target(db, ((calls.WORK, lambda: db_time),)),
        network=lambda: 0.0,
        pools=pools,
        **policy,
    )
    handler: calls.Handler = ((calls.WORK, lambda: 1.0), (calls.CALL, to_db))
    if threading == TPR:
        handler = calls.thread_per_request(handler)
    entry = _spec(calls.Target(api, handler))

    def sender(request: int) -> Callable[[simpy.Event], None]:
        return lambda _: calls.OutgoingCall(runtime, entry, None, request=request, entry=0).send()

    for request, at in enumerate(sends):
        Timeout(env, at).callbacks.append(sender(request))
    env.run(until=100)
    return pd.DataFrame(requests.columns()), pd.DataFrame(spans.columns())


def test_an_event_loop_worker_serves_others_while_its_request_waits_for_a_call():
    requests, _ = rig("event-loop", [0.0, 0.5])
    # The second request works 1–2 while the first waits for db (1–3), then waits 2–4 itself.
    assert requests.start.tolist() == [0.0, 1.0]
    assert requests.end.tolist() == [3.0, 4.0]


def test_a_thread_per_request_worker_is_held_through_the_call():
    requests, spans = rig(TPR, [0.0, 0.5])
    # The second request waits for the one thread until the first has its answer (3 s).
    assert requests.start.tolist() == [0.0, 3.0]
    assert requests.end.tolist() == [3.0, 6.0]
    assert (requests.status == OK).all()
    db = spans[spans.service == 1]
    assert db.arrival.tolist() == [1.0, 4.0]


def test_a_handler_that_calls_first_still_holds_a_thread_for_its_call():
    env = simpy.Environment()
    spans, requests = SpanLog(), RequestLog()
    runtime = calls.Runtime(env, spans, requests)
    rng = np.random.default_rng(0)
    api = build_station(
        env,
        "api",
        0,
        replicas=1,
        concurrency=1,
        load_balancer="round-robin",
        queue_limit=None,
        balancer_rng=rng,
        threading=TPR,
    )
    db = build_station(
        env,
        "db",
        1,
        replicas=1,
        concurrency=10,
        load_balancer="round-robin",
        queue_limit=None,
        balancer_rng=rng,
    )
    api.spans = db.spans = spans
    to_db = _spec(calls.Target(db, ((calls.WORK, lambda: 2.0),)))
    entry = _spec(calls.Target(api, calls.thread_per_request(((calls.CALL, to_db),))))
    for at in (0.0, 0.5):
        Timeout(env, at).callbacks.append(
            lambda _: calls.OutgoingCall(runtime, entry, None, request=0, entry=0).send()
        )
    env.run(until=10)
    log = pd.DataFrame(requests.columns())
    assert log.start.tolist() == [0.0, 2.0]  # the thread, taken at once, is held 0–2
    assert log.end.tolist() == [2.0, 4.0]
    assert api.busy == 0 and api.in_flight == 0


def test_a_call_waits_for_a_free_connection():
    pools: ConnectionPools[calls.Waiter] = ConnectionPools(1, None)
    requests, spans = rig("event-loop", [0.0, 0.5], pools=pools)
    # The second request's call waits 2–3 for the one connection, then takes 3–5.
    assert requests.end.tolist() == [3.0, 5.0]
    assert spans[spans.service == 1].arrival.tolist() == [1.0, 3.0]
    assert [pool.in_use for pool in pools.by_replica.values()] == [0]


def test_a_bulkhead_refuses_at_once_and_an_acquire_timeout_after_waiting():
    refused = rig("event-loop", [0.0, 0.5], pools=ConnectionPools(1, 0.0))[0].sort_values("arrival")
    assert refused.status.tolist() == [OK, REJECTED]
    assert refused.end.tolist() == [3.0, 2.0]  # the second call, at 2, finds none free
    waited = rig("event-loop", [0.0, 0.5], pools=ConnectionPools(1, 0.4))[0].sort_values("arrival")
    assert waited.status.tolist() == [OK, REJECTED]
    assert waited.end.tolist() == [3.0, 2.4]


def test_a_retry_that_waits_again_is_sent_once():
    """Three calls at 1 s for one connection (acquire timeout 0.4 s, one retry, no backoff):
    the first is sent (1–1.5); the others give up at 1.4, retry and wait again; at 1.5 the
    connection goes to the first of their retries (sent 1.5–2), the last gives up for good at
    1.8. Their first attempts, still queued, are skipped, not sent."""
    pools: ConnectionPools[calls.Waiter] = ConnectionPools(1, 0.4)
    requests, spans = rig(
        "event-loop", [0.0, 0.0, 0.0], pools=pools, threads=3, retries=1, db_time=0.5
    )
    db = spans[spans.service == 1]
    assert db.arrival.tolist() == [1.0, 1.5]
    assert db.attempt.tolist() == [0, 1]  # the second is a retry
    requests = requests.sort_values("end")
    assert requests.end.tolist() == pytest.approx([1.5, 1.8, 2.0])
    assert requests.status.tolist() == [OK, REJECTED, OK]
    assert all(pool.in_use == 0 and not pool.waiters for pool in pools.by_replica.values())


def test_connection_pool_hands_a_released_connection_to_the_longest_waiter():
    pool: ConnectionPool[str] = ConnectionPool(1)
    assert pool.try_acquire() and not pool.try_acquire()
    pool.waiters.extend(["gone", "a", "b"])
    assert pool.release(lambda w: w != "gone") == "a"
    assert pool.in_use == 1
    assert pool.release(lambda w: False) is None  # "b" gave up too
    assert pool.in_use == 0 and not pool.waiters


# --------------------------------------------------------------- the same as before


@pytest.mark.parametrize("balancer", ["central-queue", "least-connections"])
def test_thread_per_request_without_calls_is_the_event_loop_bit_for_bit(balancer):
    # engine general: both runs by the event loop (the fast path declines thread-per-request)
    overrides = ["horizon=2000s", "engine=general", f"services.api.load_balancer={balancer}"]
    before = simulator.run(load_scenario(MMC, overrides))
    after = simulator.run(load_scenario(MMC, [*overrides, f"services.api.threading={TPR}"]))
    assert before.summary.keys() == after.summary.keys()
    for key, value in before.summary.items():
        assert value == after.summary[key] or (
            value != value and after.summary[key] != after.summary[key]
        ), key
    for name in ("requests", "spans", "services", "timeseries"):
        pd.testing.assert_frame_equal(before.tables[name], after.tables[name])


# --------------------------------------------------------------- against theory


def caller_and_backend(threading: str, own_work: dict | None, backend: dict,
                       rate: float, threads: int, queue_limit: int | None,
                       backend_workers: int = 1000, horizon: str = "4000s") -> dict:  # fmt: skip
    """`api` with `threads` threads (one replica, central queue) does `own_work` then calls
    `backend`; no network latency, so a thread's holding time is the work plus the call."""
    handler: list[dict] = [] if own_work is None else [{"work": own_work}]
    return {
        "seed": 1, "horizon": horizon, "warmup": "200s",
        "network": {"latency": {"distribution": "constant", "mean": "0s"}},
        "services": {
            "api": {"replicas": 1, "concurrency": threads, "queue_limit": queue_limit,
                    "load_balancer": "central-queue", "threading": threading,
                    "handler": [*handler, {"call": "backend"}]},
            "backend": {"replicas": 1, "concurrency": backend_workers, "service_time": backend,
                        "load_balancer": "central-queue"},
        },
        "traffic": {"api": {"rate": rate}},
    }  # fmt: skip


def exponential(mean: float) -> dict:
    return {"distribution": "exponential", "mean": mean}


@pytest.mark.slow
def test_a_thread_held_for_an_exponential_call_is_an_mmc_queue():
    """Threads held for the whole call (exponential, never queued at the backend): the
    caller is M/M/4 at ρ 0.75, its entry wait Erlang C's."""
    scenario = caller_and_backend(TPR, None, exponential(1.0), 3.0, 4, None, horizon="12000s")
    table = simulator.run_replications(scenario, 10).table
    assert_agrees(table.wait_mean_s, mmc(3.0, 1.0, 4).wait_mean, 0.06, "M/M/4 wait")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("threading", "holding"), [(TPR, 1.0), ("event-loop", 0.5)], ids=["tpr", "event-loop"]
)
def test_loss_with_own_work_and_a_fixed_call_follows_erlang_b(threading, holding):
    """No queue (limit 0): an M/G/4/4 loss system, whose blocking is Erlang B of the offered
    load λ·E[holding] whatever the holding time's distribution. A thread holds for its own
    work (exponential 0.5 s) plus the call (constant 0.5 s); an event-loop worker only for
    the work. Busy workers follow Little's law with the carried load λ(1 − B)·E[holding]."""
    constant = {"distribution": "constant", "mean": 0.5}
    scenario = caller_and_backend(threading, exponential(0.5), constant, 3.0, 4, 0)
    runs = simulator.run_replications(scenario, 10, keep_results=True)
    blocking = erlang_b(4, 3.0 * holding)
    assert_agrees(runs.table.error_rate_rejected, blocking, 0.05, "Erlang B blocking")
    busy = [r.tables["services"].loc["api", "utilisation"] * 4 for r in runs.results]
    assert_agrees(busy, 3.0 * (1 - blocking) * holding, 0.02, "busy threads (Little)")


@pytest.mark.slow
def test_busy_threads_are_arrivals_times_own_work_plus_the_backends_sojourn():
    """Little's law with the holding time: plenty of threads (no wait at the caller, so
    the backend sees Poisson arrivals), an M/M/1 backend at ρ 0.6 whose sojourn is
    1/(μ − λ) = 0.5 s; own work 0.25 s: 3/s × 0.75 s = 2.25 threads busy on average."""
    scenario = caller_and_backend(TPR, exponential(0.25), exponential(0.2), 3.0, 50, None, 1)
    runs = simulator.run_replications(scenario, 10, keep_results=True)
    busy = [r.tables["services"].loc["api", "utilisation"] * 50 for r in runs.results]
    assert_agrees(busy, 3.0 * (0.25 + 1 / (5.0 - 3.0)), 0.03, "busy threads")


# --------------------------------------------------------------- cascading failure


@pytest.mark.slow
def test_a_slow_backend_takes_down_its_thread_per_request_callers_and_a_bulkhead_stops_it():
    shorter = ["horizon=6min"]  # the slowdown starts at 4 min
    cascade = simulator.run(load_scenario(SCENARIOS / "what-if/cascading-failure.yaml", shorter))
    requests = cascade.requests
    during = requests[requests.arrival > 250]
    assert (during.status == "rejected").mean() > 0.5  # the gateway refuses most pages
    before = requests[requests.arrival < 235]
    assert (before.status == "ok").mean() > 0.999
    protected = simulator.run(load_scenario(SCENARIOS / "what-if/bulkheads.yaml", shorter))
    during = protected.requests[protected.requests.arrival > 250]
    assert (during.status == "ok").mean() > 0.999
    assert (during.end - during.arrival).quantile(0.99) < 1.0
    async_ = load_scenario(
        SCENARIOS / "what-if/cascading-failure.yaml",
        [
            *shorter,
            "services.storefront.threading=event-loop",
            "services.gateway.threading=event-loop",
        ],
    )
    during = simulator.run(async_).requests
    during = during[during.arrival > 250]
    assert (during.status == "ok").mean() > 0.999  # event loops: slow, but nothing runs out


def test_the_analytic_fidelity_refuses_threads_and_pools_in_one_line():
    path = SCENARIOS / "what-if/bulkheads.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, ["fidelity=analytic"])
    message = str(caught.value)
    assert "services.gateway.threading: expected threading event-loop" in message
    assert "\n" not in message
    with pytest.raises(ScenarioError, match=r"services\.storefront\.connection_pool"):
        load_scenario(
            path,
            [
                "fidelity=analytic",
                *(f"services.{s}.threading=event-loop" for s in ("gateway", "storefront")),
            ],
        )
