"""The experiment engine's memory of the runs it finished in this session.

    from simulator.experiments import remember_runs
    remember_runs()            # from here on, in this process (a notebook's kernel)
    with remember_runs(): ...  # or only within the block

While a memory is open, `executor.execute` remembers the summary of every run it does that
asks for nothing but the summary (no tables, no kept Result), under the run's identity, and
hands it back to a later task of the same identity instead of running it again: a notebook
whose second sweep asks for runs its first one did (notebook 03's decision-time sweep at
0.1 s repeats the four runs of its first table) runs them once.

Why that changes no number: a run's outcome depends on nothing but its scenario (every
setting and the data it reads from files) and its seed, with the package's code (random
streams by name; the same bits on any backend and any number of workers). The identity
is the run store's key (`executor.run_key`: the resolved scenario's content, its private
data, the seed and the package version), together with the function that does the run and
the task's limits (which may refuse a run), so two tasks share an entry only when they are
the same run; the summary handed back is a copy of the one the first run sent. Within a
process the code does not change under a memory (a test that patches the model runs
outside one, or opens its own).

What it keeps is small: the summaries only (about a hundred numbers a run), never tables or
Results, and at most `MEMO_RUNS` of them, the least recently used dropped first. A task that
asks for tables or for the whole Result is always run (and not remembered: its summary is
remembered only from a summary-only task, so an entry is exactly what such a task got).

Kept apart from `executor` and light to import (the standard library only), like
`pool.warm_up`, so that a notebook's first cell can open it before its heavy imports.
`eras.shared_runs` is the same idea for the era runs' whole Results, scoped to a block
(the site's presenters' page).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from types import TracebackType
from typing import Any

MEMO_RUNS = 1024
"""Most summaries one memory keeps (about 10 KB each: some 10 MB at most)."""


class RunMemo:
    """The summaries of finished runs, by identity (see the module's docstring); open from
    `remember_runs()` until `close()` or the end of its `with` block."""

    def __init__(self, size: int = MEMO_RUNS) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"expected a whole number of runs ≥ 1, got {size!r}")
        self.size = size
        self.hits = 0
        self._runs: OrderedDict[Hashable, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, key: Hashable) -> Any | None:
        """The entry of `key`, or None (a hit counts, and keeps the entry longest)."""
        entry = self._runs.get(key)
        if entry is not None:
            self._runs.move_to_end(key)
            self.hits += 1
        return entry

    def put(self, key: Hashable, entry: Any) -> None:
        """Remember `entry` under `key`, dropping the least recently used beyond `size`."""
        self._runs[key] = entry
        self._runs.move_to_end(key)
        while len(self._runs) > self.size:
            self._runs.popitem(last=False)

    def close(self) -> None:
        """Stop remembering (and forget what was kept); closing twice is harmless."""
        if self in _OPEN:
            _OPEN.remove(self)
        self._runs.clear()

    def __enter__(self) -> RunMemo:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


_OPEN: list[RunMemo] = []
"""The open memories; the engine uses the innermost (the last opened)."""


def remember_runs(size: int = MEMO_RUNS) -> RunMemo:
    """Open a memory of finished runs for this process and return it: until it is closed
    (`close()`, or the end of a `with remember_runs():` block), a run asked for again,
    summary only, is handed back instead of run again, with the same numbers bit for bit
    (see the module's docstring for why)."""
    memo = RunMemo(size)
    _OPEN.append(memo)
    return memo


def current() -> RunMemo | None:
    """The memory the engine uses now: the innermost open one, or None."""
    return _OPEN[-1] if _OPEN else None
