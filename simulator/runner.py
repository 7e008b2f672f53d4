"""Running scenarios: one run, independent replications, and side-by-side comparisons."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .budget import check_budget
from .engine.recorder import SpanLog
from .errors import ScenarioError
from .experiments.executor import (
    AUTO_MAXIMUM,
    AUTO_MINIMUM,
    RunOutcome,
    RunTask,
    auto_replications,
    execute,
    execute_until_precise,
)
from .experiments.fleet import served_world
from .metrics import (
    cost_kpis,
    costs_table,
    entry_points_table,
    request_kpis,
    requests_table,
    services_table,
    spans_table,
    station_kpis,
    timeseries_table,
)
from .metrics.requests import unrecorded_request_kpis
from .metrics.rollout import rollout_tables
from .metrics.scaling import scaling_table
from .metrics.statistics import mean_ci
from .model.context import RunContext
from .records.run import RunRecords
from .results import Comparison, Replications, Result
from .scenario.limits import Limits
from .scenario.loader import load_scenario
from .scenario.schema import Scenario
from .subsystems import build_subsystems, collect

if TYPE_CHECKING:
    import pandas as pd

    from .model.world import World

ScenarioLike = Scenario | str | Path | Mapping[str, Any]

MAX_SEED = 2**63 - 1
"""Seeds are stored in int64 columns (the replications table, parquet)."""


def _scenario(
    source: ScenarioLike, overrides: Any = None, limits: Limits | None = None
) -> Scenario:
    return (
        load_scenario(source, overrides, limits=limits)
        if overrides or not isinstance(source, Scenario)
        else source
    )


def _seed(seed: object, runs: int = 1) -> int | None:
    """`seed` checked at the API's door: None, or a whole number with room for `runs` seeds."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ScenarioError(
            "<arguments>", "seed", f"expected a whole number ≥ 0, got {type(seed).__name__}"
        )
    if not 0 <= int(seed) <= MAX_SEED - (runs - 1):
        raise ScenarioError(
            "<arguments>", "seed", f"expected a whole number from 0 to {MAX_SEED - runs + 1}"
        )
    return int(seed)


def _count(n: object, limits: Limits | None) -> int:
    from .budget import check_replications

    return check_replications(n, limits if limits is not None else Limits.from_environment())


def run(
    scenario: ScenarioLike,
    seed: int | None = None,
    *,
    overrides: Mapping[str, Any] | Iterable[str] | str | None = None,
    progress: bool = False,
    limits: Limits | None = None,
    tables: Collection[str] | None = None,
) -> Result:
    """Simulate one scenario once. The same scenario and seed give the same numbers, bit for bit.

    `seed` defaults to the scenario's own. With `progress`, a progress bar appears on the
    terminal for runs longer than two seconds. Raises ScenarioError for bad arguments and
    BudgetError (a ScenarioError) when the run would need more than `limits` allow.
    With more delivery services than request-serving services (and deploys acting on them),
    the run simulates the workload copied until every delivery service has one
    (`served_world`); the Result's scenario is that world. With `tables` (names) the Result
    may leave out other tables, those that take seconds to build in a large fleet (a
    sweep's run sends back only the tables asked for); the KPIs are the same. An analytic
    run asked for no table (`tables=()`) builds none and does not import pandas.
    """
    wanted = None if tables is None else frozenset([tables] if isinstance(tables, str) else tables)
    seed = _seed(seed)
    scenario = served_world(_scenario(scenario, overrides, limits), limits)
    check_budget(scenario, limits)
    seed = scenario.seed if seed is None else seed
    if scenario.fidelity == "analytic":
        return _run_analytic(scenario, seed, wanted)
    from tqdm import tqdm

    from .model import fastpath
    from .model.world import World  # the request level's: an analytic run needs none of it

    world = World(scenario, seed, build_subsystems)
    if fastpath.simulate(world):  # simple stations: the same numbers without the event loop
        return _result(world, wanted, fast_path=True)
    if progress:
        with tqdm(
            total=scenario.horizon,
            desc=scenario.name,
            unit="sim s",
            delay=2.0,
            leave=False,
            disable=None,  # only on a terminal
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
        ) as bar:

            def advance(now: float) -> None:
                bar.update(now - bar.n)

            world.run(progress=advance)
    else:
        world.run()
    return _result(world, wanted)


def _run_analytic(scenario: Scenario, seed: int, tables: frozenset[str] | None) -> Result:
    """The analytic services and every subsystem the scenario asks for on one clock, one
    decision log and the same random streams as at request level (`tables`: those wanted,
    None: all)."""
    from .analytic import AnalyticServices  # scipy's import is paid by analytic runs only

    context = RunContext.start(scenario, seed)
    services = AnalyticServices(context)
    context = replace(context, analytic=services.handles())
    subsystems = build_subsystems(context)
    services.connect(subsystems)  # node failures: who pages, who repairs
    context.env.run(until=scenario.horizon)
    summary, built = services.results(tables)
    if tables is None or "events" in tables:
        built["events"] = context.events.table()
    records = RunRecords(scenario, seed, {}, {}, tables)
    more_summary, more_tables = collect(subsystems, records)
    return Result(
        scenario=scenario,
        seed=seed,
        summary={**summary, **more_summary},
        tables={**built, **more_tables},
    )


