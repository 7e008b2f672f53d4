"""A fleet of copied services (the growth sweep's: the SRE era's ten services a hundred
times over) computes each distinct lattice distribution once, and each distinct quantile
row's CDF once in the summary's mixture: the same numbers, bit for bit, as every copy
computed by itself."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.analytic import latency, stations
from simulator.analytic import run as analytic_run
from simulator.analytic.flows import Model
from simulator.analytic.latency import LEVELS, Moments, lattice_distributions
from simulator.analytic.stations import StationColumns, StationSteps
from simulator.experiments.eras import ERAS_DIR
from simulator.experiments.fleet import fleet_scenario
from simulator.scenario.loader import load_scenario
from tests.analytic.test_rows_cdf import straightforward
from tests.golden.cases import SCENARIOS

Jobs = list[tuple[str, int, float, float]]


@pytest.fixture(scope="module")
def copies() -> tuple[Model, StationSteps, Jobs]:
    """Two hundred services (twenty copies of ten), two entry points' worth of states each."""
    scenario = fleet_scenario(ERAS_DIR / "sre.yaml", 200, {"horizon": "3d", "warmup": "1d"})
    model = analytic_run.compile_model(scenario)
    _, steps = analytic_run._simulate(scenario, model, None)
    moments = Moments(model, steps)
    jobs: Jobs = []
    for name in model.entries:
        mean, variance = moments.visit(name)
        sd = np.sqrt(np.maximum(variance, 0.0))
        for step in np.linspace(0, len(mean) - 1, 4).astype(int).tolist():
            jobs.append((name, step, float(mean[step]), float(sd[step])))
    return model, steps, jobs


def _each(model: Model, steps: StationSteps, jobs: Jobs, monkeypatch: pytest.MonkeyPatch):
    """Every job computed, none taken as a copy of another."""
    with monkeypatch.context() as patch:
        patch.setattr(latency, "_copied_jobs", lambda *args: {})
        return lattice_distributions(model, steps, jobs)


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key][0].tobytes() == b[key][0].tobytes(), key
        assert a[key][1].tobytes() == b[key][1].tobytes(), key


def test_copied_entry_points_share_their_lattices(copies, monkeypatch) -> None:
    model, steps, jobs = copies
    children, names = latency.visit_children(model), {}
    found = latency._copied_jobs(model, steps, jobs, names, children, {})
    assert len(found) >= len(jobs) * 3 // 4  # most jobs are copies of another
    shared = lattice_distributions(model, steps, jobs)
    _same(shared, _each(model, steps, jobs, monkeypatch))
    for job, original in found.items():
        assert shared[job][1] is shared[original][1]


def test_a_station_moved_by_an_ulp_is_not_a_copy(copies, monkeypatch) -> None:
    """One station's wait scale at one step moved by an ulp: the jobs whose trees read it
    there are their own, and every job's masses are still those computed alone."""
    model, steps, jobs = copies
    entry, step = jobs[-1][0], jobs[-1][1]
    station = model.services.index(entry)
    scale = steps.wait_scale.array().copy()
    scale[step, station] = np.nextafter(scale[step, station], np.inf)
    moved = replace(steps, wait_scale=StationColumns(scale))
    found = latency._copied_jobs(model, moved, jobs, {}, latency.visit_children(model), {})
    assert (entry, step) not in found
    _same(lattice_distributions(model, moved, jobs), _each(model, moved, jobs, monkeypatch))


def _mixture_by_blocks(quantiles: np.ndarray, weights: np.ndarray, x: np.ndarray, chunk: int):
    """`mixture_cdf` as it was: every block's CDFs computed by themselves."""
    total = np.zeros(x.size)
    for begin in range(0, len(quantiles), chunk):
        block, w = quantiles[begin : begin + chunk], weights[begin : begin + chunk]
        total += w @ straightforward(block, x)
    return total / weights.sum()


def test_repeated_rows_give_the_mixture_of_every_row(monkeypatch) -> None:
    """Rows repeated in blocks of different lows and spans, some a few ulps apart, probed
    exactly at quantiles and an ulp either side: the same sums as every block computed."""
    rng = np.random.default_rng(7)
    shape = np.sort(rng.lognormal(size=LEVELS.size))
    base = np.maximum.accumulate(np.outer(rng.lognormal(-1.0, 1.0, 6), shape), axis=1)
    near = base[:3].copy()
    near[:, 100:] = np.nextafter(near[:, 100:], np.inf)  # an ulp above, from level 100 on
    distinct = np.vstack([base, near, base[:1] * 40.0])  # the last widens some blocks' span
    quantiles = distinct[rng.integers(0, len(distinct), 400)]
    weights = rng.exponential(size=len(quantiles))
    on = base[:3, [0, 99, 100, 150, -1]].ravel()
    x = np.sort(np.concatenate([on, np.nextafter(on, 0.0), np.nextafter(on, np.inf)]))
    repeats = latency.RepeatedRows.of(quantiles)
    assert repeats is not None and len(repeats.rows) == len(distinct)
    cdfs = repeats.cdfs(x, 16)
    assert cdfs is not None and not cdfs.sure.all()  # rows an ulp from a probe: unsure
    monkeypatch.setattr(latency, "_rows_cdf", _patched_rows_cdf)
    for chunk in (16, 64, 2048):
        got = latency._mixture_cdf(quantiles, weights, x, chunk, repeats)
        assert got.tobytes() == _mixture_by_blocks(quantiles, weights, x, chunk).tobytes()
    got = latency.mixture_quantiles(quantiles, weights, [0.5, 0.95, 0.99, 0.999])
    monkeypatch.setattr(latency.RepeatedRows, "of", classmethod(lambda cls, q: None))
    assert got == latency.mixture_quantiles(quantiles, weights, [0.5, 0.95, 0.99, 0.999])


