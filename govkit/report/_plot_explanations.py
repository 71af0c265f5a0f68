"""The explanation plot of a card: global feature importance and a binned beeswarm.

:func:`importance_figure` draws the mean |attribution| of the top features and,
when the run kept attribution histograms, how each feature's attributions are
spread, coloured by the feature's value; no rows are kept, the dots are drawn
from the histograms.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from govkit.report._figures import MUTED, PALETTE, label
from govkit.report._plot_spec import (
    WIDTH,
    FigureSpec,
    fig_size,
    finish_axes,
    fmt_short,
    left_margin,
    new_figure,
)
from govkit.results import ExplanationEvidence

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["importance_figure"]

_STEPS = 19  # colour steps of the beeswarm above the lowest: 20 colours, as in its legend


def _rank_colour(rank: float | None) -> tuple[float, float, float]:
    if rank is None:
        return (0.72, 0.74, 0.77)
    lo, hi = (0.0, 0.447, 0.698), (0.835, 0.369, 0.0)  # PALETTE blue -> vermillion
    red, green, blue = (a + (b - a) * rank for a, b in zip(lo, hi, strict=True))
    return (red, green, blue)


def importance_figure(ev: ExplanationEvidence, *, rule_id: str) -> FigureSpec | None:
    """Mean |attribution| per top feature and, when the run kept them, a binned beeswarm."""
    feats = list(ev.top_features)
    if not feats:
        return None
    dists = {d.feature: d for d in ev.distributions}
    swarm = [dists.get(f.feature) for f in feats]
    has_swarm = any(d is not None for d in swarm)
    names = [label(f.feature, 30) for f in feats]
    alt = (
        f"Global feature importance ({ev.method}, mean absolute attribution), largest first: "
        + "; ".join(
            f"{n} {fmt_short(f.mean_abs_attribution)}" for n, f in zip(names, feats, strict=True)
        )
        + "."
    )
    caption = (
        f"Mean |attribution| ({ev.method}) over {ev.rows_valid:,} explained rows, largest first."
    )
    per_dot = 1
    if has_swarm:
        biggest = max(max(d.counts, default=0) for d in swarm if d is not None)
        per_dot = max(1, math.ceil(biggest / 12))
        caption += (
            " Right: how each feature's attributions are spread, drawn from histograms"
            f" (no rows are kept): each dot stands for up to {per_dot:,} rows in one bin;"
            " colour is the mean percentile of the feature's value in the bin, in 20 steps"
            " from blue (low) to orange (high); grey where the feature is not numeric or a"
            " bin has fewer than 5 rows."
        )
        alt += " A binned beeswarm shows the spread of each feature's attributions."

    n = len(feats)
    height = 0.7 + 0.2 * n
    size = fig_size(height)

    def build() -> Figure:
        fig = new_figure(size)
        left = left_margin(names, WIDTH)
        fig.subplots_adjust(
            left=left,
            right=0.9 if has_swarm else 0.97,
            bottom=0.36 / height,
            top=1 - 0.26 / height,
            wspace=0.06,
        )
        if has_swarm:
            ax, ax2 = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 1.5]})
        else:
            ax = fig.subplots(1, 1)
        ys = list(range(n))
        vals = [f.mean_abs_attribution for f in feats]
        ax.barh(ys, vals, height=0.62, color=PALETTE[0])
        top = max([*vals, 1e-12])
        ax.set_xlim(0, top * 1.25)
        for y, v in zip(ys, vals, strict=True):
            ax.text(v + top * 0.015, y, fmt_short(v), va="center", fontsize=6)
        ax.set_yticks(ys, names)
        ax.set_ylim(n - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.set_title("Mean |attribution|")
        finish_axes(ax)
        if has_swarm:
            # One compound path per colour step (20 steps, as in the legend), not one
            # element per bin or dot: WeasyPrint draws an SVG element by element.
            import numpy as np
            from matplotlib.patches import PathPatch
            from matplotlib.path import Path as MplPath

            step = 0.78 / 12
            lo = min(d.bin_edges[0] for d in swarm if d is not None)
            hi = max(d.bin_edges[-1] for d in swarm if d is not None)
            pad = (hi - lo) * 0.03 or 1.0
            ax2.set_xlim(lo - pad, hi + pad)
            box = ax2.get_position()
            width_pt = box.width * WIDTH * 72
            height_pt = box.height * height * 72
            rx = 1.15 * (hi - lo + 2 * pad) / width_pt
            ry = 1.15 * n / height_pt
            circle = MplPath.unit_regular_polygon(8)  # a dot; fewer points than Bezier circles
            outline = np.asarray(circle.vertices, dtype=float)
            dots: dict[int, list[MplPath]] = {}  # colour step (-1: grey) -> dots
            for y, d in zip(ys, swarm, strict=True):
                if d is None:
                    continue
                for i, c in enumerate(d.counts):
                    if c <= 0:
                        continue
                    k = min(12, math.ceil(c / per_dot))
                    centre = (d.bin_edges[i] + d.bin_edges[i + 1]) / 2
                    rank = d.mean_feature_rank[i]
                    level = -1 if rank is None else round(min(max(rank, 0.0), 1.0) * _STEPS)
                    dots.setdefault(level, []).extend(
                        MplPath(
                            outline * (rx, ry) + (centre, y + (j - (k - 1) / 2) * step),
                            circle.codes,
                        )
                        for j in range(k)
                    )
            for level in sorted(dots):
                ax2.add_patch(
                    PathPatch(
                        MplPath.make_compound_path(*dots[level]),
                        facecolor=_rank_colour(None if level < 0 else level / _STEPS),
                        edgecolor="none",
                        linewidth=0,
                    )
                )
            ax2.axvline(0, color=MUTED, linewidth=0.5)
            ax2.set_title("Attribution per row (binned)")
            ax2.set_xlabel("attribution")
            ax2.tick_params(axis="y", length=0)
            finish_axes(ax2)
            # legend of the colour scale: a strip of rectangles, not an embedded image
            cax = fig.add_axes((0.925, 0.3, 0.012, 0.45))
            from matplotlib.patches import Rectangle

            for i in range(_STEPS + 1):
                cax.add_patch(
                    Rectangle(
                        (0, i / (_STEPS + 1)),
                        1,
                        1 / (_STEPS + 1),
                        color=_rank_colour(i / _STEPS),
                    )
                )
            cax.set_xlim(0, 1)
            cax.set_ylim(0, 1)
            cax.set_xticks([])
            cax.set_yticks([0, 1], ["low", "high"])
            cax.yaxis.tick_right()
            cax.tick_params(length=0, labelsize=5.5)
            cax.set_title("feature\nvalue", fontsize=5.5, fontweight="normal", loc="center")
            for side in cax.spines.values():
                side.set_visible(False)
        return fig

    return FigureSpec(
        title=f"Feature importance (rule {rule_id})",
        alt=alt,
        caption=caption,
        build=build,
        size=size,
    )
