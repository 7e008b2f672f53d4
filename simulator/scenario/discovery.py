"""Service discovery, configuration and secrets: how change reaches the clients that need it.

Defaults come from `shared/REFERENCE.md` (§3 discovery, "Other defaults" for Vault) and are
cited in `docs/discovery.md`; the ones no source gives are marked "assumed" there and here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol, get_args

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from .base import ScenarioModel, knob
from .units import Duration, Rate

DiscoveryKind = Literal["none", "static", "lb-etcd", "skydns", "consul", "kubernetes"]
DISCOVERY_KINDS: tuple[str, ...] = get_args(DiscoveryKind)
ChangeKind = Literal["node-failure", "scale-in", "scale-out", "move", "deploy", "join"]


class EndpointChange(ScenarioModel):
    """A scripted change of a service's endpoints: what the clients must come to know."""

    at: Duration = knob(0.0, "when the change happens", "s", ge=0)
    kind: ChangeKind = knob(
        "node-failure",
        "node-failure (replicas die without notice; detected by health checks), scale-in "
        "(replicas deregister, then stop), scale-out (new replicas register), move (a replica "
        "gets a new address: one removed, one added), deploy (every replica moves, one after "
        "another), join (one agent joins the cluster: only the gossip model uses it)",
    )
    service: str = knob("", "the service whose endpoints change (empty only for join)")
    replicas: int = knob(1, "how many replicas the change concerns (deploy: all)", ge=1)
    replace_after: Duration | None = knob(
        None,
        "node-failure: a replacement replica registers this long after the failure (empty: "
        "never); deploy: time between replacing one replica and the next (empty: 10 s)",
        "s",
        ge=0,
    )


