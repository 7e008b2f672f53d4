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

from .autoscaling import Autoscaling, NodeAutoscaling
from .base import ScenarioModel, knob, suggest
from .calls import Call, CallPolicy, Network, Parallel, RetryBudget, Slo
from .cluster import Cluster, Scheduler, Workloads
from .delivery import Delivery, Incidents, Monitoring, Organisation
from .discovery import Configuration, Discovery, Secrets, check_discovery_services
from .graph import find_call_cycle
from .one_world import check_one_world
from .profiles import Profile, default_profile
from .services import LOAD_BALANCER_POLICIES, LoadBalancerPolicy, Service, Slowdown
from .topology import Topology
from .units import Duration, Rate, format_duration

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class Analytic(ScenarioModel):
    """Settings of the analytic fidelity (`fidelity: analytic`); request-level runs ignore them."""

    time_step: Duration | None = knob(
        None,
        "length of one time step; empty means the longest of 1 s, 2 s, 5 s, 10 s, 15 s, 30 s, "
        "1 min, 2 min, 5 min, 10 min and 15 min that gives at least 1,000 steps "
        "(horizon / 1000 below 1,000 s)",
        "s",
        gt=0,
    )
    representative_steps: int = knob(
        16,
        "load states per entry point whose full latency distribution is computed; the "
        "others interpolate between them",
        ge=1,
    )


class Monolith(ScenarioModel):
    """How the single process is deployed when `deployment` is monolith."""

    replicas: int | None = knob(
        None, "replicas of the monolith; empty means as many as all services have together", ge=1
    )
    concurrency: int | None = knob(
        None,
        "workers per replica; empty means the services' workers spread evenly over replicas",
        ge=1,
    )
    load_balancer: LoadBalancerPolicy = knob("round-robin", "load balancer in front of it")


class Traffic(CallPolicy):
    """Requests arriving at a service from outside the system (clients with their own
    timeout and retries)."""

    arrivals: Literal["poisson"] = knob(
        "poisson", "arrival process: poisson (independent arrivals; the rate may vary in time)"
    )
    rate: Rate = knob(
        1.0, "mean arrival rate (the base the profile scales; replay ignores it)", "1/s", gt=0
    )
    profile: Profile = knob(
        default_factory=default_profile,
        description="how the rate changes over time: constant, diurnal, step, spike or replay",
    )
    retry_budget: RetryBudget = knob(
        default_factory=RetryBudget, description="budget for the clients' retries"
    )


class Record(ScenarioModel):
    """Which per-visit and per-request tables a request-level run keeps (they dominate its
    memory: docs/reliability.md, "Recording off per table")."""

    spans: bool = knob(
        True,
        "keep every visit to a service (the spans table, ~51 B each); off leaves the table "
        "empty and the services table's visit counts and latencies NaN",
    )
    requests: bool = knob(
        True,
        "keep every end-to-end request (the requests table, ~34 B each); off leaves the "
        "requests table empty and the request KPIs NaN",
    )


