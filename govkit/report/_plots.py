"""The plots of a model card, each a :class:`FigureSpec`: what it shows in words and how to draw it.

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

from govkit.report._figures import ACCENT, BAD, GRID, INK, MUTED, PALETTE, label
from govkit.results import (
    Bound,
    CheckResult,
    ClassifierCurves,
    CurveSet,
    DriftEvidence,
    ExplanationEvidence,
    GroupEvidence,
    MetricsEvidence,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FigureSpec",
    "fairness_figure",
    "performance_figure",
    "group_curves_figures",
    "importance_figure",
    "drift_figure",
    "WIDTH",
]

#: Width of a full-width figure, inches: the text width of an A4 page (178 mm) less a margin.
WIDTH = 6.9
_MAX_BARS = 40
_MAX_LINES = len(PALETTE)
_STYLES = ("-", "--", "-.", ":")
_STEPS = 19  # colour steps of the beeswarm above the lowest: 20 colours, as in its legend
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

# per-group rates behind each disparity metric (fairlearn's definitions)
_BASE_RATES = {
    "demographic_parity_difference": ("selection_rate",),
    "demographic_parity_ratio": ("selection_rate",),
    "equalized_odds_difference": ("true_positive_rate", "false_positive_rate"),
    "equalized_odds_ratio": ("true_positive_rate", "false_positive_rate"),
}


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


def _bound_text(bound: Bound) -> str:
    parts = []
    if bound.min is not None:
        parts.append(f"\u2265 {bound.min:g}")
    if bound.max is not None:
        parts.append(f"\u2264 {bound.max:g}")
    return " and ".join(parts) or "any value"


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v, ".3g") if abs(v) < 1000 else f"{v:,.0f}"


def _size(height: float, width: float = WIDTH) -> tuple[float, float]:
    return (width, max(height, 0.9))


def _new_figure(size: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def _finish_axes(ax: Axes, *, grid_axis: Literal["both", "x", "y"] = "x") -> None:
    ax.grid(True, axis=grid_axis, color=GRID, linewidth=0.4)
    ax.set_axisbelow(True)


def _left_margin(labels: Sequence[str], width: float) -> float:
    longest = max((len(s) for s in labels), default=4)
    inches = 0.12 + longest * 6.5 * 0.58 / 72.0
    return min(0.45, inches / width)


# ------------------------------------------------------------------- fairness


@dataclass(frozen=True)
class _Panel:
    metric: str
    values: tuple[float | None, ...]
    overall: float | None
    line: float | None  # the threshold drawn
    line_text: str
    outside: tuple[bool, ...]


def _rule_kind(check: CheckResult, ev: GroupEvidence) -> str:
    name = check.check_id.rsplit(".", 1)[-1]
    if name not in _BASE_RATES and ev.metric in _BASE_RATES:
        name = ev.metric
    return name


def _panels(check: CheckResult, ev: GroupEvidence, judged: Sequence[bool]) -> list[_Panel]:
    names: dict[str, None] = {}
    for d in (ev.overall, *(g.metrics for g in ev.groups)):
        for k in d:
            names.setdefault(k, None)
    kind = _rule_kind(check, ev)
    wanted = [m for m in _BASE_RATES.get(kind, (kind,)) if m in names] or list(names)[:4]
    bound = check.bound or Bound()
    panels = []
    for metric in wanted:
        values = tuple(g.metrics.get(metric) for g in ev.groups)
        judged_values = [
            v
            for v, j in zip(values, judged, strict=True)
            if j and v is not None and math.isfinite(v)
        ]
        top = max(judged_values, default=None)
        line: float | None = None
        text = ""
        if kind.endswith("_ratio") and bound.min is not None and top is not None:
            line = bound.min * top
            text = f"{bound.min:g} \u00d7 highest = {_fmt(line)}"
        elif kind.endswith("_difference") and bound.max is not None and top is not None:
            line = top - bound.max
            text = f"highest \u2212 {bound.max:g} = {_fmt(line)}"
            if line <= 0:  # no rate can fall below it: nothing to draw
                line, text = None, f"highest \u2212 {bound.max:g} \u2264 0, no group can break it"
        lo = line if line is not None else bound.min
        hi = None if line is not None else bound.max
        if line is None and kind == metric:
            text = " and ".join(
                t
                for t in (
                    f"\u2265 {bound.min:g}" if bound.min is not None else "",
                    f"\u2264 {bound.max:g}" if bound.max is not None else "",
                )
                if t
            )
        elif line is None:
            lo = hi = None  # the bound is on the disparity, which has no line on this scale
        outside = tuple(
            bool(
                j and v is not None and ((lo is not None and v < lo) or (hi is not None and v > hi))
            )
            for v, j in zip(values, judged, strict=True)
        )
        panels.append(_Panel(metric, values, ev.overall.get(metric), line, text, outside))
    return panels


def fairness_figure(check: CheckResult, ev: GroupEvidence) -> FigureSpec | None:
    """Bars per group for each rate behind a fairness rule, with the rule's threshold drawn."""
    groups = list(ev.groups)
    if not groups:
        return None
    dropped = 0
    if len(groups) > _MAX_BARS:
        keep = sorted(range(len(groups)), key=lambda i: (-groups[i].count, i))[:_MAX_BARS]
        dropped = len(groups) - _MAX_BARS
        groups = [groups[i] for i in sorted(keep)]
        ev = ev.model_copy(update={"groups": tuple(groups)})
    judged = [g.judged for g in groups]
    panels = _panels(check, ev, judged)
    if not panels:
        return None
    by = " \u00d7 ".join(ev.sensitive_features) or "group"
    names = [label(" / ".join(g.group) or "\u2014") for g in groups]
    bound = check.bound or Bound()
    kind = _rule_kind(check, ev)
    n_out = sum(any(p.outside[i] for p in panels) for i in range(len(groups)))

    parts = []
    for p in panels:
        shown = "; ".join(
            f"{label(n, 60)} {_fmt(v)}" for n, v in list(zip(names, p.values, strict=True))[:24]
        )
        line = f" Threshold line at {p.line_text}." if p.line_text else ""
        parts.append(f"{p.metric} by {by}: {shown}.{line}")
    alt = (
        f"Bar chart for rule {check.rule_id} ({check.check_id}). "
        + " ".join(parts)
        + f" {n_out} of {len(groups)} groups outside the bound."
    )
    if kind in _BASE_RATES and any(p.line is not None for p in panels):
        rule_text = (
            f"The rule bounds {kind} ({_fmt(check.value)}, required "
            f"{_bound_text(bound)}); the dashed line marks where a group's rate would break it."
        )
    elif kind in _BASE_RATES:
        rule_text = f"The rule bounds {kind} ({_fmt(check.value)}, required {_bound_text(bound)})."
    else:
        rule_text = (
            f"Every group must satisfy {kind} {_bound_text(bound)}; "
            "the dashed lines mark the bound."
        )
    caption = (
        f"{', '.join(p.metric for p in panels)} per group of {by}. {rule_text} "
        "Dotted: all groups. Red bars marked \u2717 lie outside the bound; "
        "pale bars with a dashed outline are groups too small to be judged."
    )
    if dropped:
        caption += f" The {dropped} smallest groups are left out of the plot (see the table)."

    n = len(groups)
    height = 0.62 + 0.16 * n
    size = _size(height)

    def build() -> Figure:
        fig = _new_figure(size)
        left = _left_margin(names, WIDTH)
        fig.subplots_adjust(
            left=left, right=0.97, bottom=0.34 / height, top=1 - 0.24 / height, wspace=0.08
        )
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        ys = list(range(n))
        for ax, p in zip(axes, panels, strict=True):
            vals = [0.0 if v is None or not math.isfinite(v) else v for v in p.values]
            colours = [
                BAD if out else (PALETTE[0] if j else "#c9d3df")
                for out, j in zip(p.outside, judged, strict=True)
            ]
            # no hatching (slow to lay out in PDFs): the cross and the number carry the meaning
            bars = ax.barh(ys, vals, height=0.66, color=colours, linewidth=0.6)
            for bar, j in zip(bars, judged, strict=True):
                if not j:
                    bar.set_edgecolor(MUTED)
                    bar.set_linestyle((0, (2, 1.5)))
                else:
                    bar.set_linewidth(0)
            scale = [*vals, p.line or 0.0, p.overall or 0.0, 1e-9]
            if p.line is None and kind == p.metric:
                scale += [b for b in (bound.min, bound.max) if b is not None and b <= 1.0]
            top = max(scale)
            ax.set_xlim(0, top * 1.22)
            for y, v, out in zip(ys, p.values, p.outside, strict=True):
                text = _fmt(v) + (" \u2717" if out else "")
                x = 0.0 if v is None or not math.isfinite(v) else v
                ax.text(
                    x + top * 0.012, y, text, va="center", fontsize=6, color=BAD if out else INK
                )
            if p.overall is not None:
                ax.axvline(p.overall, color=MUTED, linestyle=":", linewidth=0.9)
            lines = [p.line] if p.line is not None else []
            if p.line is None and kind == p.metric:
                lines = [b for b in (bound.min, bound.max) if b is not None]
            for x in lines:
                ax.axvline(x, color=BAD, linestyle="--", linewidth=1.0)
            title = p.metric.replace("_", " ")
            ax.set_title(
                title + (f"  \u2014 line: {p.line_text}" if p.line_text else ""), loc="left"
            )
            ax.set_yticks(ys, names)
            ax.set_ylim(n - 0.5, -0.5)
            ax.tick_params(axis="y", length=0)
            _finish_axes(ax)
        return fig

    return FigureSpec(
        title=f"{ev.metric} by {by} (rule {check.rule_id})",
        alt=alt,
        caption=caption,
        build=build,
        size=size,
    )


