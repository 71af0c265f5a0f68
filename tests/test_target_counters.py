"""Contents pages laid out by govkit.report._target_counters against WeasyPrint's own.

govkit records what a ``target-counter()`` waits for under the anchor's name, so
the page holding the contents is made twice instead of three times. The promise
is the same PDF: every test compares bytes with WeasyPrint's own recording, and
counts how often each page was made.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from adult_card import adult_card_inputs, synthetic_adult
from poppler import needs_poppler, pdftotext

from govkit.report import render_card_html
from govkit.report._target_counters import install, installed, made_three_times
from govkit.report._weasy import _weasyprint, lay_out, render_pdf_in_process, write_pdf

SECTIONS = ["Model details", "Intended use", "Metrics", "Caveats", "Audit anchor"]
HEAD = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>contents</title>'
    '<meta name="dcterms.created" content="2026-01-01T00:00:00Z">'
    '<meta name="dcterms.modified" content="2026-01-01T00:00:00Z">'
    "<style>@page { size: A6; margin: 10mm; @bottom-center { content: counter(page) "
    "' of ' counter(pages) } } body { font-family: 'DejaVu Sans'; font-size: 9pt }"
    " nav ol { list-style: none } section { break-before: page } %s</style></head>"
    "<body>%s</body></html>"
)


def _document(after: str, entry: str = '<li><a href="#s{i}" id="e{i}">{title}</a></li>') -> str:
    entries = "".join(entry.format(i=i, title=title) for i, title in enumerate(SECTIONS))
    sections = "".join(
        f'<section id="s{i}"><h2>{title}</h2>' + "<p>Text.</p>" * (3 * i) + "</section>"
        for i, title in enumerate(SECTIONS)
    )
    return HEAD % (after, f"<nav><ol>{entries}</ol></nav>{sections}")


@contextmanager
def _pages_made() -> Iterator[Counter[int]]:
    """How many times each page was made inside the block."""
    page_module = importlib.import_module("weasyprint.layout.page")
    original = page_module.remake_page
    made: Counter[int] = Counter()

    def remake_page(index, *args, **kwargs):  # type: ignore[no-untyped-def]
        made[index] += 1
        return original(index, *args, **kwargs)

    page_module.remake_page = remake_page
    try:
        yield made
    finally:
        page_module.remake_page = original


def _both(html: str) -> tuple[tuple[bytes, Counter[int]], tuple[bytes, Counter[int]]]:
    """(PDF, times each page was made) with govkit's recording, then with WeasyPrint's."""
    _weasyprint()
    assert installed()
    with _pages_made() as ours_made:
        ours = write_pdf(lay_out(html))
    with made_three_times(), _pages_made() as theirs_made:
        theirs = write_pdf(lay_out(html))
    return (ours, ours_made), (theirs, theirs_made)


def _contents(pdf: bytes) -> list[tuple[str, int]]:
    text = pdftotext(pdf, "-layout", "-f", "1", "-l", "1")
    return [
        (t.strip(), int(n))
        for t, n in re.findall(r"^\s*([A-Z][a-z ]+?)\s*(?:\.+|p\.)?\s*(\d+)\s*$", text, re.M)
    ]


def test_installed_where_pdfs_are_made() -> None:
    weasyprint = _weasyprint()
    assert installed()
    assert install(weasyprint) is True  # idempotent
    targets = importlib.import_module("weasyprint.css.targets")
    ours = targets.TargetCollector.collect_missing_counters
    with made_three_times():
        assert targets.TargetCollector.collect_missing_counters is not ours
    assert targets.TargetCollector.collect_missing_counters is ours


@needs_poppler
@pytest.mark.parametrize(
    "after",
    [
        "nav a::after { content: ' ' target-counter(attr(href), page) }",
        "nav a::after { content: leader('.') target-counter(attr(href), page) }",
        "nav a::after { content: ' ' target-counter(attr(href url), page) }",
        "nav a::after { content: ' p. ' target-counters(attr(href), page, '.') }",
    ],
    ids=["attr", "leader", "attr-url", "target-counters"],
)
def test_the_contents_are_made_twice_and_the_pdf_is_the_same(after: str) -> None:
    (ours, ours_made), (theirs, theirs_made) = _both(_document(after))
    assert ours == theirs
    # the contents' page: laid out, then again with the numbers -- not a third time
    assert (ours_made[0], theirs_made[0]) == (2, 3)
    assert {i: n for i, n in ours_made.items() if i} == {i: n for i, n in theirs_made.items() if i}
    # and the numbers are right: section i starts on the page after the contents and the
    # sections before it (each of which fits one A6 page)
    contents = _contents(ours)
    assert [title for title, _ in contents] == SECTIONS
    assert [page for _, page in contents] == list(range(2, 2 + len(SECTIONS)))


def test_a_target_named_by_a_string_is_made_twice_too() -> None:
    after = "".join(
        f'#e{i}::after {{ content: " " target-counter("#s{i}", page) }}'
        for i in range(len(SECTIONS))
    )
    (ours, ours_made), (theirs, theirs_made) = _both(_document(after))
    assert ours == theirs
    assert (ours_made[0], theirs_made[0]) == (2, 3)


@pytest.mark.parametrize(
    ("after", "entry"),
    [
        # a local counter() beside the target: its local counters recorded as WeasyPrint
        # records them (the target is named)
        (
            "nav a::after { content: ' ' counter(page) '/' target-counter(attr(href), page) }",
            '<li><a href="#s{i}">{title}</a></li>',
        ),
        # two anchors from attributes in one content: cannot be told apart, left as is
        (
            "nav a::after { content: ' ' target-counter(attr(href), page) '-'"
            " target-counter(attr(data-end), page) }",
            '<li><a href="#s{i}" id="e{i}" data-end="#e{i}">{title}</a></li>',
        ),
    ],
    ids=["local-counter", "two-attr-targets"],
)
def test_contents_it_cannot_fully_name_keep_weasyprints_recording(
    monkeypatch: pytest.MonkeyPatch, after: str, entry: str
) -> None:
    # what each entry is recorded as waiting for: (its local counters, its targets)
    targets = importlib.import_module("weasyprint.css.targets")
    item_class = targets.CounterLookupItem
    recorded: list[tuple[list[str], list[object]]] = []

    class Recorded(item_class):  # type: ignore[misc, valid-type]
        def __init__(self, parse_again, missing_counters, missing_target_counters):  # type: ignore[no-untyped-def]
            recorded.append((list(missing_counters), sorted(missing_target_counters, key=str)))
            super().__init__(parse_again, missing_counters, missing_target_counters)

    monkeypatch.setattr(targets, "CounterLookupItem", Recorded)
    html = _document(after, entry)
    _weasyprint()
    ours = write_pdf(lay_out(html))
    ours_recorded = recorded[:]
    recorded.clear()
    with made_three_times():
        theirs = write_pdf(lay_out(html))
    assert ours == theirs
    assert len(ours_recorded) >= len(SECTIONS)
    if "counter(page)" in after:
        assert [local for local, _ in ours_recorded] == [local for local, _ in recorded]
        assert ["page"] in (local for local, _ in ours_recorded)
    else:
        assert ours_recorded == recorded
        assert any(None in waiting for _, waiting in recorded)


def test_the_adult_card_is_the_same_pdf() -> None:
    inputs = adult_card_inputs(synthetic_adult())
    html = render_card_html(inputs.model, **inputs.kwargs())
    _weasyprint()
    with _pages_made() as ours_made:
        ours = render_pdf_in_process(html)
    with made_three_times(), _pages_made() as theirs_made:
        theirs = render_pdf_in_process(html)
    assert ours == theirs
    assert (ours_made[0], theirs_made[0]) == (2, 3)
