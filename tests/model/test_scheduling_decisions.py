"""Shared-state's decisions, cheaper (session 11), give the numbers of what they replace, bit
for bit: the snapshot of the slots that a decision starts from is shared with the live cell
until the cell writes it (copy on write) rather than copied at once, and the decision's end
(random first-fit on the snapshot, the claims' deltas, the fine conflict check and, without
conflicts, their start) is one compiled call rather than four. Each test runs the old way
beside the new one."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

import simulator
from simulator.model.scheduling import kernels
from simulator.model.scheduling.cell import CellState
from simulator.model.scheduling.model import SchedulingModel
from tests.helpers import SCENARIOS

EXAMPLE = SCENARIOS / "omega" / "example.yaml"
FAILURES = SCENARIOS / "omega" / "failures.yaml"
SMALL = ["cluster.nodes=300", "horizon=2h", "warmup=10min"]
BUSY = [  # notebook 03's batch-rate sweep at 16×, on a small cell: conflicts, often
    "scheduler.architecture=shared-state",
    "cluster.prefill=0.3",
    "workloads.batch.interarrival=20s",
]


def _digest(result: simulator.Result) -> str:
    """The summary and every table of a run, as one hash."""
    digest = hashlib.sha256(repr(sorted(result.summary.items())).encode())
    for name, table in sorted(result.tables.items()):
        digest.update(name.encode())
        digest.update(table.to_csv().encode())
    return digest.hexdigest()


def _copied(self: CellState, cpu: float, mem: float) -> tuple[np.ndarray, None]:
    """The snapshot as before: a copy of the live slots, at once."""
    return self.live_slots(cpu, mem).copy(), None


def _release_nothing(self: CellState, token: object) -> None:
    assert token is None


CASES = [
    (EXAMPLE, [*SMALL, *BUSY, "scheduler.batch_schedulers=1"]),
    (EXAMPLE, [*SMALL, *BUSY, "scheduler.batch_schedulers=4"]),
    (EXAMPLE, [*SMALL, *BUSY, "scheduler.batch_schedulers=3", "scheduler.t_job.service=30s"]),
    (
        EXAMPLE,
        [*SMALL, *BUSY, "scheduler.batch_schedulers=4", "scheduler.commit_mode=all-or-nothing"],
    ),
    (EXAMPLE, [*SMALL, *BUSY, "scheduler.batch_schedulers=4", "scheduler.conflict_mode=coarse"]),
    (
        FAILURES,
        [
            *SMALL,
            "scheduler.architecture=shared-state",
            "scheduler.batch_schedulers=3",
            "cluster.failures.node_mtbf=5h",
            "cluster.failures.rack_mtbf=2h",
        ],
    ),
]


@pytest.mark.parametrize(("scenario", "overrides"), CASES)
def test_shared_state_decisions_as_before(scenario, overrides, monkeypatch):
    """Snapshots copied at once and the decision's end in four calls (`place`, then
    `commit`), against shared snapshots and one call: the same summary and tables."""
    calls = {"fused": 0, "conflicted": 0, "shared": 0, "copied on write": 0}
    place_commit, snapshot, unshare = (
        CellState.place_commit,
        CellState.snapshot_slots,
        CellState._unshare,
    )

    def counted_place(self: CellState, *args: Any) -> Any:
        calls["fused"] += 1
        done = place_commit(self, *args)
        calls["conflicted"] += done[5] > 0
        return done

    def counted_snapshot(self: CellState, cpu: float, mem: float) -> object:
        calls["shared"] += 1
        return snapshot(self, cpu, mem)

    def counted_unshare(self: CellState, shape: Any, copy: bool) -> None:
        calls["copied on write"] += 1
        unshare(self, shape, copy)

    with monkeypatch.context() as patch:
        patch.setattr(CellState, "place_commit", counted_place)
        patch.setattr(CellState, "snapshot_slots", counted_snapshot)
        patch.setattr(CellState, "_unshare", counted_unshare)
        new = simulator.run(scenario, overrides=overrides)
    coarse = "scheduler.conflict_mode=coarse" in overrides
    assert (calls["fused"] == 0) == coarse  # coarse conflicts keep the four calls
    assert calls["shared"] > 100
    if "scheduler.batch_schedulers=4" in overrides:
        assert calls["copied on write"] > 10  # overlapping decisions: the cell wrote, often
        if not coarse:
            assert calls["conflicted"] > 0  # and the conflicts' path is taken
    monkeypatch.setattr(CellState, "snapshot_slots", _copied)
    monkeypatch.setattr(CellState, "release_snapshot", _release_nothing)
    original_init = SchedulingModel.__init__

    def unfused_init(self: SchedulingModel, context: Any) -> None:
        original_init(self, context)
        self._fused = False

    monkeypatch.setattr(SchedulingModel, "__init__", unfused_init)
    monkeypatch.setattr(CellState, "place_commit", _never)
    assert _digest(new) == _digest(simulator.run(scenario, overrides=overrides))


def _never(self: CellState, *args: object) -> None:
    raise AssertionError("the old way does not call place_commit")


def _cell(rng: np.random.Generator, n: int) -> CellState:
    return CellState(
        rng.choice([4.0, 8.0], n),
        rng.choice([16.0, 32.0], n),
        np.zeros(n),
        np.zeros(n),
        np.zeros(n, dtype=np.int64),
        np.arange(n) // 10,
        0.0,
    )


@pytest.mark.parametrize("seed", range(4))
def test_snapshots_keep_the_slots_as_they_were_while_the_cell_changes(seed):
    """Overlapping snapshots of two shapes, taken and given back in random order while
    claims start and end and other readers read (and, now and then, so many nodes change
    that every node is recomputed): each snapshot reads as the copy taken beside it, and
    the live slots as slots computed afresh."""
    rng = np.random.default_rng(seed)
    n = 60
    cell = _cell(rng, n)
    shapes = [(1.0, 2.0), (3.0, 6.0)]
    out: list[tuple[np.ndarray, np.ndarray, Any]] = []
    running: list[tuple[np.ndarray, ...]] = []
    writes = 0
    for step in range(600):
        now = float(step)
        action = rng.integers(6)
        if action == 0 and len(out) < 5:
            view, token = cell.snapshot_slots(*shapes[int(rng.integers(2))])
            out.append((view, view.copy(), token))
        elif action == 1 and out:
            view, copy, token = out.pop(int(rng.integers(len(out))))
            assert view.tolist() == copy.tolist(), step
            cell.release_snapshot(token)
        elif action == 2 and running:
            cell.release(now, *running.pop(int(rng.integers(len(running)))))
        elif action == 3:
            many = int(rng.integers(1, 4 if rng.random() < 0.9 else n // 2))
            nodes = np.unique(rng.integers(0, n, many))
            counts = np.ones(len(nodes), dtype=np.int64)
            free_cpu, free_mem = cell.free()
            fits = (free_cpu[nodes] >= 1.0) & (free_mem[nodes] >= 2.0)
            nodes, counts = nodes[fits], counts[fits]
            if len(nodes):
                dcpu, dmem = cell.deltas(nodes, counts, 1.0, 2.0)
                cell.apply(now, nodes, counts, dcpu, dmem)
                running.append((nodes, counts, dcpu, dmem))
        else:  # a reader
            raw_cpu = cell.cap_cpu - cell.used_cpu
            raw_mem = cell.cap_mem - cell.used_mem
            for cpu, mem in shapes:
                afresh = cell.slots(raw_cpu, raw_mem, cpu, mem, False)
                live = cell.live_slots(cpu, mem)
                writes += any(live is not view for view, _, _ in out)
                assert live.tolist() == afresh.tolist(), step
        for view, copy, _ in out:
            assert view.tolist() == copy.tolist(), step
    assert writes > 50  # the cell wrote while snapshots were out


@pytest.mark.parametrize("seed", range(30))
def test_the_compiled_decision_end_is_the_four_kernels_in_turn(seed):
    """`kernels.place_fine` against `random_first_fit_claims`, `deltas`, `fine_conflicts`
    and (without conflicts) `add_claims`, called one after the other, on crowded cells with
    locked resources, failed nodes, density limits and overheads: the same claims, the same
    conflicts and the same cell afterwards."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    cap_cpu = rng.choice([2.0, 4.0], n)
    cap_mem = rng.choice([8.0, 16.0], n)
    used_cpu = cap_cpu * rng.choice([0.0, 0.5, 0.75, 1.0], n)
    used_mem = used_cpu * 2.5
    locked = rng.choice([0.0, 0.0, 1.0], n)
    overhead = rng.choice([0.0, 0.25], n) if seed % 2 else np.zeros(n)
    density = rng.choice([1 << 30, 3], n).astype(np.int64)
    instances = rng.integers(0, 4, n).astype(np.int64)
    up = rng.random(n) < 0.9
    seq = rng.integers(0, 9, n).astype(np.int64)
    subtract_locked, limited, check_up, count_seq = (bool(b) for b in rng.integers(0, 2, 4))
    # a snapshot from a little earlier: the live cell has moved on since
    slots = np.maximum(rng.integers(-1, 4, n), 0).astype(np.int64)
    count = int(rng.integers(0, 3 * n))
    draws = rng.random(max(count, 1))
    cpu, mem = float(rng.choice([0.5, 1.0])), float(rng.choice([1.0, 2.0]))
    cell = [used_cpu.copy(), used_mem.copy(), instances.copy(), seq.copy()]

    scratch = np.zeros(n, dtype=np.int64)
    nodes, counts = kernels.random_first_fit_claims(slots, count, draws, scratch)
    dcpu, dmem = np.empty(len(nodes)), np.empty(len(nodes))
    kernels.deltas(nodes, counts, cpu, mem, overhead, overhead * 2, dcpu, dmem)
    bad = np.empty(len(nodes), dtype=bool)
    anything = kernels.fine_conflicts(
        nodes, dcpu, dmem, counts, cap_cpu, cap_mem, cell[0], cell[1], locked, locked * 2,
        subtract_locked, density, cell[2], limited, up, check_up, bad,
    )  # fmt: skip
    started = len(nodes) > 0 and not anything
    if started:
        kernels.add_claims(
            nodes, counts, dcpu, dmem, True, cell[0], cell[1], cell[2], limited, cell[3],
            count_seq,
        )  # fmt: skip

    fused = [used_cpu.copy(), used_mem.copy(), instances.copy(), seq.copy()]
    got = kernels.place_fine(
        slots, count, draws, np.zeros(n, dtype=np.int64), cpu, mem, overhead, overhead * 2,
        cap_cpu, cap_mem, fused[0], fused[1], locked, locked * 2, subtract_locked, density,
        fused[2], limited, up, check_up, fused[3], count_seq,
    )  # fmt: skip
    assert got[0].tolist() == nodes.tolist()
    assert got[1].tolist() == counts.tolist()
    assert (got[2].tolist(), got[3].tolist()) == (dcpu.tolist(), dmem.tolist())
    assert got[5] == started
    if len(nodes) and not started:
        assert got[4].tolist() == bad.tolist()
    assert [a.tolist() for a in fused] == [a.tolist() for a in cell]


