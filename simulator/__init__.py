"""sre-sandbox: a discrete-event simulator of how running software changes as a team grows.

The public API, shared by the `sresim` command and the notebooks:

    scenario = simulator.load_scenario("scenarios/validation/mmc.yaml", overrides={...})
    result = simulator.run(scenario, seed=1)
    result.summary["wait_mean_s"], result.tables["requests"]
    grid = simulator.sweep(scenario, {"traffic.api.rate": ["3/s", "3.6/s"]}, replications=5)
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from .errors import ScenarioError

if TYPE_CHECKING:
    from .experiments.sweep import sweep
    from .results import Comparison, Replications, Result, SweepResult
    from .runner import compare, run, run_replications
    from .scenario import Scenario, load_scenario

__version__ = "0.1.0"

_LAZY = {
    "Comparison": "results",
    "Replications": "results",
    "Result": "results",
    "SweepResult": "results",
    "sweep": "experiments.sweep",
    "compare": "runner",
    "run": "runner",
    "run_replications": "runner",
    "Scenario": "scenario",
    "load_scenario": "scenario",
}


def __getattr__(name: str) -> Any:
    """The public API and the subpackages, imported on first use: `sresim` starts (and
    answers Ctrl-C) before numpy, pandas and SimPy have loaded."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "Comparison",
    "Replications",
    "Result",
    "Scenario",
    "ScenarioError",
    "SweepResult",
    "compare",
    "load_scenario",
    "run",
    "run_replications",
    "sweep",
]
