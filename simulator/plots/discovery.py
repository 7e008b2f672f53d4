"""Charts of service discovery and secrets: convergence, stale errors, a leak's blast radius.

Each takes a Result, or a mapping of label → Result to put kinds side by side, and returns
the Figure; without Axes it draws a slide-sized figure in the slide theme.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from ..scenario.units import format_duration
from .common import THEORY_STYLE, empty_note, new_figure, root_figure, theme_if
from .theme import PALETTE

if TYPE_CHECKING:
    from matplotlib.typing import LineStyleType

    from ..results import Result


def _labelled(results: Result | Mapping[str, Result]) -> dict[str, Result]:
    if isinstance(results, Mapping):
        return dict(results)
    return {results.scenario.discovery.kind: results}


def _axes(ax: Axes | None, own: bool) -> tuple[Figure, Axes]:
    if ax is None:
        fig = new_figure()
        return fig, fig.add_subplot()
    return root_figure(ax), ax


def gossip_share(rounds: int, agents: int, fanout: int) -> np.ndarray:
    """Mean-field push epidemic: the share that knows after each round, i' = 1 − (1 − i)·e^(−f·i)
    (an uninformed agent gets a Poisson(f·i) number of messages in a round)."""
    share = np.empty(rounds + 1)
    share[0] = 1 / agents
    for r in range(rounds):
        share[r + 1] = 1 - (1 - share[r]) * np.exp(-fanout * share[r])
    return share


CHANGE_STYLES: dict[str, tuple[LineStyleType, str]] = {
    "node-failure": ("-", "change: node failure"),
    "scale-in": ("--", "change: scale-in (planned)"),
    "join": (":", "change: agent join"),
}
"""Line style and legend name of each kind of change a convergence curve can follow."""

_OTHER_CHANGE: tuple[LineStyleType, str] = ("-.", "change: other")


def convergence_curves(
    results: Result | Mapping[str, Result], ax: Axes | None = None, log: bool = True
) -> Figure:
    """Share of clients that know of a change against the time since it, per discovery kind.

    One line per change (removals and joins; additions cost no errors): the colour says the
    discovery kind, the line style the change (node failure, scale-in), each named in the
    legend. For consul runs with an agent join, the dashed grey line is the mean-field
    gossip epidemic at the run's interval and fanout.
    """
    labelled = _labelled(results)
    own = ax is None
    with theme_if(own):
        fig, ax = _axes(ax, own)
        ax.set_title("How fast clients learn of a change")
        kinds: list[Line2D] = []
        styles: dict[str, tuple[LineStyleType, str]] = {}
        theory: list[Line2D] = []
        for index, (label, result) in enumerate(labelled.items()):
            curves = result.tables.get("discovery_convergence")
            changes = result.tables.get("discovery_changes")
            if curves is None or changes is None or curves.empty:
                continue
            colour = PALETTE[index % len(PALETTE)]
            keep = changes[changes["endpoint"].isin(["removed", "joined"])]
            kind_of = dict(zip(keep["change"], keep["kind"].astype(str), strict=True))
            drawn_here = False
            for change, curve in curves[curves["change"].isin(kind_of)].groupby("change"):
                style = CHANGE_STYLES.get(kind_of[change], _OTHER_CHANGE)
                styles[kind_of[change]] = style
                seconds = np.maximum(curve["seconds"].to_numpy(dtype=float), 1e-3)
                ax.step(
                    seconds, curve["known_share"], where="post", color=colour, alpha=0.8,
                    linestyle=style[0],
                )  # fmt: skip
                drawn_here = True
            if drawn_here:
                kinds.append(Line2D([], [], color=colour, label=label))
            settings = result.scenario.discovery
            joins = changes[changes["kind"] == "join"]
            if settings.kind == "consul" and not joins.empty:
                agents = int(joins["clients"].iloc[0]) + 1
                share = gossip_share(60, agents, settings.fanout)
                seconds = np.arange(share.size) * settings.gossip_interval
                (line,) = ax.plot(
                    np.maximum(seconds, 1e-3), share, **THEORY_STYLE, label="gossip theory"
                )
                if not theory:
                    theory.append(line)
        if not kinds:
            empty_note(ax, "no endpoint changes in this run")
            return fig
        if log:
            ax.set_xscale("log")
        ax.set_xlabel("time since the change (s)")
        ax.set_ylabel("clients that know of the change")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        changes_drawn = [
            Line2D([], [], color="#444444", linestyle=style, label=name)
            for style, name in styles.values()
        ]
        handles = [*kinds, *changes_drawn, *theory]
        if own:
            fig.legend(handles=handles, loc="outside right upper")
        else:
            ax.legend(handles=handles, loc="best")
    return fig


def stale_errors_over_time(
    results: Result | Mapping[str, Result],
    ax: Axes | None = None,
    bin_s: float = 30.0,
    log: bool = False,
) -> Figure:
    """Visits that failed on a stale endpoint per second, over time, per discovery kind, with
    the scripted changes marked (`log`: a symmetric-log axis, for kinds far apart)."""
    labelled = _labelled(results)
    own = ax is None
    with theme_if(own):
        fig, ax = _axes(ax, own)
        ax.set_title("Requests sent to endpoints that are gone")
        horizon = max(r.scenario.horizon for r in labelled.values())
        edges = np.arange(0.0, horizon + bin_s, bin_s)
        for index, (label, result) in enumerate(labelled.items()):
            spans: pd.DataFrame = result.tables["spans"]
            stale = spans.loc[spans["status"] == "stale_endpoint", "arrival"].to_numpy()
            counts, _ = np.histogram(stale, bins=edges)
            ax.stairs(
                counts / bin_s, edges / 60, color=PALETTE[index % len(PALETTE)], label=label,
                linewidth=2.5,
            )  # fmt: skip
        first = next(iter(labelled.values()))
        for event in first.scenario.discovery.events:
            if event.at > horizon:
                continue
            ax.axvline(event.at / 60, color="#999999", linestyle=":", linewidth=1)
            ax.annotate(
                event.kind, (event.at / 60, 1), xycoords=("data", "axes fraction"),
                rotation=90, va="top", ha="right", fontsize="small", color="#666666",
            )  # fmt: skip
        ax.set_xlim(0, horizon / 60)
        if log:
            ax.set_yscale("symlog", linthresh=0.01)
        ax.set_xlabel("time (min)")
        ax.set_ylabel("stale-endpoint failures per second")
        ax.legend(loc="upper right")
    return fig


def blast_radius_chart(result: Result, ax: Axes | None = None) -> Figure:
    """The call graph with a leaked credential's blast radius: services that must change
    (dark), their callers whose requests fail meanwhile (light), the rest (white)."""
    import networkx as nx

    from ..scenario.graph import call_graph

    own = ax is None
    with theme_if(own):
        fig, ax = _axes(ax, own)
        ax.set_axis_off()
        leaks = result.tables.get("secret_leaks")
        if leaks is None or leaks.empty:
            empty_note(ax, "no leaked credential in this run")
            return fig
        leak = leaks.iloc[0]
        changed = set(filter(None, leak["changed"].split(",")))
        affected = set(filter(None, leak["affected"].split(","))) - changed
        graph = call_graph(result.scenario).copy()  # shared and frozen; this adds depths
        for node in graph:
            graph.nodes[node]["depth"] = max(
                (len(p) - 1 for s in graph if graph.in_degree(s) == 0
                 for p in nx.all_simple_paths(graph, s, node)),
                default=0,
            )  # fmt: skip
        positions = nx.multipartite_layout(graph, subset_key="depth")
        dark, light = "#9B2226", "#F4A261"
        colours = [dark if n in changed else light if n in affected else "#FFFFFF" for n in graph]
        nx.draw_networkx_edges(
            graph, positions, ax=ax, node_size=2600, arrowsize=15, edge_color="#888888"
        )
        nx.draw_networkx_nodes(
            graph, positions, ax=ax, node_color=colours, edgecolors="#333333", node_size=2600
        )
        for names, colour in ((changed, "white"), (set(graph) - changed, "black")):
            nx.draw_networkx_labels(
                graph, positions, labels={n: n for n in names}, ax=ax, font_size=11,
                font_color=colour,
            )  # fmt: skip
        ax.margins(0.12)
        ax.set_title(f"Leaked {result.scenario.secrets.kind} credential")
        work = format_duration(float(leak["engineer_hours"]) * 3600)
        ax.legend(
            handles=[
                Patch(facecolor=dark, edgecolor="#333333", label=f"must change ({len(changed)})"),
                Patch(
                    facecolor=light, edgecolor="#333333", label=f"fail meanwhile ({len(affected)})"
                ),
            ],
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=2,
            title=f"leak at {leak['service']}; {work} of work",
        )
    return fig


def has_discovery(result: Result) -> bool:
    changes = result.tables.get("discovery_changes")
    return changes is not None and not changes.empty


def has_leaks(result: Result) -> bool:
    leaks = result.tables.get("secret_leaks")
    return leaks is not None and not leaks.empty
