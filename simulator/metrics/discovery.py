"""KPIs and tables of service discovery, configuration drift and secrets, from their records
(`records/discovery.py`) and, for failed visits by cause, the run's span and request columns.

Measurement rules: changes and drift episodes count from the warm-up on; failed visits
(stale, misconfigured, unauthorized) count when they arrived after the warm-up; a drifted
share is drifted host-time over measured host-time, both clipped to [warmup, horizon].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..engine.recorder import MISCONFIGURED, STALE_ENDPOINT, UNAUTHORIZED
from ..records import discovery as why
from ..records.discovery import (
    AuditEntry,
    ConfigurationRecords,
    DiscoveryRecords,
    EndpointChange,
    SecretsRecords,
)
from ..records.run import RunRecords

if TYPE_CHECKING:
    import pandas as pd

Results = tuple[dict[str, float], dict[str, "pd.DataFrame"]]

DISCOVERY_KPI_DESCRIPTIONS: dict[str, str] = {
    "discovery_changes": "endpoint changes after warm-up (failures, scale-in/out, moves, joins)",
    "discovery_convergence_s": "median over changes of the time until 99.99% of clients know",
    "discovery_convergence_max_s": "slowest change's time until 99.99% of clients know",
    "stale_routing_errors": "visits sent to an endpoint that was gone (status stale_endpoint)",
    "stale_latency_added_s": "seconds per finished request spent hanging on dead addresses",
    "operator_hours_address_changes": "operator hours spent changing addresses by hand (static)",
    "config_drift_episodes": "times a host drifted from its intended configuration",
    "config_drifted_share": "share of host-time spent drifted",
    "misconfigured_errors": "visits failed by a drifted host (status misconfigured)",
    "config_engineer_hours": "hours writing configuration: recipes or environment variables",
    "secret_leaks": "leaked credentials",
    "leak_exposure_s": "mean time from a leak to the revocation of the credential",
    "leak_blast_radius_services": "mean services that had to change per leak",
    "secret_expiries": "leases that expired because renewal failed",
    "secret_rotations": "scheduled rotations of every credential",
    "unauthorized_errors": "visits refused for a revoked or expired credential",
    "secrets_engineer_hours": "hours spent on leaks, expiries and rotations",
}

CHANGE_COLUMNS = (
    "change", "time", "service", "kind", "endpoint", "discovery", "clients", "registry_s",
    "median_s", "convergence_s", "operator_hours",
)  # fmt: skip
CONVERGENCE_COLUMNS = ("change", "kind", "discovery", "seconds", "known_share")
DRIFT_COLUMNS = ("service", "host", "start", "end", "duration_s")
AUDIT_COLUMNS = ("time", "service", "credential", "action", "detail")
LEAK_COLUMNS = (
    "at", "service", "credential", "noticed", "revoked", "exposure_s", "restored",
    "services_changed", "changed", "affected", "engineer_hours",
)  # fmt: skip

AUDIT_DETAILS: dict[str, str] = {
    why.STATIC_CONFIG: "static credential in config",
    why.ISSUED: "dynamic credential, TTL {value:.0f} s",
    why.RENEWED: "until {value:.0f} s",
    why.RENEWAL_REFUSED: "renewal refused",
    why.EXPIRED: "lease expired: calls refused",
    why.FIXED_BY_HAND: "fixed by hand",
    why.FIXED_BY_RESPONDER: "fixed by the responder",
    why.SHARED_LEAKED: "shared credential leaked",
    why.LEASE_LEAKED: "one lease leaked",
    why.LEAKED: "credential leaked",
    why.EVERY_SERVICE: "every service must change",
    why.LEASE_REVOKED: "lease revoked",
    why.REVOKED_BY: "by {by}",
    why.DEPLOYED: "new credential deployed",
    why.NEW_LEASE: "new lease",
    why.NEW: "new",
    why.ROTATED_BY_HAND: "by hand, new credential first",
    why.AUTOMATIC: "automatic",
}
"""The audit table's `detail` in words, per reason code."""


def count_status(run: RunRecords, status: int) -> int:
    """Visits that arrived after warm-up and ended with `status`."""
    spans = run.spans
    arrival = spans["arrival"]
    return int(((spans["status"] == status) & (arrival >= run.scenario.warmup)).sum())


# ---------------------------------------------------------------------------- discovery


