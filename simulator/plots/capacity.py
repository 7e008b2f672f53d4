"""Capacity and cost over time: what the autoscaler ran, how late, and what it cost.

`capacity_over_time(result)` shows the traffic against what the serving replicas can take
(one scale, requests per second), then replicas per service and nodes, so the autoscaler's
lag is visible; `cost_over_time(results)` shows the spend rate of
one or several runs, split into the nodes a run always had and the nodes the autoscaler
added.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .common import (
    NOTE_COLOUR,
    empty_note,
    legend_columns,
    legend_width_in,
    new_figure,
    root_figure,
    theme_if,
)
from .data import format_seconds, service_colours, service_names, time_unit
from .theme import OKABE_ITO

if TYPE_CHECKING:
    from ..results import Result

TRAFFIC_COLOUR = "#BBBBBB"
BASELINE_COLOUR = OKABE_ITO["blue"]
EXTRA_COLOUR = OKABE_ITO["orange"]
NODES_COLOUR = "#333333"
BOOT_COLOUR = OKABE_ITO["sky blue"]
CAPACITY_COLOUR = OKABE_ITO["vermillion"]
TRAFFIC_BINS = 120
"""The traffic behind the capacity is counted in this many windows..."""
MIN_PER_BIN = 50
"""...unless that leaves fewer requests than this in a window on average."""


# ------------------------------------------------------------------------------ cost


def cost_over_time(
    results: Result | Mapping[str, Result],
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """Spend rate ($/h) over the measured period: one panel per run, stacked areas of the
    nodes the run always had (its fewest nodes) and the nodes the autoscaler added on top.

    `results` is one Result, or a dict of label → Result to compare runs (panels share their
    axes, so the areas compare at a glance). Each panel names the run's cost over the measured
    period and its average node count; the right-hand axis counts nodes. Runs without priced
    nodes (no `cluster:`) say so instead. `ax`: one Axes per run.
    """
    runs = _runs(results)
    own_figure = ax is None
    with theme_if(own_figure):
        if ax is None:
            fig = new_figure()
            axes = list(np.atleast_1d(fig.subplots(max(1, len(runs)), 1, sharex=True, sharey=True)))
        else:
            axes = [ax] if isinstance(ax, Axes) else list(ax)
            if len(axes) != max(1, len(runs)):
                raise ValueError(
                    f"expected {max(1, len(runs))} Axes (one per run), got {len(axes)}"
                )
            fig = root_figure(axes[0])
        _draw_costs(fig, axes, runs, own_figure)
    return fig


def _runs(results: Result | Mapping[str, Result]) -> list[tuple[str, Result]]:
    if isinstance(results, Mapping):
        return [(str(label), result) for label, result in results.items()]
    return [(results.scenario.name, results)]


def nodes_over_time(result: Result) -> pd.DataFrame:
    """Nodes billed (booting ones included) at each change, from warm-up to the horizon.

    The `costs` table samples the node count; the node autoscaler's rows of the `scaling`
    table give the exact instants of its changes, so they are used when they agree with every
    sample (a sample taken at the instant of a change may see either side of it). Empty
    without samples.
    """
    costs = result.tables.get("costs")
    if costs is None or costs.empty:
        return pd.DataFrame(columns=["time", "nodes"])
    costs = costs.sort_values("time", kind="stable")
    time = costs["time"].to_numpy(dtype=float)
    nodes = costs["nodes"].to_numpy(dtype=float)
    exact = _nodes_from_scaling(result, time, nodes)
    if exact is not None:
        time, nodes = exact
    horizon = float(result.scenario.horizon)
    if time[-1] < horizon:  # the last level holds to the end of the run
        time, nodes = np.append(time, horizon), np.append(nodes, nodes[-1])
    keep = np.ones(time.size, dtype=bool)  # change points only: the same steps, fewer points
    keep[1:-1] = nodes[1:-1] != nodes[:-2]
    return pd.DataFrame({"time": time[keep], "nodes": nodes[keep]})


def _nodes_from_scaling(
    result: Result, time: np.ndarray, nodes: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The node count at each sample and at each change in between, from the `scaling`
    table; None without node decisions or when they disagree with the samples."""
    changes = _decisions(result, "nodes")
    if changes.empty:
        return None
    when = changes["time"].to_numpy(dtype=float)
    levels = np.concatenate(  # before the first change, then after each
        [changes["from"].to_numpy(dtype=float)[:1], changes["to"].to_numpy(dtype=float)]
    )
    after = levels[np.searchsorted(when, time, side="right")]  # changes at a sample's instant: in
    before = levels[np.searchsorted(when, time, side="left")]  # ...or not yet
    if not np.all((after == nodes) | (before == nodes)):
        return None
    inside = (when > time[0]) & (when <= time[-1])
    return (
        np.concatenate([[time[0]], when[inside], [time[-1]]]),
        np.concatenate([[after[0]], levels[1:][inside], [after[-1]]]),
    )


