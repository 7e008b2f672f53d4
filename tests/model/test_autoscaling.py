"""Elasticity and cost: the HPA's rules as pure functions, and autoscaling in a run.

The HPA's decisions follow Kubernetes' controller (pkg/controller/podautoscaler/
horizontal.go and replica_calculator.go); the worked cases below cite the documentation page
"Horizontal Pod Autoscaling" (kubernetes.io/docs/tasks/run-application/
horizontal-pod-autoscale/) or the issue that asked for them (issue 15).
"""

import math
from collections import deque

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.metrics.scaling import SCALING_COLUMNS
from simulator.model.autoscaling import (
    hpa_decision,
    hpa_recommendation,
    replicas_changed,
    scale_limit,
    stabilised,
)
from simulator.records.scaling import REASONS
from simulator.scenario.autoscaling import (
    Behavior,
    ScaleDownRules,
    ScaleUpRules,
    ScalingPolicy,
)
from tests.helpers import SCENARIOS

DEFAULT = Behavior()


@given(st.integers(1, 500), st.floats(0, 1), st.floats(0.05, 1), st.floats(0, 0.5))
def test_hpa_follows_the_kubernetes_rule_when_every_pod_is_ready(
    current, utilisation, target, tolerance
):
    desired = hpa_recommendation(current, 0, current * utilisation, target, tolerance)
    if abs(utilisation / target - 1) <= tolerance:
        assert desired == current
    else:
        wanted = current * utilisation / target
        assert wanted - 1e-6 <= desired < wanted + 1  # ⌈current × ratio⌉


@given(
    st.integers(1, 200), st.integers(1, 200), st.floats(0, 1), st.floats(0.05, 1),
    st.floats(0, 0.5),
)  # fmt: skip
def test_pods_not_ready_are_idle_on_the_way_up_and_left_out_on_the_way_down(
    ready, unready, utilisation, target, tolerance
):
    busy = ready * utilisation
    current = ready + unready
    desired = hpa_recommendation(ready, unready, busy, target, tolerance)
    needed = math.ceil(busy / target - 1e-9)  # pods the measured work needs at the target
    ratio = utilisation / target
    if abs(ratio - 1) <= tolerance:
        assert desired == current
    elif ratio > 1:  # up: the pods on their way count as idle, never asked for twice
        assert desired in (current, needed)
        assert desired >= current
    else:  # down: only the ready pods count (replica_calculator.go, GetResourceReplicas)
        assert desired == needed
        assert desired <= ready


def test_the_issues_scale_down_with_pods_starting():
    # Issue 15: 4 ready pods at 20% against a 60% target, 2 starting. Kubernetes leaves the
    # starting pods out: ⌈4 × 0.2 / 0.6⌉ = 2 (the project asked for 4 before).
    assert hpa_recommendation(4, 2, 4 * 0.2, 0.6, 0.1) == 2
    # and with no stabilisation window the HPA goes there
    quick = Behavior(scale_down=ScaleDownRules(stabilization_window_seconds=0))
    assert hpa_decision(6, 2, 1, 10, 15.0, quick, [], []) == 2


def test_a_replica_on_its_way_covers_the_load_it_was_asked_for():
    # 4 ready pods fully busy at target 0.5 want 8; with 4 more starting, nothing more.
    assert hpa_recommendation(4, 0, 4.0, 0.5, 0.1) == 8
    assert hpa_recommendation(4, 4, 4.0, 0.5, 0.1) == 8
    assert hpa_recommendation(4, 2, 4.0, 0.5, 0.1) == 8
    # counted as idle the starting pods flip the direction: no change
    assert hpa_recommendation(4, 6, 4.0, 0.5, 0.1) == 10
    # no ready pod, no metrics: nothing changes
    assert hpa_recommendation(0, 3, 0.0, 0.5, 0.1) == 3


