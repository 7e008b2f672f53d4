"""The columns of every per-service and per-step table, declared once for both fidelities.

Both fidelities build these tables through `frame`, so a column cannot be added, renamed or
dropped in one without the declaration (and its test) saying so. Where the two share a
column it has the same name and meaning; the analytic fidelity has no per-request counts
(visits by outcome, percentiles per service) and adds the peaks and saturation that only a
step model can state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..engine.recorder import STATUSES

if TYPE_CHECKING:
    import pandas as pd

FAILURE_CAUSES: tuple[str, ...] = STATUSES[2:]
"""Every way a request can fail: the statuses after `pending` and `ok`."""

PERCENTILE_COLUMNS = ("latency_p50_s", "latency_p95_s", "latency_p99_s", "latency_p999_s")

COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("services", "request"): (
        "service", "replicas", "workers", "visits", "visits_ok",
        *(f"visits_{cause}" for cause in FAILURE_CAUSES),
        "success_rate", "throughput_rps", "wait_mean_s", "latency_mean_s", *PERCENTILE_COLUMNS,
        "utilisation", "queue_length_mean", "in_system_mean",
    ),
    ("services", "analytic"): (
        "service", "replicas", "workers", "visits", "throughput_rps", "arrival_rate_mean",
        "arrival_rate_max", "utilisation", "utilisation_max", "wait_mean_s", "latency_mean_s",
        "queue_length_mean", "in_system_mean", "saturated_s",
    ),
    ("timeseries", "request"): (
        "time", "service", "busy", "queued", "in_system", "workers", "replicas", "utilisation",
        "queued_mean",
    ),
    ("timeseries", "analytic"): (
        "time", "service", "workers", "replicas", "arrival_rate", "utilisation", "queued_mean",
        "in_system_mean", "latency_mean_s", "saturated",
    ),
    ("entry_timeseries", "analytic"): (
        "time", "entry_point", "arrival_rate", "latency_mean_s", *PERCENTILE_COLUMNS,
    ),
}  # fmt: skip
"""(table, fidelity) → its columns, in order (the index column first where there is one)."""

INDEX = {"services": "service", "entry_points": "entry_point"}
"""Tables indexed by their first column."""


def frame(
    table: str, fidelity: str, data: Mapping[str, Any] | list[dict[str, Any]] | pd.DataFrame
) -> pd.DataFrame:
    """The table from columns (a mapping, or a DataFrame that already holds them: not
    copied) or rows (a list of mappings), in the declared order; a column missing or not
    declared is a bug in the model, not in the user's input."""
    import pandas as pd

    columns = COLUMNS[table, fidelity]
    built = pd.DataFrame(data)
    if len(built.columns) and set(built.columns) != set(columns):
        extra = sorted(set(built.columns) - set(columns))
        missing = sorted(set(columns) - set(built.columns))
        raise AssertionError(f"{table} ({fidelity}): undeclared {extra}, missing {missing}")
    built = built.reindex(columns=list(columns))
    index = INDEX.get(table)
    return built.set_index(index) if index and len(built) else built
