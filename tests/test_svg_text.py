"""Plain SVG labels drawn as one run (govkit.report._svg_text) against WeasyPrint's own drawing.

WeasyPrint draws SVG text letter by letter; govkit draws a label with a single
x and y as one shaped run. These tests render the same SVG both ways and compare
what a reader gets: the words and where they are (poppler's ``pdftotext -bbox``),
the page as pixels, and the PDF's text runs (one per label instead of one per
letter). Labels that need per-letter placement must come out byte for byte as
WeasyPrint draws them.
"""

from __future__ import annotations

import base64
import html as html_lib
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from poppler import needs_poppler, pdf_words

from govkit.report import _svg_text
from govkit.report._svg_text import install, installed, letter_by_letter
from govkit.report._weasy import _weasyprint, render_pdf_in_process

FONT = "font-family=\"'DejaVu Sans'\""
#: labels as the card's figures have them: one x and one y, anchors, rotation, weights
PLAIN = [
    f'<text x="20" y="30" font-size="10px" {FONT}>Observed positive rate</text>',
    f'<text x="200" y="60" font-size="10px" {FONT} text-anchor="middle">AUC 0.936</text>',
    f'<text x="380" y="90" font-size="10px" {FONT} text-anchor="end">Female (n=16,192)</text>',
    f'<text transform="translate(30 260) rotate(-90)" font-size="9px" {FONT}>'
    "True positive rate</text>",
    f'<text x="60" y="130" font-size="12px" {FONT} font-weight="bold">Calibration</text>',
    f'<text x="60" y="160" font-size="10px" {FONT} fill="#b35806">Größe über 50K – Ørsted</text>',
    f'<text x="60" y="190" font-size="10px" {FONT}>Sex: <tspan font-weight="bold">Male'
    "</tspan></text>",
    f'<text x="200" y="220" font-size="10px" {FONT} dominant-baseline="central" '
    'text-anchor="middle">centred label</text>',
]
PLAIN_WORDS = "".join(re.sub(r"<[^>]+>", " ", label) for label in PLAIN).split()
#: labels WeasyPrint must place letter by letter
PER_LETTER = [
    f'<text x="20 30 40 50" y="30" font-size="10px" {FONT}>ABCD</text>',
    f'<text x="200,230" y="30" font-size="10px" {FONT}>EF</text>',
    f'<text x="150+40" y="250" font-size="10px" {FONT}>GH</text>',  # SVG: two numbers
    f'<text x="20" y="60" dx="0 2 4" font-size="10px" {FONT}>spaced</text>',
    f'<text x="20" y="90" rotate="0 10 20" font-size="10px" {FONT}>turned</text>',
    f'<text x="20" y="120" letter-spacing="3" font-size="10px" {FONT}>airy</text>',
    f'<text x="20" y="150" textLength="120" font-size="10px" {FONT}>stretched</text>',
]


def _code_points(labels: list[str]) -> int:
    """Code points the labels show, spaces aside (a space alone draws nothing)."""
    text = "".join(html_lib.unescape(re.sub(r"<[^>]+>", "", label)) for label in labels)
    return len(text.replace(" ", ""))


def _html(labels: list[str]) -> str:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="280" '
        'viewBox="0 0 400 280">' + "".join(labels) + "</svg>"
    )
    src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>labels</title>'
        '<meta name="dcterms.created" content="2026-01-01T00:00:00Z">'
        '<meta name="dcterms.modified" content="2026-01-01T00:00:00Z">'
        "<style>@page { size: 160mm 120mm; margin: 10mm } img { display: block }</style>"
        f'</head><body><img src="{html_lib.escape(src)}" alt="labels"></body></html>'
    )


def _both(labels: list[str]) -> tuple[bytes, bytes]:
    """The PDF with govkit's drawing, then with WeasyPrint's own."""
    _weasyprint()
    assert installed()
    html = _html(labels)
    fast = render_pdf_in_process(html)
    with letter_by_letter():
        own = render_pdf_in_process(html)
    assert render_pdf_in_process(html) == fast  # switched back after the block
    return fast, own


def _png(pdf: bytes, tmp_path: Path, name: str) -> np.ndarray:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "100", "-png", "-singlefile", str(path), str(tmp_path / name)],
        check=True,
        capture_output=True,
    )
    from PIL import Image

    with Image.open(tmp_path / f"{name}.png") as image:
        return np.asarray(image.convert("L"), dtype=np.int16)


