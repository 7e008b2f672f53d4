"""Call graphs from scenarios, generated topologies, and the DeathStarBench preset."""

from __future__ import annotations

import networkx as nx
import pytest

import simulator
from simulator.topology import (
    Topology,
    TopologyError,
    call_graph,
    chain,
    expand_topology,
    expected_utilisation,
    expected_visits,
    fan_out_tree,
    generate,
    random_dag,
    uncalled_services,
)
from tests.helpers import SCENARIOS

PRESET = SCENARIOS / "presets" / "deathstarbench-social-network.yaml"
EXAMPLE = SCENARIOS / "examples" / "social-network.yaml"


def graph_of(services: dict) -> nx.DiGraph:
    """The call graph of generated services, after validating them as a scenario."""
    entry = uncalled_services(services)[0]
    scenario = simulator.load_scenario({"services": services, "traffic": {entry: {"rate": 5}}})
    return call_graph(scenario)


def depth_of(graph: nx.DiGraph) -> int:
    """Services on the longest call path."""
    return nx.dag_longest_path_length(graph) + 1


# ---------------------------------------------------------------------------- generators


@pytest.mark.parametrize("length", [1, 2, 7])
def test_chain_has_the_requested_length(length: int) -> None:
    services = chain(length, work="2ms", replicas=3)
    graph = graph_of(services)
    assert list(services) == [f"svc-{i}" for i in range(1, length + 1)]
    assert nx.is_directed_acyclic_graph(graph)
    assert depth_of(graph) == length and graph.number_of_edges() == length - 1
    assert all(graph.nodes[n]["replicas"] == 3 for n in graph)
    assert uncalled_services(services) == ["svc-1"]


@pytest.mark.parametrize(("depth", "fanout"), [(1, 3), (3, 2), (4, 3)])
def test_fan_out_tree_has_the_sum_of_fanout_powers_services(depth: int, fanout: int) -> None:
    services = fan_out_tree(depth, fanout, prefix="node")
    graph = graph_of(services)
    assert len(services) == sum(fanout**i for i in range(depth))
    assert nx.is_tree(graph.to_undirected()) and depth_of(graph) == depth
    assert all(graph.out_degree(n) in (0, fanout) for n in graph)
    assert all(d["parallel"] for _, _, d in graph.edges(data=True)) or fanout == 1
    assert services["node-1"]["handler"][0] == {"work": "5ms"}


def test_fan_out_tree_can_wait_for_the_first_k() -> None:
    services = fan_out_tree(2, 3, wait_for=2)
    assert services["svc-1"]["handler"][-1]["wait_for"] == 2
    graph_of(services)
    with pytest.raises(ValueError, match="wait_for"):
        fan_out_tree(2, 3, wait_for=4)


@pytest.mark.parametrize(
    ("size", "depth", "degree", "seed"),
    [
        (10, 3, None, 1),
        (30, 5, {"distribution": "poisson", "mean": 1.5}, 7),
        (25, 4, [0.0, 0.5, 0.3, 0.2], 3),
        (6, 6, {"distribution": "constant", "mean": 2}, 2),
        (1, 1, None, 1),
    ],
)
def test_random_dag_is_acyclic_reachable_and_as_deep_as_asked(
    size: int, depth: int, degree: object, seed: int
) -> None:
    services = random_dag(size, depth, degree=degree, seed=seed)  # type: ignore[arg-type]
    graph = graph_of(services)
    assert len(graph) == size
    assert nx.is_directed_acyclic_graph(graph) and depth_of(graph) == depth
    assert uncalled_services(services) == ["svc-1"]
    assert nx.descendants(graph, "svc-1") == set(graph) - {"svc-1"}


def test_generators_are_deterministic_and_seeded_locally() -> None:
    import numpy as np

    np.random.seed(0)
    first = random_dag(40, 6, degree={"distribution": "geometric", "mean": 2.5}, seed=11)
    np.random.seed(99)  # the global state plays no part
    assert random_dag(40, 6, degree={"distribution": "geometric", "mean": 2.5}, seed=11) == first
    assert random_dag(40, 6, degree={"distribution": "geometric", "mean": 2.5}, seed=12) != first
    assert chain(4) == chain(4) and fan_out_tree(3, 2) == fan_out_tree(3, 2)


