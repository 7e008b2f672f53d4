"""The flagship comparison: Sysadmin → DevOps → SRE on one workload, and their growth.

    python -m simulator.experiments.eras --out out/eras

runs the three era presets (scenarios/eras/) on their common workload (the same customers,
services and developers; the organisation differs, and so does the infrastructure the
requests run on: fixed servers, fixed VMs, an autoscaled cluster), grows each from 1 to
1,000 services that serve requests (the one world, `growth.one_world_growth`; with
`--delivery-only` the delivery model alone, `growth.growth_sweep`), writes slide-ready
charts and prints a summary table and the growth table. `make demo` runs it first. The
request workload runs with the analytic fidelity over the whole horizon (docs/delivery.md,
"How each era serves the workload").
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..metrics.delivery import CLUSTERS
from ..model.discovery.common import delivery_service
from ..model.profiles import DiurnalRate, SpikeRate
from ..results import Result
from ..runner import run_task
from ..scenario.files import SHIPPED
from ..scenario.loader import load_scenario
from ..scenario.schema import Scenario
from ..scenario.units import DAY, HOUR
from .executor import RunTask, execute, run_key
from .growth import (
    ONE_WORLD_HORIZON,
    TICKS_PER_SERVICE,
    break_points,
    clock_ticks,
    flagship_growth,
)

ERAS_DIR = SHIPPED / "eras"
ERAS = ("sysadmin", "devops", "sre")

SUMMARY = {
    "deploys_per_service_per_day": ("deploys/service/day", 1.0, "{:.2f}"),
    "lead_time_median_s": ("lead time p50 (h)", 3600.0, "{:.1f}"),
    "lead_time_p90_s": ("lead time p90 (h)", 3600.0, "{:.1f}"),
    "change_failure_rate": ("change failure rate", 0.01, "{:.0f}%"),
    "mttr_median_s": ("time to restore p50 (h)", 3600.0, "{:.2f}"),
    "operator_utilisation": ("operator utilisation", 0.01, "{:.0f}%"),
    "pages_per_week": ("pages per week", 1.0, "{:.1f}"),
    "night_pages_per_week": ("pages at night or weekends per week", 1.0, "{:.1f}"),
    "incident_hours_per_week": ("incident hours per week", 1.0, "{:.1f}"),
    "project_share": ("team time left for projects", 0.01, "{:.0f}%"),
    "nodes_mean": ("serving nodes (mean)", 1.0, "{:.1f}"),
    "latency_p99_s": ("p99 latency (ms)", 1e-3, "{:,.0f}"),
    "slo_attainment": ("requests within the SLO latency", 0.01, "{:.2f}%"),
    "uptime": ("uptime (no open incident)", 0.01, "{:.2f}%"),
    "availability_overall": ("availability (what customers saw)", 0.01, "{:.2f}%"),
    "infrastructure_per_week_usd": ("infrastructure $/week", 1.0, "{:,.0f}"),
    "people_per_week_usd": ("people $/week", 1.0, "{:,.0f}"),
    "cost_per_week_usd": ("total $/week", 1.0, "{:,.0f}"),
    "downtime_per_week_usd": ("downtime $/week (priced)", 1.0, "{:,.0f}"),
    "delay_per_week_usd": ("waiting changes $/week (priced)", 1.0, "{:,.0f}"),
    "business_per_week_usd": ("total with downtime and waiting $/week", 1.0, "{:,.0f}"),
}
"""Rows of the printed era table: (label, unit divisor, format) per column of era_table."""


TRAFFIC_CSV = ERAS_DIR / "traffic.csv"
"""The common workload's requests per second over the eight weeks the presets run: a
diurnal day (mean 300/s, trough 30% of the peak at 14:00, as `profile: diurnal`) times a
Hacker News front page on Wednesday of the second week (`profile: spike`: 4× from 13:00,
30-minute rise, 2 hours at the top, 3-hour decay). Written by `workload_traffic`."""


def workload_traffic(
    mean: float = 300.0,
    weeks: int = 8,
    spike_day: int = 9,
    spike_start: float = 13 * HOUR,
    factor: float = 4.0,
    step: float = 900.0,
) -> pd.DataFrame:
    """The common workload's rate every `step` seconds: a diurnal day times one spike.

    The traffic profiles do not combine, so the product of the two is replayed from a CSV
    (`profile: replay`, linear interpolation); this function is how that file is made, and
    a test checks that the file in the repository is its output. Day 0 is a Monday, so
    day 9 is the Wednesday of the first measured week after the warm-up week. The factor is
    assumed: REFERENCE.md's front-page spikes are for small blogs (up to ~600 req/s on one),
    where 10× is usual; on a product that already serves 300/s the same visitors add less.
    """
    times = np.arange(0.0, weeks * 7 * DAY + step / 2, step)
    diurnal = DiurnalRate(mean, 0.3, DAY, 14 * HOUR)
    spike = SpikeRate(1.0, spike_day * DAY + spike_start, factor, 30 * 60.0, 2 * HOUR, 3 * HOUR)
    rates = diurnal(times) * spike(times)
    return pd.DataFrame({"time": times.astype(int), "rate": np.round(rates, 3)})


def write_workload_traffic(path: Path = TRAFFIC_CSV) -> Path:
    """Writes `workload_traffic()` as the replay file of scenarios/eras/workload.yaml."""
    frame = workload_traffic()
    header = "# written by simulator.experiments.eras.write_workload_traffic; see workload.yaml\n"
    path.write_text(header + frame.to_csv(index=False))
    return path


COMMON_SERVICES = 10
"""The flagship comparison's common workload: every era deploys the DevOps era's ~10
services (the presets' own sizes are the talk's 1-2, ~10 and 100-1K)."""


def run_eras(
    directory: Path = ERAS_DIR,
    seed: int = 1,
    services: int | None = COMMON_SERVICES,
    overrides: dict[str, Any] | None = None,
    jobs: int = 1,
) -> dict[str, Result]:
    """The three era presets on the same seed, all at `services` services (None: each at
    its own size), through the experiment engine (`jobs` local workers)."""
    (results,) = run_eras_at([services], directory, seed, overrides, jobs)
    return results


def run_eras_at(
    sizes: Sequence[int | None],
    directory: Path = ERAS_DIR,
    seed: int = 1,
    overrides: dict[str, Any] | None = None,
    jobs: int = 1,
) -> list[dict[str, Result]]:
    """`run_eras` at each of `sizes` (a number of services, or None: each preset at its
    own), all the runs in one call of the experiment engine (`jobs` local workers), so
    that the workers share out every run of every size: notebook 07's two comparisons (ten
    services, then the presets' own sizes) take the time of the longest run, the SREs'
    hundred services, on two workers, not the sum of the six. The heaviest runs go
    first (`_weight`); the numbers are those of `run_eras`, bit for bit, whatever the
    order and the workers (each run has its own seed and streams)."""
    tasks = []
    for size in sizes:
        common = dict(overrides or {})
        if size is not None:
            common["delivery.services"] = size
        for era in ERAS:
            scenario = load_scenario(directory / f"{era}.yaml", common)
            tasks.append(RunTask(scenario, seed, keep=True))
    shared = _SHARED[-1] if _SHARED else None
    keys = [run_key(task) for task in tasks] if shared is not None else []
    by_task = {i: shared[k] for i, k in enumerate(keys) if shared is not None and k in shared}
    todo = [i for i in range(len(tasks)) if i not in by_task]
    order = sorted(todo, key=lambda i: -_weight(tasks[i].scenario))
    if order:
        execution = execute([tasks[i] for i in order], run_task, jobs=jobs, label="eras")
        for rank, i in enumerate(order):
            by_task[i] = _kept(execution.outcomes[rank].result)
            if shared is not None:
                shared[keys[i]] = by_task[i]
    results = [by_task[i] for i in range(len(tasks))]
    return [
        dict(zip(ERAS, results[k * len(ERAS) : (k + 1) * len(ERAS)], strict=True))
        for k in range(len(sizes))
    ]


_SHARED: list[dict[str, Result]] = []
"""The runs kept by the innermost open `shared_runs` block, by `run_key`."""


@contextmanager
def shared_runs() -> Iterator[None]:
    """Within the block, `run_eras` and `run_eras_at` keep each era run's Result and hand it
    to a later call that asks for the same run (the same scenario, every setting and the
    data it reads, the same seed and package version: the run store's key,
    `executor.run_key`) instead of running it again. Runs are reproducible bit for bit, so
    the numbers are those of a fresh run; the Result is the same object, which callers read
    and do not change. The site's build draws the presenters' page's era comparison and
    lead-time charts (`sresim chart --eras ...`, the same three runs) inside one block."""
    _SHARED.append({})
    try:
        yield
    finally:
        _SHARED.pop()


def _weight(scenario: Scenario) -> float:
    """About what a run of `scenario` costs, to hand the heaviest out first: its services
    plus its clocks' ticks (`growth.clock_ticks`, weighed as `growth.largest_first` does)."""
    services = scenario.delivery.services if scenario.delivery is not None else 0
    return services + clock_ticks(scenario) / TICKS_PER_SERVICE


