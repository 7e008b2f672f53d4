"""Servers added by hand at the analytic fidelity: billed and counted as at request level,
from the same instant (the remedy's), so both fidelities' cost KPIs move alike."""

from __future__ import annotations

import pytest

import simulator
from tests.model.test_handscale import PRICE, assert_billed, overloaded


def test_two_servers_added_by_hand_are_billed_until_the_horizon():
    """The same run as at request level: two VMs bought when the replicas serve."""
    assert_billed(simulator.run(overloaded("vm", fidelity="analytic")))


def test_a_full_container_node_makes_the_person_add_one():
    """Containers of one CPU, two a node, on one full node: one node for both replicas;
    with a second node's room nothing is bought."""
    full = simulator.run(overloaded("container", count=1, cpu=1, fidelity="analytic"))
    events = full.tables["events"]
    served = float(events.loc[events["kind"] == "replicas_added_by_hand", "time"].iloc[0])
    node_seconds = 40 * 60.0 + (45 * 60.0 - served)
    assert full.summary["cost_usd"] == pytest.approx(node_seconds / 3600 * PRICE, rel=1e-12)
    assert full.tables["costs"]["nodes"].iloc[-1] == 2
    roomy = simulator.run(overloaded("container", cpu=1, fidelity="analytic"))
    assert roomy.summary["replicas_added_by_hand"] == 2
    assert roomy.summary["nodes_mean"] == 2.0


def test_the_sysadmins_spike_bills_every_server_he_orders():
    """The shipped spike in both fidelities: each scale-out's servers billed from when they
    serve (the hand-added replica-hours, one server each), the first bought at the same
    instant."""
    analytic = simulator.run("one-world/spike-sysadmin.yaml", overrides={"fidelity": "analytic"})
    requests = simulator.run("one-world/spike-sysadmin.yaml")
    for result in (analytic, requests):
        hours = result.summary["replica_hours_added_by_hand"]
        fixed = 2 * 5.5 * PRICE
        assert result.summary["cost_usd"] == pytest.approx(fixed + hours * PRICE, rel=1e-12)
    first = [
        r.tables["events"].query("kind == 'nodes_added_by_hand'").iloc[0]
        for r in (analytic, requests)
    ]
    assert first[0]["time"] == first[1]["time"] and first[0]["detail"] == first[1]["detail"]