def test_the_documentations_algorithm_examples():
    # "Algorithm details": 200m against a 100m target doubles the replicas, 50m halves them;
    # within the 0.1 tolerance nothing changes.
    assert hpa_recommendation(3, 0, 3 * 2.0 * 0.5, 0.5, 0.1) == 6
    assert hpa_recommendation(4, 0, 4 * 0.5 * 0.5, 0.5, 0.1) == 2
    assert hpa_recommendation(10, 0, 10 * 1.09 * 0.5, 0.5, 0.1) == 10
    assert hpa_recommendation(10, 0, 10 * 1.11 * 0.5, 0.5, 0.1) == 12


def test_the_default_behavior_is_kubernetes_autoscaling_v2():
    # "Default Behavior": scale up by the larger of 4 pods and 100% per 15 s, at once; scale
    # down by up to 100% per 15 s after a 300 s stabilisation window.
    up, down = DEFAULT.scale_up, DEFAULT.scale_down
    assert up.stabilization_window_seconds == 0 and up.select_policy == "Max"
    assert {(p.type, p.value, p.period_seconds) for p in up.policies} == {
        ("Pods", 4, 15),
        ("Percent", 100, 15),
    }
    assert down.stabilization_window_seconds == 300 and down.select_policy == "Max"
    assert [(p.type, p.value, p.period_seconds) for p in down.policies] == [("Percent", 100, 15)]
    assert scale_limit(2, [], 0.0, up) == 6  # 2 + 4 pods beats 2 × 2
    assert scale_limit(10, [], 0.0, up) == 20  # 100% beats 4 pods
    assert scale_limit(10, [], 0.0, down) == 0


def test_policies_count_from_the_replicas_at_the_start_of_their_sliding_period():
    # horizontal.go, calculateScaleUpLimitWithScalingRules: periodStartReplicas = current −
    # added + removed within periodSeconds (events strictly after now − period).
    per_minute = ScaleUpRules(
        policies=(ScalingPolicy(type="Percent", value=100, period_seconds=60),)
    )
    events = [(0.0, 5, 0), (15.0, 10, 0)]  # 5 → 10 → 20
    assert replicas_changed(events, 30.0, 60.0) == (15, 0)
    assert scale_limit(20, events, 30.0, per_minute) == 10  # 100% of the 5 at the start
    assert scale_limit(20, events, 60.0, per_minute) == 20  # the event at 0 s has left
    assert scale_limit(20, events, 75.0, per_minute) == 40  # both have: 100% of 20
    # The HPA then holds: no scale-up beyond the limit, and never below the current count.
    assert hpa_decision(20, 40, 1, 100, 30.0, Behavior(scale_up=per_minute), [], events) == 20
    # A scale-down inside the period raises the start: 10 → 6 (−4) then up again
    mixed = [(0.0, 0, 4)]
    assert scale_limit(6, mixed, 10.0, per_minute) == 20
    assert scale_limit(6, mixed, 10.0, DEFAULT.scale_up) == 20  # 2 × 10 beats 10 + 4 pods


def test_the_documentations_scale_down_policies():
    # "Scaling Policies": 4 pods or 10% per minute, the larger change by default: the Percent
    # policy only matters above 40 replicas.
    rules = ScaleDownRules(policies=(
        ScalingPolicy(type="Pods", value=4, period_seconds=60),
        ScalingPolicy(type="Percent", value=10, period_seconds=60),
    ))  # fmt: skip
    assert scale_limit(80, [], 0.0, rules) == 72
    assert scale_limit(40, [], 0.0, rules) == 36
    assert scale_limit(30, [], 0.0, rules) == 26
    # selectPolicy: Min picks the smaller change (at 80: 4 pods rather than 8)
    assert scale_limit(80, [], 0.0, rules.model_copy(update={"select_policy": "Min"})) == 76
    # "Example: limit scale down rate": 10% per minute, with at most 5 pods removed per
    # minute (a Pods policy and selectPolicy Min)
    limited = ScaleDownRules(
        select_policy="Min",
        policies=(
            ScalingPolicy(type="Percent", value=10, period_seconds=60),
            ScalingPolicy(type="Pods", value=5, period_seconds=60),
        ),
    )
    assert scale_limit(100, [], 0.0, limited) == 95
    assert scale_limit(30, [], 0.0, limited) == 27  # 10% of 30 is fewer than 5 pods
    # "Example: disable scale down"
    disabled = Behavior(scale_down=ScaleDownRules(select_policy="Disabled"))
    assert hpa_decision(10, 1, 1, 10, 1e6, disabled, [], []) == 10
    assert hpa_decision(10, 12, 1, 20, 1e6, disabled, [], []) == 12


