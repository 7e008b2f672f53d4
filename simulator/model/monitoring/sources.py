"""Where monitoring's samples come from, in each fidelity: what finished in one scrape
interval, per entry point and per service.

At request level (`RequestSli`) a scrape reads what was appended to the request and span
logs since the last one (an index into each append-only log; numpy over the new slice, no
per-request Python work) and the stations' time integrals. At the analytic fidelity
(`simulator.analytic.sli.AnalyticSli`) the same numbers are expectations integrated over
the time steps. Monitoring (`model.MonitoringModel`) evaluates its rules on either.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...engine import RequestLog, SpanLog
from ...engine.recorder import OK
from ..context import Scrape
from ..services import Station


class RequestSli:
    """Samples read from the request-level logs and stations (an `SliSource`)."""

    expected_counts = False

    def __init__(
        self,
        stations: list[Station],
        requests: RequestLog,
        spans: SpanLog,
        services: int,
        slo_latency: float,
        add_by_hand: Callable[[int, int], int] | None = None,
    ) -> None:
        self.stations = stations
        self.add_by_hand = add_by_hand
        self.request_log = requests
        self.span_log = spans
        self.services = services
        self.slo_latency = slo_latency
        self._read = 0
        self._span_low = 0
        self._busy_seen = np.zeros(len(stations))
        self._capacity_seen = np.zeros(len(stations))

    @property
    def station_names(self) -> list[str]:
        return [station.name for station in self.stations]

    def add_replicas(self, station: int, count: int) -> int:
        if self.add_by_hand is not None:  # the World places and bills them
            return self.add_by_hand(station, count)
        target = self.stations[station]
        for _ in range(count):
            target.add_replica()
        return target.replicas

    def scrape(self, start: float, now: float) -> Scrape:
        totals, bads, first_bad = self._read_requests()
        visits, failed = self._read_spans(start)
        busy = np.empty(len(self.stations))
        capacity = np.empty(len(self.stations))
        for i, station in enumerate(self.stations):
            station.touch(now)
            busy[i] = station.busy_area - self._busy_seen[i]
            capacity[i] = station.capacity_area - self._capacity_seen[i]
            self._busy_seen[i], self._capacity_seen[i] = station.busy_area, station.capacity_area
        replicas = np.array([station.replicas for station in self.stations])
        return Scrape(totals, bads, first_bad, visits, failed, busy, capacity, replicas)

    def _read_requests(self) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
        """Requests finished since the last scrape (the request log is appended to when a
        request ends): per entry point, how many and how many were bad, and the end of the
        first bad one."""
        log = self.request_log
        low, high = self._read, len(log)
        self._read = high
        size = self.services
        if high == low:
            return np.zeros(size, np.int64), np.zeros(size, np.int64), {}
        service = np.frombuffer(log.service[low:high], dtype=np.int32)
        arrival = np.frombuffer(log.arrival[low:high], dtype=np.float64)
        end = np.frombuffer(log.end[low:high], dtype=np.float64)
        status = np.frombuffer(log.status[low:high], dtype=np.int8)
        bad = (status != OK) | (end - arrival > self.slo_latency)
        totals = np.bincount(service, minlength=size)
        bads = np.bincount(service[bad], minlength=size)
        first: dict[int, float] = {}
        if bads.any():
            for entry in np.flatnonzero(bads):
                first[int(entry)] = float(end[bad & (service == entry)].min())
        return totals, bads, first

    def _read_spans(self, since: float) -> tuple[np.ndarray, np.ndarray]:
        """Visits that finished after `since`, per station, and how many failed. Spans are
        appended when a visit is sent and finished later, so the slice starts at the oldest
        visit still unfinished at the last scrape."""
        log = self.span_log
        low, high = self._span_low, len(log)
        size = len(self.stations)
        if high == low:
            return np.zeros(size, np.int64), np.zeros(size, np.int64)
        end = np.frombuffer(log.end[low:high], dtype=np.float64)
        done = ~np.isnan(end)
        new = done & (end > since)
        service = np.frombuffer(log.service[low:high], dtype=np.int32)[new]
        failed = np.frombuffer(log.status[low:high], dtype=np.int8)[new] != OK
        unfinished = np.flatnonzero(~done)
        self._span_low = low + int(unfinished[0]) if unfinished.size else high
        return (
            np.bincount(service, minlength=size),
            np.bincount(service[failed], minlength=size),
        )
