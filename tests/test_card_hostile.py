"""Hostile text in EVERY user-supplied field, through the full HTML, PDF, Markdown and JSON paths.

Every string of every input record -- model and dataset names, metadata, column
names and types, source URIs, policy and rule names, messages, group labels,
metric names (dict keys too), feature names, findings, digests and the audit
hash -- is replaced by a payload holding local-file references, attachments,
CSS imports, a URL of a listener on loopback (which must receive nothing) and
template syntax (which must print literally).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from adult_card import adult_card_inputs, synthetic_adult
from poppler import pdftotext
from pydantic import BaseModel
from test_card_fetcher import _all_pdf_bytes, _attachment_names, _Listener

from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.report import card_json, card_markdown, render_card_html, render_card_pdf
from govkit.results import AuditAnchor, EvaluationResult

pytest.importorskip("weasyprint")

# fields whose values are a closed set (enums, literals): a payload there is refused by the
# record types themselves, so it never reaches a card
_CLOSED = {"kind", "severity", "status", "artifact_format", "flavour"}


def _payload(canary: Path, url: str) -> str:
    return (
        f'<img src="{canary.as_uri()}"><link rel="attachment" href="{canary.as_uri()}">'
        f"<style>@import url({url}/import.css);</style>"
        f'<object data="{url}/obj"></object> {url}/plain {{{{ 7*7 }}}}{{% raw %}}'
        f'<svg><image href="{url}/svg.png"/></svg> $x^2$ </td></table></section>'
    )


def _poison(value: Any, payload: str) -> Any:
    """``value`` with every string replaced by ``payload`` (data dict keys made unique)."""
    if isinstance(value, BaseModel):
        fields = {
            name: getattr(value, name)
            if name in _CLOSED
            else _poison(getattr(value, name), payload)
            for name in type(value).model_fields
        }
        return type(value).model_validate(fields)
    if isinstance(value, str):
        return payload
    if isinstance(value, dict):
        return {
            (f"{payload}#{i}" if isinstance(k, str) else k): _poison(v, payload)
            for i, (k, v) in enumerate(value.items())
        }
    if isinstance(value, list | tuple):
        return type(value)(_poison(v, payload) for v in value)
    return value


def _poisoned(record: BaseModel, payload: str) -> Any:
    return _poison(record, payload)


@pytest.fixture(scope="module")
def listener():  # type: ignore[no-untyped-def]
    with _Listener() as server:
        yield server


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    import secrets

    token = "canary-" + secrets.token_hex(16)
    path = tmp_path_factory.mktemp("canary") / "canary.txt"
    path.write_text(token + "\n", encoding="utf-8")
    return path, token


@pytest.fixture(scope="module")
def hostile(listener: _Listener, canary: tuple[Path, str]) -> dict[str, Any]:
    payload = _payload(canary[0], listener.url)
    base = adult_card_inputs(synthetic_adult(n=4000, n_explained=200))
    model = _poisoned(base.model, payload)
    lineage = [_poisoned(r, payload) for r in base.lineage]
    evaluation = _poisoned(base.evaluation, payload)
    run = _poisoned(base.run, payload)
    anchor = _poisoned(base.anchor, payload)
    assert isinstance(model, ModelVersionRecord) and isinstance(run, EvaluationResult)
    assert isinstance(evaluation, DatasetRecord) and isinstance(anchor, AuditAnchor)
    # the payload really is everywhere
    assert model.name == payload and model.metadata.owner == payload
    assert run.checks[0].evidence.groups[0].group == (payload,)  # type: ignore[union-attr]
    assert all(k.startswith(payload) for k in run.checks[0].evidence.overall)  # type: ignore[union-attr]
    return {
        "payload": payload,
        "model": model,
        "kwargs": {
            "training_lineage": lineage,
            "evaluation_data": evaluation,
            "run": run,
            "anchor": anchor,
            "generated_at": base.kwargs()["generated_at"],
        },
    }


def test_html_escapes_every_field(hostile: dict[str, Any], listener: _Listener) -> None:
    html = render_card_html(hostile["model"], **hostile["kwargs"])
    text = re.sub(r'src="data:image/svg\+xml;base64,[^"]*"', 'src=""', html)
    assert "<link" not in text and "<object" not in text and "<svg" not in text
    assert "<style>@import" not in text
    assert len(re.findall(r"<img\b", text)) == len(re.findall(r'<img class="plot-img"', text))
    assert "{{ 7*7 }}" in text and not re.search(r"\b49\b", text)
    assert (
        text.count("&lt;link rel=&#34;attachment&#34;") + text.count('&lt;link rel="attachment"')
        > 50
    )
    assert listener.requests == []


def test_pdf_fetches_nothing_embeds_nothing_and_prints_templates_literally(
    hostile: dict[str, Any], listener: _Listener, canary: tuple[Path, str]
) -> None:
    pdf = render_card_pdf(hostile["model"], **hostile["kwargs"])
    assert pdf.startswith(b"%PDF-")
    assert listener.requests == []
    everything = _all_pdf_bytes(pdf)
    assert canary[1].encode() not in everything
    assert _attachment_names(pdf) == [] and b"/EmbeddedFile" not in everything
    text = pdftotext(pdf)
    assert text.count("{{ 7*7 }}") > 20  # printed as text in field after field
    assert "<link rel=" in text  # the markup is visible text, not markup


def test_markdown_and_json_keep_the_payload_inert(
    hostile: dict[str, Any], listener: _Listener
) -> None:
    import yaml

    md = card_markdown(hostile["model"], **hostile["kwargs"])
    front, body = md.split("\n---\n", 1)
    meta = yaml.safe_load(front.removeprefix("---\n"))
    assert meta["model-index"][0]["name"].startswith(hostile["payload"])
    assert "<img" not in body and "<link" not in body and "&lt;img" in body
    data = json.loads(card_json(hostile["model"], **hostile["kwargs"]))
    assert data["model_details"]["name"] == hostile["payload"]  # data, as data
    assert listener.requests == []


def test_control_bidi_and_emoji_characters_are_shown_not_acted_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """NUL and BEL were copied raw into the HTML and Markdown cards; a U+202E override in the
    owner showed 'evil' as 'live' with no flag; emoji were .notdef boxes in the PDF (which
    PDF/A forbids). Now: U+FFFD, '[U+202E]', free text isolated, emoji as code points."""
    from test_card import make_inputs

    inputs = make_inputs()
    meta = inputs.model.metadata.model_copy(
        update={
            "owner": "\u202eevil\u202c-team \U0001f469\U0001f3fd\u200d\U0001f4bb",
            "caveats_and_recommendations": "before\x00NUL\x07BEL after",
        }
    )
    model = inputs.model.model_copy(update={"metadata": meta})
    html = render_card_html(model, **inputs.kwargs(), figures=False)
    assert "\x00" not in html and "\x07" not in html and "\u202e" not in html
    assert "before\ufffdNUL\ufffdBEL after" in html
    assert "<bdi>[U+202E]evil[U+202C]-team \U0001f469\U0001f3fd\u200d\U0001f4bb</bdi>" in html
    markdown = card_markdown(model, **inputs.kwargs())
    assert "\x00" not in markdown and "\x07" not in markdown and "\u202e" not in markdown
    assert "| Owner | \\[U+202E\\]evil\\[U+202C\\]-team " in markdown  # '[' escaped
    assert "before\ufffdNUL\ufffdBEL after" in markdown
    with caplog.at_level("WARNING"):
        pdf = render_card_pdf(model, **inputs.kwargs(), pdf_variant="pdf/a-3b")
    assert not [r for r in caplog.records if ".notdef" in r.getMessage()]
    text = pdftotext(pdf)
    assert "[U+202E]evil[U+202C]-team [U+1F469 U+1F3FD U+200D U+1F4BB]" in text
