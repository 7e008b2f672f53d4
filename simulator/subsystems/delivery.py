"""Delivery and the organisation: changes, pipelines, operators, incidents.

The model is imported when a scenario builds it: a run without delivery (most analytic
fleets) does not load it (see `simulator.subsystems`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..metrics.delivery import delivery_results
from ..model.context import RunContext, Subsystem
from .spec import SubsystemSpec

if TYPE_CHECKING:
    from ..model.delivery import DeliveryModel


def _build(context: RunContext, needed: Mapping[str, Subsystem]) -> DeliveryModel:
    from ..model.delivery import DeliveryModel

    return DeliveryModel(context)


SPEC = SubsystemSpec(
    name="delivery",
    wanted=lambda scenario: scenario.delivery is not None,
    build=_build,
    collect=delivery_results,
)
