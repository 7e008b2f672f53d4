"""Staffing that grows with the fleet, the on-call rotation and what it costs each person,
and CI runners billed by use (issue 13, point 7)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

import simulator
from simulator import ScenarioError, load_scenario
from simulator.engine import EventLog, RandomStreams
from simulator.metrics.delivery import billed_runner_seconds, delivery_results, hours_in_window
from simulator.model.context import RunContext
from simulator.model.delivery import DeliveryModel
from simulator.model.delivery.capacity import operator_load
from simulator.records.delivery import DeliveryRecords, IncidentRecord
from simulator.records.run import RunRecords
from simulator.scenario.calendar import Calendar
from simulator.scenario.delivery import Organisation
from simulator.scenario.units import DAY, HOUR, WEEK

OFF_HOURS = 168.0 - 40.0
"""Hours a week outside 09:00-17:00, Monday to Friday."""


def small(process: str, services: int = 5, **organisation) -> dict:
    return {
        "name": process,
        "horizon": "4w",
        "warmup": "1w",
        "delivery": {"services": services, "process": process},
        "organisation": {"operators": 2, **organisation},
        "monitoring": {"enabled": True},
    }


# -- the staffing rule ----------------------------------------------------------------------


@pytest.mark.parametrize(("services", "team"), [(1, 1), (24, 1), (25, 2), (100, 5), (1000, 42)])
def test_the_team_grows_by_one_operator_per_services_per_operator(services: int, team: int):
    assert Organisation(services_per_operator=24).team(services) == team


@pytest.mark.parametrize(("services", "team"), [(1, 8), (25, 8), (100, 8), (200, 9), (1000, 42)])
def test_operators_is_the_smallest_team(services: int, team: int):
    """The SRE book's rotation of eight sets the floor; the fleet the rest."""
    assert Organisation(operators=8, services_per_operator=24).team(services) == team


def test_without_a_rule_the_team_is_fixed():
    organisation = Organisation(operators=8)
    assert [organisation.team(n) for n in (1, 10, 100, 1000)] == [8, 8, 8, 8]


def test_the_rotation_is_at_most_the_team():
    assert Organisation(operators=3).rotation(10) == 3  # empty: the whole team
    assert Organisation(operators=3, on_call_rotation=8).rotation(10) == 3
    assert Organisation(operators=12, on_call_rotation=8).rotation(10) == 8
    growing = Organisation(operators=1, services_per_operator=10, on_call_rotation=8)
    assert [growing.rotation(n) for n in (5, 50, 500)] == [1, 5, 8]


@pytest.mark.parametrize("organisation", [{"services_per_operator": 0}, {"on_call_rotation": 0}])
def test_a_staffing_rule_that_makes_no_sense_is_refused(organisation: dict):
    with pytest.raises(ScenarioError) as error:
        load_scenario(small("ticket", **organisation))
    assert "organisation." in str(error.value) and "\n" not in str(error.value)


def test_the_model_staffs_the_team_the_rule_gives():
    """The operators' queue has the rule's capacity, and the KPIs count that team."""
    scenario = load_scenario(small("ticket", services=30, operators=1, services_per_operator=10))
    env = simpy.Environment()
    model = DeliveryModel(RunContext(env, scenario, 1, RandomStreams(1), EventLog()))
    assert model.operators.capacity == 3
    env.run(until=scenario.horizon)
    records = model.records()
    assert records.operators == 3
    summary, _ = delivery_results(records, RunRecords(scenario, 1, {}, {}))
    assert summary["operators"] == 3.0
    assert summary["services_per_operator"] == 10.0
    # Salaries: three people's working hours over the three measured weeks.
    assert summary["cost_people_usd"] - summary["cost_on_call_usd"] == pytest.approx(
        3 * 3 * 40 * 75.0
    )


def test_the_growth_sweep_sees_the_team_grow():
    """The growth experiment sets delivery.services on the era's scenario: the team
    follows, in the simulation and in the arithmetic."""
    base = load_scenario(small("ticket", operators=1, services_per_operator=10))
    for services, team in ((1, 1), (25, 3), (100, 10)):
        scenario = load_scenario(base, {"delivery.services": services})
        assert operator_load(scenario).team_hours == team * 40.0
        assert operator_load(base, services).team_hours == team * 40.0
    summary = simulator.run(load_scenario(base, {"delivery.services": 25}), seed=2).summary
    assert summary["operators"] == 3.0


