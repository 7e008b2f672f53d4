"""Call graphs against theory: Jackson networks, the fan-out tail and retry amplification."""

import math

import numpy as np
import pytest
from scipy import stats

import simulator
from simulator import theory
from tests.helpers import assert_agrees

pytestmark = pytest.mark.slow

NO_NETWORK = {"latency": {"distribution": "constant", "mean": "0s"}}


def exponential(mean: str) -> dict:
    return {"distribution": "exponential", "mean": mean}


def test_feed_forward_jackson_network_against_product_form():
    """a → b (half the time) and a → c: each station is M/M/c at its own flow (Jackson), so
    the mean end-to-end time is W_a + ½·W_b + W_c."""
    central = {"load_balancer": "central-queue"}
    scenario = {
        "horizon": "20000s",
        "warmup": "500s",
        "network": NO_NETWORK,
        "services": {
            "a": {"replicas": 2, **central, "service_time": exponential("1s"),
                  "handler": [{"work": None}, {"call": "b", "probability": 0.5}, {"call": "c"}]},
            "b": {"replicas": 1, **central, "service_time": exponential("1s")},
            "c": {"replicas": 3, **central, "service_time": exponential("1.5s")},
        },
        "traffic": {"a": {"rate": 1.2}},
    }  # fmt: skip
    table = simulator.run_replications(scenario, 8).table
    a, b, c = theory.mmc(1.2, 1.0, 2), theory.mmc(0.6, 1.0, 1), theory.mmc(1.2, 1.5, 3)
    expected = a.sojourn_mean + 0.5 * b.sojourn_mean + c.sojourn_mean
    assert_agrees(table.latency_mean_s, expected, 0.04, "end-to-end mean")


def test_tandem_queues_add_their_sojourn_times():
    """A chain of three M/M/1 stations (Burke: each sees Poisson arrivals)."""
    chain = {
        "s1": {"service_time": exponential("0.5s"), "handler": [{"work": None}, {"call": "s2"}]},
        "s2": {"service_time": exponential("0.6s"), "handler": [{"work": None}, {"call": "s3"}]},
        "s3": {"service_time": exponential("0.4s")},
    }
    scenario = {"horizon": "30000s", "warmup": "500s", "network": NO_NETWORK,
                "services": chain, "traffic": {"s1": {"rate": 1.2}}}  # fmt: skip
    table = simulator.run_replications(scenario, 8).table
    expected = sum(theory.mm1(1.2, m).sojourn_mean for m in (0.5, 0.6, 0.4))
    assert_agrees(table.latency_mean_s, expected, 0.04, "end-to-end mean")


def _fan_out(leaves: int, wait_for) -> dict:  # type: ignore[no-untyped-def]
    """A root that calls `leaves` copies of a leaf at once; the leaf never queues (many
    workers, 0.5 busy on average), so each answer takes an independent Exp(10 ms)."""
    return {
        "horizon": "3000s",
        "warmup": "10s",
        "network": NO_NETWORK,
        "services": {
            "root": {"concurrency": 64, "handler": [
                {"parallel": [{"call": "leaf", "count": leaves}], "wait_for": wait_for}]},
            "leaf": {"concurrency": 256, "service_time": exponential("10ms")},
        },
        "traffic": {"root": {"rate": 5}},
    }  # fmt: skip


@pytest.mark.parametrize(("leaves", "wait_for"), [(10, "all"), (10, 7), (30, "all")])
def test_the_fan_out_tail(leaves, wait_for):
    """P(a request waiting for k of N leaves takes longer than t) = P(fewer than k leaves
    are done by t) = BinomCDF(k − 1; N, F(t)), F the leaf's latency CDF."""
    result = simulator.run(_fan_out(leaves, wait_for))
    latency = (result.requests.end - result.requests.arrival).to_numpy()
    k = leaves if wait_for == "all" else wait_for
    for threshold in (0.02, 0.03, 0.05):
        done_by_t = 1 - math.exp(-threshold / 0.01)
        expected = stats.binom.cdf(k - 1, leaves, done_by_t)
        observed = float((latency > threshold).mean())
        # Requests are independent (no queueing): a binomial proportion, checked at 4 SE.
        se = math.sqrt(expected * (1 - expected) / len(latency))
        assert abs(observed - expected) <= 4 * se + 1e-9, (threshold, observed, expected)


