"""`hpa_settled`: when it holds, `hpa_decision` keeps the current replicas (the same array)
whatever its windows and rate limits hold, so `ElasticFleet._sync` may skip the decision.
Hypothesis over fleets, bounds, behaviours and histories of recommendations and scale
events."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.model.autoscaling import hpa_decision, hpa_settled
from simulator.scenario.autoscaling import Behavior, ScaleDownRules, ScaleUpRules, ScalingPolicy

NOW = 1_000.0

policies = st.lists(
    st.builds(
        ScalingPolicy,
        type=st.sampled_from(["Pods", "Percent"]),
        value=st.integers(1, 200),
        period_seconds=st.sampled_from([15.0, 60.0, 600.0]),
    ),
    min_size=1,
    max_size=2,
).map(tuple)
selects = st.sampled_from(["Max", "Min", "Disabled"])
windows = st.sampled_from([0.0, 60.0, 300.0])
behaviors = st.builds(
    Behavior,
    scale_up=st.builds(
        ScaleUpRules,
        stabilization_window_seconds=windows,
        select_policy=selects,
        policies=policies,
    ),
    scale_down=st.builds(
        ScaleDownRules,
        stabilization_window_seconds=windows,
        select_policy=selects,
        policies=policies,
    ),
)


@st.composite
def fleets(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 8))
    counts = st.lists(st.integers(0, 12), min_size=n, max_size=n)
    low, span, current, desired = (np.array(draw(counts), dtype=np.int64) for _ in range(4))
    minimum = np.maximum(low // 3, 1)
    maximum = minimum + span
    # mostly at a bound, or recommended the current count: where `hpa_settled` holds
    current = np.where(np.array(draw(counts)) % 3 == 0, minimum, np.minimum(current, maximum))
    desired = np.where(np.array(draw(counts)) % 2 == 0, current, desired)
    ages = st.sampled_from([1.0, 10.0, 50.0, 200.0, 500.0])
    recommendations = [
        (NOW - age, np.array(draw(counts), dtype=np.int64))
        for age in sorted(draw(st.lists(ages, max_size=4)), reverse=True)
    ]
    events = [
        (NOW - age, np.array(draw(counts), dtype=np.int64), np.array(draw(counts), dtype=np.int64))
        for age in sorted(draw(st.lists(ages, max_size=3)), reverse=True)
    ]
    return {
        "current": current,
        "desired": desired,
        "minimum": minimum,
        "maximum": maximum,
        "recommendations": recommendations,
        "events": events,
    }


@settings(max_examples=400, deadline=None)
@given(fleet=fleets(), behavior=behaviors)
def test_a_settled_hpa_keeps_the_current_replicas(fleet: dict, behavior: Behavior) -> None:
    current = fleet["current"]
    settled = hpa_settled(current, fleet["desired"], fleet["minimum"], fleet["maximum"])
    new = hpa_decision(
        current, fleet["desired"], fleet["minimum"], fleet["maximum"], NOW, behavior,
        fleet["recommendations"], fleet["events"],
    )  # fmt: skip
    if settled:
        assert new is current


def test_settled_at_a_bound_or_at_the_recommendation_and_not_otherwise() -> None:
    minimum, maximum = np.array([2, 2, 2]), np.array([5, 5, 5])
    # fewer wished at the minimum, more at the maximum, the same in between
    assert hpa_settled(np.array([2, 5, 3]), np.array([1, 9, 3]), minimum, maximum)
    # fewer wished above the minimum: the down window decides
    assert not hpa_settled(np.array([3, 5, 3]), np.array([1, 9, 3]), minimum, maximum)
    # more wished below the maximum: the up window and the rate limits decide
    assert not hpa_settled(np.array([2, 4, 3]), np.array([1, 9, 3]), minimum, maximum)
    # out of the bounds: the decision brings it back
    assert not hpa_settled(np.array([1, 5, 3]), np.array([1, 5, 3]), minimum, maximum)
    assert not hpa_settled(np.array([2, 6, 3]), np.array([2, 6, 3]), minimum, maximum)
    # (and the decision does move the ones not settled)
    behavior = Behavior(scale_down=ScaleDownRules(stabilization_window_seconds=0.0))
    moved = hpa_decision(np.array([3, 5, 3]), np.array([1, 9, 3]), minimum, maximum, NOW,
                         behavior, [], [])  # fmt: skip
    assert moved.tolist() == [2, 5, 3]
