"""Text layouts kept from layout to drawing (govkit.report._text_layouts) against WeasyPrint's own.

WeasyPrint frees each line's Pango layout after laying it out and builds it again
to draw it; govkit keeps it and reuses it where rebuilding could give nothing
different. The promise is an identical PDF, so every test here compares bytes
with WeasyPrint's own path, and counts the layouts built while the PDF is written
to show which lines were reused and which rebuilt.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from govkit.report import _text_layouts
from govkit.report._text_layouts import install, installed, rebuilt_each_time
from govkit.report._weasy import _weasyprint, lay_out, write_pdf

HEAD = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>lines</title>'
    '<meta name="dcterms.created" content="2026-01-01T00:00:00Z">'
    '<meta name="dcterms.modified" content="2026-01-01T00:00:00Z">'
    "<style>@page { size: A5; margin: 15mm; @bottom-center { content: 'Page ' counter(page) "
    "' of ' counter(pages) } } body { font-family: 'DejaVu Sans'; font-size: 10pt } "
    ".narrow { width: 30mm } %s</style></head><body>%s</body></html>"
)
PLAIN = (
    "<h1>Model card <em>credit-income@3</em></h1>"
    "<p>A paragraph long enough to wrap over several lines of the page, with <b>bold</b>, "
    "<i>italic</i> and <code>mono_spaced</code> words, a link <a href='#t'>to the table</a> "
    "and numbers such as 48,842 and 0.936.</p>"
    "<p class='narrow' style='hyphens: auto'>Characteristically incomprehensible "
    "hyphenation opportunities everywhere</p>"
    "<p style='text-decoration: underline'>underlined</p>"
    "<p style='text-decoration: line-through'>struck through</p>"
    "<p style='font-variant-ligatures: none; font-feature-settings: \"kern\" 0'>office fi</p>"
    "<p dir='rtl' lang='he'>שלום עולם</p>"
    "<p style='width: 40mm; white-space: nowrap; overflow: hidden; "
    "text-overflow: ellipsis'>a line too long for its box, ended with an ellipsis</p>"
    "<ol><li>first</li><li>second</li></ol>"
    "<table id='t'><thead><tr><th>group</th><th>rate</th></tr></thead><tbody>"
    + "".join(f"<tr><td>group {i}</td><td>0.{i:03d}</td></tr>" for i in range(60))
    + "</tbody></table>"
    "<p>Größe über 50K – Ørsted ✓</p>"
    # a word wider than its box: the line is laid out with the box's width, drawn without
    "<p class='narrow'>Pneumonoultramicroscopicsilicovolcanoconiosis</p>"
)
#: lines WeasyPrint puts text-dependent attributes on: always rebuilt
REBUILT = {
    "justified": "<p style='text-align: justify'>%s</p>",
    "letter-spacing": "<p style='letter-spacing: 0.2em'>%s</p>",
    "word-spacing": "<p style='word-spacing: 4px'>%s</p>",
    "tab": "<pre style='tab-size: 4'>%s</pre>",
}
#: lines that may break inside words: the attribute WeasyPrint puts on them (no hyphens
#: inserted, over the whole text) is the same for any text, so they are reused
BREAKING = {
    "overflow-wrap-anywhere": "<p class='narrow' style='overflow-wrap: anywhere'>%s</p>",
    "overflow-wrap-break-word": "<p class='narrow' style='overflow-wrap: break-word'>%s</p>",
    "word-break": "<p class='narrow' style='word-break: break-all'>%s</p>",
    "table-cell": "<table><tr><td class='narrow' style='overflow-wrap: anywhere'>%s</td>"
    "<td style='overflow-wrap: anywhere'>0.8791</td></tr></table>",
}
WORDS = "the quick brown fox jumps over the lazy dog " * 6


def _doc(body: str, css: str = "") -> str:
    return HEAD % (css, body)


def _svg_body() -> str:
    import base64

    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="80" viewBox="0 0 300 80">'
        '<text x="10" y="30" font-size="10px" font-family="\'DejaVu Sans\'">AUC 0.936</text>'
        '<text x="10 20 30" y="60" font-size="10px">abc</text></svg>'
    )
    src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return f'<img src="{html_lib.escape(src)}" alt="plot">'


@contextmanager
def _counting_builds() -> Iterator[list[int]]:
    """Counts the Pango layouts built (``Layout.setup``) inside the block."""
    import importlib

    layout_class = importlib.import_module("weasyprint.text.line_break").Layout
    original = layout_class.setup
    count = [0]

    def setup(self, style):  # type: ignore[no-untyped-def]
        count[0] += 1
        return original(self, style)

    layout_class.setup = setup
    try:
        yield count
    finally:
        layout_class.setup = original


def _write(html: str, **options: object) -> tuple[bytes, int]:
    """The PDF, and how many layouts were built while writing it."""
    document = lay_out(html)
    with _counting_builds() as built:
        pdf = write_pdf(document, **options)  # type: ignore[arg-type]
    return pdf, built[0]


def _both(html: str, **options: object) -> tuple[tuple[bytes, int], tuple[bytes, int]]:
    """(PDF, layouts built while writing) with kept layouts, then with WeasyPrint's own."""
    _weasyprint()
    assert installed()
    kept = _write(html, **options)
    with rebuilt_each_time():
        own = _write(html, **options)
    assert _write(html, **options) == kept  # switched back after the block
    return kept, own


