"""The world of one run: the scenario's components wired onto one SimPy environment."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any, TypedDict

import simpy

from ..engine import EventLog, RandomStreams, RequestLog, Samples, SpanLog
from ..engine.loop import run_until
from ..engine.recorder import STATUS_CODE
from ..errors import ScenarioError
from ..records.scaling import ScalingLog
from ..scenario.calls import Call, CallPolicy, Parallel, Work
from ..scenario.calls import RetryBudget as RetryBudgetSettings
from ..scenario.cluster import NodeType, Replicas
from ..scenario.distributions import block_stream
from ..scenario.rollout import Defect
from ..scenario.schema import Scenario, Service
from ..scenario.units import format_duration, format_rate
from . import calls
from .autoscaling import Autoscaler, NodePool, Scaled
from .context import Organisation, RunContext, ServiceHandles, Subsystem
from .delivery import DeliveryModel
from .failures import NodeFailures, simulates_node_failures
from .handscale import HandNodes
from .monitoring import MonitoringModel
from .placement import Placement
from .resilience import BreakerState, ConnectionPools, RetryBudget
from .rollout import Rollouts, replica_start, scripted, stations_by_service
from .services import Station, build_station
from .traffic import start_source


class _Policy(TypedDict):
    """The caller's policy, as `calls.CallSpec` takes it."""

    timeout: float | None
    retries: int
    backoff: float
    backoff_max: float
    jitter: bool
    retry_on: frozenset[int]
    optional: bool


class _LocalNetwork(TypedDict, total=False):
    """The same-node network of a call, as `calls.CallSpec` takes it (with placement)."""

    local: Callable[[], bool]
    network_local: Callable[[], float]


_InlinePart = Callable[[Callable[[str], float]], float]
"""A part of a monolith's handler: its work, given `total(service)` of in-process calls."""


