"""The delivery model against theory: Little's law on changes in flight, the operators'
capacity bound, the ticket queue as M/M/c (on the wall clock, and in working time), and the
arithmetic operator load. Statistical checks pool replications (tests/stats.py)."""

from __future__ import annotations

import numpy as np
import pytest

import simulator
from simulator import load_scenario
from simulator.model.delivery.capacity import operator_load
from simulator.scenario.calendar import Calendar
from simulator.theory.queues import mmc
from tests.helpers import assert_agrees

pytestmark = pytest.mark.slow

H = 3600.0


def ticket_queue(calendar: str, operators: int, rate_per_hour: float, horizon: str) -> dict:
    """Ticket delivery reduced to one queue: a release per change, no board, no toil, no
    failures, exponential manual effort of 1 h, Poisson changes (one service)."""
    always = {"day_start": 0, "day_end": "24h", "working_days": 7}
    day = 24.0 if calendar == "always" else 8.0
    return {
        "name": "ticket-queue",
        "horizon": horizon,
        "warmup": "1w",
        "organisation": {"operators": operators, **(always if calendar == "always" else {})},
        "delivery": {
            "services": 1,
            "change_rate": rate_per_hour * day,
            "defect_probability": 0.0,
            "process": "ticket",
            "ticket": {
                "release_interval": 0,
                "manual_deploy_effort": "1h",
                "manual_error_probability": 0.0,
                "hand_config_toil": 0.0,
                "cab": {"enabled": False},
            },
        },
    }


def waits(result: simulator.Result, calendar: Calendar) -> np.ndarray:
    """Queueing time of each ticket requested after warm-up, in working seconds."""
    deploys = result.tables["deploys"]
    deploys = deploys[(deploys["requested"] >= result.scenario.warmup) & deploys["started"].notna()]
    return np.array(
        [
            calendar.working_seconds(r, s)
            for r, s in zip(deploys["requested"], deploys["started"], strict=True)
        ]
    )


@pytest.mark.parametrize("calendar", ["always", "working-hours"])
def test_ticket_queue_is_mmc_in_working_time(calendar: str):
    """With Poisson commits in working time and effort counted in working time, the ticket
    queue is exactly M/M/c on the working-time clock, whatever the nights and weekends do
    to the wall clock: the mean wait (in working hours) must be Erlang C's.

    ρ = 0.7 with two operators: Wq = 0.96 h. 12 replications of ~2,600 tickets each give a
    95% CI half-width under 10% of Wq (asserted), so a bias of ~20% would be caught."""
    spec = ticket_queue(calendar, 2, 1.4, "60w" if calendar == "working-hours" else "2000h")
    runs = simulator.run_replications(spec, 12, seed=21, keep_results=True).results
    working = Calendar.always() if calendar == "always" else Calendar()
    means = [waits(r, working).mean() / H for r in runs]
    assert_agrees(means, mmc(1.4, 1.0, 2).wait_mean, 0.10, f"ticket wait ({calendar})")


def test_littles_law_on_changes_in_flight():
    """L = λW on changes committed but not yet in production: the hourly samples of the
    count in flight (an independent record) against commit rate × mean lead time from the
    changes table. Without failures every change is deployed once; the two sides differ
    only by the changes straddling the window's edges, a few out of ~2,000 (1%)."""
    spec = ticket_queue("working-hours", 2, 1.0, "30w")
    spec["delivery"]["ticket"]["release_interval"] = "1d"
    result = simulator.run(spec, seed=2)
    start, end = result.scenario.warmup, result.scenario.horizon
    series = result.tables["delivery_timeseries"]
    window = series[(series["time"] >= start) & (series["time"] < end)]
    occupancy = window["in_flight"].mean()
    changes = result.tables["changes"]
    lead = changes["deployed"].fillna(end).clip(upper=end) - changes["committed"].clip(lower=start)
    inside = lead[(changes["deployed"].fillna(end) > start) & (changes["committed"] < end)]
    little = inside.clip(lower=0).sum() / (end - start)
    assert occupancy == pytest.approx(little, rel=0.01)