def test_random_dag_draws_more_calls_with_a_larger_mean_degree() -> None:
    few = graph_of(random_dag(60, 4, degree={"distribution": "constant", "mean": 1}, seed=5))
    many = graph_of(random_dag(60, 4, degree={"distribution": "constant", "mean": 4}, seed=5))
    assert many.number_of_edges() > few.number_of_edges() + 60


def test_generated_services_take_template_fields_and_call_policy() -> None:
    services = chain(3, work=None, calls={"timeout": "1s", "retries": 2}, concurrency=4)
    assert services["svc-3"] == {"concurrency": 4}  # no work step: service_time applies
    graph = graph_of(services)
    edge = graph.edges["svc-1", "svc-2"]
    assert (edge["timeout"], edge["retries"]) == (1.0, 2)
    with pytest.raises(ValueError, match="handler"):
        chain(3, handler=[])


def test_bad_generator_arguments_are_one_line_errors() -> None:
    for call in (
        lambda: chain(0),
        lambda: random_dag(3, 4),
        lambda: random_dag(5, 1),
        lambda: random_dag(5, 2, degree={"distribution": "geometrik"}),
        lambda: random_dag(5, 2, degree=[0.5, 0.2]),
    ):
        with pytest.raises(ValueError) as caught:
            call()
        assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------- topology:


def test_expand_topology_merges_explicit_services_over_generated_ones() -> None:
    data = {
        "name": "merged",
        "topology": {
            "generator": "chain",
            "length": 3,
            "work": "1ms",
            "template": {"replicas": 2, "service_time": {"distribution": "constant", "mean": 1}},
        },
        "services": {
            "svc-3": {"replicas": 5, "handler": [{"work": "3ms"}, {"call": "db"}]},
            "svc-2": {"service_time": {"mean": "2s"}},
            "db": {"concurrency": 8},
        },
        "traffic": {"svc-1": {"rate": "10/s"}},
    }
    expanded = expand_topology(data)
    assert expanded["topology"] == data["topology"] and "topology" in data  # kept, not moved
    services = expanded["services"]
    assert list(services) == ["svc-1", "svc-2", "svc-3", "db"]
    assert services["svc-3"]["replicas"] == 5
    assert services["svc-3"]["handler"] == [{"work": "3ms"}, {"call": "db"}]  # lists replace
    assert services["svc-2"]["service_time"] == {"distribution": "constant", "mean": "2s"}
    assert services["svc-1"] == {
        "replicas": 2,
        "service_time": {"distribution": "constant", "mean": 1},
        "handler": [{"work": "1ms"}, {"call": "svc-2"}],
    }
    scenario = simulator.load_scenario({k: v for k, v in expanded.items() if k != "topology"})
    assert list(call_graph(scenario).successors("svc-3")) == ["db"]
    assert expand_topology({"services": {"a": {}}}) == {"services": {"a": {}}}


def test_expanding_twice_or_from_a_dumped_topology_changes_nothing() -> None:
    data = {"topology": {"generator": "random_dag", "services": 12, "depth": 3, "seed": 4}}
    once = expand_topology(data)
    assert expand_topology(once) == once
    dumped = Topology.model_validate(data["topology"]).model_dump(mode="json")
    assert expand_topology({"topology": dumped})["services"] == once["services"]
    assert generate(data["topology"]) == once["services"]


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ({"generator": "chian"}, "topology.generator", "did you mean 'chain'?"),
        ({"generator": "chain", "lenght": 3}, "topology.lenght", "did you mean 'length'?"),
        ({"generator": "chain", "fanout": 3}, "topology.fanout", "chain does not take"),
        ({"generator": "chain", "length": 0}, "topology.length", "greater than or equal to 1"),
        ({"template": {"replica": 2}}, "topology.template.replica", "did you mean 'replicas'?"),
        ({"template": {"handler": []}}, "topology.template.handler", "writes the handlers"),
        ({"calls": {"timeout": "soon"}}, "topology.calls.timeout", "expected a duration"),
        (
            {"generator": "random-dag", "degree": {"distribution": "geometrik"}},
            "topology.degree",
            "did you mean 'geometric'?",
        ),
        ({"generator": "random-dag", "services": 2, "depth": 3}, "topology", "at least 3"),
        ("chain", "topology", "expected a mapping"),
    ],
)
def test_bad_topology_sections_name_the_key(section: object, key: str, words: str) -> None:
    with pytest.raises(TopologyError) as caught:
        expand_topology({"topology": section})
    error = caught.value
    assert isinstance(error, ValueError) and "\n" not in str(error)
    assert error.key == key and words in error.message, str(error)


