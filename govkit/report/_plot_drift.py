"""The drift plot of a card: the drift statistic per feature, with the rule's bound.

:func:`drift_figure` draws the features largest first and marks those that break
the rule, whether it judges the statistic or each feature's p-value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govkit.report._figures import BAD, INK, PALETTE, label
from govkit.report._plot_spec import (
    MAX_BARS,
    WIDTH,
    FigureSpec,
    fig_size,
    finish_axes,
    fmt_short,
    left_margin,
    new_figure,
)
from govkit.results import Bound, CheckResult, DriftEvidence

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["drift_figure"]


def _drift_outside(f: object, limit: float | None, on_statistic: bool) -> bool:
    passed = getattr(f, "passed", None)
    if passed is not None:
        return not passed
    value = getattr(f, "value", None)
    return on_statistic and limit is not None and value is not None and value > limit


def drift_figure(check: CheckResult, ev: DriftEvidence) -> FigureSpec | None:
    """Drift statistic per feature, largest first, with the bound when it is on the statistic."""
    feats = sorted(ev.features, key=lambda f: (-(f.value or 0.0), f.feature))[:MAX_BARS]
    if not feats:
        return None
    names = [label(f.feature, 30) for f in feats]
    on_statistic = getattr(ev, "judged_on", "statistic") == "statistic"
    bound = check.bound or Bound()
    limits = [(getattr(f, "bound", None) or bound).max if on_statistic else None for f in feats]
    common = limits[0] if limits and all(x == limits[0] for x in limits) else None
    over = [_drift_outside(f, lim, on_statistic) for f, lim in zip(feats, limits, strict=True)]
    stat = ev.statistic.replace("_", " ")
    alt = (
        f"Bar chart of {stat} per feature, largest first: "
        + "; ".join(
            f"{n} {fmt_short(f.value)}" + (" (outside the bound)" if o else "")
            for n, f, o in zip(names, feats, over, strict=True)
        )
        + (f". Threshold line at {common:g}." if common is not None else ".")
    )
    caption = f"{stat.capitalize()} per feature between the reference and the evaluated data"
    caption += f" ({ev.reference})." if ev.reference else "."
    if common is not None:
        caption += f" Dashed: the bound {common:g}."
    elif not on_statistic:
        caption += " The rule judges each feature's p-value (see the table)."
    caption += " Red bars marked \u2717 break the rule."

    n = len(feats)
    height = 0.6 + 0.16 * n
    size = fig_size(height)

    def build() -> Figure:
        fig = new_figure(size)
        fig.subplots_adjust(
            left=left_margin(names, WIDTH),
            right=0.97,
            bottom=0.34 / height,
            top=1 - 0.24 / height,
        )
        ax = fig.subplots(1, 1)
        ys = list(range(n))
        vals = [f.value or 0.0 for f in feats]
        ax.barh(ys, vals, height=0.62, color=[BAD if o else PALETTE[0] for o in over])
        top = max([*vals, *(x for x in limits if x is not None), 1e-9])
        ax.set_xlim(0, top * 1.2)
        for y, f, o in zip(ys, feats, over, strict=True):
            ax.text(
                (f.value or 0.0) + top * 0.012,
                y,
                fmt_short(f.value) + (" \u2717" if o else ""),
                va="center",
                fontsize=6,
                color=BAD if o else INK,
            )
        if common is not None:
            ax.axvline(common, color=BAD, linestyle="--", linewidth=1.0)
        else:  # a bound per feature: a short mark on each bar's row
            for y, lim in zip(ys, limits, strict=True):
                if lim is not None:
                    ax.plot([lim, lim], [y - 0.4, y + 0.4], color=BAD, linestyle="--", lw=1.0)
        ax.set_yticks(ys, names)
        ax.set_ylim(n - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.set_title(stat)
        finish_axes(ax)
        return fig

    return FigureSpec(
        title=f"Drift per feature (rule {check.rule_id})",
        alt=alt,
        caption=caption,
        build=build,
        size=size,
    )
