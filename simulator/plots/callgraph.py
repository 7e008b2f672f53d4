"""The call graph of a scenario as a layered picture: who calls whom, how big, how slow."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, ListedColormap, LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import ConnectionPatch
from matplotlib.patheffects import withStroke
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import offset_copy

from .common import NOTE_COLOUR, empty_note, new_figure, root_figure, text_width_in, theme_if
from .data import format_seconds
from .theme import OKABE_ITO

if TYPE_CHECKING:
    import networkx as nx

    from ..results import Result

NODE_DIAMETER_PT = (10.0, 32.0)
"""Smallest and largest node (points); the area between them is proportional to workers."""
NO_DATA_COLOUR = "#DDDDDD"
CALL_COLOUR = "#8C8C8C"
PARALLEL_COLOUR = OKABE_ITO["blue"]
LABEL_WIDTH = 14
"""Names longer than this are broken at a hyphen into two lines."""
SWEEPS = 4
"""Barycentre sweeps that order each layer to cut edge crossings."""
EDGE_LABEL_AT = 0.5
"""Where along an arrow its calls-per-visit label goes (0 = caller, 1 = callee)."""
LABEL_SIZE = "x-small"
LABEL_GAP_PT = 3.0


def _colour_map() -> ListedColormap:
    """Light (fast) to dark (slow), without magma's white and black ends."""
    import matplotlib as mpl

    base = mpl.colormaps["magma_r"]
    return ListedColormap(base(np.linspace(0.08, 0.85, 256)), name="latency")


def call_graph_chart(source: Any, ax: Axes | None = None) -> Figure:
    """The call graph, left to right by call depth (a service sits one column right of its
    deepest caller).

    `source` is a Result or a Scenario (or anything `load_scenario` reads). Node area is
    proportional to the service's workers (replicas × concurrency); node colour is the p99
    latency at the service (its own calls included) from the run's `services` table, or,
    for a scenario alone, its mean local work per visit. Grey arrows are calls made in turn,
    blue ones calls made at once (a parallel step); an arrow is labelled with the calls
    per visit (count × probability) when that is not 1. Layers are ordered by barycentre
    sweeps to keep crossings down, which keeps ~30 services readable.
    """
    from ..scenario.graph import call_graph
    from ..scenario.loader import load_scenario

    result: Result | None = (
        source if hasattr(source, "tables") and hasattr(source, "scenario") else None
    )
    graph = call_graph(result.scenario if result is not None else load_scenario(source))
    scenario_name = graph.graph.get("name", "scenario")
    own_figure = ax is None
    with theme_if(own_figure):
        if ax is None:
            fig = new_figure()
            ax = fig.add_subplot()
        else:
            fig = root_figure(ax)
        ax.set_title(f"{scenario_name}: call graph")
        ax.set_axis_off()
        if graph.number_of_nodes() == 0:
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            empty_note(ax, "no services in this scenario")
            return fig
        positions, layers = _layout(graph)
        values, what = _colour_values(graph, result)
        cmap = _colour_map()
        norm = _norm(values)
        height = fig.get_figheight() * 0.78 if own_figure else _height_in(ax)
        sizes = _sizes(height * 72 / 1.04 / max(len(layer) for layer in layers))
        diameters = _diameters(graph, sizes)
        labels = {name: _wrap_name(name, sizes.wrap) for name in graph}
        starts = {  # where a service's arrows start: the end of its name, in points
            name: diameters[name] / 2 + 2 * LABEL_GAP_PT + 72 * text_width_in(text, sizes.font)
            for name, text in labels.items()
        }
        last = max(starts[name] for name in layers[-1]) / 72  # inches right of the last column
        width = fig.get_figwidth() * 0.8 if own_figure else _width_in(ax)
        span = len(layers) - 1 + 0.15
        right = len(layers) - 1 + span * last / max(width - last, 0.5 * width)
        ax.set_xlim(*((-0.15, right) if len(layers) > 1 else (-1.0, 1.0)))
        ax.set_ylim(-0.02, 1.02)
        labelled = _draw_edges(ax, graph, positions, diameters, starts)
        names = list(graph)
        x = [positions[n][0] for n in names]
        y = [positions[n][1] for n in names]
        colours = [
            cmap(norm(values[n])) if np.isfinite(values[n]) else NO_DATA_COLOUR for n in names
        ]
        ax.scatter(
            x,
            y,
            s=[diameters[n] ** 2 for n in names],
            c=colours,
            edgecolors="#333333",
            linewidths=1.2,
            zorder=3,
        )
        for name in names:
            _label(ax, labels[name], positions[name], diameters[name], sizes.font)
        _colour_bar(fig, ax, cmap, norm, what, values)
        _legend(fig, ax, graph, sizes, values, labelled, own_figure)
    return fig


# ---------------------------------------------------------------------------- layout


