"""Charts of the delivery model: the flow of changes, lead times, operator time, growth.

fig = cumulative_flow(result)                      # committed, approved, deployed
fig = lead_time_distribution({"sysadmin": r1, "sre": r3})
fig = operator_time({"sysadmin": r1, "sre": r3})
fig = growth_curves(sweep)                          # simulator.experiments.growth
fig = era_comparison(table)                         # simulator.experiments.eras
fig = value_stream({"sysadmin": r1, "sre": r3})    # where a change's time goes, stacked
fig = incident_timeline_chart(result)              # each incident's phases
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from ..metrics.delivery import STAGE_COLUMNS, TIMELINE_PHASES, hours_in_window, lead_times
from ..records.delivery import STAGES
from ..scenario.calendar import Calendar
from ..scenario.units import DAY, HOUR, WEEK
from .common import empty_note, new_figure, theme_if
from .data import time_unit
from .theme import OKABE_ITO, PALETTE

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


def _cumulative(times: pd.Series, grid: np.ndarray) -> np.ndarray:
    """How many of `times` (NaN: never) fall at or before each point of `grid`."""
    done = np.sort(times.dropna().to_numpy(dtype=float))
    return np.searchsorted(done, grid, side="right")


FLOW_LINES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("committed", "committed", {"linewidth": 7, "alpha": 0.35}),
    ("approved", "approved (latest approval)", {"linewidth": 3, "linestyle": "--"}),
    ("deployed", "in production (counted from its last deploy)", {"linewidth": 2}),
)
"""Column of the `changes` table, legend name and style of each cumulative-flow line: wide,
dashed and thin, so that lines lying on top of each other stay visible."""


def cumulative_flow(result: Result) -> Figure:
    """Changes committed, approved and in production over time: the vertical gap is the work
    in flight, the horizontal gap the lead time. Each change counts from its latest approval
    and its last deploy (a change that was rolled back and shipped again counts once, when it
    went out for good), so no line ever steps down; the rollbacks are marked on their own."""
    with theme_if(True):
        fig = new_figure()
        ax = fig.subplots()
        changes = result.tables["changes"]
        horizon = result.scenario.horizon
        grid = np.union1d(
            np.linspace(0.0, horizon, 2000),
            changes[["committed", "approved", "deployed"]].stack().to_numpy(dtype=float),
        )
        grid = grid[(grid >= 0) & (grid <= horizon)]
        days = grid / DAY
        counts = {column: _cumulative(changes[column], grid) for column, _, _ in FLOW_LINES}
        for index, (column, label, style) in enumerate(FLOW_LINES):
            ax.step(days, counts[column], where="post", color=PALETTE[index], label=label,
                    **style)  # fmt: skip
        lead = lead_times(changes, result.scenario.warmup, horizon)
        gap = f"; median lead time {_hours(float(np.median(lead)) / HOUR)}" if lead.size else ""
        ax.fill_between(
            days, counts["deployed"], counts["committed"], step="post", color=PALETTE[0],
            alpha=0.1, label=f"in flight (committed, not in production){gap}",
        )  # fmt: skip
        deploys = result.tables["deploys"]
        finished = deploys.loc[deploys["outcome"] == "rollback", "finished"].dropna()
        rollbacks = finished[finished <= horizon].to_numpy(dtype=float)
        if rollbacks.size:
            at = counts["deployed"][np.searchsorted(grid, rollbacks, side="right") - 1]
            ax.plot(
                rollbacks / DAY, at, linestyle="none", marker="v", markersize=11,
                color=OKABE_ITO["vermillion"],
                label=f"rollback ({rollbacks.size}): its release leaves production",
            )  # fmt: skip
        ax.set_xlabel("time since the start of the run (days)")
        ax.set_ylabel("changes (cumulative count)")
        ax.set_title(f"Cumulative flow of changes: {result.scenario.name}")
        ax.legend(loc="upper left")
    return fig


LINE_STYLES = ("-", "--", ":", "-.")
"""One style per run (with a width that shrinks), so runs whose lines coincide stay visible."""


def lead_time_distribution(results: Mapping[str, Result]) -> Figure:
    """The distribution (ECDF) of commit-to-production time, one line per run, log scale;
    each run's median in its legend entry."""
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
            ax.step(
                hours, share, where="post", color=PALETTE[index % len(PALETTE)],
                linestyle=LINE_STYLES[index % len(LINE_STYLES)],
                linewidth=max(1.5, 4.5 - 1.5 * index),
                label=f"{name} (median {_hours(float(np.median(hours)))})",
            )  # fmt: skip
            drawn = True
        if drawn:
            ax.set_xscale("log")
            for value, label in ((1, "1 hour"), (24, "1 day"), (168, "1 week"), (720, "1 month")):
                ax.axvline(value, color="#999999", lw=1, ls=":")
                ax.text(value, 0.02, f" {label}", color="#666666", fontsize=13)
            ax.legend(loc="best")
        else:
            empty_note(ax, "no change reached production")
        ax.set_xlabel("lead time for changes, commit to production (hours)")
        ax.set_ylabel("share of changes in production within it")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
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
        axes[1].set_ylabel("operator utilisation ρ")
        axes[1].set_title("dots: simulated, dashed: expected", fontsize=14)
        grey = "#444444"
        axes[1].legend(
            handles=[
                Line2D([], [], color=grey, marker="o", linestyle="none", label="simulated"),
                Line2D([], [], color=grey, linestyle="--", label="expected"),
                Line2D([], [], color=grey, linestyle=":", lw=2, label="break point (ρ = 1)"),
            ],
            loc="upper left",
            fontsize=13,
        )
        axes[2].set_yscale("log")
        axes[2].set_ylabel("cost per service per week ($)")
    return fig


