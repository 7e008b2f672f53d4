"""The charts of one run, and `save_run_charts`, which writes them for `sresim run --out`.

Each chart takes a Result and, optionally, Axes to draw on, and returns the Figure. Without
Axes it makes its own slide-sized figure in the slide theme. Figures are plain
`matplotlib.figure.Figure` objects, not pyplot ones: nothing here picks a backend or
opens a window, and a notebook still shows a returned figure.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .delivery import has_delivery
from .latency import latency_cdf
from .scheduling import cluster_heatmap, failure_timeline, has_scheduling
from .theme import save_figure, slide_theme
from .utilisation import utilisation_over_time

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..results import Result

__all__ = ["latency_cdf", "save_run_charts", "utilisation_over_time"]


def save_run_charts(result: Result, directory: Path | str, svg: bool = True) -> list[Path]:
    """Write the charts of a run into `directory` (PNG and SVG each, or with `svg=False` the
    PNGs alone, as the website's gallery shows them): with services,
    latency-cdf, latency-over-time and utilisation, and call-graph when services call each
    other; with the scheduling model, cluster-heatmap and failure-timeline; with endpoint
    changes, discovery-convergence and stale-errors; with a leaked credential, blast-radius;
    with the delivery model, cumulative-flow, lead-time and operator-time, and value-stream
    and incident-timeline when a change reached production or an incident happened."""
    from .callgraph import call_graph_chart
    from .timeline import latency_over_time

    directory = Path(directory)

    def save(fig: Figure, name: str) -> list[Path]:
        return save_figure(fig, directory / name, svg=svg)

    written: list[Path] = []
    scenario = result.scenario
    with slide_theme():
        if scenario.services or not (has_scheduling(result) or has_delivery(result)):
            written += save(latency_cdf(result), "latency-cdf")
            written += save(latency_over_time(result), "latency-over-time")
            written += save(utilisation_over_time(result), "utilisation")
        calls = any(service.calls() for service in scenario.services.values())
        if calls and len(scenario.services) <= 60:  # a thousand nodes is no picture
            written += save(call_graph_chart(result), "call-graph")
        if has_scheduling(result):
            written += save(cluster_heatmap(result), "cluster-heatmap")
            written += save(failure_timeline(result), "failure-timeline")
        if has_delivery(result):
            from .delivery import (
                cumulative_flow,
                incident_timeline_chart,
                lead_time_distribution,
                operator_time,
                value_stream,
            )

            name = {scenario.name: result}
            written += save(cumulative_flow(result), "cumulative-flow")
            written += save(lead_time_distribution(name), "lead-time")
            written += save(operator_time(name), "operator-time")
            if not result.tables["lead_time_breakdown"].empty:
                written += save(value_stream(name), "value-stream")
            if not result.tables["incident_timeline"].empty:
                chart = incident_timeline_chart(result)
                written += save(chart, "incident-timeline")
        written += _discovery_charts(result, save)
    return written


def _discovery_charts(result: Result, save: Callable[[Figure, str], list[Path]]) -> list[Path]:
    """discovery-convergence and stale-errors with endpoint changes; blast-radius with a leak."""
    from .discovery import (
        blast_radius_chart,
        convergence_curves,
        has_discovery,
        has_leaks,
        stale_errors_over_time,
    )

    written: list[Path] = []
    if has_discovery(result):
        written += save(convergence_curves(result), "discovery-convergence")
        if result.scenario.services:
            written += save(stale_errors_over_time(result), "stale-errors")
    if has_leaks(result):
        written += save(blast_radius_chart(result), "blast-radius")
    return written