def _decisions(result: Result, kind: str, target: str | None = None) -> pd.DataFrame:
    """The autoscalers' decisions of one kind ("replicas" or "nodes"), optionally on one
    target, in time order, from the `scaling` table (empty when the run has none)."""
    scaling = result.tables.get("scaling")
    if scaling is None or scaling.empty:
        return pd.DataFrame(columns=["time", "target", "kind", "from", "to", "reason"])
    mine = scaling["kind"].astype(str) == kind
    if target is not None:
        mine &= scaling["target"].astype(str) == target
    return scaling[mine].sort_values("time", kind="stable")


def spend_by_kind(result: Result) -> pd.DataFrame | None:
    """The spend rate at each change of the node count: time, nodes, baseline and extra $/h.

    The baseline is the fewest nodes of the measured period; the extra is what is above it.
    None when the run has no priced nodes or no samples after warm-up.
    """
    costs = result.tables.get("costs")
    if costs is None or costs.empty:
        return None
    nodes = costs["nodes"].to_numpy(dtype=float)
    rate = costs["cost_usd_per_hour"].to_numpy(dtype=float)
    priced = np.isfinite(rate) & (nodes > 0)
    if not priced.any():
        return None
    price = float(np.median(rate[priced] / nodes[priced]))
    steps = nodes_over_time(result)
    time, nodes = steps["time"].to_numpy(dtype=float), steps["nodes"].to_numpy(dtype=float)
    least = float(nodes.min())
    return pd.DataFrame(
        {
            "time": time,
            "nodes": nodes,
            "baseline_usd_per_hour": least * price,
            "extra_usd_per_hour": (nodes - least) * price,
        }
    ).assign(price_usd_per_hour=price)


