"""Queues per time step and station: Erlang C / Allen–Cunneen, with a fluid backlog.

Within a time step every station is taken to be in the steady state of its mean arrival
rate over the step (the pointwise stationary approximation, PSA: Green & Kolesar 1991), an
M/G/c queue:

* work arrives as a Poisson stream (arrival cv 1) whose service time is the mixture of the
  work steps that reach the station (its mean, cv and third moment);
* central-queue, least-connections and power-of-two: one M/G/c over all workers
  (least-connections and power-of-two are approximated by the central queue they try to
  imitate: optimistic, see docs/analytic.md); random: each replica an M/G/k with a share
  1/n of the traffic (thinning keeps it Poisson); round-robin: each replica a G/G/k whose
  inter-arrival cv² is 1/n (every n-th arrival: Erlang-n gaps);
* the probability of waiting is Erlang C, the mean wait Allen–Cunneen
  Wq = C·E[S]/(c − a) · (ca² + cs²)/2 (exact for M/M/c, and for M/G/1 where it is the
  Pollaczek–Khinchine formula); for arrivals more regular than Poisson (round-robin) both
  are multiplied by the Kraemer & Langenbach-Belz factor
  exp(−2(1 − ρ)(1 − ca²)² / (3ρ(ca² + cs²))); the wait, given that there is one, is
  exponential with mean Wq / P(wait) (exact for M/M/c), or for one worker and Poisson
  arrivals a gamma with the M/G/1 second moment of Takács
  (E[W²] = 2 Wq² + λE[S³] / (3(1 − ρ)));
* fan-outs that send several calls to one service at once make batches: such stations are
  solved as M^X/M/c queues (`batch_queue`), corrected for the service-time cv.

Utilisation ρ ≥ 1 has no steady state. WorkNode that cannot be served is carried from step to
step as a fluid backlog B (work-seconds): B(t + dt) = max(0, B + (a − c)·dt) with a the
offered load and c the workers. An arrival waits B/c for it (FCFS: the backlog is ahead of
it): an arrival while there is a backlog waits a time uniform between its values at the
two ends of that part of the step (the fluid backlog is linear in time); an arrival in
the rest of the step sees the stationary queue, evaluated at min(ρ, RHO_CAP) so that
latencies stay finite just below saturation. This is the stationary-backlog-carryover idea
of Stolletz (2008) in its simplest form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

import numpy as np

from . import special
from .flows import Batch, Model

RHO_CAP = 0.98
"""The stationary part of a queue is evaluated at most at this utilisation; the rest of the
load (and any overload) is carried by the fluid backlog."""

RECURSION_MAX = 256
"""Erlang B by its exact recursion up to this many servers; above, by the Poisson form."""

PER_REPLICA = ("random", "round-robin")
"""Load balancers whose replicas each keep their own queue in this model."""

WHOLE_VARIANCE_CELLS = 1 << 21
"""`StationSteps.wait_variance_at` computes the whole rows × stations array (elementwise:
the same numbers as column by column) when it has at most this many cells (16 MiB)."""


# ----------------------------------------------------------------------------- Erlang C


def erlang_b(servers: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Erlang B for arrays of servers (integers ≥ 1) and offered loads (Erlangs ≥ 0).

    The recursion B(n) = a·B(n−1) / (n + a·B(n−1)) of `simulator.theory.erlang_b`, run on
    all cells at once (cells sorted by servers, so the cells still running are a suffix);
    above RECURSION_MAX servers, B = P(Poisson(a) = c) / P(Poisson(a) ≤ c) in log space.
    """
    servers, load = np.broadcast_arrays(np.asarray(servers), np.asarray(load, dtype=float))
    c = servers.astype(np.int64).ravel()
    a = load.ravel()
    out = np.empty(a.shape)
    small = c <= RECURSION_MAX
    if small.all():
        out = _erlang_b_recursion(c, a)
    elif small.any():
        out[small] = _erlang_b_recursion(c[small], a[small])
    big = ~small
    if big.any():
        cb, ab = c[big].astype(float), a[big]
        with np.errstate(divide="ignore"):
            log_pmf = cb * np.log(ab) - ab - special.gammaln(cb + 1)
        out[big] = np.exp(log_pmf) / special.pdtr(cb, ab)
    return out.reshape(load.shape)


