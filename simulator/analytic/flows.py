"""The call graph as the analytic mode sees it: queueing stations, latency trees and flows.

Pure functions of a Scenario, with no time in them. `compile_model` turns the scenario
into

* **stations**: the queues that work waits in (one per service, or one for a monolith);
* **latency trees**: what one visit to a service is made of, as nested nodes (`WorkNode`,
  `Delay`, `Seq`, `Repeat`, `Fanout`, `VisitOf`), the same steps the request-level model
  runs (`simulator.model.world` and `calls`);
* **flows**: per entry request, the expected number of visits to every service and the
  first three raw moments of the work it brings to every station (`loads`), found by
  propagating call rates (count × probability; every call of a parallel step is issued)
  down the call DAG in topological order.

The time-dependent part (rates, queues, latencies per time step) lives in `stations` and
`latency`; everything here is computed once per run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np

from ..scenario.calls import Call, Parallel
from ..scenario.calls import Work as WorkStep
from ..scenario.distributions import (
    Constant,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    Uniform,
)
from ..scenario.graph import CallLists, call_graph, call_lists, expected_visits
from ..scenario.schema import Scenario, Service

# ----------------------------------------------------------------------------- latency trees


@dataclass(frozen=True, eq=False)
class Delay:
    """A duration drawn from a scenario distribution (network latency, or one piece of work
    inside a monolith's request)."""

    dist: Distribution


@dataclass(frozen=True, eq=False)
class Fixed:
    """A constant duration (the serialisation work of a call, say)."""

    value: float


@dataclass(frozen=True, eq=False)
class Seq:
    """Parts one after the other: their durations add."""

    parts: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Repeat:
    """`part` done `count` times in turn, each time only with `probability` (a call step)."""

    part: Node
    count: int
    probability: float


@dataclass(frozen=True, eq=False)
class Fanout:
    """Branches issued at once (a parallel step); done when all made calls have answered, or
    the first `wait_for` of them (fewer if fewer were made). Each branch is a `Repeat`
    whose copies all run at once, or a `SharedWait` group."""

    branches: tuple[Repeat | SharedWait, ...]
    wait_for: int | None


@dataclass(frozen=True, eq=False)
class WorkNode:
    """Wait in FCFS order for a worker of `station`, then hold it for `service`.

    `service` is a tree without queues (a `Delay`, a `Fixed`, or for a monolith the whole
    call tree of `Seq` and `Repeat`), whose duration is one service time at the station.
    With `queued` false the wait is left out: a `SharedWait` around it accounts for it.
    """

    station: int
    service: Node
    queued: bool = True


@dataclass(frozen=True, eq=False)
class SharedWait:
    """Calls of one parallel step to one service, sent at the same moment: they find the
    same queue, so their first waits are taken as one and the same (comonotone), followed
    by the rest of each call (`members`, whose first work step is not queued). Done when
    all made calls have answered, or the first `wait_for` of them. Only for services whose
    replicas share a queue (or imitate one); the calls of a batch spread over per-replica
    queues are independent `Repeat` branches instead."""

    station: int
    members: tuple[Repeat, ...]
    wait_for: int | None


@dataclass(frozen=True, eq=False)
class VisitOf:
    """One visit to a service (arrival at its station to its answer), by name: visits are
    evaluated once per service and shared by every caller. With `queued_first` false, the
    wait of its first work step is left out (see `SharedWait`)."""

    service: str
    queued_first: bool = True


Node: TypeAlias = Delay | Fixed | Seq | Repeat | Fanout | SharedWait | WorkNode | VisitOf


# ----------------------------------------------------------------------------- stations


@dataclass(frozen=True)
class FlowStation:
    """A queue of work: `replicas` × `concurrency` workers behind `load_balancer`."""

    name: str
    replicas: int
    concurrency: int
    load_balancer: str

    @property
    def workers(self) -> int:
        return self.replicas * self.concurrency


@dataclass(frozen=True)
class Batch:
    """Calls that one parallel step sends to one service at the same moment: they arrive
    together (a batch), so they queue behind each other. `sizes[x]` = P(x calls)."""

    owner: int
    target: int
    sizes: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.arange(self.sizes.size) @ self.sizes)


