"""Where replicas run, as far as the network cares: which node each serving replica is on.

A call between two services stays on one node when the caller's replica and the callee's
replica share it. Load balancers here do not route by topology, so the replica on either
end is as good as any other: the chance that a call stays local is the chance that two
replicas drawn independently, one of each service, share a node (`share_same_node`). The
autoscaler (or the fixed placement of a cluster without one) tells `Placement` when a
replica starts serving on a node and when it leaves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping


def share_same_node(caller: Mapping[int, int], callee: Mapping[int, int]) -> float:
    """P(a random replica of each service share a node), from replicas per node."""
    callers, callees = sum(caller.values()), sum(callee.values())
    if callers == 0 or callees == 0:
        return 0.0
    shared = sum(count * callee.get(node, 0) for node, count in caller.items())
    return shared / (callers * callees)


class Placement:
    """Serving replicas per service and node; each change bumps `version` so that calls
    recompute their chance of staying local only when something moved."""

    def __init__(self) -> None:
        self.replicas: dict[str, dict[int, int]] = defaultdict(dict)
        self.version = 0

    def add(self, service: str, node: int) -> None:
        counts = self.replicas[service]
        counts[node] = counts.get(node, 0) + 1
        self.version += 1

    def remove(self, service: str, node: int) -> None:
        counts = self.replicas[service]
        counts[node] -= 1
        if not counts[node]:
            del counts[node]
        self.version += 1

    def local_draw(
        self, caller: str, callee: str, uniform: Callable[[], float]
    ) -> Callable[[], bool]:
        """A draw per call: does this one stay on the caller's node?"""
        seen = [-1, 0.0]  # the version the share was computed at, and the share

        def local() -> bool:
            if seen[0] != self.version:
                seen[0] = self.version
                seen[1] = share_same_node(self.replicas[caller], self.replicas[callee])
            return uniform() < seen[1]

        return local
