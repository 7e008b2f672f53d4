"""The experiment engine: many runs of the simulator on one core, on local worker processes
or on a Dask cluster, with a store that survives crashes.

Every multi-run feature (replications, comparisons, sweeps, the eras and growth
experiments, the scheduler sweep) hands a list of `RunTask`s to `execute`, which gives back
one `RunOutcome` per task in the tasks' order, whatever the backend and whatever order the
runs finish in. A run depends on its scenario and seed only (random streams by name), so
the numbers are the same bit for bit on every backend and any number of workers.

The engine knows nothing of how one run is done: the caller passes the function that does
it (`simulator.runner.run_task`). That keeps the import graph one way: the runner uses the
engine, the engine never imports the runner. Workers send back the summary and only the
tables a task asks for, so the parent's memory grows with the tidy table, not with the runs.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .. import __version__
from ..errors import ScenarioError
from ..results import Result, write_file_atomically
from ..scenario.limits import Limits
from ..scenario.schema import Scenario
from .memo import current as _memory
from .pool import workers

if TYPE_CHECKING:
    import pandas as pd

BACKENDS = ("local", "dask")
"""`local`: this process (one job) or worker processes on this machine; `dask`: a Dask
cluster (a scheduler's address, or a local cluster started for the call)."""

DASK_PRELOAD = "simulator.experiments.preload"
"""What the engine's local Dask cluster imports in each worker as it starts (its
`dask_setup` sets the workers' memory as `pool.worker_memory` does); the docs tell a
cluster's operator to pass it to `dask worker --preload`."""
DASK_LOCAL_CONFIG: dict[str, object] = {
    # one malloc arena, set before each worker process starts (glibc reads it only then):
    # a Dask worker runs its task in a thread, and glibc gives a thread an arena of its own
    # whose heaps it unmaps as soon as they are empty, whatever `pool.worker_memory` set
    "distributed.nanny.pre-spawn-environ.MALLOC_ARENA_MAX": "1",
    # no statistical profiler sampling the task's thread every 10 ms for the dashboard
    "distributed.worker.profile.enabled": False,
}
"""The Dask settings of the engine's own local cluster: what a run costs in a Dask worker
comes close to what it costs in a local worker. An M/M/4 run of 200,000 s faulted
50,000-70,000 pages back in each time in its own arena (0.12-0.17 s of system time),
against a few thousand in the main arena; measured in docs/performance.md."""
DASK_HINT = "the dask backend needs the dask extra: pip install 'sre-sandbox[dask]'"

DASK_CONNECT_TIMEOUT = "20s"
"""How long to wait for a Dask scheduler to answer before saying it does not."""


@dataclass(frozen=True)
class RunTask:
    """One run to do: a resolved scenario and a seed, and what to send back besides the
    summary (`tables` by name; `keep` the whole Result, which no store holds)."""

    scenario: Scenario
    seed: int
    tables: tuple[str, ...] = ()
    keep: bool = False
    progress: bool = False
    limits: Limits | None = None


@dataclass(frozen=True)
class RunOutcome:
    """What one run sends back: its seed, KPIs, the tables asked for (those the run has),
    the Result when kept, the seconds it took and whether it came from the store."""

    seed: int
    summary: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    result: Result | None = field(default=None, repr=False)
    seconds: float = 0.0
    cached: bool = False


@dataclass(frozen=True)
class Execution:
    """The outcomes in the tasks' order, and what they took: runs done, runs read from the
    store, wall-clock seconds, the seconds the runs done took inside their workers (summed;
    against wall × workers it shows the overhead, or a machine that gave fewer cores than
    workers), the backend that did them and the runs handed back by the session's memory
    of finished runs (`memo.remember_runs`)."""

    outcomes: list[RunOutcome]
    runs: int
    cached: int
    seconds: float
    backend: str
    run_seconds: float = 0.0
    remembered: int = 0


Work = Callable[[RunTask], RunOutcome]


# ---------------------------------------------------------------------------- the store


def run_key(task: RunTask) -> str:
    """A run's identity: the scenario's content (every setting, and the data read from
    files such as replayed rates), the seed and the package version. The store's key, and
    the era runs' when they are shared (`eras.shared_runs`), and the memory of finished runs'
    (`memo.remember_runs`)."""
    digest = hashlib.sha256()
    digest.update(f"sre-sandbox {__version__}\nseed {task.seed}\n".encode())
    digest.update(task.scenario.model_dump_json().encode())
    for name, value in _private_state(task.scenario):
        digest.update(f"\n{name}={value!r}".encode())
    return digest.hexdigest()[:40]


class Store:
    """Finished runs on disk, one JSON file of KPIs (and one Parquet file per table asked
    for) per run, keyed by a hash of the resolved scenario, the seed and the package
    version. Every file is written to a scratch name and renamed into place, the JSON last,
    so a crash at any moment leaves either a whole run or none: nothing half-written is
    ever read back, and running the same runs again computes only what is missing."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def key(self, task: RunTask) -> str:
        """The run's identity (`run_key`)."""
        return run_key(task)

    def _path(self, key: str, suffix: str) -> Path:
        return self.directory / key[:2] / f"{key}{suffix}"

    def load(self, key: str, tables: Sequence[str]) -> RunOutcome | None:
        """The stored run, or None if it is missing (or lacks a table asked for now)."""
        import pandas as pd

        path = self._path(key, ".json")
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        present = set(stored.get("tables", ()))
        if stored.get("key") != key or not set(tables) <= set(stored.get("checked", ())):
            return None
        loaded = {}
        for name in tables:
            if name in present:
                try:
                    loaded[name] = pd.read_parquet(self._path(key, f".{name}.parquet"))
                except (OSError, ValueError):
                    return None
        summary = {k: math.nan if v is None else v for k, v in stored["summary"].items()}
        return RunOutcome(
            seed=int(stored["seed"]),
            summary=summary,
            tables=loaded,
            seconds=float(stored["seconds"]),
            cached=True,
        )

    def save(self, key: str, outcome: RunOutcome, tables: Sequence[str]) -> None:
        """Write one finished run: its tables first, then the JSON that makes it count."""
        folder = self.directory / key[:2]
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in outcome.tables.items():
            write_file_atomically(self._path(key, f".{name}.parquet"), table.to_parquet)
        record = {
            "key": key,
            "version": __version__,
            "seed": outcome.seed,
            "seconds": outcome.seconds,
            "checked": sorted(tables),  # asked for: absent from `tables` if the run had none
            "tables": sorted(outcome.tables),
            # repr-exact floats; NaN and infinities as JSON's common extensions
            "summary": outcome.summary,
        }
        text = json.dumps(record, indent=1)
        write_file_atomically(self._path(key, ".json"), lambda path: path.write_text(text))


def _private_state(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Data a scenario read from files (kept in private attributes, not in its JSON)."""
    private = getattr(model, "__pydantic_private__", None) or {}
    for name, value in sorted(private.items()):
        if name not in ("_source", "_base_dir"):
            yield f"{prefix}{name}", value
    for name in type(model).model_fields:
        yield from _private_children(getattr(model, name), f"{prefix}{name}.")


def _private_children(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, BaseModel):
        yield from _private_state(value, prefix)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _private_children(item, f"{prefix}{key}.")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _private_children(item, f"{prefix}{index}.")


# ---------------------------------------------------------------------------- running


@dataclass(frozen=True)
class _Failure:
    """Bad input found inside a worker, sent back as data (ScenarioError does not pickle)."""

    kind: str
    source: str
    path: str
    message: str


def _call(work: Work, task: RunTask) -> RunOutcome | _Failure:
    """Run one task where it lands; bad input comes back as data, to be raised here."""
    try:
        return work(task)
    except ScenarioError as error:
        return _Failure(type(error).__name__, error.source, error.path, error.message)


def _unwrap(value: RunOutcome | _Failure) -> RunOutcome:
    if isinstance(value, _Failure):
        from .. import errors

        kind = getattr(errors, value.kind, ScenarioError)
        raise kind(value.source, value.path, value.message)
    return value


def execute(
    tasks: Sequence[RunTask],
    work: Work,
    *,
    jobs: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    store: Store | str | Path | None = None,
    force: bool = False,
    progress: bool = False,
    label: str = "runs",
) -> Execution:
    """Do `tasks` with `work` and give back one outcome per task, in the tasks' order.

    `jobs` worker processes on this machine (1: in this process), or `backend="dask"` on
    the scheduler at `scheduler` (default: `DASK_SCHEDULER_ADDRESS`) or, without one, a
    local Dask cluster of `workers` processes (default `jobs`). With a `store`, finished
    runs are read back instead of run again (unless `force`) and every new run is written
    the moment it finishes. `progress` shows a bar over the runs with the time left (a
    widget in a notebook, text on a terminal, nothing when the output is a file or pipe).
    While a memory of finished runs is open (`memo.remember_runs`), a task that asks for the
    summary only and was done before in this process is handed back from it (the same
    numbers: `memo`'s docstring says why), and every such task done is remembered.
    """
    jobs = _whole("jobs", jobs)
    if workers is not None:
        workers = _whole("workers", workers)
    if backend not in BACKENDS:
        raise ScenarioError("<arguments>", "backend", f"expected one of {', '.join(BACKENDS)}")
    began = time.perf_counter()
    if store is not None and not isinstance(store, Store):
        store = Store(store)
    outcomes: list[RunOutcome | None] = [None] * len(tasks)
    keys: list[str | None] = [None] * len(tasks)
    if store is not None:
        for index, task in enumerate(tasks):
            if task.keep:
                continue  # a whole Result is never stored
            keys[index] = key = store.key(task)
            if not force:
                outcomes[index] = store.load(key, task.tables)
    cached = sum(outcome is not None for outcome in outcomes)
    memory = _memory()
    identities: list[tuple[Any, ...] | None] = [None] * len(tasks)
    if memory is not None:
        for index, task in enumerate(tasks):
            if task.tables or task.keep:
                continue  # only summaries are remembered, and only for tasks asking no more
            identities[index] = identity = (work, keys[index] or run_key(task), task.limits)
            if outcomes[index] is None and not force:
                known = memory.get(identity)
                stored_as = keys[index]
                if known is not None:
                    outcomes[index] = _copy(known)
                    if store is not None and stored_as is not None:
                        store.save(stored_as, known, task.tables)  # the store lacked it
    pending = [i for i, outcome in enumerate(outcomes) if outcome is None]
    recalled = len(tasks) - len(pending) - cached
    bar = _bar(len(tasks), len(tasks) - len(pending), label, progress and len(tasks) > 1)

    def record(index: int, outcome: RunOutcome) -> None:
        key = keys[index]
        if store is not None and key is not None:
            store.save(key, outcome, tasks[index].tables)
        identity = identities[index]
        if memory is not None and identity is not None:
            memory.put(identity, _copy(outcome))
        outcomes[index] = outcome
        bar.update(1)

    try:
        if not pending:
            name = "store" if cached else "memory"
        elif backend == "dask":
            name = _on_dask(tasks, pending, work, record, scheduler, workers or jobs)
        elif jobs == 1 or len(pending) == 1:
            name = "serial"
            for index in pending:
                record(index, _unwrap(_call(work, tasks[index])))
        else:
            name = f"local ×{min(jobs, len(pending))}"
            _on_processes(tasks, pending, work, record, min(jobs, len(pending)))
    finally:
        bar.close()
    done = [outcome for outcome in outcomes if outcome is not None]
    assert len(done) == len(tasks), "every task has an outcome"
    return Execution(
        outcomes=done,
        runs=len(pending),
        cached=cached,
        seconds=time.perf_counter() - began,
        backend=name,
        run_seconds=sum(done[i].seconds for i in pending),
        remembered=recalled,
    )


def _copy(outcome: RunOutcome) -> RunOutcome:
    """A summary-only outcome with a summary of its own (a caller may change the one it
    gets; the memory's must stay as the run sent it)."""
    return RunOutcome(seed=outcome.seed, summary=dict(outcome.summary), seconds=outcome.seconds)


def _whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScenarioError("<arguments>", name, f"expected a whole number ≥ 1, got {value!r}")
    return value


def _bar(total: int, initial: int, label: str, show: bool) -> Any:
    """A bar over runs with the time left (a widget in a notebook, text on a terminal,
    nothing when output is not a terminal)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=label,
        unit="run",
        delay=1.0,
        leave=False,
        disable=None if show else True,
    )


def _on_processes(
    tasks: Sequence[RunTask],
    pending: list[int],
    work: Work,
    record: Callable[[int, RunOutcome], None],
    jobs: int,
) -> None:
    """Local worker processes (kept for the next sweep: `pool.workers`); at most two tasks
    per worker are in flight, so a sweep of a million runs holds a few scenarios in memory,
    not a million."""
    queue = iter(pending)
    running: dict[concurrent.futures.Future[RunOutcome | _Failure], int] = {}
    scheduling = any(tasks[index].scenario.scheduler is not None for index in pending)
    with workers(jobs, scheduling) as pool:

        def submit() -> None:
            index = next(queue, None)
            if index is not None:
                running[pool.submit(_call, work, tasks[index])] = index

        for _ in range(2 * jobs):
            submit()
        while running:
            finished, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                index = running.pop(future)
                record(index, _unwrap(future.result()))
                submit()


def _on_dask(
    tasks: Sequence[RunTask],
    pending: list[int],
    work: Work,
    record: Callable[[int, RunOutcome], None],
    scheduler: str | None,
    workers: int,
) -> str:
    """A Dask cluster: the scheduler at `scheduler` (or DASK_SCHEDULER_ADDRESS), else a
    local cluster of `workers` processes with one thread each. A task whose worker is lost
    is run again by Dask on another worker; at most two tasks per worker are in flight."""
    try:
        import dask
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ScenarioError("<arguments>", "backend", DASK_HINT) from None
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    with contextlib.ExitStack() as stack:
        if address:
            try:
                client = stack.enter_context(Client(address, timeout=DASK_CONNECT_TIMEOUT))
            except OSError as error:
                raise ScenarioError(
                    "<arguments>",
                    "scheduler",
                    f"no Dask scheduler answers at {address} ({error})",
                ) from None
            name = f"dask {address}"
        else:
            with dask.config.set(DASK_LOCAL_CONFIG):
                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",  # any free port: never a clash
                        silence_logs=logging.ERROR,
                        preload=[DASK_PRELOAD],  # as the local workers' fork server
                    )
                )
            client = stack.enter_context(Client(cluster))
            name = f"dask local ×{workers}"
        slots = 2 * max(1, len(client.scheduler_info().get("workers", {})) or workers)
        queue = iter(pending)
        index_of: dict[Any, int] = {}
        finished = as_completed()

        def submit() -> None:
            index = next(queue, None)
            if index is not None:
                future = client.submit(_call, work, tasks[index], pure=False)
                index_of[future.key] = index
                finished.add(future)

        for _ in range(slots):
            submit()
        for future in finished:
            index = index_of.pop(future.key)
            outcome = future.result()
            future.release()
            record(index, _unwrap(outcome))
            submit()
    return name


# ---------------------------------------------------------------------------- how many runs

AUTO_MINIMUM = 3
"""Fewest replications `replications="auto"` runs: a t interval needs a few degrees of
freedom before its half-width means anything (Law & Kelton suggest n0 ≥ 3, better 10)."""

AUTO_MAXIMUM = 50
"""Default ceiling of `replications="auto"` (a knob: `max_replications`)."""

AUTO_KPIS = ("latency_mean_s", "wait_mean_s", "throughput_rps")
"""The headline KPI that `replications="auto"` watches when none is named: the first of
these that the runs give a value for."""


def precise(values: Sequence[float], precision: float) -> bool:
    """Whether the 95% confidence half-width of `values` is at most `precision` × the mean's
    magnitude (the relative-precision criterion); never with fewer than two values or a NaN."""
    from ..metrics.statistics import mean_ci

    mean, half = mean_ci(values)
    return math.isfinite(mean) and math.isfinite(half) and half <= precision * abs(mean)


def stop_at(
    values: Sequence[Sequence[float]], precision: float, minimum: int, maximum: int
) -> int | None:
    """The sequential stopping rule: given each watched KPI's values over the first
    replications (all the same length), the first count n with minimum ≤ n ≤ maximum at
    which every KPI's first n values are `precise`, or `maximum` if none is and the values
    reach it; None while more replications are needed. A pure function of the values, so
    the count does not depend on how many runs were done at once."""
    have = min((len(v) for v in values), default=0)
    for n in range(minimum, min(have, maximum) + 1):
        if all(precise(v[:n], precision) for v in values):
            return n
    return maximum if have >= maximum else None


def check_auto(precision: object, minimum: object, maximum: object) -> tuple[float, int, int]:
    """`precision`, `min_replications` and `max_replications` checked at the API's door."""
    if (
        isinstance(precision, bool)
        or not isinstance(precision, int | float)
        or not 0 < precision < 1
    ):
        raise ScenarioError(
            "<arguments>",
            "precision",
            f"expected a relative precision above 0 and below 1 (0.05 is 5%), got {precision!r}",
        )
    low = _whole("min_replications", minimum)
    high = _whole("max_replications", maximum)
    if low < 2 or high < low:
        raise ScenarioError(
            "<arguments>",
            "max_replications",
            f"expected 2 ≤ min_replications ≤ max_replications, got {low} and {high}",
        )
    return float(precision), low, high


Auto = tuple[float, int, int, list[str] | None]
"""An auto-replication setting: precision, fewest and most replications, KPIs watched."""


def auto_replications(
    replications: object,
    precision: object,
    kpis: Sequence[str] | str | None,
    minimum: object,
    maximum: object,
) -> Auto | None:
    """`replications="auto"` and its settings checked (None for a fixed count); a
    precision without "auto" is a mistake, not silently ignored."""
    if replications != "auto":
        if isinstance(replications, str):
            raise ScenarioError(
                "<arguments>",
                "replications",
                f"expected a whole number ≥ 1 or 'auto', got {replications!r}",
            )
        if precision is not None or kpis is not None:
            raise ScenarioError("<arguments>", "precision", "applies only with replications='auto'")
        return None
    checked, low, high = check_auto(0.05 if precision is None else precision, minimum, maximum)
    if isinstance(kpis, str):
        kpis = [kpis]
    if kpis is not None and (not kpis or not all(isinstance(k, str) for k in kpis)):
        raise ScenarioError("<arguments>", "precision_kpis", "expected a list of KPI names")
    return checked, low, high, None if kpis is None else list(dict.fromkeys(kpis))


@dataclass(frozen=True)
class Sequential:
    """Runs of several points done until each is precise: per point its outcomes (the
    first `counts[p]` replications), the count, whether the precision was reached, the
    KPIs watched and what it took, as in `Execution`."""

    outcomes: list[list[RunOutcome]]
    counts: list[int]
    reached: list[bool]
    kpis: list[str]
    runs: int
    cached: int
    seconds: float
    backend: str
    run_seconds: float


def execute_until_precise(
    tasks_for: Callable[[int, int], RunTask],
    points: int,
    work: Work,
    *,
    precision: float,
    kpis: Sequence[str] | None,
    minimum: int = AUTO_MINIMUM,
    maximum: int = AUTO_MAXIMUM,
    batch: int = 1,
    **options: Any,
) -> Sequential:
    """Replications of `points` points in rounds until `stop_at` says each has enough:
    `tasks_for(point, i)` is replication i of a point (seed + i, as for a fixed count).
    The first round runs `minimum` per point, later ones `batch` more per unfinished point
    (runs past the stopping count are dropped, so the numbers equal a fixed-count run of
    the final count, bit for bit, whatever the batch). `options` go to `execute` (the
    store makes an interrupted sequential run resume where it stopped)."""
    done: list[list[RunOutcome]] = [[] for _ in range(points)]
    counts: list[int | None] = [None] * points
    watched = list(kpis) if kpis else None
    runs = cached = 0
    seconds = run_seconds = 0.0
    backend = "store"
    started = False
    while True:
        wanted = [
            (p, i)
            for p in range(points)
            if counts[p] is None
            for i in range(len(done[p]), min(maximum, max(minimum, len(done[p]) + max(1, batch))))
        ]
        if not wanted:
            break
        execution = execute([tasks_for(p, i) for p, i in wanted], work, **options)
        runs += execution.runs
        cached += execution.cached
        seconds += execution.seconds
        run_seconds += execution.run_seconds
        if execution.backend != "store":
            backend = execution.backend
        for (p, _), outcome in zip(wanted, execution.outcomes, strict=True):
            done[p].append(outcome)
        first_round, started = not started, True
        if watched is not None and first_round:
            have = {k for d in done for o in d for k in o.summary}
            unknown = [k for k in watched if k not in have]
            if unknown:
                raise ScenarioError(
                    "<arguments>",
                    "precision_kpis",
                    f"no KPI {unknown[0]!r} in these runs; they have {', '.join(sorted(have))}",
                )
        if watched is None:
            found = [k for k in AUTO_KPIS if any(_valued(o, k) for d in done for o in d)]
            if not found:
                raise ScenarioError(
                    "<arguments>",
                    "precision_kpis",
                    f"none of {', '.join(AUTO_KPIS)} has a value in these runs; "
                    "name the KPI to make precise",
                )
            watched = found[:1]
        for p in range(points):
            if counts[p] is None:
                values = [[o.summary.get(k, math.nan) for o in done[p]] for k in watched]
                counts[p] = stop_at(values, precision, minimum, maximum)
    final = [int(c) for c in counts if c is not None]
    return Sequential(
        outcomes=[d[:n] for d, n in zip(done, final, strict=True)],
        counts=final,
        reached=[
            all(precise([o.summary.get(k, math.nan) for o in d[:n]], precision) for k in watched)
            for d, n in zip(done, final, strict=True)
        ]
        if watched
        else [False] * points,
        kpis=watched or [],
        runs=runs,
        cached=cached,
        seconds=seconds,
        backend=backend,
        run_seconds=run_seconds,
    )


def _valued(outcome: RunOutcome, kpi: str) -> bool:
    value = outcome.summary.get(kpi)
    return value is not None and math.isfinite(value)
