"""The autoscalers' settings: the HPA, with Kubernetes' autoscaling/v2 `behavior`, and nodes.

The `behavior` block has the shape of Kubernetes' (`scaleUp`/`scaleDown`, each with
`stabilizationWindowSeconds`, `selectPolicy` and `policies` of type `Pods` or `Percent` over
`periodSeconds`), in this project's snake_case, so that the numbers of a real HPA can be
copied in. The defaults are the API server's for autoscaling/v2 (`SetDefaults_
HorizontalPodAutoscalerBehavior`; the HPA documentation's "Default Behavior").
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel

from .base import ScenarioModel, knob
from .units import Duration

SelectPolicy = Literal["Max", "Min", "Disabled"]
PolicyType = Literal["Pods", "Percent"]

_REPLACED = (
    "replaced by autoscaling.behavior (Kubernetes' shape): see docs/cost.md, 'The HPA's behavior'"
)


class ScalingPolicy(ScenarioModel):
    """One limit on how fast replicas change (a Kubernetes `HPAScalingPolicy`)."""

    type: PolicyType = knob(
        "Percent", "Pods: a number of replicas; Percent: a share of the replicas"
    )
    value: int = knob(100, "replicas (Pods) or percent of the replicas (Percent)", gt=0)
    period_seconds: Duration = knob(
        15.0,
        "the sliding window over which the change is counted, from the replicas at its start",
        "s",
        gt=0,
        le=1800,
    )


def _up_policies() -> tuple[ScalingPolicy, ...]:
    return (
        ScalingPolicy(type="Pods", value=4, period_seconds=15.0),
        ScalingPolicy(type="Percent", value=100, period_seconds=15.0),
    )


def _down_policies() -> tuple[ScalingPolicy, ...]:
    return (ScalingPolicy(type="Percent", value=100, period_seconds=15.0),)


class ScaleUpRules(ScenarioModel):
    """How the HPA scales up (`behavior.scaleUp`); defaults: Kubernetes' autoscaling/v2."""

    stabilization_window_seconds: Duration = knob(
        0.0,
        "scale up only to the lowest recommendation of this recent window",
        "s",
        ge=0,
        le=3600,
    )
    select_policy: SelectPolicy = knob(
        "Max",
        "Max: the policy that allows the largest change; Min: the smallest; Disabled: never",
    )
    policies: tuple[ScalingPolicy, ...] = knob(
        default_factory=_up_policies,
        description="limits on the change per period (the larger of 4 pods and 100% per 15 s)",
        min_length=1,
    )


class ScaleDownRules(ScenarioModel):
    """How the HPA scales down (`behavior.scaleDown`); defaults: Kubernetes' autoscaling/v2."""

    stabilization_window_seconds: Duration = knob(
        300.0,
        "scale down only to the highest recommendation of this recent window",
        "s",
        ge=0,
        le=3600,
    )
    select_policy: SelectPolicy = knob(
        "Max",
        "Max: the policy that allows the largest change; Min: the smallest; Disabled: never",
    )
    policies: tuple[ScalingPolicy, ...] = knob(
        default_factory=_down_policies,
        description="limits on the change per period (100% per 15 s)",
        min_length=1,
    )


class Behavior(ScenarioModel):
    """The HPA's `behavior` (autoscaling/v2): stabilisation and rate limits per direction."""

    scale_up: ScaleUpRules = knob(default_factory=ScaleUpRules, description="scaling up")
    scale_down: ScaleDownRules = knob(default_factory=ScaleDownRules, description="scaling down")


class NodeAutoscaling(ScenarioModel):
    """The node autoscaler: adds nodes when replicas cannot be placed, removes idle ones."""

    enabled: bool = knob(True, "whether nodes are added and removed (with autoscaling on)")
    min_nodes: int = knob(1, "never fewer nodes", "nodes", ge=0)
    max_nodes: int = knob(100, "never more nodes", "nodes", ge=1)
    scan_interval: Duration = knob(10.0, "how often it looks for unplaced replicas", "s", gt=0)
    scale_down_delay: Duration = knob(
        600.0, "how long a node must be empty before it is removed", "s", ge=0
    )


class Autoscaling(ScenarioModel):
    """Horizontal autoscaling of replicas (as Kubernetes' HPA) and of nodes."""

    key_hints: ClassVar[dict[str, str]] = {
        "scale_down_stabilisation": _REPLACED
        + " (behavior.scale_down.stabilization_window_seconds)",
        "max_scale_up_pods": _REPLACED + " (a Pods policy in behavior.scale_up.policies)",
        "max_scale_up_percent": _REPLACED + " (a Percent policy in behavior.scale_up.policies)",
        "scale_up_period": _REPLACED + " (period_seconds of behavior.scale_up.policies)",
    }

    enabled: bool = knob(False, "whether replicas (and nodes) follow the load")
    target_utilisation: float = knob(
        0.8,
        "busy share of workers the autoscaler aims for (Kubernetes' default target without "
        "a metric: 80% CPU)",
        gt=0,
        le=1,
    )
    tolerance: float = knob(
        0.1, "no change while utilisation is within this share of the target", ge=0
    )
    sync_period: Duration = knob(15.0, "how often replicas are recomputed", "s", gt=0)
    behavior: Behavior = knob(
        default_factory=Behavior,
        description="stabilisation windows and rate limits per direction, as Kubernetes' "
        "autoscaling/v2 behavior (its defaults)",
    )
    replica_start: Duration | None = knob(
        None,
        "time from decision to a replica taking traffic; empty means the start time of the "
        "nodes' runtime (cluster.runtimes, e.g. a container's 2 s), or 5 s without a cluster",
        "s",
        ge=0,
    )
    nodes: NodeAutoscaling = knob(
        default_factory=NodeAutoscaling, description="the node autoscaler (needs cluster:)"
    )


SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("autoscaling", Autoscaling),
    ("autoscaling.behavior.scale_up", ScaleUpRules),
    ("autoscaling.behavior.scale_down", ScaleDownRules),
    ("autoscaling.behavior.scale_*.policies[]", ScalingPolicy),
    ("autoscaling.nodes", NodeAutoscaling),
]
"""The reference's sections for these settings (docs/scenario-reference.md)."""
