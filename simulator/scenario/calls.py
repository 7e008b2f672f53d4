"""Handlers and calls: what a service does with a request, and how callers protect themselves.

A handler is a list of steps: local `work`, a `call` to another service, or a `parallel`
fan-out that waits for all calls or for the first k. Callers set timeouts, retries with
backoff and jitter, retry budgets and circuit breakers, as real RPC clients do.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Tag, field_validator

from .base import ScenarioModel, knob
from .distributions import Distribution, Exponential
from .units import Duration, Rate, parse_duration

FailureCause = Literal[
    "timeout",
    "rejected",
    "circuit_open",
    "stale_endpoint",
    "misconfigured",
    "unauthorized",
    "defect",
    "unavailable",
]


class CallPolicy(ScenarioModel):
    """The caller's side of a call: how long it waits and how it retries."""

    timeout: Duration | None = knob(
        None, "give up on an attempt after this long; empty means wait for ever", "s", gt=0
    )
    retries: int = knob(0, "attempts after the first one, if it failed", ge=0)
    backoff: Duration = knob(
        0.025, "wait before the first retry; doubles with every retry after it", "s", ge=0
    )
    backoff_max: Duration = knob(1.0, "longest wait between retries", "s", ge=0)
    jitter: bool = knob(
        True, "full jitter: wait a uniform random time up to the backoff (avoids retry waves)"
    )
    retry_on: tuple[FailureCause, ...] = knob(
        ("timeout", "rejected"), "failure causes that are retried"
    )


def work_shorthand(value: Any) -> Any:
    """`work: 5ms` means an exponential with mean 5 ms; a mapping is a full distribution."""
    if value is None or isinstance(value, dict):
        return value
    return {"distribution": "exponential", "mean": parse_duration(value)}


class Work(ScenarioModel):
    """Local work on one of the replica's workers (CPU time, say)."""

    work: Distribution | None = knob(
        None,
        "time a worker spends; a plain duration means an exponential with that mean; "
        "empty means the service's service_time",
        "s",
    )

    @field_validator("work", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return work_shorthand(value)


class Call(CallPolicy):
    """A call to another service; the handler waits for its answer."""

    call: str = knob("", "the service called")
    count: int = knob(1, "how many times it is called (in turn, or at once inside parallel)", ge=1)
    probability: float = knob(1.0, "chance that each of those calls is made", ge=0, le=1)
    optional: bool = knob(
        False, "if true, a failed call does not fail the caller (graceful degradation)"
    )


def _at_least_one(value: str | int) -> str | int:
    if isinstance(value, int) and value < 1:
        raise ValueError(f"expected 'all' or a whole number of at least 1, got {value}")
    return value


WaitFor = Annotated[Literal["all"] | int, AfterValidator(_at_least_one)]
"""How many answers of a fan-out to wait for: all, or the first k successful ones."""


class Parallel(ScenarioModel):
    """Calls made at once (fan-out); the handler goes on when enough have answered."""

    parallel: list[Call] = knob(default_factory=list, description="the calls made at once")
    wait_for: WaitFor = knob("all", "wait for all answers, or for the first k successful ones")


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for kind in ("work", "call", "parallel"):
            if kind in value:
                return kind
        return None
    if isinstance(value, Work | Call | Parallel):
        return {Work: "work", Call: "call", Parallel: "parallel"}[type(value)]
    return None


Step = Annotated[
    Annotated[Work, Tag("work")]
    | Annotated[Call, Tag("call")]
    | Annotated[Parallel, Tag("parallel")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="expected a step with one of the keys work, call or parallel",
    ),
]
"""One step of a handler: `work`, `call` or `parallel`."""


class CircuitBreaker(ScenarioModel):
    """Stops calling a dependency that keeps failing, and tries again after a pause."""

    enabled: bool = knob(False, "whether this service's calls go through circuit breakers")
    failure_ratio: float = knob(
        0.5, "share of failed calls in the window that opens the breaker", gt=0, le=1
    )
    window: Duration = knob(10.0, "how far back the failure share is measured", "s", gt=0)
    min_calls: int = knob(20, "calls needed in the window before the breaker may open", ge=1)
    open_for: Duration = knob(
        5.0, "how long an open breaker fails calls at once before it probes", "s", gt=0
    )
    half_open_calls: int = knob(
        5, "trial calls let through after the pause; all must succeed to close", ge=1
    )


class ConnectionPool(ScenarioModel):
    """Connections from each replica of the caller to each service it calls, one pool per
    called service (separate pools: a bulkhead). A call takes a connection for each attempt
    and gives it back when it has its answer or gives up; with none free it waits, and fails
    (`rejected`) when it has waited `acquire_timeout`. A small pool with no wait is a
    semaphore bulkhead (Resilience4j: 25 calls, no wait, by default)."""

    enabled: bool = knob(False, "whether this service's calls go through connection pools")
    size: int = knob(
        10,
        "connections to each called service, per replica of the caller (HikariCP's "
        "maximumPoolSize default)",
        ge=1,
    )
    acquire_timeout: Duration | None = knob(
        30.0,
        "longest wait for a free connection before the call fails as rejected; 0 fails at once "
        "(a bulkhead), empty waits for ever (HikariCP's connectionTimeout default 30 s)",
        "s",
        ge=0,
    )


class RetryBudget(ScenarioModel):
    """Caps retries at a share of first attempts, as Finagle's and gRPC's budgets do."""

    enabled: bool = knob(False, "whether this service's retries draw on a budget")
    ratio: float = knob(0.2, "retries allowed per first attempt", ge=0)
    min_rate: Rate = knob(10.0, "retries always allowed per second, however few calls", "1/s", ge=0)


class Network(ScenarioModel):
    """The network between services: one latency between nodes, and optionally a shorter
    one when the caller's and the callee's replicas share a node (placement from
    `cluster` and `workloads`)."""

    latency: Distribution = knob(
        default_factory=lambda: Exponential(mean=0.00025),
        description="one-way latency of a message between two services",
        unit="s",
    )
    same_node_latency: Distribution | None = knob(
        None,
        "one-way latency when caller and callee replicas share a node (needs a `cluster`); "
        "empty: `latency` for every call",
        "s",
    )
    serialisation: Duration = knob(
        0.0,
        "CPU time a callee spends decoding a request and encoding its answer, per call",
        "s",
        ge=0,
    )


class Slo(ScenarioModel):
    """The service-level objective the entry points are held to."""

    latency: Duration | None = knob(
        None, "a request meets the SLO if it succeeds within this time; empty means no SLO", "s"
    )
    target: float = knob(0.99, "share of requests that should meet it", gt=0, le=1)