ERA_PANELS = (
    ("deploys_per_service_per_day", "deploys per service\nper day", 1.0, False),
    ("lead_time_median_s", "median lead time\n(hours, log scale)", HOUR, True),
    ("change_failure_rate", "change failure rate\n(%)", 0.01, False),
    ("mttr_median_s", "median time to\nrestore (hours)", HOUR, False),
    ("cost_per_week_usd", "cost per week ($):\npeople (light),\ninfrastructure", 1.0, False),
    ("infrastructure_per_week_usd", "infrastructure per\nweek ($): nodes,\nCI (light)",
     1.0, False),
    ("latency_p99_s", "p99 latency of the\nrequests that\nsucceed (ms)", 1e-3, False),
    ("availability_overall", "availability (%):\nrequests served\nin time", 0.01,
     False),
)  # fmt: skip
"""(KPI, panel title, unit divisor, log scale) of the era comparison."""


def era_comparison(table: pd.DataFrame) -> Figure:
    """Eight panels of bars, one bar per era: deploy throughput, lead time, change failure
    rate, time to restore, cost per week (people and infrastructure stacked), the
    infrastructure alone (serving nodes and CI stacked), the request workload's p99
    latency and its availability (what customers saw: requests served within the timeout).
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
            ax.set_title(label, fontsize=13)  # short lines: a slide of 1280 × 720 px too
            ax.tick_params(axis="x", labelsize=12)
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


# -- where the time goes ----------------------------------------------------------------------

STAGE_LABELS: dict[str, str] = {
    "release_batch": "waiting for the release",
    "change_board": "change board",
    "operators_queue": "operators' queue",
    "outside_hours": "outside working hours",
    "ci_queue": "CI queue",
    "build_test": "build and test",
    "preview": "preview environment",
    "freeze": "error-budget freeze",
    "canary": "canary analysis",
    "rollout": "rollout",
    "rework": "rework after a failure",
}
"""The legend's name of each stage of `simulator.records.delivery.STAGES`."""

