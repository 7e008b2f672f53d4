"""SimPy's event loop with its step inlined, for the request level's millions of events.

`run_until(env, at)` does what `env.run(until=at)` does, event for event: the same stop
event (scheduled the same way, so the same time and event id), the same callbacks in the
same order, the same crash on a failed event that nobody defused, and the stop event left
on the queue as SimPy leaves it. It only saves `Environment.step`'s Python call and its
`try` per event (about 5% of a run whose events are all the request level's `Step`s).

It also runs with the collector's young generation at 20,000 allocations instead of
Python's 700 (`FEWER_COLLECTIONS`; the caller's thresholds, if higher, are kept, and are
given back when it returns). A run makes cycles (a visit and its call refer to each other)
by the hundred thousand while a large, long-lived heap (the scenario, the libraries, a
notebook's tables) sits in the older generations: at the default thresholds a run whose
queues grow, as a cascading failure's do, spends a tenth of its time scanning them again.
Collections change no number, only when memory is given back.
"""

from __future__ import annotations

import gc
from heapq import heappop
from typing import cast

from simpy import Environment
from simpy.core import StopSimulation
from simpy.events import URGENT, Event, EventCallbacks, EventPriority

PROCESSED = cast(EventCallbacks, None)
"""An event's callbacks once it is processed (SimPy's `None`, typed as its callbacks)."""

FEWER_COLLECTIONS = (20_000, 20, 20)
"""The collector's thresholds during a run, at least (those of `sresim run`, `cli.py`)."""


def run_until(env: Environment, at: float) -> None:
    """`env.run(until=at)`, with `Environment.step` inlined in the loop."""
    if at <= env._now:
        raise ValueError(f"until ({at}) must be greater than the current simulation time")
    until = Event(env)  # scheduled before every regular event at `at`, as SimPy's own
    until._ok = True
    until._value = None
    env.schedule(until, URGENT, at - env._now)
    until.callbacks.append(StopSimulation.callback)
    queue = env._queue
    processed = PROCESSED
    thresholds = gc.get_threshold()
    if thresholds[0]:  # a threshold of 0 turns collection off: left so
        gc.set_threshold(*map(max, FEWER_COLLECTIONS, thresholds))
    try:
        while True:
            env._now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, processed
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                # A failed event nobody defused crashes the run, as in `Environment.step`.
                error = type(event._value)(*event._value.args)
                error.__cause__ = event._value
                raise error
    except StopSimulation:
        # What `Environment.step` leaves: the stop event's remaining callbacks (none) on the
        # queue again, to be processed first when the run resumes.
        until.callbacks = []
        env.schedule(until, EventPriority(-1))
    finally:
        gc.set_threshold(*thresholds)
