"""The charts of one run, and `save_run_charts`, which writes them for `sresim run --out`.

Each chart takes a Result and, optionally, Axes to draw on, and returns the Figure. Without
Axes it makes its own slide-sized figure in the slide theme. Figures are plain
`matplotlib.figure.Figure` objects, not pyplot ones: nothing here picks a backend or
opens a window, and a notebook still shows a returned figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .delivery import has_delivery
from .latency import latency_cdf
from .scheduling import cluster_heatmap, failure_timeline, has_scheduling
from .theme import save_figure, slide_theme
from .utilisation import utilisation_over_time

if TYPE_CHECKING:
    from ..results import Result

__all__ = ["latency_cdf", "save_run_charts", "utilisation_over_time"]


def save_run_charts(result: Result, directory: Path | str) -> list[Path]:
    """Write the charts of a run into `directory` (PNG and SVG each): with services,
    latency-cdf, latency-over-time and utilisation, and call-graph when services call each
    other; with the scheduling model, cluster-heatmap and failure-timeline; with endpoint
    changes, discovery-convergence and stale-errors; with a leaked credential, blast-radius;
    with the delivery model, cumulative-flow, lead-time and operator-time, and value-stream
    and incident-timeline when a change reached production or an incident happened."""
    from .callgraph import call_graph_chart
    from .timeline import latency_over_time

    directory = Path(directory)
    written: list[Path] = []
    scenario = result.scenario
    with slide_theme():
        if scenario.services or not (has_scheduling(result) or has_delivery(result)):
            written += save_figure(latency_cdf(result), directory / "latency-cdf")
            written += save_figure(latency_over_time(result), directory / "latency-over-time")
            written += save_figure(utilisation_over_time(result), directory / "utilisation")
        calls = any(service.calls() for service in scenario.services.values())
        if calls and len(scenario.services) <= 60:  # a thousand nodes is no picture
            written += save_figure(call_graph_chart(result), directory / "call-graph")
        if has_scheduling(result):
            written += save_figure(cluster_heatmap(result), directory / "cluster-heatmap")
            written += save_figure(failure_timeline(result), directory / "failure-timeline")
        if has_delivery(result):
            from .delivery import (
                cumulative_flow,
                incident_timeline_chart,
                lead_time_distribution,
                operator_time,
                value_stream,
            )

            name = {scenario.name: result}
            written += save_figure(cumulative_flow(result), directory / "cumulative-flow")
            written += save_figure(lead_time_distribution(name), directory / "lead-time")
            written += save_figure(operator_time(name), directory / "operator-time")
            if not result.tables["lead_time_breakdown"].empty:
                written += save_figure(value_stream(name), directory / "value-stream")
            if not result.tables["incident_timeline"].empty:
                chart = incident_timeline_chart(result)
                written += save_figure(chart, directory / "incident-timeline")
        written += _discovery_charts(result, directory)
    return written


def _discovery_charts(result: Result, directory: Path) -> list[Path]:
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
        written += save_figure(convergence_curves(result), directory / "discovery-convergence")
        if result.scenario.services:
            written += save_figure(stale_errors_over_time(result), directory / "stale-errors")
    if has_leaks(result):
        written += save_figure(blast_radius_chart(result), directory / "blast-radius")
    return written
