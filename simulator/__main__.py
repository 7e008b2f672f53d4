"""`python -m simulator` is the `sresim` command (and `entry` is the `sresim` script).

The libraries take about half a second to load; Ctrl-C or SIGTERM meanwhile ends with one
line and the usual status (130, 143), as it does later in `cli.main`.
"""

from __future__ import annotations

import signal
import sys
from typing import Any


def _terminated_while_loading(signum: int, frame: Any) -> None:
    print("sresim: terminated (SIGTERM)", file=sys.stderr)
    raise SystemExit(143)


def entry() -> int:
    """Load the command, then run it: its exit status."""
    try:
        previous = signal.signal(signal.SIGTERM, _terminated_while_loading)
    except ValueError:  # not the main thread
        previous = None
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("sresim: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return main()


if __name__ == "__main__":
    raise SystemExit(entry())