def test_stabilisation_takes_the_highest_wish_down_and_the_lowest_up():
    history = [(0.0, 9), (100.0, 3), (200.0, 2)]
    assert stabilised(10, 1, history, 250.0, DEFAULT) == 9
    assert stabilised(10, 1, history, 350.0, DEFAULT) == 3
    assert stabilised(10, 1, history, 350.0 + 300.0, DEFAULT) == 1
    slow_up = Behavior(scale_up=ScaleUpRules(stabilization_window_seconds=60))
    assert stabilised(2, 8, [(200.0, 4)], 230.0, slow_up) == 4  # lowest wish of the minute
    assert stabilised(2, 8, [(200.0, 4)], 230.0, DEFAULT) == 8  # default: no window up


def kubernetes_walk(replicas: int, syncs: int, behavior: Behavior = DEFAULT) -> list[int]:
    """Replicas after each 15 s sync while every pod is saturated (100% busy against a 60%
    target), pods ready at once: the decision functions alone, no simulation."""
    recommendations: deque = deque()
    events: deque = deque()
    walk = [replicas]
    for sync in range(1, syncs + 1):
        now = 15.0 * sync
        desired = hpa_recommendation(replicas, 0, float(replicas), 0.6, 0.1)
        new = int(hpa_decision(replicas, desired, 2, 100, now, behavior, recommendations, events))
        recommendations.append((now, desired))
        if new != replicas:
            events.append((now, max(new - replicas, 0), max(replicas - new, 0)))
        replicas = new
        walk.append(replicas)
    return walk


def test_the_issues_step_scales_up_as_kubernetes_defaults_do():
    # Issue 15: from 2 replicas, saturated, the defaults reach 57 replicas in 6 syncs (90 s);
    # each sync asks ⌈n / 0.6⌉, within the 4-pods-or-100%-per-15-s limit.
    assert kubernetes_walk(2, 6) == [2, 4, 7, 12, 20, 34, 57]
    # the same policies over the project's former 60 s period are far slower
    old = Behavior(scale_up=ScaleUpRules(policies=(
        ScalingPolicy(type="Pods", value=4, period_seconds=60),
        ScalingPolicy(type="Percent", value=100, period_seconds=60),
    )))  # fmt: skip
    assert kubernetes_walk(2, 6, old) == [2, 4, 6, 6, 6, 8, 12]


STEP = {
    "horizon": "420s",
    "warmup": "0s",
    "services": {"api": {"replicas": 2, "concurrency": 1, "max_replicas": 100,
                         "service_time": {"distribution": "exponential", "mean": "100ms"}}},
    "traffic": {"api": {"rate": "10/s", "timeout": "1h",
                        "profile": {"profile": "step", "at": "300s", "factor": 20}}},
    "autoscaling": {"enabled": True, "target_utilisation": 0.6, "replica_start": "0s"},
}  # fmt: skip
"""Issue 15's step: 10/s to 200/s of 100 ms requests (20 busy workers) from 2 replicas."""


@pytest.mark.parametrize("fidelity", ["request", "analytic"])
def test_both_fidelities_follow_the_kubernetes_walk_on_the_issues_step(fidelity):
    scaling = simulator.run(STEP, overrides={"fidelity": fidelity}).tables["scaling"]
    scaling = scaling[scaling["kind"] == "replicas"]
    # While every replica is saturated the decisions are the walk's, at the same syncs.
    assert list(scaling["time"][:4]) == [315.0, 330.0, 345.0, 360.0]
    assert list(scaling["to"][:4]) == [4, 7, 12, 20]
    # At 375 s the backlog is still draining: ⌈20 × u / 0.6⌉ for u near 1 (33 or 34; the
    # request level's per-replica queues leave the newest replicas a little idle).
    assert scaling["to"].iloc[4] in (33, 34)


