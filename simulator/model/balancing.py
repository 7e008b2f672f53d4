"""Load-balancer decisions as pure functions: which replica gets the next request.

Each takes a snapshot (requests in flight per replica) and, where the policy is random,
uniform numbers in [0, 1) drawn by the caller, so it can be tested without a simulation.
`central-queue` has no decision here: a request waits in one shared queue and goes to
whichever worker frees up first.
"""

from __future__ import annotations

from collections.abc import Sequence


def round_robin(turn: int, replicas: int) -> int:
    """Replicas in turn, 0, 1, ..., n−1, 0, ...: equal shares, blind to load."""
    return turn % replicas


def uniform_random(u: float, replicas: int) -> int:
    """Any replica with equal probability: each sees Poisson traffic if the input is Poisson."""
    return min(int(u * replicas), replicas - 1)


def least_connections(in_flight: Sequence[int], u: float) -> int:
    """The replica with the fewest requests in flight (join the shortest queue); ties at random."""
    fewest = min(in_flight)
    ties = in_flight.count(fewest)
    if ties == 1:
        return in_flight.index(fewest)
    # The k-th of the tied replicas, found by C-level `index` calls (no list built per call:
    # the general path picks a replica this way for every visit).
    k = min(int(u * ties), ties - 1)
    if ties == len(in_flight):
        return k  # every replica tied (an idle pool)
    position = in_flight.index(fewest)
    for _ in range(k):
        position = in_flight.index(fewest, position + 1)
    return position


def power_of_two(in_flight: Sequence[int], u1: float, u2: float) -> int:
    """The less loaded of two distinct replicas drawn at random (Mitzenmacher's two choices).

    Nearly as good as least-connections, yet it needs only two load reports, not all of them.
    Ties go to the first draw.
    """
    replicas = len(in_flight)
    if replicas == 1:
        return 0
    first = min(int(u1 * replicas), replicas - 1)
    second = min(int(u2 * (replicas - 1)), replicas - 2)
    if second >= first:
        second += 1
    return first if in_flight[first] <= in_flight[second] else second
