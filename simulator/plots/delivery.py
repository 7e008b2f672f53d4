"""Charts of the delivery model: the flow of changes, lead times, operator time, growth.

fig = cumulative_flow(result)                      # committed, approved, deployed
fig = lead_time_distribution({"sysadmin": r1, "sre": r3})
fig = operator_time({"sysadmin": r1, "sre": r3})
fig = growth_curves(sweep)                          # simulator.experiments.growth
fig = era_comparison(table)                         # simulator.experiments.eras
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..metrics.delivery import hours_in_window, lead_times
from ..scenario.calendar import Calendar
from ..scenario.units import DAY, HOUR, WEEK
from .common import empty_note, new_figure, theme_if
from .theme import PALETTE

if TYPE_CHECKING:
    from ..results import Result

KINDS = ("deploy", "incident", "toil")
KIND_LABELS = {
    "deploy": "manual deploys",
    "incident": "incidents",
    "toil": "toil",
    "project": "project work",
}


def has_delivery(result: Result) -> bool:
    """Whether a run carried the delivery model (its tables are present)."""
    return "delivery_timeseries" in result.tables


def cumulative_flow(result: Result) -> Figure:
    """Changes committed, approved and in production over time: the vertical gap is the work
    in flight, the horizontal gap the lead time. A rollback takes its release's changes out
    of production (and out of approved), so those two lines step down when one happens."""
    with theme_if(True):
        fig = new_figure()
        ax = fig.subplots()
        series = result.tables["delivery_timeseries"]
        days = series["time"] / DAY
        for column, colour, label in (
            ("committed", PALETTE[0], "committed"),
            ("approved", PALETTE[1], "approved"),
            ("deployed", PALETTE[2], "in production"),
        ):
            ax.plot(days, series[column], color=colour, label=label)
        ax.fill_between(days, series["deployed"], series["committed"], color=PALETTE[0], alpha=0.1)
        ax.set_xlabel("days")
        ax.set_ylabel("changes (cumulative)")
        ax.set_title(f"Cumulative flow of changes: {result.scenario.name}")
        ax.legend(loc="upper left")
    return fig


def lead_time_distribution(results: Mapping[str, Result]) -> Figure:
    """The distribution (ECDF) of commit-to-production time, one line per run, log scale."""
    with theme_if(True):
        fig = new_figure()
        ax = fig.subplots()
        drawn = False
        for index, (name, result) in enumerate(results.items()):
            scenario = result.scenario
            lead = np.sort(lead_times(result.tables["changes"], scenario.warmup, scenario.horizon))
            if len(lead) == 0:
                continue
            hours = lead / HOUR
            share = np.arange(1, len(hours) + 1) / len(hours)
            ax.step(hours, share, where="post", color=PALETTE[index % len(PALETTE)], label=name)
            drawn = True
        if drawn:
            ax.set_xscale("log")
            for value, label in ((1, "1 hour"), (24, "1 day"), (168, "1 week"), (720, "1 month")):
                ax.axvline(value, color="#999999", lw=1, ls=":")
                ax.text(value, 0.02, f" {label}", color="#666666", fontsize=13)
            ax.legend(loc="center right")
        else:
            empty_note(ax, "no change reached production")
        ax.set_xlabel("lead time for changes, commit to production (hours)")
        ax.set_ylabel("share of changes")
        ax.set_title("Lead time for changes")
    return fig


def operator_hours(result: Result) -> dict[str, float]:
    """Operator hours per week by kind of work, with the rest of the team's working hours
    as project work (none when overtime and on-call exceed it). From the run's
    `operator_work` table and its scenario's working hours."""
    scenario = result.scenario
    start, end = scenario.warmup, scenario.horizon
    work = result.tables["operator_work"]
    hours = hours_in_window(work, start, end)
    weeks = (end - start) / WEEK
    by_kind = hours.groupby(work["kind"]).sum() if not work.empty else pd.Series(dtype=float)
    out = {kind: float(by_kind.get(kind, 0.0)) / weeks for kind in KINDS}
    team = (
        scenario.organisation.operators
        * Calendar.from_organisation(scenario.organisation).working_seconds(start, end)
        / HOUR
        / weeks
    )
    out["project"] = max(0.0, team - sum(out.values()))
    return out


def operator_time(results: Mapping[str, Result]) -> Figure:
    """Stacked operator hours per week by kind of work, one bar per run."""
    with theme_if(True):
        fig = new_figure()
        ax = fig.subplots()
        names = list(results)
        rows = [operator_hours(results[name]) for name in names]
        bottom = np.zeros(len(names))
        for index, kind in enumerate((*KINDS, "project")):
            values = np.array([row[kind] for row in rows])
            colour = "#DDDDDD" if kind == "project" else PALETTE[index]
            ax.bar(names, values, bottom=bottom, color=colour, label=KIND_LABELS[kind])
            bottom += values
        ax.set_ylabel("operator hours per week")
        ax.set_title("What the operators spend their week on")
        fig.legend(loc="outside right upper")
    return fig


