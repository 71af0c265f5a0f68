"""The performance plots of a card: confusion matrix, ROC and calibration curves.

:func:`performance_figure` puts the confusion matrix next to the ROC and
calibration curves of all rows; :func:`group_curves_figures` draws, per sensitive
feature, the curves of each group over those of all rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govkit.report._figures import ACCENT, INK, MUTED, PALETTE, label
from govkit.report._plot_spec import (
    WIDTH,
    FigureSpec,
    fig_size,
    finish_axes,
    fmt_short,
    new_figure,
)
from govkit.results import ClassifierCurves, CurveSet, MetricsEvidence

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["performance_figure", "group_curves_figures"]

_MAX_LINES = len(PALETTE)
_STYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


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


def _unit_axes(ax: Axes, *, xlabel: str, ylabel: str, title: str) -> None:
    """Axes from 0 to 1 both ways, equal in scale, with the diagonal dotted."""
    ax.plot([0, 1], [0, 1], color=MUTED, linestyle=(0, (2, 2)), linewidth=0.6)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_aspect("equal")
    ax.set_title(title)
    finish_axes(ax, grid_axis="both")


def _roc_axes(ax: Axes) -> None:
    _unit_axes(ax, xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")


def _calibration_axes(ax: Axes) -> None:
    _unit_axes(
        ax,
        xlabel="Mean predicted probability",
        ylabel="Observed positive rate",
        title="Calibration",
    )


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
    return f"AUC {fmt_short(auc)}" if auc is not None else "no ROC (one class only)"


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
            f"predicted probability and observed positive rate is {fmt_short(worst)}."
        )
    caption = "Predictions on the evaluation data (decision threshold of the model)."
    if has_roc or has_cal:
        caption += (
            " ROC: true against false positive rate over all score thresholds (dotted: chance)."
            " Calibration: observed positive rate per score bin against the mean score"
            " (dotted: perfect calibration); bins with fewer than 5 rows are not drawn."
        )

    size = fig_size(2.45, min(WIDTH, 2.35 * len(panels)))

    def build() -> Figure:
        fig = new_figure(size)
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
            fig = new_figure(fig_size(2.55))
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
                size=fig_size(2.55),
            )
        )
    return specs
