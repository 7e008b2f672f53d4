"""The delivery subsystem: developers' changes, the process that ships them, the operators
who do the work, and the incidents that bad changes cause.

The registry (`simulator/subsystems/`) builds a `DeliveryModel` from the run's context when
the scenario has a `delivery` section (the runner builds one on its own environment for
`fidelity: analytic`). It simulates on the context's environment, random streams and
decision log, and hands back its records afterwards (`simulator.records.delivery`), which
`simulator.metrics.delivery` turns into KPIs and tables.

Flow of one change, by process:

- ticket: commit → batched into the service's next release (release_interval) → the
  change-approval board's next meeting → a ticket in the operators' queue → a manual deploy
  in working hours → production.
- config-management: commit → the next daily release → an operator updates the recipe
  (a short ticket) → the next converge run → production.
- automated: commit → CI (a runner; build with or without cached layers; tests, flaky
  reruns; tests may catch a bad change) → optional preview environment → the service's
  deploy pipeline (error-budget freeze; canary analysis or a plain rollout) → production.

A bad change that reaches production starts an incident; monitoring or a customer detects
it; the on-call or working operator responds (or the pipeline rolls back by itself); the
rollback is a deploy through the same process; the good changes of the rolled-back release
go out again with the next one, and the bad change comes back once a developer fixed it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from ...records.delivery import (
    NO_STAGE,
    ChangeRecord,
    DeliveryRecords,
    DeployRecord,
    FlowSample,
    IncidentRecord,
    OperatorWork,
)
from ...records.rollout import INTERRUPTED as ROLLOUT_INTERRUPTED
from ...records.rollout import ROLLED_BACK as CANARY_FAILED
from ...scenario.calendar import Calendar
from ...scenario.delivery import (
    ConfigManagement,
    Delivery,
    Incidents,
    Monitoring,
    Organisation,
    Ticket,
)
from ...scenario.distributions import Distribution
from ...scenario.rollout import RolloutSettings
from ...scenario.units import HOUR
from ..context import RunContext, VersionedStations
from ..failures import simulates_node_failures
from .capacity import infrastructure_mtbf, operator_load
from .decisions import (
    ALREADY_FIXED_CHECK,
    BAD_CHANGE,
    CANARY,
    CUSTOMER,
    FAILED,
    FALSE_ALARM,
    INFRASTRUCTURE,
    OK,
    PAGE,
    REJECTED,
    ROLLBACK,
    ROLLED_BACK,
    THRESHOLD_RULE,
    TICKET,
    already_fixed_at,
    budget_spent,
    burn_rate_alert,
    canary_verdict,
    deploy_failure,
    detection_delay,
    responder,
    rule_name,
)
from .runtime import LiveDefect, RuntimeDeploys, first_failure, outcomes, rollout_settings
from .stages import IN_PRODUCTION, STAGE, StageLog

PRIORITY_INCIDENT = 0
PRIORITY_DEPLOY = 1
PRIORITY_TOIL = 2
"""The operators' queue is served by priority (incidents first), then first come first
served; work in progress is not interrupted."""

TOIL_CHUNK = HOUR
"""Toil arrives as one-hour tickets (Poisson in working time)."""

SAMPLE_INTERVAL = HOUR
"""Changes in flight and cumulative counts are sampled every hour."""

FREEZE_CHECK = HOUR
"""A frozen pipeline looks at its error budget again after this long."""


@dataclass
class Change:
    id: int
    service: int
    committed: float
    bad: bool
    approved: float = math.nan
    deployed: float = math.nan
    caused_failure: bool = False
    # Where it is now (see stages.py): the stage's code, since when, the work items ahead
    # of it in a queue, the deploy it is part of, and whether the stage is working time.
    stage: int = NO_STAGE
    since: float = math.nan
    ahead: int = -1
    deploy: int = -1
    split: bool = False

    def __post_init__(self) -> None:
        self.since = self.committed


@dataclass
class Deploy:
    service: int
    requested: float
    changes: list[Change] = field(default_factory=list)
    started: float = math.nan
    finished: float = math.nan
    outcome: str = ""
    rollback_of: int = -1
    id: int = -1


@dataclass
class Incident:
    service: int
    cause: str
    start: float
    detected: float = math.nan
    resolved: float = math.nan
    responder: str = ""
    paged: bool = False
    impact: float = 1.0
    """Share of the service's traffic affected (a canary's slice, or all of it)."""
    # Its timeline (see IncidentRecord): how it was found, and when each phase ended.
    source: str = ""
    rule: str = ""
    first_bad: float = math.nan
    notified: float = math.nan
    acknowledged: float = math.nan
    diagnosed: float = math.nan
    remediated: float = math.nan
    hours: float = math.nan
    deploy: int = -1

    def handled_by_pipeline(self, now: float) -> None:
        """The pipeline acts the moment it knows: no human, no diagnosis."""
        self.responder = "pipeline"
        self.acknowledged = self.diagnosed = self.remediated = now
        self.hours = 0.0


_Process = Generator[simpy.Event, Any, None]
"""A SimPy process of the model."""


def _both(
    first: Callable[[str], simpy.Event],
    second: Callable[[str], simpy.Event],
    env: simpy.Environment,
) -> Callable[[str], simpy.Event]:
    """Two remedies started together; done when both are."""

    def remedy(who: str) -> simpy.Event:
        return env.all_of([first(who), second(who)])

    return remedy


def _sample(distribution: Distribution, rng: np.random.Generator) -> float:
    return float(distribution.draw(rng, 1)[0])


class DeliveryModel:
    """Changes, releases, operators, pipelines and incidents of one run."""

    def __init__(self, context: RunContext) -> None:
        env, scenario, streams, events = (
            context.env,
            context.scenario,
            context.streams,
            context.events,
        )
        assert scenario.delivery is not None
        self.env = env
        self.scenario = scenario
        self.delivery: Delivery = scenario.delivery
        self.organisation: Organisation = scenario.organisation
        self.incident_settings: Incidents = scenario.incidents
        self.monitoring: Monitoring = scenario.monitoring
        self.events = events
        self.calendar = Calendar.from_organisation(self.organisation)
        self.warmup, self.horizon = scenario.warmup, scenario.horizon
        self.process = self.delivery.process
        self._rollout_settings = rollout_settings(self.delivery, 0.0)
        """The rollout of every deploy but a ticket's (whose duration is the operator's): one
        frozen model for the run, not a pydantic validation per deploy."""
        n = self.delivery.services
        self.operational_hours = (
            operator_load(scenario).total_hours
            if self.organisation.operational_share is not None
            else 0.0
        )
        """Expected operator hours a week that `operational_share` staffs for (0 when off)."""
        self.team = self.organisation.team(n, self.operational_hours)
        """Operators staffed for this many services (`Organisation.team`, as in capacity.py)."""
        self.operators = simpy.PriorityResource(env, capacity=self.team)
        self.on_call = simpy.Resource(env, capacity=1)
        recipes = self.delivery.config_management
        self._integrates = self.process == "config-management" and recipes.ci.enabled
        """Config-management with a CI server: commits are built and tested first."""
        self._has_staging = self.process == "config-management" and recipes.staging.enabled
        """Config-management with a staging environment: releases soak there first."""
        runners = recipes.ci.runners if self._integrates else self.delivery.automated.runners
        self.runners = simpy.Resource(env, capacity=runners)
        self.ci_runners = runners if self.process == "automated" or self._integrates else 0
        """CI runners billed: the pipeline's, the DevOps era's CI server's, or none."""
        self.runner_price = (
            recipes.ci.runner_price if self._integrates else self.delivery.automated.runner_price
        )
        self.changes: list[Change] = []
        self.deploys: list[Deploy] = []
        self.incidents: list[Incident] = []
        self.work: list[OperatorWork] = []
        self.pending: list[list[Change]] = [[] for _ in range(n)]
        self.held: list[list[Change]] = [[] for _ in range(n)]
        """Per release unit: a rolled-back release's good changes, which go out alone at the
        next release (`rerelease: next-window`: a release branch)."""
        self.deploying = [False] * n
        self.outages: list[list[tuple[float, float, float]]] = [[] for _ in range(n)]
        """Per service: (start, end, share of traffic affected) of every incident."""
        self.preview_node_seconds = 0.0
        self.second_copy_node_seconds = 0.0
        """Blue-green: node-seconds of the second copy running during rollouts, within the
        measured period."""
        self.ci_busy_seconds = 0.0
        self.ci_jobs: list[tuple[float, float]] = []
        """(start, end) of every runner job, logged when it starts (per-use billing)."""
        self.frozen_seconds = 0.0
        self.counts = {"committed": 0, "approved": 0, "deployed": 0}
        self.samples: list[FlowSample] = []
        self.stages = StageLog(self.calendar)
        """Where each change's time goes (bookkeeping only: no draws, no events)."""
        self.frozen = [False] * n
        """Per service: its deploy pipeline is frozen by the error-budget policy now."""
        self._cab_waiting: list[simpy.Event] = []
        self._service_streams = [
            {
                kind: streams.get(f"delivery/service-{i}/{kind}")
                for kind in ("changes", "rework", "deploys", "incidents", "defects")
            }
            for i in range(n)
        ]
        self._ci_streams = [
            streams.get(f"delivery/service-{i}/ci") for i in range(n) if self._integrates
        ]
        self._staging_streams = [
            streams.get(f"delivery/service-{i}/staging") for i in range(n) if self._has_staging
        ]
        """Config-management's CI and staging draw from their own streams, so switching them
        on leaves the other draws alone."""
        if self._has_staging:  # always on: billed for the measured period, as service nodes
            staging_nodes = n * recipes.staging.nodes_per_service
            self.preview_node_seconds = staging_nodes * max(0.0, self.horizon - self.warmup)
        self._toil_rng = streams.get("delivery/toil")
        self._customer_rng = streams.get("delivery/customers")
        self.runtime = self._on_runtime(context)
        """The running services the deploys act on (request level), or None."""
        self._infra_rng = streams.get("delivery/infrastructure")
        if self.delivery.change_rate > 0:
            for i in range(n):
                env.process(self._commits(i))
        if self.process != "automated":
            settings = self._process_settings()
            env.process(self._release_cutter(settings.release_interval))
            if settings.cab.enabled:
                env.process(self._cab(settings.cab.every, settings.cab.at))
        if self.toil_hours_per_week > 0:
            env.process(self._toil())
        self.infrastructure_mtbf = infrastructure_mtbf(scenario)
        self._infrastructure = self._drawn_infrastructure(context)
        """The services whose infrastructure failures are drawn here (not simulated)."""
        if self.infrastructure_mtbf > 0 and self._infrastructure:
            env.process(self._infrastructure_failures())
        env.process(self._sampler())
        events.record(
            0.0,
            "delivery",
            "started",
            f"{n} services, process {self.process}, {self.team} operators, "
            f"{self.delivery.change_rate:g} changes/service/working day" + self._staffing(),
        )

    def _staffing(self) -> str:
        """Why the team has its size, for the event log, when it is staffed for the work."""
        share = self.organisation.operational_share
        if share is None:
            return ""
        hours = self.organisation.working_hours_per_week
        return (
            f"; staffed for {self.operational_hours:.1f} expected operator hours/week "
            f"(deploys, toil, incidents) at most {share:g} of each operator's {hours:g} h: "
            f"ceil({self.operational_hours:.1f} / {share * hours:g}) = "
            f"{math.ceil(self.operational_hours / (share * hours))}, "
            f"at least {self.organisation.operators}"
        )

    def _on_runtime(self, context: RunContext) -> RuntimeDeploys | None:
        """The stations deploys act on, in either fidelity, unless switched off."""
        if context.services is not None:
            rollouts: VersionedStations | None = context.services.rollouts
        else:
            rollouts = context.analytic.rollouts if context.analytic is not None else None
        if rollouts is None or not self.delivery.on_runtime.enabled:
            return None
        runtime = RuntimeDeploys(self.scenario, rollouts, self.env)
        served = sum(runtime.serves(i) for i in range(self.delivery.services))
        if served == 0:
            return None
        self.events.record(
            0.0,
            "delivery",
            "on_runtime",
            f"deploys of {served} of {self.delivery.services} services act on the running "
            "services; their incidents are opened by monitoring or customers",
        )
        return runtime

    def _drawn_infrastructure(self, context: RunContext) -> list[int]:
        """Every service, except those running on the simulated services when the runtime
        fails their nodes itself, at either fidelity (`model/failures.py`), or when the
        deploys act on them (the one world: their infrastructure fails in the runtime or not
        at all): monitoring or a customer opens their incidents, none is drawn."""
        n = self.delivery.services
        if self.runtime is None and not simulates_node_failures(self.scenario):
            return list(range(n))
        served = {i % n for i in range(len(self.scenario.services))}
        return [i for i in range(n) if i not in served]

    def _acts(self, service: int) -> bool:
        """Whether this service's deploys replace running replicas (else: drawn outcomes)."""
        return self.runtime is not None and self.runtime.serves(service)

    # -- settings ------------------------------------------------------------------------
    def _process_settings(self) -> Ticket | ConfigManagement:
        """The settings of a process that cuts releases (the automated one ships change by
        change: it has no release interval and no board)."""
        if self.process == "ticket":
            return self.delivery.ticket
        assert self.process == "config-management", "the automated process cuts no releases"
        return self.delivery.config_management

    @property
    def toil_hours_per_week(self) -> float:
        """Hand work per week that the process leaves to operators, all services together."""
        per_service = {
            "ticket": self.delivery.ticket.hand_config_toil,
            "config-management": self.delivery.config_management.recipe_upkeep,
            "automated": self.delivery.automated.toil,
        }[self.process]
        return per_service * self.delivery.services

    # -- developers ----------------------------------------------------------------------
    def _commits(self, service: int) -> _Process:
        """Poisson commits in working time: exponential gaps of working time, mapped to the
        wall clock (so nobody commits at night or at the weekend)."""
        rng = self._service_streams[service]["changes"]
        mean_gap = self.calendar.day_length / self.delivery.change_rate
        p = self.delivery.defect_probability
        env = self.env
        while True:
            gap = rng.exponential(mean_gap)
            bad = bool(rng.random() < p)
            at = self.calendar.add_working_time(env.now, gap)
            if at >= self.horizon:
                return
            yield env.timeout(at - env.now)
            change = Change(len(self.changes), service, env.now, bad)
            self.changes.append(change)
            self.counts["committed"] += 1
            self._enter(change)

    def _enter(self, change: Change) -> None:
        """A change (new, or a fix coming back) joins its service's flow."""
        if self.process == "automated":
            self.env.process(self._pipeline(change))
            return
        if self._integrates:
            self.env.process(self._integration(change))
            return
        self._queue(change)

    def _queue(self, change: Change) -> None:
        """A change waits for its service's next release (ticket, config-management)."""
        self.pending[change.service].append(change)
        self.stages.move([change], "release_batch", self.env.now)
        if self._process_settings().release_interval == 0:
            self._cut(change.service)

    def _rework(self, change: Change) -> _Process:
        """A developer fixes a bad change (in working time); the fix goes round again."""
        rng = self._service_streams[change.service]["rework"]
        self.stages.move([change], "rework", self.env.now, split=True)
        effort = _sample(self.delivery.rework_time, rng)
        at = self.calendar.add_working_time(self.env.now, effort)
        yield self.env.timeout(at - self.env.now)
        change.bad = False
        self._enter(change)

    # -- ticket and config-management ------------------------------------------------------
    def _integration(self, change: Change) -> _Process:
        """The DevOps era's CI server (config-management with `ci`): every commit is built
        and tested on a build executor, as the automated pipeline's are; a bad change the
        tests catch goes back to its developer, the others wait for the next release."""
        ci = self.delivery.config_management.ci
        rng = self._ci_streams[change.service]

        def build() -> float:
            return _sample(ci.build_time, rng)

        caught = yield from self._ci(
            change, rng, build, ci.test_time, ci.test_detection, ci.flaky_probability
        )
        if not caught:
            self._queue(change)

    def _staging(self, deploy: Deploy) -> Generator[simpy.Event, Any, bool]:
        """A release on staging (config-management with `staging`), after its trigger: the
        next converge run puts it there, it soaks for `soak` of working time, and then
        either someone noticed a bad change (`detection`, one draw per release, like a
        canary's analysis) and the release goes no further, or an operator promotes it
        (another recipe trigger: the production environment's pinned version). True when
        it was rejected; else the caller's next converge run takes it to production."""
        env = self.env
        recipes = self.delivery.config_management
        staging = recipes.staging
        rng = self._staging_streams[deploy.service]
        self.stages.move(deploy.changes, "rollout", env.now, deploy=deploy.id)
        converge = self.calendar.next_tick(env.now, recipes.converge_interval, 0.0)
        yield env.timeout(converge - env.now + recipes.converge_duration)
        self.stages.move(deploy.changes, "preview", env.now, deploy=deploy.id, split=True)
        yield env.timeout(self.calendar.add_working_time(env.now, staging.soak) - env.now)
        any_bad = any(c.bad for c in deploy.changes)
        if canary_verdict(any_bad, rng.random(), staging.detection, 0.0) == ROLLED_BACK:
            self._reject(deploy)
            return True
        effort = _sample(recipes.trigger_effort, rng)
        yield env.process(self._operator_work("deploy", effort, PRIORITY_DEPLOY, True, deploy))
        return False

    def _reject(self, deploy: Deploy) -> None:
        """Staging caught a bad change: the release never reaches production (outcome
        rejected, no finish time, so no production deploy and no incident); its bad changes
        go back to their developers, its good ones (CI verdicts kept) to the next release."""
        deploy.outcome = REJECTED
        self.events.record(
            self.env.now, "delivery/staging", "rejected", f"service {deploy.service}"
        )
        for change in deploy.changes:
            change.approved = math.nan
            self.counts["approved"] -= 1
            if change.bad:
                self.env.process(self._rework(change))
            else:
                self._queue(change)

    def _release_cutter(self, interval: float) -> _Process:
        """Cuts a release of every service with waiting changes at the start of the working
        day, every `interval` (a weekly release goes on Mondays)."""
        if interval == 0:
            return
        env = self.env
        k = 0
        while True:
            tick = self.calendar.next_working(k * interval + self.calendar.day_start)
            k += 1
            if tick >= self.horizon:
                return
            if tick > env.now:
                yield env.timeout(tick - env.now)
            whole = self.delivery.release_unit == "application"  # one unit: service 0
            for service in range(1 if whole else self.delivery.services):
                if self.held[service]:  # the rolled-back release again, alone
                    changes, self.held[service] = self.held[service], []
                    self._start_release(service, changes)
                elif any(self.pending) if whole else self.pending[service]:
                    self._cut(service)

    def _cut(self, service: int) -> None:
        """A release of the service's waiting changes; of every service's, as a deploy of
        the first, when the whole application is released as one (a monolith's build)."""
        if self.delivery.release_unit == "application":
            waiting = sorted((c for p in self.pending for c in p), key=lambda c: c.id)
            self.pending = [[] for _ in self.pending]
            self.pending[0], service = waiting, 0
        changes, self.pending[service] = self.pending[service], []
        self._start_release(service, changes)

    def _start_release(self, service: int, changes: list[Change]) -> None:
        deploy = self._record(Deploy(service, self.env.now, changes))
        self.stages.move(changes, "change_board", self.env.now, deploy=deploy.id)
        self.env.process(self._release(deploy))

    def _cab(self, every: float, first: float) -> _Process:
        env = self.env
        while True:
            meeting = self.calendar.next_tick(env.now, every, first)
            if meeting >= self.horizon:
                return
            yield env.timeout(meeting - env.now)
            waiting, self._cab_waiting = self._cab_waiting, []
            if waiting:
                self.events.record(env.now, "delivery/cab", "approved", f"{len(waiting)} releases")
            for event in waiting:
                event.succeed()
            yield env.timeout(1.0)  # the next meeting, not this one again

    def _approve(self, deploy: Deploy) -> _Process:
        if self._process_settings().cab.enabled:
            event = self.env.event()
            self._cab_waiting.append(event)
            yield event
        for change in deploy.changes:
            change.approved = self.env.now
        self.counts["approved"] += len(deploy.changes)

    def _operator_work(
        self,
        kind: str,
        effort: float,
        priority: int,
        working_time: bool = True,
        deploy: Deploy | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> Generator[simpy.Event, Any, float]:
        """Queue for an operator, then work `effort` seconds (in working time, or on the wall
        clock for incidents); returns when the work is done. For a `deploy`, its changes
        wait in the operators' queue, then roll out while the operator works (`on_start`:
        what the operator starts on the running services)."""
        env = self.env
        if deploy is not None:
            ahead = sum(1 for waiting in self.operators.queue if waiting.priority <= priority)
            self.stages.move(
                deploy.changes, "operators_queue", env.now, ahead=ahead, deploy=deploy.id
            )
        with self.operators.request(priority=priority) as request:
            yield request
            start = env.now
            if deploy is not None:
                self.stages.move(
                    deploy.changes, "rollout", start, deploy=deploy.id, split=working_time
                )
            end = self.calendar.add_working_time(start, effort) if working_time else start + effort
            if on_start is not None:
                on_start()
            yield env.timeout(end - start)
            self.work.append(OperatorWork(kind, "operators", start, end, effort / HOUR))
            return start

    def _release(self, deploy: Deploy) -> _Process:
        env = self.env
        rng = self._service_streams[deploy.service]["deploys"]
        yield from self._approve(deploy)
        if self._acts(deploy.service):
            yield from self._release_on_runtime(deploy, rng)
            return
        settings: Ticket | ConfigManagement
        if self.process == "ticket":
            settings = self.delivery.ticket
            effort = _sample(settings.manual_deploy_effort, rng)
            started = yield env.process(
                self._operator_work(
                    "deploy", effort, PRIORITY_DEPLOY, not settings.deploy_outside_hours, deploy
                )
            )
            deploy.started = started
        else:
            settings = self.delivery.config_management
            effort = _sample(settings.trigger_effort, rng)
            deploy.started = yield env.process(
                self._operator_work("deploy", effort, PRIORITY_DEPLOY, True, deploy)
            )
            if self._has_staging:
                rejected = yield from self._staging(deploy)
                if rejected:
                    return
            self.stages.move(deploy.changes, "rollout", env.now, deploy=deploy.id)
            converge = self.calendar.next_tick(env.now, settings.converge_interval, 0.0)
            yield env.timeout(converge - env.now + settings.converge_duration)
        deploy.finished = env.now
        cause = deploy_failure(
            [c.bad for c in deploy.changes], rng.random(), settings.manual_error_probability
        )
        self._land(deploy, cause)

    def _release_on_runtime(self, deploy: Deploy, rng: np.random.Generator) -> _Process:
        """A release that replaces the running replicas: by hand while the operator deploys
        (ticket), or rolling at the converge run after the operator's trigger; whether it
        breaks (a bad change, or a slip by hand) is known from the start, as a version's
        code is."""
        env = self.env
        settings = self._process_settings()
        ticket = self.process == "ticket"
        by_ticket = self.delivery.ticket.manual_deploy_effort
        effort = _sample(
            by_ticket if ticket else self.delivery.config_management.trigger_effort, rng
        )
        cause = deploy_failure(
            [c.bad for c in deploy.changes], rng.random(), settings.manual_error_probability
        )
        rollout: list[simpy.Event] = []

        def by_hand() -> None:
            rollout.append(self._roll_out(deploy, rollout_settings(self.delivery, effort), cause))

        outside = ticket and self.delivery.ticket.deploy_outside_hours
        work = self._operator_work(
            "deploy", effort, PRIORITY_DEPLOY, not outside, deploy, by_hand if ticket else None
        )
        deploy.started = yield env.process(work)
        if not ticket:
            if self._has_staging:
                rejected = yield from self._staging(deploy)
                if rejected:
                    return
            self.stages.move(deploy.changes, "rollout", env.now, deploy=deploy.id)
            every = self.delivery.config_management.converge_interval
            converge = self.calendar.next_tick(env.now, every, 0.0)
            yield env.timeout(converge - env.now)
            rollout.append(self._roll_out(deploy, self._rollout_settings, cause))
        yield rollout[0]
        deploy.finished = env.now
        self._land(deploy, cause)

    def _roll_out(
        self, deploy: Deploy, settings: RolloutSettings, cause: str | None
    ) -> simpy.Event:
        """Start the rollout of `deploy` on its stations; a bad version is watched by the
        customers it fails."""
        assert self.runtime is not None
        rng = self._service_streams[deploy.service]["defects"]
        faults = max(1, sum(c.bad for c in deploy.changes)) if cause == BAD_CHANGE else 1
        defect = self.runtime.draw_defect(rng, faults) if cause is not None else None
        done = self.runtime.deploy(deploy.service, deploy.id, settings, cause, defect)
        if cause is not None:
            live = self.runtime.live_defect(deploy.service)
            assert live is not None
            if live.deploys == [deploy.id]:  # newly bad: customers start to see it
                self.env.process(self._customers(deploy.service, live))
        return done

    # -- automated ------------------------------------------------------------------------
    def _pipeline(self, change: Change) -> _Process:
        """CI for one change: a runner, the image build, the tests (rerun when flaky)."""
        env = self.env
        auto = self.delivery.automated
        rng = self._service_streams[change.service]["deploys"]

        def image_build() -> float:
            cached = rng.random() < auto.cache_hit_probability
            return _sample(auto.cached_build_time if cached else auto.build_time, rng)

        caught = yield from self._ci(
            change, rng, image_build, auto.test_time, auto.test_detection, auto.flaky_probability
        )
        if caught:
            return
        if auto.preview.enabled:
            preview = auto.preview
            self.stages.move([change], "preview", env.now)
            yield env.timeout(preview.lifetime)
            # the preview ran until now; billed within the measured period, as other nodes are
            low, high = max(env.now - preview.lifetime, self.warmup), min(env.now, self.horizon)
            self.preview_node_seconds += preview.nodes * max(0.0, high - low)
            if change.bad and rng.random() < preview.detection:
                yield from self._rework(change)
                return
        change.approved = env.now
        self.counts["approved"] += 1
        self.pending[change.service].append(change)
        self._wait_for_release([change])
        self._kick(change.service)

    def _ci(
        self,
        change: Change,
        rng: np.random.Generator,
        build: Callable[[], float],
        test_time: Distribution,
        detection: float,
        flaky: float,
    ) -> Generator[simpy.Event, Any, bool]:
        """One change through CI, in either process: a runner, the build (`build()` draws its
        time), the tests, rerun when a flaky test fails a good change. True when the tests
        caught a bad change: it went back to its developer."""
        env = self.env
        while True:
            self.stages.move([change], "ci_queue", env.now, ahead=len(self.runners.queue))
            with self.runners.request() as runner:
                yield runner
                self.stages.move([change], "build_test", env.now)
                built = build()
                test = _sample(test_time, rng)
                self.ci_jobs.append((env.now, env.now + built + test))
                yield env.timeout(built + test)
                self.ci_busy_seconds += built + test
            if change.bad and rng.random() < detection:
                yield from self._rework(change)
                return True
            if rng.random() < flaky:
                continue
            return False

    def _wait_for_release(self, changes: Sequence[Change]) -> None:
        """Merged changes wait for their service's next rollout (frozen, if it is)."""
        for change in changes:
            stage = "freeze" if self.frozen[change.service] else "release_batch"
            self.stages.move([change], stage, self.env.now)

    def _deploy_pipeline(self, service: int) -> _Process:
        """Deploys everything merged for a service, one rollout at a time."""
        env = self.env
        auto = self.delivery.automated
        rng = self._service_streams[service]["deploys"]
        while self.pending[service]:
            requested = env.now
            budget = auto.error_budget
            while budget.enabled and budget_spent(
                self.outages[service], env.now, budget.window, budget.slo
            ):
                if not self.frozen[service]:
                    self.frozen[service] = True
                    self.stages.move(self.pending[service], "freeze", env.now)
                yield env.timeout(FREEZE_CHECK)
                self.frozen_seconds += FREEZE_CHECK
            self.frozen[service] = False
            changes, self.pending[service] = self.pending[service], []
            deploy = self._record(Deploy(service, requested, changes, started=env.now))
            canary = auto.strategy == "canary"
            first = "canary" if canary else "rollout"
            self.stages.move(changes, first, env.now, deploy=deploy.id)
            any_bad = any(c.bad for c in changes)
            if self._acts(service):
                yield from self._pipeline_on_runtime(deploy, any_bad)
                continue
            if canary:
                alert, rule = self._canary_alert(any_bad, rng)
                if alert < auto.canary_duration:
                    # The SLO burn-rate alert fired before the analysis ended: roll back.
                    yield env.timeout(alert)
                    self.events.record(
                        env.now, "delivery/canary", "burn-rate alert", f"service {service}"
                    )
                    self._canary_rollback(deploy, rule)
                    yield env.timeout(auto.rollout_time)
                    continue
                yield env.timeout(auto.canary_duration)
                verdict = canary_verdict(
                    any_bad, rng.random(), auto.canary_detection, auto.canary_false_alarm
                )
                if verdict == ROLLED_BACK:
                    self._canary_rollback(deploy, "canary analysis")
                    yield env.timeout(auto.rollout_time)
                    continue
                if verdict == FALSE_ALARM:
                    self._false_alarm(deploy)
                    yield env.timeout(auto.rollout_time)
                    continue
                self.stages.move(changes, "rollout", env.now, deploy=deploy.id)
            yield from self._rollout(service)
            deploy.finished = env.now
            self._land(deploy, BAD_CHANGE if any_bad else None)
        self.deploying[service] = False

    def _pipeline_on_runtime(self, deploy: Deploy, any_bad: bool) -> _Process:
        """The pipeline's rollout on the running replicas: the canary's analysis compares
        what its requests saw with the others'; a rollback that an alert started ends it."""
        env = self.env
        done = self._roll_out(deploy, self._rollout_settings, BAD_CHANGE if any_bad else None)
        yield done
        result = first_failure(outcomes(done))
        assert self.runtime is not None
        if result == CANARY_FAILED:
            self.runtime.forget(deploy.service, deploy.id)
            known = any(i.deploy == deploy.id and math.isnan(i.resolved) for i in self.incidents)
            if any_bad and known:  # customers reported it first: that incident is this one
                deploy.finished, deploy.outcome = env.now, ROLLED_BACK
                self._send_back(deploy.changes, deployed=False)
            elif any_bad:
                self._canary_rollback(deploy, "canary analysis", took=0.0)
            else:
                self._false_alarm(deploy, took=0.0)
            return
        if result == ROLLOUT_INTERRUPTED:  # an alert's rollback took over (see `_remedy`)
            deploy.finished, deploy.outcome = env.now, ROLLED_BACK
            self._send_back(deploy.changes, deployed=False)
            return
        if self.delivery.automated.strategy == "canary":
            self.stages.move(deploy.changes, "rollout", env.now, deploy=deploy.id)
        deploy.finished = env.now
        self._land(deploy, BAD_CHANGE if any_bad else None)

    def _rollout(self, service: int) -> _Process:
        """One rollout (or rollback) of a service: `rollout_time`. Under blue-green a full
        second copy of the service's nodes runs meanwhile, and is paid for."""
        auto = self.delivery.automated
        if auto.strategy == "blue-green":
            now = self.env.now
            low, high = max(now, self.warmup), min(now + auto.rollout_time, self.horizon)
            self.second_copy_node_seconds += self.delivery.nodes_per_service * max(0.0, high - low)
        yield self.env.timeout(auto.rollout_time)

    def _canary_alert(self, any_bad: bool, rng: np.random.Generator) -> tuple[float, str]:
        """When an SLO burn-rate alert fires on a bad canary (its error ratio is the slice it
        serves: a bad change fails every request it gets), if the pipeline acts on alerts,
        and the rule that fires; else infinity. Draws only then, so threshold alerting keeps
        its draws."""
        auto = self.delivery.automated
        monitoring = self.monitoring
        if not (
            any_bad
            and auto.auto_rollback
            and monitoring.enabled
            and monitoring.alerting == "burn-rate"
        ):
            return math.inf, ""
        delay, _, rule = self._burn_rate(auto.canary_share, rng)
        return delay, rule

    def _canary_rollback(self, deploy: Deploy, rule: str, took: float | None = None) -> None:
        """The canary failed (`rule`: the analysis, or the alert that fired): roll back at
        once (taking `took`, the pipeline's rollout time unless the replicas went back
        already); the slice of users it hit had an incident."""
        env = self.env
        auto = self.delivery.automated
        took = auto.rollout_time if took is None else took
        deploy.finished = env.now
        deploy.outcome = ROLLED_BACK
        incident = Incident(
            deploy.service, BAD_CHANGE, deploy.started, detected=env.now, responder="pipeline"
        )
        incident.source, incident.rule, incident.deploy = CANARY, rule, deploy.id
        incident.handled_by_pipeline(env.now)
        incident.resolved = env.now + took
        incident.impact = auto.canary_share
        self.incidents.append(incident)
        self.outages[deploy.service].append((incident.start, incident.resolved, incident.impact))
        rollback = Deploy(deploy.service, env.now, [], env.now, incident.resolved, ROLLBACK)
        rollback.rollback_of = deploy.id
        self._record(rollback)
        self._send_back(deploy.changes, deployed=False)

    def _false_alarm(self, deploy: Deploy, took: float | None = None) -> None:
        """The canary analysis failed a good release: it is rolled back (no incident, nobody
        was hurt) and its changes, CI verdicts kept, go out with the pipeline's next
        rollout, which analyses a canary again."""
        env = self.env
        deploy.finished = env.now
        deploy.outcome = FALSE_ALARM
        done = env.now + (self.delivery.automated.rollout_time if took is None else took)
        rollback = Deploy(deploy.service, env.now, [], env.now, done, ROLLBACK)
        rollback.rollback_of = deploy.id
        self._record(rollback)
        self.pending[deploy.service][:0] = deploy.changes
        self.stages.move(deploy.changes, "rework", env.now, deploy=deploy.id)
        self.events.record(env.now, "delivery/canary", "false-alarm", f"service {deploy.service}")

    # -- production -----------------------------------------------------------------------
    def _land(self, deploy: Deploy, cause: str | None) -> None:
        """A release reached production; if it is broken, an incident starts now."""
        now = self.env.now
        for change in deploy.changes:
            change.deployed = now
        self.stages.land(deploy.changes, now)
        self.counts["deployed"] += len(deploy.changes)
        if cause is None:
            deploy.outcome = OK
            return
        deploy.outcome = FAILED
        for change in deploy.changes:
            if change.bad:
                change.caused_failure = True
        if self._acts(deploy.service):
            return  # its requests fail: monitoring or customers open the incident
        incident = Incident(deploy.service, cause, now)
        incident.deploy = deploy.id
        self.incidents.append(incident)
        self.env.process(self._incident(incident, deploy))

    def _record(self, deploy: Deploy) -> Deploy:
        deploy.id = len(self.deploys)
        self.deploys.append(deploy)
        return deploy

    def _send_back(self, changes: list[Change], deployed: bool) -> None:
        """After a rollback: good changes go out with the next release (an automated
        pipeline keeps their CI verdict; `rerelease`: among every change waiting, alone, or
        in a release cut now), bad ones come back once a developer fixed them."""
        automated = self.process == "automated"
        if deployed:
            self.stages.rolled_back(changes)
        for change in changes:
            if deployed:
                change.deployed = math.nan
                self.counts["deployed"] -= 1
            if change.bad:
                change.caused_failure = True
            if change.bad or not automated:
                change.approved = math.nan
                self.counts["approved"] -= 1
            if change.bad:
                self.env.process(self._rework(change))
            elif automated:
                self.pending[change.service].append(change)
                if deployed:  # the rollback is done: wait for the next rollout
                    self._wait_for_release([change])
                else:  # a canary: its rollback runs before the next rollout
                    self.stages.move([change], "rework", self.env.now, deploy=change.deploy)
            elif self._holds():  # the next release is this one's again (a release branch)
                unit = 0 if self.delivery.release_unit == "application" else change.service
                self.held[unit].append(change)
                self.stages.move([change], "release_batch", self.env.now)
            else:  # tested already, if the process tests: the next release
                self._queue(change)
        if automated and changes:
            service = changes[0].service
            self._kick(service)
        elif self.delivery.rerelease == "at-once" and any(not c.bad for c in changes):
            # the bad changes reverted, the rest goes out again now, not with the next release
            # (unless a release without an interval took them already)
            service = changes[0].service
            whole = self.delivery.release_unit == "application"
            if any(self.pending) if whole else self.pending[service]:
                self._cut(service)

    def _holds(self) -> bool:
        """Whether a rolled-back release's good changes wait to go out alone at the next
        release (`rerelease: next-window`; a process that cuts a release per change has no
        window to wait for)."""
        return (
            self.delivery.rerelease == "next-window"
            and self._process_settings().release_interval > 0
        )

    def _kick(self, service: int) -> None:
        """Start the service's deploy pipeline unless it is running (it takes what waits)."""
        if self.pending[service] and not self.deploying[service]:
            self.deploying[service] = True
            self.env.process(self._deploy_pipeline(service))

    def _incident(self, incident: Incident, deploy: Deploy | None) -> _Process:
        env = self.env
        rng = self._service_streams[incident.service]["incidents"]
        delay, source, incident.rule = self._detect(incident.impact, rng)
        incident.source = source
        yield env.timeout(delay)
        incident.detected = env.now
        auto = self.delivery.automated
        automatic = (
            self.process == "automated"
            and auto.auto_rollback
            and source != CUSTOMER
            and deploy is not None
        )
        if automatic:
            incident.handled_by_pipeline(env.now)
            yield from self._rollout(incident.service)
            self._restore(incident, deploy, rollback_started=env.now - auto.rollout_time)
            self._follow_up()
            return
        # A human responds: diagnosis, then the remedy through the same process.
        who = responder(env.now, self.calendar, self.organisation.on_call and source != TICKET)
        if who == "morning":
            yield env.timeout(self.calendar.next_working(env.now) - env.now)
            who = "operators"
        incident.responder = who
        incident.paged = source != TICKET
        incident.notified = env.now
        diagnosis = _sample(self.incident_settings.diagnosis_effort, rng)
        effort = diagnosis
        if deploy is None:
            effort += _sample(self.incident_settings.repair_effort, rng)
        elif self.process == "ticket":
            effort += _sample(self.delivery.ticket.manual_deploy_effort, rng)
        elif self.process == "config-management":
            effort += _sample(self.delivery.config_management.trigger_effort, rng)
        if who == "on-call":
            yield env.timeout(_sample(self.organisation.on_call_response, rng))
            with self.on_call.request() as request:
                yield request
                start = env.now
                yield env.timeout(effort)
                self.work.append(OperatorWork("incident", "on-call", start, env.now, effort / HOUR))
        else:
            start = yield env.process(
                self._operator_work("incident", effort, PRIORITY_INCIDENT, False)
            )
        incident.acknowledged, incident.diagnosed = start, start + diagnosis
        incident.remediated, incident.hours = env.now, effort / HOUR
        rollback_started = env.now
        if deploy is not None:
            if self.process == "config-management":
                settings = self.delivery.config_management
                converge = self.calendar.next_tick(env.now, settings.converge_interval, 0.0)
                yield env.timeout(converge - env.now + settings.converge_duration)
            elif self.process == "automated":
                yield from self._rollout(incident.service)
        self._restore(incident, deploy, rollback_started)
        self._follow_up()

    def _detect(self, impact: float, rng: np.random.Generator) -> tuple[float, str, str]:
        """Delay until an incident of `impact` (share of requests failing) is detected, how
        (PAGE, TICKET: a burn-rate rule that opens a ticket, or CUSTOMER), and the alert rule
        that fired ("" for a customer). Threshold alerting fires whatever the impact;
        burn-rate rules may never fire on a small one, and then customers report it."""
        monitoring = self.monitoring
        if monitoring.enabled and monitoring.alerting == "burn-rate":
            delay, kind, rule = self._burn_rate(impact, rng)
            if kind is not None:
                return delay, kind, rule
            return _sample(monitoring.customer_report_delay, rng), CUSTOMER, ""
        delay = detection_delay(
            monitoring.enabled,
            monitoring.scrape_interval,
            monitoring.evaluation_interval,
            monitoring.alert_for,
            rng.random(),
            rng.random(),
            0.0 if monitoring.enabled else _sample(monitoring.customer_report_delay, rng),
        )
        if monitoring.enabled:
            return delay, PAGE, THRESHOLD_RULE
        return delay, CUSTOMER, ""

    def _burn_rate(self, impact: float, rng: np.random.Generator) -> tuple[float, str | None, str]:
        """The first burn-rate alert on an error ratio of `impact`: its delay, whether it
        pages, and the rule's name ("" when none fires)."""
        monitoring = self.monitoring
        rules = [
            (rule.burn, rule.long_window, rule.short_window, rule.page)
            for rule in monitoring.burn_rate_rules
        ]
        delay, kind, index = burn_rate_alert(
            impact,
            monitoring.slo,
            rules,
            monitoring.scrape_interval,
            monitoring.evaluation_interval,
            rng.random(),
            rng.random(),
        )
        if index < 0:
            return delay, kind, ""
        fired = monitoring.burn_rate_rules[index]
        return delay, kind, rule_name(fired.burn, fired.long_window)

    def _follow_up(self) -> None:
        """Root cause and postmortem, in working time, queued behind incidents."""
        follow_up = self.incident_settings.follow_up_effort
        if follow_up > 0:
            self.env.process(self._operator_work("incident", follow_up, PRIORITY_DEPLOY))

    def _restore(self, incident: Incident, deploy: Deploy | None, rollback_started: float) -> None:
        now = self.env.now
        incident.resolved = now
        self.outages[incident.service].append((incident.start, now, incident.impact))
        if deploy is None:
            return
        rollback = Deploy(incident.service, incident.detected, [], rollback_started, now, ROLLBACK)
        rollback.rollback_of = deploy.id
        self._record(rollback)
        self._send_back(deploy.changes, deployed=True)

    # -- other work and failures ----------------------------------------------------------
    def _toil(self) -> _Process:
        """Hand configuration, recipe upkeep: one-hour tickets, Poisson in working time."""
        env = self.env
        weekly_working = self.organisation.working_hours_per_week * HOUR
        mean_gap = weekly_working / (self.toil_hours_per_week * HOUR / TOIL_CHUNK)
        while True:
            at = self.calendar.add_working_time(env.now, self._toil_rng.exponential(mean_gap))
            if at >= self.horizon:
                return
            yield env.timeout(at - env.now)
            env.process(self._operator_work("toil", TOIL_CHUNK, PRIORITY_TOIL))

    def _infrastructure_failures(self) -> _Process:
        env = self.env
        rng = self._infra_rng
        services = self._infrastructure
        mean_gap = self.infrastructure_mtbf / len(services)
        while True:
            yield env.timeout(rng.exponential(mean_gap))
            service = services[int(rng.integers(len(services)))]
            incident = Incident(service, INFRASTRUCTURE, env.now)
            self.incidents.append(incident)
            env.process(self._incident(incident, None))

    def _sampler(self) -> _Process:
        env = self.env
        while True:
            counts = self.counts
            in_flight = counts["committed"] - counts["deployed"]
            self.samples.append(
                FlowSample(
                    env.now, counts["committed"], counts["approved"], counts["deployed"], in_flight
                )
            )
            yield env.timeout(SAMPLE_INTERVAL)

    # -- results -----------------------------------------------------------------------------
    def records(self) -> DeliveryRecords:
        """What the run left behind, as it stands now (call it at the horizon)."""
        delivery, organisation = self.delivery, self.organisation
        return DeliveryRecords(
            warmup=self.warmup,
            horizon=self.horizon,
            calendar=self.calendar,
            services=delivery.services,
            whole_application=delivery.release_unit == "application",
            process=self.process,
            operators=self.team,
            on_call=organisation.on_call,
            changes=tuple(
                ChangeRecord(
                    c.id,
                    c.service,
                    c.committed,
                    c.approved,
                    c.deployed,
                    c.caused_failure,
                    NO_STAGE if c.stage == IN_PRODUCTION else c.stage,
                    c.since,
                )
                for c in self.changes
            ),
            deploys=tuple(
                DeployRecord(
                    d.id,
                    d.service,
                    d.requested,
                    d.started,
                    d.finished,
                    len(d.changes),
                    d.outcome,
                    d.rollback_of,
                )
                for d in self.deploys
            ),
            incidents=tuple(
                IncidentRecord(
                    i.service,
                    i.cause,
                    i.start,
                    i.detected,
                    i.resolved,
                    i.responder,
                    i.paged,
                    i.impact,
                    i.source,
                    i.rule,
                    i.first_bad,
                    i.notified,
                    i.acknowledged,
                    i.diagnosed,
                    i.remediated,
                    i.hours,
                    i.deploy,
                )
                for i in self.incidents
            ),
            work=tuple(self.work),
            samples=tuple(self.samples),
            operator_backlog=len(self.operators.queue),
            ci_runners=self.ci_runners,
            ci_busy_seconds=self.ci_busy_seconds,
            frozen_seconds=self.frozen_seconds,
            preview_node_seconds=self.preview_node_seconds,
            second_copy_node_seconds=self.second_copy_node_seconds,
            nodes_per_service=delivery.nodes_per_service,
            node_price=delivery.node_price,
            runner_price=self.runner_price,
            hourly_rate=organisation.hourly_rate,
            on_call_standby_rate=organisation.on_call_standby_rate,
            stages=self.stages.records(),
            slo=self.monitoring.slo,
            budget_window=delivery.automated.error_budget.window,
            on_call_rotation=organisation.rotation(delivery.services, self.operational_hours),
            ci_jobs=np.array(self.ci_jobs, dtype=float).reshape(-1, 2),
            runner_billing="always-on" if self._integrates else delivery.automated.runner_billing,
            billing_increment=delivery.automated.billing_increment,
        )

    # -- work the discovery and secrets models hand to the organisation -------------------
    def request_config_change(
        self,
        service: int,
        on_deployed: Callable[[float, float], None],
        rng: np.random.Generator,
        by: str | None = None,
    ) -> None:
        """Ship a configuration change of `service` (a new address, a new credential) the way
        this organisation ships anything, and call `on_deployed(time, operator_hours)` once it
        runs: a ticket deployed by hand (`manual_deploy_effort`), a recipe trigger and the next
        converge run, or a pipeline run (a cached build, the tests, a rollout). A planned change
        (`by` None) is hand configuration in the operators' queue, in working time, without
        the board; the remedy of an incident is done by its responder (`by`: "operators" or
        "on-call") on the wall clock, ahead of other work. Draws come from the caller's `rng`,
        so the delivery model's own streams are untouched. It is a row of `deploys` with the
        outcome "config" and no changes."""
        env = self.env
        requested = env.now

        def change() -> _Process:
            started, hours = env.now, 0.0
            if self.process == "automated":
                auto = self.delivery.automated
                with self.runners.request() as runner:
                    yield runner
                    started = env.now
                    busy = _sample(auto.cached_build_time, rng) + _sample(auto.test_time, rng)
                    self.ci_jobs.append((env.now, env.now + busy))
                    yield env.timeout(busy)
                    self.ci_busy_seconds += busy
                yield from self._rollout(service)
            else:
                ticket = self.process == "ticket"
                effort = _sample(
                    self.delivery.ticket.manual_deploy_effort
                    if ticket
                    else self.delivery.config_management.trigger_effort,
                    rng,
                )
                hours = effort / HOUR
                if by == "on-call":
                    with self.on_call.request() as request:
                        yield request
                        started = env.now
                        yield env.timeout(effort)
                    self.work.append(OperatorWork("incident", "on-call", started, env.now, hours))
                elif by is not None:
                    work = self._operator_work("incident", effort, PRIORITY_INCIDENT, False)
                    started = yield env.process(work)
                else:
                    in_hours = not (ticket and self.delivery.ticket.deploy_outside_hours)
                    work = self._operator_work("toil", effort, PRIORITY_DEPLOY, in_hours)
                    started = yield env.process(work)
                if not ticket:
                    settings = self.delivery.config_management
                    converge = self.calendar.next_tick(env.now, settings.converge_interval, 0.0)
                    yield env.timeout(converge - env.now + settings.converge_duration)
            self._record(Deploy(service, requested, [], started, env.now, "config"))
            on_deployed(env.now, hours)

        env.process(change())

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
        source: str = PAGE,
    ) -> None:
        """An incident another model caused or saw (a refused credential, routing to a dead
        node, an alert on what requests saw). From `start` it is detected (at `detected` if
        someone already knows, by an alert or a customer: `source`; else by monitoring or a
        customer), the on-call or working operator diagnoses it, and the remedy runs:
        `remedy(responder)` returns an event that fires once the fix runs (say, configuration
        changes through `request_config_change`); without one, the responder repairs it
        (`incidents.repair_effort`) — unless a bad version of the service is serving (request
        level): then the diagnosis finds it, the incident is that change's, and the remedy is
        a rollback (by the pipeline, without a human, when an alert found it and the
        process rolls back by itself; nothing, after a short check, when the pipeline's
        canary analysis took the version back before the diagnosis ended).
        `on_resolved(time, operator_hours)` tells the caller when it is resolved, so that its
        outage ends then; the hours are the responder's diagnosis and repair. For the
        incident's timeline, a caller may name the alert `rule` that found it (with
        `detected`) and the time of the `first_bad` request it failed; neither changes what
        happens."""
        env = self.env

        def respond() -> _Process:
            if start > env.now:
                yield env.timeout(start - env.now)
            live = self._live(service)
            if live is None or remedy is not None:  # (an overload: its remedy, and a rollback)
                incident = Incident(service, cause, min(start, env.now))  # found late: began then
            else:
                incident = Incident(service, live.cause, min(live.since, env.now))
                incident.deploy = live.deploys[0] if live.deploys else -1
                incident.impact = live.defect.error_ratio
            if (
                first_bad is not None and first_bad >= incident.start
            ):  # (else: an earlier trouble's)
                incident.first_bad = first_bad
            self.incidents.append(incident)
            if detected is not None:
                delay, found, name = max(0.0, detected - env.now), source, rule or ""
            else:
                delay, found, name = self._detect(incident.impact, rng)
            incident.source, incident.rule = found, name
            yield env.timeout(delay)
            incident.detected = env.now
            auto = self.delivery.automated
            by_pipeline = found != CUSTOMER and self.process == "automated" and auto.auto_rollback
            if live is not None and remedy is None and by_pipeline:  # it acts on the alert
                incident.handled_by_pipeline(env.now)
                if self._in_canary(live):  # the alert saw the canary's slice: nobody paged
                    incident.source = CANARY
                yield self._roll_back(service, live, env.now)
                self._measure(incident, live)
                self._restore(incident, None, env.now)
                self._follow_up()
                if on_resolved is not None:
                    on_resolved(env.now, 0.0)
                return
            on_call = self.organisation.on_call and found != TICKET
            who = responder(env.now, self.calendar, on_call)
            if who == "morning":
                yield env.timeout(self.calendar.next_working(env.now) - env.now)
                who = "operators"
            incident.responder, incident.paged = who, found != TICKET
            incident.notified = env.now
            diagnosis = _sample(self.incident_settings.diagnosis_effort, rng)
            effort = diagnosis
            fix, by_hand = remedy, False
            if live is not None:  # the diagnosis finds the bad version too: roll it back
                rollback, effort, by_hand = self._rollback_remedy(service, live, diagnosis, rng)
                fix = rollback if remedy is None else _both(remedy, rollback, env)
            elif remedy is None:
                effort += _sample(self.incident_settings.repair_effort, rng)
            if who == "on-call":
                yield env.timeout(_sample(self.organisation.on_call_response, rng))
                request = self.on_call.request()
            else:
                request = self.operators.request(priority=PRIORITY_INCIDENT)
            fixed, already_fixed = None, False
            with request:
                yield request
                begun = env.now
                incident.acknowledged, incident.diagnosed = begun, begun + diagnosis
                if live is not None and remedy is None:
                    already_fixed = yield from self._diagnose(service, effort)
                else:
                    yield env.timeout(effort)
                if already_fixed:  # the pipeline took it back: nothing to roll back
                    fix, by_hand, effort = None, False, env.now - begun
                    incident.diagnosed = env.now
                if not by_hand:
                    self.work.append(OperatorWork("incident", who, begun, env.now, effort / HOUR))
                incident.remediated, incident.hours = env.now, effort / HOUR
                if fix is not None:
                    fixed = fix(who)
                    if by_hand:  # the responder deploys the rollback
                        yield fixed
                        effort = env.now - begun
                        self.work.append(
                            OperatorWork("incident", who, begun, env.now, effort / HOUR)
                        )
                        incident.hours = effort / HOUR
                    else:
                        yield env.timeout(0)  # its work queues before this hand is free
            if fixed is not None:
                yield fixed
            self._measure(incident, live)
            self._restore(incident, None, env.now)
            if not already_fixed:  # (else the pipeline's remedy, as for its own canaries)
                self._follow_up()
            if on_resolved is not None:
                on_resolved(env.now, effort / HOUR)

        env.process(respond())

    # -- bad versions on the running services ------------------------------------------------
    def _diagnose(self, service: int, work: float) -> Generator[simpy.Event, Any, bool]:
        """A responder's `work` on a bad version's incident (the diagnosis; a recipe's revert),
        cut short when no bad version of the service serves any more, or did not when they
        began: the pipeline's canary analysis took it back by itself. True then: they saw
        the pipeline's notice and checked (`already_fixed_at`), and there is nothing to roll
        back."""
        env = self.env
        assert self.runtime is not None
        begun = env.now
        gone = self.runtime.clean(service)
        yield env.any_of([env.timeout(work), gone])
        if not gone.triggered:
            return False
        yield env.timeout(already_fixed_at(begun, work, env.now, ALREADY_FIXED_CHECK) - env.now)
        return True

    def _live(self, service: int) -> LiveDefect | None:
        return self.runtime.live_defect(service) if self.runtime is not None else None

    def _in_canary(self, live: LiveDefect) -> bool:
        """Whether the deploy that put a bad version out is still in its canary analysis."""
        canary = STAGE["canary"]
        return any(
            change.stage == canary and change.deploy == number
            for number in live.deploys[:1]
            for change in self.deploys[number].changes
        )

    def bad_version_since(self, service: int) -> float | None:
        """Since when a bad version of the service has been serving (None if none is): what
        a responder's diagnosis of an error alert looks for down the call tree."""
        live = self._live(service)
        return None if live is None else live.since

    def _measure(self, incident: Incident, live: LiveDefect | None) -> None:
        """A bad version's incident hit the share of its service's visits that failed while
        it was open (a canary's slice, a rollout's growing share, a partial defect)."""
        if live is not None and self.runtime is not None:
            incident.impact = self.runtime.failed_share(
                incident.service, incident.start, self.env.now, incident.impact
            )

    def _rollback_remedy(
        self, service: int, live: LiveDefect, diagnosis: float, rng: np.random.Generator
    ) -> tuple[Callable[[str], simpy.Event], float, bool]:
        """A human's rollback of a bad version, as the process ships anything: (the remedy,
        the responder's work before it, whether the responder does it by hand). By ticket the
        responder deploys the last good version by hand (as long as a deploy takes, the
        servers going down as then); by configuration management they revert the recipe
        (a trigger) and the replicas roll back at once (they run the converge by hand); an
        automated pipeline rolls back at a click."""
        if self.process == "ticket":
            took = _sample(self.delivery.ticket.manual_deploy_effort, rng)
            settings: RolloutSettings | None = rollout_settings(self.delivery, took)
            by_hand = True
        elif self.process == "config-management":
            diagnosis += _sample(self.delivery.config_management.trigger_effort, rng)
            settings, by_hand = self._rollout_settings, False
        else:
            settings, by_hand = None, False

        def remedy(_who: str) -> simpy.Event:
            return self._roll_back(service, live, self.env.now, settings)

        return remedy, diagnosis, by_hand

    def _roll_back(
        self,
        service: int,
        live: LiveDefect,
        started: float,
        settings: RolloutSettings | None = None,
    ) -> simpy.Event:
        """Roll the service's stations back to their last good version; once done, the
        deploys that went out with the bad version are rolled back (a row in `deploys`
        each), their good changes go out again and the bad ones go to rework."""
        assert self.runtime is not None
        done = self.runtime.roll_back(service, settings)

        def finished(_event: simpy.Event) -> None:
            for number in live.deploys:
                deploy = self.deploys[number]
                if deploy.outcome not in (OK, FAILED):
                    continue  # cut short before it landed: its pipeline sends it back
                rollback = Deploy(service, started, [], started, self.env.now, ROLLBACK)
                rollback.rollback_of = deploy.id
                self._record(rollback)
                self._send_back(deploy.changes, deployed=True)

        done.callbacks.append(finished)
        return done

    def _customers(self, service: int, live: LiveDefect) -> _Process:
        """Customers who get errors or slow pages from a bad version complain: one reaches
        operations `monitoring.customer_report_delay` later, unless somebody is already
        working on the service (then they complain again later, if it is still bad)."""
        env = self.env
        assert self.runtime is not None
        delay = self.monitoring.customer_report_delay
        while True:
            yield env.timeout(_sample(delay, self._customer_rng))
            if live not in self.runtime.live.values():
                return
            if not any(i.service == service and math.isnan(i.resolved) for i in self.incidents):
                self.report_incident(
                    service,
                    live.cause,
                    live.since,
                    self._customer_rng,
                    detected=env.now,
                    source=CUSTOMER,
                )
                return
