"""Monitoring against the SRE Workbook's arithmetic: a burn-rate alert on a constant error
ratio fires when the formula says, a saturation alert fires within `for` and a scrape of
the overload starting, and every alert and page is accounted for.

The constant error ratio is injected through existing scenario keys: one service with
exponential work (mean 100 ms) and 200 workers at 20 requests/s (no queueing), an SLO
latency of 1 s, and a slowdown by a factor F from t0 on. A request is bad when its work
takes over 1 s: P(F·S > 1 s) = exp(−10/F), so F = 10 / ln(1/e) gives the bad ratio e.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import simulator
from simulator.model.delivery.decisions import burn_rate_crossing
from tests.helpers import SCENARIOS

pytestmark = pytest.mark.slow

H = 3600.0
RATE = 20.0
LATENCY = 1.0
SCRAPE = 60.0
SLO = 0.999
FAST = (14.4, H, 300.0)
SLOW = (6.0, 6 * H, 1800.0)
"""The SRE Workbook's two paging rules (burn, long window, short window)."""


def _bad_ratio_scenario(
    error_ratio: float, start: float, duration: float, horizon: float, seed: int
) -> dict:
    factor = 10.0 / math.log(1.0 / error_ratio)
    return {
        "name": "burn-rate",
        "seed": seed,
        "horizon": horizon,
        "warmup": 0,
        "services": {
            "api": {
                "replicas": 1,
                "concurrency": 200,
                "service_time": {"distribution": "exponential", "mean": "100ms"},
                "load_balancer": "central-queue",
                "slowdowns": [{"at": start, "duration": duration, "factor": factor}],
            }
        },
        "traffic": {"api": {"rate": RATE}},
        "slo": {"latency": LATENCY},
        "monitoring": {
            "enabled": True,
            "alerting": "burn-rate",
            "slo": SLO,
            "scrape_interval": SCRAPE,
            "evaluation_interval": SCRAPE,
            "burn_rate_rules": [
                {"burn": b, "long_window": w, "short_window": s} for b, w, s in (FAST, SLOW)
            ],
            "saturation": {"enabled": False},
        },
    }


def _sigma(crossing: float, error_ratio: float, window: float) -> float:
    """Standard deviation of the time at which the long window's bad ratio crosses θ: the
    bad count B(t) is Poisson(λe·t) after the step, rising at λe a second, so its noise
    moves the crossing by sqrt(T/(λe)); the window's total, Poisson(λW), moves the
    threshold count θ·N by a relative 1/sqrt(λW), i.e. the crossing by T/sqrt(λW)."""
    return math.sqrt(crossing / (RATE * error_ratio) + crossing**2 / (RATE * window))


def _fired(result: simulator.Result, rule: str) -> float:
    alerts = result.tables["alerts"]
    rows = alerts[alerts["rule"] == rule]
    return float(rows["fired"].iloc[0]) if len(rows) else math.inf


@pytest.mark.parametrize(
    ("error_ratio", "firing", "silent"),
    [
        (0.05, [FAST, SLOW], []),  # 14.4x after 1,036.8 s, 6x after 2,592 s
        (0.02, [FAST, SLOW], []),  # 14.4x after 2,592 s, 6x after 6,480 s
        (0.01, [SLOW], [FAST]),  # 1% < 1.44%: only 6x, after 12,960 s (3.6 h)
    ],
)
def test_burn_rate_alert_fires_when_the_workbook_formula_says(error_ratio, firing, silent):
    """Time to fire = long window × burn × (1 − SLO) / error ratio after the errors start
    (the short window crosses earlier, at the same fraction of its own length, so it bounds
    nothing for a step), if the ratio exceeds burn × (1 − SLO); then at most a scrape and an
    evaluation later, and L = 1 s for the first slow request to finish. The errors start at
    6 h, so both rules' windows hold a full healthy history. Tolerance: 4 σ of the Poisson
    noise in the windows' counts (`_sigma`), which a correct model exceeds with
    probability ~1e-4 per check."""
    start = 6 * H
    result = simulator.run(_bad_ratio_scenario(error_ratio, start, 5 * H, 10.5 * H, seed=5))
    for burn, long_window, short_window in firing:
        crossing = burn_rate_crossing(error_ratio, SLO, burn, long_window, short_window)
        sigma = _sigma(crossing, error_ratio, long_window)
        name = f"burn-rate {burn:g}x/{long_window / H:g}h"
        delay = _fired(result, name) - start
        low, high = crossing - 4 * sigma, crossing + LATENCY + 2 * SCRAPE + 4 * sigma
        assert low <= delay <= high, f"{name} fired {delay:.0f} s after the errors began"
    for burn, long_window, _ in silent:
        assert math.isinf(_fired(result, f"burn-rate {burn:g}x/{long_window / H:g}h"))


