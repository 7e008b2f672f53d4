"""Call graphs: read one from a scenario, or generate services of a given shape.

    graph = call_graph(scenario)             # networkx DiGraph, caller → callee
    expected_visits(graph)                   # visits per service per external request
    services = chain(5, replicas=2)          # the `services:` mapping of a 5-service chain

Generators return a plain mapping of services, the YAML shape of `services:`, so the result
can be edited, merged and validated like anything written by hand. A scenario can also ask
for one with a `topology:` section; `expand_topology` merges the generated services under
the explicit `services:` entries (explicit keys win):

    topology: {generator: chain, length: 5, template: {replicas: 2, concurrency: 4}}
    services:
      svc-5: {replicas: 8}          # the last service of the chain gets more replicas

Every generated service is named `PREFIX-N` and the first one, `PREFIX-1`, is the only
entry point (nobody calls it): send `traffic:` there.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .scenario.base import ScenarioModel, knob, suggest
from .scenario.calls import WaitFor, work_shorthand
from .scenario.distributions import Distribution, Exponential

if TYPE_CHECKING:
    import networkx as nx

    from .scenario.schema import Scenario

GENERATORS: tuple[str, ...] = ("chain", "fan-out-tree", "random-dag")
COMMON_ARGS = ("generator", "prefix", "work", "template", "calls")
GENERATOR_ARGS: dict[str, tuple[str, ...]] = {
    "chain": ("length",),
    "fan-out-tree": ("depth", "fanout", "wait_for"),
    "random-dag": ("services", "depth", "degree", "parallel", "seed"),
}
"""The arguments each generator takes, beyond the common ones."""

DEGREE_FAMILIES: tuple[str, ...] = ("geometric", "poisson", "constant")


class Degree(ScenarioModel):
    """How many services each generated service calls (random-dag): its out-degree."""

    distribution: Literal["geometric", "poisson", "constant"] = knob(
        "geometric",
        "geometric: 1, 2, 3, ... (every non-leaf service calls at least one), "
        "poisson: 0, 1, 2, ..., constant: always the mean",
    )
    mean: float = knob(2.0, "mean number of services called", "-", ge=0)

    @model_validator(mode="after")
    def _possible(self) -> Degree:
        if self.distribution == "geometric" and self.mean < 1:
            raise ValueError(f"expected a mean of at least 1 for geometric, got {self.mean:g}")
        if self.distribution == "constant" and self.mean != int(self.mean):
            raise ValueError(f"expected a whole number for constant, got {self.mean:g}")
        return self

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.distribution == "geometric":
            return rng.geometric(1.0 / self.mean, size)
        if self.distribution == "poisson":
            return rng.poisson(self.mean, size)
        return np.full(size, int(self.mean))


class Topology(ScenarioModel):
    """Services generated in a given shape, merged under the explicit `services:` entries.

    Generated services are named PREFIX-1, PREFIX-2, ... (the tree names children after their
    parent: PREFIX-1-2 is the second child of PREFIX-1); PREFIX-1 is the entry point. Each
    has the `template` fields and a handler of `work`, then its calls.
    """

    generator: Literal["chain", "fan-out-tree", "random-dag"] = knob(
        "chain",
        "the shape: chain (each service calls the next), fan-out-tree (each service calls "
        "`fanout` children at once) or random-dag (random calls from each layer to deeper "
        "layers, acyclic by construction)",
    )
    prefix: str = knob(
        "svc",
        "start of the generated service names (letters, digits, '-' and '_')",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
    )
    work: Distribution | None = knob(
        default_factory=lambda: Exponential(mean=0.005),
        description="local work of each generated service per visit, before its calls; a "
        "plain duration means an exponential with that mean; empty means the template's "
        "service_time",
        unit="s",
    )
    template: dict[str, Any] = knob(
        default_factory=dict,
        description="service fields every generated service gets (replicas, concurrency, "
        "service_time, load_balancer, queue_limit, circuit_breaker, retry_budget); not handler",
    )
    calls: dict[str, Any] = knob(
        default_factory=dict,
        description="fields of every generated call (timeout, retries, backoff, count, "
        "probability, optional, ...); not call",
    )
    length: int = knob(3, "chain: number of services", ge=1)
    depth: int = knob(
        3,
        "fan-out-tree and random-dag: services on the longest call path (1 = the entry alone)",
        ge=1,
    )
    fanout: int = knob(2, "fan-out-tree: children each service calls at once", ge=1)
    wait_for: WaitFor = knob(
        "all", "fan-out-tree: wait for all children's answers, or for the first k successful"
    )
    services: int = knob(10, "random-dag: number of services", ge=1)
    degree: Degree | tuple[float, ...] = knob(
        default_factory=Degree,
        description="random-dag: services each non-leaf service calls: a distribution "
        "({distribution: geometric, mean: 2}) or the probabilities of 0, 1, 2, ... calls "
        "([0, 0.5, 0.5] is one or two); then every service gets a caller in the layer above",
    )
    parallel: bool = knob(
        True, "random-dag: call a service's callees at once (true) or one after another"
    )
    seed: int = knob(1, "random-dag: seed of the graph (independent of the run's seed)", ge=0)

    @field_validator("generator", mode="before")
    @classmethod
    def _known_generator(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace("_", "-")
            if value not in GENERATORS:
                raise PydanticCustomError(
                    "unknown_generator",
                    "unknown generator {name}; {hint}",
                    {"name": repr(value), "hint": suggest(value, list(GENERATORS))},
                )
        return value

    @field_validator("work", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return work_shorthand(value)

    @field_validator("degree", mode="before")
    @classmethod
    def _degree_law(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, Mapping):
            family = value.get("distribution", "geometric")
            if family not in DEGREE_FAMILIES:
                raise PydanticCustomError(
                    "unknown_distribution",
                    "unknown degree distribution {name}; {hint}",
                    {"name": repr(family), "hint": suggest(str(family), list(DEGREE_FAMILIES))},
                )
            return _check_model(Degree, dict(value), info)
        if isinstance(value, list | tuple):
            try:
                _check_probabilities(tuple(value))
            except (TypeError, ValueError) as error:
                raise PydanticCustomError("degree", str(error)) from None
        return value

    @field_validator("template")
    @classmethod
    def _service_fields(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from .scenario.schema import Service

        if "handler" in value:
            raise PydanticCustomError(
                "template_handler",
                "the generator writes the handlers; give one service its own handler under "
                "services: instead",
                {"key": "handler"},
            )
        _check_model(Service, value, info)
        return value

    @field_validator("calls")
    @classmethod
    def _call_fields(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from .scenario.calls import Call

        if "call" in value:
            raise PydanticCustomError(
                "calls_target",
                "the generator chooses the services called; leave out 'call'",
                {"key": "call"},
            )
        _check_model(Call, {"call": "-", **value}, info)
        return value

    @model_validator(mode="after")
    def _arguments_fit(self) -> Topology:
        allowed = set(COMMON_ARGS) | set(GENERATOR_ARGS[self.generator])
        given = sorted(
            name
            for name in self.model_fields_set - allowed
            if getattr(self, name) != _DEFAULTS[name]  # a dumped Topology has every field
        )
        if given:
            name, takes = given[0], ", ".join(GENERATOR_ARGS[self.generator])
            raise PydanticCustomError(
                "not_an_argument",
                "{generator} does not take {name}; it takes {takes}",
                {"key": name, "generator": self.generator, "name": repr(name), "takes": takes},
            )
        try:  # the checks of the generator functions (sizes that fit together)
            generate(self)
        except ValueError as error:
            raise PydanticCustomError("topology", str(error)) from None
        return self


_DEFAULTS: dict[str, Any] = {
    name: field.get_default(call_default_factory=True)
    for name, field in Topology.model_fields.items()
}


def _check_model(model: Any, value: dict[str, Any], info: ValidationInfo) -> Any:
    """Validate `value` as `model`; its first error becomes one error with the key inside."""
    try:
        return model.model_validate(value, context=info.context)
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        ctx = detail.get("ctx") or {}
        path = _data_path(detail["loc"], value)
        message = _message(detail)
        if ctx.get("key"):
            path.append(str(ctx["key"]))
        raise PydanticCustomError(
            "nested_field", "{message}", {"key": ".".join(path), "message": message}
        ) from None


def _data_path(loc: Sequence[Any], data: Any) -> list[str]:
    """The parts of a pydantic location that are in the data (not union member tags)."""
    path: list[str] = []
    node = data
    for part in loc:
        inside = (isinstance(node, Mapping) and part in node) or (
            isinstance(node, list | tuple) and isinstance(part, int) and part < len(node)
        )
        if inside:
            node = node[part]
            path.append(str(part))
    return path


def _message(detail: Mapping[str, Any]) -> str:
    """One pydantic error as the loader words it: "expected ...", "unknown key; ..."."""
    if detail["type"] == "unknown_key":
        return f"unknown key; {(detail.get('ctx') or {}).get('hint', '')}"
    message = str(detail["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message.startswith("Input should be"):
        message = "expected " + message.removeprefix("Input should be ").strip()
    return message


class TopologyError(ValueError):
    """A bad `topology:` section: `key` is the dotted path, `message` what was expected."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