@dataclass(frozen=True)
class Model:
    """Everything the analytic mode needs from a scenario, computed once.

    Attributes:
        stations: the queues (services in scenario order, or the one monolith).
        services: the service names, in scenario order.
        entries: the entry-point services (those with traffic), in scenario order.
        visits: the latency tree of one visit to each service.
        unqueued_visits: the same without the wait of the first work step, for services whose
            handler starts with one (see `SharedWait`).
        first_wait: per entry, the nodes before its first work step and that step's station
            (the request-level `start` is when the first work step begins), or None when the
            entry's handler has no work step at the top level.
        visits_per_request: entries × services, expected visits per entry request.
        called_per_request: entries × services, the part of those visits that came from a
            network call (and so carries serialisation work).
        loads: 4 × entries × stations; loads[k, e, s] is, per request at entry e, the expected
            sum over its work steps at station s of E[S^k] (k = 0 counts the work steps).
        calls: the scenario's calls (`scenario.graph.call_lists`: the call graph's nodes and
            edges with their calls_per_visit, without networkx).
        monolith: whether the services run as one process (one station, no network).
        serialisation: CPU time per network call at the callee (a work step there).
        batches: the fan-outs that send several calls to one service at once.
        batches_per_request: entries × batches, how often each batch is sent per request.
    """

    stations: tuple[FlowStation, ...]
    services: tuple[str, ...]
    entries: tuple[str, ...]
    visits: dict[str, Node]
    unqueued_visits: dict[str, Node]
    first_wait: dict[str, tuple[tuple[Node, ...], int] | None]
    visits_per_request: np.ndarray
    called_per_request: np.ndarray
    loads: np.ndarray
    calls: CallLists = field(repr=False)
    monolith: bool = False
    serialisation: float = 0.0
    batches: tuple[Batch, ...] = ()
    batches_per_request: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def _handler(spec: Service) -> list[WorkStep | Call | Parallel]:
    return list(spec.handler) if spec.handler is not None else [WorkStep()]


def _work_distribution(spec: Service, step: WorkStep) -> Distribution:
    return step.work or spec.service_time


def visits_per_request(scenario: Scenario, graph: CallLists | None = None) -> np.ndarray:
    """entries × services: expected visits to each service per request at each entry point.

    Rows in traffic order, columns in scenario order; each row is `expected_visits` at that
    entry (propagated down the DAG). Exact for expectations, whatever the distributions.
    All entries are propagated at once, one vector per service in the same topological
    order and with the same additions as `expected_visits` (so the same numbers to the
    bit): one walk of the graph instead of one per entry point (200 walks of 10,000
    services for a large fleet). `graph`: the scenario's `call_lists`, if at hand.
    """
    graph = graph if graph is not None else call_lists(scenario.services)
    entries = list(scenario.traffic)
    for entry in entries:
        if entry not in graph:
            expected_visits(call_graph(scenario), entry)  # raises its KeyError, with a suggestion
    column = {name: i for i, name in enumerate(graph.calls)}
    visits = np.zeros((len(column), len(entries)))  # one row per service: contiguous
    for row, entry in enumerate(entries):
        visits[column[entry], row] = 1.0
    for name in graph.topological_order():
        source = visits[column[name]]
        for callee, per_visit in graph.calls[name].items():
            visits[column[callee]] += source * per_visit
    return np.ascontiguousarray(visits[[column[name] for name in scenario.services]].T)


# ----------------------------------------------------------------------------- static moments


def distribution_cumulants(dist: Distribution) -> tuple[float, float, float]:
    """The first three cumulants (mean, variance, third central moment) of a distribution."""
    mean = float(dist.mean_s)
    match dist:
        case Exponential():
            return mean, mean**2, 2 * mean**3
        case Constant():
            return mean, 0.0, 0.0
        case Gamma():
            shape = 1.0 / dist.cv**2
            scale = mean / shape
            return mean, shape * scale**2, 2 * shape * scale**3
        case LogNormal():
            s2 = dist.cv**2
            second = mean**2 * (1 + s2)
            third = mean**3 * (1 + s2) ** 3
            return mean, mean**2 * s2, third - 3 * mean * second + 2 * mean**3
        case Uniform():
            return mean, (dist.cv * mean) ** 2, 0.0
        case Empirical():
            values = dist.values
            centred = values - values.mean()
            return float(values.mean()), float((centred**2).mean()), float((centred**3).mean())
    raise TypeError(f"not a distribution: {dist!r}")


def static_cumulants(node: Node) -> tuple[float, float, float]:
    """Cumulants of a tree without queues (the service time of a `WorkNode`)."""
    match node:
        case Delay():
            return distribution_cumulants(node.dist)
        case Fixed():
            return node.value, 0.0, 0.0
        case Seq():
            parts = [static_cumulants(part) for part in node.parts]
            if not parts:
                return 0, 0, 0
            k1, k2, k3 = (float(sum(values)) for values in zip(*parts, strict=True))
            return k1, k2, k3
        case Repeat():
            return compound_cumulants(static_cumulants(node.part), node.count, node.probability)
    raise TypeError(f"a service time cannot contain {type(node).__name__}")


