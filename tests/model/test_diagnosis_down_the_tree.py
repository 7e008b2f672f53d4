"""An error alert on an entry point whose errors come from a bad version further down its
call tree: the responder's diagnosis follows the tree to the service that serves it, so the
incident is that change's and the remedy rolls it back. (Before, the diagnosis looked at the
entry service only: it found nothing to roll back, repaired nothing, and the alert fired
again and again for as long as the bad version served.)"""

from __future__ import annotations

import math

import pytest

import simulator
from simulator.scenario.loader import load_scenario

SCENARIO = """
name: bad-version-behind
description: a bad version of the api behind the web entry point
seed: 5
horizon: 12h
warmup: 1h
services:
  web:
    replicas: 3
    concurrency: 4
    handler:
      - work: {distribution: exponential, mean: 10ms}
      - call: api
  api:
    replicas: 3
    concurrency: 4
    service_time: {distribution: exponential, mean: 50ms}
    deploys:
      - {at: 3h, version: 1, strategy: rolling, defect: {error_ratio: 0.2}}
traffic:
  web: {rate: 2/s, timeout: 2s}
slo: {latency: 500ms, target: 0.999}
organisation: {operators: 1, day_start: 0s, day_end: 8h}
delivery:
  services: 2
  process: ticket
  change_rate: 0.01          # next to no changes of their own: the scripted one is the story
  defect_probability: 0.0
  ticket: {release_interval: 1d, cab: {enabled: false}}
monitoring: {enabled: true, alerting: burn-rate, slo: 0.999}
"""
API = 1  # the delivery model's index of the api (services in the scenario's order)


@pytest.fixture(scope="module", params=["request", "analytic"])
def result(request, tmp_path_factory) -> simulator.Result:
    path = tmp_path_factory.mktemp("tree") / "bad-version-behind.yaml"
    path.write_text(SCENARIO)
    return simulator.run(load_scenario(path, overrides={"fidelity": request.param}), seed=5)


def test_the_alert_on_the_entry_point_opens_the_bad_versions_incident(result):
    incidents = result.tables["incidents"]
    assert len(incidents) == 1
    incident = incidents.iloc[0]
    assert (incident["service"], incident["cause"]) == (API, "bad-change")
    assert incident["start"] == 3 * 3600.0  # when the bad version began to serve
    timeline = result.tables["incident_timeline"].iloc[0]
    assert timeline["source"] != "customer"  # the alert found it
    assert not math.isnan(incident["resolved"])


def test_the_remedy_rolls_the_bad_version_back_by_hand(result):
    resolved = float(result.tables["incidents"]["resolved"].iloc[0])
    rollouts = result.tables["rollouts"]
    done = rollouts[(rollouts["step"] == "done") & (rollouts["service"] == "api")]
    assert done["kind"].tolist() == ["deploy", "rollback"]
    rollback = done.iloc[-1]
    assert (rollback["to_version"], rollback["strategy"]) == (0, "manual")  # the ticket era
    assert rollback["time"] == resolved  # resolved when the last server serves version 0
    requests = result.tables["requests"]  # request level: no defect after the rollback
    assert not (requests.loc[requests["status"] == "defect", "end"] > resolved).any()