@pytest.mark.parametrize("seed", range(10))
def test_the_compiled_refresh_of_one_shape_is_the_two_kernels_in_turn(seed):
    rng = np.random.default_rng(seed)
    n = 50
    arrays = {
        "cap_cpu": rng.choice([2.0, 4.0], n),
        "cap_mem": rng.choice([8.0, 16.0], n),
        "used_cpu": rng.random(n) * 4,
        "used_mem": rng.random(n) * 16,
        "locked_cpu": rng.choice([0.0, 0.5], n),
        "locked_mem": rng.choice([0.0, 1.0], n),
    }
    up = rng.random(n) < 0.8
    need_cpu, need_mem = 1.0 + rng.choice([0.0, 0.1], n), 2.0 + rng.choice([0.0, 0.2], n)
    density = rng.choice([1 << 30, 2], n).astype(np.int64)
    instances = rng.integers(0, 3, n).astype(np.int64)
    nodes = rng.integers(0, n, 20).astype(np.int64)  # repeats too
    flags = [bool(b) for b in rng.integers(0, 2, 3)]
    free = [np.full(n, -1.0), np.full(n, -1.0)]
    slots = np.full(n, -7, dtype=np.int64)
    a = [*arrays.values()]
    kernels.free_at(nodes, *a, flags[0], up, flags[1], free[0], free[1])
    kernels.slots_at(
        nodes, free[0], free[1], need_cpu, need_mem, density, instances, flags[2], slots
    )
    got_free = [np.full(n, -1.0), np.full(n, -1.0)]
    got_slots = np.full(n, -7, dtype=np.int64)
    kernels.refresh_one(
        nodes, *a, flags[0], up, flags[1], got_free[0], got_free[1], need_cpu, need_mem, density,
        instances, flags[2], got_slots,
    )  # fmt: skip
    assert [f.tolist() for f in got_free] == [f.tolist() for f in free]
    assert got_slots.tolist() == slots.tolist()


