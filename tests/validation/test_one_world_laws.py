"""The one world against the laws its records must obey (issue 13, point 9), on the shipped
scenarios at request level and at the analytic fidelity: Little's law on incidents in
progress, time to restore = detection + response + diagnosis + remediation, the error
budget spent = the integrated bad ratio of the requests, and conservation of alerts,
incidents, changes and bad releases.

The burn-rate detection time is tested in `test_monitoring_validation.py` and
`tests/analytic/test_one_world.py`; the phases' sum on the other shipped delivery scenarios
in `tests/model/test_delivery_stories.py`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import simulator
from simulator.records.delivery import STAGES

REQUEST_LEVEL = (
    "one-world/deploys-by-hand.yaml",
    "one-world/deploys-by-pipeline.yaml",
    "one-world/spike-sysadmin.yaml",
)
"""The one-world scenarios with incidents, alerts or bad releases that run in seconds with
requests (the others take 4-6 s each and add no incident)."""

ONE_WORLD = (
    "one-world/deploys-by-hand.yaml",
    "one-world/deploys-by-pipeline.yaml",
    "one-world/spike-sre.yaml",
    "one-world/spike-sysadmin.yaml",
)
"""The one-world scenarios with an organisation (bad-canary and rolling-bad-version have
none: no incidents, changes or monitoring to check), run at the analytic fidelity."""

ERAS = ("eras/sysadmin.yaml", "eras/devops.yaml", "eras/sre.yaml")
ERAS_HORIZON = "3w"
"""Two measured weeks after the week of warm-up: tens of incidents per era, seconds a run."""

BY_HAND = "one-world/deploys-by-hand.yaml"
"""No monitoring: customers report its incidents, no SLI is scraped."""

RUNS = (
    [(name, "request") for name in REQUEST_LEVEL]
    + [(name, "analytic") for name in ONE_WORLD]
    + [(name, "analytic") for name in ERAS]
)


@functools.cache
def run(name: str, fidelity: str, seed: int | None = None, horizon: str = "") -> simulator.Result:
    """A shipped scenario at a fidelity (eras shortened to ERAS_HORIZON), once per module."""
    overrides = {"fidelity": fidelity}
    if name.startswith("eras/"):
        overrides["horizon"] = horizon or ERAS_HORIZON
    if seed is None:
        return simulator.run(name, overrides=overrides)
    return simulator.run(name, overrides=overrides, seed=seed)


def _label(case: tuple[str, str]) -> str:
    return f"{case[0]}@{case[1]}"


# -- Little's law on incidents in progress -------------------------------------------------

LITTLE_RUNS: tuple[tuple[str, int | None, str], ...] = (
    ("eras/devops.yaml", 1, "8w"),
    ("eras/devops.yaml", 2, "8w"),
    ("eras/devops.yaml", 3, "8w"),
    ("eras/devops.yaml", 4, "8w"),
    ("eras/devops.yaml", 5, "8w"),
    ("eras/devops.yaml", 6, "8w"),
    ("eras/sre.yaml", None, ""),
)
"""Seven measured weeks of the DevOps era at six seeds (~15 incidents each since its CI and
staging catch most bad changes, most open 1-3 h)
and two of the SRE era at its own seed (~60 short ones, the run the other laws use): the
analytic fidelity, pooled."""

SAMPLE_EVERY = 60.0
"""Seconds between the instants at which the open incidents are counted."""


def _open_at(starts: np.ndarray, ends: np.ndarray, weights: np.ndarray, times: np.ndarray):
    """Σ weight of the incidents open (start ≤ t < end) at each instant t."""
    open_ = (starts[None, :] <= times[:, None]) & (times[:, None] < ends[None, :])
    return (open_ * weights[None, :]).sum(axis=1)


def test_littles_law_on_incidents_in_progress():
    """L = λW with its three sides from three records: L the mean number of incidents open
    at instants every minute of the measured window (the `incidents` table), λ the run's
    `incidents` KPI over the window's length, W the mean time open of those incidents from
    `incident_timeline` (one still open at the horizon counts until the horizon). Weighted
    by each incident's share of the traffic, L is also services × (1 − uptime), the KPI.

    Tolerance, bounded rather than tuned: λW leaves out the time inside the window of the
    incidents that started in the warm-up (the edge term, summed explicitly), and counting
    at instants Δ apart misses or adds at most Δ of each incident's time (≤ n·Δ for the n
    incidents that overlap the window). Anything beyond these two terms, say an incident
    whose two tables disagree on when it ended or one that never ends, fails the test."""
    sampled = little = uptime = edge = grid = total_time = 0.0
    sampled_w = little_w = edge_w = 0.0
    count = 0
    for name, seed, horizon in LITTLE_RUNS:
        result = run(name, "analytic", seed, horizon)
        start, end = result.scenario.warmup, result.scenario.horizon
        length = end - start
        incidents = result.tables["incidents"]
        timeline = result.tables["incident_timeline"]
        began = incidents["start"].to_numpy()
        ended = incidents["resolved"].fillna(math.inf).to_numpy()
        impact = incidents["impact"].to_numpy()
        times = np.arange(start + SAMPLE_EVERY / 2, end, SAMPLE_EVERY)
        counted = _open_at(began, ended, np.ones(len(began)), times)
        weighted = _open_at(began, ended, impact, times)
        sampled += counted.mean() * length
        sampled_w += weighted.mean() * length
        inside = (timeline["started"] >= start) & (timeline["started"] < end)
        lasted = timeline["time_to_restore_s"].fillna(end - timeline["started"])
        lasted = np.minimum(lasted, end - timeline["started"])[inside]
        assert result.summary["incidents"] == inside.sum()
        rate = result.summary["incidents"] / length
        little += rate * lasted.mean() * length if len(lasted) else 0.0
        little_w += float((lasted * timeline["impact"][inside]).sum())
        uptime += result.scenario.delivery.services * (1.0 - result.summary["uptime"]) * length
        before = began < start
        overlap = np.clip(np.minimum(ended, end) - start, 0.0, None)[before]
        edge += float(overlap.sum())
        edge_w += float((overlap * impact[before]).sum())
        overlapping = (began < end) & (ended > start)
        grid += int(overlapping.sum()) * SAMPLE_EVERY
        total_time += length
        count += int(inside.sum())
    assert count >= 100, count  # enough incidents for the law to mean something
    assert abs(sampled - little) <= edge + grid, (sampled / total_time, little / total_time)
    assert abs(sampled_w - little_w) <= edge_w + grid
    # The uptime KPI integrates the same weighted time exactly (no grid), edge included:
    # equal but for floating sums of a few hundred products (1e-9 relative).
    assert abs(uptime - (little_w + edge_w)) <= 1e-9 * uptime


# -- time to restore = detection + response + diagnosis + remediation -----------------------

PHASES = ("detection_s", "response_s", "diagnosis_s", "remediation_s")


def _restore_law(result: simulator.Result) -> int:
    """Check the phases of every incident; return how many resolved incidents there were."""
    timeline = result.tables["incident_timeline"]
    incidents = result.tables["incidents"]
    horizon = result.scenario.horizon
    np.testing.assert_array_equal(timeline["started"], incidents["start"])
    np.testing.assert_array_equal(timeline["resolved"], incidents["resolved"])
    done = timeline[timeline["resolved"].notna()]
    phases = done[list(PHASES)]
    assert not phases.isna().any().any(), "a resolved incident misses a phase"
    assert (phases >= 0).all().all(), "a phase of negative length"
    restore = done["resolved"] - done["started"]
    # Sums of four differences of times under 10^7 s: floating error well under 1 µs.
    np.testing.assert_allclose(phases.sum(axis=1), restore, rtol=0, atol=1e-6)
    np.testing.assert_allclose(done["time_to_restore_s"], restore, rtol=0, atol=0)
    assert (timeline["started"] < horizon).all()
    still_open = timeline[timeline["resolved"].isna()]
    assert still_open["time_to_restore_s"].isna().all()
    return len(done)


@pytest.mark.parametrize("case", RUNS, ids=_label)
def test_time_to_restore_is_the_sum_of_its_phases(case: tuple[str, str]):
    _restore_law(run(*case))


def test_the_restore_law_saw_incidents_in_both_fidelities():
    """The runs above hold resolved incidents at each fidelity, or the law was vacuous."""
    request = sum(_restore_law(run(*c)) for c in RUNS if c[1] == "request")
    analytic = sum(_restore_law(run(*c)) for c in RUNS if c[1] == "analytic")
    assert request >= 3 and analytic >= 30, (request, analytic)


# -- the error budget spent is the integrated bad ratio ------------------------------------


@pytest.mark.parametrize("name", [n for n in REQUEST_LEVEL if n != BY_HAND])
def test_error_budget_spent_is_the_requests_bad_ratio(name: str):
    """At request level, from the `requests` table: requests at the entry points that ended
    in the measured period, bad when they failed or took longer than `slo.latency`, over
    all of them, over the budget 1 − SLO.

    The table holds the requests that arrived after the warm-up; the KPI also counts the
    few that arrived before it and ended after it (d of them). So: every scrape interval
    but the first holds exactly the table's requests (integers, no tolerance), the first
    holds d more (0 ≤ d ≤ the requests that end in the first 60 s: those in flight at
    the warm-up are λ × a response time of at most a few seconds), and the KPI lies within
    the bracket those d requests allow, all good or all bad, with a floating margin."""
    result = run(name, "request")
    scenario = result.scenario
    requests = result.tables["requests"]
    ended = requests["end"]
    measured = ended.notna() & (ended > scenario.warmup)
    slow = (ended - requests["arrival"]) > scenario.slo.latency
    bad = (requests["status"] != "ok") | slow
    assert bad[measured].sum() > 0  # the scenario spends budget, or the test says nothing
    sli = result.tables["sli"]
    entry = sli[sli["scope"] == "entry_point"]
    assert entry["service"].nunique() == 1  # one entry point: its scrapes are the grid
    edges = np.concatenate([[scenario.warmup], entry["time"].to_numpy()])
    counts, _ = np.histogram(ended[measured], edges)
    bads, _ = np.histogram(ended[measured & bad], edges)
    np.testing.assert_array_equal(entry["requests"].to_numpy()[1:], counts[1:])
    np.testing.assert_array_equal(entry["bad"].to_numpy()[1:], bads[1:])
    straddling = int(entry["requests"].iloc[0] - counts[0])
    first_minute = int((measured & (ended <= scenario.warmup + 60.0)).sum())
    assert 0 <= straddling <= first_minute
    total, spent_bad = int(measured.sum()) + straddling, int(bad[measured].sum())
    budget = 1.0 - scenario.monitoring.slo
    low, high = spent_bad / total / budget, (spent_bad + straddling) / total / budget
    assert low * (1 - 1e-12) <= result.summary["error_budget_spent"] <= high * (1 + 1e-12)


@pytest.mark.parametrize(
    "name", [n for n in (*ONE_WORLD, *ERAS) if n not in ("eras/sysadmin.yaml", BY_HAND)]
)
def test_error_budget_spent_is_the_integrated_bad_ratio_analytic(name: str):
    """At the analytic fidelity, from the `sli` table: the entry points' expected bad
    requests over their expected requests, summed over the scrapes of the measured period,
    over 1 − SLO (floating sums of ~10^4 terms: 1e-9 relative)."""
    result = run(name, "analytic")
    sli = result.tables["sli"]
    entry = sli[sli["scope"] == "entry_point"]
    assert len(entry) > 0
    assert entry["time"].min() > result.scenario.warmup
    spent = entry["bad"].sum() / entry["requests"].sum() / (1.0 - result.scenario.monitoring.slo)
    assert result.summary["error_budget_spent"] == pytest.approx(spent, rel=1e-9)


# -- conservation --------------------------------------------------------------------------


@pytest.mark.parametrize("case", RUNS, ids=_label)
def test_every_alert_incident_and_change_is_accounted_for(case: tuple[str, str]):
    """Alerts: a paging one opened an incident or joined an open one (only recorded when
    there is nobody to page), a non-paging one opened a ticket or was only recorded; each
    resolved after it fired, or still firing at the horizon; each that opened an incident
    is counted in `alert_incidents` and its incident is in the table, detected at the
    firing. Incidents: resolved after they started, by the horizon, or open.
    Changes committed in the measured period: in production or in flight in a named stage,
    and the two counts add up to `changes_committed`."""
    result = run(*case)
    scenario = result.scenario
    start, horizon = scenario.warmup, scenario.horizon
    incidents = result.tables["incidents"]
    if "alerts" in result.tables:
        alerts = result.tables["alerts"]
        pages = alerts[alerts["page"]]
        # with nobody to page (no delivery model), a page is only recorded
        people = {"incident", "joined"} if scenario.delivery is not None else {"recorded"}
        assert set(pages["action"]) <= people
        assert set(alerts.loc[~alerts["page"], "action"]) <= {"ticket", "recorded"}
        assert ((alerts["resolved"] > alerts["fired"]) | alerts["resolved"].isna()).all()
        assert (alerts["resolved"].fillna(horizon) <= horizon).all()
        opened = alerts[alerts["action"] == "incident"]
        assert len(opened) == result.summary["alert_incidents"]
        # each opened its own incident, in the table, detected when the alert fired
        detected = incidents["detected"].to_numpy()
        found = [np.flatnonzero(detected == fired) for fired in opened["fired"]]
        assert all(len(f) >= 1 for f in found), list(opened["fired"])
        assert len(opened) <= len(set(int(i) for f in found for i in f))
    resolved = incidents["resolved"]
    assert (resolved.isna() | ((resolved >= incidents["start"]) & (resolved <= horizon))).all()
    recent = incidents[(incidents["start"] >= start) & (incidents["start"] < horizon)]
    assert len(recent) == result.summary["incidents"]
    changes = result.tables["changes"]
    fresh = changes[(changes["committed"] >= start) & (changes["committed"] < horizon)]
    deployed = fresh["stage"] == "production"
    in_flight = fresh["stage"].isin(STAGES)
    # The model has no abandoned state: a change rolled back waits in `rework` for its fix.
    assert (deployed | in_flight).all(), set(fresh["stage"])
    assert (deployed == fresh["deployed"].notna()).all()
    assert (fresh.loc[deployed, "deployed"] <= horizon).all()
    assert deployed.sum() + in_flight.sum() == result.summary["changes_committed"]
    assert in_flight.sum() == result.summary["changes_undeployed"]


DEPLOYS_ON_RUNTIME = [
    (name, fidelity)
    for name in ("one-world/deploys-by-hand.yaml", "one-world/deploys-by-pipeline.yaml")
    for fidelity in ("request", "analytic")
]


@pytest.mark.parametrize("case", DEPLOYS_ON_RUNTIME, ids=_label)
def test_every_bad_release_on_the_runtime_is_rolled_back_or_live(case: tuple[str, str]):
    """Every production deploy (not a rollback) is one rollout on the runtime, in the same
    order. A bad one (failed or rolled back) ends rolled back: its rollout stopped and
    undone in place, or a later rollback takes the service from its version or a newer one
    to an older one; otherwise its version is still the one serving at the horizon, and
    then its incident cannot have been resolved."""
    result = run(*case)
    deploys = result.tables["deploys"]
    forward = deploys[deploys["outcome"] != "rollback"]
    rollouts = result.tables["rollouts"]
    firsts = rollouts.groupby("rollout", sort=True).first()
    lasts = rollouts.groupby("rollout", sort=True).last()
    ours = firsts[firsts["kind"] == "deploy"]
    assert len(ours) == len(forward)
    np.testing.assert_array_equal(ours["time"], forward["started"])  # the same instant
    bad = forward["outcome"].isin(["failed", "rolled-back"]).to_numpy()
    assert bad.any()
    backs = firsts[firsts["kind"] == "rollback"]
    live = int(lasts[lasts["step"] == "done"]["to_version"].iloc[-1])
    timeline = result.tables["incident_timeline"]
    for number in np.flatnonzero(bad):
        rollout = ours.index[number]
        version = int(ours["to_version"].iloc[number])
        in_place = lasts.loc[rollout, "step"] in ("rolled_back", "failed")
        later = backs[(backs.index > rollout)]
        undone = ((later["from_version"] >= version) & (later["to_version"] < version)).any()
        if not (in_place or undone):
            assert live == version, (number, version)
            its = timeline[timeline["deploy"] == forward.index[number]]
            assert its["resolved"].isna().all(), (number, version)
