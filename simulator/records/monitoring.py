"""What the monitoring subsystem leaves behind: the SLIs it scraped, the alerts its rules
fired, and the incidents those alerts opened (with the servers added by hand).

`simulator.model.monitoring` fills these once the horizon is reached; `simulator.metrics.
monitoring` turns them into KPIs and tables. Times are seconds from the start of the run,
NaN where something has not happened (yet) by the horizon.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np

ENTRY_POINT = 0
"""Scope of an SLI sample or alert: an entry point, as its clients saw the requests."""
SERVICE = 1
"""Scope of an SLI sample or alert: a service (a station), from its visits and workers."""
SCOPES = ("entry_point", "service")

BURN_RATE = "burn-rate"
THRESHOLD = "threshold"
SATURATION = "saturation"
NODE_DOWN = "node-down"
RULE_KINDS = (BURN_RATE, THRESHOLD, SATURATION, NODE_DOWN)
"""Kinds of rule: a multiwindow burn-rate rule or the error-ratio threshold rule on an entry
point's SLI, the saturation threshold rule on a service, or the node-down rule on a
service (replicas on nodes that are down)."""

OPENED = "incident"
"""The alert paged and opened an incident in the delivery model."""
JOINED = "joined"
"""The alert paged while an incident was already open on a service it concerns: the
responder is on it already (alerts grouped, as Alertmanager groups them)."""
TICKET = "ticket"
"""The rule opens a ticket, not a page: recorded only (not an incident)."""
RECORDED = "recorded"
"""The alert paged, but the scenario has no organisation (`delivery:`): recorded only."""
ACTIONS = (OPENED, JOINED, TICKET, RECORDED)

OVERLOAD = "overload"
"""Incident cause: a saturated service (the remedy adds replicas by hand)."""
ERRORS = "errors"
"""Incident cause: requests fail or miss the SLO latency without a saturated service (the
responder repairs it; the remedy is not modelled on the runtime)."""
INFRASTRUCTURE = "infrastructure"
"""Incident cause: a failed node took replicas (the remedy replaces the node by hand)."""


@dataclass
class SliLog:
    """One row per scrape and target, in columns: the end of the scrape interval (`time`;
    the interval is the one since the previous scrape), the scope (ENTRY_POINT or SERVICE),
    the target's index (the scenario's service order for entry points, the station's index
    for services), requests (entry points) or visits (services) that finished in the
    interval, how many of them were bad (failed, or at an entry point slower than the SLO
    latency; whole numbers at request level, expectations at the analytic fidelity), the
    worker-seconds busy and available in the interval (services; NaN for
    entry points) and the replicas at the scrape."""

    time: array[float] = field(default_factory=lambda: array("d"))
    scope: array[int] = field(default_factory=lambda: array("b"))
    target: array[int] = field(default_factory=lambda: array("i"))
    requests: array[float] = field(default_factory=lambda: array("d"))
    bad: array[float] = field(default_factory=lambda: array("d"))
    busy: array[float] = field(default_factory=lambda: array("d"))
    capacity: array[float] = field(default_factory=lambda: array("d"))
    replicas: array[int] = field(default_factory=lambda: array("i"))

    def record(
        self,
        time: float,
        scope: int,
        target: int,
        requests: float,
        bad: float,
        busy: float,
        capacity: float,
        replicas: int,
    ) -> None:
        self.time.append(time)
        self.scope.append(scope)
        self.target.append(target)
        self.requests.append(requests)
        self.bad.append(bad)
        self.busy.append(busy)
        self.capacity.append(capacity)
        self.replicas.append(replicas)

    def record_services(
        self,
        time: float,
        visits: np.ndarray,
        failed: np.ndarray,
        busy: np.ndarray,
        capacity: np.ndarray,
        replicas: np.ndarray,
    ) -> None:
        """One row per station (targets 0, 1, ...) at one scrape, as `record` would add
        them one by one."""
        count = len(visits)
        self.time.extend([time] * count)
        self.scope.extend([SERVICE] * count)
        self.target.extend(range(count))
        self.requests.extend(np.asarray(visits, dtype=float).tolist())
        self.bad.extend(np.asarray(failed, dtype=float).tolist())
        self.busy.extend(np.asarray(busy, dtype=float).tolist())
        self.capacity.extend(np.asarray(capacity, dtype=float).tolist())
        self.replicas.extend(np.asarray(replicas, dtype=np.int64).tolist())

    def __len__(self) -> int:
        return len(self.time)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert, from the evaluation at which it fired to the one at which its condition
    no longer held (`resolved`, NaN if still firing at the horizon)."""

    rule: str
    """The rule's name: "burn-rate 14.4x/1h", "error-ratio", "saturation"."""
    kind: str
    """BURN_RATE, THRESHOLD or SATURATION."""
    scope: int
    target: str
    """The entry point's or the service's name."""
    started: float
    """Start of the scrape interval since which the target has been unhealthy without a
    break (bad ratio above the SLO's allowance, or saturation above the threshold); the
    firing time when it was not."""
    fired: float
    resolved: float
    page: bool
    action: str
    """OPENED, JOINED, TICKET or RECORDED."""
    incident: int
    """The monitoring incident it opened or joined (an index into `incidents`), else -1."""


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """An incident an alert opened in the delivery model, and what its remedy did."""

    service: str
    """The service the incident is about: the saturated one for an overload."""
    delivery_service: int
    """The delivery model's index of that service (its `incidents` table's `service`)."""
    cause: str
    """OVERLOAD, ERRORS or INFRASTRUCTURE."""
    started: float
    detected: float
    """The alert's firing time: the page."""
    remedied: float
    """When the replicas added by hand, or the replaced node's, started serving (NaN: none,
    or not by the horizon)."""
    resolved: float
    """When the delivery model resolved it (NaN: still open at the horizon)."""
    replicas_added: int
    operator_hours: float
    """The responder's diagnosis and repair, as the delivery model reports them."""


@dataclass(frozen=True)
class MonitoringRecords:
    """Everything the monitoring subsystem of one run leaves for metrics."""

    warmup: float
    horizon: float
    slo: float
    """The availability objective the alerts protect (`monitoring.slo`)."""
    slo_latency: float
    """A request slower than this is bad (`slo.latency`; infinity without one)."""
    scrape_interval: float
    entry_points: tuple[str, ...]
    """Names by the scenario's service order (the SLI log's entry-point targets)."""
    services: tuple[str, ...]
    """Names of the stations by index (the SLI log's service targets)."""
    sli: SliLog
    alerts: tuple[AlertRecord, ...]
    incidents: tuple[IncidentRecord, ...]
    replica_seconds_added: float
    """Seconds × replicas that hand-added replicas served within [warmup, horizon]."""
    expected_counts: bool = False
    """Whether the SLI counts are expectations (the analytic fidelity), not whole numbers."""
