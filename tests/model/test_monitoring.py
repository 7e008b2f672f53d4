"""The monitoring subsystem: its rules as pure functions, its metrics on hand-made records,
and, in small runs, what it reads of the runtime and what its pages do to it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.engine.recorder import OK
from simulator.metrics.monitoring import alerts_table, monitoring_results, sli_table
from simulator.model.monitoring.rules import (
    FIRED,
    RESOLVED,
    AlertState,
    burn_rate_fires,
    burn_rates_fire,
    burn_thresholds,
    detection_bounds,
    error_ratio_exceeds,
    error_ratios_exceed,
    evaluate,
    most_saturated,
    nodes_down,
    ratio,
    ratios,
    saturated,
    saturated_each,
    trailing,
    unhealthy_since,
    unhealthy_since_each,
    window_scrapes,
)
from simulator.model.world import World
from simulator.records.monitoring import (
    ENTRY_POINT,
    SERVICE,
    AlertRecord,
    IncidentRecord,
    MonitoringRecords,
    SliLog,
)
from simulator.records.run import RunRecords
from simulator.scenario.loader import load_scenario
from simulator.subsystems import build_subsystems
from tests.helpers import SCENARIOS

# -- rules ---------------------------------------------------------------------------------


@given(
    holds=st.lists(st.booleans(), min_size=1, max_size=40),
    every=st.sampled_from([15.0, 60.0, 300.0]),
    hold_for=st.sampled_from([0.0, 60.0, 300.0, 600.0]),
)
def test_an_alert_fires_once_its_condition_held_for_long_enough(holds, every, hold_for):
    """Against a brute-force reading of Prometheus' rule: at each evaluation, the alert
    fires iff the condition held at every evaluation from some time ≥ `hold_for` ago up to
    now and it was not firing; it resolves at the first evaluation where it does not hold."""
    state = AlertState()
    firing = False
    for k, now in enumerate(every * (i + 1) for i in range(len(holds))):
        state, change = evaluate(state, holds[k], now, hold_for)
        run = 0
        while run <= k and holds[k - run]:
            run += 1
        since = every * (k - run + 2) if run else math.nan
        should_fire = run > 0 and now - since >= hold_for
        if not holds[k]:
            assert change == (RESOLVED if firing else None)
            firing = False
        elif not firing and should_fire:
            assert change == FIRED
            firing = True
        else:
            assert change is None
        assert state.firing == firing
        assert state.pending == (holds[k] and not firing)


def test_a_burn_rate_rule_needs_both_windows():
    # 14.4 × 0.1% = 1.44%: the long window at 2% and the short at 3% fire; either below not.
    assert burn_rate_fires(20, 1000, 3, 100, 14.4, 0.999)
    assert not burn_rate_fires(10, 1000, 3, 100, 14.4, 0.999)
    assert not burn_rate_fires(20, 1000, 1, 100, 14.4, 0.999)
    # No requests, no ratio: nothing exceeds NaN.
    assert not burn_rate_fires(0, 0, 0, 0, 14.4, 0.999)
    assert math.isnan(ratio(0, 0))


@given(
    long=st.tuples(st.integers(0, 1000), st.integers(1, 1000)),
    short=st.tuples(st.integers(0, 100), st.integers(1, 100)),
    burn=st.floats(0.5, 20),
    slo=st.floats(0.9, 0.9999),
)
def test_burn_rate_fires_iff_the_smaller_window_ratio_exceeds_the_threshold(long, short, burn, slo):
    low = min(long[0] / long[1], short[0] / short[1])
    assert burn_rate_fires(*long, *short, burn, slo) == (low > burn * (1 - slo))


def test_windows_and_trailing_sums():
    assert window_scrapes(3600, 60) == 60
    assert window_scrapes(300, 60) == 5
    assert window_scrapes(30, 60) == 1  # never less than the last scrape
    cumulative = [0.0, 1.0, 3.0, 6.0, 10.0]  # samples 1, 2, 3, 4
    assert trailing(cumulative, 2) == 7.0
    assert trailing(cumulative, 10) == 10.0  # a young run: what there is


def test_threshold_conditions():
    assert error_ratio_exceeds(6, 100, 0.05) and not error_ratio_exceeds(5, 100, 0.05)
    assert saturated(55, 60, 0.9) and not saturated(54, 60, 0.9)
    assert not saturated(0, 0, 0.9)


def test_unhealthy_since_keeps_the_start_of_an_unbroken_run():
    since = math.nan
    steps = [
        (0, False, None),
        (60, True, 60),
        (120, True, 60),
        (180, False, None),
        (240, True, 240),
    ]
    for start, holds, expected in steps:
        since = unhealthy_since(since, holds, start)
        assert math.isnan(since) if expected is None else since == expected


_counts = st.lists(
    st.tuples(
        st.sampled_from([0.0, 1.0, 3.0]) | st.floats(1e-3, 1e6),
        st.sampled_from([0.0, 1.0, 7.0]) | st.floats(1e-3, 1e6),
    ),
    min_size=1,
    max_size=12,
)


@given(
    long=_counts,
    short=_counts,
    burn=st.sampled_from([1.0, 6.0, 14.4]),
    slo=st.sampled_from([0.99, 0.999]),
    since=st.lists(st.sampled_from([math.nan, 0.0, 60.0]), min_size=12, max_size=12),
)
def test_the_rules_over_every_target_are_the_rules_of_each(long, short, burn, slo, since):
    """The array forms the model evaluates a fleet with (one call for every target) say,
    target by target, exactly what the scalar rules say, including where there were no
    requests (NaN ratios), so vectorising changed no alert."""
    n = min(len(long), len(short))
    lb, lt = (np.array([pair[i] for pair in long[:n]]) for i in (0, 1))
    sb, st_ = (np.array([pair[i] for pair in short[:n]]) for i in (0, 1))
    expected = [burn_rate_fires(lb[i], lt[i], sb[i], st_[i], burn, slo) for i in range(n)]
    fires = burn_rates_fire(np.vstack([lb, sb]), np.vstack([lt, st_]), burn_thresholds([burn], slo))
    assert fires.tolist() == [expected]
    ratios_each = ratios(lb, lt)
    for i in range(n):
        assert ratios_each[i] == ratio(lb[i], lt[i]) or (
            math.isnan(ratios_each[i]) and math.isnan(ratio(lb[i], lt[i]))
        )
    assert error_ratios_exceed(lb, lt, 0.01).tolist() == [
        error_ratio_exceeds(lb[i], lt[i], 0.01) for i in range(n)
    ]
    assert saturated_each(lb, lt, 0.8).tolist() == [saturated(lb[i], lt[i], 0.8) for i in range(n)]
    holds = saturated_each(lb, lt, 0.8)
    previous = np.array(since[:n])
    each = unhealthy_since_each(previous, holds, 120.0)
    for i in range(n):
        want = unhealthy_since(previous[i], bool(holds[i]), 120.0)
        assert each[i] == want or (math.isnan(each[i]) and math.isnan(want))
    assert nodes_down(np.array([0, 2, 0, 1])).tolist() == [False, True, False, True]


def test_most_saturated_names_the_busiest_service_above_the_threshold():
    assert most_saturated({"web": 0.95, "api": 0.99, "db": 0.5}, 0.9) == "api"
    assert most_saturated({"web": 0.85}, 0.9) is None
    assert most_saturated({"web": math.nan}, 0.9) is None


def test_detection_bounds():
    assert detection_bounds(1000, 60, 60, 0) == (1000, 1120)
    assert detection_bounds(1000, 60, 30, 300) == (1300, 1420)


# -- metrics on hand-made records ----------------------------------------------------------


def _records(**more) -> MonitoringRecords:
    sli = SliLog()
    # Scrapes at 60 (warm-up), 120, 180: the entry point and its service.
    for t, total, bad in [(60, 100, 50), (120, 100, 2), (180, 300, 6)]:
        sli.record(t, ENTRY_POINT, 0, total, bad, math.nan, math.nan, 0)
        sli.record(t, SERVICE, 0, total, bad // 2, 30.0, 60.0, 2)
    alert = AlertRecord(
        "saturation", "saturation", SERVICE, "web", 90, 150, math.nan, True, "incident", 0
    )
    early = AlertRecord(
        "error-ratio", "threshold", ENTRY_POINT, "web", 0, 30, 60, True, "recorded", -1
    )
    ticket = AlertRecord(
        "burn-rate 1x/3d", "burn-rate", ENTRY_POINT, "web", 100, 160, 170, False, "ticket", -1
    )
    incident = IncidentRecord("web", 0, "overload", 90, 150, 170, 170, 1, 0.5)
    fields = {
        "warmup": 60.0,
        "horizon": 180.0,
        "slo": 0.99,
        "slo_latency": 1.0,
        "scrape_interval": 60.0,
        "entry_points": ("web",),
        "services": ("web",),
        "sli": sli,
        "alerts": (early, alert, ticket),
        "incidents": (incident,),
        "replica_seconds_added": 10.0,
    }
    fields.update(more)
    return MonitoringRecords(**fields)


def test_sli_table_keeps_the_measured_period():
    table = sli_table(_records())
    assert list(table["time"]) == [120, 120, 180, 180]
    assert list(table["scope"]) == ["entry_point", "service"] * 2
    entry = table[table["scope"] == "entry_point"]
    assert list(entry["bad_ratio"]) == [0.02, 0.02]
    assert entry["saturation"].isna().all()
    assert list(table.loc[table["scope"] == "service", "saturation"]) == [0.5, 0.5]


def test_monitoring_kpis_and_alerts_table():
    records = _records()
    run = RunRecords(load_scenario({"name": "hand-made"}), 1, {}, {})
    summary, tables = monitoring_results(records, run)
    alerts = tables["alerts"]
    assert list(alerts["rule"]) == ["saturation", "burn-rate 1x/3d"]  # the early one left out
    assert summary["alerts_fired"] == 2 and summary["pages"] == 1
    assert summary["alert_tickets"] == 1 and summary["alert_incidents"] == 1
    assert summary["first_page_s"] == 150
    assert alerts.iloc[0]["cause"] == "overload" and alerts.iloc[0]["remedied"] == 170
    # 8 bad of 400 requests in the measured period, against a 1% budget: twice the budget.
    assert summary["error_budget_spent"] == pytest.approx(2.0)
    assert summary["replicas_added_by_hand"] == 1
    assert summary["replica_hours_added_by_hand"] == pytest.approx(10 / 3600)
    assert alerts_table(_records(alerts=())).empty


# -- in a run --------------------------------------------------------------------------------


def _overloaded(**more) -> dict:
    """One service 40% busy that turns 120% busy at 10 min (work three times as long) for
    an hour; checks every minute, saturation alerts after 2 minutes."""
    scenario = {
        "name": "overload",
        "seed": 4,
        "horizon": "80min",
        "warmup": "5min",
        "services": {
            "web": {
                "replicas": 2,
                "concurrency": 5,
                "service_time": {"distribution": "exponential", "mean": "100ms"},
                "load_balancer": "central-queue",
                "queue_limit": 20,
                "slowdowns": [{"at": "10min", "duration": "1h", "factor": 3}],
            }
        },
        "traffic": {"web": {"rate": 40, "timeout": "5s"}},
        "slo": {"latency": "1s"},
        "organisation": {"operators": 1, "day_start": "0s", "day_end": "24h", "working_days": 7},
        "incidents": {
            "diagnosis_effort": "10min",
            "manual_scale_out": {
                "replicas": 2,
                "lead_time": {"distribution": "constant", "mean": "15min"},
            },
        },
        "monitoring": {
            "enabled": True,
            "slo": 0.99,
            "saturation": {"alert_for": "2min"},
        },
    }
    scenario.update(more)
    return scenario


ORGANISATION = {"services": 1, "change_rate": 0, "process": "ticket"}


def test_an_overload_pages_and_the_responder_adds_replicas():
    result = simulator.run(_overloaded(delivery=ORGANISATION))
    alerts = result.tables["alerts"]
    saturation = alerts[alerts["rule"] == "saturation"].iloc[0]
    # The slowdown starts on a scrape; the first full interval shows it, 2 min more to fire.
    assert saturation["fired"] == 600 + 60 + 120
    assert saturation["action"] == "incident" and saturation["cause"] == "overload"
    # The error-ratio check fires too (timeouts and rejections): the same incident.
    assert set(alerts.loc[alerts["rule"] == "error-ratio", "action"]) == {"joined"}
    incident = result.tables["incidents"].iloc[0]
    assert len(result.tables["incidents"]) == 1
    assert incident["cause"] == "overload" and incident["detected"] == saturation["fired"]
    assert incident["responder"] == "operators" and incident["paged"]
    # Two more replicas serve a constant 15 minutes after the diagnosis (10 min on average,
    # drawn), and the incident is resolved then.
    remedied = saturation["remedied"]
    assert saturation["replicas_added"] == 2 and incident["resolved"] == remedied
    assert remedied > saturation["fired"] + 15 * 60
    sli = result.tables["sli"]
    replicas = sli.loc[sli["scope"] == "service"].set_index("time")["replicas"]
    assert (replicas[replicas.index < remedied] == 2).all()
    assert (replicas[replicas.index > remedied] == 4).all()
    # 20 workers for 12 busy ones: the alerts resolve after the remedy, before the slowdown
    # ends (at 70 min).
    assert (alerts["resolved"] > remedied).all() and (alerts["resolved"] < 4200).all()
    assert result.summary["replicas_added_by_hand"] == 2
    events = result.tables["events"]
    assert (events["kind"] == "replicas_added_by_hand").sum() == 1


def test_without_an_organisation_alerts_are_only_recorded():
    result = simulator.run(_overloaded())
    alerts = result.tables["alerts"]
    assert len(alerts) >= 2 and set(alerts["action"]) == {"recorded"}
    assert "incidents" not in result.tables
    assert result.summary["replicas_added_by_hand"] == 0
    sli = result.tables["sli"]
    assert (sli.loc[sli["scope"] == "service", "replicas"] == 2).all()


def test_ticket_rules_open_no_incident():
    monitoring = {"enabled": True, "slo": 0.99, "error_threshold": 1.0}
    monitoring["saturation"] = {"alert_for": "2min", "page": False}
    result = simulator.run(_overloaded(delivery=ORGANISATION, monitoring=monitoring))
    alerts = result.tables["alerts"]
    assert list(alerts["action"]) == ["ticket"]
    assert len(result.tables["incidents"]) == 0


def test_monitoring_disabled_builds_nothing():
    result = simulator.run(_overloaded(delivery=ORGANISATION, monitoring={"enabled": False}))
    assert "alerts" not in result.tables and "sli" not in result.tables
    assert "pages" not in result.summary


def test_an_alert_joins_an_incident_the_delivery_model_already_has():
    """A node of `back` dies under static discovery: the discovery model opens an incident
    (cause discovery) and a third of the calls to back fail until it is fixed. The entry
    point's error check fires on those failures, but the incident is open on a service in
    its call tree: the page joins it (incident -1: the delivery model's own), no second
    incident for one failure."""
    scenario = {
        "name": "two",
        "seed": 3,
        "horizon": "4h",
        "services": {
            "front": {"replicas": 2, "handler": [{"work": "2ms"}, {"call": "back"}]},
            "back": {"replicas": 3},
        },
        "traffic": {"front": {"rate": "5/s"}},
        "organisation": {"operators": 1, "day_start": "0s", "day_end": "24h", "working_days": 7},
        "discovery": {
            "kind": "static",
            "events": [{"at": "1h", "kind": "node-failure", "service": "back"}],
        },
        "delivery": {"services": 2, "change_rate": 0, "process": "ticket"},
        "monitoring": {"enabled": True},
    }
    result = simulator.run(scenario)
    incidents = result.tables["incidents"]
    assert list(incidents["cause"]) == ["discovery"]
    alerts = result.tables["alerts"]
    errors = alerts[alerts["rule"] == "error-ratio"]
    assert len(errors) >= 1
    assert list(errors["action"]) == ["joined"] * len(errors)
    assert (errors["incident"] == -1).all()


def _world(scenario: dict) -> World:
    world = World(load_scenario(scenario), 7, build_subsystems)
    world.run()
    return world


def test_the_samples_account_for_every_request_visit_and_busy_second():
    """Read incrementally, scrape by scrape, the samples add up to the logs read at the end:
    every request by its end time (bad: failed, or slower than the SLO latency), every
    finished visit, and the stations' busy and available worker-seconds."""
    scenario = _overloaded(warmup="7min")  # a warm-up off the scrape grid
    world = _world(scenario)
    records = world.subsystems["monitoring"].records()
    sli = records.sli
    time = np.asarray(sli.time)
    entry = np.asarray(sli.scope) == ENTRY_POINT
    requests = world.requests.columns()
    bad = (requests["status"] != OK) | (requests["end"] - requests["arrival"] > 1.0)
    # Per scrape interval, bucketed from the whole log afterwards.
    edges = np.concatenate([[0.0], time[entry]])
    counts, _ = np.histogram(requests["end"], edges)
    bads, _ = np.histogram(requests["end"][bad], edges)
    assert np.array_equal(np.asarray(sli.requests)[entry], counts)
    assert np.array_equal(np.asarray(sli.bad)[entry], bads)
    assert 420.0 in set(time)  # the grid is anchored at the end of the warm-up
    # The error budget: the requests that ended in the measured period, exactly.
    measured = requests["end"] > records.warmup
    spent = bad[measured].sum() / measured.sum() / (1 - records.slo)
    summary, _ = monitoring_results(records, RunRecords(world.scenario, 7, requests, {}))
    assert summary["error_budget_spent"] == pytest.approx(spent, rel=1e-12)
    # Visits: every finished span once; busy and available worker-seconds: the integrals.
    spans = world.spans.columns()
    service = ~entry
    assert np.asarray(sli.requests)[service].sum() == (~np.isnan(spans["end"])).sum()
    finished = ~np.isnan(spans["end"])
    assert np.asarray(sli.bad)[service].sum() == (spans["status"][finished] != OK).sum()
    station = world.stations[0]
    assert np.asarray(sli.busy)[service].sum() == pytest.approx(station.busy_area, rel=1e-9)
    assert np.asarray(sli.capacity)[service].sum() == pytest.approx(station.capacity_area)


def test_error_budget_spent_is_the_requests_bad_ratio_over_the_budget():
    """Against the runner's own request KPIs: with no warm-up, every finished request is in
    both, so error_budget_spent = (1 − slo_attainment) / (1 − SLO)."""
    result = simulator.run(_overloaded(warmup="0s"))
    attainment = result.summary["slo_attainment"]
    expected = (1 - attainment) / (1 - 0.99)
    assert result.summary["error_budget_spent"] == pytest.approx(expected, rel=1e-12)


def test_same_seed_same_alerts():
    first = simulator.run(_overloaded(delivery=ORGANISATION, horizon="30min"))
    second = simulator.run(_overloaded(delivery=ORGANISATION, horizon="30min"))
    assert len(first.tables["alerts"]) >= 1
    assert first.tables["alerts"].equals(second.tables["alerts"])
    assert first.summary == pytest.approx(second.summary, nan_ok=True)


def test_an_incident_counts_the_requests_that_failed_while_it_was_open():
    result = simulator.run(SCENARIOS / "one-world" / "spike-sysadmin.yaml")
    timeline = result.tables["incident_timeline"]
    requests = result.tables["requests"]
    failed = requests[~requests["status"].isin(["ok", "pending"])]
    assert len(timeline) >= 1
    for row in timeline.itertuples():
        inside = failed[(failed["end"] >= row.started) & (failed["end"] < row.resolved)]
        assert row.requests_failed == len(inside) > 0
