"""What every subsystem of a run is built from, and what it gives back.

A subsystem (the cluster scheduler, delivery and the organisation, service discovery,
configuration, secrets) is built by the registry (`simulator/subsystems/`) from one
`RunContext` and the other subsystems it declares it needs, passed explicitly; it simulates
on the context's environment, and once the horizon is reached gives back its records:
typed rows with numbers, never prose. `metrics/` turns records into KPIs and tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import simpy

from ..engine import EventLog, RandomStreams, RequestLog, SpanLog

if TYPE_CHECKING:
    from ..scenario.schema import Scenario
    from .rollout import Rollouts
    from .services import Station


@dataclass
class ServiceHandles:
    """The request-level services a subsystem may act on: their stations (replicas, faults,
    drains), the logs requests leave behind, each station's time integrals at the end of
    warm-up (filled in when warm-up ends), and the rollouts that deploy and roll back
    versions on them (`deploy`, `rollback`, `serving_versions`; set by the World)."""

    stations: list[Station]
    spans: SpanLog
    requests: RequestLog
    warmup_areas: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)
    rollouts: Rollouts | None = None


@dataclass(frozen=True)
class RunContext:
    """One run's clock, scenario, random streams and decision log, shared by every subsystem
    in both fidelities. `services` is None when requests are not simulated one by one."""

    env: simpy.Environment
    scenario: Scenario
    seed: int
    streams: RandomStreams
    events: EventLog
    services: ServiceHandles | None = None

    @classmethod
    def start(cls, scenario: Scenario, seed: int) -> RunContext:
        """A new clock, streams and log for a run whose services are not simulated one by
        one (the analytic fidelity, or a subsystem on its own in a test)."""
        return cls(simpy.Environment(), scenario, seed, RandomStreams(seed), EventLog())


class Subsystem(Protocol):
    """A model that simulates alongside the services and gives back records at the end."""

    def records(self) -> Any: ...


class OpenIncident(Protocol):
    """What another subsystem reads of one of the organisation's incidents."""

    @property
    def service(self) -> int: ...
    @property
    def resolved(self) -> float: ...


class Organisation(Protocol):
    """What other subsystems ask of the delivery model (`simulator.model.delivery`): ship a
    configuration change, see the incidents, open one. Declared here, low, so that discovery
    and monitoring depend on this shape and not on the delivery package."""

    @property
    def incidents(self) -> Sequence[OpenIncident]: ...

    def request_config_change(
        self,
        service: int,
        on_deployed: Callable[[float, float], None],
        rng: np.random.Generator,
        by: str | None = None,
    ) -> None: ...

    def report_incident(
        self,
        service: int,
        cause: str,
        start: float,
        rng: np.random.Generator,
        on_resolved: Callable[[float, float], None] | None = None,
        remedy: Callable[[str], simpy.Event] | None = None,
        detected: float | None = None,
        *,
        rule: str | None = None,
        first_bad: float | None = None,
    ) -> None: ...
