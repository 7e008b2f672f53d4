"""Placement policies: pure functions from a snapshot of the cell to a list of nodes.

Every policy sees the same thing: `slots[n]`, how many more tasks of this job's shape fit on
node n (free CPU and memory, per-instance overhead and density limit already applied by
`fit_slots`), the number of tasks to place, and uniform random numbers drawn by the caller.
It returns the node of each task it could place (a node may repeat), at most `count` of them.
Nothing here reads a clock or a random generator, so each policy is tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EPS = 1e-9
"""Slack for float sums of requests (0.1 + 0.2 ≠ 0.3), so a task that fits is never refused."""

Policy = Callable[[np.ndarray, int, np.ndarray], np.ndarray]


def fit_slots(
    free_cpu: np.ndarray,
    free_mem: np.ndarray,
    cpu: np.ndarray | float,
    mem: np.ndarray | float,
    room: np.ndarray | None = None,
    one_per_node: bool = False,
) -> np.ndarray:
    """Tasks of size (cpu, mem) that still fit per node; `room` caps instances (density)."""
    by_cpu = np.floor(free_cpu / cpu + EPS)
    by_mem = np.floor(free_mem / mem + EPS)
    slots = np.minimum(by_cpu, by_mem)
    if room is not None:
        slots = np.minimum(slots, room)
    if one_per_node:
        slots = np.minimum(slots, 1)
    return np.clip(slots, 0, None).astype(np.int64)


def random_first_fit(slots: np.ndarray, count: int, draws: np.ndarray) -> np.ndarray:
    """Each task scans from a random node to the first with room (the Omega simulator's)."""
    nodes = np.flatnonzero(slots > 0)
    if count <= 0 or len(nodes) == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.searchsorted(nodes, (draws[:count] * len(slots)).astype(np.int64))
    left = slots[nodes].tolist()
    n = len(nodes)
    positions = []
    remaining = int(sum(left))
    for start in starts.tolist():
        if remaining == 0:
            break
        j = start % n
        while left[j] == 0:
            j = j + 1 if j + 1 < n else 0
        left[j] -= 1
        remaining -= 1
        positions.append(j)
    return nodes[np.asarray(positions, dtype=np.int64)]


def first_fit(slots: np.ndarray, count: int, draws: np.ndarray) -> np.ndarray:
    """Fill nodes in index order: packs the low end of the cell, the search is short."""
    nodes = np.flatnonzero(slots > 0)
    return _fill(nodes, slots[nodes], count)


def best_fit(slots: np.ndarray, count: int, draws: np.ndarray) -> np.ndarray:
    """Bin-packing: the node with the least room left first, so empty nodes stay empty."""
    nodes = np.flatnonzero(slots > 0)
    order = nodes[np.argsort(slots[nodes], kind="stable")]
    return _fill(order, slots[order], count)


def spread(slots: np.ndarray, count: int, draws: np.ndarray) -> np.ndarray:
    """Worst-fit, one task per node in turn, emptiest first: fewer tasks lost per failure."""
    nodes = np.flatnonzero(slots > 0)
    if count <= 0 or len(nodes) == 0:
        return np.empty(0, dtype=np.int64)
    order = nodes[np.argsort(-slots[nodes], kind="stable")]
    left = slots[order].copy()
    chosen: list[np.ndarray] = []
    while count > 0 and left.max(initial=0) > 0:
        layer = order[left > 0][:count]
        chosen.append(layer)
        left[left > 0] -= 1
        count -= len(layer)
    return np.concatenate(chosen)


def manual(slots: np.ndarray, count: int, draws: np.ndarray) -> np.ndarray:
    """The sysadmin era: a job has a fixed block of nodes, chosen by hand, and no search.

    Task i of a job goes to node (first + i) mod N, where `first` is the job's own (drawn
    once); a task whose node is full is not placed.
    """
    n = len(slots)
    if count <= 0 or n == 0:
        return np.empty(0, dtype=np.int64)
    first = int(draws[0] * n) if len(draws) else 0
    wanted = (first + np.arange(count)) % n
    left = slots.copy()
    placed = []
    for node in wanted.tolist():
        if left[node] > 0:
            left[node] -= 1
            placed.append(node)
    return np.asarray(placed, dtype=np.int64)


def _fill(order: np.ndarray, room: np.ndarray, count: int) -> np.ndarray:
    """Take nodes in order, as many tasks on each as fit, until `count` are placed."""
    if count <= 0 or len(order) == 0:
        return np.empty(0, dtype=np.int64)
    cumulative = np.cumsum(room)
    last = int(np.searchsorted(cumulative, count))
    take = room[: last + 1].copy()
    if last < len(room):
        take[-1] -= cumulative[last] - count
    return np.repeat(order[: last + 1], take)


POLICIES: dict[str, Policy] = {
    "random-first-fit": random_first_fit,
    "first-fit": first_fit,
    "best-fit": best_fit,
    "spread": spread,
    "manual": manual,
}


def claims(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct nodes of a placement and how many tasks each got."""
    return np.unique(nodes, return_counts=True)


def dominant_shares(
    used_cpu: np.ndarray, used_mem: np.ndarray, total_cpu: float, total_mem: float
) -> np.ndarray:
    """Each framework's dominant share: its larger share of CPU or of memory (DRF)."""
    return np.maximum(used_cpu / total_cpu, used_mem / total_mem)


def drf_pick(shares: np.ndarray, wanting: np.ndarray) -> int:
    """Dominant-resource fairness: the framework with work and the lowest dominant share.

    Ties go to the lowest index. Returns −1 when no framework wants resources.
    """
    candidates = np.flatnonzero(wanting)
    if len(candidates) == 0:
        return -1
    return int(candidates[np.argmin(shares[candidates])])
