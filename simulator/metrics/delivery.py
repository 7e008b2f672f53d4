"""KPIs and tables of the delivery model: the four DORA keys, operator time, cost.

`delivery_results` reads only the records the delivery model leaves behind
(`simulator.records.delivery`), never the model itself.

The DORA keys are pure functions of the tables, so they can be checked against examples
worked by hand and applied to any run's tables:

- **deploy frequency** (`deploys_per_day`): production deploys (rollbacks excluded) that
  finished in the measured period, per day; `deploys_per_service_per_day` is the same per
  service, the unit DORA's survey asks about ("the primary application or service").
- **lead time for changes** (`lead_time_median_s`, `lead_time_p90_s`): from commit to
  running in production, over the changes committed in the measured period that reached
  production by the horizon (`changes_undeployed` counts the others: when it grows, the
  quantiles understate the truth).
- **change failure rate**: production deploys that failed (an incident) or were rolled back
  by the canary, over production deploys finished in the measured period.
- **time to restore** (`mttr_median_s`): from the start of an incident to its resolution,
  over incidents that started in the measured period and were resolved.

`dora_cluster` places the four keys in the State of DevOps 2019 clusters (REFERENCE.md §1).

Where the time goes: `lead_time_breakdown` splits each deployed change's lead time into its
stages (`simulator.records.delivery.STAGES`), and `incident_timeline` each incident's time to
restore into detection, response, diagnosis and remediation; `simulator.stories` tells both
in words.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..engine.recorder import OK, PENDING
from ..records.delivery import NO_STAGE, STAGES, ChangeStages, DeliveryRecords
from ..records.run import RunRecords
from ..scenario.units import DAY, HOUR, WEEK

if TYPE_CHECKING:
    import pandas as pd

SHIFT = 12 * HOUR
"""An on-call shift, as the SRE book counts pages (at most two incidents per 12 h shift)."""

PRODUCTION_FAILURES = ("failed", "rolled-back")

DELIVERY_KPI_DESCRIPTIONS: dict[str, str] = {
    "deploys_per_day": "production deploys per day, all services (rollbacks excluded)",
    "deploys_per_service_per_day": "production deploys per service per day (DORA frequency)",
    "lead_time_median_s": "median time from commit to running in production",
    "lead_time_p90_s": "90th percentile of the lead time for changes",
    "lead_time_mean_s": "mean lead time for changes",
    "change_failure_rate": "share of production deploys that failed or were rolled back",
    "mttr_median_s": "median time from the start of an incident to its resolution",
    "uptime": "share of service-time without an open incident (a canary's incident "
    "counts for the canary's share of traffic)",
    "changes_committed": "changes committed in the measured period",
    "changes_undeployed": "of those, changes not in production at the horizon",
    "incidents": "incidents that started in the measured period",
    "operator_hours_per_week": "operator hours of deploys, incidents and toil per week",
    "operator_utilisation": "operator hours over the team's working hours",
    "toil_share": "manual deploys and hand configuration over the team's working hours "
    "(SRE cap: 50% on operational work)",
    "services_per_operator": "services the team runs, per operator",
    "pages_per_shift": "incidents a human responded to on a page or a customer's report "
    "(not a ticket alert), per 12 h of measured time",
    "pages_per_week": "incidents a human was paged for (or a customer's report reached), per week",
    "night_pages_per_week": "of those, pages that reached the on-call outside working hours "
    "(nights and weekends woken), per week",
    "incident_hours_per_week": "hours people spent responding to incidents and on follow-ups, "
    "per week",
    "on_call_hours_per_week": "hours the on-call worked outside working hours, per week",
    "operators": "people in the team: organisation.operators, or more when "
    "services_per_operator staffs for the fleet or operational_share for its expected work",
    "on_call_rotation": "people who take the pager in turn (at most the team; 0 without on-call)",
    "pager_hours_per_person_per_week": "hours outside working time that each person of the "
    "rotation carries the pager, per week: the week's off-hours over the rotation (0 without "
    "on-call)",
    "pages_per_person_per_week": "pages_per_week shared by the rotation (by the team without "
    "on-call)",
    "night_pages_per_person_per_week": "night_pages_per_week shared by the rotation: nights and "
    "weekends each person is woken",
    "project_share": "the team's working hours left for project work: one minus deploys, toil "
    "and incidents over its working hours (the SRE book caps toil and on-call at 50%)",
    "operator_backlog": "work items waiting for an operator at the horizon (grows without "
    "bound when the team is overloaded)",
    "ci_utilisation": "share of the CI runners' time spent building and testing (automated)",
    "deploy_freeze_hours": "hours of deploy pipelines frozen by the error-budget policy",
    "cost_nodes_usd": "the services' nodes, as delivery.nodes_per_service estimates them",
    "cost_tooling_usd": "CI runners, preview environments and blue-green's second copy "
    "(automated delivery); the CI server and staging (config-management)",
    "cost_blue_green_usd": "blue-green: the second copy of a service's nodes during each "
    "rollout (included in cost_tooling_usd)",
    "cost_runners_usd": "CI runners around the clock (always-on) or the runner time jobs used, "
    "rounded up per job (per-use); included in cost_tooling_usd",
    "cost_infrastructure_usd": "service nodes, CI runners, preview environments and "
    "blue-green's second copy",
    "cost_on_call_usd": "on-call standby outside working hours and pages worked then",
    "cost_people_usd": "operators' working hours at their hourly rate, plus on-call pay",
    "cost_total_usd": "infrastructure and people",
    "cost_per_service_per_week_usd": "total cost per service per week",
    "dora_rank": "DORA 2019 cluster: 0 low, 1 medium, 2 high, 3 elite (see dora_cluster)",
}

CLUSTERS = ("low", "medium", "high", "elite")


# -- the four keys, from tables -----------------------------------------------------------


def production_deploys(deploys: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    """Deploys of new code (not rollbacks) that finished within [start, end)."""
    finished = deploys["finished"]
    keep = (deploys["outcome"] != "rollback") & (finished >= start) & (finished < end)
    return deploys[keep]


def deploys_per_day(deploys: pd.DataFrame, start: float, end: float) -> float:
    """Production deploys finished in [start, end), per day."""
    return len(production_deploys(deploys, start, end)) / ((end - start) / DAY)


def lead_times(changes: pd.DataFrame, start: float, end: float) -> np.ndarray:
    """Commit-to-production times of changes committed in [start, end) and deployed by end."""
    committed = changes["committed"]
    deployed = changes["deployed"]
    keep = (committed >= start) & (committed < end) & deployed.notna() & (deployed <= end)
    return (deployed[keep] - committed[keep]).to_numpy(dtype=float)


def change_failure_rate(deploys: pd.DataFrame, start: float, end: float) -> float:
    """Failed or rolled-back production deploys over production deploys, in [start, end)."""
    production = production_deploys(deploys, start, end)
    if production.empty:
        return math.nan
    return float(production["outcome"].isin(PRODUCTION_FAILURES).mean())


def restore_times(incidents: pd.DataFrame, start: float, end: float) -> np.ndarray:
    """Start-to-resolution times of incidents that started in [start, end) and were resolved."""
    began = incidents["start"]
    keep = (began >= start) & (began < end) & incidents["resolved"].notna()
    return (incidents["resolved"][keep] - began[keep]).to_numpy(dtype=float)


def _quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if len(values) else math.nan


def dora_keys(tables: dict[str, pd.DataFrame], start: float, end: float) -> dict[str, float]:
    """The four keys of a run from its `changes`, `deploys` and `incidents` tables."""
    lead = lead_times(tables["changes"], start, end)
    restore = restore_times(tables["incidents"], start, end)
    return {
        "deploys_per_day": deploys_per_day(tables["deploys"], start, end),
        "lead_time_median_s": _quantile(lead, 0.5),
        "lead_time_p90_s": _quantile(lead, 0.9),
        "lead_time_mean_s": float(lead.mean()) if len(lead) else math.nan,
        "change_failure_rate": change_failure_rate(tables["deploys"], start, end),
        "mttr_median_s": _quantile(restore, 0.5),
    }


# -- the clusters ---------------------------------------------------------------------------


def frequency_level(deploys_per_service_per_day: float) -> int:
    """2019: elite on demand (several a day: here more than one a day), high between once a
    day and once a week, medium between once a week and once a month, low less often. The
    report's ranges share their ends (weekly is in both high and medium); a value on a
    border goes to the lower cluster, as everywhere here."""
    f = deploys_per_service_per_day
    if f > 1.0:
        return 3
    if f > 1 / 7:
        return 2
    if f > 1 / 30:
        return 1
    return 0


def lead_time_level(seconds: float) -> int:
    """2019: elite < 1 day, high 1 day–1 week, medium 1 week–1 month, low longer."""
    if seconds < DAY:
        return 3
    if seconds < WEEK:
        return 2
    if seconds < 30 * DAY:
        return 1
    return 0


def restore_level(seconds: float) -> int:
    """2019: elite < 1 hour, high and medium < 1 day, low 1 week–1 month (and the gap of
    1 day–1 week, which no cluster claims, counts as low)."""
    if seconds < HOUR:
        return 3
    if seconds < DAY:
        return 2
    return 0


def failure_level(rate: float) -> int:
    """2019: elite, high and medium 0–15%, low 46–60%. The gap 16–45% is split: up to 30%
    medium (the 2016 and 2021 reports put 16–30% in their middle clusters), above it low."""
    if rate <= 0.15:
        return 3
    if rate <= 0.30:
        return 1
    return 0


def dora_cluster(
    deploys_per_service_per_day: float,
    lead_time_s: float,
    mttr_s: float,
    change_failure_rate: float,
) -> str:
    """The State of DevOps 2019 cluster (REFERENCE.md §1) of four measured keys.

    Each key is placed on its own (the functions above); the cluster is the median of the
    four levels, rounded down (a team is as good as its middle keys, never better). Keys
    that are NaN (no incidents, say) are left out; with none left the answer is "unknown".
    """
    levels = []
    for value, level in (
        (deploys_per_service_per_day, frequency_level),
        (lead_time_s, lead_time_level),
        (mttr_s, restore_level),
        (change_failure_rate, failure_level),
    ):
        if value is not None and not math.isnan(value):
            levels.append(level(value))
    if not levels:
        return "unknown"
    return CLUSTERS[math.floor(float(np.median(levels)))]


def on_call_cost(
    off_hours: float, hours_worked: float, hourly_rate: float, standby_rate: float
) -> float:
    """On-call pay: one operator on standby through every hour outside working time, at
    `standby_rate` × the hourly rate, plus the hours worked on pages at the hourly rate
    (working hours are paid as salary already). Without a rotation the caller passes
    standby_rate 0, and no page is worked out of hours."""
    return off_hours * standby_rate * hourly_rate + hours_worked * hourly_rate


def billed_runner_seconds(jobs: np.ndarray, start: float, end: float, increment: float) -> float:
    """Per-use billing: each runner job's time within [start, end) (rows of start, end),
    rounded up to a whole number of `increment` seconds (0: exact), as hosted CI bills a job
    (GitHub Actions rounds each job up to the minute), summed."""
    if not len(jobs):
        return 0.0
    used = np.clip(np.minimum(jobs[:, 1], end) - np.maximum(jobs[:, 0], start), 0.0, None)
    used = used[used > 0]
    if increment > 0:
        used = np.ceil(used / increment) * increment
    return float(used.sum())


# -- tables and KPIs of a run -------------------------------------------------------------


def delivery_results(
    records: DeliveryRecords, run: RunRecords
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """The summary KPIs (see DELIVERY_KPI_DESCRIPTIONS) and the tables of a run's delivery
    records. At request level, `run`'s requests give each incident's failed requests."""
    tables = delivery_tables(records)
    if len(run.requests.get("end", ())):
        tables["incident_timeline"]["requests_failed"] = failed_while_open(
            tables["incident_timeline"], run.requests, records.horizon
        )
    return delivery_kpis(records, tables), tables


def failed_while_open(
    timeline: pd.DataFrame, requests: dict[str, np.ndarray], horizon: float
) -> np.ndarray:
    """Per incident, the requests (at any entry point) that failed between its start and its
    resolution (or the horizon): what customers saw while it was open. Overlapping incidents
    count the same request each."""
    status, end = requests["status"], requests["end"]
    failed = np.sort(end[(status != OK) & (status != PENDING)])
    started = timeline["started"].to_numpy(dtype=float)
    resolved = np.minimum(timeline["resolved"].fillna(horizon).to_numpy(dtype=float), horizon)
    counts = np.searchsorted(failed, resolved) - np.searchsorted(failed, started)
    return np.maximum(counts, 0).astype(float)


def delivery_tables(records: DeliveryRecords) -> dict[str, pd.DataFrame]:
    """`changes`, `deploys`, `incidents`, `operator_work`, `delivery_timeseries`, and where
    the time went: `change_stages`, `lead_time_breakdown` and `incident_timeline`."""
    import pandas as pd

    changes = pd.DataFrame(
        {
            "service": [c.service for c in records.changes],
            "committed": [c.committed for c in records.changes],
            "approved": [c.approved for c in records.changes],
            "deployed": [c.deployed for c in records.changes],
            "caused_failure": [c.caused_failure for c in records.changes],
            "stage": [_stage_name(c.stage, c.deployed) for c in records.changes],
            "since": [c.since for c in records.changes],
        },
    ).astype(
        {
            "service": "int64",
            "committed": float,
            "approved": float,
            "deployed": float,
            "since": float,
        }
    )
    changes["caused_failure"] = changes["caused_failure"].astype(bool)
    deploys = pd.DataFrame(
        {
            "service": [d.service for d in records.deploys],
            "requested": [d.requested for d in records.deploys],
            "started": [d.started for d in records.deploys],
            "finished": [d.finished for d in records.deploys],
            "changes": [d.changes for d in records.deploys],
            "outcome": [d.outcome or "in-progress" for d in records.deploys],
        }
    ).astype({"service": "int64", "requested": float, "started": float, "finished": float})
    incidents = pd.DataFrame(
        {
            "service": [i.service for i in records.incidents],
            "cause": [i.cause for i in records.incidents],
            "start": [i.start for i in records.incidents],
            "detected": [i.detected for i in records.incidents],
            "resolved": [i.resolved for i in records.incidents],
            "responder": [i.responder for i in records.incidents],
            "paged": [i.paged for i in records.incidents],
            "impact": [i.impact for i in records.incidents],
        }
    ).astype(
        {"service": "int64", "start": float, "detected": float, "resolved": float, "impact": float}
    )
    incidents["paged"] = incidents["paged"].astype(bool)
    work = pd.DataFrame(
        [(w.kind, w.who, w.start, w.end, w.hours) for w in records.work],
        columns=["kind", "who", "start", "end", "hours"],
    ).astype({"start": float, "end": float, "hours": float})
    timeseries = pd.DataFrame(
        [(x.time, x.committed, x.approved, x.deployed, x.in_flight) for x in records.samples],
        columns=["time", "committed", "approved", "deployed", "in_flight"],
    )
    stages = change_stages_table(records.stages, changes["service"].to_numpy())
    return {
        "changes": changes,
        "deploys": deploys,
        "incidents": incidents,
        "operator_work": work,
        "delivery_timeseries": timeseries,
        "change_stages": stages,
        "lead_time_breakdown": lead_time_breakdown(changes, stages),
        "incident_timeline": incident_timeline(records),
    }


# -- where the time goes ----------------------------------------------------------------------


def _stage_name(code: int, deployed: float) -> str:
    """The stage a change is in at the horizon: a stage's name, or production."""
    if code == NO_STAGE:
        return "" if math.isnan(deployed) else "production"
    return STAGES[code]


