"""Rollouts on the running services: versions, what a bad version does, and how replicas
are replaced (rolling, blue-green, canary, or by hand).

A user scripts deploys per service (`services.NAME.deploys`); the delivery model asks for
the same rollouts through `simulator.model.rollout.Rollouts`. Defaults and where they come
from are in docs/delivery.md, "Rollouts on the running services".
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, model_validator
from pydantic_core import PydanticCustomError

from .base import ScenarioModel, knob
from .units import Duration

RolloutStrategy = Literal["rolling", "blue-green", "canary", "manual"]
CanaryVerdict = Literal["analysis", "promote", "rollback"]
Outage = Literal["down", "degraded"]

_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def _replica_count(value: Any) -> Any:
    """`2` (replicas) or `"25%"` (of the desired replicas), as Kubernetes' IntOrString."""
    if isinstance(value, bool):
        raise PydanticCustomError("replica_count", "expected a number of replicas or a percentage")
    if isinstance(value, int):
        if value < 0:
            raise PydanticCustomError("replica_count", "expected at least 0 replicas")
        return value
    if isinstance(value, str):
        match = _PERCENT_RE.match(value)
        if match and float(match.group(1)) <= 100:
            return f"{match.group(1)}%"
    raise PydanticCustomError(
        "replica_count", "expected a number of replicas (2) or a percentage up to 100% ('25%')"
    )


ReplicaCount = Annotated[int | str, BeforeValidator(_replica_count)]
"""A number of replicas (`2`) or a share of the desired replicas (`"25%"`)."""


def resolve_count(value: int | str, replicas: int, round_up: bool) -> int:
    """Replicas from a `ReplicaCount`: a percentage of `replicas`, rounded up (max_surge) or
    down (max_unavailable), as Kubernetes resolves its IntOrString values."""
    if isinstance(value, int):
        return value
    share = float(value.rstrip("%")) * replicas / 100.0
    # A small tolerance, so that 25% of 8 is 2 whatever the float arithmetic says.
    return math.ceil(share - 1e-9) if round_up else math.floor(share + 1e-9)


def _is_zero(value: int | str) -> bool:
    return float(value.rstrip("%")) == 0 if isinstance(value, str) else value == 0


class Defect(ScenarioModel):
    """What a bad version does to the requests its replicas serve."""

    error_ratio: float = knob(
        0.0,
        "share of the requests a replica of this version serves that fail (status `defect`): "
        "1 fails them all, 0.1 one endpoint of ten; 0 none",
        ge=0,
        le=1,
    )
    latency_factor: float = knob(
        1.0, "how many times longer its work takes (a latency regression); 1: as fast", ge=1
    )


class Rolling(ScenarioModel):
    """A rolling update: replicas replaced in turn, as Kubernetes' RollingUpdate strategy."""

    max_surge: ReplicaCount = knob(
        "25%",
        "replicas that may run above the desired count while new ones start: a number, or "
        "a percentage of the desired replicas rounded up (Kubernetes' default 25%)",
        "replicas",
    )
    max_unavailable: ReplicaCount = knob(
        "25%",
        "replicas that may be missing below the desired count: a number, or a percentage "
        "rounded down (Kubernetes' default 25%); if both resolve to 0, 1 may be missing",
        "replicas",
    )
    min_ready: Duration = knob(
        0.0,
        "time a new replica must have served before it counts as available and the "
        "rollout goes on (Kubernetes' minReadySeconds, default 0)",
        "s",
        ge=0,
    )

    @model_validator(mode="after")
    def _not_both_zero(self) -> Rolling:
        if _is_zero(self.max_surge) and _is_zero(self.max_unavailable):
            raise PydanticCustomError(
                "rolling_stalls",
                "expected max_surge or max_unavailable above 0 (with both 0 nothing can move)",
                {"key": "max_unavailable"},
            )
        return self


