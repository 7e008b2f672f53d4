"""What service discovery, configuration management and secrets leave behind: endpoint
changes and who learned them when, drift episodes, the secrets audit trail and leaks, and
the few facts of the run that their KPIs need.

`simulator.model.discovery` fills these once the horizon is reached; `simulator.metrics.
discovery` turns them into KPIs and tables. Times are seconds from the start of the run, NaN
where something has not happened (yet) by the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------------------- discovery


@dataclass(frozen=True, slots=True)
class EndpointChange:
    """One endpoint change and how its clients learned of it."""

    time: float
    service: str
    """The station whose endpoints changed; "" for an agent joining the cluster."""
    kind: str
    """What caused it: node-failure, scale-in, scale-out, replacement, move, deploy, join or
    autoscaler."""
    endpoint: str
    """added, removed or joined."""
    registry_s: float
    """From the change until the source of truth knew (NaN if nobody knew by the horizon)."""
    delays: np.ndarray
    """Per client, seconds from the change until it knew (inf: not by the horizon)."""
    convergence_s: float
    """Seconds until 99.99% of the clients knew (the discovery kind's definition)."""
    operator_hours: float
    """Hours operators spent changing addresses by hand for it."""


@dataclass(frozen=True, slots=True)
class DiscoveryRecords:
    kind: str
    """The discovery kind of the run (none, static, lb-etcd, skydns, consul, kubernetes)."""
    changes: tuple[EndpointChange, ...]
    """In the order they converged, then those not converged by the horizon."""
    stale_seconds: float
    """Seconds visits after warm-up hung on dead addresses, summed over every station."""


# ---------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class DriftEpisode:
    """One host off its intended configuration, from `start` until put right (`end`)."""

    service: str
    host: int
    """The station's host number, in the order they started."""
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class ConfigurationRecords:
    episodes: tuple[DriftEpisode, ...]
    """Episodes that ended by the horizon, in the order they ended."""
    open_since: tuple[float, ...]
    """Starts of the episodes still open at the horizon."""
    host_seconds: float
    """Replica-seconds measured (after warm-up): the denominator of the drifted share."""
    engineer_hours: float
    """Hours writing configuration: a recipe, or a few environment variables, per service
    and environment."""


# ---------------------------------------------------------------------------- secrets

# Why an audit entry was written: `metrics.discovery.AUDIT_DETAILS` gives the words.
STATIC_CONFIG = "static_config"
ISSUED = "issued"
"""A dynamic credential; the entry's `value` is its lease's TTL."""
RENEWED = "renewed"
"""The entry's `value` is the lease's new end."""
RENEWAL_REFUSED = "renewal_refused"
EXPIRED = "expired"
FIXED_BY_HAND = "fixed_by_hand"
FIXED_BY_RESPONDER = "fixed_by_responder"
SHARED_LEAKED = "shared_leaked"
LEASE_LEAKED = "lease_leaked"
LEAKED = "leaked"
EVERY_SERVICE = "every_service"
LEASE_REVOKED = "lease_revoked"
REVOKED_BY = "revoked_by"
"""An incident's responder revoked it; the entry's `by` says who."""
DEPLOYED = "deployed"
NEW_LEASE = "new_lease"
NEW = "new"
ROTATED_BY_HAND = "rotated_by_hand"
AUTOMATIC = "automatic"
AUDIT_REASONS = (
    STATIC_CONFIG, ISSUED, RENEWED, RENEWAL_REFUSED, EXPIRED, FIXED_BY_HAND,
    FIXED_BY_RESPONDER, SHARED_LEAKED, LEASE_LEAKED, LEAKED, EVERY_SERVICE, LEASE_REVOKED,
    REVOKED_BY, DEPLOYED, NEW_LEASE, NEW, ROTATED_BY_HAND, AUTOMATIC,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the secrets audit trail."""

    time: float
    service: str
    """"" when the action concerns every service (a shared credential's revocation)."""
    credential: str
    action: str
    """configured, issue, renew, renew_failed, expire, leak, revoke or rotate."""
    reason: str
    """Why, a code from `AUDIT_REASONS`."""
    value: float = math.nan
    """The number the reason needs (a TTL, a lease's end); NaN otherwise."""
    by: str = ""
    """Who acted, for `REVOKED_BY`: the incident's responder (operators or on-call)."""


@dataclass(slots=True)
class LeakRecord:
    """One leaked credential. Filled in while the run goes on (revocation and restoration
    may wait for an incident's responder); NaN until then."""

    at: float
    service: str
    credential: str
    noticed: float
    revoked: float
    restored: float
    changed: tuple[str, ...]
    """Services whose configuration had to change."""
    affected: tuple[str, ...]
    """The blast radius: the changed services and every service that calls them."""
    engineer_hours: float = 0.0


@dataclass(frozen=True, slots=True)
class SecretsRecords:
    audit: tuple[AuditEntry, ...]
    """In time order (stable: entries of the same time in the order they were written)."""
    leaks: tuple[LeakRecord, ...]
    expiries: int
    """Leases that expired because renewal failed."""
    rotations: int
    """Scheduled rotations of every credential."""
    engineer_hours: float
    """Hours spent on leaks, expiries and rotations."""
