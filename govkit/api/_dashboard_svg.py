"""Small inline SVG charts for the dashboard: rule trends, group bars, daily volumes, lineage.

Every chart is drawn from aggregates, sized in a ``viewBox`` (it scales with the page),
coloured with presentation attributes (no inline styles: the page's CSP forbids them),
labelled for screen readers (``role="img"`` and ``aria-label``; a table with the same
numbers sits next to each chart in the page) and escapes every text it draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeGuard

from markupsafe import Markup, escape

from govkit.api._dashboard_backend import DayCount, RuleTrend
from govkit.records import DatasetRecord
from govkit.results import GroupEvidence

__all__ = ["trend_chart", "group_bars", "volume_chart", "lineage_graph", "STATUS_COLOURS"]

#: fill colours per status; each has a contrast of at least 4.5:1 against white
STATUS_COLOURS = {
    "PASS": "#1a6b32",
    "WARN": "#8a5300",
    "FAIL": "#b3261e",
    "ERROR": "#6b2c91",
    "WAIVED": "#30577f",
    "N/A": "#555555",
}
_INK = "#1f2328"
_GRID = "#767676"


def _num(value: float) -> str:
    return f"{value:.4g}"


def _finite(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def trend_chart(trend: RuleTrend, *, width: int = 240, height: int = 64) -> Markup:
    """A rule's value over runs: a line, one dot per run coloured by status, the bound dashed."""
    values = [p.value for p in trend.points if _finite(p.value)]
    label = f"Trend of rule {trend.rule_id} over {len(trend.points)} runs"
    if values:
        label += f": from {_num(values[0])} to {_num(values[-1])}"
    bounds = []
    if trend.bound is not None:
        bounds = [b for b in (trend.bound.min, trend.bound.max) if _finite(b)]
    span = [*values, *bounds]
    parts = [
        f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if not span:
        parts.append(
            f'<text x="4" y="{height / 2 + 4}" font-size="11" fill="{_INK}">no values</text>'
        )
        return Markup("".join(parts) + "</svg>")
    low, high = min(span), max(span)
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    pad = 6
    n = len(trend.points)

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return height - pad - (height - 2 * pad) * (v - low) / (high - low)

    for b in bounds:
        parts.append(
            f'<line x1="{pad}" x2="{width - pad}" y1="{y(b):.1f}" y2="{y(b):.1f}" '
            f'stroke="{_GRID}" stroke-dasharray="4 3" stroke-width="1"/>'
        )
    coords = [(x(i), y(p.value), p) for i, p in enumerate(trend.points) if p.value is not None]
    coords = [(cx, cy, p) for cx, cy, p in coords if math.isfinite(cy)]
    if len(coords) > 1:
        line = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _ in coords)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{_INK}" stroke-width="1.5"/>')
    for cx, cy, p in coords:
        colour = STATUS_COLOURS.get(p.status, _INK)
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}">'
            f"<title>run {p.run_id}: {escape(_num(p.value or 0.0))} "
            f"({escape(p.status)})</title></circle>"
        )
    return Markup("".join(parts) + "</svg>")


def _group_value(row_metrics: dict[str, float | None], metric: str) -> float | None:
    if metric in row_metrics:
        return row_metrics[metric]
    for value in row_metrics.values():  # the evidence's only metric under another name
        return value
    return None


def group_bars(evidence: GroupEvidence, *, width: int = 420) -> Markup:
    """One horizontal bar per group of a fairness rule's evidence (its ``metric``)."""
    rows = [
        (" / ".join(g.group), _group_value(g.metrics, evidence.metric), g.judged)
        for g in evidence.groups
    ]
    finite = [v for _, v, _ in rows if _finite(v)]
    top = max([abs(v) for v in finite if v is not None] or [1.0]) or 1.0
    bar_h, gap, label_w, value_w = 16, 6, 150, 56
    height = len(rows) * (bar_h + gap) + gap
    label = f"{evidence.metric} by {', '.join(evidence.sensitive_features)}: " + "; ".join(
        f"{g} {_num(v) if _finite(v) else 'n/a'}" for g, v, _ in rows
    )
    parts = [
        f'<svg class="bars" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    span = width - label_w - value_w
    for i, (group, value, judged) in enumerate(rows):
        top_y = gap + i * (bar_h + gap)
        text_y = top_y + bar_h - 4
        shown = group if len(group) <= 24 else group[:23] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{text_y}" text-anchor="end" font-size="12" '
            f'fill="{_INK}">{escape(shown)}</text>'
        )
        if _finite(value):
            assert value is not None
            w = max(1.0, span * abs(value) / top)
            fill = "#30577f" if judged else "#767676"
            parts.append(
                f'<rect x="{label_w}" y="{top_y}" width="{w:.1f}" height="{bar_h}" fill="{fill}"/>'
            )
            parts.append(
                f'<text x="{label_w + w + 4:.1f}" y="{text_y}" font-size="12" '
                f'fill="{_INK}">{escape(_num(value))}{"" if judged else " *"}</text>'
            )
        else:
            parts.append(
                f'<text x="{label_w}" y="{text_y}" font-size="12" fill="{_INK}">n/a</text>'
            )
    return Markup("".join(parts) + "</svg>")


