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

from ..engine.recorder import OK, PENDING, STATUSES

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


def timeseries_table(samples, services: list[str]) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Busy workers, queue length and utilisation per service at each sampling instant."""
    busy = np.frombuffer(samples.busy, dtype=np.int32)
    workers = np.frombuffer(samples.workers, dtype=np.int32)
    queued = np.frombuffer(samples.queued, dtype=np.int32)
    return pd.DataFrame(
        {
            "time": np.frombuffer(samples.time, dtype=np.float64),
            "service": pd.Categorical.from_codes(
                np.frombuffer(samples.service, dtype=np.int32), categories=services
            ),
            "busy": busy,
            "queued": queued,
            "in_system": busy + queued,
            "workers": workers,
            "utilisation": np.divide(busy, workers, out=np.zeros(len(busy)), where=workers > 0),
        }
    )
