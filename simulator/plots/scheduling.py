"""Charts of the cluster scheduling model: the Omega paper's figure style, a utilisation heat
map of the cell, and a timeline of failures and rescheduling. They draw what runs left
behind; `simulator.experiments.scheduling` runs the sweeps:

    from simulator.experiments.scheduling import decision_time_sweep

    sweep = decision_time_sweep("scenarios/omega/example.yaml", [0.1, 1, 10, 30, 100])
    fig = busyness_and_wait(sweep)
    fig = abandoned_share(sweep)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from .common import empty_note, new_figure, root_figure, theme_if
from .data import time_unit
from .theme import PALETTE

if TYPE_CHECKING:
    from ..results import Result

ARCHITECTURE_COLOURS = {
    "monolithic-single-path": PALETTE[0],
    "monolithic-multi-path": PALETTE[1],
    "two-level": PALETTE[2],
    "shared-state": PALETTE[3],
}


def busyness_and_wait(
    sweep: pd.DataFrame,
    x: str = "t_job_service",
    ax: Sequence[Axes] | None = None,
    saturation: Mapping[str, float] | None = None,
) -> Figure:
    """Busyness (left) and mean wait (right) against decision time, one line per scheduler.

    `sweep` has one row per run with columns `architecture`, `x` (seconds) and the KPIs
    `busyness_batch`, `busyness_service`, `wait_mean_s_batch`, `wait_mean_s_service`: what
    `simulator.experiments.scheduling.decision_time_sweep` returns. Solid lines are batch,
    dashed service, as in the paper's Figures 5–7 (log-scaled decision time). Lines that
    coincide are drawn once, with one legend entry naming them all: "=" where they are equal
    (a monolithic scheduler's batch and service busyness are one scheduler's), "≈" where they
    are within half a percentage point of busyness or 2% of wait. A wait of zero (nothing
    waited) has no place on the log scale and is left out. `saturation` maps a label to the
    decision time at which theory says that scheduler saturates: a dotted vertical line each.
    """
    own = ax is None
    with theme_if(own):
        if ax is None:
            fig = new_figure()
            left, right = fig.subplots(1, 2)
            fig.suptitle("Scheduler busyness and job wait against decision time", x=0.01, ha="left")
        else:
            left, right = ax
            fig = root_figure(left)
        lines: dict[str, list[_Series]] = {"busyness": [], "wait_mean_s": []}
        for architecture, rows in sweep.groupby("architecture", sort=False):
            rows = rows.sort_values(x)
            colour = ARCHITECTURE_COLOURS.get(str(architecture), PALETTE[4])
            for kpi, series in lines.items():
                for kind, style in (("batch", "-"), ("service", "--")):
                    values = rows[f"{kpi}_{kind}"].to_numpy(dtype=float)
                    if kpi == "wait_mean_s":
                        values = np.where(values > 0, values, np.nan)
                    series.append(
                        _Series(str(architecture), kind, style, colour, rows[x].to_numpy(), values)
                    )
        for axes, series, close in (
            (left, lines["busyness"], {"atol": 0.005, "rtol": 0.0}),
            (right, lines["wait_mean_s"], {"atol": 0.0, "rtol": 0.02}),
        ):
            for group in _coinciding(series, **close):
                first = group[0]
                axes.plot(
                    first.x, first.y, first.style, color=first.colour, marker="o",
                    label=_label(group),
                )  # fmt: skip
        for label, t_job in (saturation or {}).items():
            colour = ARCHITECTURE_COLOURS.get(label.split(":")[0], "#555555")
            for axes in (left, right):
                axes.axvline(t_job, color=colour, ls=":", lw=2.0, label=f"{label} ({t_job:.2f} s)")
        for axes in (left, right):
            axes.set_xscale("log")
            axes.set_xlabel("service decision time t_job (s)")
        left.set_title("how busy each scheduler is", fontsize="medium")
        right.set_title("how long jobs wait for their first attempt", fontsize="medium")
        left.set_ylabel("busyness (share of time)")
        left.set_ylim(0, 1.05)
        left.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        right.set_yscale("log")
        right.set_ylabel("mean wait (s)")
        for axes in (left, right):  # each panel names its own lines (they group differently)
            axes.legend(
                fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=1
            )
    return fig


@dataclass(frozen=True)
class _Series:
    """One architecture's batch or service line of a KPI."""

    architecture: str
    kind: str
    style: str
    colour: str
    x: np.ndarray
    y: np.ndarray

    def close(self, other: _Series, atol: float, rtol: float) -> bool:
        return (
            self.x.shape == other.x.shape
            and bool(np.allclose(self.x, other.x))
            and bool(np.allclose(self.y, other.y, rtol=rtol, atol=atol, equal_nan=True))
        )


def _coinciding(series: list[_Series], atol: float, rtol: float) -> list[list[_Series]]:
    """The series grouped with the first of a group they are close to, in first-seen order."""
    groups: list[list[_Series]] = []
    for one in series:
        match = next((group for group in groups if group[0].close(one, atol, rtol)), None)
        if match is None:
            groups.append([one])
        else:
            match.append(one)
    return groups


