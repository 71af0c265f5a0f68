"""Keep a line of text's Pango layout from layout to drawing instead of building it twice.

WeasyPrint 70 lays each line of text out with a Pango layout, frees it
(``Layout.deactivate``), and when it draws the page builds the same layout
again from the same style and text (``Layout.reactivate``): a Pango context, a
font description, the font features, the text. A card has about 4,000 such
lines; rebuilding them is a fifth of writing its PDF.

:func:`install` makes ``deactivate`` keep the layout, and ``reactivate`` reuse
it when rebuilding could give nothing different:

* the same style object the layout was made with;
* no justification, word or letter spacing -- the cases where WeasyPrint's
  ``set_text`` puts attributes on a layout that depend on the text (where its
  spaces are), which earlier, longer texts of the same layout may have left
  behind. Lines that may break inside words (``overflow-wrap``) are reused: the
  one attribute they get (no hyphens inserted) covers the whole text whatever
  the text, and a drawn line is not broken;
* no tab in the text.

The width set for line breaking is cleared, as a rebuilt layout has none, so
the line is shaped again exactly as WeasyPrint would shape it. Any other line
is rebuilt as WeasyPrint does. The PDF comes out byte for byte the same
(``tests/test_text_layouts.py`` compares them). The cost is memory: the layouts
live as long as the laid-out document, about 3 KB a line (3 MB more at the peak of
the Adult card, 55 MB for 715 pages of 20,000 paragraphs, which the child's memory
limit of 4 GB leaves room for).

Installed once, in the process that lays out PDFs, and only on the WeasyPrint
versions it was checked against. The code follows ``weasyprint/text/line_break.py``
(BSD-3-Clause, Kozea).
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

from govkit.report._patching import install_once, original_inside

__all__ = ["install", "installed", "rebuilt_each_time"]

#: WeasyPrint major versions whose text layout this module was checked against.
CHECKED_MAJORS = (70,)

_state: dict[str, Any] = {}


def installed() -> bool:
    """Whether layouts are kept for drawing in this process."""
    return bool(_state.get("installed"))


def reusable(layout: Any, style: Any) -> bool:
    """Whether WeasyPrint's ``reactivate(style)`` would rebuild ``layout`` as it is."""
    kept = layout.__dict__
    if not kept.get("_govkit_kept") or kept.get("style") is not style:
        return False
    letter_spacing = style["letter_spacing"]
    return not (
        layout.justification_spacing
        or style["word_spacing"]
        or (letter_spacing != "normal" and letter_spacing)
        or "\t" in layout.text
    )


def _make(layout_class: Any, pango: Any) -> tuple[Any, Any]:
    original_reactivate = layout_class.reactivate

    def deactivate(self: Any) -> None:
        # WeasyPrint deletes the Pango objects here; keep them for the drawing
        self._govkit_kept = True

    def reactivate(self: Any, style: Any) -> None:
        if reusable(self, style):
            pango.pango_layout_set_width(self.layout, -1)
            return
        self._govkit_kept = False
        original_reactivate(self, style)

    return deactivate, reactivate


def install(weasyprint: Any) -> bool:
    """Keep text layouts for drawing from now on; False when not applied.

    Not applied (WeasyPrint's rebuilding stays) on a WeasyPrint major version
    other than :data:`CHECKED_MAJORS`, or when its layout class does not look as
    expected. Idempotent.
    """
    return install_once(_state, weasyprint, CHECKED_MAJORS, _found, _use)


def _found() -> dict[str, Any] | None:
    """WeasyPrint's code the change replaces, and the change; None if it looks unexpected."""
    line_break = importlib.import_module("weasyprint.text.line_break")
    layout_class = getattr(line_break, "Layout", None)
    pango = getattr(line_break, "pango", None)
    if (
        layout_class is None
        or pango is None
        or not all(
            callable(getattr(layout_class, name, None))
            for name in ("setup", "set_text", "deactivate", "reactivate")
        )
    ):
        return None
    return dict(
        layout_class=layout_class,
        original=(layout_class.deactivate, layout_class.reactivate),
        patched=_make(layout_class, pango),
    )


def _use(methods: tuple[Any, Any]) -> None:
    layout_class = _state["layout_class"]
    layout_class.deactivate, layout_class.reactivate = methods


def rebuilt_each_time() -> contextlib.AbstractContextManager[None]:
    """WeasyPrint's own freeing and rebuilding inside the block (tests and the benchmark
    compare)."""
    return original_inside(_state, _use)
