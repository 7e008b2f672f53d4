"""Monitoring records → KPIs and tables: the scraped SLIs, the alerts, and the incidents
they opened.

Measurement rule: SLI samples count when their scrape interval lies in the measured period
(the scrape grid is anchored at the end of the warm-up, so none straddles it); alerts count
when they fire after the warm-up. The error budget spent is the integrated bad ratio of the
entry points' requests that finished in the measured period, over the SLO's budget
(1 − slo): 1 means the period used exactly the budget the SLO allows for its length.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING, Any

import numpy as np

from ..records.monitoring import ENTRY_POINT, OPENED, SCOPES, SERVICE, MonitoringRecords
from ..records.run import RunRecords
from ..scenario.units import HOUR

if TYPE_CHECKING:
    import pandas as pd

MONITORING_KPI_DESCRIPTIONS: dict[str, str] = {
    "alerts_fired": "alerts that fired after warm-up (every rule and target)",
    "pages": "of those, alerts whose rule pages (grouped into incidents or not)",
    "alert_tickets": "of those, alerts whose rule opens a ticket",
    "alert_incidents": "incidents opened by paging alerts after warm-up",
    "first_page_s": "time of the first page after warm-up (NaN: none)",
    "error_budget_spent": "bad requests over all requests at the entry points in the "
    "measured period, over the SLO's budget (1 − monitoring.slo)",
    "replicas_added_by_hand": "replicas responders added to overloaded services",
    "replica_hours_added_by_hand": "hours those replicas served within the measured period "
    "(counted to the horizon: under an autoscaler, which may retire them, an upper bound)",
}


def sli_table(records: MonitoringRecords) -> pd.DataFrame:
    """One row per scrape and target in the measured period: `time` (end of the interval),
    `scope` (entry_point or service), `service`, `requests` (requests at an entry point,
    visits at a service; expectations at the analytic fidelity), `bad` (failed or too slow;
    failed visits), `bad_ratio`,
    `saturation` (busy share of the workers; NaN at entry points) and `replicas`."""
    import pandas as pd

    # a fleet's log has millions of rows: its columns are read in place (views of the log's
    # buffers), each column of the table is allocated once, and the table takes them
    # without consolidating them into a second copy (`copy=False`)
    sli = records.sli
    time = _column(sli.time)
    keep = time > records.warmup
    rows = _kept(keep)
    scope = _column(sli.scope)[rows]
    # names by lookup: a Python int and a list slot per row would cost more than the rows
    # themselves, and an object array per column more than the table's strings
    lookup = np.array([*records.entry_points, *records.services], dtype=object)
    index = _column(sli.target)[rows].astype(np.int64)
    np.add(index, len(records.entry_points), out=index, where=scope == SERVICE)
    names = _by_lookup(lookup, index)
    del index
    counts = float if records.expected_counts else np.int64
    requests = _column(sli.requests)[rows].astype(counts)
    bad = _column(sli.bad)[rows].astype(counts)
    busy = _column(sli.busy)[rows]
    capacity = _column(sli.capacity)[rows]
    ratio = np.full(len(requests), np.nan)
    saturation = np.full(len(busy), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(bad, requests, out=ratio, where=requests > 0)
        np.divide(busy, capacity, out=saturation, where=capacity > 0)
    return pd.DataFrame(
        {
            "time": time[rows].copy(),
            "scope": _by_lookup(np.array(SCOPES, dtype=object), scope),
            "service": names,
            "requests": requests,
            "bad": bad,
            "bad_ratio": ratio,
            "saturation": saturation,
            "replicas": _column(sli.replicas)[rows].astype(np.int64),
        },
        copy=False,
    )


def _column(values: array[Any]) -> np.ndarray:
    """A view of one of the log's columns, without copying it (its items' own type)."""
    return (
        np.frombuffer(values, dtype=values.typecode)
        if len(values)
        else np.zeros(0, values.typecode)
    )


def _kept(keep: np.ndarray) -> slice | np.ndarray:
    """The rows `keep` selects: a slice when they are one run (the log is in time order,
    so the measured period is its tail), which reads the columns without copying them."""
    count = int(np.count_nonzero(keep))
    first = int(np.argmax(keep)) if count else 0
    return (
        slice(first, first + count) if keep[first : first + count].all() else np.flatnonzero(keep)
    )


def _by_lookup(
    values: np.ndarray, index: np.ndarray
) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """`values[index]` as the column the table would make of it (pandas' strings for
    names: taken from the few names', not converted row by row from an object array; an
    empty column stays an object array, as the table keeps it)."""
    import pandas as pd

    if not len(index):
        return values[index]
    return pd.Series(values).array.take(index)


def alerts_table(records: MonitoringRecords) -> pd.DataFrame:
    """Every alert fired after warm-up: the rule, its kind, the scope and target, when the
    target became unhealthy (`started`), `fired`, `resolved` (NaN: still firing at the
    horizon), whether it pages, what followed (`action`: incident, joined, ticket or
    recorded) and, for an incident it opened (or joined), the incident's `cause`,
    `remedied` (replicas added by hand, or a replaced node's, serving), `resolved` as
    `incident_resolved`, and
    `replicas_added`."""
    import pandas as pd

    rows = []
    for alert in records.alerts:
        if alert.fired < records.warmup:
            continue
        incident = records.incidents[alert.incident] if alert.incident >= 0 else None
        rows.append(
            {
                "rule": alert.rule,
                "kind": alert.kind,
                "scope": SCOPES[alert.scope],
                "service": alert.target,
                "started": alert.started,
                "fired": alert.fired,
                "resolved": alert.resolved,
                "page": alert.page,
                "action": alert.action,
                "incident": alert.incident,
                "cause": incident.cause if incident is not None else "",
                "incident_service": incident.service if incident is not None else "",
                "remedied": incident.remedied if incident is not None else math.nan,
                "incident_resolved": incident.resolved if incident is not None else math.nan,
                "replicas_added": incident.replicas_added if incident is not None else 0,
            }
        )
    columns = [
        "rule",
        "kind",
        "scope",
        "service",
        "started",
        "fired",
        "resolved",
        "page",
        "action",
        "incident",
        "cause",
        "incident_service",
        "remedied",
        "incident_resolved",
        "replicas_added",
    ]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype(
        {
            "started": float,
            "fired": float,
            "resolved": float,
            "page": bool,
            "incident": "int64",
            "remedied": float,
            "incident_resolved": float,
            "replicas_added": "int64",
        }
    )


def error_budget_spent(records: MonitoringRecords) -> float:
    """Σ bad / Σ requests over the entry points' samples in the measured period, over the
    budget 1 − slo; NaN without requests."""
    sli = records.sli
    time = np.asarray(sli.time, dtype=float)
    entry = (np.asarray(sli.scope) == ENTRY_POINT) & (time > records.warmup)
    total = float(np.asarray(sli.requests, dtype=float)[entry].sum())
    bad = float(np.asarray(sli.bad, dtype=float)[entry].sum())
    return bad / total / (1.0 - records.slo) if total > 0 else math.nan


def monitoring_results(
    records: MonitoringRecords, run: RunRecords
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """The KPIs (see MONITORING_KPI_DESCRIPTIONS) and the tables `sli` (unless the run's
    caller reads no `sli`) and `alerts`. `run`'s columns are not needed: the SLI samples
    already hold what requests saw."""
    alerts = alerts_table(records)
    pages = alerts[alerts["page"]]
    opened = [
        i
        for i, incident in enumerate(records.incidents)
        if incident.detected >= records.warmup
        and any(a.incident == i and a.action == OPENED for a in records.alerts)
    ]
    summary = {
        "alerts_fired": float(len(alerts)),
        "pages": float(len(pages)),
        "alert_tickets": float(len(alerts) - len(pages)),
        "alert_incidents": float(len(opened)),
        "first_page_s": float(pages["fired"].min()) if len(pages) else math.nan,
        "error_budget_spent": error_budget_spent(records),
        "replicas_added_by_hand": float(
            sum(i.replicas_added for i in records.incidents if i.remedied <= records.horizon)
        ),
        "replica_hours_added_by_hand": records.replica_seconds_added / HOUR,
    }
    sli = {"sli": sli_table(records)} if run.wants("sli") else {}  # a fleet's: millions of rows
    return summary, {**sli, "alerts": alerts}
