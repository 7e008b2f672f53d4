"""Closed-form and numerically solved results from classical queueing theory.

These functions supply the reference values that the simulator is checked against
(validation tests) and the reference lines drawn on notebooks and charts. They are
pure functions without global state.

Conventions
-----------
* Times are in seconds and rates are per second.
* ``service_mean`` is E[S], so the service rate is mu = 1 / E[S].
* ``offered_load`` is a = lambda * E[S] (in Erlangs). Utilisation per server is
  rho = a / c.
* A ``*_cv`` argument is a coefficient of variation (standard deviation / mean);
  its square is the SCV (squared coefficient of variation) used in the formulas.
* Every mean waiting time is the steady-state mean under FCFS. ``wait_mean`` is the
  mean time spent queueing (Wq) and ``sojourn_mean`` the mean time in the system
  (W = Wq + E[S]).
* Unstable systems (rho >= 1) and invalid parameters raise ``ValueError``.

References
----------
* [Kleinrock] L. Kleinrock, *Queueing Systems, Volume 1: Theory*, Wiley, 1975.
  Ch. 3 (M/M/m, Erlang B and C), ch. 5 (M/G/1, Pollaczek-Khinchine), ch. 6 (G/M/m).
* [Gross & Harris] D. Gross, J. F. Shortle, J. M. Thompson and C. M. Harris,
  *Fundamentals of Queueing Theory*, 4th ed., Wiley, 2008. M/M/c waiting-time
  distribution; GI/M/1 and E_k arrivals.
* [Allen] A. O. Allen, *Probability, Statistics, and Queueing Theory with Computer
  Science Applications*, 2nd ed., Academic Press, 1990. The Allen-Cunneen G/G/c
  approximation.
* [Jagerman] D. L. Jagerman, "Some properties of the Erlang loss function", Bell
  System Technical Journal 53(3), 1974. The stable recursion for Erlang B.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq

__all__ = [
    "QueueMetrics",
    "allen_cunneen",
    "ek_m1",
    "erlang_b",
    "erlang_c",
    "gi_m1",
    "little_l",
    "md1",
    "mg1",
    "mm1",
    "mmc",
    "mmc_sojourn_cdf",
    "mmc_sojourn_quantile",
    "mmc_wait_cdf",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    """Steady-state metrics of a queue (times in seconds, rates per second).

    Attributes:
        arrival_rate: lambda, arrivals per second.
        utilisation: rho = lambda * E[S] / c, the long-run fraction of time each
            server is busy.
        p_wait: probability that an arriving job has to queue (finds all servers busy).
        wait_mean: mean time in queue before service starts, Wq.
        sojourn_mean: mean time in system, W = Wq + E[S].
        queue_length_mean: mean number queueing, Lq = lambda * Wq (Little's law).
        in_system_mean: mean number in system, L = lambda * W (Little's law).
    """

    arrival_rate: float
    utilisation: float
    p_wait: float
    wait_mean: float
    sojourn_mean: float
    queue_length_mean: float
    in_system_mean: float


# --------------------------------------------------------------------------- validation


def _positive(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise if it is not finite and > 0."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}") from None
    if not (math.isfinite(x) and x > 0.0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return x


def _non_negative(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise if it is not finite and >= 0."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}") from None
    if not (math.isfinite(x) and x >= 0.0):
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return x


def _count(name: str, value: int) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 1."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return n


def _check_stable(rho: float, detail: str) -> None:
    if not rho < 1.0:
        raise ValueError(
            f"unstable queue: utilisation rho = {rho:.6g} >= 1 ({detail}); no steady state exists"
        )


def _metrics(
    arrival_rate: float, utilisation: float, p_wait: float, wait_mean: float, service_mean: float
) -> QueueMetrics:
    """Assemble a QueueMetrics, filling the Little's-law fields."""
    sojourn = wait_mean + service_mean
    return QueueMetrics(
        arrival_rate=arrival_rate,
        utilisation=utilisation,
        p_wait=p_wait,
        wait_mean=wait_mean,
        sojourn_mean=sojourn,
        queue_length_mean=arrival_rate * wait_mean,
        in_system_mean=arrival_rate * sojourn,
    )


# --------------------------------------------------------------------------- Erlang B / C


def erlang_b(servers: int, offered_load: float) -> float:
    """Erlang B: blocking probability of the M/M/c/c loss system.

    B(c, a) = (a^c / c!) / sum_{k=0..c} a^k / k!, computed with the recursion
    B(0) = 1, B(n) = a B(n-1) / (n + a B(n-1)) [Jagerman 1974; Kleinrock ch. 3],
    which needs no factorials or powers and stays in [0, 1], so it is accurate for
    servers in the tens of thousands. Any load a >= 0 is allowed (a loss system is
    always stable); a = 0 gives 0.
    """
    c = _count("servers", servers)
    a = _non_negative("offered_load", offered_load)
    b = 1.0
    for n in range(1, c + 1):
        ab = a * b
        b = ab / (n + ab)
    return b


def erlang_c(servers: int, offered_load: float) -> float:
    """Erlang C: probability that an arrival has to wait in an M/M/c queue.

    Uses C = c B / (c - a (1 - B)) with B = erlang_b(c, a) [Kleinrock ch. 3], which
    inherits the stability of the Erlang B recursion. Requires a = lambda/mu < c
    (utilisation < 1); a = 0 gives 0. erlang_c(1, rho) = rho.
    """
    c = _count("servers", servers)
    a = _non_negative("offered_load", offered_load)
    _check_stable(a / c, f"offered_load={a:g} Erlangs over servers={c}")
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


# --------------------------------------------------------------------------- Markovian


def mmc(arrival_rate: float, service_mean: float, servers: int) -> QueueMetrics:
    """M/M/c (Poisson arrivals, exponential service, c servers, FCFS).

    p_wait = C(c, a) (Erlang C), Wq = C / (c mu - lambda) = C E[S] / (c - a)
    [Kleinrock ch. 3; Gross & Harris].
    """
    lam = _positive("arrival_rate", arrival_rate)
    es = _positive("service_mean", service_mean)
    c = _count("servers", servers)
    a = lam * es
    rho = a / c
    _check_stable(rho, f"arrival_rate={lam:g}/s, service_mean={es:g}s, servers={c}")
    p_wait = erlang_c(c, a)
    wait = p_wait * es / (c - a)
    return _metrics(lam, rho, p_wait, wait, es)


def mm1(arrival_rate: float, service_mean: float) -> QueueMetrics:
    """M/M/1: mmc with one server, so p_wait = rho and Wq = rho E[S] / (1 - rho)."""
    return mmc(arrival_rate, service_mean, 1)


def mg1(arrival_rate: float, service_mean: float, service_cv: float) -> QueueMetrics:
    """M/G/1 by the Pollaczek-Khinchine mean-value formula (exact).

    Wq = rho E[S] (1 + cs^2) / (2 (1 - rho)) with cs the service-time coefficient of
    variation; p_wait = rho (PASTA: Poisson arrivals see the server busy with
    probability rho) [Kleinrock ch. 5]. Only the first two moments of S matter.
    """
    lam = _positive("arrival_rate", arrival_rate)
    es = _positive("service_mean", service_mean)
    cs = _non_negative("service_cv", service_cv)
    rho = lam * es
    _check_stable(rho, f"arrival_rate={lam:g}/s, service_mean={es:g}s")
    wait = rho * es * (1.0 + cs * cs) / (2.0 * (1.0 - rho))
    return _metrics(lam, rho, rho, wait, es)


def md1(arrival_rate: float, service_mean: float) -> QueueMetrics:
    """M/D/1 (deterministic service): mg1 with cs = 0, i.e. half the M/M/1 wait."""
    return mg1(arrival_rate, service_mean, 0.0)


# --------------------------------------------------------------------------- GI/M/1


def gi_m1(
    arrival_rate: float,
    service_mean: float,
    interarrival_laplace: Callable[[float], float],
) -> QueueMetrics:
    """GI/M/1 (renewal arrivals, exponential service, one server, FCFS).

    An arrival finds j jobs present with probability (1 - sigma) sigma^j, where sigma
    is the unique root in (0, 1) of sigma = A*(mu (1 - sigma)) and A*(s) = E[exp(-s A)]
    is the Laplace-Stieltjes transform of the inter-arrival time A [Kleinrock ch. 6;
    Gross & Harris]. Hence p_wait = sigma and Wq = sigma / (mu (1 - sigma)).

    ``interarrival_laplace`` must be the LST of an inter-arrival distribution with
    mean 1/arrival_rate: A*(0) = 1 and the mean (to 1%, from the slope at 0) are
    checked, and a mismatch raises ValueError.
    The equation always has the trivial root sigma = 1; the solver's bracket
    [0, 1 - delta] excludes it, shrinking delta until the function changes sign.
    """
    lam = _positive("arrival_rate", arrival_rate)
    es = _positive("service_mean", service_mean)
    if not callable(interarrival_laplace):
        raise ValueError("interarrival_laplace must be callable: s -> E[exp(-s A)]")
    mu = 1.0 / es
    rho = lam * es
    _check_stable(rho, f"arrival_rate={lam:g}/s, service_mean={es:g}s")
    a0 = float(interarrival_laplace(0.0))
    if not abs(a0 - 1.0) <= 1e-9:
        raise ValueError(
            f"interarrival_laplace(0) must be 1 for a Laplace-Stieltjes transform, got {a0!r}"
        )
    # Mean check from the slope at 0: E[A] ~= (1 - A*(h)) / h. The relative bias is
    # about h E[A^2] / (2 E[A]) = 5e-8 (1 + ca^2), well inside 1% unless ca^2 > ~1e5.
    h = 1e-7 * lam
    drop = 1.0 - float(interarrival_laplace(h))
    implied_rate = h / drop if drop > 0.0 else math.inf
    if not abs(implied_rate / lam - 1.0) <= 1e-2:
        raise ValueError(
            f"interarrival_laplace has mean ~{1.0 / implied_rate:.6g}s but arrival_rate="
            f"{lam:g}/s implies {1.0 / lam:.6g}s; the transform must describe the same "
            "arrival stream"
        )

    def f(sigma: float) -> float:
        return float(interarrival_laplace(mu * (1.0 - sigma))) - sigma

    # Near sigma = 1, f(1 - d) ~ d (1 - 1/rho) < 0; f(0) = A*(mu) >= 0.
    hi = None
    delta = 1e-3
    while delta >= 1e-15:
        if f(1.0 - delta) < 0.0:
            hi = 1.0 - delta
            break
        delta /= 10.0
    if hi is None:
        raise ValueError(
            "could not bracket the GI/M/1 root sigma in (0, 1); check that "
            "interarrival_laplace has mean 1/arrival_rate and that rho is not "
            "numerically indistinguishable from 1"
        )
    sigma = float(brentq(f, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))
    wait = sigma / (mu * (1.0 - sigma))
    return _metrics(lam, rho, sigma, wait, es)


def ek_m1(arrival_rate: float, service_mean: float, phases: int) -> QueueMetrics:
    """E_k/M/1: GI/M/1 with Erlang-k inter-arrival times of mean 1/arrival_rate.

    LST A*(s) = (k lambda / (k lambda + s))^k; inter-arrival cv = 1/sqrt(k).
    phases = 1 is Poisson arrivals (M/M/1); k -> infinity tends to D/M/1.

    Why it matters here: when a load balancer deals a Poisson stream of rate
    k * lambda round-robin over k replicas, each replica receives every k-th arrival,
    so its inter-arrival time is the sum of k Exp(k lambda) gaps, i.e. Erlang-k with
    mean 1/lambda. With exponential service, one replica is then exactly an E_k/M/1
    queue with arrival_rate = lambda (the per-replica rate) and phases = k. It waits
    less than the M/M/1 that random splitting would give.
    """
    lam = _positive("arrival_rate", arrival_rate)
    k = _count("phases", phases)
    k_lam = k * lam

    def lst(s: float) -> float:
        # (k lam / (k lam + s))^k = exp(-k log1p(s / (k lam))), stable for large k.
        return math.exp(-k * math.log1p(s / k_lam))

    return gi_m1(lam, service_mean, lst)


# --------------------------------------------------------------------------- G/G/c


def allen_cunneen(
    arrival_rate: float,
    service_mean: float,
    servers: int,
    arrival_cv: float,
    service_cv: float,
) -> QueueMetrics:
    """Allen-Cunneen approximation for G/G/c (an approximation, not exact).

    Wq ~= Wq(M/M/c) * (ca^2 + cs^2) / 2 and p_wait ~= C(c, a) from Erlang C
    [Allen 1990]. It is exact for M/M/c (ca = cs = 1) and for M/G/1 (c = 1, ca = 1,
    where it reduces to Pollaczek-Khinchine); elsewhere it is a heuristic that is
    usually within ~10% at moderate-to-high load and degrades for very low load or
    very regular (cv -> 0) traffic.
    """
    ca = _non_negative("arrival_cv", arrival_cv)
    cs = _non_negative("service_cv", service_cv)
    base = mmc(arrival_rate, service_mean, servers)
    wait = base.wait_mean * (ca * ca + cs * cs) / 2.0
    return _metrics(base.arrival_rate, base.utilisation, base.p_wait, wait, float(service_mean))


# --------------------------------------------------------------------------- M/M/c distributions


def _mmc_params(
    arrival_rate: float, service_mean: float, servers: int
) -> tuple[float, float, float]:
    """Return (C, mu, theta) for an M/M/c, theta = c mu - lambda (validated, stable)."""
    lam = _positive("arrival_rate", arrival_rate)
    es = _positive("service_mean", service_mean)
    c = _count("servers", servers)
    a = lam * es
    _check_stable(a / c, f"arrival_rate={lam:g}/s, service_mean={es:g}s, servers={c}")
    mu = 1.0 / es
    return erlang_c(c, a), mu, c * mu - lam


def _as_float_array(t: float | npt.ArrayLike) -> FloatArray:
    return np.asarray(t, dtype=float)


def _return_like(t: float | npt.ArrayLike, out: FloatArray) -> float | FloatArray:
    """Return a Python float for scalar input, else the array (same shape as input)."""
    return float(out) if np.ndim(t) == 0 else out


def _sojourn_cdf_sf(
    tv: FloatArray, c_wait: float, mu: float, theta: float
) -> tuple[FloatArray, FloatArray]:
    """Return (P(T <= t), P(T > t)) of the M/M/c sojourn time, elementwise.

    With m = min(mu, theta), d = |mu - theta| and h(x) = (1 - e^{-x}) / x (h(0) = 1),
    the convolution term mu (e^{-theta t} - e^{-mu t}) / (mu - theta) equals
    mu t e^{-m t} h(d t): no cancellation as theta -> mu, and exactly mu t e^{-mu t}
    at theta = mu. Both tails are computed directly (1 - e^{-mu t} via expm1) so that
    small CDF values and small survival values both keep their relative precision.
    """
    finite = np.isfinite(tv)
    tt = np.where(finite, np.maximum(tv, 0.0), 0.0)
    x = abs(mu - theta) * tt
    safe_x = np.where(x > 0.0, x, 1.0)
    h = np.where(x > 0.0, -np.expm1(-safe_x) / safe_x, 1.0)
    conv = mu * tt * np.exp(-min(mu, theta) * tt) * h
    cdf = np.clip(-np.expm1(-mu * tt) - c_wait * conv, 0.0, 1.0)
    sf = np.clip(np.exp(-mu * tt) + c_wait * conv, 0.0, 1.0)
    cdf = np.where(tv < 0.0, 0.0, np.where(tv == np.inf, 1.0, cdf))
    sf = np.where(tv < 0.0, 1.0, np.where(tv == np.inf, 0.0, sf))
    nan = np.isnan(tv)
    return np.where(nan, np.nan, cdf), np.where(nan, np.nan, sf)


def mmc_wait_cdf(
    t: float | npt.ArrayLike, arrival_rate: float, service_mean: float, servers: int
) -> float | FloatArray:
    """CDF of the FCFS M/M/c waiting time in queue: P(Wq <= t) = 1 - C e^{-(c mu - lambda) t}.

    There is an atom of mass 1 - C at t = 0 [Gross & Harris; Kleinrock ch. 3].
    Accepts a scalar or array ``t`` and returns the same shape; t < 0 gives 0.
    """
    c_wait, _mu, theta = _mmc_params(arrival_rate, service_mean, servers)
    tv = _as_float_array(t)
    tt = np.maximum(tv, 0.0)  # NaN propagates
    out = np.where(tv < 0.0, 0.0, 1.0 - c_wait * np.exp(-theta * tt))
    return _return_like(t, out)


def mmc_sojourn_cdf(
    t: float | npt.ArrayLike, arrival_rate: float, service_mean: float, servers: int
) -> float | FloatArray:
    """CDF of the FCFS M/M/c sojourn time T = Wq + S.

    Given a wait (probability C) Wq ~ Exp(theta) with theta = c mu - lambda, and the
    job's own service S ~ Exp(mu) is independent of it, so T is S with probability
    1 - C and the hypoexponential Exp(theta) + Exp(mu) with probability C:

        P(T > t) = e^{-mu t} + C mu (e^{-theta t} - e^{-mu t}) / (mu - theta),

    and, when theta = mu, the limit P(T > t) = (1 + C mu t) e^{-mu t} (the
    hypoexponential part becomes the Erlang-2 tail (1 + mu t) e^{-mu t})
    [Gross & Harris]. It is evaluated in a form with no cancellation near
    theta = mu. Accepts a scalar or array ``t`` and returns the same shape; t < 0
    gives 0.
    """
    c_wait, mu, theta = _mmc_params(arrival_rate, service_mean, servers)
    cdf, _sf = _sojourn_cdf_sf(_as_float_array(t), c_wait, mu, theta)
    return _return_like(t, cdf)


def mmc_sojourn_quantile(
    q: float | npt.ArrayLike, arrival_rate: float, service_mean: float, servers: int
) -> float | FloatArray:
    """q-quantile of the FCFS M/M/c sojourn time: the t with P(T <= t) = q.

    Numerical inverse of ``mmc_sojourn_cdf`` by brentq (relative tolerance 1e-13);
    for q > 1/2 it solves P(T > t) = 1 - q on the survival function so that tail
    percentiles such as p99 or p99.9 stay accurate. q must lie in [0, 1); q = 0
    gives 0. Accepts a scalar or array ``q`` and returns the same shape.
    """
    c_wait, mu, theta = _mmc_params(arrival_rate, service_mean, servers)
    qv = _as_float_array(q)
    if not np.all((qv >= 0.0) & (qv < 1.0)):
        raise ValueError(f"quantile level q must lie in [0, 1), got {q!r}")
    mean = 1.0 / mu + c_wait / theta

    def excess(x: float, qf: float) -> float:
        """Increasing in x, zero at the quantile."""
        cdf, sf = _sojourn_cdf_sf(np.asarray(x, dtype=float), c_wait, mu, theta)
        return float(cdf) - qf if qf <= 0.5 else (1.0 - qf) - float(sf)

    out = np.zeros_like(qv)
    for idx, qi in np.ndenumerate(qv):
        qf = float(qi)
        if qf == 0.0:
            continue
        hi = mean  # the tail decays like e^{-min(mu, theta) t}: doubling terminates
        while excess(hi, qf) < 0.0:
            hi *= 2.0
        out[idx] = brentq(excess, 0.0, hi, args=(qf,), xtol=1e-300, rtol=1e-13, maxiter=500)
    return _return_like(q, out)


# --------------------------------------------------------------------------- Little


def little_l(arrival_rate: float, mean_time: float) -> float:
    """Little's law L = lambda W: mean number in a system from its throughput and
    the mean time spent in it [Kleinrock ch. 2]. Holds for any stable system."""
    lam = _positive("arrival_rate", arrival_rate)
    w = _non_negative("mean_time", mean_time)
    return lam * w
