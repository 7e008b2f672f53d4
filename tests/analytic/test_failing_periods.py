"""After the run, `AnalyticSli.failed_by_versions` asks `AnalyticRollouts.error_ratios` at
every step only of the stations whose ramps may fail a visit in it (`failing`: each
ramp's reign but a clean ramp's, a cured one's until its end). What it gives back must
be, bit for bit and in the same order, what asking every station gives: the requests that
bad versions failed are summed from it, step by step."""

from __future__ import annotations

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.analytic.rollouts import AnalyticRollouts, Ramp, StationRef
from simulator.engine import EventLog
from tests.analytic.test_error_ratios_skip import RAMP, _every_station

EDGES = [0.0, 5.0, 10.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 80.0]
"""Times the ramps start and end on, among others: intervals that touch them exactly."""


def _rollouts(plans: list[list[tuple]]) -> AnalyticRollouts:
    names = {f"s{i}": StationRef(i, f"s{i}") for i in range(len(plans))}
    rollouts = AnalyticRollouts(
        simpy.Environment(), names, {i: 2 for i in range(len(plans))}, EventLog(), 5.0,
        lambda station, start, end: end - start,
    )  # fmt: skip
    for index, plan in enumerate(plans):
        state, time = rollouts._states[index], 0.0
        for gap, duration, low, high, before, after, down in plan:
            time += gap
            state.add(Ramp(time, time + duration, low, high, before, after, 1, down))
    return rollouts


@settings(max_examples=300, deadline=None)
@given(
    plans=st.lists(st.lists(RAMP, max_size=6), min_size=1, max_size=5),
    asked=st.lists(
        st.tuples(
            st.one_of(st.floats(0, 200), st.sampled_from(EDGES)),
            st.sampled_from([0.5, 5.0, 10.0, 20.0, 300.0]),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_error_ratios_among_the_failing_equal_every_stations_own(plans, asked):
    rollouts = _rollouts(plans)
    failing = rollouts.failing()
    for start, width, outages in asked:
        end = start + width
        got = rollouts.error_ratios(start, end, outages=outages, among=failing.among(start, end))
        want = _every_station(rollouts, start, end, outages)
        assert list(got.items()) == list(want.items())


def test_a_station_is_failing_until_its_bad_version_is_rolled_back_only():
    """Clean, then a bad version from 10 s, rolled back over 10 s from 30 s: asked from 40 s
    on (or before 10 s) it is skipped; a ramp to a version that serves part of the traffic
    only (`high` < 1) does not cure it."""
    rollouts = _rollouts([[(0.0, 0.0, 1.0, 1.0, 0.0, 0.0, False)], []])
    state = rollouts._states[0]
    state.add(Ramp(10.0, 20.0, 0.0, 1.0, 0.0, 0.1, 1))
    state.add(Ramp(30.0, 40.0, 0.0, 1.0, 0.1, 0.0, 2))
    failing = rollouts.failing()
    assert failing.among(0.0, 10.0).tolist() == []
    assert failing.among(5.0, 15.0).tolist() == [0]
    assert failing.among(39.0, 41.0).tolist() == [0]
    assert failing.among(40.0, 100.0).tolist() == []
    state.add(Ramp(50.0, 60.0, 0.0, 0.5, 0.1, 0.0, 3))  # half the traffic: not cured
    assert rollouts.failing().among(70.0, 80.0).tolist() == [0]
