"""The cluster scheduler of the Omega paper's architectures."""

from __future__ import annotations

from collections.abc import Mapping

from ..metrics.scheduling import scheduling_results
from ..model.context import RunContext, Subsystem
from ..model.scheduling import SchedulingModel
from .spec import SubsystemSpec


def _build(context: RunContext, needed: Mapping[str, Subsystem]) -> SchedulingModel:
    return SchedulingModel(context)


SPEC = SubsystemSpec(
    name="scheduling",
    wanted=lambda scenario: scenario.scheduler is not None,
    build=_build,
    collect=scheduling_results,
)
