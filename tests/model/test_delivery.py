"""The delivery model: calendar arithmetic, pure decisions, DORA keys worked by hand,
scenario errors, reproducibility, and the era presets' DORA clusters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator import ScenarioError, load_scenario
from simulator.engine import EventLog, RandomStreams
from simulator.metrics.delivery import (
    DELIVERY_KPI_DESCRIPTIONS,
    change_failure_rate,
    delivery_results,
    deploys_per_day,
    dora_cluster,
    dora_keys,
    lead_times,
    restore_times,
)
from simulator.model.context import RunContext
from simulator.model.delivery import DeliveryModel
from simulator.model.delivery.decisions import (
    BAD_CHANGE,
    MANUAL_ERROR,
    PAGE,
    TICKET,
    budget_spent,
    burn_rate_crossing,
    burn_rate_detection,
    canary_verdict,
    deploy_failure,
    detection_delay,
    responder,
)
from simulator.records.delivery import (
    ChangeRecord,
    DeliveryRecords,
    DeployRecord,
    FlowSample,
    IncidentRecord,
    OperatorWork,
)
from simulator.records.run import RunRecords
from simulator.scenario.calendar import Calendar
from simulator.scenario.units import DAY, WEEK
from tests.helpers import ROOT

H = 3600.0
ERAS = ROOT / "scenarios" / "eras"
ERAS_NAMES = ("sysadmin", "devops", "sre")

# -- calendar -------------------------------------------------------------------------------


def test_effort_that_crosses_the_weekend_resumes_on_monday():
    calendar = Calendar()
    friday_1630 = 4 * DAY + 16.5 * H
    assert calendar.add_working_time(friday_1630, 2 * H) == 7 * DAY + 10.5 * H
    assert calendar.next_working(5 * DAY + 12 * H) == 7 * DAY + 9 * H  # Saturday noon
    assert calendar.working_seconds(0.0, WEEK) == 40 * H


def test_holidays_are_skipped():
    calendar = Calendar(holidays=frozenset({0}))
    assert calendar.next_working(0.0) == DAY + 9 * H


@given(
    start=st.floats(0, 3 * WEEK),
    work=st.floats(0, 2 * WEEK),
    days=st.integers(1, 7),
)
def test_working_time_added_is_working_time_elapsed(start: float, work: float, days: int):
    calendar = Calendar(working_days=days)
    end = calendar.add_working_time(start, work)
    assert end >= start
    assert calendar.working_seconds(start, end) == pytest.approx(work, abs=1e-6)


# -- decisions ------------------------------------------------------------------------------


def test_a_bigger_batch_is_what_breaks_more_often():
    assert deploy_failure([False, False, True], 0.99, 0.05) == BAD_CHANGE
    assert deploy_failure([False, False], 0.01, 0.05) == MANUAL_ERROR
    assert deploy_failure([False, False], 0.5, 0.05) is None


def test_detection_by_monitoring_or_by_customers():
    assert detection_delay(True, 60, 60, 300, 0.5, 0.25, 999) == 30 + 15 + 300
    assert detection_delay(False, 60, 60, 300, 0.5, 0.25, 999) == 999


WORKBOOK = [(14.4, H, 300.0, True), (6.0, 6 * H, 1800.0, True), (1.0, 3 * DAY, 6 * H, False)]
"""The SRE Workbook's rules for a 99.9% SLO: (burn, long window, short window, pages)."""


def test_burn_rate_rule_crossings_worked_by_hand():
    # A full outage at 99.9%: the 1 h window's average e·t/3600 passes 14.4 × 0.001 after
    # 0.0144 × 3600 = 51.84 s (the 5 min window passed it after 4.32 s).
    assert burn_rate_crossing(1.0, 0.999, 14.4, H, 300) == pytest.approx(51.84)
    assert burn_rate_crossing(1.0, 0.999, 14.4, 300, H) == pytest.approx(51.84)  # either order
    # A bad canary on 5% of the traffic: 0.0144 / 0.05 × 3600 s.
    assert burn_rate_crossing(0.05, 0.999, 14.4, H, 300) == pytest.approx(1036.8)
    # 1% failing: below 14.4× for ever; above 6×, whose 6 h window passes 0.006 after 3.6 h.
    assert burn_rate_crossing(0.01, 0.999, 14.4, H, 300) == math.inf
    assert burn_rate_crossing(0.01, 0.999, 6.0, 6 * H, 1800) == pytest.approx(3.6 * H)
    # Exactly at the threshold the average equals it at best: it never exceeds it.
    assert burn_rate_crossing(0.001, 0.999, 1.0, 3 * DAY, 6 * H) == math.inf