def _result(world: World, wanted: frozenset[str] | None = None, fast_path: bool = False) -> Result:
    scenario = world.scenario
    warmup, horizon = scenario.warmup, scenario.horizon
    record = scenario.metrics.record
    requests = world.requests.columns()
    # Without kept spans the log holds reused rows of the visits last in flight: not a table.
    spans = world.spans.columns() if record.spans else SpanLog().columns()
    services = list(scenario.services)
    stations = world.stations
    slo = scenario.slo.latency
    summary: dict[str, float] = {}
    if services:
        if record.requests:
            summary.update(request_kpis(requests, warmup, horizon, slo, spans))
        else:
            summary.update(unrecorded_request_kpis(slo))
        summary.update(station_kpis(stations, world.warmup_areas, horizon - warmup))
        summary.update(
            cost_kpis(
                world.node_seconds,
                world.price_per_hour,
                horizon - warmup,
                summary["requests_completed"],
            )
        )
    # What reads the logs first; then the two big tables, each log let go of once its table
    # is built, so that a million rows are not held as columns and as a table at once.
    services_frame = services_table(
        spans, stations, world.warmup_areas, warmup, horizon, spans_kept=record.spans
    )
    entry_points = entry_points_table(requests, services, warmup, horizon, slo)
    more_summary, more_tables = collect(
        world.subsystems, RunRecords(scenario, world.seed, requests, spans, wanted)
    )
    requests_frame = requests_table(requests, services, warmup)
    del requests
    world.requests.release()
    spans_frame = spans_table(spans, [s.name for s in stations], warmup)
    del spans
    world.spans.release()
    tables = {
        "requests": requests_frame,
        "services": services_frame,
        "entry_points": entry_points,
        "spans": spans_frame,
        "events": world.events.table(),
        "timeseries": timeseries_table(world.samples, stations, scenario.sample_interval, horizon),
        "costs": costs_table(world.node_samples, world.price_per_hour),
        "scaling": scaling_table(world.scaling),
        **rollout_tables(world.rollouts.records()),
    }
    summary.update(more_summary)
    tables.update(more_tables)
    return Result(
        scenario=scenario, seed=world.seed, summary=summary, tables=tables, fast_path=fast_path
    )


def run_task(task: RunTask) -> RunOutcome:
    """One run of the experiment engine, in this process or a worker: the summary and only
    the tables the task asks for (or the whole Result when it asks to keep it)."""
    began = time.perf_counter()
    wanted = None if task.keep else task.tables
    result = run(
        task.scenario, task.seed, progress=task.progress, limits=task.limits, tables=wanted
    )
    return RunOutcome(
        seed=result.seed,
        summary=result.summary,
        tables={name: result.tables[name] for name in task.tables if name in result.tables},
        result=result if task.keep else None,
        seconds=time.perf_counter() - began,
    )


def run_replications(
    scenario: ScenarioLike,
    n: int | str,
    seed: int | None = None,
    *,
    overrides: Mapping[str, Any] | Iterable[str] | str | None = None,
    keep_results: bool = False,
    progress: bool = False,
    limits: Limits | None = None,
    jobs: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    precision: float | None = None,
    precision_kpis: Sequence[str] | str | None = None,
    max_replications: int = AUTO_MAXIMUM,
    min_replications: int = AUTO_MINIMUM,
) -> Replications:
    """`n` independent runs with seeds `seed, seed+1, ..., seed+n−1`, and a 95% CI per KPI.

    The runs go through the experiment engine (`simulator.experiments.executor`): `jobs`
    local worker processes, or `backend="dask"` (see `simulator.sweep`); the numbers are the
    same bit for bit on any backend. `n="auto"` adds runs until the KPIs' 95% half-widths
    are within `precision` × the mean's magnitude (as `simulator.sweep` does;
    docs/experiments.md): the same numbers as a fixed count of as many runs.
    """
    auto = auto_replications(n, precision, precision_kpis, min_replications, max_replications)
    if auto is not None:
        return _auto_replications(
            scenario,
            auto,
            seed,
            overrides=overrides,
            keep_results=keep_results,
            progress=progress,
            limits=limits,
            jobs=jobs,
            backend=backend,
            scheduler=scheduler,
            workers=workers,
        )
    n = _count(n, limits)
    seed = _seed(seed, n)
    scenario = _scenario(scenario, overrides, limits)
    check_budget(scenario, limits, n)
    first = scenario.seed if seed is None else seed
    _seed(first, n)
    tasks = [
        RunTask(scenario, first + i, keep=keep_results, progress=progress and n == 1, limits=limits)
        for i in range(n)
    ]
    execution = execute(
        tasks,
        run_task,
        jobs=jobs,
        backend=backend,
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        label=f"{scenario.name}: replications",
    )
    return _replications(scenario, execution.outcomes, keep_results)


