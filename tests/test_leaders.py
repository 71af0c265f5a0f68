"""Leaders filled by govkit.report._leaders against WeasyPrint's own copies.

govkit puts a leader's dots in one text run where WeasyPrint makes a box per dot.
The promise is the same picture: the run starts where WeasyPrint's leftmost copy
is, is as wide as the copies together, everything else on the page stays where it
was, and the PDF's text is the same. Leaders one run could not reproduce (right
to left text, repetitions that shape differently) are left to WeasyPrint.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from poppler import needs_poppler, pdf_words, pdftotext

from govkit.report._leaders import copied_each_time, install, installed
from govkit.report._weasy import _weasyprint, lay_out, write_pdf

TITLES = [
    "Model details",
    "Intended use",
    "Quantitative analyses <b>with bold</b> words",
    "A title long enough to wrap onto a second line of the contents, "
    "so that the leader is on the line that ends the entry",
    "Audit anchor",
]


def _document(leader: str = '"."', direction: str = "ltr", font_size: str = "9pt") -> str:
    entries = "".join(f'<li><a href="#s{i}">{title}</a></li>' for i, title in enumerate(TITLES))
    sections = "".join(
        f'<section id="s{i}"><h2>{title}</h2><p>Text of section {i}.</p></section>'
        for i, title in enumerate(TITLES)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>leaders</title>'
        "<style>@page { size: A5; margin: 15mm }"
        f" body {{ font-family: 'DejaVu Sans'; font-size: {font_size}; direction: {direction} }}"
        " nav ol { list-style: none; padding: 0 }"
        f" nav a::after {{ content: leader({leader}) target-counter(attr(href), page) }}"
        " section { break-before: page }</style></head>"
        f"<body><nav><ol>{entries}</ol></nav>{sections}</body></html>"
    )


def _boxes(document: Any) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """The leader boxes, and every other text box as (text, x, y, width)."""
    leaders, others = [], []
    for page in document.pages:
        stack = [page._page_box]
        while stack:
            box = stack.pop()
            if getattr(box, "is_leader", False):
                leaders.append(box)
                continue
            if hasattr(box, "text"):
                others.append(
                    (box.text, round(box.position_x, 6), round(box.position_y, 6), box.width)
                )
            stack.extend(getattr(box, "children", ()))
    return leaders, sorted(others)


def _both(html: str) -> tuple[Any, Any]:
    _weasyprint()
    ours = lay_out(html)
    with copied_each_time():
        theirs = lay_out(html)
    return ours, theirs


def test_installed_where_pdfs_are_made() -> None:
    weasyprint = _weasyprint()
    assert installed()
    assert install(weasyprint) is True  # idempotent
    import weasyprint.layout.inline as inline

    ours = inline.handle_leader
    with copied_each_time():
        assert inline.handle_leader is not ours
    assert inline.handle_leader is ours


@pytest.mark.parametrize("font_size", ["9pt", "7.5pt", "13px"])
def test_one_run_stands_where_the_copies_stood(font_size: str) -> None:
    ours, theirs = _both(_document(font_size=font_size))
    our_leaders, our_text = _boxes(ours)
    their_leaders, their_text = _boxes(theirs)
    assert len(our_leaders) == len(their_leaders) == len(TITLES)
    for run_box, copies_box in zip(our_leaders, their_leaders, strict=True):
        (run,) = run_box.children
        copies = copies_box.children
        assert len(copies) > 20
        step = copies[0].width
        assert run.text == "." * len(copies)
        assert run.position_x == pytest.approx(min(c.position_x for c in copies), abs=1e-9)
        assert run.width == pytest.approx(step * len(copies), rel=1e-9)
        assert run.position_y == copies[0].position_y
        assert (run_box.position_x, run_box.width) == pytest.approx(
            (copies_box.position_x, copies_box.width), abs=1e-9
        )
    # every other piece of text -- titles, page numbers, sections -- is where it was
    assert our_text == their_text
    assert any(text == "5" for text, *_ in our_text)  # the last section's page number


@needs_poppler
def test_the_pdf_reads_the_same_with_fewer_text_objects() -> None:
    html = _document()
    _weasyprint()
    ours = write_pdf(lay_out(html))
    with copied_each_time():
        theirs = write_pdf(lay_out(html))

    def text(pdf: bytes) -> str:
        return re.sub(r"\s+", "", pdftotext(pdf, "-layout"))

    assert text(ours) == text(theirs)
    assert re.search(r"Modeldetails\.{20,}2", text(ours))

    page_one = ("-f", "1", "-l", "1")

    def last_dots(pdf: bytes) -> dict[float, float]:
        """Per line of the contents, where its last dot ends (pt)."""
        ends: dict[float, float] = {}
        for word, _, y, x_max, _ in pdf_words(pdf, *page_one):
            if word.endswith("."):
                ends[y] = max(ends.get(y, 0.0), x_max)
        return ends

    # WeasyPrint writes each dot as a text object of its own; the run writes one a line
    assert len(pdf_words(theirs, *page_one)) > 100 + len(pdf_words(ours, *page_one))
    assert len(ours) < len(theirs)
    # the run's glyphs advance by the PDF font's widths, rounded to 1/1000 em: the last
    # dot of a line lands within a fifth of a point of WeasyPrint's last copy
    ours_ends, theirs_ends = last_dots(ours), last_dots(theirs)
    assert sorted(ours_ends) == sorted(theirs_ends) and len(ours_ends) == len(TITLES)
    for y, x in theirs_ends.items():
        assert ours_ends[y] == pytest.approx(x, abs=0.2)


def test_right_to_left_leaders_are_left_to_weasyprint() -> None:
    ours, theirs = _both(_document(direction="rtl"))
    our_leaders, our_text = _boxes(ours)
    their_leaders, their_text = _boxes(theirs)
    assert [len(b.children) for b in our_leaders] == [len(b.children) for b in their_leaders]
    assert all(len(b.children) > 20 for b in our_leaders)
    assert our_text == their_text


def test_a_leader_that_shapes_differently_repeated_is_left_to_weasyprint() -> None:
    # DejaVu Sans kerns "V" followed by "A": "AVAV..." is narrower than the copies of
    # "AV" side by side, so one run would put the letters elsewhere.
    ours, theirs = _both(_document(leader='"AV"'))
    our_leaders, _ = _boxes(ours)
    their_leaders, _ = _boxes(theirs)
    assert all(len(b.children) > 5 for b in our_leaders)
    assert [[(c.text, c.position_x) for c in b.children] for b in our_leaders] == [
        [(c.text, c.position_x) for c in b.children] for b in their_leaders
    ]


def test_a_leader_without_room_is_left_to_weasyprint() -> None:
    # a leader string wider than the room left on each line: no copy fits
    ours, theirs = _both(_document(leader='"' + "." * 300 + '"'))
    our_leaders, our_text = _boxes(ours)
    their_leaders, their_text = _boxes(theirs)
    assert [len(b.children) for b in our_leaders] == [len(b.children) for b in their_leaders]
    assert our_text == their_text