def _layout(graph: nx.DiGraph) -> tuple[dict[str, tuple[float, float]], list[list[str]]]:
    """x = call depth; y spread evenly in each layer, ordered by barycentre sweeps."""
    import networkx as nx

    layers = [list(layer) for layer in nx.topological_generations(graph)]
    order = {name: index for index, name in enumerate(graph)}
    for layer in layers:
        layer.sort(key=order.__getitem__)
    size = {name: len(layer) for layer in layers for name in layer}
    where = {name: (i + 0.5) / len(layer) for layer in layers for i, name in enumerate(layer)}

    def sweep(sequence: list[list[str]], neighbours: Callable[[str], Iterable[str]]) -> None:
        for layer in sequence:
            centre = {}
            for name in layer:
                near = [where[n] for n in neighbours(name)]
                centre[name] = float(np.mean(near)) if near else where[name]
            layer.sort(key=lambda n: (centre[n], where[n]))
            where.update((name, (i + 0.5) / size[name]) for i, name in enumerate(layer))

    for _ in range(SWEEPS):
        sweep(layers[1:], graph.predecessors)
        sweep(layers[-2::-1], graph.successors)
    tallest = max(len(layer) for layer in layers)
    gap = 1.0 / max(1, tallest)
    positions = {}
    for column, layer in enumerate(layers):
        for i, name in enumerate(layer):
            positions[name] = (float(column), 0.5 + ((len(layer) - 1) / 2 - i) * gap)
    return positions, layers


@dataclass(frozen=True)
class _Sizes:
    """Node diameters and label size (points) that fit the tallest layer's spacing."""

    low: float
    high: float
    font: float
    wrap: bool


def _sizes(slot: float) -> _Sizes:
    """`slot`: the vertical distance between two services of the tallest layer (points)."""
    high = min(NODE_DIAMETER_PT[1], 0.7 * slot)
    font = min(FontProperties(size=LABEL_SIZE).get_size_in_points(), max(5.0, 0.75 * slot))
    return _Sizes(min(NODE_DIAMETER_PT[0], high), high, font, wrap=2.1 * font <= slot)


def _diameters(graph: nx.DiGraph, sizes: _Sizes) -> dict[str, float]:
    """Marker diameters in points, area ∝ workers, the largest at the maximum size."""
    workers = {name: max(1, data["workers"]) for name, data in graph.nodes(data=True)}
    most = max(workers.values())
    return {name: _diameter(w, most, sizes) for name, w in workers.items()}


def _diameter(workers: float, most: float, sizes: _Sizes) -> float:
    return max(sizes.low, sizes.high * math.sqrt(workers / most))


# ---------------------------------------------------------------------------- colours


def _colour_values(graph: nx.DiGraph, result: Result | None) -> tuple[dict[str, float], str]:
    if result is None:
        values = {name: float(d["work_mean_s"]) for name, d in graph.nodes(data=True)}
        return values, "mean local work per visit"
    table = result.tables.get("services")
    values = dict.fromkeys(graph, math.nan)
    if table is not None and not table.empty and "latency_p99_s" in table:
        names = table.get("service", table.index)
        for name, value in zip(names, table["latency_p99_s"], strict=True):
            if str(name) in values:
                values[str(name)] = float(value)
    return values, "p99 latency at the service\n(its calls included)"


def _norm(values: dict[str, float]) -> Normalize:
    finite = np.array([v for v in values.values() if np.isfinite(v) and v > 0])
    if finite.size == 0:
        return Normalize(0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    if high / low > 20:
        return LogNorm(low, high)
    return Normalize(0.0, high * 1.05)


def _colour_bar(
    fig: Figure, ax: Axes, cmap: Colormap, norm: Normalize, what: str, values: dict[str, float]
) -> None:
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    bar = fig.colorbar(mappable, ax=ax, shrink=0.75, pad=0.01, aspect=25)
    bar.set_label(what, fontsize="medium")
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_seconds(v)))
    bar.ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    bar.ax.tick_params(labelsize="small")
    if not any(np.isfinite(v) for v in values.values()):
        bar.ax.set_yticks([])
        bar.set_label(f"{what}\n(no requests measured)", fontsize="medium")


# ---------------------------------------------------------------------------- drawing


