"""Latency composed over the call graph: moments at every step, distributions at a few.

Two layers, both over the latency trees of `flows`:

* **Moments, at every time step** (vectorised over steps): the mean and variance of a
  visit. A work step adds its station's wait and its service time; steps in turn add
  (their parts are taken as independent); a call step done N ~ Binomial(count, p) times is
  a compound sum; a parallel step is the maximum (or the k-th order statistic) of its
  branches, each approximated by a gamma with the branch's mean and variance and
  integrated numerically on a grid.
* **Distributions, at representative steps**: the whole latency distribution of a request,
  computed on a lattice by discretising every piece exactly in the mean (local moment
  matching), adding pieces by FFT convolution, and taking maxima and order statistics of
  parallel branches from their lattice CDFs, so parallel steps are exact there (up to the
  lattice). Each entry's representative steps span the range of its mean latency; the
  shape (the standardised quantile function) is interpolated between them, and scaled by
  the mean and standard deviation of the moment layer at every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

from ..scenario.distributions import (
    Constant,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    Uniform,
)
from .flows import (
    Delay,
    Fanout,
    Fixed,
    Model,
    Node,
    Repeat,
    Seq,
    VisitOf,
    Work,
    static_cumulants,
)
from .stations import StationSteps

GRID_POINTS = 2048
"""Lattice points of a latency distribution (a power of two, for the FFT)."""

GRID_SIGMAS = 20.0
"""The lattice spans the mean plus this many standard deviations (then doubles while more
than TAIL_MASS of the distribution lies in its last 5%)."""

TAIL_MASS = 1e-6

FANOUT_POINTS = 129
"""Grid points per step for the moments of a parallel step."""

LEVELS = np.unique(
    np.concatenate(
        [
            np.linspace(0.0, 0.99, 199),
            1 - np.geomspace(1e-2, 1e-6, 81),
            [0.5, 0.95, 0.99, 0.999],
        ]
    )
)
"""Probability levels at which quantile functions are kept (dense in the tail)."""

MomentPair = tuple[np.ndarray, np.ndarray]


# ----------------------------------------------------------------------------- gamma helpers


def gamma_fit(mean: np.ndarray, variance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape and scale of gammas with these means and variances (cv at least 0.01)."""
    mean = np.maximum(mean, 0.0)
    variance = np.maximum(variance, (1e-2 * mean) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = np.where(mean > 0, mean**2 / variance, 1.0)
        scale = np.where(mean > 0, variance / mean, 0.0)
    return shape, scale


def order_statistic_cdf(parts: list[tuple[np.ndarray, int, float]], wait_for: int | None):
    """P(a parallel step is done by x), from its branches' CDFs at x.

    `parts`: (CDF of one call, count, probability) per branch; each of the `count` calls is
    made with `probability`. Done when every made call has answered, or, with `wait_for`
    = k, when min(k, made) calls have. For k, a dynamic programme over the calls tracks
    how many are done (capped at k) and whether a made call is still running.
    """
    if wait_for is None:
        result = np.ones_like(parts[0][0])
        for cdf, count, probability in parts:
            result = result * (1 - probability + probability * cdf) ** count
        return result
    k = wait_for
    state = np.zeros((k + 1, 2, *parts[0][0].shape))
    state[0, 0] = 1.0
    for cdf, count, probability in parts:
        done, running = probability * cdf, probability * (1 - cdf)
        for _ in range(count):
            new = state * (1 - probability)
            new[1:] += state[:-1] * done
            new[k] += state[k] * done
            new[:, 1] += (state[:, 0] + state[:, 1]) * running
            state = new
    return state[k].sum(axis=0) + state[:k, 0].sum(axis=0)


# ----------------------------------------------------------------------------- moments


class Moments:
    """Mean and variance of every tree node at every step (arrays over steps)."""

    def __init__(self, model: Model, steps: StationSteps) -> None:
        self.model = model
        self.steps = steps
        self.count = steps.workers.shape[0]
        self.visits: dict[str, MomentPair] = {}
        self._static: dict[int, tuple[float, float]] = {}

    def visit(self, service: str) -> MomentPair:
        if service not in self.visits:
            self.visits[service] = self.of(self.model.visits[service])
        return self.visits[service]

    def wait(self, station: int) -> MomentPair:
        return self.steps.wait_mean[:, station], self.steps.wait_variance[:, station]

    def of(self, node: Node) -> MomentPair:
        match node:
            case VisitOf():
                return self.visit(node.service)
            case Delay() | Fixed():
                mean, variance = self._static_moments(node)
                return np.full(self.count, mean), np.full(self.count, variance)
            case Work():
                wait_mean, wait_variance = self.wait(node.station)
                mean, variance = self._static_moments(node.service)
                return wait_mean + mean, wait_variance + variance
            case Seq():
                mean, variance = np.zeros(self.count), np.zeros(self.count)
                for part in node.parts:
                    part_mean, part_variance = self.of(part)
                    mean, variance = mean + part_mean, variance + part_variance
                return mean, variance
            case Repeat():
                mean, variance = self.of(node.part)
                n1 = node.count * node.probability
                n2 = n1 * (1 - node.probability)
                return n1 * mean, n1 * variance + n2 * mean**2
            case Fanout():
                return self._fanout(node)
        raise TypeError(f"unknown node {node!r}")

    def _static_moments(self, node: Node) -> tuple[float, float]:
        key = id(node)
        if key not in self._static:
            k1, k2, _ = static_cumulants(node)
            self._static[key] = (k1, k2)
        return self._static[key]

    def _fanout(self, node: Fanout) -> MomentPair:
        """E[T] and Var[T] of a parallel step, from gamma fits of its branches on a grid."""
        branches = [(*self.of(b.part), b.count, b.probability) for b in node.branches]
        made = [(m, v, n, p) for m, v, n, p in branches if n * p > 0]
        if not made:
            return np.zeros(self.count), np.zeros(self.count)
        fits = [(*gamma_fit(m, v), n, p) for m, v, n, p in made]
        top = np.zeros(self.count)
        for shape, scale, _, _ in fits:
            top = np.maximum(top, special.gammaincinv(shape, 1 - 1e-7) * scale)
        top = np.where(top > 0, top, 1.0)
        x = top[:, None] * np.linspace(0.0, 1.0, FANOUT_POINTS)[None, :]
        parts = []
        for shape, scale, count, probability in fits:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(scale[:, None] > 0, x / scale[:, None], np.inf)
            cdf = special.gammainc(shape[:, None], ratio)
            parts.append((cdf, count, probability))
        survival = 1.0 - order_statistic_cdf(parts, node.wait_for)
        mean = np.trapezoid(survival, x, axis=1)
        second = np.trapezoid(2 * x * survival, x, axis=1)
        return mean, np.maximum(second - mean**2, 0.0)


# ----------------------------------------------------------------------------- lattice


def limited_expectation(dist: Distribution, x: np.ndarray) -> np.ndarray:
    """E[min(X, x)] for a scenario distribution, at lattice points x ≥ 0."""
    mean = float(dist.mean_s)
    match dist:
        case Exponential():
            return mean * -np.expm1(-x / mean)
        case Gamma():
            return gamma_limited(1.0 / dist.cv**2, mean * dist.cv**2, x)
        case LogNormal():
            sigma = math.sqrt(math.log1p(dist.cv**2))
            mu = math.log(mean) - sigma**2 / 2
            with np.errstate(divide="ignore"):
                z = (np.log(x) - mu) / sigma
            return mean * special.ndtr(z - sigma) + x * special.ndtr(-z)
        case Uniform():
            half = math.sqrt(3) * dist.cv * mean
            return uniform_limited(mean - half, mean + half, x)
    raise TypeError(f"no closed form for {dist!r}")


def gamma_limited(shape: float, scale: float, x: np.ndarray) -> np.ndarray:
    ratio = x / scale
    return shape * scale * special.gammainc(shape + 1, ratio) + x * special.gammaincc(
        shape, ratio
    )


def uniform_limited(low: float, high: float, x: np.ndarray) -> np.ndarray:
    if high <= low:
        return np.minimum(x, low)
    inside = x - (x - low) ** 2 / (2 * (high - low))
    return np.where(x <= low, x, np.where(x >= high, (low + high) / 2, inside))


class Lattice:
    """Distributions as masses on the points 0, h, 2h, ..., (N − 1)h, kept as spectra.

    A continuous piece is discretised by local moment matching (each point takes the
    expectation of a tent of width 2h around it), which keeps its mean exactly; an atom is
    split between its two neighbouring points, which also keeps the mean.
    """

    def __init__(self, span: float, points: int = GRID_POINTS) -> None:
        self.points = points
        self.step = span / (points - 1)
        self.x = np.arange(points + 1) * self.step

    def spectrum(self, masses: np.ndarray) -> np.ndarray:
        return np.fft.rfft(masses)

    def masses(self, spectrum: np.ndarray) -> np.ndarray:
        values = np.fft.irfft(spectrum, self.points)
        values = np.maximum(values, 0.0)
        total = values.sum()
        return values / total if total > 0 else values

    def ones(self) -> np.ndarray:
        return np.ones(self.points // 2 + 1, dtype=complex)

    def from_limited(self, limited: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Masses from E[min(X, x)]; what lies past the lattice goes to its last point."""
        lev = limited(self.x)
        h = self.step
        masses = np.empty(self.points)
        masses[0] = 1.0 - lev[1] / h
        masses[1:] = (2 * lev[1:-1] - lev[:-2] - lev[2:]) / h
        masses = np.maximum(masses, 0.0)
        masses[-1] += max(0.0, 1.0 - masses.sum())
        return masses

    def atoms(self, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Masses of atoms at `values`, each split between its two nearest points."""
        position = np.clip(np.asarray(values, dtype=float) / self.step, 0, self.points - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, self.points - 1)
        upper = position - low
        masses = np.bincount(low, weights * (1 - upper), self.points)
        masses += np.bincount(high, weights * upper, self.points)
        return masses

    def distribution(self, dist: Distribution) -> np.ndarray:
        match dist:
            case Constant():
                return self.atoms(np.array([dist.mean_s]), np.array([1.0]))
            case Empirical():
                values = dist.values
                return self.atoms(values, np.full(values.size, 1.0 / values.size))
        return self.from_limited(lambda x: limited_expectation(dist, x))


class LatticeEvaluator:
    """The lattice distribution of tree nodes at one step, on one lattice (memoised)."""

    def __init__(self, model: Model, steps: StationSteps, step: int, lattice: Lattice) -> None:
        self.model = model
        self.steps = steps
        self.step = step
        self.lattice = lattice
        self._memo: dict[object, np.ndarray] = {}

    def visit(self, service: str) -> np.ndarray:
        key = ("visit", service)
        if key not in self._memo:
            self._memo[key] = self.of(self.model.visits[service])
        return self._memo[key]

    def of(self, node: Node) -> np.ndarray:
        match node:
            case VisitOf():
                return self.visit(node.service)
            case Delay():
                return self._cached(id(node.dist), lambda: self.lattice.distribution(node.dist))
            case Fixed():
                return self._cached(
                    ("fixed", node.value),
                    lambda: self.lattice.atoms(np.array([node.value]), np.array([1.0])),
                )
            case Work():
                return self.wait(node.station) * self.of(node.service)
            case Seq():
                result = self.lattice.ones()
                for part in node.parts:
                    result = result * self.of(part)
                return result
            case Repeat():
                return (1 - node.probability + node.probability * self.of(node.part)) ** node.count
            case Fanout():
                return self._fanout(node)
        raise TypeError(f"unknown node {node!r}")

    def _cached(self, key: object, make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._memo:
            self._memo[key] = self.lattice.spectrum(make())
        return self._memo[key]

    def wait(self, station: int) -> np.ndarray:
        key = ("wait", station)
        if key not in self._memo:
            s, t = self.steps, self.step
            lattice = self.lattice
            c_wait = float(s.p_wait_stationary[t, station])
            shape, scale = float(s.wait_shape[t, station]), float(s.wait_scale[t, station])
            if c_wait > 0 and scale > 0:
                queue = c_wait * lattice.from_limited(lambda x: gamma_limited(shape, scale, x))
                queue[0] += 1 - c_wait
            else:
                queue = lattice.atoms(np.array([0.0]), np.array([1.0]))
            spectrum = lattice.spectrum(queue)
            share = float(s.delay_share[t, station])
            if share > 0:
                low, high = float(s.delay_low[t, station]), float(s.delay_high[t, station])
                delay = share * lattice.from_limited(lambda x: uniform_limited(low, high, x))
                delay[0] += 1 - share
                spectrum = spectrum * lattice.spectrum(delay)
            self._memo[key] = spectrum
        return self._memo[key]

    def _fanout(self, node: Fanout) -> np.ndarray:
        parts = [
            (np.cumsum(self.lattice.masses(self.of(b.part))), b.count, b.probability)
            for b in node.branches
        ]
        cdf = np.clip(order_statistic_cdf(parts, node.wait_for), 0.0, 1.0)
        cdf = np.maximum.accumulate(cdf)
        masses = np.diff(cdf, prepend=0.0)
        masses[-1] += 1.0 - cdf[-1]
        return self.lattice.spectrum(masses)


def lattice_distribution(
    model: Model, steps: StationSteps, step: int, node: Node, mean: float, sd: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points and masses of a node's latency at one step, on a lattice that holds it.

    The lattice spans mean + GRID_SIGMAS·sd and is doubled (up to 3 times) while more than
    TAIL_MASS lies in its last 5% (a heavy tail, or a wrong guess of the spread).
    """
    span = max(mean + GRID_SIGMAS * sd, 1e-12)
    for _ in range(4):
        lattice = Lattice(span)
        masses = lattice.masses(LatticeEvaluator(model, steps, step, lattice).of(node))
        if masses[-lattice.points // 20 :].sum() <= TAIL_MASS:
            break
        span *= 2
    return lattice.x[:-1], masses


def quantile_function(points: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Quantiles at LEVELS of lattice masses, each spread evenly over its cell."""
    step = points[1] - points[0] if points.size > 1 else 1.0
    edges = np.concatenate([[points[0] - step / 2], points + step / 2])
    cdf = np.concatenate([[0.0], np.cumsum(masses)])
    cdf = np.minimum(cdf / cdf[-1], 1.0)
    keep = np.concatenate([[True], np.diff(cdf) > 0])  # strictly increasing for interp
    values = np.interp(LEVELS, cdf[keep], edges[keep])
    return np.maximum(values, 0.0)


# ----------------------------------------------------------------------------- mixtures


def mixture_cdf(quantiles: np.ndarray, weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Σ_r w_r F_r(x) / Σ w for rows of quantile functions at LEVELS (rows × LEVELS)."""
    rows, count = quantiles.shape
    low, high = float(quantiles.min()), float(quantiles.max())
    span = (high - low) + 1.0 + float(np.abs(x).max(initial=0.0))
    offset = np.arange(rows)[:, None] * span
    keys = (quantiles - low + offset).ravel()
    probes = (np.asarray(x)[None, :] - low) + offset
    index = np.searchsorted(keys, probes.ravel(), side="right").reshape(probes.shape)
    index = index - np.arange(rows)[:, None] * count - 1  # last quantile ≤ x, per row
    below = index < 0
    above = index >= count - 1
    i = np.clip(index, 0, count - 2)
    q0 = np.take_along_axis(quantiles, i, axis=1)
    q1 = np.take_along_axis(quantiles, i + 1, axis=1)
    gap = q1 - q0
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(gap > 0, (np.asarray(x)[None, :] - q0) / gap, 1.0)
    values = LEVELS[i] + np.clip(fraction, 0.0, 1.0) * (LEVELS[i + 1] - LEVELS[i])
    values = np.where(below, 0.0, np.where(above, 1.0, values))
    return (weights @ values) / weights.sum()


def mixture_quantiles(
    quantiles: np.ndarray, weights: np.ndarray, probabilities: list[float], rounds: int = 3
) -> list[float]:
    """Quantiles of the mixture of rows (weights ≥ 0), by narrowing a bracket per probability.

    A mixture's p-quantile lies between its rows' smallest and largest p-quantiles; each
    round evaluates the mixture CDF at 64 points of every bracket and keeps the cell where
    it crosses p; the last round interpolates linearly in that cell.
    """
    keep = weights > 0
    quantiles, weights = quantiles[keep], weights[keep]
    if not len(weights):
        return [math.nan] * len(probabilities)
    if len(weights) == 1 or np.all(quantiles == quantiles[0]):
        return [float(np.interp(p, LEVELS, quantiles[0])) for p in probabilities]
    brackets = []
    for p in probabilities:
        j = int(np.clip(np.searchsorted(LEVELS, p), 1, LEVELS.size - 1))
        brackets.append((float(quantiles[:, j - 1].min()), float(quantiles[:, j].max())))
    grid = np.linspace(0.0, 1.0, 64)
    found = [math.nan] * len(probabilities)
    for round_ in range(rounds):
        xs = np.concatenate([low + (high - low) * grid for low, high in brackets])
        cdf = mixture_cdf(quantiles, weights, xs).reshape(len(brackets), grid.size)
        for b, p in enumerate(probabilities):
            low, high = brackets[b]
            points = low + (high - low) * grid
            k = int(np.clip(np.searchsorted(cdf[b], p, side="left"), 1, grid.size - 1))
            brackets[b] = (float(points[k - 1]), float(points[k]))
            if round_ == rounds - 1:
                c0, c1 = cdf[b, k - 1], cdf[b, k]
                fraction = (p - c0) / (c1 - c0) if c1 > c0 else 0.5
                found[b] = float(points[k - 1] + fraction * (points[k] - points[k - 1]))
    return found
