"""`AnalyticRollouts.error_ratios` skips the stations that fail nothing since the interval's
start (`clean_since`, scanned in one numpy array): what it gives back must be, bit for bit,
what asking every station would give (the monitoring samples and the requests that bad
versions failed are built on it, and the growth experiment asks it every scrape)."""

from __future__ import annotations

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.analytic.rollouts import AnalyticRollouts, Ramp, StationRef
from simulator.engine import EventLog
from simulator.experiments.growth import largest_first

RATIOS = st.sampled_from([0.0, 0.0, 0.01, 0.5, 1.0])
SHARES = st.sampled_from([0.0, 0.25, 1.0])
RAMP = st.tuples(
    st.sampled_from([0.0, 0.0, 10.0, 30.0]),  # after the last ramp's start (0: replaces it)
    st.sampled_from([0.0, 5.0, 20.0]),  # duration
    SHARES,
    SHARES,
    RATIOS,
    RATIOS,
    st.booleans(),  # down
)


def _every_station(rollouts: AnalyticRollouts, start: float, end: float, outages: bool):
    """The ratios as the loop over every station gave them before the skip."""
    ratios = {}
    for index, state in rollouts._states.items():
        if state.ramps and state.ramps[0].start <= end:
            ratio = rollouts._mean(state, start, end, outages=outages)
            if ratio > 0:
                ratios[index] = ratio
    return ratios


@settings(max_examples=300, deadline=None)
@given(
    plans=st.lists(st.lists(RAMP, max_size=6), min_size=1, max_size=4),
    asked=st.lists(
        st.tuples(st.floats(0, 200), st.sampled_from([0.0, 1.0, 7.5, 60.0]), st.booleans()),
        min_size=1,
        max_size=12,
    ),
)
def test_error_ratios_equal_every_stations_own(plans, asked):
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
    for start, width, outages in asked:
        got = rollouts.error_ratios(start, start + width, outages=outages)
        want = _every_station(rollouts, start, start + width, outages)
        assert list(got.items()) == list(want.items())


def test_the_largest_fleets_are_run_first_and_ties_keep_their_order():
    assert largest_first([1, 10, 1000, 1, 10, 1000]) == [2, 5, 1, 4, 0, 3]


def test_an_interval_after_a_deploy_that_took_the_service_down_sees_the_new_version_only():
    """Once a `down` deploy has ended its version serves alone: the mean over a later
    interval is the version's error ratio (it was once lowered by the time between the
    end of the outage and the interval's start)."""
    rollouts = AnalyticRollouts(
        simpy.Environment(), {"s0": StationRef(0, "s0")}, {0: 2}, EventLog(), 5.0,
        lambda station, start, end: end - start,
    )  # fmt: skip
    state = rollouts._states[0]
    state.add(Ramp(10.0, 20.0, 0.0, 1.0, 0.0, 0.25, 1, down=True))
    assert rollouts._mean(state, 50.0, 60.0, outages=True) == 0.25
    assert rollouts._mean(state, 15.0, 25.0, outages=True) == (5.0 + 5.0 * 0.25) / 10.0
