"""The experiment engine's local worker processes: how they start, and starting them early.

Kept apart from `executor` and light to import (the standard library only), so that a
notebook can call `warm_up()` first thing, before its own imports: the fork server then
imports the simulator on the second core while the kernel imports the plotting libraries,
instead of after them, when the first runs are asked for.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context

PRELOAD = "simulator.experiments.preload"
"""What the fork server imports before it forks any worker: the run and everything a
request-level run imports at its first call (see that module)."""

SCHEDULING_PRELOAD = "simulator.model.scheduling.warm"
"""And, when the first sweep that starts it has scheduling runs: the scheduler model's
compiled kernels, loaded (numba's import and each kernel's cached machine code, about 0.4 s
a worker otherwise)."""


def context(scheduling: bool = False) -> multiprocessing.context.BaseContext:
    """Fresh workers that start with the simulator already imported: a fork server with
    it preloaded where there is one (Linux), else spawned interpreters. The fork server is
    started once per process, by the first pool (or `warm_up`), and serves every pool after
    it (a notebook's sweeps), so what it preloads is settled by the first (`scheduling`:
    that one has scheduling runs); a later call changes nothing."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        forking = multiprocessing.get_context("forkserver")
        forking.set_forkserver_preload([PRELOAD, SCHEDULING_PRELOAD] if scheduling else [PRELOAD])
        return forking
    return multiprocessing.get_context("spawn")


def warm_up(scheduling: bool = False) -> bool:
    """Start the fork server of the local worker processes now, and return at once.

    The fork server imports the simulator (and, with `scheduling`, the scheduler model's
    compiled kernels) in its own process, in the background; the first runs with `jobs` ≥ 2
    then fork their workers from it without waiting for that import (one to a few seconds).
    A notebook calls this at the top of its setup cell, so the import overlaps the kernel's
    own on a second core. It changes no number: the workers are the ones the first pool
    would have started. Returns whether a fork server was started or already running
    (False where there is none: spawned workers, as on macOS and Windows, import the
    simulator each, and there is nothing to start early)."""
    forking = context(scheduling)
    if forking.get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return True