def _nodes_and_spend(price: float) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Spend rate ($/h) to nodes and back, at `price` $/h per node: the right-hand axis of a
    cost panel (matplotlib hands in scalars or arrays)."""
    return (lambda v: v / price, lambda n: n * price)


def _total_cost(result: Result, spend: pd.DataFrame) -> float:
    cost = result.summary.get("cost_usd", math.nan)
    if cost is not None and math.isfinite(cost):
        return float(cost)
    costs = result.tables["costs"]
    return float(costs["cost_usd_cumulative"].iloc[-1])


def _draw_costs(fig: Figure, axes: list[Axes], runs: list[tuple[str, Result]], own: bool) -> None:
    single = len(runs) == 1
    title = f"{runs[0][0]}: cost over time" if single else "Cost over time"
    if own:
        fig.suptitle(title, x=0.01, ha="left")
    if not runs:
        empty_note(axes[0], "no runs to show")
        return
    horizon = max(result.scenario.horizon for _, result in runs)
    warmup = min(result.scenario.warmup for _, result in runs)
    unit, seconds = time_unit(horizon)
    axes[-1].set_xlabel(f"simulated time ({unit})")
    highest = 0.0
    drawn = False
    for axis, (label, result) in zip(axes, runs, strict=True):
        axis.set_xlim(warmup / seconds, horizon / seconds)
        if not own or not single:
            axis.set_title(label, loc="left", fontsize="medium")
        axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:.2f}"))
        spend = spend_by_kind(result)
        if spend is None:
            costs = result.tables.get("costs")
            empty = costs is None or costs.empty
            empty_note(
                axis,
                "no samples after warm-up" if empty else "no priced nodes (no cluster: section)",
            )
            continue
        drawn = True
        x = spend["time"].to_numpy() / seconds
        base = spend["baseline_usd_per_hour"].to_numpy()
        top = base + spend["extra_usd_per_hour"].to_numpy()
        axis.fill_between(x, 0, base, step="post", color=BASELINE_COLOUR, alpha=0.85, lw=0)
        axis.fill_between(x, base, top, step="post", color=EXTRA_COLOUR, alpha=0.85, lw=0)
        axis.plot(x, top, drawstyle="steps-post", color=NODES_COLOUR, lw=1.5)
        highest = max(highest, float(top.max()))
        price = float(spend["price_usd_per_hour"].iloc[0])
        nodes_axis = axis.secondary_yaxis("right", functions=_nodes_and_spend(price))
        nodes_axis.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        nodes_axis.set_ylabel("nodes", color=NOTE_COLOUR, fontsize="small")
        nodes_axis.tick_params(axis="y", colors=NOTE_COLOUR)
        mean_nodes = result.summary.get("nodes_mean", math.nan)
        mean_text = f" · {mean_nodes:.2f} nodes on average" if math.isfinite(mean_nodes) else ""
        period = format_seconds(result.scenario.horizon - result.scenario.warmup)
        axis.text(
            0.99, 0.93, f"${_total_cost(result, spend):.2f} over {period}{mean_text}",
            transform=axis.transAxes, ha="right", va="top", fontsize="small",
            fontweight="bold", color="#222222",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 2},
        )  # fmt: skip
    if drawn:
        for axis in axes:
            axis.set_ylim(0, highest * 1.45 if highest > 0 else 1.0)
    ylabel = "spend rate ($/h)"
    if single or not own:
        for axis in axes:
            axis.set_ylabel(ylabel)
    else:
        fig.supylabel(ylabel, fontsize=20)
    if not drawn:
        return
    handles: list[Artist] = [
        Patch(color=BASELINE_COLOUR, alpha=0.85, label="nodes the run always had (its fewest)"),
        Patch(color=EXTRA_COLOUR, alpha=0.85, label="nodes added by the autoscaler"),
    ]
    labels = [str(h.get_label()) for h in handles]
    if own:
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
    else:
        axes[0].legend(handles, labels, loc="upper left", fontsize="small")


# ------------------------------------------------------------------------------ capacity


def capacity_over_time(
    result: Result,
    start: float | None = None,
    end: float | None = None,
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """Traffic against capacity (top), replicas per service (middle) and nodes (bottom).

    The top panel is in requests per second only: the traffic sent (grey, all entry points)
    and, for each entry-point service with a plain service time, the most its replicas can
    serve at 100% busy (replicas × concurrency / mean service time), so "capacity tracks
    traffic" is read off one scale, not two axes aligned by chance. The middle panel counts
    replicas: solid lines are the replicas taking traffic (the `timeseries` table), dashed
    ones the replicas the autoscaler had asked for (the `scaling` table); the gap between
    them is the autoscaler's lag. The bottom panel counts the nodes billed (booting ones
    included; see `nodes_over_time`), with a shaded span for each boot. `start` and `end`
    (seconds) zoom in; they default to the measured period. Without a `cluster:` there is
    no nodes panel. `ax`: two or three Axes (traffic, replicas, nodes).
    """
    scenario = result.scenario
    start = scenario.warmup if start is None else max(0.0, float(start))
    end = scenario.horizon if end is None else min(float(end), scenario.horizon)
    if not end > start:
        raise ValueError(f"expected end after start, got start={start:g} s, end={end:g} s")
    has_nodes = scenario.cluster is not None and result.tables.get("costs") is not None
    own_figure = ax is None
    with theme_if(own_figure):
        if ax is None:
            fig = new_figure()
            ratios = [1.3, 1.0, 0.8] if has_nodes else [1.0, 1.0]
            panels = list(
                fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
            )
        else:
            panels = [ax] if isinstance(ax, Axes) else list(ax)
            if not 2 <= len(panels) <= 3:
                raise ValueError(f"expected two or three Axes, got {len(panels)}")
            panels = panels[:3] if has_nodes else panels[:2]
            fig = root_figure(panels[0])
        load, replicas = panels[0], panels[1]
        nodes = panels[2] if len(panels) == 3 else None
        _draw_capacity(fig, load, replicas, nodes, result, start, end, own_figure)
    return fig


def requested_replicas(result: Result, service: str) -> pd.DataFrame:
    """Replicas the autoscaler asked for, from the `scaling` table: time and replicas after
    each decision, starting with the count before the first one at time 0. Empty without
    decisions on `service`."""
    mine = _decisions(result, "replicas", service)
    if mine.empty:
        return pd.DataFrame(columns=["time", "replicas"])
    times = mine["time"].to_numpy(dtype=float)
    before, after = mine["from"].to_numpy(dtype=int), mine["to"].to_numpy(dtype=int)
    return pd.DataFrame(
        {"time": np.concatenate([[0.0], times]), "replicas": np.concatenate([[before[0]], after])}
    )


def node_boots(result: Result) -> pd.DataFrame:
    """Node scale-ups from the `scaling` table: time asked for, time ready (after the boot
    time), nodes."""
    cluster = result.scenario.cluster
    ups = _decisions(result, "nodes")
    if cluster is None:
        return pd.DataFrame(columns=["time", "ready", "nodes"])
    ups = ups[ups["to"].to_numpy(dtype=float) > ups["from"].to_numpy(dtype=float)]
    counts = ups["to"].to_numpy(dtype=float) - ups["from"].to_numpy(dtype=float)
    boot = float(cluster.node_type_list()[0][1].boot_time)
    time = ups["time"].to_numpy(dtype=float)
    return pd.DataFrame({"time": time, "ready": time + boot, "nodes": counts})


def _traffic(result: Result, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Requests sent per second in windows of [start, end): (edges, rates)."""
    requests = result.tables.get("requests")
    arrival = np.empty(0) if requests is None else requests["arrival"].to_numpy(dtype=float)
    arrival = arrival[(arrival >= start) & (arrival < end)]
    period = end - start
    window = max(period / TRAFFIC_BINS, period * MIN_PER_BIN / max(arrival.size, 1))
    count = max(1, math.ceil(period / window - 1e-9))
    edges = np.linspace(start, end, count + 1)
    counts, _ = np.histogram(arrival, bins=edges)
    return edges, counts / np.diff(edges)


