"""Sweeps: a base scenario run at every point of a grid of settings, with replications.

    result = simulator.sweep(
        "scenarios/validation/mmc.yaml",
        {"traffic.api.rate": ["2/s", "3/s", "3.6/s"], "services.api.replicas": [4, 5]},
        replications=5, seed=1, jobs=2,
    )
    result.table      # one row per point and replication: axis values, seed, every KPI
    result.summary    # one row per point and KPI: mean and 95% confidence interval

An axis is a dotted key of the scenario (as `--set` takes it) with a list of values, in the
scenario's own units (`3.6/s`, `250ms`, `2GB`: a string is read as `--set` reads its
value). Axes make a full grid by default; axes named together in `zipped` go together
instead (their i-th values form one point), and the grid is taken over such groups.
Replication i of every point runs with seed + i, so points are paired (common random
numbers): differences between points are not blurred by different luck.

Experiment files (`sresim sweep EXPERIMENT.yaml`) hold the same in YAML; see
docs/experiments.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ScenarioError
from ..results import SweepResult
from ..runner import ScenarioLike, _count, _scenario, _seed, run_task, summarise
from ..scenario.limits import Limits
from ..scenario.loader import load_scenario
from ..scenario.schema import Scenario
from .executor import (
    AUTO_MAXIMUM,
    AUTO_MINIMUM,
    Auto,
    RunTask,
    Store,
    auto_replications,
    execute,
    execute_until_precise,
)

ARGUMENTS = "<arguments>"


def grid(
    axes: Mapping[str, Sequence[Any]], zipped: Iterable[Sequence[str]] = ()
) -> list[dict[str, Any]]:
    """The points of a sweep, in order (the last axis varies fastest): every combination
    of the axes' values, except that the axes of one `zipped` group advance together."""
    if not isinstance(axes, Mapping) or not axes:
        raise ScenarioError(ARGUMENTS, "axes", "expected at least one axis: {dotted.key: [values]}")
    for key, values in axes.items():
        _check_axis(str(key), values)
    groups: list[list[str]] = []
    grouped: dict[str, int] = {}
    for group in zipped:
        names = [str(name) for name in group]
        if len(names) < 2:
            raise ScenarioError(ARGUMENTS, "zip", f"expected two or more axes to zip, got {names}")
        for name in names:
            if name not in axes:
                raise ScenarioError(ARGUMENTS, f"zip {name}", "no such axis; name an axis to zip")
            if name in grouped:
                raise ScenarioError(ARGUMENTS, f"zip {name}", "axis zipped twice")
            grouped[name] = len(groups)
        lengths = {name: len(axes[name]) for name in names}
        if len(set(lengths.values())) > 1:
            raise ScenarioError(
                ARGUMENTS,
                f"zip {','.join(names)}",
                f"zipped axes need as many values each, got {lengths}",
            )
        groups.append(names)
    order: list[list[str]] = []
    seen: set[int] = set()
    for key in axes:
        if key in grouped:
            if grouped[key] not in seen:
                seen.add(grouped[key])
                order.append(groups[grouped[key]])
        else:
            order.append([key])
    choices = [
        [{name: axes[name][i] for name in group} for i in range(len(axes[group[0]]))]
        for group in order
    ]
    return [
        {key: merged[key] for key in axes}
        for merged in (
            {k: v for part in combo for k, v in part.items()}
            for combo in itertools.product(*choices)
        )
    ]


def _check_axis(key: str, values: object) -> None:
    if not key or any(not part for part in key.split(".")):
        raise ScenarioError(
            ARGUMENTS, f"axis {key!r}", "expected a dotted key such as services.api.replicas"
        )
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence | np.ndarray):
        raise ScenarioError(ARGUMENTS, f"axis {key}", "expected a list of values")
    if len(values) == 0:
        raise ScenarioError(ARGUMENTS, f"axis {key}", "expected at least one value")
    shown = [repr(v) for v in values]
    repeated = sorted({v for v in shown if shown.count(v) > 1})
    if repeated:
        raise ScenarioError(ARGUMENTS, f"axis {key}", f"value {repeated[0]} given twice")