def _draw_edges(
    ax: Axes,
    graph: nx.DiGraph,
    positions: dict[str, tuple[float, float]],
    diameters: dict[str, float],
    starts: dict[str, float],
) -> float | None:
    """Arrows from the end of the caller's name to the edge of the callee's node.

    An arrow starts `starts[caller]` points right of its caller's centre, so it never
    crosses the caller's own name; offsets in points keep it right whatever the layout.
    Arrows are labelled with their calls per visit where it is not 1, unless every arrow
    has the same value: then none is, and that value is returned for the legend.
    """
    values = {round(v, 9) for _, _, v in graph.edges(data="calls_per_visit")}
    same = values.pop() if len(values) == 1 and not math.isclose(next(iter(values)), 1) else None
    fig = root_figure(ax)
    (ux0, uy0), (ux1, uy1) = ax.transData.transform([(0, 0), (1, 1)]) * 72 / fig.dpi
    per_unit = (ux1 - ux0, uy1 - uy0)  # points per data unit, before the final layout
    for caller, callee, data in graph.edges(data=True):
        (x0, y0), (x1, y1) = positions[caller], positions[callee]
        bend = 0.0 if x1 - x0 <= 1 else (0.15 if y1 <= y0 else -0.15)
        colour = PARALLEL_COLOUR if data["parallel"] else CALL_COLOUR
        start = offset_copy(ax.transData, fig=fig, x=starts[caller], y=0, units="points")
        arrow = ConnectionPatch(
            (x0, y0),
            (x1, y1),
            coordsA=start,
            coordsB=ax.transData,
            arrowstyle="-|>",
            mutation_scale=14,
            shrinkA=0,
            shrinkB=diameters[callee] / 2 + 2,
            connectionstyle=f"arc3,rad={bend}",
            color=colour,
            lw=1.6,
            alpha=0.85,
            zorder=2,
        )
        ax.add_artist(arrow)
        per_visit = data["calls_per_visit"]
        if same is not None or math.isclose(per_visit, 1.0):
            continue
        t = EDGE_LABEL_AT
        dx = (x1 - x0) * per_unit[0] - starts[caller]
        dy = (y1 - y0) * per_unit[1]
        off_x = (1 - t) * starts[caller] + 2 * t * (1 - t) * bend * dy
        off_y = -2 * t * (1 - t) * bend * dx
        ax.annotate(
            f"×{per_visit:.3g}",
            ((1 - t) * x0 + t * x1, (1 - t) * y0 + t * y1),
            xytext=(off_x, off_y),
            textcoords="offset points",
            ha="center",
            va="center",
            fontsize="x-small",
            color=colour,
            zorder=4,
            path_effects=[withStroke(linewidth=3, foreground="white")],
        )
    return same


def _width_in(ax: Axes) -> float:
    return ax.get_position().width * root_figure(ax).get_figwidth()


def _height_in(ax: Axes) -> float:
    return ax.get_position().height * root_figure(ax).get_figheight()


def _label(
    ax: Axes, text: str, position: tuple[float, float], diameter: float, size: float
) -> None:
    ax.annotate(
        text,
        position,
        xytext=(diameter / 2 + LABEL_GAP_PT, 0),
        textcoords="offset points",
        ha="left",
        va="center",
        fontsize=size,
        color="#222222",
        linespacing=0.95,
        zorder=5,
        path_effects=[withStroke(linewidth=3, foreground="white")],
    )


def _wrap_name(name: str, wrap: bool = True) -> str:
    """Two balanced lines, broken after a hyphen, for names longer than LABEL_WIDTH."""
    if not wrap or len(name) <= LABEL_WIDTH:
        return name
    cuts = [i + 1 for i, char in enumerate(name) if char in "-_"]
    if not cuts:
        return name
    cut = min(cuts, key=lambda i: abs(len(name) / 2 - i))
    return f"{name[:cut]}\n{name[cut:]}"


def _legend(
    fig: Figure,
    ax: Axes,
    graph: nx.DiGraph,
    sizes: _Sizes,
    values: dict[str, float],
    same: float | None,
    own_figure: bool,
) -> None:
    """Node sizes for three worker counts, the kinds of arrow, and 'no requests'."""
    workers = sorted({max(1, d["workers"]) for _, d in graph.nodes(data=True)})
    most = workers[-1]
    shown = sorted({workers[0], workers[len(workers) // 2], most})
    handles: list[Any] = [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            ms=_diameter(w, most, sizes),
            mfc="white",
            mec="#333333",
            label=f"{w:,} worker{'s' if w != 1 else ''}",
        )
        for w in shown
    ]
    kinds = {bool(d["parallel"]) for _, _, d in graph.edges(data=True)}
    if False in kinds:
        handles.append(Line2D([], [], color=CALL_COLOUR, lw=2, label="call"))
    if True in kinds:
        handles.append(Line2D([], [], color=PARALLEL_COLOUR, lw=2, label="parallel call"))
    if same is not None:
        handles.append(Line2D([], [], ls="", label=f"every arrow ×{same:.3g} per visit"))
    if any(not np.isfinite(v) for v in values.values()):
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                ms=12,
                mfc=NO_DATA_COLOUR,
                mec="#333333",
                label="no requests",
            )
        )
    labels = [h.get_label() for h in handles]
    if own_figure:
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=len(handles),
            fontsize="small",
            labelcolor=NOTE_COLOUR,
            handletextpad=0.3,
            columnspacing=1.2,
        )
    else:
        ax.legend(handles, labels, loc="lower left", fontsize="x-small", ncols=2)
