"""KPIs and tidy tables from the records of a run."""

from .requests import (
    KPI_DESCRIPTIONS,
    request_kpis,
    requests_table,
    services_table,
    timeseries_table,
)

__all__ = [
    "KPI_DESCRIPTIONS",
    "request_kpis",
    "requests_table",
    "services_table",
    "timeseries_table",
]
