"""PDF cards an auditor can file: contents with page numbers, metadata, fonts, PDF/A, limits."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from io import BytesIO

import pytest
from adult_card import adult_card_inputs, synthetic_adult
from poppler import needs_poppler, pdftotext
from test_card import SECTION_TITLES, T0, make_inputs

from govkit.exceptions import RenderError
from govkit.report import html_to_pdf, render_card_pdf
from govkit.report._child import replay as _replay
from govkit.report._limits import MAX_HTML_BYTES, MAX_TEXT_CHARS

pytest.importorskip("weasyprint")


@pytest.fixture(scope="module")
def adult_inputs():  # type: ignore[no-untyped-def]
    return adult_card_inputs(synthetic_adult())


@pytest.fixture(scope="module")
def adult_pdf(adult_inputs) -> bytes:  # type: ignore[no-untyped-def]
    return render_card_pdf(adult_inputs.model, **adult_inputs.kwargs())


def _pages_text(pdf: bytes) -> list[str]:
    return pdftotext(pdf, "-layout").split("\f")[:-1]


def _info(pdf: bytes) -> str:
    return subprocess.run(
        ["pdfinfo", "-isodates", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


@needs_poppler
def test_contents_give_the_right_page_numbers(adult_pdf: bytes) -> None:
    pages = _pages_text(adult_pdf)
    cover = pages[0]
    assert "CONTENTS" in cover and "FIGURES" in cover  # set in capitals by the style
    for title in (*SECTION_TITLES, "Audit anchor"):
        m = re.search(rf"^\s*{re.escape(title)}\s*\.+\s*(\d+)\s*$", cover, re.M)
        assert m, f"{title!r} has no page number in the contents"
        page = int(m.group(1))
        # the section heading is on that page (a line holding just the title)
        assert re.search(rf"^\s*{re.escape(title)}\s*$", pages[page - 1], re.M), (title, page)
    m = re.search(r"Figure 4\. demographic_parity_ratio by sex.*?\.+\s*(\d+)\s*$", cover, re.M)
    assert m and "Figure 4. demographic_parity_ratio by sex" in pages[int(m.group(1)) - 1]


@needs_poppler
def test_sections_start_after_the_cover_and_every_page_is_numbered(adult_pdf: bytes) -> None:
    pages = _pages_text(adult_pdf)
    assert "Model details" not in pages[0].split("CONTENTS")[0]
    assert "Owner" not in pages[0]  # the first section starts on page 2
    for n, text in enumerate(pages, start=1):
        assert f"Page {n} of {len(pages)}" in text
        if n > 1:
            assert "credit-income@3" in text.splitlines()[0]  # running header


@needs_poppler
def test_document_metadata_and_embedded_fonts(adult_pdf: bytes) -> None:
    info = _info(adult_pdf)
    assert re.search(r"^Title:\s+Model card: credit-income@3$", info, re.M)
    assert re.search(r"^Author:\s+credit-risk-ml@example.org$", info, re.M)
    assert re.search(
        r"^Subject:\s+Model card of credit-income@3: policy credit-scoring", info, re.M
    )
    assert re.search(
        r"^Keywords:\s+model card, credit-income, .*sensitive feature race$", info, re.M
    )
    assert re.search(r"^CreationDate:\s+2025-03-14T09:26:53", info, re.M)
    fonts = subprocess.run(
        ["pdffonts", "-"], input=adult_pdf, capture_output=True, check=True
    ).stdout.decode()
    rows = fonts.splitlines()[2:]
    assert rows and all(re.search(r"\byes\s+yes\s+yes\b", r) for r in rows), fonts  # emb sub uni
    assert any("DejaVu-Sans" in r for r in rows)


def test_pdf_is_byte_identical_for_equal_inputs(adult_inputs, adult_pdf: bytes) -> None:  # type: ignore[no-untyped-def]
    assert render_card_pdf(adult_inputs.model, **adult_inputs.kwargs()) == adult_pdf
    later = render_card_pdf(
        adult_inputs.model, **adult_inputs.kwargs(generated_at=T0 + timedelta(hours=1))
    )
    assert later != adult_pdf  # the date is printed and is the PDF's creation date


def test_page_size_letter_and_a4() -> None:
    from pypdf import PdfReader

    inputs = make_inputs()
    a4 = PdfReader(BytesIO(render_card_pdf(inputs.model, **inputs.kwargs())))
    letter = PdfReader(
        BytesIO(render_card_pdf(inputs.model, **inputs.kwargs(), page_size="Letter"))
    )
    assert [round(float(v)) for v in a4.pages[0].mediabox[2:]] == [595, 842]
    assert [round(float(v)) for v in letter.pages[0].mediabox[2:]] == [612, 792]
    with pytest.raises(RenderError, match="page_size must be one of 'A4', 'Letter'"):
        render_card_pdf(inputs.model, **inputs.kwargs(), page_size="A3")  # type: ignore[arg-type]


def test_pdf_a_3b(adult_inputs) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfReader

    pdf = render_card_pdf(adult_inputs.model, **adult_inputs.kwargs(), pdf_variant="pdf/a-3b")
    reader = PdfReader(BytesIO(pdf))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert "Model card: credit-income@3" in xmp and "2025-03-14T09:26:53Z" in xmp
    (intent,) = root["/OutputIntents"]
    assert intent.get_object()["/S"] == "/GTS_PDFA1"
    assert "/ID" in reader.trailer
    assert dict(reader.attachments) == {}
    # deterministic too: the file identifier is a digest of the content, not random
    assert (
        render_card_pdf(adult_inputs.model, **adult_inputs.kwargs(), pdf_variant="pdf/a-3b") == pdf
    )
    with pytest.raises(RenderError, match="pdf_variant must be one of"):
        html_to_pdf("<p>x</p>", pdf_variant="pdf/x-4")  # type: ignore[arg-type]


# -------------------------------------------------------------------- hardening


def test_a_10_mb_description_is_refused_quickly_naming_the_field() -> None:
    inputs = make_inputs()
    meta = inputs.model.metadata.model_copy(update={"description": "x" * 10_000_000})
    model = inputs.model.model_copy(update={"metadata": meta})
    with pytest.raises(RenderError) as info:  # refused before any layout starts
        render_card_pdf(model, **inputs.kwargs())
    message = str(info.value)
    assert "model.metadata.description is 10,000,000 characters" in message
    assert f"at most {MAX_TEXT_CHARS:,}" in message


def test_too_many_groups_are_refused() -> None:
    inputs = make_inputs()
    assert inputs.run is not None
    check = inputs.run.checks[1]
    assert check.evidence is not None
    many = check.evidence.model_copy(
        update={"groups": check.evidence.groups * 3000}  # type: ignore[union-attr]
    )
    run = inputs.run.model_copy(update={"checks": (check.model_copy(update={"evidence": many}),)})
    with pytest.raises(RenderError, match=r"run\.checks\[0\]\.evidence\.groups has 6,000 entries"):
        render_card_pdf(inputs.model, **inputs.kwargs(run=run))


def test_oversized_html_is_refused() -> None:
    with pytest.raises(RenderError, match="the PDF renderer takes at most"):
        html_to_pdf("x" * (MAX_HTML_BYTES + 1))


def test_a_render_that_runs_out_of_time_is_stopped() -> None:
    rows = "".join(f"<tr><td>{i}</td><td>{'word ' * 30}</td></tr>" for i in range(20_000))
    # the child process is killed at the timeout: the error says so
    with pytest.raises(RenderError, match=r"did not finish within 1 s and was stopped"):
        html_to_pdf(f"<table>{rows}</table>", timeout=1.0)


@pytest.mark.parametrize(
    "css",
    [
        "font-size: 1e9px",
        "font-size: 1e308px; letter-spacing: 1e9px",
        "width: 1e9px; height: 1e9px; padding: 1e9px",
        "line-height: 1e9",
    ],
)
def test_extreme_css_ends_within_the_time_limit(css: str) -> None:
    html = f'<p style="{css}">{"hostile " * 200}</p>' * 20
    try:  # the timeout kills a runaway layout, so this always ends
        pdf = html_to_pdf(html, timeout=20)
    except RenderError:
        pass  # a clear error is fine; a hang is not
    else:
        assert pdf.startswith(b"%PDF-")


def test_child_errors_and_logs_come_back(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    err = (
        b'{"log": [30, "weasyprint", "refused to fetch x"]}\n'
        b"some stray line\n"
        b'{"error": ["RenderError", "could not render the PDF: boom"]}\n'
    )
    with caplog.at_level(logging.DEBUG):
        assert _replay(err) == ("RenderError", "could not render the PDF: boom")
    assert "refused to fetch x" in caplog.text


def test_timeout_must_be_positive() -> None:
    with pytest.raises(RenderError, match="timeout must be a positive number"):
        html_to_pdf("<p>x</p>", timeout=0)
