"""The size limits of what a model card shows, in one place for the card and for registration.

A card is a summary an auditor reads: a 10 MB description or 100,000 out-of-scope uses is
a mistake or an attack, and laying it out would take minutes and gigabytes, so the card
refuses it (:mod:`govkit.report._limits`). Registration checks a model's metadata against
the same limits (:mod:`govkit._registration`), so that what registers can be carded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

__all__ = [
    "MAX_TEXT_CHARS",
    "MAX_ITEMS",
    "MAX_TOTAL_CHARS",
    "Oversize",
    "first_oversize",
    "fmt_loc",
]

#: The longest free-text value a card takes (a description, a rule message, a group label).
MAX_TEXT_CHARS = 100_000
#: The most entries of one list a card takes (groups of a rule, columns, rules, datasets).
MAX_ITEMS = 5_000
#: All text of all inputs together.
MAX_TOTAL_CHARS = 2_000_000

#: A place in a value: field names, list positions, ("at", K) for the value of a mapping's
#: key K and ("key", K) for the key itself.
Loc = tuple[str | int | tuple[str, str], ...]


@dataclass(frozen=True)
class Oversize:
    """The first value over a limit: where, which limit, how big it is."""

    loc: Loc
    kind: Literal["text", "items"]
    size: int

    @property
    def limit(self) -> int:
        return MAX_TEXT_CHARS if self.kind == "text" else MAX_ITEMS


def _walk(value: object, loc: Loc) -> Iterator[tuple[Loc, object]]:
    yield loc, value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), (*loc, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(key, (*loc, ("key", str(key))))
            yield from _walk(item, (*loc, ("at", str(key))))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, (*loc, i))


def first_oversize(value: object, loc: Loc = ()) -> tuple[Oversize | None, int]:
    """The first text over :data:`MAX_TEXT_CHARS` or list or mapping over :data:`MAX_ITEMS`
    in ``value`` (None when there is none), and the characters of text seen up to there."""
    total = 0
    for where, item in _walk(value, loc):
        if isinstance(item, str):
            total += len(item)
            if len(item) > MAX_TEXT_CHARS:
                return Oversize(where, "text", len(item)), total
        elif isinstance(item, list | tuple | dict) and len(item) > MAX_ITEMS:
            return Oversize(where, "items", len(item)), total
    return None, total


def fmt_loc(loc: Loc) -> str:
    """``model.metadata.out_of_scope_uses[3]``, ``features['age']``, ``features[key 'x']``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, tuple):
            kind, key = part
            out += f"[key {key[:40]!r}]" if kind == "key" else f"[{key[:40]!r}]"
        else:
            out += f".{part}" if out else part
    return out
