"""The charts of one run, with the exact queueing theory drawn in where it exists.

Each chart takes a Result and, optionally, Axes to draw on, and returns the Figure. Without
Axes it makes its own slide-sized figure in the slide theme. Figures are plain
`matplotlib.figure.Figure` objects, not pyplot ones: nothing here picks a backend or
opens a window, and a notebook shows a returned figure as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patheffects import withStroke
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter

from ..theory.reference import Reference, service_reference
from .data import (
    downsample_mean,
    ecdf_points,
    format_seconds,
    latencies_by_service,
    moving_average,
    service_colours,
    service_names,
    spread_is_large,
    time_unit,
)
from .theme import OKABE_ITO, save_figure, slide_theme

NOTE_COLOUR = "#555555"
THEORY_POINTS = 400


# ------------------------------------------------------------------------------ latency


def latency_cdf(result, service: str | None = None, ax: Axes | None = None) -> Figure:  # type: ignore[no-untyped-def]
    """Empirical CDF of the latency (end − arrival) of completed requests, per service.

    Draws one curve per service (or only `service`), marks p50 and p99, and adds the exact
    theory as a dashed line where `service_reference` knows the latency distribution. The
    x axis is logarithmic when p99 / p1 exceeds 100.
    """
    names = service_names(result)
    if service is not None:
        if service not in names:
            raise KeyError(f"no service {service!r} in this run (has: {', '.join(names)})")
        names = [service]
    colours = service_colours(service_names(result))
    latencies = latencies_by_service(result.tables["requests"])
    drawn = [name for name in names if name in latencies]
    own_figure = ax is None
    with _theme_if(own_figure):
        fig, ax = _figure_and_axes(ax)
        scenario = result.scenario
        what = f"latency of {service}" if service else "latency distribution"
        ax.set_title(f"{scenario.name}: {what}")
        ax.set_ylabel("requests at or below this latency")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylim(0, 1.02)
        if not drawn:
            ax.set_xlabel("latency (s)")
            _empty_note(ax, "no completed requests after warm-up")
            return fig
        log = spread_is_large([latencies[name] for name in drawn])
        low, high = _latency_range([latencies[name] for name in drawn], log)
        single = len(drawn) == 1
        entries: list[tuple[list[Line2D], list[str]]] = []
        for row, name in enumerate(drawn):
            values = latencies[name]
            colour = colours[name]
            x, y = ecdf_points(values)
            if x[-1] < high:  # carry the curve on at 100% to the edge
                x, y = np.append(x, high), np.append(y, 1.0)
            count = f"{values.size:,} requests"
            handles = ax.plot(
                x,
                y,
                drawstyle="steps-post",
                color=colour,
                lw=4 if single else 3,
                label=f"simulated ({count})" if single else f"{name} ({count})",
                zorder=3,
            )
            _mark_percentiles(ax, values, colour, row, len(drawn))
            reference = _reference(result, name)
            if reference is not None and reference.sojourn_cdf is not None:
                grid = (
                    np.geomspace(low, high, THEORY_POINTS)
                    if log
                    else np.linspace(0, high, THEORY_POINTS)
                )
                handles += ax.plot(
                    grid,
                    reference.sojourn_cdf(grid),
                    ls=(0, (4, 2)),
                    lw=2.5,
                    color=OKABE_ITO["black"] if single else colour,
                    label=f"theory: {reference.label}",
                    zorder=4,
                )
            entries.append((handles, [h.get_label() for h in handles]))
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlim(low, high)
            ax.set_xlabel("latency (s, log scale)")
        else:
            ax.set_xlim(0, high)
            ax.set_xlabel("latency (s)")
        _latency_legend(fig, ax, entries, own_figure)
    return fig


def _latency_legend(
    fig: Figure, ax: Axes, entries: list[tuple[list[Line2D], list[str]]], own_figure: bool
) -> None:
    """Below the chart (a CDF fills every corner of its axes), one column per service.

    Each service takes two rows, simulated and theory (blank without theory), so that
    matplotlib's column-by-column filling keeps a service's entries together.
    """
    pairs = max(len(handles) for handles, _ in entries)
    columns = min(len(entries), 3 if pairs == 2 else 4)
    rows = -(-len(entries) // columns)
    handles: list[Line2D] = []
    labels: list[str] = []
    for index in range(columns * rows):
        line_handles, line_labels = entries[index] if index < len(entries) else ([], [])
        for slot in range(pairs):
            if slot < len(line_handles):
                handles.append(line_handles[slot])
                labels.append(line_labels[slot])
            else:
                handles.append(Line2D([], [], alpha=0))
                labels.append("")
    # Column-major filling: entries of column c are services c*rows ... (c+1)*rows - 1.
    if own_figure:
        fig.legend(handles, labels, loc="outside lower center", ncols=columns)
    else:
        ax.legend(handles, labels, loc="best", ncols=columns)


def _latency_range(values: list[np.ndarray], log: bool) -> tuple[float, float]:
    """x limits: up to p99.9 (the top 0.1% is a flat line at 100%), with room for labels."""
    high = max(float(np.percentile(v, 99.9)) for v in values)
    if log:
        low = min(float(np.percentile(v, 0.1)) for v in values)
        return low / 1.5, high * 2.0
    return 0.0, high * 1.25 if high > 0 else 1.0


def _mark_percentiles(ax: Axes, values: np.ndarray, colour: str, row: int, rows: int) -> None:
    """A dotted line up to the curve at p50 and p99, a dot on the curve, and the value."""
    p50, p99 = np.percentile(values, [50, 99])
    for level, value in ((0.5, p50), (0.99, p99)):
        ax.vlines(value, 0, level, colors=colour, linestyles=":", lw=2, zorder=2)
        ax.plot([value], [level], "o", color=colour, ms=9, zorder=5)
        ax.annotate(
            f"p{round(level * 100)} {format_seconds(value)}",
            (value, level),
            xytext=(10, -12 - 26 * row),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=16,
            color=colour if rows > 1 else "#222222",
            fontweight="bold",
            zorder=6,
            path_effects=[withStroke(linewidth=5, foreground="white")],
        )


# ------------------------------------------------------------------------------ over time


def utilisation_over_time(
    result,  # type: ignore[no-untyped-def]
    ax: Sequence[Axes] | Axes | None = None,
) -> Figure:
    """Utilisation (top) and queue length (bottom) per service over the measured period.

    Thin lines are the samples, thick lines a moving average over 1/40 of the period, dashed
    lines the steady-state theory where `service_reference` has it. `ax` may be two Axes
    (utilisation, queue length), e.g. `fig.subplots(2, sharex=True)`, or one Axes, which
    then shows utilisation only.
    """
    with _theme_if(ax is None):
        if ax is None:
            fig = _new_figure()
            top, bottom = fig.subplots(2, 1, sharex=True)
        else:
            axes = [ax] if isinstance(ax, Axes) else list(ax)
            if not 1 <= len(axes) <= 2:
                raise ValueError(f"expected one or two Axes, got {len(axes)}")
            top, bottom = axes[0], axes[1] if len(axes) == 2 else None
            fig = _root_figure(top)
        _draw_over_time(result, top, bottom, own_figure=ax is None)
    return fig


def _draw_over_time(result, top: Axes, bottom: Axes | None, own_figure: bool) -> None:  # type: ignore[no-untyped-def]
    scenario = result.scenario
    title = f"{scenario.name}: utilisation and queue length over time"
    if own_figure:
        _root_figure(top).suptitle(title, x=0.01, ha="left")
    else:
        top.set_title(title)
    unit, seconds = time_unit(scenario.horizon)
    panels = [(top, "utilisation", "utilisation")]
    if bottom is not None:
        panels.append((bottom, "queued", "queue length\n(requests waiting)"))
    top.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    top.set_ylim(0, 1.05)
    for axes, _, label in panels:
        axes.set_ylabel(label)
    last = panels[-1][0]
    last.set_xlabel(f"simulated time ({unit})")
    for axes, _, _ in panels:
        axes.set_xlim(scenario.warmup / seconds, scenario.horizon / seconds)

    table = result.tables["timeseries"]
    names = service_names(result)
    colours = service_colours(names)
    series = _timeseries_by_service(table)
    if not series:
        for axes, _, _ in panels:
            _empty_note(axes, "no samples after warm-up")
        return
    theory_drawn = False
    raw = len(series) == 1  # several services' raw samples would bury each other
    for name in names:
        if name not in series:
            continue
        frame_time, columns = series[name]
        reference = _reference(result, name)
        for axes, column, _ in panels:
            time, value = downsample_mean(frame_time, columns[column])
            x = time / seconds
            if raw:
                axes.plot(x, value, color=colours[name], lw=1.0, alpha=0.3, drawstyle="steps-post")
            window = max(1, round(time.size / 40))
            axes.plot(x, moving_average(value, window), color=colours[name], lw=3.5, label=name)
            if reference is not None:
                level = (
                    reference.metrics.utilisation
                    if column == "utilisation"
                    else reference.metrics.queue_length_mean * reference.queues
                )
                axes.axhline(level, color=colours[name], ls=(0, (4, 2)), lw=2.5, zorder=4)
                theory_drawn = True
    if bottom is not None:
        bottom.set_ylim(0, max(1.0, bottom.get_ylim()[1]))
        _root_figure(top).align_ylabels([top, bottom])
    handles, labels = top.get_legend_handles_labels()
    if raw:
        handles.append(Line2D([], [], color="#777777", lw=1.0, alpha=0.5))
        labels.append("samples")
    if theory_drawn:
        handles.append(Line2D([], [], color="#333333", ls=(0, (4, 2)), lw=2.5))
        labels.append("steady-state theory")
    top.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0,
        title="moving averages",
        title_fontsize=14,
        alignment="left",
    )


def _timeseries_by_service(table) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:  # type: ignore[no-untyped-def]
    if table is None or table.empty:
        return {}
    service = table["service"]
    names = service.astype(str).to_numpy()
    time = table["time"].to_numpy(dtype=float)
    columns = {c: table[c].to_numpy(dtype=float) for c in ("utilisation", "queued")}
    out = {}
    for name in dict.fromkeys(names):
        mask = names == name
        order = np.argsort(time[mask], kind="stable")
        out[str(name)] = (time[mask][order], {c: v[mask][order] for c, v in columns.items()})
    return out


# ------------------------------------------------------------------------------ saving


def save_run_charts(result, directory: Path | str) -> list[Path]:  # type: ignore[no-untyped-def]
    """Write latency-cdf.{png,svg} and utilisation.{png,svg} into `directory`."""
    directory = Path(directory)
    written: list[Path] = []
    with slide_theme():
        written += save_figure(latency_cdf(result), directory / "latency-cdf")
        written += save_figure(utilisation_over_time(result), directory / "utilisation")
    return written


# ------------------------------------------------------------------------------ helpers


def _theme_if(own_figure: bool) -> AbstractContextManager[None]:
    """The slide theme for figures made here; the caller's style for Axes handed in."""
    return slide_theme() if own_figure else nullcontext()


def _new_figure() -> Figure:
    return Figure(layout="constrained")


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is None:
        fig = _new_figure()
        return fig, fig.add_subplot()
    return _root_figure(ax), ax


def _root_figure(ax: Axes) -> Figure:
    try:
        return ax.get_figure(root=True)  # type: ignore[call-arg,return-value]
    except TypeError:  # matplotlib < 3.10: .figure is the root unless in a subfigure
        figure = ax.figure
        while not isinstance(figure, Figure):
            figure = figure.figure  # type: ignore[assignment]
        return figure


def _empty_note(ax: Axes, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=20,
        color=NOTE_COLOUR,
        style="italic",
    )


def _reference(result, name: str) -> Reference | None:  # type: ignore[no-untyped-def]
    """The theory for a service of the run's scenario; None for services it does not know."""
    if name not in result.scenario.services:
        return None
    return service_reference(result.scenario, name)
