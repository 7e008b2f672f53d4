"""The world of one run: the scenario's components wired onto one SimPy environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import pandas as pd
import simpy

from ..engine import EventLog, RandomStreams, RequestLog, Samples
from ..scenario.schema import Scenario
from ..scenario.units import format_duration, format_rate
from .services import Station, build_station
from .traffic import PoissonSource


class Subsystem(Protocol):
    """A model that adds its own KPIs and tables to a run (the cluster scheduler, say).

    It is built on the run's environment, random streams and decision log, simulates
    alongside everything else, and is asked for its results once the horizon is reached.
    """

    def summary(self) -> dict[str, float]: ...

    def tables(self) -> dict[str, pd.DataFrame]: ...


class World:
    """Everything a run simulates. Built from a Scenario; never reads YAML."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self.env = simpy.Environment()
        self.streams = RandomStreams(seed)
        self.requests = RequestLog()
        self.events = EventLog()
        self.samples = Samples()
        self.stations: list[Station] = []
        for index, (name, spec) in enumerate(scenario.services.items()):
            station = build_station(
                self.env,
                name,
                index,
                spec,
                self.requests,
                service_time_rng=self.streams.get(f"service/{name}/service_time"),
                balancer_rng=self.streams.get(f"service/{name}/load_balancer"),
            )
            self.stations.append(station)
            self.events.record(
                0.0,
                f"service/{name}",
                "replicas_started",
                f"{spec.replicas} replicas × {spec.concurrency} workers behind "
                f"{spec.load_balancer}",
            )
        by_name = {station.name: station for station in self.stations}
        for name, spec in scenario.traffic.items():
            PoissonSource(self.env, spec, by_name[name].arrive, self.streams.get(f"traffic/{name}"))
            self.events.record(
                0.0, f"traffic/{name}", "started", f"{spec.arrivals} at {format_rate(spec.rate)}"
            )
        self.subsystems: list[Subsystem] = []
        if scenario.scheduler is not None:
            from .scheduling import SchedulingModel

            self.subsystems.append(SchedulingModel(self.env, scenario, self.streams, self.events))
        self.env.process(self._sample(scenario.warmup, scenario.sample_interval))

    def _sample(self, first: float, interval: float):  # type: ignore[no-untyped-def]
        """Record busy workers and queue lengths from the end of warm-up on."""
        env = self.env
        yield env.timeout(first)
        self.events.record(
            env.now, "run", "warmup_ended", f"metrics start after {format_duration(first)}"
        )
        while True:
            for station in self.stations:
                self.samples.record(
                    env.now, station.index, station.busy, station.queued, station.workers
                )
            yield env.timeout(interval)

    def run(self, progress: Callable[[float], None] | None = None, steps: int = 200) -> None:
        """Simulate up to the horizon, reporting the simulated time reached after each step."""
        horizon = self.scenario.horizon
        if progress is None:
            self.env.run(until=horizon)
        else:
            for step in range(1, steps + 1):
                self.env.run(until=horizon * step / steps)
                progress(self.env.now)
        in_service = sum(station.busy for station in self.stations)
        queued = sum(station.queued for station in self.stations)
        self.events.record(
            horizon, "run", "horizon_reached", f"{in_service} requests in service, {queued} queued"
        )
