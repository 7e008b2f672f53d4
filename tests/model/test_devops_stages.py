"""The DevOps era's CI server and staging environment (config-management, issue 13 point 7):
what they catch, what they add to lead time, and what staging's nodes cost."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

import simulator
from simulator import load_scenario
from simulator.engine import EventLog, RandomStreams
from simulator.model.context import RunContext
from simulator.model.delivery import DeliveryModel
from tests.helpers import ROOT

H = 3600.0
ERAS = ROOT / "scenarios" / "eras"


def recipes(seed_defects: float = 0.2, **config_management) -> dict:
    """Config-management on five services, bad changes often, no recipe slips (so every
    failure is a bad change's), and enough operators that nobody queues."""
    return {
        "name": "recipes",
        "horizon": "4w",
        "warmup": "1w",
        "organisation": {"operators": 5},
        "delivery": {
            "services": 5,
            "process": "config-management",
            "defect_probability": seed_defects,
            "config_management": {
                "manual_error_probability": 0.0,
                "recipe_upkeep": 0.0,
                **config_management,
            },
        },
        "monitoring": {"enabled": True},
    }


def bad_change_failures(result: simulator.Result) -> tuple[int, int]:
    """Failed production deploys and incidents caused by bad changes."""
    deploys, incidents = result.tables["deploys"], result.tables["incidents"]
    failed = int((deploys["outcome"] == "failed").sum())
    caused = int((incidents["cause"] == "bad-change").sum()) if not incidents.empty else 0
    return failed, caused


def test_without_the_stages_bad_changes_reach_production():
    """The control for the tests below: the same flow without CI or staging fails."""
    failed, caused = bad_change_failures(simulator.run(recipes(), seed=1))
    assert failed > 5 and caused > 5


def test_tests_that_catch_every_bad_change_let_none_reach_production():
    result = simulator.run(recipes(ci={"enabled": True, "test_detection": 1.0}), seed=1)
    assert bad_change_failures(result) == (0, 0)
    assert result.summary["change_failure_rate"] == 0.0
    changes, stages = result.tables["changes"], result.tables["change_stages"]
    assert not changes["caused_failure"].any()
    # the tests caught bad changes, their developers fixed them, and the fixes shipped
    caught = stages[stages["stage"] == "rework"]["change"].unique()
    assert len(caught) > 5
    assert changes.loc[caught, "deployed"].notna().mean() > 0.8
    assert result.tables["deploys"]["outcome"].isin(["ok", "in-progress"]).all()


def test_tests_wait_for_a_runner_and_a_rolled_back_release_is_not_tested_again():
    """One build executor for five services: changes queue for it. Tests that catch no
    bad change (and no flaky rerun) build each change once before its release; a good
    change whose release was rolled back goes out with the next one, its verdict kept, and
    a bad one is built again after its fix."""
    spec = recipes(
        ci={"enabled": True, "runners": 1, "test_detection": 0.0, "flaky_probability": 0.0}
    )
    result = simulator.run(spec, seed=1)
    stages, changes = result.tables["change_stages"], result.tables["changes"]
    queued = stages[stages["stage"] == "ci_queue"]
    assert (queued["end"] - queued["start"]).max() > 0  # somebody waited for the executor
    builds = stages[stages["stage"] == "build_test"].groupby("change").size()
    reworked = set(stages[stages["stage"] == "rework"]["change"])
    rolled_back_good = set(
        stages[(stages["stage"] == "rework") & (stages["deploy"] >= 0)]["change"]
    ) - set(changes.index[changes["caused_failure"]])
    assert bad_change_failures(result)[0] > 5  # the tests let every bad change through
    assert rolled_back_good  # good changes that rode in a failed release
    assert (builds[list(rolled_back_good)] == 1).all()
    fixed = [c for c in reworked if changes.loc[c, "caused_failure"]]
    shipped = [c for c in fixed if not np.isnan(changes.loc[c, "deployed"])]
    assert shipped and (builds[shipped] == 2).all()  # built, fixed, built again
    assert (builds[fixed] <= 2).all()  # (some fixes are still with their developer)


def test_staging_that_notices_every_bad_release_lets_none_reach_production():
    """A release with a bad change goes no further than staging: outcome rejected, no
    finish time (so no production deploy: DORA's keys do not count it), no incident; its
    good changes go out with a later release and its bad ones after their fix."""
    spec = recipes(staging={"enabled": True, "detection": 1.0})
    result = simulator.run(spec, seed=1)
    deploys, changes = result.tables["deploys"], result.tables["changes"]
    assert bad_change_failures(result) == (0, 0)
    assert result.summary["change_failure_rate"] == 0.0
    rejected = deploys[deploys["outcome"] == "rejected"]
    assert len(rejected) > 5 and rejected["finished"].isna().all()
    assert not changes["caused_failure"].any()
    stages = result.tables["change_stages"]
    held = stages[(stages["stage"] == "preview") & stages["deploy"].isin(rejected.index)]
    riders = set(held["change"])
    assert riders and changes.loc[list(riders), "deployed"].notna().mean() > 0.8
    # half-way detection lets some through: staging's draw decides
    half = simulator.run(recipes(staging={"enabled": True, "detection": 0.5}), seed=1)
    assert bad_change_failures(half)[0] > 0
    assert (half.tables["deploys"]["outcome"] == "rejected").any()


def test_staging_soak_adds_its_time_to_lead_time():
    """Good changes only, constant efforts, nobody queues: a release cut at 09:00 is
    triggered by 09:30 and lands at 09:35 (converge run at 09:30, 5 minutes). Through
    staging it converges there at 09:35, soaks 4 h to 13:35, is promoted by 14:05 and
    lands at the 14:30 converge run, 14:35: every change is exactly 5 h later, of which
    the soak is 4 h, and nothing else moves."""
    constant = {"distribution": "constant", "mean": "30min"}
    plain = recipes(0.0, trigger_effort=constant)
    staged = recipes(
        0.0, trigger_effort=constant, staging={"enabled": True, "soak": "4h", "detection": 1.0}
    )
    base = simulator.run(plain, seed=3)
    soaked = simulator.run(staged, seed=3)
    a, b = base.tables["changes"], soaked.tables["changes"]
    np.testing.assert_array_equal(a["committed"], b["committed"])  # the same changes
    both = a["deployed"].notna() & b["deployed"].notna()
    assert both.sum() > 100
    np.testing.assert_allclose((b["deployed"] - a["deployed"])[both], 5 * H, atol=1e-6)
    stages = soaked.tables["change_stages"]
    soak = stages[stages["stage"] == "preview"]
    np.testing.assert_allclose(soak["end"] - soak["start"], 4 * H, atol=1e-6)
    assert soaked.summary["lead_time_median_s"] > base.summary["lead_time_median_s"] + 4 * H


def test_a_soak_that_reaches_the_evening_resumes_the_next_working_day():
    """The soak is working time (people test): 8 h of it from 09:35 end at 09:35 the next
    working day, the night recorded as outside hours."""
    constant = {"distribution": "constant", "mean": "30min"}
    staged = recipes(
        0.0, trigger_effort=constant, staging={"enabled": True, "soak": "8h", "detection": 1.0}
    )
    stages = simulator.run(staged, seed=3).tables["change_stages"]
    soak = stages[stages["stage"] == "preview"].groupby("change")
    began, ended = soak["start"].min(), soak["end"].max()
    np.testing.assert_allclose(began % 86400.0, 9 * H + 35 * 60)
    np.testing.assert_allclose(ended % 86400.0, 9 * H + 35 * 60)
    assert set(((ended - began) / H).round(6)) == {24.0, 72.0}  # a weekday, or a weekend
    np.testing.assert_allclose(soak.apply(lambda s: (s["end"] - s["start"]).sum()), 8 * H)
    nights = stages[(stages["stage"] == "outside_hours") & stages["change"].isin(began.index)]
    assert len(nights) >= len(began)


@pytest.mark.parametrize("nodes", [0.5, 2.0])
def test_staging_nodes_billed_all_the_measured_period(nodes: float):
    """Staging runs all the time: services × nodes_per_service node-hours for every hour
    of the measured period, at node_price (as the services' own nodes are billed), in the
    pre-production node-seconds the records carry beside the previews'."""
    spec = recipes(staging={"enabled": True, "nodes_per_service": nodes})
    scenario = load_scenario(spec)
    env = simpy.Environment()
    model = DeliveryModel(RunContext(env, scenario, 1, RandomStreams(1), EventLog()))
    env.run(until=scenario.horizon)
    records = model.records()
    hours = (scenario.horizon - scenario.warmup) / H
    assert hours == 3 * 168
    assert records.preview_node_seconds / H * records.node_price == pytest.approx(
        5 * nodes * hours * 0.096, rel=1e-12
    )
    without = DeliveryModel(
        RunContext(simpy.Environment(), load_scenario(recipes()), 1, RandomStreams(1), EventLog())
    )
    assert without.preview_node_seconds == 0.0


def test_switching_the_stages_on_leaves_the_commits_alone():
    """CI and staging draw from their own streams: the same commits, the same bad ones."""
    base = simulator.run(recipes(), seed=7).tables["changes"]
    both = simulator.run(recipes(ci={"enabled": True}, staging={"enabled": True}), seed=7).tables[
        "changes"
    ]
    np.testing.assert_array_equal(base["committed"], both["committed"])


def test_staging_holds_bad_versions_off_the_running_services_too():
    """The DevOps preset, whose served services' deploys roll new versions out on the
    running replicas (analytic fidelity): with staging that notices every bad release and
    no recipe slips, no bad version ever serves a request."""
    overrides = {
        "horizon": "3w",
        "delivery.config_management.manual_error_probability": 0.0,
        "delivery.config_management.staging": {"enabled": True, "detection": 1.0},
    }
    result = simulator.run(ERAS / "devops.yaml", seed=2, overrides=overrides)
    assert bad_change_failures(result) == (0, 0)
    assert (result.tables["deploys"]["outcome"] == "rejected").any()
    assert result.summary.get("error_rate_defect", 0.0) == 0.0
    plain = simulator.run(ERAS / "devops.yaml", seed=2, overrides={"horizon": "3w"})
    assert bad_change_failures(plain)[0] > 0 and plain.summary["error_rate_defect"] > 0


def test_the_ci_server_and_staging_are_billed_as_tooling():
    """Three always-on executors and a staging copy of two nodes per service, over the
    three measured weeks (504 h), at the m5.large price both default to."""
    result = simulator.run(
        recipes(
            ci={"enabled": True, "runners": 3}, staging={"enabled": True, "nodes_per_service": 2.0}
        ),
        seed=1,
    )
    hours = 3 * 7 * 24
    assert result.summary["cost_tooling_usd"] == pytest.approx((3 + 5 * 2) * 0.096 * hours)
    assert result.summary["cost_runners_usd"] == pytest.approx(3 * 0.096 * hours)
    assert 0 < result.summary["ci_utilisation"] < 1
