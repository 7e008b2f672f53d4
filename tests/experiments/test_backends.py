"""Local worker processes and Dask give the serial numbers bit for bit, in the tasks' order
whatever order the runs finish in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.errors import BudgetError, ScenarioError
from simulator.experiments.executor import RunTask, execute
from simulator.experiments.sweep import prepare
from simulator.runner import run_task
from tests.experiments.workers import dask_settings, late_first
from tests.helpers import MMC

SHORT = {"horizon": "600s", "warmup": "100s"}
AXES = {"traffic.api.rate": ["2/s", "3/s", "3.5/s"], "services.api.replicas": [4, 5]}


def frame(outcomes) -> pd.DataFrame:
    return pd.DataFrame([o.summary for o in outcomes])


@pytest.fixture(scope="module")
def serial() -> simulator.SweepResult:
    return simulator.sweep(MMC, AXES, replications=2, overrides=SHORT)


def test_local_workers_give_the_serial_table_bit_for_bit(serial):
    for jobs in (2, 3):
        parallel = simulator.sweep(MMC, AXES, replications=2, overrides=SHORT, jobs=jobs)
        assert parallel.backend.startswith("local")
        pd.testing.assert_frame_equal(serial.table, parallel.table, check_exact=True)
        pd.testing.assert_frame_equal(serial.summary, parallel.summary, check_exact=True)


def test_outcomes_keep_the_tasks_order_when_runs_finish_in_another():
    plan = prepare(MMC, {"traffic.api.rate": [2, 3]}, replications=3, overrides=SHORT)
    tasks = [RunTask(s, plan.seed + i) for s in plan.scenarios for i in range(3)]
    done = execute(tasks, late_first, jobs=2).outcomes
    finished = [o.summary.pop("finished_at") for o in done]
    assert finished != sorted(finished)  # the later tasks did finish first
    expected = execute(tasks, run_task).outcomes
    pd.testing.assert_frame_equal(frame(done), frame(expected), check_exact=True)
    assert [o.seed for o in done] == [1, 2, 3, 1, 2, 3]


def test_replications_and_comparisons_on_workers_are_the_serial_ones():
    one = simulator.run_replications(MMC, 3, overrides=SHORT)
    two = simulator.run_replications(MMC, 3, overrides=SHORT, jobs=2)
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
    pd.testing.assert_frame_equal(one.summary, two.summary, check_exact=True)
    more = simulator.load_scenario(MMC, {**SHORT, "services.api.replicas": 5})
    base = simulator.load_scenario(MMC, SHORT)
    serial = simulator.compare(base, more, replications=2)
    parallel = simulator.compare(base, more, replications=2, jobs=2)
    pd.testing.assert_frame_equal(serial.table, parallel.table, check_exact=True)


def test_kept_results_come_back_from_workers_whole():
    reps = simulator.run_replications(MMC, 2, overrides=SHORT, keep_results=True, jobs=2)
    assert [r.seed for r in reps.results] == [1, 2]
    alone = simulator.run(MMC, 2, overrides=SHORT)
    pd.testing.assert_frame_equal(reps.results[1].requests, alone.requests, check_exact=True)


def test_bad_input_found_in_a_worker_is_the_same_one_line_error(monkeypatch):
    tight = simulator.scenario.limits.Limits(max_requests=10)
    scenario = simulator.load_scenario(MMC, SHORT)
    tasks = [RunTask(scenario, seed, limits=tight) for seed in (1, 2)]
    with pytest.raises(BudgetError) as caught:
        execute(tasks, run_task, jobs=2)
    assert "max_requests" in str(caught.value)
    assert isinstance(caught.value, ScenarioError)


# ---------------------------------------------------------------------------- Dask

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


def test_a_dask_cluster_gives_the_serial_table_bit_for_bit(serial, cluster):
    result = simulator.sweep(
        MMC,
        AXES,
        replications=2,
        overrides=SHORT,
        backend="dask",
        scheduler=cluster.scheduler_address,
    )
    assert result.backend == f"dask {cluster.scheduler_address}"
    pd.testing.assert_frame_equal(serial.table, result.table, check_exact=True)


def test_the_scheduler_address_comes_from_the_environment_too(cluster, monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
    reps = simulator.run_replications(MMC, 3, overrides=SHORT, backend="dask")
    alone = simulator.run_replications(MMC, 3, overrides=SHORT)
    pd.testing.assert_frame_equal(reps.table, alone.table, check_exact=True)


def test_a_local_dask_cluster_of_its_own(serial):
    result = simulator.sweep(MMC, AXES, replications=2, overrides=SHORT, backend="dask", workers=2)
    assert result.backend == "dask local ×2"
    pd.testing.assert_frame_equal(serial.table, result.table, check_exact=True)
    assert np.isfinite(result.table["wait_mean_s"]).all()


def test_the_engines_own_dask_workers_have_one_malloc_arena_and_no_profiler():
    """Set before each worker process starts (`DASK_LOCAL_CONFIG`): a run in a Dask
    worker's thread then reuses freed memory as one in a local worker does."""
    task = RunTask(simulator.load_scenario(MMC, overrides=SHORT), 1)
    done = execute([task], dask_settings, backend="dask", workers=1)
    assert done.outcomes[0].summary == {"arenas": 1.0, "profiler": 0.0}


def test_an_address_with_no_scheduler_is_one_line(monkeypatch):
    monkeypatch.setattr(simulator.experiments.executor, "DASK_CONNECT_TIMEOUT", "1s")
    with pytest.raises(ScenarioError, match="no Dask scheduler answers"):
        simulator.run_replications(
            MMC, 2, overrides=SHORT, backend="dask", scheduler="tcp://127.0.0.1:9"
        )


def _worker_state() -> dict:
    import sys

    from numpy._core import multiarray

    return {
        "hugepages": bool(multiarray._get_madvise_hugepage()),
        "world": "simulator.model.world" in sys.modules,
    }


def test_a_worker_started_with_the_preload_has_the_simulator_and_the_memory_settings():
    """`dask worker --preload simulator.experiments.preload`, as docs/experiments.md tells
    an operator (and the engine's own local cluster does): the simulator imported, numpy's
    huge pages off (`dask_setup`)."""
    from simulator.experiments.executor import DASK_PRELOAD

    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            preload=[DASK_PRELOAD],
        ) as local,
        distributed.Client(local) as client,
    ):
        states = list(client.run(_worker_state).values())
    assert states == [{"hugepages": False, "world": True}]
