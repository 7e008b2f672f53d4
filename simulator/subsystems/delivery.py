"""Delivery and the organisation: changes, pipelines, operators, incidents."""

from __future__ import annotations

from ..metrics.delivery import delivery_results
from ..model.delivery import DeliveryModel
from .spec import SubsystemSpec

SPEC = SubsystemSpec(
    name="delivery",
    wanted=lambda scenario: scenario.delivery is not None,
    build=lambda context, needed: DeliveryModel(context),
    collect=delivery_results,
)
