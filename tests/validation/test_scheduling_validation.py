"""The scheduler model against theory: the single-path scheduler is an M/G/1 queue.

With Poisson job arrivals, a decision time `t_job + t_task × tasks` and a cell so large that
every job is placed at its first attempt, busyness must be ρ = λ·E[S] (the Omega paper's
no-conflict line) and the wait until the first attempt must follow Pollaczek–Khinchine.
Every check pools independent replications; see tests/stats.py for the tolerances.
"""

from __future__ import annotations

import pytest

import simulator
from simulator.theory.scheduling import busyness_line, single_path_queue
from tests.helpers import assert_agrees

pytestmark = pytest.mark.slow

T_TASK = 0.05
TASKS = 10  # geometric with mean 10: E[N²] = 2·10² − 10 = 190


def scenario(t_job: float, rate: float, horizon: str = "20000s") -> dict:
    """Batch jobs only, on 250 nodes of which the work uses ~10%: no placement can fail."""
    return {
        "name": "single-path-validation",
        "horizon": horizon,
        "warmup": "500s",
        "cluster": {"nodes": 250, "cpu": 4, "memory_gb": 16},
        "workloads": {"batch": {"interarrival": f"{1 / rate}s", "tasks": TASKS, "duration": "10s"}},
        "scheduler": {
            "architecture": "monolithic-single-path",
            "t_job": {"service": f"{t_job}s"},
            "t_task": f"{T_TASK}s",
        },
    }


def replicate(spec: dict, n: int) -> list[simulator.Result]:
    return simulator.run_replications(spec, n, seed=11, keep_results=True).results


def no_retries(results) -> None:  # type: ignore[no-untyped-def]
    for result in results:
        jobs = result.tables["jobs"]
        assert jobs.attempts.max() <= 1, "a placement failed: the queue is no longer M/G/1"


@pytest.mark.parametrize(("t_job", "rate"), [(0.1, 0.5), (0.4, 0.8)])
def test_single_path_busyness_follows_the_no_conflict_line(t_job, rate):
    """ρ = λ·(t_job + mean_tasks·t_task): 0.30 and 0.72."""
    results = replicate(scenario(t_job, rate, horizon="10000s"), 6)
    no_retries(results)
    expected = busyness_line([(rate, t_job, T_TASK * TASKS)])
    assert_agrees([r.summary["busyness_batch"] for r in results], expected, 0.02, "busyness")


def test_single_path_saturates_at_one():
    """Above ρ = 1 the scheduler never rests and the queue grows without bound."""
    result = simulator.run(scenario(1.0, 1.0, horizon="3000s"))  # ρ = 1.5
    assert result.summary["busyness_batch"] > 0.995
    assert result.summary["jobs_unscheduled"] > 0.25 * result.summary["jobs_submitted_batch"]


def test_single_path_queue_against_pollaczek_khinchine():
    """ρ = 0.6, cv² of the decision time 0.625: Wq = λE[S²]/(2(1 − ρ)) = 0.731 s."""
    rate, t_job = 1.0, 0.1
    results = replicate(scenario(t_job, rate), 10)
    no_retries(results)
    expected = single_path_queue([(rate, t_job, T_TASK, TASKS, 2 * TASKS**2 - TASKS)])
    waits = [r.summary["wait_mean_s_batch"] for r in results]
    assert_agrees(waits, expected.wait_mean, 0.05, "mean wait until first attempt")