def test_topology_model_documents_every_field() -> None:
    from simulator.scenario.base import unit_of

    for name, field in Topology.model_fields.items():
        assert field.description and unit_of(field), name
        assert not field.is_required(), name
    assert Topology().generator == "chain"
    assert Topology(generator="fan_out_tree").generator == "fan-out-tree"  # both spellings


# ---------------------------------------------------------------------------- call graphs


HAND_WRITTEN = {
    "name": "hand-written",
    "services": {
        "web": {
            "replicas": 2,
            "concurrency": 3,
            "handler": [
                {"work": "2ms"},
                {"call": "auth", "timeout": "100ms", "retries": 2},
                {"parallel": [{"call": "search", "count": 3}, {"call": "ads", "probability": 0.5}]},
                {"call": "search", "probability": 0.5},
                {"work": {"distribution": "constant", "mean": "1ms"}},
            ],
        },
        "auth": {"service_time": {"distribution": "exponential", "mean": "4ms"}},
        "search": {"handler": [{"work": None}, {"call": "db", "count": 2}]},
        "ads": {},
        "db": {"concurrency": 8},
    },
    "traffic": {"web": {"rate": "50/s"}, "ads": {"rate": "10/s"}},
}


def test_call_graph_of_a_hand_written_scenario() -> None:
    graph = call_graph(simulator.load_scenario(HAND_WRITTEN))
    assert set(graph.edges) == {
        ("web", "auth"),
        ("web", "search"),
        ("web", "ads"),
        ("search", "db"),
    }
    web = graph.nodes["web"]
    assert (web["replicas"], web["concurrency"], web["workers"]) == (2, 3, 6)
    assert web["work_mean_s"] == pytest.approx(0.003)
    assert web["entry"] and web["rate"] == pytest.approx(50)
    assert graph.nodes["auth"]["work_mean_s"] == pytest.approx(0.004)  # no handler
    assert graph.nodes["search"]["work_mean_s"] == pytest.approx(0.1)  # service_time default
    assert graph.nodes["ads"]["entry"] and not graph.nodes["db"]["entry"]
    assert graph.nodes["db"]["rate"] == 0
    search = graph.edges["web", "search"]
    assert search["calls_per_visit"] == pytest.approx(3.5) and search["parallel"]
    auth = graph.edges["web", "auth"]
    assert (auth["calls_per_visit"], auth["parallel"]) == (1, False)
    assert (auth["timeout"], auth["retries"]) == (0.1, 2)
    assert graph.edges["web", "ads"]["calls_per_visit"] == pytest.approx(0.5)
    assert graph.edges["search", "db"]["timeout"] is None


def test_expected_visits_per_entry_and_for_the_traffic_mix() -> None:
    graph = call_graph(simulator.load_scenario(HAND_WRITTEN))
    web = expected_visits(graph, "web")
    assert web == pytest.approx({"web": 1, "auth": 1, "search": 3.5, "ads": 0.5, "db": 7})
    assert expected_visits(graph, "ads") == pytest.approx(
        {"web": 0, "auth": 0, "search": 0, "ads": 1, "db": 0}
    )
    mix = expected_visits(graph)  # 50/s at web, 10/s at ads
    assert mix["ads"] == pytest.approx((50 * 0.5 + 10 * 1) / 60)
    utilisation = expected_utilisation(graph)
    assert utilisation["web"] == pytest.approx(50 * 0.003 / 6)
    assert utilisation["db"] == pytest.approx(50 * 7 * 0.1 / 8)
    with pytest.raises(KeyError, match="did you mean 'web'"):
        expected_visits(graph, "wbe")


