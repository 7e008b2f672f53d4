"""Delivery and the organisation: changes, pipelines, operators, incidents."""

from __future__ import annotations

from ..model.delivery import DeliveryModel
from . import SubsystemSpec


def _build(context, needed):  # type: ignore[no-untyped-def]
    return DeliveryModel(context.env, context.scenario, context.streams, context.events)


SPEC = SubsystemSpec(
    name="delivery",
    wanted=lambda scenario: scenario.delivery is not None,
    build=_build,
    collect=lambda model, run: (model.summary(), model.tables()),
)