def test_stacked_rows_give_the_stacked_arrays_mixture(monkeypatch) -> None:
    """The summary's rows read a block at a time from each entry point's array
    (`StackedRows`, copied entry points sharing one), blocks straddling parts of uneven
    sizes (one empty), with and without weightless rows, repeated or not: the same
    repeated rows, CDFs and quantiles, bit for bit, as the rows stacked."""
    rng = np.random.default_rng(11)
    shape = np.sort(rng.lognormal(size=LEVELS.size))
    base = np.maximum.accumulate(np.outer(rng.lognormal(-1.0, 1.0, 9), shape), axis=1)
    near = base[:3].copy()
    near[:, 100:] = np.nextafter(near[:, 100:], np.inf)  # unsure rows: blocks computed
    pool = np.vstack([base, near])
    shared = [pool[rng.integers(0, len(pool), size)] for size in (7, 13, 0, 5)]
    parts = [shared[k % 4] for k in range(12)] + [pool[rng.integers(0, len(pool), 9)] * 3.0]
    stacked = np.vstack(parts)
    on = base[:3, [0, 99, 100, 150, -1]].ravel()
    x = np.sort(np.concatenate([on, np.nextafter(on, 0.0), np.nextafter(on, np.inf)]))
    levels = [0.5, 0.95, 0.99, 0.999]
    weightless = rng.exponential(size=len(stacked))
    weightless[rng.random(len(stacked)) < 0.3] = 0.0
    for weights in (rng.exponential(size=len(stacked)), weightless):
        rows = latency.StackedRows(parts)
        mine, theirs = latency.RepeatedRows.of(rows), latency.RepeatedRows.of(stacked)
        assert mine is not None and theirs is not None
        assert mine.rows.tobytes() == theirs.rows.tobytes()
        assert mine.inverse.tobytes() == theirs.inverse.tobytes()
        assert (mine.low, mine.high) == (theirs.low, theirs.high)
        for chunk in (4, 16, 2048):
            got = latency._mixture_cdf(rows, weights, x, chunk, mine)
            assert (
                got.tobytes() == latency._mixture_cdf(stacked, weights, x, chunk, theirs).tobytes()
            )
            got = latency._mixture_cdf(rows, weights, x, chunk, None)
            assert got.tobytes() == latency._mixture_cdf(stacked, weights, x, chunk, None).tobytes()
        got = latency.mixture_quantiles(rows, weights, levels, repeats=mine)
        assert got == latency.mixture_quantiles(stacked, weights, levels, repeats=theirs)
        with monkeypatch.context() as patch:  # the rows' own CDFs, every block by itself
            patch.setattr(latency.RepeatedRows, "of", classmethod(lambda cls, q: None))
            assert latency.mixture_quantiles(rows, weights, levels) == (
                latency.mixture_quantiles(stacked, weights, levels)
            )
    index = rng.integers(0, len(stacked), 50)
    assert latency.StackedRows(parts).take(index).tobytes() == stacked[index].tobytes()


_rows_cdf = latency._rows_cdf


def _patched_rows_cdf(quantiles: np.ndarray, x: np.ndarray, frame=None) -> np.ndarray:
    """`_rows_cdf`, checked against the straightforward way on each whole block."""
    if frame is None:
        want = straightforward(quantiles, x)
        got = _rows_cdf(quantiles, x)
        assert got.tobytes() == want.tobytes()
        return got
    return _rows_cdf(quantiles, x, frame)


@pytest.mark.parametrize("case", ["copies", "sre-1000"])
def test_the_stations_work_is_the_einsums(case: str) -> None:
    """Each station's work from the entry points' rates: a product where one entry point
    brings it (copies), the einsum's sum where several do (sre-1000), the same bits."""
    if case == "copies":
        scenario = fleet_scenario(ERAS_DIR / "sre.yaml", 200, {"horizon": "3d", "warmup": "1d"})
    else:
        scenario = load_scenario(SCENARIOS / "scale/sre-1000.yaml", overrides={"horizon": "3d"})
    model = analytic_run.compile_model(scenario)
    timeline, _ = analytic_run._simulate(scenario, model, None)
    arrivals = timeline.arrivals
    got = stations._entry_sums(arrivals, model.loads)
    want = np.einsum("te,kes->kts", arrivals, model.loads)
    assert got.shape == want.shape and got.tobytes() == want.tobytes()
