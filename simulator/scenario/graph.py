"""The call graph of a scenario: who calls whom, how often, and the visits that follow.

    graph = call_graph(scenario)             # networkx DiGraph, caller → callee
    expected_visits(graph, "web")            # visits per service per request at web
    expected_utilisation(graph)              # offered load per worker, before any run

One graph for every user (the schema's cycle check, the analytic model, secrets' blast
radius, the call-graph chart), so they agree on what a call is. Nothing here imports the
schema or the loader: the schema itself uses this module.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .base import suggest
from .calls import Call, Parallel, Step, Work
from .distributions import Distribution

if TYPE_CHECKING:
    import networkx as nx


class ServiceLike(Protocol):
    """What the graph reads of a Service (the schema's, which this module cannot import)."""

    @property
    def replicas(self) -> int: ...
    @property
    def concurrency(self) -> int: ...
    @property
    def workers(self) -> int: ...
    @property
    def service_time(self) -> Distribution: ...
    @property
    def load_balancer(self) -> str: ...
    @property
    def handler(self) -> list[Step] | None: ...


class TrafficLike(Protocol):
    @property
    def rate(self) -> float: ...


class ScenarioLike(Protocol):
    """What the graph reads of a Scenario."""

    @property
    def name(self) -> str: ...
    @property
    def services(self) -> Mapping[str, ServiceLike]: ...
    @property
    def traffic(self) -> Mapping[str, TrafficLike]: ...


_GRAPHS: dict[int, tuple[weakref.ref[Any], nx.DiGraph]] = {}
"""call_graph's cache, by id of the scenario. Scenarios are unhashable (dict fields), so not
a WeakKeyDictionary; the weak reference tells a live entry from one whose id was reused,
and its callback drops the entry when the scenario goes."""


def call_graph(scenario: ScenarioLike) -> nx.DiGraph:
    """The scenario's call graph, built once per Scenario object and frozen: shared by
    every caller, so copy it (`graph.copy()`) to change it. See `build_call_graph`."""
    import networkx as nx

    key = id(scenario)
    cached = _GRAPHS.get(key)
    if cached is not None and cached[0]() is scenario:
        return cached[1]
    graph = nx.freeze(build_call_graph(scenario.services, scenario.traffic, scenario.name))

    def forget(ref: weakref.ref[Any]) -> None:
        if _GRAPHS.get(key, (None,))[0] is ref:
            del _GRAPHS[key]

    _GRAPHS[key] = (weakref.ref(scenario, forget), graph)
    return graph


def build_call_graph(
    services: Mapping[str, ServiceLike],
    traffic: Mapping[str, TrafficLike] | None = None,
    name: str = "",
) -> nx.DiGraph:
    """Services as a directed graph, caller → callee, in the order of `services`.

    Node attributes: replicas, concurrency, workers, work_mean_s (mean local work per
    visit: the handler's work steps, or service_time without a handler; network
    serialisation not included), load_balancer, entry (receives external traffic) and rate
    (its external rate per second, 0 if none). Edge attributes: calls_per_visit (count ×
    probability, summed over the caller's handler in order; every call of a parallel step
    is issued), parallel (some call to it is in a parallel step), timeout and retries (of
    the first call to it in the handler; timeout None means none), optional.
    """
    import networkx as nx

    traffic = traffic or {}
    graph = nx.DiGraph(name=name)
    for service_name, service in services.items():
        if service.handler is None:
            work = service.service_time.mean_s
        else:
            work = sum(
                (step.work or service.service_time).mean_s
                for step in service.handler
                if isinstance(step, Work)
            )
        graph.add_node(
            service_name,
            replicas=service.replicas,
            concurrency=service.concurrency,
            workers=service.workers,
            work_mean_s=float(work),
            load_balancer=service.load_balancer,
            entry=service_name in traffic,
            rate=float(traffic[service_name].rate) if service_name in traffic else 0.0,
        )
    for caller, service in services.items():
        for call, in_parallel in _calls(service):
            per_visit = call.count * call.probability
            if graph.has_edge(caller, call.call):
                edge = graph.edges[caller, call.call]
                edge["calls_per_visit"] += per_visit
                edge["parallel"] = edge["parallel"] or in_parallel
            else:
                graph.add_edge(
                    caller,
                    call.call,
                    calls_per_visit=per_visit,
                    parallel=in_parallel,
                    timeout=call.timeout,
                    retries=call.retries,
                    optional=call.optional,
                )
    return graph


@dataclass(frozen=True)
class CallLists:
    """`build_call_graph`'s nodes and edges with their calls_per_visit, without networkx
    (what an analytic run reads of the graph; importing networkx is some 0.1 s of it).

    `calls` maps every node, in the graph's order (the services, then callees that are
    not among them, as their first call names them), to its callees in the graph's edge
    order, each with calls_per_visit summed in the same order: the same floats, bit for
    bit. `topological_order` is networkx's `topological_sort` of that graph (tested)."""

    calls: dict[str, dict[str, float]]

    def __contains__(self, name: object) -> bool:
        return name in self.calls

    def topological_order(self) -> list[str]:
        """Callers before callees, as `networkx.topological_sort` orders the graph: its
        generations (the nodes nobody calls, in node order; then the callees whose last
        caller that freed, in the order they were freed; and so on)."""
        callers = dict.fromkeys(self.calls, 0)
        for callees in self.calls.values():
            for callee in callees:
                callers[callee] += 1
        generation = [name for name, count in callers.items() if count == 0]
        order: list[str] = []
        while generation:
            order += generation
            following = []
            for name in generation:
                for callee in self.calls[name]:
                    callers[callee] -= 1
                    if callers[callee] == 0:
                        following.append(callee)
            generation = following
        if len(order) < len(callers):
            raise ValueError("the calls make a cycle")
        return order


def call_lists(services: Mapping[str, ServiceLike]) -> CallLists:
    """The services' calls as `CallLists` (the nodes and edges of `build_call_graph`)."""
    calls: dict[str, dict[str, float]] = {name: {} for name in services}
    for caller, service in services.items():
        mine = calls[caller]
        for call, _ in _calls(service):
            per_visit = call.count * call.probability
            if call.call in mine:
                mine[call.call] += per_visit
            else:
                mine[call.call] = per_visit
                calls.setdefault(call.call, {})
    return CallLists(calls)


def find_call_cycle(services: Mapping[str, ServiceLike]) -> list[str]:
    """The services of a call cycle, first one repeated at the end, or [] when there is none."""
    if _acyclic(services):  # the usual case, told without building the graph
        return []
    import networkx as nx

    try:
        edges = nx.find_cycle(build_call_graph(services))
    except nx.NetworkXNoCycle:
        return []
    return [edges[0][0], *(target for _, target in edges)]


def _calls(service: ServiceLike) -> Iterator[tuple[Call, bool]]:
    """The calls of a service's handler, in order, each with whether it is made in parallel."""
    for step in service.handler or []:
        if isinstance(step, Work):
            continue
        parallel = isinstance(step, Parallel)
        for call in step.parallel if isinstance(step, Parallel) else [step]:
            if isinstance(call, Call):
                yield call, parallel


def _acyclic(services: Mapping[str, ServiceLike]) -> bool:
    """Whether the calls between `services` (those of `build_call_graph`'s edges) make no
    cycle: every service is removed, callers before callees (Kahn). A callee that is not
    among `services` calls nothing, so it is in no cycle."""
    callees = {
        caller: {call.call for call, _ in _calls(service)} for caller, service in services.items()
    }
    callers = dict.fromkeys(callees, 0)
    for targets in callees.values():
        for target in targets:
            if target in callers:
                callers[target] += 1
    free = [name for name, count in callers.items() if count == 0]
    removed = 0
    while free:
        removed += 1
        for target in callees[free.pop()]:
            if target in callers:
                callers[target] -= 1
                if callers[target] == 0:
                    free.append(target)
    return removed == len(callees)


def expected_visits(graph: nx.DiGraph, entry: str | None = None) -> dict[str, float]:
    """Mean visits to each service per external request, without retries (no failures).

    With `entry`, per request entering there (it has 1). Otherwise per request of the
    traffic mix: the entry points' visits weighted by their rates; a graph without traffic
    counts requests at its only root (a service nobody calls). Visits propagate in
    topological order: a callee gets its caller's visits × calls_per_visit (the analytic
    model's flows depend on this exact order of additions).
    """
    import networkx as nx

    if entry is not None:
        if entry not in graph:
            raise KeyError(f"no service {entry!r}; {suggest(entry, list(graph))}")
        weights = {entry: 1.0}
    else:
        rates = {n: d["rate"] for n, d in graph.nodes(data=True) if d.get("rate", 0) > 0}
        if rates:
            total = sum(rates.values())
            weights = {name: rate / total for name, rate in rates.items()}
        else:
            roots = [n for n in graph if graph.in_degree(n) == 0]
            if len(roots) != 1:
                raise ValueError(
                    f"no traffic and {len(roots)} services nobody calls; name one with entry="
                )
            weights = {roots[0]: 1.0}
    visits = dict.fromkeys(graph, 0.0)
    visits.update(weights)
    for name in nx.topological_sort(graph):
        for _, callee, per_visit in graph.out_edges(name, data="calls_per_visit"):
            visits[callee] += visits[name] * per_visit
    return visits


def expected_utilisation(graph: nx.DiGraph) -> dict[str, float]:
    """Offered load per worker from the external rates: Σ rate × visits × work / workers.

    A first sizing check, before any run: above 1 a service cannot keep up. Retries,
    network serialisation and monolith deployment are not included.
    """
    utilisation = dict.fromkeys(graph, 0.0)
    for entry, rate in graph.nodes(data="rate"):
        if not rate:
            continue
        for name, visits in expected_visits(graph, entry).items():
            node = graph.nodes[name]
            utilisation[name] += rate * visits * node["work_mean_s"] / node["workers"]
    return utilisation


def uncalled_services(services: Mapping[str, Any]) -> list[str]:
    """Services of a plain `services:` mapping (YAML shape) that no other service calls.

    Where a generated topology's traffic goes. Not `Scenario.entry_points`, which are the
    services that receive traffic.
    """
    called: set[str] = set()
    for service in services.values():
        for step in (service or {}).get("handler") or []:
            group = step.get("parallel", [step]) if isinstance(step, Mapping) else []
            called.update(c["call"] for c in group if isinstance(c, Mapping) and "call" in c)
    return [name for name in services if name not in called]


__all__ = [
    "build_call_graph",
    "call_graph",
    "expected_utilisation",
    "expected_visits",
    "find_call_cycle",
    "uncalled_services",
]