def _setting(value: Any) -> Any:
    """An axis value as an override: text is read as YAML, as `--set` reads its value
    (`3.6/s` stays text for the schema's units, `8` becomes a number); numpy scalars
    become Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def point_scenario(base: Scenario, point: Mapping[str, Any], limits: Limits | None) -> Scenario:
    """The base scenario with one point's settings; a bad key or value is one line that
    names the axis."""
    try:
        return load_scenario(base, {k: _setting(v) for k, v in point.items()}, limits=limits)
    except ScenarioError as error:
        message = error.message
        for key in point:
            message = message.replace(f"--set {key}", f"--axis {key}")
        raise type(error)(error.source, error.path, message) from None


def resolved(scenario: Scenario, key: str) -> Any:
    """The value at a dotted key of a resolved scenario (SI units), or None."""
    node: Any = scenario
    for part in key.split("."):
        if isinstance(node, BaseModel):
            node = getattr(node, part, None)
        elif isinstance(node, Mapping):
            node = node.get(part)
        else:
            return None
    return node


def _axis_columns(
    points: Sequence[Mapping[str, Any]], scenarios: Sequence[Scenario]
) -> dict[str, list[Any]]:
    """Per axis, the column of the tidy table: the resolved number (SI units) where every
    point's setting is a number, else the values as given, as text."""
    columns: dict[str, list[Any]] = {}
    for key in points[0]:
        values = [resolved(s, key) for s in scenarios]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            columns[key] = values
        else:
            columns[key] = [str(p[key]) for p in points]
    return columns


def sweep(
    scenario: ScenarioLike,
    axes: Mapping[str, Sequence[Any]],
    *,
    zipped: Iterable[Sequence[str]] = (),
    replications: int | str = 1,
    seed: int | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | str | None = None,
    kpis: Sequence[str] | None = None,
    tables: Sequence[str] = (),
    precision: float | None = None,
    precision_kpis: Sequence[str] | str | None = None,
    max_replications: int = AUTO_MAXIMUM,
    min_replications: int = AUTO_MINIMUM,
    jobs: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    store: Store | str | Path | None = None,
    force: bool = False,
    progress: bool = True,
    limits: Limits | None = None,
) -> SweepResult:
    """Run `scenario` at every point of `axes` (see `grid`), `replications` times per point
    with seeds seed, seed+1, ... (default: the scenario's seed), and summarise.

    `overrides` apply to every point (as `--set`), before the axes. `kpis` keeps only those
    KPIs (default all); `tables` names run tables to send back too (every run's rows, with
    its point). `jobs`, `backend`, `scheduler` and `workers` choose where the runs go (see
    `simulator.experiments.executor.execute`); with a `store` folder finished runs survive
    a crash and are not run again (`force` runs them anyway). `progress` shows a bar with
    the time left in a notebook or on a terminal (never in a log). Every point is checked
    before the first run: a bad key or value is a ScenarioError naming the axis.

    `replications="auto"` adds replications to each point (seeds seed, seed+1, ... as
    ever) until the 95% half-width of every KPI in `precision_kpis` (default the headline
    one: latency_mean_s, else wait_mean_s, else throughput_rps) is at most `precision`
    (default 0.05) × the mean's magnitude, with at least `min_replications` and at most
    `max_replications`; the summary's `replications` and `precise` columns say how many
    each point took and whether it got there (docs/experiments.md).
    """
    plan = prepare(
        scenario,
        axes,
        zipped=zipped,
        replications=replications,
        seed=seed,
        overrides=overrides,
        kpis=kpis,
        tables=tables,
        precision=precision,
        precision_kpis=precision_kpis,
        max_replications=max_replications,
        min_replications=min_replications,
        limits=limits,
    )
    return plan.run(
        jobs=jobs,
        backend=backend,
        scheduler=scheduler,
        workers=workers,
        store=store,
        force=force,
        progress=progress,
    )