@pytest.mark.parametrize("operators", [1, 3])
def test_no_more_manual_deploys_than_working_hours_allow(operators: int):
    """Overloaded on purpose (four times the releases the team can deploy): deploys done
    per week can never exceed operators × working hours / effort, and a saturated team gets
    close to it (deploys only: no toil, no incidents)."""
    spec = ticket_queue("working-hours", operators, 2.0 * operators, "6w")
    spec["delivery"]["ticket"]["manual_deploy_effort"] = {"distribution": "constant", "mean": "2h"}
    result = simulator.run(spec, seed=1)
    deploys = result.tables["deploys"]
    start, end = result.scenario.warmup, result.scenario.horizon
    done = deploys[(deploys["finished"] >= start) & (deploys["finished"] < end)]
    bound = operators * Calendar().working_seconds(start, end) / (2 * H)
    assert len(done) <= bound + operators  # those under way at the window's start
    assert len(done) >= 0.95 * bound


@pytest.mark.parametrize(
    ("era", "services", "replications", "alerting"),
    [
        ("sysadmin", 4, 4, None),
        ("devops", 4, 4, None),
        ("sre", 40, 8, None),
        ("sre", 40, 8, "threshold"),
    ],
)
def test_operator_load_arithmetic_agrees_with_the_simulation(
    era: str, services: int, replications: int, alerting: str | None
):
    """The expected weekly operator hours (capacity.py) against the simulated ones, at a
    size where the team is not saturated. Rework and re-deploys after rollbacks are left
    out of the arithmetic: 15% tolerance (an error in a term of the formula, e.g. a missing
    toil or deploy term, is larger than that). The sysadmin's and the DevOps team's hours
    are mostly deploys and toil, which vary little over 4 replications of 12 weeks. The
    SRE preset's burn-rate alert rolls back every bad canary, so its hours are toil alone
    (one-hour tickets: ~190 expected, ~7% relative standard deviation), and a single
    5-hour follow-up of an escaped incident the arithmetic left out would add ~3%. With
    threshold alerting they are mostly 5-hour follow-ups of incidents that escape tests
    and canary (0.75% of changes): a Poisson count, so 40 services and 8 replications give
    ~290 expected incidents, a relative standard deviation of ~6%, and 15% is ~2.5 of it."""
    overrides = {
        "delivery.services": services,
        "horizon": "13w",
        "fidelity": "request",
        "services": {},
        "traffic": {},
        "deployment": "microservices",
    }
    if alerting is not None:
        overrides["monitoring.alerting"] = alerting
    scenario = load_scenario(f"scenarios/eras/{era}.yaml", overrides)
    expected = operator_load(scenario).total_hours
    runs = simulator.run_replications(scenario, replications, seed=7).table
    measured = runs["operator_hours_per_week"].mean()
    assert measured == pytest.approx(expected, rel=0.15)
    assert operator_load(scenario).utilisation < 0.9


def test_where_the_sysadmin_breaks():
    """The ticket queue is stable below the break point and unstable above it: work
    waiting for an operator at the horizon (one-hour toil tickets, releases) stays a few
    items below it and piles up above it, by about (ρ − 1) × 40 h every week."""
    # one sysadmin however many services, each service released on its own
    fixed_team = {"organisation.operational_share": None, "delivery.release_unit": "service"}
    scenario = load_scenario("scenarios/eras/sysadmin.yaml", fixed_team)
    limit = operator_load(scenario).break_services
    plain = {"fidelity": "request", "services": {}, "traffic": {},
             "deployment": "microservices", "horizon": "16w"}  # fmt: skip

    def waiting(services: int) -> int:
        result = simulator.run(scenario, overrides={**plain, "delivery.services": services})
        return int(result.summary["operator_backlog"])

    assert waiting(int(limit * 0.6)) <= 10  # a week's releases at most (ρ ≈ 0.6)
    assert waiting(int(limit * 1.5)) >= 50


def test_ci_runner_load_agrees_with_the_arithmetic():
    """Runner-hours of builds and tests (reruns after flaky tests, and the fix of every bad
    change, included) against the expected ones, at 60 services (runners ~10% busy on
    average). ~12,000 CI runs of exponential duration: the sampling error of the mean is
    ~1%; 5% tolerance (measured 2.5% above: 0.0995 against 0.0970, seed 3)."""
    scenario = load_scenario(
        "scenarios/eras/sre.yaml",
        {"delivery.services": 60, "horizon": "5w", "fidelity": "request", "services": {},
         "traffic": {}},
    )  # fmt: skip
    measured = simulator.run(scenario, seed=3).summary["ci_utilisation"]
    # Both are averages over whole weeks (the run's busy time over runners × horizon).
    assert measured == pytest.approx(operator_load(scenario).ci_utilisation, rel=0.05)
