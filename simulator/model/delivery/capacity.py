"""Expected operator load of a delivery scenario, by arithmetic instead of simulation.

The operators are a queue whose work grows with the number of services: releases to deploy
by hand, hand configuration or recipes to repeat, incidents to answer. Their utilisation is

    ρ(n) = n · (hours of work per service per week) / (operators(n) · working hours per week),

and the ticket queue is stable only while ρ < 1: `break_services` is where ρ reaches 1.
With a fixed team that is operators · working hours / work per service; when the team grows
with the fleet (`organisation.services_per_operator` = s, at least `operators` people), ρ
never passes s · work per service / working hours for long, so the queue breaks only if that
is 1 or more (and then first where the smallest team would). When the team is staffed for
the work (`organisation.operational_share` = f < 1), it has at least the expected hours / f
working hours, so ρ ≤ f and the queue never breaks. The expected hours (deploys, toil,
incidents, and those the running services bring: `runtime_incidents`) do not depend on the
team, only the utilisation does, so there is no circle.
The simulation uses none of this except those expected hours, to staff that team (the same
one here and in the model); the tests and the growth experiment compare the rest with what
the simulation measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ...scenario.calendar import Calendar
from ...scenario.delivery import ConfigManagement, Ticket
from ...scenario.distributions import Constant, Distribution, Empirical, Exponential, Uniform
from ...scenario.rollout import Canary
from ...scenario.schema import Scenario
from ...scenario.units import HOUR, WEEK
from ..failures import replaced_automatically, simulates_node_failures
from .decisions import ALREADY_FIXED_CHECK, burn_rate_detection, detection_delay


@dataclass(frozen=True)
class Load:
    """Expected operator hours per week, by kind of work, and the utilisation they make."""

    services: int
    releases_per_service_week: float
    deploy_hours: float
    toil_hours: float
    incident_hours: float
    team_hours: float
    ci_hours: float = 0.0
    """Runner-hours of builds and tests per week (automated delivery)."""
    runner_hours: float = math.inf
    """Runner-hours the CI pool has per week (around the clock)."""
    working_share: float = 1.0
    """Working hours' share of the week: commits, so CI work, arrive only then."""
    operators: int = 1
    """The team at `services` services (whose working hours are `team_hours`)."""
    operators_min: int = 1
    """The fewest operators, however small the fleet (`organisation.operators`)."""
    services_per_operator: float | None = None
    """The team grows by one operator per this many services (None: a fixed team)."""
    operational_share: float | None = None
    """The team is staffed so that `total_hours` fill at most this share of its hours."""
    runtime_hours: float = 0.0
    """Hours of the incidents the running services and their infrastructure bring, besides
    the releases' own (`runtime_incidents`)."""

    @property
    def total_hours(self) -> float:
        return self.deploy_hours + self.toil_hours + self.incident_hours + self.runtime_hours

    @property
    def utilisation(self) -> float:
        return self.total_hours / self.team_hours

    @property
    def ci_utilisation(self) -> float:
        """Runners' busy share averaged over the week."""
        return self.ci_hours / self.runner_hours

    @property
    def ci_peak_utilisation(self) -> float:
        """Runners' busy share while people commit: above 1 a backlog builds every working
        day (and drains at night while the weekly average stays below 1)."""
        return self.ci_utilisation / self.working_share

    @property
    def ci_break_services(self) -> float:
        """Services at which CI saturates during working hours."""
        per_service = self.ci_peak_utilisation / self.services
        return 1.0 / per_service if per_service > 0 else math.inf

    @property
    def break_services(self) -> float:
        """Services at which the operators would be busy all their working hours."""
        per_service = self.total_hours / self.services
        if per_service <= 0:
            return math.inf
        if self.operational_share is not None:  # ρ ≤ operational_share < 1 at any size
            return math.inf
        if self.services_per_operator is None:
            return self.team_hours / per_service
        # The smallest team breaks at operators_min · w / h services (w: an operator's working
        # hours, h: work per service); past operators_min · s services the team grows, and
        # n services with ceil(n / s) people stay below ρ = s · h / w, stable while that is < 1.
        smallest = self.operators_min * (self.team_hours / self.operators) / per_service
        return smallest if smallest <= self.operators_min * self.services_per_operator else math.inf


