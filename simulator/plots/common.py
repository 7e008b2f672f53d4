"""Helpers shared by the charts: figures, notes, legends that fit, theory look-ups."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, TypedDict

import matplotlib as mpl
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

from ..theory.reference import Reference, service_reference
from .theme import slide_theme

if TYPE_CHECKING:
    from ..results import Result


class LineStyle(TypedDict):
    """Keyword arguments of a line's style, to pass to `plot`, `axhline` or `Line2D`."""

    ls: tuple[int, tuple[int, int]]
    lw: float


NOTE_COLOUR = "#555555"
THEORY_STYLE: LineStyle = {"ls": (0, (4, 2)), "lw": 2.5}
"""Theory is always drawn dashed, on top of what it predicts."""

_TEXT_TO_PATH = TextToPath()


def theme_if(own_figure: bool) -> AbstractContextManager[None]:
    """The slide theme for figures made here; the caller's style for Axes handed in."""
    return slide_theme() if own_figure else nullcontext()


class NotebookFigure(Figure):
    """A Figure that shows itself in Jupyter although pyplot does not manage it.

    IPython draws a returned pyplot figure through the inline backend; a plain Figure would
    print as text until the first pyplot figure exists. `_repr_png_` closes that gap, and
    since pyplot does not hold the figure, a cell shows it once, not twice.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=self.dpi, facecolor="white")
        return buffer.getvalue()


def new_figure() -> Figure:
    """A figure of the current rc size, not managed by pyplot (no backend, no window)."""
    return NotebookFigure(layout="constrained")


def root_figure(ax: Axes) -> Figure:
    try:
        root = ax.get_figure(root=True)
        assert root is not None  # an Axes is made with its figure: Axes(fig, ...)
        return root
    except TypeError:  # matplotlib < 3.10: .figure is the root unless in a subfigure
        figure = ax.figure
        while not isinstance(figure, Figure):
            figure = figure.figure
        return figure


def empty_note(ax: Axes, text: str) -> None:
    """Say in the middle of the axes why there is nothing to see."""
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize="large",
        color=NOTE_COLOUR,
        style="italic",
    )


def reference_for(result: Result, name: str) -> Reference | None:
    """The theory for a service of the run's scenario; None for services it does not know."""
    if name not in result.scenario.services:
        return None
    return service_reference(result.scenario, name)


def text_width_in(text: str, size: float | str | None = None, weight: str = "normal") -> float:
    """Width in inches of the longest line of `text` (default size: the legend's)."""
    font = FontProperties(size=mpl.rcParams["legend.fontsize"] if size is None else size)
    font.set_weight(weight)
    widest = max(text.split("\n"), key=len) if text else ""
    width, _, _ = _TEXT_TO_PATH.get_text_width_height_descent(widest, font, ismath=False)
    return width / 72.0


def legend_width_in(columns: Sequence[Sequence[str]]) -> float:
    """Width in inches of a legend whose columns hold these labels (handles and gaps too)."""
    size = FontProperties(size=mpl.rcParams["legend.fontsize"]).get_size_in_points() / 72.0
    per_column = (
        mpl.rcParams["legend.handlelength"]
        + mpl.rcParams["legend.handletextpad"]
        + mpl.rcParams["legend.columnspacing"]
    ) * size
    return sum(
        max((text_width_in(t) for t in column), default=0.0) + per_column for column in columns
    )


def legend_columns(labels: Sequence[str], columns: int) -> list[list[str]]:
    """How matplotlib spreads legend entries over `columns`: column by column, the first
    columns one longer when the entries do not divide evenly."""
    rows, long_columns = divmod(len(labels), columns)
    out, start = [], 0
    for column in range(columns):
        size = rows + (1 if column < long_columns else 0)
        out.append(list(labels[start : start + size]))
        start += size
    return out


def wrap(label: str, width: int = 40) -> str:
    """Break a long legend label, before its parenthesis if it has one."""
    if len(label) <= width:
        return label
    head, paren, tail = label.partition(" (")
    if paren and len(head) <= width:
        return f"{head}\n({tail}"
    return "\n".join(textwrap.wrap(label, width))


def figure_legend_right(
    fig: Figure, handles: list[Artist], labels: list[str], **kwargs: Any
) -> None:
    """One column outside the right edge of the figure's axes, long labels wrapped."""
    fig.legend(handles, [wrap(label) for label in labels], loc="outside right upper", **kwargs)
