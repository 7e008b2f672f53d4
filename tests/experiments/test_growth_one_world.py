"""The growth experiment in the one world: at every size the era's organisation runs that
many services serving requests, on an infrastructure scaled to them, and the serving columns
come from what those requests saw."""

from __future__ import annotations

import math

import pytest

import simulator
from simulator.experiments.eras import ERAS, ERAS_DIR
from simulator.experiments.fleet import (
    fleet_overrides,
    fleet_scenario,
    fleet_workload,
    offered_work,
)
from simulator.experiments.growth import one_world_growth, services_served
from simulator.scenario.loader import load_scenario

SHORT = {"horizon": "2w", "warmup": "1w"}


def _workers(scenario) -> int:
    return sum(s.replicas * s.concurrency for s in scenario.services.values())


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("n", [1, 3, 25])
def test_every_service_the_organisation_deploys_serves_requests(era, n):
    scenario = fleet_scenario(ERAS_DIR / f"{era}.yaml", n, SHORT)
    assert scenario.delivery is not None and scenario.delivery.services == n
    assert len(scenario.services) == n
    assert services_served(scenario) == n
    assert scenario.traffic, "every fleet has an entry point with traffic"


@pytest.mark.parametrize("era", ERAS)
def test_the_fleet_is_a_pure_function_of_the_preset_and_its_size(era):
    path = ERAS_DIR / f"{era}.yaml"
    first = fleet_scenario(path, 37, SHORT).model_dump(mode="json")
    again = fleet_scenario(path, 37, SHORT).model_dump(mode="json")
    assert first == again
    assert first != fleet_scenario(path, 38, SHORT).model_dump(mode="json")


@pytest.mark.parametrize("era", ERAS)
def test_at_the_presets_size_the_fleet_is_the_preset(era):
    preset = load_scenario(ERAS_DIR / f"{era}.yaml", SHORT)
    size = len(preset.services)
    fleet = fleet_scenario(preset, size)
    assert {name.removesuffix("-1") for name in fleet.services} == set(preset.services)
    assert _workers(fleet) == _workers(preset)
    assert fleet.cluster is not None and preset.cluster is not None
    counts = [t.count for _, t in fleet.cluster.node_type_list()]
    assert counts == [t.count for _, t in preset.cluster.node_type_list()]
    assert fleet.autoscaling.nodes == preset.autoscaling.nodes
    assert fleet.monolith == preset.monolith


@pytest.mark.parametrize("era", ERAS)
def test_the_infrastructure_grows_with_the_fleet(era):
    preset = load_scenario(ERAS_DIR / f"{era}.yaml", SHORT)
    size = len(preset.services)
    fleet = fleet_scenario(preset, 4 * size)
    assert _workers(fleet) == 4 * _workers(preset)
    assert fleet.cluster is not None and preset.cluster is not None
    for (_, grown), (_, alone) in zip(
        fleet.cluster.node_type_list(), preset.cluster.node_type_list(), strict=True
    ):
        assert grown.count == 4 * alone.count
    if preset.autoscaling.enabled:
        assert fleet.autoscaling.nodes.min_nodes == 4 * preset.autoscaling.nodes.min_nodes
        assert fleet.autoscaling.nodes.max_nodes == 4 * preset.autoscaling.nodes.max_nodes
    if preset.deployment == "monolith" and preset.monolith.replicas:
        assert fleet.monolith.replicas == 4 * preset.monolith.replicas
    assert len(fleet.traffic) == 4 * len(preset.traffic)


def test_a_monolith_is_sized_for_the_work_its_requests_ask_for():
    """The sysadmin's servers follow the work of the fleet's requests, not its number of
    services (a partial copy of the shop asks for less than a whole one)."""
    preset = load_scenario(ERAS_DIR / "sysadmin.yaml", SHORT)
    assert preset.deployment == "monolith" and preset.monolith.replicas
    for n in (1, 4, 13):
        fleet = fleet_scenario(preset, n)
        share = offered_work(fleet) / offered_work(preset)
        assert fleet.monolith.replicas == math.ceil(preset.monolith.replicas * share)
        assert fleet.cluster is not None and preset.cluster is not None
        (_, servers), (_, alone) = (
            fleet.cluster.node_type_list()[0],
            preset.cluster.node_type_list()[0],
        )
        assert servers.count == math.ceil(alone.count * share)
    whole = fleet_scenario(preset, len(preset.services))
    assert math.isclose(offered_work(whole), offered_work(preset), rel_tol=1e-12)
    assert offered_work(fleet_scenario(preset, 1)) < offered_work(preset)