def release_ticks(calendar: Calendar, interval: float, weeks: int = 4) -> list[float]:
    """The distinct release times within `weeks` (ticks off working hours move to the next
    working start, and several landing there make one release)."""
    ticks: list[float] = []
    k = 0
    while True:
        tick = calendar.next_working(k * interval + calendar.day_start)
        if tick >= weeks * WEEK:
            return ticks
        if not ticks or tick > ticks[-1]:
            ticks.append(tick)
        k += 1


def releases_per_week(
    calendar: Calendar, change_rate: float, interval: float, defect_probability: float = 0.0
) -> tuple[float, float]:
    """(releases per service per week, releases with a bad change per week) with Poisson
    commits at `change_rate` per working day: a tick makes a release when a change came since
    the last one, and a bad release when a bad one came (bad changes are Poisson too)."""
    per_working_second = change_rate / calendar.day_length
    if interval == 0:
        weekly = per_working_second * calendar.working_seconds(0.0, WEEK)
        return weekly, weekly * defect_probability
    weeks = 4
    ticks = release_ticks(calendar, interval, weeks)
    releases = bad = 0.0
    previous = ticks[-1] - weeks * WEEK
    for tick in ticks:
        mean = per_working_second * calendar.working_seconds(previous, tick)
        releases += 1.0 - math.exp(-mean)
        bad += 1.0 - math.exp(-mean * defect_probability)
        previous = tick
    return releases / weeks, bad / weeks


def canary_alert_share(scenario: Scenario, grid: int = 20) -> float:
    """Share of bad canaries that an SLO burn-rate alert rolls back before the canary
    analysis ends (0 unless monitoring uses burn-rate rules and the pipeline rolls back
    by itself): the alert's delay averaged over a grid of scrape and evaluation phases."""
    auto = scenario.delivery.automated if scenario.delivery else None
    monitoring = scenario.monitoring
    if auto is None or not (
        auto.auto_rollback and monitoring.enabled and monitoring.alerting == "burn-rate"
    ):
        return 0.0
    rules = [(r.burn, r.long_window, r.short_window, r.page) for r in monitoring.burn_rate_rules]
    phases = [(k + 0.5) / grid for k in range(grid)]
    caught = sum(
        burn_rate_detection(
            auto.canary_share,
            monitoring.slo,
            rules,
            monitoring.scrape_interval,
            monitoring.evaluation_interval,
            scrape,
            evaluation,
        )[0]
        < auto.canary_duration
        for scrape in phases
        for evaluation in phases
    )
    return caught / grid**2


def _detection(scenario: Scenario) -> float:
    """Mean time to detect a release that breaks every request: the customers' report
    without monitoring (or when no burn-rate rule fires), else the alert at mid-phase of
    the scrape and evaluation intervals."""
    monitoring = scenario.monitoring
    customers = monitoring.customer_report_delay.mean_s
    if not monitoring.enabled:
        return customers
    if monitoring.alerting == "burn-rate":
        rules = [
            (r.burn, r.long_window, r.short_window, r.page) for r in monitoring.burn_rate_rules
        ]
        delay, _ = burn_rate_detection(
            1.0,
            monitoring.slo,
            rules,
            monitoring.scrape_interval,
            monitoring.evaluation_interval,
            0.5,
            0.5,
        )
        return delay if math.isfinite(delay) else customers
    return detection_delay(
        True,
        monitoring.scrape_interval,
        monitoring.evaluation_interval,
        monitoring.alert_for,
        0.5,
        0.5,
        0.0,
    )


