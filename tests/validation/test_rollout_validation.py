"""Rollouts against what they must give by construction, on the simulated requests.

- During a rolling update the share of requests served by new-version replicas follows the
  share of new replicas, step by step; and the error ratio of the requests is the defect's
  error ratio × that share.
- A canary fails e × (its share of the traffic) of the users' requests, through a caller.
- Capacity during a rolling update never drops below replicas − max_unavailable, and the
  replicas never exceed replicas + max_surge.
- A canary of k of n replicas gets k/n of the traffic under round-robin.

The statistical checks use a load balancer that draws a replica uniformly at random (or a
weighted split that draws a side), so each request's replica, and whether a bad replica
fails it, is an independent draw: the count of requests served by new replicas in a step
is binomial with the replica share as its probability, exactly. Pooled over independent
replications (seeds), each step's count is compared with that binomial: the sum of the
steps' squared z-scores is χ² with one degree of freedom per step, and the test fails when
its p-value is below 0.001 (a correct engine fails with probability 0.1% at a given seed).
Each step also gets an absolute tolerance, so that a pooled count too small to mean
anything cannot pass silently.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import simulator
from simulator.metrics.rollout import served_versions
from simulator.scenario.rollout import resolve_count

pytestmark = pytest.mark.xdist_group("rollout-validation")

REPLICAS = 8
RATE = 100.0

BASE = {
    "name": "rollout-validation",
    "horizon": "25min",
    "services": {
        "api": {
            "replicas": REPLICAS,
            "concurrency": 2,
            "load_balancer": "random",
            "service_time": {"distribution": "exponential", "mean": "50ms"},
        }
    },
    "traffic": {"api": {"rate": RATE}},
}


def run(deploys: list[dict], seed: int, **changes) -> simulator.Result:
    data = copy.deepcopy(BASE)
    data["services"]["api"]["deploys"] = deploys
    for key, value in changes.items():
        data["services"]["api"][key] = value
    return simulator.run(simulator.load_scenario(data), seed=seed)


def segments(rollouts: pd.DataFrame) -> pd.DataFrame:
    """Intervals of constant serving replicas: start, end, old and new serving (the state
    after the last step at each time)."""
    last = rollouts.groupby("time", sort=True).tail(1)
    times = last["time"].to_numpy()
    return pd.DataFrame(
        {
            "start": times[:-1],
            "end": times[1:],
            "old": last["old_serving"].to_numpy()[:-1],
            "new": last["new_serving"].to_numpy()[:-1],
        }
    )


def binomial_agreement(counts: np.ndarray, totals: np.ndarray, p: np.ndarray, what: str):
    """χ² over independent binomial counts (one per step); fails below p-value 0.001."""
    z = (counts - totals * p) / np.sqrt(totals * p * (1 - p))
    p_value = float(stats.chi2.sf(float((z**2).sum()), len(z)))
    observed = counts / totals
    assert p_value > 0.001, (
        f"{what}: observed {np.round(observed, 4)} against {np.round(p, 4)} "
        f"(χ² p-value {p_value:.2g})"
    )
    # a 99.9% normal band per step, so that the test has power (here ±0.01 or narrower)
    band = 3.3 * np.sqrt(p * (1 - p) / totals)
    assert (band < 0.01).all(), f"{what}: too few requests per step to mean anything"


SLOW_ROLLING = {
    "at": "2min",
    "version": 1,
    "strategy": "rolling",
    "rolling": {"max_surge": 0, "max_unavailable": 1, "min_ready": "2min"},
    "defect": {"error_ratio": 0.2},
}
SEEDS = range(101, 107)


@pytest.fixture(scope="module")
def rolling_runs() -> list[simulator.Result]:
    return [run([SLOW_ROLLING], seed) for seed in SEEDS]


def per_step(results: list[simulator.Result]) -> pd.DataFrame:
    """For each step of constant serving replicas lasting at least a minute, pooled over
    the replications: requests, those served by a new replica, and those failed by it."""
    rows = []
    for result in results:
        requests = result.tables["requests"]
        arrival = requests["arrival"].to_numpy()
        version = served_versions(
            requests["replica"].to_numpy(), "api", result.tables["replica_versions"]
        )
        defect = (requests["status"] == "defect").to_numpy()
        for step, segment in enumerate(segments(result.tables["rollouts"]).itertuples()):
            if segment.end - segment.start < 60:
                continue
            inside = (arrival >= segment.start) & (arrival < segment.end)
            rows.append(
                {
                    "step": step,
                    "share": segment.new / (segment.old + segment.new),
                    "requests": int(inside.sum()),
                    "new": int((version[inside] == 1).sum()),
                    "defect": int(defect[inside].sum()),
                }
            )
    return pd.DataFrame(rows).groupby(["step", "share"], as_index=False).sum()


def test_the_share_served_by_new_replicas_follows_the_rollout_step_by_step(rolling_runs):
    steps = per_step(rolling_runs)
    # 8 steps of 120 s (min_ready) with 1..8 of the 8 replicas new (max_surge 0,
    # max_unavailable 1: one old replica goes, a new one starts, serves, and counts as
    # available two minutes later)
    assert steps["share"].tolist() == [k / REPLICAS for k in range(1, REPLICAS + 1)]
    mixed = steps[steps["share"] < 1]
    binomial_agreement(
        mixed["new"].to_numpy(),
        mixed["requests"].to_numpy(),
        mixed["share"].to_numpy(),
        "share of requests served by new replicas",
    )
    last = steps[steps["share"] == 1]
    assert (last["new"] == last["requests"]).all()


def test_the_error_ratio_is_the_defect_times_the_share_of_bad_replicas(rolling_runs):
    steps = per_step(rolling_runs)
    binomial_agreement(
        steps["defect"].to_numpy(),
        steps["requests"].to_numpy(),
        0.2 * steps["share"].to_numpy(),
        "error ratio of requests during the rollout",
    )


@pytest.mark.parametrize(
    ("canary", "error_ratio", "share"),
    [
        ({"replicas": 2}, 0.3, 2 / REPLICAS),  # a slice of replicas, random load balancer
        ({"share": 0.1}, 0.5, 0.1),  # a weighted split of the traffic
    ],
)
def test_a_canary_fails_its_share_of_the_users_requests_through_a_caller(
    canary, error_ratio, share
):
    """Users call `web`, which calls `api`; the canary is `api`'s, and `web` passes the
    failure on, so the users' error ratio is error_ratio × the canary's traffic share."""
    counts, totals = [], []
    for seed in range(201, 205):
        data = copy.deepcopy(BASE)
        data["services"]["web"] = {"replicas": 4, "concurrency": 4,
                                   "handler": [{"work": None}, {"call": "api"}]}  # fmt: skip
        data["traffic"] = {"web": {"rate": RATE}}
        data["services"]["api"]["deploys"] = [
            {"at": "2min", "version": 1, "strategy": "canary",
             "defect": {"error_ratio": error_ratio},
             "canary": {**canary, "analysis": "20min", "verdict": "rollback"}}
        ]  # fmt: skip
        result = simulator.run(simulator.load_scenario(data), seed=seed)
        steps = result.tables["rollouts"].set_index("step")["time"]
        start, end = float(steps["canary"]), float(steps["failed"])
        requests = result.tables["requests"]
        inside = (requests["arrival"] >= start + 1) & (requests["arrival"] < end - 1)
        counts.append(int((requests["status"][inside] == "defect").sum()))
        totals.append(int(inside.sum()))
    binomial_agreement(
        np.array([sum(counts)]),
        np.array([sum(totals)]),
        np.array([error_ratio * share]),
        "users' error ratio during the canary",
    )


@pytest.mark.parametrize(
    ("replicas", "max_surge", "max_unavailable"),
    [(4, "25%", "25%"), (8, 0, 2), (8, 2, 0), (10, "30%", "10%"), (5, 1, "100%")],
)
def test_capacity_stays_within_the_surge_settings(replicas, max_surge, max_unavailable):
    deploy = {"at": "1min", "version": 1, "rolling": {"max_surge": max_surge,
              "max_unavailable": max_unavailable, "min_ready": "20s"}}  # fmt: skip
    back = {**deploy, "at": "3min", "version": 2, "rollback_after": "25s"}
    result = run([deploy, back], seed=7, replicas=replicas)
    surge = resolve_count(max_surge, replicas, round_up=True)
    unavailable = resolve_count(max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    table = result.tables["rollouts"]
    serving = table["old_serving"] + table["new_serving"]
    assert serving.min() == replicas - unavailable  # the dip is what the settings allow
    assert (serving + table["starting"]).max() <= replicas + surge
    sampled = result.tables["timeseries"]["replicas"]
    assert sampled.min() >= replicas - unavailable
    assert set(table[table["step"].isin(["done", "interrupted"])]["step"]) == {
        "done",
        "interrupted",
    }  # the second rollout was cut short by its rollback, which then finished


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_canary_of_k_of_n_replicas_gets_k_over_n_under_round_robin(k):
    canary = {"at": "1min", "version": 1, "strategy": "canary",
              "canary": {"replicas": k, "analysis": "10min", "verdict": "promote"}}  # fmt: skip
    result = run([canary], seed=11, load_balancer="round-robin")
    steps = result.tables["rollouts"].set_index("step")["time"]
    start, end = float(steps["canary"]), float(steps["promoted"])
    requests = result.tables["requests"]
    inside = ((requests["arrival"] >= start) & (requests["arrival"] < end)).to_numpy()
    version = served_versions(
        requests["replica"].to_numpy(), "api", result.tables["replica_versions"]
    )[inside]
    total = int(inside.sum())
    # Round-robin serves the n replicas in turn: any n consecutive requests hit each once,
    # so the canary's count is within k of k/n of the total.
    assert abs((version == 1).sum() - total * k / REPLICAS) <= k
    assert total > 50_000
