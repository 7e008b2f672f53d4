"""The engine against queueing theory: Erlang C, Pollaczek–Khinchine, GI/M/1 and Little's law.

Every check pools independent replications; see tests/stats.py for why the tolerances hold.
"""

import itertools

import numpy as np
import pytest

import simulator
from simulator import theory
from tests.helpers import MMC, assert_agrees

pytestmark = pytest.mark.slow


def single_queue(
    rate: float,
    service: dict,
    replicas: int = 1,
    policy: str = "central-queue",
    horizon: str = "20000s",
    warmup: str = "500s",
) -> dict:
    return {
        "name": "validation",
        "horizon": horizon,
        "warmup": warmup,
        "services": {"q": {"replicas": replicas, "service_time": service, "load_balancer": policy}},
        "traffic": {"q": {"rate": rate}},
    }


def replicate(scenario, n: int, seed: int = 1):
    return simulator.run_replications(scenario, n, seed=seed).table


def test_mmc_against_erlang_c():
    """The shipped M/M/4 at 90%: P(wait) and mean wait from Erlang C."""
    table = replicate(MMC, 10)
    expected = theory.mmc(3.6, 1.0, 4)
    assert_agrees(table.p_wait, expected.p_wait, 0.01, "P(wait)")
    assert_agrees(table.wait_mean_s, expected.wait_mean, 0.05, "mean wait")
    assert_agrees(table.utilisation, expected.utilisation, 0.005, "utilisation")


def test_mm1():
    exponential = {"distribution": "exponential", "mean": "1s"}
    table = replicate(single_queue(0.7, exponential, horizon="40000s"), 10)
    expected = theory.mm1(0.7, 1.0)
    assert_agrees(table.p_wait, expected.p_wait, 0.01, "P(wait)")
    assert_agrees(table.wait_mean_s, expected.wait_mean, 0.04, "mean wait")
    assert_agrees(table.latency_mean_s, expected.sojourn_mean, 0.03, "mean latency")


def test_md1_against_pollaczek_khinchine():
    constant = {"distribution": "constant", "mean": "1s"}
    table = replicate(single_queue(0.7, constant, horizon="40000s"), 10)
    assert_agrees(table.wait_mean_s, theory.md1(0.7, 1.0).wait_mean, 0.03, "mean wait")


@pytest.mark.parametrize(
    ("family", "horizon"),
    [("gamma", "40000s"), ("lognormal", "200000s")],  # lognormal's heavy tail needs longer
)
def test_mg1_against_pollaczek_khinchine(family, horizon):
    """cv = 1.5: PK says a queue waits (1 + cv²)/2 = 1.6 times as long as with M/M/1."""
    service = {"distribution": family, "mean": "1s", "cv": 1.5}
    table = replicate(single_queue(0.6, service, horizon=horizon), 12)
    expected = theory.mg1(0.6, 1.0, 1.5)
    assert_agrees(table.wait_mean_s, expected.wait_mean, 0.05, "mean wait")
    assert_agrees(table.p_wait, expected.p_wait, 0.01, "P(wait)")


def test_littles_law_from_independent_samples():
    """L sampled at fixed instants equals λ·W computed from the request records."""
    reps = simulator.run_replications(MMC, 6, keep_results=True)
    sampled_l = [r.tables["timeseries"].in_system.mean() for r in reps.results]
    lambda_w = reps.table.throughput_rps * reps.table.latency_mean_s
    differences = np.asarray(sampled_l) - lambda_w.to_numpy()
    # The difference is measured with both errors; its scale is set by L itself.
    assert_agrees(np.asarray(sampled_l), theory.mmc(3.6, 1.0, 4).in_system_mean, 0.05, "L")
    assert abs(differences.mean()) <= 0.02 * lambda_w.mean()


def test_random_balancing_makes_each_replica_an_mm1():
    """A Poisson stream split at random stays Poisson: 4 replicas at 70% are 4 M/M/1 queues."""
    exponential = {"distribution": "exponential", "mean": "1s"}
    table = replicate(single_queue(2.8, exponential, 4, "random", horizon="20000s"), 10)
    expected = theory.mm1(0.7, 1.0)
    assert_agrees(table.wait_mean_s, expected.wait_mean, 0.04, "mean wait")
    assert_agrees(table.p_wait, expected.p_wait, 0.01, "P(wait)")


def test_round_robin_makes_each_replica_an_ek_m1():
    """Round-robin over k replicas gives each Erlang-k gaps: E4/M/1 at 80%, not M/M/1."""
    exponential = {"distribution": "exponential", "mean": "1s"}
    table = replicate(single_queue(3.2, exponential, 4, "round-robin", horizon="20000s"), 10)
    expected = theory.ek_m1(0.8, 1.0, 4)
    assert_agrees(table.wait_mean_s, expected.wait_mean, 0.04, "mean wait")
    assert_agrees(table.p_wait, expected.p_wait, 0.01, "P(wait)")
    assert expected.wait_mean < 0.7 * theory.mm1(0.8, 1.0).wait_mean


def test_smarter_balancers_wait_less_on_the_same_traffic():
    """Paired on the same seeds: central-queue < least-connections < power-of-two < random."""
    exponential = {"distribution": "exponential", "mean": "1s"}
    waits = {}
    for policy in ["central-queue", "least-connections", "power-of-two", "random"]:
        scenario = single_queue(7.2, exponential, 8, policy, horizon="5000s")
        waits[policy] = replicate(scenario, 6).wait_mean_s.to_numpy()
    order = ["central-queue", "least-connections", "power-of-two", "random"]
    for better, worse in itertools.pairwise(order):
        difference = waits[worse] - waits[better]
        assert difference.min() > 0, f"{better} did not beat {worse} in every replication"
