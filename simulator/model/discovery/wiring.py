"""Which of the discovery, configuration and secrets models a scenario switches on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..world import Subsystem, World


def build(world: World) -> list[Subsystem]:
    """The models the scenario asks for, built on the world (none: the hot path is untouched)."""
    scenario = world.scenario
    built: list[Subsystem] = []
    if scenario.deployment != "microservices":
        return built
    from .model import DiscoveryModel, is_active

    if is_active(scenario):
        built.append(DiscoveryModel(world))
    if "configuration" in scenario.model_fields_set:
        from .configuration import ConfigurationModel

        built.append(ConfigurationModel(world))
    if scenario.secrets.kind != "none":
        from .secrets import SecretsModel

        built.append(SecretsModel(world))
    return built
