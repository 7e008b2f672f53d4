"""Staffing for the running services too: `capacity.runtime_incidents` expects the incidents
the runtime and its infrastructure bring to people (node failures a person replaces, bad
canaries a customer reports before the pipeline stops them, the delivery model's drawn
infrastructure failures), and `operational_share` staffs for them with the releases' work
(issue 13, point 6)."""

from __future__ import annotations

import math

import pytest

import simulator
from simulator import load_scenario
from simulator.experiments.eras import ERAS_DIR
from simulator.experiments.fleet import fleet_scenario
from simulator.experiments.growth import DELIVERY_ONLY
from simulator.model.delivery.capacity import (
    customer_first_share,
    operator_load,
    runtime_incidents,
)
from simulator.scenario.files import SHIPPED
from simulator.scenario.units import HOUR, WEEK

NODE_FAILURE = SHIPPED / "one-world" / "node-failure.yaml"


def test_node_failures_a_person_replaces_worked_by_hand():
    """Three VMs failing once a day each, one rack of 40 (548 days), one power domain of
    750 (876 days): 21.02 failures a week, each a page, a 1 h diagnosis and no follow-up."""
    scenario = load_scenario(NODE_FAILURE)
    expected = 3 * 7 + 7 / 548 + 7 / 876
    runtime = runtime_incidents(scenario)
    assert runtime.nodes == pytest.approx(expected)
    assert runtime.node_hours == pytest.approx(1.0)
    assert runtime.infrastructure == 0.0  # its one service's nodes fail in the runtime
    assert operator_load(scenario).runtime_hours == pytest.approx(expected)


def test_nobody_is_paged_when_the_autoscaler_replaces_the_node():
    scenario = load_scenario(NODE_FAILURE, {"autoscaling.enabled": True})
    assert runtime_incidents(scenario).nodes == 0.0


def test_without_the_runtime_the_delivery_model_draws_the_failures():
    """No request workload: the delivery model draws its service's failures at the node
    MTBF over its 3 nodes, each a diagnosis (1 h) and a repair (`repair_effort`)."""
    scenario = load_scenario(NODE_FAILURE, DELIVERY_ONLY)
    runtime = runtime_incidents(scenario)
    assert runtime.nodes == 0.0
    assert runtime.infrastructure == pytest.approx(3 * 7)
    repair = scenario.incidents.repair_effort.mean_s
    assert runtime.infrastructure_hours == pytest.approx(1.0 + repair / HOUR)


def test_the_measured_node_failure_hours_match_the_expectation():
    """The shipped node failure at the analytic fidelity over three measured weeks (~60
    failures): the incident hours people logged are within 20% of the expected (measured
    20.1 and 21.7 h a week at seeds 1 and 2 for 21.0: some failures join an incident
    already open)."""
    scenario = load_scenario(NODE_FAILURE, {"fidelity": "analytic", "horizon": "4w"})
    result = simulator.run(scenario, seed=1)
    work = result.tables["operator_work"]
    hours = work[(work["kind"] == "incident") & (work["start"] >= scenario.warmup)]["hours"]
    weekly = hours.sum() / (scenario.measured_period / WEEK)
    assert weekly == pytest.approx(runtime_incidents(scenario).hours, rel=0.2)


def test_customers_first_on_a_bad_canary_worked_by_hand():
    """The SRE preset: a canary of 5% for 30 min, the Workbook's burn-rate rules at 99.9%,
    customers' reports after an exponential hour, error ratios 1, 0.5, 0.2, 0.1, 0.05. Only
    the full outage's slice (5% > 14.4 × 0.1%) fires the fast rule before the analysis ends:
    at 1,036.8 s, seen at the next minute's scrape and evaluation (1,080 s at mid-phase);
    the other four end with the analysis at 1,800 s."""
    scenario = load_scenario(ERAS_DIR / "sre.yaml", {"delivery.services": 10})
    share = (1 - math.exp(-1080 / 3600) + 4 * (1 - math.exp(-0.5))) / 5
    assert customer_first_share(scenario) == pytest.approx(share)
    # 10 served services x 10 changes a week x 5% bad x half past the tests
    runtime = runtime_incidents(scenario)
    assert runtime.canary_reports == pytest.approx(10 * 10 * 0.05 * 0.5 * share)

    # The diagnosis (1 h) stops once the pipeline has taken the canary back and the check
    # (5 min) is done; no follow-up. An exponential report R before the end e leaves the
    # canary e − E[R | R < e] to serve: 567 s at e = 1,080 s, 975 s at e = 1,800 s.
    def left(end: float) -> float:
        tail = math.exp(-end / 3600)
        return end - (3600 - end * tail / (1 - tail))

    weights = [1 - math.exp(-1080 / 3600)] + [1 - math.exp(-1800 / 3600)] * 4
    hours = [min(3600, left(1080) + 300)] + [min(3600, left(1800) + 300)] * 4
    each = sum(w * h for w, h in zip(weights, hours, strict=True)) / sum(weights) / 3600
    assert runtime.canary_report_hours == pytest.approx(each)
    assert each == pytest.approx(0.338, abs=1e-3)


def test_only_served_services_have_canaries_customers_see():
    """The SRE preset at its own size serves 10 of its 100 services; delivery only, none."""
    own = runtime_incidents(load_scenario(ERAS_DIR / "sre.yaml"))
    ten = runtime_incidents(load_scenario(ERAS_DIR / "sre.yaml", {"delivery.services": 10}))
    assert own.canary_reports == pytest.approx(ten.canary_reports)
    alone = load_scenario(ERAS_DIR / "sre.yaml", DELIVERY_ONLY)
    assert runtime_incidents(alone).hours == 0.0


def test_the_sre_teams_expected_incidents_grow_with_a_served_fleet():
    """A thousand served SRE services: 91.7 customers' reports of bad canaries a week at
    0.34 h each (31 h), with 50 h of toil, fit the rotation's 8 people at 50% (160 h)."""
    teams = {n: operator_load(fleet_scenario(ERAS_DIR / "sre.yaml", n)) for n in (10, 100, 1000)}
    assert [teams[n].operators for n in (10, 100, 1000)] == [8, 8, 8]
    assert teams[1000].total_hours < 8 * 0.5 * 40
    assert teams[1000].runtime_hours == pytest.approx(100 * teams[10].runtime_hours)
