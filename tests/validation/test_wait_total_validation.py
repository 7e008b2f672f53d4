"""Whole-path waiting (`wait_total_mean_s`) against theory, and against `wait_mean_s`.

`wait_mean_s` is the wait at the entry service only; `wait_total_mean_s` sums the queueing
waits of every visit of a request. In a tandem of M/M/1 stations (Burke: each sees Poisson
arrivals) the whole-path mean is the sum of the stations' M/M/1 waits; with one station the
two KPIs are the same numbers.
"""

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator import theory
from tests.helpers import assert_agrees

pytestmark = pytest.mark.slow

NO_NETWORK = {"latency": {"distribution": "constant", "mean": "0s"}}
RATE, MEANS = 1.0, (0.5, 0.6)  # utilisations 0.5 and 0.6: M/M/1 waits 0.5 s and 0.9 s


def exponential(mean: float) -> dict:
    return {"distribution": "exponential", "mean": f"{mean}s"}


def tandem(fidelity: str = "request") -> dict:
    first, second = MEANS
    services = {
        "a": {"service_time": exponential(first), "handler": [{"work": None}, {"call": "b"}]},
        "b": {"service_time": exponential(second)},
    }
    return {
        "horizon": "20000s",
        "warmup": "500s",
        "network": NO_NETWORK,
        "services": services,
        "traffic": {"a": {"rate": RATE}},
        "fidelity": fidelity,
    }


def by_hand(result: simulator.Result) -> float:
    """The same KPI from the spans table with pandas, as an independent re-computation."""
    spans = result.tables["spans"]
    entry = spans[spans.parent == -1]
    sent = entry[entry.attempt == 0].set_index("request").arrival
    ok = entry[entry.outcome == "ok"].request.unique()
    counted = sent.index[sent >= result.scenario.warmup].intersection(pd.Index(ok))
    assert len(counted) == result.summary["requests_completed"]
    mine = spans[spans.request.isin(counted)]
    waits = (mine.start - mine.arrival).fillna(0.0).groupby(mine.request).sum()
    return float(waits.mean())


def test_tandem_whole_path_wait_is_the_sum_of_the_mm1_waits():
    """Sixteen pooled replications of 19,500 measured seconds (~19,500 requests each): the
    95% half-width is ~2% of the 1.4 s total, so 5% precision leaves room for the spread
    between seeds and a bias of ~5% would fail. The entry wait alone is checked too, so a
    reader sees the two KPIs answer different questions."""
    run = simulator.run_replications(tandem(), 16, seed=3)
    table = run.table
    waits = [theory.mm1(RATE, mean).wait_mean for mean in MEANS]
    assert_agrees(table.wait_total_mean_s, sum(waits), 0.05, "whole-path wait")
    assert_agrees(table.wait_mean_s, waits[0], 0.06, "entry wait")
    first = simulator.run(tandem(), seed=3)
    assert first.summary["wait_total_mean_s"] == pytest.approx(by_hand(first), rel=1e-12)


def test_analytic_tandem_whole_path_wait_is_the_sum_of_the_mm1_waits():
    """The analytic fidelity sums each station's wait × visits per request: exact here."""
    summary = simulator.run(tandem("analytic"), seed=1).summary
    waits = [theory.mm1(RATE, mean).wait_mean for mean in MEANS]
    assert summary["wait_total_mean_s"] == pytest.approx(sum(waits), rel=1e-9)
    assert summary["wait_mean_s"] == pytest.approx(waits[0], rel=1e-9)


def test_single_station_whole_path_wait_is_the_entry_wait():
    """One M/M/1 station, no retries: every request has one visit, so the sum over visits is
    the entry wait, request by request; FIFO keeps the order, so the means are bit equal."""
    scenario = {"horizon": "3000s", "warmup": "100s",
                "services": {"q": {"service_time": exponential(0.8)}},
                "traffic": {"q": {"rate": RATE}}}  # fmt: skip
    summary = simulator.run(scenario, seed=5).summary
    assert summary["requests_completed"] > 2000
    assert np.isfinite(summary["wait_total_mean_s"])
    assert summary["wait_total_mean_s"] == summary["wait_mean_s"]
