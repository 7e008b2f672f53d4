"""Monitoring of the running system: SLIs scraped from what requests saw (the request and
span logs at request level, the steps' expectations at the analytic fidelity), alert
rules, and pages that open incidents in the delivery model (when there is one), whose
remedies act on the stations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..metrics.monitoring import monitoring_results
from ..model.context import RunContext, SliSource, Subsystem
from ..scenario.schema import Scenario
from .spec import SubsystemSpec

if TYPE_CHECKING:
    from ..model.monitoring import MonitoringModel


def _wanted(scenario: Scenario) -> bool:
    """Monitoring switched on, and traffic to watch. Without monitoring nothing pages."""
    return scenario.monitoring.enabled and bool(scenario.traffic)


def _source(context: RunContext) -> SliSource:
    """The samples of the fidelity that runs the services."""
    handles = context.services
    if handles is not None:
        from ..model.monitoring.sources import RequestSli

        latency = context.scenario.slo.latency
        return RequestSli(
            handles.stations,
            handles.requests,
            handles.spans,
            len(context.scenario.services),
            math.inf if latency is None else latency,
            handles.add_by_hand,
        )
    assert context.analytic is not None  # the runner hands the analytic services over
    return context.analytic.sli


def _build(context: RunContext, needed: Mapping[str, Subsystem]) -> MonitoringModel:
    from ..model.delivery import DeliveryModel  # the models, when a scenario monitors
    from ..model.monitoring import MonitoringModel

    delivery = needed.get("delivery")
    # The delivery model, typed, so that the type checker holds it to monitoring's Protocol.
    organisation = delivery if isinstance(delivery, DeliveryModel) else None
    return MonitoringModel(context, _source(context), organisation)


SPEC = SubsystemSpec(
    name="monitoring",
    wanted=_wanted,
    build=_build,
    collect=monitoring_results,
    needs=("delivery",),
)
