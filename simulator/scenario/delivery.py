"""The organisation and its delivery process: who ships changes, how, and what breaks.

These sections drive the delivery subsystem (`simulator/model/delivery/`), which runs over
days and weeks of simulated time beside (or without) the request-level services. Defaults
and where they come from are in `docs/delivery.md`; values marked "assumed" there have no
published figure behind them and are easy to change.

A plain duration where an effort or a delay is expected (`2h`) means an exponential
distribution with that mean, as in the cluster's workloads.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from pydantic import BaseModel, model_validator
from pydantic_core import PydanticCustomError

from .base import ScenarioModel, knob
from .cluster import MeanDuration
from .distributions import Constant, Distribution, Empirical, Exponential, Uniform
from .rollout import Outage
from .units import DAY, HOUR, WEEK, Duration, MoneyPerHour

Process = Literal["ticket", "config-management", "automated"]
PROCESSES: tuple[str, ...] = get_args(Process)
Strategy = Literal["rolling", "blue-green", "canary"]
ReleaseUnit = Literal["service", "application"]
Rerelease = Literal["next-release", "next-window", "at-once"]
Alerting = Literal["threshold", "burn-rate"]
RunnerBilling = Literal["always-on", "per-use"]


class Organisation(ScenarioModel):
    """The operations team (sysadmins, DevOps engineers or SREs): size, calendar, pay."""

    operators: int = knob(
        1,
        "operators who take tickets, deploy, respond and do toil (with services_per_operator "
        "or operational_share: the fewest the team has, however small the fleet or its work)",
        ge=1,
    )
    services_per_operator: float | None = knob(
        None,
        "staffing that grows with the fleet: the team is max(operators, ceil(delivery.services "
        "/ services_per_operator)); empty: no ratio",
        "services",
        gt=0,
    )
    operational_share: float | None = knob(
        None,
        "staffing for the work: the team is at least ceil(expected operational hours a week / "
        "(operational_share x working hours a week)) and at least operators, the hours being "
        "the deploys, toil and incidents that capacity.operator_load expects at "
        "delivery.services (the event log's delivery 'started' line shows them; the SRE book "
        "caps operational work at 50%: 0.5); with services_per_operator, the larger team; "
        "empty: off",
        "-",
        gt=0,
        lt=1,
    )
    on_call_rotation: int | None = knob(
        None,
        "people who take the pager in turn, one at a time (the SRE book: at least 8 for one "
        "site, 6 per site for two); capped at the team; empty: the whole team. It sets the "
        "per-person on-call KPIs, not the pay (one person is on call at a time)",
        "people",
        ge=1,
    )
    day_start: Duration = knob(
        9 * HOUR, "start of the working day, as time after midnight", "s", ge=0, lt=DAY
    )
    day_end: Duration = knob(
        17 * HOUR, "end of the working day, as time after midnight", "s", gt=0, le=DAY
    )
    working_days: int = knob(
        5,
        "working days a week, from Monday (the run starts on a Monday at 00:00)",
        "days",
        ge=1,
        le=7,
    )
    holidays: list[int] = knob(
        default_factory=list,
        description="days off for everyone, counted from the first day of the run (0)",
        unit="days",
    )
    on_call: bool = knob(
        True, "an operator is paged outside working hours (else incidents wait for the morning)"
    )
    on_call_response: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=15 * 60.0),
        description="time from a page to the on-call operator at a keyboard (assumed)",
        unit="s",
    )
    hourly_rate: MoneyPerHour = knob(
        75.0, "what an operator's working hour costs the company (assumed)", "$/h", ge=0
    )
    on_call_standby_rate: float = knob(
        0.1,
        "pay for one hour on call outside working hours (one operator at a time), as a share "
        "of hourly_rate; pages worked are paid on top at hourly_rate (assumed)",
        "-",
        ge=0,
    )

    @model_validator(mode="after")
    def _day(self) -> Organisation:
        if self.day_end <= self.day_start:
            raise PydanticCustomError(
                "working_day",
                "expected day_end after day_start",
                {"key": "day_end"},
            )
        return self

    @property
    def working_hours_per_week(self) -> float:
        return self.working_days * (self.day_end - self.day_start) / HOUR

    def team(self, services: int, operational_hours: float = 0.0) -> int:
        """Operators the organisation staffs for `services` services: `operators`, or more
        when `services_per_operator` (a ratio) or `operational_share` (the expected
        `operational_hours` a week, which do not depend on the team) asks for more; each
        rule is a floor, so with both the larger team."""
        team = self.operators
        if self.services_per_operator is not None:
            team = max(team, math.ceil(services / self.services_per_operator))
        if self.operational_share is not None:
            hours = self.operational_share * self.working_hours_per_week
            team = max(team, math.ceil(operational_hours / hours))
        return team

    def rotation(self, services: int, operational_hours: float = 0.0) -> int:
        """People who share the pager at `services` services: `on_call_rotation`, at most
        the team (a rotation cannot hold people the team does not have)."""
        team = self.team(services, operational_hours)
        return team if self.on_call_rotation is None else min(self.on_call_rotation, team)


class ChangeApprovalBoard(ScenarioModel):
    """A change-approval board: meets on a schedule and approves every ticket waiting."""

    enabled: bool = knob(False, "tickets wait for the board's next meeting")
    every: Duration = knob(WEEK, "time between meetings", "s", gt=0)
    at: Duration = knob(
        DAY + 14 * HOUR,
        "time of the first meeting after the run starts (Tuesday 14:00)",
        "s",
        ge=0,
    )


class Ticket(ScenarioModel):
    """Ticket-driven delivery: releases go to the operators' queue and are deployed by hand."""

    release_interval: Duration = knob(
        WEEK,
        "changes are batched into a release per service this often (0: a release per change)",
        "s",
        ge=0,
    )
    manual_deploy_effort: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=2 * HOUR),
        description="operator working time to deploy one release by hand (assumed)",
        unit="s",
    )
    manual_error_probability: float = knob(
        0.05, "chance that a manual deploy itself breaks production (assumed)", ge=0, le=1
    )
    hand_config_toil: float = knob(
        1.0, "hand configuration and upkeep per service (assumed)", "h/service/week", ge=0
    )
    deploy_outside_hours: bool = knob(
        False, "operators also deploy outside working hours (at the same effort)"
    )
    cab: ChangeApprovalBoard = knob(
        default_factory=lambda: ChangeApprovalBoard(enabled=True),
        description="the change-approval board",
    )