def prepare(
    scenario: ScenarioLike,
    axes: Mapping[str, Sequence[Any]],
    *,
    zipped: Iterable[Sequence[str]] = (),
    replications: int | str = 1,
    seed: int | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | str | None = None,
    kpis: Sequence[str] | None = None,
    tables: Sequence[str] = (),
    precision: float | None = None,
    precision_kpis: Sequence[str] | str | None = None,
    max_replications: int = AUTO_MAXIMUM,
    min_replications: int = AUTO_MINIMUM,
    limits: Limits | None = None,
) -> SweepPlan:
    """A sweep checked whole before anything runs or is written: every point's scenario
    loaded and within the budget (see `sweep` for the arguments; an auto sweep is checked
    for its most replications)."""
    auto = auto_replications(
        replications, precision, precision_kpis, min_replications, max_replications
    )
    replications = _count(auto[2] if auto else replications, limits)
    seed = _seed(seed, replications)
    base = _scenario(scenario, overrides, limits)
    points = grid(axes, zipped)
    scenarios = [point_scenario(base, point, limits) for point in points]
    from ..budget import check_budget

    for each in scenarios:
        check_budget(each, limits, replications)
    first = base.seed if seed is None else seed
    _seed(first, replications)
    if kpis is not None and (isinstance(kpis, str) or not all(isinstance(k, str) for k in kpis)):
        raise ScenarioError(ARGUMENTS, "kpis", "expected a list of KPI names")
    return SweepPlan(
        base=base,
        points=points,
        scenarios=scenarios,
        replications=replications,
        seed=first,
        kpis=None if kpis is None else list(dict.fromkeys(kpis)),
        tables=tuple(dict.fromkeys(str(t) for t in tables)),
        limits=limits,
        auto=auto,
    )


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep, ready to run: the base scenario, the points and their scenarios."""

    base: Scenario
    points: list[dict[str, Any]]
    scenarios: list[Scenario]
    replications: int
    seed: int
    kpis: list[str] | None
    tables: tuple[str, ...]
    limits: Limits | None
    auto: Auto | None = None

    @property
    def runs(self) -> int:
        """Runs of the plan (with auto replications: the most it may take)."""
        return len(self.points) * self.replications

    def run(
        self,
        *,
        jobs: int = 1,
        backend: str = "local",
        scheduler: str | None = None,
        workers: int | None = None,
        store: Store | str | Path | None = None,
        force: bool = False,
        progress: bool = True,
    ) -> SweepResult:
        """Every run of the plan through the experiment engine, then the tidy table and
        the summary."""
        options: dict[str, Any] = dict(
            jobs=jobs,
            backend=backend,
            scheduler=scheduler,
            workers=workers,
            store=store,
            force=force,
            progress=progress,
            label=f"{self.base.name}: sweep",
        )
        counts = [self.replications] * len(self.points)
        reached: list[bool] | None = None
        watched: list[str] = []
        if self.auto is None:
            tasks = [
                RunTask(s, self.seed + i, tables=self.tables, limits=self.limits)
                for s in self.scenarios
                for i in range(self.replications)
            ]
            execution: Any = execute(tasks, run_task, **options)
            outcomes = execution.outcomes
        else:
            precision, low, high, kpis = self.auto
            execution = execute_until_precise(
                lambda p, i: RunTask(
                    self.scenarios[p], self.seed + i, tables=self.tables, limits=self.limits
                ),
                len(self.points),
                run_task,
                precision=precision,
                kpis=kpis,
                minimum=low,
                maximum=high,
                batch=-(-jobs // len(self.points)),
                **options,
            )
            outcomes = [o for point in execution.outcomes for o in point]
            counts, reached, watched = execution.counts, execution.reached, execution.kpis
        found = list(dict.fromkeys(k for o in outcomes for k in o.summary))
        unknown = [k for k in self.kpis or () if k not in found]
        if unknown:
            raise ScenarioError(
                ARGUMENTS,
                "kpis",
                f"no KPI {unknown[0]!r} in these runs; they have {', '.join(found)}",
            )
        kept = found if self.kpis is None else self.kpis
        columns = _axis_columns(self.points, self.scenarios)
        axis_names = list(columns)
        rows = []
        places = [(p, i) for p, n in enumerate(counts) for i in range(n)]
        for (point, replication), outcome in zip(places, outcomes, strict=True):
            row: dict[str, Any] = {"point": point}
            row.update({key: columns[key][point] for key in axis_names})
            row.update({"replication": replication, "seed": outcome.seed})
            row.update({k: outcome.summary.get(k, np.nan) for k in kept})
            rows.append(row)
        table = pd.DataFrame(rows)
        summary = _summary(table, axis_names, kept, len(self.points))
        summary["theory"] = [
            theory(self.scenarios[int(point)], str(kpi))
            for point, kpi in zip(summary["point"], summary["kpi"], strict=True)
        ]
        if reached is not None:
            summary["replications"] = [counts[int(p)] for p in summary["point"]]
            summary["precise"] = [reached[int(p)] for p in summary["point"]]
        return SweepResult(
            scenario=self.base,
            axes=axis_names,
            table=table,
            summary=summary,
            tables=_run_tables(outcomes, self.tables, table, axis_names),
            replications=max(counts),
            seed=self.seed,
            precision=None if self.auto is None else self.auto[0],
            precision_kpis=watched,
            runs=execution.runs,
            cached=execution.cached,
            seconds=execution.seconds,
            backend=execution.backend,
            run_seconds=execution.run_seconds,
        )


THEORY_KPIS = {
    "wait_mean_s": lambda r: r.metrics.wait_mean,
    "latency_mean_s": lambda r: r.metrics.sojourn_mean,
    "p_wait": lambda r: r.metrics.p_wait,
    "utilisation": lambda r: r.metrics.utilisation,
    "latency_p50_s": lambda r: _quantile(r, 0.5),
    "latency_p95_s": lambda r: _quantile(r, 0.95),
    "latency_p99_s": lambda r: _quantile(r, 0.99),
}
"""KPIs that queueing theory predicts for a plain one-service queue (M/M/c: Erlang C)."""


def _quantile(reference: Any, q: float) -> float:
    curve = reference.sojourn_quantile
    return math.nan if curve is None else float(curve(q))


def theory(scenario: Scenario, kpi: str) -> float:
    """What queueing theory predicts for `kpi` at this point, where the scenario is one
    service that a textbook queue describes exactly (`theory.reference`: M/M/c and kin),
    the queue is stable and the KPI is one it predicts; else NaN."""
    if kpi not in THEORY_KPIS or len(scenario.services) != 1:
        return math.nan
    from ..theory.reference import service_reference

    (name,) = scenario.services
    try:
        reference = service_reference(scenario, name)
    except (ValueError, ArithmeticError):  # unstable: no steady state
        return math.nan
    if reference is None:
        return math.nan
    return float(THEORY_KPIS[kpi](reference))


def _summary(
    table: pd.DataFrame, axes: Sequence[str], kpis: Sequence[str], points: int
) -> pd.DataFrame:
    """One row per point and KPI: the axis values, mean and 95% CI over replications."""
    parts = []
    for point, rows in table.groupby("point", sort=True):
        part = summarise(rows, kpis).reset_index()
        part.insert(0, "point", point)
        for offset, key in enumerate(axes, start=1):
            part.insert(offset, key, rows[key].iloc[0])
        parts.append(part)
    assert len(parts) == points
    return pd.concat(parts, ignore_index=True)


def _run_tables(
    outcomes: Sequence[Any],
    names: Sequence[str],
    table: pd.DataFrame,
    axes: Sequence[str],
) -> dict[str, pd.DataFrame]:
    """Each asked-for table: every run's rows, after its point, axis values, replication
    and seed."""
    keys = table[["point", *axes, "replication", "seed"]]
    found: dict[str, pd.DataFrame] = {}
    for name in names:
        parts = []
        for index, outcome in enumerate(outcomes):
            frame = outcome.tables.get(name)
            if frame is None or frame.empty:
                continue
            frame = frame.reset_index(drop=frame.index.name is None)
            front = keys.iloc[[index] * len(frame)].reset_index(drop=True)
            parts.append(pd.concat([front, frame.reset_index(drop=True)], axis=1))
        if parts:
            found[name] = pd.concat(parts, ignore_index=True)
    return found


# ---------------------------------------------------------------------------- experiment files


class Chart(BaseModel):
    """One chart of a sweep: a KPI against axis `x` (with confidence band, one line per
    value of the other axes), or with `y` a heat map over two axes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kpi: str = Field(description="the KPI to draw")
    x: str = Field(description="the axis along the horizontal")
    y: str | None = Field(default=None, description="a second axis: a heat map")


