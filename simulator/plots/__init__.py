"""Slide-ready charts of a run, with the exact queueing theory drawn in where it exists.

    from simulator.plots import latency_cdf, save_figure, slide_theme

    with slide_theme():
        save_figure(latency_cdf(result), Path("out/latency"))   # latency.png, latency.svg

`save_run_charts(result, directory)` writes the standard charts of a run (what
`sresim run --out` adds next to the data `Result.save` writes). Charts read a Result's
tables only: outputs flow one way, from the results to the pictures.
"""

from .callgraph import call_graph_chart
from .capacity import capacity_over_time, cost_over_time
from .charts import latency_cdf, save_run_charts, utilisation_over_time
from .theme import PALETTE, save_figure, slide_theme
from .timeline import latency_over_time

__all__ = [
    "PALETTE",
    "call_graph_chart",
    "capacity_over_time",
    "cost_over_time",
    "latency_cdf",
    "latency_over_time",
    "save_figure",
    "save_run_charts",
    "slide_theme",
    "utilisation_over_time",
]
