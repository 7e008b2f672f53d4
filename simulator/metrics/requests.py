"""Request KPIs and tables, computed from the columnar logs after a run.

Measurement rule: an end-to-end request counts if its client sent it after the warm-up and
had its final answer before the horizon; requests still running at the horizon are left out
of latency figures (they have no end). Utilisation and the time-average queue lengths come
from the stations' time integrals over [warmup, horizon], so they include work on requests
that arrived earlier or are still running.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..engine.recorder import OK, PENDING, STATUS_CODE, STATUSES, Samples
from .columns import COLUMNS, FAILURE_CAUSES, frame

if TYPE_CHECKING:
    import pandas as pd

LATENCY_PERCENTILES = {
    "latency_p50_s": 50,
    "latency_p95_s": 95,
    "latency_p99_s": 99,
    "latency_p999_s": 99.9,
}

KPI_DESCRIPTIONS: dict[str, str] = {
    "requests_completed": "end-to-end requests sent after warm-up that succeeded",
    "requests_failed": "end-to-end requests sent after warm-up that failed",
    "throughput_rps": "successful requests per second of measured time",
    "wait_mean_s": "mean time from sending to start of service at the entry service only, "
    "successful requests (not the waits at the services it calls)",
    "wait_total_mean_s": "mean queueing wait summed over every visit of a request (every "
    "service, every attempt), successful requests",
    "p_wait": "share of successful requests that waited at all",
    "latency_mean_s": "mean end-to-end time from sending to answer, successful requests",
    "latency_p50_s": "median latency",
    "latency_p95_s": "95th percentile of latency",
    "latency_p99_s": "99th percentile of latency",
    "latency_p999_s": "99.9th percentile of latency",
    "availability": "share of finished requests that succeeded",
    "error_rate_timeout": "share of finished requests that failed by timeout",
    "error_rate_rejected": "share of finished requests rejected by a full queue",
    "error_rate_circuit_open": "share of finished requests failed by an open circuit breaker",
    "error_rate_stale_endpoint": "share of finished requests failed by a stale endpoint",
    "error_rate_misconfigured": "share of finished requests failed by a drifted host",
    "error_rate_unauthorized": "share of finished requests refused for a bad credential",
    "error_rate_defect": "share of finished requests failed by a bad version of a service",
    "error_rate_unavailable": "share of finished requests refused: no replica was serving",
    "slo_attainment": "share of finished requests that succeeded within the SLO latency",
    "attempts_mean": "mean attempts per request at the entry points (1 = no retries)",
    "utilisation": "busy worker time over available worker time, all services",
    "queue_length_mean": "time-average number of work steps waiting for a worker",
    "in_system_mean": "time-average number of visits in progress, summed over services",
}


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def _percentiles(values: np.ndarray) -> dict[str, float]:
    if not values.size:
        return dict.fromkeys(LATENCY_PERCENTILES, float("nan"))
    found = np.percentile(values, list(LATENCY_PERCENTILES.values()))
    return dict(zip(LATENCY_PERCENTILES, map(float, found), strict=True))


def request_kpis(
    columns: Mapping[str, np.ndarray],
    warmup: float,
    horizon: float,
    slo_latency: float | None = None,
    spans: Mapping[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """End-to-end KPIs of a set of request rows (all entry points, or one); with the span
    log of the same run, also the whole-path wait `wait_total_mean_s`."""
    arrival, start, end, status = (columns[k] for k in ("arrival", "start", "end", "status"))
    # The whole-path waits first, while none of the per-request arrays below exist: on a
    # million requests each is 8 MB, and the peak memory of a run is reached here or later.
    wait_total = None if spans is None else _mean(total_waits(spans, warmup))
    measured = arrival >= warmup
    finished = measured & (status != PENDING)
    ok = measured & (status == OK)
    sent = arrival[ok]
    wait = start[ok] - sent
    latency = end[ok] - sent
    del sent
    count = int(finished.sum())
    kpis: dict[str, float] = {
        "requests_completed": int(ok.sum()),
        "requests_failed": count - int(ok.sum()),
        "throughput_rps": float(ok.sum() / (horizon - warmup)),
        "wait_mean_s": _mean(wait),
        **({} if wait_total is None else {"wait_total_mean_s": wait_total}),
        "p_wait": _mean(wait > 0),
        "latency_mean_s": _mean(latency),
        **_percentiles(latency),
        "availability": float(ok.sum() / count) if count else float("nan"),
    }
    for cause in FAILURE_CAUSES:
        failed = int((finished & (status == STATUS_CODE[cause])).sum())
        kpis[f"error_rate_{cause}"] = failed / count if count else float("nan")
    if slo_latency is not None:
        kpis["slo_attainment"] = (
            float((latency <= slo_latency).sum() / count) if count else float("nan")
        )
    kpis["attempts_mean"] = _mean(columns["attempts"][finished].astype(float))
    return kpis


def unrecorded_request_kpis(slo_latency: float | None = None) -> dict[str, float]:
    """The request KPIs as NaN, for a run that did not record requests
    (`metrics.record.requests` false): the same keys, nothing measured."""
    empty = {
        key: np.zeros(0, dtype=float) for key in ("arrival", "start", "end", "status", "attempts")
    }
    kpis = request_kpis(empty, 0.0, 1.0, slo_latency)
    return {key: float("nan") for key in ["wait_total_mean_s", *kpis]}


def total_waits(spans: Mapping[str, np.ndarray], warmup: float) -> np.ndarray:
    """Per successful end-to-end request sent after warm-up, the queueing waits (start −
    arrival) of all its visits summed: every service and every attempt, where `wait_mean_s`
    has the entry service's only. A visit that never started (rejected, or still queued at
    the horizon) adds nothing.

    The request log has no request id, so the spans say which requests count, as
    `request_kpis` counts them: the entry spans (no parent) of a request carry its send time
    (the first attempt arrives at once: entry calls have no network) and its outcome (the
    final attempt's is the request's status). Ordered by request id.
    """
    request, parent, attempt = spans["request"], spans["parent"], spans["attempt"]
    if not request.size:
        return np.zeros(0)
    size = int(request.max()) + 1
    entry = parent == -1
    first = entry & (attempt == 0)
    sent = np.full(size, np.nan)
    sent[request[first]] = spans["arrival"][first]
    ok = np.bincount(request[entry & (spans["outcome"] == OK)], minlength=size) > 0
    counted = ok & (sent >= warmup)
    del sent, ok
    keep = counted[request]
    # NaN: never started (computed on the kept rows only, in place: the same values).
    wait = np.nan_to_num(spans["start"][keep] - spans["arrival"][keep], copy=False)
    return np.bincount(request[keep], wait, size)[counted]


class StationLike(Protocol):
    """What the tables read of a station (the model's, which metrics may not import)."""

    @property
    def name(self) -> str: ...
    @property
    def index(self) -> int: ...
    @property
    def replicas(self) -> int: ...
    @property
    def workers(self) -> int: ...
    @property
    def busy_area(self) -> float: ...
    @property
    def queued_area(self) -> float: ...
    @property
    def in_flight_area(self) -> float: ...
    @property
    def capacity_area(self) -> float: ...


def station_kpis(
    stations: Sequence[StationLike], warmup_areas: Mapping[int, tuple[float, ...]], period: float
) -> dict[str, float]:
    """Utilisation and time-average queues over [warmup, horizon] from the time integrals."""
    busy = queued = in_flight = capacity = 0.0
    for station in stations:
        busy0, queued0, in_flight0, capacity0 = warmup_areas.get(station.index, (0.0,) * 4)
        busy += station.busy_area - busy0
        queued += station.queued_area - queued0
        in_flight += station.in_flight_area - in_flight0
        capacity += station.capacity_area - capacity0
    return {
        "utilisation": busy / capacity if capacity else float("nan"),
        "queue_length_mean": queued / period,
        "in_system_mean": in_flight / period,
    }


def _categorical(codes: np.ndarray, names: Sequence[str]) -> pd.Categorical:
    # The dtype `categories=list(names)` builds (pandas-stubs take `categories` only as an Index).
    import pandas as pd

    dtype = pd.CategoricalDtype(list(names))
    return pd.Categorical.from_codes(codes.astype(np.int32), dtype=dtype)


def requests_table(
    columns: Mapping[str, np.ndarray], services: list[str], warmup: float
) -> pd.DataFrame:
    """One row per end-to-end request sent after warm-up that finished (ok or failed)."""
    import pandas as pd

    keep = columns["arrival"] >= warmup
    return pd.DataFrame(
        {
            "service": _categorical(columns["service"][keep], services),
            "replica": columns["replica"][keep],
            "arrival": columns["arrival"][keep],
            "start": columns["start"][keep],
            "end": columns["end"][keep],
            "status": _categorical(columns["status"][keep], STATUSES),
            "attempts": columns["attempts"][keep].astype(np.int16),
        },
        copy=False,  # the columns are new arrays: no second copy of a million rows
    )


_SPAN_COLUMNS = ("replica", "parent", "request", "attempt", "arrival", "start", "end", "responded")


def spans_table(
    columns: Mapping[str, np.ndarray], stations: list[str], warmup: float
) -> pd.DataFrame:
    """One row per visit of a request to a service (each attempt of each call)."""
    import pandas as pd

    keep = ~(columns["arrival"] < warmup)  # keeps NaN: sent but not arrived at the horizon
    frame = {
        "service": _categorical(columns["service"][keep], stations),
        **{name: columns[name][keep] for name in _SPAN_COLUMNS},
        "status": _categorical(columns["status"][keep], STATUSES),
        "outcome": _categorical(columns["outcome"][keep], STATUSES),
    }
    return pd.DataFrame(frame, copy=False)  # new arrays, as in `requests_table`


def services_table(
    spans: Mapping[str, np.ndarray],
    stations: Sequence[StationLike],
    warmup_areas: Mapping[int, tuple[float, ...]],
    warmup: float,
    horizon: float,
    spans_kept: bool = True,
) -> pd.DataFrame:
    """Per service, the server's view: visits, outcomes, latency at the service, utilisation.
    Without kept spans (`metrics.record.spans` false) the span-derived columns are NaN and
    only the station integrals (utilisation, queues) are measured."""
    rows = []
    period = horizon - warmup
    for station in stations:
        if not spans_kept:
            rows.append(
                {
                    **{key: float("nan") for key in COLUMNS["services", "request"]},
                    "service": station.name,
                    "replicas": station.replicas,
                    "workers": station.workers,
                    **station_kpis([station], warmup_areas, period),
                }
            )
            continue
        mine = (spans["service"] == station.index) & (spans["arrival"] >= warmup)
        status = spans["status"][mine]
        ok = status == OK
        arrival = spans["arrival"][mine][ok]
        latency = spans["end"][mine][ok] - arrival
        wait = spans["start"][mine][ok] - arrival
        finished = int((status != PENDING).sum())
        row = {
            "service": station.name,
            "replicas": station.replicas,
            "workers": station.workers,
            "visits": int(mine.sum()),
            "visits_ok": int(ok.sum()),
            **{f"visits_{c}": int((status == STATUS_CODE[c]).sum()) for c in FAILURE_CAUSES},
            "success_rate": float(ok.sum() / finished) if finished else float("nan"),
            "throughput_rps": float(ok.sum() / period),
            "wait_mean_s": _mean(wait),
            "latency_mean_s": _mean(latency),
            **_percentiles(latency),
            **station_kpis([station], warmup_areas, period),
        }
        rows.append(row)
    return frame("services", "request", rows)


def entry_points_table(
    requests: Mapping[str, np.ndarray],
    services: list[str],
    warmup: float,
    horizon: float,
    slo_latency: float | None,
) -> pd.DataFrame:
    """Per entry point, the end-to-end KPIs its clients saw."""
    import pandas as pd

    rows = []
    for index, name in enumerate(services):
        mine = requests["service"] == index
        if not mine.any():
            continue
        # One entry point (the usual case): its rows are all of them, so no copy.
        subset = requests if mine.all() else {key: values[mine] for key, values in requests.items()}
        rows.append({"entry_point": name, **request_kpis(subset, warmup, horizon, slo_latency)})
    frame = pd.DataFrame(rows)
    return frame.set_index("entry_point") if rows else frame


def timeseries_table(
    samples: Samples,
    stations: Sequence[StationLike],
    interval: float,
    horizon: float,
) -> pd.DataFrame:
    """State per service at each sampling instant, and exact averages over the interval after it.

    `busy`, `queued` and `in_flight` are what the sampler saw at `time`; `utilisation` and
    `queued_mean` are time averages over [time, time + interval), from the differences of
    the stations' time integrals, so they do not flicker on a service with few workers.
    """
    columns = {name: np.frombuffer(getattr(samples, name), dtype=dtype) for name, dtype in (
        ("time", np.float64), ("service", np.int32), ("busy", np.int32), ("queued", np.int32),
        ("in_flight", np.int32), ("workers", np.int32), ("replicas", np.int32),
        ("busy_area", np.float64),
        ("queued_area", np.float64), ("capacity_area", np.float64))}  # fmt: skip
    utilisation = np.zeros(len(columns["time"]))
    queued_mean = np.zeros(len(columns["time"]))
    for station in stations:
        rows = np.flatnonzero(columns["service"] == station.index)
        if not rows.size:
            continue
        time = columns["time"][rows]
        following = np.append(time[1:], horizon)
        width = following - time

        def change(area: str, final: float) -> np.ndarray:
            values = columns[area][rows]  # noqa: B023  (used at once, in this iteration)
            return np.append(values[1:], final) - values

        busy, capacity = (
            change("busy_area", station.busy_area),
            change("capacity_area", station.capacity_area),
        )
        queued = change("queued_area", station.queued_area)
        with np.errstate(divide="ignore", invalid="ignore"):
            utilisation[rows] = np.where(capacity > 0, busy / capacity, np.nan)
            queued_mean[rows] = np.where(width > 0, queued / width, np.nan)
    names = [station.name for station in stations]
    return frame(
        "timeseries",
        "request",
        {
            "time": columns["time"],
            "service": _categorical(columns["service"], names),
            "busy": columns["busy"],
            "queued": columns["queued"],
            "in_system": columns["in_flight"],
            "workers": columns["workers"],
            "replicas": columns["replicas"],
            "utilisation": utilisation,
            "queued_mean": queued_mean,
        },
    )