class ContinuousIntegration(ScenarioModel):
    """Jenkins-style CI: every commit is built and tested before it joins a release.

    As continuous integration asks (Fowler, "Continuous Integration": every commit builds
    the mainline on an integration machine) and Jenkins' SCM trigger does."""

    enabled: bool = knob(False, "every commit is built and tested before it joins a release")
    runners: int = knob(2, "build executors (builds queue for them)", "runners", ge=1)
    runner_price: MoneyPerHour = knob(
        0.096, "price of one build node (m5.large, REFERENCE.md §5)", "$/h", ge=0
    )
    build_time: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=2 * 60.0),
        description="compile and package one commit (assumed)",
        unit="s",
    )
    test_time: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=8 * 60.0),
        description="time the test suite takes (with the build, Fowler's ten-minute build)",
        unit="s",
    )
    flaky_probability: float = knob(
        0.05, "chance a good change fails a flaky test and is run again (assumed)", ge=0, lt=1
    )
    test_detection: float = knob(0.5, "share of bad changes the tests catch (assumed)", ge=0, le=1)


class Staging(ScenarioModel):
    """A staging environment: releases converge there first, soak, and are promoted.

    Chef's and Puppet's environments: people test the release on staging while it soaks,
    then an operator promotes it to production."""

    enabled: bool = knob(False, "releases converge on staging and soak there before production")
    soak: Duration = knob(
        4 * HOUR,
        "working time a release runs on staging before it is promoted (manual QA, smoke "
        "tests; one working day: until the next daily release; assumed)",
        "s",
        ge=0,
    )
    nodes_per_service: float = knob(
        1.0, "nodes staging runs per service, all the time (billed at node_price)", "nodes", ge=0
    )
    detection: float = knob(
        0.5,
        "share of bad releases that someone notices on staging; the release does not go on "
        "(assumed)",
        ge=0,
        le=1,
    )


