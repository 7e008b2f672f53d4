"""Scenarios: the schema, human units, distributions and loading from YAML.

The package is imported with the garbage collector paused: building its models' schemas
(pydantic) allocates a few hundred thousand objects and frees almost none, so the
collections that the allocations set off find nothing to free (about 4% of the import's
instructions, measured with callgrind). The collector's state is restored afterwards.
"""

import gc

_collecting = gc.isenabled()
gc.disable()
try:
    from .distributions import Distribution
    from .loader import load_scenario
    from .mappings import deep_merge
    from .schema import LOAD_BALANCER_POLICIES, Scenario, Service, Traffic
finally:
    if _collecting:
        gc.enable()
    del _collecting

__all__ = [
    "LOAD_BALANCER_POLICIES",
    "Distribution",
    "Scenario",
    "Service",
    "Traffic",
    "deep_merge",
    "load_scenario",
]
