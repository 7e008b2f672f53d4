"""Monitoring of the running system: SLIs scraped from the request and span logs, alert
rules, and pages that open incidents in the delivery model (when there is one), whose
remedies act on the stations. Request level only: it reads what requests saw."""

from __future__ import annotations

from collections.abc import Mapping

from ..metrics.monitoring import monitoring_results
from ..model.context import RunContext, Subsystem
from ..model.delivery import DeliveryModel
from ..model.monitoring import MonitoringModel
from ..scenario.schema import Scenario
from .spec import SubsystemSpec


def _wanted(scenario: Scenario) -> bool:
    """Monitoring switched on, and traffic to watch. Without monitoring nothing pages."""
    return scenario.monitoring.enabled and bool(scenario.traffic)


def _build(context: RunContext, needed: Mapping[str, Subsystem]) -> MonitoringModel:
    delivery = needed.get("delivery")
    # The delivery model, typed, so that the type checker holds it to monitoring's Protocol.
    return MonitoringModel(context, delivery if isinstance(delivery, DeliveryModel) else None)


SPEC = SubsystemSpec(
    name="monitoring",
    wanted=_wanted,
    build=_build,
    collect=monitoring_results,
    needs=("delivery",),
    request_level_only=True,
)