def step_scenario(enabled: bool) -> dict:
    return {
        "horizon": "3600s",
        "warmup": "60s",
        "services": {"api": {"replicas": 2, "concurrency": 2, "max_replicas": 12,
                             "service_time": {"distribution": "exponential", "mean": "100ms"}}},
        "traffic": {"api": {"rate": "20/s", "timeout": "10s",
                            "profile": {"profile": "step", "at": "1200s", "factor": 4,
                                        "until": "2400s"}}},
        "cluster": {"node_types": {"small": {"count": 1, "cpu": 2, "memory_gb": 8,
                                             "price_per_hour": "$0.10/h", "boot_time": "60s",
                                             "runtime": "container"}}},
        "workloads": {"microservices": {"cpu": 1, "memory_gb": 1}},
        "autoscaling": {"enabled": enabled, "target_utilisation": 0.6,
                        "nodes": {"scale_down_delay": "120s"}},
    }  # fmt: skip


def test_replicas_and_nodes_follow_a_step_in_traffic_and_cost_follows_them():
    result = simulator.run(step_scenario(enabled=True))
    timeseries = result.tables["timeseries"]
    before = timeseries[timeseries.time < 1100].replicas
    during = timeseries[(timeseries.time > 1800) & (timeseries.time < 2400)].replicas
    after = timeseries[timeseries.time > 3300].replicas
    # 80/s × 0.1 s = 8 busy workers at 60% target: at least 14 workers, 7 replicas.
    assert before.max() <= 2 < during.min()
    assert during.max() >= 7
    assert after.max() < during.max()
    # Workers never serve more than they have, through every scale-up and scale-down.
    assert (timeseries.utilisation <= 1 + 1e-9).all()
    costs = result.tables["costs"]
    assert costs.nodes.max() >= 4 and costs.nodes.iloc[0] == 1
    node_hours = result.summary["nodes_mean"] * (3600 - 60) / 3600
    assert result.summary["cost_usd"] == pytest.approx(node_hours * 0.10)
    # The step overloads the service until new capacity boots (15 s sync, 60 s node boot);
    # once it has, requests succeed again.
    requests = result.requests
    settled = requests[(requests.arrival > 1800) & (requests.arrival < 2400)]
    assert (settled.status == "ok").mean() > 0.99


def test_fixed_capacity_costs_nodes_times_hours_and_fails_under_the_step():
    result = simulator.run(step_scenario(enabled=False))
    assert result.summary["cost_usd"] == pytest.approx(1 * 0.10 * (3600 - 60) / 3600)
    assert result.summary["nodes_mean"] == 1
    assert (result.tables["timeseries"].replicas == 2).all()
    assert result.summary["availability"] < 0.9  # 80/s against 40/s of capacity


def test_cost_is_not_a_number_without_priced_nodes():
    result = simulator.run(
        {"horizon": "100s", "services": {"a": {}}, "traffic": {"a": {"rate": 1}}}
    )
    assert np.isnan(result.summary["cost_usd"])


def test_the_spike_scenario_trades_cost_for_availability():
    path = "scenarios/what-if/hacker-news-spike.yaml"
    small = {"horizon": "3h", "traffic.blog.profile.hold": "30min"}
    elastic = simulator.run(path, overrides=small).summary
    fixed = simulator.run(path, overrides={**small, "autoscaling.enabled": False}).summary
    assert elastic["availability"] > 0.99 > 0.8 > fixed["availability"]
    assert elastic["cost_usd"] > fixed["cost_usd"]


# ------------------------------------------------------------------ the scaling table

