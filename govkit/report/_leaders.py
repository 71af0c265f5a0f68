"""Fill a leader (the dots of ``leader(".")`` in the contents) with one run of text.

WeasyPrint 70 fills a leader with copies of its text box, one per dot: about 150
copies per line of the card's contents, 4,500 on its first page, each a box that
later layout steps walk and that the PDF writer draws as a text object of its own
(a fifth of writing the Adult card).

:func:`install` makes the leader one text box holding the dots side by side,
where that gives the same picture: left to right text, and the run shaped as
wide as the copies it stands for (no kerning or ligature between repetitions).
The first dot sits where WeasyPrint puts its leftmost copy, the run is as wide as
the copies together, and the boxes after the leader move by the same amount.
Any other leader is filled by WeasyPrint's own function. In the PDF the run's dots
advance by the font's glyph widths, which a PDF font carries rounded to thousandths
of an em, so they drift from WeasyPrint's copies by up to a thousandth of a point
a dot (0.19 pt at the end of a line of 160 dots in the card); the text read from the
PDF is the same (``tests/test_leaders.py`` compares both).

Installed once, in the process that lays out PDFs, and only on the WeasyPrint
versions it was checked against. The code follows ``weasyprint/layout/leader.py``
(BSD-3-Clause, Kozea).
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

from govkit.report._patching import install_once, original_inside

__all__ = ["copied_each_time", "install", "installed"]

#: WeasyPrint major versions whose leaders this module was checked against.
CHECKED_MAJORS = (70,)

#: how far the shaped run's width may be from the copies' (in CSS px)
_WIDTH_TOLERANCE = 1e-6

_state: dict[str, Any] = {}


def installed() -> bool:
    """Whether leaders are filled with one run in this process."""
    return bool(_state.get("installed"))


def _fill(
    context: Any, line: Any, containing_block: Any, leader_box: Any, split_first_line: Any
) -> float | None:
    """Put one run of the leader's text where WeasyPrint puts its copies.

    Returns the extra width WeasyPrint gives the leader, or None (nothing changed)
    when one run would not look the same as the copies.
    """
    text_box = leader_box.children[0]
    width = text_box.width
    if line.style["direction"] != "ltr" or width <= 0:
        return None
    # WeasyPrint's arithmetic, unchanged: the width the leader takes beyond its
    # text, and the copies placed from the line's right end leftwards.
    extra_width = containing_block.width - sum(
        child.margin_width() for child in line.children if child.is_in_normal_flow()
    )
    for shape in context.excluded_shapes:
        if shape.position_y + shape.height > line.position_y:
            extra_width -= shape.width
    available_width = extra_width + width
    line_width = containing_block.width
    left = leader_box.position_x
    right = left + available_width
    position_x = line.position_x + line_width
    count, first_x = 0, 0.0
    for _ in range(int(line_width // width)):
        position_x -= width
        if position_x < left or position_x + width > right:
            continue
        count, first_x = count + 1, position_x
    if count < 2:
        return None
    text = text_box.text * count
    layout, _, _, run_width, _, _ = split_first_line(
        text, text_box.style, context, None, text_box.justification_spacing
    )
    if abs(run_width - count * width) > _WIDTH_TOLERANCE * count:
        return None  # the repeated text shapes differently (kerning, ligatures)
    run = text_box.copy_with_text(text)
    run.pango_layout = layout
    run.width = run_width
    run.position_x = first_x
    line.width = line_width
    leader_box.children = (run,)
    return float(extra_width)


def _make(original: Any, leader_index: Any, split_first_line: Any) -> Any:
    def handle_leader(context: Any, line: Any, containing_block: Any) -> None:
        index, leader_box = leader_index(line)
        if index is None or len(getattr(leader_box, "children", ())) != 1:
            original(context, line, containing_block)
            return
        extra_width = _fill(context, line, containing_block, leader_box, split_first_line)
        if extra_width is None:
            original(context, line, containing_block)
            return
        # Widen the leader's parents and move what follows it (left to right only).
        box = line
        while index is not None:
            for child in box.children[index[0] + 1 :]:
                if child.is_in_normal_flow():
                    child.translate(dx=extra_width)
            box = box.children[index[0]]
            box.width += extra_width
            index = index[1]

    return handle_leader


def install(weasyprint: Any) -> bool:
    """Fill leaders with one run from now on; False when not applied.

    Not applied (WeasyPrint's copies stay) on a WeasyPrint major version other than
    :data:`CHECKED_MAJORS`, or when its inline layout does not look as expected.
    Idempotent.
    """
    return install_once(_state, weasyprint, CHECKED_MAJORS, _found, _use)


def _found() -> dict[str, Any] | None:
    """WeasyPrint's code the change replaces, and the change; None if it looks unexpected."""
    inline = importlib.import_module("weasyprint.layout.inline")
    leader = importlib.import_module("weasyprint.layout.leader")
    line_break = importlib.import_module("weasyprint.text.line_break")
    original = getattr(leader, "handle_leader", None)
    leader_index = getattr(leader, "leader_index", None)
    split_first_line = getattr(line_break, "split_first_line", None)
    if (
        original is None
        or leader_index is None
        or split_first_line is None
        or getattr(inline, "handle_leader", None) is not original
    ):
        return None
    return dict(
        inline=inline,
        original=original,
        patched=_make(original, leader_index, split_first_line),
    )


def _use(function: Any) -> None:
    _state["inline"].handle_leader = function


def copied_each_time() -> contextlib.AbstractContextManager[None]:
    """WeasyPrint's own leaders inside the block (tests and the benchmark compare)."""
    return original_inside(_state, _use)
