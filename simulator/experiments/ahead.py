"""One run started now on a worker process, and taken later: `simulator.run`'s Result,
computed beside other work instead of after it.

    failure_run = run_ahead("scenarios/omega/failures.yaml", overrides=["horizon=1d"])
    ...                                  # a sweep on two workers, meanwhile
    failing = failure_run.result()       # what simulator.run(...) would have given

A notebook that ends with one long run done in its own process (notebook 03's failures
run, a few seconds with one of two cores idle) starts it this way while its last sweep
runs, so that no core waits at the end. The run is the experiment engine's: a worker forked
from the engine's fork server does `runner.run_task` with the whole Result kept, exactly as
a sweep's worker does a run, and a run depends on its scenario and seed only, so the Result
has the numbers of `simulator.run(scenario, seed, overrides=...)` bit for bit. Bad input
raises here, at the call, as `simulator.run` would (the scenario is loaded and its budget
checked before anything starts); an error inside the run is raised by `result()`.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterable, Mapping
from typing import Any

from ..budget import check_budget
from ..results import Result
from ..runner import ScenarioLike, _scenario, _seed, run_task
from ..scenario.limits import Limits
from .executor import RunOutcome, RunTask, _call, _Failure, _unwrap
from .fleet import served_world
from .pool import context


class Ahead:
    """A run going on in a worker process; `result()` waits for it and gives its Result."""

    def __init__(self, future: concurrent.futures.Future[RunOutcome | _Failure]) -> None:
        self._future = future

    def done(self) -> bool:
        """Whether the run has finished (`result()` would not wait)."""
        return self._future.done()

    def result(self) -> Result:
        """The run's Result (waiting for it if it is still going on)."""
        outcome = _unwrap(self._future.result())
        assert outcome.result is not None, "the task keeps its Result"
        return outcome.result


def run_ahead(
    scenario: ScenarioLike,
    seed: int | None = None,
    *,
    overrides: Mapping[str, Any] | Iterable[str] | str | None = None,
    limits: Limits | None = None,
) -> Ahead:
    """Start `simulator.run(scenario, seed, overrides=..., limits=...)` on a worker process
    of its own and return at once; `.result()` hands its Result over (the same numbers)."""
    seed = _seed(seed)
    loaded = _scenario(scenario, overrides, limits)
    check_budget(served_world(loaded, limits), limits)
    task = RunTask(loaded, loaded.seed if seed is None else seed, keep=True, limits=limits)
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=1, mp_context=context(loaded.scheduler is not None)
    )
    try:
        future = pool.submit(_call, run_task, task)
    finally:
        pool.shutdown(wait=False)  # the worker ends once its run is done
    return Ahead(future)
