"""The flagship comparison: Sysadmin → DevOps → SRE on one workload, and their growth.

    python -m simulator.experiments.eras --out out/eras

runs the three era presets (scenarios/eras/) on their common workload (the same customers,
services and developers; only the organisation differs), sweeps the number of services from
1 to 1,000 under each, writes slide-ready charts and prints a summary table. `make demo`
runs it first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ..metrics.delivery import CLUSTERS
from ..results import Result
from ..runner import run
from .growth import break_points, growth_sweep, service_counts

ERAS_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "eras"
ERAS = ("sysadmin", "devops", "sre")

SUMMARY = {
    "deploys_per_service_per_day": ("deploys/service/day", 1.0, "{:.2f}"),
    "lead_time_median_s": ("lead time p50 (h)", 3600.0, "{:.1f}"),
    "lead_time_p90_s": ("lead time p90 (h)", 3600.0, "{:.1f}"),
    "change_failure_rate": ("change failure rate", 0.01, "{:.0f}%"),
    "mttr_median_s": ("time to restore p50 (h)", 3600.0, "{:.2f}"),
    "operator_utilisation": ("operator utilisation", 0.01, "{:.0f}%"),
    "uptime": ("uptime (no open incident)", 0.01, "{:.2f}%"),
    "latency_p99_s": ("p99 latency (ms)", 1e-3, "{:.0f}"),
    "cost_per_service_per_week_usd": ("cost/service/week ($)", 1.0, "{:,.0f}"),
}


COMMON_SERVICES = 10
"""The flagship comparison's common workload: every era deploys the DevOps era's ~10
services (the presets' own sizes are the talk's 1-2, ~10 and 100-1K)."""


def run_eras(
    directory: Path = ERAS_DIR,
    seed: int = 1,
    services: int | None = COMMON_SERVICES,
    overrides: dict | None = None,
) -> dict[str, Result]:
    """The three era presets on the same seed, all at `services` services (None: each at
    its own size)."""
    common = dict(overrides or {})
    if services is not None:
        common["delivery.services"] = services
    return {era: run(directory / f"{era}.yaml", seed, overrides=common) for era in ERAS}


def era_table(results: dict[str, Result]) -> pd.DataFrame:
    """One row per era: the KPIs of SUMMARY and the DORA cluster."""
    table = pd.DataFrame({era: r.summary for era, r in results.items()}).T
    table["dora_cluster"] = [
        CLUSTERS[int(rank)] if rank == rank else "unknown" for rank in table["dora_rank"]
    ]
    return table


def printable(table: pd.DataFrame) -> str:
    rows = {}
    for column, (label, scale, fmt) in SUMMARY.items():
        if column in table:
            rows[label] = [fmt.format(v / scale) for v in table[column]]
    rows["DORA cluster (2019)"] = list(table["dora_cluster"])
    return pd.DataFrame(rows, index=table.index).T.to_string()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/eras"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--points", type=int, default=6, help="service counts in the sweep")
    parser.add_argument("--horizon", default="4w", help="horizon of each growth run")
    parser.add_argument(
        "--services", type=int, default=COMMON_SERVICES, help="services every era deploys"
    )
    args = parser.parse_args(argv)

    from ..plots.delivery import (
        era_comparison,
        growth_curves,
        lead_time_distribution,
        operator_time,
    )
    from ..plots.theme import save_figure

    results = run_eras(seed=args.seed, services=args.services)
    table = era_table(results)
    sweep = growth_sweep(
        [ERAS_DIR / f"{era}.yaml" for era in ERAS],
        service_counts(args.points),
        horizon=args.horizon,
        seed=args.seed,
    )
    breaks = break_points(sweep)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    written = []
    written += save_figure(era_comparison(table), out / "eras")
    written += save_figure(lead_time_distribution(results), out / "lead-time")
    written += save_figure(operator_time(results), out / "operator-time")
    written += save_figure(growth_curves(sweep), out / "growth")
    table.to_csv(out / "eras.csv")
    sweep.to_csv(out / "growth.csv", index=False)
    breaks.to_csv(out / "break-points.csv")
    workload = results["sre"].scenario
    print(
        f"Three eras, {workload.delivery.services} services, "  # type: ignore[union-attr]
        f"{workload.delivery.change_rate:g} changes/service/working day, "  # type: ignore[union-attr]
        f"{(workload.horizon - workload.warmup) / 604800:g} measured weeks, seed {args.seed}"
    )
    print(printable(table))
    print("\nWhere the operators' queue breaks (expected utilisation reaches 1):")
    print(breaks.round(1).to_string())
    print(f"\nCharts and tables in {out}/ ({len(written)} chart files)")


if __name__ == "__main__":
    main()