class Metrics(ScenarioModel):
    """What is measured, beyond the per-request records."""

    sample_interval: Duration | None = knob(
        None,
        "interval between samples of busy workers and queue lengths; "
        "empty means 1/1000 of the measured period (horizon − warmup)",
        "s",
        gt=0,
    )
    record: Record = knob(
        default_factory=Record, description="which request-level tables are recorded"
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
    topology: Topology | None = knob(
        None,
        "services generated in a shape (chain, fan-out tree, random DAG), merged under "
        "services: (explicit entries win)",
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
    fidelity: Literal["request", "analytic"] = knob(
        "request",
        "request: simulate every request exactly; analytic: queueing approximations per time "
        "step, for long horizons and large fleets",
    )
    engine: Literal["auto", "general"] = knob(
        "auto",
        "request level: auto runs a scenario of simple FCFS stations (one work step, no "
        "calls, timeouts, queue limits, autoscaling, faults or slowdowns) by the fast path, "
        "a sequential recursion with the same numbers as the event loop; general always "
        "runs the SimPy event loop",
    )
    analytic: Analytic = knob(
        default_factory=Analytic, description="settings of the analytic fidelity"
    )
    deployment: Literal["microservices", "monolith"] = knob(
        "microservices",
        "microservices: each service its own process, calls cross the network; monolith: the "
        "same work in one process, calls are in-process function calls",
    )
    monolith: Monolith = knob(default_factory=Monolith, description="sizing of the monolith")
    network: Network = knob(default_factory=Network, description="the network between services")
    slo: Slo = knob(default_factory=Slo, description="the SLO of the entry points")
    autoscaling: Autoscaling = knob(
        default_factory=Autoscaling, description="replica and node autoscaling"
    )
    metrics: Metrics = knob(default_factory=Metrics, description="measurement settings")
    organisation: Organisation = knob(
        default_factory=Organisation, description="the operations team (used by delivery)"
    )
    delivery: Delivery | None = knob(
        None, "changes and the process that deploys them; empty means no delivery model"
    )
    incidents: Incidents = knob(
        default_factory=Incidents, description="incident response (used by delivery)"
    )
    monitoring: Monitoring = knob(
        default_factory=Monitoring, description="incident detection (used by delivery)"
    )
    discovery: Discovery = knob(
        default_factory=Discovery,
        description="service discovery: how endpoint changes reach clients",
    )
    configuration: Configuration = knob(
        default_factory=Configuration,
        description="configuration management: environment config, drift, recipes",
    )
    secrets: Secrets = knob(
        default_factory=Secrets, description="credentials: static shared or leased (Vault)"
    )

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
                    "(no dots or spaces), got {name}",
                    {"name": repr(name)},
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
        for name, service in self.services.items():
            for index, step in enumerate(service.handler or []):
                calls = step.parallel if isinstance(step, Parallel) else [step]
                for call in (c for c in calls if isinstance(c, Call)):
                    if call.call not in self.services:
                        raise PydanticCustomError(
                            "unknown_service",
                            "calls a service that does not exist: {target}; {hint}",
                            {
                                "key": f"services.{name}.handler.{index}",
                                "target": repr(call.call),
                                "hint": suggest(call.call, list(self.services)),
                            },
                        )
                if isinstance(step, Parallel) and isinstance(step.wait_for, int):
                    most = sum(call.count for call in step.parallel)
                    if step.wait_for > most:
                        raise PydanticCustomError(
                            "wait_for",
                            "expected wait_for at most {most}, the calls made at once",
                            {"key": f"services.{name}.handler.{index}.wait_for", "most": most},
                        )
        check_discovery_services(self)
        check_one_world(self)
        if self.fidelity == "request":
            check_recording(self)
        if self.fidelity == "analytic":
            for name, service in self.services.items():
                if service.threading != "event-loop" or service.connection_pool.enabled:
                    raise PydanticCustomError(
                        "threads_analytic",
                        "expected threading event-loop and no connection pool with fidelity "
                        "analytic: threads held across calls and pools waited for are only "
                        "simulated at request level",
                        {
                            "key": f"services.{name}."
                            + (
                                "threading"
                                if service.threading != "event-loop"
                                else "connection_pool"
                            )
                        },
                    )
        cycle = find_call_cycle(self.services)
        if cycle:
            raise PydanticCustomError(
                "call_cycle",
                "services call each other in a cycle: {cycle}; calls must form a DAG",
                {"key": f"services.{cycle[0]}.handler", "cycle": " → ".join(cycle)},
            )
        return self

    @property
    def entry_points(self) -> list[str]:
        return list(self.traffic)

    @property
    def measured_period(self) -> float:
        return self.horizon - self.warmup

    @property
    def sample_interval(self) -> float:
        return self.metrics.sample_interval or self.measured_period / 1000


__all__ = [
    "LOAD_BALANCER_POLICIES",
    "Analytic",
    "Autoscaling",
    "LoadBalancerPolicy",
    "Metrics",
    "Monolith",
    "NodeAutoscaling",
    "Scenario",
    "Service",
    "Slowdown",
    "Traffic",
    "find_call_cycle",
]


def check_recording(scenario: Scenario) -> None:
    """Refuse recording switched off under a subsystem that reads what it would drop:
    monitoring's SLIs, rollout analysis and the discovery family's error counts read
    spans; monitoring and discovery also read requests."""
    record = scenario.metrics.record
    readers = {
        "monitoring.enabled": scenario.monitoring.enabled,
        "discovery": scenario.discovery.kind != "none" or bool(scenario.discovery.events),
        "configuration": "configuration" in scenario.model_fields_set,
        "secrets": scenario.secrets.kind != "none",
    }
    span_readers = {
        **readers,
        **{f"services.{name}.deploys": bool(s.deploys) for name, s in scenario.services.items()},
    }
    for table, on, using in (
        ("spans", record.spans, span_readers),
        ("requests", record.requests, readers),
    ):
        needing = [key for key, used in using.items() if used]
        if not on and needing:
            raise PydanticCustomError(
                "recording_off",
                "expected {table} recorded: {needing} reads them; set "
                "metrics.record.{table}: true or drop {needing}",
                {"key": f"metrics.record.{table}", "table": table, "needing": needing[0]},
            )
