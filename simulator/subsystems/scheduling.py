"""The cluster scheduler of the Omega paper's architectures."""

from __future__ import annotations

from ..model.scheduling import SchedulingModel
from . import SubsystemSpec


def _build(context, needed):  # type: ignore[no-untyped-def]
    return SchedulingModel(context.env, context.scenario, context.streams, context.events)


SPEC = SubsystemSpec(
    name="scheduling",
    wanted=lambda scenario: scenario.scheduler is not None,
    build=_build,
    collect=lambda model, run: (model.summary(), model.tables()),
)
