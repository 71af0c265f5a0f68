"""The monitoring window: ``30d``, ``12h``, ``90m``."""

from __future__ import annotations

import re
from datetime import timedelta

from govkit.exceptions import InputError

__all__ = ["parse_window", "span_text"]

_WINDOW = re.compile(r"^([0-9]+)([mhd])$", re.ASCII)
_MAX_WINDOW = 999_999  # of any unit; the years 1-9999 bound the window further
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_window(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m`` as a timedelta; InputError naming the expected form."""
    match = _WINDOW.match(str(text).strip())
    if match is None:
        raise InputError(
            f"--window: expected a number and a unit, m (minutes), h (hours) or d (days), "
            f"such as 30d; got {str(text)[:40]!r}"
        )
    number, unit = match.group(1), match.group(2)
    if len(number) > len(str(_MAX_WINDOW)) or not 1 <= int(number) <= _MAX_WINDOW:
        raise InputError(
            f"--window: expected a whole number from 1 to {_MAX_WINDOW:,} before the unit; "
            f"got {number[:40]}{unit}"
        )
    return timedelta(**{_UNITS[unit]: int(number)})


def span_text(span: timedelta) -> str:
    minutes = int(span.total_seconds()) // 60
    for unit, size in (("d", 1440), ("h", 60), ("m", 1)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return str(span)