def _label(group: list[_Series]) -> str:
    """'two-level, batch', 'monolithic-single-path, batch = service', or the lines of a group
    joined by "=" (equal) or "≈" (close) when they coincide."""
    first = group[0]
    label = f"{first.architecture}, {first.kind}"
    previous = first
    for one in group[1:]:
        sign = "=" if one.close(first, atol=0.0, rtol=1e-9) else "≈"
        name = (
            one.kind
            if one.architecture == previous.architecture
            else (f"{one.architecture}, {one.kind}")
        )
        label += f" {sign} {name}"
        previous = one
    return label


def abandoned_share(
    sweep: pd.DataFrame, x: str = "t_job_service", ax: Axes | None = None
) -> Figure:
    """Share of batch jobs abandoned against decision time, one line per architecture (the
    paper's Figure 7c style). `sweep` is what `decision_time_sweep` returns."""
    own = ax is None
    with theme_if(own):
        fig = new_figure() if ax is None else root_figure(ax)
        axes = fig.subplots() if ax is None else ax
        for architecture, rows in sweep.groupby("architecture", sort=False):
            rows = rows.sort_values(x)
            share = rows.jobs_abandoned_batch / rows.jobs_submitted_batch.clip(lower=1)
            colour = ARCHITECTURE_COLOURS.get(str(architecture), PALETTE[4])
            axes.plot(rows[x], share, "-", color=colour, marker="o", label=str(architecture))
        axes.set_xscale("log")
        axes.set_xlabel("t_job (service) [s]")
        axes.set_ylabel("batch jobs abandoned")
        axes.set_ylim(-0.02, 1.02)
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.set_title("Batch jobs abandoned against the service decision time")
        axes.legend(fontsize="small", loc="upper left")
    return fig


def cluster_heatmap(result: Result, ax: Axes | None = None) -> Figure:
    """CPU in use per rack (rows) over time (columns): where the cell is full, and when."""
    own = ax is None
    with theme_if(own):
        fig = new_figure() if ax is None else root_figure(ax)
        axes = fig.subplots() if ax is None else ax
        table = result.tables.get("cluster_utilisation")
        axes.set_title(f"{result.scenario.name}: CPU in use per rack")
        if table is None or table.empty:
            empty_note(axes, "no cluster in this run")
            return fig
        grid = table.pivot(index="rack", columns="time", values="cpu")
        unit, seconds = time_unit(result.scenario.horizon)
        times = grid.columns.to_numpy() / seconds
        image = axes.imshow(
            grid.to_numpy(),
            aspect="auto",
            origin="lower",
            interpolation="nearest",
            vmin=0,
            vmax=1,
            cmap="viridis",
            extent=(times[0], times[-1], -0.5, len(grid) - 0.5),
        )
        axes.grid(False)
        axes.set_xlabel(f"simulated time ({unit})")
        axes.set_ylabel("rack")
        bar = fig.colorbar(image, ax=axes)
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        bar.set_label("CPU in use")
    return fig


def failure_timeline(result: Result, ax: Sequence[Axes] | None = None) -> Figure:
    """Nodes down and CPU in use (top) and tasks killed and resubmitted (bottom) over time."""
    own = ax is None
    with theme_if(own):
        if ax is None:
            fig = new_figure()
            top, bottom = fig.subplots(2, 1, sharex=True)
            fig.suptitle(f"{result.scenario.name}: failures and rescheduling", x=0.01, ha="left")
        else:
            top, bottom = ax
            fig = root_figure(top)
        unit, seconds = time_unit(result.scenario.horizon)
        usage = result.tables.get("cluster_utilisation")
        failures = result.tables.get("failures")
        if usage is None or usage.empty:
            empty_note(top, "no cluster in this run")
            return fig
        totals = usage.groupby("time").agg(cpu=("cpu", "mean"), up=("nodes_up", "sum"))
        t = totals.index.to_numpy() / seconds
        top.plot(t, totals.cpu, color=PALETTE[0], label="CPU in use (share of cell)")
        top.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        top.set_ylim(0, 1.05)
        down = 1 - totals.up / totals.up.max()
        top.fill_between(
            t, 0, down, color=PALETTE[3], alpha=0.5, step="post", label="nodes down (share)"
        )
        top.legend(loc="lower right", fontsize="small")
        top.set_ylabel("share of the cell")
        if failures is None or failures.empty:
            empty_note(bottom, "no failures in this run")
        else:
            colours = {"node": PALETTE[0], "rack": PALETTE[1], "power": PALETTE[3]}
            for scope, rows in failures.groupby("scope"):
                bottom.bar(
                    rows.time / seconds,
                    rows.tasks_killed,
                    width=(result.scenario.horizon / seconds) / 200,
                    color=colours.get(str(scope), PALETTE[4]),
                    label=f"{scope} failure",
                )
                if scope == "node":
                    continue  # too many to shade; rack and power outages are the story
                for _, row in rows.iterrows():
                    top.axvspan(
                        row.time / seconds,
                        (row.time + row.down_s) / seconds,
                        color=colours.get(str(scope), PALETTE[4]),
                        alpha=0.08,
                    )
            bottom.legend(loc="upper right", fontsize="small")
        bottom.set_ylabel("tasks killed\nand resubmitted")
        bottom.set_xlabel(f"simulated time ({unit})")
        bottom.set_xlim(result.scenario.warmup / seconds, result.scenario.horizon / seconds)
    return fig


def has_scheduling(result: Result) -> bool:
    """Whether a run carried the scheduling model (its tables are present)."""
    return "cluster_utilisation" in result.tables
