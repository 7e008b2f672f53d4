"""End-to-end latency over time, with the traffic behind it: the chart of a spike or a
retry storm."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from .common import (
    NOTE_COLOUR,
    empty_note,
    legend_columns,
    legend_width_in,
    new_figure,
    root_figure,
    theme_if,
)
from .data import format_seconds, time_unit
from .theme import OKABE_ITO

if TYPE_CHECKING:
    from ..results import Result
    from ..scenario.schema import Scenario

BINS = 100
"""By default the measured period is cut into this many windows..."""
MIN_PER_WINDOW = 200
"""...unless that leaves fewer requests than this in a window on average (a p99 of fewer
is little more than the maximum): then the windows are longer."""
LOG_RATIO = 30.0
"""A log latency axis when the highest p99 is this many times the lowest p50."""
TRAFFIC_COLOUR = "#BBBBBB"
CAUSE_COLOURS = {
    "timeout": OKABE_ITO["reddish purple"],
    "rejected": OKABE_ITO["orange"],
    "circuit_open": "#555555",
    "stale_endpoint": OKABE_ITO["vermillion"],
    "misconfigured": OKABE_ITO["yellow"],
    "unauthorized": OKABE_ITO["black"],
    "defect": "#882255",  # Paul Tol's "wine", colour-blind safe beside Okabe–Ito
    "unavailable": OKABE_ITO["sky blue"],
}
CAUSE_LABELS = {
    "timeout": "timed out",
    "rejected": "rejected",
    "circuit_open": "circuit open",
    "stale_endpoint": "stale endpoint",
    "misconfigured": "misconfigured host",
    "unauthorized": "refused credential",
    "defect": "bad version",
    "unavailable": "service down",
}


def latency_over_time(
    result: Result,
    window: float | None = None,
    service: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """p50 and p99 end-to-end latency of successful requests, in windows of arrival time,
    with the traffic (requests sent per second) shaded behind on a second axis and, if any
    request failed, failures per second by cause in a panel below.

    Requests are binned by the time their client sent them; `window` (seconds) defaults to
    1/100 of the measured period, or longer if that would leave fewer than 200 requests in
    a window on average (a p99 needs them). All entry points together, or only `service`. Retries at
    the entry points show as a dashed attempts-per-second line over the traffic. Requests
    still running at the horizon are not in the table, so the last windows can look
    quieter than they were. With `ax`, one Axes: latency and traffic only.
    """
    scenario = result.scenario
    start, stop = scenario.warmup, scenario.horizon
    period = stop - start
    requests = result.tables.get("requests")
    if requests is None:
        requests = pd.DataFrame(columns=["service", "arrival", "end", "status", "attempts"])
    if service is not None:
        names = [str(n) for n in scenario.traffic] or [str(n) for n in scenario.services]
        if service not in names:
            raise KeyError(f"no entry point {service!r} in this run (has: {', '.join(names)})")
        requests = requests[requests["service"].astype(str) == service]
    if window is None:
        window = max(period / BINS, period * MIN_PER_WINDOW / max(len(requests), 1))
        window = min(window, period)
    if not window > 0:
        raise ValueError(f"expected a window longer than 0 s, got {window}")
    binned = _bin(requests, start, stop, window)
    failures = binned["failures"]
    own_figure = ax is None
    with theme_if(own_figure):
        if ax is None:
            fig = new_figure()
            if failures:
                top, bottom = fig.subplots(
                    2, 1, sharex=True, gridspec_kw={"height_ratios": [2.4, 1]}
                )
            else:
                top, bottom = fig.add_subplot(), None
        else:
            fig, top, bottom = root_figure(ax), ax, None
        _draw(fig, top, bottom, scenario, service, binned, own_figure)
    return fig


def _bin(requests: pd.DataFrame, start: float, stop: float, window: float) -> dict[str, Any]:
    """Per window: p50, p99, requests/s, attempts/s and failures/s by cause (vectorised)."""
    count = max(1, math.ceil((stop - start) / window - 1e-9))
    edges = start + window * np.arange(count + 1)
    edges[-1] = stop  # the last window may be shorter
    widths = np.diff(edges)
    centres = edges[:-1] + widths / 2
    arrival = requests["arrival"].to_numpy(dtype=float)
    index = np.searchsorted(edges, arrival, side="right") - 1
    inside = (index >= 0) & (index < widths.size)
    index, rows = index[inside], requests[inside]
    status = rows["status"].astype(str).to_numpy()
    ok = status == "ok"
    latency = rows["end"].to_numpy(dtype=float)[ok] - arrival[inside][ok]
    quantiles = (
        pd.Series(latency).groupby(index[ok]).quantile(np.array([0.5, 0.99])).unstack()
        if ok.any()
        else pd.DataFrame(columns=[0.5, 0.99])
    )
    p50 = np.full(widths.size, np.nan)
    p99 = np.full(widths.size, np.nan)
    p50[quantiles.index.to_numpy(dtype=int)] = quantiles[0.5].to_numpy(dtype=float)
    p99[quantiles.index.to_numpy(dtype=int)] = quantiles[0.99].to_numpy(dtype=float)
    sent = np.bincount(index, minlength=widths.size) / widths
    attempts = rows["attempts"].to_numpy(dtype=float)
    retried = bool((attempts > 1).any())
    tries = np.bincount(index, weights=attempts, minlength=widths.size) / widths
    failures = {
        cause: np.bincount(index[status == cause], minlength=widths.size) / widths
        for cause in CAUSE_COLOURS
        if (status == cause).any()
    }
    return {
        "edges": edges,
        "centres": centres,
        "p50": p50,
        "p99": p99,
        "sent": sent,
        "attempts": tries if retried else None,
        "failures": failures,
        "finished": int(index.size),
    }


def _draw(
    fig: Figure,
    top: Axes,
    bottom: Axes | None,
    scenario: Scenario,
    service: str | None,
    binned: dict[str, Any],
    own: bool,
) -> None:
    unit, seconds = time_unit(scenario.horizon)
    where = f" at {service}" if service else ""
    title = f"{scenario.name}: latency over time{where}"
    if own:
        fig.suptitle(title, x=0.01, ha="left")
    else:
        top.set_title(title)
    lowest = bottom if bottom is not None else top
    lowest.set_xlabel(f"time the request was sent ({unit})")
    top.set_ylabel("end-to-end latency")
    top.set_xlim(scenario.warmup / seconds, scenario.horizon / seconds)
    if binned["finished"] == 0:
        top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: ""))
        empty_note(top, "no finished requests after warm-up")
        return
    x = binned["centres"] / seconds
    edges = binned["edges"] / seconds
    traffic = top.twinx()
    traffic.set_zorder(top.get_zorder() - 1)  # behind the latency lines
    top.patch.set_visible(False)
    traffic.grid(False)
    traffic.spines["right"].set_visible(True)
    traffic.stairs(binned["sent"], edges, fill=True, color=TRAFFIC_COLOUR, alpha=0.45, lw=0)
    handles: list[Artist] = [
        Patch(facecolor=TRAFFIC_COLOUR, alpha=0.45, label="requests sent per second")
    ]
    if binned["attempts"] is not None:
        traffic.stairs(binned["attempts"], edges, color="#777777", lw=1.8, ls=(0, (4, 2)))
        handles.append(
            Line2D([], [], color="#777777", lw=1.8, ls=(0, (4, 2)), label="attempts per second")
        )
    attempts = binned["attempts"] if binned["attempts"] is not None else binned["sent"]
    top_rate = float(max(np.max(binned["sent"]), np.max(attempts)))
    traffic.set_ylim(0, top_rate * 1.6 if top_rate > 0 else 1)  # traffic keeps to the bottom
    traffic.set_ylabel("requests per second", color=NOTE_COLOUR)
    traffic.tick_params(axis="y", colors=NOTE_COLOUR)
    lines = []
    for key, label, colour in (
        ("p50", "p50 latency", OKABE_ITO["blue"]),
        ("p99", "p99 latency", OKABE_ITO["vermillion"]),
    ):
        (line,) = top.plot(x, binned[key], color=colour, lw=2.8, label=label, zorder=3)
        lines.append(line)
    _latency_axis(top, binned)
    handles = lines + handles
    if bottom is not None:
        bottom.set_ylabel("failures\nper second")
        base = np.zeros_like(x)
        for cause, values in binned["failures"].items():
            bottom.stairs(
                base + values, edges, baseline=base, fill=True, color=CAUSE_COLOURS[cause],
                alpha=0.85, lw=0,
            )  # fmt: skip
            handles.append(Patch(color=CAUSE_COLOURS[cause], label=CAUSE_LABELS[cause]))
            base = base + values
        bottom.set_ylim(0, max(1.0, float(base.max()) * 1.1))
        fig.align_ylabels([top, bottom])
    labels = [str(h.get_label()) for h in handles]
    if own:
        room = fig.get_figwidth() - 0.5
        columns = next(
            (n for n in range(len(labels), 1, -1)
             if legend_width_in(legend_columns(labels, n)) < room),
            1,
        )  # fmt: skip
        fig.legend(handles, labels, loc="outside lower center", ncols=columns)
    else:
        top.legend(handles, labels, loc="upper left", fontsize="small")


def _latency_axis(ax: Axes, binned: dict[str, Any]) -> None:
    """Seconds as '12.5 ms'; log scale when the tail is far above the median."""
    p50, p99 = binned["p50"], binned["p99"]
    finite50, finite99 = p50[np.isfinite(p50) & (p50 > 0)], p99[np.isfinite(p99)]
    if finite50.size and finite99.size and finite99.max() / finite50.min() > LOG_RATIO:
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(0, max(float(finite99.max()) * 1.1 if finite99.size else 1.0, 1e-6))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_seconds(v)))
