"""Where a change's time goes and how an incident unfolds: the stage bookkeeping (pure
pieces, a hand-worked log), the tables `change_stages`, `lead_time_breakdown` and
`incident_timeline` (worked by hand, then on every shipped delivery scenario and on small
runs that take every path of the model), and the stories told from them."""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.experiments.growth import DELIVERY_ONLY
from simulator.metrics.delivery import (
    STAGE_COLUMNS,
    TIMELINE_PHASES,
    incident_timeline,
    lead_time_breakdown,
    restore_times,
)
from simulator.model.delivery.decisions import burn_rate_alert, burn_rate_detection, rule_name
from simulator.model.delivery.stages import IN_PRODUCTION, StageLog, working_pieces
from simulator.records.delivery import (
    STAGE_DESCRIPTIONS,
    STAGES,
    DeliveryRecords,
    IncidentRecord,
)
from simulator.scenario.calendar import Calendar
from simulator.scenario.units import DAY
from simulator.stories import StoryError, change_story, clock, duration, incident_story
from tests.golden.cases import SHORTENED
from tests.helpers import SCENARIOS

H = 3600.0
MINUTE = 60.0
CAL = Calendar()  # 09:00-17:00, Monday to Friday; time 0 is a Monday at 00:00
FRIDAY = 4 * DAY
MONDAY = 7 * DAY


# -- pure pieces -------------------------------------------------------------------------------


def test_work_over_a_weekend_is_cut_into_working_and_outside_hours():
    """Two hours from Friday 16:30: half an hour on Friday, the weekend, 1.5 h on Monday."""
    start = FRIDAY + 16.5 * H
    end = CAL.add_working_time(start, 2 * H)
    assert end == MONDAY + 10.5 * H
    assert working_pieces(CAL, start, end) == [
        (start, FRIDAY + 17 * H, True),
        (FRIDAY + 17 * H, MONDAY + 9 * H, False),
        (MONDAY + 9 * H, end, True),
    ]
    assert working_pieces(Calendar.always(), start, end) == [(start, end, True)]
    assert working_pieces(CAL, end, end) == []


@given(
    st.floats(min_value=0, max_value=30 * DAY),
    st.floats(min_value=0, max_value=10 * DAY),
    st.integers(min_value=1, max_value=7),
)
def test_pieces_tile_the_span_and_alternate(start: float, length: float, days: int):
    calendar = Calendar(8 * H, 18 * H, days, frozenset({3, 11}))
    end = start + length
    pieces = working_pieces(calendar, start, end)
    if end <= start:
        assert pieces == []
        return
    assert pieces[0][0] == start and pieces[-1][1] == end
    for (_, a_end, a_working), (b_start, _, b_working) in itertools.pairwise(pieces):
        assert a_end == b_start and a_working != b_working
    working = sum(b - a for a, b, w in pieces if w)
    assert working == pytest.approx(calendar.working_seconds(start, end), abs=1e-6)
    for a, b, w in pieces:
        assert calendar.working_seconds(a, b) == pytest.approx((b - a) if w else 0.0, abs=1e-6)


@dataclass
class _Change:
    id: int
    stage: int = -1
    since: float = 0.0
    ahead: int = -1
    deploy: int = -1
    split: bool = False


