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
    """Write latency-cdf.{png,svg} and utilisation.{png,svg} into `directory`; with the
    scheduling model, also cluster-heatmap and failure-timeline."""
    directory = Path(directory)
    written: list[Path] = []
    with slide_theme():
        written += save_figure(latency_cdf(result), directory / "latency-cdf")
        written += save_figure(utilisation_over_time(result), directory / "utilisation")
        if has_scheduling(result):
            written += save_figure(cluster_heatmap(result), directory / "cluster-heatmap")
            written += save_figure(failure_timeline(result), directory / "failure-timeline")
    return written
