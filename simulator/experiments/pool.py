"""The experiment engine's local worker processes: how they start, and starting them early.

Kept apart from `executor` and light to import (the standard library only), so that a
notebook can call `warm_up()` first thing, before its own imports: the fork server then
imports the simulator on the second core while the kernel imports the plotting libraries,
instead of after them, when the first runs are asked for.
"""

from __future__ import annotations

import ctypes
import importlib
import multiprocessing
import multiprocessing.context
import sys

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


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
"""glibc's `mallopt` parameters (malloc.h)."""


def worker_memory() -> None:
    """How a worker process uses memory, set as it starts (the pool's initializer); no
    number changes, only where arrays live.

    * numpy's large arrays on ordinary pages: numpy asks the kernel for huge pages
      (`madvise(MADV_HUGEPAGE)`) for every array of 4 MiB or more, and where a fault of
      one is dear (this project's machine, a virtual machine: about 1,000 huge-page faults
      were 4-6 s of system time in notebook 07's SRE × 1,000, a fifth of its CPU) that
      costs more than the huge pages save;
    * with glibc (Linux): large blocks freed stay in the process for the next allocation
      (`mallopt`: no `mmap` of its own per large block, no trim of the heap's top), so an
      analytic run of a large fleet, which makes and frees many arrays of steps ×
      stations, faults fewer pages in again. The worker keeps its peak until its pool
      ends (about 5% more resident memory there).

    Measured in docs/performance.md (session 15, helper `nb07c`). The calling process (a
    notebook's kernel, `jobs=1`) is left as it is."""
    try:
        multiarray = importlib.import_module("numpy._core.multiarray")
    except ImportError:  # numpy 1.x
        multiarray = importlib.import_module("numpy.core.multiarray")
    hugepages = getattr(multiarray, "_set_madvise_hugepage", None)
    if hugepages is not None:
        hugepages(False)
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc's, not musl's  # noqa: B018
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_MAX, 0)
    mallopt(M_TRIM_THRESHOLD, 2**31 - 1)


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
