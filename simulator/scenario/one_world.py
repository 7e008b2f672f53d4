"""The one world's rule at the scenario's door: when the delivery model's deploys act on a
request workload (`delivery.on_runtime`), the services' infrastructure fails in the runtime
(`cluster.failures`, either fidelity), so no failure rate is drawn for them besides
(docs/delivery.md, "Every delivery service serves")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pydantic_core import PydanticCustomError

from .delivery import Delivery, Incidents


class ScenarioLike(Protocol):
    """What `check_one_world` reads of a Scenario (the schema imports this module)."""

    @property
    def services(self) -> Mapping[str, object]: ...
    @property
    def delivery(self) -> Delivery | None: ...
    @property
    def incidents(self) -> Incidents: ...


def check_one_world(scenario: ScenarioLike) -> None:
    """Refuse a drawn infrastructure MTBF for services whose deploys act on the runtime:
    their outages are the runtime's, and a drawn one would come on top of what the
    requests saw (or be ignored, which is worse)."""
    delivery = scenario.delivery
    if delivery is None or not delivery.on_runtime.enabled or not scenario.services:
        return
    if scenario.incidents.infrastructure_mtbf > 0:
        raise PydanticCustomError(
            "one_world",
            "expected 0s when the deploys act on the request workload (delivery.on_runtime): "
            "its infrastructure fails in the runtime; switch on cluster.failures instead",
            {"key": "incidents.infrastructure_mtbf"},
        )
