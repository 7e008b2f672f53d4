"""The store: finished runs survive a crash, are read back whole, and are never run twice."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import simulator
from simulator.experiments.executor import RunTask, Store, execute
from simulator.runner import run_task
from tests.helpers import MMC

SHORT = {"horizon": "600s", "warmup": "100s"}
AXES = {"traffic.api.rate": ["2/s", "3/s"], "services.api.replicas": [4, 5]}


def files(store) -> list:
    return sorted(p for p in store.rglob("*.json"))


def test_a_second_sweep_reads_every_run_back_and_gives_the_same_table(tmp_path):
    store = tmp_path / "runs"
    first = simulator.sweep(MMC, AXES, replications=2, overrides=SHORT, store=store)
    assert (first.runs, first.cached) == (8, 0)
    assert len(files(store)) == 8
    again = simulator.sweep(MMC, AXES, replications=2, overrides=SHORT, store=store)
    assert (again.runs, again.cached, again.backend) == (0, 8, "store")
    pd.testing.assert_frame_equal(first.table, again.table, check_exact=True)
    pd.testing.assert_frame_equal(first.summary, again.summary, check_exact=True)
    forced = simulator.sweep(MMC, AXES, replications=2, overrides=SHORT, store=store, force=True)
    assert (forced.runs, forced.cached) == (8, 0)
    pd.testing.assert_frame_equal(first.table, forced.table, check_exact=True)


def test_only_missing_runs_are_computed_and_a_bigger_sweep_reuses_the_smaller(tmp_path):
    store = tmp_path / "runs"
    small = simulator.sweep(MMC, AXES, replications=1, overrides=SHORT, store=store)
    victim = files(store)[0]
    victim.unlink()
    again = simulator.sweep(MMC, AXES, replications=1, overrides=SHORT, store=store)
    assert (again.runs, again.cached) == (1, 3)
    pd.testing.assert_frame_equal(small.table, again.table, check_exact=True)
    bigger = simulator.sweep(MMC, AXES, replications=2, overrides=SHORT, store=store)
    assert (bigger.runs, bigger.cached) == (4, 4)  # replication 0 of each point is stored


def test_a_run_killed_while_writing_leaves_nothing_that_is_read_back(tmp_path):
    store = tmp_path / "runs"
    simulator.sweep(MMC, AXES, overrides=SHORT, store=store)
    stored = files(store)
    # a scratch file left by a crash, and a record cut short, are not runs
    (stored[0].parent / f".{stored[0].name}.abc.part").write_text('{"key": "')
    stored[1].write_text(stored[1].read_text()[:40])
    # a record of another key under this name is not this run
    record = json.loads(stored[2].read_text())
    record["key"] = "0" * 40
    stored[2].write_text(json.dumps(record))
    again = simulator.sweep(MMC, AXES, overrides=SHORT, store=store)
    assert (again.runs, again.cached) == (2, 2)


def test_an_interrupted_sweep_keeps_what_finished_and_resumes(tmp_path):
    """Ctrl-C after three runs: those three are in the store, the rest run on resume."""
    store = tmp_path / "runs"
    plan = simulator.experiments.sweep.prepare(MMC, AXES, replications=2, overrides=SHORT)
    tasks = [RunTask(s, plan.seed + i) for s in plan.scenarios for i in range(2)]
    done = []

    def interrupted(task: RunTask):
        if len(done) == 3:
            raise KeyboardInterrupt
        done.append(task)
        return run_task(task)

    with pytest.raises(KeyboardInterrupt):
        execute(tasks, interrupted, store=store)
    assert len(files(store)) == 3
    resumed = execute(tasks, run_task, store=store)
    assert (resumed.runs, resumed.cached) == (5, 3)
    fresh = execute(tasks, run_task)
    pd.testing.assert_frame_equal(
        pd.DataFrame([o.summary for o in resumed.outcomes]),
        pd.DataFrame([o.summary for o in fresh.outcomes]),
        check_exact=True,
    )


def test_the_key_is_the_scenarios_content_and_the_seed(tmp_path):
    store = Store(tmp_path)
    one = simulator.load_scenario(MMC, SHORT)
    same = simulator.load_scenario(MMC, {**SHORT})
    other = simulator.load_scenario(MMC, {**SHORT, "traffic.api.rate": "3.5/s"})
    assert store.key(RunTask(one, 1)) == store.key(RunTask(same, 1))
    assert store.key(RunTask(one, 1)) != store.key(RunTask(one, 2))
    assert store.key(RunTask(one, 1)) != store.key(RunTask(other, 1))


def test_the_key_sees_the_data_a_scenario_read_from_a_file(tmp_path, write_yaml):
    rates = tmp_path / "rates.csv"
    text = (
        "name: replayed\nhorizon: 100s\nwarmup: 10s\n"
        "services:\n  api: {replicas: 2, service_time: {distribution: exponential, mean: 0.1s}}\n"
        "traffic:\n  api: {rate: 1/s, profile: {profile: replay, file: rates.csv}}\n"
    )
    path = write_yaml(text)
    rates.write_text("time,rate\n0,5\n100,5\n")
    before = Store(tmp_path).key(RunTask(simulator.load_scenario(path), 1))
    rates.write_text("time,rate\n0,6\n100,6\n")
    after = Store(tmp_path).key(RunTask(simulator.load_scenario(path), 1))
    assert before != after


def test_tables_asked_for_are_stored_and_read_back(tmp_path):
    store = tmp_path / "runs"
    first = simulator.sweep(
        MMC, {"traffic.api.rate": [2, 3]}, overrides=SHORT, tables=["services"], store=store
    )
    again = simulator.sweep(
        MMC, {"traffic.api.rate": [2, 3]}, overrides=SHORT, tables=["services"], store=store
    )
    assert again.cached == 2
    pd.testing.assert_frame_equal(first.tables["services"], again.tables["services"])
    # a table not stored before makes the run count as missing
    more = simulator.sweep(
        MMC, {"traffic.api.rate": [2, 3]}, overrides=SHORT, tables=["entry_points"], store=store
    )
    assert (more.runs, more.cached) == (2, 0)
