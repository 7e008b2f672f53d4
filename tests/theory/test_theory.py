"""Unit tests for simulator.theory (analytic queueing reference values)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from simulator.theory import (
    QueueMetrics,
    allen_cunneen,
    ek_m1,
    erlang_b,
    erlang_c,
    gi_m1,
    little_l,
    md1,
    mg1,
    mm1,
    mmc,
    mmc_sojourn_cdf,
    mmc_sojourn_quantile,
    mmc_wait_cdf,
)

PROPS = settings(max_examples=30, deadline=None)

# ----------------------------------------------------------------- independent references


def erlang_b_factorial(c: int, a: float) -> float:
    """Textbook Erlang B with factorials (small c only)."""
    return (a**c / math.factorial(c)) / sum(a**k / math.factorial(k) for k in range(c + 1))


def erlang_c_factorial(c: int, a: float) -> float:
    """Textbook Erlang C with factorials (small c only)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def assert_metrics_close(m1: QueueMetrics, m2: QueueMetrics, rel: float = 1e-9) -> None:
    for field in QueueMetrics.__dataclass_fields__:
        assert getattr(m1, field) == pytest.approx(getattr(m2, field), rel=rel, abs=1e-12), field


# Stable M/M/c parameters: servers, service mean, utilisation -> arrival rate.
servers_st = st.integers(min_value=1, max_value=30)
service_mean_st = st.floats(min_value=1e-3, max_value=10.0)
rho_st = st.floats(min_value=0.01, max_value=0.97)


@st.composite
def mmc_params(draw: st.DrawFn) -> tuple[float, float, int]:
    c = draw(servers_st)
    es = draw(service_mean_st)
    rho = draw(rho_st)
    return rho * c / es, es, c


# ----------------------------------------------------------------- Erlang B / C


def test_mm4_textbook_values() -> None:
    # M/M/4, lambda = 3.6/s, E[S] = 1 s: a = 3.6 Erlangs, rho = 0.9.
    c, a = 4, 3.6
    p_wait = erlang_c_factorial(c, a)
    wq = p_wait / (c * 1.0 - 3.6)
    assert round(p_wait, 4) == 0.7878  # pinned: P(wait) = 0.7878
    assert round(wq, 3) == 1.969  # pinned: Wq = 1.969 s
    m = mmc(3.6, 1.0, 4)
    assert m.p_wait == pytest.approx(p_wait, rel=1e-12)
    assert m.wait_mean == pytest.approx(wq, rel=1e-12)
    assert m.utilisation == pytest.approx(0.9)
    assert m.sojourn_mean == pytest.approx(wq + 1.0)
    assert m.queue_length_mean == pytest.approx(3.6 * wq)
    assert m.in_system_mean == pytest.approx(3.6 * (wq + 1.0))
    assert erlang_c(4, 3.6) == pytest.approx(0.7877532642953626, rel=1e-12)


def test_erlang_b_table_value() -> None:
    # Classic Erlang B table entry: 10 trunks, 5 Erlangs -> 0.01838.
    assert erlang_b(10, 5.0) == pytest.approx(0.018385, abs=5e-7)
    assert erlang_b(1, 2.0) == pytest.approx(2.0 / 3.0)
    assert erlang_b(3, 0.0) == 0.0
    assert erlang_c(3, 0.0) == 0.0


@given(c=st.integers(1, 40), frac=st.floats(0.001, 0.999))
@PROPS
def test_erlang_against_factorial_formula(c: int, frac: float) -> None:
    a = frac * c
    assert erlang_b(c, a) == pytest.approx(erlang_b_factorial(c, a), rel=1e-10)
    assert erlang_c(c, a) == pytest.approx(erlang_c_factorial(c, a), rel=1e-10)
    # Waiting is at least as likely as blocking with the same load.
    assert 0.0 <= erlang_b(c, a) <= erlang_c(c, a) <= 1.0


