"""govkit.explain / letter / get_decision: the Python twins of `govkit explain` and
`govkit decision show`, on a real SQLite registry built through the Python API.

The numbers are the model's own: the score is its predict_proba, base + attributions its
log-odds; the Python call and the CLI give the same explanation of the same row.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest
from conftest import EXAMPLES, HGB_TYPE
from typer.testing import CliRunner

import govkit
from govkit.cli._app import app
from govkit.exceptions import InputError, InvalidFieldsError, NotFoundError


@pytest.fixture(scope="module")
def registry(tmp_path_factory, adult_files):
    folder = tmp_path_factory.mktemp("decide-api")
    db = f"sqlite:///{folder / 'govkit.db'}"
    with govkit.Store.open(db) as store:
        govkit.register_dataset(adult_files["train"], name="adult-train", store=store)
        govkit.register_dataset(adult_files["test"], name="adult-test", store=store)
        govkit.register_model(
            adult_files["model"],
            name="credit",
            store=store,
            training_data="adult-train",
            evaluation_data="adult-test",
            metadata=EXAMPLES / "meta.yaml",
            trusted_types=[HGB_TYPE],
        )
    return folder


@pytest.fixture
def db(registry, tmp_path):
    shutil.copy(registry / "govkit.db", tmp_path / "govkit.db")
    return f"sqlite:///{tmp_path / 'govkit.db'}"


@pytest.fixture
def person(adult_test):
    from demo import FEATURES_CAT, FEATURES_NUM

    row = adult_test[FEATURES_CAT + FEATURES_NUM].iloc[[3]]
    values = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.iloc[0].items()}
    return row, values


def test_explain_decides_records_and_agrees_with_the_model(db, person, adult_model):
    row, values = person
    with govkit.Store.open(db) as store:
        before = len(store.audit_events())
        decision = govkit.explain("credit", values, store=store, trusted_types=[HGB_TYPE])
        assert decision.audit_sequence == before + 1 == len(store.audit_events())
        assert govkit.get_decision(decision.decision_id, store=store) == decision
    exp = decision.explanation
    proba = adult_model.predict_proba(row)[0, list(adult_model.classes_).index(">50K")]
    assert exp.score == pytest.approx(proba, abs=1e-12)
    logit = math.log(proba / (1 - proba))
    assert exp.base_value + sum(exp.attributions.values()) == pytest.approx(logit, abs=1e-6)
    assert exp.reliable and str(decision.model) == "credit@1"
    assert decision.features == values


def test_the_python_call_and_the_cli_explain_the_same_row_alike(db, person, tmp_path):
    _, values = person
    path = tmp_path / "row.json"
    path.write_text(json.dumps(values))
    r = CliRunner().invoke(
        app, ["explain", "credit@1", "--input", str(path), "--trust-type", HGB_TYPE, "--db", db]
    )
    assert r.exit_code == 0, r.output
    from_cli = json.loads(r.stdout)
    with govkit.Store.open(db) as store:
        decision = govkit.explain("credit@1", values, store=store, trusted_types=[HGB_TYPE])
        as_json = json.loads(govkit.letter(decision, store=store, format="json"))
    assert as_json == decision.model_dump(mode="json")
    for key in ("decision_id", "created_at", "audit_sequence", "audit_hash"):
        from_cli.pop(key, None)
        as_json.pop(key, None)
    assert as_json == from_cli


def test_the_letter_is_rendered_from_the_recorded_decision(db, person):
    from pypdf import PdfReader

    _, values = person
    with govkit.Store.open(db) as store:
        decision = govkit.explain("credit", values, store=store, trusted_types=[HGB_TYPE])
        html = govkit.letter(decision, store=store, format="html").decode()
        assert govkit.letter(decision.decision_id, store=store, format="html").decode() == html
        pdf = govkit.letter(decision, store=store)  # pdf by default
    first = decision.explanation.reasons[0].text
    assert decision.decision_id in html and first in html
    import io

    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert decision.decision_id in text and " ".join(first.split()) in text


def test_a_subject_is_stored_pseudonymised_and_needs_a_key(db, person):
    from govkit.service import generate_subject_key, load_subject_key

    _, values = person
    with govkit.Store.open(db) as store:
        with pytest.raises(InputError, match="subject_id needs subject_key"):
            govkit.explain("credit", values, store=store, subject_id="client-17")
        key_text = generate_subject_key()
        import os

        os.environ["GOVKIT_SUBJECT_KEY"] = key_text
        try:
            key = load_subject_key(None)
        finally:
            del os.environ["GOVKIT_SUBJECT_KEY"]
        decision = govkit.explain(
            "credit",
            values,
            store=store,
            subject_id="client-17",
            subject_key=key,
            trusted_types=[HGB_TYPE],
        )
        assert decision.has_subject
        dump = "\n".join(json.dumps(e.payload) for e in store.audit_events())
    assert "client-17" not in dump


@pytest.mark.parametrize(
    "model,features,error,message",
    [
        ("credit@x", None, InputError, "model: "),
        ("credit", [1, 2], InputError, "features: expected a mapping"),
        (
            "credit",
            {"age": 30},
            InvalidFieldsError,
            "invalid features: features.workclass: missing",
        ),
        ("credti", None, NotFoundError, "credit"),
        (17, None, InputError, "model: expected 'NAME' or 'NAME@VERSION'; got int"),
    ],
)
def test_bad_calls_name_the_problem_and_record_nothing(db, person, model, features, error, message):
    _, values = person
    with govkit.Store.open(db) as store:
        before = len(store.audit_events())
        with pytest.raises(error, match=message) as info:
            govkit.explain(
                model,
                values if features is None else features,
                store=store,
                trusted_types=[HGB_TYPE],
            )
        assert len(store.audit_events()) == before
    if error is InvalidFieldsError:
        problems = dict(info.value.problems)
        assert problems["features.occupation"] == "missing"
        assert "30" not in str(info.value)  # values are personal data: never echoed


def test_bad_letter_calls_name_the_problem(db, person):
    _, values = person
    with govkit.Store.open(db) as store:
        decision = govkit.explain("credit", values, store=store, trusted_types=[HGB_TYPE])
        with pytest.raises(InputError, match="format must be 'json', 'html' or 'pdf'; got 'docx'"):
            govkit.letter(decision, store=store, format="docx")  # type: ignore[arg-type]
        with pytest.raises(InputError, match="expected a Decision or a decision id; got int"):
            govkit.letter(17, store=store)  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            govkit.letter("dec_" + "0" * 24, store=store)
        with pytest.raises(NotFoundError):  # another tenant does not see it
            govkit.get_decision(decision.decision_id, store=store, tenant="other")