STAGE_COLOURS: dict[str, str] = {
    "release_batch": OKABE_ITO["blue"],
    "change_board": OKABE_ITO["reddish purple"],
    "operators_queue": OKABE_ITO["vermillion"],
    "outside_hours": "#BBBBBB",
    "ci_queue": OKABE_ITO["sky blue"],
    "build_test": OKABE_ITO["bluish green"],
    "preview": OKABE_ITO["yellow"],
    "freeze": OKABE_ITO["black"],
    "canary": OKABE_ITO["orange"],
    "rollout": "#332288",
    "rework": "#882255",
}
"""Eleven stages need more than Okabe–Ito's eight: Paul Tol's indigo and wine (also safe for
colour-blind readers) and a light grey for the nights, which are nobody's work."""


def mean_stage_hours(result: Result) -> pd.Series:
    """Mean hours per change in each stage (STAGES order), over the changes committed in
    the measured period that reached production, the changes DORA's lead time counts: the
    stages sum to `lead_time_mean_s`."""
    scenario = result.scenario
    table = result.tables["lead_time_breakdown"]
    keep = (table["committed"] >= scenario.warmup) & (table["committed"] < scenario.horizon)
    measured = table[keep]
    if measured.empty:
        return pd.Series(np.nan, index=list(STAGES))
    means = measured[list(STAGE_COLUMNS)].mean() / HOUR
    means.index = list(STAGES)
    return means


def value_stream(results: Mapping[str, Result]) -> Figure:
    """Where a change's time goes, one stacked bar per run (an era, a scenario): on the
    left the mean hours per change in each stage (the bar's length is the mean lead time),
    on the right the same as shares of the lead time, so that a run of minutes still shows
    its make-up beside a run of weeks. Only stages some run spends time in are drawn, each
    named in the legend."""
    with theme_if(True):
        fig = new_figure()
        hours_ax, share_ax = fig.subplots(1, 2, sharey=True)
        names = list(results)
        means = pd.DataFrame({name: mean_stage_hours(results[name]) for name in names}).T
        counts = {name: _measured_changes(results[name]) for name in names}
        drawn = [stage for stage in STAGES if (means[stage].fillna(0.0) > 0).any()]
        totals = means.sum(axis=1, min_count=1)
        y = np.arange(len(names))
        left_hours = np.zeros(len(names))
        left_share = np.zeros(len(names))
        for stage in drawn:
            hours = means[stage].fillna(0.0).to_numpy()
            share = np.divide(
                100 * hours, totals.to_numpy(), out=np.zeros(len(names)), where=totals > 0
            )
            colour, label = STAGE_COLOURS[stage], STAGE_LABELS[stage]
            hours_ax.barh(y, hours, left=left_hours, color=colour, label=label)
            share_ax.barh(y, share, left=left_share, color=colour)
            left_hours += hours
            left_share += share
        for index, name in enumerate(names):
            total = totals.iloc[index]
            text = "no change reached production" if np.isnan(total) else _hours(total)
            hours_ax.annotate(
                f" {text} (n = {counts[name]})",
                (left_hours[index], index),
                va="center",
                fontsize=14,
            )
        if not drawn:
            empty_note(hours_ax, "no change reached production")
        hours_ax.set_yticks(y, names)
        hours_ax.invert_yaxis()
        hours_ax.set_xlabel("mean hours per change")
        hours_ax.set_xlim(0, max(1.0, float(np.nanmax(left_hours, initial=0.0))) * 1.35)
        share_ax.set_xlabel("share of the lead time (%)")
        share_ax.set_xlim(0, 100)
        fig.suptitle("Where a change's time goes, commit to production", x=0.01, ha="left")
        if drawn:
            fig.legend(loc="outside lower center", ncols=min(4, len(drawn)))
    return fig


def _measured_changes(result: Result) -> int:
    scenario = result.scenario
    committed = result.tables["lead_time_breakdown"]["committed"]
    return int(((committed >= scenario.warmup) & (committed < scenario.horizon)).sum())


def _hours(hours: float) -> str:
    if hours >= 48:
        return f"{hours / 24:.1f} d"
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.0f} min"


