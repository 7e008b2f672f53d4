"""Vectorised data preparation for the charts: no drawing here, so it is easy to test.

A run can log a million requests, so nothing in this module loops over rows; at most it
loops over services.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .theme import PALETTE

if TYPE_CHECKING:
    from ..results import Result

MAX_POINTS = 2000
"""At most this many points per line: more than a slide can show, and fast to draw."""

TIME_UNITS: tuple[tuple[str, float, float], ...] = (
    # (unit, seconds per unit, shortest horizon that uses it)
    ("d", 86400.0, 3 * 86400.0),
    ("h", 3600.0, 3 * 3600.0),
    ("min", 60.0, 10 * 60.0),
    ("s", 1.0, 0.0),
)


def service_names(result: Result) -> list[str]:
    """Services in scenario order, then any other service named in the tables."""
    names = list(result.scenario.services)
    for table in ("requests", "timeseries"):
        frame = result.tables.get(table)
        if frame is not None and "service" in frame and hasattr(frame["service"], "cat"):
            names += [str(n) for n in frame["service"].cat.categories if str(n) not in names]
    return names


def service_colours(names: list[str]) -> dict[str, str]:
    """One colour per service, the same in every chart of a run."""
    return {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(names)}


def latencies_by_service(requests: pd.DataFrame) -> dict[str, np.ndarray]:
    """Sorted latencies (end − arrival, seconds) of completed ('ok') requests, per service.

    One sort for all services: rows are ordered by service, then latency, and split.
    """
    if requests.empty:
        return {}
    ok = (requests["status"] == "ok").to_numpy(dtype=bool)
    latency = (requests["end"].to_numpy(dtype=float) - requests["arrival"].to_numpy(dtype=float))[
        ok
    ]
    service = requests["service"]
    if hasattr(service, "cat"):
        categories = [str(c) for c in service.cat.categories]
        codes = service.cat.codes.to_numpy()[ok]
    else:
        categories_index, codes_all = np.unique(service.to_numpy(dtype=str), return_inverse=True)
        categories, codes = [str(c) for c in categories_index], codes_all[ok]
    keep = np.isfinite(latency) & (codes >= 0)
    latency, codes = latency[keep], codes[keep]
    order = np.lexsort((latency, codes))
    latency, codes = latency[order], codes[order]
    bounds = np.searchsorted(codes, np.arange(len(categories) + 1))
    return {
        name: latency[bounds[i] : bounds[i + 1]]
        for i, name in enumerate(categories)
        if bounds[i + 1] > bounds[i]
    }


def ecdf_points(values: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """The empirical CDF of sorted `values` as (x, F(x)) steps, thinned to ≤ `max_points`.

    Thinning keeps half the points evenly spread over ranks and a quarter packed
    geometrically into each tail, so p99 and beyond keep their shape, as does the low end
    on a log axis. Point i is (values[i], (i + 1) / n), to be drawn with steps-post.
    """
    n = values.size
    if n == 0:
        return np.empty(0), np.empty(0)
    if n <= max_points:
        index = np.arange(n)
    else:
        even = np.linspace(0, n - 1, max_points // 2)
        tail = np.geomspace(1, n, max_points // 4)
        index = np.unique(np.concatenate([even, tail - 1, n - tail, [0, n - 1]]).astype(np.int64))
    return values[index], (index + 1) / n


def spread_is_large(values: list[np.ndarray], ratio: float = 100.0) -> bool:
    """True when the p99 / p1 latency ratio exceeds `ratio`: a log axis shows it better."""
    pooled = [v for v in values if v.size]
    if not pooled:
        return False
    low = min(float(np.percentile(v, 1)) for v in pooled)
    high = max(float(np.percentile(v, 99)) for v in pooled)
    return low > 0 and high / low > ratio


def time_unit(horizon: float) -> tuple[str, float]:
    """The unit for a time axis (s, min, h or d) and its length in seconds."""
    for unit, seconds, shortest in TIME_UNITS:
        if horizon >= shortest:
            return unit, seconds
    return "s", 1.0


def downsample_mean(
    time: np.ndarray, value: np.ndarray, max_points: int = MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """Average consecutive samples in equal groups so that at most `max_points` remain."""
    n = time.size
    if n <= max_points:
        return time, value.astype(float)
    size = math.ceil(n / max_points)
    starts = np.arange(0, n, size)
    counts = np.diff(np.append(starts, n))
    return (
        np.add.reduceat(time, starts) / counts,
        np.add.reduceat(value.astype(float), starts) / counts,
    )


def moving_average(value: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average; the ends average over the samples that exist."""
    if window <= 1 or value.size == 0:
        return value.astype(float)
    return (
        pd.Series(value, dtype=float).rolling(window, center=True, min_periods=1).mean().to_numpy()
    )


def format_seconds(seconds: float) -> str:
    """A duration for a label: '850 µs', '12.5 ms', '2.50 s', '3.2 min', '1.5 h'."""
    if not math.isfinite(seconds):
        return "–"
    magnitude = abs(seconds)
    if magnitude == 0:
        return "0 s"
    for limit, scale, unit in (
        (1e-3, 1e6, "µs"),
        (1.0, 1e3, "ms"),
        (60.0, 1.0, "s"),
        (3600.0, 1 / 60, "min"),
        (86400.0, 1 / 3600, "h"),
    ):
        if magnitude < limit:
            return f"{_three_digits(seconds * scale)} {unit}"
    return f"{_three_digits(seconds / 86400)} d"


def _three_digits(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