class Canary(ScenarioModel):
    """A canary: a slice gets the new version for an analysis, then the rest or nothing."""

    replicas: int | None = knob(
        None,
        "replicas that run the new version in place of old ones (they get that share of "
        "the traffic); empty means 1, or `share` when it is set",
        "replicas",
        ge=1,
    )
    share: float | None = knob(
        None,
        "share of the traffic the load balancer sends to the new version, whatever the "
        "replica counts (weighted routing, as a service mesh does); needs a load balancer "
        "that picks a replica per request (not central-queue, where it becomes that share "
        "of the replicas, at least 1); empty means `replicas`",
        gt=0,
        lt=1,
    )
    analysis: Duration = knob(
        30 * 60.0,
        "time the canary serves before the verdict (as delivery.automated.canary_duration; "
        "assumed)",
        "s",
        ge=0,
    )
    verdict: CanaryVerdict = knob(
        "analysis",
        "analysis (compare the canary's requests with the others': roll back if it fails "
        "more or is slower, by the margins below), promote or rollback (scripted)",
    )
    max_error_increase: float = knob(
        0.01,
        "the analysis rolls back when the canary's error ratio exceeds the others' by more "
        "than this (assumed)",
        ge=0,
        le=1,
    )
    max_latency_increase: float = knob(
        0.2,
        "... or when its mean latency exceeds the others' by more than this share (assumed)",
        ge=0,
    )
    min_requests: int = knob(
        100,
        "the analysis needs this many finished requests on the canary; with fewer it "
        "promotes (nothing to judge by; assumed)",
        "requests",
        ge=1,
    )

    @model_validator(mode="after")
    def _one_slice(self) -> Canary:
        if self.replicas is not None and self.share is not None:
            raise PydanticCustomError(
                "canary_slice",
                "expected either replicas or share for the canary's slice, not both",
                {"key": "share"},
            )
        return self


class BlueGreen(ScenarioModel):
    """Blue-green: a full second copy of the new version, then all traffic switches."""

    switch_after: Duration = knob(
        0.0,
        "time the new copy waits once ready before traffic switches (a smoke test; Argo "
        "Rollouts switches at once by default)",
        "s",
        ge=0,
    )
    scale_down_delay: Duration = knob(
        30.0,
        "time the old copy is kept after the switch, so a rollback can switch straight "
        "back (Argo Rollouts' scaleDownDelaySeconds, default 30 s)",
        "s",
        ge=0,
    )


class Manual(ScenarioModel):
    """A deploy by hand (the sysadmin's): the service stops, or loses one server at a time."""

    duration: Duration = knob(
        10 * 60.0,
        "time the deploy takes on the servers: copying, restarting, checking (assumed)",
        "s",
        gt=0,
    )
    outage: Outage = knob(
        "down",
        "down: every replica stops for the whole duration (requests fail `unavailable`); "
        "degraded: one replica at a time stops for its share of the duration",
    )


class RolloutSettings(ScenarioModel):
    """How a service's replicas are replaced by a new version."""

    strategy: RolloutStrategy = knob(
        "rolling",
        "rolling (replicas replaced in turn; Kubernetes' default), blue-green (a full "
        "second copy, then a switch), canary (a slice first, then the rest) or manual (by "
        "hand: the service down or degraded meanwhile)",
    )
    rolling: Rolling = knob(
        default_factory=Rolling,
        description="settings of a rolling update (also the rest of a promoted canary)",
    )
    canary: Canary = knob(default_factory=Canary, description="settings of strategy: canary")
    blue_green: BlueGreen = knob(
        default_factory=BlueGreen, description="settings of strategy: blue-green"
    )
    manual: Manual = knob(default_factory=Manual, description="settings of strategy: manual")


class _Deployed(ScenarioModel):
    """When a scripted deploy starts, the version it ships and what that version does."""

    at: Duration = knob(0.0, "when the rollout starts", "s", ge=0)
    version: int = knob(1, "the version deployed (the services start at version 0)", ge=0)
    defect: Defect = knob(
        default_factory=Defect, description="what the version does wrong (default: nothing)"
    )
    rollback_after: Duration | None = knob(
        None,
        "roll back to the previous version this long after the rollout was asked for "
        "(ending it if it is still running); empty means never",
        "s",
        ge=0,
    )


class Deploy(RolloutSettings, _Deployed):
    """A scripted deploy of a version of one service, and what that version does wrong."""


def check_deploys(deploys: list[Deploy]) -> None:
    """A version does one thing wrong, however many times it is deployed; the version the
    services start with (0) does nothing wrong."""
    seen: dict[int, Defect] = {0: Defect()}
    for index, deploy in enumerate(deploys):
        known = seen.setdefault(deploy.version, deploy.defect)
        if known != deploy.defect:
            raise PydanticCustomError(
                "version_defect",
                "version {version} is deployed again with another defect (version 0 is the "
                "one the services start with, with none); a version's code does the same "
                "wherever it runs",
                {"key": f"{index}.defect", "version": deploy.version},
            )


SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("services.NAME.deploys[]", Deploy),
    ("services.NAME.deploys[].defect", Defect),
    ("services.NAME.deploys[].rolling", Rolling),
    ("services.NAME.deploys[].canary", Canary),
    ("services.NAME.deploys[].blue_green", BlueGreen),
    ("services.NAME.deploys[].manual", Manual),
]
"""The sections of the generated scenario reference (docs/scenario-reference.md)."""