def test_a_growing_team_breaks_only_if_each_person_has_more_work_than_hours():
    """A fixed team of one breaks at w / h services (w = 40 working hours, h = work per
    service per week). A team that grows by one per s services keeps ρ ≤ s · h / w: it
    breaks where the smallest team would if s · h ≥ w, and never otherwise."""
    fixed = operator_load(load_scenario(small("ticket", operators=1)))
    per_service = fixed.total_hours / fixed.services
    alone = 40.0 / per_service
    assert fixed.break_services == pytest.approx(alone)
    busy = load_scenario(small("ticket", operators=1, services_per_operator=2 * alone))
    assert operator_load(busy).break_services == pytest.approx(alone)
    assert operator_load(busy, 1000).utilisation >= 1.0
    staffed = load_scenario(small("ticket", operators=1, services_per_operator=alone / 2))
    assert math.isinf(operator_load(staffed).break_services)
    for services in (1, 10, 100, 1000):
        assert operator_load(staffed, services).utilisation <= 0.5 + 1e-9


# -- on-call per person -----------------------------------------------------------------------


def night_and_day_records(operators: int, rotation: int | None, on_call: bool) -> DeliveryRecords:
    """Two weeks from Monday 00:00, 09:00-17:00 on weekdays; three pages: Tuesday 03:00
    (a night), Wednesday 11:00 and Thursday 14:00 (working hours)."""
    nan = math.nan

    def page(at: float) -> IncidentRecord:
        return IncidentRecord(
            0, "bad-change", at, at, at + HOUR, "on-call", True, 1.0, "page", "", nan, at
        )

    return DeliveryRecords(
        warmup=0.0,
        horizon=2 * WEEK,
        calendar=Calendar(),
        services=4,
        process="ticket",
        operators=operators,
        on_call=on_call,
        changes=(),
        deploys=(),
        incidents=(page(DAY + 3 * HOUR), page(2 * DAY + 11 * HOUR), page(3 * DAY + 14 * HOUR)),
        work=(),
        samples=(),
        operator_backlog=0,
        ci_runners=1,
        ci_busy_seconds=0.0,
        frozen_seconds=0.0,
        preview_node_seconds=0.0,
        second_copy_node_seconds=0.0,
        nodes_per_service=1.0,
        node_price=0.1,
        runner_price=0.1,
        hourly_rate=75.0,
        on_call_standby_rate=0.1,
        on_call_rotation=rotation,
    )


def kpis_of(records: DeliveryRecords) -> dict[str, float]:
    return delivery_results(records, RunRecords(None, 0, {}, {}))[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("operators", "rotation", "sharing"),
    [(1, None, 1), (8, None, 8), (12, 8, 8), (3, 8, 3)],
)
def test_the_pager_is_shared_by_the_rotation(operators: int, rotation: int | None, sharing: int):
    """Worked by hand: 128 off-hours a week; 3 pages in 2 weeks, one of them at night."""
    kpis = kpis_of(night_and_day_records(operators, rotation, on_call=True))
    assert kpis["on_call_rotation"] == sharing
    assert kpis["pager_hours_per_person_per_week"] == pytest.approx(OFF_HOURS / sharing)
    assert kpis["pages_per_person_per_week"] == pytest.approx(1.5 / sharing)
    assert kpis["night_pages_per_person_per_week"] == pytest.approx(0.5 / sharing)
    # The pay does not depend on the rotation: one person on standby at a time.
    assert kpis["cost_on_call_usd"] == pytest.approx(2 * OFF_HOURS * 0.1 * 75.0)


def test_without_on_call_nobody_carries_a_pager():
    kpis = kpis_of(night_and_day_records(4, 2, on_call=False))
    assert kpis["on_call_rotation"] == 0.0
    assert kpis["pager_hours_per_person_per_week"] == 0.0
    assert kpis["pages_per_person_per_week"] == pytest.approx(1.5 / 4)


