"""The delivery model's hands on the running services (request level): its deploys become
rollouts of versions on the stations, a bad change becomes a defect of the version, and a
rollback goes back to the last version that did nothing wrong.

The delivery model decides when a deploy happens and who does it; this module knows which
stations a delivery service deploys to, which rollout a process makes (`rollout_settings`,
a pure function), what each station's live bad version is, and what a rollback restores.
`simulator.model.rollout.Rollouts` keeps the time of the replicas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import simpy

from ...records.rollout import DONE
from ...scenario.delivery import Delivery
from ...scenario.rollout import Canary, Defect, Manual, RolloutSettings
from ..discovery.common import delivery_service
from .decisions import BAD_CHANGE, combined_error_ratio

if TYPE_CHECKING:
    from ...scenario.schema import Scenario
    from ..context import VersionedStations
    from ..rollout import RolloutOutcome


def rollout_settings(delivery: Delivery, duration: float) -> RolloutSettings:
    """How a process replaces replicas: by hand for tickets (the servers go down while the
    operator deploys: `duration`, one at a time or all at once), a rolling update at the
    converge run for configuration management (recipes restart services node by node), and
    the pipeline's strategy for automated delivery (its canary gets the pipeline's share of
    the traffic and analysis time)."""
    if delivery.process == "ticket":
        manual = Manual(duration=max(duration, 1.0), outage=delivery.on_runtime.manual_outage)
        return RolloutSettings(strategy="manual", manual=manual)
    if delivery.process == "config-management":
        return RolloutSettings(strategy="rolling")
    auto = delivery.automated
    canary = Canary(share=auto.canary_share, analysis=auto.canary_duration)
    return RolloutSettings(strategy=auto.strategy, canary=canary)


@dataclass(eq=False)
class LiveDefect:
    """A bad version serving on a station: since when, what it does, the version a rollback
    restores (the last one before it went bad), and the deploys whose changes went out with
    it (a later deploy on top still carries the bug)."""

    since: float
    cause: str
    defect: Defect
    good_version: int
    deploys: list[int] = field(default_factory=list)
    rolling_back: bool = False
    """A rollback was asked for: the next deploy is built without its bug (reverted)."""


class RuntimeDeploys:
    """Which stations each delivery service deploys to, and their live bad versions."""

    def __init__(
        self, scenario: Scenario, rollouts: VersionedStations, env: simpy.Environment
    ) -> None:
        assert scenario.delivery is not None
        self.env = env
        self.rollouts = rollouts
        self.delivery = scenario.delivery
        targets: list[list[str]] = [[] for _ in range(scenario.delivery.services)]
        seen: set[tuple[int, int]] = set()
        whole = scenario.delivery.release_unit == "application"
        for name in scenario.services:
            service = 0 if whole else delivery_service(scenario, name)
            station = rollouts.stations[name].index
            if (service, station) not in seen:  # a monolith: one station for every name
                seen.add((service, station))
                targets[service].append(rollouts.stations[name].name)
        self.targets = targets
        self.live: dict[str, LiveDefect] = {}
        self._versions = 0
        self._cleaned: list[tuple[int, simpy.Event]] = []
        """(service, event) of those waiting for a service's last bad version to go."""

    def serves(self, service: int) -> bool:
        """Whether the delivery service runs on the simulated services."""
        return bool(self.targets[service])

    def draw_defect(self, rng: np.random.Generator, faults: int = 1) -> Defect:
        """What a version with `faults` bad changes (or slips) does to the requests it
        serves: each breaks its own share of them, independently of the others."""
        settings = self.delivery.on_runtime
        ratio = combined_error_ratio(settings.error_ratio.draw(rng, faults).tolist())
        return Defect(error_ratio=ratio, latency_factor=settings.latency_factor)

    def deploy(
        self,
        service: int,
        deploy: int,
        settings: RolloutSettings,
        cause: str | None,
        defect: Defect | None,
    ) -> simpy.Event:
        """Roll a new version of `service` out to its stations; the event fires with their
        `RolloutOutcome`s. A version with a bad change (`cause`, `defect`) is live from now;
        a good version deployed on top of a live bad one still carries its bug, unless that
        one is being rolled back (the rollback goes first; its bad changes were reverted)."""
        self._versions += 1
        version = self._versions
        events = []
        for name in self.targets[service]:
            live = self.live.get(name)
            going = live if live is not None and live.rolling_back else None
            if going is not None:
                live = None  # it serves until its rollback is done (`_cleared`)
            if cause is not None and defect is not None:
                if live is None:
                    good = (
                        self.rollouts.current_version(name) if going is None else going.good_version
                    )
                    live = self.live[name] = LiveDefect(self.env.now, cause, defect, good)
                else:
                    live.defect, live.cause = defect, cause
            if live is not None:
                live.deploys.append(deploy)
            carried = live.defect if live is not None else None
            events.append(self.rollouts.deploy(name, version, settings, carried))
        return self.env.all_of(events)

    def live_defect(self, service: int) -> LiveDefect | None:
        """The oldest bad version serving on one of the service's stations, if any: one of
        this organisation's deploys, or a scripted one (`services.NAME.deploys`), which a
        diagnosis finds the same way."""
        for name in self.targets[service]:
            scripted = self.rollouts.bad_version(name) if name not in self.live else None
            if scripted is not None:
                since, good, defect = scripted
                self.live[name] = LiveDefect(since, BAD_CHANGE, defect, good)
        found = [self.live[name] for name in self.targets[service] if name in self.live]
        return min(found, key=lambda live: live.since) if found else None

    def failed_share(self, service: int, start: float, end: float, otherwise: float) -> float:
        """The share of the visits to the service's stations that ended in [start, end] and
        failed by a defect: what a bad version cost its users (`otherwise` if none ended, or
        that is not known)."""
        stations = [self.rollouts.stations[name].index for name in self.targets[service]]
        share = self.rollouts.defect_share(stations, start, end)
        return otherwise if share is None else share

    def roll_back(self, service: int, settings: RolloutSettings | None = None) -> simpy.Event:
        """Deploy, on each of the service's stations with a live bad version, the last version
        before it (`settings`: how; by default the way the bad one came); fires when all are
        done, and the stations no longer count as bad."""
        events = []
        for name in self.targets[service]:
            live = self.live.get(name)
            if live is None:
                continue
            live.rolling_back = True
            done = self.rollouts.rollback(name, to_version=live.good_version, settings=settings)
            done.callbacks.append(self._cleared(name, live))
            events.append(done)
        return self.env.all_of(events)

    def forget(self, service: int, deploy: int) -> None:
        """A canary of `deploy` went back by itself: its stations are good again, unless an
        earlier bad version still serves."""
        for name in self.targets[service]:
            live = self.live.get(name)
            if live is not None and live.deploys == [deploy]:
                self._drop(name)
            elif live is not None and deploy in live.deploys:
                live.deploys.remove(deploy)

    def clean(self, service: int) -> simpy.Event:
        """An event that fires once no bad version serves on the service's stations (at once
        if none does now): what a responder working on its incident learns from the
        pipeline's notice when the pipeline took the version back by itself."""
        event = self.env.event()
        if self._is_clean(service):
            event.succeed()
        else:
            self._cleaned.append((service, event))
        return event

    def _is_clean(self, service: int) -> bool:
        return not any(name in self.live for name in self.targets[service])

    def _drop(self, name: str) -> None:
        """The station's bad version no longer serves."""
        del self.live[name]
        waiting, self._cleaned = self._cleaned, []
        for service, event in waiting:
            if self._is_clean(service):
                event.succeed()
            else:
                self._cleaned.append((service, event))

    def _cleared(self, name: str, live: LiveDefect) -> Callable[[simpy.Event], None]:
        def cleared(event: simpy.Event) -> None:
            outcome: RolloutOutcome | None = event.value
            if self.live.get(name) is live and (outcome is None or outcome.outcome == DONE):
                self._drop(name)

        return cleared


def outcomes(event: simpy.Event) -> list[RolloutOutcome]:
    """The rollout outcomes an `all_of` of rollouts fired with (none for a service that
    asked for nothing)."""
    values = event.value.values() if event.value is not None else ()
    return [value for value in values if value is not None]


def first_failure(results: list[RolloutOutcome]) -> str:
    """DONE when every station's rollout finished, else the first other outcome."""
    return next((r.outcome for r in results if r.outcome != DONE), DONE)
