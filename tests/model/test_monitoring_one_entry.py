"""Monitoring's path for one entry point: its running totals as Python floats
(`_EntryPoints.one`, `trailing_one`) and the rules' scalar tests give the bits and the
answers of the arrays' path (Hypothesis over scrapes and windows)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.model.monitoring.model import _EntryPoints
from simulator.model.monitoring.rules import (
    burn_rate_fires,
    burn_rates_fire,
    burn_thresholds,
    error_ratio_exceeds,
    error_ratios_exceed,
)

counts = st.floats(0.0, 1e6, allow_nan=False, allow_infinity=False)
scrapes = st.lists(
    st.tuples(counts, st.floats(0.0, 1.0)).map(lambda pair: (pair[0], pair[0] * pair[1])),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(
    seen=scrapes,
    windows=st.lists(st.integers(1, 12), min_size=2, max_size=6).filter(lambda w: len(w) % 2 == 0),
    burns=st.lists(st.sampled_from([1.0, 2.0, 6.0, 14.4]), min_size=3, max_size=3),
    slo=st.sampled_from([0.9, 0.99, 0.999]),
)
def test_one_entry_point_gives_the_arrays_bits(
    seen: list[tuple[float, float]], windows: list[int], burns: list[float], slo: float
) -> None:
    window = max(windows)
    one = _EntryPoints([4], window)
    # the arrays' path: the same column twice (two entry points)
    two = _EntryPoints([4, 5], window)
    assert one.one and not two.one
    scrapes_each = np.array(windows, dtype=np.int64)
    rules = len(windows) // 2
    thresholds = burn_thresholds(burns[:rules], slo)
    for total, bad in seen:
        one.add(np.array([total]), np.array([bad]))
        two.add(np.array([total, total]), np.array([bad, bad]))
        bad_one, total_one = one.trailing(scrapes_each)
        bad_two, total_two = two.trailing(scrapes_each)
        assert bad_one[:, 0].tobytes() == bad_two[:, 0].tobytes()
        assert total_one[:, 0].tobytes() == total_two[:, 0].tobytes()
        pairs = one.trailing_one(windows)
        assert [b for b, _ in pairs] == bad_two[:, 0].tolist()
        assert [t for _, t in pairs] == total_two[:, 0].tolist()
        fires = burn_rates_fire(bad_two, total_two, thresholds)
        scalar = [
            burn_rate_fires(*pairs[2 * k], *pairs[2 * k + 1], burns[k], slo) for k in range(rules)
        ]
        assert scalar == fires[:, 0].tolist()
        ((last_bad, last_total),) = one.trailing_one([1])
        exceeds = error_ratios_exceed(np.array([last_bad]), np.array([last_total]), 1.0 - slo)
        assert error_ratio_exceeds(last_bad, last_total, 1.0 - slo) == bool(exceeds[0])


def test_a_window_longer_than_the_run_counts_what_there_is() -> None:
    one = _EntryPoints([0], 5)
    for total, bad in [(10.0, 1.0), (20.0, 0.0), (30.0, 3.0)]:
        one.add(np.array([total]), np.array([bad]))
    assert one.trailing_one([1, 2, 5]) == [(3.0, 30.0), (3.0, 50.0), (4.0, 60.0)]
    for total, bad in [(1.0, 1.0)] * 6:  # around the ring
        one.add(np.array([total]), np.array([bad]))
    assert one.trailing_one([1, 5]) == [(1.0, 1.0), (5.0, 5.0)]
