"""What every subsystem of a run is built from, and what it gives back.

A subsystem (the cluster scheduler, delivery and the organisation, service discovery,
configuration, secrets) is built by the registry (`simulator/subsystems/`) from one
`RunContext` and the other subsystems it declares it needs, passed explicitly; it simulates
on the context's environment, and once the horizon is reached gives back its records:
typed rows with numbers, never prose. `metrics/` turns records into KPIs and tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import simpy

from ..engine import EventLog, RandomStreams, RequestLog, SpanLog

if TYPE_CHECKING:
    from ..scenario.rollout import Defect, RolloutSettings
    from ..scenario.schema import Scenario
    from .services import Station


@dataclass
class ServiceHandles:
    """The request-level services a subsystem may act on: their stations (replicas, faults,
    drains), the logs requests leave behind, each station's time integrals at the end of
    warm-up (filled in when warm-up ends), and the rollouts that deploy and roll back
    versions on them (`deploy`, `rollback`, `serving_versions`; set by the World), and
    `add_by_hand(station, count)`, which adds replicas a person ordered on the nodes bought
    or with room for them and returns the station's replicas (set by the World)."""

    stations: list[Station]
    spans: SpanLog
    requests: RequestLog
    warmup_areas: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)
    rollouts: VersionedStations | None = None
    add_by_hand: Callable[[int, int], int] | None = None


@dataclass(frozen=True)
class Scrape:
    """One scrape interval's samples. Per scenario service (entry points are read):
    requests that finished and the bad ones (failed, or slower than the SLO latency), and
    when the first bad one ended (by entry, when there was one). Per station: visits that
    finished and failed, worker-seconds busy and available, and the replicas at the end.
    Counts are whole numbers at request level and expectations at the analytic fidelity."""

    totals: np.ndarray
    bads: np.ndarray
    first_bad: dict[int, float]
    visits: np.ndarray
    failed: np.ndarray
    busy: np.ndarray
    capacity: np.ndarray
    replicas: np.ndarray


class SliSource(Protocol):
    """What monitoring reads of the running services, in either fidelity, and the one
    thing a responder's remedy does to them."""

    expected_counts: bool

    @property
    def station_names(self) -> list[str]: ...

    def scrape(self, start: float, now: float) -> Scrape:
        """What finished in (start, now]."""
        ...

    def add_replicas(self, station: int, count: int) -> int:
        """Add replicas to a station by hand; the replicas it runs with then."""
        ...


class NamedStation(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def name(self) -> str: ...


class VersionedStations(Protocol):
    """The rollouts of either fidelity, as the organisation drives them: deploy a version,
    roll back, ask what runs and what a bad version cost (`simulator.model.rollout`,
    `simulator.analytic.rollouts`)."""

    @property
    def stations(self) -> Mapping[str, NamedStation]: ...

    def deploy(
        self,
        service: str,
        version: int,
        strategy: RolloutSettings,
        defect: Defect | None = None,
    ) -> simpy.Event: ...

    def rollback(
        self,
        service: str,
        to_version: int | None = None,
        settings: RolloutSettings | None = None,
    ) -> simpy.Event: ...

    def current_version(self, service: str) -> int: ...

    def bad_version(self, service: str) -> tuple[float, int, Defect] | None: ...

    def defect_share(self, stations: list[int], start: float, end: float) -> float | None:
        """The share of the visits to `stations` that ended in [start, end] and failed by a
        defect (None when there were none, or they are not known)."""
        ...


@dataclass
class AnalyticHandles:
    """The analytic services a subsystem may act on: the rollouts that deploy and roll back
    versions on them, and the samples monitoring scrapes."""

    rollouts: VersionedStations
    sli: SliSource


@dataclass(frozen=True)
class RunContext:
    """One run's clock, scenario, random streams and decision log, shared by every subsystem
    in both fidelities. `services` is None when requests are not simulated one by one;
    `analytic` is set when the analytic fidelity runs them."""

    env: simpy.Environment
    scenario: Scenario
    seed: int
    streams: RandomStreams
    events: EventLog
    services: ServiceHandles | None = None
    analytic: AnalyticHandles | None = None

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

    def bad_version_since(self, service: int) -> float | None: ...
