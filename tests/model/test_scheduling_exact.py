"""The scheduler model's shortcuts give the numbers of the computations they replace, bit for
bit: the minimum taken before flooring in `fit_slots`, claim sums without a pass, random
first-fit's draws scaled without a wrap, placement draws taken in blocks, the two-level
offer of everything kept as a blanket rather than written into `locked` node by node (and
sharing the free arrays, their sums kept exactly from one offer to the next),
slots of an offer updated when next read, integers truncated before the cap in `fit_slots`,
random first-fit's left-over tasks moved on one by one (`_carry`) rather than in waves, and
the compiled kernels (`kernels`) against the numpy computations they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.model.scheduling import kernels, placement
from simulator.model.scheduling.cell import CellState
from simulator.model.scheduling.model import _Draws
from simulator.model.scheduling.placement import EPS, claims, fit_slots, random_first_fit_claims
from tests.model.test_scheduling import _one_by_one

sizes = st.floats(0.01, 8.0, allow_nan=False)
frees = st.lists(st.floats(-1.0, 64.0, allow_nan=False), min_size=1, max_size=40)


def _two_floors(free_cpu, free_mem, cpu, mem):
    """`fit_slots` as it was: floor each resource's ratio, then the minimum."""
    by_cpu = np.floor(free_cpu / cpu + EPS)
    by_mem = np.floor(free_mem / mem + EPS)
    return np.maximum(np.minimum(by_cpu, by_mem), 0).astype(np.int64)


@settings(max_examples=300, deadline=None)
@given(frees, frees, sizes, sizes)
def test_fit_slots_takes_the_minimum_first_with_the_same_numbers(cpu_free, mem_free, cpu, mem):
    n = min(len(cpu_free), len(mem_free))
    free_cpu, free_mem = np.array(cpu_free[:n]), np.array(mem_free[:n])
    expected = _two_floors(free_cpu, free_mem, cpu, mem)
    assert fit_slots(free_cpu, free_mem, cpu, mem).tolist() == expected.tolist()


def _floored(free_cpu, free_mem, cpu, mem, room, one):
    """`fit_slots` as it was before truncating: floor, cap in floats, then convert."""
    slots = np.floor(np.minimum(free_cpu / cpu, free_mem / mem) + EPS)
    if room is not None:
        slots = np.minimum(slots, room)
    if one:
        slots = np.minimum(slots, 1)
    return np.maximum(slots, 0).astype(np.int64)


@settings(max_examples=300, deadline=None)
@given(
    frees,
    frees,
    sizes,
    sizes,
    st.none() | st.lists(st.integers(0, 2**30), min_size=40, max_size=40),
    st.booleans(),
)
def test_fit_slots_truncates_to_the_floors_numbers(cpu_free, mem_free, cpu, mem, room, one):
    # negative free resources (an overcommitted node) floor below zero but truncate to zero
    # or less: the maximum with 0 makes both 0
    n = min(len(cpu_free), len(mem_free))
    free_cpu, free_mem = np.array(cpu_free[:n]), np.array(mem_free[:n])
    cap = None if room is None else np.array(room[:n], dtype=np.int64)
    got = fit_slots(free_cpu, free_mem, cpu, mem, cap, one)
    assert got.tolist() == _floored(free_cpu, free_mem, cpu, mem, cap, one).tolist()
    assert got.dtype == np.int64


def test_fit_slots_near_a_whole_number_of_tasks():
    """Ratios just below a whole number, where EPS decides: both ways agree."""
    free = np.array([0.1 + 0.2, 3.0 - 1e-12, 3.0 - 1e-8, 2.9999999995, 0.0, -1e-10])
    for mem in (0.1, 1.0, 1e-3):
        got = fit_slots(free, free * 10, 0.1, mem).tolist()
        assert got == _two_floors(free, free * 10, 0.1, mem).tolist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 50), min_size=1, max_size=60),
    st.integers(1, 8 * 1024).map(lambda k: k / 1024),
    st.integers(1, 64 * 1024).map(lambda k: k / 1024),
)
def test_claim_sums_on_the_grid_are_the_pairwise_sums(counts, cpu, mem):
    cell = _cell(len(counts))
    nodes = np.arange(len(counts))
    counts_array = np.array(counts, dtype=np.int64)
    dcpu, dmem = cell.deltas(nodes, counts_array, cpu, mem)
    sums = cell.claim_sums(sum(counts), cpu, mem)
    assert sums == (float(np.add.reduce(dcpu)), float(np.add.reduce(dmem)))


def test_claim_sums_leave_sizes_off_the_grid_and_overheads_to_a_pass():
    assert _cell(3).claim_sums(5, 0.1, 2.0) is None  # 0.1 is no multiple of 2^-10
    assert _cell(3).claim_sums(5, 1.0, 2.0) == (5.0, 10.0)
    with_overhead = _cell(3, overhead=0.25)
    assert with_overhead.claim_sums(5, 1.0, 2.0) is None