def test_the_stage_log_tiles_a_change_worked_by_hand():
    """Committed Friday 16:00, released Monday 09:00, an operator free at 10:00 who needs
    7.5 working hours (to Tuesday 09:30); the release is rolled back at Tuesday 12:00."""
    log = StageLog(CAL)
    change = _Change(7, since=FRIDAY + 16 * H)
    log.move([change], "release_batch", FRIDAY + 16 * H)
    log.move([change], "operators_queue", MONDAY + 9 * H, ahead=2, deploy=0)
    log.move([change], "rollout", MONDAY + 10 * H, deploy=0, split=True)
    landed = CAL.add_working_time(MONDAY + 10 * H, 7.5 * H)
    assert landed == MONDAY + DAY + 9.5 * H
    log.land([change], landed)
    assert change.stage == IN_PRODUCTION
    log.rolled_back([change])
    log.move([change], "release_batch", MONDAY + DAY + 12 * H)
    rows = list(
        zip(
            [STAGES[s] for s in log.stage],
            log.start,
            log.end,
            log.ahead,
            log.deploy,
            strict=True,
        )
    )
    assert rows == [
        ("release_batch", FRIDAY + 16 * H, MONDAY + 9 * H, -1, -1),
        ("operators_queue", MONDAY + 9 * H, MONDAY + 10 * H, 2, 0),
        ("rollout", MONDAY + 10 * H, MONDAY + 17 * H, -1, 0),
        ("outside_hours", MONDAY + 17 * H, MONDAY + DAY + 9 * H, -1, 0),
        ("rollout", MONDAY + DAY + 9 * H, landed, -1, 0),
        ("rework", landed, MONDAY + DAY + 12 * H, -1, 0),
    ]
    assert set(log.change) == {7}
    records = log.records()
    assert len(records) == 6 and records.stage.dtype == np.int8


def test_leaving_production_unannounced_is_a_bug_the_log_catches():
    log = StageLog(CAL)
    change = _Change(1)
    log.move([change], "ci_queue", 0.0)
    log.land([change], 10.0)
    with pytest.raises(AssertionError, match="left production"):
        log.move([change], "release_batch", 20.0)


def test_every_stage_is_described():
    assert set(STAGE_DESCRIPTIONS) == set(STAGES)
    assert tuple(f"{s}_s" for s in STAGES) == STAGE_COLUMNS


def test_the_rule_that_fires_is_named():
    rules = [
        (14.4, H, 5 * MINUTE, True),
        (6.0, 6 * H, 30 * MINUTE, True),
        (1.0, 3 * DAY, 6 * H, False),
    ]
    # 1% failing at 99.9%: only the 6x/6h rule (3.6 h) and the ticket rule (14.4 h) cross
    delay, kind, index = burn_rate_alert(0.01, 0.999, rules, 60.0, 60.0, 0.0, 0.0)
    assert (kind, index) == ("page", 1)
    assert (delay, kind) == burn_rate_detection(0.01, 0.999, rules, 60.0, 60.0, 0.0, 0.0)
    assert burn_rate_alert(0.0005, 0.999, rules, 60.0, 60.0, 0.5, 0.5)[1:] == (None, -1)
    assert rule_name(14.4, H) == "burn-rate 14.4x/1h"
    assert rule_name(1.0, 3 * DAY) == "burn-rate 1x/3d"
    assert rule_name(2.0, 90.0) == "burn-rate 2x/90s"


# -- the tables, worked by hand -----------------------------------------------------------------


def test_the_breakdown_sums_each_changes_stretches():
    changes = pd.DataFrame(
        {"service": [0, 1, 0], "committed": [0.0, 10.0, 20.0], "deployed": [100.0, np.nan, 50.0]}
    )
    stages = pd.DataFrame(
        {
            "change": [0, 0, 1, 2, 0, 2],
            "stage": ["ci_queue", "build_test", "ci_queue", "rollout", "ci_queue", "canary"],
            "seconds": [5.0, 15.0, 3.0, 10.0, 80.0, 20.0],
        }
    )
    table = lead_time_breakdown(changes, stages)
    assert list(table["change"]) == [0, 2]  # change 1 is not in production
    assert list(table["lead_time_s"]) == [100.0, 30.0]
    assert list(table["ci_queue_s"]) == [85.0, 0.0]
    assert list(table["build_test_s"]) == [15.0, 0.0]
    assert list(table["canary_s"]) == [0.0, 20.0]
    assert list(table[list(STAGE_COLUMNS)].sum(axis=1)) == [100.0, 30.0]


