"""The analytic fidelity: queueing approximations per time step, composed over the call graph.

`AnalyticServices(context)` is what `simulator.run` builds in place of the request-level
services when a scenario says `fidelity: analytic`. Modules, in the order data flows through them:

* `flows`: the scenario as stations, latency trees and expected visits (pure, no time);
* `stations`: every station at every time step (Erlang C, Allen–Cunneen, fluid backlog);
* `latency`: latency moments at every step, distributions at representative steps;
* `run`: the pipeline, on the run's clock, and its KPIs and tables (the request level's names);
* `crosscheck`: the scenarios both fidelities are compared on (tests and benchmark).

Where it is accurate and where not: docs/analytic.md.
"""

from .flows import Model, compile_model, visits_per_request
from .run import (
    DEFAULT_STEPS,
    MAX_DEFAULT_STEP,
    MAX_TIMESERIES_CELLS,
    REPRESENTATIVE_STEPS,
    AnalyticServices,
    load_states,
    time_step,
)
from .stations import Autoscaler, StationSteps, StepLoad, erlang_b, erlang_c, simulate_stations

__all__ = [
    "DEFAULT_STEPS",
    "MAX_DEFAULT_STEP",
    "MAX_TIMESERIES_CELLS",
    "REPRESENTATIVE_STEPS",
    "AnalyticServices",
    "Autoscaler",
    "Model",
    "StationSteps",
    "StepLoad",
    "compile_model",
    "erlang_b",
    "erlang_c",
    "load_states",
    "simulate_stations",
    "time_step",
    "visits_per_request",
]
