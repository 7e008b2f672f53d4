"""Experiments that run many scenarios: the eras side by side, and the growth sweep.

`warm_up()` starts the experiment engine's worker processes' fork server early (see
`pool.warm_up`); `remember_runs()` opens the engine's memory of finished runs, so that a
run asked for again in the session is not run twice (see `memo`). Importing them loads
nothing but the standard library.
"""

from .memo import remember_runs
from .pool import warm_up

__all__ = ["remember_runs", "warm_up"]
