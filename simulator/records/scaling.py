"""The autoscalers' decisions as numbers: one row per change of replicas or nodes.

The event log keeps the decisions in words for people; charts and metrics read this log,
so they never parse prose. Both fidelities fill it: the request-level `Autoscaler` and the
analytic `ElasticFleet`.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

REPLICAS = "replicas"
"""Kind of a decision on a service's replicas (the HPA); the target is the service."""
NODES = "nodes"
"""Kind of a decision on a node pool (the node autoscaler); the target is the node type."""
KINDS = (REPLICAS, NODES)

UTILISATION = "utilisation"
"""Replicas added: the measured utilisation asked for more than the current replicas."""
STABILISED = "stabilised"
"""Replicas retired: the highest recommendation of the stabilisation window went down."""
PENDING_PODS = "pending_pods"
"""Nodes booted: replicas are waiting for room on a node."""
IDLE_NODE = "idle_node"
"""Nodes removed: they stayed empty for the scale-down delay."""
BY_HAND = "by_hand"
"""Replicas added by a person (an overload's remedy), the HPA's ceiling raised as much."""
REASONS = (UTILISATION, STABILISED, PENDING_PODS, IDLE_NODE, BY_HAND)


@dataclass
class ScalingLog:
    """Columns of decisions in the order they were taken: when, on what (`target`, of
    `kind` replicas or nodes), the count before (`from_`) and after (`to`), and why (a code
    from `REASONS`)."""

    time: array[float] = field(default_factory=lambda: array("d"))
    target: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    from_: array[int] = field(default_factory=lambda: array("q"))
    to: array[int] = field(default_factory=lambda: array("q"))
    reason: list[str] = field(default_factory=list)

    def record(self, time: float, target: str, kind: str, from_: int, to: int, reason: str) -> None:
        """One decision; codes are checked so that a typo does not become a new category."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind of scaling {kind!r}; expected one of {KINDS}")
        if reason not in REASONS:
            raise ValueError(f"unknown reason for scaling {reason!r}; expected one of {REASONS}")
        self.time.append(float(time))
        self.target.append(target)
        self.kind.append(kind)
        self.from_.append(int(from_))
        self.to.append(int(to))
        self.reason.append(reason)

    def __len__(self) -> int:
        return len(self.time)

    def truncate(self, rows: int) -> None:
        """Keep the first `rows` decisions (a fleet computed again from an earlier step)."""
        for column in (self.time, self.target, self.kind, self.from_, self.to, self.reason):
            del column[rows:]
