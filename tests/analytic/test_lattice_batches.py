"""The lattice's pieces computed in batches give the bits of each computed alone: the
network and work distributions' spectra of a lattice all at once (`limited_rows`,
`LatticeEvaluator._prepare_fixed`), a call made once with a chance (`_made_with`) and the
finiteness check of `_made_once` (`_finite`). The masses of the lattice are the sums of
these products: a last bit that moved would move a percentile."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.analytic import latency
from simulator.scenario.distributions import Exponential, Gamma, LogNormal


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


KINDS = {
    "exponential": lambda mean, cv: Exponential(mean=mean),
    "gamma": lambda mean, cv: Gamma(mean=mean, cv=cv),
    "lognormal": lambda mean, cv: LogNormal(mean=mean, cv=cv),
}


@st.composite
def distributions(draw: st.DrawFn) -> tuple[latency.Lattice, list]:
    """A lattice and distributions of every batched kind, from far shorter than a step to
    longer than the lattice, cv from nearly constant to very bursty (gamma shapes from
    0.04 to 10⁴), some of them repeated."""
    lattice = latency.Lattice(draw(st.sampled_from([2.0**-9, 0.25, 2.0, 64.0])))
    made = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(sorted(KINDS)))
        mean = lattice.step * 10.0 ** draw(st.floats(-2.0, 3.6))
        cv = draw(st.sampled_from([0.01, 0.1, 0.5, 1.0, 2.0, 5.0]))
        made.append(KINDS[kind](mean, cv))
    if draw(st.booleans()):
        made.append(made[0])
    return lattice, made


@settings(max_examples=200, deadline=None)
@given(case=distributions())
def test_limited_rows_are_each_distributions_limited_expectation(case):
    lattice, dists = case
    rows = latency.limited_rows(lattice, dists)
    for row, dist in zip(rows, dists, strict=True):
        assert same_bits(row, latency.limited_expectation(dist, lattice.x)), dist


@settings(max_examples=60, deadline=None)
@given(case=distributions())
def test_spectra_of_a_batch_are_each_distributions_alone(case):
    """Levels, masses and FFT of the rows together (`_prepare_fixed`'s way) against
    `Lattice.distribution` and one FFT per distribution (`_fixed`'s, one at a time)."""
    lattice, dists = case
    spectra = lattice.spectrum(lattice.from_levels(latency.limited_rows(lattice, dists)))
    for row, dist in zip(spectra, dists, strict=True):
        assert same_bits(row, lattice.spectrum(lattice.distribution(dist))), dist


def spectra(seed: int, size: int = 4000) -> np.ndarray:
    """Complex numbers with zeros of both signs in either part, as spectra have them."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=size) + 1j * rng.normal(size=size)
    for value in (0.0, -0.0):
        values.real[rng.random(size) < 0.05] = value
        values.imag[rng.random(size) < 0.05] = value
    values[:4] = [0.0, complex(-0.0, -0.0), complex(0.0, -0.0), complex(-0.0, 1.0)]
    return values


@pytest.mark.parametrize("probability", [0.0, 1e-9, 0.3, 0.5, 0.999, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_a_call_made_once_with_a_chance_is_the_formula_to_the_bit(probability, seed):
    made = spectra(seed)
    for value in (made, made[:3000].reshape(3, 1000), np.append(made, [np.nan, np.inf])):
        with np.errstate(invalid="ignore"):
            expected = latency._first_power(1 - probability + probability * value)
            got = latency._made_with(probability, value)
        assert same_bits(got, expected)


def test_the_first_power_in_place_is_the_copys():
    base = spectra(4)
    expected = latency._first_power(base)
    assert same_bits(latency._first_power(base.copy(), in_place=True), expected)


@pytest.mark.parametrize("where", ["real", "imag"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_finite_is_numpys_isfinite_of_every_element(where, bad):
    values = spectra(5)[:3000].reshape(3, 1000)
    assert latency._finite(values) and latency._finite(values[:, ::2])
    for at in [(0, 0), (1, 500), (2, 999)]:
        spoiled = values.copy()
        setattr(spoiled[at[0], at[1] : at[1] + 1], where, bad)
        assert not latency._finite(spoiled)
        assert latency._finite(spoiled[:, ::2]) == bool(np.isfinite(spoiled[:, ::2]).all())
    assert latency._finite(np.array([1.0, 2.0])) and not latency._finite(np.array([np.nan]))


@settings(max_examples=200, deadline=None)
@given(
    picks=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 1)), min_size=1),
    signs=st.booleans(),
)
def test_distinct_waits_are_the_first_of_each_and_every_wait_finds_its_own(picks, signs):
    """Waits that differ in any bit of P(wait), shape or scale are told apart (here values
    one ulp apart, and zeros of both signs); each wait maps to the first of its bits."""
    base = np.array([0.3, np.nextafter(0.3, 1.0), 1.0, 2.5, 0.0, -0.0 if signs else 0.0])
    index = np.array(picks)
    waiting, shape, scale = base[index[:, 0]], base[index[:, 1]], base[index[:, 2]]
    first, inverse = latency._distinct_waits(waiting, shape, scale)
    rows = np.stack([waiting, shape, scale], axis=1)
    assert (np.diff(first) > 0).all()
    assert same_bits(rows[first][inverse], rows)
    for place, row in enumerate(first.tolist()):  # the first of its bits
        earlier = rows[:row].view(np.uint64)
        assert not (earlier == rows[row].view(np.uint64)).all(axis=1).any(), place


@pytest.mark.parametrize("seed", range(4))
def test_masses_in_place_are_the_formulas(seed):
    """`Lattice.masses` (maximum and division in the inverse FFT's array) against the
    expression it replaced, for rows of masses, rows summing to 0 and rows not finite."""
    rng = np.random.default_rng(seed)
    lattice = latency.Lattice(1.0)
    masses = rng.random((6, lattice.points)) ** 8
    masses[1] = 0.0
    masses[2, 10] = -1.0  # a negative mass: made 0
    spectra = lattice.spectrum(masses)
    spectra[3, 5] = np.nan
    for spectrum in (spectra, spectra[0], spectra[1]):
        values = np.maximum(np.fft.irfft(spectrum, lattice.points, axis=-1), 0.0)
        total = values.sum(axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = np.where(total > 0, values / total, values)
        assert same_bits(lattice.masses(spectrum), expected)
