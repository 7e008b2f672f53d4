"""What the delivery subsystem leaves behind: its changes, deploys, incidents, the operators'
work, the hourly flow of changes, and the few facts of the run that its KPIs need.

`simulator.model.delivery` fills these once the horizon is reached; `simulator.metrics.
delivery` turns them into KPIs and tables. Times are seconds from the start of the run, NaN
where something has not happened (yet) by the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..scenario.calendar import Calendar
from ..scenario.units import WEEK

STAGES: tuple[str, ...] = (
    "release_batch",
    "change_board",
    "operators_queue",
    "outside_hours",
    "ci_queue",
    "build_test",
    "preview",
    "freeze",
    "canary",
    "rollout",
    "rework",
)
"""Where a change's time goes between its commit and production; a stage's code in the
records is its index here."""

STAGE_DESCRIPTIONS: dict[str, str] = {
    "release_batch": "waiting for the next release: the release cadence (ticket, "
    "config-management), or the rollout under way that the deploy pipeline finishes before "
    "it takes the next batch (automated)",
    "change_board": "waiting for the change-approval board's next meeting",
    "operators_queue": "waiting for a free operator to take the deploy ticket",
    "outside_hours": "nights, weekends and holidays inside work done in working time (a "
    "manual deploy, a recipe trigger, a developer's fix)",
    "ci_queue": "waiting for a free CI runner",
    "build_test": "the image build and the tests (flaky reruns included)",
    "preview": "the preview environment's review",
    "freeze": "deploys frozen by the error-budget policy",
    "canary": "the canary analysis",
    "rollout": "the deploy itself: by hand (ticket), the recipe trigger and the converge "
    "run (config-management), the rollout (automated)",
    "rework": "lost to a failure: a broken release in production until its rollback, the "
    "rollback of a canary, and a developer's fix of a bad change",
}
"""What each stage of `STAGES` counts (the docs and the charts use these words)."""

NO_STAGE = -1
"""The stage code of a change in production (or of a record that does not know)."""


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
    stage: int = NO_STAGE
    """The stage (index into `STAGES`) it is in at the horizon; NO_STAGE in production."""
    since: float = math.nan
    """Since when it is in that stage (or in production)."""


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
    source: str = ""
    """How it was detected: page, ticket (an alert that opens one), customer, canary (the
    pipeline's canary analysis); "" if not (yet) detected."""
    rule: str = ""
    """The alert rule that fired (e.g. "burn-rate 14.4x/1h", "threshold"), "canary
    analysis", or "" (a customer's report, or a caller that did not say)."""
    first_bad: float = math.nan
    """The first request that failed because of it (NaN where requests are not simulated)."""
    notified: float = math.nan
    """When a human was paged or handed it (a ticket: when working hours start; NaN if the
    pipeline alone dealt with it)."""
    acknowledged: float = math.nan
    """When the responder took it up (answered and free to work on it)."""
    diagnosed: float = math.nan
    """When the responder knew what to do."""
    remediated: float = math.nan
    """When the remedy was applied (a rollback deployed or started, a repair done); the
    incident is resolved once the remedy runs (`resolved`, the same time or later)."""
    hours: float = math.nan
    """The responder's hours on it (diagnosis and remedy; 0 for the pipeline)."""
    deploy: int = -1
    """The deploy whose release caused it (index into the deploys), else -1."""


@dataclass(frozen=True)
class ChangeStages:
    """Where changes' time went, columnar: one row per stretch of one change in one stage.
    A change's rows tile [committed, latest deployed] without gap or overlap (its last
    stretch ends when it reaches production), so their durations sum to its lead time."""

    change: np.ndarray
    """The change's id (int64)."""
    stage: np.ndarray
    """Index into `STAGES` (int8)."""
    start: np.ndarray
    end: np.ndarray
    ahead: np.ndarray
    """Work items waiting ahead of it when it joined a queue (the operators' queue: tickets
    of the same or higher priority; the CI queue: builds), else -1 (int32)."""
    deploy: np.ndarray
    """The deploy it was part of during the stretch (index into the deploys), else -1."""

    @classmethod
    def empty(cls) -> ChangeStages:
        return cls(
            np.zeros(0, np.int64),
            np.zeros(0, np.int8),
            np.zeros(0),
            np.zeros(0),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
        )

    def __len__(self) -> int:
        return len(self.change)


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
    stages: ChangeStages = field(default_factory=ChangeStages.empty)
    """Where each change's time went."""
    slo: float = math.nan
    """The availability objective the alerts protect (`monitoring.slo`)."""
    budget_window: float = math.nan
    """The window over which the error budget is counted (`error_budget.window`), seconds."""
    whole_application: bool = False
    """Releases carry every service's changes and deploy the whole application as one
    (`delivery.release_unit: application`): a deploy ships, and an incident of a deploy
    touches, every service."""
    on_call_rotation: int | None = None
    """People who share the pager in turn (at most `operators`); None: every operator."""
    ci_jobs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    """One row per runner job (builds and tests, configuration changes): start, end."""
    runner_billing: str = "always-on"
    """always-on (runners billed around the clock) or per-use (the time jobs used)."""
    billing_increment: float = 0.0
    """Per-use: each job's runner time is rounded up to a whole number of these seconds."""

    @property
    def period(self) -> float:
        """The measured period, seconds."""
        return self.horizon - self.warmup

    @property
    def weeks(self) -> float:
        """The measured period, weeks."""
        return self.period / WEEK