# ---------------------------------------------------------------------------- generators


def chain(
    length: int,
    work: Any = "5ms",
    prefix: str = "svc",
    calls: Mapping[str, Any] | None = None,
    **service_fields: Any,
) -> dict[str, dict[str, Any]]:
    """`length` services, each calling the next: PREFIX-1 → PREFIX-2 → ... → PREFIX-length.

    Each does `work` (a duration such as "5ms", read as an exponential mean, or a
    distribution mapping; None: the service_time of `service_fields`) and then calls the next
    one with the `calls` fields (timeout, retries, ...). `service_fields` are copied into
    every service (replicas=2, concurrency=4, ...).
    """
    _check_positive("length", length)
    _check_fields(service_fields, calls)
    names = [f"{prefix}-{i}" for i in range(1, length + 1)]
    return {
        name: _service(service_fields, work, [[names[i + 1]]] if i + 1 < length else [], calls)
        for i, name in enumerate(names)
    }


def fan_out_tree(
    depth: int,
    fanout: int,
    work: Any = "5ms",
    wait_for: str | int = "all",
    prefix: str = "svc",
    calls: Mapping[str, Any] | None = None,
    **service_fields: Any,
) -> dict[str, dict[str, Any]]:
    """A tree `depth` services deep; each non-leaf calls its `fanout` children in parallel.

    The tree has Σ fanout^i (i < depth) services. The root is PREFIX-1 and children are
    named after their parent (PREFIX-1-2 is the root's second child). A parent waits for
    all its children, or for the first `wait_for` successful answers. `work`, `calls` and
    `service_fields` as for `chain`.
    """
    _check_positive("depth", depth)
    _check_positive("fanout", fanout)
    if wait_for != "all" and not (isinstance(wait_for, int) and 1 <= wait_for <= fanout):
        raise ValueError(f"expected wait_for 'all' or a whole number from 1 to {fanout}")
    _check_fields(service_fields, calls)
    services: dict[str, dict[str, Any]] = {}
    level = [f"{prefix}-1"]
    for height in range(depth):
        following = []
        for name in level:
            children = [f"{name}-{j}" for j in range(1, fanout + 1)]
            leaf = height == depth - 1
            groups = [] if leaf else [children]
            services[name] = _service(service_fields, work, groups, calls, parallel=True)
            last = services[name].get("handler", [{}])[-1]
            if wait_for != "all" and "parallel" in last:
                last["wait_for"] = wait_for
            following += [] if leaf else children
        level = following
    return services


