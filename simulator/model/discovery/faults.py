"""What a request meets at a station when something is stale, drifted or unauthorized.

A station's `faults` is None in the common case, so the hot path pays one attribute test.
When a discovery, configuration or secrets model has something to say about a station, it
attaches a `StationFaults`, and `Visit.begin` asks it, before admission, whether this visit
fails and after how long.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from ...engine.recorder import MISCONFIGURED, STALE_ENDPOINT, UNAUTHORIZED


class Replicas(Protocol):
    """What faults need of their station (`services.Station`, which holds them): how many
    replicas serve now. A protocol, so that stations and faults do not import each other."""

    replicas: int


class StaleEndpoint:
    """A replica that is gone, which clients keep routing to until they learn of it."""

    __slots__ = ("delay", "gone", "learned", "until")

    def __init__(self, gone: float, learned: np.ndarray, delay: float) -> None:
        self.gone = gone
        self.learned = learned  # per client: when it drops the address
        self.until = float(learned.max()) if learned.size else gone
        self.delay = delay  # how long a request to it hangs before it fails


class StationFaults:
    """Stale endpoints, drifted hosts and refused credentials of one station."""

    def __init__(self, station: Replicas, uniform: Callable[[], float], warmup: float) -> None:
        self.station = station
        self.uniform = uniform
        self.warmup = warmup
        self.stale: list[StaleEndpoint] = []
        self.drifted = 0  # replicas currently off their intended configuration
        self.drift_failure_share = 0.0
        self.unauthorized: list[tuple[float, float]] = []  # [start, end) windows
        self.stale_errors = 0
        self.stale_seconds = 0.0

    def check(self, now: float) -> tuple[int, float] | None:
        """None if the visit goes ahead; else (status, seconds until the caller hears)."""
        if self.unauthorized:
            for start, end in self.unauthorized:
                if start <= now < end:
                    return UNAUTHORIZED, 0.0
        if self.stale:
            failed = self._stale(now)
            if failed is not None:
                return failed
        if self.drifted and self.uniform() * self.station.replicas < (
            self.drifted * self.drift_failure_share
        ):
            return MISCONFIGURED, 0.0
        return None

    def _stale(self, now: float) -> tuple[int, float] | None:
        self.stale = [entry for entry in self.stale if entry.until > now]
        if not self.stale:
            return None
        uniform = self.uniform
        believed: list[StaleEndpoint] = []
        u = uniform()  # which client routes this request
        for entry in self.stale:
            client = min(int(u * entry.learned.size), entry.learned.size - 1)
            if entry.gone <= now < entry.learned[client]:
                believed.append(entry)
        if not believed:
            return None
        # The client spreads over every address it believes in: the live replicas and the
        # dead ones it has not yet dropped.
        live = self.station.replicas
        if uniform() * (live + len(believed)) >= len(believed):
            return None
        entry = believed[min(int(uniform() * len(believed)), len(believed) - 1)]
        if now >= self.warmup:
            self.stale_errors += 1
            self.stale_seconds += entry.delay
        return STALE_ENDPOINT, entry.delay
