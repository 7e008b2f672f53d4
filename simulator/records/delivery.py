"""What the delivery subsystem leaves behind: its changes, deploys, incidents, the operators'
work, the hourly flow of changes, and the few facts of the run that its KPIs need.

`simulator.model.delivery` fills these once the horizon is reached; `simulator.metrics.
delivery` turns them into KPIs and tables. Times are seconds from the start of the run, NaN
where something has not happened (yet) by the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..scenario.calendar import Calendar
from ..scenario.units import WEEK


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One developer's change, as it stands at the horizon. A change that was rolled back
    and shipped again keeps its commit time; `approved` and `deployed` are its latest."""

    id: int
    service: int
    committed: float
    approved: float
    """Approved by the board (ticket, config-management) or through CI (automated)."""
    deployed: float
    """Running in production (NaN if not, or rolled back and not yet out again)."""
    caused_failure: bool
    """It was bad and reached production or a canary at least once."""


@dataclass(frozen=True, slots=True)
class DeployRecord:
    """One deploy: a release of changes, a rollback, or a configuration change."""

    id: int
    service: int
    requested: float
    started: float
    finished: float
    changes: int
    """Changes it carried (0 for rollbacks and configuration changes)."""
    outcome: str
    """ok, failed, rolled-back, false-alarm, rollback or config; "" if still under way at
    the horizon."""
    rollback_of: int
    """For a rollback, the id of the deploy it undid; else -1."""


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    service: int
    cause: str
    start: float
    detected: float
    resolved: float
    responder: str
    """on-call, operators or pipeline; "" if nobody responded by the horizon."""
    paged: bool
    """A human responded to a page or a customer's report (not to a ticket alert)."""
    impact: float
    """Share of the service's traffic affected (a canary's slice, or all of it)."""


@dataclass(frozen=True, slots=True)
class OperatorWork:
    """One piece of operator work: `hours` of effort spread over [start, end] of wall clock
    (working time only for deploys and toil)."""

    kind: str
    """deploy, incident or toil."""
    who: str
    """operators or on-call."""
    start: float
    end: float
    hours: float


@dataclass(frozen=True, slots=True)
class FlowSample:
    """Cumulative counts of changes at `time` (sampled every hour). A rollback takes its
    release's changes out of `approved` and `deployed` again."""

    time: float
    committed: int
    approved: int
    deployed: int
    in_flight: int
    """Committed and not in production."""


@dataclass(frozen=True)
class DeliveryRecords:
    """Everything the delivery model of one run hands to metrics."""

    warmup: float
    horizon: float
    calendar: Calendar
    """The organisation's working hours."""
    services: int
    process: str
    """ticket, config-management or automated."""
    operators: int
    on_call: bool
    """An operator is on call outside working hours."""
    changes: tuple[ChangeRecord, ...]
    deploys: tuple[DeployRecord, ...]
    incidents: tuple[IncidentRecord, ...]
    work: tuple[OperatorWork, ...]
    samples: tuple[FlowSample, ...]
    operator_backlog: int
    """Work items waiting for an operator at the horizon."""
    ci_runners: int
    ci_busy_seconds: float
    """Runner-seconds spent building and testing, over the whole run."""
    frozen_seconds: float
    """Seconds deploy pipelines spent frozen by the error-budget policy."""
    preview_node_seconds: float
    """Node-seconds of preview environments, over the whole run."""
    second_copy_node_seconds: float
    """Blue-green: node-seconds of the second copy during rollouts, in the measured period."""
    nodes_per_service: float
    node_price: float
    """US dollars per node-hour."""
    runner_price: float
    """US dollars per CI runner-hour."""
    hourly_rate: float
    """US dollars per operator working hour."""
    on_call_standby_rate: float
    """Pay for an hour on call, as a share of `hourly_rate`."""

    @property
    def period(self) -> float:
        """The measured period, seconds."""
        return self.horizon - self.warmup

    @property
    def weeks(self) -> float:
        """The measured period, weeks."""
        return self.period / WEEK
