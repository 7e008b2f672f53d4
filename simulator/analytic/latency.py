"""Latency composed over the call graph: moments in every state, distributions in a few.

Two layers, both over the latency trees of `flows` (a *state* is a time step, or several
with the same load; see `run.Timeline`):

* **Moments, in every state** (vectorised over states): the mean and variance of a visit.
  A work step adds its station's wait and its service time; steps in turn add (their parts
  are taken as independent); a call step done N ~ Binomial(count, p) times is a compound
  sum; a parallel step is the maximum (or the k-th order statistic) of its branches, each
  approximated by a gamma with the branch's mean and variance and integrated numerically
  on a grid.
* **Distributions, in representative states**: the whole latency distribution of a
  request on a lattice, every piece discretised exactly in the mean (local moment
  matching), pieces added by FFT convolution, and a parallel step's maximum or order
  statistic taken from its branches' lattice CDFs (calls of one batch to a shared queue
  share their first wait). `run` interpolates the standardised shape between
  representatives and scales it by each state's mean and standard deviation.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from typing import cast

import numpy as np

from ..scenario.distributions import (
    Constant,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    Uniform,
)
from . import special
from .flows import (
    Delay,
    Fanout,
    Fixed,
    Model,
    Node,
    Repeat,
    Seq,
    SharedWait,
    VisitOf,
    WorkNode,
    static_cumulants,
)
from .stations import StationColumns, StationSteps

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


def order_statistic_cdf(
    parts: list[tuple[np.ndarray, int, float]], wait_for: int | None
) -> np.ndarray:
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
    """Mean and variance of every tree node at every step (arrays over steps).

    `earlier`: the moments of an earlier computation of these steps, whose rows `taken`
    are this one's rows `kept` (the same queues): a visit computed there is computed here
    at the other rows only; `rows`: the moments at these rows of the steps only. Every row
    is computed by itself (elementwise, or along its own grid), so the numbers are the same
    bit for bit as computed at every row.
    """

    def __init__(
        self,
        model: Model,
        steps: StationSteps,
        earlier: tuple[Moments, np.ndarray, np.ndarray] | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        self.model = model
        self.steps = steps
        self.count = steps.workers.shape[0]
        self._waits: tuple[np.ndarray, np.ndarray] | None = None
        self._slow = steps.slow
        if rows is not None:  # these rows of the steps only: their waits, nothing else
            self._waits = steps.wait_mean[rows], steps.wait_variance[rows]
            self.count = self._waits[0].shape[0]
            self._slow = steps.slow[rows] if steps.slow is not None else None
        self.visits: dict[tuple[str, bool], MomentPair] = {}
        self._static: dict[int, tuple[float, float]] = {}
        self._earlier: tuple[dict[tuple[str, bool], MomentPair], np.ndarray, np.ndarray] | None
        self._earlier = None
        self._fresh: Moments | None = None
        if earlier is not None:  # its visits only: not the steps it was computed from
            before, kept, taken = earlier
            self._earlier = (before.visits, kept, taken)
            self._static = before._static

    def visit(self, service: str, queued_first: bool = True) -> MomentPair:
        key = (service, queued_first)
        if key not in self.visits:
            if self._earlier is not None and key in self._earlier[0]:
                self.visits[key] = self._extended(key)
            else:
                trees = self.model.visits if queued_first else self.model.unqueued_visits
                self.visits[key] = self.of(trees[service])
        return self.visits[key]

    def _extended(self, key: tuple[str, bool]) -> MomentPair:
        """An earlier visit's rows kept, the others computed (by `_fresh`, on those rows)."""
        assert self._earlier is not None
        visits, kept, taken = self._earlier
        fresh = np.ones(self.count, dtype=bool)
        fresh[kept] = False
        if self._fresh is None:
            self._fresh = Moments(self.model, self.steps, rows=fresh)
            self._fresh._static = self._static
        pair = self._fresh.visit(*key) if fresh.any() else (np.zeros(0), np.zeros(0))
        out = []
        for before, now in zip(visits[key], pair, strict=True):
            values = np.empty(self.count)
            values[kept] = before[taken]
            values[fresh] = now
            out.append(values)
        return out[0], out[1]

    def wait(self, station: int) -> MomentPair:
        if self._waits is not None:
            return self._waits[0][:, station], self._waits[1][:, station]
        return self.steps.wait_mean[:, station], self.steps.wait_variance_at(station)

    def of(self, node: Node) -> MomentPair:
        match node:
            case VisitOf():
                return self.visit(node.service, node.queued_first)
            case Delay() | Fixed():
                k1, k2 = self._static_moments(node)
                return np.full(self.count, k1), np.full(self.count, k2)
            case WorkNode():
                k1, k2 = self._static_moments(node.service)
                slow = self._slowed(node.station)
                if slow is not None:  # a share x of the service times f times as long
                    x, f = slow
                    mean = k1 * (1.0 + x * (f - 1.0))
                    second = (k2 + k1 * k1) * (1.0 + x * (f * f - 1.0))
                    # rows without: the static variance itself, as computed without any
                    variance = np.where(x > 0, np.maximum(second - mean**2, 0.0), k2)
                    if not node.queued:
                        return mean, variance
                    wait_mean, wait_variance = self.wait(node.station)
                    return wait_mean + mean, wait_variance + variance
                if not node.queued:
                    return np.full(self.count, k1), np.full(self.count, k2)
                wait_mean, wait_variance = self.wait(node.station)
                return wait_mean + k1, wait_variance + k2
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
            case SharedWait():
                mean, second = self._shared(node)
                return mean, np.maximum(second - mean**2, 0.0)
            case Fanout():
                specs = [self._branch(b) for b in node.branches]
                mean, second = self._order_moments(specs, node.wait_for)
                return mean, np.maximum(second - mean**2, 0.0)
        raise TypeError(f"unknown node {node!r}")

    def _slowed(self, station: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The share x and factor f of a station's slow work steps per row (None when no
        row has any: the numbers stay those without latency regressions, bit for bit).
        The work steps of one visit are taken as slowed each on its own (at request level
        they share the visit's replica): exact in the mean, not in the variance."""
        slow = self._slow
        if slow is None or not (slow[:, station, 0] > 0).any():
            return None
        return slow[:, station, 0], slow[:, station, 1]

    def _static_moments(self, node: Node) -> tuple[float, float]:
        key = id(node)
        if key not in self._static:
            k1, k2, _ = static_cumulants(node)
            self._static[key] = (k1, k2)
        return self._static[key]

    def _branch(self, branch: Repeat | SharedWait) -> tuple[np.ndarray, np.ndarray, int, float]:
        """(mean, variance) of one call of a branch, given that it is made; count; chance."""
        if isinstance(branch, Repeat):
            return (*self.of(branch.part), branch.count, branch.probability)
        made = 1.0 - _none_made(branch.members)
        if made <= 0:
            return np.zeros(self.count), np.zeros(self.count), 1, 0.0
        mean, second = self._shared(branch)
        mean, second = mean / made, second / made
        return mean, np.maximum(second - mean**2, 0.0), 1, made

    def _shared(self, node: SharedWait) -> MomentPair:
        """E[T] and E[T²] of a shared-wait group: T = W·1{a call is made} + M, with M the
        time from the end of the shared wait to the last (or k-th) answer (0 if none)."""
        specs = [(*self.of(m.part), m.count, m.probability) for m in node.members]
        m1, m2 = self._order_moments(specs, node.wait_for)
        made = 1.0 - _none_made(node.members)
        w1, w_var = self.wait(node.station)
        w2 = w_var + w1**2
        return made * w1 + m1, made * w2 + 2 * w1 * m1 + m2

    def _order_moments(
        self, specs: list[tuple[np.ndarray, np.ndarray, int, float]], wait_for: int | None
    ) -> MomentPair:
        """E[T] and E[T²] of the last (or k-th) of independent calls, each approximated by a
        gamma with its mean and variance, integrated on a grid per step."""
        made = [(m, v, n, p) for m, v, n, p in specs if n * p > 0]
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
        survival = 1.0 - order_statistic_cdf(parts, wait_for)
        # 2-D grids integrated along axis 1 give arrays; numpy's stubs allow a scalar too
        mean = cast(np.ndarray, np.trapezoid(survival, x, axis=1))
        second = cast(np.ndarray, np.trapezoid(2 * x * survival, x, axis=1))
        return mean, second


def _none_made(members: tuple[Repeat, ...]) -> float:
    return math.prod((1 - m.probability) ** m.count for m in members)


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


BATCHED = (Exponential, Gamma, LogNormal)
"""The distributions whose lattice masses `limited_rows` gives for many at once."""


def limited_rows(lattice: Lattice, dists: list[Distribution]) -> np.ndarray:
    """`limited_expectation(dist, lattice.x)` of each distribution (each of a type in
    BATCHED), a row each: the same bits, a few numpy calls per type instead of some ten
    per distribution. Every element is computed by the same operations from the same
    operands (a distribution's parameters, the same Python floats, as a column instead of
    a scalar; the same x; every array contiguous, as the one row's is, so that numpy's
    vectorised expm1 and log take the same path); a gamma's rows are `Lattice.gamma_levels`,
    which gives `gamma_limited`'s bits."""
    x = lattice.x
    out = np.empty((len(dists), x.size))
    kinds = np.array([BATCHED.index(type(dist)) for dist in dists], dtype=np.intp)
    means = np.array([float(dist.mean_s) for dist in dists])
    for kind in np.unique(kinds).tolist():
        rows = np.flatnonzero(kinds == kind)
        group = [dists[r] for r in rows.tolist()]
        mean = means[rows][:, None]
        if BATCHED[kind] is Exponential:
            out[rows] = mean * -np.expm1(-x / mean)
        elif BATCHED[kind] is Gamma:
            cvs = [cast(Gamma, dist).cv for dist in group]
            shape = np.array([1.0 / cv**2 for cv in cvs])
            scale = np.array([float(d.mean_s) * cv**2 for d, cv in zip(group, cvs, strict=True)])
            out[rows] = lattice.gamma_levels(shape, scale)
        else:
            sigmas = [math.sqrt(math.log1p(cast(LogNormal, dist).cv ** 2)) for dist in group]
            mus = [
                math.log(float(d.mean_s)) - sigma**2 / 2
                for d, sigma in zip(group, sigmas, strict=True)
            ]
            sigma, mu = np.array(sigmas)[:, None], np.array(mus)[:, None]
            with np.errstate(divide="ignore"):
                z = (np.log(x) - mu) / sigma
            out[rows] = mean * special.ndtr(z - sigma) + x * special.ndtr(-z)
    return out


def gamma_limited(shape: float, scale: float, x: np.ndarray) -> np.ndarray:
    """E[min(X, x)] = kθ·P(k + 1, x/θ) + x·(1 − P(k, x/θ)), with P(k + 1, y) = P(k, y) −
    y^k e^(−y) / Γ(k + 1), so one regularised incomplete gamma serves both terms.

    For ascending `x` (lattice points) the far tail is not evaluated: where P(k, y) is 1.0
    in floating point and y^k e^(−y) / Γ(k + 1) at most 2⁻⁵⁴ (so that 1.0 minus it rounds
    to 1.0), the formula gives exactly kθ (`kθ·1.0 + x·0.0`). The first point past TAIL_Y
    is evaluated and must show both, else every point is; beyond it P stays 1.0 (it only
    grows) and the density only falls. A
    queue's wait on a request's lattice is mostly such tail: the same bits, far sooner.
    """
    y = x / scale
    cut = int(np.searchsorted(y, shape + TAIL_Y + 10.0 * math.sqrt(shape)))
    if cut < y.size - 1 and y[0] >= 0 and y[-1] >= y[cut]:
        head = _gamma_limited(shape, scale, x[: cut + 1], y[: cut + 1])
        if head[1][-1] == 1.0 and head[2][-1] <= 2.0**-54:
            values = np.full(x.size, shape * scale)
            values[: cut + 1] = head[0]
            return values
    return _gamma_limited(shape, scale, x, y)[0]


TAIL_Y = 40.0
"""`gamma_limited` skips y past k + TAIL_Y + 10√k (the upper tail there is below 1e-17)."""

DENSITY_Y = 54.0 * math.log(2.0) + 1.0
"""−ln of a bound on the density term past `Lattice.gamma_levels`' cut: 2⁻⁵⁴ divided by e."""


def _gamma_limited(
    shape: float | np.ndarray, scale: float | np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E[min(X, x)] at x = y·scale, with P(k, y) and the density term it was made of."""
    lower = special.gammainc(shape, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.exp(shape * np.log(y) - y - special.gammaln(shape + 1))
    density = np.where(y > 0, density, 0.0)
    limited = shape * scale * np.maximum(lower - density, 0.0) + x * (1.0 - lower)
    return limited, lower, density


def uniform_limited(low: float, high: float, x: np.ndarray) -> np.ndarray:
    if high <= low:
        return np.minimum(x, low)
    inside = x - (x - low) ** 2 / (2 * (high - low))
    return np.where(x <= low, x, np.where(x >= high, (low + high) / 2, inside))


class Lattice:
    """Distributions as masses on the points 0, h, 2h, ..., (N − 1)h, kept as spectra.

    A continuous piece is discretised by local moment matching (each point takes the
    expectation of a tent of width 2h around it), which keeps its mean exactly; an atom is
    split between its two neighbouring points, which also keeps the mean. Masses and
    spectra may be rows (several steps at once, along the last axis): every operation acts
    on each row alone, with the same floating-point operations as on one.
    """

    def __init__(self, span: float, points: int = GRID_POINTS) -> None:
        self.points = points
        self.step = span / (points - 1)
        self.x = np.arange(points + 1) * self.step
        self._ones = np.ones(points // 2 + 1, dtype=complex)
        self._ones.flags.writeable = False

    def spectrum(self, masses: np.ndarray) -> np.ndarray:
        return np.fft.rfft(masses, axis=-1)

    def masses(self, spectrum: np.ndarray) -> np.ndarray:
        """Masses from a spectrum: negative ones (rounding) made 0, then normalised (a row
        of total 0 kept as it is). In place in the inverse FFT's own array: the maximum and
        the division of `np.where(total > 0, values / total, values)` element by element,
        the same numbers without two temporaries."""
        values = np.fft.irfft(spectrum, self.points, axis=-1)
        np.maximum(values, 0.0, out=values)
        total = values.sum(axis=-1, keepdims=True)
        np.divide(values, total, out=values, where=total > 0)
        return values

    def ones(self) -> np.ndarray:
        """The spectrum of an atom at 0 (read-only: shared)."""
        return self._ones

    def from_limited(self, limited: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Masses from E[min(X, x)]; what lies past the lattice goes to its last point."""
        return self.from_levels(limited(self.x))

    def from_levels(self, lev: np.ndarray) -> np.ndarray:
        """Masses from E[min(X, x)] at the lattice's points and one more (rows allowed).

        Past the last point where some row's level still changes, every mass is
        (2c − c − c)/h = 0 exactly: those are not computed (a queue's wait is short beside a
        request's lattice, so that is most of it), and a row's total is summed over the
        block of it that holds the others (`_pairwise_block`: the same sum)."""
        h = self.step
        n = self.points
        masses = np.zeros((*lev.shape[:-1], n))
        if lev.ndim == 1:  # a fixed piece: one row
            changing = np.flatnonzero(lev != lev[-1])
        else:
            flat = lev.reshape(-1, lev.shape[-1])
            changing = np.flatnonzero((flat != flat[:, -1:]).any(axis=0))
        m = min(int(changing[-1]) + 2, n) if changing.size else 1
        masses[..., 0] = 1.0 - lev[..., 1] / h
        masses[..., 1:m] = (2 * lev[..., 1:m] - lev[..., : m - 1] - lev[..., 2 : m + 1]) / h
        head = masses[..., :m]  # past it every mass is 0 (and max(0, 0) is 0)
        np.maximum(head, 0.0, out=head)  # in place: the same numbers, no second array
        rest = 1.0 - masses[..., : _pairwise_block(m, n)].sum(axis=-1)  # the whole row's sum
        masses[..., -1] += np.where(rest > 0.0, rest, 0.0)
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

    def gamma_levels(self, shape: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """`gamma_limited` at the lattice's points, one row per (shape, scale): the far tail
        (exactly kθ, see there) is filled in, not evaluated, past the last row's cut
        (`gamma_head`)."""
        head, fill = self.gamma_head(shape, scale)
        return _widened(head, fill, self.x.size)

    def gamma_head(self, shape: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`gamma_limited` at the lattice's first points, one row per (shape, scale), and
        each row's value at every later point (kθ): the rows' head, as wide as the last
        row's cut (or every point).

        A row's cut is `gamma_limited`'s, or sooner where the density term is surely below
        2⁻⁵⁴: y^k e^(−y) / Γ(k + 1) < e^(−DENSITY_Y) once y ≥ DENSITY_Y + k ln y₀ −
        ln Γ(k + 1), for y up to that cut y₀ (beyond y₀ > k it only falls): a wait's shape
        is about 1, where that is some 15% fewer points. The cut is checked as there (P
        exactly 1.0 and the density at most 2⁻⁵⁴ at the first point past it, else the whole
        row is evaluated), so the numbers are the same bits either way. Each row's cut (the
        points with y = x/θ below its limit) is found by a search of x, not by dividing
        every point (`_count_below`)."""
        x = self.x
        limit = shape + TAIL_Y + 10.0 * np.sqrt(shape)
        limit = np.minimum(limit, DENSITY_Y + shape * np.log(limit) - special.gammaln(shape + 1))
        fill = shape * scale
        counts = _count_below(x, scale, limit)
        if counts is None:  # not finite: every point divided, as a row of y ascends
            counts = (x[None, :] / scale[:, None] < limit[:, None]).sum(axis=1)
        cut = int(counts.max())
        if cut >= x.size - 1:
            y = x[None, :] / scale[:, None]
            return _gamma_limited(shape[:, None], scale[:, None], x, y)[0], fill
        head, lower, density = _gamma_limited(
            shape[:, None], scale[:, None], x[: cut + 1], x[None, : cut + 1] / scale[:, None]
        )
        failed = np.flatnonzero((lower[:, -1] != 1.0) | (density[:, -1] > 2.0**-54))
        if not failed.size:
            return head, fill
        levels = _widened(head, fill, x.size)
        for r in failed:
            levels[r] = _gamma_limited(shape[r], scale[r], x, x / scale[r])[0]
        return levels, fill

    def wait_masses(self, waiting: np.ndarray, shape: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """The masses of gamma waits (a row per queue: P(wait) > 0 in `waiting`, shape k,
        scale θ > 0) with an atom of 1 − P(wait) at 0: the numbers of `from_levels` of
        every row's levels at every point, scaled (`LatticeEvaluator.wait`), from the
        levels up to the rows' cuts only (`wait_heads`)."""
        return self.spread(*self.wait_heads(waiting, shape, scale))

    def wait_heads(
        self, waiting: np.ndarray, shape: np.ndarray, scale: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """`wait_masses` as `queue_heads` gives them (exponential rows, k = 1, in closed
        form, `_exponential_head`; the others `gamma_head`)."""
        exponential = shape == 1.0  # E[min(W, x)] in closed form
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if exponential.any():
            theta = scale[exponential][:, None]
            parts.append((exponential, _exponential_head(theta, self.x), theta[:, 0]))
        if not exponential.all():
            gamma = ~exponential
            parts.append((gamma, *self.gamma_head(shape[gamma], scale[gamma])))
        widest = max(head.shape[1] for _, head, _ in parts)
        width = min(widest + 2, self.x.size)  # every row ends on its last level, repeated
        levels = np.empty((shape.size, width))
        for rows, head, fill in parts:
            levels[rows] = _widened(head, fill, width)
        return self.queue_heads(levels, waiting[:, None])

    def queue_masses(self, levels: np.ndarray, waiting: np.ndarray) -> np.ndarray:
        """`waiting · from_levels(levels)` plus an atom of 1 − `waiting` at 0, a row per
        queue (a column of `waiting`, each in (0, 1]), from the rows' levels at the first
        points only: every later point's level is the row's last one (`levels` at least
        two points, at most every point); see `queue_heads`."""
        return self.spread(*self.queue_heads(levels, waiting))

    def queue_heads(
        self, levels: np.ndarray, waiting: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """`queue_masses` as the rows' first points (a block of them: every later one but
        the last is 0) and their last points (None where the block is every point).

        The same numbers as computed at every point: past the last point where a level
        changes the masses are 0 exactly, and so stay (0 times a finite positive number);
        each row's total is summed over the smallest power-of-two block from the start (at
        least 128 points) that holds them, which is a subtree of numpy's pairwise sum of
        the whole row (blocks of 128, halves upwards) whose other subtrees add exact
        zeros; what is left (1 − the total, if positive) goes to the last point, 0 before,
        then scaled as the others. Each row's numbers are its own, whichever rows are
        evaluated beside it (only how many points are computed depends on them)."""
        rows, width = levels.shape
        n = self.points
        h = self.step
        changing = np.flatnonzero((levels != levels[:, -1:]).any(axis=0))
        m = min(int(changing[-1]) + 2, n) if changing.size else 1
        if m + 1 > width:  # the levels past the given points: each row's last one
            levels = _widened(levels, levels[:, -1], m + 1)
        block = _pairwise_block(m, n)
        masses = np.zeros((rows, block))
        masses[:, 0] = 1.0 - levels[:, 1] / h
        masses[:, 1:m] = (2 * levels[:, 1:m] - levels[:, : m - 1] - levels[:, 2 : m + 1]) / h
        head = masses[:, :m]
        np.maximum(head, 0.0, out=head)
        rest = 1.0 - masses.sum(axis=-1)  # the block's sum: the whole row's
        left = np.where(rest > 0.0, rest, 0.0)
        last = None
        if block == n:
            masses[:, -1] += left
        else:  # 0 + left is left (≥ +0), then scaled
            last = np.multiply(left, waiting[:, 0])
        np.multiply(waiting, head, out=head)
        if block == n and m < n:
            masses[:, -1] *= waiting[:, 0]
        masses[:, 0] += 1 - waiting[:, 0]
        return masses, last

    def spread(self, head: np.ndarray, last: np.ndarray | None) -> np.ndarray:
        """Rows of masses at every point from `queue_heads`' form."""
        if last is None:
            return head
        masses = np.zeros((head.shape[0], self.points))
        masses[:, : head.shape[1]] = head
        masses[:, -1] = last
        return masses


def _widened(head: np.ndarray, fill: np.ndarray, width: int) -> np.ndarray:
    """Rows of `head` continued with their `fill` up to `width` points."""
    if head.shape[-1] >= width:
        return head
    levels = np.empty((head.shape[0], width))
    levels[:, : head.shape[-1]] = head
    levels[:, head.shape[-1] :] = fill[:, None]
    return levels


def _pairwise_block(m: int, n: int) -> int:
    """The smallest block from a row's start, of at least `m` of its `n` values, whose sum
    numpy's pairwise summation of the row adds as one subtree: a power of two from 128
    (its unrolled leaf) up, when `n` is one (else the whole row)."""
    if n < 128 or n & (n - 1):
        return n
    block = 128
    while block < m:
        block *= 2
    return min(block, n)


def _count_below(x: np.ndarray, scale: np.ndarray, limit: np.ndarray) -> np.ndarray | None:
    """For each row, how many of the ascending points x have x / θ < limit (θ > 0): the
    same integers as dividing every point, from a search of x for limit·θ corrected by the
    divisions either side of it (x / θ does not decrease along x). None where θ or the
    limit is not finite, or the correction does not settle."""
    if not (np.isfinite(scale).all() and np.isfinite(limit).all() and (scale > 0).all()):
        return None
    n = x.size
    count = np.searchsorted(x, limit * scale)
    for _ in range(8):
        down = (count > 0) & (x[np.maximum(count - 1, 0)] / scale >= limit)
        up = (count < n) & (x[np.minimum(count, n - 1)] / scale < limit)
        if not (down.any() or up.any()):
            return count
        count = count - down + up
    return None


class LatticeEvaluator:
    """The lattice distributions of visits at several steps at once, on one lattice.

    `rows[key]` are the steps (ascending) at which the visit `key` = (service,
    queued_first) is needed; its spectrum has one row per step, and a caller needed at fewer
    steps takes the rows it needs. `users[key]` counts who still needs a visit (callers not
    yet done, and the caller of `visit` for an entry point): at zero it is dropped, so a
    large fleet's visits are not all held at once. A station's wait is kept only while the
    visit that uses it is evaluated; the masses of the queues' waits the lattice needs are
    computed ahead, together (`_prepare`, at most PREPARED_BYTES of them). `shared` keeps
    the spectra of fixed pieces (work and network distributions) across evaluators, by
    lattice: they do not depend on the step.
    Fixed pieces are single rows that broadcast against the steps' rows.

    Products of spectra are `np.multiply(a, b)`, never `a * b`: on arrays past 256 KiB
    (16 rows) numpy's operator may reuse a temporary right operand in place as `b *= a`,
    and a complex product with its operands swapped can differ in the last bit (fused
    multiply-add in the imaginary part), which would make a row differ from the step
    evaluated alone.
    """

    def __init__(
        self,
        model: Model,
        steps: StationSteps,
        lattice: Lattice,
        rows: dict[tuple[str, bool], np.ndarray],
        users: dict[tuple[str, bool], int],
        children: dict[tuple[str, bool], frozenset[tuple[str, bool]]],
        shared: dict[object, np.ndarray] | None = None,
        names: dict[int, object] | None = None,
        parts: dict[int, TreeParts] | None = None,
    ) -> None:
        self.model = model
        self.steps = steps
        self.lattice = lattice
        self.rows = rows
        self.users = users
        self.children = children
        self._memo: dict[tuple[str, bool], np.ndarray] = {}
        self._waits: dict[int, np.ndarray] = {}
        self._fixed_spectra = {} if shared is None else shared
        self._names = {} if names is None else names
        """A network or work distribution's key among the fixed spectra, by its id (its
        repr, a pydantic model's, is slow, and a fleet's trees hold the same few thousands
        of times)."""
        self._parts = {} if parts is None else parts
        """Each tree's own stations and distributions (`_own_parts`), by its id: the same
        trees on every lattice."""
        self._fixed_ready = False
        self._prepared: dict[int, tuple[np.ndarray, int, int]] | None = None
        """Per station, the steps (ascending) and first row of its waits among the rows
        computed ahead (`_prepare`), and the one group that holds them all (−1: several;
        −2: not every row computed ahead)."""
        self._heads: list[tuple[np.ndarray, np.ndarray | None]] = []
        self._row_head = np.zeros(0, dtype=np.intp)
        self._row_index = np.zeros(0, dtype=np.intp)

    def visit(self, service: str, queued_first: bool, at: np.ndarray) -> np.ndarray:
        key = (service, queued_first)
        value = self._memo.get(key)
        if value is None:
            trees = self.model.visits if queued_first else self.model.unqueued_visits
            outer, self._waits = self._waits, {}
            value = self.of(trees[service], self.rows[key])
            self._waits = outer
            self._memo[key] = value
            for child in self.children[key]:
                self.release(child)
        if value.ndim == 2 and value.shape[0] != at.size:  # its rows at `at` (a copy)
            value = value.take(np.searchsorted(self.rows[key], at), axis=0)
        return value

    def release(self, key: tuple[str, bool]) -> None:
        """One user of a visit is done with it."""
        self.users[key] -= 1
        if self.users[key] <= 0:
            self._memo.pop(key, None)

    def of(self, node: Node, at: np.ndarray) -> np.ndarray:
        match node:
            case VisitOf():
                return self.visit(node.service, node.queued_first, at)
            case Delay():
                dist = node.dist  # equal distributions (by their fields) share a spectrum
                return self._fixed(self._name(dist), lambda: self.lattice.distribution(dist))
            case Fixed():
                return self._fixed(
                    ("fixed", node.value),
                    lambda: self.lattice.atoms(np.array([node.value]), np.array([1.0])),
                )
            case WorkNode():
                service = self.of(node.service, at)
                slowed = self._slowed(node.station, service, at)
                if not node.queued:
                    if not slowed:
                        return service
                    value = np.array(np.broadcast_to(service, (at.size, service.shape[-1])))
                    for r, spectrum in slowed.items():
                        value[r] = spectrum
                    return value
                wait = self.wait(node.station, at)
                value = np.multiply(wait, service)
                for r, spectrum in slowed.items():  # row by row: as each row evaluated alone
                    value[r] = np.multiply(wait[r], spectrum)
                return value
            case Seq():
                result = self.lattice.ones()
                owned = False  # a product made here (not `ones`, nor a part's own array)
                for part in node.parts:
                    spectrum = self.of(part, at)
                    if owned and _fits(spectrum.shape, result.shape):
                        np.multiply(result, spectrum, out=result)  # the same product, in place
                    elif _fits(result.shape, spectrum.shape) and self._own_array(part, spectrum):
                        result = np.multiply(result, spectrum, out=spectrum)  # into the part's
                    else:
                        result = np.multiply(result, spectrum)
                    owned = True
                return result
            case Repeat():
                made = self.of(node.part, at)
                if node.count == 1 and node.probability == 1.0:
                    return _made_once(made, _fresh(node.part))
                if node.count == 1:
                    return _made_with(node.probability, made)
                return (1 - node.probability + node.probability * made) ** node.count
            case Fanout():
                return self._fanout(node, at)
            case SharedWait():
                return self._shared(node, at)
        raise TypeError(f"unknown node {node!r}")

    def _own_array(self, node: Node, spectrum: np.ndarray) -> bool:
        """Whether `spectrum`, what `of(node)` just returned, is the caller's own to
        overwrite (`_fresh`; a visit's rows taken for fewer steps are a copy, not its
        memoised array)."""
        if isinstance(node, VisitOf):
            return spectrum is not self._memo.get((node.service, node.queued_first))
        return _fresh(node)

    def _slowed(self, station: int, service: np.ndarray, at: np.ndarray) -> dict[int, np.ndarray]:
        """A work step's spectrum at the rows of `at` where a share x of the station's work
        steps takes f times as long (`StationSteps.slow`), by row: the mixture
        (1 − x)·S + x·(f S), the slow part's masses moved to f times their points (each
        split between its neighbours, which keeps the mean). Each row by itself, so that
        its numbers do not depend on the rows evaluated beside it; none without."""
        slow = self.steps.slow
        if slow is None:
            return {}
        x, f = slow[at, station, 0], slow[at, station, 1]
        rows = np.flatnonzero(x > 0)
        if not rows.size:
            return {}
        points = self.lattice.x[: self.lattice.points]
        shared = self.lattice.masses(service) if service.ndim == 1 else None
        out = {}
        for r in rows.tolist():
            masses = shared if shared is not None else self.lattice.masses(service[r])
            scaled = self.lattice.atoms(points * f[r], masses)
            out[r] = self.lattice.spectrum((1.0 - x[r]) * masses + x[r] * scaled)
        return out

    def _name(self, dist: Distribution) -> object:
        """A distribution's key among the fixed spectra (see `_names`)."""
        key = self._names.get(id(dist))
        if key is None:
            key = id(dist) if isinstance(dist, Empirical) else repr(dist)
            self._names[id(dist)] = key
        return key

    def _fixed(self, key: object, make: Callable[[], np.ndarray]) -> np.ndarray:
        key = (key, self.lattice.step, self.lattice.points)
        found = self._fixed_spectra.get(key)
        if found is None and not self._fixed_ready:
            self._prepare_fixed()
            found = self._fixed_spectra.get(key)
        if found is None:
            found = self._fixed_spectra[key] = self.lattice.spectrum(make())
        return found

    def _prepare_fixed(self) -> None:
        """The spectra of the network and work distributions of every tree this evaluator
        will evaluate (of the types `limited_rows` takes), computed ahead, all at once:
        their levels (`limited_rows`), masses (`Lattice.from_levels` of the rows) and
        spectra (one FFT of the rows) instead of some twenty numpy calls each. Each row's
        numbers are its own, as one distribution's alone: `limited_rows` gives the bits of
        `limited_expectation`; `from_levels` computes each row from its own levels (a row
        past its last change gets masses of exactly 0, and its total is summed over a
        block whose other points are those zeros: the same sum); the FFT transforms each
        row by itself, as the steps' rows of a wait are."""
        self._fixed_ready = True
        lattice = self.lattice
        wanted: dict[tuple[object, float, int], Distribution] = {}
        for tree in self._trees():
            for dist in self._own(tree)[1]:
                if type(dist) in BATCHED:
                    key = (self._name(dist), lattice.step, lattice.points)
                    if key not in self._fixed_spectra:
                        wanted.setdefault(key, dist)
        keys, dists = list(wanted), list(wanted.values())
        for begin in range(0, len(keys), FIXED_CHUNK):
            chunk = dists[begin : begin + FIXED_CHUNK]
            spectra = lattice.spectrum(lattice.from_levels(limited_rows(lattice, chunk)))
            for key, row in zip(keys[begin : begin + FIXED_CHUNK], spectra, strict=True):
                self._fixed_spectra[key] = row

    def _trees(self) -> Iterator[Node]:
        """The trees of the visits this evaluator evaluates."""
        for service, queued_first in self.rows:
            trees = self.model.visits if queued_first else self.model.unqueued_visits
            yield trees[service]

    def _own(self, tree: Node) -> TreeParts:
        """`_own_parts` of a tree, found once for every lattice (`_parts`)."""
        found = self._parts.get(id(tree))
        if found is None:
            found = self._parts[id(tree)] = _own_parts(tree)
        return found

    def wait(self, station: int, at: np.ndarray) -> np.ndarray:
        """The wait at a station, one row per step of `at` (kept for the visit evaluated)."""
        if station in self._waits:
            return self._waits[station]
        s, lattice = self.steps, self.lattice
        prepared = self._prepared_masses(station, at)
        if prepared is not None:
            value = self._waits[station] = lattice.spectrum(prepared)
            return value
        c_wait = s.p_wait_stationary[at, station]
        shape, scale = s.wait_shape[at, station], s.wait_scale[at, station]
        queued = np.flatnonzero((c_wait > 0) & (scale > 0))
        share = s.delay_share[at, station]
        if queued.size == at.size and not (share > 0).any() and np.isfinite(c_wait).all():
            masses = lattice.wait_masses(c_wait, shape, scale)  # the same numbers, sooner
            value = self._waits[station] = lattice.spectrum(masses)
            return value
        queue = np.zeros((at.size, lattice.points))
        queue[:, 0] = 1.0  # no queue: an atom at 0
        if queued.size:
            levels = np.empty((queued.size, lattice.x.size))
            exponential = shape[queued] == 1.0  # E[min(W, x)] in closed form
            if exponential.any():
                theta = scale[queued[exponential]][:, None]
                levels[exponential] = _exponential_levels(theta, lattice.x)
            if not exponential.all():
                gamma = ~exponential
                levels[gamma] = lattice.gamma_levels(shape[queued[gamma]], scale[queued[gamma]])
            c = c_wait[queued][:, None]
            if queued.size == at.size:  # every row queued: scaled in place, not copied over
                queue = lattice.from_levels(levels)
                np.multiply(c, queue, out=queue)
                queue[:, 0] += 1 - c[:, 0]
            else:
                queue[queued] = c * lattice.from_levels(levels)
                queue[queued, 0] += 1 - c[:, 0]
        for r in np.flatnonzero(share > 0):  # behind the backlog, else the stationary queue
            low, high = float(s.delay_low[at[r], station]), float(s.delay_high[at[r], station])
            delay = lattice.from_levels(uniform_limited(low, high, lattice.x))
            queue[r] = (1 - float(share[r])) * queue[r] + float(share[r]) * delay
        value = self._waits[station] = lattice.spectrum(queue)
        return value

    def _prepared_masses(self, station: int, at: np.ndarray) -> np.ndarray | None:
        """The masses of a station's wait at the steps `at` from the rows computed ahead,
        if every one of the station's was (else None: `wait` computes them)."""
        if self._prepared is None:
            self._prepare()
            assert self._prepared is not None
        found = self._prepared.get(station)
        if found is None:
            return None
        steps, first, group = found
        if group == -2:  # not every row computed ahead
            return None
        if at.size == steps.size and np.array_equal(at, steps):
            index = self._row_index[first : first + steps.size]
            heads = self._row_head[first : first + steps.size]
        else:
            place = np.searchsorted(steps, at)
            inside = np.minimum(place, steps.size - 1)
            if (place >= steps.size).any() or (steps[inside] != at).any():
                return None
            index = self._row_index[first + place]
            heads = self._row_head[first + place]
        if group >= 0:  # all in one group
            head, last = self._heads[group]
            rows = head.take(index, axis=0)  # a copy, as `head[index]`, sooner
            return self.lattice.spread(rows, None if last is None else last[index])
        masses = np.zeros((at.size, self.lattice.points))
        for h in np.unique(heads).tolist():
            mine = np.flatnonzero(heads == h)
            head, last = self._heads[h]
            masses[mine, : head.shape[1]] = head[index[mine]]
            if last is not None:
                masses[mine, -1] = last[index[mine]]
        return masses

    def _prepare(self) -> None:
        """The masses of the waits this evaluator will need (the stations of each visit's
        own tree, at the visit's steps) that take `wait`'s way for queues (every row
        queued, none behind a backlog), computed ahead, all at once: rows grouped by how
        many points their levels need (`_wait_reach`), a few numpy calls per group instead of
        some dozens per station. Each row's numbers are its own, whichever rows are
        evaluated beside it (`Lattice.queue_heads`, `gamma_head`), so the same bits as
        computed station by station. At most PREPARED_BYTES of them (the shortest
        first); the others are computed by `wait` as it goes."""
        s = self.steps
        wanted: dict[int, list[np.ndarray]] = {}
        for tree, at in zip(self._trees(), self.rows.values(), strict=True):
            for station in self._own(tree)[0]:
                wanted.setdefault(station, []).append(at)
        self._prepared = {}
        if not wanted:
            return
        steps_of = [np.unique(np.concatenate(a)) if len(a) > 1 else a[0] for a in wanted.values()]
        sizes = np.array([steps.size for steps in steps_of])
        firsts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        stations = np.repeat(np.array(list(wanted), dtype=np.intp), sizes)
        steps = np.concatenate(steps_of)
        waiting = s.p_wait_stationary[steps, stations]
        shape, scale = s.wait_shape[steps, stations], s.wait_scale[steps, stations]
        share = s.delay_share[steps, stations]
        ready = (waiting > 0) & (scale > 0) & ~(share > 0) & np.isfinite(waiting)
        self._row_head = np.full(steps.size, -1, dtype=np.intp)
        self._row_index = np.zeros(steps.size, dtype=np.intp)
        rows = np.flatnonzero(ready)
        if rows.size:  # rows of the same bits (a queue in the same state) computed once
            first, inverse = _distinct_waits(waiting[rows], shape[rows], scale[rows])
            self._compute_ahead(waiting, shape, scale, rows[first])
            self._row_head[rows] = self._row_head[rows[first]][inverse]
            self._row_index[rows] = self._row_index[rows[first]][inverse]
        for station, at, first in zip(wanted, steps_of, firsts.tolist(), strict=True):
            heads = self._row_head[first : first + at.size]
            group = -2 if (heads < 0).any() else int(heads[0]) if (heads == heads[0]).all() else -1
            self._prepared[station] = (at, first, group)

    def _compute_ahead(
        self, waiting: np.ndarray, shape: np.ndarray, scale: np.ndarray, rows: np.ndarray
    ) -> None:
        """`Lattice.wait_heads` of the `rows`, grouped by reach (`_wait_reach`), up to
        PREPARED_BYTES of them, the shortest first."""
        lattice = self.lattice
        reach = _wait_reach(lattice, shape[rows], scale[rows])
        budget = PREPARED_BYTES
        for points in np.unique(reach).tolist():
            group = rows[reach == points]
            block = _pairwise_block(points, lattice.points)
            chunk = max(1, PREPARED_CHUNK // block)
            for begin in range(0, group.size, chunk):
                part = group[begin : begin + chunk]
                budget -= part.size * block * 8
                if budget < 0:
                    return
                head = lattice.wait_heads(waiting[part], shape[part], scale[part])
                self._row_head[part] = len(self._heads)
                self._row_index[part] = np.arange(part.size)
                self._heads.append(head)

    def _cdf(self, spectrum: np.ndarray) -> np.ndarray:
        return np.cumsum(self.lattice.masses(spectrum), axis=-1)

    def _from_cdf(self, cdf: np.ndarray) -> np.ndarray:
        cdf = np.maximum.accumulate(np.clip(cdf, 0.0, 1.0), axis=-1)
        masses = np.diff(cdf, prepend=0.0, axis=-1)
        masses[..., -1] += 1.0 - cdf[..., -1]
        return self.lattice.spectrum(masses)

    def _fanout(self, node: Fanout, at: np.ndarray) -> np.ndarray:
        parts = []
        for branch in node.branches:
            if isinstance(branch, Repeat):
                cdf = self._cdf(self.of(branch.part, at))
                parts.append((cdf, branch.count, branch.probability))
            else:  # its CDF already has the chance that none of its calls is made at 0
                parts.append((self._cdf(self._shared(branch, at)), 1, 1.0))
        return self._from_cdf(order_statistic_cdf(_common_shape(parts), node.wait_for))

    def _shared(self, node: SharedWait, at: np.ndarray) -> np.ndarray:
        """The shared wait, then the last (or k-th) of the calls: φ = P0 + φ_W·(φ_M − P0)."""
        parts = [(self._cdf(self.of(m.part, at)), m.count, m.probability) for m in node.members]
        after = self._from_cdf(order_statistic_cdf(_common_shape(parts), node.wait_for))
        none = _none_made(node.members)
        return none + np.multiply(self.wait(node.station, at), after - none)


PREPARED_BYTES = 64 * 2**20
"""At most this many bytes of waits' masses computed ahead by one `LatticeEvaluator`."""

GROUP_POINTS = 32
"""Waits computed ahead together reach within this many points of each other."""

PREPARED_CHUNK = 2**18
"""Points (rows × block) of the waits computed ahead in one go (a few MB a temporary)."""


TreeParts = tuple[list[int], list[Distribution]]

FIXED_CHUNK = 128
"""Distributions whose spectra `LatticeEvaluator._prepare_fixed` computes in one go (a few
MB a temporary)."""


def _own_parts(tree: Node) -> TreeParts:
    """The stations whose waits a visit's own tree reads (not those of the visits it
    calls), in order, once each; and the distributions of its network and work steps."""
    found: dict[int, None] = {}
    dists: list[Distribution] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        match node:
            case Delay():
                dists.append(node.dist)
            case WorkNode():
                if node.queued:
                    found[node.station] = None
                stack.append(node.service)
            case SharedWait():
                found[node.station] = None
                stack.extend(node.members)
            case Seq():
                stack.extend(node.parts)
            case Repeat():
                stack.append(node.part)
            case Fanout():
                stack.extend(node.branches)
    return list(found), dists


def _distinct_waits(
    waiting: np.ndarray, shape: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The waits whose (P(wait), shape, scale) differ in some bit (the first of each, in
    order) and, for every wait, the place of its own among them. A wait's masses are a
    function of those three numbers alone (`Lattice.wait_heads`: each row's numbers are
    its own, whichever rows are evaluated beside it), so a station at several steps in the
    same state, or stations alike, are computed once: the same bits."""
    bits = np.ascontiguousarray(np.stack([waiting, shape, scale], axis=1)).view(np.uint64)
    _, first, inverse = np.unique(bits, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(first.size, dtype=np.intp)
    rank[order] = np.arange(first.size)
    return first[order], rank[inverse.ravel()]


def _wait_reach(lattice: Lattice, shape: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """For each wait, about how many points its levels need (its cut, as
    `_exponential_head` or `gamma_head` finds it, rounded up to a multiple of
    GROUP_POINTS), to evaluate waits of about the same length together: only how much is
    computed depends on it, not the numbers."""
    x, n = lattice.x, lattice.points
    cut = np.searchsorted(x, 40.0 * scale)  # exponential
    gamma = shape != 1.0
    if gamma.any():
        k = shape[gamma]
        limit = k + TAIL_Y + 10.0 * np.sqrt(k)
        with np.errstate(divide="ignore", invalid="ignore"):
            limit = np.minimum(limit, DENSITY_Y + k * np.log(limit) - special.gammaln(k + 1))
        counts = _count_below(x, scale[gamma], limit)
        cut[gamma] = n if counts is None else counts
    return np.minimum(-(-(cut + 3) // GROUP_POINTS) * GROUP_POINTS, n)


def _fits(shape: tuple[int, ...], into: tuple[int, ...]) -> bool:
    """Whether an array of `shape` broadcasts against one of shape `into` without
    changing it (the rows and the spectrum's length, or one row)."""
    return shape == into or shape == into[-1:] or (len(into) == 2 and shape == (1, into[1]))


def _made_once(made: np.ndarray, in_place: bool = False) -> np.ndarray:
    """`_first_power(1 - 1.0 + 1.0 * made)` (a call made once, for certain), the same bits
    in one pass instead of four: for finite numbers 1.0·z is z and adding 0 + 0j turns a
    zero's sign to +0, as `_first_power` does (a spectrum is finite: |φ| ≤ 1). `in_place`:
    `made` is the caller's own (a product just made), overwritten instead of copied."""
    if not _finite(made):  # not a spectrum: the formula itself
        return _first_power(1 - 1.0 + 1.0 * made)
    return np.add(made, 0.0, out=made) if in_place else np.add(made, 0.0)


def _made_with(probability: float, made: np.ndarray) -> np.ndarray:
    """`_first_power(1 - probability + probability * made)` (a call made once with that
    chance), the same operations in fewer passes and no temporaries: `p * made` is numpy's
    `multiply(p, made)` (the operands in that order) and `(1 - p) + …` its `add`, here
    into the product itself, whose zeros are then made +0 + 0j in place."""
    base = np.multiply(probability, made)
    np.add(1 - probability, base, out=base)
    return _first_power(base, in_place=True)


def _finite(values: np.ndarray) -> bool:
    """`np.isfinite(values).all()`: of complex numbers as their real and imaginary parts
    (numpy's complex `isfinite` is an element-by-element loop, its float one vectorised)."""
    if values.dtype == np.complex128 and values.flags.c_contiguous:
        values = values.view(np.float64)
    return bool(np.isfinite(values).all())


def _fresh(node: Node) -> bool:
    """Whether `LatticeEvaluator.of` returns an array of its own for `node`, made for that
    call and held nowhere else: a sequence of parts makes its product anew (its first
    part's product is a new array or a part's own one), a queued work step its wait's
    product with the service time, a call its power (`_made_once`, `_first_power` or
    numpy's), a parallel step or shared wait its spectrum from a CDF. Not so a network or
    work distribution (a fixed spectrum, shared), an unqueued work step (its service
    time's, if not slowed), nor a visit (its memoised spectrum, unless rows are taken)."""
    match node:
        case Seq():
            return len(node.parts) > 0
        case WorkNode():
            return node.queued
        case Repeat() | Fanout() | SharedWait():
            return True
    return False


def _first_power(base: np.ndarray, in_place: bool = False) -> np.ndarray:
    """`base ** 1` of complex numbers, as numpy's power gives it (its `nc_pow`: the number
    itself, except that a complex zero becomes +0 + 0j), without its per-element call.
    A complex number equals 0 exactly where both its parts do (`==` compares both).
    `in_place`: `base` is the caller's own, overwritten instead of copied."""
    out = base if in_place else base.copy()
    zero = base == 0
    if zero.any():
        out[zero] = 0
    return out


def _exponential_levels(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """θ·(1 − e^(−x/θ)) (E[min(W, x)], exponential W) for a column of θ; past x = 40θ of
    every row (where e^(−x/θ) < 2⁻⁵⁷ and the expression is θ·1.0 exactly, checked at the
    first point skipped) the rows are filled with θ, not evaluated (`_exponential_head`)."""
    head = _exponential_head(theta, x)
    return _widened(head, theta[:, 0], x.size)


def _exponential_head(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`_exponential_levels` at the first points only, past which every row's level is
    its θ (or at every point)."""
    cut = int(np.searchsorted(x, 40.0 * float(theta.max())))
    if cut < x.size - 1:
        head = -np.expm1(-x[: cut + 1] / theta)
        if (head[:, -1] == 1.0).all():
            return theta * head
    return theta * -np.expm1(-x / theta)


def _common_shape(
    parts: list[tuple[np.ndarray, int, float]],
) -> list[tuple[np.ndarray, int, float]]:
    """Branch CDFs broadcast to one shape (a fixed branch is one row, a queued one has the
    steps' rows): each element is the same number, only repeated."""
    shapes = {cdf.shape for cdf, _, _ in parts}
    if len(shapes) == 1:
        return parts
    shape = np.broadcast_shapes(*shapes)
    return [(np.broadcast_to(cdf, shape), count, p) for cdf, count, p in parts]


def lattice_span(mean: float, sd: float) -> float:
    """The span of a lattice for a latency with this mean and sd: mean + GRID_SIGMAS·sd,
    rounded up to a power of two so that many evaluations can share one lattice."""
    span = max(mean + GRID_SIGMAS * sd, 1e-12)
    return 2.0 ** math.ceil(math.log2(span))


VisitKey = tuple[str, bool]


def visit_children(model: Model) -> dict[VisitKey, frozenset[VisitKey]]:
    """The visits each visit's tree refers to (its calls), by (service, queued_first)."""
    found: dict[VisitKey, frozenset[VisitKey]] = {}
    for queued_first, trees in ((True, model.visits), (False, model.unqueued_visits)):
        for service, tree in trees.items():
            seen: set[VisitKey] = set()
            stack: list[Node] = [tree]
            while stack:
                node = stack.pop()
                match node:
                    case VisitOf():
                        seen.add((node.service, node.queued_first))
                    case Seq():
                        stack.extend(node.parts)
                    case Repeat():
                        stack.append(node.part)
                    case Fanout():
                        stack.extend(node.branches)
                    case SharedWait():
                        stack.extend(node.members)
                    case WorkNode():
                        stack.append(node.service)
            found[service, queued_first] = frozenset(seen)
    return found


def lattice_distributions(
    model: Model, steps: StationSteps, jobs: list[tuple[str, int, float, float]]
) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """Points and masses of the latency of visits to entry services at given steps.

    `jobs`: (service, step, mean, sd). Jobs whose lattices have the same span are evaluated
    together, every step at once (one row per step: numpy's per-call cost is paid once per
    visit, not once per visit and step), and a visit their trees have in common is computed
    once, at the steps some job needs it; the fixed pieces (work and network distributions)
    are shared by every lattice of the same span. A lattice is doubled (up to three times)
    while more than TAIL_MASS of a distribution lies in its last 5% (a heavy tail, or a
    wrong guess of the spread). Each job's masses are the same numbers, to the bit, as if it
    were evaluated alone: every operation acts on each row by itself.
    """
    shared: dict[object, np.ndarray] = {}
    names: dict[int, object] = {}  # the model's distributions: alive while this runs
    parts: dict[int, TreeParts] = {}  # the model's trees: alive while this runs
    children = visit_children(model)
    reach: dict[VisitKey, list[VisitKey]] = {}
    groups: dict[float, list[tuple[str, int]]] = {}
    copies = _copied_jobs(model, steps, jobs, names, children, reach)
    for service, step, mean, sd in jobs:
        if (service, step) not in copies:
            groups.setdefault(lattice_span(mean, sd), []).append((service, step))
    found: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    retry: list[tuple[str, int, float]] = []
    grids: dict[tuple[float, int], np.ndarray] = {}

    def points(span: float, size: int) -> np.ndarray:
        """A lattice's points, one array for every job on it (a fleet has thousands)."""
        if (span, size) not in grids:
            grids[span, size] = np.arange(size) * (span / (size - 1))
        return grids[span, size]

    for span, members in groups.items():
        lattice = Lattice(span)
        for (service, step), masses in _evaluate(
            model, steps, lattice, members, children, reach, shared, names, parts
        ).items():
            if masses[-lattice.points // 20 :].sum() <= TAIL_MASS:
                found[service, step] = (points(span, masses.size), masses)
            else:
                retry.append((service, step, span))
    for service, step, span in retry:  # rare: one at a time, as wide as it needs
        wider = span
        for _ in range(3):
            wider *= 2
            bigger = Lattice(wider)
            masses = _evaluate(
                model, steps, bigger, [(service, step)], children, reach, shared, names, parts
            )[service, step]
            if masses[-bigger.points // 20 :].sum() <= TAIL_MASS:
                break
        found[service, step] = (points(wider, masses.size), masses)
    for job, original in copies.items():
        found[job] = found[original]
    return found


def _copied_jobs(
    model: Model,
    steps: StationSteps,
    jobs: list[tuple[str, int, float, float]],
    names: dict[int, object],
    children: dict[VisitKey, frozenset[VisitKey]],
    reach: dict[VisitKey, list[VisitKey]],
) -> dict[tuple[str, int], tuple[str, int]]:
    """Jobs that are copies of an earlier one (→ that job): the same lattice span, the same
    trees below the entry up to the names of services and stations (`_tree_code`), and the
    same bits of every number the evaluator reads of their stations at the two steps (the
    waits' parts, `StationSteps.slow`). Their masses are the same numbers, to the bit (each
    job's are as if it were evaluated alone): a fleet of copied services computes each
    distinct lattice once. Only entry points that reach as many visits as another one
    are compared (a fleet's copies; not sre-1000's twenty different trees)."""
    codes: dict[str, tuple[int, np.ndarray]] = {}
    kinds: dict[object, int] = {}
    by_entry: dict[str, list[tuple[int, float]]] = {}
    for service, step, mean, sd in jobs:
        by_entry.setdefault(service, []).append((step, lattice_span(mean, sd)))
    sizes = {e: len(_reach((e, True), children, reach)) for e in by_entry}
    alike = Counter(sizes.values())
    by_entry = {e: found for e, found in by_entry.items() if alike[sizes[e]] > 1}
    if not by_entry:
        return {}
    read: list[np.ndarray | StationColumns] = [
        steps.p_wait_stationary,
        steps.wait_shape,
        steps.wait_scale,
        steps.delay_share,
        steps.delay_low,
        steps.delay_high,
    ]
    if steps.slow is not None:
        read += [steps.slow[..., 0], steps.slow[..., 1]]
    seen: dict[tuple[float, int, bytes], tuple[str, int]] = {}
    copies: dict[tuple[str, int], tuple[str, int]] = {}
    for service, found in by_entry.items():
        if service not in codes:
            code, stations = _tree_code(model, service, names)
            codes[service] = (kinds.setdefault(code, len(kinds)), stations)
        kind, stations = codes[service]
        at = np.array([step for step, _ in found])
        values = np.stack([array[at[:, None], stations[None, :]] for array in read], axis=1)
        rows = np.ascontiguousarray(values.reshape(len(at), -1)).view(np.uint64)
        for (step, span), row in zip(found, rows, strict=True):
            key = (span, kind, row.tobytes())
            original = seen.setdefault(key, (service, step))
            if original != (service, step):
                copies[service, step] = original
    return copies


def _tree_code(model: Model, entry: str, names: dict[int, object]) -> tuple[object, np.ndarray]:
    """The trees of the visit to `entry` and every visit below it, as one hashable value in
    which visits and stations are numbered in the order they are met (equal for copies of
    a call graph under other names), and those stations in that order."""
    visits: dict[VisitKey, int] = {}
    stations: dict[int, int] = {}
    trees: list[object] = []

    def station(index: int) -> int:
        return stations.setdefault(index, len(stations))

    def code(node: Node) -> object:
        match node:
            case VisitOf():
                key = (node.service, node.queued_first)
                if key not in visits:
                    visits[key] = len(visits)
                    trees.append(None)
                    tree = model.visits if node.queued_first else model.unqueued_visits
                    trees[visits[key]] = code(tree[node.service])
                return ("visit", visits[key])
            case Delay():
                dist = node.dist
                name = names.get(id(dist))
                if name is None:
                    name = id(dist) if isinstance(dist, Empirical) else repr(dist)
                    names[id(dist)] = name
                return ("delay", name)
            case Fixed():
                return ("fixed", node.value)
            case WorkNode():
                return ("work", station(node.station), code(node.service), node.queued)
            case Seq():
                return ("seq", tuple(code(part) for part in node.parts))
            case Repeat():
                return ("repeat", code(node.part), node.count, node.probability)
            case Fanout():
                return ("fanout", tuple(code(b) for b in node.branches), node.wait_for)
            case SharedWait():
                members = tuple(code(m) for m in node.members)
                return ("shared", station(node.station), members, node.wait_for)
        raise TypeError(f"unknown node {node!r}")

    top = code(VisitOf(entry, True))
    return (top, tuple(trees)), np.array(list(stations), dtype=np.intp)


def _evaluate(
    model: Model,
    steps: StationSteps,
    lattice: Lattice,
    jobs: list[tuple[str, int]],
    children: dict[VisitKey, frozenset[VisitKey]],
    reach: dict[VisitKey, list[VisitKey]],
    shared: dict[object, np.ndarray],
    names: dict[int, object] | None = None,
    parts: dict[int, TreeParts] | None = None,
) -> dict[tuple[str, int], np.ndarray]:
    """Masses of visits to entry services at steps, on one lattice, all steps at once."""
    needed: dict[VisitKey, set[int]] = {}
    for service, step in jobs:
        for key in _reach((service, True), children, reach):
            needed.setdefault(key, set()).add(step)
    rows = {key: np.array(sorted(found)) for key, found in needed.items()}
    users = dict.fromkeys(rows, 0)
    for key in rows:
        for child in children[key]:
            users[child] += 1
    tops = list(dict.fromkeys((service, True) for service, _ in jobs))
    for key in tops:
        users[key] += 1
    evaluator = LatticeEvaluator(model, steps, lattice, rows, users, children, shared, names, parts)
    result: dict[tuple[str, int], np.ndarray] = {}
    for key in tops:
        wanted = np.array(sorted({step for service, step in jobs if service == key[0]}))
        masses = lattice.masses(evaluator.visit(key[0], True, wanted))
        evaluator.release(key)
        for r, step in enumerate(wanted.tolist()):
            result[key[0], step] = masses[r] if masses.ndim == 2 else masses
    return result


def _reach(
    key: VisitKey,
    children: dict[VisitKey, frozenset[VisitKey]],
    reach: dict[VisitKey, list[VisitKey]],
) -> list[VisitKey]:
    """`key` and every visit below it (memoised in `reach`)."""
    if key not in reach:
        seen = {key}
        stack = [key]
        while stack:
            for child in children[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        reach[key] = list(seen)
    return reach[key]


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

MIXTURE_CHUNK = 2048
"""Rows of quantile functions searched at once by `mixture_cdf`."""

HASHED_COLUMNS = 24
"""`RepeatedRows` finds rows that repeat by a hash of this many of their columns (then
compares whole rows)."""


class StackedRows:
    """Rows of quantile functions stacked from parts (each entry point's distinct rows),
    read a block at a time, never stacked whole: the rows of `np.vstack(parts)`, the same
    floats, each block a view of its part where it lies in one and else a copy of its own
    rows only. A fleet's entry points' rows stacked are entries × load states × LEVELS
    (327 MiB for 10,000 services over 25 hours), and its copied entry points share one
    array a part (`_entries`). An array is the one part of itself."""

    def __init__(self, parts: list[np.ndarray]) -> None:
        width = parts[0].shape[1] if parts else LEVELS.size
        self.parts = parts
        sizes = np.array([len(p) for p in self.parts], dtype=np.intp)
        self.ends = np.cumsum(sizes)
        self.starts = self.ends - sizes
        self.shape = (int(self.ends[-1]) if sizes.size else 0, width)

    @classmethod
    def of(cls, quantiles: np.ndarray | StackedRows) -> StackedRows:
        if isinstance(quantiles, StackedRows):
            return quantiles
        return cls([quantiles])

    def __len__(self) -> int:
        return self.shape[0]

    def block(self, begin: int, end: int) -> np.ndarray:
        """Rows begin to end (as a slice of the stacked rows)."""
        end = min(end, self.shape[0])
        first = int(np.searchsorted(self.ends, begin, side="right"))
        if first < len(self.parts) and end <= self.ends[first]:  # in one part: a view
            start = int(self.starts[first])
            return self.parts[first][begin - start : end - start]
        pieces = []
        k = first
        while k < len(self.parts) and self.starts[k] < end:
            start = int(self.starts[k])
            pieces.append(self.parts[k][max(begin - start, 0) : end - start])
            k += 1
        if not pieces:
            return np.zeros((0, self.shape[1]))
        return np.concatenate(pieces)

    def blocks(self, size: int) -> Iterator[tuple[int, np.ndarray]]:
        for begin in range(0, self.shape[0], size):
            yield begin, self.block(begin, begin + size)

    def take(self, index: np.ndarray) -> np.ndarray:
        """Rows at `index` (positions in the stacked rows), as `np.vstack(parts)[index]`."""
        index = np.asarray(index, dtype=np.intp)
        if len(self.parts) == 1:
            return self.parts[0][index]
        out = np.empty((index.size, self.shape[1]), dtype=np.result_type(*self.parts))
        part = np.searchsorted(self.ends, index, side="right")
        for k in np.unique(part):
            at = part == k
            out[at] = self.parts[k][index[at] - self.starts[k]]
        return out

    def select(self, keep: np.ndarray) -> StackedRows:
        """The rows where `keep` (a mask of every row), a part kept whole not copied."""
        parts = []
        for part, start, end in zip(self.parts, self.starts, self.ends, strict=True):
            mine = keep[start:end]
            parts.append(part if mine.all() else part[mine])
        return StackedRows(parts)

    def column(self, j: int) -> np.ndarray:
        if not self.parts:
            return np.zeros(0)
        return np.concatenate([p[:, j] for p in self.parts])

    def all_equal(self) -> bool:
        """Whether every row is the first one (`np.all(rows == rows[0])`)."""
        first = self.block(0, 1)[0]
        return all(bool(np.all(p == first)) for p in self.parts)

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value of rows that are all finite and not empty."""
        parts = [p for p in self.parts if p.size]
        return float(min(p.min() for p in parts)), float(max(p.max() for p in parts))


def mixture_cdf(
    quantiles: np.ndarray | StackedRows,
    weights: np.ndarray,
    x: np.ndarray,
    chunk: int = MIXTURE_CHUNK,
    repeats: RepeatedRows | None = None,
) -> np.ndarray:
    """Σ_r w_r F_r(x) / Σ w for rows of quantile functions at LEVELS (rows × LEVELS, or
    `StackedRows`: the same rows).

    Each row's CDF interpolates its quantile function linearly; all rows are searched at
    once (rows offset so that they form one sorted array), `chunk` rows at a time. Rows
    that repeat (a fleet of copied services: the same rows a hundred times over) have
    their CDFs computed once (`RepeatedRows`), each block then gathered from those: the
    same array, bit for bit, as its own `_rows_cdf`, so the same sums. `repeats`: those
    of `quantiles`, if already found.
    """
    rows = StackedRows.of(quantiles)
    if repeats is None:
        repeats = RepeatedRows.of(rows)
    return _mixture_cdf(rows, weights, x, chunk, repeats)


def _mixture_cdf(
    quantiles: np.ndarray | StackedRows,
    weights: np.ndarray,
    x: np.ndarray,
    chunk: int,
    repeats: RepeatedRows | None,
) -> np.ndarray:
    rows = StackedRows.of(quantiles)
    x = np.asarray(x, dtype=float)
    total = np.zeros(x.size)
    distinct = repeats.cdfs(x, chunk) if repeats is not None else None
    for begin in range(0, rows.shape[0], chunk):
        end = begin + chunk
        w = weights[begin:end]
        if distinct is not None:
            total += w @ distinct.block(begin, end, rows, x)
        else:
            total += w @ _rows_cdf(rows.block(begin, end), x)
    return total / weights.sum()


class RepeatedRows:
    """Rows of quantile functions that repeat, bit for bit: the first row of each distinct
    one (`first`, in order of appearance) and each row's index among them (`inverse`).

    Why a row's CDF is the same whichever block computes it: `_rows_cdf` finds the
    quantiles ≤ x by comparing keys q − low + r·span with probes x − low + r·span (`low`
    and `span` of the block, r the row's place in it) in floating point. Rounding is
    monotone, so a quantile q ≤ x is always counted, and a q > x only if q − x is within
    the rounding of those sums: at most 2 ulp(M), M bounding their magnitudes ((rows + 1)
    × span + the largest quantile, for any block of at most `chunk` rows of this array).
    The rest of a row's CDF is computed from its own numbers. So where a distinct row's
    first quantile above each x lies more than DELTA_ULPS ulp(M) above x, every block
    counts what an exact search of the row alone counts, and gives the same numbers; a
    row closer than that is not `sure`, and a block that holds it is computed by itself,
    as without this class. Only finite, non-decreasing rows (so that the keys are sorted
    in any block), and only when they repeat (at most half of them distinct)."""

    DELTA_ULPS = 4.0

    def __init__(self, quantiles: StackedRows, first: np.ndarray, inverse: np.ndarray) -> None:
        self.rows = quantiles.take(first)
        self.inverse = inverse
        self.low, self.high = quantiles.bounds()

    @classmethod
    def of(cls, quantiles: np.ndarray | StackedRows) -> RepeatedRows | None:
        """The repeated rows of `quantiles`; None when they do not repeat enough, or are
        not finite and non-decreasing. Read a block of rows at a time (`StackedRows`)."""
        stacked = StackedRows.of(quantiles)
        if any(p.ndim != 2 or p.dtype != np.float64 for p in stacked.parts):
            return None
        rows, count = stacked.shape
        if rows < 4 or count < 2:
            return None
        columns = np.unique(np.linspace(0, count - 1, HASHED_COLUMNS).astype(np.intp))
        weights = np.random.default_rng(0).integers(1, 2**63, columns.size, dtype=np.uint64)
        hashes = np.empty(rows, dtype=np.uint64)
        for begin, block in stacked.blocks(MIXTURE_CHUNK):
            if not (np.isfinite(block).all() and (block[:, 1:] >= block[:, :-1]).all()):
                return None
            bits = np.ascontiguousarray(block).view(np.uint64)
            with np.errstate(over="ignore"):
                hashes[begin : begin + len(block)] = (bits[:, columns] * weights).sum(
                    axis=1, dtype=np.uint64
                )
        _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        if len(first) > rows // 2:
            return None
        inverse = inverse.ravel()
        distinct = stacked.take(first).view(np.uint64)
        for begin, block in stacked.blocks(MIXTURE_CHUNK):  # every row its first's, bit for bit
            bits = np.ascontiguousarray(block).view(np.uint64)
            if not np.array_equal(bits, distinct[inverse[begin : begin + len(block)]]):
                return None  # rows that differ in columns not hashed: not used
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(first), dtype=np.intp)
        rank[order] = np.arange(len(first))
        return cls(stacked, first[order], rank[inverse])

    def cdfs(self, x: np.ndarray, chunk: int) -> DistinctCdfs | None:
        """The distinct rows' CDFs at x (`_rows_cdf`, `chunk` rows at a time) and which are
        sure; None where x is not finite, or the keys are so large that their rounding
        could unsort them."""
        if not x.size or not np.isfinite(x).all():
            return None
        span = self.high - self.low + 1.0 + float(np.abs(x).max())
        bound = (chunk + 1) * span + max(abs(self.low), abs(self.high))
        if not bound < 2.0**50:
            return None
        delta = self.DELTA_ULPS * float(np.spacing(bound))
        rows = self.rows
        count = rows.shape[1]
        values = np.empty((len(rows), x.size))
        for begin in range(0, len(rows), chunk):
            values[begin : begin + chunk] = _rows_cdf(rows[begin : begin + chunk], x)
        sure = np.ones(len(rows), dtype=bool)
        for r, row in enumerate(rows):
            above = np.searchsorted(row, x, side="right")  # the quantiles ≤ x, exactly
            inside = above < count
            sure[r] = bool(((row[above[inside]] - x[inside]) > delta).all())
        return DistinctCdfs(values, sure, self.inverse)


class DistinctCdfs:
    """The CDFs of `RepeatedRows`' distinct rows, and whether each is `sure`."""

    def __init__(self, values: np.ndarray, sure: np.ndarray, inverse: np.ndarray) -> None:
        self.values = values
        self.sure = sure
        self.inverse = inverse

    def block(self, begin: int, end: int, stacked: StackedRows, x: np.ndarray) -> np.ndarray:
        """`_rows_cdf(block, x)` of the rows `begin` to `end` of `stacked` (read only if a
        row is not sure): gathered, but a row that is not sure computed as that block's
        call computes it (its `low`, `span` and place in the block: the same keys and
        probes, so the same counts; the other rows' keys lie more than 1 − 2 ulp away from
        its probes, and do not change them)."""
        rows = self.inverse[begin:end]
        values = self.values[rows]
        unsure = np.flatnonzero(~self.sure[rows])
        if unsure.size:
            block = stacked.block(begin, end)
            low = float(block.min())
            span = float(block.max()) - low + 1.0 + float(np.abs(x).max(initial=0.0))
            values[unsure] = _rows_cdf(block[unsure], x, (low, span, unsure))
        return values


def _rows_cdf(
    quantiles: np.ndarray, x: np.ndarray, frame: tuple[float, float, np.ndarray] | None = None
) -> np.ndarray:
    """Each row's CDF at x (rows × x.size). A block's values are summed by the caller:
    every one is computed as the straightforward way does (all probes searched at once,
    `take_along_axis`, `np.where`), here with fewer searches and passes over the block.

    `frame`: (low, span, places) of a larger block these rows are part of (at `places`,
    ascending): their CDFs as that block's `_rows_cdf` gives them (`DistinctCdfs`)."""
    rows, count = quantiles.shape
    if frame is None:
        low = float(quantiles.min())
        span = float(quantiles.max()) - low + 1.0 + float(np.abs(x).max(initial=0.0))
        places = np.arange(rows)
    else:
        low, span, places = frame
    offset = places[:, None] * span
    keys = (quantiles - low + offset).ravel()
    probes = (x[None, :] - low) + offset
    ordered = bool(np.isfinite(keys).all() and (keys[1:] >= keys[:-1]).all())
    found = _search(keys, probes, x, ordered)  # quantiles ≤ x, counted from row 0
    del keys, probes
    first = np.arange(rows)[:, None] * count  # each row's first quantile in the flat order
    at = np.clip(found - 1, first, first + (count - 2))  # the last quantile ≤ x, in the row
    flat = quantiles.ravel()
    q0 = flat.take(at)
    gap = flat.take(at + 1)
    np.subtract(gap, q0, out=gap)
    values = np.ones(found.shape)  # where no gap: the next level
    with np.errstate(divide="ignore", invalid="ignore"):
        np.subtract(x[None, :], q0, out=q0)
        np.divide(q0, gap, out=values, where=gap > 0)
    del q0, gap
    np.clip(values, 0.0, 1.0, out=values)
    np.subtract(at, first, out=at)
    np.multiply(values, _LEVEL_STEPS.take(at), out=values)
    np.add(values, LEVELS.take(at), out=values)
    values[found <= first] = 0.0  # below the row's first quantile
    values[found >= first + count] = 1.0  # at or above its last
    return values


_LEVEL_STEPS = np.diff(LEVELS)
"""LEVELS[i + 1] − LEVELS[i], the same subtraction."""


def _search(keys: np.ndarray, probes: np.ndarray, x: np.ndarray, ordered: bool) -> np.ndarray:
    """`searchsorted(keys, probes, "right")` per probe (rows × x), the same integers with
    fewer searches. Along a run of x that does not decrease, a row's probes do not either,
    and the flat probes of all rows are sorted: each probe counts the keys up to its row's
    first probe, and those after it up to itself (a bracket of `mixture_quantiles`
    narrowed to a cell holds few of a row's quantiles, so those are searched among the
    probes instead). Keys finite and sorted only (`ordered`): else the answers of a binary
    search need not be monotone."""
    if not ordered or len(x) < 4 or not np.isfinite(x).all():
        return np.searchsorted(keys, probes.ravel(), side="right").reshape(probes.shape)
    rows = probes.shape[0]
    index = np.empty(probes.shape, dtype=np.intp)
    cuts = (np.flatnonzero(x[1:] < x[:-1]) + 1).tolist()
    for begin, end in zip([0, *cuts], [*cuts, len(x)], strict=True):
        run = np.ascontiguousarray(probes[:, begin:end]).ravel()
        width = end - begin
        first = np.searchsorted(keys, probes[:, begin], side="right")
        between = np.searchsorted(keys, probes[:, end - 1], side="right") - first
        total = int(between.sum())
        if total >= len(run) // 2:  # about as many keys as probes: search the probes
            found = np.searchsorted(keys, run, side="right")
            index[:, begin:end] = found.reshape(rows, width)
            continue
        ends = np.cumsum(between)
        inner = np.repeat(first - (ends - between), between) + np.arange(total)
        # a key after the row's first probe counts from the first probe ≥ it on
        counted = np.bincount(np.searchsorted(run, keys[inner], side="left"), minlength=len(run))
        index[:, begin:end] = first[:, None] + np.cumsum(counted.reshape(rows, width), axis=1)
    return index


def mixture_quantiles(
    quantiles: np.ndarray | StackedRows,
    weights: np.ndarray,
    probabilities: list[float],
    rounds: int = 3,
    repeats: RepeatedRows | None = None,
) -> list[float]:
    """Quantiles of the mixture of rows (weights ≥ 0), by narrowing a bracket per probability.

    A mixture's p-quantile lies between its rows' smallest and largest p-quantiles; each
    round evaluates the mixture CDF at 64 points of every bracket and keeps the cell where
    it crosses p; the last round interpolates linearly in that cell.
    """
    rows = StackedRows.of(quantiles)
    keep = weights > 0
    if not keep.all():  # else the same rows, not copied (a fleet's are large)
        rows, weights = rows.select(keep), weights[keep]
        repeats = None  # those of all the rows
    if not len(weights):
        return [math.nan] * len(probabilities)
    if len(weights) == 1 or rows.all_equal():
        first = rows.block(0, 1)[0]
        return [float(np.interp(p, LEVELS, first)) for p in probabilities]
    brackets = []
    for p in probabilities:
        j = int(np.clip(np.searchsorted(LEVELS, p), 1, LEVELS.size - 1))
        brackets.append((float(rows.column(j - 1).min()), float(rows.column(j).max())))
    grid = np.linspace(0.0, 1.0, 64)
    found = [math.nan] * len(probabilities)
    if repeats is None:
        repeats = RepeatedRows.of(rows)
    for round_ in range(rounds):
        xs = np.concatenate([low + (high - low) * grid for low, high in brackets])
        cdf = _mixture_cdf(rows, weights, xs, MIXTURE_CHUNK, repeats)
        cdf = cdf.reshape(len(brackets), grid.size)
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


def interp_rows(
    x: np.ndarray,
    xp: np.ndarray,
    fp: np.ndarray,
    left: float | None = None,
    right: float | None = None,
) -> np.ndarray:
    """`np.interp(x[r], xp[r], fp[r], left, right)` for every row r at once (x: rows × k;
    xp, fp: rows × n, or one row for all), the same floats: numpy's rule step for step (the
    last point ≤ x, x at a point gives that point's value, else slope·(x − xp[j]) + fp[j],
    from the other end if that is NaN). Rows of quantiles are many and short, and a call
    per row costs more than its work. Requires every xp finite and non-decreasing (else
    numpy's binary search and this count could differ): the caller checks."""
    rows = x.shape[0]
    xp = np.broadcast_to(xp, (rows, xp.shape[-1]))
    fp = np.broadcast_to(fp, (rows, fp.shape[-1]))
    n = xp.shape[1]
    if xp.strides[0] == 0:  # one xp for every row
        j = np.searchsorted(xp[0], x, side="right") - 1
    else:
        j = (xp[:, None, :] <= x[:, :, None]).sum(axis=2) - 1
    at = np.clip(j, 0, n - 2)
    x0 = np.take_along_axis(xp, at, axis=1)
    x1 = np.take_along_axis(xp, at + 1, axis=1)
    y0 = np.take_along_axis(fp, at, axis=1)
    y1 = np.take_along_axis(fp, at + 1, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (y1 - y0) / (x1 - x0)
        out = slope * (x - x0) + y0
        other = np.isnan(out)
        if other.any():
            again = slope * (x - x1) + y1
            out = np.where(other, again, out)
            out = np.where(other & np.isnan(again) & (y0 == y1), y0, out)
    out = np.where(x == x0, y0, out)
    last = np.take_along_axis(fp, np.full_like(j, n - 1), axis=1)
    out = np.where(j == n - 1, last, out)
    first = fp[:, :1] if left is None else np.full((rows, 1), left)
    out = np.where(j < 0, np.broadcast_to(first, out.shape), out)
    high = x > xp[:, -1:]
    end = fp[:, -1:] if right is None else np.full((rows, 1), right)
    out = np.where(high, np.broadcast_to(end, out.shape), out)
    return np.where(np.isnan(x), x, out)