def test_burn_rate_detection_adds_scrapes_and_evaluation_and_picks_the_first_rule():
    # First scrape 30 s after the start (draw 0.5 of 60 s), then every 60 s; the rule is
    # evaluated 15 s after the scrape that shows the crossing (draw 0.25 of 60 s).
    def detect(ratio: float, scrape_draw: float = 0.5) -> tuple[float, str | None]:
        return burn_rate_detection(ratio, 0.999, WORKBOOK, 60.0, 60.0, scrape_draw, 0.25)

    assert detect(1.0) == (pytest.approx(90 + 15), PAGE)  # crossing 51.84 s, scrape at 90 s
    assert detect(1.0, 0.9) == (pytest.approx(54 + 15), PAGE)  # the first scrape, at 54 s
    assert detect(0.05) == (pytest.approx(30 + 17 * 60 + 15), PAGE)  # crossing 1,036.8 s
    assert detect(0.01) == (pytest.approx(30 + 216 * 60 + 15), PAGE)  # 6×: 12,960 s
    # 0.5% failing: only the ticket rule, 0.001 / 0.005 × 3 days = 51,840 s.
    assert detect(0.005) == (pytest.approx(30 + 864 * 60 + 15), TICKET)
    assert detect(0.0005) == (math.inf, None)  # within the budget: no alert ever


def test_a_short_window_longer_than_the_long_one_is_an_error():
    spec = {"monitoring": {"burn_rate_rules": [{"long_window": "5min", "short_window": "1h"}]}}
    with pytest.raises(ScenarioError, match="short_window"):
        load_scenario(spec)


def test_who_responds():
    calendar = Calendar()
    assert responder(9.5 * H, calendar, True) == "operators"
    assert responder(3 * H, calendar, True) == "on-call"
    assert responder(3 * H, calendar, False) == "morning"


def test_error_budget_counts_only_the_window_and_the_share_affected():
    day = DAY
    canary = (21 * day - H, 21 * day, 0.05)  # an hour on 5% of the traffic: 3 minutes
    outages = [(0.0, 2 * H, 1.0), (20 * day, 20 * day + 30 * 60, 1.0), canary]
    # 99.9% of 28 days is 40.3 minutes of budget.
    assert budget_spent(outages, 21 * day, 28 * day, 0.999)  # 2.5 h in the window
    assert not budget_spent(outages, 29 * day, 28 * day, 0.999)  # 33 minutes remain
    assert not budget_spent([(*canary[:2], 0.5)], 21 * day, 28 * day, 0.999)  # 30 min
    assert budget_spent([(*canary[:2], 1.0)], 21 * day, 28 * day, 0.999)  # 60 min
    # One draw decides: a bad release is caught below `detection`, a good one is failed
    # (a false alarm) below `false_alarm`, else the canary passes.
    assert canary_verdict(True, 0.1, 0.5, 0.0) == "rolled-back"
    assert canary_verdict(True, 0.6, 0.5, 1.0) == "ok"  # a missed bad change is no false alarm
    assert canary_verdict(False, 0.0, 1.0, 0.0) == "ok"
    assert canary_verdict(False, 0.01, 1.0, 0.02) == "false-alarm"
    assert canary_verdict(False, 0.03, 1.0, 0.02) == "ok"


# -- DORA keys from tables, worked by hand ---------------------------------------------------