@given(rho=st.floats(0.0, 0.999))
@PROPS
def test_erlang_c_single_server_is_rho(rho: float) -> None:
    assert erlang_c(1, rho) == pytest.approx(rho, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("c", "a"), [(10_000, 9_500.0), (10_000, 9_990.0), (2_000, 1_000.0)])
def test_erlang_large_server_counts(c: int, a: float) -> None:
    # Independent reference: B = P(N = c) / P(N <= c), N ~ Poisson(a), with the
    # Poisson CDF as the regularised upper incomplete gamma Q(c + 1, a).
    pmf = math.exp(c * math.log(a) - a - special.gammaln(c + 1))
    ref_b = pmf / special.gammaincc(c + 1, a)
    b = erlang_b(c, a)
    assert b == pytest.approx(ref_b, rel=1e-8)
    cw = erlang_c(c, a)
    assert math.isfinite(cw)
    assert b <= cw <= 1.0
    assert cw == pytest.approx(c * ref_b / (c - a * (1.0 - ref_b)), rel=1e-8)


def test_erlang_b_allows_overload() -> None:
    # A loss system is always stable; B -> 1 as load grows.
    assert 0.5 < erlang_b(2, 10.0) < 1.0


# ----------------------------------------------------------------- equivalences


@given(rho=rho_st, es=service_mean_st)
@PROPS
def test_mm1_equals_mmc1_and_closed_form(rho: float, es: float) -> None:
    lam = rho / es
    m = mm1(lam, es)
    assert m == mmc(lam, es, 1)
    assert m.p_wait == pytest.approx(rho, rel=1e-12)
    assert m.wait_mean == pytest.approx(rho * es / (1 - rho), rel=1e-10)
    assert m.in_system_mean == pytest.approx(rho / (1 - rho), rel=1e-10)


@given(rho=rho_st, es=service_mean_st)
@PROPS
def test_mg1_cv1_equals_mm1(rho: float, es: float) -> None:
    lam = rho / es
    assert_metrics_close(mg1(lam, es, 1.0), mm1(lam, es))


@given(rho=rho_st, es=service_mean_st)
@PROPS
def test_md1_is_half_mm1_wait(rho: float, es: float) -> None:
    lam = rho / es
    d = md1(lam, es)
    assert d == mg1(lam, es, 0.0)
    assert d.wait_mean == pytest.approx(mm1(lam, es).wait_mean / 2, rel=1e-10)
    assert d.p_wait == pytest.approx(rho)


@given(rho=st.floats(0.01, 0.99), es=service_mean_st)
@PROPS
def test_ek_m1_one_phase_equals_mm1(rho: float, es: float) -> None:
    lam = rho / es
    assert_metrics_close(ek_m1(lam, es, 1), mm1(lam, es), rel=1e-8)


@given(params=mmc_params())
@PROPS
def test_allen_cunneen_poisson_exponential_equals_mmc(params: tuple[float, float, int]) -> None:
    lam, es, c = params
    assert_metrics_close(allen_cunneen(lam, es, c, 1.0, 1.0), mmc(lam, es, c), rel=1e-12)


@given(rho=rho_st, es=service_mean_st, cs=st.floats(0.0, 5.0))
@PROPS
def test_allen_cunneen_single_server_poisson_is_pollaczek_khinchine(
    rho: float, es: float, cs: float
) -> None:
    lam = rho / es
    assert_metrics_close(allen_cunneen(lam, es, 1, 1.0, cs), mg1(lam, es, cs), rel=1e-10)


def test_allen_cunneen_scales_with_variability() -> None:
    base = mmc(3.6, 1.0, 4).wait_mean
    assert allen_cunneen(3.6, 1.0, 4, 2.0, 0.5).wait_mean == pytest.approx(base * 4.25 / 2)
    assert allen_cunneen(3.6, 1.0, 4, 0.0, 0.0).wait_mean == 0.0