class ConfigManagement(ScenarioModel):
    """Chef/Puppet delivery: an operator updates a recipe, the next converge run ships it."""

    release_interval: Duration = knob(
        DAY,
        "changes are batched into a release per service this often (0: per change)",
        "s",
        ge=0,
    )
    trigger_effort: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=30 * 60.0),
        description="operator working time to update the recipe and trigger a release (assumed)",
        unit="s",
    )
    converge_interval: Duration = knob(
        30 * 60.0,
        "time between converge runs (Puppet runinterval, chef-client interval)",
        "s",
        gt=0,
    )
    converge_duration: Duration = knob(5 * 60.0, "time one converge run takes", "s", ge=0)
    manual_error_probability: float = knob(
        0.01, "chance that a release breaks production by a recipe mistake (assumed)", ge=0, le=1
    )
    recipe_upkeep: float = knob(
        0.25, "writing and repeating recipes per service (assumed)", "h/service/week", ge=0
    )
    cab: ChangeApprovalBoard = knob(
        default_factory=ChangeApprovalBoard, description="the change-approval board"
    )
    ci: ContinuousIntegration = knob(
        default_factory=ContinuousIntegration, description="the CI server's build and tests"
    )
    staging: Staging = knob(default_factory=Staging, description="the staging environment")


class Preview(ScenarioModel):
    """The Lean Staging: a preview environment per branch, torn down when the branch merges."""

    enabled: bool = knob(False, "every change gets a preview environment before it merges")
    lifetime: Duration = knob(4 * HOUR, "time a preview environment lives (review)", "s", ge=0)
    nodes: float = knob(1.0, "nodes one preview environment takes", "nodes", ge=0)
    detection: float = knob(
        0.5, "share of bad changes that someone notices on the preview (assumed)", ge=0, le=1
    )


class ErrorBudget(ScenarioModel):
    """An error-budget policy: no deploys while the SLO's budget is spent (fixes still go)."""

    enabled: bool = knob(False, "freeze deploys while the error budget is spent")
    slo: float = knob(0.999, "availability objective per service", ge=0, lt=1)
    window: Duration = knob(28 * DAY, "window over which the budget is counted", "s", gt=0)


class Automated(ScenarioModel):
    """git push, CI, container build, automated rollout: the talk's "Lean Staging"."""

    runners: int = knob(4, "CI runners (builds queue for them)", "runners", ge=1)
    runner_price: MoneyPerHour = knob(
        0.096, "price of one runner node (m5.large, REFERENCE.md §5)", "$/h", ge=0
    )
    runner_billing: RunnerBilling = knob(
        "always-on",
        "always-on (every runner billed around the clock, busy or not) or per-use (only the "
        "runner time jobs use, each job rounded up to billing_increment: hosted CI and "
        "runners autoscaled per job)",
    )
    billing_increment: Duration = knob(
        60.0,
        "per-use: each job's runner time is rounded up to a whole number of these (GitHub-"
        "hosted runners: a minute; 0: the exact seconds)",
        "s",
        ge=0,
    )
    build_time: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=5 * 60.0),
        description="container image build without cached layers",
        unit="s",
    )
    cached_build_time: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=60.0),
        description="container image build when the base layers are cached",
        unit="s",
    )
    cache_hit_probability: float = knob(0.8, "chance a build finds its layers cached", ge=0, le=1)
    test_time: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=10 * 60.0),
        description="time the test suite takes",
        unit="s",
    )
    flaky_probability: float = knob(
        0.05, "chance a good change fails a flaky test and is run again", ge=0, lt=1
    )
    test_detection: float = knob(0.5, "share of bad changes the tests catch (assumed)", ge=0, le=1)
    strategy: Strategy = knob(
        "canary",
        "rolling (replace replicas in turn), blue-green (a full second copy, then switch) or "
        "canary (a slice first, with automated analysis)",
    )
    rollout_time: Duration = knob(10 * 60.0, "time a rollout (or a rollback) takes", "s", ge=0)
    canary_duration: Duration = knob(30 * 60.0, "time the canary is analysed", "s", ge=0)
    canary_share: float = knob(
        0.05, "share of a service's traffic the canary serves (assumed)", gt=0, le=1
    )
    canary_detection: float = knob(
        0.7, "share of bad changes the canary analysis catches (assumed)", ge=0, le=1
    )
    canary_false_alarm: float = knob(
        0.02,
        "chance the canary analysis fails a good release (noisy metrics of a small slice): "
        "it is rolled back and deployed again, no incident (assumed)",
        ge=0,
        lt=1,
    )
    auto_rollback: bool = knob(
        True, "roll back without a human when a monitoring alert fires after a deploy"
    )
    toil: float = knob(0.05, "residual hand work per service (assumed)", "h/service/week", ge=0)
    preview: Preview = knob(default_factory=Preview, description="preview environments")
    error_budget: ErrorBudget = knob(
        default_factory=ErrorBudget, description="the error-budget freeze"
    )


