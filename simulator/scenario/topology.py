"""The `topology:` section: services generated in a given shape, and the checks of its sizes.

The generators themselves are in `generators`; the checks are here so that a `topology:`
section is refused while it is validated, without generating its services.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .base import ScenarioModel, knob, suggest
from .calls import Call, WaitFor, work_shorthand
from .distributions import Distribution, Exponential
from .messages import first_error
from .services import Service

GENERATORS: tuple[str, ...] = ("chain", "fan-out-tree", "random-dag")
COMMON_ARGS = ("generator", "prefix", "work", "template", "calls")
GENERATOR_ARGS: dict[str, tuple[str, ...]] = {
    "chain": ("length",),
    "fan-out-tree": ("depth", "fanout", "wait_for"),
    "random-dag": ("services", "depth", "degree", "parallel", "seed"),
}
"""The arguments each generator takes, beyond the common ones."""

DEGREE_FAMILIES: tuple[str, ...] = ("geometric", "poisson", "constant")

DegreeLaw = Callable[[np.random.Generator, int], np.ndarray]
"""Draws the out-degrees of `size` services: (rng, size) → array of whole numbers."""


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
                check_probabilities(tuple(value))
            except (TypeError, ValueError) as error:
                raise PydanticCustomError("degree", str(error)) from None
        return value

    @field_validator("template")
    @classmethod
    def _service_fields(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
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
        try:  # the generator functions' own checks (sizes that fit together)
            if self.generator == "chain":
                check_chain(self.length)
            elif self.generator == "fan-out-tree":
                check_tree(self.depth, self.fanout, self.wait_for)
            else:
                check_dag(self.services, self.depth, self.degree)
            check_fields(self.template, self.calls)
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
        path, message = first_error(error, value)
        raise PydanticCustomError(
            "nested_field", "{message}", {"key": ".".join(path), "message": message}
        ) from None


# ------------------------------------------------------------- the generators' arguments
# Shared by the generator functions and the Topology model: one wording of each mistake.


def check_chain(length: Any) -> None:
    check_count("length", length)


def check_tree(depth: Any, fanout: Any, wait_for: Any) -> None:
    check_count("depth", depth)
    check_count("fanout", fanout)
    if wait_for != "all" and not (isinstance(wait_for, int) and 1 <= wait_for <= fanout):
        raise ValueError(f"expected wait_for 'all' or a whole number from 1 to {fanout}")


def check_dag(
    services: Any, depth: Any, degree: Mapping[str, Any] | Sequence[float] | Degree | None
) -> DegreeLaw:
    """Check random-dag's sizes and degree; the out-degree law the degree describes."""
    check_count("services", services)
    check_count("depth", depth)
    if services < depth:
        raise ValueError(f"expected at least {depth} services for depth {depth}, got {services}")
    if depth == 1 and services > 1:
        raise ValueError("depth 1 has room for the entry point only; expected services: 1")
    return degree_law(degree)


def check_fields(fields: Mapping[str, Any], calls: Mapping[str, Any] | None) -> None:
    if "handler" in fields:
        raise ValueError("the generator writes the handlers; set one service's handler after")
    if calls and "call" in calls:
        raise ValueError("the generator chooses the services called; leave 'call' out of calls")


def check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected {name} a whole number of at least 1, got {value!r}")


def check_probabilities(values: tuple[float, ...]) -> tuple[float, ...]:
    if not values or any(not math.isfinite(p) or p < 0 for p in values):
        raise ValueError("expected degree probabilities of 0, 1, 2, ... calls: numbers ≥ 0")
    if abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"expected degree probabilities that add up to 1, got {sum(values):g}")
    return values


def degree_law(degree: Mapping[str, Any] | Sequence[float] | Degree | None) -> DegreeLaw:
    """The out-degree law of a distribution (Degree or its mapping) or of a probability list."""
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
            path, message = first_error(error, dict(degree))
            raise ValueError(f"{'.'.join(['degree', *path])}: {message}") from None
    if isinstance(degree, Degree):
        return degree.draw
    probabilities = np.asarray(check_probabilities(tuple(degree)), dtype=float)
    probabilities = probabilities / probabilities.sum()

    def draw(rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(probabilities.size, size=size, p=probabilities)

    return draw