def infrastructure_mtbf(scenario: Scenario) -> float:
    """Mean time between infrastructure failures of one service: `incidents.
    infrastructure_mtbf` if given; else, when the scenario's cluster simulates failures, a
    node's MTBF over the nodes a service runs on (any of its nodes failing hurts it); else
    0, no such failures."""
    given = scenario.incidents.infrastructure_mtbf
    if given > 0:
        return given
    cluster = scenario.cluster
    nodes = scenario.delivery.nodes_per_service if scenario.delivery else 0.0
    if cluster is not None and cluster.failures.enabled and nodes > 0:
        return cluster.failures.node_mtbf / nodes
    return 0.0


@dataclass(frozen=True)
class RuntimeIncidents:
    """Incidents a week that people are expected to handle besides the releases' own
    (`_expected_work`), by kind, each with a person's hours per incident."""

    infrastructure: float = 0.0
    """Infrastructure failures the delivery model draws (`incidents.infrastructure_mtbf`,
    or the cluster's node MTBF over `nodes_per_service`) for the services whose nodes the
    runtime does not fail itself."""
    infrastructure_hours: float = 0.0
    """Diagnosis, repair and follow-up of one."""
    nodes: float = 0.0
    """The runtime's node, rack and power-domain failures that page a person (none when an
    autoscaler replaces the replicas: `failures.replaced_automatically`)."""
    node_hours: float = 0.0
    """Diagnosis and follow-up of one (the replacement runs without the responder)."""
    canary_reports: float = 0.0
    """Bad canaries on served services that a customer reports before the pipeline's alert
    or analysis stops them: a person then diagnoses and follows up."""
    canary_report_hours: float = 0.0
    """Diagnosis and follow-up of one."""

    @property
    def hours(self) -> float:
        """Expected hours a week."""
        return (
            self.infrastructure * self.infrastructure_hours
            + self.nodes * self.node_hours
            + self.canary_reports * self.canary_report_hours
        )


def _served(scenario: Scenario, services: int) -> set[int]:
    """The delivery services that run on the scenario's services (`RuntimeDeploys`' and
    `_drawn_infrastructure`'s mapping: the scenario's order, wrapping round)."""
    return {i % services for i in range(len(scenario.services))} if services else set()


def _equally_likely(distribution: Distribution, grid: int = 20) -> list[float]:
    """Values standing for a distribution, equally weighted: an empirical one's samples, a
    constant, a uniform's grid midpoints; any other family by its mean."""
    if isinstance(distribution, Empirical):
        return [float(v) for v in distribution.values]
    if isinstance(distribution, Uniform):
        half = math.sqrt(3) * distribution.cv * distribution.mean
        low = distribution.mean - half
        return [low + 2 * half * (k + 0.5) / grid for k in range(grid)]
    if isinstance(distribution, Constant):
        return [distribution.mean]
    return [distribution.mean_s]


def _before(distribution: Distribution, t: float) -> float:
    """P(a draw of `distribution` < t): exact for exponential and constant delays, else as
    an exponential of the same mean."""
    if isinstance(distribution, Constant):
        return 1.0 if distribution.mean < t else 0.0
    mean = distribution.mean if isinstance(distribution, Exponential) else distribution.mean_s
    return 1.0 - math.exp(-t / mean) if mean > 0 else 1.0


def _left_after_report(distribution: Distribution, end: float) -> float:
    """E[end − R | R < end] for a report delay R (as `_before` takes it): how long a bad
    canary a customer reported still serves, at most, before the pipeline stops it."""
    if isinstance(distribution, Constant):
        return max(end - distribution.mean, 0.0)
    mean = distribution.mean if isinstance(distribution, Exponential) else distribution.mean_s
    if mean <= 0 or _before(distribution, end) == 0.0:
        return end
    tail = math.exp(-end / mean)
    return end - (mean - end * tail / (1.0 - tail))


