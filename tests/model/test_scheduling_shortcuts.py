"""Notebook 03's shortcuts (session 10) give the numbers of what they replace, bit for bit: a
failure finds the claims it hits through an index rather than testing every running claim,
a two-level framework's jobs that retry after one offer share one event, the kept slots
wait for a read after a full recomputation of the free resources, and the decision-time
sweep runs its points in another order. Each test runs the old way beside the new one."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import simulator
from simulator.experiments.scheduling import decision_time_sweep, heaviest_first
from simulator.model.scheduling import model as model_module
from simulator.model.scheduling.cell import CellState
from simulator.model.scheduling.placement import claims, random_first_fit
from simulator.model.scheduling.schedulers import RETRY_DELAY, Framework
from tests.helpers import SCENARIOS

EXAMPLE = SCENARIOS / "omega" / "example.yaml"
FAILURES = SCENARIOS / "omega" / "failures.yaml"
SMALL = ["cluster.nodes=300", "horizon=2h", "warmup=10min"]
BIG_TASKS = ["workloads.batch.cpu=3", "workloads.batch.memory_gb=6"]


def _digest(result: simulator.Result) -> str:
    """The summary and every table of a run, as one hash."""
    digest = hashlib.sha256(repr(sorted(result.summary.items())).encode())
    for name, table in sorted(result.tables.items()):
        digest.update(name.encode())
        digest.update(table.to_csv().encode())
    return digest.hexdigest()


@pytest.mark.parametrize("architecture", ["shared-state", "two-level", "monolithic-multi-path"])
def test_failures_hit_the_claims_that_testing_every_running_claim_finds(architecture, monkeypatch):
    """Node, rack and power failures on a small cell, far more often than in the shipped
    scenario: the index's claims against every running claim, in `running`'s order."""
    overrides = [
        *SMALL,
        f"scheduler.architecture={architecture}",
        "cluster.failures.node_mtbf=5h",
        "cluster.failures.rack_mtbf=2h",
        "cluster.failures.power_mtbf=3h",
    ]
    indexed = simulator.run(FAILURES, overrides=overrides)
    assert indexed.summary["failures"] > 50  # enough failures to tell
    assert indexed.summary["tasks_killed"] > 100
    monkeypatch.setattr(
        model_module._ClaimIndex, "among", lambda _self, _failed, running: list(running)
    )
    every = simulator.run(FAILURES, overrides=overrides)
    assert _digest(indexed) == _digest(every)


def _one_event_each(self: Framework, jobs: list) -> None:
    """Each job's retry as its own event, as before (`Framework._back_off`)."""
    for job in jobs:
        retry = self.env.timeout(RETRY_DELAY)
        retry.callbacks.append(lambda _event, job=job: self._retry([job]))


@pytest.mark.parametrize("t_job", ["1s", "30s"])
def test_retries_after_an_offer_in_one_event_are_one_event_each(t_job, monkeypatch):
    """Two-level with batch tasks that fit few nodes and a busy service framework: many
    jobs retry after each offer (thousands of retries), in one event or one each."""
    overrides = [
        *SMALL,
        *BIG_TASKS,
        "scheduler.architecture=two-level",
        "workloads.service.interarrival=5s",
        f"scheduler.t_job.service={t_job}",
    ]
    shared = simulator.run(EXAMPLE, overrides=overrides)
    monkeypatch.setattr(Framework, "_back_off", _one_event_each)
    each = simulator.run(EXAMPLE, overrides=overrides)
    assert _digest(shared) == _digest(each)


def test_the_retries_in_that_check_are_many():
    """The check above means something only if jobs retry after offers in numbers."""
    overrides = [
        *SMALL,
        *BIG_TASKS,
        "scheduler.architecture=two-level",
        "workloads.service.interarrival=5s",
        "scheduler.t_job.service=30s",
    ]
    jobs = simulator.run(EXAMPLE, overrides=overrides).tables["jobs"]
    assert jobs["attempts"].sum() > 5 * len(jobs)


