"""The one shared model of cell state that every scheduler architecture works on.

Per node: capacity, what running tasks use, what a two-level offer holds locked, whether it
is up, how many instances it runs, and a sequence number that changes whenever the node's
state does. Schedulers differ only in how they see this state (live, a private copy, or an
offer) and how they commit to it (`conflicts` and `apply`), as in the Omega simulator's
CellState with its claim deltas.

Time integrals (CPU and memory in use, locked, and capacity down) are kept exactly from the
end of warm-up on, so utilisation needs no sampling.

For speed the cell keeps what schedulers read on every decision: the free CPU and memory per
node and, per task shape asked for, the tasks of that shape that fit per node (`live_slots`).
A commit touches a few nodes, so only those are recomputed, lazily, at the next read, with
the same element-wise arithmetic as a full recomputation (the numbers are identical; these
per-node loops, the fine conflict check and the commits' updates are compiled, `kernels`); a lock
(two-level offers take every node's free resources) marks the whole cache stale, and the
offer's return, when it leaves nothing locked, restores what the cache held before the lock
and recomputes only the nodes changed meanwhile. An offer of everything on a cell with nothing
locked (`offer_all`, the usual two-level offer) is not written into `locked` node by node: the
cell keeps what it locked and the unlocks since, writes them in only if something reads
`locked` meanwhile, and at the return knows that nothing stays locked when the unlocks were
what the offer's decisions took; while nothing is locked, free resources skip the locked term.
Under the two-level allocator (`share_offers`) such an offer is the free resources' own arrays
rather than a copy when every value is on the 2^-10 grid (then no clip changes a value and
every sum is exact): its sums are kept from one offer to the next, updated where nodes change
(`_exact`), what is left at the return adds up to the offer less the unlocks, and the
lock-time values are the arrays plus the takes, should `locked` be read while it is out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .placement import EPS, fit_slots, load_kernels

NO_LIMIT = 1 << 30

SHAPES = 16
"""Task shapes whose slots the cell keeps up to date; the oldest is dropped beyond that."""


GRID = 1024.0
"""Sizes that are multiples of 1/GRID (and below 2^20) add up exactly: see `_on_grid`."""


EXACT_SUMS = 2.0**42
"""Sums of multiples of 2^-10 whose magnitudes add up to less than this are exact, whatever
the order of the additions (each partial sum is a multiple of 2^-10 below 2^43)."""


def _on_grid(size: float) -> bool:
    """Whether counts (below 2^20) times `size` and any sum of such products are exact
    floats: true for a multiple of 2^-10 below 2^20, whose products and sums are multiples
    of 2^-10 below 2^43, within a double's 53 bits."""
    return 0.0 <= size < 1048576.0 and (size * GRID).is_integer()


@dataclass(slots=True)
class _Held:
    """The cell just before an offer locked it, and the nodes changed since."""

    free_cpu: np.ndarray
    free_mem: np.ndarray
    # per shape: slots, view and snapshots sharing them (`_Shape.sharers`)
    slots: dict[tuple[float, float], tuple[np.ndarray, np.ndarray, int]]
    changed: list[np.ndarray] = field(default_factory=list)
    count: int = 0
    everything: bool = False  # the lock took all free resources (`offer_all`)


Takes = list[tuple[np.ndarray, np.ndarray, np.ndarray]]
"""What decisions took from an offer's arrays, or unlocked, in order: (nodes, cpu, mem)."""


@dataclass(slots=True)
class _Blanket:
    """An offer of all free resources (`offer_all`), not yet written into `locked`.

    Shared (`CellState.share_offers`): the offer's arrays are the free resources it locked
    themselves, not a copy, when those are all on the 2^-10 grid, at or above +0 and below
    2^20 (`kernels.exact_sums`): then `max(free, 0)` is `free` bit for bit, and the
    decisions' takes, all of claims on the grid, leave every value and every sum exact, so
    the free resources at the lock are the arrays plus the takes again (`_settle`) and what
    is left adds up to the offer less the unlocks (`return_offer`), with no pass."""

    free_cpu: np.ndarray  # the free resources it locked (clipped at zero), unchanged unless
    free_mem: np.ndarray  # `in_free` is set
    offer_cpu: np.ndarray  # the offer's own arrays, which its decisions take from
    offer_mem: np.ndarray
    offered_cpu: float  # what was offered, in all
    offered_mem: float
    unlocks: Takes = field(default_factory=list)
    shared: bool = False  # `offer_cpu` is `free_cpu` (and `offer_mem` `free_mem`)
    takes: Takes = field(default_factory=list)  # what the offer's decisions took, in order
    in_free: Takes | None = None  # the takes in `free_cpu`/`free_mem` (None: unchanged)
    unlocked_cpu: float = 0.0  # the unlocks' CPU and memory, added up in order (exact
    unlocked_mem: float = 0.0  # when shared)


_Exact = tuple[np.ndarray, np.ndarray, float, float]
"""Free CPU and memory arrays on the grid and their exact sums (`CellState._exact`)."""


@dataclass(slots=True)
class _Shape:
    """Tasks of one (cpu, memory) shape that fit per node on the live cell."""

    cpu: float
    mem: float
    need_cpu: np.ndarray  # cpu + per-instance overhead, per node
    need_mem: np.ndarray
    slots: np.ndarray  # int64, updated in place
    view: np.ndarray  # a read-only view of `slots`, handed out
    sharers: int = 0
    """Snapshots (`CellState.snapshot_slots`) still reading `slots`: while any is, `slots`
    is not written but replaced by a copy first (copy on write)."""