def hand_tables() -> dict[str, pd.DataFrame]:
    nan = math.nan
    changes = pd.DataFrame(
        {
            "service": [0, 0, 1, 1, 1],
            "committed": [0.0, 10.0, 20.0, 30.0, 90.0],
            "deployed": [50.0, 50.0, 80.0, nan, 120.0],  # the last one after the window
            "caused_failure": [False, False, True, False, False],
        }
    )
    deploys = pd.DataFrame(
        {
            "service": [0, 1, 1, 1],
            "requested": [40.0, 60.0, 85.0, 95.0],
            "started": [45.0, 70.0, 85.0, 100.0],
            "finished": [50.0, 80.0, 86.0, 120.0],
            "changes": [2, 1, 0, 1],
            "outcome": ["ok", "failed", "rollback", "ok"],
        }
    )
    incidents = pd.DataFrame(
        {
            "service": [1, 1],
            "cause": ["bad-change", "infrastructure"],
            "start": [80.0, 95.0],
            "detected": [82.0, 96.0],
            "resolved": [86.0, nan],
        }
    )
    return {"changes": changes, "deploys": deploys, "incidents": incidents}


def test_dora_keys_match_a_hand_worked_example():
    tables = hand_tables()
    start, end = 0.0, 100.0
    # Lead times: 50, 40, 60 (the fourth is not deployed, the fifth after the window).
    assert sorted(lead_times(tables["changes"], start, end)) == [40.0, 50.0, 60.0]
    # Production deploys finished before 100: the ok at 50 and the failed at 80 (the
    # rollback is not a production deploy; the last one finished at 120).
    assert deploys_per_day(tables["deploys"], start, end) == pytest.approx(2 / (100 / DAY))
    assert change_failure_rate(tables["deploys"], start, end) == 0.5
    # Restore: only the resolved incident, 86 − 80.
    assert list(restore_times(tables["incidents"], start, end)) == [6.0]
    keys = dora_keys(tables, start, end)
    assert keys["lead_time_median_s"] == 50.0
    assert keys["lead_time_p90_s"] == pytest.approx(58.0)  # 50 + 0.8·(60 − 50)
    assert keys["mttr_median_s"] == 6.0


@pytest.mark.parametrize(
    ("keys", "cluster"),
    [
        ((4.0, 2 * H, 30 * 60, 0.05), "elite"),
        ((0.5, 3 * DAY, 4 * H, 0.10), "high"),
        ((0.2, 10 * DAY, 5 * H, 0.25), "medium"),
        ((1 / 60, 60 * DAY, 10 * DAY, 0.5), "low"),
        ((4.0, 2 * H, math.nan, math.nan), "elite"),
        ((1 / 7, 5 * DAY, 5 * H, 0.36), "medium"),  # weekly is on the high/medium border
        ((math.nan,) * 4, "unknown"),
    ],
)
def test_dora_cluster_thresholds_of_2019(keys: tuple, cluster: str):
    assert dora_cluster(*keys) == cluster


# -- KPIs from records alone, worked by hand ------------------------------------------------


def hand_records() -> DeliveryRecords:
    """Two services, two operators who never sleep, two weeks measured from time 0."""
    nan = math.nan
    return DeliveryRecords(
        warmup=0.0,
        horizon=2 * WEEK,
        calendar=Calendar.always(),
        services=2,
        process="automated",
        operators=2,
        on_call=True,
        changes=(
            ChangeRecord(0, 0, 0.0, H, 3 * H, False),
            ChangeRecord(1, 1, 50 * H, nan, nan, False),
        ),
        deploys=(
            DeployRecord(0, 0, H, 2 * H, 3 * H, 2, "ok", -1),
            DeployRecord(1, 1, 60 * H, 61 * H, nan, 1, "", -1),
        ),
        incidents=(
            IncidentRecord(1, "infrastructure", 100 * H, 100.5 * H, 102 * H, "on-call", True, 1.0),
        ),
        work=(
            OperatorWork("deploy", "operators", 0.0, 6 * H, 6.0),
            OperatorWork("toil", "operators", 10 * H, 11 * H, 1.0),
            OperatorWork("incident", "on-call", 100 * H, 102 * H, 2.0),
        ),
        samples=(FlowSample(0.0, 0, 0, 0, 0), FlowSample(H, 1, 1, 0, 1)),
        operator_backlog=3,
        ci_runners=2,
        ci_busy_seconds=WEEK,
        frozen_seconds=2 * H,
        preview_node_seconds=10 * H,
        second_copy_node_seconds=2 * H,
        nodes_per_service=1.5,
        node_price=0.1,
        runner_price=0.5,
        hourly_rate=100.0,
        on_call_standby_rate=0.1,
    )