def _kept(result: Result | None) -> Result:
    assert result is not None, "tasks with keep=True send their Result back"
    return result


def era_table(results: dict[str, Result]) -> pd.DataFrame:
    """One row per era: the KPIs of SUMMARY and the DORA cluster.

    Cost per week: the serving infrastructure is what the run billed for the nodes the
    request workload ran on (`cost_usd`: fixed servers, fixed VMs or the autoscaled
    cluster), plus CI runners, preview environments and blue-green copies; people are the
    operators' working hours and on-call pay. (The delivery model's own `cost_nodes_usd`,
    an estimate from `delivery.nodes_per_service` for the growth sweep, is not counted
    here.)"""
    table = pd.DataFrame({era: r.summary for era, r in results.items()}).T
    weeks = pd.Series({era: r.scenario.measured_period / (7 * DAY) for era, r in results.items()})
    serving = table.get("cost_usd", 0.0)
    table["serving_per_week_usd"] = serving / weeks
    table["infrastructure_per_week_usd"] = (serving + table["cost_tooling_usd"]) / weeks
    table["people_per_week_usd"] = table["cost_people_usd"] / weeks
    table["cost_per_week_usd"] = table["infrastructure_per_week_usd"] + table["people_per_week_usd"]
    # what customers saw: the requests that succeeded (a bad version's errors, overload, the
    # client's 10 s timeout), times the uptime of delivery services that serve no requests
    # in the run (none in the flagship comparison; taken as independent of the requests)
    unserved = pd.Series({era: unserved_uptime(r) for era, r in results.items()})
    table["uptime_unserved"] = unserved
    table["availability_overall"] = table["availability"] * unserved
    table = table.join(priced_losses(results, table))
    table["dora_cluster"] = [
        CLUSTERS[int(rank)] if rank == rank else "unknown" for rank in table["dora_rank"]
    ]
    return table