def quantile_curve(delays: np.ndarray, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """(delay, share of clients that know) at `points` shares from 0 to 1."""
    share = np.linspace(0.0, 1.0, points)
    finite = delays[np.isfinite(delays)]
    if finite.size == 0:
        return np.full(points, np.nan), share
    return np.quantile(np.sort(delays), share, method="inverted_cdf"), share


def _change_row(index: int, change: EndpointChange, kind: str) -> tuple[object, ...]:
    delays = change.delays
    return (
        index,
        change.time,
        change.service,
        change.kind,
        change.endpoint,
        kind,
        int(delays.size),
        change.registry_s,
        float(np.median(delays)) if delays.size else np.nan,
        change.convergence_s,
        change.operator_hours,
    )


def _curve(index: int, change: EndpointChange, kind: str) -> pd.DataFrame:
    import pandas as pd

    delay, share = quantile_curve(change.delays)
    return pd.DataFrame(
        {
            "change": index,
            "kind": change.kind,
            "discovery": kind,
            "seconds": delay,
            "known_share": share,
        }
    )


def discovery_results(records: DiscoveryRecords, run: RunRecords) -> Results:
    """Changes after warm-up, how fast they converged, and what stale addresses cost: the
    `discovery_changes` table (one row per change) and `discovery_convergence` (each
    change's share of clients that know against the time since it)."""
    import pandas as pd

    warmup = run.scenario.warmup
    changes = records.changes
    measured = [change for change in changes if change.time >= warmup]
    converged = [change.convergence_s for change in measured]
    requests = run.requests
    finished = int(((requests["arrival"] >= warmup) & (requests["status"] != 0)).sum())
    summary = {
        "discovery_changes": len(measured),
        "discovery_convergence_s": float(np.median(converged)) if converged else np.nan,
        "discovery_convergence_max_s": float(np.max(converged)) if converged else np.nan,
        "stale_routing_errors": count_status(run, STALE_ENDPOINT),
        "stale_latency_added_s": records.stale_seconds / finished if finished else np.nan,
        "operator_hours_address_changes": float(sum(c.operator_hours for c in measured)),
    }
    kind = records.kind
    table = pd.DataFrame(
        [_change_row(index, change, kind) for index, change in enumerate(changes)],
        columns=list(CHANGE_COLUMNS),
    )
    curves = (
        pd.concat([_curve(i, change, kind) for i, change in enumerate(changes)], ignore_index=True)
        if changes
        else pd.DataFrame(columns=list(CONVERGENCE_COLUMNS))
    )
    return summary, {"discovery_changes": table, "discovery_convergence": curves}


# ---------------------------------------------------------------------------- configuration


def configuration_results(records: ConfigurationRecords, run: RunRecords) -> Results:
    """Drift episodes after warm-up, the share of host-time drifted, the visits drifted hosts
    failed and the hours spent writing configuration; the `config_drift` table."""
    import pandas as pd

    warmup, horizon = run.scenario.warmup, run.scenario.horizon
    episodes = records.episodes
    drifted = sum(max(0.0, min(e.end, horizon) - max(e.start, warmup)) for e in episodes)
    drifted += sum(max(0.0, horizon - max(start, warmup)) for start in records.open_since)
    host_seconds = records.host_seconds
    summary = {
        "config_drift_episodes": sum(1 for e in episodes if e.start >= warmup),
        "config_drifted_share": drifted / host_seconds if host_seconds else np.nan,
        "misconfigured_errors": count_status(run, MISCONFIGURED),
        "config_engineer_hours": records.engineer_hours,
    }
    table = pd.DataFrame(
        [(e.service, e.host, e.start, e.end, e.end - e.start) for e in episodes],
        columns=list(DRIFT_COLUMNS),
    )
    return summary, {"config_drift": table}


# ---------------------------------------------------------------------------- secrets


def audit_detail(entry: AuditEntry) -> str:
    """An audit entry's reason in words."""
    return AUDIT_DETAILS[entry.reason].format(value=entry.value, by=entry.by)


def secrets_results(records: SecretsRecords, run: RunRecords) -> Results:
    """Leaks (how long exposed, how many services changed), expiries, rotations, refused
    visits and hours spent; the `secret_audit` trail and the `secret_leaks` table."""
    import pandas as pd

    leaks = records.leaks
    exposure = [leak.revoked - leak.at for leak in leaks]
    summary = {
        "secret_leaks": len(leaks),
        "leak_exposure_s": float(np.mean(exposure)) if leaks else np.nan,
        "leak_blast_radius_services": float(np.mean([len(leak.changed) for leak in leaks]))
        if leaks
        else np.nan,
        "secret_expiries": records.expiries,
        "secret_rotations": records.rotations,
        "unauthorized_errors": count_status(run, UNAUTHORIZED),
        "secrets_engineer_hours": records.engineer_hours,
    }
    audit = pd.DataFrame(
        [(e.time, e.service, e.credential, e.action, audit_detail(e)) for e in records.audit],
        columns=list(AUDIT_COLUMNS),
    )
    leak_rows = [
        (
            leak.at,
            leak.service,
            leak.credential,
            leak.noticed,
            leak.revoked,
            leak.revoked - leak.at,
            leak.restored,
            len(leak.changed),
            ",".join(leak.changed),
            ",".join(leak.affected),
            leak.engineer_hours,
        )
        for leak in leaks
    ]
    table = pd.DataFrame(leak_rows, columns=list(LEAK_COLUMNS))
    return summary, {"secret_audit": audit, "secret_leaks": table}
