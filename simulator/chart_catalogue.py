"""What `sresim chart` can draw, by name: the charts of one run, of a sweep and of the eras.

Plain data and string checks, no plotting library: `sresim chart --list` and the checks of
a command line run before matplotlib or pandas load (a second, not a tenth of one).
`simulator/plots/registry.py` joins each name to the function that draws it.
"""

from __future__ import annotations

RUN_CHARTS: dict[str, tuple[str, str]] = {
    "latency-cdf": (
        "share of requests answered within each latency, per service, with theory",
        "services",
    ),
    "latency-over-time": ("p50 and p99 latency of successful requests over time", "services"),
    "utilisation": ("utilisation and queue length per service over time", "services"),
    "call-graph": (
        "which service calls which, with visits per request",
        "services that call each other",
    ),
    "capacity": (
        "traffic against what the serving replicas can take (requests/s), replicas per "
        "service and nodes over time",
        "services",
    ),
    "cost": ("spend per hour on nodes: the base and what the autoscaler added", "services"),
    "cluster-heatmap": ("the cluster scheduler's machines busy over time", "a scheduling: section"),
    "failure-timeline": (
        "jobs abandoned and scheduler conflicts over time",
        "a scheduling: section",
    ),
    "cumulative-flow": ("changes in each delivery stage over time", "a delivery: section"),
    "lead-time": ("distribution of the lead time from commit to production", "a delivery: section"),
    "operator-time": ("operators' hours by kind of work", "a delivery: section"),
    "value-stream": (
        "where a change's lead time goes, stage by stage",
        "a change that reached production",
    ),
    "incident-timeline": (
        "each incident from start to detection, response and recovery",
        "an incident",
    ),
    "discovery-convergence": (
        "share of clients that know of an endpoint change against the time since it",
        "endpoint changes (discovery:)",
    ),
    "stale-errors": (
        "visits failed on a stale endpoint per second over time",
        "endpoint changes and services",
    ),
    "blast-radius": (
        "what a leaked credential could reach while it was valid",
        "a leaked credential (secrets: leak)",
    ),
}
"""Charts of one run: name → (what it shows, what the run needs), in the order of --list."""

SWEEP_CHARTS: dict[str, str] = {
    "KPI:AXIS": "the KPI's mean against one axis, 95% confidence band, one line per value of "
    "the other axes, queueing theory dashed where it applies",
    "KPI:AXIS:AXIS": "a heat map of the KPI's mean over two axes",
}
"""Charts of a sweep: the forms `sresim sweep --chart` takes, with what each shows."""

ERA_CHARTS: dict[str, tuple[str, str]] = {
    "comparison": (
        "the three eras side by side: deploys, lead time, failures, restore, cost, p99, "
        "availability",
        "runs",
    ),
    "lead-time": ("distribution of the lead time from commit to production, per era", "runs"),
    "operator-time": ("operators' hours per week by kind of work, per era", "runs"),
    "value-stream": ("where a change's lead time goes, stage by stage, per era", "runs"),
    "growth": (
        "lead time, operator utilisation and cost per service from 1 to 1,000 services",
        "growth",
    ),
}
"""Charts of the eras experiment (simulator/experiments/eras.py): name → (what it shows,
what it runs: the three era presets, or the growth sweep of each over service counts)."""

USAGE = {
    "run": "sresim chart SCENARIO CHART -o FILE",
    "sweep": "sresim chart SCENARIO|EXPERIMENT.yaml|SWEEP-DIR KPI:AXIS[:AXIS] "
    "[--axis PATH=V1,V2,...] -o FILE",
    "eras": "sresim chart --eras CHART -o FILE",
}
"""How each kind of chart is asked for, as --list prints it."""


class ChartError(ValueError):
    """A chart that does not exist or that the data cannot show: one line saying why."""


def listing() -> list[str]:
    """`sresim chart --list`: a heading per kind of chart, then a line per chart (its name
    first, indented, then what it shows)."""
    names = [*RUN_CHARTS, *SWEEP_CHARTS, *ERA_CHARTS]
    width = max(len(name) for name in names)
    lines = [f"Charts of one run: {USAGE['run']}"]
    lines += [
        f"  {name:<{width}}  {shows} (needs {needs})" for name, (shows, needs) in RUN_CHARTS.items()
    ]
    lines.append(f"Charts of a sweep: {USAGE['sweep']}")
    lines += [f"  {name:<{width}}  {shows}" for name, shows in SWEEP_CHARTS.items()]
    lines.append(f"Charts of the eras (Sysadmin, DevOps, SRE): {USAGE['eras']}")
    lines += [f"  {name:<{width}}  {shows}" for name, (shows, _) in ERA_CHARTS.items()]
    return lines


def is_sweep_chart(name: str) -> bool:
    """A sweep chart is named KPI:AXIS[:AXIS]; no chart of one run has a colon."""
    return ":" in name


def sweep_chart(name: str) -> tuple[str, str, str | None]:
    """KPI:AXIS or KPI:AXIS:AXIS as (kpi, x, y or None); a ChartError if it is neither."""
    parts = [part.strip() for part in name.split(":")]
    if len(parts) not in (2, 3) or not all(parts):
        raise ChartError(f"expected a sweep chart KPI:AXIS or KPI:AXIS:AXIS, got {name!r}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def run_chart(name: str) -> str:
    """`name` if it is a chart of one run; a ChartError listing the names if not."""
    if name not in RUN_CHARTS:
        raise ChartError(f"no chart {name!r}; expected one of: {', '.join(RUN_CHARTS)}")
    return name


def era_chart(name: str) -> str:
    """`name` if it is a chart of the eras; a ChartError listing the names if not."""
    if name not in ERA_CHARTS:
        raise ChartError(f"no era chart {name!r}; expected one of: {', '.join(ERA_CHARTS)}")
    return name