def unserved_uptime(result: Result) -> float:
    """The share of service-time without an open incident, over the delivery services that
    run on none of the run's services (1 when every one of them serves requests: their
    incidents are already in the requests' availability, and counting `uptime` as well
    would count them twice)."""
    scenario = result.scenario
    assert scenario.delivery is not None, "the eras all have a delivery section"
    served = {delivery_service(scenario, name) for name in scenario.services}
    unserved = [i for i in range(scenario.delivery.services) if i not in served]
    if not unserved:
        return 1.0
    start, end = scenario.warmup, scenario.horizon
    incidents = result.tables["incidents"]
    incidents = incidents[incidents["service"].isin(unserved)]
    open_for = np.minimum(incidents["resolved"].fillna(end), end) - np.maximum(
        incidents["start"], start
    )
    down = float((np.clip(open_for, 0, None) * incidents["impact"]).sum())
    return 1.0 - down / (len(unserved) * (end - start))


def priced_losses(results: dict[str, Result], table: pd.DataFrame) -> pd.DataFrame:
    """What each era's failures and waits cost at its scenario's `delivery.prices`: the
    hours of requests lost a week (1 − the availability customers saw, of its 168 hours, priced as
    hours of full downtime) and the change-hours waiting a week (changes committed a week
    × their mean lead time: Little's law's changes in flight, at the price of a change-hour)."""
    rows = {}
    for era, result in results.items():
        delivery = result.scenario.delivery
        assert delivery is not None, "the eras all have a delivery section"
        weeks = result.scenario.measured_period / (7 * DAY)
        row = table.loc[era]
        down = (1.0 - row["availability_overall"]) * 7 * 24
        waiting = row["changes_committed"] / weeks * row["lead_time_mean_s"] / HOUR
        downtime, delay = down * delivery.prices.downtime, waiting * delivery.prices.delay
        rows[era] = {
            "downtime_hours_per_week": down,
            "waiting_change_hours_per_week": waiting,
            "downtime_per_week_usd": downtime,
            "delay_per_week_usd": delay,
            "business_per_week_usd": row["cost_per_week_usd"] + downtime + delay,
        }
    return pd.DataFrame(rows).T