# ----------------------------------------------------------------- performance


def _confusion(ax: Axes, confusion: dict[str, float]) -> str:
    tn, fp = confusion.get("tn", 0.0), confusion.get("fp", 0.0)
    fn, tp = confusion.get("fn", 0.0), confusion.get("tp", 0.0)
    total = max(tn + fp + fn + tp, 1.0)
    cells = [[tn, fp], [fn, tp]]
    names = [["true negative", "false positive"], ["false negative", "true positive"]]
    from matplotlib.patches import Rectangle

    for r in range(2):
        row_total = max(sum(cells[r]), 1.0)
        for c in range(2):
            share = cells[r][c] / row_total
            shade = 0.12 + 0.75 * share
            colour = (1 - shade * 0.95, 1 - shade * 0.72, 1 - shade * 0.42)
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=colour, edgecolor="white", linewidth=1))
            ink = "white" if shade > 0.55 else INK
            ax.text(
                c + 0.5,
                r + 0.42,
                f"{cells[r][c]:,.0f}",
                ha="center",
                va="center",
                fontsize=8,
                fontweight="bold",
                color=ink,
            )
            ax.text(
                c + 0.5,
                r + 0.66,
                f"{names[r][c]}\n{100 * cells[r][c] / total:.1f}% of all",
                ha="center",
                va="center",
                fontsize=5.5,
                color=ink,
            )
    ax.set_xlim(0, 2)
    ax.set_ylim(2, 0)
    ax.set_xticks([0.5, 1.5], ["negative", "positive"])
    ax.set_yticks([0.5, 1.5], ["negative", "positive"], rotation=90, va="center")
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Actual")
    ax.tick_params(length=0)
    ax.set_aspect("equal")
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title("Confusion matrix")
    return (
        f"Confusion matrix: {tp:,.0f} true positives, {fp:,.0f} false positives, "
        f"{tn:,.0f} true negatives, {fn:,.0f} false negatives."
    )


