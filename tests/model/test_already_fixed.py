"""A bad canary that customers report before the pipeline's analysis ends: the analysis then
takes it back by itself, and the responder working on the customers' incident learns it from
the pipeline's notice, checks, and closes the incident (`ALREADY_FIXED_CHECK`), with nothing
to roll back and no postmortem (as for the canaries the pipeline catches alone). Before, the
responder diagnosed on for the whole drawn diagnosis (3 h here), then rolled back whatever
bad version served by then (another change's canary, whose incident went unrecorded) or
nothing, and a 5 h follow-up came on top. Also: the alert-driven rollback leaves nothing for
customers to report, and a deploy the pipeline starts while a rollback runs is built without
the reverted bug. Both fidelities share the delivery code."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.model.delivery.decisions import ALREADY_FIXED_CHECK, already_fixed_at
from simulator.scenario.loader import load_scenario

SCENARIO = """
name: bad-canary-customers-first
description: customers report a bad canary that the pipeline's analysis then takes back
seed: 3
horizon: 2d
warmup: 1h
services:
  api:
    replicas: 5
    concurrency: 2
    service_time: {distribution: exponential, mean: 50ms}
traffic:
  api: {rate: 2/s, timeout: 2s}
slo: {latency: 500ms, target: 0.999}
organisation: {operators: 2, on_call: true, day_start: 0s, day_end: 8h}
delivery:
  services: 1
  process: automated
  change_rate: 4
  defect_probability: 1.0          # every change is bad (until its developer fixed it)
  on_runtime: {error_ratio: {distribution: constant, mean: 0.5}}
  automated:
    strategy: canary
    canary_share: 0.2
    canary_duration: 1h            # the analysis fails it surely, but only after an hour
    test_detection: 0.0
    auto_rollback: true
incidents:
  diagnosis_effort: {distribution: constant, mean: 3h}
  follow_up_effort: 5h
monitoring:
  enabled: false                   # customers find it, 5 minutes in
  customer_report_delay: {distribution: constant, mean: 5min}
"""

DIAGNOSIS = 3 * 3600.0


def _run(directory: Path, fidelity: str, **more: object) -> simulator.Result:
    path = directory / "already-fixed.yaml"
    path.write_text(SCENARIO)
    overrides = {"fidelity": fidelity, **more}
    return simulator.run(load_scenario(path, overrides=overrides), seed=3)


@pytest.fixture(scope="module", params=["request", "analytic"])
def result(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    return _run(tmp_path_factory.mktemp("fixed"), request.param)


def _failed_canaries(result: simulator.Result) -> pd.Series:
    """When each canary the analysis failed went back (its deploy's `rolled_back` step)."""
    rollouts = result.tables["rollouts"]
    return rollouts.loc[rollouts["step"] == "rolled_back", "time"].reset_index(drop=True)


def test_the_responder_closes_the_incident_once_the_pipeline_took_the_canary_back(result):
    incidents = result.tables["incident_timeline"]
    gone = _failed_canaries(result)
    assert len(incidents) >= 3 and set(incidents["source"]) == {"customer"}
    for _, incident in incidents.iterrows():
        # the canary it was opened for went back by itself, after the report ...
        went = gone[gone > incident["started"]].iloc[0]
        assert incident["detected"] < went
        # ... and the responder closed it a check later, not a 3 h diagnosis later
        assert incident["resolved"] == pytest.approx(went + ALREADY_FIXED_CHECK)
        assert incident["resolved"] < incident["acknowledged"] + DIAGNOSIS
        took = (incident["resolved"] - incident["acknowledged"]) / 3600
        assert incident["operator_hours"] == pytest.approx(took)


def test_nothing_is_rolled_back_and_no_postmortem_follows(result):
    rollouts = result.tables["rollouts"]
    assert not (rollouts["kind"] == "rollback").any()  # every canary went back by itself
    assert not (rollouts["step"] == "interrupted").any()
    work = result.tables["operator_work"]
    incidents = result.tables["incident_timeline"]
    assert len(work) == len(incidents)  # one piece of work each: the check, no follow-up
    assert work["hours"].sum() == pytest.approx(incidents["operator_hours"].sum())


def test_every_bad_canary_has_its_own_incident(result):
    """Each deploy whose canary failed is the deploy of one incident (before, a responder's
    late rollback took another change's bad canary back under the first one's incident)."""
    deploys = result.tables["deploys"]
    failed = set(deploys.index[deploys["outcome"] == "rolled-back"])
    incidents = result.tables["incident_timeline"]
    assert failed == set(incidents["deploy"])


def test_an_alert_gets_there_first_and_customers_never_report_a_version_gone(tmp_path):
    """The alert-driven path: a burn-rate rule fires on the canary (10% of requests fail,
    a 100x burn) within minutes, the pipeline rolls back at once (the canary's rollout ends
    `interrupted`, the rollback `done`), and the customers who would have complained 15
    minutes in find nothing serving: no customer incident at either fidelity."""
    for fidelity in ("request", "analytic"):
        result = _run(
            tmp_path,
            fidelity,
            **{
                "monitoring.enabled": True,
                "monitoring.alerting": "burn-rate",
                "monitoring.customer_report_delay": {"distribution": "constant", "mean": 900},
            },
        )
        incidents = result.tables["incident_timeline"]
        assert len(incidents) >= 3
        assert set(incidents["source"]) == {"canary"}, fidelity  # found in the canary
        assert (incidents["responder"] == "pipeline").all()
        rollouts = result.tables["rollouts"]
        rollbacks = rollouts[(rollouts["kind"] == "rollback") & (rollouts["step"] == "done")]
        assert len(rollbacks) == len(incidents)
        assert (incidents["detected"] - incidents["started"]).max() < 900


@given(
    begun=st.floats(0, 1e6),
    work=st.floats(0, 1e5),
    gone=st.floats(0, 2e6),
    check=st.floats(0, 3600),
)
def test_the_check_never_outlasts_the_diagnosis(begun, work, gone, check):
    end = already_fixed_at(begun, work, gone, check)
    assert begun <= end <= begun + work
    if gone <= begun:  # gone before they began: a check (or the diagnosis, if shorter)
        assert end == min(begun + work, begun + check)
    assert already_fixed_at(begun, work, math.inf, check) == begun + work


@pytest.mark.parametrize("fidelity", ["request", "analytic"])
def test_a_deploy_right_after_a_rollback_is_built_without_the_reverted_bug(tmp_path, fidelity):
    """An alert's rollback cuts a canary of several changes short; its good changes go out
    again at once, while the rollback still runs. That deploy is built without the reverted
    bad change: it carries no defect (before, it joined the bad version being rolled back,
    a good version took its defect, and at the analytic fidelity every later deploy carried
    it again: an alert, a rollback and a redeploy every few minutes, 366 pages in two days,
    each for a bad version no deploy of this organisation had made, deploy -1)."""
    result = _run(
        tmp_path,
        fidelity,
        **{
            "monitoring.enabled": True,
            "monitoring.alerting": "burn-rate",
            "delivery.defect_probability": 0.5,
            "delivery.change_rate": 24,  # canaries of several changes each
        },
    )
    incidents = result.tables["incident_timeline"]
    deploys = result.tables["deploys"]
    assert (incidents["deploy"] >= 0).all()  # every bad version is one of its deploys'
    assert len(incidents) <= (deploys["outcome"] == "rolled-back").sum()
    assert (deploys["outcome"] == "ok").sum() >= 6  # the pipeline delivers (before: 4)