class Experiment(BaseModel):
    """An experiment file: a sweep written down, so that it can be run again and shared."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    scenario: str | dict[str, Any] = Field(
        description="the base scenario: a path (relative to the experiment file) or the "
        "scenario itself as a mapping"
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        alias="set",
        description="settings applied to every point before the axes (as --set)",
    )
    axes: dict[str, list[Any]] = Field(
        min_length=1, description="dotted key → list of values, in the scenario's units"
    )
    zipped: list[list[str]] = Field(
        default_factory=list, alias="zip", description="groups of axes whose values go together"
    )
    replications: int | Literal["auto"] = Field(
        default=1,
        description="runs per point (seeds seed, seed+1, …), a whole number ≥ 1 or auto "
        "(until `precision`)",
    )
    precision: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="with replications: auto, the relative 95% half-width to reach (0.05)",
    )
    seed: int | None = Field(default=None, ge=0, description="first seed (default the scenario's)")
    kpis: list[str] | None = Field(default=None, description="KPIs to keep (default all)")
    tables: list[str] = Field(default_factory=list, description="run tables to keep, by name")
    charts: list[Chart] = Field(
        default_factory=list, description="charts to draw with --out (default: a few)"
    )

    @field_validator("replications", mode="before")
    @classmethod
    def _count_or_auto(cls, value: object) -> object:
        """One message for both forms, not one per branch of the union."""
        if value == "auto" or (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
        ):
            return value
        raise ValueError(f"expected a whole number ≥ 1 or auto, got {value!r}")


def is_experiment(data: object) -> bool:
    """An experiment file has `axes:` and `scenario:`; a scenario file has neither."""
    return isinstance(data, Mapping) and "axes" in data and "scenario" in data


def load_experiment(path: str | Path) -> tuple[Experiment, ScenarioLike]:
    """An experiment file, validated (one line per mistake: file, key, what was expected),
    and its base scenario (a path beside the file, or the inline mapping)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ScenarioError(str(path), "", f"cannot be read: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ScenarioError(str(path), "", f"{where}not valid YAML") from None
    if not is_experiment(data):
        raise ScenarioError(str(path), "", "expected an experiment: scenario: and axes: keys")
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as error:
        # an unknown key first: a misspelt key explains the field it leaves missing
        first = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        key = ".".join(str(part) for part in first["loc"])
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ScenarioError(str(path), key, message) from None
    base: ScenarioLike = experiment.scenario
    if isinstance(base, str):
        base = path.parent / base
        if not base.is_file():
            raise ScenarioError(str(path), "scenario", f"no scenario file at {base}")
    return experiment, base
