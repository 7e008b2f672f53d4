"""The one shared model of cell state that every scheduler architecture works on.

Per node: capacity, what running tasks use, what a two-level offer holds locked, whether it
is up, how many instances it runs, and a sequence number that changes whenever the node's
state does. Schedulers differ only in how they see this state (live, a private copy, or an
offer) and how they commit to it (`conflicts` and `apply`), as in the Omega simulator's
CellState with its claim deltas.

Time integrals (CPU and memory in use, locked, and capacity down) are kept exactly from the
end of warm-up on, so utilisation needs no sampling.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .placement import EPS, fit_slots

NO_LIMIT = 1 << 30


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
        self.locked_cpu = np.zeros(n)
        self.locked_mem = np.zeros(n)
        self.instances = np.zeros(n, dtype=np.int64)
        self.up = np.ones(n, dtype=bool)
        self.seq = np.zeros(n, dtype=np.int64)
        self.total_cpu = float(self.cap_cpu.sum())
        self.total_mem = float(self.cap_mem.sum())
        self.warmup = warmup
        self._last = warmup
        self._levels = np.zeros(4)  # used cpu, used mem, locked cpu, down cpu
        self.areas = np.zeros(4)

    # -- time integrals ------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        if now > self._last:
            self.areas += self._levels * (now - self._last)
            self._last = now

    def _shift(self, now: float, index: int, amount: float) -> None:
        self._advance(now)
        self._levels[index] += amount

    def finish(self, horizon: float) -> np.ndarray:
        """Integrals of (used cpu, used memory, locked cpu, down cpu) over [warmup, horizon]."""
        self._advance(horizon)
        return self.areas.copy()

    # -- views ---------------------------------------------------------------------------
    def free(self) -> tuple[np.ndarray, np.ndarray]:
        """Free CPU and memory per node, as a scheduler would see them now."""
        cpu = np.where(self.up, self.cap_cpu - self.used_cpu - self.locked_cpu, 0.0)
        mem = np.where(self.up, self.cap_mem - self.used_mem - self.locked_mem, 0.0)
        return cpu, mem

    def slots(
        self, free_cpu: np.ndarray, free_mem: np.ndarray, cpu: float, mem: float, one: bool
    ) -> np.ndarray:
        """How many tasks of (cpu, mem) fit per node in the given free resources."""
        return fit_slots(
            free_cpu,
            free_mem,
            cpu + self.overhead_cpu,
            mem + self.overhead_mem,
            self.density - self.instances,
            one,
        )

    def deltas(
        self, nodes: np.ndarray, counts: np.ndarray, cpu: float, mem: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The claim deltas: what `counts` tasks cost on `nodes`, overheads included."""
        return (
            counts * (cpu + self.overhead_cpu[nodes]),
            counts * (mem + self.overhead_mem[nodes]),
        )

    # -- commits -------------------------------------------------------------------------
    def conflicts(
        self,
        nodes: np.ndarray,
        dcpu: np.ndarray,
        dmem: np.ndarray,
        counts: np.ndarray,
        seen_seq: np.ndarray,
        mode: Literal["fine", "coarse"],
    ) -> np.ndarray:
        """True where a claim can no longer be committed.

        fine: the node is down or lacks room now (resource fit). coarse: the node's sequence
        number moved since the snapshot, whatever the change was.
        """
        if mode == "coarse":
            return (self.seq[nodes] != seen_seq) | ~self.up[nodes]
        free_cpu = self.cap_cpu[nodes] - self.used_cpu[nodes] - self.locked_cpu[nodes]
        free_mem = self.cap_mem[nodes] - self.used_mem[nodes] - self.locked_mem[nodes]
        room = self.density[nodes] - self.instances[nodes]
        return ~self.up[nodes] | (free_cpu + EPS < dcpu) | (free_mem + EPS < dmem) | (room < counts)

    def apply(
        self, now: float, nodes: np.ndarray, counts: np.ndarray, dcpu: np.ndarray, dmem: np.ndarray
    ) -> None:
        self._shift(now, 0, float(dcpu.sum()))
        self._shift(now, 1, float(dmem.sum()))
        self.used_cpu[nodes] += dcpu
        self.used_mem[nodes] += dmem
        self.instances[nodes] += counts
        self.seq[nodes] += 1

    def release(
        self, now: float, nodes: np.ndarray, counts: np.ndarray, dcpu: np.ndarray, dmem: np.ndarray
    ) -> None:
        self._shift(now, 0, -float(dcpu.sum()))
        self._shift(now, 1, -float(dmem.sum()))
        self.used_cpu[nodes] -= dcpu
        self.used_mem[nodes] -= dmem
        self.instances[nodes] -= counts
        self.seq[nodes] += 1

    def lock(self, now: float, cpu: np.ndarray, mem: np.ndarray, sign: float = 1.0) -> None:
        """Hold (or, with sign −1, return) resources offered to a two-level framework."""
        self._shift(now, 2, sign * float(cpu.sum()))
        self.locked_cpu += sign * cpu
        self.locked_mem += sign * mem

    def set_up(self, now: float, nodes: np.ndarray, up: bool) -> None:
        self._shift(now, 3, (-1.0 if up else 1.0) * float(self.cap_cpu[nodes].sum()))
        self.up[nodes] = up
        self.seq[nodes] += 1