def _worst_case(distribution: Distribution) -> float:
    """The largest value a distribution can draw (infinity when unbounded)."""
    if isinstance(distribution, Empirical):
        return float(distribution.values.max())
    if isinstance(distribution, Constant):
        return distribution.mean
    if isinstance(distribution, Uniform):
        return distribution.mean * (1 + math.sqrt(3) * distribution.cv)
    return math.inf


class OnRuntime(ScenarioModel):
    """How the organisation's deploys act on the running services, in both fidelities.
    Versions, rollouts and what a bad version does are the same as scripted deploys'
    (docs/delivery.md, "Rollouts on the running services")."""

    enabled: bool = knob(
        True,
        "a deploy of a service that serves requests rolls a new version out on it (ticket: "
        "by hand; config-management: rolling, at the converge run; automated: "
        "delivery.automated.strategy), a bad change is a defect of the version, and its "
        "incident is opened by monitoring or by customers who see it, not drawn; false: "
        "incidents drawn from the probabilities",
    )
    error_ratio: Distribution = knob(
        default_factory=lambda: Empirical(samples=(1.0, 0.5, 0.2, 0.1, 0.05)),
        description="share of the requests that a bad version's replicas fail, drawn per bad "
        "deploy: 1 breaks everything, 0.1 one endpoint of ten (assumed: equally likely, "
        "from everything to one endpoint in twenty)",
    )
    latency_factor: float = knob(
        1.0, "how many times longer a bad version's work takes (1: as fast)", ge=1
    )
    manual_outage: Outage = knob(
        "degraded",
        "a deploy by hand (process ticket) takes the servers down one at a time for their "
        "share of the operator's deploy work (degraded), or all of them for all of it (down)",
    )

    @model_validator(mode="after")
    def _a_ratio(self) -> OnRuntime:
        if _worst_case(self.error_ratio) > 1:
            raise PydanticCustomError(
                "error_ratio",
                "expected a distribution of ratios between 0 and 1 (constant, uniform or "
                "empirical with values up to 1)",
                {"key": "error_ratio"},
            )
        return self


class Prices(ScenarioModel):
    """What downtime and waiting cost the business, the same in every era: the prices that
    let the eras' bills compare more than salaries and servers. Both are assumptions (no
    citable figure; docs/delivery.md, "Assumptions and how much they matter")."""

    downtime: MoneyPerHour = knob(
        5000.0,
        "what one hour of the whole service failing every request costs (lost sales, "
        "support, goodwill); failed requests are priced as their share of an hour (assumed)",
        "$/h",
        ge=0,
    )
    delay: MoneyPerHour = knob(
        5.0,
        "what one change costs for each hour between its commit and production (value not "
        "yet delivered, developers' context switches; assumed)",
        "$/h",
        ge=0,
    )