def test_the_timeline_splits_the_restore_time_into_four_phases():
    """Started 10:00; a customer at 11:00; paged at once; taken up 11:15; diagnosed 12:00;
    remedy applied 12:30; service back 12:40. Half the traffic hit: 1 h 20 min of budget."""
    incident = IncidentRecord(
        2, "bad-change", 10 * H, 11 * H, 12 * H + 40 * MINUTE, "on-call", True, 0.5,
        "customer", "", math.nan, 11 * H, 11.25 * H, 12 * H, 12.5 * H, 1.5, 4,
    )  # fmt: skip
    records = DeliveryRecords(
        0.0, 2 * DAY, CAL, 3, "ticket", 1, True, (), (), (incident,), (), (), 0, 1,
        0.0, 0.0, 0.0, 0.0, 1.0, 0.1, 0.1, 75.0, 0.1, slo=0.999, budget_window=30 * DAY,
    )  # fmt: skip
    row = incident_timeline(records).iloc[0]
    assert row["detection_s"] == H
    assert row["response_s"] == 0.25 * H
    assert row["diagnosis_s"] == 0.75 * H
    assert row["remediation_s"] == 40 * MINUTE
    assert row["time_to_restore_s"] == 160 * MINUTE
    assert row["budget_s"] == 80 * MINUTE
    assert row["budget_share"] == pytest.approx(80 * MINUTE / (0.001 * 30 * DAY))
    assert row["paged"] == 11 * H and row["deploy"] == 4 and row["operator_hours"] == 1.5
    assert math.isnan(row["first_bad_request"]) and math.isnan(row["requests_failed"])


# -- the tables of real runs ------------------------------------------------------------------


def assert_stretches_tile(result: simulator.Result) -> None:
    """Every change's stretches follow each other without gap or overlap from its commit;
    a change in production's end exactly at `deployed`, and its breakdown sums to its lead
    time; the mean over the measured changes is the run's mean lead time."""
    changes = result.tables["changes"]
    stretches = result.tables["change_stages"].sort_values(["change", "start"], kind="stable")
    breakdown = result.tables["lead_time_breakdown"]
    assert (stretches["seconds"] > 0).all()
    assert set(stretches["stage"]) <= set(STAGES)
    first = stretches.groupby("change").head(1)
    last = stretches.groupby("change").tail(1)
    np.testing.assert_array_equal(
        first["start"].to_numpy(), changes["committed"].to_numpy()[first["change"]]
    )
    same = stretches["change"].to_numpy()[1:] == stretches["change"].to_numpy()[:-1]
    np.testing.assert_array_equal(
        stretches["start"].to_numpy()[1:][same], stretches["end"].to_numpy()[:-1][same]
    )
    deployed = changes["deployed"].notna()
    assert list(breakdown["change"]) == list(np.flatnonzero(deployed))
    ends = last.set_index("change")["end"]
    in_production = breakdown["change"]
    np.testing.assert_array_equal(
        ends.loc[in_production].to_numpy(), changes["deployed"].to_numpy()[in_production]
    )
    # The open stage of a change still in flight starts where its last stretch ended.
    flying = changes[~deployed & changes.index.isin(ends.index)]
    np.testing.assert_array_equal(flying["since"].to_numpy(), ends.loc[flying.index].to_numpy())
    assert (changes.loc[deployed, "stage"] == "production").all()
    sums = breakdown[list(STAGE_COLUMNS)].sum(axis=1)
    np.testing.assert_allclose(sums, breakdown["lead_time_s"], rtol=0, atol=1e-6)
    scenario = result.scenario
    measured = breakdown[
        (breakdown["committed"] >= scenario.warmup) & (breakdown["committed"] < scenario.horizon)
    ]
    if len(measured):
        assert measured["lead_time_s"].mean() == pytest.approx(
            result.summary["lead_time_mean_s"], rel=1e-12
        )


