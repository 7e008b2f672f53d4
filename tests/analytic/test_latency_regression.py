"""A bad version's latency regression at the analytic fidelity: while a version whose work
takes `latency_factor` times as long serves a share x of a station's traffic, a share x of
its work steps take f times as long (`AnalyticRollouts.slowdown`, `run.slow_down`), so the
queues, the latencies and monitoring's latency SLI follow, as at request level.

Checked against the request level (a rolling update of a version twice as slow, central
queue: the analytic M/G/c is exact for the central queue when every replica runs the same
version), against the burn-rate formula on the analytic SLI, and for being inert: without a
latency factor the steps are those of a run without deploys, bit for bit, and the steps
recomputed from a ramp on are those of a recomputation of every step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.analytic import run as analytic_run
from simulator.analytic.rollouts import Ramp
from simulator.analytic.run import _two_point

SCENARIO = "one-world/rolling-bad-version.yaml"
SLOW = {
    "services.api.deploys.0.defect.error_ratio": "0",
    "services.api.deploys.0.defect.latency_factor": "2",
}
"""The shipped rolling update, its version twice as slow and failing nothing."""

SLOW_FACTOR = "services.api.deploys.0.defect.latency_factor"


@given(
    low=st.floats(0, 1),
    high=st.floats(0, 1),
    b1=st.floats(1, 3),
    spread=st.floats(0, 2),
    f=st.floats(1, 4),
    length=st.floats(0, 100),
    lo=st.floats(0, 150),
    width=st.floats(0.1, 100),
)
def test_a_ramps_slowdown_is_its_integral(low, high, b1, spread, f, length, lo, width):
    before = (b1, b1 * b1 + spread)
    ramp = Ramp(0.0, length, low, high, 0.0, 0.0, 1, False, before, f)
    grid = np.linspace(lo, lo + width, 201)
    grid = np.union1d(grid, [t for t in (0.0, length) if lo < t < lo + width])  # its kinks
    shares = np.array([ramp.share(t) for t in grid])
    for k, (mine, theirs) in enumerate(zip(ramp.slowdown(lo, lo + width), before, strict=True)):
        numeric = float(np.trapezoid((1 - shares) * theirs + shares * f ** (k + 1), grid)) / width
        assert mine == pytest.approx(numeric, rel=1e-9)


@given(x=st.floats(0.001, 1), f=st.floats(1.001, 10))
def test_the_two_point_mix_is_found_again_from_its_moments(x, f):
    m1, m2 = 1 + x * (f - 1), 1 + x * (f * f - 1)
    assert _two_point(m1, m2) == pytest.approx((x, f), rel=1e-6)
    assert _two_point(1.0, 1.0) == (0.0, 1.0)


def _window(result: simulator.Result, lo: float, hi: float) -> tuple[float, float]:
    """Mean latency of the requests sent in [lo, hi) (weighted by the steps' rates) and the
    share the SLI counts too slow, at the analytic fidelity."""
    steps = result.tables["entry_timeseries"]
    inside = steps[(steps["time"] >= lo) & (steps["time"] < hi)]
    mean = (inside["latency_mean_s"] * inside["arrival_rate"]).sum() / inside["arrival_rate"].sum()
    sli = result.tables["sli"]
    sli = sli[(sli["scope"] == "entry_point") & (sli["time"] > lo) & (sli["time"] <= hi)]
    return float(mean), float(sli["bad"].sum() / sli["requests"].sum())


def test_a_slow_version_slows_the_requests_as_at_request_level():
    """The rolling update at 120/s (ρ 0.375 before, 0.75 with every replica twice as slow)
    from 15 min, rolled back 20 min later, on a central queue. Over [15, 42) min the
    request level's mean latency is 90.1 ms (three seeds, ±0.2 ms) and 0.54% of the
    requests end slower than the 500 ms SLO (±0.014%); the analytic fidelity, whose ramps
    are straight lines where the replicas come in rounds, gives 90.3 ms and 0.53%: the
    test allows 2% and 10% (the slow share's noise is 2.6%). Before the deploy the analytic
    latency is the service time's (no wait to speak of at ρ 0.375), and without the
    regression the window has fewer than a tenth of the slow requests (measured: 1/116)."""
    overrides = {
        **SLOW,
        "traffic.api.rate": "120/s",
        "services.api.load_balancer": "central-queue",
        "monitoring.enabled": "true",
        "horizon": "45min",
    }
    analytic = simulator.run(SCENARIO, overrides={**overrides, "fidelity": "analytic"})
    fast = simulator.run(
        SCENARIO,
        overrides={**overrides, "fidelity": "analytic", SLOW_FACTOR: "1"},
    )
    means, slow = [], []
    for seed in (1, 2, 3):
        requests = simulator.run(SCENARIO, overrides=overrides, seed=seed).tables["requests"]
        ok = requests[requests["status"] == "ok"]
        inside = ok[(ok["arrival"] >= 900) & (ok["arrival"] < 2520)]
        latency = inside["end"] - inside["arrival"]
        means.append(float(latency.mean()))
        slow.append(float((latency > 0.5).mean()))
    mean, bad = _window(analytic, 900, 2520)
    assert mean == pytest.approx(np.mean(means), rel=0.02)
    assert bad == pytest.approx(np.mean(slow), rel=0.1)
    assert bad > 10 * _window(fast, 900, 2520)[1]
    assert _window(analytic, 300, 900)[0] == pytest.approx(0.05, rel=1e-3)


def test_a_latency_only_regression_fires_the_burn_rate_alert_when_the_formula_says():
    """A blue-green switch at 2 h (once the 1-hour window is full of history) to a version
    three times as slow (ρ 0.25 → 0.75) and failing nothing: the SLI's bad ratio steps from
    ~0 to e (requests slower than 500 ms), and the fast rule (14.4× over 1 h and 5 min of a
    99.9% SLO) fires at the first evaluation (every minute) after θ/e × 1 h, θ = 1.44%.
    As fast a version never fires it."""
    overrides = {
        **SLOW,
        SLOW_FACTOR: "3",
        "fidelity": "analytic",
        "monitoring.enabled": "true",
        "monitoring.alerting": "burn-rate",
        "services.api.deploys.0.at": "2h",
        "services.api.deploys.0.strategy": "blue-green",
        "services.api.deploys.0.rollback_after": "3h",
        "horizon": "4h",
    }
    result = simulator.run(SCENARIO, overrides=overrides)
    switched = float(result.tables["rollouts"].query("step == 'switched'")["time"].iloc[0])
    sli = result.tables["sli"]
    entry = sli[sli["scope"] == "entry_point"]
    e = float(entry[entry["time"] > switched + 600]["bad_ratio"].iloc[0])
    assert e > 0.02  # far above θ: the rule fires within the hour
    expected = switched + 14.4 * (1 - 0.999) * 3600.0 / e
    fired = _fired(result, "burn-rate 14.4x/1h")
    assert expected - 60.0 <= fired <= math.ceil(expected / 60.0) * 60.0
    unchanged = simulator.run(SCENARIO, overrides={**overrides, SLOW_FACTOR: "1"})
    assert math.isinf(_fired(unchanged, "burn-rate 14.4x/1h"))


def _fired(result: simulator.Result, rule: str) -> float:
    alerts = result.tables["alerts"]
    fired = alerts[alerts["rule"] == rule]["fired"]
    return float(fired.min()) if len(fired) else math.inf


def test_without_a_latency_factor_the_steps_are_those_without_deploys():
    """The shipped bad version (failing 10%) made as fast as the old: its ramps change the
    errors, not the steps, which stay those of the run whose deploy comes after the horizon,
    bit for bit (nothing is computed again)."""
    overrides = {"fidelity": "analytic", SLOW_FACTOR: "1"}
    deployed = simulator.run(SCENARIO, overrides=overrides)
    never = simulator.run(SCENARIO, overrides={**overrides, "services.api.deploys.0.at": "2h"})
    assert len(deployed.tables["rollouts"]) and not len(never.tables["rollouts"])
    for table in ("timeseries", "entry_timeseries"):
        pd.testing.assert_frame_equal(deployed.tables[table], never.tables[table], check_exact=True)
    assert deployed.summary["latency_mean_s"] == never.summary["latency_mean_s"]


def _run(monkeypatch: pytest.MonkeyPatch, incremental: bool) -> tuple[Any, list[bool]]:
    kept: list[bool] = []
    original = analytic_run._resimulate

    def recorded(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        kept.append(out[2] is not None)
        return out

    with monkeypatch.context() as patch:
        patch.setattr(analytic_run, "_resimulate", recorded)
        patch.setattr(analytic_run.AnalyticServices, "incremental", incremental)
        overrides = {**SLOW, "fidelity": "analytic", "monitoring.enabled": "true"}
        return simulator.run(SCENARIO, overrides=overrides), kept


def test_steps_recomputed_from_a_ramp_are_those_of_all_steps(monkeypatch):
    """The steps from a ramp of a slow version on are computed again, keeping the states
    before (`_resimulate`): the same numbers, bit for bit, as computing all of them."""
    fast, kept = _run(monkeypatch, incremental=True)
    full, again = _run(monkeypatch, incremental=False)
    assert len(kept) >= 2 and all(kept) and not any(again)  # the deploy and its rollback
    assert fast.summary.keys() == full.summary.keys()
    assert all(
        a == b or (math.isnan(a) and math.isnan(b))
        for a, b in zip(fast.summary.values(), full.summary.values(), strict=True)
    )
    for table in fast.tables:
        pd.testing.assert_frame_equal(fast.tables[table], full.tables[table], check_exact=True)


@pytest.mark.parametrize(("factor", "verdict"), [("2", "failed"), ("1.1", "promoted")])
def test_the_canary_analysis_compares_latencies_as_at_request_level(factor, verdict):
    """The shipped canary with a version that fails nothing and is slower: twice as slow,
    its visits take about twice as long (the queue barely waits at ρ 0.25), far past the
    analysis's 20% margin, and it is rolled back; 10% slower passes. The request level
    (~9,000 canary visits, the mean's noise ±1%) reaches the same verdicts."""
    overrides = {"services.api.deploys.0.defect.error_ratio": "0", SLOW_FACTOR: factor}
    for fidelity in ("analytic", "request"):
        result = simulator.run(
            "one-world/bad-canary.yaml", overrides={**overrides, "fidelity": fidelity}
        )
        assert verdict in result.tables["rollouts"]["step"].tolist(), fidelity