def _erlang_b_recursion(c: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The recursion for cells of at most RECURSION_MAX servers: one pass per server count
    over the cells that have more, the same operations whatever the cells' order (and one
    buffer each, not an array per operation: a fleet's states × stations are millions)."""
    if not c.size:
        return np.empty(0)
    if c.min() == c.max():  # one server count: no sort
        order, cs, loads = None, c, a
    else:  # stable: a radix sort for counts that fit 16 bits (all but negative ones)
        order = np.argsort(c.astype(np.uint16) if c.min() >= 0 else c, kind="stable")
        cs, loads = c[order], a[order]
    b = np.ones(cs.shape)
    ab = np.empty(cs.shape)
    total = np.empty(cs.shape)
    for n in range(1, int(cs[-1]) + 1):
        low = int(np.searchsorted(cs, n, side="left")) if order is not None else 0
        np.multiply(loads[low:], b[low:], out=ab[low:])
        np.add(ab[low:], n, out=total[low:])
        np.divide(ab[low:], total[low:], out=b[low:])
    if order is None:
        return b
    result = np.empty(b.shape)
    result[order] = b
    return result


def erlang_c(servers: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Erlang C, P(wait) in M/M/c, for arrays; load ≥ servers gives 1 (everyone waits)."""
    servers, load = np.broadcast_arrays(np.asarray(servers), np.asarray(load, dtype=float))
    c = servers.astype(float)
    stable = load < c
    b = erlang_b(servers, np.where(stable, load, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = c * b / (c - load * (1.0 - b))
    return np.where(stable, value, 1.0)


# ----------------------------------------------------------------------------- stations


Index = int | slice | np.ndarray | tuple[int | slice | np.ndarray, ...]
"""An index of a rows × stations array: rows, or (rows, stations)."""


@dataclass(frozen=True)
class StationColumns:
    """A rows × stations array kept as its distinct columns: `values` (rows × distinct)
    and, per station, its column among them (`inverse`; None: each station its own).

    A fleet of copied services has a tenth as many distinct columns as stations, and
    `stationary` computes each once: kept so, its arrays take a tenth of the memory of
    the same numbers copied to every station. Indexing gathers the cells asked for, the
    numbers of the spread array at those cells (copies, no arithmetic: the same bits);
    `array()` is the whole spread array, for a reader of every cell at once."""

    values: np.ndarray
    inverse: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        rows, columns = self.values.shape
        return rows, columns if self.inverse is None else self.inverse.size

    def __getitem__(self, key: Index) -> np.ndarray:
        """`self.array()[key]`, with only the cells of `key` gathered."""
        if self.inverse is None:
            return self.values[key]
        if not isinstance(key, tuple):
            return np.take(self.values[key], self.inverse, axis=-1)
        rows, stations = key
        if isinstance(stations, slice):  # a block: as numpy's (positions, slice), not pairs
            return np.take(self.values[rows], self.inverse[stations], axis=-1)
        return self.values[rows, self.inverse[stations]]

    def array(self) -> np.ndarray:
        """The whole rows × stations array (one row broadcast over the steps stays so)."""
        return self.values if self.inverse is None else _spread(self.values, self.inverse)

    @classmethod
    def gathered(
        cls, parts: list[tuple[StationColumns, np.ndarray | slice, np.ndarray | slice]], count: int
    ) -> StationColumns:
        """`count` rows taken from several arrays: `parts` are (columns, the rows taken,
        the rows they fill). Parts whose stations are grouped alike keep their grouping;
        else a station's column is the distinct combination of its columns in the parts."""
        inverse = parts[0][0].inverse
        picks: list[np.ndarray | slice] = [slice(None)] * len(parts)  # each part's columns
        if not all(_same_inverse(inverse, c.inverse) for c, _, _ in parts[1:]):
            stations = parts[0][0].shape[1]
            own = np.arange(stations)
            keys = [c.inverse if c.inverse is not None else own for c, _, _ in parts]
            _, first, combined = np.unique(
                np.stack(keys), axis=1, return_index=True, return_inverse=True
            )
            inverse, picks = combined.ravel(), [key[first] for key in keys]
        width = parts[0][0].values[:, picks[0]].shape[1]
        out = np.empty((count, width), dtype=parts[0][0].values.dtype)
        for (columns, taken, rows), pick in zip(parts, picks, strict=True):
            block = columns.values[taken]
            if isinstance(pick, slice) or np.array_equal(pick, np.arange(block.shape[1])):
                out[rows] = block  # its own columns, in order: a copy of the block
            else:
                out[rows] = np.take(block, pick, axis=1)  # np.take: faster than [:, pick]
        return cls(out, inverse)


def _same_inverse(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a is b or np.array_equal(a, b)


@dataclass
class StationSteps:
    """Per time step (rows) and station (columns), what the queues do.

    Rates are per second, times in seconds, `backlog` in work-seconds at the end of a step.
    `wait_*` describe the wait of one work step: for an arrival while there is a backlog (a
    share `delay_share` of the step), uniform between `delay_low` and `delay_high`; else,
    with probability `p_wait_stationary`, a gamma(`wait_shape`, `wait_scale`) wait (the
    stationary queue). The arrays of `COLUMNS` are `StationColumns` (each distinct column
    once: a fleet of copies); read them by index or `array()`.
    """

    replicas: np.ndarray
    workers: np.ndarray
    work_rate: StationColumns
    service_mean: StationColumns
    offered: StationColumns
    utilisation: StationColumns
    p_wait_stationary: StationColumns
    wait_stationary_mean: StationColumns
    wait_shape: StationColumns
    wait_scale: StationColumns
    delay_share: np.ndarray
    delay_low: np.ndarray
    delay_high: np.ndarray
    backlog: np.ndarray
    queued_mean: StationColumns
    slow: np.ndarray | None = None
    """Latency regressions (rows × stations × 2): a share x of the work steps takes f times
    as long (`slowed_work`); None when every version is as fast as the first."""
    coupled: Coupled | None = field(default=None, repr=False, compare=False)
    """The parts of the queues solved together (kept so that a recomputation of some rows
    can tell whether the others' are unchanged)."""

    @classmethod
    def gathered(
        cls,
        parts: list[tuple[StationSteps, np.ndarray, np.ndarray]],
        count: int,
        coupled: Coupled,
    ) -> StationSteps:
        """`count` rows taken from several steps: `parts` are (steps, the rows taken, the
        rows they fill)."""
        values: dict[str, Any] = {}  # arrays, and StationColumns (`COLUMNS`)
        cuts = [(steps, _as_slice(taken), _as_slice(rows)) for steps, taken, rows in parts]
        for f in fields(cls):
            if f.name in ("coupled", "slow"):
                continue
            if f.name in COLUMNS:  # their distinct columns, not every station's
                pieces = [(getattr(steps, f.name), taken, rows) for steps, taken, rows in cuts]
                values[f.name] = StationColumns.gathered(pieces, count)
                continue
            first = getattr(parts[0][0], f.name)
            out = np.empty((count, *first.shape[1:]), dtype=first.dtype)
            for steps, taken, rows in cuts:  # consecutive rows (a step each): copied at once
                out[rows] = getattr(steps, f.name)[taken]
            values[f.name] = out
        return cls(**values, slow=_gathered_slow(parts, count), coupled=coupled)

    @cached_property
    def saturated(self) -> np.ndarray:
        """Steps in which a station had unserved work (a backlog) or more load than workers."""
        return (self.delay_share > 0) | (self.offered.array() >= self.workers)

    @cached_property
    def p_wait(self) -> np.ndarray:
        share = self.delay_share
        return (1.0 - share) * self.p_wait_stationary.array() + share

    @property
    def delay_mean(self) -> np.ndarray:
        """Mean wait behind the backlog, for an arrival while there is one."""
        return (self.delay_low + self.delay_high) / 2

    @property
    def delay_second(self) -> np.ndarray:
        low, high = self.delay_low, self.delay_high
        return (low * low + low * high + high * high) / 3

    @cached_property
    def wait_mean(self) -> StationColumns:
        """Mean wait of a work step for a worker: behind the backlog while there is one
        (a share `delay_share` of the step), else in the stationary queue.

        Without any backlog (the share and delays +0.0 in every cell, the usual run), the
        same formula on the stationary wait's distinct columns, with zeros for those:
        each cell's operations and operands are the spread array's, so the same bits."""
        stationary = self.wait_stationary_mean
        if stationary.inverse is not None and not self._backlogged:
            zero = np.zeros(stationary.values.shape)
            mean = (1.0 - zero) * stationary.values + zero * ((zero + zero) / 2)
            return StationColumns(mean, stationary.inverse)
        share = self.delay_share
        return StationColumns((1.0 - share) * stationary.array() + share * self.delay_mean)

    @cached_property
    def _backlogged(self) -> bool:
        """Whether any cell's backlog share or delays is other than +0.0 (its bits)."""
        arrays = (self.delay_share, self.delay_low, self.delay_high)
        return any(bool(np.any(a.view(np.uint64))) for a in arrays)

    @cached_property
    def wait_variance(self) -> np.ndarray:
        return self._wait_variance(slice(None))

    def wait_variance_at(self, station: int) -> np.ndarray:
        """`wait_variance`'s column of one station, the same numbers, without the whole
        array when it is large (a fleet's latency moments read the stations one at a
        time); up to WHOLE_VARIANCE_CELLS the whole array is computed once, at the first
        column asked for (sre-1000: 48 states × 1,000 stations, read some 1,300 times)."""
        if "wait_variance" in self.__dict__ or self.delay_share.size <= WHOLE_VARIANCE_CELLS:
            return np.ascontiguousarray(self.wait_variance[:, station])
        return self._wait_variance(station)

    def _wait_variance(self, columns: int | slice) -> np.ndarray:
        p_wait, shape = self.p_wait_stationary[:, columns], self.wait_shape[:, columns]
        stationary_second = p_wait * shape * (shape + 1)
        stationary_second = stationary_second * self.wait_scale[:, columns] ** 2
        share = self.delay_share[:, columns]
        low, high = self.delay_low[:, columns], self.delay_high[:, columns]
        delay_second = (low * low + low * high + high * high) / 3
        second = (1.0 - share) * stationary_second + share * delay_second
        return np.maximum(second - self.wait_mean[:, columns] ** 2, 0.0)


def _gathered_slow(
    parts: list[tuple[StationSteps, np.ndarray, np.ndarray]], count: int
) -> np.ndarray | None:
    """`StationSteps.slow` of gathered rows: None if no part has any, else each part's (or
    none: x = 0, f = 1)."""
    if all(steps.slow is None for steps, _, _ in parts):
        return None
    out = unslowed((count, parts[0][0].replicas.shape[1]))
    for steps, taken, rows in parts:
        if steps.slow is not None:
            out[rows] = steps.slow[taken]
    return out


def unslowed(shape: tuple[int, int]) -> np.ndarray:
    """`StationSteps.slow` of rows × stations where every version is as fast as the first."""
    out = np.zeros((*shape, 2))
    out[..., 1] = 1.0
    return out


def slowed_work(work: np.ndarray, slow: np.ndarray | None) -> np.ndarray:
    """`station_work` where a share x of each station's work steps takes f times as long
    (`slow`, rows × stations × 2): the k-th raw moment of a work step is multiplied by
    1 + x(f^k − 1), the mixture's (the rate of work steps is the same). Cells with x = 0
    keep their numbers bit for bit."""
    if slow is None:
        return work
    x, f = slow[..., 0], slow[..., 1]
    out = work.copy()
    for k in (1, 2, 3):
        out[k] = work[k] * (1.0 + x * (f**k - 1.0))
    return out


def _as_slice(index: np.ndarray) -> np.ndarray | slice:
    """Ascending consecutive indices as a slice (a copy of a block, not a gather)."""
    consecutive = index.size and int(index[-1]) - int(index[0]) + 1 == index.size
    if consecutive and bool((np.diff(index) == 1).all()):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


@dataclass
class StepLoad:
    """What an autoscaler sees of one step (1 × stations arrays): the replicas and workers
    it ran with, the offered load (Erlangs), the share of worker time spent serving (backlog
    included) and the backlog left at its end (work-seconds)."""

    replicas: np.ndarray
    workers: np.ndarray
    offered: np.ndarray
    utilisation: np.ndarray
    backlog: np.ndarray


Autoscaler = Callable[[int, StepLoad], np.ndarray]
"""`target = autoscaler(step, load)`: replicas per station for the step after `step`, from
the load of `step`. The queues' waits are not computed while stepping (they do not change
what an HPA sees): `simulate_stations` first runs the autoscaler over every step, then solves
the queues for all steps at once with the replicas it chose."""


BATCH_SERVERS_MAX = 64
"""Batch arrivals are solved exactly (M^X/M/c) for queues of up to this many workers; above,
a batch is small next to the workers and the queue is treated as without batches."""


def split_sizes(sizes: np.ndarray, replicas: int, policy: str) -> np.ndarray:
    """The sizes of the part of a batch that one replica's queue receives (P(0) included).

    Random balancing thins each call independently (binomial, 1/n); round-robin deals the
    calls in turn, so a replica gets ⌊x/n⌋ or ⌈x/n⌉ of them (averaged over the replicas).
    """
    if policy not in PER_REPLICA or replicas == 1:
        return sizes
    x = np.arange(sizes.size)
    if policy == "random":
        split = special.binom(x[:, None], x[None, :]) * (1 / replicas) ** x[None, :]
        split = split * (1 - 1 / replicas) ** np.maximum(x[:, None] - x[None, :], 0)
        split = np.where(x[None, :] <= x[:, None], split, 0.0)
        return sizes @ split
    low, extra = np.divmod(x, replicas)
    out = np.zeros(sizes.size)
    np.add.at(out, low + 1, sizes * extra / replicas)
    np.add.at(out, low, sizes * (replicas - extra) / replicas)
    return out


def batch_queue(
    batch_rate: np.ndarray, sizes: np.ndarray, mean: np.ndarray, servers: int, tol: float = 1e-12
) -> tuple[np.ndarray, np.ndarray]:
    """Mean wait and P(wait) of a call in an M^X/M/c queue, exactly, for arrays of steps.

    Batches arrive as a Poisson stream (`batch_rate`, per step) with sizes P(X = x) =
    `sizes[:, x]` (x ≥ 1); each call needs an exponential time of mean `mean`. The number in
    the queue follows from the balance of the rates across each level n (up: a batch finds
    j ≤ n and is larger than n − j; down: a completion at n + 1):

        p(n + 1)·min(n + 1, c)/E[S] = λ_b Σ_j p(j)·P(X > n − j),

    iterated until the tail is below `tol`. Then Lq = Σ (n − c)⁺ p(n), Wq = Lq / (λ_b E[X])
    (Little), and P(wait) = 1 − Σ p(n) E[min(X, c − n)⁺] / E[X] (batches see time averages).
    """
    steps, width = sizes.shape
    x = np.arange(width)
    tail = 1.0 - np.cumsum(sizes, axis=1)  # P(X > m), m = 0 .. width − 1
    tail = np.clip(tail, 0.0, 1.0)[:, ::-1]  # reversed: tail[:, width − 1 − m] = P(X > m)
    mean_size = sizes @ x
    window = np.zeros((steps, width))
    window[:, -1] = 1.0  # p(0), unnormalised
    total = np.ones(steps)
    queued = np.zeros(steps)
    immediate = np.zeros(steps)
    served_now = [np.minimum(x, servers - n) @ sizes.T for n in range(servers)]
    immediate += served_now[0]
    n = 0
    service_rate = 1.0 / np.where(mean > 0, mean, 1.0)
    drain = [service_rate * k for k in range(1, servers + 1)]  # at n + 1 = k busy workers
    while True:
        up = batch_rate * np.einsum("tw,tw->t", window, tail)
        following = up / drain[min(n, servers - 1)]
        n += 1
        window[:, :-1] = window[:, 1:]  # shifted in place (np.roll's copy, less overhead)
        window[:, -1] = following
        total += following
        if n > servers:
            queued += (n - servers) * following
        elif n < servers:
            immediate += following * served_now[n]
        if n > servers and n % 16 == 0 and np.all(following <= tol * total):
            break
        if n > 200_000:  # pragma: no cover - utilisation is capped below 1
            break
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(batch_rate > 0, queued / total / (batch_rate * mean_size), 0.0)
        p_wait = np.where(mean_size > 0, 1.0 - immediate / total / mean_size, 0.0)
    return np.nan_to_num(wait), np.clip(np.nan_to_num(p_wait), 0.0, 1.0)


def _distinct_sigma(phases: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """`erlang_gi_m1_sigma` of cells, each distinct (phases, ρ) solved once: the same
    numbers (cells are iterated each by itself until all have converged, and a repeated
    cell converges with its first), fewer to iterate (a run's steps repeat their loads)."""
    keys = np.column_stack(
        [np.asarray(phases, dtype=np.int64).view(np.uint64), rho.view(np.uint64)]
    )
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return erlang_gi_m1_sigma(phases[first], rho[first])[inverse.ravel()]


def erlang_gi_m1_sigma(phases: np.ndarray, rho: np.ndarray, tol: float = 1e-13) -> np.ndarray:
    """σ of the E_n/M/1 queue (P(wait); the sojourn is exponential with rate μ(1 − σ)): the
    root in (0, 1) of σ = (nρ / (nρ + 1 − σ))^n, by fixed-point iteration from σ = ρ (the
    map is increasing and convex, so the iterates fall monotonically to the root; cf.
    `simulator.theory.ek_m1`, which solves the same equation with brentq)."""
    n = np.asarray(phases, dtype=float)
    rho = np.asarray(rho, dtype=float)
    sigma = rho.copy()
    for _ in range(100_000):
        following = (n * rho / (n * rho + 1.0 - sigma)) ** n
        if np.all(np.abs(following - sigma) <= tol):
            return following
        sigma = following
    return sigma  # pragma: no cover - converges geometrically for ρ ≤ RHO_CAP


def service_variability(servers: np.ndarray, rho: np.ndarray, scv: np.ndarray) -> np.ndarray:
    """Wq(M/G/c) / Wq(M/M/c) for service-time scv cs².

    Allen–Cunneen's (1 + cs²)/2 for cs² ≥ 1; below, Page's interpolation between M/M/c and
    M/D/c, cs² + (1 − cs²)·Wq(M/D/c)/Wq(M/M/c), with Cosmetatos's M/D/c ratio
    ½·(1 + (1 − ρ)(c − 1)(√(4 + 5c) − 2) / (16ρc)). Both are exact for one worker (the
    Pollaczek–Khinchine formula); the second is better for regular work at low load, where
    Allen–Cunneen waits too little.
    """
    c = servers.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        md_ratio = 0.5 * (1 + (1 - rho) * (c - 1) * (np.sqrt(4 + 5 * c) - 2) / (16 * rho * c))
    md_ratio = np.where(rho > 0, md_ratio, 0.5)
    regular = scv + (1 - scv) * md_ratio
    return np.where(scv >= 1, (1 + scv) / 2, regular)


@dataclass(frozen=True)
class Coupled:
    """The parts of `stationary` that solve cells together, not each on its own: the E_n/M/1
    σ of round-robin replicas with one worker (`dealt` cells; one fixed-point iteration for
    all, run until every cell has converged) and the M^X/M/c queues of batch targets (one
    per group of equal replicas and workers, run until every row has converged). A cell's
    value there depends on which other cells were solved with it, so a recomputation of
    some rows only (`simulate_rows`) takes them from a solution over every row.

    `sigma`: per station with a dealt cell, its column of σ (NaN where not dealt);
    `batched`: per batch target, its columns of wait and P(wait)."""

    sigma: dict[int, np.ndarray]
    batched: dict[int, tuple[np.ndarray, np.ndarray]]
    solved: Solved = field(default_factory=dict, repr=False, compare=False)
    """The batch queues' groups, for the next solution to reuse where unchanged."""

    def take(self, rows: np.ndarray) -> Coupled:
        """The same parts at some rows (an index or a mask)."""
        return Coupled(
            {s: column[rows] for s, column in self.sigma.items()},
            {s: (wait[rows], p_wait[rows]) for s, (wait, p_wait) in self.batched.items()},
        )

    def same_rows(self, rows: np.ndarray, other: Coupled, other_rows: np.ndarray) -> bool:
        """Whether these parts at `rows` are, bit for bit, `other`'s at `other_rows`."""
        if self.sigma.keys() != other.sigma.keys() or self.batched.keys() != other.batched.keys():
            return False
        pairs = [(self.sigma[s], other.sigma[s]) for s in self.sigma]
        for s, (wait, p_wait) in self.batched.items():
            pairs += [(wait, other.batched[s][0]), (p_wait, other.batched[s][1])]
        return all(
            np.array_equal(mine[rows].view(np.uint64), theirs[other_rows].view(np.uint64))
            for mine, theirs in pairs
        )


def _queue_inputs(
    model: Model, work: np.ndarray, replicas: np.ndarray, columns: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Per cell: the work rate, the mean and scv of a work step, the utilisation, capped
    (ρ), the servers of one queue and the arrival scv of one queue; of the stations
    `columns` (`work` and `replicas` of those only) or of all."""
    stations = list(model.stations)
    if columns is not None:
        stations = [model.stations[s] for s in columns]
    concurrency = np.array([s.concurrency for s in stations])
    policies = [s.load_balancer for s in stations]
    per_replica = np.array([p in PER_REPLICA for p in policies])
    round_robin = np.array([p == "round-robin" for p in policies])
    workers = replicas * concurrency
    rate, first, second, _ = work
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(rate > 0, first / rate, 0.0)
        scv = np.where(rate > 0, second / rate / mean**2 - 1.0, 1.0)
    scv = np.maximum(np.nan_to_num(scv, nan=1.0), 0.0)
    utilisation = np.where(workers > 0, first / np.maximum(workers, 1), np.inf)
    rho = np.minimum(utilisation, RHO_CAP)
    servers = np.where(per_replica, concurrency, workers)
    arrival_scv = np.where(round_robin & (replicas > 1), 1.0 / np.maximum(replicas, 1), 1.0)
    return rate, mean, scv, utilisation, rho, servers, arrival_scv


def coupled_parts(
    model: Model,
    work: np.ndarray,
    replicas: np.ndarray,
    batch_rates: np.ndarray | None,
    known: Coupled | None = None,
) -> Coupled:
    """`Coupled` of every cell (steps × stations), as `stationary` solves them, computed
    on the stations that can have such parts only (round-robin with one worker a replica,
    batch targets); batch queues in `known` with the same inputs are not solved again."""
    dealing = [
        i
        for i, s in enumerate(model.stations)
        if s.load_balancer == "round-robin" and s.concurrency == 1
    ]
    columns = np.array(sorted({*dealing, *(b.target for b in model.batches)}), dtype=np.int64)
    if not columns.size:
        return Coupled({}, {})
    rate, mean, _, _, rho, servers, arrival_scv = _queue_inputs(
        model, work[:, :, columns], replicas[:, columns], columns
    )
    at = {int(s): j for j, s in enumerate(columns)}
    return _coupled(
        model,
        rate,
        mean,
        rho,
        replicas[:, columns],
        servers,
        arrival_scv,
        batch_rates,
        columns,
        at.__getitem__,
        known.solved if known is not None else None,
    )


def _coupled(
    model: Model,
    rate: np.ndarray,
    mean: np.ndarray,
    rho: np.ndarray,
    replicas: np.ndarray,
    servers: np.ndarray,
    arrival_scv: np.ndarray,
    batch_rates: np.ndarray | None,
    stations: np.ndarray | None = None,
    column: Callable[[int], int] = int,
    known: Solved | None = None,
) -> Coupled:
    """The coupled parts from the cells' inputs (columns: `stations`, or all)."""
    dealt = (arrival_scv < 1) & (servers == 1) & (rate > 0)
    sigmas: dict[int, np.ndarray] = {}
    if dealt.any():
        sigma = np.full(dealt.shape, np.nan)
        sigma[dealt] = _distinct_sigma(replicas[dealt], rho[dealt])
        for j in np.flatnonzero(dealt.any(axis=0)):
            sigmas[int(stations[j]) if stations is not None else int(j)] = sigma[:, j].copy()
    batched, solved = _batched(
        model, rate, mean, rho, replicas, servers, batch_rates, column, known
    )
    return Coupled(sigmas, batched, solved)


def stationary(
    model: Model,
    work: np.ndarray,
    replicas: np.ndarray,
    batch_rates: np.ndarray | None = None,
    coupled: Coupled | None = None,
) -> tuple[dict[str, StationColumns], Coupled]:
    """The steady-state queue of every cell (step × station), at most at RHO_CAP.

    `work` is 4 × steps × stations: the rate of work steps and the rates of their first
    three raw moments (Σ λ·E[S^k]); `batch_rates` (steps × batches) how often each of the
    model's batches is sent.

    Stations that receive batches (fan-outs sending several calls to one service at once)
    are solved as M^X/M/c queues (`batch_queue`) and corrected for the service-time
    variability as Allen–Cunneen does: Wq ≈ Wq(M^X/M/c) + Wq(M/M/c)·(ca² − 1 + cs² − 1)/2,
    which is exact for one worker (the M^X/G/1 mean wait) and is Allen–Cunneen without
    batches.

    `coupled`, if given, are those parts at these rows, solved with more rows (see
    `Coupled`); the parts used are returned either way.

    Every other operation is cell by cell, so a station whose column of inputs (work,
    replicas, concurrency, balancing, coupled parts) repeats another's, bit for bit, is
    computed once (`_distinct_columns`: a fleet of copies of a few services) and, with
    many copies (`KEPT_SHARE`), kept once (`StationColumns`).
    """
    if coupled is None:
        coupled = coupled_parts(model, work, replicas, batch_rates)
    first, inverse = _distinct_columns(model, work, replicas, coupled)
    if first.size == inverse.size:
        queue = _stationary_columns(model, work, replicas, coupled, None)
        return {name: StationColumns(values) for name, values in queue.items()}, coupled
    at = {int(s): j for j, s in enumerate(first)}
    distinct = Coupled(
        {at[s]: column for s, column in coupled.sigma.items() if s in at},
        {at[s]: parts for s, parts in coupled.batched.items() if s in at},
    )
    chosen = (
        np.broadcast_to(replicas[0, first], (replicas.shape[0], first.size))
        if _row_constant(replicas)
        else replicas[:, first]
    )
    queue = _stationary_columns(model, work[:, :, first], chosen, distinct, first)
    if first.size > KEPT_SHARE * inverse.size:  # few copies: spread, read without gathers
        return {name: StationColumns(_spread(v, inverse)) for name, v in queue.items()}, coupled
    return {name: StationColumns(values, inverse) for name, values in queue.items()}, coupled


def _row_constant(values: np.ndarray) -> bool:
    """Whether `values` is one row broadcast over the steps (the scenario's replicas)."""
    return values.ndim == 2 and values.shape[0] > 1 and values.strides[0] == 0


def _spread(values: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """The distinct columns' values at every station (`np.take(values, inverse, axis=1)`);
    one row broadcast over the steps stays one row."""
    if _row_constant(values):
        return np.broadcast_to(np.take(values[0], inverse), (values.shape[0], inverse.size))
    return np.take(values, inverse, axis=1)


COLUMNS = (
    "work_rate",
    "service_mean",
    "offered",
    "utilisation",
    "p_wait_stationary",
    "wait_stationary_mean",
    "wait_shape",
    "wait_scale",
    "queued_mean",
)
"""`StationSteps`' fields kept as `StationColumns`."""

KEPT_SHARE = 0.5
"""Stations' arrays are kept as their distinct columns (`StationColumns`) when these are at
most this share of the stations (a fleet of copies: a tenth); with fewer copies (sre-1000's
thousand services drawn at random: 94% distinct) each station's column is spread, as the
gathers of every reader would cost more time than the memory they save."""

COMPARED_ROWS = 64
"""Steps compared at a time by `_distinct_columns` (a block of a fleet's columns in cache)."""


def _distinct_columns(
    model: Model, work: np.ndarray, replicas: np.ndarray, coupled: Coupled
) -> tuple[np.ndarray, np.ndarray]:
    """The first station of each distinct column of `stationary`'s inputs (in station
    order) and, per station, the position of its column among those. Stations are grouped
    by a key (their settings, coupled parts and sums of their columns), and a group's
    columns are then compared, bit for bit, with its first one's (split off if not equal)."""
    bits = work.view(np.uint64)
    counts = replicas.astype(np.int64, copy=False)  # no copy of the scenario's, broadcast
    sums = np.concatenate([work.sum(axis=1), counts.sum(axis=0, dtype=np.float64)[None, :]])
    absent = np.zeros(0)
    groups: dict[bytes, list[int]] = {}
    for s, station in enumerate(model.stations):
        sigma = coupled.sigma.get(s)
        wait, p_wait = coupled.batched.get(s, (absent, absent))
        settings = (station.concurrency, station.load_balancer, sigma is None, wait is absent)
        key = b"".join(
            [
                repr(settings).encode(),
                sums[:, s].tobytes(),
                (sigma if sigma is not None else absent).tobytes(),
                wait.tobytes(),
                p_wait.tobytes(),
            ]
        )
        groups.setdefault(key, []).append(s)
    owner = np.empty(len(model.stations), dtype=np.int64)
    for members in groups.values():
        owner[members] = members[0]
    left = np.arange(len(model.stations))
    while left.size:  # the columns equal to their owner's are done; the others split off
        same = np.ones(left.size, dtype=bool)
        for rows in range(0, bits.shape[1], COMPARED_ROWS):  # a slice at a time: in cache
            block, kept = bits[:, rows : rows + COMPARED_ROWS], counts[rows : rows + COMPARED_ROWS]
            if left.size < len(model.stations):
                block, kept = block[:, :, left], kept[:, left]
            own = np.searchsorted(left, owner[left])
            same &= np.all(block == np.take(block, own, axis=2), axis=(0, 1))
            same &= np.all(kept == np.take(kept, own, axis=1), axis=0)
        left = left[~same]
        _, start, position = np.unique(owner[left], return_index=True, return_inverse=True)
        owner[left] = left[start][position.ravel()]
    first, inverse = np.unique(owner, return_inverse=True)
    return first, inverse


def _stationary_columns(
    model: Model,
    work: np.ndarray,
    replicas: np.ndarray,
    coupled: Coupled,
    columns: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """`stationary` of the stations `columns` (`work`, `replicas` and `coupled`'s keys of
    those only, in that order) or of all."""
    stations = list(model.stations)
    if columns is not None:
        stations = [model.stations[s] for s in columns]
    concurrency = np.array([s.concurrency for s in stations])
    if _row_constant(replicas):  # the scenario's replicas at every step: one row of workers
        workers = np.broadcast_to(replicas[0] * concurrency, replicas.shape)
    else:
        workers = replicas * concurrency
    third = work[3]
    rate, mean, scv, utilisation, rho, servers, arrival_scv = _queue_inputs(
        model, work, replicas, columns
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        third_mean = np.where(rate > 0, third / rate, 0.0)
    load = rho * servers  # Erlangs offered to one queue
    c_wait = np.where(rate > 0, erlang_c(servers, load), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mmc_wait = c_wait * mean / (servers - load)
        service_factor = service_variability(servers, rho, scv)
        wait = mmc_wait * ((arrival_scv - 1) / 2 + service_factor)
        # Arrivals more regular than Poisson (round-robin): the Kraemer & Langenbach-Belz
        # factor, which Allen–Cunneen lacks and which matters most at low load.
        regular = arrival_scv < 1
        klb = np.exp(-2 * (1 - rho) * (1 - arrival_scv) ** 2 / (3 * rho * (arrival_scv + scv)))
        klb = np.where(regular & (rho > 0), np.nan_to_num(klb, nan=1.0), 1.0)
    del load, regular  # a year of a large fleet: each of these is states × stations
    wait = wait * klb
    p_wait = c_wait * klb
    del klb
    # One worker per replica behind round-robin: an E_n/G/1 queue. P(wait) is that of the
    # E_n/M/1 queue, σ = A*(μ(1 − σ)); with exponential work the queue is E_n/M/1 exactly.
    dealt = (arrival_scv < 1) & (servers == 1) & (rate > 0)
    if dealt.any():
        solved = np.zeros(dealt.shape)
        for s, column in coupled.sigma.items():
            solved[:, s] = column
        sigma = solved[dealt]
        del solved
        p_wait[dealt] = sigma
        exact = np.abs(scv[dealt] - 1.0) < 1e-12
        exponential_wait = sigma * mean[dealt] / (1.0 - sigma)
        wait[dealt] = np.where(exact, exponential_wait, wait[dealt])
    batched = coupled.batched
    for s, (mx_wait, mx_p_wait) in batched.items():
        extra = (arrival_scv[:, s] - 1) / 2 + service_factor[:, s] - 1
        wait[:, s] = mx_wait + mmc_wait[:, s] * extra
        p_wait[:, s] = np.where(rate[:, s] > 0, mx_p_wait, 0.0)
    del mmc_wait, service_factor
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = np.where(p_wait > 0, wait / p_wait, 0.0)
        # One worker, Poisson arrivals: Takács's second moment of the M/G/1 wait.
        queue_rate = rho / np.where(mean > 0, mean, 1.0)  # λ of one queue at the capped ρ
        takacs = 2 * wait**2 + queue_rate * third_mean / (3 * (1 - rho))
        del queue_rate, third_mean
        mg1 = (servers == 1) & (arrival_scv == 1.0) & (c_wait > 0)
        for s in batched:
            mg1[:, s] = False
        conditional_second = np.where(mg1, takacs / np.where(c_wait > 0, c_wait, 1), 0.0)
        del takacs
        variance = conditional_second - conditional**2
        del conditional_second
        shape = np.where(mg1 & (variance > 0), conditional**2 / variance, 1.0)
        del variance, mg1
    shape = np.clip(np.nan_to_num(shape, nan=1.0), 1e-3, 1e6)
    scale = np.where(shape > 0, conditional / shape, 0.0)
    del utilisation
    return {  # what `_steps` keeps (a fleet's states × stations arrays are large)
        "workers": workers,
        "mean": mean,
        "p_wait": np.nan_to_num(p_wait),
        "wait": np.nan_to_num(np.maximum(wait, 0.0)),
        "shape": shape,
        "scale": np.nan_to_num(scale),
    }


Solved = dict[tuple[int, int, int], tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]]
"""Batch queues solved: by (station, replicas, workers of a queue), their inputs (rows of
call rates, batch rates, work mean and ρ) and their wait and P(wait)."""


def _batched(
    model: Model,
    rate: np.ndarray,
    mean: np.ndarray,
    rho: np.ndarray,
    replicas: np.ndarray,
    servers: np.ndarray,
    batch_rates: np.ndarray | None,
    column: Callable[[int], int] = int,
    known: Solved | None = None,
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], Solved]:
    """M^X/M/c wait and P(wait) of the stations that receive batches, per step.

    `column(s)` is station s's column in the arrays (all stations' by default). A group
    whose inputs are in `known`, bit for bit, is not solved again (the same numbers); the
    groups solved here are returned with the waits."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    solved: Solved = {}
    if batch_rates is None or not model.batches:
        return out, solved
    targets = sorted({b.target for b in model.batches})
    for s in targets:
        sources = [(i, b) for i, b in enumerate(model.batches) if b.target == s]
        width = max(b.sizes.size for _, b in sources)
        j = column(s)
        wait = np.zeros(rate.shape[0])
        p_wait = np.zeros(rate.shape[0])
        groups = np.unique(np.column_stack([replicas[:, j], servers[:, j]]), axis=0)
        for n, c in groups:
            rows = (replicas[:, j] == n) & (servers[:, j] == c)
            if c > BATCH_SERVERS_MAX:
                continue
            inputs = (
                rate[rows, j],
                batch_rates[rows][:, [i for i, _ in sources]],
                mean[rows, j],
                rho[rows, j],
            )
            key = (s, int(n), int(c))
            before = known.get(key) if known is not None else None
            if before is not None and all(
                _same(a, b) for a, b in zip(inputs, before[0], strict=True)
            ):
                w, p = before[1], before[2]
            else:
                w, p = _batch_group(model, s, sources, width, int(n), int(c), *inputs)
            solved[key] = (inputs, w, p)
            wait[rows], p_wait[rows] = w, p
        out[s] = (wait, p_wait)
    return out, solved


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def _batch_group(
    model: Model,
    s: int,
    sources: list[tuple[int, Batch]],
    width: int,
    n: int,
    c: int,
    rate: np.ndarray,
    sent_rates: np.ndarray,
    mean: np.ndarray,
    rho: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The M^X/M/c queue of one batch target's rows with n replicas and c workers a queue."""
    policy = model.stations[s].load_balancer
    queues = n if policy in PER_REPLICA else 1
    sizes = np.zeros((rate.size, width))
    batch_rate = np.zeros(rate.size)
    singles = rate.copy()  # calls per second, all queues
    for k, (_, b) in enumerate(sources):
        sent = sent_rates[:, k]
        singles -= sent * b.mean
        part = split_sizes(b.sizes, n, policy)  # per queue, P(0) included
        sizes[:, 1 : part.size] += sent[:, None] * part[None, 1:]
        batch_rate += sent * (1 - part[0])
    singles = np.maximum(singles, 0.0) / queues
    sizes[:, 1] += singles
    batch_rate += singles
    with np.errstate(divide="ignore", invalid="ignore"):
        sizes = np.where(batch_rate[:, None] > 0, sizes / batch_rate[:, None], 0.0)
        offered = batch_rate * (sizes @ np.arange(width)) * mean / c
        scale = np.where(offered > 0, rho / offered, 0.0)  # cap at RHO_CAP
    return batch_queue(batch_rate * scale, sizes, mean, c)


def fluid_backlog(
    offered: np.ndarray, workers: np.ndarray, dt: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Carry unserved work from step to step (steps × stations arrays; `start` per station).

    Returns, per step: the backlog at its end (work-seconds), its time average over the step,
    the share of the step during which it was positive, and the lowest and highest delay it
    causes in that part of the step (backlog / workers at the two ends of that part; the
    fluid backlog is linear in time, so the delay of an arrival is uniform between them).
    """
    steps, count = offered.shape
    end, average, share, low, high = (np.zeros((steps, count)) for _ in range(5))
    backlog = np.asarray(start, dtype=float).copy()
    each = np.broadcast_to(workers, offered.shape)
    if not backlog.any() and not any(  # a block of steps at a time: the same cells
        ((offered[rows] - each[rows]) * dt[rows, None] > 0).any()
        for rows in _row_blocks(steps, count)
    ):
        return end, average, share, low, high  # never overloaded: the fast, common case
    excess = (offered - workers) * dt[:, None]
    for t in range(steps):
        change = excess[t]
        if not backlog.any() and not (change > 0).any():
            continue
        after = np.maximum(backlog + change, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            drained = np.where(change < 0, backlog / -change, 1.0)  # share of the step
        part = np.where(change >= 0, (after > 0).astype(float), np.clip(drained, 0.0, 1.0))
        part = np.where((backlog <= 0) & (change <= 0), 0.0, part)
        average[t] = part * (backlog + after) / 2
        share[t] = part
        first, last = backlog / workers[t], after / workers[t]
        low[t] = np.where(part > 0, np.minimum(first, last), 0.0)
        high[t] = np.where(part > 0, np.maximum(first, last), 0.0)
        end[t] = after
        backlog = after
    return end, average, share, low, high


def simulate_stations(
    model: Model,
    arrivals: np.ndarray,
    dt: np.ndarray,
    replicas: np.ndarray | None = None,
    autoscaler: Autoscaler | None = None,
    slow: np.ndarray | None = None,
) -> StationSteps:
    """Every station at every step, from the entry arrival rates (steps × entries).

    `replicas` (steps × stations) is a schedule of replicas; by default each station keeps
    its scenario's count. With an `autoscaler`, steps are taken one at a time and the
    replicas of each step are the autoscaler's target after the step before (starting from
    the scenario's counts). `slow`: latency regressions (`StationSteps.slow`).
    """
    steps = arrivals.shape[0]
    base = np.array([s.replicas for s in model.stations])
    if replicas is None:  # read only, one row for every step (no steps × stations copy)
        replicas = np.broadcast_to(base, (steps, len(base)))
    work, batches = station_work(model, arrivals)
    work = slowed_work(work, slow)
    if autoscaler is not None:
        replicas = _autoscaled(model, work[1], dt, base, autoscaler)
    return _steps(model, work, dt, replicas, np.zeros(len(base)), batches, slow=slow)


def station_work(model: Model, arrivals: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The work (4 × steps × stations: rate and rates of its raw moments) and the batches'
    rates (steps × batches; None without batches) of entry arrival rates (steps × entries)."""
    work = _entry_sums(arrivals, model.loads)
    batches = arrivals @ model.batches_per_request if model.batches else None
    return work, batches


def _entry_sums(arrivals: np.ndarray, loads: np.ndarray) -> np.ndarray:
    """`np.einsum("te,kes->kts", arrivals, loads)`: each station's work summed over the
    entry points. Where every station's work comes from one entry point at most (a fleet of
    copies: each copy's services are called from its own entry point), each cell is that
    one product, the same bits as the sum (its other terms are +0.0: rates and loads are
    finite and not negative), without the einsum's work on all the zeros."""
    nonzero = loads != 0
    if (
        not loads.size
        or nonzero.sum(axis=1).max(initial=0) > 1
        or not (np.isfinite(loads).all() and np.isfinite(arrivals).all())
        or (loads < 0).any()
        or (arrivals < 0).any()
    ):
        return np.einsum("te,kes->kts", arrivals, loads)
    owner = nonzero.argmax(axis=1)  # k × stations: the one entry point (0: none, a 0 load)
    values = np.take_along_axis(loads, owner[:, None, :], axis=1)[:, 0, :]
    work = np.empty((loads.shape[0], arrivals.shape[0], loads.shape[2]))
    for k in range(loads.shape[0]):
        np.take(arrivals, owner[k], axis=1, out=work[k])
        np.multiply(work[k], values[k], out=work[k])
    return work


def simulate_rows(
    model: Model,
    work: np.ndarray,
    batches: np.ndarray | None,
    dt: np.ndarray,
    replicas: np.ndarray,
    backlog: np.ndarray,
    coupled: Coupled,
    slow: np.ndarray | None = None,
) -> StationSteps:
    """Some consecutive steps (or load states without a backlog) of a run, the others
    kept: their `station_work` (`slowed_work` by `slow`, which they keep), replicas and
    the backlog at their start; `coupled` is `coupled_parts` at these rows, solved over
    every row of the run."""
    return _steps(model, work, dt, replicas, backlog, batches, coupled, slow)


def _autoscaled(
    model: Model, offered: np.ndarray, dt: np.ndarray, base: np.ndarray, autoscaler: Autoscaler
) -> np.ndarray:
    """The replicas of every step, the autoscaler's answer to the step before."""
    schedule = np.empty((len(dt), len(base)), dtype=np.int64)
    autoscaled_from(model, offered, dt, autoscaler, 0, base.copy(), np.zeros(len(base)), schedule)
    return schedule


def autoscaled_from(
    model: Model,
    offered: np.ndarray,
    dt: np.ndarray,
    autoscaler: Autoscaler,
    first: int,
    current: np.ndarray,
    backlog: np.ndarray,
    schedule: np.ndarray,
) -> None:
    """The replicas of steps `first` on, written into `schedule` (steps × stations), from
    the `current` replicas and fluid `backlog` at step `first`'s start: the loop of
    `simulate_stations` under an autoscaler, resumable for one that can go back to a step
    (`ElasticFleet.resume`). `offered`: the load of steps `first` on."""
    concurrency = np.array([s.concurrency for s in model.stations])
    for t in range(first, len(dt)):
        schedule[t] = current
        workers = current * concurrency
        load = offered[t - first]
        end, utilisation = _served_step(load, workers, dt[t], backlog)
        backlog = end
        seen = StepLoad(
            current[None, :], workers[None, :], load[None, :], utilisation[None, :], end[None, :]
        )
        current = np.maximum(np.asarray(autoscaler(t, seen), dtype=np.int64), 1)


def _served_step(
    offered: np.ndarray, workers: np.ndarray, dt: np.float64, backlog: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`_served` of one step (its rows as 1-d arrays, `dt` the step's length): the backlog
    at its end and the utilisation. The same operations cell by cell, so the same bits;
    in a step without a backlog that stays so (the usual one: a step every few minutes
    of a run of weeks), without `fluid_backlog`'s five arrays and its wrappers' cost."""
    if np.count_nonzero(backlog) or np.count_nonzero((offered - workers) * dt > 0):
        end, *_, utilisation = _served(offered[None, :], workers[None, :], np.full(1, dt), backlog)
        return end[0], utilisation[0]
    end = np.zeros(offered.shape)
    done = offered * dt + backlog - end  # work-seconds served
    capacity = workers * dt
    share_done = np.where(capacity > 0, done / np.maximum(capacity, 1e-300), 0.0)
    return end, np.clip(share_done, 0, 1)


def _served(
    offered: np.ndarray, workers: np.ndarray, dt: np.ndarray, backlog: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The fluid backlog's five arrays (see `fluid_backlog`) and the utilisation: work
    served (backlog included) over worker time."""
    end, average, share, low, high = fluid_backlog(offered, workers, dt, backlog)
    workers = np.broadcast_to(workers, offered.shape)
    utilisation = np.empty(offered.shape)
    for rows in _row_blocks(*offered.shape):  # cell by cell: the same numbers, less at once
        before = end[rows.start - 1 : rows.stop - 1] if rows.start else end[: rows.stop - 1]
        start = before if rows.start else np.vstack([backlog[None, :], before])
        done = offered[rows] * dt[rows, None] + start - end[rows]  # work-seconds served
        capacity = workers[rows] * dt[rows, None]
        share_done = np.where(capacity > 0, done / np.maximum(capacity, 1e-300), 0.0)
        utilisation[rows] = np.clip(share_done, 0, 1)
    return end, average, share, low, high, utilisation


ROW_BLOCK_CELLS = 1 << 20
"""Cells (steps × stations) computed at once by the cell-by-cell steps of `_steps`: a
fleet's whole arrays are tens of MiB each, and a formula's temporaries as many again."""


def _row_blocks(rows: int, columns: int) -> list[slice]:
    """Consecutive blocks of `rows` (of `columns` cells) of about ROW_BLOCK_CELLS cells."""
    size = max(ROW_BLOCK_CELLS // max(columns, 1), 1)
    return [slice(begin, min(begin + size, rows)) for begin in range(0, rows, size)]


def _steps(
    model: Model,
    work: np.ndarray,
    dt: np.ndarray,
    replicas: np.ndarray,
    backlog: np.ndarray,
    batches: np.ndarray | None,
    coupled: Coupled | None = None,
    slow: np.ndarray | None = None,
) -> StationSteps:
    queue, coupled = stationary(model, work, replicas, batches, coupled)
    inverse = queue["mean"].inverse
    if inverse is not None and not _grouped_alike(backlog, inverse):
        queue = {name: StationColumns(values.array()) for name, values in queue.items()}
        inverse = None  # a backlog that differs between copies: every station its own
    # The distinct columns only (a fleet's copies): the fluid backlog and the queue carry
    # each station's column by itself, cell by cell, from its work, workers and backlog,
    # which are its column's, so the same bits at every station.
    columns = slice(None) if inverse is None else _firsts(inverse)
    workers = queue["workers"].values
    offered = work[1][:, columns]
    end, average, share, low, high, utilisation = _served(offered, workers, dt, backlog[columns])
    mean, wait, rate = queue["mean"].values, queue["wait"].values, work[0][:, columns]
    queued = np.empty(offered.shape)
    for rows in _row_blocks(*queued.shape):  # cell by cell: the same numbers, less at once
        with np.errstate(divide="ignore", invalid="ignore"):
            backlog_queue = np.where(mean[rows] > 0, average[rows] / mean[rows], 0.0)
        queued[rows] = (1.0 - share[rows]) * rate[rows] * wait[rows] + backlog_queue
    if inverse is None:  # copies: the moments' rows of `work` can then go
        rate, offered = rate.copy(), offered.copy()
    return StationSteps(
        replicas=replicas,
        workers=queue["workers"].array(),  # read whole by many (one row without an autoscaler)
        work_rate=StationColumns(rate, inverse),
        service_mean=queue["mean"],
        offered=StationColumns(offered, inverse),
        utilisation=StationColumns(utilisation, inverse),
        p_wait_stationary=queue["p_wait"],
        wait_stationary_mean=queue["wait"],
        wait_shape=queue["shape"],
        wait_scale=queue["scale"],
        delay_share=_fluid(share, inverse),
        delay_low=_fluid(low, inverse),
        delay_high=_fluid(high, inverse),
        backlog=_fluid(end, inverse),
        queued_mean=StationColumns(queued, inverse),
        slow=slow,
        coupled=coupled,
    )


def _grouped_alike(values: np.ndarray, inverse: np.ndarray) -> bool:
    """Whether a value per station is, bit for bit, the first of its group's (`inverse`)."""
    return np.array_equal(values[_firsts(inverse)][inverse].view(np.uint64), values.view(np.uint64))


def _firsts(inverse: np.ndarray) -> np.ndarray:
    """The first station of each group of `inverse` (its distinct columns' order)."""
    return np.unique(inverse, return_index=True)[1]


def _fluid(values: np.ndarray, inverse: np.ndarray | None) -> np.ndarray:
    """A fluid backlog array of the distinct columns at every station: fresh zeros when
    all are +0.0 (the usual run, never overloaded: pages never written, not resident)."""
    if inverse is None:
        return values
    if not np.any(values.view(np.uint64)):
        return np.zeros((values.shape[0], inverse.size))
    return _spread(values, inverse)
