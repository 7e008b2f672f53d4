"""Rollouts: the decisions as pure functions (hypothesis), versions on a station, and
rollouts in a run through the API the delivery model calls and the scenario's deploys."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.engine.recorder import DEFECT, OK, STALE_ENDPOINT
from simulator.errors import ScenarioError
from simulator.metrics.rollout import (
    REPLICA_VERSION_COLUMNS,
    ROLLOUT_COLUMNS,
    rollout_tables,
    served_versions,
)
from simulator.model.rollout import (
    SliceStats,
    canary_passes,
    canary_size,
    fenceposts,
    retirees,
    rolling_step,
)
from simulator.model.services import (
    CentralQueueStation,
    ReplicaDefect,
    ReplicaQueueStation,
    newest_of,
    split_side,
)
from simulator.model.world import World
from simulator.records.rollout import (
    DONE,
    ENDS,
    INTERRUPTED,
    ROLLED_BACK,
    STEPS,
    ReplicaLives,
    RolloutLog,
    RolloutRecords,
)
from simulator.scenario.rollout import Canary, Defect, RolloutSettings, resolve_count

# ---------------------------------------------------------------------------- decisions

percent = st.integers(0, 100).map(lambda p: f"{p}%")
count = st.one_of(st.integers(0, 12), percent)


def test_fenceposts_resolve_like_kubernetes():
    assert fenceposts(4, "25%", "25%") == (1, 1)
    assert fenceposts(10, "25%", "25%") == (3, 2)  # surge rounds up, unavailable down
    assert fenceposts(3, "25%", "25%") == (1, 0)
    assert fenceposts(1, "25%", "25%") == (1, 0)
    assert fenceposts(4, 0, "10%") == (0, 1)  # both 0: one may be missing
    assert fenceposts(8, 2, 1) == (2, 1)
    assert resolve_count("12.5%", 8, round_up=False) == 1


@given(st.integers(1, 60), count, count)
def test_fenceposts_always_let_a_rollout_move(desired, surge_setting, unavailable_setting):
    surge, unavailable = fenceposts(desired, surge_setting, unavailable_setting)
    assert surge + unavailable >= 1
    assert 0 <= unavailable <= desired
    assert 0 <= surge <= desired


def simulate_rolling(desired: int, surge: int, unavailable: int) -> list[tuple[int, int, int]]:
    """The controller's loop on counts alone: decide, apply; when nothing can be decided,
    every replica starting becomes available (they all take the same start time)."""
    old, ready, starting = desired, 0, 0
    states = [(old, ready, starting)]
    for _ in range(10 * desired + 10):
        if old == 0 and starting == 0 and ready >= desired:
            return states
        start, retire = rolling_step(desired, old, ready, starting, surge, unavailable)
        old -= retire
        starting += start
        if not start and not retire:
            ready, starting = ready + starting, 0
        states.append((old, ready, starting))
    raise AssertionError(f"no end after {10 * desired + 10} decisions: {states[-5:]}")


@given(st.integers(1, 40), count, count)
def test_a_rolling_update_keeps_its_bounds_and_ends(desired, surge_setting, unavailable_setting):
    surge, unavailable = fenceposts(desired, surge_setting, unavailable_setting)
    states = simulate_rolling(desired, surge, unavailable)
    for old, ready, starting in states:
        assert old + ready >= desired - unavailable  # available never below the floor
        assert old + ready + starting <= desired + surge  # never more than the surge
        assert ready + starting <= desired
    assert states[-1] == (0, desired, 0)


@given(st.integers(1, 40), st.integers(0, 40), st.integers(0, 40), st.integers(0, 10))
def test_rolling_step_never_asks_for_the_impossible(desired, old, ready, starting):
    start, retire = rolling_step(desired, old, ready, starting, 1, 1)
    assert 0 <= retire <= old
    assert start >= 0


def test_the_oldest_replicas_go_first():
    assert retirees([7, 3, 5, 9], 2) == [3, 5]
    assert retirees([1, 2], 5) == [1, 2]
    assert retirees([1, 2], 0) == []


@given(st.integers(1, 100), st.integers(1, 100), st.floats(0.001, 0.999))
def test_canary_sizes(desired, replicas, share):
    assert canary_size(desired, replicas, None, split=False) == min(replicas, desired)
    assert canary_size(desired, None, None, split=True) == 1
    weighted = canary_size(desired, None, share, split=True)
    assert 1 <= weighted <= desired
    # with weights, a canary replica carries no more than a replica did before the canary
    assert share / weighted <= 1 / desired + 1e-9
    approximated = canary_size(desired, None, share, split=False)
    assert approximated == max(1, min(round(share * desired), desired))


def test_the_canary_analysis_compares_with_the_others():
    settings = Canary(max_error_increase=0.01, max_latency_increase=0.2, min_requests=100)
    clean = SliceStats(10_000, 10, 0.100)
    assert canary_passes(SliceStats(1_000, 1, 0.100), clean, settings)
    assert not canary_passes(SliceStats(1_000, 100, 0.100), clean, settings)  # 10% fail
    assert canary_passes(SliceStats(1_000, 11, 0.100), clean, settings)  # +0.1 pp: noise
    assert not canary_passes(SliceStats(1_000, 1, 0.150), clean, settings)  # 50% slower
    assert canary_passes(SliceStats(1_000, 1, 0.110), clean, settings)
    assert canary_passes(SliceStats(50, 50, 1.0), clean, settings)  # too few to judge
    assert canary_passes(SliceStats(1_000, 1, 0.1), SliceStats(0, 0, math.nan), settings)


@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=12),
    st.floats(0, 0.999),
    st.floats(0.01, 0.99),
)
def test_a_weighted_split_picks_one_side(versions, u, share):
    live = [10 + r for r in range(len(versions))]  # replica numbers; the side is positions
    version = {10 + r: v for r, v in enumerate(versions)}
    picked = [live[i] for i in split_side(live, version, 1, share, u)]
    new = [r for r in live if version[r] == 1]
    if new and len(new) < len(live):
        assert picked == (new if u < share else [r for r in live if version[r] != 1])
    else:
        assert picked == live


def test_scale_in_keeps_the_canary():
    assert newest_of([0, 1, 2, 3], {0: 0, 1: 0, 2: 0, 3: 1}, current=0) == 2
    assert newest_of([3], {3: 1}, current=0) == 3


# ---------------------------------------------------------------------------- stations


class FakeVisit:
    """A visit with one work step, recording how it ended."""

    def __init__(self, first: bool = True) -> None:
        self.row = 0
        self.replica = -1
        self.started = False
        self.ended: int | None = None
        self.first = first

    def advance(self) -> None:
        self.ended = OK

    def finish(self, status: int) -> None:
        self.ended = status

    def at_first_work(self) -> bool:
        return self.first


def station(kind: str, replicas: int = 4) -> CentralQueueStation | ReplicaQueueStation:
    env = simpy.Environment()
    if kind == "central":
        made: CentralQueueStation | ReplicaQueueStation = CentralQueueStation(
            env, "api", 0, replicas, 1, None
        )
    else:
        turns = iter(range(10**6))
        made = ReplicaQueueStation(
            env, "api", 0, replicas, 1, None, choose=lambda f: next(turns) % len(f)
        )
    made.spans = simulator.engine.SpanLog()
    made.spans.start.append(math.nan)
    made.spans.replica.append(-1)
    return made


@pytest.mark.parametrize("kind", ["central", "replica"])
def test_versions_are_tracked_only_once_in_play(kind):
    s = station(kind)
    assert s.versions is None
    s.add_replica()  # the autoscaler, before any rollout: no bookkeeping
    assert s.versions is None
    new = s.new_replica(version=3)  # a version: versions come into play
    assert s.versions is not None
    assert s.versions.of == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, new: 3}
    s.remove_replica()  # scale-in takes the newest of the current version, not the new one
    assert s.live_replicas() == [0, 1, 2, 3, new]
    s.remove_replica(replica=1)
    assert s.live_replicas() == [0, 2, 3, new]
    assert s.replicas == 4


@pytest.mark.parametrize("kind", ["central", "replica"])
def test_a_bad_version_fails_its_share_at_the_first_work_only(kind):
    s = station(kind, replicas=1)
    s.enable_versions()
    draws = iter([0.05, 0.5] * 10)
    s.set_defect(0, ReplicaDefect(0.1, 1.0, lambda: next(draws)))
    ended = []
    for first in (True, True, False):
        visit = FakeVisit(first)
        assert s.admit(visit)
        s.work(visit, lambda: 1.0)
        s.env.run()
        s.leave(visit)
        ended.append(visit.ended)
    # 0.05 < 0.1 fails; 0.5 passes; a later work step of a visit draws nothing
    assert ended == [DEFECT, OK, OK]


@pytest.mark.parametrize("kind", ["central", "replica"])
def test_a_slow_version_holds_its_worker_longer(kind):
    s = station(kind, replicas=1)
    s.enable_versions()
    s.set_defect(0, ReplicaDefect(0.0, 1.5, lambda: 1.0))
    visit = FakeVisit()
    assert s.admit(visit)
    s.work(visit, lambda: 2.0)
    s.env.run(until=2.5)
    assert visit.ended is None and s.busy == 1
    s.env.run()
    assert s.env.now == 3.0 and visit.ended == OK and s.busy == 0
    s.touch(3.0)
    assert s.busy_area == pytest.approx(3.0)


@pytest.mark.parametrize("kind", ["central", "replica"])
def test_a_node_loss_still_wins_over_a_defect(kind):
    s = station(kind, replicas=2)
    s.enable_versions()
    s.set_defect(0, ReplicaDefect(1.0, 1.0, lambda: 0.0))
    visit = FakeVisit()
    assert s.admit(visit)
    s.work(visit, lambda: 1.0)
    s.remove_replica(failed=True, replica=visit.replica)
    s.env.run()
    assert visit.ended == STALE_ENDPOINT


@pytest.mark.parametrize("kind", ["central", "replica"])
def test_with_no_replica_serving_work_is_refused(kind):
    s = station(kind, replicas=2)
    for replica in s.live_replicas():
        s.remove_replica(replica=replica)
    assert s.replicas == 0
    assert not s.admit(FakeVisit())
    s.add_replica()
    assert s.admit(FakeVisit())
    assert s.queue_limit is None  # the central queue's limit is back


# ---------------------------------------------------------------------------- in a run

BASE = {
    "name": "rollout-test",
    "horizon": "30min",
    "seed": 5,
    "services": {
        "api": {
            "replicas": 4,
            "load_balancer": "round-robin",
            "service_time": {"distribution": "exponential", "mean": "40ms"},
        }
    },
    "traffic": {"api": {"rate": 40}},
}


def scenario(deploys=None, **service):
    data = copy.deepcopy(BASE)
    data["services"]["api"].update(service)
    if deploys is not None:
        data["services"]["api"]["deploys"] = deploys
    return simulator.load_scenario(data)


def test_the_api_deploys_and_reports_when_the_rollout_ends():
    world = World(scenario(), 5)
    rollouts = world.context.services.rollouts
    assert rollouts is world.rollouts
    assert rollouts.serving_versions("api") == {0: 4}
    outcomes = []

    def deploy(_):
        event = rollouts.deploy("api", 1, "rolling")
        event.callbacks.append(lambda e: outcomes.append(e.value))

    world.env.timeout(60).callbacks.append(deploy)
    world.run()
    (outcome,) = outcomes
    assert (outcome.outcome, outcome.from_version, outcome.to_version) == (DONE, 0, 1)
    assert outcome.started == 60 and outcome.ended == pytest.approx(70)  # two 5 s batches
    assert rollouts.serving_versions("api") == {1: 4}
    assert rollouts.current_version("api") == 1


def test_a_rollback_interrupts_and_goes_back():
    world = World(scenario(), 5)
    rollouts = world.rollouts
    ends = []
    world.env.timeout(60).callbacks.append(
        lambda _: rollouts.deploy(
            "api", 1, RolloutSettings.model_validate({"rolling": {"min_ready": "1min"}})
        ).callbacks.append(lambda e: ends.append(e.value))
    )
    for at in (100, 1200):  # the second rollback replaces nothing: version 1 stays away
        world.env.timeout(at).callbacks.append(
            lambda _: rollouts.rollback("api").callbacks.append(lambda e: ends.append(e.value))
        )
    world.run()
    deploy, back, again = ends
    assert deploy.outcome == INTERRUPTED and deploy.ended == 100
    assert (back.kind, back.outcome, back.from_version, back.to_version) == ("rollback", DONE, 1, 0)
    assert (again.outcome, again.started, again.ended) == (DONE, 1200, 1200)
    assert rollouts.serving_versions("api") == {0: 4}


def test_a_version_does_the_same_wherever_it_runs():
    world = World(scenario(), 5)
    rollouts = world.rollouts
    rollouts.deploy("api", 1, "rolling", Defect(error_ratio=0.1))
    rollouts.deploy("api", 1, "rolling")  # whatever version 1 does: fine
    with pytest.raises(ValueError, match="version 1 of api does"):
        rollouts.deploy("api", 1, "rolling", Defect(error_ratio=0.2))
    with pytest.raises(ValueError, match="version 0 of api does"):
        rollouts.deploy("api", 0, "rolling", Defect(latency_factor=2))
    with pytest.raises(ValueError, match="no service 'web'"):
        rollouts.deploy("web", 1)
    with pytest.raises(ValueError, match="strategy"):
        rollouts.deploy("api", 2, "big-bang")


def test_nothing_to_roll_back():
    world = World(scenario(), 5)
    event = world.rollouts.rollback("api")
    assert event.triggered and event.value is None


def test_a_blue_green_rollback_switches_straight_back_while_the_old_copy_is_kept():
    world = World(scenario(), 5)
    rollouts = world.rollouts
    ends = []
    bg = RolloutSettings.model_validate(
        {"strategy": "blue-green", "blue_green": {"scale_down_delay": "10min"}}
    )
    world.env.timeout(60).callbacks.append(lambda _: rollouts.deploy("api", 1, bg))
    world.env.timeout(120).callbacks.append(
        lambda _: rollouts.rollback("api").callbacks.append(lambda e: ends.append(e.value))
    )
    world.run()
    (back,) = ends
    assert back.outcome == DONE and back.to_version == 0
    table = rollout_tables(world.rollouts.records())["rollouts"]
    switch_back = table[(table["kind"] == "rollback") & (table["step"] == "switched")]
    assert switch_back["time"].tolist() == [120.0]  # no start time: the old copy was there


def test_scripted_deploys_fill_the_tables():
    result = simulator.run(scenario([{"at": "5min", "version": 2, "defect": {"error_ratio": 0.5}}]))
    table = result.tables["rollouts"]
    assert list(table.columns) == list(ROLLOUT_COLUMNS)
    assert set(table["step"]) <= set(STEPS)
    assert table["step"].iloc[-1] in ENDS
    lives = result.tables["replica_versions"]
    assert list(lives.columns) == list(REPLICA_VERSION_COLUMNS)
    assert sorted(lives[lives["removed"].isna()]["version"]) == [2, 2, 2, 2]
    requests = result.tables["requests"]
    version = served_versions(requests["replica"].to_numpy(), "api", lives)
    after = requests["arrival"].to_numpy() > 330
    failed = requests["status"].to_numpy() == "defect"
    assert not failed[requests["arrival"].to_numpy() < 300].any()
    assert (version[after] == 2).all()
    assert failed[after].mean() == pytest.approx(0.5, abs=0.02)
    assert result.summary["error_rate_defect"] > 0


def test_a_failed_canary_is_rolled_back_and_a_good_one_promoted():
    bad = {"at": "2min", "version": 1, "strategy": "canary", "defect": {"error_ratio": 0.2},
           "canary": {"analysis": "10min"}}  # fmt: skip
    good = {"at": "14min", "version": 2, "strategy": "canary", "canary": {"analysis": "10min"}}
    result = simulator.run(scenario([bad, good]))
    table = result.tables["rollouts"]
    ends = table[table["step"].isin(ENDS)]
    assert ends["step"].tolist() == [ROLLED_BACK, DONE]
    assert ends["to_version"].tolist() == [1, 2]
    assert "failed" in table["step"].tolist() and "promoted" in table["step"].tolist()


def test_a_manual_deploy_takes_the_service_down_for_its_duration():
    manual = {"at": "10min", "version": 1, "strategy": "manual", "manual": {"duration": "5min"}}
    result = simulator.run(scenario([manual]))
    requests = result.tables["requests"]
    unavailable = requests[requests["status"] == "unavailable"]["arrival"]
    assert unavailable.min() >= 600 and unavailable.max() < 900
    assert len(unavailable) == pytest.approx(40 * 300, rel=0.05)
    assert result.summary["error_rate_unavailable"] == pytest.approx(300 / 1800, rel=0.05)


def test_a_degraded_manual_deploy_loses_one_server_at_a_time():
    manual = {"at": "10min", "version": 1, "strategy": "manual",
              "manual": {"duration": "8min", "outage": "degraded"}}  # fmt: skip
    result = simulator.run(scenario([manual]))
    table = result.tables["rollouts"]
    serving = table["old_serving"] + table["new_serving"]
    assert serving.min() == 3
    assert result.summary["error_rate_unavailable"] == 0


def test_a_visit_draws_once_however_many_work_steps_it_has():
    """A two-step handler fails a share e of its visits on a bad replica, not 1 − (1 − e)²."""
    work = {"work": {"distribution": "exponential", "mean": "20ms"}}
    result = simulator.run(
        scenario([{"at": 0, "version": 1, "defect": {"error_ratio": 0.3}}], handler=[work, work])
    )
    requests = result.tables["requests"]
    late = requests[requests["arrival"] > 60]
    assert (late["status"] == "defect").mean() == pytest.approx(0.3, abs=0.015)


def test_the_same_seed_gives_the_same_rollouts():
    deploys = [
        {"at": "2min", "version": 1, "strategy": "canary", "canary": {"share": 0.2},
         "defect": {"error_ratio": 0.1, "latency_factor": 1.5}},
    ]  # fmt: skip
    first, second = (simulator.run(scenario(deploys)) for _ in range(2))
    pd.testing.assert_frame_equal(first.tables["rollouts"], second.tables["rollouts"])
    pd.testing.assert_frame_equal(first.tables["requests"], second.tables["requests"])


def test_a_scenario_without_deploys_keeps_its_streams_and_numbers():
    plain = simulator.run(scenario())
    assert len(plain.tables["rollouts"]) == 0 and len(plain.tables["replica_versions"]) == 0
    assert plain.summary["error_rate_defect"] == 0 and plain.summary["error_rate_unavailable"] == 0


def test_in_a_monolith_every_service_deploys_the_one_process():
    data = copy.deepcopy(BASE)
    data["deployment"] = "monolith"
    data["services"]["db"] = {"replicas": 2}
    data["services"]["api"]["handler"] = [{"work": None}, {"call": "db"}]
    data["services"]["db"]["deploys"] = [{"at": "1min", "version": 1}]
    result = simulator.run(simulator.load_scenario(data))
    assert set(result.tables["rollouts"]["service"]) == {"monolith"}
    data["services"]["api"]["deploys"] = [{"at": "2min", "version": 1,
                                          "defect": {"error_ratio": 0.1}}]  # fmt: skip
    with pytest.raises(ScenarioError, match=r"services\.db\.deploys\.0\.defect"):
        World(simulator.load_scenario(data), 5)


@pytest.mark.parametrize(
    ("deploy", "where"),
    [
        ({"rolling": {"max_surge": 0, "max_unavailable": "0%"}}, "rolling.max_unavailable"),
        ({"rolling": {"max_surge": "lots"}}, "rolling.max_surge"),
        ({"canary": {"share": 0.1, "replicas": 2}}, "canary.share"),
        ({"defect": {"error_ratio": 1.5}}, "defect.error_ratio"),
        ({"defect": {"latency_factor": 0.5}}, "defect.latency_factor"),
        ({"strategy": "big-bang"}, "strategy"),
        ({"version": 0, "defect": {"error_ratio": 0.1}}, "defect"),
    ],
)
def test_bad_deploys_are_named_in_one_line(deploy, where):
    with pytest.raises(ScenarioError) as error:
        scenario([{"at": "1min", "version": 1, **deploy}])
    message = str(error.value)
    assert f"services.api.deploys.0.{where}" in message and "\n" not in message


def test_metrics_on_hand_made_records():
    log, lives = RolloutLog(), ReplicaLives()
    log.record(10.0, "api", 0, "deploy", "rolling", "started", (0, 1), (2, 0, 0))
    log.record(15.0, "api", 0, "deploy", "rolling", "done", (0, 1), (0, 2, 0))
    row = lives.add("api", 2, 1, 15.0)
    lives.add("api", 3, 1, 15.0)
    lives.remove(row, 20.0)
    tables = rollout_tables(RolloutRecords(log, lives))
    assert tables["rollouts"]["new_serving"].tolist() == [0, 2]
    assert tables["replica_versions"]["removed"].isna().tolist() == [False, True]
    assert served_versions(np.array([0, 2, 3, -1]), "api", tables["replica_versions"]).tolist() == [
        0, 1, 1, 0,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown rollout step"):
        log.record(0.0, "api", 0, "deploy", "rolling", "finished", (0, 1), (0, 0, 0))