def test_a_partial_copy_keeps_the_entry_point_and_its_nearest_callees():
    services = {
        "web": {"replicas": 2, "concurrency": 1, "handler": [{"work": None}, {"call": "api"}]},
        "api": {
            "replicas": 1,
            "concurrency": 1,
            "handler": [
                {"parallel": [{"call": "db", "count": 2}, {"call": "cache"}], "wait_for": 3},
                {"call": "cache"},
            ],
        },
        "db": {"replicas": 1, "concurrency": 1, "handler": None},
        "cache": {"replicas": 1, "concurrency": 1, "handler": None},
    }
    traffic = {"web": {"rate": 5.0}}
    got, entries = fleet_workload(services, traffic, 7)
    assert list(got) == ["web-1", "api-1", "db-1", "cache-1", "web-2", "api-2", "db-2"]
    assert list(entries) == ["web-1", "web-2"]
    assert got["api-2"]["handler"] == [{"parallel": [{"call": "db-2", "count": 2}], "wait_for": 2}]
    assert got["web-2"]["handler"][1] == {"call": "api-2"}
    one, _ = fleet_workload(services, traffic, 1)
    assert one == {"web-1": {"replicas": 2, "concurrency": 1, "handler": [{"work": None}]}}
    with pytest.raises(ValueError):
        fleet_workload(services, traffic, 0)


def test_fleet_overrides_set_the_organisations_size():
    preset = load_scenario(ERAS_DIR / "sre.yaml", SHORT)
    assert fleet_overrides(preset, 13)["delivery.services"] == 13


def test_the_serving_columns_are_measured_on_the_fleets_requests():
    """Bad changes fail requests only in the one world: with none, no request fails by a
    defect; with many, the requests see it and availability falls. And the bill for the
    nodes the requests ran on grows with the fleet (fixed VMs: in proportion)."""
    devops = [ERAS_DIR / "devops.yaml"]
    clean = one_world_growth(devops, [3], "2w", overrides={"delivery.defect_probability": 0.0})
    buggy = one_world_growth(devops, [3], "2w", overrides={"delivery.defect_probability": 0.3})
    assert clean["error_rate_defect"].iloc[0] == 0.0
    assert buggy["error_rate_defect"].iloc[0] > 0.001
    assert buggy["availability"].iloc[0] < clean["availability"].iloc[0]
    assert buggy["pages_per_week"].iloc[0] > clean["pages_per_week"].iloc[0]
    assert (clean["services_served"] == 3).all() and (buggy["services_served"] == 3).all()

    sweep = one_world_growth(devops, [10, 20], "2w")
    small, big = sweep["serving_per_week_usd"]
    assert math.isclose(big, 2 * small, rel_tol=1e-9)
    assert list(sweep["services_served"]) == [10, 20]
    total = sweep["infrastructure_per_week_usd"] + sweep["people_per_week_usd"]
    assert (sweep["cost_per_week_usd"] == total).all()
    assert (sweep["cost_per_service_per_week_usd"] == total / sweep["services"]).all()


def test_the_one_world_sweep_is_its_single_runs_on_workers():
    eras = [ERAS_DIR / "sysadmin.yaml", ERAS_DIR / "devops.yaml"]
    serial = one_world_growth(eras, [2], "2w", seed=3)
    parallel = one_world_growth(eras, [2], "2w", seed=3, jobs=2)
    assert serial.equals(parallel)
    alone = simulator.run(fleet_scenario(ERAS_DIR / "devops.yaml", 2, SHORT), seed=3)
    row = serial[serial["era"] == "devops"].iloc[0]
    for kpi in ("availability", "error_rate_defect", "pages_per_week", "lead_time_median_s"):
        assert row[kpi] == alone.summary[kpi], kpi
