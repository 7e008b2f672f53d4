"""The scenario schema: every knob of a run, its unit, its default and what it means.

This is the one place where a knob is documented; `docs/scenario-reference.md` and
`sresim explain` are generated from it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import PrivateAttr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .base import ScenarioModel, knob, suggest
from .cluster import Cluster, Scheduler, Workloads
from .distributions import Distribution, Exponential
from .units import Duration, Rate, format_duration

LoadBalancerPolicy = Literal[
    "central-queue", "round-robin", "random", "least-connections", "power-of-two"
]
LOAD_BALANCER_POLICIES: tuple[str, ...] = LoadBalancerPolicy.__args__  # type: ignore[attr-defined]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class Service(ScenarioModel):
    """A service: identical replicas behind a load balancer."""

    replicas: int = knob(1, "number of identical replicas (processes, containers or VMs)", ge=1)
    concurrency: int = knob(
        1, "requests one replica serves at once (its worker threads or processes)", ge=1
    )
    service_time: Distribution = knob(
        default_factory=lambda: Exponential(mean=0.1),
        description="time a worker spends on one request, once it has started it",
        unit="s",
    )
    load_balancer: LoadBalancerPolicy = knob(
        "round-robin",
        "how requests are spread over replicas: central-queue (one FCFS queue feeding every "
        "worker, as HAProxy with a backend queue), round-robin, random, least-connections "
        "(fewest requests in flight) or power-of-two (the less loaded of two random replicas)",
    )

    @property
    def workers(self) -> int:
        return self.replicas * self.concurrency


class Traffic(ScenarioModel):
    """Requests arriving at a service from outside the system."""

    arrivals: Literal["poisson"] = knob(
        "poisson", "arrival process: poisson (independent arrivals at a constant rate)"
    )
    rate: Rate = knob(1.0, "mean arrival rate", "1/s", gt=0)


class Metrics(ScenarioModel):
    """What is measured, beyond the per-request records."""

    sample_interval: Duration | None = knob(
        None,
        "interval between samples of busy workers and queue lengths; "
        "empty means 1/1000 of the measured period (horizon − warmup)",
        "s",
        gt=0,
    )


class Scenario(ScenarioModel):
    """A complete, validated description of one simulated world and how long to run it."""

    name: str = knob("scenario", "short name, used in tables, charts and output folders")
    description: str = knob("", "one line on what the scenario shows")
    seed: int = knob(1, "seed of every random stream in the run (same seed, same numbers)", ge=0)
    horizon: Duration = knob(3600.0, "simulated time to run, warm-up included", "s", gt=0)
    warmup: Duration = knob(
        0.0, "initial period that is simulated but excluded from every metric", "s", ge=0
    )
    services: dict[str, Service] = knob(default_factory=dict, description="the services, by name")
    traffic: dict[str, Traffic] = knob(
        default_factory=dict, description="external traffic, by the name of the service it enters"
    )
    cluster: Cluster | None = knob(None, "the nodes that run work; empty means no cluster model")
    workloads: Workloads | None = knob(
        None, "batch and service jobs submitted to the cluster's schedulers"
    )
    scheduler: Scheduler | None = knob(
        None, "the cluster scheduler; empty means no scheduling model"
    )
    metrics: Metrics = knob(default_factory=Metrics, description="measurement settings")

    _source: str = PrivateAttr("<mapping>")
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def source(self) -> str:
        """The file the scenario came from, for error messages."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The folder that relative file names in the scenario are read from."""
        return self._base_dir

    @field_validator("services")
    @classmethod
    def _service_names(cls, services: dict[str, Service]) -> dict[str, Service]:
        for name in services:
            if not _NAME_RE.match(name):
                raise PydanticCustomError(
                    "bad_name",
                    "expected a service name of letters, digits, '-' and '_' "
                    "(no dots or spaces), got {name!r}",
                    {"name": name},
                )
        return services

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.warmup >= self.horizon:
            raise PydanticCustomError(
                "warmup_too_long",
                "expected warmup shorter than horizon ({horizon}), got {warmup}",
                {
                    "key": "warmup",
                    "horizon": format_duration(self.horizon),
                    "warmup": format_duration(self.warmup),
                },
            )
        for target in self.traffic:
            if target not in self.services:
                raise PydanticCustomError(
                    "unknown_service",
                    "traffic is sent to a service that does not exist; {hint}",
                    {"key": f"traffic.{target}", "hint": suggest(target, list(self.services))},
                )
        return self

    @property
    def measured_period(self) -> float:
        return self.horizon - self.warmup

    @property
    def sample_interval(self) -> float:
        return self.metrics.sample_interval or self.measured_period / 1000
