"""What the discovery, configuration and secrets models share: faults per station, the call
graph's callers, and the delivery model they may hand work to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...scenario.distributions import block_stream
from .faults import StationFaults

if TYPE_CHECKING:
    from ...scenario.schema import Scenario
    from ..context import RunContext, ServiceHandles
    from ..services import Station


def request_level(context: RunContext) -> ServiceHandles:
    """The stations and logs these models act on: they exist only where requests are
    simulated one by one."""
    if context.services is None:
        raise ValueError("discovery, configuration and secrets need request-level services")
    return context.services


def faults_of(context: RunContext, station: Station) -> StationFaults:
    """The station's fault state, attached (with its own random stream) on first use."""
    if station.faults is None:
        stream = context.streams.get(f"service/{station.name}/faults")
        station.faults = StationFaults(
            station, block_stream(stream.random), context.scenario.warmup
        )
    return station.faults


def callers(scenario: Scenario) -> dict[str, list[str]]:
    """For each service, the services that call it."""
    found: dict[str, list[str]] = {name: [] for name in scenario.services}
    for name, spec in scenario.services.items():
        for call in spec.calls():
            if name not in found[call.call]:
                found[call.call].append(name)
    return found


def delivery_service(scenario: Scenario, name: str) -> int:
    """The delivery model's index of a named service: services in the scenario's order,
    wrapping round when `delivery.services` is smaller than the call graph."""
    names = list(scenario.services)
    index = names.index(name) if name in names else 0
    assert scenario.delivery is not None
    return index % scenario.delivery.services