def _canary_ends(scenario: Scenario) -> list[float | None]:
    """Per equally likely error ratio of a bad canary (`on_runtime.error_ratio`), when the
    pipeline stops it: the first of an alert on its slice (burn-rate rules at the error
    ratio × the canary's share, at mid-phase of scrape and evaluation, when the pipeline
    rolls back on alerts) and the analysis's verdict (`canary_duration`); None when the
    analysis passes it (an error ratio within `max_error_increase`: none at the defaults)."""
    delivery = scenario.delivery
    assert delivery is not None
    auto, monitoring = delivery.automated, scenario.monitoring
    alerts = auto.auto_rollback and monitoring.enabled and monitoring.alerting == "burn-rate"
    rules = [(r.burn, r.long_window, r.short_window, r.page) for r in monitoring.burn_rate_rules]
    ends: list[float | None] = []
    for ratio in _equally_likely(delivery.on_runtime.error_ratio):
        if ratio <= Canary().max_error_increase:
            ends.append(None)
            continue
        end = auto.canary_duration
        if alerts:
            delay, _ = burn_rate_detection(
                ratio * auto.canary_share,
                monitoring.slo,
                rules,
                monitoring.scrape_interval,
                monitoring.evaluation_interval,
                0.5,
                0.5,
            )
            end = min(end, delay)
        ends.append(end)
    return ends


def customer_first_share(scenario: Scenario) -> float:
    """Share of bad canaries that a customer reports before the pipeline stops them, on the
    running services (`on_runtime`): the customers' report delay against the canary's end
    (`_canary_ends`), averaged over `on_runtime.error_ratio`."""
    delay = scenario.monitoring.customer_report_delay
    ends = _canary_ends(scenario)
    return sum(0.0 if end is None else _before(delay, end) for end in ends) / len(ends)


def canary_report_hours(scenario: Scenario) -> float:
    """A person's hours for a bad canary a customer reported: the diagnosis, cut short when
    the pipeline takes the canary back meanwhile (then `ALREADY_FIXED_CHECK` to see the
    errors stop, and no follow-up: the delivery model's `already_fixed_at`). Taken as
    min(mean diagnosis, mean time the canary still serves after the report + the check),
    weighted by how often each error ratio is reported first; that ignores the response
    time before the diagnosis begins, so it is an upper bound (and min of means ≥ mean of
    mins)."""
    delay = scenario.monitoring.customer_report_delay
    diagnosis = scenario.incidents.diagnosis_effort.mean_s
    weights, hours = 0.0, 0.0
    for end in _canary_ends(scenario):
        if end is None:
            continue
        first = _before(delay, end)
        weights += first
        hours += first * min(diagnosis, _left_after_report(delay, end) + ALREADY_FIXED_CHECK)
    return hours / weights / HOUR if weights > 0 else diagnosis / HOUR


