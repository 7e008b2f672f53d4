"""`remember_runs`: within an open memory the experiment engine runs each run once; a run
asked for again (summary only) is handed back with the numbers of a fresh run, bit for bit,
and a different run is never mistaken for it."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import simulator
from simulator.experiments import memo, remember_runs
from simulator.experiments.executor import RunTask, execute
from simulator.experiments.scheduling import decision_time_sweep
from simulator.runner import run_task
from simulator.scenario.limits import Limits
from simulator.scenario.loader import load_scenario
from tests.helpers import MMC, SCENARIOS

SHORT = ["horizon=600s", "warmup=100s"]
EXAMPLE = SCENARIOS / "omega" / "example.yaml"
TINY_CELL = ["horizon=10min", "warmup=1min", "cluster.nodes=200"]


def same(a: dict, b: dict) -> bool:
    """Two summaries equal bit for bit (NaN equal to NaN)."""
    return a.keys() == b.keys() and all(
        x == y or (x != x and y != y) for x, y in zip(a.values(), b.values(), strict=True)
    )


def task(*overrides: str, seed: int = 1, **options) -> RunTask:
    return RunTask(load_scenario(MMC, [*SHORT, *overrides]), seed, **options)


def counted(calls: list[int]):
    """`run_task`, counting the runs it does (serial execution: the same process)."""

    def work(one: RunTask):
        calls.append(one.seed)
        return run_task(one)

    return work


def test_a_run_asked_for_again_is_handed_back_with_the_same_numbers():
    calls: list[int] = []
    work = counted(calls)
    tasks = [task(seed=1), task(seed=2)]
    with remember_runs() as memory:
        first = execute(tasks, work)
        again = execute([*tasks, task(seed=3)], work)
        assert len(memory) == 3
    assert calls == [1, 2, 3]  # seed 3 is new; 1 and 2 come from the memory
    assert (first.runs, first.remembered) == (2, 0)
    assert (again.runs, again.remembered, again.cached) == (1, 2, 0)
    for before, after in zip(first.outcomes, again.outcomes[:2], strict=True):
        assert same(after.summary, before.summary) and after.summary is not before.summary
        assert after.seed == before.seed
    fresh = execute([task(seed=2)], run_task).outcomes[0]  # outside: run again
    pd.testing.assert_series_equal(
        pd.Series(again.outcomes[1].summary), pd.Series(fresh.summary), check_exact=True
    )


def test_different_runs_never_share_an_entry():
    """Each of these differs from the first in one thing that changes the run (or may
    refuse it); each must be run, and give what a fresh run of it gives. If any two
    shared an entry, the second would come back with the first's numbers."""
    base = task()
    others = [
        task(seed=2),  # the seed
        task("traffic.api.rate=3/s"),  # an override
        task("horizon=700s"),  # the horizon
        task("fidelity=analytic"),  # the fidelity
        RunTask(load_scenario(MMC, [*SHORT[::-1], "services.api.replicas=5"]), 1),  # a setting
        dataclasses.replace(base, limits=Limits()),  # limits, which may refuse a run
    ]
    calls: list[int] = []
    work = counted(calls)
    with remember_runs():
        execute([base], work)
        inside = execute(others, work)
        assert inside.runs == len(others) and inside.remembered == 0
        assert execute([base, *others], work).remembered == len(others) + 1
    assert len(calls) == len(others) + 1
    summaries = [o.summary for o in inside.outcomes]
    fresh = [o.summary for o in execute(others, run_task).outcomes]
    assert all(same(a, b) for a, b in zip(summaries, fresh, strict=True))
    first = execute([base], run_task).outcomes[0].summary
    assert not any(same(s, first) for s in summaries[:5])  # (limits change no number)


def test_tables_and_results_are_always_run_and_never_remembered():
    calls: list[int] = []
    work = counted(calls)
    with remember_runs() as memory:
        execute([task(tables=("requests",)), task(seed=2, keep=True)], work)
        assert len(memory) == 0
        execute([task(tables=("requests",)), task(seed=2, keep=True)], work)
        # summary only: not served by the runs that asked for more
        summary_only = execute([task(), task(seed=2)], work)
        assert (summary_only.runs, len(memory)) == (2, 2)
        # ... and what was remembered does not serve a task asking for more
        with_tables = execute([task(tables=("requests",))], work)
        assert with_tables.runs == 1 and "requests" in with_tables.outcomes[0].tables
    assert calls == [1, 2, 1, 2, 1, 2, 1]


def test_outside_an_open_memory_or_forced_every_run_is_run():
    calls: list[int] = []
    work = counted(calls)
    with remember_runs():
        execute([task()], work)
        assert execute([task()], work, force=True).runs == 1
    assert memo.current() is None
    execute([task()], work)
    opened = remember_runs()
    try:
        assert memo.current() is opened
        execute([task()], work)
        execute([task()], work)
    finally:
        opened.close()
        opened.close()  # twice is harmless
    assert memo.current() is None and len(opened) == 0
    assert calls == [1, 1, 1, 1]


def test_a_caller_changing_its_summary_does_not_change_the_memory():
    with remember_runs():
        first = execute([task()], run_task).outcomes[0]
        kept = dict(first.summary)
        first.summary.clear()
        again = execute([task()], run_task)
        assert again.remembered == 1 and same(again.outcomes[0].summary, kept)


def test_the_memory_keeps_at_most_its_size_dropping_the_least_recently_used():
    calls: list[int] = []
    work = counted(calls)
    with remember_runs(size=2) as memory:
        execute([task(seed=1), task(seed=2)], work)
        execute([task(seed=1)], work)  # seed 1 is now the most recently used
        execute([task(seed=3)], work)  # drops seed 2
        assert len(memory) == 2
        execute([task(seed=1), task(seed=2)], work)
    assert calls == [1, 2, 3, 2]
    with pytest.raises(ValueError):
        remember_runs(size=0)
    assert memo.current() is None


def test_a_store_gets_the_remembered_runs_it_lacks(tmp_path):
    with remember_runs():
        execute([task()], run_task)
        stored = execute([task()], run_task, store=tmp_path)
        assert (stored.runs, stored.remembered, stored.backend) == (0, 1, "memory")
    read = execute([task()], run_task, store=tmp_path)
    assert (read.runs, read.cached) == (0, 1)
    assert same(read.outcomes[0].summary, stored.outcomes[0].summary)


def test_notebook_03s_decision_time_sweep_reuses_the_architectures_runs():
    """Cell 12's runs at t_job(service) = 0.1 s are cell 5's (the example's default)."""
    architectures = ["monolithic-single-path", "two-level"]
    outside = decision_time_sweep(EXAMPLE, [0.1, 10], architectures, overrides=TINY_CELL)
    with remember_runs() as memory:
        first = simulator.sweep(
            EXAMPLE,
            {"scheduler.architecture": architectures},
            overrides=TINY_CELL,
            progress=False,
        )
        assert first.runs == 2
        inside = decision_time_sweep(EXAMPLE, [0.1, 10], architectures, overrides=TINY_CELL)
        assert memory.hits == 2
    pd.testing.assert_frame_equal(inside, outside, check_exact=True)
    at = inside[inside.t_job_service == 0.1].set_index("architecture")
    for architecture, row in first.table.set_index("scheduler.architecture").iterrows():
        shared = [kpi for kpi in at.columns if kpi in row.index]
        assert len(shared) > 20
        assert same(row[shared].to_dict(), at.loc[architecture, shared].to_dict())
