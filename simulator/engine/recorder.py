"""Flat, typed records in columnar buffers: cheap to append, one DataFrame at the end.

An end-to-end request costs 34 bytes here and a span 51, so a million requests of one
service take under 100 MB rather than the ~500 MB of one Python object each.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
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


RequestRow = tuple[int, int, float, float, float, int, int]
"""One end-to-end request, in `RequestLog.SCHEMA`'s order."""

FLUSH_ROWS = 512
"""Rows a `RequestLog` buffers before it moves them into its columns. Few, because every
buffered row is an object the cycle collector counts: at 4,096 the rows alone triggered a
young collection every ~700 requests and promoted enough to set off a full one (all of
pandas' objects) in a run of 72,000 requests, a sixth of its time; at 512 almost none."""


class RequestLog(_Columns):
    """End-to-end requests at the entry points, one row each, as their clients saw them.

    `arrival` is when the client sent the first attempt, `end` when it got its final answer
    (or gave up), `start` when the final attempt's first work began, `status` the final
    outcome and `attempts` how many tries it took.

    A finished request is written once, as one tuple appended to `pending` (one Python call
    rather than one per column: `calls.OutgoingCall` counts `room` down and calls `flush`
    when it reaches zero); the columns are properties that flush first, so every reader
    (monitoring's scrapes during a run, the tables after it, the fast path's bulk writes)
    sees every row so far.
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

    def __init__(self) -> None:
        self._service: array[int] = array("i")
        self._replica: array[int] = array("i")
        self._arrival: array[float] = array("d")
        self._start: array[float] = array("d")
        self._end: array[float] = array("d")
        self._status: array[int] = array("b")
        self._attempts: array[int] = array("b")
        self.pending: list[RequestRow] = []
        self.room = FLUSH_ROWS  # rows `pending` takes before the writer flushes it

    def release(self) -> None:
        """Let go of every row (the log is empty afterwards): the runner calls it once the
        tables are built, so that a million rows are not held twice, as columns and as a
        table (their memory goes when the last numpy view of them does)."""
        self._service = array("i")
        self._replica = array("i")
        self._arrival = array("d")
        self._start = array("d")
        self._end = array("d")
        self._status = array("b")
        self._attempts = array("b")
        self.pending = []
        self.room = FLUSH_ROWS

    def flush(self) -> None:
        """Move the buffered rows into the columns (one `extend` per column)."""
        pending = self.pending
        if pending:
            columns: tuple[array[Any], ...] = (
                self._service,
                self._replica,
                self._arrival,
                self._start,
                self._end,
                self._status,
                self._attempts,
            )
            for column, values in zip(columns, zip(*pending, strict=True), strict=True):
                column.extend(values)
            pending.clear()
        self.room = FLUSH_ROWS

    @property
    def service(self) -> array[int]:
        self.flush()
        return self._service

    @property
    def replica(self) -> array[int]:
        self.flush()
        return self._replica

    @property
    def arrival(self) -> array[float]:
        self.flush()
        return self._arrival

    @property
    def start(self) -> array[float]:
        self.flush()
        return self._start

    @property
    def end(self) -> array[float]:
        self.flush()
        return self._end

    @property
    def status(self) -> array[int]:
        self.flush()
        return self._status

    @property
    def attempts(self) -> array[int]:
        self.flush()
        return self._attempts


SPAN_CHUNK = 4096
"""Rows a `SpanLog` adds at a time, filled with the values of a new visit's row."""


