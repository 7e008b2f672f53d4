"""Replicas changed during an analytic run (node failures, replicas added by hand) compute
only the steps from the change on (`run._resimulate`): the same numbers, bit for bit, as
computing every step again (`AnalyticServices.incremental = False`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.analytic import run as analytic_run
from simulator.analytic.stations import (
    Coupled,
    _distinct_sigma,
    coupled_parts,
    erlang_gi_m1_sigma,
    station_work,
)
from simulator.scenario.loader import load_scenario
from tests.analytic.test_fleet_again import FAILING, HAND_UNDER_HPA, SLOW_UNDER_HPA
from tests.golden.cases import SCENARIOS, SEED

CASES = {
    # a VM of three fails every 2 hours on average: 42 failures and repairs, folded states
    "node failures": (
        "one-world/node-failure.yaml",
        {"fidelity": "analytic", "cluster.failures.node_mtbf": "2h", "horizon": "2d"},
    ),
    # the same blog busier: a failure saturates it (a state per step, a backlog carried),
    # and the responder also adds a replica by hand
    "saturated, a state per step": (
        "one-world/node-failure.yaml",
        {
            "fidelity": "analytic",
            "cluster.failures.node_mtbf": "3h",
            "horizon": "1d",
            "traffic.blog.rate": "30/s",
        },
    ),
    # servers added by hand during the spike, monitoring scraping the steps
    "replicas added by hand": ("one-world/spike-sysadmin.yaml", {"fidelity": "analytic"}),
    # an era preset with its nodes failing: racks, repairs, ten services
    "eras/sysadmin with failures": (
        "eras/sysadmin.yaml",
        {"cluster.failures.enabled": "true", "cluster.failures.node_mtbf": "4d", "horizon": "3w"},
    ),
    # under the HPA: the fleet computed again (`ElasticFleet.resume`), a state per step
    "a latency regression under the HPA": (
        SLOW_UNDER_HPA[0],
        {**SLOW_UNDER_HPA[1], "fidelity": "analytic"},
    ),
    "replicas by hand under the HPA, nodes failing": (
        HAND_UNDER_HPA[0],
        {**HAND_UNDER_HPA[1], **FAILING, "fidelity": "analytic"},
    ),
}


def _run(
    monkeypatch: pytest.MonkeyPatch, name: str, overrides: dict[str, str], incremental: bool
) -> tuple[Any, list[tuple[bool, bool]]]:
    """The run, and per recomputation: whether it kept states, and whether a state per step."""
    seen: list[tuple[bool, bool]] = []
    original = analytic_run._resimulate

    def recorded(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        seen.append((out[2] is not None, out[0].per_step))
        return out

    with monkeypatch.context() as patch:
        patch.setattr(analytic_run, "_resimulate", recorded)
        patch.setattr(analytic_run.AnalyticServices, "incremental", incremental)
        scenario = load_scenario(SCENARIOS / name, overrides=overrides)
        return simulator.run(scenario, seed=SEED), seen


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("case", list(CASES))
def test_incremental_is_the_full_recomputation(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    name, overrides = CASES[case]
    fast, kept = _run(monkeypatch, name, overrides, incremental=True)
    full, again = _run(monkeypatch, name, overrides, incremental=False)
    assert kept and any(k for k, _ in kept)  # some states were kept, else nothing is tested
    assert not any(k for k, _ in again)
    assert fast.summary.keys() == full.summary.keys()
    differ = [k for k in fast.summary if not _same(fast.summary[k], full.summary[k])]
    assert not differ
    assert fast.tables.keys() == full.tables.keys()
    for table in fast.tables:
        pd.testing.assert_frame_equal(fast.tables[table], full.tables[table], check_exact=True)
    if case == "saturated, a state per step":
        assert any(k and per_step for k, per_step in kept)


def test_coupled_parts_of_some_rows_are_those_of_all() -> None:
    """The batch queues reused from an earlier solution (`known`) are those solved anew."""
    scenario = load_scenario(SCENARIOS / "scale/sre-1000.yaml", overrides={"horizon": "3d"})
    model = analytic_run.compile_model(scenario)
    timeline, steps = analytic_run._simulate(scenario, model, None)
    work, batches = station_work(model, timeline.state_arrivals)
    replicas = steps.replicas
    assert steps.coupled is not None and steps.coupled.batched and steps.coupled.sigma
    changed = replicas.copy()
    changed[len(changed) // 2 :, sorted(steps.coupled.batched)[0]] += 1
    anew = coupled_parts(model, work, changed, batches)
    reused = coupled_parts(model, work, changed, batches, known=steps.coupled)
    assert _coupled_bits(anew) == _coupled_bits(reused)
    assert _coupled_bits(coupled_parts(model, work, replicas, batches)) == _coupled_bits(
        steps.coupled
    )


def _coupled_bits(parts: Coupled) -> dict[object, bytes]:
    out: dict[object, bytes] = {("sigma", s): c.tobytes() for s, c in parts.sigma.items()}
    for s, (wait, p_wait) in parts.batched.items():
        out["batched", s] = np.concatenate([wait, p_wait]).tobytes()
    return out


@pytest.mark.parametrize("ties", [False, True])
def test_unique_rows_are_numpys(ties: bool) -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(-(10**12), 10**12, (600, 40))
    if ties:  # repeated rows, and rows equal in the first column only
        keys = np.repeat(keys[:50], 12, axis=0)[rng.permutation(600)]
        keys[::7, 0] = keys[0, 0]
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    mine_first, mine_inverse = analytic_run._unique_rows(keys)
    assert np.array_equal(first, mine_first)
    assert np.array_equal(inverse.ravel(), mine_inverse)
    empty = analytic_run._unique_rows(np.zeros((5, 0), dtype=np.int64))
    assert np.array_equal(empty[1], np.zeros(5))


def test_sigma_of_distinct_cells_is_of_all() -> None:
    rng = np.random.default_rng(3)
    phases = rng.integers(2, 6, 400)
    rho = rng.choice(np.linspace(0.05, 0.98, 37), 400)
    assert np.array_equal(
        _distinct_sigma(phases, rho).view(np.uint64),
        erlang_gi_m1_sigma(phases, rho).view(np.uint64),
    )
