"""Time-varying arrival rates: values, exact integrals and bounds, and the arrival times of a
non-homogeneous Poisson process (NHPP) that follows them.

Pure functions of a scenario profile, with no SimPy, so the discrete-event source and the
analytic (fluid) mode share one definition of every profile. Every profile here has a
closed-form cumulative rate Λ(t) = ∫₀ᵗ rate, so window means are exact (to rounding), not
numerical estimates.

Arrivals are made by thinning (Lewis & Shedler 1979): candidates from a homogeneous Poisson
process at a rate M ≥ rate(t), each kept with probability rate(t) / M. The bound M is taken
per window (1/100 of the run, and the profile's own segments), so a 10× spike costs extra
candidates only while it lasts; in a window the candidates are a Poisson count of sorted
uniforms, drawn with one numpy call per window rather than one call per arrival.

For the simulator: `arrival_stream` (successive times, one C-level step per arrival) or
`next_arrival_sampler` (the next arrival at or after a given time). Both are lazy, so a long
horizon costs no memory up front.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import overload

import numpy as np

from ..scenario.distributions import BLOCK, block_stream
from ..scenario.profiles import (
    ConstantProfile,
    DiurnalProfile,
    Profile,
    ReplayProfile,
    SpikeProfile,
    StepProfile,
)

WINDOWS = 100
"""Thinning bounds are taken per 1/100 of the run (and per profile segment)."""

MAX_BREAKPOINTS = 100_000
"""At most this many profile breakpoints become windows (a long replay file is thinned)."""

_SLACK = 1.0 + 1e-9
"""Bounds are raised by a relative 1e-9 so that rounding never puts a rate above its bound."""


class RateFunction(ABC):
    """An arrival rate over time (arrivals per second, time in seconds from the run's start)."""

    is_constant: bool = False
    """True when the rate never changes, so arrivals can use plain exponential gaps."""

    @overload
    def __call__(self, t: float) -> float: ...
    @overload
    def __call__(self, t: np.ndarray) -> np.ndarray: ...
    def __call__(self, t: float | np.ndarray) -> float | np.ndarray:
        """The rate at time t; vectorised over numpy arrays."""
        values = self._rate(np.asarray(t, dtype=float))
        return values if isinstance(t, np.ndarray) else float(values)

    @overload
    def cumulative(self, t: float) -> float: ...
    @overload
    def cumulative(self, t: np.ndarray) -> np.ndarray: ...
    def cumulative(self, t: float | np.ndarray) -> float | np.ndarray:
        """Λ(t) = ∫₀ᵗ rate(u) du, the expected number of arrivals by time t (exact)."""
        values = self._cumulative(np.asarray(t, dtype=float))
        return values if isinstance(t, np.ndarray) else float(values)

    def mean_rate(self, start: float, end: float) -> float:
        """The exact mean rate over [start, end]: (Λ(end) − Λ(start)) / (end − start)."""
        if end < start:
            raise ValueError(f"expected end ≥ start, got [{start}, {end}]")
        if end == start:
            return float(self(start))
        return (self.cumulative(end) - self.cumulative(start)) / (end - start)

    def mean_rates(self, edges: np.ndarray) -> np.ndarray:
        """The exact mean rate over each interval between consecutive edges (fluid steps)."""
        edges = np.asarray(edges, dtype=float)
        return np.diff(self._cumulative(edges)) / np.diff(edges)

    def expected_count(self, start: float, end: float) -> float:
        """Λ(end) − Λ(start): the mean number of arrivals in [start, end]."""
        return self.cumulative(end) - self.cumulative(start)

    @abstractmethod
    def max_rate(self, start: float, end: float) -> float:
        """An upper bound of the rate over [start, end]; exact for every profile here."""

    def breakpoints(self, start: float, end: float) -> np.ndarray:
        """Times in (start, end) where the shape changes: good edges for thinning windows."""
        return np.empty(0)

    @abstractmethod
    def _rate(self, t: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _cumulative(self, t: np.ndarray) -> np.ndarray: ...


class ConstantRate(RateFunction):
    """The same rate all the time."""

    is_constant = True

    def __init__(self, rate: float) -> None:
        self.rate = float(rate)

    def _rate(self, t: np.ndarray) -> np.ndarray:
        return np.full(t.shape, self.rate)

    def _cumulative(self, t: np.ndarray) -> np.ndarray:
        return self.rate * t

    def max_rate(self, start: float, end: float) -> float:
        return self.rate

    def __repr__(self) -> str:
        return f"ConstantRate({self.rate!r})"


class DiurnalRate(RateFunction):
    """mean × (1 + a·cos(2π(t − peak)/period)), a = (1 − trough_ratio) / (1 + trough_ratio),
    so that the mean over a period is `mean` and trough / peak is `trough_ratio`."""

    def __init__(self, mean: float, trough_ratio: float, period: float, peak_time: float) -> None:
        self.mean = float(mean)
        self.amplitude = (1.0 - trough_ratio) / (1.0 + trough_ratio)
        self.period = float(period)
        self.peak_time = float(peak_time) % self.period
        self._omega = 2.0 * math.pi / self.period

    def _rate(self, t: np.ndarray) -> np.ndarray:
        return self.mean * (1.0 + self.amplitude * np.cos(self._omega * (t - self.peak_time)))

    def _cumulative(self, t: np.ndarray) -> np.ndarray:
        phase = np.sin(self._omega * (t - self.peak_time)) - math.sin(-self._omega * self.peak_time)
        return self.mean * (t + self.amplitude / self._omega * phase)

    def max_rate(self, start: float, end: float) -> float:
        next_peak = self.peak_time + math.ceil((start - self.peak_time) / self.period) * self.period
        if next_peak <= end:
            return self.mean * (1.0 + self.amplitude)
        return float(self(np.array([start, end])).max())  # monotone between peak and trough

    def breakpoints(self, start: float, end: float) -> np.ndarray:
        hour = self.period / 24.0
        return np.arange(math.floor(start / hour) + 1, math.ceil(end / hour)) * hour


class StepRate(RateFunction):
    """base × factor on [at, until), base elsewhere."""

    def __init__(self, base: float, at: float, factor: float, until: float | None) -> None:
        self.base = float(base)
        self.at = float(at)
        self.factor = float(factor)
        self.until = math.inf if until is None else float(until)

    def _rate(self, t: np.ndarray) -> np.ndarray:
        inside = (t >= self.at) & (t < self.until)
        return self.base * np.where(inside, self.factor, 1.0)

    def _cumulative(self, t: np.ndarray) -> np.ndarray:
        stepped = np.clip(np.minimum(t, self.until) - self.at, 0.0, None)
        return self.base * (t + (self.factor - 1.0) * stepped)

    def max_rate(self, start: float, end: float) -> float:
        levels = []
        if start < self.at or end >= self.until:
            levels.append(1.0)
        if end >= self.at and start < self.until:
            levels.append(self.factor)
        return self.base * max(levels)

    def breakpoints(self, start: float, end: float) -> np.ndarray:
        points = np.array([self.at, self.until])
        return points[(points > start) & (points < end)]


class SpikeRate(RateFunction):
    """base × (1 + (factor − 1)·g(t)), g rising linearly 0 → 1 over the ramp, 1 during the
    hold, then exp(−(t − end of hold) / decay)."""

    def __init__(
        self, base: float, start: float, factor: float, ramp_up: float, hold: float, decay: float
    ) -> None:
        self.base = float(base)
        self.start = float(start)
        self.excess = float(factor) - 1.0
        self.ramp_up = float(ramp_up)
        self.hold = float(hold)
        self.decay = float(decay)
        self.peak_start = self.start + self.ramp_up
        self.peak_end = self.peak_start + self.hold

    def _shape(self, t: np.ndarray) -> np.ndarray:
        if self.ramp_up > 0:
            ramp = np.clip((t - self.start) / self.ramp_up, 0.0, 1.0)
        else:
            ramp = (t >= self.start).astype(float)
        if self.decay > 0:
            tail = np.exp(-np.clip(t - self.peak_end, 0.0, None) / self.decay)
        else:
            tail = (t < self.peak_end).astype(float)
        return np.where(t < self.peak_end, ramp, tail)

    def _rate(self, t: np.ndarray) -> np.ndarray:
        return self.base * (1.0 + self.excess * self._shape(t))

    def _cumulative(self, t: np.ndarray) -> np.ndarray:
        extra = np.clip(t - self.peak_start, 0.0, self.hold)
        if self.ramp_up > 0:
            rising = np.clip(t - self.start, 0.0, self.ramp_up)
            extra = extra + rising**2 / (2.0 * self.ramp_up)
        if self.decay > 0:
            falling = np.clip(t - self.peak_end, 0.0, None)
            extra = extra - self.decay * np.expm1(-falling / self.decay)
        return self.base * (t + self.excess * extra)

    def max_rate(self, start: float, end: float) -> float:
        # Monotone between knots, so the sup is at an end, a knot or just left of a knot.
        knots = np.array([self.start, self.peak_start, self.peak_end])
        knots = knots[(knots > start) & (knots <= end)]
        points = np.concatenate([[start, end], knots, np.nextafter(knots, -math.inf)])
        return float(self(points).max())

    def breakpoints(self, start: float, end: float) -> np.ndarray:
        points = [self.start, self.peak_start, self.peak_end]
        if self.decay > 0:  # every half e-folding time for 10 e-folds: tight decay bounds
            points += list(self.peak_end + self.decay / 2 * np.arange(1, 21))
        points_array = np.unique(points)
        return points_array[(points_array > start) & (points_array < end)]


class ReplayRate(RateFunction):
    """Rates from rows (time, rate): held (step) or linearly interpolated between rows; the
    first rate before the first row, the last after the last row, or looped with period
    equal to the last row's time when `repeat`."""

    def __init__(
        self, times: np.ndarray, rates: np.ndarray, interpolate: str, repeat: bool
    ) -> None:
        times = np.asarray(times, dtype=float)
        rates = np.asarray(rates, dtype=float)
        if times[0] > 0:  # the first rate applies from time 0
            times, rates = np.concatenate([[0.0], times]), np.concatenate([rates[:1], rates])
        if interpolate not in ("step", "linear"):
            raise ValueError(f"expected interpolate step or linear, got {interpolate!r}")
        if repeat and len(times) < 2:
            raise ValueError("cannot repeat a replay whose loop length is 0")
        self.times, self.rates = times, rates
        self.linear = interpolate == "linear"
        self.repeat = repeat
        self.period = float(times[-1]) if repeat else math.inf
        gaps = np.diff(times)
        if self.linear:
            self._slopes = np.append(np.diff(rates) / gaps, 0.0)
            pieces = (rates[:-1] + rates[1:]) / 2.0 * gaps
        else:
            self._slopes = np.zeros(len(rates))
            pieces = rates[:-1] * gaps
        self._at_knots = np.concatenate([[0.0], np.cumsum(pieces)])
        used = rates if self.linear or not repeat else rates[:-1]
        self._overall_max = float(used.max())

    def _locate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Loops completed, row index and time since that row, for times t ≥ 0."""
        t = np.maximum(t, 0.0)
        last = len(self.times) - 1
        if self.repeat:
            loops = np.floor(t / self.period)
            t = np.clip(t - loops * self.period, 0.0, self.period)
            last -= 1  # the last row only marks the end of a loop
        else:
            loops = np.zeros(t.shape)
        row = np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, last)
        return loops, row, t - self.times[row]

    def _rate(self, t: np.ndarray) -> np.ndarray:
        _, row, since = self._locate(t)
        return self.rates[row] + self._slopes[row] * since

    def _cumulative(self, t: np.ndarray) -> np.ndarray:
        loops, row, since = self._locate(t)
        within = self._at_knots[row] + self.rates[row] * since + self._slopes[row] * since**2 / 2
        loop_total = self._at_knots[-1] if self.repeat else 0.0
        before_zero = self.rates[0] * np.minimum(t, 0.0)
        return loops * loop_total + within + before_zero

    def max_rate(self, start: float, end: float) -> float:
        if end - start >= self.period:
            return self._overall_max
        knots = self._knots(start, end)
        return float(self(np.concatenate([[start, end], knots[knots <= end]])).max())

    def breakpoints(self, start: float, end: float) -> np.ndarray:
        knots = self._knots(start, end)
        return knots[knots < end]

    def _knots(self, start: float, end: float) -> np.ndarray:
        """Row times in (start, end], with every loop's copy when repeating."""
        if not self.repeat:
            return self.times[(self.times > start) & (self.times <= end)]
        first = math.floor(max(start, 0.0) / self.period)
        last = math.floor(end / self.period)
        copies = np.arange(first, last + 1)[:, None] * self.period + self.times[None, :-1]
        copies = copies.ravel()
        return copies[(copies > start) & (copies <= end)]


def rate_function(profile: Profile, base_rate: float) -> RateFunction:
    """The rate over time of traffic with this profile and base rate (replay ignores it).

    Profiles that cannot vary (a step of factor 1, a diurnal trough_ratio of 1) give a
    ConstantRate, so they keep the fast path of plain exponential gaps.
    """
    match profile:
        case ConstantProfile():
            return ConstantRate(base_rate)
        case DiurnalProfile():
            if profile.trough_ratio == 1:
                return ConstantRate(base_rate)
            return DiurnalRate(base_rate, profile.trough_ratio, profile.period, profile.peak_time)
        case StepProfile():
            if profile.factor == 1:
                return ConstantRate(base_rate)
            return StepRate(base_rate, profile.at, profile.factor, profile.until)
        case SpikeProfile():
            if profile.factor == 1:
                return ConstantRate(base_rate)
            return SpikeRate(
                base_rate,
                profile.start,
                profile.factor,
                profile.ramp_up,
                profile.hold,
                profile.decay,
            )
        case ReplayProfile():
            rates = profile.rates
            if np.all(rates == rates[0]):
                return ConstantRate(float(rates[0]))
            return ReplayRate(profile.times, rates, profile.interpolate, profile.repeat)
    raise TypeError(f"not a traffic profile: {profile!r}")


# ---------------------------------------------------------------------------- arrivals


def window_edges(
    rate_fn: RateFunction, start: float, end: float, windows: int = WINDOWS
) -> np.ndarray:
    """Edges of the thinning windows: `windows` equal parts of [start, end], plus the
    profile's breakpoints, so a bound is tight where the rate changes fast."""
    grid = np.linspace(start, end, windows + 1)
    points = rate_fn.breakpoints(start, end)
    if len(points) > MAX_BREAKPOINTS:
        points = points[:: math.ceil(len(points) / MAX_BREAKPOINTS)]
    return np.unique(np.concatenate([grid, points]))


def _thin(
    rate_fn: RateFunction,
    lows: np.ndarray,
    highs: np.ndarray,
    bounds: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sorted NHPP arrivals in the windows [low, high), given a rate bound per window."""
    counts = rng.poisson(bounds * (highs - lows))
    window = np.repeat(np.arange(len(lows)), counts)
    times = lows[window] + (highs - lows)[window] * rng.random(len(window))
    rates = rate_fn(times)
    if np.any(rates > bounds[window]):
        raise AssertionError(f"{rate_fn!r}: a rate exceeds its thinning bound (a bug)")
    return np.sort(times[rng.random(len(window)) * bounds[window] < rates])


def arrival_times(
    rate_fn: RateFunction,
    start: float,
    end: float,
    rng: np.random.Generator,
    windows: int = WINDOWS,
) -> np.ndarray:
    """Sorted arrival times in [start, end) of a Poisson process with this rate function.

    All at once, for analysis and tests; the simulator uses `next_arrival_sampler`, which
    makes the same process lazily (with a different draw order, so other numbers).
    """
    if end <= start:
        return np.empty(0)
    edges = window_edges(rate_fn, start, end, windows)
    lows, highs = edges[:-1], edges[1:]
    bounds = np.array([rate_fn.max_rate(a, b) for a, b in zip(lows, highs, strict=True)])
    return _thin(rate_fn, lows, highs, bounds * _SLACK, rng)


def _arrival_chunks(
    rate_fn: RateFunction, rng: np.random.Generator, start: float, end: float, windows: int
) -> Iterator[list[float]]:
    """Arrivals window by window, each window cut so a chunk has ~BLOCK candidates."""
    edges = window_edges(rate_fn, start, end, windows)
    for low, high in itertools.pairwise(edges):
        bound = rate_fn.max_rate(low, high) * _SLACK
        if bound <= 0:
            continue
        parts = max(1, math.ceil(bound * (high - low) / BLOCK))
        cuts = np.linspace(low, high, parts + 1)
        for part_low, part_high in itertools.pairwise(cuts):
            times = _thin(
                rate_fn, np.array([part_low]), np.array([part_high]), np.array([bound]), rng
            )
            if len(times):
                yield times.tolist()


def _constant_chunks(
    rate: float, rng: np.random.Generator, start: float, end: float
) -> Iterator[list[float]]:
    """Arrivals at a constant rate: exponential gaps BLOCK at a time, summed one by one (as
    a source adding each gap to the clock would) from `start` until `end`."""
    if rate <= 0:
        return
    last = start
    while True:
        times = np.cumsum(np.concatenate([[last], rng.exponential(1.0 / rate, BLOCK)]))[1:]
        if times[-1] > end:
            yield times[times <= end].tolist()
            return
        yield times.tolist()
        last = float(times[-1])


def arrival_stream(
    rate_fn: RateFunction,
    rng: np.random.Generator,
    horizon: float,
    start: float = 0.0,
    windows: int = WINDOWS,
) -> Callable[[], float]:
    """`next_time()`: successive arrival times in [start, horizon], then math.inf forever.

    The cheapest form for a source that schedules each arrival from the previous one: every
    call is one C-level iterator step, whatever the profile; the numpy work happens per
    block of arrivals (per BLOCK for a constant rate, per thinning window otherwise).
    """
    if not math.isfinite(horizon):
        raise ValueError(f"expected a finite horizon, got {horizon}")
    if rate_fn.is_constant:
        chunks = _constant_chunks(rate_fn(start), rng, start, horizon)
    else:
        chunks = _arrival_chunks(rate_fn, rng, start, horizon, windows)
    times = itertools.chain.from_iterable(chunks)
    return itertools.chain(times, itertools.repeat(math.inf)).__next__


def next_arrival_sampler(
    rate_fn: RateFunction,
    rng: np.random.Generator,
    horizon: float,
    start: float = 0.0,
    windows: int = WINDOWS,
) -> Callable[[float], float]:
    """`next_arrival(now)`: the next arrival at or after `now` (math.inf after the horizon).

    Call it with the current time, which must not decrease (normally the time of the
    arrival just made), and wait until the time it returns; a later `now` skips the
    arrivals before it, which leaves a Poisson process on the rest of the run. A constant
    rate adds an exponential gap to `now`, drawn BLOCK at a time: the numbers the constant
    Poisson source always drew. Other rates hand out `arrival_stream`'s times.
    """
    if not math.isfinite(horizon):
        raise ValueError(f"expected a finite horizon, got {horizon}")
    if rate_fn.is_constant:
        rate = rate_fn(start)
        if rate <= 0:
            return lambda now: math.inf
        gap = block_stream(lambda size: rng.exponential(1.0 / rate, size))

        def next_constant(now: float) -> float:
            time = now + gap()
            return time if time <= horizon else math.inf

        return next_constant

    upcoming = arrival_stream(rate_fn, rng, horizon, start, windows)

    def next_arrival(now: float) -> float:
        time = upcoming()
        while time < now:  # only when called later than the previous arrival
            time = upcoming()
        return time

    return next_arrival