def compound_cumulants(
    part: tuple[float, float, float], count: int, probability: float
) -> tuple[float, float, float]:
    """Cumulants of the sum of N copies of `part`, N ~ Binomial(count, probability)."""
    k1, k2, k3 = part
    n1 = count * probability
    n2 = n1 * (1 - probability)
    n3 = n2 * (1 - 2 * probability)
    return (
        n1 * k1,
        n1 * k2 + n2 * k1**2,
        n1 * k3 + 3 * n2 * k1 * k2 + n3 * k1**3,
    )


def raw_moments(cumulants: tuple[float, float, float]) -> tuple[float, float, float]:
    """E[X], E[X²], E[X³] from the first three cumulants."""
    k1, k2, k3 = cumulants
    return k1, k2 + k1**2, k3 + 3 * k2 * k1 + k1**3


# ----------------------------------------------------------------------------- compiling


def compile_model(scenario: Scenario) -> Model:
    """The stations, latency trees and flows of a scenario (microservices or monolith)."""
    graph = call_lists(scenario.services)
    services = tuple(scenario.services)
    entries = tuple(scenario.traffic)
    visits = visits_per_request(scenario, graph)
    called = visits.copy()
    for row, entry in enumerate(entries):
        called[row, services.index(entry)] -= 1.0
    if scenario.deployment == "monolith":
        return _monolith(scenario, graph, services, entries, visits, called)
    return _microservices(scenario, graph, services, entries, visits, called)


def _microservices(
    scenario: Scenario,
    graph: CallLists,
    services: tuple[str, ...],
    entries: tuple[str, ...],
    visits_per_request: np.ndarray,
    called: np.ndarray,
) -> Model:
    index = {name: i for i, name in enumerate(services)}
    network = Delay(scenario.network.latency)
    serialisation = scenario.network.serialisation
    specs = scenario.services
    stations = tuple(
        FlowStation(name, spec.replicas, spec.concurrency, spec.load_balancer)
        for name, spec in specs.items()
    )
    calls: dict[tuple[str, bool], Node] = {}

    def call_node(target: str, queued: bool = True) -> Node:
        """One network call: there, serialisation work at the callee, its visit, back."""
        key = (target, queued)
        if key not in calls:
            parts: list[Node] = [network]
            if serialisation > 0:
                parts += [WorkNode(index[target], Fixed(serialisation), queued), VisitOf(target)]
            else:
                parts.append(VisitOf(target, queued))
            parts.append(network)
            calls[key] = Seq(tuple(parts))
        return calls[key]

    def shares_queue(target: str) -> bool:
        """Whether calls sent at once to `target` wait in one queue, first thing."""
        spec = specs[target]
        central = spec.load_balancer not in ("random", "round-robin") or spec.replicas == 1
        starts_with_work = serialisation > 0 or isinstance(_handler(spec)[0], WorkStep)
        return central and starts_with_work

    def fanout(step: Parallel) -> Node:
        wait_for = None if step.wait_for == "all" else int(step.wait_for)
        groups: dict[str, list[Call]] = {}
        for c in step.parallel:
            groups.setdefault(c.call, []).append(c)
        if wait_for is not None and len(groups) > 1:  # k of several services: independent
            branches = [Repeat(call_node(c.call), c.count, c.probability) for c in step.parallel]
            return Fanout(tuple(branches), wait_for)
        nodes: list[Repeat | SharedWait] = []
        for target, group in groups.items():
            if shares_queue(target) and sum(c.count for c in group) > 1:
                members = tuple(
                    Repeat(call_node(target, queued=False), c.count, c.probability) for c in group
                )
                nodes.append(SharedWait(index[target], members, wait_for))
            else:
                nodes += [Repeat(call_node(c.call), c.count, c.probability) for c in group]
        if len(nodes) == 1 and isinstance(nodes[0], SharedWait):
            return nodes[0]
        return Fanout(tuple(nodes), wait_for if len(groups) == 1 else None)

    visits: dict[str, Node] = {}
    unqueued: dict[str, Node] = {}
    first_wait: dict[str, tuple[tuple[Node, ...], int] | None] = {}
    batches: list[Batch] = []
    # Per visit: counts and raw moments of the work steps of the handler itself.
    local = np.zeros((4, len(services)))
    for name, spec in specs.items():
        parts: list[Node] = []
        for step in _handler(spec):
            if isinstance(step, WorkStep):
                dist = _work_distribution(spec, step)
                parts.append(WorkNode(index[name], Delay(dist)))
                moments = raw_moments(distribution_cumulants(dist))
                local[:, index[name]] += (1.0, *moments)
            elif isinstance(step, Call):
                parts.append(Repeat(call_node(step.call), step.count, step.probability))
            else:
                parts.append(fanout(step))
                targets: dict[str, list[tuple[int, float]]] = {}
                for c in step.parallel:
                    targets.setdefault(c.call, []).append((c.count, c.probability))
                for target, counts in targets.items():
                    sizes = binomial_sizes(counts)
                    if sizes.size > 2:  # more than one call at once
                        batches.append(Batch(index[name], index[target], sizes))
        visits[name] = Seq(tuple(parts))
        if parts and isinstance(parts[0], WorkNode):
            unqueued[name] = Seq((WorkNode(index[name], parts[0].service, False), *parts[1:]))
        first = next((i for i, p in enumerate(parts) if isinstance(p, WorkNode)), None)
        first_wait[name] = None if first is None else (tuple(parts[:first]), index[name])
    per_call = np.array([1.0, *raw_moments((serialisation, 0.0, 0.0))])
    if serialisation <= 0:
        per_call[:] = 0.0
    loads = (
        visits_per_request[None, :, :] * local[:, None, :]
        + called[None, :, :] * per_call[:, None, None]
    )
    return Model(
        stations=stations,
        services=services,
        entries=entries,
        visits=visits,
        unqueued_visits=unqueued,
        first_wait={entry: first_wait[entry] for entry in entries},
        visits_per_request=visits_per_request,
        called_per_request=called,
        loads=loads,
        calls=graph,
        serialisation=serialisation,
        batches=tuple(batches),
        batches_per_request=visits_per_request[:, [b.owner for b in batches]],
    )