def random_dag(
    services: int,
    depth: int,
    degree: Mapping[str, Any] | Sequence[float] | Degree | None = None,
    seed: int = 1,
    work: Any = "5ms",
    parallel: bool = True,
    prefix: str = "svc",
    calls: Mapping[str, Any] | None = None,
    **service_fields: Any,
) -> dict[str, dict[str, Any]]:
    """`services` services in `depth` layers, calls only from a layer to deeper ones.

    Layer 1 is the entry point PREFIX-1; the others share the remaining services as evenly
    as possible (the deeper layers get the spare ones: back ends outnumber front ends).
    Each service above the last layer draws its out-degree from `degree` (default
    `{distribution: geometric, mean: 2}`; or a list of the probabilities of 0, 1, 2, ...
    calls) and calls that many distinct deeper services, the next layer twice as likely as
    the one after, and so on. Then every service without a caller in the layer just above
    gets one there, so every service is reachable and the longest call path has exactly
    `depth` services. This raises out-degrees above the drawn ones where a layer has few
    services for the next one: the entry point always calls all of layer 2. Calls go out at once
    (`parallel`) or one after another. The same arguments give the same graph: the only
    randomness is `numpy.random.default_rng(seed)`.
    """
    _check_positive("services", services)
    _check_positive("depth", depth)
    if services < depth:
        raise ValueError(f"expected at least {depth} services for depth {depth}, got {services}")
    if depth == 1 and services > 1:
        raise ValueError("depth 1 has room for the entry point only; expected services: 1")
    law = _degree(degree)
    _check_fields(service_fields, calls)
    rng = np.random.default_rng(seed)
    sizes = [1, *_even_split(services - 1, depth - 1)]
    layers: list[list[str]] = []
    number = 1
    for size in sizes:
        layers.append([f"{prefix}-{number + k}" for k in range(size)])
        number += size
    callees: dict[str, set[str]] = {name: set() for layer in layers for name in layer}
    for index, layer in enumerate(layers[:-1]):
        deeper = [name for later in layers[index + 1 :] for name in later]
        weights = np.concatenate(
            [np.full(len(later), 0.5**gap) for gap, later in enumerate(layers[index + 1 :])]
        )
        weights /= weights.sum()
        counts = law(rng, len(layer))
        for name, count in zip(layer, counts, strict=True):
            take = int(min(count, len(deeper)))
            if take:
                chosen = rng.choice(len(deeper), size=take, replace=False, p=weights)
                callees[name].update(deeper[i] for i in chosen)
        called = set().union(*(callees[caller] for caller in layer))
        for name in layers[index + 1]:  # a caller in the layer just above, for the depth
            if name not in called:
                callees[layer[int(rng.integers(len(layer)))]].add(name)
    order = {name: i for i, name in enumerate(callees)}
    return {
        name: _service(
            service_fields,
            work,
            _call_groups(sorted(callees[name], key=order.__getitem__), parallel),
            calls,
            parallel=parallel,
        )
        for name in callees
    }