SPIKE = SCENARIOS / "what-if" / "hacker-news-spike.yaml"
TINY_SPIKE = {
    "horizon": "1500s",
    "warmup": "100s",
    "traffic.blog.profile.start": "200s",
    "traffic.blog.profile.ramp_up": "100s",
    "traffic.blog.profile.hold": "500s",
    "traffic.blog.profile.decay": "100s",
    "cluster.node_types.m5.large.boot_time": "30s",
    "autoscaling.behavior.scale_down.stabilization_window_seconds": "60s",
    "autoscaling.nodes.scale_down_delay": "60s",
}
"""A whole spike in 25 simulated minutes: replicas and nodes go up and back down."""
WHY = {
    ("replicas", True): "utilisation",
    ("replicas", False): "stabilised",
    ("nodes", True): "pending_pods",
    ("nodes", False): "idle_node",
}
"""The reason code of each kind of decision, by direction (up or not)."""


@pytest.fixture(scope="module")
def spike() -> simulator.Result:
    return simulator.run(SPIKE, overrides=TINY_SPIKE)


def decisions(result: simulator.Result) -> pd.DataFrame:
    """The autoscalers' scale-ups and scale-downs in the (prose) event log."""
    events = result.tables["events"]
    mine = events["component"].astype(str).str.startswith("autoscaler/") & events["kind"].isin(
        ["scale_up", "scale_down"]
    )
    return events[mine]


def assert_a_numeric_scaling_table(result: simulator.Result) -> None:
    """One row per decision of the event log, integer counts that chain per target, and the
    reason that goes with the kind and direction of each decision."""
    scaling = result.tables["scaling"]
    assert tuple(scaling.columns) == SCALING_COLUMNS
    assert scaling["from"].dtype.kind == "i" and scaling["to"].dtype.kind == "i"
    logged = decisions(result)
    assert len(scaling) == len(logged) > 0
    assert np.array_equal(scaling["time"].to_numpy(), np.sort(logged["time"].to_numpy()))
    assert set(scaling["reason"]) <= set(REASONS)
    up = scaling["to"] > scaling["from"]
    assert (scaling["to"] != scaling["from"]).all()
    expected = [WHY[kind, bool(u)] for kind, u in zip(scaling["kind"], up, strict=True)]
    assert list(scaling["reason"]) == expected
    assert {("replicas", True), ("replicas", False), ("nodes", True), ("nodes", False)} <= set(
        zip(scaling["kind"], up, strict=True)
    )
    replicas = scaling[scaling["kind"] == "replicas"]
    assert set(replicas["target"]) == {"blog"}
    assert replicas["from"].iloc[0] == result.scenario.services["blog"].replicas
    assert set(scaling.loc[scaling["kind"] == "nodes", "target"]) == {"m5.large"}
    for _, rows in scaling.groupby(["kind", "target"]):
        assert (rows["from"].to_numpy()[1:] == rows["to"].to_numpy()[:-1]).all()


def test_the_scaling_table_has_one_numeric_row_per_decision(spike: simulator.Result) -> None:
    assert_a_numeric_scaling_table(spike)


def test_the_scaling_table_agrees_with_the_sampled_replicas(spike: simulator.Result) -> None:
    """Replicas serve at most what was asked for, and exactly that once the slowest path
    from a decision to serving (a node scan, a node boot, a replica start) is over."""
    scenario = spike.scenario
    asked = spike.tables["scaling"]
    asked = asked[(asked["kind"] == "replicas") & (asked["target"] == "blog")]
    when = asked["time"].to_numpy()
    levels = np.concatenate([asked["from"].to_numpy()[:1], asked["to"].to_numpy()])
    series = spike.tables["timeseries"]
    series = series[series["service"].astype(str) == "blog"]
    time, serving = series["time"].to_numpy(), series["replicas"].to_numpy()
    after = levels[np.searchsorted(when, time, side="right")]
    before = levels[np.searchsorted(when, time, side="left")]  # a decision at a sample's instant
    assert (serving <= np.maximum(after, before)).all()
    node_type = scenario.cluster.node_type_list()[0][1]
    start = scenario.cluster.runtimes[node_type.runtime].start_time
    lag = scenario.autoscaling.nodes.scan_interval + node_type.boot_time + start
    last = np.concatenate([[-np.inf], when])[np.searchsorted(when, time, side="right")]
    settled = time > last + lag + 1e-6
    assert settled.sum() > len(time) / 2
    assert np.array_equal(serving[settled], after[settled])
    assert (serving[~settled] != after[~settled]).any()  # the lag shows


