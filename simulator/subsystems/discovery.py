"""Service discovery, configuration drift and secrets: they act on the request-level
services, so they exist only where requests are simulated one by one. Discovery and secrets
hand their fixes to the delivery model when the scenario has one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from ..metrics.discovery import configuration_results, discovery_results, secrets_results
from ..model.context import Organisation, RunContext, Subsystem
from ..scenario.schema import Scenario
from .spec import SubsystemSpec


def _delivery(needed: Mapping[str, Subsystem]) -> Organisation | None:
    """The delivery model, if the scenario switched it on (it ships configuration changes
    and opens incidents)."""
    return cast("Organisation | None", needed.get("delivery"))


def _microservices(scenario: Scenario) -> bool:
    return scenario.deployment == "microservices"


def _discovery_wanted(scenario: Scenario) -> bool:
    from ..model.discovery.model import is_active

    return _microservices(scenario) and is_active(scenario)


# The models are imported when a scenario builds them (see `simulator.subsystems`).
def _build_discovery(context: RunContext, needed: Mapping[str, Subsystem]) -> Subsystem:
    from ..model.discovery.model import DiscoveryModel

    return DiscoveryModel(context, _delivery(needed))


def _build_configuration(context: RunContext, needed: Mapping[str, Subsystem]) -> Subsystem:
    from ..model.discovery.configuration import ConfigurationModel

    return ConfigurationModel(context)


def _build_secrets(context: RunContext, needed: Mapping[str, Subsystem]) -> Subsystem:
    from ..model.discovery.secrets import SecretsModel

    return SecretsModel(context, _delivery(needed))


SPECS = [
    SubsystemSpec(
        name="discovery",
        wanted=_discovery_wanted,
        build=_build_discovery,
        collect=discovery_results,
        needs=("delivery",),
        request_level_only=True,
    ),
    SubsystemSpec(
        name="configuration",
        wanted=lambda s: _microservices(s) and "configuration" in s.model_fields_set,
        build=_build_configuration,
        collect=configuration_results,
        request_level_only=True,
    ),
    SubsystemSpec(
        name="secrets",
        wanted=lambda s: _microservices(s) and s.secrets.kind != "none",
        build=_build_secrets,
        collect=secrets_results,
        needs=("delivery",),
        request_level_only=True,
    ),
]
