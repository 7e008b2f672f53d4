"""Work functions for the engine's tests, importable by worker processes."""

from __future__ import annotations

import time
from dataclasses import replace

from simulator.experiments.executor import RunOutcome, RunTask
from simulator.runner import run_task


def late_first(task: RunTask) -> RunOutcome:
    """`run_task`, held back longer the earlier the task (lower seed), so that runs finish
    in another order than they were given; notes when it finished."""
    time.sleep(0.25 * max(0, 6 - task.seed))
    outcome = run_task(task)
    return replace(outcome, summary={**outcome.summary, "finished_at": time.time()})


def dask_settings(task: RunTask) -> RunOutcome:
    """What the Dask worker it runs on was started with: one malloc arena, the profiler."""
    import os

    import dask

    enabled = dask.config.get("distributed.worker.profile.enabled")
    arenas = float(os.environ.get("MALLOC_ARENA_MAX", "nan"))
    return RunOutcome(seed=task.seed, summary={"arenas": arenas, "profiler": float(enabled)})


def worker_pid(task: RunTask) -> RunOutcome:
    """`run_task`, with the worker process it ran in."""
    import os

    outcome = run_task(task)
    return replace(outcome, summary={**outcome.summary, "pid": float(os.getpid())})
