"""The registry: which subsystems a scenario switches on, how each is built from the run
context and its dependencies, and which metrics turn its records into KPIs and tables.

One list serves both fidelities. Adding a subsystem means adding one `SubsystemSpec` to
`SPECS` (see docs/architecture.md, "How to add a subsystem"). A spec's module imports its
model where it builds it, so that a run loads only the models its scenario switches on (an
analytic fleet: none of them; the metrics, which describe every KPI, are loaded by all).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..model.context import RunContext, Subsystem
from ..records.run import RunRecords
from . import delivery, discovery, monitoring, scheduling
from .spec import Results, SubsystemSpec

if TYPE_CHECKING:
    import pandas as pd

SPECS: tuple[SubsystemSpec, ...] = (
    scheduling.SPEC,
    delivery.SPEC,
    monitoring.SPEC,
    *discovery.SPECS,
)
"""Every kind of subsystem, in the order they are built (dependencies first)."""


def build_subsystems(context: RunContext) -> dict[str, Subsystem]:
    """Every subsystem the scenario asks for, in dependency order, keyed by name."""
    built: dict[str, Subsystem] = {}
    for spec in SPECS:
        if spec.request_level_only and context.services is None:
            continue
        if not spec.wanted(context.scenario):
            continue
        needed = {name: built[name] for name in spec.needs if name in built}
        built[spec.name] = spec.build(context, needed)
    return built


def collect(built: Mapping[str, Subsystem], run: RunRecords) -> Results:
    """The KPIs and tables of every built subsystem, in registry order."""
    by_name = {spec.name: spec for spec in SPECS}
    summary: dict[str, float] = {}
    tables: dict[str, pd.DataFrame] = {}
    for name, subsystem in built.items():
        kpis, more = by_name[name].collect(subsystem.records(), run)
        summary.update(kpis)
        tables.update(more)
    return summary, tables
