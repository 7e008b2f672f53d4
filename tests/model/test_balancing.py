"""Each load-balancer policy's defining behaviour, as a pure function and inside a run."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import simulator
from simulator.engine.recorder import PENDING
from simulator.model import balancing
from simulator.model.world import World

loads = st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=40)
unit = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@given(loads, unit)
def test_least_connections_picks_a_least_loaded_replica(in_flight, u):
    choice = balancing.least_connections(in_flight, u)
    assert in_flight[choice] == min(in_flight)


def test_least_connections_breaks_ties_evenly():
    picks = [balancing.least_connections([3, 1, 1, 5, 1], u) for u in np.linspace(0, 0.999, 300)]
    assert sorted(set(picks)) == [1, 2, 4]
    assert max(np.bincount(picks)) - min(np.bincount(picks)[[1, 2, 4]]) <= 1


@given(loads, unit, unit)
def test_power_of_two_picks_the_lesser_of_two_distinct_replicas(in_flight, u1, u2):
    choice = balancing.power_of_two(in_flight, u1, u2)
    assert 0 <= choice < len(in_flight)
    if len(in_flight) > 1:
        first = min(int(u1 * len(in_flight)), len(in_flight) - 1)
        rest = [i for i in range(len(in_flight)) if i != first]
        second = rest[min(int(u2 * len(rest)), len(rest) - 1)]
        assert choice in (first, second)
        assert in_flight[choice] == min(in_flight[first], in_flight[second])


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=64))
def test_round_robin_takes_turns(turn, replicas):
    assert balancing.round_robin(turn, replicas) == turn % replicas


@given(unit, st.integers(min_value=1, max_value=64))
def test_uniform_random_stays_in_range(u, replicas):
    assert 0 <= balancing.uniform_random(u, replicas) < replicas


def _run(policy: str, replicas: int = 5, rate: str = "4/s", horizon: str = "4000s"):
    scenario = simulator.load_scenario(
        {
            "horizon": horizon,
            "services": {
                "q": {
                    "replicas": replicas,
                    "load_balancer": policy,
                    "service_time": {"distribution": "exponential", "mean": "1s"},
                }
            },
            "traffic": {"q": {"rate": rate}},
        }
    )
    world = World(scenario, seed=11)
    world.run()
    return world.spans.columns()


def _in_flight_at_arrivals(columns, replicas):
    """Requests in flight per replica just before each arrival, rebuilt from the records."""
    pending_queued = np.flatnonzero((columns["status"] == PENDING) & np.isnan(columns["start"]))
    last = pending_queued[0] if len(pending_queued) else len(columns["arrival"])
    arrival, replica = columns["arrival"][:last], columns["replica"][:last]
    end = np.nan_to_num(columns["end"][:last], nan=np.inf)
    counts = np.zeros((last, replicas), dtype=int)
    for r in range(replicas):
        mine = replica == r
        routed_before = np.cumsum(mine) - mine
        ends = np.sort(end[mine])
        counts[:, r] = routed_before - np.searchsorted(ends, arrival, side="left")
    return counts, replica


def test_least_connections_in_a_run_always_routes_to_a_least_loaded_replica():
    counts, replica = _in_flight_at_arrivals(_run("least-connections"), 5)
    chosen = counts[np.arange(len(replica)), replica]
    assert np.all(chosen == counts.min(axis=1))
    assert (counts.max(axis=1) > counts.min(axis=1)).mean() > 0.3  # the check had work to do


def test_power_of_two_in_a_run_never_routes_to_a_unique_most_loaded_replica():
    counts, replica = _in_flight_at_arrivals(_run("power-of-two"), 5)
    chosen = counts[np.arange(len(replica)), replica]
    top = counts.max(axis=1)
    unique_top = (counts == top[:, None]).sum(axis=1) == 1
    assert unique_top.mean() > 0.3
    assert np.all(chosen[unique_top] < top[unique_top])
    # ... but unlike least-connections it sometimes picks a replica that is not least loaded.
    assert np.any(chosen > counts.min(axis=1))


def test_round_robin_in_a_run_cycles_through_replicas():
    columns = _run("round-robin")
    started = columns["replica"][columns["replica"] >= 0]
    assert np.array_equal(started[:1000], np.arange(1000) % 5)


@pytest.mark.parametrize("policy", ["random", "round-robin", "least-connections", "power-of-two"])
def test_every_policy_spreads_load(policy):
    columns = _run(policy)
    counts = np.bincount(columns["replica"][columns["replica"] >= 0], minlength=5)
    if policy == "random":
        # Counts are multinomial with equal shares: a chi-square test at the 0.1% level.
        assert stats.chisquare(counts).pvalue > 0.001
    assert counts.min() > 0.8 * counts.mean()


def _least_connections_by_list(in_flight, u):
    """The definition `least_connections` computes without building a list."""
    tied = [index for index, count in enumerate(in_flight) if count == min(in_flight)]
    return tied[min(int(u * len(tied)), len(tied) - 1)]


@given(st.lists(st.integers(0, 3), min_size=1, max_size=12), unit)
def test_least_connections_is_the_tied_replica_the_draw_names(in_flight, u):
    assert balancing.least_connections(in_flight, u) == _least_connections_by_list(in_flight, u)