PRICE_GRID_DOWNTIME = (0.0, 500.0, 2000.0, 5000.0, 10000.0, 50000.0)
"""Prices of an hour of downtime the era table's sensitivity check tries ($/h)."""
PRICE_GRID_DELAY = (0.0, 1.0, 5.0, 20.0)
"""Prices of a change-hour of waiting it tries ($/h)."""


def cheapest(table: pd.DataFrame, downtime: float, delay: float) -> str:
    """The era whose bill is the lowest once an hour of downtime costs `downtime` and a
    change-hour of waiting `delay` (people, machines and the two priced losses)."""
    bill = (
        table["cost_per_week_usd"]
        + table["downtime_hours_per_week"] * downtime
        + table["waiting_change_hours_per_week"] * delay
    ).astype(float)
    return str(bill.idxmin())


def sensitivity(
    table: pd.DataFrame, downtimes: Sequence[float], delays: Sequence[float]
) -> pd.DataFrame:
    """The cheapest era for each pair of prices (rows: $ per hour of downtime; columns: $
    per change-hour of waiting): how the ranking moves when the two assumptions do."""
    return pd.DataFrame(
        {delay: [cheapest(table, d, delay) for d in downtimes] for delay in delays},
        index=pd.Index(downtimes, name="downtime $/h"),
    ).rename_axis(columns="delay $/change-hour")


ASSUMPTIONS: dict[str, tuple[tuple[str, Any], ...]] = {
    "delivery.change_rate": (("1", 1.0), ("4", 4.0)),
    "delivery.defect_probability": (("0.02", 0.02), ("0.10", 0.10)),
    "delivery.on_runtime.error_ratio": (
        ("always 1", {"distribution": "constant", "mean": 1.0}),
        ("0.05-0.2", {"distribution": "empirical", "samples": [0.2, 0.1, 0.05]}),
    ),
    "monitoring.customer_report_delay": (
        ("15 min", {"distribution": "exponential", "mean": "15min"}),
        ("4 h", {"distribution": "exponential", "mean": "4h"}),
    ),
}
"""The assumed knobs that move the measured columns, each at a value below and above the
presets' (2 changes a day, 5% bad, error ratios 1 to 0.05, customers report in an hour)."""

