"""A service: identical replicas behind a load balancer, and what it does with a request.

Below the scenario schema so that `topology.template` can be checked as a Service.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import field_validator

from .base import ScenarioModel, knob
from .calls import Call, CircuitBreaker, ConnectionPool, Parallel, RetryBudget, Step
from .distributions import Distribution, Exponential
from .rollout import Deploy, check_deploys
from .units import Duration

LoadBalancerPolicy = Literal[
    "central-queue", "round-robin", "random", "least-connections", "power-of-two"
]
LOAD_BALANCER_POLICIES: tuple[str, ...] = get_args(LoadBalancerPolicy)
Threading = Literal["event-loop", "thread-per-request"]


class Slowdown(ScenarioModel):
    """A period when the service's work takes longer: a GC storm, a noisy neighbour, a slow
    disk. Work that starts inside the period takes `factor` times as long."""

    at: Duration = knob(0.0, "when the slowdown starts", "s", ge=0)
    duration: Duration = knob(60.0, "how long it lasts", "s", gt=0)
    factor: float = knob(2.0, "how many times longer work takes meanwhile", gt=0)


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

    threading: Threading = knob(
        "event-loop",
        "what a request holds while the service waits for its calls: event-loop (nothing: a "
        "worker is busy only during work steps, as in Node.js or an async server) or "
        "thread-per-request (the worker, its thread, from its first step to its answer, "
        "calls included, as a Tomcat or gunicorn sync worker; `concurrency` is then the "
        "thread pool, e.g. Tomcat's maxThreads default 200)",
    )
    handler: list[Step] | None = knob(
        None,
        "what the service does with a request, step by step (work, call, parallel); "
        "empty means one work step of service_time",
    )
    queue_limit: int | None = knob(
        None,
        "requests that may wait for a worker (per replica, or in the central queue); more are "
        "rejected (load shedding); empty means no limit",
        ge=0,
    )
    min_replicas: int | None = knob(
        None, "fewest replicas the autoscaler keeps; empty means `replicas`", ge=1
    )
    max_replicas: int | None = knob(
        None, "most replicas the autoscaler runs; empty means 10 × `replicas`", ge=1
    )
    slowdowns: list[Slowdown] = knob(
        default_factory=list, description="periods when this service's work is slower"
    )
    circuit_breaker: CircuitBreaker = knob(
        default_factory=CircuitBreaker, description="breakers on this service's outgoing calls"
    )
    connection_pool: ConnectionPool = knob(
        default_factory=ConnectionPool,
        description="connection pools (bulkheads) on this service's outgoing calls",
    )
    retry_budget: RetryBudget = knob(
        default_factory=RetryBudget, description="budget for this service's outgoing retries"
    )
    deploys: list[Deploy] = knob(
        default_factory=list,
        description="scripted rollouts of new versions (rolling, blue-green, canary, manual), "
        "each with what its version does wrong; the services start at version 0",
    )

    @field_validator("deploys")
    @classmethod
    def _versions(cls, deploys: list[Deploy]) -> list[Deploy]:
        check_deploys(deploys)
        return deploys

    @property
    def workers(self) -> int:
        return self.replicas * self.concurrency

    def calls(self) -> list[Call]:
        """Every call the handler can make, in order."""
        found: list[Call] = []
        for step in self.handler or []:
            if isinstance(step, Call):
                found.append(step)
            elif isinstance(step, Parallel):
                found.extend(step.parallel)
        return found