@given(params=mmc_params())
@PROPS
def test_mmc_little_law_fields(params: tuple[float, float, int]) -> None:
    lam, es, c = params
    m = mmc(lam, es, c)
    assert m.sojourn_mean == pytest.approx(m.wait_mean + es)
    assert m.queue_length_mean == pytest.approx(little_l(lam, m.wait_mean))
    assert m.in_system_mean == pytest.approx(little_l(lam, m.sojourn_mean))
    assert 0.0 <= m.p_wait <= 1.0


# ----------------------------------------------------------------- GI/M/1


def test_dm1_textbook_sigma() -> None:
    # D/M/1 at rho = 0.5: sigma = exp(-2 (1 - sigma)) -> 0.2032 (Gross & Harris).
    m = gi_m1(0.5, 1.0, lambda s: math.exp(-2.0 * s))
    sigma = 0.5
    for _ in range(200):
        sigma = math.exp(-2.0 * (1.0 - sigma))
    assert round(m.p_wait, 4) == 0.2032
    assert m.p_wait == pytest.approx(sigma, rel=1e-12)
    assert m.wait_mean == pytest.approx(sigma / (1 - sigma), rel=1e-10)


@given(rho=st.floats(0.05, 0.98), es=service_mean_st)
@PROPS
def test_e2m1_matches_polynomial_root(rho: float, es: float) -> None:
    # sigma (2 rho + 1 - sigma)^2 = 4 rho^2 (mu = 1 units); the cubic has the root 1.
    cubic = np.polynomial.Polynomial([-4 * rho**2, (2 * rho + 1) ** 2, -2 * (2 * rho + 1), 1.0])
    roots = [r.real for r in cubic.roots() if abs(r.imag) < 1e-12 and 0 < r.real < 1 - 1e-9]
    assert len(roots) == 1
    m = ek_m1(rho / es, es, 2)
    assert m.p_wait == pytest.approx(roots[0], rel=1e-8)
    assert m.p_wait < rho  # regular arrivals wait less than Poisson ones


def test_ek_m1_tends_to_dm1_and_is_monotone() -> None:
    waits = [ek_m1(0.8, 1.0, k).wait_mean for k in (1, 2, 4, 16, 256, 10_000)]
    assert all(w1 > w2 for w1, w2 in itertools.pairwise(waits))
    dm1 = gi_m1(0.8, 1.0, lambda s: math.exp(-s / 0.8))
    assert waits[-1] == pytest.approx(dm1.wait_mean, rel=1e-3)


def test_gi_m1_heavy_load_brackets_root() -> None:
    m = ek_m1(0.9999, 1.0, 3)
    assert 0.999 < m.p_wait < 1.0
    assert math.isfinite(m.wait_mean)


# ----------------------------------------------------------------- M/M/c distributions


def test_wait_cdf_values_and_shapes() -> None:
    c_wait = erlang_c(4, 3.6)
    assert mmc_wait_cdf(0.0, 3.6, 1.0, 4) == pytest.approx(1 - c_wait)
    assert mmc_wait_cdf(-1.0, 3.6, 1.0, 4) == 0.0
    assert mmc_wait_cdf(2.0, 3.6, 1.0, 4) == pytest.approx(1 - c_wait * math.exp(-0.4 * 2.0))
    assert isinstance(mmc_wait_cdf(1.0, 3.6, 1.0, 4), float)
    t = np.linspace(-1.0, 10.0, 12).reshape(3, 4)
    out = mmc_wait_cdf(t, 3.6, 1.0, 4)
    assert isinstance(out, np.ndarray)
    assert out.shape == t.shape
    assert np.all(out[t < 0] == 0.0)
    out_s = mmc_sojourn_cdf(t, 3.6, 1.0, 4)
    assert isinstance(out_s, np.ndarray)
    assert out_s.shape == t.shape
    assert isinstance(mmc_sojourn_cdf(1.0, 3.6, 1.0, 4), float)
    assert mmc_sojourn_cdf(math.inf, 3.6, 1.0, 4) == 1.0