def test_pager_hours_per_person_are_the_standby_paid_over_the_rotation():
    """In a run: the standby hours `cost_on_call_usd` pays for (less the pages worked),
    per week and per person of the rotation, are the KPI; the sysadmin alone carries all
    128 of them."""
    spec = small("ticket", operators=6, on_call_rotation=4)
    spec["incidents"] = {"infrastructure_mtbf": "5d"}  # failures at any hour: night pages
    result = simulator.run(spec, seed=1)
    summary, work = result.summary, result.tables["operator_work"]
    worked_hours = float(hours_in_window(work, WEEK, 4 * WEEK)[work["who"] == "on-call"].sum())
    standby = (summary["cost_on_call_usd"] - worked_hours * 75.0) / (0.1 * 75.0)
    assert standby == pytest.approx(3 * OFF_HOURS)
    assert summary["pager_hours_per_person_per_week"] == pytest.approx(standby / 3 / 4)
    assert summary["night_pages_per_person_per_week"] == pytest.approx(
        summary["night_pages_per_week"] / 4
    )
    assert summary["night_pages_per_week"] > 0
    alone = simulator.run(small("ticket", operators=1), seed=1).summary
    assert alone["pager_hours_per_person_per_week"] == pytest.approx(OFF_HOURS)


# -- CI runners billed by use -----------------------------------------------------------------


def test_per_use_billing_worked_by_hand():
    jobs = np.array([[0.0, 30.0], [100.0, 190.0], [500.0, 561.0], [1000.0, 1200.0]])
    # Rounded up to the minute: 1 + 2 + 2 + 4 minutes.
    assert billed_runner_seconds(jobs, 0.0, 2000.0, 60.0) == 9 * 60.0
    assert billed_runner_seconds(jobs, 0.0, 2000.0, 0.0) == 30 + 90 + 61 + 200
    # Only the measured period: the first job before it, the last cut at the horizon.
    assert billed_runner_seconds(jobs, 50.0, 1100.0, 0.0) == 90 + 61 + 100
    assert billed_runner_seconds(jobs, 50.0, 1100.0, 60.0) == 2 * 60 + 2 * 60 + 2 * 60
    assert billed_runner_seconds(np.zeros((0, 2)), 0.0, 1.0, 60.0) == 0.0


def runner_cost_runs(**automated) -> tuple[simulator.Result, simulator.Result]:
    spec = small("automated", services=10)
    always = simulator.run(spec, seed=4)
    spec["delivery"]["automated"] = {"runner_billing": "per-use", **automated}
    return always, simulator.run(spec, seed=4)


def test_always_on_runners_are_billed_around_the_clock():
    always, _ = runner_cost_runs()
    scenario = always.scenario
    assert scenario.delivery is not None
    auto = scenario.delivery.automated
    hours = scenario.measured_period / HOUR
    assert always.summary["cost_runners_usd"] == auto.runners * auto.runner_price * hours


def test_per_use_runners_are_billed_for_the_build_and_test_time_used():
    """Billed exactly (increment 0), per-use runners cost the build-and-test stretches of the
    `change_stages` table (an independent record) clipped to the measured period; nothing
    else about the run changes."""
    always, per_use = runner_cost_runs(billing_increment=0)
    scenario = per_use.scenario
    stages = per_use.tables["change_stages"]
    built = stages[stages["stage"] == "build_test"]
    seconds = (
        (np.minimum(built["end"], scenario.horizon) - np.maximum(built["start"], scenario.warmup))
        .clip(lower=0)
        .sum()
    )
    assert per_use.summary["cost_runners_usd"] == pytest.approx(seconds / HOUR * 0.096, rel=1e-9)
    assert per_use.summary["cost_runners_usd"] < always.summary["cost_runners_usd"] / 10
    difference = always.summary["cost_runners_usd"] - per_use.summary["cost_runners_usd"]
    assert always.summary["cost_tooling_usd"] - per_use.summary["cost_tooling_usd"] == (
        pytest.approx(difference)
    )
    for kpi in ("lead_time_median_s", "deploys_per_day", "ci_utilisation", "incidents"):
        assert always.summary[kpi] == per_use.summary[kpi]


def test_rounding_each_job_up_to_the_minute_adds_at_most_a_minute_a_job():
    _, exact = runner_cost_runs(billing_increment=0)
    _, minutes = runner_cost_runs(billing_increment=60)
    stages = exact.tables["change_stages"]
    jobs = int((stages["stage"] == "build_test").sum())
    extra = minutes.summary["cost_runners_usd"] - exact.summary["cost_runners_usd"]
    assert 0 < extra <= jobs * 60 / HOUR * 0.096