def growth_curves(sweep: pd.DataFrame) -> Figure:
    """Lead time, operator utilisation and cost per service against the number of
    services, one line per era, with a dotted line where each era's operator queue breaks
    (expected utilisation 1) and, for automated delivery, a dash-dotted one where its CI
    runners saturate during working hours."""
    with theme_if(True):
        fig = new_figure()
        axes = fig.subplots(1, 3)
        fig.suptitle("Growing from one service to a thousand", x=0.01, ha="left")
        for index, (era, rows) in enumerate(sweep.groupby("era", sort=False)):
            rows = rows.sort_values("services")
            colour = PALETTE[index % len(PALETTE)]
            axes[0].plot(rows["services"], rows["lead_time_median_s"] / HOUR, "o-", color=colour,
                         label=era)  # fmt: skip
            axes[1].plot(rows["services"], rows["utilisation_expected"], "--", color=colour)
            axes[1].plot(rows["services"], rows["operator_utilisation"], "o", color=colour)
            axes[2].plot(rows["services"], rows["cost_per_service_per_week_usd"], "o-",
                         color=colour)  # fmt: skip
            limit = float(rows["break_services"].iloc[0])
            if np.isfinite(limit) and limit <= rows["services"].max():
                for ax in axes:
                    ax.axvline(limit, color=colour, ls=":", lw=2)
            ci = float(rows["ci_break_services"].iloc[0]) if "ci_break_services" in rows else np.inf
            if np.isfinite(ci) and ci <= rows["services"].max():
                axes[0].axvline(ci, color=colour, ls="-.", lw=2)
                where = ("data", "axes fraction")
                axes[0].annotate(
                    " CI runners\n saturate", (ci, 0.5), xycoords=where, color=colour, fontsize=13
                )
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlabel("services")
        axes[0].set_yscale("log")
        axes[0].set_ylabel("median lead time (hours)")
        axes[0].legend(loc="upper left")
        axes[1].axhline(1.0, color="#999999", lw=1)
        axes[1].set_ylim(0, 1.6)  # beyond 1 the queue only grows: no need to draw how far
        axes[1].set_ylabel("operator utilisation")
        axes[1].set_title("dots: simulated, dashed: expected", fontsize=14)
        axes[2].set_yscale("log")
        axes[2].set_ylabel("cost per service per week ($)")
    return fig


ERA_PANELS = (
    ("deploys_per_service_per_day", "deploys per service\nper day", 1.0, False),
    ("lead_time_median_s", "median lead time\n(hours, log scale)", HOUR, True),
    ("change_failure_rate", "change failure rate\n(%)", 0.01, False),
    ("mttr_median_s", "median time to restore\n(hours)", HOUR, False),
    ("cost_per_week_usd", "cost per week ($):\npeople (light), infrastructure", 1.0, False),
    ("infrastructure_per_week_usd", "infrastructure per week ($):\nserving nodes, CI (light)",
     1.0, False),
    ("latency_p99_s", "p99 latency of the requests\nthat succeed (ms)", 1e-3, False),
    ("availability_overall", "availability (%):\nserved in time × no incident", 0.01,
     False),
)  # fmt: skip
"""(KPI, panel title, unit divisor, log scale) of the era comparison."""


def era_comparison(table: pd.DataFrame) -> Figure:
    """Eight panels of bars, one bar per era: deploy throughput, lead time, change failure
    rate, time to restore, cost per week (people and infrastructure stacked), the
    infrastructure alone (serving nodes and CI stacked), the request workload's p99
    latency and its availability (served within the timeout, while no incident is open).
    `table` has one row per era (index) and the columns of
    `simulator.experiments.eras.era_table`."""
    with theme_if(True):
        fig = new_figure()
        fig.set_size_inches(20, 9)  # eight panels: wider than the theme's slide size
        axes = fig.subplots(2, 4).ravel()
        fig.suptitle("Sysadmin → DevOps → SRE on the same workload", x=0.01, ha="left")
        names = table.index.astype(str)
        colours = [PALETTE[i % len(PALETTE)] for i in range(len(table))]
        for ax, (column, label, scale, log) in zip(axes, ERA_PANELS, strict=True):
            ax.set_title(label, fontsize=15)
            ax.tick_params(axis="x", labelsize=14)
            if column not in table or table[column].isna().all():
                empty_note(ax, "not measured")
                continue
            if column == "cost_per_week_usd" and "people_per_week_usd" in table:
                people = table["people_per_week_usd"]
                ax.bar(names, people, color=colours, alpha=0.45)
                ax.bar(names, table[column] - people, bottom=people, color=colours)
                continue
            if column == "infrastructure_per_week_usd" and "serving_per_week_usd" in table:
                serving = table["serving_per_week_usd"]
                ax.bar(names, serving, color=colours)
                ax.bar(names, table[column] - serving, bottom=serving, color=colours, alpha=0.45)
                continue
            values = table[column] / scale
            ax.bar(names, values, color=colours)
            if log:
                ax.set_yscale("log")
            if column == "availability_overall":
                low = float(np.nanmin(values))
                ax.set_ylim(max(0.0, low - (100 - low) * 0.5), 100)
    return fig
