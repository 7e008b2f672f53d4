"""An era's fleet of N served services: the preset's own workload, copied until N services.

    scenario = fleet_scenario("eras/sre.yaml", 250)   # 250 services serving requests

The growth experiment needs each era to *run* N services, not only deploy them: every
delivery service maps to a service of the request workload (docs/delivery.md, "Deploys on
the running services"), so bad versions fail requests and monitoring or customers open the
incidents from what the requests saw. The fleet is the preset's served services (its
`services:` and `traffic:`) copied: copy c of service NAME is `NAME-c`, calling the copies
of its own copy, with the same traffic per entry point. The last copy may be partial: it
keeps the services nearest to the entry points (breadth first over the calls), and calls to
the services it lacks are left out. So every service carries the load it carries in the
preset, whatever N, and the era's infrastructure grows with the capacity the copies ask
for, the way the preset sizes it at its own size:

- services on fixed VMs: each node type's count × the ratio of the fleet's replicas to the
  preset's, rounded up (the VMs hold the same replicas each);
- a monolith on fixed servers: its replicas and the servers × the ratio of the work the
  fleet's requests ask for to the preset's (`offered_work`; a partial copy asks for less);
- an autoscaled cluster: the node autoscaler's minimum and maximum nodes and the starting
  count × the replicas' ratio, the HPA's bounds per service as in the preset.

A pure function of (preset, N): the organisation (operators, runners, staffing that grows
with `delivery.services`) is whatever the preset says at N services.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ScenarioError
from ..scenario.calls import Work
from ..scenario.limits import Limits
from ..scenario.loader import load_scenario
from ..scenario.schema import Scenario
from ..scenario.services import Service


def callees(service: Mapping[str, Any]) -> list[str]:
    """The services a dumped service's handler calls, in the order it calls them."""
    out: list[str] = []
    for step in service.get("handler") or []:
        for call in step.get("parallel", [step]):
            if "call" in call and call["call"] not in out:
                out.append(call["call"])
    return out


def serving_order(services: Mapping[str, Any], entries: list[str]) -> list[str]:
    """The services breadth first from the entry points, then any nobody reaches."""
    order: list[str] = []
    queue = deque(entries)
    while queue:
        name = queue.popleft()
        if name in order or name not in services:
            continue
        order.append(name)
        queue.extend(callees(services[name]))
    return order + [name for name in services if name not in order]


def _renamed_handler(
    handler: list[dict[str, Any]] | None, names: Mapping[str, str]
) -> list[dict[str, Any]] | None:
    """A handler whose calls go to `names[callee]`; calls to services not in `names` left out."""
    if handler is None:
        return None
    steps = []
    for step in handler:
        if "parallel" in step:
            calls = [
                {**c, "call": names[c["call"]]} for c in step["parallel"] if c["call"] in names
            ]
            if not calls:
                continue
            wait_for = step.get("wait_for", "all")
            if isinstance(wait_for, int):
                wait_for = min(wait_for, sum(int(c.get("count", 1)) for c in calls))
            steps.append({**step, "parallel": calls, "wait_for": wait_for})
        elif "call" in step:
            if step["call"] in names:
                steps.append({**step, "call": names[step["call"]]})
        else:
            steps.append(step)
    return steps


def copy_name(name: str, index: int, keep_first: bool = False) -> str:
    """The name of copy `index` (from 1) of the preset's service `name`; with `keep_first`
    the first copy keeps the preset's name (what else the scenario says of it still holds)."""
    return name if keep_first and index == 1 else f"{name}-{index}"