def runtime_incidents(scenario: Scenario, services: int | None = None) -> RuntimeIncidents:
    """The incidents a week that the running services and their infrastructure are expected
    to bring to people, at `services` delivery services (the runtime, its nodes and served
    services, as the scenario has them). Not counted: overload (its pages depend on the
    traffic's shape against the capacity, not on a rate the scenario states), discovery,
    configuration and secrets incidents, and pages on an entry point for a bad version
    behind it (docs/delivery.md, "Staffing and on-call rotation")."""
    delivery = scenario.delivery
    assert delivery is not None
    n = services if services is not None else delivery.services
    incidents = scenario.incidents
    diagnosis, follow_up = incidents.diagnosis_effort.mean_s, incidents.follow_up_effort
    responds = (diagnosis + follow_up) / HOUR
    served = _served(scenario, n)
    simulated = simulates_node_failures(scenario)
    mtbf = infrastructure_mtbf(scenario)
    drawn = n - len(served) if simulated else n
    infrastructure = drawn * WEEK / mtbf if mtbf > 0 else 0.0
    nodes = 0.0
    cluster = scenario.cluster
    if simulated and served and cluster is not None and not replaced_automatically(scenario):
        failures = cluster.failures
        count = sum(t.count for _, t in cluster.node_type_list())
        nodes = count * WEEK / failures.node_mtbf
        nodes += math.ceil(count / cluster.nodes_per_rack) * WEEK / failures.rack_mtbf
        nodes += math.ceil(count / failures.nodes_per_power_domain) * WEEK / failures.power_mtbf
    reports = 0.0
    auto = delivery.automated
    if (
        delivery.process == "automated"
        and auto.strategy == "canary"
        and delivery.on_runtime.enabled
        and served
    ):
        calendar = Calendar.from_organisation(scenario.organisation)
        weekly_changes, _ = releases_per_week(calendar, delivery.change_rate, 0.0)
        escaped = delivery.defect_probability * (1 - auto.test_detection)
        if auto.preview.enabled:
            escaped *= 1 - auto.preview.detection
        reports = len(served) * weekly_changes * escaped * customer_first_share(scenario)
    return RuntimeIncidents(
        infrastructure=infrastructure,
        infrastructure_hours=responds + incidents.repair_effort.mean_s / HOUR,
        nodes=nodes,
        node_hours=responds,
        canary_reports=reports,
        canary_report_hours=canary_report_hours(scenario),
    )


def operator_load(scenario: Scenario, services: int | None = None) -> Load:
    """The expected weekly operator hours of a scenario with a `delivery` section (at
    `services` services if given), ignoring rework and the changes of rolled-back releases
    that go out again (both add a little when changes often fail), with the team
    `Organisation.team` staffs for them. Besides the releases' work, the incidents the
    running services are expected to bring (`runtime_incidents`)."""
    organisation = scenario.organisation
    work = replace(
        _expected_work(scenario, services),
        runtime_hours=runtime_incidents(scenario, services).hours,
    )
    team = organisation.team(work.services, work.total_hours)
    week = Calendar.from_organisation(organisation).working_seconds(0.0, WEEK)
    return replace(
        work,
        team_hours=team * week / HOUR,
        operators=team,
        operators_min=organisation.operators,
        services_per_operator=organisation.services_per_operator,
        operational_share=organisation.operational_share,
    )