def test_the_analytic_fidelity_gives_the_same_scaling_table() -> None:
    fast = simulator.run(SPIKE, overrides={**TINY_SPIKE, "fidelity": "analytic"})
    assert_a_numeric_scaling_table(fast)


def test_the_scaling_table_is_there_when_nothing_scales() -> None:
    for fidelity in ("request", "analytic"):
        overrides = {**TINY_SPIKE, "autoscaling.enabled": False, "fidelity": fidelity}
        scaling = simulator.run(SPIKE, overrides=overrides).tables["scaling"]
        assert scaling.empty and tuple(scaling.columns) == SCALING_COLUMNS


def test_a_real_hpas_behavior_can_be_written_and_bad_policies_are_refused(tmp_path):
    # "Example: change downscale stabilization window" and a custom scale-up, in our keys
    behavior = {
        "scale_up": {"stabilization_window_seconds": 60, "select_policy": "Min",
                     "policies": [{"type": "Pods", "value": 2, "period_seconds": 30}]},
        "scale_down": {"stabilization_window_seconds": 60},
    }  # fmt: skip
    scenario = simulator.load_scenario(
        {**STEP, "autoscaling": {"enabled": True, "behavior": behavior}}
    )
    rules = scenario.autoscaling.behavior
    assert rules.scale_up.policies[0].period_seconds == 30
    assert rules.scale_down.policies == DEFAULT.scale_down.policies
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "services: {a: {}}\ntraffic: {a: {rate: 1}}\n"
        "autoscaling: {behavior: {scale_up: {policies: [{type: Replicas, value: 2}]}}}\n"
    )
    with pytest.raises(simulator.ScenarioError) as error:
        simulator.load_scenario(bad)
    message = str(error.value)
    assert "\n" not in message and "bad.yaml" in message and "type" in message


def _decision_in_full(current, desired, minimum, maximum, now, behavior, recommendations, events):
    """`hpa_decision` without its shortcut for syncs that change nothing: every line of
    Kubernetes' `normalizeDesiredReplicasWithBehaviors`, always."""
    current = np.asarray(current, dtype=np.int64)
    stable = stabilised(current, desired, recommendations, now, behavior)
    up = np.maximum(scale_limit(current, events, now, behavior.scale_up), current)
    down = np.minimum(scale_limit(current, events, now, behavior.scale_down), current)
    upper, lower = np.minimum(maximum, up), np.maximum(minimum, down)
    new = np.where(
        stable > current,
        np.minimum(stable, upper),
        np.where(stable < current, np.maximum(stable, lower), current),
    )
    return np.where(current > maximum, maximum, np.where(current < minimum, minimum, new))


@given(st.data(), st.integers(1, 6))
def test_a_sync_that_changes_nothing_is_decided_as_in_full(data, services):
    """The shortcut (no change, or held at a bound) gives what the whole rule gives, for
    services at, inside and outside their bounds, with windows and rate limits at work."""
    counts = st.lists(st.integers(0, 30), min_size=services, max_size=services)
    current, desired = np.array(data.draw(counts)), np.array(data.draw(counts))
    minimum = np.array(data.draw(st.lists(st.integers(1, 6), min_size=services, max_size=services)))
    maximum = minimum + np.array(data.draw(counts))
    now = 1000.0
    times = st.floats(now - 700, now)
    recommendations = [(t, np.array(data.draw(counts))) for t in data.draw(st.lists(times))]
    events = [
        (t, np.array(data.draw(counts)), np.array(data.draw(counts)))
        for t in data.draw(st.lists(times, max_size=3))
    ]
    behavior = data.draw(st.sampled_from([DEFAULT, Behavior(scale_up=ScaleUpRules(
        stabilization_window_seconds=120, policies=(ScalingPolicy(type="Pods", value=1,
        period_seconds=60),)))]))  # fmt: skip
    args = (current, desired, minimum, maximum, now, behavior, recommendations, events)
    assert np.array_equal(hpa_decision(*args), _decision_in_full(*args))
