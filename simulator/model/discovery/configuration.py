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
        if settings.managed_by != "scheduler" and settings.drift_rate > 0:
            for station in world.stations:
                faults = faults_of(world, station)
                faults.drift_failure_share = settings.drift_failure_share
                for host in range(station.replicas):
                    self.env.process(self._host(station, host))

    def _host(self, station: Station, host: int):  # type: ignore[no-untyped-def]
        settings = self.settings
        env = self.env
        rng = self.rng
        phase = rng.random() * settings.run_interval  # this host's converging-run schedule
        faults = station.faults
        while True:
            yield env.timeout(rng.exponential(1 / settings.drift_rate))
            start = env.now
            faults.drifted += 1  # type: ignore[union-attr]
            self._open[(station.name, host)] = start
            if settings.managed_by == "hand":
                fix = rng.exponential(settings.hand_fix_time)
            else:
                fix = float(np.mod(phase - start, settings.run_interval))
            yield env.timeout(fix)
            faults.drifted -= 1  # type: ignore[union-attr]
            del self._open[(station.name, host)]
            self.episodes.append((station.name, host, start, env.now))

    def engineer_hours(self) -> float:
        settings = self.settings
        per = (
            settings.env_config_hours
            if settings.managed_by == "scheduler"
            else (settings.recipe_hours)
        )
        return len(self.world.scenario.services) * settings.environments * per

    def summary(self) -> dict[str, float]:
        scenario = self.world.scenario
        warmup, horizon = scenario.warmup, scenario.horizon
        hosts = sum(station.replicas for station in self.world.stations)
        drifted = sum(
            max(0.0, min(end, horizon) - max(start, warmup)) for _, _, start, end in self.episodes
        )
        drifted += sum(max(0.0, horizon - max(start, warmup)) for start in self._open.values())
        return {
            "config_drift_episodes": sum(1 for e in self.episodes if e[2] >= warmup),
            "config_drifted_share": drifted / (hosts * (horizon - warmup)) if hosts else np.nan,
            "misconfigured_errors": count_status(self.world, MISCONFIGURED),
            "config_engineer_hours": self.engineer_hours(),
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        table = pd.DataFrame(self.episodes, columns=["service", "host", "start", "end"])
        table["duration_s"] = table["end"] - table["start"]
        return {"config_drift": table}
