"""sre-sandbox: a discrete-event simulator of how running software changes as a team grows.

The public API, shared by the `sresim` command and the notebooks:

    scenario = simulator.load_scenario("scenarios/validation/mmc.yaml", overrides={...})
    result = simulator.run(scenario, seed=1)
    result.summary["wait_mean_s"], result.tables["requests"]
"""

from .errors import ScenarioError
from .results import Comparison, Replications, Result
from .runner import compare, run, run_replications
from .scenario import Scenario, load_scenario

__version__ = "0.1.0"

__all__ = [
    "Comparison",
    "Replications",
    "Result",
    "Scenario",
    "ScenarioError",
    "compare",
    "load_scenario",
    "run",
    "run_replications",
]
