"""`stationary` computes each distinct station column once (a fleet's copies of a few
services) and copies it: the same numbers, bit for bit, as every column computed."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.analytic import run as analytic_run
from simulator.analytic.flows import Model
from simulator.analytic.stations import (
    StationColumns,
    _coupled,
    _distinct_columns,
    _queue_inputs,
    _stationary_columns,
    coupled_parts,
    station_work,
    stationary,
)
from simulator.experiments.eras import ERAS_DIR
from simulator.experiments.fleet import fleet_scenario
from simulator.scenario.loader import load_scenario
from simulator.scenario.schema import Scenario
from tests.golden.cases import SCENARIOS

Fleet = tuple[Model, np.ndarray, np.ndarray, np.ndarray | None]


def _fleet(scenario: Scenario) -> Fleet:
    model = analytic_run.compile_model(scenario)
    timeline, steps = analytic_run._simulate(scenario, model, None)
    work, batches = station_work(model, timeline.state_arrivals)
    return model, work, steps.replicas, batches


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    """A thousand services drawn at random (some alike), with batch targets and round-robin
    replicas of one worker (coupled parts)."""
    return _fleet(load_scenario(SCENARIOS / "scale/sre-1000.yaml", overrides={"horizon": "3d"}))


@pytest.fixture(scope="module")
def copies() -> Fleet:
    """The SRE era's ten services copied to two hundred, as the growth sweep runs them."""
    window = {"horizon": "3d", "warmup": "1d"}
    return _fleet(fleet_scenario(ERAS_DIR / "sre.yaml", 200, window))


def _bits(queue: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {name: np.ascontiguousarray(values).tobytes() for name, values in queue.items()}


def _spread(queue: dict[str, StationColumns]) -> dict[str, np.ndarray]:
    return {name: values.array() for name, values in queue.items()}


def _changed(work: np.ndarray, replicas: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Copies with one cell of work of one column moved by an ulp, and of another column a
    replica moved from the last step to the first (the column's sum kept: only the
    comparison of the cells can tell it from its copies)."""
    work, replicas = work.copy(), replicas.copy()
    busy = np.flatnonzero(work[0].sum(axis=0) > 0)
    a = int(busy[-1])
    b = int(next(s for s in busy[::-1] if s != a and replicas[-1, s] > 1))
    work[1, work.shape[1] // 2, a] = np.nextafter(work[1, work.shape[1] // 2, a], np.inf)
    replicas[0, b] += 1
    replicas[-1, b] -= 1
    return work, replicas, [a, b]


@pytest.mark.parametrize("moved", [False, True])
@pytest.mark.parametrize("case", ["fleet", "copies"])
def test_distinct_columns_are_every_column(
    request: pytest.FixtureRequest, case: str, moved: bool
) -> None:
    model, work, replicas, batches = request.getfixturevalue(case)
    changed: list[int] = []
    if moved:
        work, replicas, changed = _changed(work, replicas)
    coupled = coupled_parts(model, work, replicas, batches)
    first, inverse = _distinct_columns(model, work, replicas, coupled)
    assert first.size < len(model.stations) / (10 if case == "copies" else 1)  # copies found
    for s in changed:  # a column moved by one ulp or one replica is its own
        assert first[inverse[s]] == s
        assert np.count_nonzero(inverse == inverse[s]) == 1
    for s in range(len(model.stations)):  # a column grouped with one equal to it, bit for bit
        r = first[inverse[s]]
        assert np.array_equal(work[:, :, s].view(np.uint64), work[:, :, r].view(np.uint64))
        assert np.array_equal(replicas[:, s], replicas[:, r])
    queue, used = stationary(model, work, replicas, batches)
    assert used is not None
    every = _stationary_columns(model, work, replicas, coupled, None)
    assert _bits(_spread(queue)) == _bits(every)
    for name, values in _spread(queue).items():
        assert values.dtype == every[name].dtype, name


def test_coupled_parts_are_those_of_every_column(fleet: Fleet) -> None:
    """`stationary` now takes its coupled parts from `coupled_parts` (their columns only):
    those of every column, as it solved them before."""
    model, work, replicas, batches = fleet
    rate, mean, _, _, rho, servers, arrival_scv = _queue_inputs(model, work, replicas)
    every = _coupled(model, rate, mean, rho, replicas, servers, arrival_scv, batches)
    some = coupled_parts(model, work, replicas, batches)
    assert every.sigma and every.batched
    assert every.sigma.keys() == some.sigma.keys() and every.batched.keys() == some.batched.keys()
    for s, column in every.sigma.items():
        assert np.array_equal(column.view(np.uint64), some.sigma[s].view(np.uint64))
    for s, (wait, p_wait) in every.batched.items():
        assert np.array_equal(wait.view(np.uint64), some.batched[s][0].view(np.uint64))
        assert np.array_equal(p_wait.view(np.uint64), some.batched[s][1].view(np.uint64))
