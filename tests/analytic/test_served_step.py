"""`_served_step`, the autoscaler's loop's one step, gives `_served`'s bits for that step
(its backlog at the end and its utilisation), with and without a backlog (Hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.analytic.stations import _served, _served_step

rates = st.floats(0.0, 50.0, allow_nan=False)


@st.composite
def steps(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.float64, np.ndarray]:
    n = draw(st.integers(1, 8))
    offered = np.array(draw(st.lists(rates, min_size=n, max_size=n)))
    workers = np.array(draw(st.lists(st.integers(1, 40), min_size=n, max_size=n)), dtype=float)
    backlog = np.array(
        draw(st.lists(st.sampled_from([0.0, -0.0, 0.0, 3.5, 120.0]), min_size=n, max_size=n))
    )
    dt = np.array([draw(st.sampled_from([15.0, 60.0, 300.0, 3600.0]))])
    return offered, workers, dt[0], backlog


@settings(max_examples=300, deadline=None)
@given(step=steps())
def test_one_step_gives_the_bits_of_served(
    step: tuple[np.ndarray, np.ndarray, np.float64, np.ndarray],
) -> None:
    offered, workers, dt, backlog = step
    end, *_, utilisation = _served(offered[None, :], workers[None, :], np.array([dt]), backlog)
    got_end, got_utilisation = _served_step(offered, workers, dt, backlog)
    assert got_end.tobytes() == end[0].tobytes()
    assert got_utilisation.tobytes() == utilisation[0].tobytes()
