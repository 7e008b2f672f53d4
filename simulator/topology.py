"""Call graphs and generated topologies, for users and notebooks: one import for all of it.

    graph = call_graph("scenarios/examples/social-network.yaml")
    expected_visits(graph)                   # visits per service per external request
    services = chain(5, replicas=2)          # the `services:` mapping of a 5-service chain

A facade: the code lives in `simulator.scenario.graph` (call graphs),
`simulator.scenario.generators` (chain, fan-out tree, random DAG) and
`simulator.scenario.topology` (the `topology:` section). Nothing inside `simulator` imports
this module, so it can accept anything `load_scenario` reads without an import circle.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .scenario import graph as _graph
from .scenario.generators import (
    TopologyError,
    chain,
    expand_topology,
    fan_out_tree,
    generate,
    random_dag,
)
from .scenario.graph import (
    build_call_graph,
    expected_utilisation,
    expected_visits,
    find_call_cycle,
    uncalled_services,
)
from .scenario.loader import load_scenario
from .scenario.schema import Scenario
from .scenario.topology import GENERATORS, Degree, Topology

if TYPE_CHECKING:
    import networkx as nx


def call_graph(source: Any) -> nx.DiGraph:
    """The call graph of a Scenario, a Result (its scenario), or anything `load_scenario`
    reads; shared and frozen, so `.copy()` it to change it (see `build_call_graph`)."""
    inner = getattr(source, "scenario", None)
    scenario = inner if isinstance(inner, Scenario) else load_scenario(source)
    return _graph.call_graph(scenario)


def entry_points(services: Mapping[str, Any]) -> list[str]:
    """Deprecated name of `uncalled_services` (a Scenario's entry points receive traffic)."""
    warnings.warn(
        "simulator.topology.entry_points is now uncalled_services",
        DeprecationWarning,
        stacklevel=2,
    )
    return uncalled_services(services)


__all__ = [
    "GENERATORS",
    "Degree",
    "Topology",
    "TopologyError",
    "build_call_graph",
    "call_graph",
    "chain",
    "entry_points",
    "expand_topology",
    "expected_utilisation",
    "expected_visits",
    "fan_out_tree",
    "find_call_cycle",
    "generate",
    "random_dag",
    "uncalled_services",
]