def _call_groups(targets: list[str], parallel: bool) -> list[list[str]]:
    if not targets:
        return []
    return [targets] if parallel else [[target] for target in targets]


def _service(
    fields: Mapping[str, Any],
    work: Any,
    groups: list[list[str]],
    calls: Mapping[str, Any] | None,
    parallel: bool = False,
) -> dict[str, Any]:
    """One service mapping: the template fields and a handler of work, then the calls."""
    service = copy.deepcopy(dict(fields))
    handler: list[dict[str, Any]] = []
    if work is not None:
        handler.append({"work": copy.deepcopy(work)})
    policy = dict(calls or {})
    for group in groups:
        made = [{"call": target, **copy.deepcopy(policy)} for target in group]
        if parallel and len(made) > 1:
            handler.append({"parallel": made})
        else:
            handler.extend(made)
    if handler:
        service["handler"] = handler
    return service


def _even_split(total: int, parts: int) -> list[int]:
    if parts <= 0:
        return []
    base, spare = divmod(total, parts)
    return [base + (1 if part >= parts - spare else 0) for part in range(parts)]


def _degree(degree: Mapping[str, Any] | Sequence[float] | Degree | None):  # type: ignore[no-untyped-def]
    """A function (rng, size) → out-degrees, from a distribution or a list of probabilities."""
    if degree is None:
        degree = Degree()
    if isinstance(degree, Mapping):
        family = degree.get("distribution", "geometric")
        if family not in DEGREE_FAMILIES:
            hint = suggest(str(family), list(DEGREE_FAMILIES))
            raise ValueError(f"unknown degree distribution {family!r}; {hint}")
        try:
            degree = Degree.model_validate(dict(degree))
        except ValidationError as error:
            detail = error.errors(include_url=False)[0]
            where = ".".join(str(p) for p in detail["loc"])
            raise ValueError(f"degree{'.' + where if where else ''}: {_message(detail)}") from None
    if isinstance(degree, Degree):
        return degree.draw
    probabilities = np.asarray(_check_probabilities(tuple(degree)), dtype=float)
    probabilities = probabilities / probabilities.sum()
    return lambda rng, size: rng.choice(probabilities.size, size=size, p=probabilities)


