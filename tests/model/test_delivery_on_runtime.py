"""The delivery model's deploys on the running services (request level): releases replace
replicas as their process does, a bad change fails the requests its version serves, and the
incident is opened by what requests saw (an alert, or customers), then ended by a rollback."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.errors import ScenarioError
from simulator.model.delivery.runtime import rollout_settings
from simulator.scenario.delivery import Delivery
from simulator.scenario.loader import load_scenario
from tests.helpers import SCENARIOS

BY_HAND = SCENARIOS / "one-world" / "deploys-by-hand.yaml"
BY_PIPELINE = SCENARIOS / "one-world" / "deploys-by-pipeline.yaml"


def _run(path, seed: int = 3, **overrides: object) -> simulator.Result:
    return simulator.run(load_scenario(path, overrides=overrides or None), seed=seed)


@pytest.fixture(scope="module")
def by_hand() -> simulator.Result:
    return _run(BY_HAND)


@pytest.fixture(scope="module")
def by_pipeline() -> simulator.Result:
    return _run(BY_PIPELINE)


def _defect_failures(result: simulator.Result) -> pd.Series:
    requests = result.tables["requests"]
    return requests.loc[requests["status"] == "defect", "end"]


def test_each_process_makes_its_own_rollout():
    ticket = Delivery(process="ticket")
    settings = rollout_settings(ticket, 1800.0)
    assert (settings.strategy, settings.manual.duration) == ("manual", 1800.0)
    assert settings.manual.outage == "degraded"
    assert rollout_settings(Delivery(process="config-management"), 0.0).strategy == "rolling"
    auto = Delivery(process="automated", automated={"strategy": "canary", "canary_share": 0.2})
    canary = rollout_settings(auto, 0.0)
    assert (canary.strategy, canary.canary.share) == ("canary", 0.2)
    assert canary.canary.analysis == auto.automated.canary_duration


def test_a_deploy_by_hand_takes_the_servers_down_in_turn(by_hand):
    rollouts = by_hand.tables["rollouts"]
    deploys = by_hand.tables["deploys"]
    first = rollouts[rollouts["rollout"] == 0]
    # Three servers, one at a time: never fewer than two serving, all three back at the end.
    serving = first["old_serving"] + first["new_serving"]
    assert list(first["step"]).count("down") == 3
    assert serving.min() == 2 and serving.iloc[-1] == 3
    # The rollout is the operator's deploy work: it ends when the deploy does.
    assert first["time"].iloc[-1] == pytest.approx(deploys["finished"].iloc[0])


def test_a_bad_release_fails_requests_until_it_is_rolled_back(by_hand):
    incidents = by_hand.tables["incident_timeline"]
    assert len(incidents) >= 1
    failed = _defect_failures(by_hand)
    assert len(failed) > 0
    # Every request failed by a bad version ended while one of its incidents was open.
    windows = incidents[["started", "resolved"]].to_numpy()
    inside = np.zeros(len(failed), dtype=bool)
    for start, end in windows:
        inside |= (failed.to_numpy() >= start) & (failed.to_numpy() <= end)
    assert inside.all()
    # Customers found it (no monitoring), a human rolled back by hand, through a deploy row.
    first = incidents.iloc[0]
    assert first["source"] == "customer" and first["responder"] in ("operators", "on-call")
    deploys = by_hand.tables["deploys"]
    rollbacks = deploys[deploys["outcome"] == "rollback"]
    assert len(rollbacks) == len(incidents)
    assert (rollbacks["finished"].to_numpy() == incidents["resolved"].to_numpy()).all()
    # The responder's hours are the diagnosis and the rollback by hand.
    took = (first["resolved"] - first["acknowledged"]) / 3600
    assert first["operator_hours"] == pytest.approx(took)


def test_the_pipeline_rolls_a_bad_version_back_without_a_human(by_pipeline):
    incidents = by_pipeline.tables["incident_timeline"]
    assert len(incidents) >= 1
    for _, incident in incidents.iterrows():
        assert incident["responder"] == "pipeline"
        assert incident["operator_hours"] == 0
        alerted = incident["source"] == "page" or str(incident["rule"]).startswith("burn-rate")
        if alerted:  # an alert fired (in the canary or after it), the pipeline acted at once
            assert incident["rule"].startswith("burn-rate")
            assert incident["source"] in ("page", "canary")
            assert incident["resolved"] >= incident["detected"]
    rollouts = by_pipeline.tables["rollouts"]
    assert (rollouts["kind"] == "rollback").any() or (rollouts["step"] == "failed").any()
    assert by_pipeline.summary["error_rate_defect"] > 0


def test_every_bad_release_is_found_or_still_serving_at_the_horizon(by_hand, by_pipeline):
    """Conservation: a deploy that shipped a bad change is an incident's, or went out while
    an earlier bad version was serving (that incident's rollback takes it back too), or is
    still serving when the run ends; and every incident is resolved or open at the end."""
    for result in (by_hand, by_pipeline):
        deploys = result.tables["deploys"]
        incidents = result.tables["incident_timeline"]
        found = set(incidents["deploy"])
        last_resolved = incidents["resolved"].max() if len(incidents) else -math.inf
        for number, deploy in deploys[
            deploys["outcome"].isin(["failed", "rolled-back"])
        ].iterrows():
            during = (
                (incidents["started"] <= deploy["started"])
                & (deploy["started"] <= incidents["resolved"])
            ).any()
            assert number in found or during or deploy["started"] > last_resolved, number
        assert (
            incidents["resolved"].isna() | (incidents["resolved"] >= incidents["started"])
        ).all()


def test_switched_off_the_deploys_do_not_touch_the_replicas():
    result = _run(BY_HAND, **{"delivery.on_runtime.enabled": False})
    assert len(result.tables["rollouts"]) == 0
    assert result.summary["error_rate_defect"] == 0
    assert len(result.tables["deploys"]) > 0


def test_a_tiny_defect_is_found_by_customers_when_no_alert_fires():
    """A bad version failing 0.1% of requests burns the 99.9% budget at 1x: no fast
    burn-rate rule fires within the run, so customers report it."""
    result = _run(
        BY_PIPELINE,
        **{
            "delivery.on_runtime.error_ratio": {"distribution": "constant", "mean": 0.001},
            "delivery.automated.test_detection": 0.0,
            "delivery.defect_probability": 1.0,
            "delivery.automated.strategy": "rolling",
        },
    )
    incidents = result.tables["incident_timeline"]
    assert len(incidents) > 0
    assert set(incidents["source"]) <= {"customer", "page"}
    assert (incidents["source"] == "customer").any()
    human = incidents[incidents["source"] == "customer"]
    assert (human["responder"] != "pipeline").all()  # the pipeline acts on alerts only


def test_an_error_ratio_above_one_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"extends: {BY_HAND}\n"
        "delivery:\n  on_runtime:\n    error_ratio: {distribution: exponential, mean: 0.2}\n"
    )
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    message = str(error.value)
    assert "on_runtime" in message and "\n" not in message
    assert "between 0 and 1" in message


def test_same_seed_same_numbers(by_pipeline):
    again = _run(BY_PIPELINE)
    for key, value in by_pipeline.summary.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(again.summary[key])
        else:
            assert again.summary[key] == value, key


def test_the_people_kpis_add_up(by_hand, by_pipeline):
    """Pages, nights woken, incident hours and project time, from the same records."""
    for result in (by_hand, by_pipeline):
        s = result.summary
        weeks = (result.scenario.horizon - result.scenario.warmup) / (7 * 86400)
        incidents = result.tables["incidents"]
        measured = incidents[incidents["start"] >= result.scenario.warmup]
        assert s["pages_per_week"] * weeks == pytest.approx(measured["paged"].sum())
        assert 0 <= s["night_pages_per_week"] <= s["pages_per_week"]
        assert 0 <= s["on_call_hours_per_week"] <= s["incident_hours_per_week"] + 1e-12
        assert s["project_share"] == pytest.approx(1 - s["operator_utilisation"])
    # The pipeline rolled back by itself: nobody worked on its alerts' incidents.
    pipeline = by_pipeline.tables["incident_timeline"]
    by_machine = pipeline[pipeline["responder"] == "pipeline"]
    assert (by_machine["operator_hours"] == 0).all()


def test_the_error_budget_an_incident_spent_is_what_its_requests_saw(by_hand, by_pipeline):
    """An incident's budget (seconds of the service fully down: its measured failed share ×
    how long it lasted) times the request rate is the requests its bad version failed. The
    share is measured on the visits in the incident's window, so the two differ only by the
    Poisson noise of the arrivals in it: within 4 standard deviations (1/sqrt(λ·duration))."""
    checked = 0
    for result in (by_hand, by_pipeline):
        rate = 2.0  # both scenarios send 2 requests per second to their one service
        requests = result.tables["requests"]
        for _, incident in result.tables["incident_timeline"].iterrows():
            start, end = incident["started"], incident["resolved"]
            if np.isnan(end) or end - start < 60:
                continue
            failed = int(
                ((requests["status"] == "defect") & requests["end"].between(start, end)).sum()
            )
            expected = incident["budget_s"] * rate
            sigma = max(failed, 1) / math.sqrt(rate * (end - start))
            assert abs(expected - failed) <= 4 * sigma + 1, (expected, failed)
            checked += 1
    assert checked >= 2