def test_fan_out_amplifies_the_tail():
    """One slow leaf in a hundred becomes a slow request in two out of three at N = 100."""
    leaf_p99 = -0.01 * math.log(0.01)
    assert pytest.approx(0.634, abs=0.001) == 1 - 0.99**100
    result = simulator.run(_fan_out(100, "all") | {"horizon": "600s"})
    latency = (result.requests.end - result.requests.arrival).to_numpy()
    assert (latency > leaf_p99).mean() == pytest.approx(1 - 0.99**100, abs=0.03)


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_retry_amplification(retries):
    """With timeout τ on an Exp(m) answer, an attempt fails with q = e^(−τ/m); a request makes
    (1 − q^(r+1)) / (1 − q) attempts on average and succeeds with 1 − q^(r+1)."""
    scenario = {
        "horizon": "8000s",
        "warmup": "10s",
        "network": NO_NETWORK,
        "services": {"leaf": {"concurrency": 256, "service_time": exponential("100ms")}},
        "traffic": {"leaf": {"rate": 10, "timeout": "150ms", "retries": retries,
                             "backoff": "0s", "jitter": False}},
    }  # fmt: skip
    result = simulator.run(scenario)
    q = math.exp(-1.5)
    attempts = result.requests.attempts.to_numpy(dtype=float)
    expected = (1 - q ** (retries + 1)) / (1 - q)
    # Attempts per request are i.i.d. (truncated geometric): a normal CI at 4 SE.
    assert abs(attempts.mean() - expected) <= 4 * attempts.std() / math.sqrt(len(attempts)) + 1e-9
    ok = (result.requests.status == "ok").mean()
    success = 1 - q ** (retries + 1)
    assert abs(ok - success) <= 4 * math.sqrt(success * (1 - success) / len(attempts))
    # The server did every attempt's work, wanted or not: its visits are the attempts.
    assert result.tables["services"].loc["leaf", "visits"] == pytest.approx(
        attempts.sum(), rel=0.001
    )


def test_the_retry_storm_scenario_stays_overloaded_only_with_retries():
    """The shipped retry storm: with retries the overload outlives the slowdown; without, the
    queue drains. Compared on the last five minutes, long after the slowdown ended."""
    path = "scenarios/what-if/retry-storm.yaml"
    late = {}
    for retries in (3, 0):
        result = simulator.run(path, overrides={"traffic.api.retries": retries})
        requests = result.requests
        tail = requests[requests.arrival > 15 * 60]
        late[retries] = float((tail.status == "ok").mean())
    assert late[3] < 0.2
    assert late[0] > 0.99


def test_monolith_and_microservices_do_the_same_work():
    """Same handlers, same hardware: utilisation matches; microservices pay network hops."""
    scenario = {
        "horizon": "3000s",
        "services": {
            "front": {"replicas": 2, "service_time": exponential("20ms"),
                      "handler": [{"work": None}, {"call": "back", "count": 2}]},
            "back": {"replicas": 2, "service_time": exponential("10ms")},
        },
        "traffic": {"front": {"rate": 40}},
        "network": {"latency": {"distribution": "constant", "mean": "1ms"}},
    }  # fmt: skip
    micro = simulator.run(scenario)
    mono = simulator.run(simulator.load_scenario(scenario, {"deployment": "monolith"}))
    busy_micro = micro.summary["utilisation"] * 4
    busy_mono = mono.summary["utilisation"] * 4
    assert busy_mono == pytest.approx(busy_micro, rel=0.03)  # 40/s × 40 ms = 1.6 workers
    assert busy_mono == pytest.approx(1.6, rel=0.03)
    # Each request crosses the network four times in microservices (2 calls × 2 ways).
    spans = micro.tables["spans"]
    back = spans[spans.service == "back"]
    assert np.all(back.arrival.to_numpy() > 0)
    assert mono.tables["services"].index.tolist() == ["monolith"]
