"""Service discovery, configuration drift and secrets: they act on the request-level
services, so they exist only where requests are simulated one by one."""

from __future__ import annotations

from types import SimpleNamespace

from ..model.discovery.configuration import ConfigurationModel
from ..model.discovery.model import DiscoveryModel, is_active
from ..model.discovery.secrets import SecretsModel
from . import SubsystemSpec


def _world(context, needed):  # type: ignore[no-untyped-def]
    services = context.services
    return SimpleNamespace(
        env=context.env,
        scenario=context.scenario,
        streams=context.streams,
        events=context.events,
        stations=services.stations,
        spans=services.spans,
        requests=services.requests,
        warmup_areas=services.warmup_areas,
        subsystems=list(needed.values()),
    )


def _microservices(scenario) -> bool:  # type: ignore[no-untyped-def]
    return scenario.deployment == "microservices"


SPECS = [
    SubsystemSpec(
        name="discovery",
        wanted=lambda s: _microservices(s) and is_active(s),
        build=lambda context, needed: DiscoveryModel(_world(context, needed)),
        collect=lambda model, run: (model.summary(), model.tables()),
        needs=("delivery",),
        request_level_only=True,
    ),
    SubsystemSpec(
        name="configuration",
        wanted=lambda s: _microservices(s) and "configuration" in s.model_fields_set,
        build=lambda context, needed: ConfigurationModel(_world(context, needed)),
        collect=lambda model, run: (model.summary(), model.tables()),
        request_level_only=True,
    ),
    SubsystemSpec(
        name="secrets",
        wanted=lambda s: _microservices(s) and s.secrets.kind != "none",
        build=lambda context, needed: SecretsModel(_world(context, needed)),
        collect=lambda model, run: (model.summary(), model.tables()),
        needs=("delivery",),
        request_level_only=True,
    ),
]
