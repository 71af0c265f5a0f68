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
    "bold_text_points",
    "wrap_bold",
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


# Advance widths of DejaVu Sans Bold (the plots' font; drawn as text by the PDF renderer)
# for ASCII 32..126, in thousandths of an em, read from the font file matplotlib ships.
_BOLD_ADVANCE = (
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696,
    696, 696, 696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774,
    762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850, 733, 850, 770,
    720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593,
    716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478,
    712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
)  # fmt: skip


def bold_text_points(text: str, size: float) -> float:
    """Width of ``text`` in DejaVu Sans Bold at ``size`` points (no kerning; characters
    outside ASCII count as wide as a mathematical sign or, from U+2E80 on, one em)."""
    total = 0
    for ch in text:
        code = ord(ch)
        if 32 <= code <= 126:
            total += _BOLD_ADVANCE[code - 32]
        else:
            total += 1000 if code >= 0x2E80 or ch == "\u2014" else 838
    return total * size / 1000


def wrap_bold(text: str, size: float, points: float) -> list[str]:
    """``text`` in lines at most ``points`` wide (bold, ``size`` pt), broken at spaces; a
    word wider than the line gets a line of its own."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if line and bold_text_points(candidate, size) > points:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines
