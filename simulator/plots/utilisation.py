"""Utilisation and queue length per service over the measured period."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from .common import (
    THEORY_STYLE,
    empty_note,
    figure_legend_right,
    new_figure,
    reference_for,
    root_figure,
    theme_if,
)
from .data import downsample_mean, moving_average, service_colours, service_names, time_unit

if TYPE_CHECKING:
    from ..results import Result

SMOOTHING = 40
"""The moving average spans 1/40 of the measured period."""


def utilisation_over_time(
    result: Result,
    ax: Sequence[Axes] | Axes | None = None,
) -> Figure:
    """Utilisation (top) and queue length (bottom) per service over the measured period.

    Thick lines are a moving average over 1/40 of the period; with a single service, thin
    lines show the raw queue-length samples too. Dashed lines are the steady-state theory where
    `service_reference` has it (the queue length is summed over the service's queues).
    `ax` may be two Axes (utilisation, queue length), e.g. `fig.subplots(2, sharex=True)`,
    or one Axes, which then shows utilisation only. The time axis is in s, min, h or d,
    whichever suits the horizon.
    """
    own_figure = ax is None
    with theme_if(own_figure):
        if ax is None:
            fig = new_figure()
            top, bottom = fig.subplots(2, 1, sharex=True)
        else:
            axes = [ax] if isinstance(ax, Axes) else list(ax)
            if not 1 <= len(axes) <= 2:
                raise ValueError(f"expected one or two Axes, got {len(axes)}")
            top, bottom = axes[0], axes[1] if len(axes) == 2 else None
            fig = root_figure(top)
        _draw(result, fig, top, bottom, own_figure)
    return fig


MOST_SERVICES = 8
"""Services drawn at most; with more, the busiest."""


def _draw(result: Result, fig: Figure, top: Axes, bottom: Axes | None, own_figure: bool) -> None:
    scenario = result.scenario
    title = f"{scenario.name}: utilisation and queue length over time"
    if own_figure:
        fig.suptitle(title, x=0.01, ha="left")
    else:
        top.set_title(title)
    unit, seconds = time_unit(scenario.horizon)
    panels = [(top, "utilisation", "utilisation")]
    if bottom is not None:
        panels.append((bottom, "queued_mean", "queue length\n(requests waiting)"))
    top.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    top.set_ylim(0, 1.05)
    for axes, _, label in panels:
        axes.set_ylabel(label)
        axes.set_xlim(scenario.warmup / seconds, scenario.horizon / seconds)
    panels[-1][0].set_xlabel(f"simulated time ({unit})")
    if bottom is not None:
        fig.align_ylabels([top, bottom])

    names = service_names(result)
    colours = service_colours(names)
    timeseries = result.tables.get("timeseries")
    if timeseries is not None and len(names) > MOST_SERVICES:
        # A thousand lines say nothing: draw the busiest services only, and say so.
        busiest = (
            timeseries.groupby("service", observed=True)["utilisation"]
            .mean()
            .nlargest(MOST_SERVICES)
            .index.astype(str)
        )
        top.set_title(f"the {MOST_SERVICES} busiest of {len(names)} services", loc="right")
        names = [n for n in names if n in set(busiest)]
        timeseries = timeseries[timeseries["service"].astype(str).isin(set(busiest))]
    series = _by_service(timeseries)
    if not series:
        for axes, _, _ in panels:
            empty_note(axes, "no samples after warm-up")
        return
    raw = len(series) == 1 and bottom is not None  # several services' would bury each other
    handles: list[Artist] = []
    labels: list[str] = []
    theory = False
    for name in (n for n in names if n in series):
        times, columns = series[name]
        reference = reference_for(result, name)
        for axes, column, _ in panels:
            time, value = downsample_mean(times, columns[column])
            x = time / seconds
            if raw and column == "queued_mean":  # interval means, before smoothing
                axes.plot(x, value, color=colours[name], lw=1.0, alpha=0.3, drawstyle="steps-post")
            window = max(1, round(time.size / SMOOTHING))
            (line,) = axes.plot(x, moving_average(value, window), color=colours[name], lw=3.5)
            if reference is not None:
                level = (
                    reference.metrics.utilisation
                    if column == "utilisation"
                    else reference.metrics.queue_length_mean * reference.queues
                )
                axes.axhline(level, color=colours[name], zorder=4, **THEORY_STYLE)
                theory = True
        handles.append(line)
        labels.append(name)
    if bottom is not None:
        bottom.set_ylim(0, max(1.0, bottom.get_ylim()[1]))
    if raw:
        handles.append(Line2D([], [], color="#777777", lw=1.0, alpha=0.5))
        labels.append("samples")
    if theory:
        handles.append(Line2D([], [], color="#333333", **THEORY_STYLE))
        labels.append("steady-state theory")
    if own_figure:
        figure_legend_right(fig, handles, labels, title="moving averages", alignment="left")
    else:
        top.legend(handles, labels, loc="best", fontsize="small")


def _by_service(table: pd.DataFrame | None) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Time-sorted samples of each service: (time, {"utilisation": ..., "queued_mean": ...})."""
    if table is None or table.empty:
        return {}
    names = table["service"].astype(str).to_numpy()
    time = table["time"].to_numpy(dtype=float)
    columns = {c: table[c].to_numpy(dtype=float) for c in ("utilisation", "queued_mean")}
    out = {}
    for name in dict.fromkeys(names):
        mask = names == name
        order = np.argsort(time[mask], kind="stable")
        out[str(name)] = (time[mask][order], {c: v[mask][order] for c, v in columns.items()})
    return out
