"""How a model card prints values: numbers, bounds, times, statuses and free text.

Every section of the card view formats through these, so a number or a bound
reads the same in the metrics table, the analyses and the policy evaluation.
Values stay plain strings (never markup); the Jinja environment escapes them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from govkit.records import DatasetRef
from govkit.report._viewmodel import StatusView
from govkit.results import Bound, Status

__all__ = [
    "fmt_number",
    "fmt_bound",
    "fmt_time",
    "status_view",
    "text_or_none",
    "ref_text",
]

_STATUS_VIEWS: dict[Status, StatusView] = {
    Status.PASS: StatusView("PASS", "\u2713", "pass"),
    Status.WARN: StatusView("WARN", "!", "warn"),
    Status.FAIL: StatusView("FAIL", "\u2717", "fail"),
    Status.ERROR: StatusView("ERROR", "\u2298", "error"),
    Status.NOT_APPLICABLE: StatusView("N/A", "\u2013", "na"),
    Status.WAIVED: StatusView("WAIVED", "\u2248", "waived"),
}


def fmt_number(value: float | int | None) -> str:
    """A metric value as the card prints it: 4 significant digits, ``n/a`` when absent."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if math.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"  # counts stored as floats (confusion matrices)
    return format(value, ".4g")


def fmt_bound(bound: Bound | None) -> str:
    if bound is None:
        return "\u2014"
    parts = []
    if bound.min is not None:
        parts.append(f"\u2265 {fmt_number(bound.min)}")
    if bound.max is not None:
        parts.append(f"\u2264 {fmt_number(bound.max)}")
    return " and ".join(parts) or "any value"


def fmt_time(moment: datetime | None) -> str | None:
    """ISO-like, to the second; aware times are shown in UTC, naive ones as given."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def status_view(status: Status) -> StatusView:
    return _STATUS_VIEWS[status]


def text_or_none(value: str | None) -> str | None:
    """Blank free text counts as missing."""
    if value is None or not value.strip():
        return None
    return value


def ref_text(ref: DatasetRef | str | None) -> str | None:
    return None if ref is None else text_or_none(str(ref))
