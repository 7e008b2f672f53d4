"""What monitoring and the organisation read of the analytic services: expected requests,
visits and bad ones in any interval, integrated over the time steps.

Per step the analytic fidelity knows each entry point's arrival rate and, in each load
state, the share of its requests that end too slow (beyond the SLO latency) or by the
client's timeout, and each station's visit rate, workers and utilisation. A scrape over
(start, now] integrates those piecewise-constant rates exactly, and adds what the running
versions do (`AnalyticRollouts.error_ratio`): a request of entry e meets the defects of
the stations it visits, V[e, s] times on average, so it fails with

    1 − (1 − slow_or_timed_out) × Π_s (1 − err_s)^V[e, s]

(each visit fails on its own; a request that fails is not also counted slow). The counts
are expectations, not whole numbers. The arrays are rebuilt when replicas are added by
hand (`AnalyticServices.generation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..model.context import Scrape
from .latency import LEVELS

if TYPE_CHECKING:
    from ..scenario.schema import Scenario
    from .flows import Model
    from .rollouts import AnalyticRollouts
    from .stations import StationSteps


class _Timeline(Protocol):
    @property
    def starts(self) -> np.ndarray: ...
    @property
    def dt(self) -> np.ndarray: ...
    @property
    def arrivals(self) -> np.ndarray: ...
    @property
    def state(self) -> np.ndarray: ...
    @property
    def state_arrivals(self) -> np.ndarray: ...


class _EntryLatency(Protocol):
    @property
    def quantiles(self) -> np.ndarray: ...
    @property
    def rows(self) -> np.ndarray: ...
    @property
    def weights(self) -> np.ndarray: ...
    @property
    def timed_out(self) -> np.ndarray | None: ...


class Steps(Protocol):
    """What the samples read of `AnalyticServices` (`simulator.analytic.run`)."""

    @property
    def model(self) -> Model: ...
    @property
    def timeline(self) -> _Timeline: ...
    @property
    def steps(self) -> StationSteps: ...
    @property
    def generation(self) -> int: ...

    def entry_latency(self) -> Mapping[str, _EntryLatency]: ...

    def add_replicas(self, station: int, count: int) -> int: ...


@dataclass(frozen=True)
class _Integrals:
    """Running integrals at the step edges, and the rates within each step."""

    edges: np.ndarray  # steps + 1
    state: np.ndarray  # step → load state
    arrivals: tuple[np.ndarray, np.ndarray]  # (cumulative at edges, rate per step), entries
    visits: tuple[np.ndarray, np.ndarray]  # stations
    busy: tuple[np.ndarray, np.ndarray]  # worker-seconds busy
    capacity: tuple[np.ndarray, np.ndarray]  # worker-seconds available
    bad_share: np.ndarray  # states × entries: too slow or timed out
    replicas: np.ndarray  # states × stations


def _cumulative(rates: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    head = np.zeros((1, rates.shape[1]))
    return np.vstack([head, np.cumsum(rates * dt[:, None], axis=0)]), rates


class AnalyticSli:
    """Monitoring's samples at the analytic fidelity (an `SliSource`), and the visits the
    analytic rollouts' canary analysis and incident impact count."""

    expected_counts = True

    def __init__(self, services: Steps, scenario: Scenario) -> None:
        self.services = services
        self.scenario = scenario
        model = services.model
        self.rollouts: AnalyticRollouts | None = None
        names = list(scenario.services)
        self._entry_index = np.array([names.index(e) for e in model.entries], dtype=np.int64)
        self._size = len(names)
        if model.monolith:
            self.per_request = np.ones((len(model.entries), 1))
        else:
            self.per_request = np.asarray(model.visits_per_request, dtype=float)
        latency = scenario.slo.latency
        self._slo_latency = float(latency) if latency is not None else np.inf
        self._built: tuple[int, _Integrals] | None = None

    @property
    def station_names(self) -> list[str]:
        return [station.name for station in self.services.model.stations]

    def add_replicas(self, station: int, count: int) -> int:
        return self.services.add_replicas(station, count)

    # ------------------------------------------------------------------ integrals

    def _integrals(self) -> _Integrals:
        services = self.services
        if self._built is not None and self._built[0] == services.generation:
            return self._built[1]
        timeline, steps = services.timeline, services.steps
        state, dt = timeline.state, timeline.dt
        edges = np.append(timeline.starts, self.scenario.horizon)
        arrivals = timeline.arrivals
        visits = arrivals @ self.per_request
        workers = steps.workers[state]
        integrals = _Integrals(
            edges=edges,
            state=state,
            arrivals=_cumulative(arrivals, dt),
            visits=_cumulative(visits, dt),
            busy=_cumulative(steps.utilisation[state] * workers, dt),
            capacity=_cumulative(workers, dt),
            bad_share=self._bad_share(),
            replicas=steps.replicas,
        )
        self._built = (services.generation, integrals)
        return integrals

    def _bad_share(self) -> np.ndarray:
        """Per load state and entry point, the share of requests that end too slow or by
        the client's timeout (from the quantile rows of `AnalyticServices.entry_latency`)."""
        services = self.services
        states = len(services.timeline.state_arrivals)
        shares = np.zeros((states, len(services.model.entries)))
        for e, info in enumerate(services.entry_latency().values()):
            rows = info.quantiles
            if np.isfinite(self._slo_latency) and np.isfinite(rows).all():
                within = np.array([np.interp(self._slo_latency, row, LEVELS) for row in rows])
                slow = np.where(self._slo_latency >= rows[:, -1], 0.0, 1.0 - within)
            else:
                slow = np.zeros(len(rows))
            failed = np.zeros(states)
            if info.timed_out is not None:
                sent = info.weights + info.timed_out
                failed = np.divide(info.timed_out, sent, out=failed, where=sent > 0)
            shares[:, e] = failed + (1.0 - failed) * slow[info.rows]
        return shares

    @staticmethod
    def _at(pair: tuple[np.ndarray, np.ndarray], edges: np.ndarray, time: float) -> np.ndarray:
        cumulative, rates = pair
        k = min(max(int(np.searchsorted(edges, time, side="right")) - 1, 0), len(rates) - 1)
        return cumulative[k] + rates[k] * (time - edges[k])

    def _between(self, pair: tuple[np.ndarray, np.ndarray], start: float, end: float) -> np.ndarray:
        edges = self._integrals().edges
        return self._at(pair, edges, end) - self._at(pair, edges, start)

    def visits(self, station: int, start: float, end: float) -> float:
        """Expected visits to a station in [start, end]."""
        return float(self._between(self._integrals().visits, start, end)[station])

    # ------------------------------------------------------------------ a scrape

    def scrape(self, start: float, now: float) -> Scrape:
        got = self._integrals()
        edges = got.edges
        middle = int(np.searchsorted(edges, (start + now) / 2, side="right")) - 1
        last = int(np.searchsorted(edges, now, side="left")) - 1
        steps = len(got.state)
        middle, last = min(max(middle, 0), steps - 1), min(max(last, 0), steps - 1)
        sent = self._between(got.arrivals, start, now)
        visits = self._between(got.visits, start, now)
        ok = 1.0 - got.bad_share[got.state[middle]]
        failed = np.zeros_like(visits)
        if self.rollouts is not None and self.rollouts.active():
            errors = self.rollouts.error_ratios(start, now)
            if errors:
                stations = np.fromiter(errors, dtype=np.int64)
                failed[stations] = visits[stations] * np.fromiter(errors.values(), dtype=float)
                ok = ok * self._survival(errors)
        totals = np.zeros(self._size)
        bads = np.zeros(self._size)
        totals[self._entry_index] = sent
        bads[self._entry_index] = sent * (1.0 - ok)
        first_bad = {int(i): start for i in self._entry_index[bads[self._entry_index] > 0]}
        return Scrape(
            totals=totals,
            bads=bads,
            first_bad=first_bad,
            visits=visits,
            failed=failed,
            busy=self._between(got.busy, start, now),
            capacity=self._between(got.capacity, start, now),
            replicas=got.replicas[got.state[last]],
        )

    # ------------------------------------------------------------------ the run's toll

    def failed_by_versions(self, start: float, end: float) -> tuple[float, float]:
        """Expected requests (at the entry points) that bad versions failed in [start, end],
        and those that failed because a manual deploy had a service down, step by step."""
        rollouts = self.rollouts
        if rollouts is None or not rollouts.active():
            return 0.0, 0.0
        got = self._integrals()
        edges = got.edges
        defect = unavailable = 0.0
        first = max(
            int(np.searchsorted(edges, max(start, rollouts.first_deploy()), "right")) - 1, 0
        )
        for k in range(first, len(got.state)):
            lo, hi = max(edges[k], start), min(edges[k + 1], end)
            if hi <= lo:
                continue
            with_outages = rollouts.error_ratios(lo, hi)
            if not with_outages:
                continue
            defects = rollouts.error_ratios(lo, hi, outages=False)
            sent = self._between(got.arrivals, lo, hi)
            failed_all = 1.0 - self._survival(with_outages)
            failed_defect = 1.0 - self._survival(defects)
            defect += float(sent @ failed_defect)
            unavailable += float(sent @ (failed_all - failed_defect))
        return defect, unavailable

    def _survival(self, errors: dict[int, float]) -> np.ndarray:
        """Per entry point, the chance that a request meets no failure at the stations of
        `errors` (each visit fails on its own)."""
        if not errors:
            return np.ones(self.per_request.shape[0])
        stations = np.fromiter(errors, dtype=np.int64)
        err = np.fromiter(errors.values(), dtype=float)
        survive = np.log1p(-np.minimum(err, 1.0 - 1e-15))  # log of a visit's success
        return np.exp(self.per_request[:, stations] @ survive)
