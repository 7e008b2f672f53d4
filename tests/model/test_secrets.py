"""Configuration drift and secrets: drift against renewal theory, leaks, expiries, rotation."""

from __future__ import annotations

import pytest

import simulator
from simulator.model.discovery.secrets import blast_radius
from simulator.scenario.graph import call_graph
from tests.helpers import SCENARIOS

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
    graph = call_graph(scenario)
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


def test_drift_and_secrets_kpis_come_from_the_records_alone():
    import numpy as np

    from simulator.engine.recorder import MISCONFIGURED, OK, UNAUTHORIZED
    from simulator.metrics.discovery import (
        AUDIT_COLUMNS,
        LEAK_COLUMNS,
        configuration_results,
        secrets_results,
    )
    from simulator.records import discovery as why
    from simulator.records.discovery import (
        AuditEntry,
        ConfigurationRecords,
        DriftEpisode,
        LeakRecord,
        SecretsRecords,
    )
    from simulator.records.run import RunRecords

    scenario = simulator.load_scenario(SECRETS / "shop.yaml", ["warmup=100s", "horizon=1100s"])
    spans = {
        "arrival": np.array([50.0, 150.0, 200.0, 300.0]),
        "status": np.array([MISCONFIGURED, MISCONFIGURED, UNAUTHORIZED, OK]),
    }
    run = RunRecords(scenario, 1, {}, spans)

    # Measured [100, 1100] on 2 hosts: 2000 host-seconds. Drifted: 50 s of the first
    # episode (the rest is warm-up), 100 s of the second, and the open one's last 100 s.
    drift = ConfigurationRecords(
        episodes=(DriftEpisode("api", 0, 50.0, 150.0), DriftEpisode("api", 1, 400.0, 500.0)),
        open_since=(1000.0,),
        host_seconds=2000.0,
        engineer_hours=12.0,
    )
    summary, tables = configuration_results(drift, run)
    assert summary["config_drift_episodes"] == 1
    assert summary["config_drifted_share"] == pytest.approx(250 / 2000)
    assert summary["misconfigured_errors"] == 1
    assert summary["config_engineer_hours"] == 12.0
    assert list(tables["config_drift"]["duration_s"]) == [100.0, 100.0]

    # A leak not yet revoked at the horizon counts as never revoked (NaN exposure).
    leaks = (
        LeakRecord(10.0, "orders", "shared", 20.0, 30.0, 90.0, ("gateway", "orders"),
                   ("gateway", "orders"), 2.0),
        LeakRecord(40.0, "orders", "orders/lease-1", 50.0, np.nan, np.nan, ("orders",),
                   ("gateway", "orders")),
    )  # fmt: skip
    audit = (
        AuditEntry(0.0, "orders", "orders/lease-1", "issue", why.ISSUED, 3600.0),
        AuditEntry(60.0, "", "shared", "revoke", why.REVOKED_BY, by="on-call"),
    )
    secrets = SecretsRecords(audit, leaks, expiries=1, rotations=2, engineer_hours=3.5)
    summary, tables = secrets_results(secrets, run)
    assert summary["secret_leaks"] == 2
    assert np.isnan(summary["leak_exposure_s"])
    assert summary["leak_blast_radius_services"] == 1.5
    assert (summary["secret_expiries"], summary["secret_rotations"]) == (1, 2)
    assert summary["unauthorized_errors"] == 1 and summary["secrets_engineer_hours"] == 3.5
    table = tables["secret_audit"]
    assert tuple(table.columns) == AUDIT_COLUMNS
    assert list(table["detail"]) == ["dynamic credential, TTL 3600 s", "by on-call"]
    leaked = tables["secret_leaks"]
    assert tuple(leaked.columns) == LEAK_COLUMNS
    assert leaked["exposure_s"].iloc[0] == 20.0 and leaked["changed"].iloc[0] == "gateway,orders"
    assert list(leaked["services_changed"]) == [2, 1]


def test_every_audit_reason_has_words():
    from simulator.metrics.discovery import AUDIT_DETAILS
    from simulator.records.discovery import AUDIT_REASONS

    assert set(AUDIT_DETAILS) == set(AUDIT_REASONS)
