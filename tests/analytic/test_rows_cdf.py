"""`latency._rows_cdf`, the rows' CDFs that `mixture_cdf` sums (the summary's percentiles
and SLO attainment at the analytic fidelity), searches fewer probes and makes fewer passes
than the straightforward way (`straightforward` below: every probe searched among every
key, `take_along_axis`, `np.where`). It must give the same array bit for bit: the sums of
its rows are the KPIs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.analytic import latency
from simulator.analytic.latency import LEVELS


def straightforward(quantiles: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each row's CDF at x, as `_rows_cdf` was written before it searched fewer probes."""
    rows, count = quantiles.shape
    low = float(quantiles.min())
    span = float(quantiles.max()) - low + 1.0 + float(np.abs(x).max(initial=0.0))
    offset = np.arange(rows)[:, None] * span
    keys = (quantiles - low + offset).ravel()
    probes = (x[None, :] - low) + offset
    index = np.searchsorted(keys, probes.ravel(), side="right").reshape(probes.shape)
    index -= np.arange(rows)[:, None] * count + 1
    i = np.clip(index, 0, count - 2)
    q0 = np.take_along_axis(quantiles, i, axis=1)
    gap = np.take_along_axis(quantiles, i + 1, axis=1) - q0
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(gap > 0, (x[None, :] - q0) / gap, 1.0)
    values = LEVELS[i] + np.clip(fraction, 0.0, 1.0) * (LEVELS[i + 1] - LEVELS[i])
    return np.where(index < 0, 0.0, np.where(index >= count - 1, 1.0, values))


def _rows(draw: st.DrawFn) -> np.ndarray:
    """Quantile functions at LEVELS: scaled shapes with flat stretches (ties) and jumps."""
    rows = draw(st.integers(1, 40))
    base = np.sort(np.random.default_rng(draw(st.integers(0, 2**32))).exponential(size=LEVELS.size))
    scales = draw(st.lists(st.sampled_from([0.0, 0.01, 0.5, 1.0, 3.0, 1e3]), min_size=rows,
                           max_size=rows))  # fmt: skip
    quantiles = np.outer(scales, base)
    flat = draw(st.integers(0, LEVELS.size))
    quantiles[:, :flat] = np.round(quantiles[:, :flat], 1)  # repeated values
    return np.maximum.accumulate(quantiles, axis=1)


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    quantiles = _rows(draw)
    knots = quantiles.ravel()
    runs = []
    for _ in range(draw(st.integers(1, 5))):  # sorted runs, as the brackets of each round
        low = draw(st.one_of(st.sampled_from(knots.tolist()), st.floats(0, 2e3)))
        width = draw(st.sampled_from([0.0, 1e-9, 1e-3, 0.1, 10.0, 3e3]))
        runs.append(low + width * np.linspace(0.0, 1.0, draw(st.integers(1, 70))))
    if draw(st.booleans()):  # some probes exactly on quantiles
        picks = draw(st.lists(st.integers(0, knots.size - 1), max_size=8))
        runs.append(np.sort(knots[picks]))
    return quantiles, np.concatenate(runs)


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_the_rows_cdf_is_the_straightforward_ones_bit_for_bit(case):
    quantiles, x = case
    got = latency._rows_cdf(quantiles, x)
    want = straightforward(quantiles, x)
    assert got.shape == want.shape and got.tobytes() == want.tobytes()


@given(case=cases(), where=st.sampled_from([np.nan, np.inf]))
def test_quantiles_not_finite_give_the_same_answers(case, where):
    quantiles, x = case
    quantiles = quantiles.copy()
    quantiles[0, -1] = where
    with np.errstate(invalid="ignore"):
        got, want = latency._rows_cdf(quantiles, x), straightforward(quantiles, x)
    assert np.array_equal(got, want, equal_nan=True)


@given(case=cases(), row=st.integers(0, 39), level=st.integers(0, LEVELS.size - 2))
def test_a_row_that_decreases_gives_the_same_answers(case, row, level):
    """Quantile functions do not decrease; if one did, the search could not be narrowed."""
    quantiles, x = case
    quantiles = quantiles.copy()
    row %= len(quantiles)
    quantiles[row, level] = quantiles[row, level + 1] + 1.0
    x = np.concatenate([x, quantiles[row, level] + np.linspace(-2.0, 1.0, 64)])  # around it
    got, want = latency._rows_cdf(quantiles, x), straightforward(quantiles, x)
    assert got.tobytes() == want.tobytes()


def test_the_mixtures_quantiles_are_the_same_on_a_fleets_rows(monkeypatch):
    """Rows as a fleet's entry points give them, in blocks: the mixture's percentiles."""
    rng = np.random.default_rng(3)
    shape = np.sort(rng.lognormal(size=LEVELS.size))
    quantiles = np.maximum.accumulate(np.outer(rng.lognormal(-1.0, 1.0, 5000), shape), axis=1)
    weights = rng.exponential(size=5000)
    levels = [0.5, 0.95, 0.99, 0.999]
    got = latency.mixture_quantiles(quantiles, weights, levels)
    monkeypatch.setattr(latency, "_rows_cdf", straightforward)
    assert got == latency.mixture_quantiles(quantiles, weights, levels)