class Delivery(ScenarioModel):
    """Developers' changes to services, and the process that takes them to production."""

    services: int = knob(1, "services the organisation runs and deploys", "services", ge=1)
    change_rate: float = knob(
        2.0,
        "changes committed per service per working day (Poisson, in working hours; assumed)",
        "changes/service/day",
        ge=0,
    )
    defect_probability: float = knob(
        0.05,
        "chance that a change is bad: it breaks production if it gets there (assumed)",
        ge=0,
        le=1,
    )
    rework_time: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=4 * HOUR),
        description="developer working time to fix a bad change once it is caught (by tests, "
        "a preview, a canary or an incident); the fix goes through the process again (assumed)",
        unit="s",
    )
    release_unit: ReleaseUnit = knob(
        "service",
        "service (each service's changes are released and deployed on their own) or "
        "application (one release of every service's waiting changes, deployed as one: a "
        "monolith's build); releases are cut by ticket and config-management",
    )
    rerelease: Rerelease = knob(
        "next-release",
        "when the good changes of a rolled-back release go out again (ticket and "
        "config-management): next-release (with the next release, among every change "
        "waiting), next-window (alone at the next release, the changes committed since "
        "waiting for the one after: a release branch; docs/delivery.md) or at-once (a "
        "release of them and of what waits is cut right after the rollback, deployed like "
        "any other)",
    )
    process: Process = knob(
        "ticket",
        "ticket (operators deploy releases by hand), config-management (recipes and converge "
        "runs, a human trigger) or automated (CI and automated rollouts)",
    )
    nodes_per_service: float = knob(
        2.0, "nodes each service runs on (for the infrastructure cost)", "nodes", ge=0
    )
    node_price: MoneyPerHour = knob(
        0.096, "price of one node (m5.large on demand, REFERENCE.md §5)", "$/h", ge=0
    )
    ticket: Ticket = knob(default_factory=Ticket, description="settings of process: ticket")
    config_management: ConfigManagement = knob(
        default_factory=ConfigManagement, description="settings of process: config-management"
    )
    automated: Automated = knob(
        default_factory=Automated, description="settings of process: automated"
    )
    on_runtime: OnRuntime = knob(
        default_factory=OnRuntime,
        description="how deploys and bad changes act on the running services",
    )
    prices: Prices = knob(
        default_factory=Prices, description="the price of downtime and of waiting changes"
    )


class ManualScaleOut(ScenarioModel):
    """The remedy of an overload incident opened by a monitoring alert (request level): the
    responder adds servers by hand, which serve once the lead time of getting one (a
    purchase, a VM, a boot and hand configuration) has passed. Neutral defaults; what each
    era would use is in docs/monitoring.md."""

    replicas: int = knob(
        1, "replicas the responder adds to the overloaded service", "replicas", ge=1
    )
    lead_time: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=30 * 60.0),
        description="time from the responder's decision to the new replicas serving: getting "
        "a server, booting and configuring it (assumed)",
        unit="s",
    )


class Incidents(ScenarioModel):
    """How incidents are restored, and failures that do not come from changes."""

    diagnosis_effort: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=HOUR),
        description="time a responder needs to find the cause and start the remedy (assumed)",
        unit="s",
    )
    follow_up_effort: Duration = knob(
        0.0,
        "working time after each incident a human handled: root cause, postmortem (the SRE "
        "book's ~6 h per incident includes the response)",
        "s",
        ge=0,
    )
    infrastructure_mtbf: Duration = knob(
        0.0,
        "mean time between infrastructure failures per service (0: none, or, when "
        "cluster.failures is enabled, the cluster's node_mtbf / delivery.nodes_per_service)",
        "s",
        ge=0,
    )
    repair_effort: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=2 * HOUR),
        description="operator time to repair an infrastructure failure",
        unit="s",
    )
    manual_scale_out: ManualScaleOut = knob(
        default_factory=ManualScaleOut,
        description="how a responder scales out an overloaded service by hand (request level, "
        "with monitoring)",
    )


class BurnRateRule(ScenarioModel):
    """One multiwindow burn-rate alert (SRE Workbook, "Alerting on SLOs"), a list entry.

    It fires while the error rate averaged over both its long and its short window exceeds
    `burn` × (1 − slo): budget spent `burn` times faster than the SLO allows."""

    burn: float = knob(14.4, "burn rate: multiple of the error budget's steady rate", gt=0)
    long_window: Duration = knob(HOUR, "the long window, which sets the detection time", "s", gt=0)
    short_window: Duration = knob(
        5 * 60.0, "the short window (resets the alert soon after the errors stop)", "s", gt=0
    )
    page: bool = knob(True, "the alert pages (else it opens a ticket, read in working hours)")

    @model_validator(mode="after")
    def _windows(self) -> BurnRateRule:
        if self.short_window > self.long_window:
            raise PydanticCustomError(
                "short_window",
                "expected short_window no longer than long_window",
                {"key": "short_window"},
            )
        return self