def test_kpis_and_tables_come_from_records_alone():
    records = hand_records()
    summary, tables = delivery_results(records, RunRecords(None, 0, {}, {}))  # type: ignore[arg-type]
    assert list(tables["deploys"]["outcome"]) == ["ok", "in-progress"]
    assert list(tables["deploys"]["changes"]) == [2, 1]
    assert list(tables["operator_work"]["who"]) == ["operators", "operators", "on-call"]
    assert list(tables["delivery_timeseries"]["in_flight"]) == [0, 1]
    assert summary["lead_time_median_s"] == 3 * H
    assert summary["changes_committed"] == 2 and summary["changes_undeployed"] == 1
    assert summary["deploys_per_service_per_day"] == pytest.approx(1 / 14 / 2)
    team = 2 * 336.0  # two operators around the clock for two weeks
    assert summary["operator_hours_per_week"] == 4.5
    assert summary["operator_utilisation"] == pytest.approx(9 / team)
    assert summary["toil_share"] == pytest.approx(7 / team)  # the deploy and the toil
    assert summary["uptime"] == pytest.approx(1 - 2 / (2 * 336))
    assert summary["pages_per_shift"] == pytest.approx(1 / 28)
    assert summary["operator_backlog"] == 3
    assert summary["ci_utilisation"] == 0.25  # a week of busy runner time, two runners
    assert summary["deploy_freeze_hours"] == 2
    assert summary["cost_nodes_usd"] == pytest.approx(2 * 1.5 * 0.1 * 336)
    # Runners, 10 node-hours of previews and 2 of blue-green's second copy.
    assert summary["cost_tooling_usd"] == pytest.approx(2 * 0.5 * 336 + 1.0 + 0.2)
    assert summary["cost_blue_green_usd"] == pytest.approx(0.2)
    # Always working: no standby hours, only the two hours worked on call.
    assert summary["cost_on_call_usd"] == pytest.approx(200.0)
    assert summary["cost_people_usd"] == pytest.approx(team * 100 + 200)
    assert set(summary) == set(DELIVERY_KPI_DESCRIPTIONS)


def test_the_model_hands_back_records_not_itself():
    scenario = load_scenario(small("automated"))
    env = simpy.Environment()
    context = RunContext(env, scenario, 3, RandomStreams(3), EventLog())
    model = DeliveryModel(context)
    env.run(until=scenario.horizon)
    records = model.records()
    assert isinstance(records, DeliveryRecords)
    assert records.changes and records.deploys and records.samples
    assert records.weeks == pytest.approx(3.0)
    assert not hasattr(model, "summary") and not hasattr(model, "tables")
    summary, tables = delivery_results(records, RunRecords(scenario, 3, {}, {}))
    ran = simulator.run(small("automated"), seed=3)
    pd.testing.assert_series_equal(pd.Series(summary), pd.Series(ran.summary))
    pd.testing.assert_frame_equal(tables["deploys"], ran.tables["deploys"])


# -- scenarios ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"delivery": {"proces": "ticket"}}, "did you mean 'process'"),
        ({"delivery": {"process": "chef"}}, "delivery.process"),
        ({"organisation": {"operator": 2}}, "did you mean 'operators'"),
        ({"delivery": {"automated": {"strategy": "yolo"}}}, "delivery.automated.strategy"),
        ({"monitoring": {"scrape_interval": "soon"}}, "monitoring.scrape_interval"),
    ],
)
def test_a_wrong_key_or_value_gives_one_line(section: dict, message: str):
    with pytest.raises(ScenarioError) as error:
        load_scenario(section)
    text = str(error.value)
    assert message in text and "\n" not in text


def small(process: str, **delivery) -> dict:
    return {
        "name": process,
        "horizon": "4w",
        "warmup": "1w",
        "delivery": {"services": 5, "process": process, **delivery},
        "organisation": {"operators": 2},
        "monitoring": {"enabled": True},
    }


