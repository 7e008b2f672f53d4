"""Scenarios: the schema, human units, distributions and loading from YAML."""

from .distributions import Distribution
from .loader import load_scenario
from .mappings import deep_merge
from .schema import LOAD_BALANCER_POLICIES, Scenario, Service, Traffic

__all__ = [
    "LOAD_BALANCER_POLICIES",
    "Distribution",
    "Scenario",
    "Service",
    "Traffic",
    "deep_merge",
    "load_scenario",
]
