"""`hpa_recommendation` skips the rebalancing of pods on their way when no pod counts as on
its way (no unready pod, or none where the ready pods say "scale up"): the replicas it gives
are the full formula's, element by element, for any fleet (Hypothesis, against the formula
written out as it was before the skip)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.model.autoscaling import hpa_recommendation


def full_formula(
    ready: np.ndarray, unready: np.ndarray, busy: np.ndarray, target: float, tolerance: float
) -> np.ndarray:
    """Every branch computed for every service, then chosen (the code before the skip)."""
    current = ready + unready
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = busy / (ready * target)
        rebalanced = busy / (current * target)
        with_unready = (unready > 0) & (ratio > 1.0)
        steady = np.abs(ratio - 1.0) <= tolerance
        flipped = (np.abs(rebalanced - 1.0) <= tolerance) | (rebalanced < 1.0)
        plain = np.ceil(ready * ratio - 1e-9)
        up = np.maximum(np.ceil(current * rebalanced - 1e-9), current)
        desired = np.where(
            with_unready, np.where(flipped, current, up), np.where(steady, current, plain)
        )
        return np.where(ready <= 0, current, desired).astype(np.int64)


fleets = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 30), min_size=n, max_size=n),
        st.lists(st.sampled_from([0, 0, 0, 1, 2, 5]), min_size=n, max_size=n),
        st.lists(st.floats(0.0, 40.0, allow_nan=False), min_size=n, max_size=n),
    )
)


@settings(max_examples=300, deadline=None)
@given(
    fleet=fleets,
    target=st.floats(0.05, 1.0),
    tolerance=st.sampled_from([0.0, 0.05, 0.1, 0.3]),
)
def test_the_skip_gives_the_full_formulas_replicas(
    fleet: tuple[list[int], list[int], list[float]], target: float, tolerance: float
) -> None:
    ready, unready, busy = (np.array(column, dtype=float) for column in fleet)
    busy = np.minimum(busy, ready)  # the ready pods' usage, at most one a pod
    got = hpa_recommendation(ready, unready, busy, target, tolerance)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, full_formula(ready, unready, busy, target, tolerance))


def test_pods_on_their_way_still_count_when_the_ready_ones_say_scale_up() -> None:
    """(The branch the skip leaves out must still run: 4 ready pods fully busy at a 50%
    target ask for 8; with 6 more on their way, counted idle, that flips to a scale-down,
    so the 10 stay. Skipping the rebalancing would say 8.)"""
    ready, unready, busy = np.array([4.0, 4.0]), np.array([0.0, 6.0]), np.array([4.0, 4.0])
    assert hpa_recommendation(ready, unready, busy, 0.5, 0.1).tolist() == [8, 10]
    assert full_formula(ready, unready, busy, 0.5, 0.1).tolist() == [8, 10]
