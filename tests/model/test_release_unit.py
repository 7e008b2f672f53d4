"""A monolith's releases: every service's changes in one release, deployed as one
(`delivery.release_unit: application`), and a version with several bad changes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.model.delivery.decisions import combined_error_ratio
from simulator.scenario.loader import load_scenario
from tests.helpers import SCENARIOS

BY_HAND = SCENARIOS / "one-world" / "deploys-by-hand.yaml"
FIFTY_MS = {"distribution": "constant", "mean": "50ms"}
MONOLITH = {
    "services": {
        "api": {"handler": [{"work": FIFTY_MS}, {"call": "cart"}]},
        "cart": {"replicas": 3, "concurrency": 4, "service_time": FIFTY_MS},
    },
    "deployment": "monolith",
    "delivery.services": 2,
    "horizon": "5d",
    "delivery.defect_probability": 0.2,
}


def _run(unit: str, seed: int = 4) -> simulator.Result:
    overrides = {**MONOLITH, "delivery.release_unit": unit}
    return simulator.run(load_scenario(BY_HAND, overrides=overrides), seed=seed)


@pytest.fixture(scope="module")
def whole() -> simulator.Result:
    return _run("application")


def test_a_release_of_the_application_carries_every_services_changes(whole):
    deploys = whole.tables["deploys"]
    assert (deploys["service"] == 0).all()
    changes = whole.tables["changes"].dropna(subset=["deployed"])
    # changes of both services went out, and some release took both at once
    assert set(changes["service"]) == {0, 1}
    by_release = changes.groupby("deployed")["service"].nunique()
    assert (by_release == 2).any()


def test_released_by_service_each_service_deploys_on_its_own():
    deploys = _run("service").tables["deploys"]
    assert set(deploys["service"]) == {0, 1}


def test_a_rolled_back_release_goes_out_again_without_waiting_a_day(whole):
    deploys = whole.tables["deploys"].sort_values("requested")
    failed = deploys[deploys["outcome"] == "failed"]
    assert not failed.empty, "the seed must give a bad release"
    for _, bad in failed.iterrows():
        after = deploys["requested"] > bad["requested"]
        later = deploys[after & (deploys["outcome"] != "rollback")]
        if later.empty:
            continue
        # the next release is cut when the rollback is done, not at the next daily cut
        gap = later["requested"].iloc[0] - bad["finished"]
        assert gap < 12 * 3600.0


def test_an_incident_of_the_whole_application_counts_against_every_service(whole):
    incidents = whole.tables["incidents"]
    start, end = whole.scenario.warmup, whole.scenario.horizon
    lasted = np.clip(
        np.minimum(incidents["resolved"].fillna(end), end) - np.maximum(incidents["start"], start),
        0,
        None,
    )
    down = float((lasted * incidents["impact"]).sum()) * 2  # both services down
    assert down > 0
    assert whole.summary["uptime"] == pytest.approx(1 - down / (2 * (end - start)))


def test_faults_break_their_own_shares():
    assert combined_error_ratio([0.5, 0.5]) == pytest.approx(0.75)
    assert combined_error_ratio([1.0, 0.1]) == 1.0
    assert combined_error_ratio([0.2]) == 0.2
    assert combined_error_ratio([]) == 0.0


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6))
def test_more_faults_never_fail_fewer_requests(ratios):
    combined = combined_error_ratio(ratios)
    assert max(ratios) - 1e-12 <= combined <= 1.0
    assert combined_error_ratio([*ratios, 0.3]) >= combined - 1e-12