class Discovery(ScenarioModel):
    """How services find each other's replicas, and how fast a change reaches every client."""

    kind: DiscoveryKind = knob(
        "none",
        "none (clients always know every endpoint: no staleness), static (addresses in each "
        "dependent's configuration), lb-etcd (HAProxy/NGINX rendered from etcd by confd), "
        "skydns (etcd + DNS with cached answers), consul (agents, gossip, catalog, DNS) or "
        "kubernetes (endpoints controller + kube-proxy)",
    )
    events: list[EndpointChange] = knob(
        default_factory=list, description="scripted endpoint changes (node failures, scale-in, …)"
    )
    clients: int | None = knob(
        None,
        "clients holding a view of the endpoints; empty means what the kind implies: "
        "dependent services (static), load_balancers (lb-etcd), caller replicas (skydns), "
        "agents (consul, kubernetes)",
        ge=1,
    )
    agents: int | None = knob(
        None,
        "agents (one per node) for consul and kubernetes; empty means cluster.nodes, or the "
        "total replicas without a cluster",
        ge=1,
    )
    stale_connect: Duration = knob(
        1.0,
        "how long a request to a failed node's address hangs before it fails (a TCP connect "
        "timeout; assumed); a replica that deregistered refuses at once",
        "s",
        ge=0,
    )
    health_check_interval: Duration = knob(
        10.0,
        "interval of the registry's health check (lb-etcd, skydns: a registration TTL "
        "refreshed by a sidecar; assumed 10 s, Consul's documented example interval)",
        "s",
        gt=0,
    )
    # static
    static_ticket_delay: Duration = knob(
        4 * 3600.0,
        "static: wait before an operator starts on the address change (ticket queue; "
        "REFERENCE.md §2: not found, assumed 4 h); with a delivery section its queue decides",
        "s",
        ge=0,
    )
    static_change_effort: Duration = knob(
        1800.0,
        "static: operator time to change one dependent's configuration and redeploy it "
        "(assumed 30 min); dependents are changed one after another; with a delivery section "
        "its process does it",
        "s",
        ge=0,
    )
    static_detection: Duration = knob(
        300.0,
        "static: time until someone notices a failed node (a monitoring alert; assumed "
        "5 min); with a delivery section, its monitoring or customers",
        "s",
        ge=0,
    )
    # lb-etcd
    load_balancers: int = knob(2, "lb-etcd: load-balancer instances, each with its confd", ge=1)
    confd_interval: Duration = knob(
        600.0, "lb-etcd: confd's backend poll interval (confd default 600 s)", "s", gt=0
    )
    confd_watch: bool = knob(False, "lb-etcd: confd in -watch mode instead of polling")
    watch_latency: Duration = knob(
        0.01,
        "lb-etcd, kubernetes: delay of an etcd/API watch notification (not published; "
        "assumed 10 ms)",
        "s",
        ge=0,
    )
    reload_min_gap: Duration = knob(
        5.0,
        "lb-etcd: least time between two reloads of one load balancer (OpenShift router "
        "default 5 s); in-flight requests drain on the old process",
        "s",
        ge=0,
    )
    # skydns
    dns_ttl: Duration = knob(
        3600.0, "skydns: TTL of DNS answers that clients cache (SkyDNS2 default 3,600 s)", "s", ge=0
    )
    # consul
    gossip_interval: Duration = knob(
        0.2, "consul: gossip interval (memberlist LAN default 200 ms)", "s", gt=0
    )
    fanout: int = knob(3, "consul: peers each agent gossips to per interval (LAN default 3)", ge=1)
    retransmit_mult: int = knob(
        4,
        "consul: a message is sent at most retransmit_mult·⌈log10(N+1)⌉ times per agent "
        "(LAN default 4)",
        ge=1,
    )
    probe_interval: Duration = knob(
        1.0, "consul: failure-detector probe interval (LAN default 1 s)", "s", gt=0
    )
    probe_timeout: Duration = knob(0.5, "consul: probe timeout (LAN default 500 ms)", "s", gt=0)
    suspicion_mult: int = knob(
        4,
        "consul: suspicion timeout = suspicion_mult·max(1, log10 N)·probe_interval (memberlist "
        "LAN default 4; 5 before memberlist's Lifeguard changes)",
        ge=1,
    )
    push_pull_interval: Duration = knob(
        30.0,
        "consul: full state sync with a random peer (LAN default 30 s, scaled up above 32 "
        "agents as memberlist does)",
        "s",
        gt=0,
    )
    packet_loss: float = knob(0.0, "consul: share of gossip messages lost", ge=0, lt=1)
    failed_agents: float = knob(
        0.0, "consul: share of agents that are down (they neither receive nor send)", ge=0, lt=1
    )
    consul_dns_ttl: Duration = knob(
        0.0, "consul: TTL of DNS answers (Consul default 0: no caching)", "s", ge=0
    )
    raft_commit: Duration = knob(
        0.002,
        "consul, lb-etcd, skydns: time to commit a registry change (etcd: <1 ms to a few ms "
        "at light load, REFERENCE.md §7)",
        "s",
        ge=0,
    )
    # kubernetes
    node_monitor_grace: Duration = knob(
        50.0,
        "kubernetes: time before an unresponsive node's pods are marked not ready "
        "(kube-controller-manager --node-monitor-grace-period default 50 s since v1.32; 40 s "
        "before)",
        "s",
        ge=0,
    )
    kube_proxy_sync: Duration = knob(
        30.0, "kubernetes: kube-proxy full resync period (--iptables-sync-period 30 s)", "s", gt=0
    )
    kube_proxy_min_sync: Duration = knob(
        1.0,
        "kubernetes: least time between kube-proxy syncs after a change "
        "(--iptables-min-sync-period 1 s)",
        "s",
        ge=0,
    )

    @model_validator(mode="after")
    def _events_name_services(self) -> Discovery:
        for index, event in enumerate(self.events):
            if event.kind != "join" and not event.service:
                raise PydanticCustomError(
                    "no_service",
                    "expected the service whose endpoints change",
                    {"key": f"events.{index}.service"},
                )
        return self


ManagedBy = Literal["scheduler", "chef", "puppet", "hand"]


class Configuration(ScenarioModel):
    """How services get their configuration, and how hosts drift away from it."""

    managed_by: ManagedBy = knob(
        "scheduler",
        "scheduler (twelve-factor: environment variables set by the scheduler on immutable "
        "containers; no drift), chef or puppet (converge every run_interval), hand (an operator "
        "fixes a drifted host when someone notices)",
    )
    environments: int = knob(
        3, "environments each service is configured for (dev, staging, prod)", ge=1
    )
    drift_rate: Rate = knob(
        1 / 86400.0,
        "rate at which one hand- or agent-managed host drifts from its intended configuration "
        "(not published; assumed once a day)",
        "1/s",
        ge=0,
    )
    run_interval: Duration = knob(
        1800.0,
        "chef/puppet: interval between converging runs (chef-client and puppet agent default "
        "30 min)",
        "s",
        gt=0,
    )
    hand_fix_time: Duration = knob(
        4 * 3600.0,
        "hand: mean time until an operator notices and fixes a drifted host (assumed 4 h)",
        "s",
        gt=0,
    )
    drift_failure_share: float = knob(
        0.5, "share of requests a drifted host fails (assumed)", ge=0, le=1
    )
    recipe_hours: float = knob(
        4.0,
        "chef/puppet/hand: engineer hours to write and test a recipe for one service in one "
        "environment (the talk's 'you have to repeat recipes'; assumed)",
        "h",
        ge=0,
    )
    env_config_hours: float = knob(
        0.25,
        "scheduler: engineer hours to set one service's environment variables in one "
        "environment (assumed)",
        "h",
        ge=0,
    )