ASSUMPTION_COLUMNS = ("availability_overall", "lead_time_median_s", "business_per_week_usd")


def assumption_sensitivity(
    assumptions: dict[str, tuple[tuple[str, Any], ...]] = ASSUMPTIONS,
    seed: int = 1,
    services: int | None = COMMON_SERVICES,
    overrides: dict[str, Any] | None = None,
    jobs: int = 1,
) -> pd.DataFrame:
    """The eras re-run with one assumption moved at a time (rows: knob and value, the
    presets' first): each era's availability, median lead time and bill with the priced
    losses, and the era that is the cheapest and the most available."""
    cases: list[tuple[str, str, dict[str, Any]]] = [("presets", "", {})]
    for knob, values in assumptions.items():
        cases += [(knob, label, {knob: value}) for label, value in values]
    rows = []
    for knob, label, moved in cases:
        table = era_table(
            run_eras(
                seed=seed, services=services, overrides={**(overrides or {}), **moved}, jobs=jobs
            )
        )
        row: dict[str, Any] = {"assumption": knob, "value": label}
        for column in ASSUMPTION_COLUMNS:
            row.update({f"{era} {column}": float(table.loc[era, column]) for era in table.index})
        row["cheapest"] = str(table["business_per_week_usd"].astype(float).idxmin())
        row["most available"] = str(table["availability_overall"].astype(float).idxmax())
        rows.append(row)
    return pd.DataFrame(rows).set_index(["assumption", "value"])


def serving_description(scenario: Scenario) -> str:
    """One line on where an era's requests run, read from its scenario."""
    if scenario.deployment == "monolith":
        replicas = scenario.monolith.replicas or sum(s.replicas for s in scenario.services.values())
        what = f"the monolith, {replicas} replicas"
    else:
        replicas = sum(s.replicas for s in scenario.services.values())
        what = f"{len(scenario.services)} services, {replicas} replicas"
    if scenario.cluster is None:
        return what
    name, node_type = scenario.cluster.node_type_list()[0]
    if scenario.autoscaling.enabled and scenario.deployment == "microservices":
        nodes = scenario.autoscaling.nodes
        return (
            f"{what} at least, HPA and node autoscaler ({nodes.min_nodes}-{nodes.max_nodes} "
            f"{name}, runtime {node_type.runtime})"
        )
    return f"{what} on {node_type.count} fixed {name} (runtime {node_type.runtime})"


def printable_assumptions(moved: pd.DataFrame) -> str:
    """`assumption_sensitivity`'s table as text: availability (%) and lead time (h) per era."""
    shown = pd.DataFrame(index=moved.index)
    for era in ERAS:
        shown[f"{era} avail."] = (moved[f"{era} availability_overall"] * 100).map("{:.2f}%".format)
        shown[f"{era} lead p50"] = (moved[f"{era} lead_time_median_s"] / HOUR).map(
            "{:.1f} h".format
        )
    shown["cheapest"] = moved["cheapest"]
    shown["most available"] = moved["most available"]
    return shown.to_string()


def printable(table: pd.DataFrame) -> str:
    """The era table as text, one column per era (what `make demo` prints)."""
    rows = {}
    for column, (label, scale, fmt) in SUMMARY.items():
        if column in table:
            rows[label] = [fmt.format(v / scale) for v in table[column]]
    rows["DORA cluster (2019)"] = list(table["dora_cluster"])
    return pd.DataFrame(rows, index=table.index).T.to_string()


GROWTH_COLUMNS = {
    "operators": ("team", 1.0, "{:.0f}"),
    "operator_utilisation": ("operators busy", 0.01, "{:.0f}%"),
    "lead_time_median_s": ("lead p50 (h)", 3600.0, "{:.1f}"),
    "availability": ("availability", 0.01, "{:.3f}%"),
    "pages_per_week": ("pages/week", 1.0, "{:.1f}"),
    "incident_hours_per_week": ("incident h/week", 1.0, "{:.1f}"),
    "cost_per_service_per_week_usd": ("$/service/week", 1.0, "{:,.0f}"),
}
"""Columns of the printed growth table: (label, unit divisor, format); the serving ones only
when the sweep measured them (the one world)."""


