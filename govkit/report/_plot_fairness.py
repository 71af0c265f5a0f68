"""The fairness plot of a card: bars per group for each rate behind a fairness rule.

:func:`fairness_figure` draws one panel per rate the rule is computed from
(selection rate for demographic parity, true and false positive rates for
equalized odds, else the rule's own metric), with the line where a group's rate
would break the rule; :func:`_panels` works out those lines and which groups lie
outside them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from govkit.report._figures import BAD, INK, MUTED, PALETTE, label
from govkit.report._plot_spec import (
    MAX_BARS,
    WIDTH,
    FigureSpec,
    bold_text_points,
    fig_size,
    finish_axes,
    fmt_short,
    left_margin,
    new_figure,
    wrap_bold,
)
from govkit.results import Bound, CheckResult, GroupEvidence

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["fairness_figure"]

# per-group rates behind each disparity metric (fairlearn's definitions)
_BASE_RATES = {
    "demographic_parity_difference": ("selection_rate",),
    "demographic_parity_ratio": ("selection_rate",),
    "equalized_odds_difference": ("true_positive_rate", "false_positive_rate"),
    "equalized_odds_ratio": ("true_positive_rate", "false_positive_rate"),
}


def _bound_text(bound: Bound) -> str:
    parts = []
    if bound.min is not None:
        parts.append(f"\u2265 {bound.min:g}")
    if bound.max is not None:
        parts.append(f"\u2264 {bound.max:g}")
    return " and ".join(parts) or "any value"


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
            text = f"{bound.min:g} \u00d7 highest = {fmt_short(line)}"
        elif kind.endswith("_difference") and bound.max is not None and top is not None:
            line = top - bound.max
            text = f"highest \u2212 {bound.max:g} = {fmt_short(line)}"
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


#: Space between panels (a fraction of a panel's width); title size (points, as in the
#: plot style) and the height one more title line adds (inches).
_WSPACE = 0.08
_TITLE_PT = 7.5
_TITLE_LINE = 0.125


def _titles(panels: Sequence[_Panel], axes_inches: float) -> list[str]:
    """Each panel's title, wrapped to its panel's width (a long rule line made the title
    of the right-hand panel run off the figure): the metric first, then the rule's line."""
    count = len(panels)
    panel_pt = axes_inches * 72 / (count + _WSPACE * (count - 1))
    titles = []
    for p in panels:
        name = p.metric.replace("_", " ")
        text = name + (f" \u2014 line: {p.line_text}" if p.line_text else "")
        if bold_text_points(text, _TITLE_PT) <= panel_pt:
            titles.append(text)
        else:
            head = wrap_bold(name + (" \u2014" if p.line_text else ""), _TITLE_PT, panel_pt)
            tail = wrap_bold(f"line: {p.line_text}", _TITLE_PT, panel_pt) if p.line_text else []
            titles.append("\n".join(head + tail))
    return titles


def fairness_figure(check: CheckResult, ev: GroupEvidence) -> FigureSpec | None:
    """Bars per group for each rate behind a fairness rule, with the rule's threshold drawn."""
    groups = list(ev.groups)
    if not groups:
        return None
    dropped = 0
    if len(groups) > MAX_BARS:
        keep = sorted(range(len(groups)), key=lambda i: (-groups[i].count, i))[:MAX_BARS]
        dropped = len(groups) - MAX_BARS
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
            f"{label(n, 60)} {fmt_short(v)}"
            for n, v in list(zip(names, p.values, strict=True))[:24]
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
            f"The rule bounds {kind} ({fmt_short(check.value)}, required "
            f"{_bound_text(bound)}); the dashed line marks where a group's rate would break it."
        )
    elif kind in _BASE_RATES:
        rule_text = (
            f"The rule bounds {kind} ({fmt_short(check.value)}, required {_bound_text(bound)})."
        )
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
    left = left_margin(names, WIDTH)
    titles = _titles(panels, (0.97 - left) * WIDTH)
    extra = (max(t.count("\n") for t in titles)) * _TITLE_LINE
    height = 0.62 + 0.16 * n + extra
    size = fig_size(height)

    def build() -> Figure:
        fig = new_figure(size)
        fig.subplots_adjust(
            left=left,
            right=0.97,
            bottom=0.34 / height,
            top=1 - (0.24 + extra) / height,
            wspace=_WSPACE,
        )
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        ys = list(range(n))
        for ax, p, title in zip(axes, panels, titles, strict=True):
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
                text = fmt_short(v) + (" \u2717" if out else "")
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
            ax.set_title(title, loc="left")
            ax.set_yticks(ys, names)
            ax.set_ylim(n - 0.5, -0.5)
            ax.tick_params(axis="y", length=0)
            finish_axes(ax)
        return fig

    return FigureSpec(
        title=f"{ev.metric} by {by} (rule {check.rule_id})",
        alt=alt,
        caption=caption,
        build=build,
        size=size,
    )
