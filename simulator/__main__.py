"""`python -m simulator` is the `sresim` command (and `entry` is the `sresim` script).

The libraries take about half a second to load; Ctrl-C or SIGTERM meanwhile ends with one
line and the usual status (130, 143), as it does later in `cli.main`.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

WHILE_LOADING = {
    signal.SIGINT: (130, "interrupted"),
    signal.SIGTERM: (143, "terminated (SIGTERM)"),
}
"""What a signal that arrives while the libraries load ends the command with."""


def own_process() -> None:
    """What the command sets for the process it runs in, before numpy loads (a user's own
    setting kept): numpy's large arrays on ordinary pages (`NUMPY_MADVISE_HUGEPAGE=0`).

    numpy asks the kernel for huge pages for every array of 4 MiB or more; where a fault of
    one is dear, as on this project's virtual machine, that costs more than it saves: an
    M/M/4 run of 200,000 s took 1.1-1.5 s of system time with them, 0.3-0.4 s without, the
    same peak memory (docs/performance.md, session 16). The pool's workers do the same
    (`experiments.pool.worker_memory`); a process that imports the simulator as a library
    (a notebook) is left as it is. Children the command starts (workers, kernels) inherit
    the setting."""
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")


def entry() -> int:
    """Load the command, then run it: its exit status.

    A signal that arrives while the libraries load is noted, not raised: an exception raised
    inside a C extension's import comes out as that library's ImportError (numpy's "Importing
    the numpy C-extensions failed"), not as the Ctrl-C it was. The load goes on to its end,
    under a second, and the command then stops with its one line."""
    own_process()
    received: list[int] = []

    def note(signum: int, frame: Any) -> None:
        received.append(signum)

    previous: dict[signal.Signals, Any] = {}
    try:
        for caught in WHILE_LOADING:
            previous[caught] = signal.signal(caught, note)
    except ValueError:  # not the main thread: signals are not ours to handle
        pass
    try:
        from .cli import main
    finally:
        for caught, handler in previous.items():
            signal.signal(caught, handler)
    if received:
        status, what = WHILE_LOADING[signal.Signals(received[0])]
        print(f"sresim: {what}", file=sys.stderr)
        return status
    return main()


if __name__ == "__main__":
    raise SystemExit(entry())
