"""External traffic: requests arriving at a service's load balancer."""

from __future__ import annotations

import math
from collections.abc import Callable
from heapq import heappush

import numpy as np
from simpy import Environment
from simpy.events import NORMAL, Event, EventCallbacks

from ..engine.rng import value_stream
from ..scenario.profiles import ReplayProfile
from ..scenario.schema import Traffic
from .profiles import RateFunction, arrival_stream, rate_function
from .services import Step


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
        self._gap = value_stream(lambda size: rng.exponential(mean_gap, size))
        self._callbacks: EventCallbacks = [self._on_arrival]
        Step(self.env, self._gap(), None, self._on_arrival)

    def _on_arrival(self, event: Event) -> None:
        # The next arrival is this event again, pushed back on SimPy's queue as `Step`
        # would push a new one (the same time, priority and event id): SimPy has taken it
        # off the queue and holds the callback list it runs, which nothing changes. (Its
        # `_delay` stays the first gap: only a work step's is read, by `Station._slowed`.)
        env = self.env
        event.callbacks = self._callbacks
        heappush(env._queue, (env._now + self._gap(), NORMAL, next(env._eid), event))
        self._arrive()


class ProfileSource:
    """A non-homogeneous Poisson process following the traffic's profile (by thinning, in
    `model.profiles`); it schedules each arrival at its absolute time."""

    def __init__(
        self,
        env: Environment,
        rate: RateFunction,
        arrive: Callable[[], None],
        rng: np.random.Generator,
        horizon: float,
    ) -> None:
        self.env = env
        self._arrive = arrive
        self._next = arrival_stream(rate, rng, horizon)
        self._schedule()

    def _schedule(self) -> None:
        at = self._next()
        if at != math.inf:
            Step(self.env, max(0.0, at - self.env._now), None, self._on_arrival)

    def _on_arrival(self, _event: Event) -> None:
        self._schedule()
        self._arrive()


def start_source(
    env: Environment,
    spec: Traffic,
    arrive: Callable[[], None],
    rng: np.random.Generator,
    horizon: float,
) -> RateFunction:
    """Start the arrivals of one entry point; returns its rate over time (for charts)."""
    rate = rate_function(spec.profile, spec.rate)
    if rate.is_constant and not isinstance(spec.profile, ReplayProfile):
        PoissonSource(env, spec, arrive, rng)  # the historical stream: same numbers as before
    else:
        ProfileSource(env, rate, arrive, rng, horizon)
    return rate