@given(params=mmc_params())
@PROPS
def test_sojourn_cdf_properties(params: tuple[float, float, int]) -> None:
    lam, es, c = params
    m = mmc(lam, es, c)
    assert mmc_sojourn_cdf(0.0, lam, es, c) == 0.0
    assert mmc_sojourn_cdf(-es, lam, es, c) == 0.0
    t = np.linspace(0.0, 60.0 * m.sojourn_mean, 400)
    f = mmc_sojourn_cdf(t, lam, es, c)
    assert np.all(np.diff(f) >= -1e-15)
    assert np.all((f >= 0.0) & (f <= 1.0))
    assert f[-1] == pytest.approx(1.0, abs=1e-9)
    # The sojourn time dominates the wait: F_T(t) <= F_Wq(t).
    assert np.all(f <= mmc_wait_cdf(t, lam, es, c) + 1e-12)
    # Mean from the CDF: E[T] = integral of (1 - F).
    # Integrate in units of E[S] (x = es * u) so quad sees an O(1) scale.
    mean_u, _err = integrate.quad(
        lambda u: 1.0 - mmc_sojourn_cdf(es * u, lam, es, c), 0.0, np.inf, epsabs=1e-12
    )
    assert es * mean_u == pytest.approx(m.sojourn_mean, rel=1e-6)


@given(params=mmc_params())
@PROPS
def test_wait_cdf_mean(params: tuple[float, float, int]) -> None:
    lam, es, c = params
    m = mmc(lam, es, c)
    # Integrate in units of E[S]. 1 - F = C e^{-theta t} is computed by subtraction,
    # so use an absolute tolerance too (C can be ~1e-10 at light load).
    mean_u, _err = integrate.quad(
        lambda u: 1.0 - mmc_wait_cdf(es * u, lam, es, c), 0.0, np.inf, epsabs=1e-12
    )
    assert es * mean_u == pytest.approx(m.wait_mean, rel=1e-6, abs=1e-9 * es)


@given(params=mmc_params(), q=st.floats(0.001, 0.9999))
@PROPS
def test_quantile_inverts_cdf(params: tuple[float, float, int], q: float) -> None:
    lam, es, c = params
    t = mmc_sojourn_quantile(q, lam, es, c)
    assert t > 0.0
    assert mmc_sojourn_cdf(t, lam, es, c) == pytest.approx(q, rel=1e-9)


def test_quantile_reference_percentiles() -> None:
    qs = np.array([0.5, 0.99])
    t = mmc_sojourn_quantile(qs, 3.6, 1.0, 4)
    assert isinstance(t, np.ndarray)
    assert t.shape == (2,)
    assert np.allclose(mmc_sojourn_cdf(t, 3.6, 1.0, 4), qs, rtol=1e-10)
    assert t[0] < mmc(3.6, 1.0, 4).sojourn_mean < t[1]
    assert mmc_sojourn_quantile(0.0, 3.6, 1.0, 4) == 0.0
    # M/M/1 sojourn is Exp(mu - lambda): closed-form quantile.
    assert mmc_sojourn_quantile(0.99, 0.5, 1.0, 1) == pytest.approx(math.log(100) / 0.5)


