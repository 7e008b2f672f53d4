"""Expected operator load of a delivery scenario, by arithmetic instead of simulation.

The operators are a queue whose work grows with the number of services: releases to deploy
by hand, hand configuration or recipes to repeat, incidents to answer. Their utilisation is

    ρ(n) = n · (hours of work per service per week) / (operators · working hours per week),

and the ticket queue is stable only while ρ < 1: `break_services` is where ρ reaches 1.
The simulation does not use any of this; the tests and the growth experiment compare it
with what the simulation measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...scenario.calendar import Calendar
from ...scenario.delivery import ConfigManagement, Ticket
from ...scenario.schema import Scenario
from ...scenario.units import HOUR, WEEK
from .decisions import burn_rate_detection


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

    @property
    def total_hours(self) -> float:
        return self.deploy_hours + self.toil_hours + self.incident_hours

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
        return self.team_hours / per_service if per_service > 0 else math.inf


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


def operator_load(scenario: Scenario, services: int | None = None) -> Load:
    """The expected weekly operator hours of a scenario with a `delivery` section (at
    `services` services if given), ignoring rework and the changes of rolled-back releases
    that go out again (both add a little when changes often fail)."""
    delivery = scenario.delivery
    assert delivery is not None
    organisation = scenario.organisation
    incidents = scenario.incidents
    n = services if services is not None else delivery.services
    calendar = Calendar.from_organisation(organisation)
    team_hours = organisation.operators * calendar.working_seconds(0.0, WEEK) / HOUR
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
    releases, bad = releases_per_week(calendar, delivery.change_rate, settings.release_interval, p)
    failures = bad + (releases - bad) * settings.manual_error_probability
    per_incident = diagnosis + effort + follow_up
    return Load(
        n,
        releases,
        releases * effort / HOUR * n,
        toil * n,
        failures * per_incident / HOUR * n,
        team_hours,
    )
