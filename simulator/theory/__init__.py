"""Analytic queueing-theory reference values (Erlang B/C, M/M/c, M/G/1, GI/M/1, G/G/c).

Used by validation tests, notebooks and charts as ground truth for the simulator.
See :mod:`simulator.theory.queues` for formulas, conventions and references.
"""

from simulator.theory.queues import (
    QueueMetrics,
    allen_cunneen,
    ek_m1,
    erlang_b,
    erlang_c,
    gi_m1,
    little_l,
    md1,
    mg1,
    mm1,
    mmc,
    mmc_sojourn_cdf,
    mmc_sojourn_quantile,
    mmc_wait_cdf,
)

__all__ = [
    "QueueMetrics",
    "allen_cunneen",
    "ek_m1",
    "erlang_b",
    "erlang_c",
    "gi_m1",
    "little_l",
    "md1",
    "mg1",
    "mm1",
    "mmc",
    "mmc_sojourn_cdf",
    "mmc_sojourn_quantile",
    "mmc_wait_cdf",
]
