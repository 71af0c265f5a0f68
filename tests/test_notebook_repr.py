"""Notebooks: results, records and decisions show as compact escaped HTML and short reprs."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

from test_store_decisions import CANARY_CITY, CANARY_NAME, make_decision

from govkit.records import (
    ColumnSchema,
    DatasetRecord,
    DatasetRef,
    ModelMetadata,
    ModelRef,
    ModelVersionRecord,
)
from govkit.results import Bound, CheckResult, EvaluationResult, Status

HOSTILE = "<script>alert(1)</script>"
T = datetime(2025, 1, 1, tzinfo=UTC)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Collect:
    parser = _Collect()
    parser.feed(html)
    return parser


def result() -> EvaluationResult:
    checks = (
        CheckResult(rule_id="four-fifths-sex", check_id="fairness.demographic_parity_ratio",
                    kind="fairness", severity="error", status=Status.FAIL, value=0.338,
                    bound=Bound(min=0.8), message=HOSTILE),
        CheckResult(rule_id="accuracy", check_id="performance.metric", kind="performance",
                    severity="error", status=Status.PASS, value=0.8732, bound=Bound(min=0.8)),
        CheckResult(rule_id="drift", check_id="drift.psi", kind="drift", severity="warning",
                    status=Status.WARN, value=0.3),
    )  # fmt: skip
    return EvaluationResult(
        policy_name="credit-scoring", policy_digest="sha256:" + "a" * 64,
        model=ModelRef(name="credit", version=1), n_rows=16281, started_at=T, finished_at=T,
        govkit_version="0.1.0", checks=checks,
    )  # fmt: skip


def test_an_evaluation_shows_every_rule_with_its_status_and_escapes_messages():
    r = result()
    html = r._repr_html_()
    doc = parse(html)
    assert "script" not in doc.tags
    text = " ".join(doc.text)
    for rule in ("four-fifths-sex", "accuracy", "drift"):
        assert rule in text
    assert HOSTILE in text  # shown literally, as text
    assert doc.tags.count("tr") == 1 + len(r.checks)  # header + one row per rule
    assert "FAIL" in text and "PASS" in text and "WARN" in text
    assert "verdict: FAIL" in " ".join(text.split())
    assert "&lt;script&gt;" in html


def test_reprs_are_short_and_say_the_verdict():
    r = result()
    assert repr(r) == (
        "EvaluationResult(policy='credit-scoring', model=credit@1, status=FAIL, "
        "checks=[1 PASS, 1 WARN, 1 FAIL], n_rows=16281)"
    )
    assert repr(r.checks[0]) == (
        "CheckResult(rule_id='four-fifths-sex', status=FAIL, value=0.338, bound=>= 0.8)"
    )
    assert "bound: >= 0.8" in " ".join(parse(r.checks[0]._repr_html_()).text)


def test_records_show_their_identity_and_lineage():
    ds = DatasetRecord(
        name="adult-train", version=2, fingerprint="sha256:" + "f" * 64, row_count=32561,
        columns=(ColumnSchema(name="age", dtype="int"), ColumnSchema(name=HOSTILE, dtype="string")),
        source_uri="https://doi.org/10.24432/C5XW20", parents=(DatasetRef(name="raw", version=1),),
        created_at=T,
    )  # fmt: skip
    text = " ".join(parse(ds._repr_html_()).text)
    for part in ("adult-train@2", "32561", "raw@1", "age", HOSTILE):
        assert part in text
    assert "script" not in parse(ds._repr_html_()).tags
    model = ModelVersionRecord(
        name="credit", version=1, artifact_uri="file:///m.skops", artifact_sha256="ab" * 32,
        artifact_format="skops", flavour="sklearn", estimator="Pipeline[HistGradientBoosting]",
        metadata=ModelMetadata(owner=HOSTILE), created_at=T,
        training_data=DatasetRef(name="adult-train", version=2),
    )  # fmt: skip
    doc = parse(model._repr_html_())
    assert "script" not in doc.tags
    text = " ".join(doc.text)
    assert "credit@1" in text and "adult-train@2" in text and HOSTILE in text


def test_a_decision_shows_its_reasons_but_its_repr_has_no_personal_values():
    decision = make_decision("dec_1")
    assert CANARY_NAME not in repr(decision) and CANARY_CITY not in repr(decision)
    assert repr(decision).startswith("Decision(decision_id='dec_1', model=credit-risk@3")
    text = " ".join(parse(decision._repr_html_()).text)
    for reason in decision.explanation.reasons:
        assert reason.text in text
    assert CANARY_NAME not in text  # inputs are not listed, only the reasons
