"""Charts of a sweep: a KPI against one axis with its confidence band (one line per value
of the other axes, the theory dashed where it applies), and a heat map over two axes.

They read the summary a sweep returns (`SweepResult.summary`: one row per point and KPI
with the axis values, mean, ci95_low, ci95_high and theory), or the one `sresim sweep
--out DIR` wrote (`read_sweep(DIR)`), and never run anything:

    result = simulator.sweep("scenarios/validation/mmc.yaml", {...}, replications=5)
    fig = kpi_against_axis(result.summary, "wait_mean_s", "traffic.api.rate", result.axes)
    fig = kpi_heatmap(result.summary, "wait_mean_s", "traffic.api.rate",
                      "services.api.replicas", result.axes)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..chart_catalogue import ChartError, sweep_chart
from .common import THEORY_STYLE, empty_note, new_figure, root_figure, theme_if
from .theme import PALETTE


def _rows(summary: pd.DataFrame, kpi: str) -> pd.DataFrame:
    return summary[summary["kpi"] == kpi]


def _label(names: Sequence[str], values: object) -> str:
    values = values if isinstance(values, tuple) else (values,)
    return ", ".join(
        f"{n.rsplit('.', 1)[-1]} = {v:g}"
        if isinstance(v, float)
        else f"{n.rsplit('.', 1)[-1]} = {v}"
        for n, v in zip(names, values, strict=True)
    )


def kpi_against_axis(
    summary: pd.DataFrame, kpi: str, x: str, axes: Sequence[str], ax: Axes | None = None
) -> Figure:
    """`kpi`'s mean against axis `x` with its 95% confidence band, one line per combination
    of the other axes' values (`axes`: every axis of the sweep), and what theory predicts,
    dashed, where the summary has it. An axis of words (discovery.kind) keeps the sweep's
    order, with a dot and a 95% error bar per value: no line joins values without an order
    between them."""
    own = ax is None
    with theme_if(own):
        fig = new_figure() if ax is None else root_figure(ax)
        plot = fig.subplots() if ax is None else ax
        rows = _rows(summary, kpi)
        others = [a for a in axes if a != x and rows[a].nunique() > 1]
        groups = list(rows.groupby(others, sort=False) if others else [((), rows)])
        numeric = rows.empty or pd.api.types.is_numeric_dtype(rows[x])
        order = list(dict.fromkeys(rows[x]))  # the points' order: the axis as given
        drawn_theory = False
        for index, (values, group) in enumerate(groups):
            colour = PALETTE[index % len(PALETTE)]
            label = f"{_label(others, values) if others else 'simulated'}: mean"
            if numeric:
                group = group.sort_values(x)
                plot.plot(group[x], group["mean"], "-o", color=colour, label=label)
                low, high = group["ci95_low"], group["ci95_high"]
                plot.fill_between(group[x], low, high, color=colour, alpha=0.2, lw=0)
                where = group[x].to_numpy()
            else:
                shift = (index - (len(groups) - 1) / 2) * 0.1  # side by side, not on top
                where = np.array([order.index(v) for v in group[x]], dtype=float) + shift
                below = (group["mean"] - group["ci95_low"]).to_numpy()
                above = (group["ci95_high"] - group["mean"]).to_numpy()
                plot.errorbar(where, group["mean"], yerr=[below, above], fmt="o", capsize=6,
                              color=colour, label=label)  # fmt: skip
            if "theory" in group and group["theory"].notna().any():
                plot.plot(where, group["theory"], color=colour, **THEORY_STYLE)
                drawn_theory = True
        if rows.empty:
            empty_note(plot, f"no {kpi} in this sweep")
        if drawn_theory:
            plot.plot([], [], color="#333333", **THEORY_STYLE, label="queueing theory")
        if numeric:
            plot.set_xlabel(f"{x} (SI units)")
        else:
            plot.set_xticks(range(len(order)), [str(v) for v in order])
            plot.set_xlim(-0.5, len(order) - 0.5)
            plot.set_xlabel(x)
        plot.set_ylabel(kpi_label(kpi))
        plot.set_title(f"{kpi} against {x}")  # short: a long axis name would be clipped
        if not rows.empty:
            handles, labels = plot.get_legend_handles_labels()
            if numeric and rows["ci95_high"].notna().any():  # one replication: no band
                band = Patch(color="#333333", alpha=0.2, lw=0, label="95% confidence band")
                handles, labels = [*handles, band], [*labels, "95% confidence band"]
            elif rows["ci95_high"].notna().any():
                labels = [f"{text} (bar: 95% confidence)" if text.endswith(": mean") else text
                          for text in labels]  # fmt: skip
            plot.legend(handles, labels, fontsize="small")
    return fig


def kpi_heatmap(
    summary: pd.DataFrame,
    kpi: str,
    x: str,
    y: str,
    axes: Sequence[str],
    ax: Axes | None = None,
) -> Figure:
    """`kpi`'s mean over two axes, one cell per point, its value written in the cell. Only
    for sweeps where no other axis varies (else a note says so)."""
    own = ax is None
    with theme_if(own):
        fig = new_figure() if ax is None else root_figure(ax)
        plot = fig.subplots() if ax is None else ax
        rows = _rows(summary, kpi)
        varying = [a for a in axes if a not in (x, y) and rows[a].nunique() > 1]
        if rows.empty or varying:
            why = f"no {kpi} in this sweep" if rows.empty else f"{', '.join(varying)} varies too"
            empty_note(plot, f"no heat map: {why}")
            return fig
        grid = rows.pivot_table(index=y, columns=x, values="mean", aggfunc="first", sort=True)
        values = grid.to_numpy(dtype=float)
        image = plot.imshow(values, origin="lower", aspect="auto", cmap="viridis")
        plot.set_xticks(range(grid.shape[1]), [_tick(v) for v in grid.columns])
        plot.set_yticks(range(grid.shape[0]), [_tick(v) for v in grid.index])
        plot.grid(False)
        low, high = np.nanmin(values), np.nanmax(values)
        for (row, column), value in np.ndenumerate(values):
            if np.isfinite(value):
                shade = (value - low) / (high - low) if high > low else 0.0
                bright = shade > 0.6  # viridis is light at the top of its scale
                colour = "black" if bright else "white"
                plot.text(column, row, f"{value:.3g}", ha="center", va="center", color=colour)
        fig.colorbar(image, ax=plot, label=kpi_label(kpi))
        plot.set_xlabel(x)
        plot.set_ylabel(y)
        plot.set_title(f"{kpi} (mean over replications)")
    return fig


UNITS = {"s": "s", "rps": "per s", "usd": "$", "bytes": "bytes"}
"""A KPI's unit, by a word of its name (wait_mean_s, wait_mean_s_batch, cost_usd)."""


