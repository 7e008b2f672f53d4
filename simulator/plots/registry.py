"""Charts by name, for `sresim chart`: one run's, and the eras' (a sweep's: plots/sweep.py).

    figure = draw_chart("latency-cdf", result)
    save_one(figure, Path("cdf.svg"), width=1280, height=720, dpi=100)
    figure = draw_era_chart("comparison", EraData(results=results, table=era_table(results)))

Each entry wraps a chart function of this package (the same ones `save_run_charts` and
`python -m simulator.experiments.eras` use) with a test of whether a run has what it needs;
the names and what each shows are in simulator/chart_catalogue.py (no plotting library, so
that `sresim chart --list` starts at once). The functions themselves are unchanged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..chart_catalogue import ERA_CHARTS, RUN_CHARTS, ChartError, era_chart, run_chart
from .theme import close_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from ..results import Result


@dataclass(frozen=True)
class Chart:
    """A chart of one run: its name, a line on what it shows, what the run needs."""

    name: str
    shows: str
    needs: str
    draw: Callable[[Result], Figure]
    applies: Callable[[Result], bool]


def _services(result: Result) -> bool:
    return bool(result.scenario.services)


def _calls(result: Result) -> bool:
    return any(service.calls() for service in result.scenario.services.values())


def _scheduling(result: Result) -> bool:
    from .scheduling import has_scheduling

    return has_scheduling(result)


def _delivery(result: Result) -> bool:
    from .delivery import has_delivery

    return has_delivery(result)


def _table(name: str) -> Callable[[Result], bool]:
    def applies(result: Result) -> bool:
        table = result.tables.get(name)
        return table is not None and not table.empty

    return applies


def _latency_cdf(result: Result) -> Figure:
    from .latency import latency_cdf

    return latency_cdf(result)


def _latency_over_time(result: Result) -> Figure:
    from .timeline import latency_over_time

    return latency_over_time(result)


def _utilisation(result: Result) -> Figure:
    from .utilisation import utilisation_over_time

    return utilisation_over_time(result)


def _call_graph(result: Result) -> Figure:
    from .callgraph import call_graph_chart

    return call_graph_chart(result)


def _capacity(result: Result) -> Figure:
    from .capacity import capacity_over_time

    return capacity_over_time(result)


def _cost(result: Result) -> Figure:
    from .capacity import cost_over_time

    return cost_over_time(result)


def _cluster_heatmap(result: Result) -> Figure:
    from .scheduling import cluster_heatmap

    return cluster_heatmap(result)


def _failure_timeline(result: Result) -> Figure:
    from .scheduling import failure_timeline

    return failure_timeline(result)


def _cumulative_flow(result: Result) -> Figure:
    from .delivery import cumulative_flow

    return cumulative_flow(result)


def _lead_time(result: Result) -> Figure:
    from .delivery import lead_time_distribution

    return lead_time_distribution({result.scenario.name: result})


def _operator_time(result: Result) -> Figure:
    from .delivery import operator_time

    return operator_time({result.scenario.name: result})


def _value_stream(result: Result) -> Figure:
    from .delivery import value_stream

    return value_stream({result.scenario.name: result})


def _incident_timeline(result: Result) -> Figure:
    from .delivery import incident_timeline_chart

    return incident_timeline_chart(result)


def _convergence(result: Result) -> Figure:
    from .discovery import convergence_curves

    return convergence_curves(result)


def _stale_errors(result: Result) -> Figure:
    from .discovery import stale_errors_over_time

    return stale_errors_over_time(result)


def _blast_radius(result: Result) -> Figure:
    from .discovery import blast_radius_chart

    return blast_radius_chart(result)


_DRAWN: dict[str, tuple[Callable[[Result], Figure], Callable[[Result], bool]]] = {
    "latency-cdf": (_latency_cdf, _services),
    "latency-over-time": (_latency_over_time, _services),
    "utilisation": (_utilisation, _services),
    "call-graph": (_call_graph, _calls),
    "capacity": (_capacity, _services),
    "cost": (_cost, _services),
    "cluster-heatmap": (_cluster_heatmap, _scheduling),
    "failure-timeline": (_failure_timeline, _scheduling),
    "cumulative-flow": (_cumulative_flow, _delivery),
    "lead-time": (_lead_time, _delivery),
    "operator-time": (_operator_time, _delivery),
    "value-stream": (_value_stream, _table("lead_time_breakdown")),
    "incident-timeline": (_incident_timeline, _table("incident_timeline")),
    "discovery-convergence": (_convergence, _table("discovery_changes")),
    "stale-errors": (
        _stale_errors,
        lambda result: _services(result) and _table("discovery_changes")(result),
    ),
    "blast-radius": (_blast_radius, _table("secret_leaks")),
}

CHARTS: dict[str, Chart] = {
    name: Chart(name, shows, needs, *_DRAWN[name]) for name, (shows, needs) in RUN_CHARTS.items()
}
"""Every chart of one run, by name, in the order `--list` shows them (the names and words
are in simulator/chart_catalogue.py, which loads no plotting library)."""


def chart_named(name: str) -> Chart:
    """The chart called `name`; a ChartError listing the valid names if none is."""
    return CHARTS[run_chart(name)]


def draw_chart(name: str, result: Result) -> Figure:
    """Chart `name` of `result` (in the current theme); a ChartError if the run lacks what
    it needs (a scheduling chart of a run without the scheduling model)."""
    chart = chart_named(name)
    if not chart.applies(result):
        raise ChartError(f"chart {name!r} needs {chart.needs}, which this run does not have")
    return chart.draw(result)


@dataclass(frozen=True)
class EraData:
    """What the era charts draw: each era's run and the table `era_table` makes of them
    (simulator/experiments/eras.py), or the growth sweep's table (experiments/growth.py).
    The charts read them only; whoever calls runs what the chart needs (ERA_CHARTS)."""

    results: Mapping[str, Result] | None = None
    table: pd.DataFrame | None = None
    growth: pd.DataFrame | None = None


def draw_era_chart(name: str, data: EraData) -> Figure:
    """Era chart `name` (a key of ERA_CHARTS) of `data`, in the current theme."""
    from . import delivery

    needs = ERA_CHARTS[era_chart(name)][1]
    if needs == "growth":
        if data.growth is None:
            raise ChartError(f"era chart {name!r} needs the growth sweep's table")
        return delivery.growth_curves(data.growth)
    if data.results is None:
        raise ChartError(f"era chart {name!r} needs the runs of the three eras")
    if name == "comparison":
        if data.table is None:
            raise ChartError("era chart 'comparison' needs the era table of the runs")
        return delivery.era_comparison(data.table)
    draw = {
        "lead-time": delivery.lead_time_distribution,
        "operator-time": delivery.operator_time,
        "value-stream": delivery.value_stream,
    }[name]
    return draw(data.results)


def save_one(fig: Figure, path: Path, width: int, height: int, dpi: int) -> Path:
    """Write `fig` to `path` (.png or .svg) at `width` × `height` pixels and close it.

    The figure is resized to width/dpi × height/dpi inches, so `dpi` sets how large type
    and lines look; an SVG gets `width` and `height` in pixels with the drawing's own
    viewBox (vector graphics scale without loss)."""
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        close_figure(fig)
        raise ChartError(f"expected an output file ending in .svg or .png, got {path.name!r}")
    scratch = path.with_name(f".{path.name}.partial")  # the file appears whole or not at all
    try:
        fig.set_size_inches(width / dpi, height / dpi)
        fig.savefig(scratch, format=kind, dpi=dpi, facecolor=fig.get_facecolor())
        if kind == "svg":
            text = scratch.read_text(encoding="utf-8")
            text = _SVG_SIZE.sub(rf'\g<1>width="{width}" height="{height}"', text, count=1)
            scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, path)
    finally:
        close_figure(fig)
        scratch.unlink(missing_ok=True)
    return path


_SVG_SIZE = re.compile(r'(<svg[^>]*?\s)width="[^"]*"\s+height="[^"]*"')
