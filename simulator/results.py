"""What a run gives back: KPIs, tidy tables, and ways to save them."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .scenario.schema import Scenario

TABLE_FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class Result:
    """One run: `summary` maps KPI names to numbers; `tables` holds pandas DataFrames.

    Tables of the request model: `requests` (one row per end-to-end request sent after
    warm-up that finished: service (the entry point), replica, arrival, start, end, status,
    attempts), `spans` (one row per visit to a service: service, replica, parent, request,
    attempt, arrival, start, end, responded, status, outcome), `services` (KPIs per service,
    the server's view), `entry_points` (end-to-end KPIs per entry point), `timeseries` (per
    service at a fixed interval: busy, queued, in_system, workers, replicas, and exact
    interval averages utilisation and queued_mean), `costs` (nodes and spend over time),
    `events` (the decision log: time, component, kind, detail) and `scaling` (the
    autoscalers' decisions as numbers: time, target, kind, from, to, reason). The cluster
    scheduler adds `jobs`, `schedulers`, `cluster_utilisation` and `failures`; service
    discovery adds `discovery_changes` and `discovery_convergence`, configuration drift
    `config_drift`, secrets `secret_audit` and `secret_leaks`; the delivery model adds
    `changes`, `deploys`, `incidents`, `operator_work` and `delivery_timeseries`; the analytic
    fidelity adds `entry_timeseries` and leaves `requests` and `spans` empty.
    """

    scenario: Scenario
    seed: int
    summary: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(repr=False)

    @property
    def requests(self) -> pd.DataFrame:
        return self.tables["requests"]

    def to_json(self) -> str:
        return json.dumps(json_ready(self.summary), indent=2)

    def save(self, directory: str | Path, table_format: str = "parquet") -> list[Path]:
        """Write summary.json and the tables; all or nothing. Data only: charts are drawn
        from these results by `simulator.plots` (`sresim run --out` adds them)."""
        return write_atomically(directory, lambda tmp: self.write(tmp, table_format))

    def write(self, directory: Path, table_format: str = "parquet") -> None:
        """Write summary.json and the tables into an existing folder (not atomic: to compose
        with other writers inside `write_atomically`)."""
        summary = {"scenario": self.scenario.name, "seed": self.seed, "kpis": self.summary}
        (directory / "summary.json").write_text(json.dumps(json_ready(summary), indent=2))
        write_tables(self.tables, directory, table_format)


def write_tables(tables: dict[str, pd.DataFrame], directory: Path, table_format: str) -> None:
    if table_format not in TABLE_FORMATS:
        raise ValueError(f"unknown table format {table_format!r}; expected parquet or csv")
    for name, table in tables.items():
        if table_format == "parquet":
            table.to_parquet(directory / f"{name}.parquet")
        else:
            table.to_csv(directory / f"{name}.csv", index=name == "services")


def write_atomically(directory: str | Path, write: Callable[[Path], None]) -> list[Path]:
    """Write into a scratch folder first, so a failure leaves nothing half-written."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(scratch)
        target.mkdir(exist_ok=True)
        written = []
        for item in sorted(scratch.iterdir()):
            os.replace(item, target / item.name)
            written.append(target / item.name)
        return written
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def json_ready(value: object) -> object:
    """NaN is not JSON: write null instead, so every JSON reader can load the file."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Replications:
    """Independent replications of one scenario (seeds seed, seed+1, ...).

    `table`: one row per replication (replication, seed and every KPI). `summary`: one row
    per KPI with the mean, the half-width of its 95% confidence interval and its bounds.
    """

    scenario: Scenario
    table: pd.DataFrame
    summary: pd.DataFrame
    results: list[Result] = field(repr=False, default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """Scenarios run on the same seeds, side by side.

    `table` has one row per KPI: each scenario's value (the mean over replications), then for
    every scenario after the first its difference from the first, the relative difference,
    and, with two or more replications, the 95% half-width of the paired difference.
    """

    names: list[str]
    table: pd.DataFrame
    replications: list[Replications] = field(repr=False, default_factory=list)
