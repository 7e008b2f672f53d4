"""The growth sweeps hand their runs to the workers heaviest first: by size, and among
runs of one size (and the small runs of an era with one-minute clocks) by the periodic work
monitoring and the HPA do. The order changes no number (each run has its own seed), only
which worker waits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.experiments.eras import ERAS, ERAS_DIR
from simulator.experiments.fleet import fleet_scenario
from simulator.experiments.growth import DELIVERY_ONLY, clock_ticks, largest_first
from simulator.scenario.loader import load_scenario

WINDOW = {"horizon": "3w", "warmup": "1w"}


def test_the_sre_thousand_goes_first_and_its_small_runs_before_the_others_hundreds():
    points = [(era, n) for era in ERAS for n in (1, 10, 100, 1000)]
    ticks = [clock_ticks(fleet_scenario(ERAS_DIR / f"{e}.yaml", n, WINDOW)) for e, n in points]
    order = [points[i] for i in largest_first([n for _, n in points], ticks)]
    assert order[:3] == [("sre", 1000), ("devops", 1000), ("sysadmin", 1000)]
    assert order.index(("sre", 1)) < order.index(("sysadmin", 100))
    assert order[-1] == ("sysadmin", 1)


def test_the_delivery_model_alone_has_no_clock_to_weigh():
    for era in ERAS:
        scenario = load_scenario(ERAS_DIR / f"{era}.yaml", {**DELIVERY_ONLY, **WINDOW})
        assert clock_ticks(scenario) == 0.0
    sre = load_scenario(ERAS_DIR / "sre.yaml", WINDOW)
    assert clock_ticks(sre) == 3 * 21 * 24 * 60  # scrapes, evaluations, HPA syncs: 1 a minute


@given(st.lists(st.integers(1, 1000), max_size=12))
def test_without_clocks_the_largest_first_ties_in_the_given_order(services):
    order = largest_first(services)
    assert sorted(order) == list(range(len(services)))
    assert order == sorted(range(len(services)), key=lambda i: (-services[i], i))
