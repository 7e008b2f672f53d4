"""The one world at the analytic fidelity: versions rolled out on the analytic stations,
their defects in what monitoring scrapes and in the KPIs, alerts from those samples, and
people's remedies acting on the steps (`simulator.analytic.rollouts`, `.sli`).

Cross-validated against the request level on the same scenarios, and against the
burn-rate formula: a constant error ratio e (a canary's share × its version's error
ratio) fills a rule's long window W past its burn b (SLO s) after τ = b (1 − s) W / e.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.analytic.rollouts import Ramp

BAD_CANARY = "one-world/bad-canary.yaml"
BURNING = {
    "monitoring.enabled": "true",
    "monitoring.alerting": "burn-rate",
    "monitoring.slo": "0.999",
    "services.api.deploys.0.at": "2h",
    "services.api.deploys.0.canary.analysis": "2h",
    "horizon": "5h",
}
"""The bad canary with SLO burn-rate alerts, deployed once the rules' 1-hour window is full
of history, with an analysis long enough for them to fire while the canary still serves
(nothing pages: there is no organisation)."""

CANARY_SERVES = 7200.0 + 5.0
"""The scripted deploy's time plus a replica's start (the pod-startup default)."""


@given(
    low=st.floats(0, 1),
    high=st.floats(0, 1),
    before=st.floats(0, 1),
    after=st.floats(0, 1),
    length=st.floats(0, 100),
    lo=st.floats(0, 150),
    width=st.floats(0.1, 100),
)
def test_a_ramps_mean_ratio_is_its_integral(low, high, before, after, length, lo, width):
    ramp = Ramp(0.0, length, low, high, before, after, version=1)
    grid = np.linspace(lo, lo + width, 201)
    grid = np.union1d(grid, [t for t in (0.0, length) if lo < t < lo + width])  # its kinks
    numeric = float(np.trapezoid([ramp.ratio(t) for t in grid], grid) / width)
    assert ramp.mean_ratio(lo, lo + width) == pytest.approx(numeric, abs=1e-9)


def _fired(result: simulator.Result, rule: str) -> float:
    alerts = result.tables["alerts"]
    fired = alerts[alerts["rule"] == rule]["fired"]
    return float(fired.min()) if len(fired) else math.inf


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.2])
def test_a_bad_canarys_burn_rate_alert_fires_when_the_formula_says(ratio):
    """At the analytic fidelity the samples are exact integrals: the fast rule (14.4× over
    1 h, and over 5 min) fires at the first evaluation (every minute) after τ. Partial
    error ratios (a version that fails 20% or 50% of what it serves) take longer."""
    share, slo, burn, window = 0.1, 0.999, 14.4, 3600.0
    seen = share * ratio
    tau = burn * (1 - slo) * window / seen
    overrides = {**BURNING, "fidelity": "analytic"}
    overrides["services.api.deploys.0.defect.error_ratio"] = str(ratio)
    result = simulator.run(BAD_CANARY, overrides=overrides)
    fired = _fired(result, "burn-rate 14.4x/1h")
    expected = CANARY_SERVES + tau
    # the evaluation grid: the first whole minute (after warm-up at 10 min) at or after τ;
    # the few requests slower than the SLO before the canary may bring it one minute early
    assert expected - 60.0 <= fired <= math.ceil(expected / 60.0) * 60.0


def test_the_burn_rate_alert_fires_at_the_same_time_at_request_level():
    """The same canary with requests: 50/s × 5% fail, so the long window holds ~2,600 bad
    requests when the rule fires and the count's Poisson noise (±2%, ±20 s of τ) is well
    inside two evaluation intervals of the analytic firing time."""
    overrides = {**BURNING, "services.api.deploys.0.defect.error_ratio": "0.5"}
    analytic = _fired(
        simulator.run(BAD_CANARY, overrides={**overrides, "fidelity": "analytic"}),
        "burn-rate 14.4x/1h",
    )
    requests = _fired(simulator.run(BAD_CANARY, overrides=overrides), "burn-rate 14.4x/1h")
    assert abs(requests - analytic) <= 120.0


def test_a_bad_canary_costs_the_same_requests_in_both_fidelities():
    """The shipped bad canary: 10% of the traffic on a version failing 10% of it for the
    30-minute analysis, ~900 failed requests at request level (Poisson noise ±3.3%): the
    analytic fidelity's expectation within 15% (4.5 standard deviations), and the same
    verdict."""
    analytic = simulator.run(BAD_CANARY, overrides={"fidelity": "analytic"})
    requests = simulator.run(BAD_CANARY)
    a, r = analytic.summary, requests.summary
    assert a["error_rate_defect"] == pytest.approx(r["error_rate_defect"], rel=0.15)
    steps = analytic.tables["rollouts"]["step"].tolist()
    assert steps[-1] == "rolled_back" and "failed" in steps


def test_a_rolling_bad_version_grows_its_share_and_a_rollback_ends_it():
    """A rolling update of a version failing 10% (two rounds of 2 min 5 s), rolled back 20
    minutes later. At request level ~10,000 requests fail (Poisson ±1%); the analytic
    ramp is a straight line where replicas come in two rounds (a difference under 2% of
    the bad time), so the two agree within 5%, and on when each rollout ends."""
    overrides = {"monitoring.enabled": "true"}
    scenario = "one-world/rolling-bad-version.yaml"
    result = simulator.run(scenario, overrides={**overrides, "fidelity": "analytic"})
    requests = simulator.run(scenario, overrides=overrides)
    sli = result.tables["sli"]
    entry = sli[sli["scope"] == "entry_point"]
    rollouts = result.tables["rollouts"]
    started = rollouts[rollouts["step"] == "started"]["time"].tolist()
    assert len(started) == 2  # the deploy and its rollback
    during = entry[(entry["time"] > started[0]) & (entry["time"] <= started[1])]
    after = entry[entry["time"] > started[1] + 600]
    assert (np.diff(during["bad_ratio"]) > -1e-12).all()  # the bad share ramps up
    assert during["bad_ratio"].max() > 10 * after["bad_ratio"].max()
    assert result.summary["error_rate_defect"] == pytest.approx(
        requests.summary["error_rate_defect"], rel=0.05
    )
    ends = requests.tables["rollouts"]
    ends = ends[ends["step"] == "done"]["time"].tolist()
    assert rollouts[rollouts["step"] == "done"]["time"].tolist() == ends


def test_an_overload_pages_and_replicas_added_by_hand_change_the_steps():
    """The sysadmin's spike, analytic: the error check pages, the responder orders two
    servers, and from the next step the blog runs on four (its utilisation falls)."""
    result = simulator.run("one-world/spike-sysadmin.yaml", overrides={"fidelity": "analytic"})
    assert result.summary["replicas_added_by_hand"] >= 2
    events = result.tables["events"]
    added = events[events["kind"] == "replicas_added_by_hand"]["time"].min()
    sli = result.tables["sli"]
    blog = sli[sli["scope"] == "service"]
    assert blog[blog["time"] < added]["replicas"].max() == 2
    assert blog[blog["time"] > added + 900]["replicas"].min() >= 4
    incidents = result.tables["incidents"]
    starts, ends = incidents["start"].to_numpy(), incidents["resolved"].to_numpy()
    assert (starts[1:] >= ends[:-1]).all()  # a page again after a remedy starts afresh
    assert 0.0 <= result.summary["uptime"] <= 1.0


def test_the_first_incident_is_the_same_in_both_fidelities():
    """Same streams, same organisation: the spike's first page, diagnosis and scale-out
    happen at the same instants at request level and at the analytic fidelity."""
    analytic = simulator.run("one-world/spike-sysadmin.yaml", overrides={"fidelity": "analytic"})
    requests = simulator.run("one-world/spike-sysadmin.yaml")
    a, r = analytic.tables["incidents"].iloc[0], requests.tables["incidents"].iloc[0]
    assert (a["start"], a["detected"], a["resolved"]) == (r["start"], r["detected"], r["resolved"])


def test_the_analytic_one_world_is_reproducible():
    overrides = {"fidelity": "analytic"}
    one = simulator.run("one-world/deploys-by-pipeline.yaml", overrides=overrides)
    two = simulator.run("one-world/deploys-by-pipeline.yaml", overrides=overrides)
    assert one.summary == pytest.approx(two.summary, nan_ok=True, rel=0, abs=0)


def test_a_large_fleets_service_samples_are_summed_not_lost(monkeypatch):
    """Past MAX_SERVICE_SAMPLES rows the SLI log sums consecutive scrapes of each service
    into one row: fewer rows, the same visits, failures and worker-seconds in total, and
    the same alerts (the rules read every scrape)."""
    from simulator.model.monitoring import model

    overrides = {"fidelity": "analytic", "monitoring.enabled": "true"}
    every = simulator.run("one-world/rolling-bad-version.yaml", overrides=overrides)
    monkeypatch.setattr(model, "MAX_SERVICE_SAMPLES", 10)
    summed = simulator.run("one-world/rolling-bad-version.yaml", overrides=overrides)
    rows = [r.tables["sli"] for r in (every, summed)]
    services = [t[t["scope"] == "service"] for t in rows]
    assert len(services[1]) < len(services[0]) / 3
    for column in ("requests", "bad"):
        assert services[1][column].sum() == pytest.approx(services[0][column].sum(), rel=1e-9)
    entries = [t[t["scope"] == "entry_point"].reset_index(drop=True) for t in rows]
    assert entries[0].equals(entries[1])
    assert every.tables["alerts"].equals(summed.tables["alerts"])