@pytest.mark.parametrize("process", ["ticket", "config-management", "automated"])
def test_same_seed_same_tables_bit_for_bit(process: str):
    first = simulator.run(small(process), seed=3)
    again = simulator.run(small(process), seed=3)
    for name in ("changes", "deploys", "incidents", "operator_work"):
        pd.testing.assert_frame_equal(first.tables[name], again.tables[name])
    other = simulator.run(small(process), seed=4)
    assert not first.tables["changes"]["committed"].equals(other.tables["changes"]["committed"])


def test_tables_have_the_promised_columns():
    result = simulator.run(small("ticket"))
    assert {"service", "committed", "deployed", "caused_failure"} <= set(result.tables["changes"])
    assert {"service", "requested", "started", "finished", "changes", "outcome"} <= set(
        result.tables["deploys"]
    )
    assert {"service", "cause", "start", "detected", "resolved"} <= set(result.tables["incidents"])
    changes = result.tables["changes"]
    assert changes["deployed"].isna().any()  # changes still in the queue at the horizon
    done = changes.dropna(subset=["deployed"])
    assert (done["deployed"] >= done["committed"]).all()


def test_a_change_to_one_service_leaves_the_others_draws_alone():
    base = simulator.run(small("automated"), seed=5).tables["changes"]
    more = simulator.run(small("automated", defect_probability=0.2), seed=5).tables["changes"]
    # Commit times come from each service's own stream, before any defect draw matters.
    for service in range(5):
        a = base[base["service"] == service]["committed"].to_numpy()
        b = more[more["service"] == service]["committed"].to_numpy()
        n = min(len(a), len(b))
        np.testing.assert_array_equal(a[:n], b[:n])


def test_analytic_fidelity_runs_the_delivery_model_too():
    result = simulator.run(ERAS / "devops.yaml", overrides={"horizon": "3w"})
    assert "latency_p99_s" in result.summary and "lead_time_median_s" in result.summary
    assert not result.tables["deploys"].empty


@pytest.mark.parametrize(
    ("era", "clusters"),
    [("sysadmin", {"medium"}), ("devops", {"medium", "high"}), ("sre", {"elite", "high"})],
)
def test_era_presets_land_in_the_clusters_the_docs_claim(era: str, clusters: set[str]):
    """Each preset at its own size (2, 10, 100 services), seed 1, as docs/delivery.md
    claims. The DORA keys come from the delivery model alone, so the request workload is
    left out (as in the growth sweep) to keep the test fast. The sysadmin is medium by
    construction: one release a weekly window (`rerelease: next-window`) caps his deploy
    frequency at medium, and his weekly builds fail far more often than high's 15%, so at
    most two of the four keys are high and the median rounded down is medium."""
    from simulator.experiments.growth import DELIVERY_ONLY
    from simulator.metrics.delivery import CLUSTERS

    result = simulator.run(ERAS / f"{era}.yaml", overrides=DELIVERY_ONLY)
    assert CLUSTERS[int(result.summary["dora_rank"])] in clusters


def test_the_workload_traffic_file_is_what_its_generator_writes():
    from simulator.experiments.eras import TRAFFIC_CSV, workload_traffic

    written = pd.read_csv(TRAFFIC_CSV, comment="#")
    pd.testing.assert_frame_equal(written, workload_traffic(), check_dtype=False)
    day = written[(written["time"] >= 8 * DAY) & (written["time"] < 9 * DAY)]["rate"]
    spike = written[(written["time"] >= 9 * DAY) & (written["time"] < 10 * DAY)]["rate"]
    assert day.mean() == pytest.approx(300.0, rel=0.01)  # the diurnal day's mean
    assert spike.max() > 3.5 * day.max()  # the front page on top of the afternoon peak