def test_the_fork_server_preloads_the_kernels_for_scheduling_sweeps_only():
    from simulator.experiments import pool
    from simulator.model.scheduling import warm

    assert warm.warm()  # the warm-up goes through (a failure would be swallowed)
    context = pool.context(True)
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        assert forkserver._forkserver._preload_modules == [
            "simulator.experiments.preload",
            "simulator.model.scheduling.warm",
        ]
        pool.context(False)
        assert forkserver._forkserver._preload_modules == ["simulator.experiments.preload"]


def _crowded(rng: np.random.Generator, plain: bool) -> dict[str, Any]:
    """A cell's arrays for the decision-end kernels, crowded, and a snapshot of its slots
    from a little earlier (so that claims conflict now and then); `plain`: without
    overheads, density limits, locked resources or sequence numbers."""
    n = int(rng.integers(5, 200))
    cap_cpu = rng.choice([2.0, 4.0], n)
    used_cpu = cap_cpu * rng.choice([0.0, 0.5, 0.75, 1.0], n)
    cap_mem = rng.choice([8.0, 16.0], n)
    count = 0 if rng.random() < 0.1 else int(rng.integers(1, 3 * n))
    overhead = np.zeros(n) if plain else rng.choice([0.0, 0.25], n)
    cpu, mem = float(rng.choice([0.5, 1.0])), float(rng.choice([1.0, 2.0]))
    if rng.random() < 0.4:  # a snapshot of the cell as it is: (nearly) no conflicts
        room = np.minimum((cap_cpu - used_cpu) / cpu, (cap_mem - used_cpu * 2.5) / mem)
        slots = np.maximum(np.floor(room), 0).astype(np.int64)
    else:
        slots = np.maximum(rng.integers(-1, 4, n), 0).astype(np.int64)
    return {
        "slots": slots,
        "count": count,
        "draws": rng.random(max(count, 1)),
        "scratch": np.zeros(n, dtype=np.int64),
        "cpu": cpu,
        "mem": mem,
        "overhead_cpu": overhead,
        "overhead_mem": overhead * 2,
        "cap_cpu": cap_cpu,
        "cap_mem": cap_mem,
        "used_cpu": used_cpu,
        "used_mem": used_cpu * 2.5,
        "locked_cpu": np.zeros(n) if plain else rng.choice([0.0, 0.0, 1.0], n),
        "locked_mem": np.zeros(n) if plain else rng.choice([0.0, 0.0, 2.0], n),
        "subtract_locked": not plain and bool(rng.integers(2)),
        "density": np.full(n, 1 << 30, dtype=np.int64)
        if plain
        else rng.choice([1 << 30, 3], n).astype(np.int64),
        "instances": rng.integers(0, 4, n).astype(np.int64),
        "density_limited": not plain and bool(rng.integers(2)),
        "up": rng.random(n) < 0.9,
        "check_up": bool(rng.integers(2)),
        "seq": rng.integers(0, 9, n).astype(np.int64),
        "count_seq": not plain and bool(rng.integers(2)),
    }


