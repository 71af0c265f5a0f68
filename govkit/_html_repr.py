"""Compact HTML tables for notebooks (``_repr_html_`` of results, records and decisions).

The domain types call :func:`table` from their ``_repr_html_`` hooks; everything printed is
escaped, statuses are coloured (with the status word always shown, so colour is never the
only signal), and nothing here imports the types themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

__all__ = ["table", "status_cell", "fmt_value"]

# (text colour, background) per status word; contrast >= 4.5:1 on each background
_STATUS_COLOURS = {
    "PASS": ("#0b5d1e", "#e3f4e6"),
    "WARN": ("#6b4a00", "#fff3d6"),
    "FAIL": ("#8a1020", "#fde4e6"),
    "ERROR": ("#8a1020", "#fde4e6"),
    "N/A": ("#3d3d3d", "#eeeeee"),
    "WAIVED": ("#2b3f8a", "#e6ebfb"),
}
_STYLE = "border-collapse:collapse;font-size:0.9em"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"


class Raw(str):
    """Markup already escaped by this module (a status cell)."""


def fmt_value(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def status_cell(status: object) -> Raw:
    word = str(getattr(status, "value", status))
    fg, bg = _STATUS_COLOURS.get(word, ("#000000", "#ffffff"))
    return Raw(
        f'<span style="color:{fg};background:{bg};padding:0 4px;border-radius:3px;'
        f'font-weight:600">{escape(word)}</span>'
    )


def _cell(value: object, tag: str = "td") -> str:
    text = value if isinstance(value, Raw) else escape(fmt_value(value))
    return f'<{tag} style="{_CELL}">{text}</{tag}>'


def table(
    caption: str,
    rows: Iterable[Sequence[object]],
    *,
    header: Sequence[str] = (),
    summary: Iterable[tuple[str, object]] = (),
) -> str:
    """A captioned table: ``summary`` as key/value lines above, then ``rows`` under ``header``."""
    parts = [f"<div><strong>{escape(caption)}</strong>"]
    lines = [
        f"{escape(k)}: {v if isinstance(v, Raw) else escape(fmt_value(v))}" for k, v in summary
    ]
    if lines:
        parts.append("<br>" + "<br>".join(lines))
    body = [f"<tr>{''.join(_cell(v) for v in row)}</tr>" for row in rows]
    if body:
        head = f"<tr>{''.join(_cell(h, 'th') for h in header)}</tr>" if header else ""
        parts.append(f'<table style="{_STYLE}">{head}{"".join(body)}</table>')
    parts.append("</div>")
    return "".join(parts)
