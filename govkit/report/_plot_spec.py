"""A card plot before it is drawn (:class:`FigureSpec`), and the helpers its builders share.

The builders live in one module per figure family: :mod:`~govkit.report._plot_fairness`
(bars per group), :mod:`~govkit.report._plot_performance` (confusion matrix, ROC and
calibration curves), :mod:`~govkit.report._plot_explanations` (feature importance and
the binned beeswarm), :mod:`~govkit.report._plot_drift` (drift per feature) and
:mod:`~govkit.report._lineage_plot` (the lineage graph).

Plots read evidence of the policy run (aggregates: group rates, confusion counts,
curve points, attribution histograms) and never rows. Each spec carries the alt
text a screen reader gets and a caption; the drawing itself happens later, in
:func:`govkit.report._figures.draw`. matplotlib is imported inside the builders,
so building a card view without figures never loads it.

Colour is never the only carrier of meaning: bars outside a bound are marked with
a cross, groups too small to judge have a dashed outline, curves of groups differ
in line style and marker too, and the numbers are printed next to the bars. (No
hatching: WeasyPrint lays SVG patterns out slowly.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from govkit.report._figures import GRID

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FigureSpec",
    "WIDTH",
    "MAX_BARS",
    "fmt_short",
    "fig_size",
    "new_figure",
    "finish_axes",
    "left_margin",
]

#: Width of a full-width figure, inches: the text width of an A4 page (178 mm) less a margin.
WIDTH = 6.9
#: Bars in one bar chart at the most (groups, features).
MAX_BARS = 40


@dataclass(frozen=True)
class FigureSpec:
    """A figure before it is drawn.

    ``size`` (width, height in inches) is known before drawing, so a page can be
    laid out around the figure while it is drawn (see :mod:`govkit.report._pdf`);
    ``build`` must return a figure of that size.
    """

    title: str
    alt: str
    caption: str
    build: Callable[[], Figure]
    size: tuple[float, float] | None = None


def fmt_short(v: float | None) -> str:
    """A number as a plot prints it: 3 significant digits, ``n/a`` when absent or not finite."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v, ".3g") if abs(v) < 1000 else f"{v:,.0f}"


def fig_size(height: float, width: float = WIDTH) -> tuple[float, float]:
    return (width, max(height, 0.9))


def new_figure(size: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def finish_axes(ax: Axes, *, grid_axis: Literal["both", "x", "y"] = "x") -> None:
    ax.grid(True, axis=grid_axis, color=GRID, linewidth=0.4)
    ax.set_axisbelow(True)


def left_margin(labels: Sequence[str], width: float) -> float:
    """The left margin (a fraction of ``width``) that fits the longest tick label."""
    longest = max((len(s) for s in labels), default=4)
    inches = 0.12 + longest * 6.5 * 0.58 / 72.0
    return min(0.45, inches / width)