def printable_growth(sweep: pd.DataFrame) -> str:
    """The growth sweep as text, one row per era and number of services."""
    rows = {"era": list(sweep["era"]), "services": [f"{n:,}" for n in sweep["services"]]}
    for column, (label, scale, fmt) in GROWTH_COLUMNS.items():
        if column in sweep and sweep[column].notna().any():
            rows[label] = [
                fmt.format(v / scale) if v == v else "-" for v in sweep[column].astype(float)
            ]
    return pd.DataFrame(rows).to_string(index=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/eras"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--points", type=int, help="service counts in the growth sweep (default 4; 6 delivery-only)"
    )
    parser.add_argument(
        "--horizon",
        help=f"horizon of each growth run (default {ONE_WORLD_HORIZON}; 4w delivery-only)",
    )
    parser.add_argument(
        "--most", type=int, default=1000, help="the largest fleet of the growth sweep"
    )
    parser.add_argument(
        "--delivery-only",
        action="store_true",
        help="grow the delivery model alone (no requests served: faster, no serving columns)",
    )
    parser.add_argument(
        "--services", type=int, default=COMMON_SERVICES, help="services every era deploys"
    )
    parser.add_argument("--jobs", type=int, default=1, help="local worker processes")
    parser.add_argument(
        "--assumptions",
        action="store_true",
        help="also re-run the eras with each assumed knob moved (ASSUMPTIONS: 9 runs of 3 eras)",
    )
    args = parser.parse_args(argv)

    from ..plots.delivery import (
        era_comparison,
        growth_curves,
        lead_time_distribution,
        operator_time,
    )
    from ..plots.theme import save_figure

    began = time.perf_counter()
    results = run_eras(seed=args.seed, services=args.services, jobs=args.jobs)
    table = era_table(results)
    sweep = flagship_growth(
        [ERAS_DIR / f"{era}.yaml" for era in ERAS],
        args.points,
        args.horizon,
        seed=args.seed,
        jobs=args.jobs,
        delivery_only=args.delivery_only,
        most=args.most,
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
    delivery = workload.delivery
    assert delivery is not None  # every era is a scenario of the delivery model
    print(
        f"Three eras, {delivery.services} services, "
        f"{delivery.change_rate:g} changes/service/working day, "
        f"{(workload.horizon - workload.warmup) / 604800:g} measured weeks, seed {args.seed}"
    )
    print("Serving (analytic fidelity over the whole horizon):")
    for era, result in results.items():
        print(f"  {era}: {serving_description(result.scenario)}")
    print(printable(table))
    grid = sensitivity(table, PRICE_GRID_DOWNTIME, PRICE_GRID_DELAY)
    grid.to_csv(out / "cheapest-by-prices.csv")
    prices = delivery.prices
    print(
        f"\nThe cheapest era once downtime and waiting are priced (the presets: "
        f"${prices.downtime:,.0f} per hour of downtime, ${prices.delay:g} per change-hour):"
    )
    print(grid.to_string())
    if args.assumptions:
        moved = assumption_sensitivity(seed=args.seed, services=args.services, jobs=args.jobs)
        moved.to_csv(out / "assumptions.csv")
        print("\nThe eras with one assumption moved at a time:")
        print(printable_assumptions(moved))
    kind = "the delivery model alone" if args.delivery_only else "every service serving requests"
    print(f"\nGrowth, {kind}:")
    print(printable_growth(sweep))
    print("\nWhere the operators' queue breaks (expected utilisation reaches 1):")
    print(breaks.round(1).to_string())
    print(f"\nCharts and tables in {out}/ ({len(written)} chart files)")
    print(f"Run time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
