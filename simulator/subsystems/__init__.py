"""The registry: which subsystems a scenario switches on, how each is built from the run
context and its dependencies, and which metrics turn its records into KPIs and tables.

One list serves both fidelities. Adding a subsystem means adding one `SubsystemSpec` here
(see docs/architecture.md, "How to add a subsystem").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..model.context import RunContext, Subsystem
from ..records.run import RunRecords
from ..scenario.schema import Scenario

Results = tuple[dict[str, float], dict[str, pd.DataFrame]]


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


def _specs() -> list[SubsystemSpec]:
    from . import delivery, discovery, scheduling

    return [scheduling.SPEC, delivery.SPEC, *discovery.SPECS]


def build_subsystems(context: RunContext) -> dict[str, Subsystem]:
    """Every subsystem the scenario asks for, in dependency order, keyed by name."""
    built: dict[str, Subsystem] = {}
    for spec in _specs():
        if spec.request_level_only and context.services is None:
            continue
        if not spec.wanted(context.scenario):
            continue
        needed = {name: built[name] for name in spec.needs if name in built}
        built[spec.name] = spec.build(context, needed)
    return built


def collect(built: Mapping[str, Subsystem], run: RunRecords) -> Results:
    """The KPIs and tables of every built subsystem, in registry order."""
    by_name = {spec.name: spec for spec in _specs()}
    summary: dict[str, float] = {}
    tables: dict[str, pd.DataFrame] = {}
    for name, subsystem in built.items():
        kpis, more = by_name[name].collect(subsystem.records(), run)
        summary.update(kpis)
        tables.update(more)
    return summary, tables