WRITTEN = ("used_cpu", "used_mem", "instances", "seq")
"""The cell's arrays a decision's end writes."""


def _copy(cell: dict[str, Any]) -> dict[str, Any]:
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in cell.items()}


@pytest.mark.parametrize("incremental", [True, False])
@pytest.mark.parametrize("seed", range(30))
def test_the_compiled_commit_is_place_fine_then_the_claims_kept(seed, incremental):
    """`kernels.place_commit` against what the model did with `place_fine`'s answer in
    numpy: on a conflict with incremental commits, `keep = ~bad`, the four arrays indexed
    by it and `add_claims` of those; all-or-nothing, nothing. The same claims started,
    tasks, outcome and cell afterwards."""
    cell = _crowded(np.random.default_rng(seed), plain=False)
    before = _copy(cell)
    nodes, counts, dcpu, dmem, bad, started = kernels.place_fine(*before.values())
    placed, outcome = int(np.add.reduce(counts)) if started else 0, 0 if started else -1
    if len(nodes) and not started:
        outcome = 1
        keep = ~bad if incremental else np.zeros(len(nodes), dtype=bool)
        nodes, counts, dcpu, dmem = nodes[keep], counts[keep], dcpu[keep], dmem[keep]
        placed = int(np.add.reduce(counts))
        kernels.add_claims(
            nodes, counts, dcpu, dmem, True, before["used_cpu"], before["used_mem"],
            before["instances"], before["density_limited"], before["seq"], before["count_seq"],
        )  # fmt: skip
    got = kernels.place_commit(*cell.values(), incremental)
    assert got[4:] == (placed, outcome)
    if outcome >= 0:
        assert [a.tolist() for a in got[:4]] == [a.tolist() for a in (nodes, counts, dcpu, dmem)]
    assert [cell[k].tolist() for k in WRITTEN] == [before[k].tolist() for k in WRITTEN]


