"""Cross-validation: the same scenarios run at both fidelities, side by side.

As the Omega paper checked its lightweight simulator against its high-fidelity one, the
analytic mode is checked against request-level runs of the same scenarios at utilisations
0.3, 0.6 and 0.9. `tests/analytic/test_analytic.py` asserts the agreement documented in
docs/analytic.md; `benchmarks/bench_analytic.py --accuracy` measures it with long runs.

Every scenario here is a plain mapping, built from its bottleneck utilisation, so both
fidelities read exactly the same description (only `fidelity` differs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

KPIS = ("latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "wait_mean_s")


def single_queue(utilisation: float, requests: int = 50_000) -> dict[str, Any]:
    """M/G/4: one FCFS queue over 4 workers, gamma service times (mean 10 ms, cv 0.5).

    Neither exact theory applies (Erlang C needs exponential service): the mean wait is
    Allen–Cunneen's and the wait distribution an exponential tail.
    """
    rate = utilisation * 4 / 0.010
    return {
        "name": f"single-queue-{utilisation:g}",
        "horizon": (requests / rate) + 20.0,
        "warmup": 20.0,
        "services": {
            "api": {
                "replicas": 4,
                "load_balancer": "central-queue",
                "service_time": {"distribution": "gamma", "mean": 0.010, "cv": 0.5},
            }
        },
        "traffic": {"api": {"rate": rate}},
    }


def round_robin(utilisation: float, requests: int = 50_000) -> dict[str, Any]:
    """4 replicas with their own queues, dealt round-robin; exponential service (10 ms)."""
    rate = utilisation * 4 / 0.010
    return {
        "name": f"round-robin-{utilisation:g}",
        "horizon": (requests / rate) + 20.0,
        "warmup": 20.0,
        "services": {
            "api": {"replicas": 4, "service_time": {"distribution": "exponential", "mean": 0.010}}
        },
        "traffic": {"api": {"rate": rate}},
    }


def call_graph(utilisation: float, requests: int = 20_000) -> dict[str, Any]:
    """A chain and a fan-out: front → mid → db in turn, then front → 3 × leaf at once.

    front: 2 × 2 workers, central queue, 5 ms; mid: 2 round-robin replicas, 10 ms; db: one
    replica with 2 workers, 4 ms; leaf: 3 workers, central queue, 8 ms, called three times
    at once (a batch). All exponential. `utilisation` is that of the busiest service (leaf:
    0.8 at 100 requests/s); mid runs at 5/8 of it, db at 1/4, front at 5/32.
    """
    rate = 100.0 * utilisation / 0.8
    return {
        "name": f"call-graph-{utilisation:g}",
        "horizon": (requests / rate) + 20.0,
        "warmup": 20.0,
        "services": {
            "front": {
                "replicas": 2,
                "concurrency": 2,
                "load_balancer": "central-queue",
                "handler": [
                    {"work": 0.005},
                    {"call": "mid"},
                    {"parallel": [{"call": "leaf", "count": 3}]},
                ],
            },
            "mid": {"replicas": 2, "handler": [{"work": 0.010}, {"call": "db"}]},
            "db": {"replicas": 1, "concurrency": 2, "handler": [{"work": 0.004}]},
            "leaf": {
                "replicas": 3,
                "load_balancer": "central-queue",
                "handler": [{"work": 0.008}],
            },
        },
        "traffic": {"front": {"rate": rate}},
    }


SCENARIOS: dict[str, Callable[[float, int], dict[str, Any]]] = {
    "single-queue": single_queue,
    "round-robin": round_robin,
    "call-graph": call_graph,
}
"""The cross-validation scenarios, by name: each takes the bottleneck utilisation."""

UTILISATIONS = (0.3, 0.6, 0.9)


def request_level(
    scenario: dict[str, Any], replications: int, seed: int = 1
) -> dict[str, list[float]]:
    """The KPIs of `replications` request-level runs (seeds seed, seed + 1, ...)."""
    import simulator

    table = simulator.run_replications(
        {**scenario, "fidelity": "request"}, replications, seed=seed
    ).table
    return {kpi: table[kpi].astype(float).tolist() for kpi in KPIS}


def analytic(scenario: dict[str, Any]) -> dict[str, float]:
    """The KPIs of the analytic run of the same scenario."""
    import simulator

    summary = simulator.run({**scenario, "fidelity": "analytic"}).summary
    return {kpi: float(summary[kpi]) for kpi in KPIS}


def compare(
    scenario: dict[str, Any],
    replications: int = 10,
    seed: int = 1,
    measured: dict[str, list[float]] | None = None,
) -> pd.DataFrame:
    """Both fidelities on one scenario: per KPI, the analytic value, the request-level mean
    over the replications with its 95% half-width, and the relative error of the analytic
    value. `measured` reuses request-level values from an earlier `request_level` call."""
    from simulator.metrics.statistics import mean_ci

    measured = measured if measured is not None else request_level(scenario, replications, seed)
    predicted = analytic(scenario)
    rows = []
    for kpi in KPIS:
        values = np.asarray(measured[kpi], dtype=float)
        mean, half = mean_ci(values)
        rows.append(
            {
                "kpi": kpi,
                "analytic": predicted[kpi],
                "request": mean,
                "ci95": half,
                "error": predicted[kpi] / mean - 1 if mean else np.nan,
                "ci95_relative": half / mean if mean else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("kpi")