def test_eras_serve_the_spike_as_their_infrastructure_allows():
    """Three days around the Hacker News spike (day 9): the sysadmin's fixed servers,
    sized for the daily peak, saturate (a backlog, requests late); the DevOps team's
    fixed VMs, sized for the spike, serve it but are paid for all the time; the SRE
    cluster adds nodes for the spike and serves it on fewer nodes on average."""
    window = {"horizon": "11d", "warmup": "8d", "delivery.services": 2}
    runs = {era: simulator.run(ERAS / f"{era}.yaml", overrides=window) for era in ERAS_NAMES}
    sysadmin, devops, sre = (runs[e] for e in ERAS_NAMES)
    # clients give up after 10 s: the sysadmin's backlog fails requests, the others serve all
    assert sysadmin.summary["availability"] < 0.95
    assert sysadmin.summary["error_rate_timeout"] > 0.05
    assert devops.summary["availability"] > 0.9999 and sre.summary["availability"] > 0.9999
    assert devops.summary["nodes_mean"] == 14
    nodes = sre.tables["costs"]["nodes"]
    assert nodes.max() > nodes.min()  # the node autoscaler followed the load
    assert sre.summary["nodes_mean"] < devops.summary["nodes_mean"]
    assert sre.summary["cost_usd"] < devops.summary["cost_usd"]


def test_infrastructure_failures_from_the_cluster_model():
    """With cluster failures enabled, a service on two nodes fails at twice a node's rate;
    an operator repairs it (no rollback deploy)."""
    spec = small("ticket")
    spec["cluster"] = {"nodes": 4, "failures": {"enabled": True, "node_mtbf": "20d"}}
    spec["delivery"]["defect_probability"] = 0.0
    spec["delivery"]["ticket"] = {"manual_error_probability": 0.0}
    result = simulator.run(spec, seed=2)
    incidents = result.tables["incidents"]
    assert set(incidents["cause"]) == {"infrastructure"}
    # 5 services × 2 nodes / 20 d over 4 weeks: 14 expected; Poisson, so 4–28 is > 99.9%.
    assert 4 <= len(incidents) <= 28
    assert (result.tables["deploys"]["outcome"] != "rollback").all()


def test_canary_false_alarms_roll_back_good_releases_without_failing_them():
    """Only good changes and a canary that fails half of them: false alarms are rolled back
    and deployed again, nobody is hurt (no incident) and DORA's change failure rate stays
    0; the changes still reach production, later than without false alarms."""
    quiet = {
        "defect_probability": 0.0,
        "automated": {"flaky_probability": 0.0, "canary_false_alarm": 0.0},
    }
    noisy = {
        "defect_probability": 0.0,
        "automated": {"flaky_probability": 0.0, "canary_false_alarm": 0.5},
    }
    calm = simulator.run(small("automated", **quiet), seed=2)
    alarmed = simulator.run(small("automated", **noisy), seed=2)
    deploys = alarmed.tables["deploys"]
    false_alarms = deploys[deploys["outcome"] == "false-alarm"]
    assert len(false_alarms) > 10
    rollbacks = deploys[deploys["outcome"] == "rollback"]
    assert len(rollbacks) == len(false_alarms)  # each one rolled back, no other rollback
    assert alarmed.tables["incidents"].empty
    assert alarmed.summary["change_failure_rate"] == 0.0
    assert calm.tables["deploys"]["outcome"].isin(["ok", "in-progress"]).all()
    # A false alarm costs at least a canary analysis and a rollback before the next try.
    assert alarmed.summary["lead_time_mean_s"] > calm.summary["lead_time_mean_s"] + 10 * 60
    assert alarmed.summary["changes_undeployed"] <= calm.summary["changes_undeployed"] + 5


def test_on_call_pay_is_standby_outside_working_hours_plus_pages_worked():
    from simulator.metrics.delivery import on_call_cost

    # Hand example: 128 h off hours a week at 10% of $75, plus 3 h of pages at $75.
    assert on_call_cost(128.0, 3.0, 75.0, 0.1) == pytest.approx(960.0 + 225.0)
    spec = small("ticket")
    spec["organisation"]["on_call_standby_rate"] = 0.2
    spec["incidents"] = {"infrastructure_mtbf": "5d"}  # failures at any hour: night pages
    result = simulator.run(spec, seed=1)
    summary, work = result.summary, result.tables["operator_work"]
    worked = work.loc[(work["who"] == "on-call") & (work["start"] >= WEEK), "hours"].sum()
    assert worked > 0
    off_hours = 3 * (168 - 40)  # three measured weeks, 09:00-17:00 Monday to Friday
    expected = off_hours * 0.2 * 75 + worked * 75
    # Pages that straddle the warm-up's end are counted pro rata: at most a few hours.
    assert summary["cost_on_call_usd"] == pytest.approx(expected, abs=5 * 75)
    team = 2 * 3 * 40 * 75
    assert summary["cost_people_usd"] == pytest.approx(team + summary["cost_on_call_usd"])
    without = simulator.run({**spec, "organisation": {"operators": 2, "on_call": False}}, seed=1)
    assert without.summary["cost_on_call_usd"] == 0.0


