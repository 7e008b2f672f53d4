"""How one endpoint change reaches every client, per discovery kind.

`Propagation.learn` takes a change (when, whether the replica left gracefully, how many
clients hold a view) and returns when the registry knew, when each client knows, and the
operator hours spent. It keeps only the state the real system keeps between changes (when
each load balancer last reloaded, when the operator is free, each confd's polling phase), and
draws from its own random generator, so the same seed gives the same times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...scenario.discovery import Discovery
from .gossip import (
    anti_entropy_interval,
    gossip_spread,
    push_pull_catch_up,
    push_pull_interval,
    retransmit_limit,
    suspicion_timeout,
)

CONVERGED_SHARE = 0.9999
"""A change has converged when this share of clients knows of it (the issue's 99.99%)."""


def convergence_time(delays: np.ndarray, share: float = CONVERGED_SHARE) -> float:
    """Time until `share` of the clients know: the ⌈share·n⌉-th smallest delay (inf if some
    of those never learn)."""
    if delays.size == 0:
        return math.nan
    ordered = np.sort(delays)
    return float(ordered[max(0, math.ceil(share * ordered.size) - 1)])


@dataclass
class Learned:
    """What a change produced: when the source of truth knew, when each client knew."""

    registry: float
    clients: np.ndarray  # absolute times, one per client
    operator_hours: float = 0.0
    agents: np.ndarray | None = None  # consul: when each agent heard by gossip


class Propagation:
    """The dissemination model of one discovery kind, for one run."""

    def __init__(self, settings: Discovery, agents: int, rng: np.random.Generator) -> None:
        self.settings = settings
        self.kind = settings.kind
        self.agents = agents
        self.rng = rng
        self._operator_free = 0.0
        self._last_reload: dict[int, np.ndarray] = {}
        self._confd_phase: dict[int, np.ndarray] = {}
        alive = np.ones(agents + 1, dtype=bool)
        down = math.floor(settings.failed_agents * agents)
        if down:
            alive[rng.choice(agents, size=down, replace=False)] = False
        self.alive = alive  # consul agents; the last slot is a joining agent

    # ---------------------------------------------------------------- per kind

    def learn(self, at: float, graceful: bool, clients: int, key: int = 0) -> Learned:
        """Times for a change at `at` (`graceful`: the replica deregistered itself first);
        `key` names the service, for state kept per service."""
        kind = self.kind
        if kind == "none":
            return Learned(at, np.full(clients, at))
        if kind == "static":
            return self._static(at, graceful, clients)
        if kind == "lb-etcd":
            # One confd and one HAProxy per load balancer render every service's backends:
            # polling phases and reload gaps are the load balancer's, whatever the service.
            return self._lb_etcd(at, graceful, clients, 0)
        if kind == "skydns":
            return self._skydns(at, graceful, clients)
        if kind == "consul":
            return self._consul(at, graceful, clients)
        return self._kubernetes(at, graceful, clients)

    def _health_detection(self, at: float, graceful: bool) -> float:
        """A registration kept alive by a health-checking sidecar lapses at its next check."""
        if graceful:
            return at
        return at + self.rng.random() * self.settings.health_check_interval

    def _static(self, at: float, graceful: bool, clients: int) -> Learned:
        s = self.settings
        noticed = at if graceful else at + s.static_detection
        start = max(noticed + s.static_ticket_delay, self._operator_free)
        done = start + s.static_change_effort * np.arange(1, clients + 1)
        self._operator_free = float(done[-1])
        return Learned(noticed, done, operator_hours=clients * s.static_change_effort / 3600)

    def _lb_etcd(self, at: float, graceful: bool, clients: int, key: int) -> Learned:
        s = self.settings
        registry = self._health_detection(at, graceful) + s.raft_commit
        if s.confd_watch:
            rendered = np.full(clients, registry + s.watch_latency)
        else:
            phase = self._confd_phase.get(key)
            if phase is None or phase.size != clients:
                phase = self._confd_phase[key] = self.rng.random(clients) * s.confd_interval
            rendered = registry + np.mod(phase - registry, s.confd_interval)
        last = self._last_reload.get(key)
        if last is None or last.size != clients:
            last = np.full(clients, -np.inf)
        reloaded = np.maximum(rendered, last + s.reload_min_gap)
        self._last_reload[key] = reloaded
        return Learned(registry, reloaded)

    def _skydns(self, at: float, graceful: bool, clients: int) -> Learned:
        s = self.settings
        registry = self._health_detection(at, graceful) + s.raft_commit
        # A client's cached answer is, at any moment, uniformly old within the TTL.
        return Learned(registry, registry + self.rng.random(clients) * s.dns_ttl)

    def gossip(self, source: int) -> np.ndarray:
        """Seconds after the start at which each agent hears a message from `source`."""
        s = self.settings
        n = self.alive.size
        rounds = gossip_spread(
            n,
            s.fanout,
            self.rng,
            source=source,
            packet_loss=s.packet_loss,
            failed=~self.alive,
            transmissions=retransmit_limit(s.retransmit_mult, n),
        )
        times = rounds * s.gossip_interval
        end = float(np.max(times[np.isfinite(times)]))
        interval = push_pull_interval(s.push_pull_interval, n)
        return push_pull_catch_up(times, self.alive, interval, self.rng, end)

    def _consul(self, at: float, graceful: bool, clients: int) -> Learned:
        s = self.settings
        n = self.agents
        rng = self.rng
        if graceful:
            # The agent syncs the deregistration to the catalog at once; if that message is
            # lost, the next anti-entropy full sync carries it.
            registry = at + s.raft_commit
            if rng.random() < s.packet_loss:
                registry += rng.random() * anti_entropy_interval(n)
            agents = None
        else:
            # Some agent probes the dead one within a probe interval, the probe times out,
            # the suspicion timer runs out, and "dead" spreads by gossip to every agent;
            # the catalog changes when the leader (agent 0) hears it.
            detector = int(rng.integers(1, n)) if n > 1 else 0
            declared = (
                at
                + rng.random() * s.probe_interval
                + s.probe_timeout
                + suspicion_timeout(s.suspicion_mult, n, s.probe_interval)
            )
            heard = declared + self.gossip(detector)[:n]
            agents = heard
            registry = float(heard[0]) + s.raft_commit
        learned = registry + rng.random(clients) * s.consul_dns_ttl
        return Learned(registry, learned, agents=agents)

    def join(self, at: float) -> Learned:
        """A new agent joins: its alive message spreads by gossip to the others."""
        heard = at + self.gossip(self.alive.size - 1)[:-1]
        alive = self.alive[:-1]
        return Learned(at, heard[alive], agents=heard)

    def _kubernetes(self, at: float, graceful: bool, clients: int) -> Learned:
        s = self.settings
        noticed = at if graceful else at + s.node_monitor_grace
        registry = noticed + s.watch_latency
        # Each node's kube-proxy is told by a watch and syncs within its minimum sync period.
        synced = registry + s.watch_latency + self.rng.random(clients) * s.kube_proxy_min_sync
        return Learned(registry, synced)
