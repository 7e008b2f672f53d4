"""The experiment engine's local worker processes: how they start, and starting them early.

Kept apart from `executor` and light to import (the standard library only), so that a
notebook can call `warm_up()` first thing, before its own imports: the fork server then
imports the simulator on the second core while the kernel imports the plotting libraries,
instead of after them, when the first runs are asked for.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import importlib
import multiprocessing
import multiprocessing.context
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

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


KEEP_IDLE_S = 60.0
"""How long a pool's workers stay after its sweep, for the next sweep to use: a notebook's
cells run their sweeps seconds apart, a student's change of a knob within a minute."""


@dataclass
class _Kept:
    pool: concurrent.futures.ProcessPoolExecutor
    jobs: int
    timer: threading.Timer


_kept: _Kept | None = None  # the idle pool, if any; taken out while a sweep uses it
_kept_lock = threading.Lock()


@contextlib.contextmanager
def workers(
    jobs: int, scheduling: bool = False
) -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    """`jobs` local worker processes for one sweep, kept for `KEEP_IDLE_S` after it for
    the next sweep of as many jobs; the workers then end.

    A new worker pays for its memory as it first touches it: the first 200,000 s M/M/4 run
    in a fresh worker took 0.72-0.88 s against 0.60 s for each later one (51,000 page
    faults against a few hundred), and forking the workers costs more per sweep. Kept
    workers run later sweeps warm; the numbers are the same (a run depends on its scenario
    and seed only, wherever it runs), and an idle worker holds the memory of its largest
    run until it ends. On an error or an interrupt the workers are stopped at once, their
    runs unfinished, and not kept."""
    pool = _borrow(jobs, scheduling)
    try:
        yield pool
    except BaseException:
        for process in list(pool._processes.values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    _keep(pool, jobs)


def release_workers() -> None:
    """End the kept workers now (`workers`), rather than after `KEEP_IDLE_S`."""
    global _kept
    with _kept_lock:
        kept, _kept = _kept, None
    if kept is not None:
        kept.timer.cancel()
        kept.pool.shutdown(wait=True)


def _borrow(jobs: int, scheduling: bool) -> concurrent.futures.ProcessPoolExecutor:
    global _kept
    with _kept_lock:
        kept, _kept = _kept, None
    if kept is not None:
        kept.timer.cancel()
        if kept.jobs == jobs and not kept.pool._broken:
            return kept.pool
        kept.pool.shutdown(wait=False)
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=context(scheduling), initializer=worker_memory
    )


def _keep(pool: concurrent.futures.ProcessPoolExecutor, jobs: int) -> None:
    global _kept
    timer = threading.Timer(KEEP_IDLE_S, _end_idle, (pool,))
    timer.daemon = True  # never holds the interpreter's exit
    with _kept_lock:
        replaced, _kept = _kept, _Kept(pool, jobs, timer)
    timer.start()
    if replaced is not None:  # another thread's sweep kept its pool meanwhile
        replaced.timer.cancel()
        replaced.pool.shutdown(wait=False)


def _end_idle(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    global _kept
    with _kept_lock:
        if _kept is None or _kept.pool is not pool:
            return  # taken by a sweep, or ended, meanwhile
        _kept = None
    pool.shutdown(wait=False)


def _forget_in_child() -> None:
    """A forked child has none of its parent's workers, only the record of them."""
    global _kept, _kept_lock
    _kept, _kept_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
