"""Placement policies: pure functions from a snapshot of the cell to a list of nodes.

Every policy sees the same thing: `slots[n]`, how many more tasks of this job's shape fit on
node n (free CPU and memory, per-instance overhead and density limit already applied by
`fit_slots`), the number of tasks to place, and uniform random numbers drawn by the caller.
It returns the node of each task it could place (a node may repeat), at most `count` of them.
Nothing here reads a clock or a random generator, so each policy is tested on its own.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np

EPS = 1e-9
"""Slack for float sums of requests (0.1 + 0.2 ≠ 0.3), so a task that fits is never refused."""

Policy = Callable[[np.ndarray, int, np.ndarray], np.ndarray]


def load_kernels() -> ModuleType:
    """The compiled equivalents of the hot loops here and in `CellState` (`kernels`),
    imported on first use: numba takes a fifth of a second to import, which only a run with
    a scheduler should pay."""
    from . import kernels

    return kernels


_NONE = np.empty(0, dtype=np.int64)
_NONE.flags.writeable = False


def fit_slots(
    free_cpu: np.ndarray,
    free_mem: np.ndarray,
    cpu: np.ndarray | float,
    mem: np.ndarray | float,
    room: np.ndarray | None = None,
    one_per_node: bool = False,
) -> np.ndarray:
    """Tasks of size (cpu, mem) that still fit per node; `room` caps instances (density)."""
    # min(floor(a + EPS), floor(b + EPS)) is floor(min(a, b) + EPS): adding EPS (rounded)
    # and flooring never reverse an order, so the minimum can be taken first (the same
    # numbers, two passes fewer), worked in place
    slots = np.asarray(free_cpu / cpu)
    np.minimum(slots, free_mem / mem, out=slots)
    slots += EPS
    # then floor, cap and not below zero: converting to integers truncates towards zero,
    # which is the floor for x ≥ 0 and gives 0 or less for x < 0 (whose floor is below
    # zero), so truncating and then taking the maximum with 0 gives the same integers as
    # flooring first (sizes are positive, so the ratios are finite; below 2^63, where the
    # conversion is defined, as any count of tasks on a node is): one pass fewer
    whole = slots.astype(np.int64)
    if room is not None:
        np.minimum(whole, room, out=whole)
    if one_per_node:
        np.minimum(whole, 1, out=whole)
    np.maximum(whole, 0, out=whole)  # np.maximum rather than np.clip: less overhead
    return whole


def random_first_fit(slots: np.ndarray, count: int, draws: np.ndarray) -> np.ndarray:
    """Each task scans from a random node to the first with room (the Omega simulator's).

    Task i starts at node ⌊draws[i]·N⌋ and takes the first node from there on (wrapping
    around) that still has room after the tasks before it. Computed in rounds: every task
    left wants the first node with room at or after its start; the tasks before the first
    one whose node is already full by its turn take what they want; the rest go to the next
    round, those that wanted a node now full looking on from it. After a few rounds the
    remaining tasks go one by one. All ways give the same nodes as placing the tasks one by
    one; they only avoid passes over every node where a look a few nodes ahead will do.
    """
    wanted = _first_wanted(slots, count, draws)
    if wanted is None:
        return _NONE
    return _rounds(slots, wanted, None)


def random_first_fit_claims(
    slots: np.ndarray, count: int, draws: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`claims(random_first_fit(slots, count, draws))`: how many tasks each node gets, which
    is all a commit needs, computed without the order of the tasks.

    How many tasks each node ends up with does not depend on the order in which the tasks
    scan (placing one task and moving another past a full node commute: the tasks are
    alike), so every task takes the first node with room from its start at once; where more
    tasks want a node than it has room for, the rest move on together from the next node,
    again at once, until none is left over (or no node has room). A few vector operations
    per wave, and no order to keep; after `WAVES` waves the rest go as in
    `random_first_fit`. The model places with its compiled twin,
    `kernels.random_first_fit_claims` (the scan, task by task, in machine code); this one
    is the numpy reference the tests hold it to."""
    wanted = _first_wanted(slots, count, draws)
    if wanted is None:
        return _NONE, _NONE
    ordered = np.sort(wanted)
    if len(ordered) < 2 or not np.logical_or.reduce(ordered[1:] == ordered[:-1]):
        # distinct nodes, each with room for the one task that wants it: what `claims`
        # gives, without its passes
        return ordered, np.ones(len(ordered), dtype=np.int64)
    unique, counts = _claims_of_sorted(ordered)
    room = slots[unique]
    over = counts > room
    if not np.logical_or.reduce(over):
        return unique, counts  # no node is wanted by more tasks than it has room for
    carried = _carry(slots, unique, counts, room, over)
    if carried is not None:
        return carried
    total = len(slots)
    left = slots.copy()
    nodes, taken = [unique], [np.minimum(counts, room)]
    left[unique] -= taken[0]
    for _ in range(WAVES):
        starts = np.repeat(unique[over] + 1, (counts - room)[over])
        np.remainder(starts, total, out=starts)
        found = _next_with_room(left, starts)
        if found is None:
            break  # every node is full: the rest cannot be placed
        unique, counts = claims(found)
        room = left[unique]
        take = np.minimum(counts, room)
        left[unique] -= take
        nodes.append(unique)
        taken.append(take)
        over = counts > room
        if not np.logical_or.reduce(over):
            break
    else:
        return claims(random_first_fit(slots, count, draws))
    every = np.concatenate(nodes)
    order = np.argsort(every, kind="stable")
    every = every[order]
    first = np.empty(len(every), dtype=bool)
    first[0] = True
    np.not_equal(every[1:], every[:-1], out=first[1:])
    starts = first.nonzero()[0]
    return every[starts], np.add.reduceat(np.concatenate(taken)[order], starts)


WAVES = 16
"""Waves of left-over tasks moved on at once before random first-fit goes task by task."""


CARRY = 64
"""Nodes looked at one by one for the left-over tasks of a placement before moving them on
in waves instead (a handful of left-over tasks, the usual case, find room within a few)."""


def _carry(
    slots: np.ndarray, unique: np.ndarray, counts: np.ndarray, room: np.ndarray, over: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """`random_first_fit_claims` once the first wanted nodes are counted (`unique`, `counts`,
    their `room` and where it is `over`-asked), moving the left-over tasks on one at a time
    from the node after the one that had no room for them: the same counts as the waves (the
    order in which tasks move on does not change them), with a Python step per node looked
    at instead of a few dozen vector operations. None if that takes more than CARRY steps
    (a crowded cell: then the waves do it)."""
    taken = np.minimum(counts, room)
    starts = unique[over].tolist()
    left_over = (counts - room)[over].tolist()
    wanted = unique.tolist()
    held = taken.tolist()
    total = len(slots)
    added: dict[int, int] = {}  # node -> tasks moved onto it
    steps = 0
    for node, tasks in zip(starts, left_over, strict=True):
        at = node + 1
        while tasks:
            steps += 1
            if steps > CARRY:
                return None
            if at == total:
                at = 0
            have = slots.item(at)
            if have > 0:
                i = bisect_left(wanted, at)
                if i < len(wanted) and wanted[i] == at:
                    have -= held[i]
                have -= added.get(at, 0)
                if have > 0:
                    moved = min(have, tasks)
                    added[at] = added.get(at, 0) + moved
                    tasks -= moved
            at += 1
    fresh: list[int] = []
    for node, tasks in added.items():
        i = bisect_left(wanted, node)
        if i < len(wanted) and wanted[i] == node:
            taken[i] += tasks
        else:
            fresh.append(node)
    if not fresh:
        return unique, taken
    nodes = np.concatenate((unique, np.array(fresh, dtype=np.int64)))
    tasks_on = np.concatenate((taken, np.array([added[n] for n in fresh], dtype=np.int64)))
    order = nodes.argsort(kind="stable")
    return nodes[order], tasks_on[order]


def _first_wanted(slots: np.ndarray, count: int, draws: np.ndarray) -> np.ndarray | None:
    """The node each task wants first: the first with room at or after its random start
    (None if no task can be placed)."""
    total = len(slots)
    if count <= 0 or total == 0:
        return None
    # draws are in [0, 1), so ⌊draw·N⌋ < N: the largest, 1 − 2^-53, times N is at least half
    # a spacing of doubles below N, so it never rounds up to N (an out-of-range draw would
    # fail loudly at the indexing below rather than wrap)
    wanted = (draws[:count] * total).astype(np.int64)
    full = slots[wanted] <= 0
    if np.logical_or.reduce(full):
        found = _next_with_room(slots, wanted[full])
        if found is None:
            return None
        wanted[full] = found
    return wanted


def _rounds(
    slots: np.ndarray, wanted: np.ndarray, counted: tuple[np.ndarray, np.ndarray] | None
) -> np.ndarray:
    """Random first-fit from the nodes first wanted (`counted`: their claims, if known)."""
    left = slots
    placed: list[np.ndarray] = []
    for _ in range(ROUNDS):
        first = _first_too_late(wanted, left, counted)
        counted = None
        if first < 0:
            placed.append(wanted)
            return np.concatenate(placed) if len(placed) > 1 else wanted
        taken = wanted[:first]
        placed.append(taken)
        if left is slots:
            left = slots.copy()
        unique, counts = claims(taken)
        left[unique] -= counts
        wanted = wanted[first:]
        full = left[wanted] <= 0
        found = _next_with_room(left, wanted[full])
        if found is None:
            return np.concatenate(placed)
        wanted[full] = found
    nodes = np.flatnonzero(left > 0)
    positions = _scan(left[nodes], np.searchsorted(nodes, wanted).tolist())
    placed.append(nodes[positions])
    return np.concatenate(placed)


ROUNDS = 4
"""Rounds of random first-fit done for all remaining tasks at once before going one by one
(a round costs a few vector operations; one by one costs a Python step per task)."""

AHEAD = 16
"""Nodes looked at ahead of a full one before searching the whole cell for the next with
room."""

_AHEAD = np.arange(AHEAD)


def _next_with_room(left: np.ndarray, starts: np.ndarray) -> np.ndarray | None:
    """For each start, the first node at or after it (wrapping around) with room left; None
    if no node has room."""
    if len(starts) == 0:
        return starts
    total = len(left)
    room = left.take(starts[:, None] + _AHEAD, mode="wrap") > 0  # the window, wrapping
    found = np.remainder(starts + room.argmax(axis=1), total)
    missed = left[found] <= 0  # argmax is 0 where no node of the window has room
    if np.logical_or.reduce(missed):
        nodes = np.flatnonzero(left > 0)
        if len(nodes) == 0:
            return None
        found[missed] = nodes[np.remainder(np.searchsorted(nodes, starts[missed]), len(nodes))]
    return found


def _first_too_late(
    wanted: np.ndarray, left: np.ndarray, counted: tuple[np.ndarray, np.ndarray] | None = None
) -> int:
    """The first task whose wanted node is full by its turn (more tasks before it want that
    node than it has room for), or −1 if every task gets the node it wants (`counted`:
    `claims(wanted)`, if known)."""
    unique, counts = claims(wanted) if counted is None else counted
    if not np.logical_or.reduce(counts > left[unique]):
        return -1  # no node is wanted by more tasks than it has room for
    size = len(wanted)
    order = np.argsort(wanted, kind="stable")
    ordered = wanted[order]
    new = np.empty(size, dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    index = np.arange(size)
    rank = index - np.maximum.accumulate(np.where(new, index, 0))
    return int(order[rank >= left[ordered]].min())


def _scan(room: np.ndarray, starts: list[int]) -> list[int]:
    """Random first-fit one task at a time over the nodes with room (`room`, each > 0): the
    position each task takes, scanning forward from its start past nodes filled meanwhile."""
    size = len(room)
    left = int(room.sum())
    taken: dict[int, int] = {}
    positions = []
    for start in starts:
        if left == 0:
            break
        j = start % size
        while taken.get(j, 0) >= room[j]:
            j = j + 1 if j + 1 < size else 0
        taken[j] = taken.get(j, 0) + 1
        left -= 1
        positions.append(j)
    return positions


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
    """The distinct nodes of a placement (ascending) and how many tasks each got: what
    `np.unique(nodes, return_counts=True)` gives, in a few vector operations less."""
    if len(nodes) < 2:
        return nodes.copy(), np.ones(len(nodes), dtype=np.int64)
    return _claims_of_sorted(np.sort(nodes))


def _claims_of_sorted(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`claims` of nodes already in ascending order (at least two)."""
    size = len(ordered)
    first = np.empty(size + 1, dtype=bool)
    first[0] = first[size] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:size])
    bounds = first.nonzero()[0]  # np.flatnonzero of a 1-d array, without its wrappers
    return ordered[bounds[:-1]], bounds[1:] - bounds[:-1]


def drf_pick(shares: Sequence[float], wanting: Sequence[bool]) -> int:
    """Dominant-resource fairness: the framework with work and the lowest dominant share.

    Ties go to the lowest index. Returns −1 when no framework wants resources. (A loop over
    a handful of frameworks: numpy's calls would cost more than the comparisons.)
    """
    best = -1
    for index, wants in enumerate(wanting):
        if wants and (best < 0 or shares[index] < shares[best]):
            best = index
    return best