Snapshot = tuple[_Shape, np.ndarray]
"""What `CellState.snapshot_slots` hands out to be given back: the shape and its array."""


class CellState:
    """Per-node numpy arrays; every change goes through a method that keeps the integrals."""

    def __init__(
        self,
        cpu: np.ndarray,
        mem: np.ndarray,
        overhead_cpu: np.ndarray,
        overhead_mem: np.ndarray,
        density: np.ndarray,
        rack: np.ndarray,
        warmup: float,
        sequence_numbers: bool = True,
    ) -> None:
        n = len(cpu)
        self.n = n
        self.cap_cpu = cpu.astype(float)
        self.cap_mem = mem.astype(float)
        self.overhead_cpu = overhead_cpu.astype(float)
        self.overhead_mem = overhead_mem.astype(float)
        self.density = np.where(density > 0, density, NO_LIMIT).astype(np.int64)
        self.rack = rack
        self.used_cpu = np.zeros(n)
        self.used_mem = np.zeros(n)
        self._locked_cpu = np.zeros(n)  # read through `locked_cpu`, which settles a blanket
        self._locked_mem = np.zeros(n)
        self.instances = np.zeros(n, dtype=np.int64)
        self.up = np.ones(n, dtype=bool)
        self.seq = np.zeros(n, dtype=np.int64)
        self.sequence_numbers = sequence_numbers
        """Whether `seq` is kept (only coarse conflicts read it)."""
        self.total_cpu = float(self.cap_cpu.sum())
        self.total_mem = float(self.cap_mem.sum())
        self.warmup = warmup
        self._last = warmup
        # Python floats: the same IEEE arithmetic as numpy's, without its per-call cost
        self._levels = [0.0, 0.0, 0.0, 0.0]  # used cpu, used mem, locked cpu, down cpu
        self._areas = [0.0, 0.0, 0.0, 0.0]
        # Facts that let the hot path skip terms that cannot change a number: x + 0.0 and
        # x − 0.0 are x, where(True, x, 0) is x, and without a density limit the room for
        # instances (2^30 minus the node's instances) never binds.
        self.density_limited = bool((self.density < NO_LIMIT).any())
        """Whether any node has a density limit (without one, `instances` is not kept)."""
        self.no_overhead = not (self.overhead_cpu.any() or self.overhead_mem.any())
        self._ever_down = False  # a node has failed at some point
        self._free_cpu = np.zeros(n)
        self._free_mem = np.zeros(n)
        self._shapes: dict[tuple[float, float], _Shape] = {}
        self._stale = True  # every node must be recomputed at the next read
        # the kept shapes' slots wait for a read after a full recomputation of the free
        # resources (two-level offers, which make many, read only the free resources)
        self._slots_stale = False
        # changes to what the cell holds (claims, locks, nodes up or down), counted so that
        # an answer of no offer stands until the next one (`offer_all`)
        self._changes = 0
        self._no_offer: tuple[int, float] | None = None
        self._dirty: list[np.ndarray] = []  # nodes changed since the last read
        self._dirty_count = 0
        # Two-level offers: a lock takes every node's free resources and its return gives
        # back what was not used, leaving `locked` all zero again when no other offer is
        # out. The free resources and kept slots from just before such a lock are held, with
        # the nodes changed since, so that the return restores them instead of recomputing
        # every node.
        self._locks = 0  # offers out
        self._locked_zero = True  # `locked_cpu` and `locked_mem` are all exactly zero
        self._held: _Held | None = None
        # The only offer out, made by `offer_all` on a cell with nothing locked, locks all
        # free resources: `max(free, 0)` per node. Rather than adding that to `locked` node
        # by node and taking it off again at the return, the cell keeps the free resources
        # it was computed from and the unlocks since (a blanket), and writes them into
        # `locked` only if something reads it meanwhile (`_settle`): the same numbers.
        self._blanket: _Blanket | None = None
        self._wanted: set[tuple[float, float]] = set()  # shapes to keep from the next return
        # slots arrays (and their read-only views) no longer live, for `_hold` to reuse
        # rather than allocate: whatever they hold is written over before it is read
        self._spares: list[tuple[np.ndarray, np.ndarray]] = []
        self.share_offers = False
        # the free resources' arrays, when every value is on the 2^-10 grid at or above +0
        # and below 2^20, with their sums (exact, so numpy's pairwise sums to the last bit):
        # kept from a shared offer's return to the next offer (`offer_all`), so that it
        # needs no pass; valid while `_free_cpu` is the array here
        self._exact: _Exact | None = None
        """Whether a blanket offer may share the free resources' arrays (`_Blanket`): set
        by a caller that records every take from the offer's arrays in `offer_takes`' list
        and calls `unshare_offer` before a take of claims off the grid."""
        self._kernels = load_kernels()
        # A plain cell (no overheads, no density limit, no sequence numbers) lets the hot
        # paths call the kernels without those terms (`kernels.place_commit_plain`,
        # `refresh_plain`, `release_plain`) while nothing is locked.
        self._plain_release = not self.density_limited and not sequence_numbers
        self._plain = self._plain_release and self.no_overhead

    # -- time integrals ------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        if now > self._last:
            dt = now - self._last
            levels, areas = self._levels, self._areas
            # the loop over the four, unrolled (called at every claim's start and end)
            areas[0] += levels[0] * dt
            areas[1] += levels[1] * dt
            areas[2] += levels[2] * dt
            areas[3] += levels[3] * dt
            self._last = now

    def _shift(self, now: float, index: int, amount: float) -> None:
        self._advance(now)
        self._levels[index] += amount

    @property
    def areas(self) -> np.ndarray:
        """Integrals of (used cpu, used memory, locked cpu, down cpu) so far."""
        return np.array(self._areas)

    def finish(self, horizon: float) -> np.ndarray:
        """Integrals of (used cpu, used memory, locked cpu, down cpu) over [warmup, horizon]."""
        self._advance(horizon)
        return np.array(self._areas)

    # -- views ---------------------------------------------------------------------------
    def free_view(self) -> tuple[np.ndarray, np.ndarray]:
        """`free()` without the copies: read-only by convention, valid until the cell
        changes."""
        self._refresh()
        return self._free_cpu, self._free_mem

    def free(self) -> tuple[np.ndarray, np.ndarray]:
        """Free CPU and memory per node, as a scheduler would see them now (new arrays, the
        caller's to keep or change)."""
        self._refresh()
        return self._free_cpu.copy(), self._free_mem.copy()

    def live_slots(self, cpu: float, mem: float) -> np.ndarray:
        """How many tasks of (cpu, mem) fit per node now: `slots(*free(), cpu, mem, False)`,
        kept up to date between calls. Read-only; it changes as the cell does."""
        self._refresh()
        if self._slots_stale:
            self._fresh_slots()
        shape = self._shapes.get((cpu, mem))
        if shape is None:
            if len(self._shapes) >= SHAPES:
                del self._shapes[next(iter(self._shapes))]
            need_cpu = cpu + self.overhead_cpu
            need_mem = mem + self.overhead_mem
            slots = fit_slots(self._free_cpu, self._free_mem, need_cpu, need_mem, self._room())
            view = slots.view()
            view.flags.writeable = False
            shape = self._shapes[(cpu, mem)] = _Shape(cpu, mem, need_cpu, need_mem, slots, view)
        return shape.view

    def snapshot_slots(self, cpu: float, mem: float) -> tuple[np.ndarray, Snapshot]:
        """A private copy of `live_slots(cpu, mem)` as they are now (read-only), and the
        token to give back to `release_snapshot` once it is no longer read.

        Copy on write: the copy is the live array itself until the cell is about to write
        it (`_refresh`, `_fresh_slots`); then the live slots move to a copy, written from
        then on, and the snapshots keep the array they had, unchanged. A shared-state
        scheduler that is the only one deciding is done before the next read writes
        anything, so its 80 KB copy per decision is seldom made at all."""
        view = self.live_slots(cpu, mem)
        shape = self._shapes[(cpu, mem)]
        shape.sharers += 1
        return view, (shape, shape.slots)

    def release_snapshot(self, token: Snapshot) -> None:
        """The snapshot `token` (`snapshot_slots`) is no longer read."""
        shape, slots = token
        if shape.slots is slots:  # else the live slots moved to a copy, unshared
            shape.sharers -= 1

    def _unshare(self, shape: _Shape, copy: bool) -> None:
        """Move the shape's live slots to a new array (a copy, if `copy`) before writing
        them: the snapshots sharing the old one keep it as it is."""
        shape.slots = shape.slots.copy() if copy else np.empty(self.n, dtype=np.int64)
        shape.view = shape.slots.view()
        shape.view.flags.writeable = False
        shape.sharers = 0

    def _touch(self, nodes: np.ndarray) -> None:
        """These nodes changed: recompute them at the next read."""
        self._changes += 1
        held = self._held
        if held is not None:
            held.changed.append(nodes)
            held.count += len(nodes)
            if held.count > self.n // 4:
                self._held = None
        if self._stale:
            return
        self._dirty.append(nodes)
        self._dirty_count += len(nodes)
        if self._dirty_count > self.n // 4:
            self._invalidate()

    def _invalidate(self) -> None:
        self._changes += 1
        self._stale = True
        self._dirty.clear()
        self._dirty_count = 0

    def _refresh(self) -> None:
        """Bring the free resources and the kept shapes' slots up to date (same arithmetic,
        element by element, as computing them from scratch)."""
        if self._stale:
            self._free_cpu, self._free_mem = self._free_at(slice(None))
            self._slots_stale = bool(self._shapes)  # `_fresh_slots` when read
            self._stale = False
            return
        if not self._dirty:
            return
        dirty = self._dirty
        nodes = dirty[0] if len(dirty) == 1 else np.concatenate(dirty)
        dirty.clear()
        self._dirty_count = 0
        # compiled: `_free_at(nodes)` written in, then `fit_slots` of each kept shape there
        # (its per-node need is cpu + 0.0 = cpu without overheads: the same quotients)
        kernels, locked = self._kernels, not self._locked_zero
        if locked and self._blanket is not None:
            self._settle()
        if self._exact is not None and self._refresh_exact(nodes, locked):
            return
        if len(self._shapes) == 1 and not self._slots_stale:
            # one shape kept (shared-state's usual case): both steps in one call
            shape = next(iter(self._shapes.values()))
            if shape.sharers:
                self._unshare(shape, True)
            if self._plain and not locked:
                kernels.refresh_plain(
                    nodes,
                    self.cap_cpu,
                    self.cap_mem,
                    self.used_cpu,
                    self.used_mem,
                    self.up,
                    self._ever_down,
                    self._free_cpu,
                    self._free_mem,
                    shape.cpu,
                    shape.mem,
                    shape.slots,
                )
                return
            kernels.refresh_one(
                nodes,
                self.cap_cpu,
                self.cap_mem,
                self.used_cpu,
                self.used_mem,
                self._locked_cpu,
                self._locked_mem,
                locked,
                self.up,
                self._ever_down,
                self._free_cpu,
                self._free_mem,
                shape.need_cpu,
                shape.need_mem,
                self.density,
                self.instances,
                self.density_limited,
                shape.slots,
            )
            return
        kernels.free_at(
            nodes,
            self.cap_cpu,
            self.cap_mem,
            self.used_cpu,
            self.used_mem,
            self._locked_cpu,
            self._locked_mem,
            locked,
            self.up,
            self._ever_down,
            self._free_cpu,
            self._free_mem,
        )
        if self._slots_stale:
            return  # all of them are recomputed when read
        for shape in self._shapes.values():
            if shape.sharers:
                self._unshare(shape, True)
            kernels.slots_at(
                nodes,
                self._free_cpu,
                self._free_mem,
                shape.need_cpu,
                shape.need_mem,
                self.density,
                self.instances,
                self.density_limited,
                shape.slots,
            )

    def _refresh_exact(self, nodes: np.ndarray, locked: bool) -> bool:
        """`_refresh` at `nodes` keeping the free resources' exact sums (`_exact`) up to
        date, if it can (one shape kept, nothing locked: `kernels.refresh_one_exact`); else
        False, with the sums forgotten, for `_refresh` to go on."""
        exact, self._exact = self._exact, None
        if (
            exact is None
            or exact[0] is not self._free_cpu
            or locked
            or len(self._shapes) != 1
            or self._slots_stale
        ):
            return False
        shape = next(iter(self._shapes.values()))
        if shape.sharers:
            self._unshare(shape, True)
        on_grid, dcpu, dmem = self._kernels.refresh_one_exact(
            nodes,
            self.cap_cpu,
            self.cap_mem,
            self.used_cpu,
            self.used_mem,
            self.up,
            self._ever_down,
            self._free_cpu,
            self._free_mem,
            shape.need_cpu,
            shape.need_mem,
            self.density,
            self.instances,
            self.density_limited,
            shape.slots,
            self.no_overhead and shape.cpu > 0.0 and shape.mem > 0.0,  # cpu + 0.0 is cpu
        )
        if on_grid:
            self._exact = (exact[0], exact[1], exact[2] + dcpu, exact[3] + dmem)
        return True

    def _fresh_slots(self) -> None:
        """The kept shapes' slots from the free resources (after `_refresh`): the same
        numbers as recomputing them with the free resources and updating them node by node
        since, as every node whose free resources or instances changed was recomputed."""
        every = self._room()
        for shape in self._shapes.values():
            if shape.sharers:
                self._unshare(shape, False)  # every node is written: nothing to copy
            shape.slots[:] = fit_slots(
                self._free_cpu, self._free_mem, shape.need_cpu, shape.need_mem, every
            )
        self._slots_stale = False

    def _free_at(self, nodes: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """Free CPU and memory at these nodes (new arrays), leaving out the terms that are
        zero: the same numbers as `where(up, cap − used − locked, 0)`."""
        cpu = self.cap_cpu[nodes] - self.used_cpu[nodes]
        mem = self.cap_mem[nodes] - self.used_mem[nodes]
        if not self._locked_zero:  # x − 0 is x: nothing to take off while nothing is locked
            if self._blanket is not None:
                self._settle()
            cpu -= self._locked_cpu[nodes]
            mem -= self._locked_mem[nodes]
        if self._ever_down:
            up = self.up[nodes]
            cpu = np.where(up, cpu, 0.0)
            mem = np.where(up, mem, 0.0)
        return cpu, mem

    def _room(self) -> np.ndarray | None:
        """Room for instances per node, None without a density limit (2^30 minus a node's
        instances would take more than 500 million tasks on one node to bind)."""
        return self.density - self.instances if self.density_limited else None

    def slots(
        self, free_cpu: np.ndarray, free_mem: np.ndarray, cpu: float, mem: float, one: bool
    ) -> np.ndarray:
        """How many tasks of (cpu, mem) fit per node in the given free resources."""
        if self.no_overhead:
            return fit_slots(free_cpu, free_mem, cpu, mem, self._room(), one)
        return fit_slots(
            free_cpu, free_mem, cpu + self.overhead_cpu, mem + self.overhead_mem, self._room(), one
        )

    def slots_at(
        self, nodes: np.ndarray, free_cpu: np.ndarray, free_mem: np.ndarray, cpu: float, mem: float
    ) -> np.ndarray:
        """`slots(...)[nodes]` for free resources given at `nodes` only (same arithmetic)."""
        room = self.density[nodes] - self.instances[nodes] if self.density_limited else None
        if self.no_overhead:
            return fit_slots(free_cpu, free_mem, cpu, mem, room)
        return fit_slots(
            free_cpu, free_mem, cpu + self.overhead_cpu[nodes], mem + self.overhead_mem[nodes], room
        )

    def claim_sums(self, tasks: int, cpu: float, mem: float) -> tuple[float, float] | None:
        """What `deltas` of `tasks` tasks of (cpu, mem) add up to, when that needs no pass
        over them: without overheads and for sizes on a 2^-10 grid, every task count times
        the size and every sum of those is exact, so the pairwise sum of the deltas is
        `tasks × size` to the last bit. None otherwise (then add them up)."""
        if self.no_overhead and tasks < 1 << 20 and _on_grid(cpu) and _on_grid(mem):
            return cpu * tasks, mem * tasks
        return None

    def deltas(
        self, nodes: np.ndarray, counts: np.ndarray, cpu: float, mem: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The claim deltas: what `counts` tasks cost on `nodes`, overheads included."""
        if self.no_overhead:
            return counts * cpu, counts * mem
        return (
            counts * (cpu + self.overhead_cpu[nodes]),
            counts * (mem + self.overhead_mem[nodes]),
        )

    # -- commits -------------------------------------------------------------------------
    def fine_check(
        self, nodes: np.ndarray, counts: np.ndarray, cpu: float, mem: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """`deltas` and then `conflicts(..., "fine")` in two compiled calls: the claims' CPU
        and memory and where they conflict (None where none does, the usual case)."""
        kernels, size = self._kernels, len(nodes)
        dcpu, dmem = np.empty(size), np.empty(size)
        kernels.deltas(nodes, counts, cpu, mem, self.overhead_cpu, self.overhead_mem, dcpu, dmem)
        bad, anything = self._fine_conflicts(nodes, dcpu, dmem, counts)
        return dcpu, dmem, bad if anything else None

    def place_fine(
        self,
        slots: np.ndarray,
        count: int,
        draws: np.ndarray,
        scratch: np.ndarray,
        cpu: float,
        mem: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, bool]:
        """Random first-fit of `count` tasks of (cpu, mem) on `slots` (a snapshot), then
        `fine_check` of the claims on the live cell and, if none conflicts, their start in
        the cell's arrays, in one compiled call (`kernels.place_fine`): the claims' nodes,
        tasks, CPU and memory, where they conflict (None where none does) and whether they
        were started (then `apply(..., written=True)` does the rest of the start)."""
        locked = not self._locked_zero
        if locked and self._blanket is not None:
            self._settle()
        nodes, counts, dcpu, dmem, bad, started = self._kernels.place_fine(
            slots,
            count,
            draws,
            scratch,
            cpu,
            mem,
            self.overhead_cpu,
            self.overhead_mem,
            self.cap_cpu,
            self.cap_mem,
            self.used_cpu,
            self.used_mem,
            self._locked_cpu,
            self._locked_mem,
            locked,
            self.density,
            self.instances,
            self.density_limited,
            self.up,
            self._ever_down,
            self.seq,
            self.sequence_numbers,
        )
        return nodes, counts, dcpu, dmem, None if started or not len(nodes) else bad, started

    def place_commit(
        self,
        slots: np.ndarray,
        count: int,
        draws: np.ndarray,
        scratch: np.ndarray,
        cpu: float,
        mem: float,
        incremental: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
        """`place_fine` and, when claims conflict and commits are `incremental`, the start
        of those that do not, in one compiled call (`kernels.place_commit`): the nodes,
        tasks, CPU and memory of the claims started in the cell's arrays (then `apply(...,
        written=True)` does the rest of the start), the tasks started in all, and −1 if
        nothing was placed, 0 if nothing conflicted, 1 if something did."""
        locked = not self._locked_zero
        if not locked and self._plain:
            nodes, counts, dcpu, dmem, placed, outcome = self._kernels.place_commit_plain(
                slots,
                count,
                draws,
                scratch,
                cpu,
                mem,
                self.cap_cpu,
                self.cap_mem,
                self.used_cpu,
                self.used_mem,
                self.up,
                self._ever_down,
                incremental,
            )
            return nodes, counts, dcpu, dmem, placed, outcome
        if locked and self._blanket is not None:
            self._settle()
        nodes, counts, dcpu, dmem, placed, outcome = self._kernels.place_commit(
            slots,
            count,
            draws,
            scratch,
            cpu,
            mem,
            self.overhead_cpu,
            self.overhead_mem,
            self.cap_cpu,
            self.cap_mem,
            self.used_cpu,
            self.used_mem,
            self._locked_cpu,
            self._locked_mem,
            locked,
            self.density,
            self.instances,
            self.density_limited,
            self.up,
            self._ever_down,
            self.seq,
            self.sequence_numbers,
            incremental,
        )
        return nodes, counts, dcpu, dmem, placed, outcome

    def conflicts(
        self,
        nodes: np.ndarray,
        dcpu: np.ndarray,
        dmem: np.ndarray,
        counts: np.ndarray,
        seen_seq: np.ndarray | None,
        mode: Literal["fine", "coarse"],
    ) -> np.ndarray:
        """True where a claim can no longer be committed.

        fine: the node is down or lacks room now (resource fit). coarse: the node's sequence
        number moved since the snapshot (`seen_seq`, which only coarse needs), whatever the
        change was.
        """
        if mode == "coarse":
            assert seen_seq is not None  # coarse conflicts compare with the snapshot
            return (self.seq[nodes] != seen_seq) | ~self.up[nodes]
        return self._fine_conflicts(nodes, dcpu, dmem, counts)[0]

    def _fine_conflicts(
        self, nodes: np.ndarray, dcpu: np.ndarray, dmem: np.ndarray, counts: np.ndarray
    ) -> tuple[np.ndarray, bool]:
        """Fine conflicts, compiled (`kernels.fine_conflicts`), and whether there are any."""
        locked = not self._locked_zero
        if locked and self._blanket is not None:
            self._settle()
        bad = np.empty(len(nodes), dtype=bool)
        anything = self._kernels.fine_conflicts(
            nodes,
            dcpu,
            dmem,
            counts,
            self.cap_cpu,
            self.cap_mem,
            self.used_cpu,
            self.used_mem,
            self._locked_cpu,
            self._locked_mem,
            locked,
            self.density,
            self.instances,
            self.density_limited,
            self.up,
            self._ever_down,
            bad,
        )
        return bad, bool(anything)

    def apply(
        self,
        now: float,
        nodes: np.ndarray,
        counts: np.ndarray,
        dcpu: np.ndarray,
        dmem: np.ndarray,
        sums: tuple[float, float] | None = None,
        written: bool = False,
    ) -> tuple[float, float]:
        """Start claims (`nodes` distinct); returns the CPU and memory they add, which
        `release` may be given back (`sums`) to spare adding them up again. `written`: the
        cell's arrays have them already (`place_fine`), only the rest is left to do."""
        if sums is None:
            sums = (float(np.add.reduce(dcpu)), float(np.add.reduce(dmem)))
        self._advance(now)
        self._levels[0] += sums[0]
        self._levels[1] += sums[1]
        if written:
            self._touch(nodes)
            return sums
        self._kernels.add_claims(
            nodes,
            counts,
            dcpu,
            dmem,
            True,
            self.used_cpu,
            self.used_mem,
            self.instances,
            self.density_limited,
            self.seq,
            self.sequence_numbers,
        )
        self._touch(nodes)
        return sums

    def release(
        self,
        now: float,
        nodes: np.ndarray,
        counts: np.ndarray,
        dcpu: np.ndarray,
        dmem: np.ndarray,
        sums: tuple[float, float] | None = None,
    ) -> None:
        if sums is None:
            sums = (float(np.add.reduce(dcpu)), float(np.add.reduce(dmem)))
        self._advance(now)
        self._levels[0] += -sums[0]
        self._levels[1] += -sums[1]
        if self._plain_release:
            self._kernels.release_plain(nodes, dcpu, dmem, self.used_cpu, self.used_mem)
            self._touch(nodes)
            return
        self._kernels.add_claims(
            nodes,
            counts,
            dcpu,
            dmem,
            False,
            self.used_cpu,
            self.used_mem,
            self.instances,
            self.density_limited,
            self.seq,
            self.sequence_numbers,
        )
        self._touch(nodes)

    def lock(
        self,
        now: float,
        cpu: np.ndarray,
        mem: np.ndarray,
        sign: float = 1.0,
        cpu_sum: float | None = None,
    ) -> None:
        """Hold (or, with sign −1, return) resources offered to a two-level framework
        (`cpu_sum`: what `cpu` adds up to, if the caller has it)."""
        if self._blanket is not None:
            self._settle()
        if cpu_sum is None:
            cpu_sum = float(np.add.reduce(cpu))
        if sign == 1.0:
            if self._locks == 0 and self._locked_zero:
                self._hold()
            else:
                self._held = None  # offers overlap, or the cell is not as before one
        self._locks += 1 if sign > 0 else -1
        self._shift(now, 2, sign * cpu_sum)
        # x + 1·c is x + c and x + (−1)·c is x − c: no temporary arrays for the product
        if sign == 1.0:
            self._locked_cpu += cpu
            self._locked_mem += mem
        elif sign == -1.0:
            self._locked_cpu -= cpu
            self._locked_mem -= mem
        else:
            self._locked_cpu += sign * cpu
            self._locked_mem += sign * mem
        if sign == 1.0 or self._locks:
            self._locked_zero = False
        else:
            self._locked_zero = not (
                np.logical_or.reduce(self._locked_cpu) or np.logical_or.reduce(self._locked_mem)
            )
            if self._locked_zero and self._restore():
                return
        self._invalidate()

    def _hold(self) -> None:
        """Keep the free resources and the kept slots as they are before this lock (the
        live ones get new arrays, recomputed if read while the offer is out)."""
        self._refresh()
        if self._slots_stale:
            self._fresh_slots()
        slots = {}
        spares = self._spares
        for key, shape in self._shapes.items():
            slots[key] = (shape.slots, shape.view, shape.sharers)
            if spares:  # the live slots of an earlier offer's time, not read since
                shape.slots, shape.view = spares.pop()
            else:
                shape.slots = np.empty(self.n, dtype=np.int64)
                shape.view = shape.slots.view()
                shape.view.flags.writeable = False
            shape.sharers = 0
        self._held = _Held(self._free_cpu, self._free_mem, slots)

    def _restore(self) -> bool:
        """After the return of the only offer out, with `locked` all zero again: every node
        not changed since the lock is as it was before it, so take back what was held and
        recompute only the changed nodes. False if nothing usable is held."""
        self._changes += 1
        held, self._held = self._held, None
        if held is None or held.slots.keys() != self._shapes.keys():
            return False
        self._free_cpu, self._free_mem = held.free_cpu, held.free_mem
        spares = self._spares
        for key, shape in self._shapes.items():
            if not shape.sharers and len(spares) < SHAPES:
                spares.append((shape.slots, shape.view))  # for the next `_hold`
            shape.slots, shape.view, shape.sharers = held.slots[key]
        self._stale = False
        self._slots_stale = False  # held as they were at the lock, fresh
        self._dirty = held.changed
        self._dirty_count = held.count
        for cpu, mem in self._wanted:
            self.live_slots(cpu, mem)
        self._wanted.clear()
        return True

    def offer_all(
        self, now: float, min_cpu: float
    ) -> tuple[np.ndarray, np.ndarray, float, float] | None:
        """Two-level: lock all free resources, clipped at zero, for an offer (new arrays,
        the offer's to change) and return them with their sums; None, locking nothing, if
        they come to less than `min_cpu` cores or to no memory.

        While the only offer out holds all that was free at its lock, a node not changed
        since has nothing free (f − max(f, 0) ≤ 0): only the changed nodes can add up to
        `min_cpu`. If even an upper bound of their sum is short of it, the answer is None
        without a pass over every node (the bound: the exact sum of their free CPU,
        duplicates counted again, with room for the pairwise sum's rounding, which is far
        below 1e-9 of it). Otherwise the offer is computed over every node, as always.

        An answer of None stands while nothing changes in the cell (offers over other
        offers come to nothing again and again while jobs ask every second)."""
        if self._no_offer == (self._changes, min_cpu):
            return None
        self._no_offer = (self._changes, min_cpu)  # until an offer is made, below
        held = self._held
        if held is not None and held.everything and self._locks == 1:
            if not held.changed:
                return None  # nothing free anywhere: no CPU and no memory to offer
            nodes = held.changed[0] if len(held.changed) == 1 else np.concatenate(held.changed)
            free_cpu, _ = self._free_at(nodes)
            if math.fsum(np.maximum(free_cpu, 0.0).tolist()) * (1.0 + 1e-9) < min_cpu:
                return None
        self._refresh()
        free_cpu, free_mem = self._free_cpu, self._free_mem  # `_hold` keeps them unchanged
        blanket = not self._locks and self._locked_zero
        shared = False
        if blanket and self.share_offers:
            exact = self._exact
            if exact is not None and exact[0] is free_cpu:
                shared, cpu_sum, mem_sum = True, exact[2], exact[3]
            else:
                shared, cpu_sum, mem_sum = self._kernels.exact_sums(free_cpu, free_mem)
        if shared:
            cpu, mem = free_cpu, free_mem  # max(free, 0) is free: the same numbers
        else:
            # np.maximum(free, 0.0) of each (new arrays) and np.add.reduce of those, compiled
            cpu, mem, cpu_sum, mem_sum = self._kernels.clipped_sums(free_cpu, free_mem)
        if cpu_sum < min_cpu or mem_sum <= EPS:
            return None  # too little to offer: wait for more to free up
        self._no_offer = None
        if not blanket:
            self.lock(now, cpu, mem, cpu_sum=cpu_sum)  # over another offer: node by node
            return cpu, mem, cpu_sum, mem_sum
        self._exact = None  # the arrays are the offer's now, or held unchanged
        self._hold()
        assert self._held is not None
        self._held.everything = True
        self._blanket = _Blanket(free_cpu, free_mem, cpu, mem, cpu_sum, mem_sum)
        if shared:
            self._blanket.shared = True
            self._blanket.in_free = self._blanket.takes
        self._locks = 1
        self._shift(now, 2, cpu_sum)
        self._locked_zero = False
        self._invalidate()
        return cpu, mem, cpu_sum, mem_sum

    def offer_takes(self, cpu: np.ndarray) -> tuple[Takes, bool]:
        """The list to record the takes from the offer just made (`cpu`: its CPU array) in,
        as `return_offer` is given them, and whether its arrays are shared (`_Blanket`):
        then each take is recorded before the next one, and only takes of claims on the
        grid (`claim_sums` not None) are made before `unshare_offer`."""
        blanket = self._blanket
        if blanket is not None and blanket.offer_cpu is cpu:
            return blanket.takes, blanket.shared
        return [], False

    def unshare_offer(self) -> tuple[np.ndarray, np.ndarray]:
        """New arrays for the shared offer out (`offer_takes`), copies of what is left of
        it, for its decisions to take from from now on."""
        blanket = self._blanket
        assert blanket is not None and blanket.shared
        blanket.shared = False
        blanket.in_free = list(blanket.takes)  # the takes in the free arrays: these only
        blanket.offer_cpu = blanket.free_cpu.copy()
        blanket.offer_mem = blanket.free_mem.copy()
        return blanket.offer_cpu, blanket.offer_mem

    def return_offer(
        self,
        now: float,
        cpu: np.ndarray,
        mem: np.ndarray,
        taken: Takes,
    ) -> None:
        """Two-level: an offer's answer is in; `cpu` and `mem` (what is left of it) go back.
        `taken`: the (nodes, cpu, mem) its decisions took from those arrays, in order.

        For the blanket offer (`offer_all`), if its unlocks were exactly what it took (the
        same arrays, in the same order), `locked` would come out as m − taken − (m − taken)
        = 0 at every node, bit for bit, so nothing is written; otherwise `lock(sign=−1)`."""
        blanket = self._blanket
        if (
            blanket is None
            or self._locks != 1
            or cpu is not blanket.offer_cpu
            or mem is not blanket.offer_mem
            or len(taken) != len(blanket.unlocks)
            or not all(
                a is b and c is d and e is f
                for (a, c, e), (b, d, f) in zip(taken, blanket.unlocks, strict=True)
            )
        ):
            self.lock(now, cpu, mem, sign=-1.0)
            return
        # shared, what is left adds up exactly to the offer less the unlocks: the pairwise
        # sum, with no pass (each partial sum a multiple of 2^-10 below 2^43)
        exact = blanket.shared and (
            blanket.offered_cpu + blanket.unlocked_cpu < EXACT_SUMS
            and blanket.offered_mem + blanket.unlocked_mem < EXACT_SUMS
        )
        left_cpu = blanket.offered_cpu - blanket.unlocked_cpu
        left_mem = blanket.offered_mem - blanket.unlocked_mem
        self._shift(now, 2, -(left_cpu if exact else float(np.add.reduce(cpu))))
        self._blanket = None
        self._locks = 0
        self._locked_zero = True  # `locked` was never written: still all zero
        if exact:  # if `_restore` takes the offer's arrays back as the free resources
            self._exact = (blanket.free_cpu, blanket.free_mem, left_cpu, left_mem)
        if self._restore():
            return
        self._exact = None
        self._invalidate()

    def _settle(self) -> None:
        """Write the blanket offer into `locked`: what `locked += max(free, 0)` on a cell
        with nothing locked and then each unlock would have left (0 + m is m)."""
        blanket, self._blanket = self._blanket, None
        if blanket is None:
            return
        if blanket.in_free is None:
            self._locked_cpu = np.maximum(blanket.free_cpu, 0.0)
            self._locked_mem = np.maximum(blanket.free_mem, 0.0)
        else:
            # shared: the free resources at the lock are what is in the arrays plus the
            # takes, exactly (all on the grid), and at or above +0: their own maximum with 0
            self._locked_cpu = blanket.free_cpu.copy()
            self._locked_mem = blanket.free_mem.copy()
            for nodes, cpu, mem in blanket.in_free:
                self._locked_cpu[nodes] += cpu
                self._locked_mem[nodes] += mem
        for nodes, cpu, mem in blanket.unlocks:
            self._locked_cpu[nodes] -= cpu
            self._locked_mem[nodes] -= mem

    @property
    def locked_cpu(self) -> np.ndarray:
        """CPU locked in offers per node."""
        self._settle()
        return self._locked_cpu

    @property
    def locked_mem(self) -> np.ndarray:
        """Memory locked in offers per node."""
        self._settle()
        return self._locked_mem

    def offered_slots(self, cpu: float, mem: float) -> np.ndarray | None:
        """Two-level: the slots of (cpu, mem) in the offer just made, which locked all free
        resources while no other offer was out (read-only: copy it to change it), or None
        if not known; then this shape is kept from the offer's return on.

        They are the kept slots from just before the lock: `fit_slots` of the offer, which is
        the free resources clipped at zero, equals `fit_slots` of the free resources, since
        a node without room has no slots either way."""
        held = self._held
        if held is not None and self._locks == 1:
            slots = held.slots.get((cpu, mem))
            if slots is not None:
                return slots[1]
            self._wanted.add((cpu, mem))
        return None

    def unlock(
        self,
        now: float,
        nodes: np.ndarray,
        cpu: np.ndarray,
        mem: np.ndarray,
        cpu_sum: float | None = None,
        mem_sum: float | None = None,
        touch: bool = True,
    ) -> None:
        """Return part of an offer's locked resources (distinct `nodes`), e.g. as its
        accepted tasks start (`cpu_sum`, `mem_sum`: what `cpu` and `mem` add up to, if the
        caller has them; `touch` False: the caller marks these nodes changed itself before
        anything reads the cell, as `apply` does)."""
        if cpu_sum is None:
            cpu_sum = float(np.add.reduce(cpu))
        self._shift(now, 2, -cpu_sum)
        blanket = self._blanket
        if blanket is not None:
            blanket.unlocks.append((nodes, cpu, mem))
            blanket.unlocked_cpu += cpu_sum
            if blanket.shared:
                blanket.unlocked_mem += float(np.add.reduce(mem)) if mem_sum is None else mem_sum
        else:
            self._locked_cpu[nodes] -= cpu
            self._locked_mem[nodes] -= mem
            self._locked_zero = False  # perhaps not zero any more
        if touch:
            self._touch(nodes)

    @property
    def ever_down(self) -> bool:
        """Whether any node has failed so far."""
        return self._ever_down

    def up_among(self, nodes: np.ndarray) -> np.ndarray | None:
        """Whether each of these nodes is up, or None if all are (always, before any node
        has failed)."""
        if not self._ever_down:
            return None
        up = self.up[nodes]
        return None if np.logical_and.reduce(up) else up

    def set_up(self, now: float, nodes: np.ndarray, up: bool) -> None:
        self._shift(now, 3, (-1.0 if up else 1.0) * float(self.cap_cpu[nodes].sum()))
        self.up[nodes] = up
        self._ever_down = self._ever_down or not up
        self.seq[nodes] += 1
        self._touch(nodes)
