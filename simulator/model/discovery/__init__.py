"""Service discovery, configuration drift and secrets: how change reaches the clients.

`gossip` and `propagation` are pure functions of their inputs and a random generator (each
endpoint change in, per-client "learns at" times out); `faults` is what the request hot path
consults, only on stations that have something stale, drifted or unauthorized; `model`,
`configuration` and `secrets` are the three `Subsystem`s the registry builds on a run's
context (`simulator/subsystems/discovery.py`), emitting `records.discovery` rows that
`metrics.discovery` turns into KPIs and tables.
"""

from .gossip import (
    anti_entropy_interval,
    epidemic_rounds,
    gossip_spread,
    push_pull_interval,
    retransmit_limit,
    suspicion_timeout,
)
from .propagation import Propagation, convergence_time

__all__ = [
    "Propagation",
    "anti_entropy_interval",
    "convergence_time",
    "epidemic_rounds",
    "gossip_spread",
    "push_pull_interval",
    "retransmit_limit",
    "suspicion_timeout",
]
