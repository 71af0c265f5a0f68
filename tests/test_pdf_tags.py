"""Tagged PDFs: letters by default (the person may use a screen reader), cards on request.

The structure tree is read back with pypdf and compared with the HTML it came from:
one heading element per heading, the tables with their header cells (a table split
over pages is tagged once per page), the reasons as a list, the figures carrying their
text alternatives in order, marked content on every page, and the document language.
Every PDF made here also passes qpdf's structural check (pikepdf): cross-reference
table, object and stream syntax, stream lengths and decoding.
"""

# ruff: noqa: F811  (pytest fixtures imported from other test modules, used as arguments)

from __future__ import annotations

import re
from collections import Counter
from html import unescape
from io import BytesIO
from typing import Any

import pytest
from adult_card import adult_card_inputs, synthetic_adult
from test_cli import fresh_copy, run, workspace  # noqa: F401
from test_letter import catalogs, credit_model, make_decision, model_record  # noqa: F401

from govkit.report import render_card_html, render_card_pdf, render_letter_html, render_letter_pdf
from govkit.store import Store

pytest.importorskip("weasyprint")
pypdf = pytest.importorskip("pypdf")
pikepdf = pytest.importorskip("pikepdf")


def _catalog(pdf: bytes) -> Any:
    return pypdf.PdfReader(BytesIO(pdf)).trailer["/Root"]


def _structure(pdf: bytes) -> tuple[Counter[str], list[str]]:
    """Counts of the structure element types, and the figures' /Alt texts in order."""
    root = _catalog(pdf)
    counts: Counter[str] = Counter()
    alts: list[str] = []

    def walk(node: Any) -> None:
        node = node.get_object()
        if not hasattr(node, "get"):
            return  # a marked-content id
        kind = node.get("/S")
        if kind is not None:
            counts[str(kind)] += 1
            if kind == "/Figure":
                alts.append(str(node.get("/Alt")))
        kids = node.get("/K")
        for kid in kids if isinstance(kids, list) else [] if kids is None else [kids]:
            walk(kid)

    walk(root["/StructTreeRoot"])
    return counts, alts


def _assert_sound(pdf: bytes) -> None:
    """qpdf finds nothing to warn about: the file needs no repair by a reader."""
    with pikepdf.open(BytesIO(pdf)) as doc:
        assert doc.check_pdf_syntax() == []


def _count(html: str, tag: str) -> int:
    return len(re.findall(rf"<{tag}[\s>]", html))


def _marked_pages(pdf: bytes) -> list[bool]:
    """Whether each page's content stream carries marked content (what the tags point at)."""
    reader = pypdf.PdfReader(BytesIO(pdf))
    return [b"/MCID" in page.get_contents().get_data() for page in reader.pages]


# -------------------------------------------------------------------- letters


@pytest.fixture(scope="module")
def letter(credit_model):  # type: ignore[no-untyped-def]
    decision = make_decision(credit_model)
    return render_letter_html(decision, model_record()), render_letter_pdf(decision, model_record())


def test_a_letter_is_tagged_like_its_html(letter: tuple[str, bytes]) -> None:
    html, pdf = letter
    root = _catalog(pdf)
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/Lang"] == "en"
    assert bool(root["/ViewerPreferences"]["/DisplayDocTitle"])  # the title, not the file
    counts, _ = _structure(pdf)
    assert counts["/H1"] == _count(html, "h1") == 1
    assert counts["/H2"] == _count(html, "h2") >= 6
    assert counts["/Table"] == _count(html, "table")
    assert counts["/TH"] == _count(html, "th") > 0
    assert counts["/L"] == _count(html, "ul") + _count(html, "ol")
    assert counts["/LI"] == _count(html, "li") > 0
    assert all(_marked_pages(pdf))
    _assert_sound(pdf)


def test_an_untagged_letter_on_request(credit_model) -> None:  # type: ignore[no-untyped-def]
    pdf = render_letter_pdf(make_decision(credit_model), model_record(), tagged=False)
    root = _catalog(pdf)
    assert "/StructTreeRoot" not in root and "/MarkInfo" not in root
    assert not any(_marked_pages(pdf))
    _assert_sound(pdf)