@pytest.mark.parametrize("nodes", [1, 2, 3, 7, 1000, 1023, 1024, 1025, 10000, 2**20 + 1, 2**40 - 1])
def test_the_largest_draw_times_the_nodes_stays_below_the_nodes(nodes):
    """Random first-fit scales draws in [0, 1) to nodes without wrapping: the largest draw
    a Generator gives, 1 − 2^-53, times N never rounds up to N."""
    largest = np.nextafter(1.0, 0.0)
    assert largest == 1.0 - 2.0**-53
    assert (np.array([largest]) * nodes).astype(np.int64)[0] < nodes
    assert math.floor(largest * nodes) < nodes


def test_placement_draws_in_blocks_are_the_draws_one_request_at_a_time():
    one = np.random.default_rng(7)
    block = _Draws(np.random.default_rng(7))
    wanted = [1, 100, 4095, 3, 5000, 1, 4096, 10, 9000]
    for count in wanted:
        assert block.take(count).tolist() == one.random(count).tolist()


def _cell(n: int, overhead: float = 0.0) -> CellState:
    ones = np.ones(n)
    return CellState(
        4 * ones,
        16 * ones,
        overhead * ones,
        0 * ones,
        np.zeros(n, int),
        np.arange(n) // 4,
        0.0,
    )


def _drive(
    cell: CellState, seed: int, blanket: bool, shared: list[bool] | None = None
) -> list[object]:
    """Random claims, ends, failures and two-level offers with decisions on them; an offer
    goes through `offer_all`/`return_offer` (blanket) or is written into `locked` node by
    node as before (`lock`). What every step leaves is recorded. `shared`: the blanket
    offers may share the cell's free arrays (`CellState.share_offers`), as the allocator
    lets them, with their takes recorded and copies made before a take off the grid; whether
    each offer did is appended there."""
    cell.share_offers = shared is not None
    rng = np.random.default_rng(seed)
    n = cell.n
    shape = (1.0, 2.0) if seed % 2 else (0.3, 0.7)
    running: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    seen: list[object] = []
    for step in range(120):
        now = float(step)
        cell.live_slots(*shape)
        action = int(rng.integers(6))
        if action <= 1:
            nodes = np.unique(rng.integers(0, n, 4))
            counts = rng.integers(1, 3, len(nodes))
            dcpu, dmem = cell.deltas(nodes, counts, *shape)
            if not cell.conflicts(nodes, dcpu, dmem, counts, None, "fine").any():
                cell.apply(now, nodes, counts, dcpu, dmem)
                running.append((nodes, counts, dcpu, dmem))
        elif action == 2 and running:
            cell.release(now, *running.pop(int(rng.integers(len(running)))))
        elif action == 3:
            cell.set_up(now, np.unique(rng.integers(0, n, 2)), bool(rng.integers(2)))
        else:
            if blanket:
                offered = cell.offer_all(now, 1.0)
                if offered is None:
                    seen.append("none")
                    continue
                cpu, mem, cpu_sum, mem_sum = offered
            else:
                free_cpu, free_mem = cell.free()
                cpu, mem = np.maximum(free_cpu, 0.0), np.maximum(free_mem, 0.0)
                cpu_sum, mem_sum = float(np.add.reduce(cpu)), float(np.add.reduce(mem))
                if cpu_sum < 1.0 or mem_sum <= EPS:
                    seen.append("none")
                    continue
                cell.lock(now, cpu, mem, cpu_sum=cpu_sum)
            seen.append((cpu_sum, mem_sum))
            taken, sharing = cell.offer_takes(cpu) if blanket else ([], False)
            if shared is not None:
                shared.append(sharing)
            slots = cell.slots(cpu, mem, *shape, False)
            for _ in range(int(rng.integers(0, 3))):  # decisions take from the offer
                nodes, counts = claims(np.flatnonzero(slots > 0)[:3])
                if not len(nodes):
                    break
                if sharing and cell.claim_sums(int(counts.sum()), *shape) is None:
                    cpu, mem = cell.unshare_offer()  # off the grid: on copies from here on
                    sharing = False
                dcpu, dmem = cell.deltas(nodes, counts, *shape)
                cpu[nodes] -= dcpu
                mem[nodes] -= dmem
                slots[nodes] = cell.slots(cpu[nodes], mem[nodes], *shape, False)
                taken.append((nodes, dcpu, dmem))
            if rng.integers(4) == 0:  # work ends meanwhile, or a round looks for more
                if running:
                    cell.release(now, *running.pop())
                seen.append(cell.offer_all(now, 1e9))
            for nodes, dcpu, dmem in taken:  # the answer: accepted tasks start
                cell.unlock(now + 0.5, nodes, dcpu, dmem)
                counts = np.ones(len(nodes), dtype=np.int64)
                cell.apply(now + 0.5, nodes, counts, dcpu, dmem)
                running.append((nodes, counts, dcpu, dmem))
                if rng.integers(3) == 0:  # a round between two unlocks reads the cell
                    seen.append(cell.offer_all(now + 0.5, 1e9))
            if blanket:
                cell.return_offer(now + 0.5, cpu, mem, taken)
            else:
                cell.lock(now + 0.5, cpu, mem, sign=-1.0)
        seen.append(cell.locked_cpu.tolist())
        seen.append(cell.locked_mem.tolist())
        seen.append(cell.live_slots(*shape).tolist())
        seen.append([c.tolist() for c in cell.free()])
        seen.append(cell.areas.tolist())
    return seen