def bad_canaries(alerting: str, canary_share: float) -> simulator.Result:
    """Every third change bad, tests and previews that catch nothing, a canary analysis
    that misses everything: only an SLO burn-rate alert can stop a bad canary."""
    spec = small(
        "automated",
        defect_probability=0.3,
        automated={
            "test_detection": 0.0,
            "canary_detection": 0.0,
            "canary_false_alarm": 0.0,
            "canary_share": canary_share,
        },
    )
    spec["monitoring"]["alerting"] = alerting
    return simulator.run(spec, seed=2)


def test_a_burn_rate_alert_rolls_back_a_bad_canary_the_analysis_missed():
    """At 5% of the traffic a bad canary burns the budget at 50×: the 14.4×/1 h rule fires
    after 1,036.8 s plus at most a scrape and an evaluation (2 min), within the 30-minute
    analysis, so no bad change reaches all the traffic. Threshold alerting does not watch
    the canary: those bad changes land and fail."""
    caught = bad_canaries("burn-rate", 0.05)
    deploys, incidents = caught.tables["deploys"], caught.tables["incidents"]
    assert (deploys["outcome"] == "rolled-back").sum() > 20
    assert not (deploys["outcome"] == "failed").any()
    assert (incidents["impact"] == 0.05).all() and (incidents["responder"] == "pipeline").all()
    delay = incidents["detected"] - incidents["start"]
    assert delay.min() >= 1036.8 and delay.max() <= 1036.8 + 120
    missed = bad_canaries("threshold", 0.05).tables["deploys"]
    assert (missed["outcome"] == "failed").sum() > 20
    assert not (missed["outcome"] == "rolled-back").any()


def test_a_canary_too_small_to_burn_fast_lands_and_full_traffic_pages_in_a_minute_or_two():
    """At 1% of the traffic the canary stays under 14.4× and 6× would need 3.6 h: it passes,
    the release lands, and the full outage fires the 1 h rule after 51.84 s plus at most a
    scrape and an evaluation; the pipeline rolls it back."""
    result = bad_canaries("burn-rate", 0.01)
    deploys, incidents = result.tables["deploys"], result.tables["incidents"]
    assert not (deploys["outcome"] == "rolled-back").any()
    assert (deploys["outcome"] == "failed").sum() > 20
    done = incidents.dropna(subset=["detected"])
    delay = done["detected"] - done["start"]
    assert delay.min() >= 51.84 and delay.max() <= 51.84 + 120
    assert (done["responder"] == "pipeline").all()


def test_incidents_no_burn_rate_rule_catches_are_reported_by_customers():
    """A rule whose threshold a full outage cannot pass (20 × (1 − 0.95) = 1): nothing
    alerts, customers report after about an hour, and humans, not the pipeline, roll back."""
    spec = small("automated", defect_probability=0.3, automated={"strategy": "rolling"})
    spec["monitoring"].update(alerting="burn-rate", slo=0.95, burn_rate_rules=[{"burn": 20}])
    incidents = simulator.run(spec, seed=2).tables["incidents"].dropna(subset=["detected"])
    assert len(incidents) > 20
    assert (incidents["responder"] != "pipeline").all() and incidents["paged"].all()
    delay = incidents["detected"] - incidents["start"]
    assert 0.5 * H < delay.mean() < 2 * H  # exponential, mean 1 h (customer_report_delay)


