"""A sweep's run (`run_task`) builds only the tables it sends back: the analytic run's own
tables and monitoring's `sli` are skipped unless asked for. The KPIs must not change by a
bit, the tables asked for must be the full run's, and a kept Result keeps every table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import simulator
from simulator.analytic import run as analytic_run
from simulator.experiments.eras import ERAS_DIR
from simulator.experiments.executor import RunTask
from simulator.experiments.fleet import fleet_scenario
from simulator.metrics import monitoring
from simulator.runner import run_task
from simulator.scenario.loader import load_scenario


def _fleet() -> simulator.Scenario:
    """The growth sweep's kind of run, small: ten services of the SRE era, analytic, with
    delivery, monitoring and incidents (four, and requests that bad versions failed)."""
    return fleet_scenario(ERAS_DIR / "sre.yaml", 10, {"horizon": "4d", "warmup": "1d"})


def _canary() -> simulator.Scenario:
    """A request-level run with monitoring (its `sli` table) and a bad canary."""
    return load_scenario(
        "one-world/bad-canary.yaml",
        {
            "monitoring.enabled": "true",
            "monitoring.alerting": "burn-rate",
            "traffic.api.rate": "5/s",
            "horizon": "90min",
        },
    )


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal bit for bit, NaN included, in the same order."""
    return list(a) == list(b) and all(
        (math.isnan(x) and math.isnan(b[k])) or x == b[k] for k, x in a.items()
    )


@pytest.fixture(scope="module", params=["analytic fleet", "request level"])
def case(request: pytest.FixtureRequest) -> tuple[simulator.Scenario, simulator.Result]:
    scenario = _fleet() if request.param == "analytic fleet" else _canary()
    return scenario, simulator.run(scenario, 5)


def test_no_table_asked_gives_the_same_kpis(case, monkeypatch):
    scenario, full = case

    def unwanted(*args: object, **kwargs: object) -> None:
        raise AssertionError("a table nobody asked for was built")

    monkeypatch.setattr(analytic_run, "_tables", unwanted)
    monkeypatch.setattr(monitoring, "sli_table", unwanted)
    outcome = run_task(RunTask(scenario, 5))
    assert outcome.tables == {}
    assert _same(outcome.summary, full.summary)


@pytest.mark.parametrize("asked", [("sli",), ("services", "alerts"), ("entry_timeseries", "sli")])
def test_the_tables_asked_are_the_full_runs(case, asked):
    scenario, full = case
    outcome = run_task(RunTask(scenario, 5, tables=asked))
    assert _same(outcome.summary, full.summary)
    assert set(outcome.tables) == {name for name in asked if name in full.tables}
    assert "sli" in outcome.tables or "sli" not in asked
    for name, table in outcome.tables.items():
        pd.testing.assert_frame_equal(table, full.tables[name], check_exact=True)


def test_a_kept_result_has_every_table(case):
    scenario, full = case
    outcome = run_task(RunTask(scenario, 5, keep=True))
    assert outcome.result is not None
    assert list(outcome.result.tables) == list(full.tables)
    assert _same(outcome.summary, full.summary)


def test_run_takes_one_table_by_name(case):
    """`simulator.run(..., tables="sli")` asks for the table `sli`, not for s, l and i."""
    scenario, full = case
    result = simulator.run(scenario, 5, tables="sli")
    assert _same(result.summary, full.summary)
    pd.testing.assert_frame_equal(result.tables["sli"], full.tables["sli"], check_exact=True)
