"""Hostile text in every string a letter is made from, and inputs over the size limits.

Every string of the model record and its metadata (feature descriptions, data
categories, the decision texts, the contact, the estimator), every feature name
(dict keys too) and every string of the decision (reference, reason sentences,
labels, display values, feature values, the counterfactual) is replaced by a
payload holding local-file references, an attachment, a CSS ``@import``, the URL
of a listener on loopback (which must receive nothing) and template syntax (which
must print literally). Oversized values are refused before layout, naming the
field and never echoing the value.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from poppler import pdftotext
from pydantic import BaseModel
from test_card_fetcher import _all_pdf_bytes, _attachment_names, _hostile_html, _Listener
from test_letter import (
    FEATURES,
    CreditModel,
    make_decision,
    model_record,
    pdf_text,
    text_of,
    train_credit_model,
)

from govkit.decisions import Decision, FeatureChange, Reason
from govkit.exceptions import RenderError
from govkit.records import FeatureSpec, ModelVersionRecord
from govkit.report import render_letter_html, render_letter_pdf
from govkit.report._letter_view import (
    MAX_FEATURES,
    MAX_LETTER_CHARS,
    MAX_PROSE_CHARS,
    MAX_REASONS,
    MAX_SHORT_CHARS,
)

pytest.importorskip("weasyprint")

# closed sets (Literal fields) and the locale: the record types refuse a payload there
_CLOSED = {"kind", "flavour", "artifact_format", "effect", "locale"}


def _payload(canary: Path, url: str) -> str:
    return (
        f'<img src="{canary.as_uri()}"><link rel="attachment" href="{canary.as_uri()}">'
        f"<style>@import url({url}/import.css);</style>"
        f'<object data="{url}/obj"></object> {url}/plain {{{{ 7*7 }}}}{{% raw %}}'
        f'<svg><image href="{url}/svg.png"/></svg> </td></table></section>'
    )


def _poison(value: Any, payload: str, names: dict[str, str]) -> Any:
    """Every string replaced by ``payload``; feature names by their own poisoned name."""
    if isinstance(value, BaseModel):
        fields = {
            name: getattr(value, name)
            if name in _CLOSED
            else _poison(getattr(value, name), payload, names)
            for name in type(value).model_fields
        }
        return type(value).model_validate(fields)
    if isinstance(value, str):
        return names.get(value, payload)
    if isinstance(value, dict):
        return {_poison(k, payload, names): _poison(v, payload, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_poison(v, payload, names) for v in value)
    return value


@pytest.fixture(scope="module")
def listener() -> Iterator[_Listener]:
    with _Listener() as server:
        yield server


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    token = "canary-" + secrets.token_hex(16)
    path = tmp_path_factory.mktemp("canary") / "canary.txt"
    path.write_text(token + "\n", encoding="utf-8")
    return path, token


@pytest.fixture(scope="module")
def credit_model() -> CreditModel:
    return train_credit_model()


@pytest.fixture(scope="module")
def hostile(
    listener: _Listener, canary: tuple[Path, str], credit_model: CreditModel
) -> tuple[Decision, ModelVersionRecord, str]:
    payload = _payload(canary[0], listener.url)
    names = {f: f"{payload}#{i}" for i, f in enumerate(FEATURES)}
    decision = _poison(make_decision(credit_model), payload, names)
    model = _poison(model_record(), payload, names)
    # a feature value given as text, and one feature with no description: its name is shown
    first = names[FEATURES[0]]
    decision = decision.model_copy(update={"features": decision.features | {first: payload}})
    features = dict(model.metadata.features)
    features[names[FEATURES[-1]]] = FeatureSpec(data_category=payload)
    meta = model.metadata.model_copy(update={"features": features})
    model = model.model_copy(update={"metadata": meta})
    # the payload really is everywhere
    ex = decision.explanation
    assert decision.decision_id == payload and model.name == payload == decision.model.name
    assert all(k.startswith(payload) for k in decision.features)
    assert all(r.text == r.label == r.display_value == payload for r in ex.reasons)
    assert ex.counterfactual is not None and ex.counterfactual.changes[0].label == payload
    assert meta.contact == payload and meta.decision is not None
    assert meta.decision.how_to_contest == payload and model.estimator == payload
    assert all(s.data_category == payload for s in meta.features.values())
    return decision, model, payload


def test_html_escapes_every_field(
    hostile: tuple[Decision, ModelVersionRecord, str], listener: _Listener
) -> None:
    decision, model, _ = hostile
    html = render_letter_html(decision, model)
    for tag in ("<img", "<link", "<object", "<svg", "<image", "</td></table></section> "):
        assert tag not in html
    assert html.count("<style>") == 2  # the template's own two
    assert "{{ 7*7 }}" in html and not re.search(r"\b49\b", html)
    text = text_of(html)
    assert text.count('<link rel="attachment"') > 25  # field after field, as text
    assert "{% raw %}" in text
    assert "default-src 'none'" in html  # a browser showing the letter fetches nothing either
    assert listener.requests == []


def test_pdf_fetches_nothing_embeds_nothing_and_prints_templates_literally(
    hostile: tuple[Decision, ModelVersionRecord, str],
    listener: _Listener,
    canary: tuple[Path, str],
) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    decision, model, payload = hostile
    pdf = render_letter_pdf(decision, model)
    assert pdf.startswith(b"%PDF-")
    assert listener.requests == []
    everything = _all_pdf_bytes(pdf)
    assert canary[1].encode() not in everything
    assert _attachment_names(pdf) == [] and b"/EmbeddedFile" not in everything
    text = pdftotext(pdf)
    assert text.count("{{ 7*7 }}") > 20
    assert "<link rel=" in text and "@import url(" in text  # visible text, not markup
    info = PdfReader(BytesIO(pdf)).metadata
    assert info is not None and info.author == payload  # the controller, as text


def test_the_pdf_path_uses_the_hardened_fetcher(
    monkeypatch: pytest.MonkeyPatch,
    listener: _Listener,
    canary: tuple[Path, str],
    credit_model: CreditModel,
) -> None:
    """Second wall: had markup slipped through escaping, layout would still fetch nothing."""
    import govkit.report._letter as letter

    monkeypatch.setattr(
        letter, "render_letter_html", lambda d, m: _hostile_html(listener, canary[0])
    )
    pdf = render_letter_pdf(make_decision(credit_model), model_record())
    assert listener.requests == []
    assert canary[1].encode() not in _all_pdf_bytes(pdf)
    assert _attachment_names(pdf) == []
    assert "hostile" in pdf_text(pdf)  # the document itself rendered


def test_control_characters_are_dropped(credit_model: CreditModel) -> None:
    record = model_record()
    meta = record.metadata.model_copy(update={"contact": "review\x00@bank\x1b[31m.test\x7f"})
    html = render_letter_html(
        make_decision(credit_model), record.model_copy(update={"metadata": meta})
    )
    assert "review@bank[31m.test" in html and "\x00" not in html and "\x1b" not in html


# ------------------------------------------------------------------ size limits

SECRET = "SECRET-VALUE-"


def _long(n: int) -> str:
    return (SECRET + "x" * n)[:n]


def _meta(**update: Any) -> Callable[[Decision, ModelVersionRecord], tuple[Decision, Any]]:
    def change(d: Decision, m: ModelVersionRecord) -> tuple[Decision, Any]:
        return d, m.model_copy(update={"metadata": m.metadata.model_copy(update=update)})

    return change


def _spec(**update: Any) -> Callable[[Decision, ModelVersionRecord], tuple[Decision, Any]]:
    def change(d: Decision, m: ModelVersionRecord) -> tuple[Decision, Any]:
        assert m.metadata.decision is not None
        spec = m.metadata.decision.model_copy(update=update)
        return d, m.model_copy(
            update={"metadata": m.metadata.model_copy(update={"decision": spec})}
        )

    return change


def _feature(name: str, **update: Any) -> Callable[[Decision, ModelVersionRecord], tuple[Any, Any]]:
    def change(d: Decision, m: ModelVersionRecord) -> tuple[Decision, Any]:
        features = dict(m.metadata.features)
        features[name] = features[name].model_copy(update=update)
        return d, m.model_copy(
            update={"metadata": m.metadata.model_copy(update={"features": features})}
        )

    return change


def _explanation(**update: Any) -> Callable[[Decision, ModelVersionRecord], tuple[Any, Any]]:
    def change(d: Decision, m: ModelVersionRecord) -> tuple[Decision, Any]:
        ex = d.explanation
        values = {k: v(ex) if callable(v) else v for k, v in update.items()}
        return d.model_copy(update={"explanation": ex.model_copy(update=values)}), m

    return change


def _reason(i: int, **update: Any) -> Callable[[Any], tuple[Reason, ...]]:
    def reasons(ex: Any) -> tuple[Reason, ...]:
        rs = list(ex.reasons)
        rs[i] = rs[i].model_copy(update=update)
        return tuple(rs)

    return reasons


def _change(**update: Any) -> Callable[[Any], Any]:
    def cf(ex: Any) -> Any:
        changes: tuple[FeatureChange, ...] = ex.counterfactual.changes
        new = changes[0].model_copy(update=update)
        return ex.counterfactual.model_copy(update={"changes": (new, *changes[1:])})

    return cf


def _many_reasons(ex: Any) -> tuple[Reason, ...]:
    r = ex.reasons[0]
    return tuple(r.model_copy(update={"rank": i + 1}) for i in range(MAX_REASONS + 1))


def _many_features(d: Decision, m: ModelVersionRecord) -> tuple[Decision, ModelVersionRecord]:
    extra = {f"extra_{i}": float(i) for i in range(MAX_FEATURES + 1 - len(d.features))}
    return d.model_copy(update={"features": d.features | extra}), m


def _everything_long(d: Decision, m: ModelVersionRecord) -> tuple[Decision, Any]:
    prose = _long(MAX_PROSE_CHARS)
    keys = ("score_meaning", "significance", "consequences", "how_to_contest", "human_review")
    d, m = _spec(**dict.fromkeys(keys, prose))(d, m)
    d, m = _meta(description=prose)(d, m)
    r = d.explanation.reasons[0]
    reasons = tuple(
        r.model_copy(update={"rank": i + 1, "text": _long(MAX_SHORT_CHARS)})
        for i in range(MAX_REASONS)
    )
    return _explanation(reasons=reasons)(d, m)


P, S = MAX_PROSE_CHARS + 1, MAX_SHORT_CHARS + 1
OVERSIZED = {
    "description": (
        _meta(description=_long(P)),
        "model.metadata.description is 5,001 characters; a letter paragraph holds at most 5,000",
    ),
    "contact": (
        _meta(contact=_long(S)),
        "model.metadata.contact is 1,001 characters; a letter short field holds at most 1,000",
    ),
    "owner": (_meta(owner=_long(S)), "model.metadata.owner is 1,001 characters"),
    "how_to_contest": (
        _spec(how_to_contest=_long(P)),
        "model.metadata.decision.how_to_contest is 5,001 characters",
    ),
    "human_review": (_spec(human_review=_long(P)), "model.metadata.decision.human_review is 5,001"),
    "score_meaning": (
        _spec(score_meaning=_long(P)),
        "model.metadata.decision.score_meaning is 5,001",
    ),
    "controller": (_spec(controller=_long(S)), "model.metadata.decision.controller is 1,001"),
    "subject": (_spec(subject=_long(S)), "model.metadata.decision.subject is 1,001"),
    "outcome name": (
        _spec(favourable_outcome=_long(S)),
        "model.metadata.decision.favourable_outcome is 1,001",
    ),
    "feature label": (
        _feature("late_payments", description=_long(S)),
        "model.metadata.features['late_payments'].description is 1,001",
    ),
    "data category": (
        _feature("annual_income", data_category=_long(S)),
        "model.metadata.features['annual_income'].data_category is 1,001",
    ),
    "estimator": (
        lambda d, m: (d, m.model_copy(update={"estimator": _long(S)})),
        "model.estimator is 1,001",
    ),
    "reason text": (
        _explanation(reasons=_reason(0, text=_long(S))),
        "decision.explanation.reasons[0].text is 1,001 characters",
    ),
    "outcome": (_explanation(outcome=_long(S)), "decision.explanation.outcome is 1,001"),
    "method": (_explanation(method=_long(S)), "decision.explanation.method is 1,001"),
    "counterfactual value": (
        _explanation(counterfactual=_change(display_proposed=_long(S))),
        "decision.explanation.counterfactual.changes[0].display_proposed is 1,001",
    ),
    "counterfactual label": (
        _explanation(counterfactual=_change(label=_long(S))),
        "decision.explanation.counterfactual.changes[0].label is 1,001",
    ),
    "decision id": (
        lambda d, m: (d.model_copy(update={"decision_id": _long(S)}), m),
        "decision.decision_id is 1,001",
    ),
    "feature value": (
        lambda d, m: (
            d.model_copy(update={"features": d.features | {"late_payments": _long(S)}}),
            m,
        ),
        "decision.features['late_payments'] is 1,001 characters",
    ),
    "feature name": (
        lambda d, m: (d.model_copy(update={"features": d.features | {_long(S): 1.0}}), m),
        "a feature name of decision.features is 1,001 characters",
    ),
    "too many reasons": (
        _explanation(reasons=_many_reasons),
        f"decision.explanation.reasons has {MAX_REASONS + 1} entries; at most {MAX_REASONS}",
    ),
    "too many features": (
        _many_features,
        f"decision.features has {MAX_FEATURES + 1} entries; at most {MAX_FEATURES}",
    ),
    "too much in all": (_everything_long, f"over {MAX_LETTER_CHARS:,} characters of text in all"),
}


@pytest.mark.parametrize("case", list(OVERSIZED))
def test_oversized_inputs_are_refused_naming_the_field_not_the_value(
    case: str, credit_model: CreditModel
) -> None:
    change, message = OVERSIZED[case]
    decision, model = change(make_decision(credit_model), model_record())
    for render in (render_letter_html, render_letter_pdf):
        with pytest.raises(RenderError) as info:
            render(decision, model)
        assert message in str(info.value)
        assert SECRET not in str(info.value)


def test_every_field_at_its_limit_still_renders(credit_model: CreditModel) -> None:
    """Just under every limit is a letter, not an error (the benchmark times this one)."""
    decision, model = make_decision(credit_model), model_record()
    decision, model = _spec(how_to_contest=_long(MAX_PROSE_CHARS))(decision, model)
    decision, model = _meta(contact=_long(MAX_SHORT_CHARS))(decision, model)
    decision, model = _explanation(reasons=_reason(0, text=_long(MAX_SHORT_CHARS)))(decision, model)
    text = pdf_text(render_letter_pdf(decision, model))
    assert text.count(SECRET) == 3
