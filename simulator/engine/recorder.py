"""Flat, typed records in columnar buffers: cheap to append, one DataFrame at the end.

A request costs 33 bytes here (three float64 times, two int32 ids, one status byte), so a
million requests take about 33 MB rather than the ~500 MB of one Python object each.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PENDING = 0
OK = 1
STATUSES: tuple[str, ...] = ("pending", "ok")
"""Status codes of a request; failures (timeout, rejected, ...) are added by later models."""


class RequestLog:
    """Every request of a run, one row each, in the order they arrived."""

    def __init__(self) -> None:
        self.service = array("i")
        self.replica = array("i")
        self.arrival = array("d")
        self.start = array("d")
        self.end = array("d")
        self.status = array("b")

    def __len__(self) -> int:
        return len(self.arrival)

    def columns(self) -> dict[str, np.ndarray]:
        """Zero-copy numpy views of the buffers."""
        return {
            "service": np.frombuffer(self.service, dtype=np.int32),
            "replica": np.frombuffer(self.replica, dtype=np.int32),
            "arrival": np.frombuffer(self.arrival, dtype=np.float64),
            "start": np.frombuffer(self.start, dtype=np.float64),
            "end": np.frombuffer(self.end, dtype=np.float64),
            "status": np.frombuffer(self.status, dtype=np.int8),
        }

    def nbytes(self) -> int:
        buffers = (self.service, self.replica, self.arrival, self.start, self.end, self.status)
        return sum(b.itemsize * len(b) for b in buffers)


@dataclass
class EventLog:
    """The decision log: why things happened, in the words of the component that decided."""

    rows: list[tuple[float, str, str, str]] = field(default_factory=list)

    def record(self, time: float, component: str, kind: str, detail: str = "") -> None:
        self.rows.append((time, component, kind, detail))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["time", "component", "kind", "detail"])


@dataclass
class Samples:
    """State sampled at a fixed interval: busy workers and queue length per service."""

    time: array = field(default_factory=lambda: array("d"))
    service: array = field(default_factory=lambda: array("i"))
    busy: array = field(default_factory=lambda: array("i"))
    queued: array = field(default_factory=lambda: array("i"))
    workers: array = field(default_factory=lambda: array("i"))

    def record(self, time: float, service: int, busy: int, queued: int, workers: int) -> None:
        self.time.append(time)
        self.service.append(service)
        self.busy.append(busy)
        self.queued.append(queued)
        self.workers.append(workers)
