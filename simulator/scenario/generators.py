"""Services of a given shape: a chain, a fan-out tree or a random DAG.

    services = chain(5, replicas=2)          # the `services:` mapping of a 5-service chain

Generators return a plain mapping of services, the YAML shape of `services:`, so the result
can be edited, merged and validated like anything written by hand. A scenario can also ask
for one with a `topology:` section; `expand_topology` merges the generated services under
the explicit `services:` entries (explicit keys win):

    topology: {generator: chain, length: 5, template: {replicas: 2, concurrency: 4}}
    services:
      svc-5: {replicas: 8}          # the last service of the chain gets more replicas

Every generated service is named `PREFIX-N` and the first one, `PREFIX-1`, is the only
service nobody calls: send `traffic:` there.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from .mappings import deep_merge
from .messages import first_error
from .topology import (
    Degree,
    Topology,
    check_chain,
    check_dag,
    check_fields,
    check_tree,
)


class TopologyError(ValueError):
    """A bad `topology:` section: `key` is the dotted path, `message` what was expected."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


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
    check_chain(length)
    check_fields(service_fields, calls)
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
    check_tree(depth, fanout, wait_for)
    check_fields(service_fields, calls)
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
    law = check_dag(services, depth, degree)
    check_fields(service_fields, calls)
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


# ---------------------------------------------------------------------------- topology:


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
    return random_dag(
        topology.services,
        topology.depth,
        degree=topology.degree,
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
            path, message = first_error(error, dict(section))
            raise TopologyError(".".join(["topology", *path]), message) from None
        raw = {
            "work": section["work"] if "work" in section else _raw_arguments(topology)["work"],
            "template": section.get("template") or {},
            "calls": section.get("calls") or {},
        }
    generated = _generate(topology, raw)
    explicit = out.get("services") or {}
    if not isinstance(explicit, Mapping):
        return out  # the scenario's own validation says what is wrong with `services`
    out["services"] = deep_merge(generated, explicit)
    return out


__all__ = [
    "TopologyError",
    "chain",
    "expand_topology",
    "fan_out_tree",
    "generate",
    "random_dag",
]
