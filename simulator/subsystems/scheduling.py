"""The cluster scheduler of the Omega paper's architectures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..metrics.scheduling import scheduling_results
from ..model.context import RunContext, Subsystem
from .spec import SubsystemSpec

if TYPE_CHECKING:
    from ..model.scheduling import SchedulingModel


def _build(context: RunContext, needed: Mapping[str, Subsystem]) -> SchedulingModel:
    from ..model.scheduling import SchedulingModel  # when a scenario has a scheduler

    return SchedulingModel(context)


SPEC = SubsystemSpec(
    name="scheduling",
    wanted=lambda scenario: scenario.scheduler is not None,
    build=_build,
    collect=scheduling_results,
)
