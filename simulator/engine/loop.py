"""SimPy's event loop with its step inlined, for the request level's millions of events.

`run_until(env, at)` does what `env.run(until=at)` does, event for event: the same stop
event (scheduled the same way, so the same time and event id), the same callbacks in the
same order, the same crash on a failed event that nobody defused, and the stop event left
on the queue as SimPy leaves it. It only saves `Environment.step`'s Python call and its
`try` per event (about 5% of a run whose events are all the request level's `Step`s).
"""

from __future__ import annotations

from heapq import heappop
from typing import cast

from simpy import Environment
from simpy.core import StopSimulation
from simpy.events import URGENT, Event, EventCallbacks, EventPriority

PROCESSED = cast(EventCallbacks, None)
"""An event's callbacks once it is processed (SimPy's `None`, typed as its callbacks)."""


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