def _roc_axes(ax: Axes) -> None:
    ax.plot([0, 1], [0, 1], color=MUTED, linestyle=(0, (2, 2)), linewidth=0.6)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_aspect("equal")
    ax.set_title("ROC curve")
    _finish_axes(ax, grid_axis="both")


def _calibration_axes(ax: Axes) -> None:
    ax.plot([0, 1], [0, 1], color=MUTED, linestyle=(0, (2, 2)), linewidth=0.6)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])
    ax.set_xlabel("Mean predicted probability")
    ax.set_ylabel("Observed positive rate")
    ax.set_aspect("equal")
    ax.set_title("Calibration")
    _finish_axes(ax, grid_axis="both")


def _calibration_points(curve: CurveSet) -> tuple[list[float], list[float]]:
    cal = curve.calibration
    if cal is None:
        return [], []
    pts = [
        (x, y)
        for x, y in zip(cal.mean_predicted, cal.fraction_positive, strict=True)
        if x is not None and y is not None
    ]
    return [p[0] for p in pts], [p[1] for p in pts]


def _roc_text(curve: CurveSet) -> str:
    auc = curve.roc.auc if curve.roc is not None else None
    return f"AUC {_fmt(auc)}" if auc is not None else "no ROC (one class only)"


def performance_figure(ev: MetricsEvidence, *, rule_id: str) -> FigureSpec | None:
    """Confusion matrix, and the overall ROC and calibration curves when the run kept them."""
    curves = ev.curves
    has_cm = bool(ev.confusion)
    overall = curves.overall if curves is not None else None
    has_roc = overall is not None and overall.roc is not None
    has_cal = overall is not None and bool(_calibration_points(overall)[0])
    panels = [p for p, ok in (("cm", has_cm), ("roc", has_roc), ("cal", has_cal)) if ok]
    if not panels:
        return None
    alt_parts: list[str] = []
    if has_cm:
        assert ev.confusion is not None
        tn, fp = ev.confusion.get("tn", 0.0), ev.confusion.get("fp", 0.0)
        fn, tp = ev.confusion.get("fn", 0.0), ev.confusion.get("tp", 0.0)
        alt_parts.append(
            f"Confusion matrix: {tp:,.0f} true positives, {fp:,.0f} false positives, "
            f"{tn:,.0f} true negatives, {fn:,.0f} false negatives."
        )
    if has_roc and overall is not None:
        alt_parts.append(f"ROC curve of all {overall.count:,} rows, {_roc_text(overall)}.")
    if has_cal and overall is not None:
        xs, ys = _calibration_points(overall)
        worst = max(abs(x - y) for x, y in zip(xs, ys, strict=True))
        alt_parts.append(
            f"Calibration curve over {len(xs)} score bins; the largest gap between mean "
            f"predicted probability and observed positive rate is {_fmt(worst)}."
        )
    caption = "Predictions on the evaluation data (decision threshold of the model)."
    if has_roc or has_cal:
        caption += (
            " ROC: true against false positive rate over all score thresholds (dotted: chance)."
            " Calibration: observed positive rate per score bin against the mean score"
            " (dotted: perfect calibration); bins with fewer than 5 rows are not drawn."
        )

    size = _size(2.45, min(WIDTH, 2.35 * len(panels)))

    def build() -> Figure:
        fig = _new_figure(size)
        fig.subplots_adjust(
            left=0.09 * 3 / len(panels), right=0.98, bottom=0.2, top=0.9, wspace=0.45
        )
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, kind in zip(axes, panels, strict=True):
            if kind == "cm":
                assert ev.confusion is not None
                _confusion(ax, ev.confusion)
            elif kind == "roc" and overall is not None and overall.roc is not None:
                _roc_axes(ax)
                ax.plot(overall.roc.fpr, overall.roc.tpr, color=ACCENT, linewidth=1.2)
                ax.text(0.97, 0.05, _roc_text(overall), ha="right", fontsize=6.5, color=INK)
            elif kind == "cal" and overall is not None:
                _calibration_axes(ax)
                xs, ys = _calibration_points(overall)
                ax.plot(xs, ys, color=ACCENT, marker="o", markersize=2.5, linewidth=1.0)
        return fig

    what = {"cm": "Confusion matrix", "roc": "ROC curve", "cal": "calibration"}
    title = ", ".join(what[p] for p in panels)
    title = title[0].upper() + title[1:]
    return FigureSpec(
        title=f"{title} (rule {rule_id})",
        alt=" ".join(alt_parts),
        caption=caption,
        build=build,
        size=size,
    )


