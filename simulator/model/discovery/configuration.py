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

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...engine.recorder import MISCONFIGURED
from .common import count_status, faults_of

if TYPE_CHECKING:
    from ..services import Station
    from ..world import World


class ConfigurationModel:
    """A `Subsystem`: drift episodes per host and the hours spent writing configuration."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.env = world.env
        self.settings = settings = world.scenario.configuration
        self.rng = world.streams.get("configuration/drift")
        self.episodes: list[tuple[str, int, float, float]] = []
        self._open: dict[tuple[str, int], float] = {}  # drifted hosts not yet put right
        self._hosts: dict[str, list[dict]] = {}  # per station, newest last: {"key", "alive"}
        self._hosts_changed = False  # the autoscaler added or removed hosts
        self._started: dict[str, int] = {}  # hosts started per station, for their numbers
        if settings.managed_by != "scheduler" and settings.drift_rate > 0:
            for station in world.stations:
                faults = faults_of(world, station)
                faults.drift_failure_share = settings.drift_failure_share
                self._hosts[station.name] = []
                for _ in range(station.replicas):
                    self._start_host(station)
                self._follow(station)

    def _start_host(self, station: Station) -> None:
        hosts = self._hosts[station.name]
        index = self._started[station.name] = self._started.get(station.name, -1) + 1
        host = {"key": (station.name, index), "alive": True}
        hosts.append(host)
        self.env.process(self._host(station, host))

    def _follow(self, station: Station) -> None:
        """Replicas added later (the autoscaler, a replacement, a move) drift too; a removed
        one (the newest, as stations remove) stops drifting, and an open episode ends with
        it. The hook is chained after the discovery model's, which the wiring builds first."""
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
                station.faults.drifted -= 1  # type: ignore[union-attr]
                self.episodes.append((*key, self._open.pop(key), self.env.now))

        station.on_endpoint_change = changed

    def _host(self, station: Station, host: dict):  # type: ignore[no-untyped-def]
        settings = self.settings
        env = self.env
        rng = self.rng
        phase = rng.random() * settings.run_interval  # this host's converging-run schedule
        faults = station.faults
        key = host["key"]
        while True:
            yield env.timeout(rng.exponential(1 / settings.drift_rate))
            if not host["alive"]:
                return
            start = env.now
            faults.drifted += 1  # type: ignore[union-attr]
            self._open[key] = start
            if settings.managed_by == "hand":
                fix = rng.exponential(settings.hand_fix_time)
            else:
                fix = float(np.mod(phase - start, settings.run_interval))
            yield env.timeout(fix)
            if not host["alive"]:
                return  # the episode was closed when the replica went
            faults.drifted -= 1  # type: ignore[union-attr]
            del self._open[key]
            self.episodes.append((*key, start, env.now))

    def engineer_hours(self) -> float:
        settings = self.settings
        per = (
            settings.env_config_hours
            if settings.managed_by == "scheduler"
            else (settings.recipe_hours)
        )
        return len(self.world.scenario.services) * settings.environments * per

    def _host_seconds(self) -> float:
        """Replica-seconds measured: replicas × period, or, when the autoscaler changed them,
        the stations' worker capacity over their concurrency (draining replicas count)."""
        world = self.world
        period = world.scenario.horizon - world.scenario.warmup
        if not self._hosts_changed:
            return float(sum(station.replicas for station in world.stations) * period)
        total = 0.0
        for station in world.stations:
            before = world.warmup_areas.get(station.index, (0.0, 0.0, 0.0, 0.0))[3]
            total += (station.capacity_area - before) / station.concurrency
        return total

    def records(self):  # type: ignore[no-untyped-def]
        """Interim: the model itself, until it emits typed records (issue 10)."""
        return self

    def summary(self) -> dict[str, float]:
        scenario = self.world.scenario
        warmup, horizon = scenario.warmup, scenario.horizon
        host_seconds = self._host_seconds()
        drifted = sum(
            max(0.0, min(end, horizon) - max(start, warmup)) for _, _, start, end in self.episodes
        )
        drifted += sum(max(0.0, horizon - max(start, warmup)) for start in self._open.values())
        return {
            "config_drift_episodes": sum(1 for e in self.episodes if e[2] >= warmup),
            "config_drifted_share": drifted / host_seconds if host_seconds else np.nan,
            "misconfigured_errors": count_status(self.world, MISCONFIGURED),
            "config_engineer_hours": self.engineer_hours(),
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        table = pd.DataFrame(self.episodes, columns=["service", "host", "start", "end"])
        table["duration_s"] = table["end"] - table["start"]
        return {"config_drift": table}