def test_the_short_window_resolves_the_alert_soon_after_the_errors_stop():
    """After 30 minutes at 5% the errors stop; the short window's average then falls as
    e·(S − τ)/S and drops below θ = 1.44% at τ = S·(1 − θ/e) = 213.6 s (5-minute window),
    while the long window would hold the alert for most of an hour. Tolerance: 4 σ of the
    short window's bad count, sqrt((S − τ)/(λe)), plus a scrape, an evaluation and L."""
    start, duration = H, 1800.0
    result = simulator.run(_bad_ratio_scenario(0.05, start, duration, 3 * H, seed=6))
    alerts = result.tables["alerts"]
    fast = alerts[alerts["rule"] == "burn-rate 14.4x/1h"].iloc[0]
    burn, _, short = FAST
    threshold = burn * (1 - SLO)
    reset = short * (1 - threshold / 0.05)
    sigma = math.sqrt((short - reset) / (RATE * 0.05))
    after = fast["resolved"] - (start + duration)
    assert reset - 4 * sigma <= after <= reset + LATENCY + 2 * SCRAPE + 4 * sigma


def _overload_scenario(hold_for: float, scrape: float, start: float) -> dict:
    """Ten workers 40% busy (40/s of 100 ms); from `start` work takes three times as long:
    120% of the workers are asked for, so every worker is busy within a second or two."""
    return {
        "name": "saturation",
        "seed": 8,
        "horizon": start + hold_for + 4 * scrape,
        "warmup": 0,
        "services": {
            "api": {
                "replicas": 1,
                "concurrency": 10,
                "service_time": {"distribution": "exponential", "mean": "100ms"},
                "load_balancer": "central-queue",
                "slowdowns": [{"at": start, "duration": "10h", "factor": 3}],
            }
        },
        "traffic": {"api": {"rate": 40, "timeout": "10s"}},
        "monitoring": {
            "enabled": True,
            "alerting": "threshold",
            "error_threshold": 1.0,  # the error check cannot hold: saturation alone
            "scrape_interval": scrape,
            "evaluation_interval": scrape,
            "saturation": {"threshold": 0.9, "alert_for": hold_for},
        },
    }


@pytest.mark.parametrize(("hold_for", "scrape"), [(0.0, 60.0), (300.0, 60.0), (300.0, 300.0)])
def test_saturation_alert_fires_within_for_and_a_scrape(hold_for: float, scrape: float):
    """The overload starts on a scrape (and evaluation) instant t0: the first interval
    after it averages ~100% busy, so the condition shows at the scrape t0 + Δ and the alert
    fires `for` later, at an evaluation: for < fired − t0 ≤ for + Δ. Before, at 40% busy,
    no alert."""
    start = 20 * scrape
    result = simulator.run(_overload_scenario(hold_for, scrape, start))
    alerts = result.tables["alerts"]
    assert list(alerts["rule"]) == ["saturation"]
    delay = float(alerts["fired"].iloc[0]) - start
    assert hold_for < delay <= hold_for + scrape


def _accounted(result: simulator.Result) -> None:
    """Every alert resolved after it fired or still firing at the horizon; every page with
    an organisation opened an incident or joined an open one; every incident monitoring
    opened is in the delivery model's incidents, detected at its page, and resolved or open
    at the horizon; a remedy that ran is what resolved it."""
    horizon = result.scenario.horizon
    alerts = result.tables["alerts"]
    assert ((alerts["resolved"] > alerts["fired"]) | alerts["resolved"].isna()).all()
    assert (alerts["resolved"].fillna(horizon) <= horizon).all()
    pages = alerts[alerts["page"]]
    assert set(pages["action"]) <= {"incident", "joined"}
    assert (alerts.loc[~alerts["page"], "action"] == "ticket").all()
    opened = pages[pages["action"] == "incident"]
    incidents = result.tables["incidents"]
    mine = incidents[incidents["cause"].isin(["overload", "errors"])]
    assert len(mine) == len(opened)
    assert sorted(mine["detected"]) == sorted(opened["fired"])
    for _, page in pages.iterrows():
        # A joined page names an incident open at its firing time (or -1: the delivery
        # model's own, which the join test in tests/model checks).
        if page["action"] == "joined" and page["incident"] >= 0:
            first = opened[opened["incident"] == page["incident"]].iloc[0]
            assert first["fired"] <= page["fired"]
            assert not page["fired"] > first["incident_resolved"]
    resolved = opened["incident_resolved"]
    assert ((resolved >= opened["fired"]) | resolved.isna()).all()
    remedied = opened["remedied"].notna()
    assert (opened.loc[remedied, "remedied"] == resolved[remedied]).all()


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("spike-sysadmin.yaml", []),
        ("spike-sysadmin.yaml", ["monitoring.alerting=burn-rate", "monitoring.slo=0.99"]),
        ("spike-sre.yaml", []),
    ],
)
def test_every_alert_and_page_is_accounted_for(name: str, overrides: list[str]):
    result = simulator.run(SCENARIOS / "one-world" / name, overrides=overrides)
    _accounted(result)
    if name == "spike-sysadmin.yaml":
        assert result.summary["pages"] >= 1 and result.summary["alert_incidents"] == 1


def test_nothing_pages_without_monitoring():
    """With monitoring off, nothing watches the requests: no alerts, no incidents, and the
    saturated servers stay as they were (customers' complaints are the delivery model's,
    for its own incidents only)."""
    result = simulator.run(
        SCENARIOS / "one-world" / "spike-sysadmin.yaml", overrides=["monitoring.enabled=false"]
    )
    assert "alerts" not in result.tables
    assert len(result.tables["incidents"]) == 0
    sampled = result.tables["timeseries"]
    assert np.all(sampled["replicas"] == 2)