class World:
    """Everything a run simulates. Built from a Scenario; never reads YAML."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        subsystems: Callable[[RunContext], dict[str, Subsystem]] | None = None,
    ) -> None:
        """`subsystems` builds the scheduler, delivery, discovery and the like on the run's
        context (the runner passes the registry's builder; the services come first)."""
        self.scenario = scenario
        self.seed = seed
        self.env = simpy.Environment()
        self.streams = RandomStreams(seed)
        self.spans = SpanLog()
        self.requests = RequestLog()
        self.events = EventLog()
        self.scaling = ScalingLog()  # the autoscalers' decisions as numbers
        self.samples = Samples()
        record = scenario.metrics.record
        self.runtime = calls.Runtime(
            self.env, self.spans, self.requests, record.spans, record.requests
        )
        self.runtime.reuse_after = _longest_wait(scenario)
        for table, kept in (("spans", record.spans), ("requests", record.requests)):
            if not kept:
                self.events.record(
                    0.0,
                    "run",
                    "recording_off",
                    f"metrics.record.{table} is false: the {table} table is empty"
                    + (
                        "; the services table's visit counts and latencies are NaN"
                        if table == "spans"
                        else "; the request KPIs and entry_points table are NaN"
                    ),
                )
        self.stations: list[Station] = []
        self.warmup_areas: dict[int, tuple[float, float, float, float]] = {}
        self.context = RunContext(
            self.env,
            scenario,
            seed,
            self.streams,
            self.events,
            ServiceHandles(self.stations, self.spans, self.requests, self.warmup_areas),
        )
        self._next_request = 0
        self.placement = self._placement()
        if scenario.deployment == "monolith":
            targets = self._build_monolith()
        else:
            targets = self._build_microservices()
        for index, name in enumerate(scenario.services):
            if name in scenario.traffic:
                self._start_traffic(name, index, targets[name])
        self.pool: NodePool | None = None
        self.node_count = self._fixed_node_count()
        self.price_per_hour = self._price_per_hour()
        self.node_samples: list[tuple[float, int]] = []
        self.warmup_node_seconds = 0.0
        self.autoscaler: Autoscaler | None = None
        if scenario.autoscaling.enabled and scenario.deployment == "microservices":
            self._build_autoscaler()
        elif self.placement is not None:
            self._place_fixed()
        self.hand_nodes = HandNodes.of(scenario, [s.replicas for s in self.stations])
        """The fixed fleet's nodes a person adds for replicas (None under an autoscaler)."""
        self.rollouts = self._build_rollouts()
        self.failures = self._build_failures()
        self.subsystems: dict[str, Subsystem] = (
            {} if subsystems is None else subsystems(self.context)
        )
        self._connect_failures()
        self.env.process(self._sample(scenario.warmup, scenario.sample_interval))

    # ------------------------------------------------------------------ building

    def _station(self, name: str, replicas: int, concurrency: int, balancer: str,
                 queue_limit: int | None, threading: str = "event-loop") -> Station:  # fmt: skip
        station = build_station(
            self.env,
            name,
            len(self.stations),
            replicas=replicas,
            concurrency=concurrency,
            load_balancer=balancer,
            queue_limit=queue_limit,
            balancer_rng=self.streams.get(f"service/{name}/load_balancer"),
            threading=threading,
        )
        station.spans = self.spans
        self.stations.append(station)
        self.events.record(
            0.0,
            f"service/{name}",
            "replicas_started",
            f"{replicas} replicas × {concurrency} workers behind {balancer}",
        )
        return station

    def _build_microservices(self) -> dict[str, calls.Target]:
        scenario = self.scenario
        targets = {
            name: calls.Target(
                self._station(
                    name,
                    spec.replicas,
                    spec.concurrency,
                    spec.load_balancer,
                    spec.queue_limit,
                    spec.threading,
                ),
                handler=(),
            )
            for name, spec in scenario.services.items()
        }
        for name, spec in scenario.services.items():
            targets[name].handler = self._compile(name, spec, targets)
            for slow in spec.slowdowns:
                self.events.record(
                    slow.at,
                    f"service/{name}",
                    "slowdown",
                    f"work takes {slow.factor:g}× as long for {format_duration(slow.duration)}",
                )
        return targets

    def _compile(self, name: str, spec: Service, targets: dict[str, calls.Target]) -> calls.Handler:
        """The handler as tuples the hot path can read fast; random streams by step."""
        network = self.scenario.network
        serialisation = network.serialisation
        budget = _budget(spec.retry_budget)
        breakers: dict[str, BreakerState] = {}
        pools: dict[str, ConnectionPools[calls.Waiter]] = {}
        pool = spec.connection_pool

        def call_spec(call: Call, where: str) -> calls.CallSpec:
            breaker = None
            if spec.circuit_breaker.enabled:
                breaker = breakers.setdefault(call.call, _breaker(spec))
            return calls.CallSpec(
                target=targets[call.call],
                count=call.count,
                probability=call.probability,
                uniform=block_stream(self.streams.get(f"{where}/client").random),
                network=network.latency.sampler(self.streams.get(f"{where}/network")),
                **self._local_network(name, call.call, where),
                prefix_work=(lambda: serialisation) if serialisation > 0 else None,
                breaker=breaker,
                budget=budget,
                on_breaker_change=self._breaker_logger(name, call.call),
                pools=(
                    pools.setdefault(call.call, ConnectionPools(pool.size, pool.acquire_timeout))
                    if pool.enabled
                    else None
                ),
                **_policy(call),
            )

        steps: list[tuple[Any, ...]] = []
        for index, step in enumerate(spec.handler or [Work()]):
            where = f"service/{name}/handler/{index}"
            if isinstance(step, Work):
                steps.append((calls.WORK, self._work_sampler(name, spec, step, index)))
            elif isinstance(step, Call):
                steps.append((calls.CALL, call_spec(step, where)))
            else:
                specs = tuple(call_spec(c, f"{where}/{j}") for j, c in enumerate(step.parallel))
                needed = None if step.wait_for == "all" else step.wait_for
                steps.append((calls.PARALLEL, specs, needed))
        if spec.threading == "thread-per-request":
            return calls.thread_per_request(tuple(steps))
        return tuple(steps)

    def _work_sampler(
        self, name: str, spec: Service, step: Work, index: int
    ) -> Callable[[], float]:
        if spec.handler is None:  # the one implicit step keeps its historical stream name
            stream = self.streams.get(f"service/{name}/service_time")
            sampler = spec.service_time.sampler(stream)
        else:
            distribution = step.work or spec.service_time
            sampler = distribution.sampler(self.streams.get(f"service/{name}/handler/{index}/work"))
        if not spec.slowdowns:
            return sampler
        windows = [(s.at, s.at + s.duration, s.factor) for s in spec.slowdowns]
        env = self.env

        def slowed() -> float:
            now = env._now
            value = sampler()
            for start, end, factor in windows:
                if start <= now < end:
                    value *= factor
            return value

        return slowed

    def _build_monolith(self) -> dict[str, calls.Target]:
        """The same work in one process: a request holds one worker for all of it."""
        scenario = self.scenario
        services = scenario.services
        sizing = scenario.monolith
        replicas = sizing.replicas or sum(s.replicas for s in services.values())
        workers = sum(s.workers for s in services.values())
        concurrency = sizing.concurrency or max(1, round(workers / replicas))
        station = self._station("monolith", replicas, concurrency, sizing.load_balancer, None)
        work = {name: self._inline_work(name, spec) for name, spec in services.items()}

        def total(name: str) -> float:
            return sum(part(total) for part in work[name])

        return {
            name: calls.Target(station, handler=((calls.WORK, lambda n=name: total(n)),))
            for name in services
        }

    def _inline_work(self, name: str, spec: Service) -> list[_InlinePart]:
        """The parts of a handler as functions of `total`: in-process calls run the callee's
        work in turn on the same worker (fan-outs too: a plain monolith does not thread)."""
        parts: list[_InlinePart] = []
        for index, step in enumerate(spec.handler or [Work()]):
            where = f"service/{name}/handler/{index}"
            if isinstance(step, Work):
                sampler = self._work_sampler(name, spec, step, index)

                def work(total: Callable[[str], float], s: Callable[[], float] = sampler) -> float:
                    return s()

                parts.append(work)
                continue
            group = step.parallel if isinstance(step, Parallel) else [step]
            for j, call in enumerate(group):
                stream = f"{where}/{j}/client" if isinstance(step, Parallel) else f"{where}/client"
                uniform = block_stream(self.streams.get(stream).random)

                def inline(
                    total: Callable[[str], float],
                    call: Call = call,
                    uniform: Callable[[], float] = uniform,
                ) -> float:
                    made = sum(
                        1
                        for _ in range(call.count)
                        if call.probability >= 1 or uniform() < call.probability
                    )
                    return sum(total(call.call) for _ in range(made))

                parts.append(inline)
        return parts

    def _node_type(self) -> NodeType | None:
        cluster = self.scenario.cluster
        if cluster is None or self.scenario.scheduler is not None:
            return None  # no nodes, or nodes that the cluster scheduler models itself
        return cluster.node_type_list()[0][1]

    def _placement(self) -> Placement | None:
        """Placement matters to the network only with a same-node latency and nodes."""
        scenario = self.scenario
        wanted = scenario.network.same_node_latency is not None
        if wanted and scenario.deployment == "microservices" and self._node_type() is not None:
            return Placement()
        return None

    def _local_network(self, caller: str, callee: str, where: str) -> _LocalNetwork:
        if self.placement is None:
            return {}
        same_node = self.scenario.network.same_node_latency
        assert same_node is not None
        uniform = block_stream(self.streams.get(f"{where}/network/placement").random)
        return {
            "local": self.placement.local_draw(caller, callee, uniform),
            "network_local": same_node.sampler(self.streams.get(f"{where}/network/local")),
        }

    def _place_fixed(self) -> None:
        """Without an autoscaler, replicas stay where first-fit puts them at the start."""
        assert self.placement is not None
        node_type = self._node_type()
        assert node_type is not None  # a placement needs nodes (`_placement`)
        sizes = self.scenario.workloads.microservices if self.scenario.workloads else Replicas()
        pool = NodePool(self.env, node_type.cpu, node_type.memory_gb, node_type.boot_time)
        for _ in range(node_type.count):
            pool.add(ready=True)
        for name, spec in self.scenario.services.items():
            for _ in range(spec.replicas):
                node = pool.place_at_start(sizes.cpu, sizes.memory_gb, name)
                self.placement.add(name, node.index)
        if len(pool.nodes) > node_type.count:
            self.events.record(
                0.0,
                "placement",
                "over_capacity",
                f"the replicas need {len(pool.nodes)} nodes, the cluster has {node_type.count}: "
                "placed as if it had them (cost counts the cluster's nodes)",
            )

    def _fixed_node_count(self) -> int:
        node_type = self._node_type()
        return node_type.count if node_type is not None else 0

    def _price_per_hour(self) -> float:
        node_type = self._node_type()
        return node_type.price_per_hour if node_type is not None else math.nan

    def _build_rollouts(self) -> Rollouts:
        """Deploys and rollbacks on the stations, for subsystems (`ServiceHandles.rollouts`)
        and for the scenario's scripted deploys."""
        scenario = self.scenario
        rollouts = Rollouts(
            self.env,
            stations_by_service(
                scenario.services, self.stations, scenario.deployment == "monolith"
            ),
            self.streams,
            self.events,
            self.spans,
            replica_start(self.scenario),
            in_place=scenario.discovery.kind == "static",
        )
        handles = self.context.services
        assert handles is not None  # the World's context always holds its services
        handles.rollouts = rollouts
        handles.add_by_hand = self._add_by_hand
        deploys = [(name, d) for name, spec in scenario.services.items() for d in spec.deploys]
        if scenario.deployment == "monolith":
            _one_defect_per_version(scenario)
        scripted(self.env, rollouts, deploys)
        return rollouts

    def _build_autoscaler(self) -> None:
        scenario = self.scenario
        settings = scenario.autoscaling
        node_type = self._node_type()
        start = replica_start(scenario)
        if node_type is not None and scenario.cluster is not None:
            name = scenario.cluster.node_type_list()[0][0]
            self.pool = NodePool(
                self.env, node_type.cpu, node_type.memory_gb, node_type.boot_time, name
            )
            for _ in range(node_type.count):
                self.pool.add(ready=True)
        sizes = scenario.workloads.microservices if scenario.workloads else Replicas()
        scaled = [
            Scaled(
                name=station.name,
                station=station,
                minimum=spec.min_replicas or spec.replicas,
                maximum=spec.max_replicas or 10 * spec.replicas,
                cpu=sizes.cpu,
                memory_gb=sizes.memory_gb,
            )
            for station, spec in zip(self.stations, scenario.services.values(), strict=True)
        ]
        self.autoscaler = Autoscaler(
            self.env,
            settings,
            scaled,
            self.pool,
            start,
            self.events,
            self.scaling,
            self.placement,
        )

    def _build_failures(self) -> NodeFailures | None:
        """The nodes' failures, when the services run on nodes that fail (`failures.py`)."""
        if not simulates_node_failures(self.scenario) or self._node_type() is None:
            return None
        return NodeFailures(
            self.env,
            self.scenario,
            self.streams,
            self.events,
            self.stations,
            replica_start(self.scenario),
            self.autoscaler,
            self.placement,
        )

    def _connect_failures(self) -> None:
        """Who acts on a failed node: monitoring's page (it reads the failures as a scrape
        of the nodes), else a customer's report, to the organisation, if there is one."""
        if self.failures is None:
            return
        delivery = self.subsystems.get("delivery")
        monitoring = self.subsystems.get("monitoring")
        if isinstance(monitoring, MonitoringModel):
            monitoring.watch_nodes(self.failures)
        organisation: Organisation | None = (
            delivery if isinstance(delivery, DeliveryModel) else None
        )
        self.failures.connect(organisation, monitored=monitoring is not None)

    def _breaker_logger(self, caller: str, callee: str) -> Callable[[str], None]:
        def log(state: str) -> None:
            self.events.record(
                self.env.now, f"service/{caller}", "circuit_breaker", f"calls to {callee}: {state}"
            )

        return log

    def _start_traffic(self, name: str, index: int, target: calls.Target) -> None:
        spec = self.scenario.traffic[name]
        entry = calls.CallSpec(
            target=target,
            count=1,
            probability=1.0,
            uniform=block_stream(self.streams.get(f"traffic/{name}/client").random),
            network=None,
            prefix_work=None,
            breaker=None,
            budget=_budget(spec.retry_budget),
            **_policy(spec),
        )
        runtime = self.runtime

        def arrive() -> None:
            request = self._next_request
            self._next_request = request + 1
            calls.OutgoingCall(runtime, entry, None, 0, None, request, index).send()

        start_source(
            self.env, spec, arrive, self.streams.get(f"traffic/{name}"), self.scenario.horizon
        )
        self.events.record(
            0.0,
            f"traffic/{name}",
            "started",
            f"{spec.arrivals} at {format_rate(spec.rate)}, profile {spec.profile.profile}",
        )

    # ------------------------------------------------------------------ running

    def _sample(self, first: float, interval: float) -> Generator[simpy.Event, Any, None]:
        """Record state and time integrals from the end of warm-up on."""
        env = self.env
        yield env.timeout(first)
        if self.pool is not None:
            self.pool.touch(env.now)
            self.warmup_node_seconds = self.pool.node_seconds
        for station in self.stations:
            station.touch(env.now)
            self.warmup_areas[station.index] = (
                station.busy_area,
                station.queued_area,
                station.in_flight_area,
                station.capacity_area,
            )
        self.events.record(
            env.now, "run", "warmup_ended", f"metrics start after {format_duration(first)}"
        )
        while True:
            for station in self.stations:
                self.samples.record(env.now, station.index, station)
            self.node_samples.append((env.now, self.nodes_now))
            yield env.timeout(interval)

    @property
    def nodes_now(self) -> int:
        if self.pool is not None:
            return len(self.pool.nodes)
        hand = self.hand_nodes
        return self.node_count + (hand.added_by(self.env.now) if hand is not None else 0)

    @property
    def node_seconds(self) -> float:
        """Node-seconds billed over [warmup, horizon] (after the run): the nodes a person
        added count from when they serve."""
        scenario = self.scenario
        if self.pool is None:
            fixed = self.node_count * scenario.measured_period
            hand = self.hand_nodes
            return fixed + (hand.node_seconds(scenario.warmup, scenario.horizon) if hand else 0.0)
        return self.pool.node_seconds - self.warmup_node_seconds

    def _add_by_hand(self, station: int, count: int) -> int:
        """Replicas a person ordered serve now, on the nodes `HandNodes` finds or buys for
        them (placed for the network too); under an autoscaler the person scales it out
        (`Autoscaler.add_by_hand`). Returns the station's replicas."""
        if self.autoscaler is not None:
            return self.autoscaler.add_by_hand(station, count)
        target = self.stations[station]
        hand = self.hand_nodes
        nodes = hand.add(self.env.now, target.name, count, self.events) if hand else []
        for _ in range(count):
            target.add_replica()
        if self.placement is not None:
            for node in nodes:
                self.placement.add(target.name, node)
        return target.replicas

    def run(self, progress: Callable[[float], None] | None = None, steps: int = 200) -> None:
        """Simulate up to the horizon, reporting the simulated time reached after each step."""
        horizon = self.scenario.horizon
        if progress is None:
            run_until(self.env, horizon)  # `env.run(until=horizon)`, a little faster
        else:
            for step in range(1, steps + 1):
                run_until(self.env, horizon * step / steps)
                progress(self.env.now)
        self.spans.trim()  # the columns as the visits left them (no rows not handed out)
        self.requests.flush()
        for station in self.stations:
            station.touch(horizon)
        if self.pool is not None:
            self.pool.touch(horizon)
        in_service = sum(station.busy for station in self.stations)
        queued = sum(station.queued for station in self.stations)
        self.events.record(
            horizon, "run", "horizon_reached", f"{in_service} requests in service, {queued} queued"
        )


def _longest_wait(scenario: Scenario) -> float:
    """The longest call timeout or retry backoff of any call: how long after its answer a
    span row may still be read (by a pending timer, or a late answer during backoff)."""
    policies: list[object] = list(scenario.traffic.values())
    for service in scenario.services.values():
        for step in service.handler or []:
            policies.extend(step.parallel if isinstance(step, Parallel) else [step])
    return max(
        (
            max(policy.timeout or 0.0, policy.backoff_max)
            for policy in policies
            if isinstance(policy, CallPolicy)
        ),
        default=0.0,
    )


def _policy(policy: CallPolicy) -> _Policy:
    return {
        "timeout": policy.timeout,
        "retries": policy.retries,
        "backoff": policy.backoff,
        "backoff_max": policy.backoff_max,
        "jitter": policy.jitter,
        "retry_on": frozenset(STATUS_CODE[cause] for cause in policy.retry_on),
        "optional": getattr(policy, "optional", False),
    }


def _one_defect_per_version(scenario: Scenario) -> None:
    """In a monolith every service's deploy is a deploy of the one process, so a version
    number means the same code (and defect) whichever service's deploys name it."""
    seen: dict[int, tuple[str, Defect]] = {}
    for name, spec in scenario.services.items():
        for index, deploy in enumerate(spec.deploys):
            first, defect = seen.setdefault(deploy.version, (name, deploy.defect))
            if defect != deploy.defect:
                raise ScenarioError(
                    scenario.source,
                    f"services.{name}.deploys.{index}.defect",
                    f"version {deploy.version} of the monolith is deployed with another defect "
                    f"by services.{first}; in a monolith a version is the whole process's",
                )


def _budget(settings: RetryBudgetSettings) -> RetryBudget | None:
    return RetryBudget(settings.ratio, settings.min_rate) if settings.enabled else None


def _breaker(spec: Service) -> BreakerState:
    settings = spec.circuit_breaker
    return BreakerState(
        failure_ratio=settings.failure_ratio,
        window=settings.window,
        min_calls=settings.min_calls,
        open_for=settings.open_for,
        half_open_calls=settings.half_open_calls,
    )
