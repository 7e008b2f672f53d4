"""Cluster, workloads and scheduler: the container-management half of a scenario.

Placeholder shapes, to be completed with the scheduling model (issue 4).
"""

from __future__ import annotations

from .base import ScenarioModel, knob


class Cluster(ScenarioModel):
    """The machines of one cell."""

    nodes: int = knob(100, "number of nodes", ge=1)
    cpu: float = knob(4.0, "CPU cores per node", "cores", gt=0)
    memory_gb: float = knob(16.0, "memory per node", "GB", gt=0)
    prefill: float = knob(
        0.0, "share of the cell taken by long-running work when the run starts", ge=0, le=1
    )


class Workloads(ScenarioModel):
    """Jobs that arrive at the cluster's schedulers."""


class Scheduler(ScenarioModel):
    """The cluster scheduler's architecture and its decision times."""
