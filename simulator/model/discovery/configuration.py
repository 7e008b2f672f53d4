"""Configuration management: hosts drift from their intended configuration until fixed.

With the scheduler (twelve-factor: configuration in environment variables of immutable
containers) nothing drifts. Hosts managed by Chef or Puppet drift at `drift_rate` and are
put right by the next converging run (every `run_interval`, each host at its own phase);
hand-managed hosts stay drifted until an operator notices (exponential, mean
`hand_fix_time`). A drifted host fails `drift_failure_share` of its requests
(`misconfigured`). Writing configuration costs engineer hours per service and environment:
a recipe for each (the talk's "you have to repeat recipes") or a few environment variables.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import simpy

from ...records.discovery import ConfigurationRecords, DriftEpisode
from .common import faults_of, request_level

if TYPE_CHECKING:
    from ..context import RunContext
    from ..services import Station


class _Host(TypedDict):
    """One replica's host: its key in the episodes (station, number) and whether it runs."""

    key: tuple[str, int]
    alive: bool


class ConfigurationModel:
    """A `Subsystem`: drift episodes per host and the hours spent writing configuration."""

    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.env = context.env
        self.scenario = context.scenario
        self.services = services = request_level(context)
        self.settings = settings = context.scenario.configuration
        self.rng = context.streams.get("configuration/drift")
        self.episodes: list[DriftEpisode] = []
        self._open: dict[tuple[str, int], float] = {}  # drifted hosts not yet put right
        self._hosts: dict[str, list[_Host]] = {}  # per station, newest last
        self._hosts_changed = False  # the autoscaler added or removed hosts
        self._started: dict[str, int] = {}  # hosts started per station, for their numbers
        if settings.managed_by != "scheduler" and settings.drift_rate > 0:
            for station in services.stations:
                faults = faults_of(context, station)
                faults.drift_failure_share = settings.drift_failure_share
                self._hosts[station.name] = []
                for _ in range(station.replicas):
                    self._start_host(station)
                self._follow(station)

    def _start_host(self, station: Station) -> None:
        hosts = self._hosts[station.name]
        index = self._started[station.name] = self._started.get(station.name, -1) + 1
        host: _Host = {"key": (station.name, index), "alive": True}
        hosts.append(host)
        self.env.process(self._host(station, host))

    def _follow(self, station: Station) -> None:
        """Replicas added later (the autoscaler, a replacement, a move) drift too; a removed
        one (the newest, as stations remove) stops drifting, and an open episode ends with
        it. The hook is chained after the discovery model's, which the registry builds first."""
        previous = station.on_endpoint_change

        def changed(changed_station: Station, what: str) -> None:
            if previous is not None:
                previous(changed_station, what)
            self._hosts_changed = True
            if what == "added":
                self._start_host(station)
                return
            hosts = self._hosts[station.name]
            if not hosts:
                return
            host = hosts.pop()
            host["alive"] = False
            key = host["key"]
            if key in self._open:  # its drift goes with it
                faults = station.faults
                assert faults is not None  # attached (`faults_of`) before hosts start
                faults.drifted -= 1
                start = self._open.pop(key)
                self.episodes.append(DriftEpisode(key[0], key[1], start, self.env.now))

        station.on_endpoint_change = changed

    def _host(self, station: Station, host: _Host) -> Generator[simpy.Event, None, None]:
        settings = self.settings
        env = self.env
        rng = self.rng
        phase = rng.random() * settings.run_interval  # this host's converging-run schedule
        faults = station.faults
        assert faults is not None  # attached (`faults_of`) before hosts start
        key = host["key"]
        while True:
            yield env.timeout(rng.exponential(1 / settings.drift_rate))
            if not host["alive"]:
                return
            start = env.now
            faults.drifted += 1
            self._open[key] = start
            if settings.managed_by == "hand":
                fix = rng.exponential(settings.hand_fix_time)
            else:
                fix = float(np.mod(phase - start, settings.run_interval))
            yield env.timeout(fix)
            if not host["alive"]:
                return  # the episode was closed when the replica went
            faults.drifted -= 1
            del self._open[key]
            self.episodes.append(DriftEpisode(key[0], key[1], start, env.now))

    def engineer_hours(self) -> float:
        settings = self.settings
        per = (
            settings.env_config_hours
            if settings.managed_by == "scheduler"
            else (settings.recipe_hours)
        )
        return len(self.scenario.services) * settings.environments * per

    def _host_seconds(self) -> float:
        """Replica-seconds measured: replicas × period, or, when the autoscaler changed them,
        the stations' worker capacity over their concurrency (draining replicas count)."""
        scenario, stations = self.scenario, self.services.stations
        period = scenario.horizon - scenario.warmup
        if not self._hosts_changed:
            return float(sum(station.replicas for station in stations) * period)
        total = 0.0
        warmup_areas = self.services.warmup_areas
        for station in stations:
            before = warmup_areas.get(station.index, (0.0, 0.0, 0.0, 0.0))[3]
            total += (station.capacity_area - before) / station.concurrency
        return total

    def records(self) -> ConfigurationRecords:
        """The episodes that ended, those still open, and the measured host-time."""
        return ConfigurationRecords(
            episodes=tuple(self.episodes),
            open_since=tuple(self._open.values()),
            host_seconds=self._host_seconds(),
            engineer_hours=self.engineer_hours(),
        )
