"""KPIs and tidy tables from the records of a run."""

from .cost import COST_DESCRIPTIONS, cost_kpis, costs_table
from .delivery import DELIVERY_KPI_DESCRIPTIONS
from .discovery import DISCOVERY_KPI_DESCRIPTIONS
from .monitoring import MONITORING_KPI_DESCRIPTIONS
from .requests import (
    KPI_DESCRIPTIONS,
    entry_points_table,
    request_kpis,
    requests_table,
    services_table,
    spans_table,
    station_kpis,
    timeseries_table,
)
from .scheduling import SCHEDULING_KPI_DESCRIPTIONS

KPI_DESCRIPTIONS.update(COST_DESCRIPTIONS)
KPI_DESCRIPTIONS.update(SCHEDULING_KPI_DESCRIPTIONS)
KPI_DESCRIPTIONS.update(DISCOVERY_KPI_DESCRIPTIONS)
KPI_DESCRIPTIONS.update(DELIVERY_KPI_DESCRIPTIONS)
KPI_DESCRIPTIONS.update(MONITORING_KPI_DESCRIPTIONS)

__all__ = [
    "KPI_DESCRIPTIONS",
    "cost_kpis",
    "costs_table",
    "entry_points_table",
    "request_kpis",
    "requests_table",
    "services_table",
    "spans_table",
    "station_kpis",
    "timeseries_table",
]
