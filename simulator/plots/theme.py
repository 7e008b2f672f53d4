"""A slide-ready look: 16:9, large type, colour-blind-safe colours, little clutter.

    with slide_theme():
        fig = latency_cdf(result)
    save_figure(fig, Path("out/latency-cdf"))   # out/latency-cdf.png and .svg

The theme is an `rc_context`, so it changes nothing outside the `with` block and never
touches the backend. `chart_theme("paper")` or `chart_theme("dark")` swaps the look for
everything drawn inside it, charts that apply the slide theme themselves included.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
from cycler import cycler
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish green": "#009E73",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "sky blue": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
"""The Okabe–Ito palette (Okabe & Ito 2008), distinguishable with every common colour
vision deficiency."""

PALETTE: tuple[str, ...] = tuple(OKABE_ITO.values())
"""The colour cycle: Okabe–Ito, darkest and most distinct first (yellow is faint on white)."""

SLIDE_SIZE = (40 / 3, 7.5)
"""13.33 × 7.5 inches: the 16:9 slide of PowerPoint, Keynote and Google Slides."""

PNG_DPI = 150
"""2000 × 1125 pixels at the slide size: sharp on a projector, small enough to email."""

SLIDE_RC: dict[RcKeyType, Any] = {
    "figure.figsize": SLIDE_SIZE,
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "figure.constrained_layout.use": True,
    "figure.titlesize": 26,
    "figure.titleweight": "bold",
    "font.size": 18,
    "axes.titlesize": 24,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 12,
    "axes.labelsize": 20,
    "axes.labelpad": 8,
    "axes.prop_cycle": cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#444444",
    "axes.linewidth": 1.2,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.8,
    "grid.linestyle": "-",
    "xtick.labelsize": 16,
    "ytick.labelsize": 16,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "legend.fontsize": 16,
    "legend.frameon": False,
    "lines.linewidth": 3.0,
    "lines.markersize": 9,
    "savefig.dpi": PNG_DPI,
    "savefig.facecolor": "white",
}
"""The rcParams of the theme."""


PAPER_RC: dict[RcKeyType, Any] = {
    **SLIDE_RC,
    "figure.figsize": (6.4, 3.6),
    "figure.titlesize": 11,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.labelpad": 4,
    "axes.titlepad": 6,
    "axes.linewidth": 0.8,
    "grid.linewidth": 0.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "savefig.dpi": 300,
}
"""A printed page: a figure a column or half a page wide, type at the size of a caption."""

DARK_FOREGROUND = "#DDDDDD"
DARK_BACKGROUND = "#1E1E1E"

DARK_RC: dict[RcKeyType, Any] = {
    **SLIDE_RC,
    "axes.prop_cycle": cycler(color=(*PALETTE[:-1], "#FFFFFF")),  # white, not black, last
    "figure.facecolor": DARK_BACKGROUND,
    "axes.facecolor": DARK_BACKGROUND,
    "savefig.facecolor": DARK_BACKGROUND,
    "axes.edgecolor": DARK_FOREGROUND,
    "axes.labelcolor": DARK_FOREGROUND,
    "axes.titlecolor": DARK_FOREGROUND,
    "text.color": DARK_FOREGROUND,
    "xtick.color": DARK_FOREGROUND,
    "ytick.color": DARK_FOREGROUND,
    "grid.color": "#444444",
    "legend.labelcolor": DARK_FOREGROUND,
}
"""Slides with a dark background: the slide theme with light text and lines."""

THEMES: dict[str, dict[RcKeyType, Any]] = {"slide": SLIDE_RC, "paper": PAPER_RC, "dark": DARK_RC}
"""The looks a chart can be drawn in, by name (`sresim chart --theme`)."""

_CHOSEN: ContextVar[str | None] = ContextVar("simulator_chart_theme", default=None)


@contextmanager
def slide_theme() -> Iterator[None]:
    """Draw in the slide theme inside the `with` block; the previous settings return after.
    Inside `chart_theme(name)`, in that theme instead, so that charts which apply the slide
    theme themselves follow the chosen one."""
    with mpl.rc_context(THEMES[_CHOSEN.get() or "slide"]):
        yield


@contextmanager
def chart_theme(name: str) -> Iterator[None]:
    """Draw in the theme `name` (a key of THEMES) inside the `with` block."""
    if name not in THEMES:
        raise ValueError(f"expected a theme among {', '.join(THEMES)}, got {name!r}")
    token = _CHOSEN.set(name)
    try:
        with mpl.rc_context(THEMES[name]):
            yield
    finally:
        _CHOSEN.reset(token)


def save_figure(fig: Figure, stem: Path | str, svg: bool = True) -> list[Path]:
    """Write `stem.png` (150 dpi) and `stem.svg`, close the figure, return the two paths
    (with `svg=False` the PNG alone: drawing the SVG takes about two thirds as long again).

    The figure keeps its own size (no tight bounding box), so a slide-sized figure gives a
    16:9 image.
    """
    stem = Path(stem)
    if stem.suffix.lower() in (".png", ".svg"):  # "out/latency.png" means the stem out/latency
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(f"{stem.name}.png"), stem.with_name(f"{stem.name}.svg")]
    if not svg:
        paths.pop()
    try:
        fig.savefig(paths[0], dpi=PNG_DPI, facecolor="white")
        if svg:
            fig.savefig(paths[1], facecolor="white")
    finally:
        close_figure(fig)
    return paths


def close_figure(fig: Figure) -> None:
    """Release a figure, whether or not pyplot manages it (without importing pyplot)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    fig.clear()