def _auto_replications(
    scenario: ScenarioLike,
    auto: tuple[float, int, int, list[str] | None],
    seed: int | None,
    *,
    overrides: Any,
    keep_results: bool,
    progress: bool,
    limits: Limits | None,
    **options: Any,
) -> Replications:
    """Replications in rounds until precise (see `run_replications`)."""
    precision, low, high, kpis = auto
    high = _count(high, limits)
    seed = _seed(seed, high)
    scenario = _scenario(scenario, overrides, limits)
    check_budget(scenario, limits, high)
    first = scenario.seed if seed is None else seed
    _seed(first, high)
    done = execute_until_precise(
        lambda _, i: RunTask(scenario, first + i, keep=keep_results, limits=limits),
        1,
        run_task,
        precision=precision,
        kpis=kpis,
        minimum=low,
        maximum=high,
        batch=options["jobs"],
        progress=progress,
        label=f"{scenario.name}: replications",
        **options,
    )
    reps = _replications(scenario, done.outcomes[0], keep_results)
    return Replications(
        scenario=reps.scenario,
        table=reps.table,
        summary=reps.summary,
        results=reps.results,
        precision=precision,
        precision_kpis=done.kpis,
        precise=done.reached[0],
    )


def _replications(
    scenario: Scenario, outcomes: Sequence[RunOutcome], keep_results: bool
) -> Replications:
    import pandas as pd

    table = pd.DataFrame(
        [{"replication": i, "seed": o.seed, **o.summary} for i, o in enumerate(outcomes)]
    )
    kpis = list(outcomes[0].summary)
    results = [o.result for o in outcomes if o.result is not None]
    return Replications(
        scenario=scenario,
        table=table,
        summary=summarise(table, kpis),
        results=results if keep_results else [],
    )


def summarise(table: pd.DataFrame, kpis: Sequence[str]) -> pd.DataFrame:
    """Mean and 95% confidence interval of each KPI column over the rows (replications)."""
    import pandas as pd

    rows = []
    for kpi in kpis:
        mean, half = mean_ci(table[kpi].to_numpy(dtype=float))
        rows.append(
            {
                "kpi": kpi,
                "mean": mean,
                "ci95_half_width": half,
                "ci95_low": mean - half,
                "ci95_high": mean + half,
                "n": int(table[kpi].notna().sum()),
            }
        )
    return pd.DataFrame(rows).set_index("kpi")


def compare(
    *scenarios: ScenarioLike,
    seed: int | None = None,
    replications: int = 1,
    overrides: Mapping[str, Any] | Iterable[str] | str | None = None,
    names: Sequence[str] | None = None,
    keep_results: bool = False,
    progress: bool = False,
    limits: Limits | None = None,
    jobs: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
) -> Comparison:
    """Run scenarios on the same seeds and put their KPIs side by side, with differences.

    Every scenario runs with the same seeds (the first scenario's seed unless `seed` is
    given), so differences are paired: common random numbers cancel much of the noise.
    `overrides` apply to every scenario; `names` label the columns (default: scenario names).
    All runs go to the experiment engine at once (`jobs`, `backend`: see `run_replications`).
    With `keep_results`, each scenario's `Replications.results` holds its whole Results, so
    a notebook can run several variants on two workers and still read their tables.
    """
    import pandas as pd

    if len(scenarios) < 1:
        raise ScenarioError("<arguments>", "scenarios", "expected at least one scenario to compare")
    replications = _count(replications, limits)
    seed = _seed(seed, replications)
    loaded = [_scenario(s, overrides, limits) for s in scenarios]
    for each in loaded:
        check_budget(each, limits, replications)
    first_seed = loaded[0].seed if seed is None else seed
    _seed(first_seed, replications)
    if names is not None and len(names) != len(loaded):
        raise ScenarioError(
            "<arguments>", "names", f"expected {len(loaded)} names, one per scenario"
        )
    tasks = [
        RunTask(
            s,
            first_seed + i,
            keep=keep_results,
            progress=progress and len(loaded) * replications == 1,
        )
        for s in loaded
        for i in range(replications)
    ]
    outcomes = execute(
        tasks,
        run_task,
        jobs=jobs,
        backend=backend,
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        label="compare",
    ).outcomes
    runs = [
        _replications(s, outcomes[k * replications : (k + 1) * replications], keep_results)
        for k, s in enumerate(loaded)
    ]
    names = _unique(list(names) if names is not None else [s.name for s in loaded])
    kpis = list(runs[0].summary.index)
    table = pd.DataFrame(index=pd.Index(kpis, name="kpi"))
    for name, reps in zip(names, runs, strict=True):
        table[name] = reps.summary["mean"]
    base = runs[0].table[kpis].to_numpy(dtype=float)
    for name, reps in zip(names[1:], runs[1:], strict=True):
        differences = reps.table[kpis].to_numpy(dtype=float) - base
        table[f"Δ {name}"] = differences.mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            table[f"Δ% {name}"] = 100 * table[f"Δ {name}"] / table[names[0]].abs()
        if replications > 1:
            table[f"Δ ±95% {name}"] = [mean_ci(differences[:, k])[1] for k in range(len(kpis))]
    return Comparison(names=names, table=table, replications=runs)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return unique
