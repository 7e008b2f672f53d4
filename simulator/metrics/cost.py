"""Cost: node-hours times the node type's hourly price (see docs/cost.md for the prices)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


COST_DESCRIPTIONS = {
    "nodes_mean": "time-average number of nodes billed (booting ones included)",
    "cost_usd": "node-hours over the measured period times the hourly price",
    "cost_per_million_requests_usd": "cost_usd per million successful requests",
}


def cost_kpis(
    node_seconds: float, price_per_hour: float, period: float, completed: float
) -> dict[str, float]:
    """Cost KPIs of a run; NaN where the scenario has no priced nodes (no `cluster:`)."""
    cost = node_seconds / 3600.0 * price_per_hour
    return {
        "nodes_mean": node_seconds / period if period else math.nan,
        "cost_usd": cost,
        "cost_per_million_requests_usd": cost / (completed / 1e6) if completed else math.nan,
    }


def costs_table(samples: list[tuple[float, int]], price_per_hour: float) -> pd.DataFrame:
    """Nodes and spend rate at each sampling instant, and the cumulative cost since warm-up."""
    import pandas as pd

    frame = pd.DataFrame(samples, columns=["time", "nodes"])
    frame["cost_usd_per_hour"] = frame["nodes"] * price_per_hour
    step = frame["time"].diff().shift(-1).fillna(0.0)
    frame["cost_usd_cumulative"] = (frame["cost_usd_per_hour"] * step / 3600.0).cumsum()
    return frame
