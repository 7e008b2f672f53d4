"""Flat, typed records in columnar buffers: cheap to append, one DataFrame at the end.

An end-to-end request costs 34 bytes here and a span 51, so a million requests of one
service take under 100 MB rather than the ~500 MB of one Python object each.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

PENDING = 0
OK = 1
TIMEOUT = 2
REJECTED = 3
CIRCUIT_OPEN = 4
STALE_ENDPOINT = 5
MISCONFIGURED = 6
UNAUTHORIZED = 7
DEFECT = 8
UNAVAILABLE = 9
STATUSES: tuple[str, ...] = (
    "pending",
    "ok",
    "timeout",
    "rejected",
    "circuit_open",
    "stale_endpoint",
    "misconfigured",
    "unauthorized",
    "defect",
    "unavailable",
)
"""Status codes: `pending` is still running at the horizon; the failures are the causes a
caller sees (a callee that failed because of its own dependency passes the cause on).
`stale_endpoint`: sent to an address the client still believed in, of a replica that is gone;
`misconfigured`: failed by a host drifted from its configuration; `unauthorized`: refused
because the service's credential was revoked or expired (`model/discovery/`); `defect`:
failed by a bad version of the service's code (a share of the requests its replicas serve,
`model/rollout.py`); `unavailable`: refused because no replica was serving (the service was
down, e.g. for a manual deploy). New codes go at the end, so stored codes keep their meaning."""
STATUS_CODE = {name: code for code, name in enumerate(STATUSES)}


class _Columns:
    """Typed append-only columns; `columns()` gives zero-copy numpy views after the run."""

    SCHEMA: tuple[tuple[str, str], ...] = ()

    def __init__(self) -> None:
        for name, code in self.SCHEMA:
            setattr(self, name, array(code))

    def __len__(self) -> int:
        return len(getattr(self, self.SCHEMA[0][0]))

    def columns(self) -> dict[str, np.ndarray]:
        dtypes = {"i": np.int32, "d": np.float64, "b": np.int8}
        return {
            name: np.frombuffer(getattr(self, name), dtype=dtypes[code])
            for name, code in self.SCHEMA
        }

    def nbytes(self) -> int:
        return sum(getattr(self, name).itemsize * len(self) for name, _ in self.SCHEMA)


class RequestLog(_Columns):
    """End-to-end requests at the entry points, one row each, as their clients saw them.

    `arrival` is when the client sent the first attempt, `end` when it got its final answer
    (or gave up), `start` when the final attempt's first work began, `status` the final
    outcome and `attempts` how many tries it took.
    """

    SCHEMA = (
        ("service", "i"),
        ("replica", "i"),
        ("arrival", "d"),
        ("start", "d"),
        ("end", "d"),
        ("status", "b"),
        ("attempts", "b"),
    )
    # The columns `_Columns.__init__` makes from SCHEMA, declared for the type checker.
    service: array[int]
    replica: array[int]
    arrival: array[float]
    start: array[float]
    end: array[float]
    status: array[int]
    attempts: array[int]


class SpanLog(_Columns):
    """Every visit of a request to a service (every attempt of every call), one row each.

    The callee's view: `arrival`, `start` (first work), `end` and `status` at the service.
    The caller's view: `responded` (when it had an answer or gave up) and `outcome`.
    `parent` is the caller's span (−1 for entry points), `request` the end-to-end request.
    """

    SCHEMA = (
        ("service", "i"),
        ("replica", "i"),
        ("parent", "i"),
        ("request", "i"),
        ("attempt", "b"),
        ("arrival", "d"),
        ("start", "d"),
        ("end", "d"),
        ("responded", "d"),
        ("status", "b"),
        ("outcome", "b"),
    )
    # The columns `_Columns.__init__` makes from SCHEMA, declared for the type checker.
    service: array[int]
    replica: array[int]
    parent: array[int]
    request: array[int]
    attempt: array[int]
    arrival: array[float]
    start: array[float]
    end: array[float]
    responded: array[float]
    status: array[int]
    outcome: array[int]


@dataclass
class EventLog:
    """The decision log: why things happened, in the words of the component that decided."""

    rows: list[tuple[float, str, str, str]] = field(default_factory=list)

    def record(self, time: float, component: str, kind: str, detail: str = "") -> None:
        self.rows.append((time, component, kind, detail))

    def table(self) -> pd.DataFrame:
        """The log in time order (components may announce what they will do in advance)."""
        rows = sorted(self.rows, key=lambda row: row[0])
        return pd.DataFrame(rows, columns=["time", "component", "kind", "detail"])


class Sampled(Protocol):
    """What `Samples.record` reads of a station (`model.services.Station`; a protocol, so
    that the engine need not import the models that use it)."""

    busy: int
    queued: int
    in_flight: int
    workers: int
    replicas: int
    busy_area: float
    queued_area: float
    in_flight_area: float
    capacity_area: float

    def touch(self, now: float) -> None: ...


@dataclass
class Samples:
    """State sampled at a fixed interval per service: instantaneous counts, and running
    integrals (worker-seconds busy, request-seconds queued) whose differences give exact
    averages over each interval."""

    time: array[float] = field(default_factory=lambda: array("d"))
    service: array[int] = field(default_factory=lambda: array("i"))
    busy: array[int] = field(default_factory=lambda: array("i"))
    queued: array[int] = field(default_factory=lambda: array("i"))
    in_flight: array[int] = field(default_factory=lambda: array("i"))
    workers: array[int] = field(default_factory=lambda: array("i"))
    replicas: array[int] = field(default_factory=lambda: array("i"))
    busy_area: array[float] = field(default_factory=lambda: array("d"))
    queued_area: array[float] = field(default_factory=lambda: array("d"))
    in_flight_area: array[float] = field(default_factory=lambda: array("d"))
    capacity_area: array[float] = field(default_factory=lambda: array("d"))

    def record(self, time: float, service: int, station: Sampled) -> None:
        station.touch(time)
        self.time.append(time)
        self.service.append(service)
        self.busy.append(station.busy)
        self.queued.append(station.queued)
        self.in_flight.append(station.in_flight)
        self.workers.append(station.workers)
        self.replicas.append(station.replicas)
        self.busy_area.append(station.busy_area)
        self.queued_area.append(station.queued_area)
        self.in_flight_area.append(station.in_flight_area)
        self.capacity_area.append(station.capacity_area)