def test_a_tagged_letter_is_byte_identical_for_equal_inputs(  # type: ignore[no-untyped-def]
    credit_model, letter: tuple[str, bytes]
) -> None:
    assert render_letter_pdf(make_decision(credit_model), model_record()) == letter[1]


def test_the_letters_language_is_the_decisions_locale(  # type: ignore[no-untyped-def]
    catalogs, credit_model
) -> None:
    (catalogs / "locales" / "fr").mkdir()
    (catalogs / "locales" / "fr" / "letter.yaml").write_text(
        'reasons_heading: "Les principaux motifs"\n', encoding="utf-8"
    )
    pdf = render_letter_pdf(make_decision(credit_model, locale="fr"), model_record())
    assert _catalog(pdf)["/Lang"] == "fr"


# -------------------------------------------------------------------- cards


@pytest.fixture(scope="module")
def adult_inputs():  # type: ignore[no-untyped-def]
    return adult_card_inputs(synthetic_adult())


def test_a_tagged_card_reads_its_figures_as_their_text_alternatives(adult_inputs) -> None:  # type: ignore[no-untyped-def]
    kwargs = adult_inputs.kwargs()
    html = render_card_html(adult_inputs.model, **kwargs)
    pdf = render_card_pdf(adult_inputs.model, **kwargs, tagged=True)
    counts, alts = _structure(pdf)
    # the figures were drawn while the child laid out placeholders: the tags are the final ones
    expected = re.findall(r'<img class="plot-img"[^>]*?\balt="([^"]*)"', html)
    assert len(expected) == counts["/Figure"] == counts["/Caption"] >= 5
    assert alts == [unescape(a) for a in expected]
    assert counts["/H2"] == _count(html, "h2") and counts["/H3"] == _count(html, "h3")
    # a table split over two pages is tagged as two, its header row repeated
    assert counts["/Table"] >= _count(html, "table") > 10
    assert counts["/TH"] >= _count(html, "th")
    assert _catalog(pdf)["/Lang"] == "en"
    assert all(_marked_pages(pdf))
    _assert_sound(pdf)
    # the default card is untagged (tagging costs about a quarter more writing time)
    plain = render_card_pdf(adult_inputs.model, **kwargs)
    assert "/StructTreeRoot" not in _catalog(plain)
    _assert_sound(plain)


def test_a_tagged_pdf_a_card_is_both(adult_inputs) -> None:  # type: ignore[no-untyped-def]
    pdf = render_card_pdf(
        adult_inputs.model, **adult_inputs.kwargs(), pdf_variant="pdf/a-3b", tagged=True
    )
    root = _catalog(pdf)
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert bool(root["/MarkInfo"]["/Marked"]) and _structure(pdf)[0]["/Figure"] >= 5
    _assert_sound(pdf)


# -------------------------------------------------------------------- CLI


def test_card_tagged_from_the_cli_is_logged(workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = fresh_copy(workspace, tmp_path)
    out = tmp_path / "card.pdf"
    r = run("card", "credit@1", "--format", "pdf", "--tagged", "--output", str(out), db=db)
    assert r.exit_code == 0, r.output
    assert bool(_catalog(out.read_bytes())["/MarkInfo"]["/Marked"])
    with Store.open(db) as store:
        (event,) = [e for e in store.audit_events() if e.event_type == "card.rendered"]
    assert event.payload["tagged"] is True and event.payload["format"] == "pdf"


@pytest.mark.parametrize(
    "option,fmt", [("--tagged", "html"), ("--tagged", "md"), ("--pdfa", "json")]
)
def test_pdf_only_options_with_another_format_exit_2(workspace, tmp_path, option, fmt) -> None:  # type: ignore[no-untyped-def]
    db = fresh_copy(workspace, tmp_path)
    out = tmp_path / f"card.{fmt}"
    r = run("card", "credit", "--format", fmt, option, "--output", str(out), db=db)
    assert r.exit_code == 2
    assert f"{option} applies to --format pdf only; got --format {fmt}" in r.output
    assert not out.exists()
    with Store.open(db) as store:
        assert not [e for e in store.audit_events() if e.event_type == "card.rendered"]
