"""The latency CDF of a run: what share of requests finished within a given time."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patheffects import withStroke
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter

from .common import (
    THEORY_STYLE,
    empty_note,
    figure_legend_right,
    legend_columns,
    legend_width_in,
    new_figure,
    reference_for,
    root_figure,
    text_width_in,
    theme_if,
)
from .data import (
    ecdf_points,
    format_seconds,
    latencies_by_service,
    service_colours,
    service_names,
    spread_is_large,
)
from .theme import OKABE_ITO

if TYPE_CHECKING:
    from ..results import Result
    from ..theory.reference import Curve

THEORY_POINTS = 400
LABELLED_SERVICES = 2
"""Up to this many services, p50 and p99 are written on the chart; beyond, in the legend."""
LEGEND_BELOW_SERVICES = 3
"""Up to this many services the legend can have a column per service below the chart."""
MAX_ROWS_BELOW = 3
"""A legend below the chart may have this many rows; a longer one goes to the right."""
LABEL_SIZE = "medium"
LABEL_OFFSET_PT = 10


@dataclass
class _Service:
    """What was drawn for one service: its curve and, where known, its theory line."""

    name: str
    curve: Line2D
    theory: Line2D | None = None
    cdf: Curve | None = None
    model: str | None = None
    handles: list[Artist] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [str(handle.get_label()) for handle in self.handles]


def latency_cdf(result: Result, service: str | None = None, ax: Axes | None = None) -> Figure:
    """Empirical CDF of the latency (end − arrival) of completed requests, per service.

    Draws one curve per service (or only `service`), marks p50 and p99 with dots (and, for
    one or two services, dotted lines and their values; beyond, the values are in the
    legend), and adds the exact theory as a dashed line where `service_reference` knows the
    latency distribution. The x axis is logarithmic when p99 / p1 exceeds 100. Curves are
    thinned to at most 2,000 points each.
    """
    every = service_names(result)
    names = every
    if service is not None:
        if service not in every:
            raise KeyError(f"no service {service!r} in this run (has: {', '.join(every)})")
        names = [service]
    colours = service_colours(every)
    latencies = latencies_by_service(result.tables["requests"])
    drawn = [name for name in names if name in latencies]
    own_figure = ax is None
    with theme_if(own_figure):
        if ax is None:
            fig = new_figure()
            ax = fig.add_subplot()
        else:
            fig = root_figure(ax)
        what = f"latency of {service}" if service else "latency distribution"
        ax.set_title(f"{result.scenario.name}: {what}")
        ax.set_ylabel("requests at or below this latency")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylim(0, 1.02)
        if not drawn:
            ax.set_xlabel("latency (s)")
            empty_note(ax, "no completed requests after warm-up")
            return fig
        values = [latencies[name] for name in drawn]
        log = spread_is_large(values)
        low, high = _latency_range(values, log)
        labelled = len(drawn) <= LABELLED_SERVICES
        services = [
            _draw_service(ax, result, name, latencies[name], colours[name], row, len(drawn))
            for row, name in enumerate(drawn)
        ]
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("latency (s, log scale)")
        else:
            ax.set_xlabel("latency (s)")
        _legend(fig, ax, services, own_figure)
        if labelled:  # now that the legend has taken its room, widen for the p99 labels
            high = _room_for_labels(fig, ax, values, low, high, log)
        ax.set_xlim(low, high)
        _finish_lines(services, low, high, log)
    return fig


def _draw_service(
    ax: Axes,
    result: Result,
    name: str,
    values: np.ndarray,
    colour: str,
    row: int,
    count: int,
) -> _Service:
    single, labelled = count == 1, count <= LABELLED_SERVICES
    x, y = ecdf_points(values)
    p50, p99 = np.percentile(values, [50, 99])
    if labelled:
        label = f"{values.size:,} requests"
        label = f"simulated ({label})" if single else f"{name} ({label})"
    else:
        label = f"{name}: p50 {format_seconds(p50)}, p99 {format_seconds(p99)}"
    (curve,) = ax.plot(
        np.concatenate([[x[0]], x, [x[-1]]]),  # from 0% up; the run-out is set at the end
        np.concatenate([[0.0], y, [1.0]]),
        drawstyle="steps-post",
        color=colour,
        lw=4 if single else 3,
        label=label,
        zorder=3,
    )
    drawn = _Service(name, curve, handles=[curve])
    for level, value in ((0.5, p50), (0.99, p99)):
        ax.plot([value], [level], "o", color=colour, ms=9, zorder=5)
        if labelled:
            ax.vlines(value, 0, level, colors=colour, linestyles=":", lw=2, zorder=2)
            ax.annotate(
                _percentile_label(level, value),
                (value, level),
                xytext=(LABEL_OFFSET_PT, -12 - 26 * row),
                textcoords="offset points",
                ha="left",
                va="top",
                fontsize=LABEL_SIZE,
                color="#222222" if single else colour,
                fontweight="bold",
                zorder=6,
                path_effects=[withStroke(linewidth=5, foreground="white")],
            )
    reference = reference_for(result, name)
    if reference is not None and reference.sojourn_cdf is not None:
        (drawn.theory,) = ax.plot(
            [],
            [],
            color=OKABE_ITO["black"],
            label=f"theory: {reference.label}",
            zorder=4,
            **THEORY_STYLE,
        )
        drawn.cdf, drawn.model = reference.sojourn_cdf, reference.label
        drawn.handles.append(drawn.theory)
    return drawn


def _finish_lines(services: list[_Service], low: float, high: float, log: bool) -> None:
    """Run each curve on at 100% to the right edge, and draw the theory across the axis."""
    grid = np.geomspace(low, high, THEORY_POINTS) if log else np.linspace(0, high, THEORY_POINTS)
    for drawn in services:
        x = np.asarray(drawn.curve.get_xdata(), dtype=float).copy()
        x[-1] = max(x[-1], high)
        drawn.curve.set_xdata(x)
        if drawn.theory is not None and drawn.cdf is not None:
            drawn.theory.set_data(grid, drawn.cdf(grid))


def _latency_range(values: list[np.ndarray], log: bool) -> tuple[float, float]:
    """x limits: up to p99.9 (the top 0.1% is a flat line at 100%), with room for labels."""
    high = max(float(np.percentile(v, 99.9)) for v in values)
    if log:  # the lowest 0.1% of positive latencies (a log axis has no zero)
        low = min(float(np.percentile(v[v > 0], 0.1)) for v in values if (v > 0).any())
        return low / 1.5, high * 3.0
    return 0.0, high * 1.25 if high > 0 else 1.0


def _percentile_label(level: float, value: float) -> str:
    return f"p{round(level * 100)} {format_seconds(value)}"


def _room_for_labels(
    fig: Figure, ax: Axes, values: list[np.ndarray], low: float, high: float, log: bool
) -> float:
    """Move the right x limit out until every p99 label fits inside the axes."""
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)  # place the axes, so that their width is known
    axes_width = ax.get_position().width * fig.get_figwidth()
    for v in values:
        p99 = float(np.percentile(v, 99))
        label = text_width_in(_percentile_label(0.99, p99), LABEL_SIZE, "bold")
        room = 0.97 - (label + LABEL_OFFSET_PT / 72) / axes_width  # axes fraction left of it
        if room <= 0.3 or p99 <= 0:
            continue
        if log and p99 > low:
            high = max(high, math.exp(math.log(low) + math.log(p99 / low) / room))
        elif not log:
            high = max(high, p99 / room)
    return high


def _legend(fig: Figure, ax: Axes, services: list[_Service], own_figure: bool) -> None:
    """Below the chart if it fits (a CDF fills every corner of its axes), else at the right.

    First choice: a column per service, its curve over its theory (or a blank), so that
    matplotlib's column-by-column filling keeps a service's entries together. Otherwise
    the curves, then one entry per distinct theory model, in as many columns below the
    chart as fit, or in one column at the right when that would take too many rows.
    """
    if not own_figure:
        handles: list[Artist] = [h for drawn in services for h in drawn.handles]
        ax.legend(handles, [str(h.get_label()) for h in handles], loc="best", fontsize="small")
        return
    room = fig.get_figwidth() - 0.5
    if len(services) == 1:
        drawn = services[0]
        if legend_width_in([[label] for label in drawn.labels]) < room:
            fig.legend(
                drawn.handles, drawn.labels, loc="outside lower center", ncols=len(drawn.handles)
            )
        else:
            figure_legend_right(fig, drawn.handles, drawn.labels)
        return
    if (
        len(services) <= LEGEND_BELOW_SERVICES
        and legend_width_in([drawn.labels for drawn in services]) < room
    ):
        rows = max(len(drawn.handles) for drawn in services)
        handles = []
        labels: list[str] = []
        for drawn in services:
            blanks = rows - len(drawn.handles)
            handles += drawn.handles + [Line2D([], [], alpha=0)] * blanks
            labels += drawn.labels + [""] * blanks
        fig.legend(handles, labels, loc="outside lower center", ncols=len(services))
        return
    handles = [drawn.curve for drawn in services]
    labels = [drawn.labels[0] for drawn in services]
    models: dict[str, list[_Service]] = {}
    for drawn in services:
        if drawn.model is not None:
            models.setdefault(drawn.model, []).append(drawn)
    for model, sharing in models.items():
        theory = sharing[0].theory
        assert theory is not None  # a service has a model exactly when it has a theory line
        handles.append(theory)
        names = ", ".join(drawn.name for drawn in sharing)
        labels.append(f"theory: {model}" if len(models) == 1 else f"theory for {names}: {model}")
    for columns in range(min(4, len(labels)), 0, -1):
        layout = legend_columns(labels, columns)
        if legend_width_in(layout) < room:
            break
    if len(layout[0]) <= MAX_ROWS_BELOW and legend_width_in(layout) < room:
        fig.legend(handles, labels, loc="outside lower center", ncols=columns)
    else:
        figure_legend_right(fig, handles, labels)
