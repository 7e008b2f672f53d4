"""Gossip among Consul/Serf agents (memberlist's SWIM with piggybacked broadcasts), simulated.

A message starts at one agent. In each gossip round every agent that knows it and still has
transmissions left sends it to `fanout` peers drawn at random (never itself); each message is
lost with probability `packet_loss`, and a failed agent neither receives nor sends. memberlist
sends a broadcast at most `retransmit_mult·⌈log10(N+1)⌉` times per agent; an agent it misses
catches up at its next push/pull full-state sync with a random peer. Rounds are synchronous
(every agent's ticker is treated as aligned), so a hop costs one full gossip interval: an
upper bound on real, staggered tickers. Arrays, not per-message Python objects, so 10,000
agents take milliseconds.
"""

from __future__ import annotations

import math

import numpy as np


def retransmit_limit(mult: int, agents: int) -> int:
    """memberlist `retransmitLimit`: mult·⌈log10(n+1)⌉ transmissions of one broadcast."""
    return mult * math.ceil(math.log10(agents + 1))


def suspicion_timeout(mult: int, agents: int, probe_interval: float) -> float:
    """memberlist `suspicionTimeout`: mult·max(1, log10 n)·probe interval (the lower bound,
    reached once enough independent confirmations arrive, as they do in a large cluster)."""
    return mult * max(1.0, math.log10(max(1, agents))) * probe_interval


def push_pull_interval(base: float, agents: int) -> float:
    """memberlist `pushPullScale`: the base interval, ×(⌈log2 n − log2 32⌉ + 1) above 32."""
    if agents <= 32:
        return base
    return base * (math.ceil(math.log2(agents) - math.log2(32)) + 1)


def anti_entropy_interval(agents: int) -> float:
    """Consul's anti-entropy full sync: 1 min up to 128 nodes, one more minute per doubling."""
    return 60.0 * max(1, math.ceil(math.log2(max(agents, 1))) - 6)


def epidemic_rounds(agents: int, fanout: int) -> float:
    """Rounds for push gossip to reach everyone: log_{1+f} N + ln N / f (Pittel 1987 for
    f = 1: log2 N + ln N + O(1); Frieze & Grimmett's generalisation to fanout f)."""
    return math.log(agents) / math.log(1 + fanout) + math.log(agents) / fanout


SERF_CONTACT_SHARE = 0.5
"""The factor HashiCorp's convergence simulator puts on the contact rate (undocumented there)."""


def serf_convergence(
    agents: int,
    fanout: float,
    rounds: float | np.ndarray,
    packet_loss: float = 0.0,
    failed_share: float = 0.0,
) -> float | np.ndarray:
    """The share of agents that know a message after `rounds` gossip intervals, as Serf's
    "Convergence Simulator" computes it (hashicorp/serf, website/source/assets/javascripts/
    _simulator.js, `convergenceAtRound`): a deterministic logistic (SI) epidemic
    N / (1 + (N + 1)·e^(−βNx)) with contact rate β = (fanout / N)·(1 − loss)·(1 − failed)·0.5.
    Every informed agent thus reaches fanout/2 others per interval, in continuous time; the
    model has no retransmit limit, no push/pull and no failure detection."""
    contact = fanout / agents * (1 - packet_loss) * (1 - failed_share) * SERF_CONTACT_SHARE
    informed = agents / (1 + (agents + 1) * np.exp(-contact * agents * np.asarray(rounds)))
    share = informed / agents
    return float(share) if np.ndim(share) == 0 else share


def serf_convergence_rounds(
    agents: int,
    fanout: float,
    target: float = 0.9999,
    packet_loss: float = 0.0,
    failed_share: float = 0.0,
) -> float:
    """Rounds until `serf_convergence` reaches `target` (the simulator's chart stops at
    99.99%): ln((N + 1)·target / (1 − target)) / (βN), continuous; the chart's own points
    are whole rounds, so it shows the next one."""
    rate = fanout * (1 - packet_loss) * (1 - failed_share) * SERF_CONTACT_SHARE
    return math.log((agents + 1) * target / (1 - target)) / rate


def gossip_spread(
    agents: int,
    fanout: int,
    rng: np.random.Generator,
    *,
    source: int = 0,
    packet_loss: float = 0.0,
    failed: np.ndarray | None = None,
    transmissions: int | None = None,
    max_rounds: int = 10_000,
) -> np.ndarray:
    """The gossip round in which each agent first hears a message; inf if it never does.

    `failed` is a boolean mask of agents that are down; `transmissions` caps how many
    messages one agent sends (None: no cap, the textbook push epidemic).
    """
    learned = np.full(agents, np.inf)
    learned[source] = 0.0
    alive = np.ones(agents, dtype=bool) if failed is None else ~failed
    budget = np.zeros(agents, dtype=np.int64)
    cap = np.iinfo(np.int64).max // 4 if transmissions is None else transmissions
    budget[source] = cap
    active = np.zeros(agents, dtype=bool)
    active[source] = True
    for round_ in range(1, max_rounds + 1):
        senders = np.flatnonzero(active)
        if senders.size == 0:
            break
        sends = np.minimum(budget[senders], fanout)
        budget[senders] -= sends
        source_of = np.repeat(senders, sends)
        targets = rng.integers(0, agents - 1, size=source_of.size)
        targets += targets >= source_of  # never itself
        delivered = alive[targets]
        if packet_loss > 0:
            delivered &= rng.random(targets.size) >= packet_loss
        new = targets[delivered]
        new = np.unique(new[np.isinf(learned[new])])
        learned[new] = round_
        budget[new] = cap
        informed = np.isfinite(learned)
        if informed[alive].all():
            break
        active = (budget > 0) & informed & alive
    return learned


def push_pull_catch_up(
    learned_at: np.ndarray,
    alive: np.ndarray,
    interval: float,
    rng: np.random.Generator,
    start: float,
    max_periods: int = 1000,
) -> np.ndarray:
    """Times at which agents gossip missed learn it from push/pull full-state syncs.

    Every alive agent syncs with one random peer per `interval`, at its own phase; an
    exchange goes both ways, so either side knowing is enough. Agents are taken in batches
    of one interval (an agent that learns within a period passes it on from the next one).
    """
    times = learned_at.copy()
    agents = times.size
    phase = rng.random(agents) * interval
    for period in range(max_periods):
        missing = alive & np.isinf(times)
        if not missing.any():
            break
        knows = np.isfinite(times) & alive
        peers = rng.integers(0, agents - 1, size=agents)
        peers += peers >= np.arange(agents)
        at = start + period * interval + phase
        initiator_learns = alive & np.isinf(times) & knows[peers] & alive[peers]
        pushed = alive & knows & alive[peers] & np.isinf(times[peers])
        new_times = times.copy()
        new_times[initiator_learns] = at[initiator_learns]
        receivers = peers[pushed]
        np.minimum.at(new_times, receivers, at[pushed])
        times = new_times
    return times
