"""KPI descriptions of service discovery, configuration and secrets (`model/discovery/`)."""

from __future__ import annotations

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
