"""Request KPIs and tables, computed from the columnar request log after a run.

Measurement rule: a request counts if it arrived after the warm-up and finished (completed
or failed) before the horizon. Requests still queued or in service at the horizon are left
out of latency figures (they have no end) but their busy time still counts in utilisation,
which is worker time in use over worker time available in [warmup, horizon].
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..engine.recorder import OK, PENDING, STATUSES, Samples

LATENCY_PERCENTILES = {"latency_p50_s": 50, "latency_p95_s": 95, "latency_p99_s": 99}

KPI_DESCRIPTIONS: dict[str, str] = {
    "requests_completed": "requests that arrived after warm-up and completed",
    "requests_failed": "requests that arrived after warm-up and failed",
    "throughput_rps": "completed requests per second of measured time",
    "wait_mean_s": "mean time from arrival to start of service, completed requests",
    "p_wait": "share of completed requests that waited at all",
    "latency_mean_s": "mean time from arrival to end, completed requests",
    "latency_p50_s": "median latency",
    "latency_p95_s": "95th percentile of latency",
    "latency_p99_s": "99th percentile of latency",
    "utilisation": "busy worker time over available worker time",
    "queue_length_mean": "time-average number of requests waiting",
    "in_system_mean": "time-average number of requests waiting or in service",
}


def _overlap(start: np.ndarray, end: np.ndarray, low: float, high: float) -> float:
    """Total length of the intervals [start, end] inside [low, high]; NaN end means open."""
    end = np.where(np.isnan(end), high, end)
    started = ~np.isnan(start)
    clipped = np.minimum(end[started], high) - np.maximum(start[started], low)
    return float(np.clip(clipped, 0.0, None).sum())


def request_kpis(
    columns: Mapping[str, np.ndarray], workers: int, warmup: float, horizon: float
) -> dict[str, float]:
    """The request KPIs of one set of request rows (one service, or all of them)."""
    arrival, start, end, status = (columns[k] for k in ("arrival", "start", "end", "status"))
    period = horizon - warmup
    measured = arrival >= warmup
    completed = measured & (status == OK)
    failed = measured & (status != OK) & (status != PENDING)
    wait = start[completed] - arrival[completed]
    latency = end[completed] - arrival[completed]
    kpis: dict[str, float] = {
        "requests_completed": int(completed.sum()),
        "requests_failed": int(failed.sum()),
        "throughput_rps": float(completed.sum() / period),
        "wait_mean_s": _mean(wait),
        "p_wait": _mean(wait > 0),
        "latency_mean_s": _mean(latency),
    }
    percentiles = (
        np.percentile(latency, list(LATENCY_PERCENTILES.values()))
        if latency.size
        else [float("nan")] * len(LATENCY_PERCENTILES)
    )
    kpis.update(zip(LATENCY_PERCENTILES, map(float, percentiles), strict=True))
    kpis["utilisation"] = (
        _overlap(start, end, warmup, horizon) / (workers * period) if workers else float("nan")
    )
    kpis["queue_length_mean"] = _overlap(arrival, start, warmup, horizon) / period
    kpis["in_system_mean"] = _overlap(arrival, end, warmup, horizon) / period
    return kpis


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def requests_table(columns: Mapping[str, np.ndarray], services: list[str], warmup: float):
    """One row per request that arrived after warm-up and completed or failed."""
    keep = (columns["arrival"] >= warmup) & (columns["status"] != PENDING)
    return pd.DataFrame(
        {
            "service": pd.Categorical.from_codes(columns["service"][keep], categories=services),
            "replica": columns["replica"][keep],
            "arrival": columns["arrival"][keep],
            "start": columns["start"][keep],
            "end": columns["end"][keep],
            "status": pd.Categorical.from_codes(
                columns["status"][keep].astype(np.int16), categories=list(STATUSES)
            ),
        }
    )


def services_table(
    columns: Mapping[str, np.ndarray],
    services: list[str],
    workers: list[int],
    warmup: float,
    horizon: float,
) -> pd.DataFrame:
    """The request KPIs per service, one row each, indexed by service name."""
    rows = []
    for index, (name, count) in enumerate(zip(services, workers, strict=True)):
        if len(services) == 1:
            subset = columns
        else:
            mask = columns["service"] == index
            subset = {key: values[mask] for key, values in columns.items()}
        rows.append(
            {"service": name, "workers": count, **request_kpis(subset, count, warmup, horizon)}
        )
    frame = pd.DataFrame(rows)
    return frame.set_index("service") if rows else frame


def timeseries_table(
    samples: Samples,
    services: list[str],
    columns: Mapping[str, np.ndarray],
    interval: float,
    horizon: float,
) -> pd.DataFrame:
    """State per service at each sampling instant, and averages over the interval after it.

    `busy` and `queued` are what the sampler saw at `time`; `utilisation` and
    `queued_mean` are exact time averages over [time, time + interval), computed from the
    request records, so they do not flicker between 0 and 1 on a service with few workers.
    """
    time = np.frombuffer(samples.time, dtype=np.float64)
    service = np.frombuffer(samples.service, dtype=np.int32)
    busy = np.frombuffer(samples.busy, dtype=np.int32)
    workers = np.frombuffer(samples.workers, dtype=np.int32)
    queued = np.frombuffer(samples.queued, dtype=np.int32)
    utilisation = np.zeros(len(time))
    queued_mean = np.zeros(len(time))
    for index in range(len(services)):
        rows = service == index
        mine = columns["service"] == index
        low = time[rows]
        high = np.minimum(low + interval, horizon)
        width = np.where(high > low, high - low, np.nan)
        start, end = columns["start"][mine], columns["end"][mine]
        busy_time = _time_in(start, end, high, horizon) - _time_in(start, end, low, horizon)
        # Differences of large cumulative sums: clip the rounding error (~1e-12) at the bounds.
        utilisation[rows] = np.clip(busy_time / width / np.maximum(workers[rows], 1), 0, 1)
        arrival = columns["arrival"][mine]
        wait_time = _time_in(arrival, start, high, horizon) - _time_in(arrival, start, low, horizon)
        queued_mean[rows] = np.clip(wait_time / width, 0, None)
    return pd.DataFrame(
        {
            "time": time,
            "service": pd.Categorical.from_codes(service, categories=services),
            "busy": busy,
            "queued": queued,
            "in_system": busy + queued,
            "workers": workers,
            "utilisation": utilisation,
            "queued_mean": queued_mean,
        }
    )


def _time_in(begin: np.ndarray, finish: np.ndarray, at: np.ndarray, horizon: float) -> np.ndarray:
    """For each instant in `at`: the total time that intervals [begin, finish) covered before it.

    Σ max(0, min(at, finish) − begin) = Σ_{begin<at} (at − begin) − Σ_{finish<at} (at − finish),
    evaluated with sorted arrays and cumulative sums in O((n + m) log n). NaN means the
    interval had not begun (begin) or had not finished by the horizon (finish).
    """
    begins = np.sort(begin[~np.isnan(begin)])
    finishes = np.sort(np.where(np.isnan(finish), horizon, finish)[~np.isnan(begin)])
    result = np.zeros(len(at))
    for values, sign in ((begins, 1.0), (finishes, -1.0)):
        count = np.searchsorted(values, at, side="left")
        sums = np.concatenate(([0.0], np.cumsum(values)))
        result += sign * (at * count - sums[count])
    return result
