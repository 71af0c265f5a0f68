"""Draw a plain SVG ``<text>`` as one shaped run instead of letter by letter.

WeasyPrint 70 draws every SVG text node one code point at a time: one Pango
layout and one PDF text object per letter, so that per-glyph ``x``/``y``/``dx``/
``dy``/``rotate`` lists, ``letter-spacing`` and ``textLength`` can be applied.
The card's figures use none of these (see :mod:`govkit.report._svg`: one ``x``
and one ``y`` per label), and for them the letter-by-letter path only costs time
(about a fifth of writing the Adult card) and loses kerning and ligatures.

:func:`install` makes WeasyPrint draw such a node with one layout of the whole
string (the approach of WeasyPrint issue #2249); any other text node goes to
WeasyPrint's own function unchanged. The bounding box (which ``text-anchor``
uses to centre a label), the text cursor and the graphic state are kept as
WeasyPrint's function keeps them. Installed once, in the process that lays
out PDFs, and only on the WeasyPrint versions it was checked against; tests in
``tests/test_svg_text.py`` compare its pages with WeasyPrint's own.

The code follows ``weasyprint/svg/text.py`` (BSD-3-Clause, Kozea).
"""

from __future__ import annotations

import contextlib
import importlib
from math import inf
from typing import Any

from govkit.report._patching import install_once, original_inside

__all__ = ["install", "installed", "letter_by_letter"]

#: WeasyPrint major versions whose SVG text drawing this module was checked against.
CHECKED_MAJORS = (70,)

#: attributes that need WeasyPrint's per-letter placement
_PER_LETTER = ("dx", "dy", "rotate", "letter-spacing", "textLength", "lengthAdjust")
_SPECIAL_SPACE = frozenset("\n\r\t")
#: the SVG tags WeasyPrint draws with its text function
_NAMES = ("a", "text", "textPath", "tspan")

_state: dict[str, Any] = {}


def installed() -> bool:
    """Whether the one-run drawing is active in this process."""
    return bool(_state.get("installed"))


def _plain(node: Any, normalize: Any) -> bool:
    """Text WeasyPrint would place as one run anyway: one x and one y at most, no spacing."""
    text = node.text
    return (
        bool(text)
        and not any(name in node.attrib for name in _PER_LETTER)
        and all(len(normalize(node.attrib.get(name, "")).split()) <= 1 for name in ("x", "y"))
        and not _SPECIAL_SPACE.intersection(text)
    )


def _style(svg: Any, node: Any, font_size: float, text_module: Any) -> Any:
    from weasyprint.css.properties import INITIAL_VALUES

    style = text_module.Style()
    style.update(INITIAL_VALUES)
    style.font_config = svg.font_config
    style["font_family"] = [
        font.strip("\"'") for font in node.get("font-family", "sans-serif").split(",")
    ]
    style["font_style"] = node.get("font-style", "normal")
    style["font_size"] = font_size
    if node.get("direction") in ("ltr", "rtl"):
        style["direction"] = node.get("direction")
    weight = node.get("font-weight", 400)
    if weight == "normal":
        style["font_weight"] = 400
    elif weight == "bold":
        style["font_weight"] = 700
    else:
        try:
            style["font_weight"] = int(weight)
        except ValueError:
            style["font_weight"] = 400
    return style


def _y_align(node: Any, font_size: float, height: float) -> float:
    ascent, descent = font_size * 0.8, font_size * 0.2  # as WeasyPrint: not real metrics
    display_anchor = node.get("display-anchor")
    baseline = node.get("dominant-baseline", node.get("alignment-baseline"))
    if display_anchor == "middle":
        return -height / 2
    if display_anchor == "top":
        return 0
    if display_anchor == "bottom":
        return -height
    if baseline in ("central", "middle"):
        return (ascent + descent) / 2 - descent
    if baseline in ("text-before-edge", "before_edge", "top", "hanging", "text-top"):
        return ascent
    if baseline in ("text-after-edge", "after_edge", "bottom", "text-bottom"):
        return -descent
    return 0


