"""What the registry knows of one kind of subsystem."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..model.context import RunContext, Subsystem
from ..records.run import RunRecords
from ..scenario.schema import Scenario

if TYPE_CHECKING:
    import pandas as pd

Results = tuple[dict[str, float], dict[str, "pd.DataFrame"]]


@dataclass(frozen=True)
class SubsystemSpec:
    """One kind of subsystem. `needs` names subsystems that must be built first; those the
    scenario switched on are passed to `build` by name (absent ones are simply missing)."""

    name: str
    wanted: Callable[[Scenario], bool]
    build: Callable[[RunContext, Mapping[str, Subsystem]], Subsystem]
    collect: Callable[[Any, RunRecords], Results]
    needs: tuple[str, ...] = ()
    request_level_only: bool = False
