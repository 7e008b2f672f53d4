"""What makes the general path (the SimPy event loop) cheap, checked where it could go wrong
without changing a number the golden results would see (issue 16, point 3): finished calls
leave no reference cycles behind, the runner lets go of the logs once its tables are built,
and an arrival re-uses its event exactly where a new `Step` would have gone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import numpy as np
import simpy

import simulator
from simulator.engine.rng import RandomStreams
from simulator.model.services import Step
from simulator.model.traffic import PoissonSource
from simulator.model.world import World
from simulator.runner import _result
from simulator.subsystems import build_subsystems
from tests.helpers import MMC


def _world(horizon: float) -> World:
    scenario = simulator.load_scenario(MMC, {"engine": "general", "horizon": horizon})
    return World(scenario, scenario.seed, build_subsystems)


def test_a_run_leaves_no_cycles_for_the_collector():
    """A call and its visit refer to each other; a finished call lets go of its visit, so
    that both are freed at once rather than by the cycle collector (which cost ~10% of a
    run, and kept every request's objects alive until it came)."""
    world = _world(3000.0)
    # until nothing is left: a collection can free more garbage in cycles through weak
    # references' callbacks (a call graph cached for an earlier test's scenario, found only
    # by the next collection), which is not this run's
    while gc.collect():
        pass
    gc.disable()
    try:
        world.run()
        found = gc.collect()
    finally:
        gc.enable()
    assert len(world.requests) > 7000
    assert found < 100, found  # before: two objects per request, ~20,000 here


def test_the_result_lets_go_of_the_logs_after_building_its_tables():
    world = _world(2000.0)
    world.run()
    requests = world.requests.columns()
    kept = int((requests["arrival"] >= world.scenario.warmup).sum())
    visits = int((~(world.spans.columns()["arrival"] < world.scenario.warmup)).sum())
    arrival = requests["arrival"].copy()
    del requests
    result = _result(world)
    assert len(world.requests) == 0 and len(world.spans) == 0
    assert len(result.tables["requests"]) == kept > 0
    assert len(result.tables["spans"]) == visits > 0
    measured = arrival[arrival >= world.scenario.warmup]
    assert np.array_equal(result.tables["requests"]["arrival"].to_numpy(), measured)


def test_an_arrival_reuses_its_event_where_a_new_step_would_go():
    """`PoissonSource` pushes the arrival's event back on the queue: the same times and
    event ids as a new `Step` per arrival (the way it was written before)."""
    spec = simulator.load_scenario(MMC).traffic["api"]
    seen: dict[str, list[tuple[float, int]]] = {}
    for kind in ("reused", "new"):
        env = simpy.Environment()
        log = seen[kind] = []
        rng = RandomStreams(7).get("traffic")

        def arrive(env: simpy.Environment = env, log: list[tuple[float, int]] = log) -> None:
            log.append((env.now, len(env._queue)))
            Step(env, 0.5, None, lambda _: None)  # other events between arrivals

        if kind == "reused":
            PoissonSource(env, spec, arrive, rng)
        else:
            gaps = iter(rng.exponential(1.0 / spec.rate, 4096).tolist())

            def again(
                _event: object, env: simpy.Environment = env, gaps: Iterator[float] = gaps
            ) -> None:
                Step(env, next(gaps), None, again)
                arrive()

            Step(env, next(gaps), None, again)
        env.run(until=200.0)
        log.append((env.now, next(env._eid)))
    assert len(seen["new"]) > 500
    assert seen["reused"] == seen["new"]
