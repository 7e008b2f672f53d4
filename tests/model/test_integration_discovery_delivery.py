"""Static discovery and secrets coupled to the delivery model: address changes and credential
fixes are the organisation's work, and discovery and secrets failures are its incidents."""

from __future__ import annotations

import numpy as np
import pytest

import simulator
from tests.helpers import SCENARIOS

SECRETS = SCENARIOS / "secrets"

TWO_SERVICES = {
    "name": "two",
    "seed": 3,
    "horizon": "12h",
    "warmup": "0s",
    "services": {
        "front": {"replicas": 2, "handler": [{"work": "2ms"}, {"call": "back"}]},
        "back": {"replicas": 3},
    },
    "traffic": {"front": {"rate": "1/s"}},
    # Operators at work round the clock, so nobody waits for the morning.
    "organisation": {"operators": 1, "day_start": "0s", "day_end": "24h", "working_days": 7},
}


def _run(process: str, event: dict, **more) -> simulator.Result:  # type: ignore[no-untyped-def]
    scenario = {
        **TWO_SERVICES,
        "discovery": {"kind": "static", "events": [event]},
        "delivery": {
            "services": 2,
            "process": process,
            "change_rate": 48,
            "ticket": {
                "release_interval": "0s",
                "cab": {"enabled": False},
                "manual_deploy_effort": "30min",
            },
        },
        **more,
    }
    return simulator.run(scenario)


SCALE_IN = {"at": "3h", "kind": "scale-in", "service": "back"}


def test_static_address_changes_wait_for_an_overloaded_operator():
    # 2 services × 20 changes a working day, a release each, 2 h of manual deploy each: 80 h
    # of work a day for one operator with 8 h. The scale-in's ticket (front's configuration)
    # queues behind every release filed before it, each at least minutes of work, so it
    # takes hours. The pipeline needs a cached build (1 min), the tests (10 min) and a
    # rollout (10 min), means of the defaults, with four runners for 40 changes a day.
    ticket = _run("ticket", SCALE_IN)
    automated = _run("automated", SCALE_IN)
    slow = ticket.summary["discovery_convergence_s"]
    fast = automated.summary["discovery_convergence_s"]
    assert fast < 3600 < 2 * 3600 < slow
    # The operator's hand work shows in the delivery model's time accounting, as toil.
    work = ticket.tables["operator_work"]
    hours = ticket.summary["operator_hours_address_changes"]
    assert hours > 0
    toil = work.loc[work["kind"] == "toil", "hours"]
    assert any(h == pytest.approx(hours) for h in toil)
    assert automated.summary["operator_hours_address_changes"] == 0
    # Each configuration change is a deploy of the process (outcome "config", no changes).
    for result in (ticket, automated):
        config = result.tables["deploys"].query("outcome == 'config'")
        assert len(config) == 1 and (config["changes"] == 0).all()
    # Stale routing lasts until the change runs, so the ticket-driven run has more of it.
    assert ticket.summary["stale_routing_errors"] > automated.summary["stale_routing_errors"]


def test_a_failed_node_under_static_discovery_is_an_incident():
    failure = {"at": "1h", "kind": "node-failure", "service": "back"}
    result = _run("ticket", failure, monitoring={"enabled": True})
    incidents = result.tables["incidents"].query("cause == 'discovery'")
    assert len(incidents) == 1
    incident = incidents.iloc[0]
    assert incident["start"] == 3600
    # Monitoring: a scrape, an evaluation (each within 1 min) and the alert's 5 min.
    assert 300 <= incident["detected"] - incident["start"] <= 420
    assert incident["resolved"] > incident["detected"]
    # The one dependent (front) learns when the remedy's deploy runs: the incident's end.
    change = result.tables["discovery_changes"].query("kind == 'node-failure'").iloc[0]
    assert change["convergence_s"] == pytest.approx(incident["resolved"] - incident["start"])
    # No stale visit after the fix.
    spans = result.tables["spans"]
    stale = spans[spans["status"] == "stale_endpoint"]
    assert len(stale) > 0
    assert stale["arrival"].max() < incident["resolved"]


def test_a_change_not_deployed_by_the_horizon_has_not_converged():
    late = {"at": "710min", "kind": "scale-in", "service": "back"}
    result = _run("ticket", late)
    row = result.tables["discovery_changes"].iloc[-1]
    assert np.isinf(row["convergence_s"])


def _with_delivery(path, *overrides: str) -> simulator.Result:  # type: ignore[no-untyped-def]
    return simulator.run(
        path,
        overrides=[
            "organisation.day_start=0s",
            "organisation.day_end=8h",
            "delivery.services=4",
            "delivery.change_rate=0",
            "delivery.ticket.manual_deploy_effort=20min",
            "monitoring.enabled=true",
            *overrides,
        ],
    )


def test_an_expired_lease_is_an_incident_whose_resolution_ends_the_outage():
    result = _with_delivery(SECRETS / "failed-renewal.yaml", "horizon=5h")
    incident = result.tables["incidents"].query("cause == 'secrets'").iloc[0]
    assert incident["service"] == 3  # payments, fourth in the scenario's order
    assert incident["start"] == 6000  # renewed at 40 min, TTL 1 h: expires at 100 min
    assert incident["resolved"] > incident["detected"] > incident["start"]
    spans = result.tables["spans"]
    refused = spans[spans["status"] == "unauthorized"]
    assert refused["arrival"].min() >= incident["start"]
    assert refused["arrival"].max() < incident["resolved"]
    audit = result.tables["secret_audit"]
    fixed = audit[(audit["action"] == "issue") & (audit["credential"] == "payments/lease-2")]
    assert fixed["time"].tolist() == [incident["resolved"]]


def test_a_static_leak_is_fixed_by_a_deploy_per_service():
    result = _with_delivery(SECRETS / "leak.yaml", "horizon=6h")
    leak = result.tables["secret_leaks"].iloc[0]
    incident = result.tables["incidents"].query("cause == 'secrets'").iloc[0]
    config = result.tables["deploys"].query("outcome == 'config'")
    # Every service's configuration changes, each one a ticket; the incident ends with the
    # last of them, and the credential was exposed until the responder revoked it.
    assert sorted(config["service"]) == [0, 1, 2, 3]
    assert incident["start"] == incident["detected"] == leak["noticed"]
    assert leak["restored"] == incident["resolved"] == config["finished"].max()
    assert leak["revoked"] > leak["noticed"]
    assert leak["exposure_s"] == pytest.approx(leak["revoked"] - leak["at"])
    assert result.summary["secrets_engineer_hours"] > 0


def test_a_vault_leak_costs_one_short_outage_after_the_response():
    result = _with_delivery(SECRETS / "leak.yaml", "horizon=6h", "secrets.kind=vault")
    leak = result.tables["secret_leaks"].iloc[0]
    assert leak["restored"] == pytest.approx(leak["revoked"] + 60)  # revoke_time 1 min
    assert result.tables["deploys"].query("outcome == 'config'").empty
    spans = result.tables["spans"]
    refused = spans[spans["status"] == "unauthorized"]
    assert refused["arrival"].min() >= leak["revoked"]
    assert refused["arrival"].max() < leak["restored"]


def test_the_same_seed_gives_the_same_organisation():
    failure = {"at": "1h", "kind": "node-failure", "service": "back"}
    first, second = (_run("ticket", failure, horizon="4h") for _ in range(2))
    for table in ("incidents", "deploys", "operator_work", "discovery_changes"):
        assert first.tables[table].equals(second.tables[table])