def _serving_capacity(result: Result, name: str) -> float | None:
    """Requests per second one replica of `name` serves at 100% busy, for an entry point
    with a plain service time; None otherwise (its load is not the traffic drawn)."""
    spec = result.scenario.services.get(name)
    if spec is None or name not in result.scenario.traffic or getattr(spec, "handler", None):
        return None
    mean = float(spec.service_time.mean_s)
    return spec.concurrency / mean if math.isfinite(mean) and mean > 0 else None


def _draw_capacity(
    fig: Figure,
    load: Axes,
    top: Axes,
    bottom: Axes | None,
    result: Result,
    start: float,
    end: float,
    own: bool,
) -> None:
    scenario = result.scenario
    unit, seconds = time_unit(end)
    title = f"{scenario.name}: capacity over time"
    if own:
        fig.suptitle(title, x=0.01, ha="left")
    else:
        load.set_title(title)
    panels = [axis for axis in (load, top, bottom) if axis is not None]
    panels[-1].set_xlabel(f"simulated time ({unit})")
    load.set_ylabel("requests/s")
    top.set_ylabel("replicas")
    for axis in panels:
        axis.set_xlim(start / seconds, end / seconds)
    for axis in panels[1:]:
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    handles: list[Artist] = []
    series = result.tables.get("timeseries")
    inside = (
        series[(series["time"] >= start) & (series["time"] <= end)]
        if series is not None
        else pd.DataFrame()
    )
    if inside.empty:
        empty_note(load, "no samples in this period")
        empty_note(top, "no samples in this period")
    else:
        edges, rates = _traffic(result, start, end)
        load.stairs(rates, edges / seconds, fill=True, color=TRAFFIC_COLOUR, alpha=0.6, lw=0)
        handles.append(Patch(color=TRAFFIC_COLOUR, alpha=0.6, label="requests sent per second"))
        highest_load = float(rates.max()) if rates.size else 0.0
        names = service_names(result)
        colours = service_colours(names)
        services = inside["service"].astype(str)
        highest = 1.0
        asked_any = False
        for name in (n for n in names if (services == n).any()):
            rows = inside[services == name].sort_values("time")
            x = rows["time"].to_numpy(dtype=float)
            replicas = rows["replicas"].to_numpy(dtype=float)
            top.plot(
                x / seconds, replicas, drawstyle="steps-post", color=colours[name], lw=3.2,
                label=f"{name}: replicas serving", zorder=3,
            )  # fmt: skip
            handles.append(top.lines[-1])
            highest = max(highest, float(replicas.max()))
            per_replica = _serving_capacity(result, name)
            if per_replica is not None:
                alone = len(scenario.traffic) == 1  # one line: a colour of its own
                (line,) = load.plot(
                    x / seconds, replicas * per_replica, drawstyle="steps-post",
                    color=CAPACITY_COLOUR if alone else colours[name], lw=2.6, zorder=3,
                    label=f"{name}: most the serving replicas can take (at 100% busy)",
                )  # fmt: skip
                handles.append(line)
                highest_load = max(highest_load, float((replicas * per_replica).max()))
            asked = requested_replicas(result, name)
            if not asked.empty:
                steps_t, steps_n = _clip_steps(
                    asked["time"].to_numpy(dtype=float),
                    asked["replicas"].to_numpy(dtype=float),
                    start,
                    end,
                )
                top.plot(
                    steps_t / seconds, steps_n, drawstyle="steps-post", color=colours[name],
                    lw=2.0, ls=(0, (3, 2)), zorder=4,
                )  # fmt: skip
                highest = max(highest, float(steps_n.max()))
                asked_any = True
        if asked_any:
            handles.append(
                Line2D([], [], color="#555555", lw=2.0, ls=(0, (3, 2)),
                       label="replicas asked for by the autoscaler")
            )  # fmt: skip
        top.set_ylim(0, highest * 1.2 + 0.5)
        load.set_ylim(0, highest_load * 1.15 if highest_load > 0 else 1.0)
    if bottom is not None:
        handles += _draw_nodes(bottom, result, start, end, seconds)
    fig.align_ylabels(panels)
    if not handles:
        return
    labels = [str(h.get_label()) for h in handles]
    if own:
        room = fig.get_figwidth() - 0.5
        columns = next(
            (n for n in range(len(labels), 1, -1)
             if legend_width_in(legend_columns(labels, n)) < room),
            1,
        )  # fmt: skip
        fig.legend(handles, labels, loc="outside lower center", ncols=columns)
    else:
        load.legend(handles, labels, loc="upper left", fontsize="small")