@pytest.mark.parametrize(
    ("depth", "fanout", "count", "probability"), [(4, 3, 1, 1.0), (3, 2, 2, 0.5)]
)
def test_expected_visits_of_a_fan_out_tree_has_the_closed_form(
    depth: int, fanout: int, count: int, probability: float
) -> None:
    services = fan_out_tree(
        depth, fanout, calls={"count": count, "probability": probability}, work="1ms"
    )
    visits = expected_visits(graph_of(services))
    per_call = count * probability
    for name, value in visits.items():
        level = name.count("-") - 1  # svc-1 is level 0, svc-1-2 level 1, ...
        assert value == pytest.approx(per_call**level), name
    total = sum((fanout * per_call) ** level for level in range(depth))
    assert sum(visits.values()) == pytest.approx(total)


def test_expected_visits_match_a_run() -> None:
    services = fan_out_tree(3, 2, work="1ms", calls={"probability": 0.5}, concurrency=4)
    result = simulator.run(
        {"services": services, "traffic": {"svc-1": {"rate": "200/s"}}, "horizon": "20s"}
    )
    visits = result.tables["services"]["visits"]
    predicted = expected_visits(call_graph(result))
    for name, value in predicted.items():
        assert visits[name] / visits["svc-1"] == pytest.approx(value, rel=0.15), name


def test_a_graph_without_traffic_needs_a_single_root() -> None:
    graph = call_graph(simulator.load_scenario({"services": chain(3)}))
    assert expected_visits(graph) == {"svc-1": 1, "svc-2": 1, "svc-3": 1}
    two_roots = call_graph(simulator.load_scenario({"services": {"a": {}, "b": {}}}))
    with pytest.raises(ValueError, match="entry="):
        expected_visits(two_roots)


# ---------------------------------------------------------------------------- the preset


def test_the_social_network_preset_loads_with_its_services() -> None:
    scenario = simulator.load_scenario(PRESET)
    names = set(scenario.services)
    assert len(names) >= 25
    for expected in (
        "nginx-web-server",
        "compose-post-service",
        "home-timeline-service",
        "user-timeline-service",
        "post-storage-service",
        "social-graph-service",
        "user-service",
        "text-service",
        "media-service",
        "unique-id-service",
        "url-shorten-service",
        "user-mention-service",
        "post-storage-memcached",
        "post-storage-mongodb",
        "home-timeline-redis",
    ):
        assert expected in names
    graph = call_graph(scenario)
    assert nx.is_directed_acyclic_graph(graph)
    assert set(graph.successors("compose-post-service")) >= {
        "text-service",
        "media-service",
        "unique-id-service",
        "user-service",
        "post-storage-service",
    }
    assert "post-storage-service" in set(graph.successors("home-timeline-service"))
    reachable = nx.descendants(graph, "nginx-web-server") | nx.descendants(graph, "media-frontend")
    assert reachable | {"nginx-web-server", "media-frontend"} == names
    mix = {
        s: graph.edges["nginx-web-server", s]["calls_per_visit"]
        for s in graph.successors("nginx-web-server")
    }
    assert sum(mix.values()) == pytest.approx(1.0)


def test_the_social_network_example_is_sized_below_saturation() -> None:
    scenario = simulator.load_scenario(EXAMPLE)
    assert set(scenario.traffic) == {"nginx-web-server", "media-frontend"}
    assert scenario.horizon <= 30
    utilisation = expected_utilisation(call_graph(scenario))
    busiest = max(utilisation, key=utilisation.__getitem__)
    assert busiest == "post-storage-service" and 0.3 < utilisation[busiest] < 0.8
