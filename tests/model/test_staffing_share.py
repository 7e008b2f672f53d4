"""Staffing for the work: `organisation.operational_share` sizes the team so that the
expected operational hours (deploys, toil, incidents) fill at most that share of its
working hours, the SRE book's 50% cap on operational work (REFERENCE.md §2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

import simulator
from simulator import ScenarioError, load_scenario
from simulator.engine import EventLog, RandomStreams
from simulator.model.context import RunContext
from simulator.model.delivery import DeliveryModel
from simulator.model.delivery.capacity import operator_load
from simulator.scenario.delivery import Organisation


def ticket(services: int, **organisation) -> dict:
    """Ticket delivery worked by hand: weekly releases of 2 changes a working day (so a
    release every week with probability 1 - e^-10), constant 2 h deploys, no bad changes,
    one deploy in ten breaks by hand, incidents of 1 h diagnosis + 2 h redeploy + 3 h
    follow-up, 1 h of hand configuration per service a week."""
    return {
        "name": "ticket",
        "horizon": "4w",
        "warmup": "1w",
        "delivery": {
            "services": services,
            "process": "ticket",
            "change_rate": 2,
            "defect_probability": 0.0,
            "ticket": {
                "release_interval": "1w",
                "manual_deploy_effort": {"distribution": "constant", "mean": "2h"},
                "manual_error_probability": 0.1,
                "hand_config_toil": 1.0,
            },
        },
        "incidents": {
            "diagnosis_effort": {"distribution": "constant", "mean": "1h"},
            "follow_up_effort": "3h",
        },
        "organisation": {"operators": 1, **organisation},
    }


def automated(services: int, **organisation) -> dict:
    """Automated delivery whose only operator work is 0.25 h of toil per service a week."""
    return {
        "name": "automated",
        "horizon": "4w",
        "warmup": "1w",
        "delivery": {
            "services": services,
            "process": "automated",
            "defect_probability": 0.0,
            "automated": {"toil": 0.25},
        },
        "organisation": {"operators": 8, **organisation},
    }


# -- the rule, worked by hand -----------------------------------------------------------------


def test_ticket_team_worked_by_hand():
    """Per service a week: 2 h x r deploys, 0.1 x r incidents of 1 + 2 + 3 h, 1 h toil,
    r = 1 - e^-10; 40 services: 40 x (2.6 r + 1) = 144.0 h. Half of 40 h each: 144 / 20 =
    7.2, so 8 people (4.5 h of slack each)."""
    r = 1 - math.exp(-10)
    load = operator_load(load_scenario(ticket(40, operational_share=0.5)))
    assert load.total_hours == pytest.approx(40 * (2.6 * r + 1), rel=1e-12)
    assert load.operators == 8
    assert load.team_hours == 8 * 40.0
    assert load.utilisation == pytest.approx(144.0 / 320.0, rel=1e-4)
    # A quarter instead of a half: 144 / 10 = 14.4, so 15.
    assert operator_load(load_scenario(ticket(40, operational_share=0.25))).operators == 15


def test_automated_team_worked_by_hand():
    """0.25 h x 1,000 services = 250 h: 250 / 20 = 12.5, so 13 people; at 100 services
    25 / 20 = 1.25, 2 people, below the 8 of `operators` (the SRE book's rotation)."""
    big = operator_load(load_scenario(automated(1000, operational_share=0.5)))
    assert big.total_hours == pytest.approx(250.0)
    assert big.operators == 13
    assert operator_load(load_scenario(automated(100, operational_share=0.5))).operators == 8


def test_with_a_ratio_too_the_larger_team():
    """Both rules are floors: 144 h at half of 40 h asks for 8 people; a ratio of 4 services
    per operator asks for 10 (10 it is), one of 10 for 4 (8 it is)."""
    assert (
        operator_load(
            load_scenario(ticket(40, operational_share=0.5, services_per_operator=4))
        ).operators
        == 10
    )
    assert (
        operator_load(
            load_scenario(ticket(40, operational_share=0.5, services_per_operator=10))
        ).operators
        == 8
    )


def test_organisation_team_is_the_ceiling_of_the_hours_over_the_share():
    organisation = Organisation(operators=2, operational_share=0.5)
    assert [organisation.team(10, hours) for hours in (0.0, 40.0, 40.5, 100.0)] == [2, 2, 3, 5]
    assert Organisation(operators=2).team(10, 1e6) == 2  # off: the hours do not matter


@pytest.mark.parametrize("share", [0, 1, 1.5, -0.5])
def test_a_share_outside_zero_to_one_is_refused(share: float):
    """A team planned to be busy all its hours (or more) has no slack: its queue never
    drains, so 1 is refused too."""
    with pytest.raises(ScenarioError) as error:
        load_scenario(ticket(10, operational_share=share))
    assert "organisation.operational_share" in str(error.value)
    assert "\n" not in str(error.value)


# -- how the team grows -----------------------------------------------------------------------


def test_a_manual_process_needs_people_in_proportion_to_the_fleet():
    """At the defaults, a ticket process costs each service ~4.3 operator hours a week and
    automated delivery ~0.13 (toil and incidents that escape the tests): staffed at half
    their time, the ticket team grows by one person per ~5 services and the automated one
    per ~160 (214 and 7 people at 1,000 services)."""
    sizes = (1, 10, 100, 1000)

    def teams(process: str) -> list[int]:
        spec = {"name": process, "delivery": {"process": process}}
        spec["organisation"] = {"operators": 1, "operational_share": 0.5}
        scenario = load_scenario(spec)
        return [operator_load(scenario, n).operators for n in sizes]

    manual, auto = teams("ticket"), teams("automated")
    assert manual == sorted(manual) and auto == sorted(auto)
    assert manual[-1] >= 150 and auto[-1] <= 10
    assert manual[-1] - manual[1] >= 20 * (auto[-1] - auto[1])


def test_a_team_staffed_for_the_work_never_breaks():
    """ρ ≤ the share < 1 at any size: no break point, where a fixed team of one has one."""
    fixed = operator_load(load_scenario(ticket(40)))
    assert fixed.break_services == pytest.approx(40.0 * 40 / fixed.total_hours)
    staffed = load_scenario(ticket(40, operational_share=0.5))
    assert math.isinf(operator_load(staffed).break_services)
    for services in (1, 10, 100, 1000, 10_000):
        assert operator_load(staffed, services).utilisation <= 0.5 + 1e-12


# -- the model staffs the same team ------------------------------------------------------------


def test_the_model_staffs_the_team_of_the_arithmetic_and_says_why():
    scenario = load_scenario(ticket(40, operational_share=0.5, on_call_rotation=6))
    env, events = simpy.Environment(), EventLog()
    model = DeliveryModel(RunContext(env, scenario, 1, RandomStreams(1), events))
    assert model.operators.capacity == 8 == operator_load(scenario).operators
    env.run(until=scenario.horizon)
    records = model.records()
    assert records.operators == 8 and records.on_call_rotation == 6
    started = events.table().query("kind == 'started' and component == 'delivery'")
    assert "staffed for 144.0 expected operator hours/week" in started["detail"].iloc[0]
    assert "ceil(144.0 / 20) = 8" in started["detail"].iloc[0]


def test_the_rule_off_changes_nothing():
    """A share that never asks for more than `operators` leaves every number as it was:
    the rule only sizes the team, with no random draw and no event of its own."""
    plain = simulator.run(ticket(40, operators=8), seed=3).summary
    ruled = simulator.run(ticket(40, operators=8, operational_share=0.5), seed=3).summary
    assert ruled == plain
    assert plain["operators"] == 8.0


def test_the_measured_utilisation_lands_near_the_share():
    """Default ticket delivery, 32 services: 4.27 expected hours each a week, 136.7 h, 7
    people at half time (ρ = 0.488 expected). Measured over 4 runs of 12 weeks (~400
    exponential 2 h deploys, ~380 one-hour toil tickets and ~50 incidents each, ~5%
    relative standard deviation per run, ~2.5% over four), and the arithmetic leaves out
    rework (a few % more): within 10% of the expectation, so within 0.05 of the share."""
    spec = {
        "name": "ticket",
        "horizon": "13w",
        "warmup": "1w",
        "delivery": {"services": 32, "process": "ticket"},
        "organisation": {"operators": 1, "operational_share": 0.5},
    }
    scenario = load_scenario(spec)
    expected = operator_load(scenario)
    assert expected.operators == 7
    assert 0.48 < expected.utilisation <= 0.5
    runs = simulator.run_replications(scenario, 4, seed=11).table
    assert set(runs["operators"]) == {7.0}
    measured = float(np.mean(runs["operator_utilisation"]))
    assert measured == pytest.approx(expected.utilisation, rel=0.10)
    assert abs(measured - 0.5) < 0.05