STAGE_COLUMNS = tuple(f"{stage}_s" for stage in STAGES)
"""The columns of `lead_time_breakdown` that hold each stage's seconds, in STAGES order."""


def change_stages_table(stages: ChangeStages, services: np.ndarray) -> pd.DataFrame:
    """One row per stretch of one change in one stage: change, service, stage, start, end,
    seconds, ahead (work items ahead of it in a queue it joined, else -1) and deploy (the
    deploy it was part of, else -1). `services` maps a change's id to its service."""
    import pandas as pd

    change = stages.change.astype(np.int64)
    return pd.DataFrame(
        {
            "change": change,
            "service": services[change] if len(change) else np.zeros(0, np.int64),
            "stage": np.asarray(STAGES, dtype=object)[stages.stage.astype(np.int64)],
            "start": stages.start,
            "end": stages.end,
            "seconds": stages.end - stages.start,
            "ahead": stages.ahead.astype(np.int64),
            "deploy": stages.deploy.astype(np.int64),
        }
    )


def lead_time_breakdown(changes: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    """One row per change in production at the horizon (its index in `changes` is its id):
    change, service, committed, deployed, lead_time_s, and the seconds it spent in each
    stage (`<stage>_s`, STAGES order). A change's stretches tile [committed, deployed], so
    its stage columns sum to its lead time (to rounding: under a microsecond)."""
    import pandas as pd

    ids = np.flatnonzero(changes["deployed"].notna().to_numpy())
    per_stage = np.zeros((len(changes), len(STAGES)))
    if len(stages):
        codes = pd.Categorical(stages["stage"], categories=list(STAGES)).codes
        np.add.at(per_stage, (stages["change"].to_numpy(), codes), stages["seconds"].to_numpy())
    committed = changes["committed"].to_numpy()[ids]
    deployed = changes["deployed"].to_numpy()[ids]
    table = pd.DataFrame(
        {
            "change": ids.astype(np.int64),
            "service": changes["service"].to_numpy()[ids],
            "committed": committed,
            "deployed": deployed,
            "lead_time_s": deployed - committed,
        }
    )
    for column, values in zip(STAGE_COLUMNS, per_stage[ids].T, strict=True):
        table[column] = values
    return table


TIMELINE_PHASES = ("detection", "response", "diagnosis", "remediation")
"""The phases of an incident's time to restore, each ending at the next timestamp: detected,
acknowledged, diagnosed, resolved (from started)."""


def incident_timeline(records: DeliveryRecords) -> pd.DataFrame:
    """One row per incident (its index in `incidents` is its id): what happened when, the
    four phases of its time to restore in seconds (`<phase>_s`, which sum to
    `time_to_restore_s`), and what it cost: the responder's hours and the error budget
    (`budget_s`, seconds of the service fully down: its share of traffic × how long it
    lasted within the run; `budget_share` of the budget, (1 − slo) × budget window).
    `first_bad_request` is NaN unless a model that simulates requests reported it;
    `requests_failed` is NaN here; at request level `delivery_results` fills it with the
    requests that failed while the incident was open."""
    import pandas as pd

    incidents = records.incidents
    n = len(incidents)
    table = pd.DataFrame(
        {
            "incident": np.arange(n, dtype=np.int64),
            "service": np.array([i.service for i in incidents], dtype=np.int64),
            "cause": [i.cause for i in incidents],
            "deploy": np.array([i.deploy for i in incidents], dtype=np.int64),
            "impact": np.array([i.impact for i in incidents], dtype=float),
            "started": np.array([i.start for i in incidents], dtype=float),
            "first_bad_request": np.array([i.first_bad for i in incidents], dtype=float),
            "detected": np.array([i.detected for i in incidents], dtype=float),
            "source": [i.source for i in incidents],
            "rule": [i.rule for i in incidents],
            "paged": np.array([i.notified for i in incidents], dtype=float),
            "acknowledged": np.array([i.acknowledged for i in incidents], dtype=float),
            "diagnosed": np.array([i.diagnosed for i in incidents], dtype=float),
            "remediated": np.array([i.remediated for i in incidents], dtype=float),
            "resolved": np.array([i.resolved for i in incidents], dtype=float),
            "responder": [i.responder for i in incidents],
        }
    )
    ends = ("detected", "acknowledged", "diagnosed", "resolved")
    previous = table["started"]
    for phase, end in zip(TIMELINE_PHASES, ends, strict=True):
        table[f"{phase}_s"] = table[end] - previous
        previous = table[end]
    table["time_to_restore_s"] = table["resolved"] - table["started"]
    table["operator_hours"] = np.array([i.hours for i in incidents], dtype=float)
    lasted = np.clip(
        np.minimum(table["resolved"].fillna(records.horizon), records.horizon) - table["started"],
        0.0,
        None,
    )
    table["budget_s"] = table["impact"] * lasted
    budget = (1.0 - records.slo) * records.budget_window
    table["budget_share"] = table["budget_s"] / budget if budget > 0 else math.nan
    table["requests_failed"] = math.nan
    return table


INFRASTRUCTURE = "infrastructure"
"""The cause of an incident that is a machine's, not a release's."""


def _services_touched(incidents: pd.DataFrame, records: DeliveryRecords) -> np.ndarray | float:
    """Services each incident takes down: one, or every service for a release's incident
    when the whole application is released as one."""
    if not records.whole_application:
        return 1.0
    return np.where(incidents["cause"] == INFRASTRUCTURE, 1.0, float(records.services))


def hours_in_window(work: pd.DataFrame, start: float, end: float) -> pd.Series:
    """Each work row's hours that fall in [start, end), pro rata of its wall-clock span."""
    import pandas as pd

    if work.empty:
        return pd.Series(dtype=float)
    span = (work["end"] - work["start"]).to_numpy()
    overlap = np.clip(np.minimum(work["end"], end) - np.maximum(work["start"], start), 0, None)
    share = np.where(span > 0, overlap / np.where(span > 0, span, 1.0), 0.0)
    inside = (work["start"] >= start) & (work["start"] < end)
    share = np.where(span > 0, share, inside.to_numpy(dtype=float))
    return pd.Series(work["hours"].to_numpy() * share, index=work.index)


def delivery_kpis(records: DeliveryRecords, tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The summary KPIs of a run (see DELIVERY_KPI_DESCRIPTIONS) from its records and the
    tables `delivery_tables` made of them."""
    import pandas as pd

    start, end = records.warmup, records.horizon
    period = records.period
    weeks = records.weeks
    services = records.services
    kpis = dora_keys(tables, start, end)
    # a release of the whole application deploys every service at once
    units = 1 if records.whole_application else services
    kpis["deploys_per_service_per_day"] = kpis["deploys_per_day"] / units
    changes = tables["changes"]
    fresh = changes[(changes["committed"] >= start) & (changes["committed"] < end)]
    kpis["changes_committed"] = float(len(fresh))
    kpis["changes_undeployed"] = float(fresh["deployed"].isna().sum())
    incidents = tables["incidents"]
    recent = incidents[(incidents["start"] >= start) & (incidents["start"] < end)]
    kpis["incidents"] = float(len(recent))
    down = (
        np.clip(
            np.minimum(incidents["resolved"].fillna(end), end)
            - np.maximum(incidents["start"], start),
            0,
            None,
        )
        * incidents["impact"]
        * _services_touched(incidents, records)
    ).sum()
    kpis["uptime"] = 1.0 - float(down) / (services * period)
    work = tables["operator_work"]
    hours = hours_in_window(work, start, end)
    working_seconds = records.calendar.working_seconds(start, end)
    team_hours = records.operators * working_seconds / HOUR
    by_kind = hours.groupby(work["kind"]).sum() if not work.empty else pd.Series(dtype=float)
    total = float(hours.sum())
    kpis["operator_hours_per_week"] = total / weeks
    kpis["operator_utilisation"] = total / team_hours if team_hours else math.nan
    toil = float(by_kind.get("toil", 0.0)) + float(by_kind.get("deploy", 0.0))
    kpis["toil_share"] = toil / team_hours if team_hours else math.nan
    kpis["services_per_operator"] = services / records.operators
    kpis["pages_per_shift"] = float(recent["paged"].sum()) / (period / SHIFT)
    kpis["pages_per_week"] = float(recent["paged"].sum()) / weeks
    notified = [i.notified for i in records.incidents if i.paged and start <= i.start < end]
    night = sum(1 for t in notified if not math.isnan(t) and not records.calendar.is_working(t))
    kpis["night_pages_per_week"] = night / weeks
    kpis["incident_hours_per_week"] = float(by_kind.get("incident", 0.0)) / weeks
    kpis["on_call_hours_per_week"] = (
        float(hours[work["who"] == "on-call"].sum()) / weeks if not work.empty else 0.0
    )
    rotation = min(records.on_call_rotation or records.operators, records.operators)
    sharing = rotation if records.on_call else records.operators
    off_hours = (period - working_seconds) / HOUR
    kpis["operators"] = float(records.operators)
    kpis["on_call_rotation"] = float(rotation if records.on_call else 0)
    kpis["pager_hours_per_person_per_week"] = (
        off_hours / weeks / rotation if records.on_call else 0.0
    )
    kpis["pages_per_person_per_week"] = kpis["pages_per_week"] / sharing
    kpis["night_pages_per_person_per_week"] = kpis["night_pages_per_week"] / sharing
    kpis["project_share"] = 1.0 - kpis["operator_utilisation"]
    kpis["deploy_freeze_hours"] = records.frozen_seconds / HOUR
    kpis["operator_backlog"] = float(records.operator_backlog)
    automated = records.process == "automated"
    runners = records.ci_runners
    kpis["ci_utilisation"] = records.ci_busy_seconds / (runners * end) if runners else 0.0
    hours_run = period / HOUR
    nodes = services * records.nodes_per_service * records.node_price * hours_run
    tooling = 0.0
    second_copy = records.second_copy_node_seconds / HOUR * records.node_price
    runner_cost = 0.0
    if runners:  # the pipeline's, or the DevOps era's CI server's
        if records.runner_billing == "per-use":
            billed = billed_runner_seconds(records.ci_jobs, start, end, records.billing_increment)
            runner_cost = billed / HOUR * records.runner_price
        else:
            runner_cost = runners * records.runner_price * hours_run
        tooling += runner_cost
    tooling += records.preview_node_seconds / HOUR * records.node_price  # previews, staging
    if automated:
        tooling += second_copy
    infrastructure = nodes + tooling
    on_call_worked = float(hours[work["who"] == "on-call"].sum()) if not work.empty else 0.0
    on_call = on_call_cost(
        period / HOUR - working_seconds / HOUR,
        on_call_worked,
        records.hourly_rate,
        records.on_call_standby_rate if records.on_call else 0.0,
    )
    people = team_hours * records.hourly_rate + on_call
    kpis["cost_nodes_usd"] = nodes
    kpis["cost_tooling_usd"] = tooling
    kpis["cost_blue_green_usd"] = second_copy
    kpis["cost_runners_usd"] = runner_cost
    kpis["cost_infrastructure_usd"] = infrastructure
    kpis["cost_on_call_usd"] = on_call
    kpis["cost_people_usd"] = people
    kpis["cost_total_usd"] = infrastructure + people
    kpis["cost_per_service_per_week_usd"] = (infrastructure + people) / services / weeks
    cluster = dora_cluster(
        kpis["deploys_per_service_per_day"],
        kpis["lead_time_median_s"],
        kpis["mttr_median_s"],
        kpis["change_failure_rate"],
    )
    kpis["dora_rank"] = float(CLUSTERS.index(cluster)) if cluster in CLUSTERS else math.nan
    return kpis
