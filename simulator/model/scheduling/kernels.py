"""The scheduler model's inner loops, compiled with numba: the same numbers, bit for bit, as
the numpy computations they stand for (`placement`, `CellState`), without numpy's per-call
cost on arrays of a hundred elements.

Each kernel is a pure function of its arguments, except that it writes into the arrays it is
given to write into (named `out...`, the cell's arrays for `add_claims`, `place_fine`
and `refresh_one`, an offer's for `place_take`) and that `random_first_fit_claims` borrows a
scratch array of zeros and leaves it all zeros again.
Every float operation is one IEEE operation in the order numpy does it (no fast-math, no
reassociation), so the results are exact copies, not approximations: tests check them
against the numpy versions on generated inputs (`tests/model/test_scheduling_exact.py`).

Imported lazily, when a scheduling model is built (`placement.load_kernels`): numba takes
about 0.2 s to import, and `sresim --help` or `sresim validate` need none of it.
`cache=True` keeps the machine code beside this file (or in numba's user cache where that
is read-only), so the compilation (about 2.3 s) is paid once per machine and source, not
per process (docs/performance.md).
"""

from __future__ import annotations

import math

import numba
import numpy as np

EPS = 1e-9
"""`placement.EPS` (a literal here, so that the kernels compile it as a constant)."""