def _text_runs(pdf: bytes) -> int:
    """Text-showing operators (Tj, TJ) in the pages' content streams and their form XObjects."""
    import io

    import pikepdf

    def count(stream: object, resources: object, seen: set[tuple[int, int]]) -> int:
        n = sum(1 for _, op in pikepdf.parse_content_stream(stream) if str(op) in ("Tj", "TJ"))
        xobjects = resources.get("/XObject", {}) if resources is not None else {}
        for xobject in xobjects.values():
            if xobject.get("/Subtype") == "/Form" and xobject.objgen not in seen:
                seen.add(xobject.objgen)
                n += count(xobject, xobject.get("/Resources"), seen)
        return n

    with pikepdf.open(io.BytesIO(pdf)) as doc:
        seen: set[tuple[int, int]] = set()
        return sum(count(page.obj, page.obj.get("/Resources"), seen) for page in doc.pages)


def test_installed_where_pdfs_are_made() -> None:
    weasyprint = _weasyprint()
    assert installed()
    assert install(weasyprint) is True  # idempotent
    import importlib

    svg = importlib.import_module("weasyprint.svg")
    text_module = importlib.import_module("weasyprint.svg.text")
    assert svg.TAGS["text"] is svg.text is not text_module.text
    with letter_by_letter():
        assert svg.TAGS["text"] is svg.text is text_module.text
    assert svg.TAGS["tspan"] is svg.text is not text_module.text


def test_one_text_run_per_label_instead_of_per_letter() -> None:
    fast, own = _both(PLAIN)
    labels = len(PLAIN) + 1  # the tspan is a text node of its own
    assert _text_runs(fast) == labels
    assert _text_runs(own) == _code_points(PLAIN)  # WeasyPrint: one per code point
    assert len(fast) < len(own)


@needs_poppler
def test_same_words_in_the_same_places() -> None:
    fast, own = _both(PLAIN)
    ours, theirs = pdf_words(fast), pdf_words(own)
    assert [w[0] for w in ours] == [w[0] for w in theirs]
    assert sorted(w[0] for w in ours) == sorted(PLAIN_WORDS)
    for (word, *box), (_, *ref) in zip(ours, theirs, strict=True):
        # kerning inside a run may move a word's far edge by a fraction of a point
        assert np.allclose(box, ref, atol=1.0), (word, box, ref)


@needs_poppler
def test_same_picture(tmp_path: Path) -> None:
    fast, own = _both(PLAIN)
    a, b = _png(fast, tmp_path, "fast"), _png(own, tmp_path, "own")
    assert a.shape == b.shape
    ink_a, ink_b = a < 128, b < 128
    assert ink_a.sum() > 1000  # the labels are drawn
    assert abs(int(ink_a.sum()) - int(ink_b.sum())) < 0.05 * ink_b.sum()
    rows_a, cols_a = np.nonzero(ink_a)
    rows_b, cols_b = np.nonzero(ink_b)
    for got, ref in ((rows_a, rows_b), (cols_a, cols_b)):
        assert abs(int(got.min()) - int(ref.min())) <= 2
        assert abs(int(got.max()) - int(ref.max())) <= 2


def test_labels_placed_letter_by_letter_are_left_to_weasyprint() -> None:
    fast, own = _both(PER_LETTER)
    assert fast == own
    assert _text_runs(own) == _code_points(PER_LETTER)


def test_a_mixed_figure_takes_each_path_per_label() -> None:
    fast, own = _both(PLAIN + PER_LETTER)
    assert _text_runs(fast) == len(PLAIN) + 1 + _code_points(PER_LETTER)


def test_an_unexpected_svg_module_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    weasyprint = _weasyprint()
    # as if WeasyPrint's svg module no longer drew text with svg.text.text
    monkeypatch.setattr(_svg_text, "_state", {})
    import importlib

    svg = importlib.import_module("weasyprint.svg")
    before = dict(svg.TAGS)
    assert svg.text is not importlib.import_module("weasyprint.svg.text").text  # ours is in
    assert install(weasyprint) is False
    assert svg.TAGS == before
