"""External traffic: requests arriving at a service's load balancer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from simpy import Environment
from simpy.events import Event, Timeout

from ..scenario.distributions import block_stream
from ..scenario.schema import Traffic


class PoissonSource:
    """Independent arrivals at a constant rate: exponential gaps between requests.

    Each arrival schedules the next one with a callback rather than a process, which keeps
    the cost of an arrival to one SimPy event.
    """

    def __init__(
        self,
        env: Environment,
        spec: Traffic,
        arrive: Callable[[], None],
        rng: np.random.Generator,
    ) -> None:
        self.env = env
        self._arrive = arrive
        mean_gap = 1.0 / spec.rate
        self._gap = block_stream(lambda size: rng.exponential(mean_gap, size))
        self._schedule()

    def _schedule(self) -> None:
        Timeout(self.env, self._gap()).callbacks.append(self._on_arrival)

    def _on_arrival(self, _event: Event) -> None:
        self._schedule()
        self._arrive()