@pytest.mark.parametrize("seed", range(40))
def test_the_plain_kernels_are_the_general_ones_on_a_plain_cell(seed):
    """On a cell without overheads, density limits, locks or sequence numbers (failed
    nodes or not): `place_commit_plain` is `place_commit`, `refresh_plain` is `refresh_one`
    and `release_plain` is `add_claims(..., start=False, ...)`, bit for bit."""
    rng = np.random.default_rng(seed)
    cell = _crowded(rng, plain=True)
    incremental = bool(seed % 2)
    general, plain = _copy(cell), _copy(cell)
    want = kernels.place_commit(*general.values(), incremental)
    got = kernels.place_commit_plain(
        plain["slots"], plain["count"], plain["draws"], plain["scratch"], plain["cpu"],
        plain["mem"], plain["cap_cpu"], plain["cap_mem"], plain["used_cpu"], plain["used_mem"],
        plain["up"], plain["check_up"], incremental,
    )  # fmt: skip
    assert got[4:] == want[4:]
    assert [a.tolist() for a in got[:4]] == [a.tolist() for a in want[:4]]
    assert [plain[k].tolist() for k in WRITTEN] == [general[k].tolist() for k in WRITTEN]

    n = len(cell["slots"])
    nodes = rng.integers(0, n, 20).astype(np.int64)
    need_cpu, need_mem = cell["cpu"] + cell["overhead_cpu"], cell["mem"] + cell["overhead_mem"]
    free, slots = [np.full(n, -1.0), np.full(n, -1.0)], np.full(n, -7, dtype=np.int64)
    kernels.refresh_one(
        nodes, cell["cap_cpu"], cell["cap_mem"], general["used_cpu"], general["used_mem"],
        cell["locked_cpu"], cell["locked_mem"], False, cell["up"], cell["check_up"], free[0],
        free[1],
        need_cpu, need_mem, cell["density"], general["instances"], False, slots,
    )  # fmt: skip
    got_free, got_slots = [np.full(n, -1.0), np.full(n, -1.0)], np.full(n, -7, dtype=np.int64)
    kernels.refresh_plain(
        nodes, cell["cap_cpu"], cell["cap_mem"], plain["used_cpu"], plain["used_mem"],
        cell["up"], cell["check_up"], got_free[0], got_free[1], cell["cpu"], cell["mem"],
        got_slots,
    )  # fmt: skip
    assert [f.tolist() for f in got_free] == [f.tolist() for f in free]
    assert got_slots.tolist() == slots.tolist()

    if len(want[0]):  # the claims started, ended again
        kernels.add_claims(
            want[0], want[1], want[2], want[3], False, general["used_cpu"], general["used_mem"],
            general["instances"], False, general["seq"], False,
        )  # fmt: skip
        kernels.release_plain(want[0], want[2], want[3], plain["used_cpu"], plain["used_mem"])
    assert [plain[k].tolist() for k in WRITTEN] == [general[k].tolist() for k in WRITTEN]


def test_the_plain_kernels_meet_conflicts():
    """The generated plain cells above take the conflict path of both commit modes."""
    outcomes = set()
    for seed in range(40):
        cell = _crowded(np.random.default_rng(seed), plain=True)
        outcomes.add(kernels.place_commit(*cell.values(), bool(seed % 2))[5])
    assert outcomes == {-1, 0, 1}
