"""The era table's priced losses and the sensitivity check (simulator.experiments.eras),
on a hand-built table whose answers are worked out here."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from simulator.experiments.eras import cheapest, sensitivity

TABLE = pd.DataFrame(
    {
        # people and machines a week; hours of full downtime a week; change-hours waiting
        "cost_per_week_usd": [4_000.0, 10_000.0, 25_000.0],
        "downtime_hours_per_week": [10.0, 2.0, 0.1],
        "waiting_change_hours_per_week": [20_000.0, 3_000.0, 2_000.0],
    },
    index=["sysadmin", "devops", "sre"],
)


def test_with_nothing_priced_the_smallest_bill_wins():
    assert cheapest(TABLE, 0.0, 0.0) == "sysadmin"


def test_the_break_even_price_of_downtime_is_where_the_order_changes():
    # devops against sre, no delay: 10,000 + 2 p = 25,000 + 0.1 p  ⇔  p = 15,000 / 1.9
    even = 15_000 / 1.9
    assert cheapest(TABLE, math.floor(even), 0.0) == "devops"
    assert cheapest(TABLE, math.ceil(even), 0.0) == "sre"
    # sysadmin against devops: 4,000 + 10 p = 10,000 + 2 p  ⇔  p = 750
    assert cheapest(TABLE, 749.0, 0.0) == "sysadmin"
    assert cheapest(TABLE, 751.0, 0.0) == "devops"


def test_waiting_changes_priced_favour_the_shortest_lead_time():
    # sre against devops, no downtime price: 25,000 + 2,000 d = 10,000 + 3,000 d ⇔ d = 15
    assert cheapest(TABLE, 0.0, 14.9) != "sre"
    assert cheapest(TABLE, 0.0, 15.1) == "sre"


def test_the_sensitivity_grid_names_the_cheapest_era_of_each_pair():
    grid = sensitivity(TABLE, [0.0, 1_000.0, 10_000.0], [0.0, 20.0])
    assert grid.shape == (3, 2)
    assert grid.loc[0.0, 0.0] == "sysadmin"
    assert grid.loc[1_000.0, 0.0] == "devops"
    assert grid.loc[10_000.0, 0.0] == "sre"
    assert (grid[20.0] == "sre").all()


@pytest.mark.parametrize("downtime", [0.0, 300.0, 3_000.0, 30_000.0])
def test_a_higher_price_never_favours_more_downtime(downtime):
    # raising the downtime price can only move the choice to an era with less downtime
    chosen = cheapest(TABLE, downtime, 1.0)
    higher = cheapest(TABLE, downtime * 10 + 1, 1.0)
    hours = TABLE["downtime_hours_per_week"]
    assert hours[higher] <= hours[chosen]