def test_a_ticket_alert_waits_for_working_hours():
    """Infrastructure failures at any hour under ticket delivery. With only a ticket rule
    nobody is paged: night-time incidents wait for the morning; with the Workbook's page
    rules the on-call operator answers them."""
    spec = small("ticket", defect_probability=0.0, ticket={"manual_error_probability": 0.0})
    spec["incidents"] = {"infrastructure_mtbf": "5d"}
    spec["monitoring"]["alerting"] = "burn-rate"
    paged = simulator.run(spec, seed=1).tables["incidents"].dropna(subset=["resolved"])
    assert (paged["responder"] == "on-call").any() and paged["paged"].all()
    spec["monitoring"]["burn_rate_rules"] = [{"burn": 1, "long_window": "1h", "page": False}]
    ticketed = simulator.run(spec, seed=1).tables["incidents"].dropna(subset=["resolved"])
    assert len(ticketed) > 10
    assert set(ticketed["responder"]) == {"operators"} and not ticketed["paged"].any()


def test_blue_green_pays_for_a_second_copy_during_each_rollout():
    """Each blue-green rollout (releases, rollbacks) runs a second copy of the service's
    nodes for rollout_time: 2 nodes × 10 min × $0.096/h a rollout, in the tooling cost;
    canaries run no second copy."""
    spec = small("automated", automated={"strategy": "blue-green"})
    result = simulator.run(spec, seed=1)
    summary, deploys = result.summary, result.tables["deploys"]
    start, end = result.scenario.warmup, result.scenario.horizon
    rollout = 600.0
    began = (deploys["finished"] - rollout).clip(lower=start)
    seconds = (deploys["finished"].clip(upper=end) - began).clip(lower=0).sum()
    expected = 2 * 0.096 * seconds / H
    assert expected > 3  # over a hundred rollouts
    # a rollout under way at the horizon (one per service at most) is charged until then
    assert summary["cost_blue_green_usd"] == pytest.approx(expected, abs=5 * 2 * 0.096 / 6)
    runners = 4 * 0.096 * (end - start) / H
    assert summary["cost_tooling_usd"] == pytest.approx(runners + summary["cost_blue_green_usd"])
    canary = simulator.run(small("automated"), seed=1).summary
    assert canary["cost_blue_green_usd"] == 0.0
    assert canary["cost_tooling_usd"] == pytest.approx(runners)


def test_canary_alert_share_of_the_arithmetic():
    from simulator.model.delivery.capacity import canary_alert_share

    sre = load_scenario(ERAS / "sre.yaml")
    assert canary_alert_share(sre) == 1.0  # 1,037-1,157 s < 30 min, whatever the phases
    assert (
        canary_alert_share(load_scenario(ERAS / "sre.yaml", {"monitoring.alerting": "threshold"}))
        == 0.0
    )
    # 20 min of analysis: caught when the first scrape and the evaluation leave room.
    short = load_scenario(ERAS / "sre.yaml", {"delivery.automated.canary_duration": "1100s"})
    assert 0.0 < canary_alert_share(short) < 1.0


def test_previews_are_billed_over_the_measured_period_only():
    """A preview's node-hours count where they overlap [warm-up, horizon], as the other
    nodes' do: the preview part of `cost_tooling_usd` equals the preview stretches of the
    `change_stages` table clipped to the measured period (an independent record)."""
    result = simulator.run("delivery/lean-staging.yaml", overrides={"horizon": "3w"})
    scenario, summary = result.scenario, result.summary
    delivery = scenario.delivery
    assert delivery is not None
    stages = result.tables["change_stages"]
    preview = stages[stages["stage"] == "preview"]
    seconds = (
        (
            np.minimum(preview["end"], scenario.horizon)
            - np.maximum(preview["start"], scenario.warmup)
        )
        .clip(lower=0)
        .sum()
    )
    billed = seconds * delivery.automated.preview.nodes / 3600 * delivery.node_price
    hours = scenario.measured_period / 3600
    runners = delivery.automated.runners * delivery.automated.runner_price * hours
    preview_cost = summary["cost_tooling_usd"] - runners - summary["cost_blue_green_usd"]
    assert preview["start"].min() < scenario.warmup  # some previews ran in the warm-up
    assert preview_cost == pytest.approx(billed, rel=1e-9)