def group_curves_figures(curves: ClassifierCurves) -> list[FigureSpec]:
    """Per sensitive feature: ROC and calibration of each group, over the overall curves."""
    specs = []
    overall = curves.overall
    for feature in curves.by_feature:
        drawn = [g for g in feature.groups if g.judged and (g.roc is not None or g.calibration)]
        drawn = drawn[:_MAX_LINES]
        if not drawn:
            continue
        skipped = [g for g in feature.groups if g not in drawn]
        name = label(feature.sensitive_feature, 40)
        names = [label(" / ".join(g.group), 28) for g in drawn]
        alt = (
            f"ROC and calibration curves by {name}: "
            + "; ".join(
                f"{n} ({g.count:,} rows, {_roc_text(g)})" for n, g in zip(names, drawn, strict=True)
            )
            + f"; all rows {_roc_text(overall)}."
        )
        caption = (
            f"Score curves per group of {name}; grey: all rows. Groups differ in colour, "
            "line style and marker."
        )
        if skipped:
            caption += (
                " Not drawn (too small, one class only, or beyond eight lines): "
                + ", ".join(
                    f"{label(' / '.join(g.group), 28)} ({g.count:,} rows)" for g in skipped[:12]
                )
                + ("\u2026" if len(skipped) > 12 else "")
                + "."
            )

        def build(drawn: list[CurveSet] = drawn, names: list[str] = names) -> Figure:
            fig = _new_figure(_size(2.55))
            fig.subplots_adjust(left=0.07, right=0.7, bottom=0.18, top=0.9, wspace=0.42)
            ax_roc, ax_cal = fig.subplots(1, 2)
            _roc_axes(ax_roc)
            _calibration_axes(ax_cal)
            if overall.roc is not None:
                ax_roc.plot(overall.roc.fpr, overall.roc.tpr, color="#afb8c1", linewidth=2.2)
            xs, ys = _calibration_points(overall)
            ax_cal.plot(xs, ys, color="#afb8c1", linewidth=2.2, label="all rows")
            for i, (g, n) in enumerate(zip(drawn, names, strict=True)):
                style = {
                    "color": PALETTE[i % len(PALETTE)],
                    "linestyle": _STYLES[i % len(_STYLES)],
                    "linewidth": 1.0,
                }
                if g.roc is not None:
                    ax_roc.plot(g.roc.fpr, g.roc.tpr, **style)
                gx, gy = _calibration_points(g)
                ax_cal.plot(
                    gx,
                    gy,
                    marker=_MARKERS[i % len(_MARKERS)],
                    markersize=2.6,
                    label=f"{n} (n={g.count:,}, {_roc_text(g)})",
                    **style,
                )
            ax_cal.legend(loc="upper left", bbox_to_anchor=(1.04, 1.0), borderaxespad=0)
            return fig

        specs.append(
            FigureSpec(
                title=f"ROC and calibration by {feature.sensitive_feature}",
                alt=alt,
                caption=caption,
                build=build,
                size=_size(2.55),
            )
        )
    return specs