@numba.njit(cache=True)
def _skip_list(slots: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """Per node, itself if it has room (`slots` − `scratch` > 0), else the next node to
    look at; N (no node) after the last. Full nodes form chains that `_first_with_room`
    follows to the first node with room at or after any node, shortening them as it goes."""
    total = slots.shape[0]
    ahead = np.empty(total + 1, np.int64)
    for node in range(total):
        ahead[node] = node if slots[node] - scratch[node] > 0 else node + 1
    ahead[total] = total
    return ahead


@numba.njit(cache=True)
def _first_with_room(ahead: np.ndarray, node: int) -> int:
    """The first node at or after `node` with room in the skip list (`_skip_list`), N if
    none: what stepping node by node finds, before wrapping around. Each step halves the
    path behind it (every node on it points two further on)."""
    while ahead[node] != node:
        ahead[node] = ahead[ahead[node]]
        node = ahead[node]
    return node


@numba.njit(cache=True)
def random_first_fit_claims(
    slots: np.ndarray, count: int, draws: np.ndarray, scratch: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`placement.random_first_fit_claims`: each task, in turn, takes the first node with
    room at or after node ⌊draws[i]·N⌋ (wrapping around); the distinct nodes (ascending) and
    the tasks each got. `scratch`: N zeros (int64), the tasks taken per node so far, left
    all zeros again. A task finding no room anywhere ends the placement (so do the rest)."""
    total = slots.shape[0]
    if count <= 0 or total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    touched = np.empty(min(count, total), np.int64)
    distinct = 0
    scanned = 0  # nodes stepped over so far
    ahead = np.empty(0, np.int64)  # the skip list, once built
    for i in range(count):
        node = int(draws[i] * total)  # truncation, as numpy's astype: < N (see placement)
        if ahead.shape[0]:
            node = _first_with_room(ahead, node)
            if node == total:
                node = _first_with_room(ahead, 0)
                if node == total:
                    break  # every node is full
        else:
            steps = 0
            while slots[node] - scratch[node] <= 0:
                node += 1
                if node == total:
                    node = 0
                steps += 1
                if steps == total:
                    break
            if steps == total:
                break  # every node is full
            scanned += steps
        if scratch[node] == 0:
            touched[distinct] = node
            distinct += 1
        scratch[node] += 1
        if ahead.shape[0]:
            if slots[node] - scratch[node] <= 0:
                ahead[node] = node + 1  # full now: skipped from here on
        elif scanned > total:
            # a crowded cell: the tasks have stepped over more nodes than it has, so the
            # rest find theirs through a skip list (the same nodes, without the steps)
            ahead = _skip_list(slots, scratch)
    nodes = np.sort(touched[:distinct])
    counts = np.empty(distinct, np.int64)
    for k in range(distinct):
        counts[k] = scratch[nodes[k]]
        scratch[nodes[k]] = 0
    return nodes, counts


@numba.njit(cache=True)
def free_at(
    nodes: np.ndarray,
    cap_cpu: np.ndarray,
    cap_mem: np.ndarray,
    used_cpu: np.ndarray,
    used_mem: np.ndarray,
    locked_cpu: np.ndarray,
    locked_mem: np.ndarray,
    subtract_locked: bool,
    up: np.ndarray,
    check_up: bool,
    out_cpu: np.ndarray,
    out_mem: np.ndarray,
) -> None:
    """`CellState._free_at(nodes)` written into `out_cpu[nodes]`, `out_mem[nodes]`:
    cap − used (− locked, if `subtract_locked`), 0 where the node is down (if `check_up`)."""
    for k in range(nodes.shape[0]):
        n = nodes[k]
        cpu = cap_cpu[n] - used_cpu[n]
        mem = cap_mem[n] - used_mem[n]
        if subtract_locked:
            cpu = cpu - locked_cpu[n]
            mem = mem - locked_mem[n]
        if check_up and not up[n]:
            cpu = 0.0
            mem = 0.0
        out_cpu[n] = cpu
        out_mem[n] = mem


@numba.njit(cache=True)
def slots_at(
    nodes: np.ndarray,
    free_cpu: np.ndarray,
    free_mem: np.ndarray,
    need_cpu: np.ndarray,
    need_mem: np.ndarray,
    density: np.ndarray,
    instances: np.ndarray,
    density_limited: bool,
    out: np.ndarray,
) -> None:
    """`placement.fit_slots` at `nodes` written into `out[nodes]` (all arrays per node):
    ⌊min(free_cpu / need_cpu, free_mem / need_mem) + EPS⌋, capped by the room for instances
    (if `density_limited`), not below 0."""
    for k in range(nodes.shape[0]):
        n = nodes[k]
        by_cpu = free_cpu[n] / need_cpu[n]
        by_mem = free_mem[n] / need_mem[n]
        ratio = by_cpu if by_cpu <= by_mem else by_mem
        whole = int(ratio + EPS)  # truncation; the maximum with 0 below floors it
        if density_limited:
            room = density[n] - instances[n]
            if room < whole:
                whole = room
        out[n] = whole if whole > 0 else 0


@numba.njit(cache=True)
def deltas(
    nodes: np.ndarray,
    counts: np.ndarray,
    cpu: float,
    mem: float,
    overhead_cpu: np.ndarray,
    overhead_mem: np.ndarray,
    out_cpu: np.ndarray,
    out_mem: np.ndarray,
) -> None:
    """`CellState.deltas` written into `out_cpu`, `out_mem`: counts × (size + the node's
    per-instance overhead); without overheads that is counts × size (size + 0.0 is size)."""
    for k in range(nodes.shape[0]):
        n = nodes[k]
        out_cpu[k] = counts[k] * (cpu + overhead_cpu[n])
        out_mem[k] = counts[k] * (mem + overhead_mem[n])


@numba.njit(cache=True)
def fine_conflicts(
    nodes: np.ndarray,
    dcpu: np.ndarray,
    dmem: np.ndarray,
    counts: np.ndarray,
    cap_cpu: np.ndarray,
    cap_mem: np.ndarray,
    used_cpu: np.ndarray,
    used_mem: np.ndarray,
    locked_cpu: np.ndarray,
    locked_mem: np.ndarray,
    subtract_locked: bool,
    density: np.ndarray,
    instances: np.ndarray,
    density_limited: bool,
    up: np.ndarray,
    check_up: bool,
    out: np.ndarray,
) -> bool:
    """`CellState.conflicts(..., "fine")` written into `out` (one per claim): the claim no
    longer fits its node's free resources (+ EPS), its room for instances, or the node is
    down. True if any claim conflicts."""
    anything = False
    for k in range(nodes.shape[0]):
        n = nodes[k]
        cpu = cap_cpu[n] - used_cpu[n]
        mem = cap_mem[n] - used_mem[n]
        if subtract_locked:
            cpu = cpu - locked_cpu[n]
            mem = mem - locked_mem[n]
        bad = cpu + EPS < dcpu[k] or mem + EPS < dmem[k]
        if density_limited and density[n] - instances[n] < counts[k]:
            bad = True
        if check_up and not up[n]:
            bad = True
        out[k] = bad
        anything = anything or bad
    return anything


@numba.njit(cache=True)
def add_claims(
    nodes: np.ndarray,
    counts: np.ndarray,
    dcpu: np.ndarray,
    dmem: np.ndarray,
    start: bool,
    used_cpu: np.ndarray,
    used_mem: np.ndarray,
    instances: np.ndarray,
    count_instances: bool,
    seq: np.ndarray,
    count_seq: bool,
) -> None:
    """`CellState.apply` (`start`) or `release` on the cell's arrays at distinct `nodes`:
    used ± the deltas, instances ± the counts (if kept), sequence numbers + 1 (if kept)."""
    for k in range(nodes.shape[0]):
        n = nodes[k]
        if start:
            used_cpu[n] = used_cpu[n] + dcpu[k]
            used_mem[n] = used_mem[n] + dmem[k]
            if count_instances:
                instances[n] = instances[n] + counts[k]
        else:
            used_cpu[n] = used_cpu[n] - dcpu[k]
            used_mem[n] = used_mem[n] - dmem[k]
            if count_instances:
                instances[n] = instances[n] - counts[k]
        if count_seq:
            seq[n] = seq[n] + 1


@numba.njit(cache=True)
def place_fine(
    slots: np.ndarray,
    count: int,
    draws: np.ndarray,
    scratch: np.ndarray,
    cpu: float,
    mem: float,
    overhead_cpu: np.ndarray,
    overhead_mem: np.ndarray,
    cap_cpu: np.ndarray,
    cap_mem: np.ndarray,
    used_cpu: np.ndarray,
    used_mem: np.ndarray,
    locked_cpu: np.ndarray,
    locked_mem: np.ndarray,
    subtract_locked: bool,
    density: np.ndarray,
    instances: np.ndarray,
    density_limited: bool,
    up: np.ndarray,
    check_up: bool,
    seq: np.ndarray,
    count_seq: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """A shared-state decision's end in one call: `random_first_fit_claims` on the
    snapshot's `slots`, then `deltas` and `fine_conflicts` of the claims on the live cell
    and, if none conflicts, `add_claims` (their start): the same kernels, in the order the
    model called them one by one. The nodes, tasks, CPU and memory of the claims, where they
    conflict, and whether they were started (False if any conflicts, or nothing was
    placed: then the cell is unchanged)."""
    nodes, counts = random_first_fit_claims(slots, count, draws, scratch)
    size = nodes.shape[0]
    dcpu = np.empty(size)
    dmem = np.empty(size)
    bad = np.empty(size, np.bool_)
    if size == 0:
        return nodes, counts, dcpu, dmem, bad, False
    deltas(nodes, counts, cpu, mem, overhead_cpu, overhead_mem, dcpu, dmem)
    anything = fine_conflicts(
        nodes,
        dcpu,
        dmem,
        counts,
        cap_cpu,
        cap_mem,
        used_cpu,
        used_mem,
        locked_cpu,
        locked_mem,
        subtract_locked,
        density,
        instances,
        density_limited,
        up,
        check_up,
        bad,
    )
    if anything:
        return nodes, counts, dcpu, dmem, bad, False
    add_claims(
        nodes,
        counts,
        dcpu,
        dmem,
        True,
        used_cpu,
        used_mem,
        instances,
        density_limited,
        seq,
        count_seq,
    )
    return nodes, counts, dcpu, dmem, bad, True


@numba.njit(cache=True)
def refresh_one(
    nodes: np.ndarray,
    cap_cpu: np.ndarray,
    cap_mem: np.ndarray,
    used_cpu: np.ndarray,
    used_mem: np.ndarray,
    locked_cpu: np.ndarray,
    locked_mem: np.ndarray,
    subtract_locked: bool,
    up: np.ndarray,
    check_up: bool,
    free_cpu: np.ndarray,
    free_mem: np.ndarray,
    need_cpu: np.ndarray,
    need_mem: np.ndarray,
    density: np.ndarray,
    instances: np.ndarray,
    density_limited: bool,
    slots: np.ndarray,
) -> None:
    """`free_at` and then `slots_at` of one kept shape, in one call (`CellState._refresh`
    with a single shape kept, shared-state's usual case)."""
    free_at(
        nodes,
        cap_cpu,
        cap_mem,
        used_cpu,
        used_mem,
        locked_cpu,
        locked_mem,
        subtract_locked,
        up,
        check_up,
        free_cpu,
        free_mem,
    )
    slots_at(
        nodes, free_cpu, free_mem, need_cpu, need_mem, density, instances, density_limited, slots
    )


@numba.njit(cache=True)
def _clip(x: float) -> float:
    """numpy's `maximum(x, 0.0)`: x above 0 or NaN, else 0 (also for −0)."""
    return x if (x > 0.0 or x != x) else 0.0


@numba.njit(cache=True)
def _leaf(values: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise sum of `values[lo:lo + n]` for 8 ≤ n ≤ 128, where it makes no
    further split: eight running sums over every eighth element, combined as
    ((0+1)+(2+3))+((4+5)+(6+7)), then the elements left over added one by one. Unsigned
    indices: numba then checks no negative index at each load."""
    i = np.uint64(lo)
    end = i + np.uint64(n - n % 8)
    last = i + np.uint64(n)
    r0 = values[i]
    r1 = values[i + np.uint64(1)]
    r2 = values[i + np.uint64(2)]
    r3 = values[i + np.uint64(3)]
    r4 = values[i + np.uint64(4)]
    r5 = values[i + np.uint64(5)]
    r6 = values[i + np.uint64(6)]
    r7 = values[i + np.uint64(7)]
    i += np.uint64(8)
    while i < end:
        r0 += values[i]
        r1 += values[i + np.uint64(1)]
        r2 += values[i + np.uint64(2)]
        r3 += values[i + np.uint64(3)]
        r4 += values[i + np.uint64(4)]
        r5 += values[i + np.uint64(5)]
        r6 += values[i + np.uint64(6)]
        r7 += values[i + np.uint64(7)]
        i += np.uint64(8)
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < last:
        total += values[i]
        i += np.uint64(1)
    return total


@numba.njit(cache=True)
def _pairwise(values: np.ndarray, n: int) -> float:
    """numpy's pairwise sum (`np.add.reduce` of a contiguous float64 array) of the first `n`
    of `values`: fewer than 8 elements one by one, up to 128 in `_leaf`, more split in two
    at half the length rounded down to a multiple of 8, each part summed so and the two sums
    added. Walked with a stack rather than by recursion (numba's recursive calls cost more
    than the additions)."""
    if n < 8:
        total = 0.0
        for i in range(n):
            total += values[i]
        return total
    if n <= 128:
        return _leaf(values, 0, n)
    # parts to sum (start, length, 0: not split yet, 1: left part summed), and the sums
    # waiting for their right-hand partner; 64 levels hold any length below 2^63
    starts = np.empty(64, np.int64)
    lengths = np.empty(64, np.int64)
    states = np.empty(64, np.int64)
    sums = np.empty(64)
    top = 0
    summed = 0
    starts[0], lengths[0], states[0] = 0, n, 0
    while top >= 0:
        lo, size = starts[top], lengths[top]
        if size <= 128:
            sums[summed] = _leaf(values, lo, size)
            summed += 1
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if states[top] == 0:
            states[top] = 1
            top += 1
            starts[top], lengths[top], states[top] = lo, half, 0
        elif states[top] == 1:
            states[top] = 2
            top += 1
            starts[top], lengths[top], states[top] = lo + half, size - half, 0
        else:
            summed -= 1
            sums[summed - 1] = sums[summed - 1] + sums[summed]
            top -= 1
    return sums[0]


@numba.njit(cache=True)
def pairwise_sum(values: np.ndarray) -> float:
    """`np.add.reduce(values)` of a contiguous float64 array, the same number bit for bit
    (numpy's pairwise summation, `_pairwise`)."""
    return _pairwise(values, values.shape[0])


@numba.njit(cache=True)
def clipped_sums(
    free_cpu: np.ndarray, free_mem: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """`np.maximum(free, 0.0)` of both resources (new arrays) and `np.add.reduce` of each:
    what `CellState.offer_all` offers, bit for bit."""
    n = free_cpu.shape[0]
    cpu = np.empty(n)
    mem = np.empty(n)
    for i in range(n):
        cpu[i] = _clip(free_cpu[i])
        mem[i] = _clip(free_mem[i])
    return cpu, mem, _pairwise(cpu, n), _pairwise(mem, n)


GRID_LIMIT = 1048576.0
"""`cell._on_grid`'s bound, 2^20 (a literal here for the kernels)."""

ROUNDER = 4398046511104.0
"""2^42: x + 2^42 − 2^42 rounds x ∈ [0, 2^20) to a multiple of 2^-10 (`exact_sums`)."""


@numba.njit(cache=True)
def exact_sums(free_cpu: np.ndarray, free_mem: np.ndarray) -> tuple[bool, float, float]:
    """Whether every value of both arrays is a multiple of 2^-10 in [+0, 2^20) over fewer
    than 2^21 nodes, and `np.add.reduce` of each (`_pairwise`, read from the arrays as they
    are). When true, `np.maximum(free, 0.0)` is each array itself, bit for bit (no value
    below zero, no −0, no NaN), and every sum of those values, or of them less claims on
    the grid, is exact (`CellState.offer_all`'s shared offers). When false, the sums are
    not computed (0.0)."""
    n = free_cpu.shape[0]
    if n >= 2097152:
        return False, 0.0, 0.0
    cpu_bits = free_cpu.view(np.int64)
    mem_bits = free_mem.view(np.int64)
    off = 0  # values found off the grid (counted rather than tested: a loop without exits)
    for i in range(n):
        c = free_cpu[i]
        m = free_mem[i]
        # the sign bit clear (no negative, no −0), below 2^20 (no NaN, no infinity) and a
        # multiple of 2^-10: adding 2^42, whose neighbours are 2^-10 apart up to 2^43,
        # rounds to the nearest multiple, and taking it off again is exact
        off += (
            ((cpu_bits[i] | mem_bits[i]) < 0)
            + (max(c, m) >= GRID_LIMIT)
            + ((c + ROUNDER) - ROUNDER != c)
            + ((m + ROUNDER) - ROUNDER != m)
        )
    if off:
        return False, 0.0, 0.0
    return True, _pairwise(free_cpu, n), _pairwise(free_mem, n)


@numba.njit(cache=True)
def _off_grid(x: float) -> bool:
    """Whether `x` is not a multiple of 2^-10 in [+0, 2^20) (`exact_sums`' test, −0 and
    NaN included)."""
    if not (0.0 <= x < GRID_LIMIT) or (x == 0.0 and math.copysign(1.0, x) < 0.0):
        return True
    return (x + ROUNDER) - ROUNDER != x


@numba.njit(cache=True)
def refresh_one_exact(
    nodes: np.ndarray,
    cap_cpu: np.ndarray,
    cap_mem: np.ndarray,
    used_cpu: np.ndarray,
    used_mem: np.ndarray,
    up: np.ndarray,
    check_up: bool,
    free_cpu: np.ndarray,
    free_mem: np.ndarray,
    need_cpu: np.ndarray,
    need_mem: np.ndarray,
    density: np.ndarray,
    instances: np.ndarray,
    density_limited: bool,
    slots: np.ndarray,
    same_need: bool,
) -> tuple[bool, float, float]:
    """`refresh_one` with nothing locked, and what it changes in the free resources:
    whether every value written is on the grid (`exact_sums`' test) and, if so, the sums
    of new − old (exact when the old values are on the grid too; a node given twice
    changes nothing the second time). `same_need`: every node needs what the first does
    (no overheads), read from there rather than from each node's entry, which costs a
    cache miss per node."""
    off = False
    dcpu = 0.0
    dmem = 0.0
    for k in range(nodes.shape[0]):
        n = nodes[k]
        cpu = cap_cpu[n] - used_cpu[n]
        mem = cap_mem[n] - used_mem[n]
        if check_up and not up[n]:
            cpu = 0.0
            mem = 0.0
        off = off or _off_grid(cpu) or _off_grid(mem)
        dcpu += cpu - free_cpu[n]
        dmem += mem - free_mem[n]
        free_cpu[n] = cpu
        free_mem[n] = mem
        # `slots_at` at this node, now (it reads only this node's entries)
        by_cpu = cpu / (need_cpu[0] if same_need else need_cpu[n])
        by_mem = mem / (need_mem[0] if same_need else need_mem[n])
        ratio = by_cpu if by_cpu <= by_mem else by_mem
        whole = int(ratio + EPS)
        if density_limited:
            room = density[n] - instances[n]
            if room < whole:
                whole = room
        slots[n] = whole if whole > 0 else 0
    if off:
        return False, 0.0, 0.0
    return True, dcpu, dmem


@numba.njit(cache=True)
def place_take_bare(
    slots: np.ndarray,
    count: int,
    draws: np.ndarray,
    scratch: np.ndarray,
    cpu: float,
    mem: float,
    offer_cpu: np.ndarray,
    offer_mem: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """`place_take` without overheads, for sizes above 0: the deltas are counts × size
    (size + 0.0, or + −0.0, is size), so the overheads' arrays are not read (a cache miss
    per node each)."""
    nodes, counts = random_first_fit_claims(slots, count, draws, scratch)
    size = nodes.shape[0]
    dcpu = np.empty(size)
    dmem = np.empty(size)
    placed = 0
    for k in range(size):
        n = nodes[k]
        dcpu[k] = counts[k] * cpu
        dmem[k] = counts[k] * mem
        offer_cpu[n] = offer_cpu[n] - dcpu[k]
        offer_mem[n] = offer_mem[n] - dmem[k]
        placed += counts[k]
    return nodes, counts, dcpu, dmem, placed


@numba.njit(cache=True)
def place_take(
    slots: np.ndarray,
    count: int,
    draws: np.ndarray,
    scratch: np.ndarray,
    cpu: float,
    mem: float,
    overhead_cpu: np.ndarray,
    overhead_mem: np.ndarray,
    offer_cpu: np.ndarray,
    offer_mem: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """A two-level framework's decision on its offer in one call: `random_first_fit_claims`
    on the offer's `slots`, `deltas` of the claims, and what they cost taken off the offer's
    arrays at their (distinct) nodes, `offer_cpu[nodes] -= dcpu` as numpy does it. The
    nodes, tasks, CPU and memory of the claims and the tasks in all (an exact integer sum)."""
    nodes, counts = random_first_fit_claims(slots, count, draws, scratch)
    size = nodes.shape[0]
    dcpu = np.empty(size)
    dmem = np.empty(size)
    deltas(nodes, counts, cpu, mem, overhead_cpu, overhead_mem, dcpu, dmem)
    placed = 0
    for k in range(size):
        n = nodes[k]
        offer_cpu[n] = offer_cpu[n] - dcpu[k]
        offer_mem[n] = offer_mem[n] - dmem[k]
        placed += counts[k]
    return nodes, counts, dcpu, dmem, placed


@numba.njit(cache=True)
def place_commit(
    slots: np.ndarray,
    count: int,
    draws: np.ndarray,
    scratch: np.ndarray,
    cpu: float,
    mem: float,
    overhead_cpu: np.ndarray,
    overhead_mem: np.ndarray,
    cap_cpu: np.ndarray,
    cap_mem: np.ndarray,
    used_cpu: np.ndarray,
    used_mem: np.ndarray,
    locked_cpu: np.ndarray,
    locked_mem: np.ndarray,
    subtract_locked: bool,
    density: np.ndarray,
    instances: np.ndarray,
    density_limited: bool,
    up: np.ndarray,
    check_up: bool,
    seq: np.ndarray,
    count_seq: bool,
    incremental: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """A shared-state decision's end with its commit, whatever the conflicts: `place_fine`
    and then, if some claims conflict and commits are `incremental`, the others kept (in
    their order) and started with `add_claims`, which is what the model did with
    `place_fine`'s answer in numpy (`keep = ~bad`, the four arrays indexed by it, then
    `add_claims` of what is left). The nodes, tasks, CPU and memory of the claims started
    (those placed if none was), the tasks started in all (an exact integer sum) and the
    outcome: −1 nothing placed, 0 started without conflict, 1 some claim conflicted."""
    nodes, counts, dcpu, dmem, bad, started = place_fine(
        slots,
        count,
        draws,
        scratch,
        cpu,
        mem,
        overhead_cpu,
        overhead_mem,
        cap_cpu,
        cap_mem,
        used_cpu,
        used_mem,
        locked_cpu,
        locked_mem,
        subtract_locked,
        density,
        instances,
        density_limited,
        up,
        check_up,
        seq,
        count_seq,
    )
    size = nodes.shape[0]
    if size == 0:
        return nodes, counts, dcpu, dmem, 0, -1
    placed = 0
    if started:
        for k in range(size):
            placed += counts[k]
        return nodes, counts, dcpu, dmem, placed, 0
    if not incremental:
        none = np.empty(0, np.int64)
        return none, none, np.empty(0), np.empty(0), 0, 1
    kept = 0
    for k in range(size):
        if not bad[k]:
            kept += 1
    keep_nodes = np.empty(kept, np.int64)
    keep_counts = np.empty(kept, np.int64)
    keep_cpu = np.empty(kept)
    keep_mem = np.empty(kept)
    j = 0
    for k in range(size):
        if not bad[k]:
            keep_nodes[j] = nodes[k]
            keep_counts[j] = counts[k]
            keep_cpu[j] = dcpu[k]
            keep_mem[j] = dmem[k]
            placed += counts[k]
            j += 1
    add_claims(
        keep_nodes,
        keep_counts,
        keep_cpu,
        keep_mem,
        True,
        used_cpu,
        used_mem,
        instances,
        density_limited,
        seq,
        count_seq,
    )
    return keep_nodes, keep_counts, keep_cpu, keep_mem, placed, 1


# -- a plain cell ----------------------------------------------------------------------------
# Shared-state's usual cell: no per-instance overheads, no density limit, nothing locked and
# no sequence numbers kept. The kernels below are the ones above with those terms left out
# (x + 0.0 is x, x − 0.0 is x, an unlimited room never binds): the same operations on what
# is left, in the same order, so the same numbers, with fewer arrays to pass (each costs the
# dispatcher a type check per call) and to read. Like their general versions, they write
# into the cell's arrays (`used_cpu`, `used_mem`; `refresh_plain` the free resources and the
# slots) and `place_commit_plain` borrows the scratch array of `random_first_fit_claims`.


@numba.njit(cache=True)
def place_commit_plain(
    slots: np.ndarray,
    count: int,
    draws: np.ndarray,
    scratch: np.ndarray,
    cpu: float,
    mem: float,
    cap_cpu: np.ndarray,
    cap_mem: np.ndarray,
    used_cpu: np.ndarray,
    used_mem: np.ndarray,
    up: np.ndarray,
    check_up: bool,
    incremental: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """`place_commit` on a plain cell: the deltas are counts × size, a claim conflicts
    where it no longer fits its node's free resources (+ EPS) or the node is down (if
    `check_up`), and a start adds the deltas to the used resources."""
    nodes, counts = random_first_fit_claims(slots, count, draws, scratch)
    size = nodes.shape[0]
    dcpu = np.empty(size)
    dmem = np.empty(size)
    if size == 0:
        return nodes, counts, dcpu, dmem, 0, -1
    bad = np.empty(size, np.bool_)
    anything = False
    for k in range(size):
        n = nodes[k]
        dcpu[k] = counts[k] * cpu
        dmem[k] = counts[k] * mem
        free_cpu = cap_cpu[n] - used_cpu[n]
        free_mem = cap_mem[n] - used_mem[n]
        bad[k] = free_cpu + EPS < dcpu[k] or free_mem + EPS < dmem[k]
        if check_up and not up[n]:
            bad[k] = True
        anything = anything or bad[k]
    placed = 0
    if not anything:
        for k in range(size):
            n = nodes[k]
            used_cpu[n] = used_cpu[n] + dcpu[k]
            used_mem[n] = used_mem[n] + dmem[k]
            placed += counts[k]
        return nodes, counts, dcpu, dmem, placed, 0
    none = np.empty(0, np.int64)
    if not incremental:
        return none, none, np.empty(0), np.empty(0), 0, 1
    kept = 0
    for k in range(size):
        if not bad[k]:
            kept += 1
    keep_nodes = np.empty(kept, np.int64)
    keep_counts = np.empty(kept, np.int64)
    keep_cpu = np.empty(kept)
    keep_mem = np.empty(kept)
    j = 0
    for k in range(size):
        if not bad[k]:
            n = nodes[k]
            keep_nodes[j] = n
            keep_counts[j] = counts[k]
            keep_cpu[j] = dcpu[k]
            keep_mem[j] = dmem[k]
            used_cpu[n] = used_cpu[n] + dcpu[k]
            used_mem[n] = used_mem[n] + dmem[k]
            placed += counts[k]
            j += 1
    return keep_nodes, keep_counts, keep_cpu, keep_mem, placed, 1


@numba.njit(cache=True)
def refresh_plain(
    nodes: np.ndarray,
    cap_cpu: np.ndarray,
    cap_mem: np.ndarray,
    used_cpu: np.ndarray,
    used_mem: np.ndarray,
    up: np.ndarray,
    check_up: bool,
    free_cpu: np.ndarray,
    free_mem: np.ndarray,
    cpu: float,
    mem: float,
    slots: np.ndarray,
) -> None:
    """`refresh_one` on a plain cell, the shape's need per node being its size."""
    for k in range(nodes.shape[0]):
        n = nodes[k]
        f_cpu = cap_cpu[n] - used_cpu[n]
        f_mem = cap_mem[n] - used_mem[n]
        if check_up and not up[n]:
            f_cpu = 0.0
            f_mem = 0.0
        free_cpu[n] = f_cpu
        free_mem[n] = f_mem
        by_cpu = f_cpu / cpu
        by_mem = f_mem / mem
        ratio = by_cpu if by_cpu <= by_mem else by_mem
        whole = int(ratio + EPS)
        slots[n] = whole if whole > 0 else 0


@numba.njit(cache=True)
def release_plain(
    nodes: np.ndarray,
    dcpu: np.ndarray,
    dmem: np.ndarray,
    used_cpu: np.ndarray,
    used_mem: np.ndarray,
) -> None:
    """`add_claims(..., start=False, ...)` without instances or sequence numbers kept."""
    for k in range(nodes.shape[0]):
        n = nodes[k]
        used_cpu[n] = used_cpu[n] - dcpu[k]
        used_mem[n] = used_mem[n] - dmem[k]