def kpi_label(kpi: str) -> str:
    """The KPI's name with its unit, or "share, 0-1" for a share (by its description)."""
    from ..metrics import KPI_DESCRIPTIONS

    words = kpi.split("_")
    unit = next((unit for word, unit in UNITS.items() if word in words), None)
    if unit is None and KPI_DESCRIPTIONS.get(kpi, "").startswith("share of"):
        unit = "share, 0–1"
    return f"{kpi} ({unit})" if unit else kpi


def _tick(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def read_sweep(folder: Path) -> tuple[pd.DataFrame, list[str]]:
    """The summary and the axes of a sweep that `sresim sweep --out folder` wrote
    (summary.parquet and sweep.json); a ChartError if the folder holds no such sweep."""
    import json

    summary_file, about_file = folder / "summary.parquet", folder / "sweep.json"
    if not (summary_file.is_file() and about_file.is_file()):
        raise ChartError(
            f"{folder}: expected a folder written by `sresim sweep --out` "
            "(summary.parquet and sweep.json)"
        )
    try:
        axes = json.loads(about_file.read_text(encoding="utf-8"))["axes"]
        summary = pd.read_parquet(summary_file)
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise ChartError(f"{folder}: not a readable sweep ({type(error).__name__})") from None
    if not isinstance(axes, list) or not set(axes) <= set(summary.columns):
        raise ChartError(f"{folder}: sweep.json's axes do not match summary.parquet")
    return summary, [str(axis) for axis in axes]


def draw_sweep_chart(summary: pd.DataFrame, axes: Sequence[str], name: str) -> Figure:
    """Chart `name` (KPI:AXIS, or KPI:AXIS:AXIS for a heat map) of a sweep's summary; a
    ChartError naming what the sweep has if the KPI or an axis is not in it."""
    kpi, x, y = sweep_chart(name)
    for axis in (x, y):
        if axis is not None and axis not in axes:
            raise ChartError(f"{axis!r} is not an axis of this sweep; it has {', '.join(axes)}")
    kpis = list(dict.fromkeys(summary["kpi"]))
    if kpi not in kpis:
        shown = ", ".join(kpis[:12]) + (", ..." if len(kpis) > 12 else "")
        raise ChartError(f"no KPI {kpi!r} in this sweep; it has {shown}")
    if y is None:
        return kpi_against_axis(summary, kpi, x, axes)
    return kpi_heatmap(summary, kpi, x, y, axes)


def save_sweep_charts(
    summary: pd.DataFrame,
    axes: Sequence[str],
    charts: Sequence[tuple[str, str, str | None]],
    folder: Path,
) -> list[Path]:
    """Draw each chart (kpi, x axis, y axis for a heat map or None for a line chart) into
    `folder` as PNG and SVG, each file written whole under a scratch name first."""
    from .theme import save_figure

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    scratch = Path(tempfile.mkdtemp(prefix=".charts-", dir=folder))
    try:
        for kpi, x, y in charts:
            if y is None:
                fig = kpi_against_axis(summary, kpi, x, axes)
                stem = f"{kpi}-by-{x}"
            else:
                fig = kpi_heatmap(summary, kpi, x, y, axes)
                stem = f"{kpi}-by-{x}-and-{y}"
            for path in save_figure(fig, scratch / stem):
                os.replace(path, folder / path.name)
                written.append(folder / path.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return written


def default_charts(
    summary: pd.DataFrame, axes: Sequence[str], kpis: Sequence[str]
) -> list[tuple[str, str, str | None]]:
    """Charts to draw when none are asked for: each KPI against the first axis of numbers
    (or the first axis), and a heat map over the first two axes when there are two."""
    numeric = [a for a in axes if pd.api.types.is_numeric_dtype(summary[a])]
    x = (numeric or list(axes))[0]
    charts: list[tuple[str, str, str | None]] = [(kpi, x, None) for kpi in kpis]
    if len(axes) == 2:
        y = axes[1] if axes[0] == x else axes[0]
        charts += [(kpi, x, y) for kpi in kpis]
    return charts