@pytest.mark.parametrize("seed", range(8))
def test_an_offer_of_everything_as_a_blanket_leaves_what_locking_node_by_node_does(seed):
    assert _drive(_cell(40), seed, blanket=True) == _drive(_cell(40), seed, blanket=False)


@pytest.mark.parametrize("seed", range(8))
def test_an_offer_sharing_the_free_arrays_leaves_what_locking_node_by_node_does(seed):
    """Shared offers (the free resources' arrays themselves, their sums kept exactly from
    one offer to the next, the lock-time values rebuilt from the takes when read while
    out): claims of (1, 2) stay on the grid, claims of (0.3, 0.7) leave it, so that an
    offer made on the grid is copied before its first take, and later ones are not shared."""
    shared: list[bool] = []
    got = _drive(_cell(40), seed, blanket=True, shared=shared)
    assert got == _drive(_cell(40), seed, blanket=False)
    assert any(shared)  # on the grid at least at first
    if seed % 2 == 0:
        assert not all(shared)  # off the grid after the first claims


def test_a_blanket_offer_is_written_into_locked_when_read_while_out():
    cell = _cell(8)
    nodes, counts = np.array([1, 2]), np.array([1, 3])
    cell.apply(0.0, nodes, counts, *cell.deltas(nodes, counts, 1.0, 2.0))
    offered = cell.offer_all(1.0, 0.5)
    assert offered is not None
    cpu, mem, cpu_sum, _ = offered
    assert cpu_sum == 28.0
    assert cell.locked_cpu.tolist() == cpu.tolist()  # read while out: written in
    assert cell.free()[0].tolist() == [0.0] * 8
    cell.return_offer(2.0, cpu, mem, [])
    assert not cell.locked_cpu.any()
    assert cell.free()[0].tolist() == [4.0, 3.0, 1.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert cell.finish(2.0)[2] == 28.0


def test_a_return_that_does_not_match_the_unlocks_is_written_node_by_node():
    """Unlocks the offer's arrays do not show (here: nothing taken from them): `locked`
    keeps what the arithmetic leaves, as when locking node by node."""
    cells = [_cell(6), _cell(6)]
    nodes, dcpu, dmem = np.array([1, 4]), np.array([1.0, 2.0]), np.array([0.5, 0.25])
    for blanket, cell in zip((True, False), cells, strict=True):
        if blanket:
            offered = cell.offer_all(0.0, 1.0)
            assert offered is not None
            cpu, mem = offered[0], offered[1]
        else:
            cpu, mem = (np.maximum(x, 0.0) for x in cell.free())
            cell.lock(0.0, cpu, mem)
        cell.unlock(1.0, nodes, dcpu, dmem)
        if blanket:
            cell.return_offer(2.0, cpu, mem, [])
        else:
            cell.lock(2.0, cpu, mem, sign=-1.0)
    assert cells[0].locked_cpu.tolist() == [0.0, -1.0, 0.0, 0.0, -2.0, 0.0]
    for got, expected in zip(cells[0].free(), cells[1].free(), strict=True):
        assert got.tolist() == expected.tolist()
    assert cells[0].locked_mem.tolist() == cells[1].locked_mem.tolist()
    assert cells[0].finish(3.0).tolist() == cells[1].finish(3.0).tolist()


MOST_NODES = 80
"""The largest cell the next test draws."""

ALWAYS = MOST_NODES**2
"""A budget of steps `_carry` never runs out of on such a cell when it has room for every
task: each node's left-over tasks find their room within one turn round the cell, and at
most every node has left-over tasks. Without room for every task it spends any budget, and
leaves them to the waves (so a larger one, such as a million, only takes longer: at these
sizes most draws have more tasks than room, each then spending all of it)."""


@pytest.mark.parametrize("carry", [0, 1, 5, 64, ALWAYS])
@settings(max_examples=300, deadline=None)
@given(
    slots=st.lists(st.integers(0, 3), min_size=1, max_size=MOST_NODES).map(np.array),
    count=st.integers(0, 200),
    seed=st.integers(0, 2**32 - 1),
)
def test_left_over_tasks_moved_on_one_by_one_count_as_the_scan(carry, slots, count, seed):
    # a budget of 0 steps always leaves it to the waves; ALWAYS, whenever every task has
    # room, scans one by one (checked: `_carry` gives up only on a cell without that room)
    draws = np.random.default_rng(seed).random(max(count, 1))
    carried: list[bool] = []
    scan = placement._carry

    def spy(*args):
        done = scan(*args)
        carried.append(done is not None)
        return done

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(placement, "CARRY", carry)
        patch.setattr(placement, "_carry", spy)
        unique, counts = random_first_fit_claims(slots, count, draws)
    if carry == ALWAYS and count <= slots.sum():
        assert all(carried), "with room for every task, `_carry` gave up within ALWAYS steps"
    placed = np.array(_one_by_one(slots, count, draws), dtype=np.int64)
    expected = np.unique(placed, return_counts=True)
    assert (unique.tolist(), counts.tolist()) == (expected[0].tolist(), expected[1].tolist())
    assert unique.dtype == counts.dtype == np.int64


@pytest.mark.parametrize("carry", [0, 64, 10**6])
def test_left_over_tasks_on_crowded_and_sparse_cells(carry):
    rng = np.random.default_rng(11)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(placement, "CARRY", carry)
        for room in (0.002, 0.01, 0.3, 0.9):  # long runs of full nodes to a nearly empty cell
            for count in (3, 40, 400):
                slots = np.where(rng.random(3000) < room, rng.integers(1, 4, 3000), 0)
                draws = rng.random(count)
                unique, counts = random_first_fit_claims(slots, count, draws)
                placed = np.array(_one_by_one(slots, count, draws), dtype=np.int64)
                expected = np.unique(placed, return_counts=True)
                got = (unique.tolist(), counts.tolist())
                assert got == (expected[0].tolist(), expected[1].tolist())


def test_left_over_tasks_wrap_around_the_last_node():
    # two tasks want the last node, which holds one: the other goes on to node 0
    slots = np.array([2, 0, 0, 1])
    draws = np.array([0.9, 0.95])
    unique, counts = random_first_fit_claims(slots, 2, draws)
    assert (unique.tolist(), counts.tolist()) == ([0, 3], [1, 1])


# -- the compiled kernels (`kernels`) against the numpy computations they replace ------------


def _kernel_claims(slots: np.ndarray, count: int, draws: np.ndarray) -> tuple[list, list]:
    scratch = np.zeros(len(slots), dtype=np.int64)
    unique, counts = kernels.random_first_fit_claims(slots, count, draws, scratch)
    assert not scratch.any()  # the scratch array is handed back all zeros
    assert unique.dtype == counts.dtype == np.int64
    return unique.tolist(), counts.tolist()


@settings(max_examples=500, deadline=None)
@given(
    slots=st.lists(st.integers(0, 3), min_size=1, max_size=80).map(np.array),
    count=st.integers(0, 200),
    seed=st.integers(0, 2**32 - 1),
)
def test_compiled_random_first_fit_counts_as_the_scan_and_the_numpy_version(slots, count, seed):
    draws = np.random.default_rng(seed).random(max(count, 1))
    placed = np.array(_one_by_one(slots, count, draws), dtype=np.int64)
    expected = np.unique(placed, return_counts=True)
    got = _kernel_claims(slots, count, draws)
    assert got == (expected[0].tolist(), expected[1].tolist())
    unique, counts = random_first_fit_claims(slots, count, draws)
    assert got == (unique.tolist(), counts.tolist())


def test_compiled_random_first_fit_on_crowded_sparse_and_full_cells():
    rng = np.random.default_rng(12)
    for room in (0.0, 0.0005, 0.002, 0.3, 0.9, 1.0):  # no room at all to a nearly empty cell
        for count in (1, 40, 400, 5000):
            slots = np.where(rng.random(3000) < room, rng.integers(1, 4, 3000), 0)
            draws = rng.random(count)
            unique, counts = random_first_fit_claims(slots, count, draws)
            assert _kernel_claims(slots, count, draws) == (unique.tolist(), counts.tolist())
    # the largest draw lands on the last node; a task wanting a full last node wraps to 0
    assert _kernel_claims(np.array([1, 0, 0, 1]), 2, np.array([1 - 2**-53, 0.99])) == (
        [0, 3],
        [1, 1],
    )


_cells = st.integers(1, 30).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0.5, 64.0), min_size=n, max_size=n),  # capacity
        st.lists(st.floats(-2.0, 64.0), min_size=n, max_size=n),  # used (overcommitted too)
        st.lists(st.floats(-1.0, 8.0), min_size=n, max_size=n),  # locked
        st.lists(st.booleans(), min_size=n, max_size=n),  # up
        st.lists(st.integers(0, 40), min_size=n, max_size=n),  # density limit (0: none)
        st.lists(st.integers(0, 60), min_size=n, max_size=n),  # instances
        st.lists(st.floats(0.0, 0.5), min_size=n, max_size=n),  # overhead per instance
        st.lists(st.integers(0, n - 1), min_size=0, max_size=2 * n),  # nodes, repeats too
    )
)


