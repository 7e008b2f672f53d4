"""Experiments that run many scenarios: the eras side by side, and the growth sweep.

`warm_up()` starts the experiment engine's worker processes' fork server early (see
`pool.warm_up`); importing it loads nothing but the standard library.
"""

from .pool import warm_up

__all__ = ["warm_up"]