class Leak(ScenarioModel):
    """A credential is leaked and must be revoked and replaced."""

    at: Duration = knob(0.0, "when the leak happens", "s", ge=0)
    service: str = knob("", "whose credential leaks (with static secrets, the shared one)")
    detection: Duration = knob(
        3600.0, "time from the leak until someone notices (assumed 1 h)", "s", ge=0
    )


class RenewalFailure(ScenarioModel):
    """A lease renewal that fails: the service's credential expires and calls are refused."""

    at: Duration = knob(0.0, "when renewal starts to fail", "s", ge=0)
    service: str = knob("", "the service whose lease cannot be renewed")
    fix_time: Duration = knob(
        3600.0,
        "time from the first refused request to a new credential (detect, page, fix; assumed "
        "1 h); with a delivery section, an incident the organisation resolves instead",
        "s",
        ge=0,
    )


class Secrets(ScenarioModel):
    """Static shared credentials against leased, per-service secrets (Vault)."""

    kind: Literal["none", "static", "vault"] = knob(
        "none",
        "none (not modelled), static (one shared credential in every service's "
        "configuration) or vault (dynamic per-service credentials with leases)",
    )
    lease_ttl: Duration = knob(
        768 * 3600.0, "vault: lease TTL (Vault default 32 days = 768 h)", "s", gt=0
    )
    renew_fraction: float = knob(
        2 / 3,
        "vault: share of the TTL after which a lease is renewed (Vault Agent renews at about "
        "two thirds)",
        gt=0,
        lt=1,
    )
    revoke_time: Duration = knob(
        60.0,
        "vault: time to revoke a leaked lease and issue a new credential once noticed "
        "(one API call and a restart of the client; assumed 1 min)",
        "s",
        ge=0,
    )
    rotation_hours_per_service: float = knob(
        2.0,
        "static: engineer hours to change the credential in one service's configuration and "
        "redeploy it (assumed)",
        "h",
        ge=0,
    )
    rotation_gap: Duration = knob(
        1800.0,
        "static: elapsed time per service while the credential is changed one service after "
        "another (assumed 30 min)",
        "s",
        ge=0,
    )
    rotation_interval: Duration | None = knob(
        None,
        "scheduled rotation of every credential (static: by hand; vault: automatic); empty "
        "means none",
        "s",
        gt=0,
    )
    leaks: list[Leak] = knob(default_factory=list, description="leaked credentials")
    renewal_failures: list[RenewalFailure] = knob(
        default_factory=list, description="lease renewals that fail (vault)"
    )


class ScenarioLike(Protocol):
    """What `check_discovery_services` reads of a Scenario (the schema's, which imports this
    module, so it cannot be imported here)."""

    @property
    def services(self) -> Mapping[str, object]: ...
    @property
    def discovery(self) -> Discovery: ...
    @property
    def secrets(self) -> Secrets: ...


def check_discovery_services(scenario: ScenarioLike) -> None:
    """Every service named by discovery events, leaks and renewal failures must exist."""
    from .base import suggest

    services = list(scenario.services)
    named: list[tuple[str, str]] = [
        (f"discovery.events.{i}.service", e.service)
        for i, e in enumerate(scenario.discovery.events)
        if e.kind != "join"
    ]
    named += [
        (f"secrets.leaks.{i}.service", x.service) for i, x in enumerate(scenario.secrets.leaks)
    ]
    named += [
        (f"secrets.renewal_failures.{i}.service", x.service)
        for i, x in enumerate(scenario.secrets.renewal_failures)
    ]
    for key, name in named:
        if name not in scenario.services:
            raise PydanticCustomError(
                "unknown_service",
                "names a service that does not exist: '{name}'; {hint}",
                {"key": key, "name": name, "hint": suggest(name, services)},
            )
