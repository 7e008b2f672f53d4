"""What the discovery, configuration and secrets models share: faults per station, counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...scenario.distributions import block_stream
from ..services import Station
from .faults import StationFaults

if TYPE_CHECKING:
    from ..world import World


def faults_of(world: World, station: Station) -> StationFaults:
    """The station's fault state, attached (with its own random stream) on first use."""
    if station.faults is None:
        stream = world.streams.get(f"service/{station.name}/faults")
        station.faults = StationFaults(station, block_stream(stream.random), world.scenario.warmup)
    return station.faults


def count_status(world: World, status: int) -> int:
    """Visits that arrived after warm-up and ended with `status`."""
    columns = world.spans.columns()
    arrival = columns["arrival"]
    return int(((columns["status"] == status) & (arrival >= world.scenario.warmup)).sum())


def callers(world: World) -> dict[str, list[str]]:
    """For each service, the services that call it."""
    found: dict[str, list[str]] = {name: [] for name in world.scenario.services}
    for name, spec in world.scenario.services.items():
        for call in spec.calls():
            if name not in found[call.call]:
                found[call.call].append(name)
    return found


def quantile_curve(delays: np.ndarray, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """(delay, share of clients that know) at `points` shares from 0 to 1."""
    share = np.linspace(0.0, 1.0, points)
    finite = delays[np.isfinite(delays)]
    if finite.size == 0:
        return np.full(points, np.nan), share
    return np.quantile(np.sort(delays), share, method="inverted_cdf"), share


def delivery_of(world: World):  # type: ignore[no-untyped-def]
    """The run's delivery model (its operators, process and incidents), or None."""
    for subsystem in world.subsystems:
        if hasattr(subsystem, "request_config_change"):
            return subsystem
    return None


def delivery_service(world: World, name: str) -> int:
    """The delivery model's index of a named service: services in the scenario's order,
    wrapping round when `delivery.services` is smaller than the call graph."""
    names = list(world.scenario.services)
    index = names.index(name) if name in names else 0
    return index % world.scenario.delivery.services