def _expected_work(scenario: Scenario, services: int | None) -> Load:
    """The hours of `operator_load`, before the team is known (they do not depend on it):
    the team fields are left at their defaults."""
    delivery = scenario.delivery
    assert delivery is not None
    organisation = scenario.organisation
    incidents = scenario.incidents
    n = services if services is not None else delivery.services
    calendar = Calendar.from_organisation(organisation)
    team_hours = math.nan  # set by operator_load
    diagnosis = incidents.diagnosis_effort.mean_s
    follow_up = incidents.follow_up_effort
    p = delivery.defect_probability
    if delivery.process == "automated":
        auto = delivery.automated
        weekly_changes, _ = releases_per_week(calendar, delivery.change_rate, 0.0)
        escaped = p * (1 - auto.test_detection)
        if auto.preview.enabled:
            escaped *= 1 - auto.preview.detection
        human = follow_up
        if not (auto.auto_rollback and scenario.monitoring.enabled):
            human += diagnosis
        if auto.strategy == "canary":
            # Bad canaries that neither a burn-rate alert nor the analysis catches.
            escaped_full = escaped * (1 - canary_alert_share(scenario))
            escaped_full *= 1 - auto.canary_detection
            incident_hours = weekly_changes * (escaped_full * human) / HOUR
        else:
            incident_hours = weekly_changes * escaped * human / HOUR
        build = (
            auto.cache_hit_probability * auto.cached_build_time.mean_s
            + (1 - auto.cache_hit_probability) * auto.build_time.mean_s
        )
        # Runs per change: reruns after flaky tests (geometric), and one more run for each
        # bad change: the tests, a preview, the canary or an incident's rollback catches
        # every one, and its fix goes through CI again.
        runs = 1 / (1 - auto.flaky_probability) * (1 + p)
        ci_hours = weekly_changes * n * runs * (build + auto.test_time.mean_s) / HOUR
        return Load(
            n,
            weekly_changes,
            0.0,
            auto.toil * n,
            incident_hours * n,
            team_hours,
            ci_hours=ci_hours,
            runner_hours=auto.runners * WEEK / HOUR,
            working_share=calendar.working_seconds(0.0, WEEK) / WEEK,
        )
    settings: Ticket | ConfigManagement
    if delivery.process == "ticket":
        settings = delivery.ticket
        effort = settings.manual_deploy_effort.mean_s
        toil = settings.hand_config_toil
    else:
        settings = delivery.config_management
        effort = settings.trigger_effort.mean_s
        toil = settings.recipe_upkeep
    per_incident = diagnosis + effort + follow_up
    # Config-management's CI sends the bad changes its tests catch back to their developers
    # (they come back fixed: rework, left out); its staging soaks every release after one
    # trigger, rejects the bad ones it notices and promotes the rest with a second trigger.
    if isinstance(settings, ConfigManagement) and settings.ci.enabled:
        p *= 1 - settings.ci.test_detection
    staged = isinstance(settings, ConfigManagement) and settings.staging.enabled
    noticed = settings.staging.detection if isinstance(settings, ConfigManagement) else 0.0
    caught = noticed if staged else 0.0
    if delivery.release_unit == "application":
        # One release of every service's changes (n times the commits), deployed once. A bad
        # one is reverted and its good changes go out with the next release (`rerelease:
        # next-release`: no more releases than the cadence's), or again at once (`at-once`;
        # nearly every bad release of the whole application has some), with the changes
        # committed since it was cut: over its deploy, detection, diagnosis and rollback.
        # That re-deploy is bad again with probability `again`, so a bad release starts a
        # chain of 1 / (1 - again) bad deploys, each followed by a re-deploy; a chain cannot
        # go faster than one bad deploy per window (all week when every one fails again).
        whole, bad = releases_per_week(
            calendar, delivery.change_rate * n, settings.release_interval, p
        )
        if delivery.rerelease != "at-once":
            # One release a window. After next-window's failed release, the next window
            # re-deploys its good changes alone (good but for slips by hand), so a share r
            # of the new releases fails and 1 / (1 + r) of the windows carry new ones
            # (ignoring that the release after carries two windows' changes).
            production = whole - bad * caught
            failing = bad * (1 - caught)
            if delivery.rerelease == "next-window" and whole > 0:
                new = whole / (1 + failing / whole)  # the windows that carry new changes
                production = whole - bad / whole * new * caught
                failing = bad / whole * new * (1 - caught)
            triggers = whole + (production if staged else 0.0)
        else:
            window = 2 * effort + _detection(scenario) + diagnosis
            commits = delivery.change_rate * n * window / calendar.day_length
            again = 1.0 - math.exp(-commits * p * (1 - caught))
            chained = bad * (1 - caught) / (1.0 - again) if again < 1.0 else math.inf
            failing = min(chained, calendar.working_seconds(0.0, WEEK) / window)
            production = whole - bad * caught + failing
            triggers = whole + failing + (production if staged else 0.0)
        failures = failing + (production - failing) * settings.manual_error_probability
        return Load(
            n,
            whole,
            triggers * effort / HOUR,
            toil * n,
            failures * per_incident / HOUR,
            team_hours,
        )
    releases, bad = releases_per_week(calendar, delivery.change_rate, settings.release_interval, p)
    production, bad = releases - bad * caught, bad * (1 - caught)
    triggers = releases + (production if staged else 0.0)
    failures = bad + (production - bad) * settings.manual_error_probability
    return Load(
        n,
        releases,
        triggers * effort / HOUR * n,
        toil * n,
        failures * per_incident / HOUR * n,
        team_hours,
    )
