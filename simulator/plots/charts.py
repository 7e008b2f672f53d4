"""The charts of one run, and `save_run_charts`, which writes them for `Result.save`.

Each chart takes a Result and, optionally, Axes to draw on, and returns the Figure. Without
Axes it makes its own slide-sized figure in the slide theme. Figures are plain
`matplotlib.figure.Figure` objects, not pyplot ones: nothing here picks a backend or
opens a window, and a notebook still shows a returned figure.
"""

from __future__ import annotations

from pathlib import Path

from .latency import latency_cdf
from .scheduling import cluster_heatmap, failure_timeline, has_scheduling
from .theme import save_figure, slide_theme
from .utilisation import utilisation_over_time

__all__ = ["latency_cdf", "save_run_charts", "utilisation_over_time"]


def save_run_charts(result, directory: Path | str) -> list[Path]:  # type: ignore[no-untyped-def]
    """Write the charts of a run into `directory` (PNG and SVG each): with services,
    latency-cdf, latency-over-time and utilisation, and call-graph when services call each
    other; with the scheduling model, cluster-heatmap and failure-timeline."""
    from .callgraph import call_graph_chart
    from .timeline import latency_over_time

    directory = Path(directory)
    written: list[Path] = []
    scenario = result.scenario
    with slide_theme():
        if scenario.services or not has_scheduling(result):
            written += save_figure(latency_cdf(result), directory / "latency-cdf")
            written += save_figure(latency_over_time(result), directory / "latency-over-time")
            written += save_figure(utilisation_over_time(result), directory / "utilisation")
        calls = any(service.calls() for service in scenario.services.values())
        if calls and len(scenario.services) <= 60:  # a thousand nodes is no picture
            written += save_figure(call_graph_chart(result), directory / "call-graph")
        if has_scheduling(result):
            written += save_figure(cluster_heatmap(result), directory / "cluster-heatmap")
            written += save_figure(failure_timeline(result), directory / "failure-timeline")
    return written
