"""`pool.workers`: a sweep's local workers are kept, idle, for the next sweep of as many
jobs, which runs on them with the same numbers; an error ends them at once, and idleness
after `KEEP_IDLE_S`."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import simulator
from simulator.experiments import pool
from simulator.experiments.executor import RunTask, execute
from simulator.experiments.sweep import prepare
from simulator.runner import run_task
from tests.experiments.workers import worker_pid
from tests.helpers import MMC

SHORT = {"horizon": "300s", "warmup": "50s"}


def tasks() -> list[RunTask]:
    plan = prepare(MMC, {"traffic.api.rate": [2, 3]}, replications=2, overrides=SHORT)
    return [RunTask(s, plan.seed + i) for s in plan.scenarios for i in range(2)]


def pids(outcomes) -> set[float]:
    return {outcome.summary.pop("pid") for outcome in outcomes}


def ended(processes, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(p.is_alive() for p in processes)


@pytest.fixture(autouse=True)
def no_kept_workers():
    pool.release_workers()
    yield
    pool.release_workers()


def test_the_next_sweep_of_as_many_jobs_runs_on_the_same_workers_with_the_same_numbers():
    serial = execute(tasks(), run_task).outcomes
    first = execute(tasks(), worker_pid, jobs=2).outcomes
    second = execute(tasks(), worker_pid, jobs=2).outcomes
    assert pids(second) <= pids(first)  # no new worker
    expected = pd.DataFrame([o.summary for o in serial])
    for outcomes in (first, second):
        pd.testing.assert_frame_equal(
            pd.DataFrame([o.summary for o in outcomes]), expected, check_exact=True
        )


def test_a_sweep_of_other_jobs_gets_new_workers_and_the_old_ones_end():
    with pool.workers(2) as two:
        two.submit(int).result()
        old = list(two._processes.values())
    with pool.workers(3) as three:
        assert three is not two
        three.submit(int).result()
    assert ended(old)


def test_an_error_ends_the_workers_at_once_and_keeps_none():
    with pytest.raises(KeyboardInterrupt), pool.workers(2) as workers:
        running = workers.submit(time.sleep, 60)
        time.sleep(0.5)  # the sleep has started on a worker
        processes = list(workers._processes.values())
        raise KeyboardInterrupt
    assert ended(processes, within=5.0)  # not after the 60 s sleep
    assert running.cancelled() or running.done()
    assert pool._kept is None


def test_idle_workers_end_after_keep_idle_s(monkeypatch):
    monkeypatch.setattr(pool, "KEEP_IDLE_S", 0.2)
    with pool.workers(2) as workers:
        workers.submit(int).result()
        processes = list(workers._processes.values())
    assert pool._kept is not None and pool._kept.pool is workers
    assert ended(processes)
    assert pool._kept is None


def test_replications_on_kept_workers_are_the_serial_ones():
    one = simulator.run_replications(MMC, 2, overrides=SHORT)
    for _ in range(2):
        two = simulator.run_replications(MMC, 2, overrides=SHORT, jobs=2)
        pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