def assert_restore_identity(result: simulator.Result) -> None:
    """Time to restore = detection + response + diagnosis + remediation for every resolved
    incident, each phase a non-negative number, the timestamps in order; the timeline agrees
    with the `incidents` table and with the run's median time to restore."""
    timeline, incidents = result.tables["incident_timeline"], result.tables["incidents"]
    assert len(timeline) == len(incidents)
    np.testing.assert_array_equal(timeline["started"], incidents["start"])
    np.testing.assert_array_equal(timeline["resolved"], incidents["resolved"])
    done = timeline[timeline["resolved"].notna()]
    phases = done[[f"{phase}_s" for phase in TIMELINE_PHASES]]
    assert not phases.isna().any().any(), "a resolved incident misses a phase"
    assert (phases >= 0).all().all()
    restore = (incidents["resolved"] - incidents["start"])[done.index]
    np.testing.assert_allclose(phases.sum(axis=1), restore, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(done["time_to_restore_s"], restore)
    order = ["started", "detected", "acknowledged", "diagnosed", "remediated", "resolved"]
    times = done[order].to_numpy()
    assert (np.diff(times, axis=1) >= 0).all()
    humans = done[done["responder"] != "pipeline"]
    assert (humans["paged"] >= humans["detected"]).all()
    assert (humans["acknowledged"] >= humans["paged"]).all()
    assert done[done["responder"] == "pipeline"]["paged"].isna().all()
    assert set(done["source"]) <= {"page", "ticket", "customer", "canary"}
    assert (done[done["source"] == "customer"]["rule"] == "").all()
    assert (timeline[timeline["resolved"].isna()]["time_to_restore_s"].isna()).all()
    scenario = result.scenario
    measured = restore_times(incidents, scenario.warmup, scenario.horizon)
    if len(measured):
        assert float(np.median(measured)) == result.summary["mttr_median_s"]


SHIPPED = [
    "delivery/lean-staging.yaml",
    "delivery/ticket-with-cab.yaml",
    "eras/sysadmin.yaml",
    "eras/devops.yaml",
    "eras/sre.yaml",
    "eras/workload.yaml",
    "secrets/leak-organisation.yaml",
    "what-if/discovery-delivery.yaml",
]
"""Every shipped scenario with a delivery model, shortened as the golden results are."""


@functools.cache
def run_shipped(name: str) -> simulator.Result:
    """A shipped scenario at its own seed, shortened as in the golden results (once)."""
    return simulator.run(SCENARIOS / name, overrides=SHORTENED.get(name))


@pytest.fixture(params=SHIPPED)
def shipped(request: pytest.FixtureRequest) -> simulator.Result:
    return run_shipped(request.param)


def test_shipped_scenarios_breakdowns_sum_to_the_lead_time(shipped: simulator.Result):
    assert_stretches_tile(shipped)


def test_shipped_scenarios_restore_time_is_the_sum_of_the_phases(shipped: simulator.Result):
    assert_restore_identity(shipped)


def test_the_shipped_scenarios_take_the_paths_the_tests_claim_to_cover():
    """The shipped runs above hold the stages and responders the identities are about."""
    stages, sources = set(), set()
    for name in ("delivery/ticket-with-cab.yaml", "eras/sre.yaml", "eras/devops.yaml"):
        result = run_shipped(name)
        stages |= set(result.tables["change_stages"]["stage"])
        sources |= set(result.tables["incident_timeline"]["source"])
    assert {"release_batch", "change_board", "operators_queue", "outside_hours"} <= stages
    assert {"build_test", "canary", "rollout", "rework"} <= stages
    assert {"customer", "page", "canary"} <= sources


def small(process: str, **delivery: object) -> dict:
    return {
        "name": process,
        "horizon": "4w",
        "warmup": "1w",
        "delivery": {"services": 5, "process": process, **delivery},
        "organisation": {"operators": 2},
        "monitoring": {"enabled": True},
    }


def _path(name: str) -> dict:
    """Small runs, each through paths of the model the shipped scenarios may miss."""
    if name == "ticket, no on-call":  # node failures at night, too
        spec = small("ticket", defect_probability=0.15, ticket={"cab": {"enabled": True}})
        spec["organisation"]["on_call"] = False
        spec["cluster"] = {"nodes": 4, "failures": {"enabled": True, "node_mtbf": "20d"}}
        return spec
    if name == "ticket, deploys at night":
        return small("ticket", defect_probability=0.15, ticket={"deploy_outside_hours": True})
    if name == "config-management":
        return small("config-management", defect_probability=0.15)
    if name == "canary, previews, flaky tests, false alarms":
        spec = small(
            "automated",
            defect_probability=0.2,
            automated={
                "runners": 1,
                "flaky_probability": 0.3,
                "canary_false_alarm": 0.2,
                "preview": {"enabled": True},
            },
        )
        spec["monitoring"]["alerting"] = "burn-rate"
        return spec
    if name == "rolling, frozen by the error budget, humans roll back":
        return small(
            "automated",
            defect_probability=0.3,
            automated={
                "strategy": "rolling",
                "auto_rollback": False,
                "test_detection": 0.0,
                "error_budget": {"enabled": True, "slo": 0.999, "window": "7d"},
            },
        )
    if name == "blue-green, a ticket alert":
        spec = small("automated", defect_probability=0.2, automated={"strategy": "blue-green"})
        spec["monitoring"].update(
            alerting="burn-rate", burn_rate_rules=[{"burn": 1, "long_window": "1d", "page": False}]
        )
        return spec
    assert name == "infrastructure failures"
    spec = small("ticket", defect_probability=0.0)
    spec["cluster"] = {"nodes": 4, "failures": {"enabled": True, "node_mtbf": "10d"}}
    return spec


PATHS = (
    "ticket, no on-call",
    "ticket, deploys at night",
    "config-management",
    "canary, previews, flaky tests, false alarms",
    "rolling, frozen by the error budget, humans roll back",
    "blue-green, a ticket alert",
    "infrastructure failures",
)


@pytest.fixture(scope="module", params=PATHS)
def path_run(request: pytest.FixtureRequest) -> tuple[str, simulator.Result]:
    return request.param, simulator.run(_path(request.param), seed=2)


def test_every_path_tiles_and_restores(path_run: tuple[str, simulator.Result]):
    name, result = path_run
    assert_stretches_tile(result)
    assert_restore_identity(result)
    stages = set(result.tables["change_stages"]["stage"])
    timeline = result.tables["incident_timeline"]
    expected = {
        "ticket, no on-call": {"change_board", "operators_queue", "outside_hours", "rework"},
        "ticket, deploys at night": {"operators_queue", "rollout", "rework"},
        "config-management": {"release_batch", "operators_queue", "rollout", "rework"},
        "canary, previews, flaky tests, false alarms": {"preview", "canary", "ci_queue", "rework"},
        "rolling, frozen by the error budget, humans roll back": {"freeze", "rework"},
        "blue-green, a ticket alert": {"build_test", "rollout", "rework"},
        "infrastructure failures": {"release_batch", "rollout"},
    }[name]
    assert expected <= stages, f"{name}: {expected - stages} not taken"
    assert len(timeline) > 0, f"{name}: no incident to check"


def test_operator_work_in_working_time_and_the_nights_inside_it(
    path_run: tuple[str, simulator.Result],
):
    """Stretches of outside_hours lie wholly outside working time; a manual deploy's
    stretches of work (ticket, unless deploys run at night) wholly inside it."""
    name, result = path_run
    calendar = Calendar.from_organisation(result.scenario.organisation)
    stretches = result.tables["change_stages"]
    for row in stretches[stretches["stage"] == "outside_hours"].itertuples():
        assert calendar.working_seconds(row.start, row.end) == 0.0
    if name == "ticket, no on-call":
        rollout = stretches[stretches["stage"] == "rollout"]
        assert len(rollout) > 0
        for row in rollout.itertuples():
            assert calendar.working_seconds(row.start, row.end) == pytest.approx(row.seconds)
    if name == "ticket, deploys at night":  # only developers' fixes wait for the morning
        assert (stretches[stretches["stage"] == "outside_hours"]["deploy"] == -1).all()


def test_a_failed_release_costs_its_changes_the_incident_as_rework():
    """Each change of a release that broke production spends exactly the incident, from the
    release landing to its rollback, as rework (then goes round again)."""
    result = simulator.run(_path("ticket, no on-call"), seed=2)
    stretches = result.tables["change_stages"]
    deploys, timeline = result.tables["deploys"], result.tables["incident_timeline"]
    failed = timeline[(timeline["deploy"] >= 0) & timeline["resolved"].notna()]
    assert len(failed) >= 3
    for incident in failed.itertuples():
        assert deploys["outcome"].iloc[incident.deploy] == "failed"
        assert deploys["finished"].iloc[incident.deploy] == incident.started
        mine = stretches[
            (stretches["deploy"] == incident.deploy) & (stretches["stage"] == "rework")
        ]
        assert len(mine) == deploys["changes"].iloc[incident.deploy]
        assert (mine["start"] == incident.started).all() and (
            mine["end"] == incident.resolved
        ).all()


def test_who_is_told_and_when():
    """Without on-call, an incident found at night is handed to the operators when the
    working day starts; with on-call, the page goes out when it is detected. A ticket alert
    is read in working hours, and nobody is paged for it."""
    run = simulator.run(_path("ticket, no on-call"), seed=2)
    quiet = run.tables["incident_timeline"]
    calendar = Calendar.from_organisation(run.scenario.organisation)
    night = quiet[~quiet["detected"].map(calendar.is_working)]
    assert len(night) > 0
    morning = night["detected"].map(calendar.next_working)
    np.testing.assert_allclose(night["paged"], morning, rtol=0, atol=1e-6)
    assert (quiet["responder"] == "operators").all()
    paged = simulator.run(_path("ticket, deploys at night"), seed=2).tables["incident_timeline"]
    on_call = paged[paged["responder"] == "on-call"]
    assert len(on_call) > 0 and (on_call["paged"] == on_call["detected"]).all()
    tickets = simulator.run(_path("blue-green, a ticket alert"), seed=2).tables
    alerts = tickets["incident_timeline"]
    assert set(alerts["source"]) == {"ticket"} and set(alerts["rule"]) == {"burn-rate 1x/1d"}
    assert set(alerts["responder"]) == {"pipeline"}  # auto-rollback acts on tickets too


def test_a_caught_canary_spends_its_analysis_until_the_alert():
    """An incident the canary caught starts when the canary does and is resolved one
    rollback after detection; the rule that fired is named."""
    result = simulator.run(_path("canary, previews, flaky tests, false alarms"), seed=2)
    timeline, stretches = result.tables["incident_timeline"], result.tables["change_stages"]
    caught = timeline[timeline["source"] == "canary"]
    assert len(caught) > 0
    assert set(caught["rule"]) <= {"canary analysis", "burn-rate 14.4x/1h"}
    rollout = result.scenario.delivery.automated.rollout_time
    np.testing.assert_allclose(caught["remediation_s"], rollout)
    for incident in caught.itertuples():
        canary = stretches[
            (stretches["deploy"] == incident.deploy) & (stretches["stage"] == "canary")
        ]
        assert (canary["start"] == incident.started).all()
        assert (canary["end"] == incident.detected).all()


# -- stories ------------------------------------------------------------------------------------


def test_times_and_durations_in_words():
    assert clock(0.0) == "Mon 00:00 of week 1"
    assert clock(8 * DAY + 10 * H + 14 * MINUTE) == "Tue 10:14 of week 2"
    assert clock(8 * DAY + 11 * H, after=8 * DAY + 10 * H) == "at 11:00"
    assert duration(45.0) == "45 s"
    assert duration(59.6) == "1 min"
    assert duration(3599.0) == "1 h"
    assert duration(2 * H + 5 * MINUTE) == "2 h 5 min"
    assert duration(86399.0) == "1 d"
    assert duration(9 * DAY + 2 * H) == "9 d 2 h"


@pytest.fixture(scope="module")
def ticket_run() -> simulator.Result:
    return simulator.run(SCENARIOS / "delivery/ticket-with-cab.yaml", overrides={"horizon": "4w"})


def test_a_change_story_tells_the_breakdowns_numbers(ticket_run: simulator.Result):
    """A change that went through once: the story's waits are the breakdown's columns."""
    breakdown = ticket_run.tables["lead_time_breakdown"]
    stretches = ticket_run.tables["change_stages"]
    once = stretches.groupby("change")["stage"].agg(lambda s: s.is_unique)
    plain = breakdown[
        breakdown["change"].map(once)
        & (breakdown["operators_queue_s"] > 0)
        & (breakdown["rework_s"] == 0)
    ]
    row = plain.iloc[0]
    change = int(row["change"])
    story = change_story(ticket_run, change)
    ahead = int(
        stretches[(stretches["change"] == change) & (stretches["stage"] == "operators_queue")][
            "ahead"
        ].iloc[0]
    )
    assert story.startswith(f"change {change} (service {int(row['service'])}) was committed ")
    assert f"waited {duration(row['release_batch_s'])} for the weekly release" in story
    assert f"{duration(row['change_board_s'])} for the change board" in story
    queue = f"{duration(row['operators_queue_s'])} in the operators' queue "
    queue += f"behind {ahead} ticket" if ahead > 0 else "(no ticket ahead"
    assert queue in story
    assert story.endswith(f"lead time {duration(row['lead_time_s'])}.")


def test_a_change_in_a_failed_release_says_so(ticket_run: simulator.Result):
    timeline = ticket_run.tables["incident_timeline"]
    incident = timeline[timeline["deploy"] >= 0].iloc[0]
    stretches = ticket_run.tables["change_stages"]
    change = int(stretches[stretches["deploy"] == incident["deploy"]]["change"].iloc[0])
    story = change_story(ticket_run, change)
    assert (
        f"deploy {int(incident['deploy'])} broke production (incident {int(incident['incident'])})"
        in story
    )


def test_a_change_still_in_flight_says_where_it_waits(ticket_run: simulator.Result):
    changes = ticket_run.tables["changes"]
    waiting = changes[changes["deployed"].isna() & (changes["stage"] == "release_batch")]
    story = change_story(ticket_run, int(waiting.index[-1]))
    assert "not in production at the horizon" in story
    assert "waiting for the weekly release since" in story


def test_an_incident_story_adds_up(ticket_run: simulator.Result):
    row = ticket_run.tables["incident_timeline"].iloc[0]
    story = incident_story(ticket_run, 0)
    phases = " + ".join(f"{p} {duration(row[f'{p}_s'])}" for p in TIMELINE_PHASES)
    assert f"time to restore {duration(row['time_to_restore_s'])} = {phases}." in story
    assert "by a customer's report" in story  # this scenario has no monitoring
    assert f"{row['operator_hours']:.1f} operator hours" in story
    assert "failed requests: not simulated" in story


def _first_burn_rate_incident(run: simulator.Result) -> str:
    timeline = run.tables["incident_timeline"]
    fired = timeline[timeline["rule"].str.startswith("burn-rate", na=False)]
    return incident_story(run, int(fired["incident"].iloc[0]))


def test_a_pipeline_incident_story():
    """On the running services the alert reads the requests and the pipeline acts on it;
    the bad version was still in its canary, so nobody was paged."""
    story = _first_burn_rate_incident(run_shipped("eras/sre.yaml"))
    assert "by the alert burn-rate 14.4x/1h during the canary" in story
    assert "The pipeline rolled back at once" in story
    assert "no human involved" in story


def test_a_drawn_canary_incident_story():
    """Without a runtime the alert on a bad canary is drawn, and said to be the canary's."""
    overrides = {**SHORTENED["eras/sre.yaml"], **DELIVERY_ONLY}
    run = simulator.run(SCENARIOS / "eras/sre.yaml", overrides=overrides)
    story = _first_burn_rate_incident(run)
    assert "by the alert burn-rate 14.4x/1h during the canary" in story
    assert "The pipeline rolled back at once" in story
    assert "5% of its traffic (a canary)" in story


def test_ids_the_run_does_not_have_are_refused(ticket_run: simulator.Result):
    changes = len(ticket_run.tables["changes"])
    with pytest.raises(StoryError, match=f"from 0 to {changes - 1}"):
        change_story(ticket_run, changes)
    with pytest.raises(StoryError, match="incident"):
        incident_story(ticket_run, -1)
    without = simulator.run(SCENARIOS / "validation/mmc.yaml", overrides={"horizon": "1100s"})
    with pytest.raises(StoryError, match="no delivery model"):
        change_story(without, 0)