def _check_probabilities(values: tuple[float, ...]) -> tuple[float, ...]:
    if not values or any(not math.isfinite(p) or p < 0 for p in values):
        raise ValueError("expected degree probabilities of 0, 1, 2, ... calls: numbers ≥ 0")
    if abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"expected degree probabilities that add up to 1, got {sum(values):g}")
    return values


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected {name} a whole number of at least 1, got {value!r}")


def _check_fields(fields: Mapping[str, Any], calls: Mapping[str, Any] | None) -> None:
    if "handler" in fields:
        raise ValueError("the generator writes the handlers; set one service's handler after")
    if calls and "call" in calls:
        raise ValueError("the generator chooses the services called; leave 'call' out of calls")


def generate(topology: Topology | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services a `topology:` section describes (a Topology or its mapping)."""
    if not isinstance(topology, Topology):
        return expand_topology({"topology": dict(topology)})["services"]
    return _generate(topology, _raw_arguments(topology))


def _raw_arguments(topology: Topology) -> dict[str, Any]:
    """The arguments as the generator functions take them (durations stay as parsed)."""
    work = topology.work.model_dump(mode="json") if topology.work is not None else None
    return {"work": work, "template": topology.template, "calls": topology.calls}


def _generate(topology: Topology, raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    common = {"work": raw["work"], "prefix": topology.prefix, "calls": raw["calls"]}
    template = dict(raw["template"])
    if topology.generator == "chain":
        return chain(topology.length, **common, **template)
    if topology.generator == "fan-out-tree":
        return fan_out_tree(
            topology.depth, topology.fanout, wait_for=topology.wait_for, **common, **template
        )
    degree = topology.degree
    return random_dag(
        topology.services,
        topology.depth,
        degree=degree,
        seed=topology.seed,
        parallel=topology.parallel,
        **common,
        **template,
    )


def expand_topology(data: Mapping[str, Any], base_dir: Any = None) -> dict[str, Any]:
    """The scenario mapping with the `topology:` section's services merged in.

    Generated services go under the explicit `services:` entries: explicit keys win, and
    mappings merge key by key (a list such as `handler` is replaced whole). `topology` stays
    as it is. Without a `topology:` key, a shallow copy of `data`. Raises TopologyError (a
    ValueError with a one-line message naming the key) for an unknown generator or bad
    arguments. `base_dir` is where relative file names (empirical work samples) are read.
    """
    out = dict(data)
    section = out.get("topology")
    if section is None:
        return out
    if isinstance(section, Topology):
        topology, raw = section, _raw_arguments(section)
    else:
        if not isinstance(section, Mapping):
            raise TopologyError(
                "topology", "expected a mapping such as {generator: chain, length: 5}"
            )
        context = {"base_dir": base_dir} if base_dir is not None else None
        try:
            topology = Topology.model_validate(dict(section), context=context)
        except ValidationError as error:
            raise _one_line(error, section) from None
        raw = {
            "work": section["work"] if "work" in section else _raw_arguments(topology)["work"],
            "template": section.get("template") or {},
            "calls": section.get("calls") or {},
        }
    generated = _generate(topology, raw)
    explicit = out.get("services") or {}
    if not isinstance(explicit, Mapping):
        return out  # the scenario's own validation says what is wrong with `services`
    out["services"] = _deep_merge(generated, explicit)
    return out


def _one_line(error: ValidationError, section: Mapping[str, Any]) -> TopologyError:
    detail = error.errors(include_url=False)[0]
    ctx = detail.get("ctx") or {}
    path = ["topology", *_data_path(detail["loc"], section)]
    message = _message(detail)
    if ctx.get("key"):
        path += str(ctx["key"]).split(".")
    return TopologyError(".".join(path), message)


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else in `top` replaces what `base` had."""
    result = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# ---------------------------------------------------------------------------- call graphs


def call_graph(scenario: Any) -> nx.DiGraph:
    """The scenario's services as a directed graph, caller → callee.

    `scenario` is a Scenario, a Result (its scenario), or anything `load_scenario` reads.
    Node attributes: replicas, concurrency, workers, work_mean_s (mean local work per
    visit: the handler's work steps, or service_time without a handler; network
    serialisation not included), load_balancer, entry (receives external traffic) and rate
    (its external rate per second, 0 if none). Edge attributes: calls_per_visit (count ×
    probability, summed over the caller's handler), parallel (some call to it is in a
    parallel step), timeout and retries (of the first call to it in the handler; timeout
    None means none), optional.
    """
    import networkx as nx

    from .scenario.calls import Call, Parallel, Work

    scenario = _as_scenario(scenario)
    graph = nx.DiGraph(name=scenario.name)
    for name, service in scenario.services.items():
        rate = scenario.traffic[name].rate if name in scenario.traffic else 0.0
        if service.handler is None:
            work = service.service_time.mean_s
        else:
            work = sum(
                (step.work or service.service_time).mean_s
                for step in service.handler
                if isinstance(step, Work)
            )
        graph.add_node(
            name,
            replicas=service.replicas,
            concurrency=service.concurrency,
            workers=service.workers,
            work_mean_s=float(work),
            load_balancer=service.load_balancer,
            entry=name in scenario.traffic,
            rate=float(rate),
        )
    for name, service in scenario.services.items():
        for step in service.handler or []:
            if isinstance(step, Work):
                continue
            group = step.parallel if isinstance(step, Parallel) else [step]
            for call in group:
                assert isinstance(call, Call)
                per_visit = call.count * call.probability
                if graph.has_edge(name, call.call):
                    edge = graph.edges[name, call.call]
                    edge["calls_per_visit"] += per_visit
                    edge["parallel"] = edge["parallel"] or isinstance(step, Parallel)
                else:
                    graph.add_edge(
                        name,
                        call.call,
                        calls_per_visit=per_visit,
                        parallel=isinstance(step, Parallel),
                        timeout=call.timeout,
                        retries=call.retries,
                        optional=call.optional,
                    )
    return graph


def _as_scenario(source: Any) -> Scenario:
    from .scenario.loader import load_scenario
    from .scenario.schema import Scenario

    if isinstance(source, Scenario):
        return source
    inner = getattr(source, "scenario", None)
    if isinstance(inner, Scenario):
        return inner
    return load_scenario(source)


def expected_visits(graph: nx.DiGraph, entry: str | None = None) -> dict[str, float]:
    """Mean visits to each service per external request, without retries (no failures).

    With `entry`, per request entering there (it has 1). Otherwise per request of the
    traffic mix: the entry points' visits weighted by their rates; a graph without traffic
    counts requests at its only root (a service nobody calls). Visits propagate in
    topological order: a callee gets its caller's visits × calls_per_visit.
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


def entry_points(services: Mapping[str, Any]) -> list[str]:
    """Services in a `services:` mapping that no other service calls (where traffic goes)."""
    called: set[str] = set()
    for service in services.values():
        for step in (service or {}).get("handler") or []:
            group = step.get("parallel", [step]) if isinstance(step, Mapping) else []
            called.update(c["call"] for c in group if isinstance(c, Mapping) and "call" in c)
    return [name for name in services if name not in called]


__all__ = [
    "GENERATORS",
    "Degree",
    "Topology",
    "TopologyError",
    "call_graph",
    "chain",
    "entry_points",
    "expand_topology",
    "expected_utilisation",
    "expected_visits",
    "fan_out_tree",
    "generate",
    "random_dag",
]