@pytest.mark.parametrize("density", [0, 3])
def test_slots_left_for_a_read_after_overlapping_offers_equal_slots_computed_afresh(density):
    """Offers over other offers make the cell recompute every node's free resources; the
    kept slots are recomputed only when read, after claims start and end meanwhile (with
    a density limit, the instances change too)."""
    rng = np.random.default_rng(5)
    n = 80
    cell = CellState(
        rng.choice([4.0, 8.0], n),
        rng.choice([16.0, 32.0], n),
        np.zeros(n),
        np.zeros(n),
        np.full(n, density),
        np.arange(n) // 10,
        0.0,
    )
    shapes = [(1.0, 2.0), (3.0, 6.0)]
    for shape in shapes:
        cell.live_slots(*shape)
    running: list[tuple[np.ndarray, ...]] = []
    offers: list[tuple[np.ndarray, np.ndarray]] = []
    stale = 0
    for step in range(300):
        now = float(step)
        action = rng.integers(5)
        if action == 0 and len(offers) < 4:  # another offer over those out
            offered = cell.offer_all(now, 0.5)
            if offered is not None:
                offers.append((offered[0], offered[1]))
        elif action == 1 and offers:
            cell.lock(now, *offers.pop(int(rng.integers(len(offers)))), sign=-1.0)
        elif action == 2 and running:
            cell.release(now, *running.pop(int(rng.integers(len(running)))))
        elif action == 3:
            cpu, mem = shapes[step % 2]
            free_cpu, free_mem = cell.free()
            slots = cell.slots(free_cpu, free_mem, cpu, mem, False)
            nodes = random_first_fit(slots, int(rng.integers(1, 6)), rng.random(6))
            if len(nodes):
                unique, counts = claims(nodes)
                dcpu, dmem = cell.deltas(unique, counts, cpu, mem)
                cell.apply(now, unique, counts, dcpu, dmem)
                running.append((unique, counts, dcpu, dmem))
        else:  # a reader: the kept slots against slots computed afresh
            stale += cell._slots_stale
            raw_cpu = np.where(cell.up, cell.cap_cpu - cell.used_cpu - cell.locked_cpu, 0.0)
            raw_mem = np.where(cell.up, cell.cap_mem - cell.used_mem - cell.locked_mem, 0.0)
            for cpu, mem in shapes:
                afresh = cell.slots(raw_cpu, raw_mem, cpu, mem, False)
                assert cell.live_slots(cpu, mem).tolist() == afresh.tolist(), step
    assert stale > 10  # the reads found the slots waiting, often


def test_the_decision_time_sweep_runs_the_heaviest_first_and_keeps_its_rows_in_order():
    points = [(a, t) for a in ("monolithic-single-path", "two-level") for t in (1, 30)]
    assert heaviest_first(points) == [3, 2, 1, 0]
    overrides = ["cluster.nodes=200", "horizon=20min", "warmup=5min"]
    one = decision_time_sweep(EXAMPLE, [1, 30], ["shared-state", "two-level"], overrides, jobs=1)
    assert one.architecture.tolist() == ["shared-state"] * 2 + ["two-level"] * 2
    assert one.t_job_service.tolist() == [1, 30, 1, 30]
    for architecture, t_job in zip(one.architecture, one.t_job_service, strict=True):
        alone = simulator.run(
            EXAMPLE,
            overrides=[
                *overrides,
                f"scheduler.architecture={architecture}",
                f"scheduler.t_job.service={t_job}s",
            ],
        )
        row = one[(one.architecture == architecture) & (one.t_job_service == t_job)].iloc[0]
        kpis = list(alone.summary)
        got = np.array([row[k] for k in kpis], dtype=float)
        expected = np.array([alone.summary[k] for k in kpis], dtype=float)
        assert np.array_equal(got, expected, equal_nan=True), architecture


def test_no_offer_stands_while_nothing_changes_as_computing_it_again(monkeypatch):
    """Two-level with offers over other offers (slow service decisions, big batch tasks):
    the allocator's rounds answered from the last answer of no offer, against every round
    computed over every node."""
    overrides = [
        *SMALL,
        *BIG_TASKS,
        "scheduler.architecture=two-level",
        "workloads.service.interarrival=5s",
        "scheduler.t_job.service=30s",
    ]
    calls = {"all": 0, "kept": 0}
    offer_all = CellState.offer_all

    def counted(self: CellState, now: float, min_cpu: float) -> object:
        calls["all"] += 1
        calls["kept"] += self._no_offer == (self._changes, min_cpu)
        return offer_all(self, now, min_cpu)

    monkeypatch.setattr(CellState, "offer_all", counted)
    kept = simulator.run(EXAMPLE, overrides=overrides)
    assert calls["kept"] > calls["all"] / 10  # the answer stood often

    def afresh(self: CellState, now: float, min_cpu: float) -> object:
        self._no_offer = None
        return offer_all(self, now, min_cpu)

    monkeypatch.setattr(CellState, "offer_all", afresh)
    assert _digest(kept) == _digest(simulator.run(EXAMPLE, overrides=overrides))