# ------------------------------------------------------------------ explanations


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
            f"{n} {_fmt(f.mean_abs_attribution)}" for n, f in zip(names, feats, strict=True)
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
    size = _size(height)

    def build() -> Figure:
        fig = _new_figure(size)
        left = _left_margin(names, WIDTH)
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
            ax.text(v + top * 0.015, y, _fmt(v), va="center", fontsize=6)
        ax.set_yticks(ys, names)
        ax.set_ylim(n - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.set_title("Mean |attribution|")
        _finish_axes(ax)
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
            _finish_axes(ax2)
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


# ------------------------------------------------------------------------ drift


def _drift_outside(f: object, limit: float | None, on_statistic: bool) -> bool:
    passed = getattr(f, "passed", None)
    if passed is not None:
        return not passed
    value = getattr(f, "value", None)
    return on_statistic and limit is not None and value is not None and value > limit


def drift_figure(check: CheckResult, ev: DriftEvidence) -> FigureSpec | None:
    """Drift statistic per feature, largest first, with the bound when it is on the statistic."""
    feats = sorted(ev.features, key=lambda f: (-(f.value or 0.0), f.feature))[:_MAX_BARS]
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
            f"{n} {_fmt(f.value)}" + (" (outside the bound)" if o else "")
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
    size = _size(height)

    def build() -> Figure:
        fig = _new_figure(size)
        fig.subplots_adjust(
            left=_left_margin(names, WIDTH),
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
                _fmt(f.value) + (" \u2717" if o else ""),
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
        _finish_axes(ax)
        return fig

    return FigureSpec(
        title=f"Drift per feature (rule {check.rule_id})",
        alt=alt,
        caption=caption,
        build=build,
        size=size,
    )