def binomial_sizes(parts: list[tuple[int, float]]) -> np.ndarray:
    """P(x) for the sum of independent Binomial(count, probability) numbers of calls."""
    sizes = np.ones(1)
    for count, probability in parts:
        x = np.arange(count + 1)
        pmf = np.array([math.comb(count, k) for k in x], dtype=float)
        pmf *= probability**x * (1 - probability) ** (count - x)
        sizes = np.convolve(sizes, pmf)
    return sizes


def _monolith(
    scenario: Scenario,
    graph: CallLists,
    services: tuple[str, ...],
    entries: tuple[str, ...],
    visits_per_request: np.ndarray,
    called: np.ndarray,
) -> Model:
    """One station; a request holds one worker for all the work of its call tree, in turn
    (in-process calls; a parallel step runs its calls one after the other)."""
    sizing = scenario.monolith
    specs = scenario.services
    replicas = sizing.replicas or sum(s.replicas for s in specs.values())
    workers = sum(s.workers for s in specs.values())
    concurrency = sizing.concurrency or max(1, round(workers / replicas))
    station = FlowStation("monolith", replicas, concurrency, sizing.load_balancer)
    trees: dict[str, Node] = {}
    for name in reversed(graph.topological_order()):
        spec = specs[name]
        parts: list[Node] = []
        for step in _handler(spec):
            if isinstance(step, WorkStep):
                parts.append(Delay(_work_distribution(spec, step)))
            else:
                group = step.parallel if isinstance(step, Parallel) else [step]
                parts += [Repeat(trees[c.call], c.count, c.probability) for c in group]
        trees[name] = Seq(tuple(parts))
    visits: dict[str, Node] = {name: WorkNode(0, trees[name]) for name in services}
    loads = np.zeros((4, len(entries), 1))
    for row, entry in enumerate(entries):
        loads[:, row, 0] = (1.0, *raw_moments(static_cumulants(trees[entry])))
    return Model(
        stations=(station,),
        services=services,
        entries=entries,
        visits=visits,
        unqueued_visits={},
        first_wait={entry: ((), 0) for entry in entries},
        visits_per_request=visits_per_request,
        called_per_request=called,
        loads=loads,
        calls=graph,
        monolith=True,
    )


def contains_fanout(node: Node, visits: dict[str, Node], seen: set[str] | None = None) -> bool:
    """Whether a tree (following visits) has a parallel step anywhere."""
    seen = set() if seen is None else seen
    match node:
        case Fanout() | SharedWait():
            return True
        case Seq():
            return any(contains_fanout(part, visits, seen) for part in node.parts)
        case Repeat():
            return contains_fanout(node.part, visits, seen)
        case VisitOf():
            if node.service in seen:
                return False
            seen.add(node.service)
            return contains_fanout(visits[node.service], visits, seen)
        case WorkNode():
            return contains_fanout(node.service, visits, seen)
    return False
