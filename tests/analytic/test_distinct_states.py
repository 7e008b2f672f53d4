"""The analytic fidelity's shortcuts for runs with a state per step (an autoscaled fleet):
Erlang B's recursion on every cell at once and the entry points' quantile rows computed once
per distinct (mean, sd) give, bit for bit, what the cell-by-cell and state-by-state ways
give."""

from __future__ import annotations

import math

import numpy as np
import pytest

import simulator
from simulator.analytic import run as analytic_run
from simulator.analytic import stations
from simulator.analytic.latency import LEVELS, interp_rows
from tests.golden.cases import SCENARIOS


def _erlang_b_sorted(servers: np.ndarray, load: np.ndarray) -> np.ndarray:
    """The recursion as it was: cells sorted by servers, a new array per operation."""
    c, a = servers.astype(np.int64).ravel(), load.ravel()
    order = np.argsort(c, kind="stable")
    cs, loads = c[order], a[order]
    b = np.ones(cs.shape)
    for n in range(1, int(cs[-1]) + 1):
        low = int(np.searchsorted(cs, n, side="left"))
        ab = loads[low:] * b[low:]
        b[low:] = ab / (n + ab)
    out = np.empty(b.shape)
    out[order] = b
    return out


@pytest.mark.parametrize("seed", range(12))
def test_erlang_b_recursion_is_the_sorted_one_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 2000))
    if seed % 3 == 0:  # one server count, as in a fleet of equal services
        servers = np.full(size, int(rng.integers(1, stations.RECURSION_MAX + 1)))
    else:
        servers = rng.integers(0 if seed % 3 == 1 else 1, stations.RECURSION_MAX + 1, size)
    load = servers * rng.uniform(0.0, 1.2, size) * rng.choice([0.0, 1.0, 1e-300, 1e300], size)
    mine = stations.erlang_b(servers, load)
    theirs = _erlang_b_sorted(servers, load)
    assert np.array_equal(mine.view(np.uint64), theirs.view(np.uint64))


def _flat(result: simulator.Result) -> dict[str, object]:
    summary = result.summary
    kpis = {k: "nan" if isinstance(v, float) and math.isnan(v) else v for k, v in summary.items()}
    table = result.tables["entry_timeseries"]
    return {"kpis": kpis, "entry_timeseries": table.to_csv(float_format="%r")}


def test_entry_rows_once_per_distinct_state_are_every_states(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SRE era's spike under the HPA (a state per step): the KPIs and the entry points'
    time series as when every state's row is computed on its own."""
    path = SCENARIOS / "one-world/spike-sre.yaml"
    pairs = analytic_run._distinct_pairs
    shrunk: list[bool] = []

    def counted(mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen, inverse = pairs(mean, sd)
        shrunk.append(len(seen) < len(mean))
        return seen, inverse

    monkeypatch.setattr(analytic_run, "_distinct_pairs", counted)
    fast = _flat(simulator.run(path, overrides={"fidelity": "analytic"}))
    assert any(shrunk)  # some states share a row: the shortcut was taken

    def every(mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.arange(len(mean)), np.arange(len(mean))

    monkeypatch.setattr(analytic_run, "_distinct_pairs", every)
    slow = _flat(simulator.run(path, overrides={"fidelity": "analytic"}))
    assert fast == slow


@pytest.mark.parametrize("seed", range(40))
def test_interp_rows_is_a_call_per_row_bit_for_bit(seed: int) -> None:
    """The three uses in `client_timeout` and the SLI's share within the SLO latency: rows
    of quantiles (sorted, with ties) as the points, or as the values at LEVELS."""
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 40))
    scale = float(rng.choice([1e-3, 1.0, 1e3]))
    q = np.sort(rng.exponential(scale, (rows, LEVELS.size)), axis=1)
    if seed % 4 == 0:
        q[:, :10] = 0.0  # a floor of zeros
    if seed % 5 == 0:
        q = np.round(q, 1)  # many ties
    at = float(rng.choice([0.0, q.min(), q.max(), float(np.median(q)), q[0, 5], 1e9]))
    ok = interp_rows(np.full((rows, 1), at), q, LEVELS, 0.0, 1.0)[:, 0]
    expected = np.array([np.interp(at, row, LEVELS, left=0.0, right=1.0) for row in q])
    assert np.array_equal(ok.view(np.uint64), expected.view(np.uint64))
    kept = interp_rows(LEVELS[None, :] * ok[:, None], LEVELS, q)
    expected = np.array([np.interp(LEVELS * f, LEVELS, row) for row, f in zip(q, ok, strict=True)])
    assert np.array_equal(kept.view(np.uint64), expected.view(np.uint64))
    below = interp_rows(ok[:, None], LEVELS, q)[:, 0]
    expected = np.array([np.interp(f, LEVELS, row) for f, row in zip(ok, q, strict=True)])
    assert np.array_equal(below.view(np.uint64), expected.view(np.uint64))
    nan = interp_rows(np.full((rows, 1), np.nan), LEVELS, q)
    assert np.isnan(nan).all()