def test_sojourn_cdf_theta_equals_mu_special_case() -> None:
    # c = 2, E[S] = 1 (mu = 1), lambda = 1  =>  theta = c mu - lambda = mu.
    c, es, lam = 2, 1.0, 1.0
    c_wait = erlang_c(c, lam * es)
    t = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 20.0])
    at = mmc_sojourn_cdf(t, lam, es, c)
    # Limit of the closed form: P(T > t) = (1 + C mu t) e^{-mu t}.
    assert np.allclose(at, 1.0 - (1.0 + c_wait * t) * np.exp(-t), rtol=0, atol=1e-14)
    for eps in (1e-12, 1e-9, 1e-6):
        for sign in (-1.0, 1.0):
            near = mmc_sojourn_cdf(t, lam + sign * eps, es, c)
            assert np.allclose(near, at, rtol=0, atol=10 * eps)
    mean, _err = integrate.quad(lambda x: 1.0 - mmc_sojourn_cdf(x, lam, es, c), 0, np.inf)
    assert mean == pytest.approx(mmc(lam, es, c).sojourn_mean, rel=1e-8)
    q = mmc_sojourn_quantile(0.99, lam, es, c)
    assert mmc_sojourn_cdf(q, lam, es, c) == pytest.approx(0.99, rel=1e-12)


def test_sojourn_cdf_generic_closed_form() -> None:
    # Direct (cancellation-prone but fine here) formula away from theta = mu.
    lam, es, c = 3.6, 1.0, 4
    cw, mu, theta = erlang_c(c, lam * es), 1.0, c - lam
    t = np.array([0.3, 1.0, 4.0, 15.0])
    sf = np.exp(-mu * t) + cw * mu * (np.exp(-theta * t) - np.exp(-mu * t)) / (mu - theta)
    assert np.allclose(mmc_sojourn_cdf(t, lam, es, c), 1.0 - sf, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------- Little / errors


def test_little_l() -> None:
    assert little_l(3.6, 2.5) == pytest.approx(9.0)
    assert little_l(1.0, 0.0) == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: mm1(1.0, 1.0),
        lambda: mm1(2.0, 1.0),
        lambda: mmc(4.0, 1.0, 4),
        lambda: mmc(5.0, 1.0, 4),
        lambda: erlang_c(4, 4.0),
        lambda: mg1(1.0, 1.0, 0.5),
        lambda: md1(1.5, 1.0),
        lambda: ek_m1(1.0, 1.0, 3),
        lambda: allen_cunneen(2.0, 1.0, 2, 1.0, 1.0),
        lambda: gi_m1(1.0, 1.0, lambda s: 1.0 / (1.0 + s)),
        lambda: mmc_wait_cdf(1.0, 2.0, 1.0, 2),
        lambda: mmc_sojourn_cdf(1.0, 2.0, 1.0, 2),
        lambda: mmc_sojourn_quantile(0.5, 2.0, 1.0, 2),
    ],
)
def test_unstable_raises(call) -> None:
    with pytest.raises(ValueError, match="unstable"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: mm1(0.0, 1.0),
        lambda: mm1(-1.0, 1.0),
        lambda: mm1(0.5, 0.0),
        lambda: mm1(math.nan, 1.0),
        lambda: mmc(0.5, 1.0, 0),
        lambda: mmc(0.5, 1.0, 1.5),
        lambda: erlang_b(0, 1.0),
        lambda: erlang_b(2, -1.0),
        lambda: mg1(0.5, 1.0, -0.1),
        lambda: allen_cunneen(0.5, 1.0, 1, -1.0, 1.0),
        lambda: ek_m1(0.5, 1.0, 0),
        lambda: gi_m1(0.5, 1.0, lambda s: 0.5 * math.exp(-2.0 * s)),
        lambda: gi_m1(0.5, 1.0, lambda s: math.exp(-1.5 * s)),  # mean 1.5 s, not 2 s
        lambda: mmc_sojourn_quantile(1.0, 0.5, 1.0, 1),
        lambda: mmc_sojourn_quantile(-0.1, 0.5, 1.0, 1),
        lambda: little_l(0.0, 1.0),
        lambda: little_l(1.0, -1.0),
    ],
)
def test_invalid_parameters_raise(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_metrics_are_frozen() -> None:
    m = mm1(0.5, 1.0)
    with pytest.raises(AttributeError):
        m.wait_mean = 0.0  # type: ignore[misc]