@settings(max_examples=300, deadline=None)
@given(_cells, sizes, sizes, st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_compiled_free_resources_and_slots_at_nodes_are_numpys(
    cell, cpu, mem, subtract_locked, check_up, density_limited, overheads
):
    cap, used, locked, up, density, instances, overhead, picked = cell
    cap_a, used_a, locked_a = np.array(cap), np.array(used), np.array(locked)
    up_a = np.array(up, dtype=bool)
    density_a = np.where(np.array(density) > 0, density, 1 << 30).astype(np.int64)
    instances_a = np.array(instances, dtype=np.int64)
    overhead_a = np.array(overhead) if overheads else np.zeros(len(cap))
    nodes = np.array(picked, dtype=np.int64)
    # the numpy computations `CellState._free_at` and `_refresh` made before
    free_cpu = cap_a[nodes] - used_a[nodes]
    free_mem = 4 * cap_a[nodes] - used_a[nodes]
    if subtract_locked:
        free_cpu -= locked_a[nodes]
        free_mem -= locked_a[nodes]
    if check_up:
        free_cpu = np.where(up_a[nodes], free_cpu, 0.0)
        free_mem = np.where(up_a[nodes], free_mem, 0.0)
    room = density_a[nodes] - instances_a[nodes] if density_limited else None
    if overheads:
        need_cpu, need_mem = cpu + overhead_a[nodes], mem + overhead_a[nodes]
        expected = fit_slots(free_cpu, free_mem, need_cpu, need_mem, room)
    else:
        expected = fit_slots(free_cpu, free_mem, cpu, mem, room)
    out_cpu, out_mem = np.full(len(cap), np.nan), np.full(len(cap), np.nan)
    kernels.free_at(
        nodes, cap_a, 4 * cap_a, used_a, used_a, locked_a, locked_a, subtract_locked,
        up_a, check_up, out_cpu, out_mem,
    )  # fmt: skip
    assert out_cpu[nodes].tolist() == free_cpu.tolist()
    assert out_mem[nodes].tolist() == free_mem.tolist()
    slots = np.full(len(cap), -7, dtype=np.int64)
    kernels.slots_at(
        nodes, out_cpu, out_mem, cpu + overhead_a, mem + overhead_a, density_a, instances_a,
        density_limited, slots,
    )  # fmt: skip
    assert slots[nodes].tolist() == expected.tolist()
    untouched = np.setdiff1d(np.arange(len(cap)), nodes)
    assert (slots[untouched] == -7).all()  # only the nodes asked for are written


@settings(max_examples=300, deadline=None)
@given(_cells, sizes, sizes, st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_compiled_deltas_and_fine_conflicts_are_numpys(
    cell, cpu, mem, subtract_locked, check_up, density_limited, overheads
):
    cap, used, locked, up, density, instances, overhead, picked = cell
    cap_a, used_a, locked_a = np.array(cap), np.array(used), np.array(locked)
    up_a = np.array(up, dtype=bool)
    density_a = np.where(np.array(density) > 0, density, 1 << 30).astype(np.int64)
    instances_a = np.array(instances, dtype=np.int64)
    overhead_a = np.array(overhead) if overheads else np.zeros(len(cap))
    nodes = np.unique(np.array(picked, dtype=np.int64))
    counts = (nodes % 5 + 1).astype(np.int64)
    # the numpy computations of `CellState.deltas` and `conflicts(..., "fine")` before
    if overheads:
        dcpu, dmem = counts * (cpu + overhead_a[nodes]), counts * (mem + overhead_a[nodes])
    else:
        dcpu, dmem = counts * cpu, counts * mem
    free_cpu = cap_a[nodes] - used_a[nodes]
    free_mem = 4 * cap_a[nodes] - used_a[nodes]
    if subtract_locked:
        free_cpu = free_cpu - locked_a[nodes]
        free_mem = free_mem - locked_a[nodes]
    bad = (free_cpu + EPS < dcpu) | (free_mem + EPS < dmem)
    if density_limited:
        bad |= density_a[nodes] - instances_a[nodes] < counts
    if check_up:
        bad |= ~up_a[nodes]
    got_cpu, got_mem = np.empty(len(nodes)), np.empty(len(nodes))
    kernels.deltas(nodes, counts, cpu, mem, overhead_a, overhead_a, got_cpu, got_mem)
    assert (got_cpu.tolist(), got_mem.tolist()) == (dcpu.tolist(), dmem.tolist())
    got_bad = np.empty(len(nodes), dtype=bool)
    anything = kernels.fine_conflicts(
        nodes, dcpu, dmem, counts, cap_a, 4 * cap_a, used_a, used_a, locked_a, locked_a,
        subtract_locked, density_a, instances_a, density_limited, up_a, check_up, got_bad,
    )  # fmt: skip
    assert got_bad.tolist() == bad.tolist()
    assert anything == bool(bad.any())


@settings(max_examples=200, deadline=None)
@given(_cells, st.booleans(), st.booleans(), st.booleans())
def test_compiled_claims_start_and_end_as_numpys_updates(cell, start, instances_kept, seq_kept):
    cap, used, _, _, _, instances, overhead, picked = cell
    nodes = np.unique(np.array(picked, dtype=np.int64))
    counts = (nodes % 3 + 1).astype(np.int64)
    dcpu, dmem = counts * np.array(overhead)[nodes], counts * np.array(cap)[nodes] / 7
    arrays = [np.array(used), np.array(used) * 3, np.array(instances, dtype=np.int64)]
    arrays.append(np.arange(len(cap), dtype=np.int64))  # sequence numbers
    expected = [a.copy() for a in arrays]
    sign = 1 if start else -1
    if start:
        expected[0][nodes] += dcpu
        expected[1][nodes] += dmem
    else:
        expected[0][nodes] -= dcpu
        expected[1][nodes] -= dmem
    if instances_kept:
        expected[2][nodes] += sign * counts
    if seq_kept:
        expected[3][nodes] += 1
    kernels.add_claims(
        nodes, counts, dcpu, dmem, start, arrays[0], arrays[1], arrays[2], instances_kept,
        arrays[3], seq_kept,
    )  # fmt: skip
    assert [a.tolist() for a in arrays] == [a.tolist() for a in expected]


def test_compiled_slots_near_a_whole_number_of_tasks():
    """Ratios just below a whole number, where EPS decides (0.3 / 0.1 is 2.9999999999999996)."""
    free = np.array([0.1 + 0.2, 3.0 - 1e-12, 3.0 - 1e-8, 2.9999999995, 0.0, -1e-10])
    nodes = np.arange(len(free))
    for mem in (0.1, 1.0, 1e-3):
        slots = np.empty(len(free), dtype=np.int64)
        need_cpu, need_mem = np.full(len(free), 0.1), np.full(len(free), mem)
        no_limit = np.zeros(len(free), dtype=np.int64)
        kernels.slots_at(
            nodes, free, free * 10, need_cpu, need_mem, no_limit, no_limit, False, slots
        )
        assert slots.tolist() == fit_slots(free, free * 10, 0.1, mem).tolist()
    assert slots[0] == 3  # without EPS it would be 2


def _bits(values: np.ndarray | float) -> bytes:
    """The bytes of float64 values: equal bytes are the same numbers, −0 and NaN included."""
    return np.asarray(values, dtype=np.float64).tobytes()


@pytest.mark.parametrize("seed", range(4))
def test_compiled_pairwise_sums_are_numpys_to_the_last_bit(seed):
    """numpy's pairwise summation, with its splits at multiples of 8 and its leaves of at
    most 128: magnitudes over eight decades make the order of the additions show in the
    last bits, so any other order differs on most of these arrays."""
    rng = np.random.default_rng(seed)
    lengths = [0, 1, 7, 8, 9, 127, 128, 129, 135, 136, 255, 256, 257, 1000, 8192, 8193, 10_000]
    lengths += rng.integers(0, 40_000, 20).tolist()
    differs_in_order = 0
    for n in lengths:
        values = rng.standard_normal(n) * 10.0 ** rng.integers(-4, 5, n)
        expected = np.add.reduce(values)
        assert _bits(kernels.pairwise_sum(values)) == _bits(expected), n
        if n:
            in_order = float(np.cumsum(values)[-1])  # one by one, from the first
            differs_in_order += in_order != expected
    assert differs_in_order > len(lengths) // 2  # the test tells the orders apart


@pytest.mark.parametrize("seed", range(4))
def test_compiled_clipped_offers_are_numpys_maximum_and_sums(seed):
    """`clipped_sums`: np.maximum(free, 0.0), −0 made 0 and NaN kept as numpy does, and
    the pairwise sums of what is left, bit for bit."""
    rng = np.random.default_rng(seed)
    for n in [0, 1, 5, 8, 100, 128, 129, 1000, 10_000, *rng.integers(0, 30_000, 8).tolist()]:
        free_cpu = rng.standard_normal(n) * 10.0 ** rng.integers(-4, 4, n)
        free_mem = rng.standard_normal(n) * 10.0 ** rng.integers(-4, 4, n)
        if n:
            free_cpu[rng.integers(0, n, 1 + n // 50)] = -0.0
            free_mem[rng.integers(0, n, 1 + n // 50)] = 0.0
            free_mem[rng.integers(0, n, 1 + n // 500)] = -5e-324
        cpu, mem, cpu_sum, mem_sum = kernels.clipped_sums(free_cpu, free_mem)
        expected_cpu, expected_mem = np.maximum(free_cpu, 0.0), np.maximum(free_mem, 0.0)
        assert _bits(cpu) == _bits(expected_cpu)
        assert _bits(mem) == _bits(expected_mem)
        assert _bits(cpu_sum) == _bits(np.add.reduce(expected_cpu))
        assert _bits(mem_sum) == _bits(np.add.reduce(expected_mem))
    nan = kernels.clipped_sums(np.array([np.nan, -1.0]), np.array([1.0, 2.0]))
    assert math.isnan(nan[0][0]) and nan[0][1] == 0.0 and math.isnan(nan[2])


def test_compiled_random_first_fit_on_a_crowded_cell_skips_as_the_scan_steps():
    """Once the tasks have stepped over more nodes than the cell has, the kernel finds the
    rest through a skip list of full nodes: the same nodes as stepping one by one (the
    Omega simulator's order), as nodes fill up, wrap around the last node and all end full.
    With at most a few nodes with room, every case here goes through the skip list."""
    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 100, 500):
        for room in (0.0, 0.002, 0.02, 0.1):
            for count in (3, 50, 500, 3 * n):
                slots = np.where(rng.random(n) < room, rng.integers(1, 4, n), 0)
                if room and not slots.any():
                    slots[rng.integers(0, n)] = 2  # one node with room, at least
                draws = rng.random(count)
                placed = np.array(_one_by_one(slots, count, draws), dtype=np.int64)
                expected = np.unique(placed, return_counts=True)
                got = _kernel_claims(slots, count, draws)
                assert got == (expected[0].tolist(), expected[1].tolist())


@pytest.mark.parametrize("overheads", [False, True])
def test_compiled_decision_on_an_offer_is_place_deltas_and_take(overheads):
    """`place_take`: random first-fit, the claims' deltas and `offer[nodes] -= deltas` in
    one call give what the three steps give one after the other in numpy."""
    rng = np.random.default_rng(8)
    n = 300
    for count in (0, 1, 20, 200, 1000):
        slots = rng.integers(0, 3, n)
        draws = rng.random(max(count, 1))
        overhead = rng.random(n) * 0.25 if overheads else np.zeros(n)
        offer_cpu, offer_mem = rng.random(n) * 8, rng.random(n) * 32
        cpu, mem = 0.7, 2.3
        unique, counts = random_first_fit_claims(slots, count, draws)
        dcpu, dmem = counts * (cpu + overhead[unique]), counts * (mem + overhead[unique])
        expected_cpu, expected_mem = offer_cpu.copy(), offer_mem.copy()
        expected_cpu[unique] -= dcpu
        expected_mem[unique] -= dmem
        scratch = np.zeros(n, dtype=np.int64)
        got = kernels.place_take(
            slots, count, draws, scratch, cpu, mem, overhead, overhead, offer_cpu, offer_mem
        )
        assert [a.tolist() for a in got[:4]] == [
            unique.tolist(),
            counts.tolist(),
            dcpu.tolist(),
            dmem.tolist(),
        ]
        assert got[4] == int(counts.sum())
        assert _bits(offer_cpu) == _bits(expected_cpu) and _bits(offer_mem) == _bits(expected_mem)
        assert not scratch.any()


def _on_grid_values(rng: np.random.Generator, n: int) -> np.ndarray:
    """Multiples of 2^-10 in [0, 2^20): whole numbers, quarters and finer, and zeros."""
    return rng.integers(0, 1 << 12, n) / rng.choice([1.0, 4.0, 1024.0], n)


@pytest.mark.parametrize("seed", range(4))
def test_compiled_exact_sums_tell_the_grid_and_give_numpys_sums(seed):
    """`exact_sums`: true for values on the 2^-10 grid in [+0, 2^20), with numpy's pairwise
    sums (the exact sums then) and `np.maximum(free, 0.0)` equal to `free`; false for a
    single value below zero, −0, NaN, infinite, 2^20 or more, or off the grid."""
    rng = np.random.default_rng(seed)
    for n in [0, 1, 7, 8, 129, 1000, 10_000, *rng.integers(0, 20_000, 4).tolist()]:
        free_cpu, free_mem = _on_grid_values(rng, n), _on_grid_values(rng, n)
        exact, cpu_sum, mem_sum = kernels.exact_sums(free_cpu, free_mem)
        assert exact
        assert _bits(cpu_sum) == _bits(np.add.reduce(free_cpu))
        assert _bits(mem_sum) == _bits(np.add.reduce(free_mem))
        assert cpu_sum == math.fsum(free_cpu.tolist())  # exact
        clipped = kernels.clipped_sums(free_cpu, free_mem)
        assert _bits(clipped[0]) == _bits(free_cpu) and _bits(clipped[1]) == _bits(free_mem)
        if not n:
            continue
        at = int(rng.integers(0, n))
        for bad in (-1.0, -0.0, -5e-324, np.nan, np.inf, 1048576.0, 0.1, 1.0 + 2.0**-11):
            for which in (0, 1):
                arrays = [free_cpu.copy(), free_mem.copy()]
                arrays[which][at] = bad
                assert not kernels.exact_sums(*arrays)[0], (bad, which)
    assert kernels.exact_sums(np.array([1048575.0 + 1023 / 1024]), np.array([0.0]))[0]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_compiled_refresh_keeping_exact_sums_is_refresh_one_and_the_sums_changes(
    n, seed, check_up, density_limited
):
    """`refresh_one_exact`: what `refresh_one` writes (free resources and slots, nothing
    locked), node by node, and, with values on the grid, how much the sums of the free
    resources changed (repeated nodes once); off the grid, false."""
    rng = np.random.default_rng(seed)
    cap_cpu, cap_mem = rng.choice([4.0, 8.0], n), rng.choice([16.0, 32.0], n)
    grid = rng.integers(0, 2) == 1
    unit = 1.0 if grid else 0.3
    used_cpu = np.minimum(rng.integers(0, 9, n) * unit, cap_cpu)
    used_mem = np.minimum(rng.integers(0, 33, n) * unit, cap_mem)
    up = rng.random(n) < 0.8
    density = np.where(rng.random(n) < 0.5, rng.integers(1, 6, n), 1 << 30).astype(np.int64)
    instances = rng.integers(0, 4, n).astype(np.int64)
    nodes = rng.integers(0, n, int(rng.integers(0, 2 * n + 1))).astype(np.int64)
    old_cpu, old_mem = _on_grid_values(rng, n), _on_grid_values(rng, n)
    cpu, mem = (1.0, 2.0) if grid else (0.7, 1.3)
    need_cpu, need_mem = np.full(n, cpu), np.full(n, mem)
    expected = [old_cpu.copy(), old_mem.copy(), rng.integers(0, 5, n).astype(np.int64)]
    got = [a.copy() for a in expected]
    kernels.refresh_one(
        nodes, cap_cpu, cap_mem, used_cpu, used_mem, used_cpu, used_mem, False, up, check_up,
        expected[0], expected[1], need_cpu, need_mem, density, instances, density_limited,
        expected[2],
    )  # fmt: skip
    for same_need in (False, True):
        written = [a.copy() for a in got]
        exact, dcpu, dmem = kernels.refresh_one_exact(
            nodes, cap_cpu, cap_mem, used_cpu, used_mem, up, check_up, written[0],
            written[1], need_cpu, need_mem, density, instances, density_limited, written[2],
            same_need,
        )  # fmt: skip
        assert [_bits(a) for a in written[:2]] == [_bits(a) for a in expected[:2]]
        assert written[2].tolist() == expected[2].tolist()
        changed = np.unique(nodes)
        on_grid = (
            grid
            or not len(changed)
            or bool(
                np.all(expected[0][changed] * 1024 % 1 == 0)
                and np.all(expected[1][changed] * 1024 % 1 == 0)
            )
        )
        assert exact == on_grid
        if exact:
            assert dcpu == math.fsum((expected[0][changed] - old_cpu[changed]).tolist())
            assert dmem == math.fsum((expected[1][changed] - old_mem[changed]).tolist())
            assert np.add.reduce(old_cpu) + dcpu == np.add.reduce(expected[0])


def test_compiled_decision_on_an_offer_without_overheads_is_place_takes():
    """`place_take_bare`: `place_take` with overheads of zero (or −0), the same numbers."""
    rng = np.random.default_rng(9)
    n = 300
    for count in (0, 1, 20, 200, 1000):
        for zero in (0.0, -0.0):
            slots = rng.integers(0, 3, n)
            draws = rng.random(max(count, 1))
            offer = [rng.random(n) * 8, rng.random(n) * 32]
            bare = [a.copy() for a in offer]
            overhead = np.full(n, zero)
            scratch = np.zeros(n, dtype=np.int64)
            expected = kernels.place_take(
                slots, count, draws, scratch, 0.7, 2.3, overhead, overhead, *offer
            )
            got = kernels.place_take_bare(slots, count, draws, scratch, 0.7, 2.3, *bare)
            assert [_bits(a) for a in got[:4]] == [_bits(a) for a in expected[:4]]
            assert got[4] == expected[4]
            assert _bits(bare[0]) == _bits(offer[0]) and _bits(bare[1]) == _bits(offer[1])
            assert not scratch.any()