def test_installed_where_pdfs_are_made() -> None:
    weasyprint = _weasyprint()
    assert installed()
    assert install(weasyprint) is True  # idempotent
    import importlib

    layout_class = importlib.import_module("weasyprint.text.line_break").Layout
    kept = (layout_class.deactivate, layout_class.reactivate)
    with rebuilt_each_time():
        assert (layout_class.deactivate, layout_class.reactivate) != kept
    assert (layout_class.deactivate, layout_class.reactivate) == kept


@pytest.mark.parametrize("tagged", [False, True], ids=["plain", "tagged"])
def test_plain_lines_are_reused_and_the_pdf_is_the_same(tagged: bool) -> None:
    (kept, kept_builds), (own, own_builds) = _both(_doc(PLAIN + _svg_body()), tagged=tagged)
    assert kept == own
    assert own_builds > 100  # WeasyPrint builds every drawn line again
    # an SVG's labels are laid out as they are drawn, so theirs are the only layouts built
    svg_builds = _write(_doc(_svg_body()), tagged=tagged)[1]
    assert 0 < svg_builds < 10
    assert kept_builds == svg_builds
    assert _write(_doc(PLAIN), tagged=tagged)[1] == 0


@pytest.mark.parametrize("case", sorted(REBUILT))
def test_lines_with_text_dependent_attributes_are_rebuilt(case: str) -> None:
    text = WORDS.replace("fox ", "fox\t") if case == "tab" else WORDS
    (kept, kept_builds), (own, own_builds) = _both(_doc(REBUILT[case] % text))
    assert kept == own
    # every line of it rebuilt, as WeasyPrint does; reused: the page footer's line, and the
    # last line of a justified paragraph (it is not justified)
    (_, footer_kept), (_, footer_own) = _both(_doc(""))
    assert (footer_kept, footer_own) == (0, 1)
    reused = footer_own + (case == "justified")
    assert kept_builds == own_builds - reused > 0


@pytest.mark.parametrize("case", sorted(BREAKING))
def test_lines_that_break_inside_words_are_reused_and_the_pdf_is_the_same(case: str) -> None:
    # words longer than the box: broken inside, each piece a line of its own
    text = WORDS + "Supercalifragilisticexpialidocious" * 3
    (kept, kept_builds), (own, own_builds) = _both(_doc(BREAKING[case] % text))
    assert kept == own
    assert own_builds > 10 and kept_builds == 0


def test_reusable_only_for_the_style_it_was_made_with() -> None:
    _weasyprint()
    layout = SimpleNamespace(text="x", justification_spacing=0)
    style = {
        "letter_spacing": "normal",
        "word_spacing": 0,
        "overflow_wrap": "normal",
        "word_break": "normal",
    }
    assert not _text_layouts.reusable(layout, style)  # never kept
    layout._govkit_kept = True
    layout.style = style
    assert _text_layouts.reusable(layout, style)
    assert not _text_layouts.reusable(layout, dict(style))  # an equal style, another object
    layout.justification_spacing = 1.5
    assert not _text_layouts.reusable(layout, style)


def test_an_unexpected_layout_class_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    weasyprint = _weasyprint()
    line_break = importlib.import_module("weasyprint.text.line_break")
    monkeypatch.setattr(_text_layouts, "_state", {})
    monkeypatch.delattr(line_break.Layout, "reactivate")
    assert install(weasyprint) is False
    assert not installed()