def _workbook_rules() -> list[BurnRateRule]:
    """The SRE Workbook's recommended rules for a 99.9% SLO over 30 days (docs/delivery.md):
    page at 14.4× over 1 h (5 min) or 6× over 6 h (30 min), ticket at 1× over 3 days (6 h)."""
    return [
        BurnRateRule(burn=14.4, long_window=HOUR, short_window=5 * 60.0, page=True),
        BurnRateRule(burn=6.0, long_window=6 * HOUR, short_window=30 * 60.0, page=True),
        BurnRateRule(burn=1.0, long_window=3 * DAY, short_window=6 * HOUR, page=False),
    ]


class SaturationRule(ScenarioModel):
    """A threshold alert on a cause: a service's busy workers over its workers, averaged
    over each scrape interval (request level). Values are assumed (docs/monitoring.md)."""

    enabled: bool = knob(True, "alert on saturated services")
    threshold: float = knob(
        0.9, "busy share of the workers above which a service counts as saturated", gt=0, le=1
    )
    alert_for: Duration = knob(
        5 * 60.0,
        "time the saturation must last before the alert fires (Prometheus' for; assumed)",
        "s",
        ge=0,
    )
    page: bool = knob(True, "the alert pages (else it opens a ticket)")


class Monitoring(ScenarioModel):
    """Detection: alert rules over scraped metrics, or else customers who complain."""

    enabled: bool = knob(False, "alerting on scraped metrics detects incidents")
    alerting: Alerting = knob(
        "threshold",
        "threshold (any failure fires after the next scrape, evaluation and alert_for, "
        "whatever its size) or burn-rate (SLO burn-rate rules: the share of requests failing "
        "sets when, and whether, an alert fires)",
    )
    slo: float = knob(
        0.999, "availability objective the burn-rate rules protect (burn-rate)", gt=0, lt=1
    )
    burn_rate_rules: list[BurnRateRule] = knob(
        default_factory=_workbook_rules,
        description="multiwindow burn-rate alerts (burn-rate); an incident no rule catches "
        "is reported by customers after customer_report_delay",
    )
    scrape_interval: Duration = knob(60.0, "Prometheus' default scrape interval", "s", gt=0)
    evaluation_interval: Duration = knob(60.0, "Prometheus' default rule evaluation", "s", gt=0)
    alert_for: Duration = knob(
        5 * 60.0,
        "time a threshold alert's condition must hold before it fires (assumed; the burn-rate "
        "rules have none: their long window does that job)",
        "s",
        ge=0,
    )
    customer_report_delay: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=HOUR),
        description="time until a customer's complaint reaches operations (no monitoring, or "
        "no burn-rate rule fires; assumed)",
        unit="s",
    )
    error_threshold: float = knob(
        0.05,
        "threshold alerting: share of a scrape interval's requests that fail "
        "or miss the SLO latency above which the error check holds (for alert_for; assumed)",
        gt=0,
        le=1,
    )
    saturation: SaturationRule = knob(
        default_factory=SaturationRule,
        description="threshold alert on busy workers per service (request level)",
    )


SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("organisation", Organisation),
    ("delivery", Delivery),
    ("delivery.ticket", Ticket),
    ("delivery.ticket.cab / delivery.config_management.cab", ChangeApprovalBoard),
    ("delivery.config_management", ConfigManagement),
    ("delivery.config_management.ci", ContinuousIntegration),
    ("delivery.config_management.staging", Staging),
    ("delivery.automated", Automated),
    ("delivery.automated.preview", Preview),
    ("delivery.automated.error_budget", ErrorBudget),
    ("delivery.on_runtime", OnRuntime),
    ("delivery.prices", Prices),
    ("incidents", Incidents),
    ("incidents.manual_scale_out", ManualScaleOut),
    ("monitoring", Monitoring),
    ("monitoring.burn_rate_rules[]", BurnRateRule),
    ("monitoring.saturation", SaturationRule),
]
"""The sections of the generated scenario reference (docs/scenario-reference.md)."""