def volume_chart(days: Sequence[DayCount], *, width: int = 640, height: int = 140) -> Markup:
    """Decisions per day (dark bars) and those with a reliable explanation (light inner bars)."""
    top = max([d.decisions for d in days] or [0]) or 1
    n = max(len(days), 1)
    pad_b, pad_t = 18, 6
    slot = width / n
    total = sum(d.decisions for d in days)
    reliable = sum(d.reliable for d in days)
    label = f"Decisions per day over {len(days)} days: {total} in all, {reliable} reliable"
    parts = [
        f'<svg class="volume" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="0" x2="{width}" y1="{height - pad_b}" y2="{height - pad_b}" '
        f'stroke="{_GRID}" stroke-width="1"/>',
    ]
    usable = height - pad_b - pad_t
    for i, d in enumerate(days):
        h = usable * d.decisions / top
        hr = usable * d.reliable / top
        x0 = i * slot + slot * 0.15
        w = slot * 0.7
        parts.append(
            f'<rect x="{x0:.1f}" y="{height - pad_b - h:.1f}" width="{w:.1f}" '
            f'height="{h:.1f}" fill="#30577f"><title>{d.day.isoformat()}: {d.decisions} '
            f"decisions, {d.reliable} reliable</title></rect>"
        )
        if hr > 0:
            parts.append(
                f'<rect x="{x0 + w * 0.25:.1f}" y="{height - pad_b - hr:.1f}" '
                f'width="{w * 0.5:.1f}" height="{hr:.1f}" fill="#9cc3e6"/>'
            )
        if n <= 14 or i % max(1, n // 7) == 0:
            parts.append(
                f'<text x="{x0 + w / 2:.1f}" y="{height - 4}" font-size="10" '
                f'text-anchor="middle" fill="{_INK}">{d.day.strftime("%m-%d")}</text>'
            )
    return Markup("".join(parts) + "</svg>")


def lineage_graph(model: str, lineage: Sequence[DatasetRecord], *, width: int = 640) -> Markup:
    """The model and its training data's ancestry as columns of boxes joined by arrows.

    ``lineage`` is the training dataset then its ancestors breadth-first (as
    :meth:`Store.lineage` returns it); column 0 is the model, column 1 its training
    data, column k the datasets k-1 derivations further back.
    """
    if not lineage:
        return Markup("")
    depth: dict[str, int] = {str(lineage[0].ref): 1}
    for record in lineage:
        for parent in record.parents:
            depth.setdefault(str(parent), depth.get(str(record.ref), 1) + 1)
    columns: dict[int, list[str]] = {0: [model]}
    for record in lineage:
        columns.setdefault(depth.get(str(record.ref), 1), []).append(str(record.ref))
    n_cols = max(columns) + 1
    box_w, box_h, row_gap = 150, 28, 14
    col_gap = max(20, (width - n_cols * box_w) / max(n_cols - 1, 1))
    height = max(len(c) for c in columns.values()) * (box_h + row_gap) + row_gap
    pos: dict[str, tuple[float, float]] = {}
    for c, names in columns.items():
        x = width - box_w - c * (box_w + col_gap)  # the model on the right: data flows right
        for r, name in enumerate(names):
            pos[name] = (x, row_gap + r * (box_h + row_gap))
    label = f"Lineage of {model}: " + ", ".join(
        f"{r.ref} from {', '.join(str(p) for p in r.parents) or 'its source'}" for r in lineage
    )
    parts = [
        f'<svg class="lineage" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="{_INK}"/>'
        "</marker></defs>",
    ]
    edges = [(str(lineage[0].ref), model)]
    edges += [(str(p), str(r.ref)) for r in lineage for p in r.parents]
    for src, dst in edges:
        if src in pos and dst in pos:
            (x1, y1), (x2, y2) = pos[src], pos[dst]
            parts.append(
                f'<line x1="{x1 + box_w:.1f}" y1="{y1 + box_h / 2:.1f}" x2="{x2:.1f}" '
                f'y2="{y2 + box_h / 2:.1f}" stroke="{_INK}" stroke-width="1.2" '
                'marker-end="url(#arrow)"/>'
            )
    for name, (x, y) in pos.items():
        shown = name if len(name) <= 22 else name[:21] + "…"
        fill = "#e8eef5" if name != model else "#f3efe4"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{box_w}" height="{box_h}" rx="4" '
            f'fill="{fill}" stroke="{_INK}" stroke-width="1"/>'
            f'<text x="{x + box_w / 2:.1f}" y="{y + box_h / 2 + 4:.1f}" font-size="12" '
            f'text-anchor="middle" fill="{_INK}">{escape(shown)}<title>{escape(name)}</title>'
            "</text>"
        )
    return Markup("".join(parts) + "</svg>")
