"""The one world for every delivery service (`experiments.fleet.served_world`): when the
deploys act on a request workload, a delivery service beyond the workload's services runs on
a copy of it, so no delivery service's incidents are drawn (from the detection
probabilities or an MTBF) in a run that simulates a runtime, at either fidelity; without a
workload the delivery model alone draws them, as before."""

from __future__ import annotations

import numpy as np
import pytest

import simulator
from simulator.errors import ScenarioError
from simulator.experiments.fleet import fleet_scenario, served_world, unserved
from simulator.model.discovery.common import delivery_service
from simulator.scenario.loader import load_scenario
from tests.helpers import SCENARIOS

SRE = SCENARIOS / "eras" / "sre.yaml"
BY_PIPELINE = SCENARIOS / "one-world" / "deploys-by-pipeline.yaml"


def _on_runtime(result: simulator.Result) -> str:
    events = result.tables["events"]
    found = events[(events["component"] == "delivery") & (events["kind"] == "on_runtime")]
    return str(found["detail"].iloc[0])


def _acting(result: simulator.Result) -> set[int]:
    """The delivery services whose deploys rolled versions out on the running services."""
    scenario = result.scenario
    stations = set(result.tables["rollouts"]["service"])
    return {delivery_service(scenario, name) for name in scenario.services if name in stations}


def _deploying(result: simulator.Result) -> set[int]:
    deploys = result.tables["deploys"]
    return set(deploys.loc[deploys["outcome"] != "config", "service"].astype(int))


def test_the_sre_preset_at_its_own_size_serves_its_hundred_services():
    """The SRE preset deploys 100 services and writes a workload of 10: the run copies the
    workload ten times (the first copy keeps the preset's names) on ten times the nodes,
    and every one of the 100 services' deploys rolls out on its own copy (analytic)."""
    scenario = load_scenario(SRE, {"horizon": "9d"})
    assert unserved(scenario) == 90
    result = simulator.run(scenario, seed=1)
    world = result.scenario
    assert len(world.services) == 100 and list(world.services)[:10] == list(scenario.services)
    assert world.cluster is not None and world.cluster.node_types["m5.large"].count == 100
    assert _on_runtime(result).startswith("deploys of 100 of 100 services")
    deploying = _deploying(result)
    assert len(deploying) > 50 and max(deploying) >= 10
    assert deploying <= _acting(result)
    assert served_world(world) is world  # already the one world


def test_a_small_request_level_run_serves_every_delivery_service():
    """Three delivery services on a workload of one (request level): `api`, `api-2` and
    `api-3`, each with its own traffic; every deploy rolls out on its service's replicas."""
    scenario = load_scenario(BY_PIPELINE, {"delivery.services": 3, "horizon": "1d"})
    result = simulator.run(scenario, seed=3)
    assert list(result.scenario.services) == ["api", "api-2", "api-3"]
    assert list(result.scenario.traffic) == ["api", "api-2", "api-3"]
    assert _on_runtime(result).startswith("deploys of 3 of 3 services")
    deploying = _deploying(result)
    assert deploying == {0, 1, 2} and deploying <= _acting(result)
    assert set(result.tables["requests"]["service"]) == {"api", "api-2", "api-3"}


def test_without_a_runtime_the_scenario_is_run_as_written():
    """The delivery model alone (no workload) and deploys that do not act on the runtime
    (`on_runtime.enabled: false`) keep the drawn outcomes: nothing is copied."""
    alone = load_scenario(
        SRE, {"services": {}, "traffic": {}, "fidelity": "request", "deployment": "microservices"}
    )
    off = load_scenario(SRE, {"delivery.on_runtime.enabled": False})
    for scenario in (alone, off):
        assert unserved(scenario) == 0 and served_world(scenario) is scenario
    same = load_scenario(BY_PIPELINE)
    assert served_world(same) is same


def test_a_copy_named_like_a_service_is_refused():
    data = {
        "name": "clash",
        "services": {"a": {}, "a-2": {}},
        "traffic": {"a": {"rate": "1/s"}, "a-2": {"rate": "1/s"}},
        "delivery": {"services": 3},
    }
    with pytest.raises(ScenarioError, match=r"delivery\.services: copy 2 of a would be named a-2"):
        served_world(load_scenario(data))


def test_an_infrastructure_mtbf_drawn_beside_the_runtime_is_refused():
    """With the deploys on the running services, their infrastructure fails in the runtime
    (`cluster.failures`): a drawn `incidents.infrastructure_mtbf` is a one-line error; the
    delivery model alone still draws it."""
    data = {
        "name": "drawn",
        "services": {"web": {}},
        "traffic": {"web": {"rate": "1/s"}},
        "delivery": {"services": 1},
        "incidents": {"infrastructure_mtbf": "5d"},
    }
    with pytest.raises(ScenarioError, match=r"incidents\.infrastructure_mtbf: expected 0s"):
        load_scenario(data)
    alone = {**data, "services": {}, "traffic": {}}
    assert load_scenario(alone).incidents.infrastructure_mtbf == 5 * 86400.0
    off = {**data, "delivery": {"services": 1, "on_runtime": {"enabled": False}}}
    assert load_scenario(off).incidents.infrastructure_mtbf > 0


def test_the_tables_name_only_the_worlds_services():
    result = simulator.run(load_scenario(BY_PIPELINE, {"delivery.services": 2, "horizon": "6h"}))
    assert list(result.tables["services"].index) == ["api", "api-2"]


def test_the_served_world_is_the_growth_experiments_fleet():
    """At the analytic fidelity a scenario with more delivery services than services runs as
    the growth experiment's fleet of that size (`fleet_scenario`), number for number: only
    the first copy's names differ (`api` here, `api-1` there; at request level the replicas'
    random streams follow the names, so the numbers differ as another seed's would)."""
    window = {"horizon": "2d", "fidelity": "analytic"}
    served = simulator.run(load_scenario(BY_PIPELINE, {**window, "delivery.services": 3}), seed=2)
    fleet = simulator.run(fleet_scenario(BY_PIPELINE, 3, window), seed=2)
    assert list(fleet.scenario.services) == ["api-1", "api-2", "api-3"]
    np.testing.assert_equal(served.summary, fleet.summary)  # NaN equal to NaN