class SpanLog(_Columns):
    """Every visit of a request to a service (every attempt of every call), one row each.

    The callee's view: `arrival`, `start` (first work), `end` and `status` at the service.
    The caller's view: `responded` (when it had an answer or gave up) and `outcome`.
    `parent` is the caller's span (−1 for entry points), `request` the end-to-end request.

    The run writes a visit's fields by row as they become known, into the `live_*` columns,
    which grow `SPAN_CHUNK` rows at a time, already holding a new row's values (no replica,
    NaN times, pending), so a new visit writes only its four identifying fields
    (`calls.Runtime`) rather than appending to eleven columns. The columns by their names
    are properties that first drop the rows not handed out yet (`padding`), so readers
    during the run (monitoring, rollouts, delivery) and after it see exactly the visits so
    far, and may append to them (the fast path does).
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

    def __init__(self) -> None:
        self.live_service: array[int] = array("i")
        self.live_replica: array[int] = array("i")
        self.live_parent: array[int] = array("i")
        self.live_request: array[int] = array("i")
        self.live_attempt: array[int] = array("b")
        self.live_arrival: array[float] = array("d")
        self.live_start: array[float] = array("d")
        self.live_end: array[float] = array("d")
        self.live_responded: array[float] = array("d")
        self.live_status: array[int] = array("b")
        self.live_outcome: array[int] = array("b")
        self.rows = 0  # rows handed out (valid while `padding` is positive)
        self.padding = 0  # rows at the end of the live columns not handed out yet

    def _live(self) -> tuple[array[Any], ...]:
        return (
            self.live_service,
            self.live_replica,
            self.live_parent,
            self.live_request,
            self.live_attempt,
            self.live_arrival,
            self.live_start,
            self.live_end,
            self.live_responded,
            self.live_status,
            self.live_outcome,
        )

    def release(self) -> None:
        """Let go of every row, as `RequestLog.release` (the log is empty afterwards)."""
        for name, code in self.SCHEMA:
            setattr(self, f"live_{name}", array(code))
        self.rows = 0
        self.padding = 0

    def grow(self) -> None:
        """Add `SPAN_CHUNK` rows of a new visit's values (when `padding` is 0: the columns
        hold exactly the rows so far, some perhaps appended by a reader)."""
        self.rows = len(self.live_arrival) - self.padding
        for column, fill in zip(self._live(), _SPAN_FILL, strict=True):
            column.extend(fill)
        self.padding += SPAN_CHUNK

    def trim(self) -> None:
        """Drop the rows not handed out, so that the columns hold exactly the visits so far."""
        if self.padding:
            rows = self.rows
            for column in self._live():
                del column[rows:]
            self.padding = 0

    @property
    def service(self) -> array[int]:
        self.trim()
        return self.live_service

    @property
    def replica(self) -> array[int]:
        self.trim()
        return self.live_replica

    @property
    def parent(self) -> array[int]:
        self.trim()
        return self.live_parent

    @property
    def request(self) -> array[int]:
        self.trim()
        return self.live_request

    @property
    def attempt(self) -> array[int]:
        self.trim()
        return self.live_attempt

    @property
    def arrival(self) -> array[float]:
        self.trim()
        return self.live_arrival

    @property
    def start(self) -> array[float]:
        self.trim()
        return self.live_start

    @property
    def end(self) -> array[float]:
        self.trim()
        return self.live_end

    @property
    def responded(self) -> array[float]:
        self.trim()
        return self.live_responded

    @property
    def status(self) -> array[int]:
        self.trim()
        return self.live_status

    @property
    def outcome(self) -> array[int]:
        self.trim()
        return self.live_outcome


_SPAN_FILL: tuple[array[Any], ...] = tuple(
    array(code, [value]) * SPAN_CHUNK
    for (_, code), value in zip(
        SpanLog.SCHEMA,
        (0, -1, 0, 0, 0, math.nan, math.nan, math.nan, math.nan, PENDING, PENDING),
        strict=True,
    )
)
"""A chunk of new rows: no replica, times not yet known (NaN), status and outcome pending."""


@dataclass
class EventLog:
    """The decision log: why things happened, in the words of the component that decided."""

    rows: list[tuple[float, str, str, str]] = field(default_factory=list)

    def record(self, time: float, component: str, kind: str, detail: str = "") -> None:
        self.rows.append((time, component, kind, detail))

    def table(self) -> pd.DataFrame:
        """The log in time order (components may announce what they will do in advance)."""
        import pandas as pd

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
