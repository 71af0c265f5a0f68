"""How a model card prints values: numbers, bounds, times, statuses and free text.

Every section of the card view formats through these, so a number or a bound
reads the same in the metrics table, the analyses and the policy evaluation.
Values stay plain strings (never markup); the Jinja environment escapes them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

from govkit.records import DatasetRef
from govkit.report._viewmodel import StatusView
from govkit.results import Bound, Status, exact_number

__all__ = [
    "fmt_number",
    "fmt_bound",
    "fmt_measured",
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


def _exact(value: float) -> str:
    """A bound as written in the policy (:func:`govkit.results.exact_number`), whole
    numbers with thousands separators."""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if math.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    return exact_number(value)


def _digits(value: float) -> int:
    """Significant digits of a bound as :func:`_exact` writes it (0.33801: 5)."""
    if not math.isfinite(value):
        return 0
    return len(Decimal(repr(float(value))).normalize().as_tuple().digits)


def fmt_bound(bound: Bound | None) -> str:
    """A bound with its ends exact (``\u2265 0.87317``, not rounded to ``0.8732``)."""
    if bound is None:
        return "\u2014"
    parts = []
    if bound.min is not None:
        parts.append(f"\u2265 {_exact(bound.min)}")
    if bound.max is not None:
        parts.append(f"\u2264 {_exact(bound.max)}")
    return " and ".join(parts) or "any value"


def fmt_measured(value: float | None, bound: Bound | None) -> tuple[str, str]:
    """A measured value and its bound as printed side by side: ``(value, bound)``.

    The bound is exact; the value has 4 significant digits, or as many as the bound is
    written with, or as many more as it takes for the printed numbers to compare as the
    real ones do: 0.33799 against a minimum of 0.33801 reads ``0.33799 \u2265 0.33801``,
    never ``0.338 \u2265 0.338`` next to a failure.
    """
    shown_bound = fmt_bound(bound)
    if (
        bound is None
        or value is None
        or isinstance(value, bool)
        or not math.isfinite(value)
        or (bound.min is None and bound.max is None)
    ):
        return fmt_number(value), shown_bound
    # at least as many significant digits as the bound is written with
    digits = max(4, *(_digits(end) for end in (bound.min, bound.max) if end is not None))
    if float(value).is_integer() and abs(value) < 1e15:  # a count: printed whole
        text = fmt_number(value)
    else:
        text = bound.shown(value, f".{digits}g")
    return text, shown_bound


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
