"""`run_until` against `simpy.Environment.run`: the inlined event loop must process the same
events in the same order at the same times and leave the environment as SimPy leaves it
(notebook 01's runs, issue 16 point 5), including a failed event that nobody defused."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Generator

import pytest
import simpy
from simpy.events import Event

from simulator.engine.loop import FEWER_COLLECTIONS, run_until
from simulator.model.services import Step


def _model(env: simpy.Environment, trace: list[tuple[float, str, int]]) -> None:
    """Steps that schedule more steps (some at the same instant), a generator process with
    timeouts, and an event succeeded by hand: each callback writes what it saw."""

    def tick(event: Event) -> None:
        n = event._value
        trace.append((env.now, "step", n))
        if n < 400:
            Step(env, (n * 0.37) % 1.3, n + 1, tick)
            if n % 7 == 0:
                Step(env, 0.0, n + 1000, tick)

    def process() -> Generator[Event, object, None]:
        for k in range(60):
            yield env.timeout(0.5 if k % 3 else 0.0)
            trace.append((env.now, "process", k))
            if k % 10 == 0:
                signal = env.event()
                signal.callbacks.append(lambda e: trace.append((env.now, "signal", e.value)))
                signal.succeed(k)

    Step(env, 0.1, 0, tick)
    env.process(process())


def _trace(run: Callable[[simpy.Environment, float], object]) -> tuple[list, float, list]:
    env = simpy.Environment()
    trace: list[tuple[float, str, int]] = []
    _model(env, trace)
    for at in (7.0, 7.0 + math.pi, 400.0):  # resumed twice, as `World.run` with progress does
        run(env, at)
        trace.append((env.now, "stopped", len(env._queue)))
    return trace, env.now, [(t, p, i) for t, p, i, _ in sorted(env._queue)]


def test_run_until_processes_what_simpy_run_processes():
    simpy_side = _trace(lambda env, at: env.run(until=at))
    ours = _trace(run_until)
    assert len(simpy_side[0]) > 400  # the model had work to do
    assert ours == simpy_side  # events, times, and the queue left behind (event ids too)


def test_run_until_crashes_on_a_failed_event_as_simpy_does():
    for run in (lambda env, at: env.run(until=at), run_until):
        env = simpy.Environment()
        env.event().fail(KeyError("lost"))
        with pytest.raises(KeyError) as raised:
            run(env, 1.0)
        assert isinstance(raised.value.__cause__, KeyError)


def test_run_until_refuses_a_time_not_ahead():
    env = simpy.Environment()
    run_until(env, 2.0)
    with pytest.raises(ValueError):
        run_until(env, 2.0)


def test_run_until_collects_less_often_and_gives_the_thresholds_back():
    """During the loop the collector's thresholds are at least `FEWER_COLLECTIONS` (higher
    ones of the caller kept, a threshold of 0 too); afterwards, and after a crash, the
    caller's again."""
    seen: list[tuple[int, int, int]] = []
    before = gc.get_threshold()
    try:
        for thresholds, during in (
            ((700, 10, 10), FEWER_COLLECTIONS),
            ((50_000, 5, 100), (50_000, 20, 100)),
            ((0, 10, 10), (0, 10, 10)),  # collection turned off stays off
        ):
            gc.set_threshold(*thresholds)
            env = simpy.Environment()
            Step(env, 1.0, None, lambda _: seen.append(gc.get_threshold()))
            run_until(env, 2.0)
            assert seen.pop() == during
            assert gc.get_threshold() == thresholds
            env.event().fail(KeyError("lost"))
            with pytest.raises(KeyError):
                run_until(env, 3.0)
            assert gc.get_threshold() == thresholds
    finally:
        gc.set_threshold(*before)