def _clip_steps(
    time: np.ndarray, values: np.ndarray, start: float, end: float
) -> tuple[np.ndarray, np.ndarray]:
    """A step function (each value holds from its time on) cut to [start, end], with a point
    at each end, to draw with steps-post."""
    first = max(int(np.searchsorted(time, start, side="right")) - 1, 0)  # the level at start
    within = (time > start) & (time < end)
    last = values[within][-1] if within.any() else values[first]
    return (
        np.concatenate([[max(start, time[0])], time[within], [end]]),
        np.concatenate([[values[first]], values[within], [last]]),
    )


def _union(starts: np.ndarray, ends: np.ndarray) -> list[tuple[float, float]]:
    """Overlapping intervals merged, so that spans shade evenly however many overlap."""
    merged: list[tuple[float, float]] = []
    for begin, finish in sorted(zip(starts.tolist(), ends.tolist(), strict=True)):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def _duration(seconds: float) -> str:
    """'90 s', '5 min', '1.50 h': whole minutes as minutes, else whole seconds as seconds."""
    if 120 <= seconds < 3600 and float(seconds / 60).is_integer():
        return f"{seconds / 60:.0f} min"
    if seconds < 600 and float(seconds).is_integer():
        return f"{seconds:.0f} s"
    return format_seconds(seconds)


def _draw_nodes(
    axis: Axes, result: Result, start: float, end: float, seconds: float
) -> list[Artist]:
    axis.set_ylabel("nodes")
    steps = nodes_over_time(result)
    if steps.empty or steps["time"].iloc[-1] < start or steps["time"].iloc[0] > end:
        empty_note(axis, "no samples in this period")
        return []
    time, nodes = _clip_steps(
        steps["time"].to_numpy(dtype=float), steps["nodes"].to_numpy(dtype=float), start, end
    )
    handles: list[Artist] = []
    boots = node_boots(result)
    boots = boots[(boots["ready"] > start) & (boots["time"] < end)]
    for begin, finish in _union(boots["time"].to_numpy(), boots["ready"].to_numpy()):
        axis.axvspan(
            max(begin, start) / seconds, min(finish, end) / seconds,
            color=BOOT_COLOUR, alpha=0.35, lw=0,
        )  # fmt: skip
    (line,) = axis.plot(
        time / seconds, nodes, drawstyle="steps-post",
        color=NODES_COLOUR, lw=3.2, label="nodes billed (booting ones included)",
    )  # fmt: skip
    handles.append(line)
    if not boots.empty:
        boot_time = float((boots["ready"] - boots["time"]).iloc[0])
        handles.append(
            Patch(color=BOOT_COLOUR, alpha=0.35, label=f"nodes booting ({_duration(boot_time)})")
        )
    axis.set_ylim(0, max(1.0, float(nodes.max())) * 1.25 + 0.5)
    return handles
