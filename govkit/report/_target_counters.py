"""Lay the contents page out twice, not three times, for its ``target-counter()`` page numbers.

The card's contents print each entry's page with ``target-counter(attr(href),
page)``. WeasyPrint 70 has to lay that page out again once the pages it points
to are known; it does so twice more, because of two slips in
``formatting_structure/build.py`` (``compute_content_list``) that cancel out:

* the anchor a ``target-counter(attr(...))`` waits for is named from the
  unresolved ``attr()`` token, so it is recorded under the name None and the
  pages that hold the anchors never find who waits for them;
* the list of counters the entry misses *locally* is rebound to the list it
  misses from its *target*, so ``page`` is taken for a local counter, and the
  page holding the entry is made again whenever its own counters change -- which
  is how the numbers come right after all, one pass later than needed (the first
  pass ends with the page count unknown, so the second pass sees a change).

:func:`install` corrects both where WeasyPrint records what an entry misses
(``TargetCollector.collect_missing_counters``): the anchor is named from the
resolved attribute, and a target's list is not taken for a local one when the
content has no ``counter()`` of its own. Then the anchors' pages update the
entries that point to them, and the contents page is made twice. Entries whose
anchors cannot be named (several ``attr()`` targets for different anchors in one
content) are recorded as WeasyPrint records them. The PDF is the same, byte for byte
(``tests/test_target_counters.py``).

Installed once, in the process that lays out PDFs, and only on the WeasyPrint
versions it was checked against. The code follows ``weasyprint/css/targets.py``
and ``weasyprint/formatting_structure/build.py`` (BSD-3-Clause, Kozea).
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

from govkit.report._patching import install_once, original_inside

__all__ = ["install", "installed", "made_three_times"]

#: WeasyPrint major versions whose target counters this module was checked against.
CHECKED_MAJORS = (70,)

_TARGETS = ("target-counter()", "target-counters()")
_LOCAL = ("counter()", "counters()")

_state: dict[str, Any] = {}


def installed() -> bool:
    """Whether target counters are recorded under their anchors' names in this process."""
    return bool(_state.get("installed"))


def _anchor_names(box: Any, content: Any, get_url_tuple: Any, name_of: Any) -> list[Any]:
    """The anchors the ``target-*()`` of ``content`` point to, named as ``lookup_target``
    names them (None where it cannot)."""
    names = []
    for kind, value in content:
        if kind not in _TARGETS:
            continue
        token = value[0]
        if token[0] == "attr()":
            attr_name, type_, fallback = token[1]
            attr_value = box.element.get(attr_name, fallback)
            if type_ == "string":
                token = ("string", attr_value)
            elif type_ == "url":
                token = ("url", get_url_tuple(attr_value, box.style.base_url))
        names.append(name_of(token))
    return names


def _make(original: Any, get_url_tuple: Any, name_of: Any) -> Any:
    def collect_missing_counters(
        self: Any,
        parent_box: Any,
        css_token: Any,
        parse_again_function: Any,
        missing_counters: Any,
        missing_target_counters: Any,
    ) -> Any:
        content = None
        if self.collecting and css_token == "content" and missing_target_counters:
            with contextlib.suppress(AttributeError, KeyError, TypeError):
                content = parent_box.style["content"]
        if isinstance(content, (list, tuple)):
            if None in missing_target_counters:
                names = set(_anchor_names(parent_box, content, get_url_tuple, name_of))
                if len(names) == 1 and None not in names:
                    # one anchor, recorded as None: put its counters under its name
                    (name,) = names
                    waiting = missing_target_counters.pop(None)
                    missing_target_counters.setdefault(name, waiting)
            if None not in missing_target_counters and not any(
                kind in _LOCAL for kind, _ in content
            ):
                if any(missing_counters is c for c in missing_target_counters.values()):
                    missing_counters = []  # a target's list, not a local one
        return original(
            self,
            parent_box,
            css_token,
            parse_again_function,
            missing_counters,
            missing_target_counters,
        )

    return collect_missing_counters


def install(weasyprint: Any) -> bool:
    """Record target counters under their anchors from now on; False when not applied.

    Not applied (WeasyPrint's recording stays) on a WeasyPrint major version other
    than :data:`CHECKED_MAJORS`, or when its target code does not look as expected.
    Idempotent.
    """
    return install_once(_state, weasyprint, CHECKED_MAJORS, _found, _use)


def _found() -> dict[str, Any] | None:
    """WeasyPrint's code the change replaces, and the change; None if it looks unexpected."""
    targets = importlib.import_module("weasyprint.css.targets")
    collector = getattr(targets, "TargetCollector", None)
    original = getattr(collector, "collect_missing_counters", None)
    get_url_tuple = getattr(targets, "get_url_tuple", None)
    name_of = getattr(targets, "anchor_name_from_token", None)
    if original is None or get_url_tuple is None or name_of is None:
        return None
    return dict(
        collector=collector,
        original=original,
        patched=_make(original, get_url_tuple, name_of),
    )


def _use(function: Any) -> None:
    _state["collector"].collect_missing_counters = function


def made_three_times() -> contextlib.AbstractContextManager[None]:
    """WeasyPrint's own recording inside the block (tests and the benchmark compare)."""
    return original_inside(_state, _use)
