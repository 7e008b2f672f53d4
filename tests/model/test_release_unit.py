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


def _run(unit: str, seed: int = 4, rerelease: str = "at-once") -> simulator.Result:
    overrides = {**MONOLITH, "delivery.release_unit": unit, "delivery.rerelease": rerelease}
    return simulator.run(load_scenario(BY_HAND, overrides=overrides), seed=seed)


@pytest.fixture(scope="module")
def whole() -> simulator.Result:
    return _run("application")


def _next_release_after_each_failure(result: simulator.Result) -> list[float]:
    """For each failed release, the time from its rollback to the next release cut."""
    deploys = result.tables["deploys"].sort_values("requested")
    failed = deploys[deploys["outcome"] == "failed"]
    assert not failed.empty, "the seed must give a bad release"
    gaps = []
    for _, bad in failed.iterrows():
        after = deploys["requested"] > bad["requested"]
        later = deploys[after & (deploys["outcome"] != "rollback")]
        if not later.empty:
            gaps.append(later["requested"].iloc[0] - bad["finished"])
    assert gaps
    return gaps


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


def test_with_rerelease_at_once_a_rolled_back_release_goes_out_again_at_once(whole):
    # the next release is cut when the rollback is done, not at the next daily cut
    assert max(_next_release_after_each_failure(whole)) < 12 * 3600.0


def _off_the_release_ticks(result: simulator.Result) -> int:
    """Releases cut at another time than a daily cut (the scenario's day starts at 00:00)."""
    deploys = result.tables["deploys"]
    cuts = deploys[deploys["outcome"] != "rollback"]["requested"].to_numpy()
    return int((~np.isclose(cuts % 86400.0, 0.0)).sum())


def test_by_default_a_rolled_back_release_waits_for_the_next_release(whole):
    """`rerelease: next-release` (the default): the good changes of a rolled-back release
    wait for the next daily cut, like any change that missed one; at once, they do not."""
    result = _run("application", rerelease="next-release")
    assert _next_release_after_each_failure(result)  # a bad release, and a release after
    assert _off_the_release_ticks(result) == 0
    assert _off_the_release_ticks(whole) > 0


def _newer_changes_in_rereleases(result: simulator.Result) -> int:
    """Changes committed after a failed release's cut that went out with the first
    successful release after it."""
    deploys = result.tables["deploys"].sort_values("requested")
    changes = result.tables["changes"]
    releases = deploys[deploys["outcome"] != "rollback"]
    newer = pairs = 0
    for _, bad in releases[releases["outcome"] == "failed"].iterrows():
        later = releases[(releases["requested"] > bad["requested"]) & (releases["outcome"] == "ok")]
        if later.empty:
            continue
        pairs += 1
        shipped = changes[np.isclose(changes["deployed"], later["finished"].iloc[0])]
        newer += int((shipped["committed"] > bad["requested"]).sum())
    assert pairs, "the seed must give a failed release followed by a good one"
    return newer


def test_next_window_sends_the_rolled_back_release_out_alone(whole):
    """`rerelease: next-window`: the release after a failed one carries its good changes
    (and fixes) only, nothing committed since (a release branch); at once, it does."""
    result = _run("application", rerelease="next-window")
    assert _next_release_after_each_failure(result)
    assert _newer_changes_in_rereleases(result) == 0
    assert _newer_changes_in_rereleases(whole) > 0


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
