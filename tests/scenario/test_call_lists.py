"""`call_lists`: the call graph's nodes and edges without networkx, as `build_call_graph` makes
them (same order, same calls_per_visit to the bit), and networkx's topological order."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest

from simulator.scenario.calls import Call, Parallel, Work
from simulator.scenario.distributions import Exponential
from simulator.scenario.graph import build_call_graph, call_lists
from simulator.scenario.loader import load_scenario
from tests.helpers import SCENARIOS


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


def _same_as_networkx(services) -> None:
    graph = build_call_graph(services)
    lists = call_lists(services)
    assert list(lists.calls) == list(graph)  # the nodes, in the graph's order
    for name in graph:
        edges = list(graph.out_edges(name, data="calls_per_visit"))
        assert list(lists.calls[name]) == [callee for _, callee, _ in edges]
        assert [_bits(v) for v in lists.calls[name].values()] == [_bits(v) for *_, v in edges]
    if nx.is_directed_acyclic_graph(graph):
        assert lists.topological_order() == list(nx.topological_sort(graph))
    else:
        with pytest.raises(ValueError, match="cycle"):
            lists.topological_order()


def test_every_shipped_scenario_gives_the_graph_of_networkx():
    paths = sorted(SCENARIOS.rglob("*.yaml"))
    checked = 0
    for path in paths:
        try:
            scenario = load_scenario(path)
        except Exception:  # not a scenario (an experiment, a preset)
            continue
        _same_as_networkx(scenario.services)
        checked += 1
    assert checked >= 30


def _random_services(rng: np.random.Generator, size: int, cyclic: bool) -> dict:
    names = [f"s{i}" for i in rng.permutation(size)]  # node order is not the call order
    services = {}
    for position, name in enumerate(names):
        later = names[position + 1 :] if not cyclic else names
        choices = [*later, "unknown-a", "unknown-b"]  # calls to services not in the mapping

        def call(choices: list[str] = choices) -> Call:
            return Call(
                call=str(rng.choice(choices)),
                count=int(rng.integers(1, 4)),
                probability=float(rng.choice([1.0, 0.5, 0.1, 1 / 3])),
            )

        handler: list = []
        for _ in range(int(rng.integers(0, 5))):
            kind = rng.integers(0, 3)
            if kind == 0:
                handler.append(Work())
            elif kind == 1:
                handler.append(call())
            else:
                handler.append(Parallel(parallel=[call() for _ in range(int(rng.integers(1, 4)))]))
        services[name] = SimpleNamespace(
            handler=handler or None,
            replicas=1,
            concurrency=1,
            workers=1,
            service_time=Exponential(mean=0.01),
            load_balancer="round-robin",
        )
    return services


@pytest.mark.parametrize("cyclic", [False, True])
def test_random_graphs_give_the_graph_of_networkx(cyclic):
    rng = np.random.default_rng(16)
    for _ in range(150):
        _same_as_networkx(_random_services(rng, int(rng.integers(1, 12)), cyclic))


def test_a_graph_whose_order_networkx_takes_by_generations():
    # a → c, b → c, a → b: networkx gives a, b, c (generations), not a depth-first order
    services = {
        "c": SimpleNamespace(handler=None),
        "a": SimpleNamespace(handler=[Call(call="c"), Call(call="b"), Call(call="c", count=2)]),
        "b": SimpleNamespace(handler=[Call(call="c")]),
    }
    lists = call_lists(services)
    assert lists.calls == {"c": {}, "a": {"c": 3.0, "b": 1.0}, "b": {"c": 1.0}}
    assert lists.topological_order() == ["a", "b", "c"]