def fleet_workload(
    services: Mapping[str, Any], traffic: Mapping[str, Any], n: int, keep_first: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`services:` and `traffic:` of n services copied from a dumped workload (see above;
    `keep_first`: `copy_name`)."""
    if n < 1:
        raise ValueError(f"expected at least 1 service, got {n}")
    order = serving_order(services, list(traffic))
    size = len(order)
    out_services: dict[str, Any] = {}
    out_traffic: dict[str, Any] = {}
    for index in range(1, math.ceil(n / size) + 1):
        kept = order[: min(size, n - (index - 1) * size)]
        names = {name: copy_name(name, index, keep_first) for name in kept}
        for name in kept:
            if names[name] in out_services:
                clash = names[name]
                raise ValueError(f"copy {index} of {name} would be named {clash}, like a service")
            service = copy.deepcopy(dict(services[name]))
            service["handler"] = _renamed_handler(service.get("handler"), names)
            out_services[names[name]] = service
        for entry, spec in traffic.items():
            if entry in names:
                out_traffic[names[entry]] = copy.deepcopy(dict(spec))
    return out_services, out_traffic


def offered_work(scenario: Scenario) -> float:
    """Seconds of work the services do per second at the traffic's base rates: over the
    entry points, rate × expected visits per request × mean work per visit. What servers
    sized by hand for a monolith are sized for."""
    from ..analytic.flows import visits_per_request  # scipy's import: monoliths' fleets only

    visits = visits_per_request(scenario)
    per_visit = np.array([_work_per_visit(spec) for spec in scenario.services.values()])
    rates = np.array([traffic.rate for traffic in scenario.traffic.values()])
    return float(rates @ visits @ per_visit)


def _work_per_visit(spec: Service) -> float:
    steps = spec.handler if spec.handler is not None else [Work()]
    return sum(float((s.work or spec.service_time).mean_s) for s in steps if isinstance(s, Work))


def _replicas(services: Mapping[str, Any]) -> int:
    return sum(int(s.get("replicas", 1)) for s in services.values())


def fleet_overrides(preset: Scenario, n: int, keep_first: bool = False) -> dict[str, Any]:
    """The overrides that make `preset` run n served services on an infrastructure scaled
    to them (module docstring); `delivery.services` is n (`keep_first`: `copy_name`)."""
    data = preset.model_dump(mode="json")
    services, traffic = fleet_workload(data["services"], data["traffic"], n, keep_first)
    overrides: dict[str, Any] = {
        "services": services,
        "traffic": traffic,
        "delivery.services": n,
    }
    if data.get("deployment") == "monolith":
        full, rest = divmod(n, len(data["services"]))
        ratio = float(full)
        if rest:
            part, entries = fleet_workload(data["services"], data["traffic"], rest, keep_first)
            alone = {"services": part, "traffic": entries, "delivery.services": rest}
            whole = offered_work(preset)  # none without traffic: count the services
            part_work = offered_work(load_scenario(preset, alone)) if whole > 0 else 0.0
            ratio += part_work / whole if whole > 0 else rest / len(data["services"])
        if (data.get("monolith") or {}).get("replicas"):
            overrides["monolith.replicas"] = _scaled(data["monolith"]["replicas"], ratio)
    else:
        ratio = _replicas(services) / _replicas(data["services"])
    cluster = data.get("cluster")
    if cluster is not None:
        for name, node_type in (cluster.get("node_types") or {}).items():
            overrides[f"cluster.node_types.{name}.count"] = _scaled(node_type["count"], ratio)
    autoscaling = data.get("autoscaling") or {}
    if autoscaling.get("enabled") and autoscaling.get("nodes"):
        nodes = autoscaling["nodes"]
        overrides["autoscaling.nodes.min_nodes"] = _scaled(nodes["min_nodes"], ratio)
        overrides["autoscaling.nodes.max_nodes"] = _scaled(nodes["max_nodes"], ratio)
    return overrides


def _scaled(count: int, ratio: float) -> int:
    """`count` × `ratio`, rounded up, at least 1 (a float's last-bit noise ignored)."""
    return max(1, math.ceil(round(count * ratio, 9)))


def fleet_scenario(
    preset: str | Path | Scenario, n: int, overrides: Mapping[str, Any] | None = None
) -> Scenario:
    """The era `preset` (after `overrides`, e.g. the horizon) running n served services."""
    base = load_scenario(preset, dict(overrides or {}))
    return load_scenario(base, fleet_overrides(base, n))


def unserved(scenario: Scenario) -> int:
    """Delivery services that a run of `scenario` would leave without a service to run on
    although it simulates a runtime their deploys act on (`delivery.on_runtime` with a
    request workload): those beyond the workload's services. 0 without a runtime (the
    delivery model alone draws every outcome) or when the workload has a service for each."""
    delivery = scenario.delivery
    if delivery is None or not delivery.on_runtime.enabled or not scenario.services:
        return 0
    return max(0, delivery.services - len(scenario.services))


def served_world(scenario: Scenario, limits: Limits | None = None) -> Scenario:
    """The world a run of `scenario` simulates: every delivery service on a service that
    serves requests, so that none of its incidents is drawn (docs/delivery.md, "Every
    delivery service serves"). With more delivery services than the workload has
    (`unserved`), the workload copied until there are as many, on an infrastructure scaled
    the way the growth experiment scales it (`fleet_overrides`); the first copy keeps the
    scenario's names, so what the scenario says of its services still holds for them.
    Otherwise `scenario` itself."""
    if not unserved(scenario):
        return scenario
    assert scenario.delivery is not None
    n = scenario.delivery.services
    try:
        overrides = fleet_overrides(scenario, n, keep_first=True)
    except ValueError as error:
        raise ScenarioError(scenario.source, "delivery.services", str(error)) from None
    return load_scenario(scenario, overrides, limits=limits)
