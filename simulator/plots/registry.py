"""One chart of one run, by name: what `sresim chart` draws and `sresim chart --list` lists.

    figure = draw_chart("latency-cdf", result)
    save_one(figure, Path("cdf.svg"), width=1280, height=720, dpi=100)

Each entry wraps a chart function of this package (the same ones `save_run_charts` uses)
with a line saying what it shows and a test of whether a run has what it needs; the
functions themselves are unchanged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .theme import close_figure

if TYPE_CHECKING:
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


CHARTS: dict[str, Chart] = {
    chart.name: chart
    for chart in (
        Chart(
            "latency-cdf",
            "share of requests answered within each latency, per service, with theory",
            "services",
            _latency_cdf,
            _services,
        ),
        Chart(
            "latency-over-time",
            "p50 and p99 latency of successful requests over time",
            "services",
            _latency_over_time,
            _services,
        ),
        Chart(
            "utilisation",
            "utilisation and queue length per service over time",
            "services",
            _utilisation,
            _services,
        ),
        Chart(
            "call-graph",
            "which service calls which, with visits per request",
            "services that call each other",
            _call_graph,
            _calls,
        ),
        Chart(
            "capacity",
            "replicas per service and nodes over time, with the traffic behind",
            "services",
            _capacity,
            _services,
        ),
        Chart(
            "cost",
            "spend per hour on nodes: the base and what the autoscaler added",
            "services",
            _cost,
            _services,
        ),
        Chart(
            "cluster-heatmap",
            "the cluster scheduler's machines busy over time",
            "a scheduling: section",
            _cluster_heatmap,
            _scheduling,
        ),
        Chart(
            "failure-timeline",
            "jobs abandoned and scheduler conflicts over time",
            "a scheduling: section",
            _failure_timeline,
            _scheduling,
        ),
        Chart(
            "cumulative-flow",
            "changes in each delivery stage over time",
            "a delivery: section",
            _cumulative_flow,
            _delivery,
        ),
        Chart(
            "lead-time",
            "distribution of the lead time from commit to production",
            "a delivery: section",
            _lead_time,
            _delivery,
        ),
        Chart(
            "operator-time",
            "operators' hours by kind of work",
            "a delivery: section",
            _operator_time,
            _delivery,
        ),
        Chart(
            "value-stream",
            "where a change's lead time goes, stage by stage",
            "a change that reached production",
            _value_stream,
            _table("lead_time_breakdown"),
        ),
        Chart(
            "incident-timeline",
            "each incident from start to detection, response and recovery",
            "an incident",
            _incident_timeline,
            _table("incident_timeline"),
        ),
        Chart(
            "discovery-convergence",
            "share of clients that know of an endpoint change against the time since it",
            "endpoint changes (discovery:)",
            _convergence,
            _table("discovery_changes"),
        ),
        Chart(
            "stale-errors",
            "visits failed on a stale endpoint per second over time",
            "endpoint changes and services",
            _stale_errors,
            lambda result: _services(result) and _table("discovery_changes")(result),
        ),
        Chart(
            "blast-radius",
            "what a leaked credential could reach while it was valid",
            "a leaked credential (secrets: leak)",
            _blast_radius,
            _table("secret_leaks"),
        ),
    )
}
"""Every chart of one run, by name, in the order `--list` shows them."""


class ChartError(ValueError):
    """A chart that does not exist or that the run cannot show: one line saying why."""


def chart_named(name: str) -> Chart:
    """The chart called `name`; a ChartError listing the valid names if none is."""
    try:
        return CHARTS[name]
    except KeyError:
        raise ChartError(f"no chart {name!r}; expected one of: {', '.join(CHARTS)}") from None


def draw_chart(name: str, result: Result) -> Figure:
    """Chart `name` of `result` (in the current theme); a ChartError if the run lacks what
    it needs (a scheduling chart of a run without the scheduling model)."""
    chart = chart_named(name)
    if not chart.applies(result):
        raise ChartError(f"chart {name!r} needs {chart.needs}, which this run does not have")
    return chart.draw(result)


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