PHASE_LABELS = {
    "detection": "detection (start to alert or report)",
    "response": "response (to the responder taking it up)",
    "diagnosis": "diagnosis",
    "remediation": "remediation (to service restored)",
}
PHASE_COLOURS = {
    "detection": OKABE_ITO["vermillion"],
    "response": OKABE_ITO["orange"],
    "diagnosis": OKABE_ITO["sky blue"],
    "remediation": OKABE_ITO["bluish green"],
}


def incident_timeline_chart(result: Result, limit: int = 30) -> Figure:
    """One line per incident that started in the measured period, its time to restore split
    into detection, response, diagnosis and remediation (hours or minutes since it
    started); an incident still open at the horizon is drawn to the horizon, hatched. With
    more than `limit` incidents, the `limit` longest are drawn, in order of start."""
    with theme_if(True):
        fig = new_figure()
        ax = fig.subplots()
        scenario = result.scenario
        timeline = result.tables["incident_timeline"]
        measured = timeline[
            (timeline["started"] >= scenario.warmup) & (timeline["started"] < scenario.horizon)
        ]
        lasted = measured["resolved"].fillna(scenario.horizon) - measured["started"]
        shown = measured.loc[lasted.sort_values(ascending=False).index[:limit]]
        shown = shown.sort_values("started")
        title = f"Incidents of {scenario.name}: where the time to restore goes"
        if len(shown) < len(measured):
            title += f" (the {len(shown)} longest of {len(measured)})"
        fig.suptitle(title, x=0.01, ha="left", fontsize=22)
        if shown.empty:
            empty_note(ax, "no incident in the measured period")
            ax.set_xlabel("time since the incident started (h)")
            return fig
        longest = float((shown["resolved"].fillna(scenario.horizon) - shown["started"]).max())
        unit, seconds = time_unit(longest)
        unit, seconds = ("h", HOUR) if unit == "d" else (unit, seconds)
        y = np.arange(len(shown))
        left = np.zeros(len(shown))
        for phase in TIMELINE_PHASES:
            width = shown[f"{phase}_s"].fillna(0.0).to_numpy() / seconds
            if not (width > 0).any():
                continue  # the pipeline's own rollbacks: no response, no diagnosis
            ax.barh(y, width, left=left, color=PHASE_COLOURS[phase], label=PHASE_LABELS[phase])
            left += width
        open_now = shown["resolved"].isna().to_numpy()
        if open_now.any():
            rest = (scenario.horizon - shown["started"].to_numpy()) / seconds - left
            ax.barh(
                y[open_now],
                rest[open_now],
                left=left[open_now],
                color="white",
                edgecolor="#666666",
                hatch="//",
                label="still open at the horizon",
            )
        first_bad = (shown["first_bad_request"] - shown["started"]).to_numpy() / seconds
        if np.isfinite(first_bad).any():
            ax.plot(first_bad, y, "k|", markersize=16, label="first failed request")
        labels = [
            f"#{incident} {_when(started)}, svc {service} {cause.replace('-', ' ')}: "
            f"{source or '?'} → {who or 'nobody'}"
            for incident, started, service, cause, source, who in zip(
                shown["incident"].astype(int).tolist(),
                shown["started"].astype(float).tolist(),
                shown["service"].astype(int).tolist(),
                shown["cause"].astype(str).tolist(),
                shown["source"].astype(str).tolist(),
                shown["responder"].astype(str).tolist(),
                strict=True,
            )
        ]
        ax.set_yticks(y, labels, fontsize=max(8, 15 - len(shown) // 4))
        ax.invert_yaxis()
        ax.set_xlabel(f"time since the incident started ({unit})")
        handles, names = ax.get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=min(3, len(names)))
    return fig


def _when(t: float) -> str:
    """Day and hour of the week a time falls on: "week 2 Tue 10:14"."""
    day = int(t // DAY)
    minutes = int((t - day * DAY) // 60)
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day % 7]
    return f"week {day // 7 + 1} {weekday} {minutes // 60:02d}:{minutes % 60:02d}"