def _make_text(original: Any, text_module: Any) -> Any:
    from weasyprint.draw.text import draw_emojis, draw_first_line
    from weasyprint.matrix import Matrix
    from weasyprint.svg.bounding_box import extend_bounding_box
    from weasyprint.svg.utils import normalize, size
    from weasyprint.text.line_break import split_first_line

    def text(svg: Any, node: Any, font_size: float) -> None:
        if not _plain(node, normalize):
            original(svg, node, font_size)
            return
        style = _style(svg, node, font_size, text_module)
        layout, _, _, width, height, baseline = split_first_line(
            node.text, style, svg.context, inf, 0
        )
        # a given x or y resets the pending dx/dy shift, as for WeasyPrint's first letter
        x = y = None
        if "x" in node.attrib:
            x = size(normalize(node.attrib["x"]).strip(), font_size, svg.inner_width)
            if x:
                svg.cursor_d_position[0] = 0
        if "y" in node.attrib:
            y = size(normalize(node.attrib["y"]).strip(), font_size, svg.inner_height)
            if y:
                svg.cursor_d_position[1] = 0
        x = svg.cursor_position[0] if x is None else x
        y = svg.cursor_position[1] if y is None else y
        svg.cursor_position = x + width, y
        x_position = x + svg.cursor_d_position[0]
        y_position = y + svg.cursor_d_position[1] + _y_align(node, font_size, height)
        node.text_bounding_box = extend_bounding_box(
            node.text_bounding_box,
            (
                (x_position, y_position - baseline),
                (x_position + width, y_position - baseline + height),
            ),
        )
        svg.stream.push_state()
        fill, stroke = svg.set_graphical_state(node, font_size)
        svg.stream.begin_text()
        layout.reactivate(style)
        svg.fill_stroke(fill, stroke, text=True)
        box = text_module.TextBox(layout, style)
        box.baseline = baseline
        matrix = Matrix(a=1, d=-1, e=x_position, f=y_position)
        emojis = draw_first_line(svg.stream, box, "none", "none", matrix)
        svg.stream.end_text()
        svg.stream.pop_state()
        draw_emojis(svg.stream, style, x, y, emojis)

    text.__wrapped__ = original  # type: ignore[attr-defined]
    return text


def install(weasyprint: Any) -> bool:
    """Draw plain SVG text nodes as one run from now on; False when not applied.

    Not applied (WeasyPrint's drawing stays) on a WeasyPrint major version other
    than :data:`CHECKED_MAJORS`, or when its SVG module does not look as expected.
    Idempotent.
    """
    return install_once(_state, weasyprint, CHECKED_MAJORS, _found, _use)


def _found() -> dict[str, Any] | None:
    """WeasyPrint's code the change replaces, and the change; None if it looks unexpected."""
    svg = importlib.import_module("weasyprint.svg")
    text_module = importlib.import_module("weasyprint.svg.text")
    original = getattr(text_module, "text", None)
    tags = getattr(svg, "TAGS", None)
    if (
        original is None
        or getattr(svg, "text", None) is not original
        or not isinstance(tags, dict)
        or any(tags.get(name) is not original for name in _NAMES)
        or not hasattr(text_module, "TextBox")
        or not hasattr(text_module, "Style")
    ):
        return None
    return dict(svg=svg, original=original, patched=_make_text(original, text_module))


def _use(function: Any) -> None:
    svg = _state["svg"]
    # draw_node compares TAGS.get(tag) with the module's name ``text`` to find text nodes
    svg.text = function
    for name in _NAMES:
        svg.TAGS[name] = function


def letter_by_letter() -> contextlib.AbstractContextManager[None]:
    """WeasyPrint's own SVG text drawing inside the block (tests and the benchmark compare)."""
    return original_inside(_state, _use)
