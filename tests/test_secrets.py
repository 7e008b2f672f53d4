"""Configuration drift and secrets: drift against renewal theory, leaks, expiries, rotation."""

from __future__ import annotations

import pytest

import simulator
from simulator.model.discovery.secrets import blast_radius, call_graph_of
from tests.conftest import SCENARIOS

SECRETS = SCENARIOS / "secrets"

HOSTS_ONLY = {
    "name": "hosts",
    "horizon": "100h",
    "services": {"fleet": {"replicas": 200}},
}


def _drifted_share(**configuration) -> float:
    scenario = {**HOSTS_ONLY, "configuration": {"drift_rate": "1/h", **configuration}}
    return simulator.run(scenario).summary["config_drifted_share"]


def test_drift_share_agrees_with_renewal_theory():
    # Each host alternates: in order for Exp(1 h), drifted until fixed. The long-run share
    # drifted is E[fix] / (1 h + E[fix]). By hand, E[fix] = 1 h: 1/2. With Chef every 30 min
    # at a fixed phase, the wait is uniform on [0, 30 min): E = 15 min, share 0.25/1.25 = 0.2.
    # 200 hosts × 100 h give ~10,000 (hand) to ~16,000 (Chef) episodes; the standard error
    # of the share is under 0.005, so ±0.02 is four standard errors.
    assert _drifted_share(managed_by="hand", hand_fix_time="1h") == pytest.approx(0.5, abs=0.02)
    assert _drifted_share(managed_by="chef", run_interval="30min") == pytest.approx(0.2, abs=0.02)
    assert _drifted_share(managed_by="scheduler") == 0


def test_drifted_hosts_fail_requests_and_recipes_cost_hours():
    hand = simulator.run(SECRETS / "drift.yaml", overrides=["horizon=40min"])
    chef = simulator.run(
        SECRETS / "drift.yaml", overrides=["horizon=40min", "configuration.managed_by=chef"]
    )
    env = simulator.run(
        SECRETS / "drift.yaml", overrides=["horizon=40min", "configuration.managed_by=scheduler"]
    )
    assert hand.summary["misconfigured_errors"] > chef.summary["misconfigured_errors"]
    assert env.summary["misconfigured_errors"] == 0
    assert hand.summary["error_rate_misconfigured"] > 0
    # 4 services × 3 environments × 4 h of recipe, against a quarter hour of env variables.
    assert hand.summary["config_engineer_hours"] == pytest.approx(48)
    assert env.summary["config_engineer_hours"] == pytest.approx(3)
    drift = hand.tables["config_drift"]
    assert (drift["end"] >= drift["start"]).all()


def test_a_static_leak_breaks_every_service_and_a_vault_leak_one():
    static = simulator.run(SECRETS / "leak.yaml", overrides=["horizon=100min"])
    vault = simulator.run(SECRETS / "leak.yaml", overrides=["horizon=100min", "secrets.kind=vault"])
    assert static.summary["leak_blast_radius_services"] == 4
    assert vault.summary["leak_blast_radius_services"] == 1
    assert static.summary["secrets_engineer_hours"] == pytest.approx(4 * 2.0)
    assert vault.summary["secrets_engineer_hours"] < 0.1
    assert static.summary["unauthorized_errors"] > 10 * vault.summary["unauthorized_errors"] > 0
    leak = vault.tables["secret_leaks"].iloc[0]
    assert leak["changed"] == "orders" and leak["affected"] == "gateway,orders"
    audit = static.tables["secret_audit"]
    assert list(audit[audit["action"] == "revoke"]["time"]) == [70 * 60.0]


def test_a_failed_renewal_is_an_outage_when_the_lease_expires():
    result = simulator.run(SECRETS / "failed-renewal.yaml", overrides=["horizon=110min"])
    audit = result.tables["secret_audit"]
    payments = audit[audit["service"] == "payments"]
    # TTL 1 h renewed every 40 min: renewed at 40 min, renewal refused at 80 min (after the
    # failure at 50), so the lease expires at 40 + 60 = 100 min.
    assert list(payments["action"])[:3] == ["issue", "renew", "renew_failed"]
    expired = payments[payments["action"] == "expire"]["time"]
    assert list(expired) == [100 * 60.0]
    spans = result.tables["spans"]
    refused = spans[spans["status"] == "unauthorized"]
    assert len(refused) > 0 and refused["arrival"].min() >= 100 * 60.0
    assert result.summary["secret_expiries"] == 1


def test_rotation_costs_hours_by_hand_and_nothing_with_vault():
    static = simulator.run(SECRETS / "rotation.yaml", overrides=["horizon=70min"])
    vault = simulator.run(
        SECRETS / "rotation.yaml", overrides=["horizon=70min", "secrets.kind=vault"]
    )
    assert static.summary["secret_rotations"] == vault.summary["secret_rotations"] == 1
    assert static.summary["secrets_engineer_hours"] == pytest.approx(8.0)
    assert vault.summary["secrets_engineer_hours"] == 0
    assert static.summary["requests_failed"] == 0


def test_blast_radius_is_the_changed_services_and_their_callers():
    scenario = simulator.load_scenario(SECRETS / "shop.yaml")
    graph = call_graph_of(scenario.services)
    assert blast_radius(graph, ["payments"]) == ["gateway", "orders", "payments"]
    assert blast_radius(graph, ["gateway"]) == ["gateway"]


def test_replicas_the_autoscaler_adds_drift_too():
    # 20 requests/s of 250 ms on 2 workers a replica keep about 5 workers busy: the HPA
    # grows one replica to several within minutes, and each new one drifts (twice an hour).
    scenario = {
        "name": "scaled-drift",
        "horizon": "1h",
        "services": {
            "api": {
                "replicas": 1,
                "min_replicas": 1,
                "max_replicas": 8,
                "concurrency": 2,
                "service_time": {"distribution": "exponential", "mean": "250ms"},
            },
        },
        "traffic": {"api": {"rate": "20/s"}},
        "autoscaling": {"enabled": True},
        "configuration": {"managed_by": "hand", "drift_rate": "2/h", "hand_fix_time": "1h"},
    }
    result = simulator.run(scenario)
    drift = result.tables["config_drift"]
    assert (drift["host"] >= 1).any()  # hosts added after the start drifted
    assert (drift["end"] >= drift["start"]).all()
    assert 0 < result.summary["config_drifted_share"] < 1
    assert result.summary["misconfigured_errors"] > 0
