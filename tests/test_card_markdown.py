"""Markdown model cards: same sections as the HTML card, inert free text, deterministic."""

from __future__ import annotations

import re

import pytest
from test_card import HOSTILE, SECTION_TITLES, T0, _bare_model, make_inputs

from govkit.report import card_markdown
from govkit.report._markdown import md_block, md_inline

markdown_it = pytest.importorskip("markdown_it")


def _to_html(text: str) -> str:
    # front matter is YAML metadata, not Markdown: renderers (GitHub, the Hugging Face Hub)
    # take it off before rendering the body
    if text.startswith("---\n"):
        text = text[4:].split("\n---\n", 1)[1]
    md = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return md.render(text)


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_markdown_has_every_section_and_the_key_facts() -> None:
    inputs = make_inputs()
    text = card_markdown(inputs.model, **inputs.kwargs())
    sections = _sections(text)
    assert [t for t in sections if t in SECTION_TITLES] == list(SECTION_TITLES)
    assert text.startswith("---\nlicense: apache-2.0\n")  # Hugging Face metadata on top
    assert "\n---\n\n# Model card: credit-income@4\n" in text
    assert "✗ FAIL" in sections["Policy evaluation"]
    assert "| Other | 64 | n/a | 0.0172 | not judged |" in sections["Quantitative analyses"]
    assert "census-extra@1** (record not provided)" in sections["Data lineage"]
    assert "7e" * 32 in sections["Audit anchor"]
    html = _to_html(text)
    assert html.count("<table>") >= 10  # the tables parse as GFM tables


def test_markdown_is_deterministic() -> None:
    inputs = make_inputs()
    assert card_markdown(inputs.model, **inputs.kwargs()) == card_markdown(
        make_inputs().model, **make_inputs().kwargs()
    )


def test_markdown_free_text_is_inert() -> None:
    payload = HOSTILE + " | broken | [x](javascript:alert(1)) # not a heading\n- not a list"
    hostile = make_inputs(payload)
    text = card_markdown(hostile.model, **hostile.kwargs())
    html = _to_html(text)
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "<a " not in html  # link syntax in the text stayed text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and "49" not in text
    # the pipes in the text did not add table cells: every row of a table has its width
    for table in re.findall(r"<table>.*?</table>", html, re.S):
        widths = {
            len(re.findall(r"<t[dh][ >]", row)) for row in re.findall(r"<tr>.*?</tr>", table, re.S)
        }
        assert len(widths) == 1, table


@pytest.mark.parametrize(
    "text,expected",
    [
        ("# h", r"\# h"),
        ("- x", r"\- x"),
        ("1. one", r"1\. one"),
        ("---", r"--\-"),
        ("0.8712", "0.8712"),
        ("a|b", r"a\|b"),
        ("<b>&", "&lt;b&gt;&amp;"),
        ("two\nlines", "two lines"),
        (None, "*Not provided*"),
    ],
)
def test_md_inline(text: str | None, expected: str) -> None:
    assert md_inline(text) == expected


def test_md_block_keeps_lines_but_not_markup() -> None:
    assert md_block("one\n# two\n\nthree") == "one\\\n\\# two\n\nthree"
    assert md_block("  \n") == "*Not provided*"


def test_markdown_missing_metadata_reads_not_provided() -> None:
    text = card_markdown(
        _bare_model(),
        training_lineage=[],
        evaluation_data=None,
        run=None,
        anchor=None,
        generated_at=T0,
    )
    sections = _sections(text)
    for title in SECTION_TITLES:
        assert sections[title].strip(), title
        if title != "Model details":
            assert "*Not provided*" in sections[title], title
    assert "None" not in text
