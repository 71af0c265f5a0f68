"""Decision letters: every section, the reasons a person reads, PDF text, pictures, locales.

The decisions are real: a LightGBM model is trained on generated credit data, one
applicant is scored, the principal reasons are the features whose LightGBM
``pred_contrib`` attributions (checked to add up to the model's raw output) pushed
the score down the most, and the counterfactual is a bounded search that calls the
model. The letter must say what the model and the attributions say.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

from govkit import _i18n
from govkit.decisions import (
    Counterfactual,
    Decision,
    DecisionExplanation,
    FeatureChange,
    Reason,
)
from govkit.exceptions import InputError, RenderError
from govkit.records import DecisionSpec, FeatureSpec, ModelMetadata, ModelRef, ModelVersionRecord
from govkit.report import render_letter_html, render_letter_pdf

T0 = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
FEATURES = (
    "annual_income",
    "debt_to_income",
    "late_payments",
    "credit_history_years",
    "employment_years",
    "requested_amount",
)
SPECS = {
    "annual_income": FeatureSpec(
        description="your annual income",
        kind="money",
        unit="USD",
        data_category="financial situation",
    ),
    "debt_to_income": FeatureSpec(
        description="your debt-to-income ratio",
        kind="percent",
        actionable=True,
        min=0,
        max=100,
        step=1,
        data_category="financial situation",
    ),
    "late_payments": FeatureSpec(
        description="your late payments in the last two years",
        kind="count",
        data_category="credit history",
    ),
    "credit_history_years": FeatureSpec(
        description="the length of your credit history",
        kind="years",
        immutable=True,
        data_category="credit history",
    ),
    "employment_years": FeatureSpec(
        description="your years with your current employer",
        kind="years",
        data_category="employment",
    ),
    # no data category: listed under "Other information"
    "requested_amount": FeatureSpec(description="the amount you asked to borrow", kind="money"),
}
SPEC = DecisionSpec(
    subject="credit application",
    favourable_outcome="approved",
    unfavourable_outcome="declined",
    threshold=0.5,
    score_meaning=(
        "The score is the estimated probability that a loan like yours is repaid on time, "
        "learnt from 2,000 past loans."
    ),
    significance="Your application for a personal loan of $12,000 will not be granted.",
    consequences="You may apply again after 90 days or with a different amount.",
    how_to_contest=(
        "Write to our credit review team within 30 days, quoting the reference above, and "
        "tell us why you think the decision is wrong."
    ),
    human_review="A credit officer who did not take part in the decision will review it.",
    controller="Example Bank plc, 1 Main Street, Springfield",
    counterfactual=True,
)
META = ModelMetadata(
    description="Gradient-boosted trees scoring personal loan applications.",
    owner="credit-risk-ml@example.org",
    contact="Credit review team, review@example-bank.test, +1 555 0100",
    intended_use="Pre-screening of personal loan applications.",
    flavour="lightgbm",
    feature_names=FEATURES,
    features=SPECS,
    decision=SPEC,
    target="repaid",
    positive_label=1,
)


@dataclass(frozen=True)
class CreditModel:
    booster: Any  # lightgbm.Booster

    def score(self, row: dict[str, float]) -> float:
        x = np.array([[row[f] for f in FEATURES]], dtype=float)
        return float(self.booster.predict(x)[0])

    def contributions(self, row: dict[str, float]) -> tuple[dict[str, float], float, float]:
        """LightGBM's own TreeSHAP: attributions, base value, raw (log-odds) output."""
        x = np.array([[row[f] for f in FEATURES]], dtype=float)
        contrib = self.booster.predict(x, pred_contrib=True)[0]
        raw = float(self.booster.predict(x, raw_score=True)[0])
        return dict(zip(FEATURES, map(float, contrib[:-1]), strict=True)), float(contrib[-1]), raw


def train_credit_model(n: int = 2000, seed: int = 0) -> CreditModel:
    import lightgbm as lgb

    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.8, 0.4, n).round(-2)
    dti = rng.uniform(5, 60, n).round()
    late = rng.poisson(0.8, n)
    history = rng.integers(0, 30, n)
    employment = rng.integers(0, 20, n)
    amount = rng.uniform(1000, 40000, n).round(-2)
    logit = (
        0.00003 * (income - 50000)
        - 0.08 * (dti - 30)
        - 0.9 * late
        + 0.05 * history
        + 0.06 * employment
        - 0.00003 * (amount - 15000)
        + 0.8
    )
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    x = np.column_stack([income, dti, late, history, employment, amount])
    params = {"objective": "binary", "num_leaves": 8, "learning_rate": 0.1, "verbose": -1}
    params |= {"seed": seed, "deterministic": True, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, label=y.astype(int)), num_boost_round=60)
    return CreditModel(booster)


APPLICANT = {
    "annual_income": 41000.0,
    "debt_to_income": 45.0,
    "late_payments": 1.0,
    "credit_history_years": 4.0,
    "employment_years": 1.0,
    "requested_amount": 12000.0,
}


def display(name: str, value: float) -> str:
    kind = SPECS[name].kind
    if kind == "money":
        return f"${value:,.0f}"
    if kind == "percent":
        return f"{value:.0f}%"
    if kind == "years":
        return f"{value:.0f} year" if value == 1 else f"{value:.0f} years"
    return f"{value:.0f}"


def model_record(meta: ModelMetadata = META, **update: Any) -> ModelVersionRecord:
    fields: dict[str, Any] = {
        "name": "credit-lgbm",
        "version": 3,
        "artifact_uri": "file:///models/credit-lgbm-3.txt",
        "artifact_sha256": "ab" * 32,
        "artifact_format": "lightgbm-text",
        "flavour": "lightgbm",
        "estimator": "LGBMClassifier",
        "metadata": meta,
        "created_at": T0,
        "created_by": "ci",
    }
    return ModelVersionRecord(**(fields | update))


def search_counterfactual(model: CreditModel, row: dict[str, float]) -> Counterfactual:
    """Lower the one actionable feature in its declared steps until the outcome flips."""
    spec = SPECS["debt_to_income"]
    assert spec.step is not None and spec.min is not None
    evaluations = 0
    value = row["debt_to_income"]
    while value - spec.step >= spec.min:
        value -= spec.step
        evaluations += 1
        score = model.score(row | {"debt_to_income": value})
        if score >= SPEC.threshold:
            change = FeatureChange(
                feature="debt_to_income",
                label="your debt-to-income ratio",
                current=row["debt_to_income"],
                proposed=value,
                display_current=display("debt_to_income", row["debt_to_income"]),
                display_proposed=display("debt_to_income", value),
            )
            return Counterfactual(
                found=True,
                changes=(change,),
                score=score,
                text=f"If your debt-to-income ratio had been {change.display_proposed}, ...",
                searched="debt-to-income ratio from 0% to 100% in steps of 1",
                evaluations=evaluations,
            )
    return Counterfactual(
        found=False,
        text="No change found.",
        searched="debt-to-income ratio from 0% to 100% in steps of 1",
        evaluations=evaluations,
    )


def make_decision(
    model: CreditModel,
    row: dict[str, float] = APPLICANT,
    *,
    k: int = 4,
    counterfactual: bool = True,
    reliable: bool | None = None,
    locale: str = "en",
) -> Decision:
    """A decision as the explain engine would make it, from LightGBM's own attributions."""
    attributions, base, raw = model.contributions(row)
    additivity_error = abs(base + sum(attributions.values()) - raw)
    score = model.score(row)
    assert abs(1 / (1 + np.exp(-raw)) - score) < 1e-9
    favourable = score >= SPEC.threshold
    # towards the outcome: raised the score for an approval, lowered it for a decline
    sign = 1.0 if favourable else -1.0
    towards = sorted(
        (f for f in FEATURES if sign * attributions[f] > 0), key=lambda f: -abs(attributions[f])
    )[:k]
    against = max(FEATURES, key=lambda f: -sign * attributions[f])
    reasons = []
    for rank, f in enumerate([*towards, against], start=1):
        effect: Literal["raised", "lowered"] = "raised" if attributions[f] > 0 else "lowered"
        most = " the most" if rank == 1 else ""
        label = SPECS[f].description or f
        reasons.append(
            Reason(
                rank=rank,
                feature=f,
                label=label,
                value=row[f],
                display_value=display(f, row[f]),
                contribution=attributions[f],
                effect=effect,
                towards_outcome=f in towards,
                text=f"{label[0].upper()}{label[1:]} ({display(f, row[f])}) {effect} the "
                f"score{most}.",
            )
        )
    explanation = DecisionExplanation(
        score=score,
        prediction=int(favourable),
        outcome=SPEC.favourable_outcome if favourable else SPEC.unfavourable_outcome,
        favourable=favourable,
        threshold=SPEC.threshold,
        base_value=base,
        output_space="log-odds",
        attributions=attributions,
        additivity_error=additivity_error,
        reliable=additivity_error < 1e-6 if reliable is None else reliable,
        method="lightgbm-native",
        reasons=tuple(reasons),
        counterfactual=search_counterfactual(model, row) if counterfactual else None,
        locale=locale,
    )
    return Decision(
        decision_id="dec_01JQ7ZK5T3M9V8X2",
        tenant="example-bank",
        model=ModelRef(name="credit-lgbm", version=3),
        created_at=T0,
        features=dict(row),
        explanation=explanation,
        has_subject=True,
        audit_sequence=4182,
    )


@pytest.fixture(scope="module")
def credit_model() -> CreditModel:
    return train_credit_model()


@pytest.fixture(scope="module")
def decision(credit_model: CreditModel) -> Decision:
    d = make_decision(credit_model)
    assert not d.explanation.favourable  # the applicant is declined
    assert d.explanation.reliable  # LightGBM's attributions add up
    assert d.explanation.counterfactual is not None and d.explanation.counterfactual.found
    return d


@pytest.fixture(scope="module")
def html(decision: Decision) -> str:
    return render_letter_html(decision, model_record())


@pytest.fixture(scope="module")
def pdf(decision: Decision) -> bytes:
    return render_letter_pdf(decision, model_record())


def text_of(html: str) -> str:
    """The visible text of the body, tags dropped, entities decoded, spaces collapsed."""
    import html as htmllib

    body = html.split("<body", 1)[1].split(">", 1)[1] if "<body" in html else html
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


EN = _i18n.messages("en", "letter")
HEADINGS = (
    "decision",
    "reasons",
    "data",
    "logic",
    "counterfactual",
    "significance",
    "rights",
    "controller",
    "record",
)


# ------------------------------------------------------------------ content


def test_html_has_every_section_and_every_reason(html: str, decision: Decision) -> None:
    text = text_of(html)
    for key in HEADINGS:
        assert EN[f"{key}_heading"] in text, key
    for section in (
        "decision",
        "reasons",
        "data",
        "logic",
        "counterfactual",
        "significance",
        "contest",
        "controller",
        "record",
    ):
        assert f'<section id="{section}">' in html
    ex = decision.explanation
    principal = [r for r in ex.reasons if r.towards_outcome]
    assert len(principal) == 4
    for reason in ex.reasons:
        assert reason.text in text
    # principal reasons in rank order in the numbered list; the one against apart
    listed = re.search(r'<ol class="reasons">(.*?)</ol>', html, re.S)
    assert listed is not None
    items = [text_of(li) for li in re.findall(r"<li>(.*?)</li>", listed[1])]
    assert items == [r.text for r in sorted(principal, key=lambda r: r.rank)]
    (against,) = [r for r in ex.reasons if not r.towards_outcome]
    assert against.effect == "raised" and f"{EN['reasons_other']} {against.text}" in text
    # the largest attribution towards the decline is reason 1, as LightGBM computed it
    worst = min(ex.attributions, key=ex.attributions.__getitem__)
    assert principal[0].feature == worst
    assert "Your credit application was declined." in text
    assert "The decision was made on 14 March 2025" in text


def test_data_categories_are_grouped_and_values_are_not_listed(html: str) -> None:
    groups = re.search(r'<ul class="data">(.*?)</ul>', html, re.S)
    assert groups is not None
    items = [text_of(li) for li in re.findall(r"<li>(.*?)</li>", groups[1])]
    assert items == [
        "Financial situation: Your annual income, Your debt-to-income ratio",
        "Credit history: Your late payments in the last two years, The length of your credit "
        "history",
        "Employment: Your years with your current employer",
        "Other information: The amount you asked to borrow",
    ]
    assert "$41,000" not in groups[1]  # categories of data, not the data


def test_logic_is_in_plain_words_with_the_real_score(html: str, decision: Decision) -> None:
    text = text_of(html)
    assert "gradient-boosted tree model" in text  # from "LGBMClassifier"
    assert SPEC.score_meaning is not None and SPEC.score_meaning in text
    score = decision.explanation.score
    assert 0.0 < score < 0.5
    assert f"Your score was {score:.2f}; the threshold for the outcome “approved” is 0.50." in text
    assert EN["logic_reasons"] in text
    assert "SHAP (tree, LightGBM)" in text
    assert "[" not in text_of(html.split('<section id="logic">')[1].split("</section>")[0])


def test_counterfactual_sentence_matches_the_search(
    html: str, decision: Decision, credit_model: CreditModel
) -> None:
    cf = decision.explanation.counterfactual
    assert cf is not None and cf.found
    (change,) = cf.changes
    assert isinstance(change.proposed, float)
    # the model really flips at the proposed value and not one step before
    assert credit_model.score(APPLICANT | {"debt_to_income": change.proposed}) >= 0.5
    assert credit_model.score(APPLICANT | {"debt_to_income": change.proposed + 1}) < 0.5
    sentence = (
        f"If your debt-to-income ratio had been {change.display_proposed} instead of 45%, "
        "the outcome would have been “approved”."
    )
    assert sentence in text_of(html)


def test_consequences_contest_review_controller_and_record(html: str) -> None:
    text = text_of(html)
    for value in (SPEC.significance, SPEC.consequences, SPEC.how_to_contest, SPEC.human_review):
        assert value is not None and value in text
    assert f"Contact: {META.contact} Please quote the reference dec_01JQ7ZK5T3M9V8X2." in text
    assert f"{META.contact}<br>" in html  # on a line of its own
    assert "Example Bank plc, 1 Main Street, Springfield is responsible for this decision" in text
    record = re.search(r'<table class="record">(.*?)</table>', html, re.S)
    assert record is not None
    rows = dict(
        (text_of(th), text_of(td))
        for th, td in re.findall(r"<th[^>]*>(.*?)</th><td>(.*?)</td>", record[1])
    )
    assert rows == {
        "Decision reference": "dec_01JQ7ZK5T3M9V8X2",
        "Date and time": "14 March 2025, 09:26 UTC",
        "Model": "credit-lgbm@3",
        "Audit record": "entry no. 4182 of the audit log",
        "Explanation method": "SHAP (tree, LightGBM)",
    }
    assert "unverified" not in html.split("<body", 1)[1].split(">", 1)[0]
    assert EN["unreliable_title"] not in text


def test_html_is_deterministic(decision: Decision, html: str) -> None:
    again = Decision.model_validate(decision.model_dump())
    assert render_letter_html(again, model_record()) == html
    later = decision.model_copy(update={"created_at": datetime(2025, 3, 15, 8, 0, tzinfo=UTC)})
    assert render_letter_html(later, model_record()) != html


def test_missing_metadata_gives_generic_sentences_never_empty_headings(
    credit_model: CreditModel,
) -> None:
    bare = model_record(ModelMetadata(), estimator="Pipeline[HistGradientBoostingClassifier]")
    decision = make_decision(credit_model, counterfactual=False)
    html = render_letter_html(decision, bare)
    text = text_of(html)
    # every heading is followed by text before the next heading
    chunks = re.split(r"<h2>.*?</h2>", html.split("<main>")[1])[1:]
    assert len(chunks) == 8  # no counterfactual section: none was searched for
    assert all(text_of(c).strip() for c in chunks)
    assert EN["counterfactual_heading"] not in text
    assert "Decision on your application" in text  # DecisionSpec defaults
    assert "Your application was declined." in text
    assert EN["consequences_generic"].format(subject="application") in text
    assert EN["review_generic"] in text
    assert EN["controller_generic"] in text
    assert (
        "Contact: Reply to the organisation that sent you this letter, quoting the reference "
        "dec_01JQ7ZK5T3M9V8X2." in text
    )
    assert "A score of 0.50 or more leads to the outcome “approved”" in text
    # no categories declared: the features' names, made readable, in one plain list
    assert EN["data_intro_plain"] in text and "Other information" not in text
    assert "Annual income, Debt to income, Late payments" in text
    assert "None" not in text and 'class="from"' not in html


def test_score_meaning_when_the_positive_label_is_unfavourable(credit_model: CreditModel) -> None:
    spec = DecisionSpec(positive_is_favourable=False, threshold=0.125)
    decision = make_decision(credit_model, counterfactual=False)
    ex = decision.explanation.model_copy(update={"score": 0.12496, "threshold": 0.125})
    decision = decision.model_copy(update={"explanation": ex})
    text = text_of(render_letter_html(decision, model_record(ModelMetadata(decision=spec))))
    # the threshold as written, the score with enough digits to tell them apart
    assert (
        "A score of 0.125 or more leads to the outcome “declined”; a lower score leads to "
        "“approved”. Your score was 0.12496." in text
    )


@pytest.mark.parametrize(
    "estimator,words",
    [
        ("Pipeline[HistGradientBoostingClassifier]", "gradient-boosted tree model"),
        ("XGBClassifier", "gradient-boosted tree model"),
        ("RandomForestClassifier", "random forest"),
        ("DecisionTreeClassifier", "a decision tree"),
        ("Pipeline[LogisticRegression]", "logistic regression"),
        ("LinearSVC", "support vector machine"),
        ("Ridge", "a linear model"),
        ("KNeighborsClassifier", "nearest-neighbours"),
        ("GaussianNB", "naive Bayes"),
        ("MLPClassifier", "neural network"),
        ("CustomScorer", "a statistical model (of type CustomScorer)"),
    ],
)
def test_model_type_in_plain_words(estimator: str, words: str, credit_model: CreditModel) -> None:
    decision = make_decision(credit_model, counterfactual=False)
    assert words in text_of(render_letter_html(decision, model_record(estimator=estimator)))


def test_unreliable_explanation_is_never_presented_as_reliable(
    credit_model: CreditModel,
) -> None:
    decision = make_decision(credit_model, reliable=False)
    html = render_letter_html(decision, model_record())
    text = text_of(html)
    assert f"{EN['unreliable_title']} {EN['unreliable_body']}" in text
    assert EN["reasons_intro_unreliable"] in text and EN["reasons_intro"] not in text
    assert "SHAP (tree, LightGBM) (failed its consistency check)" in text
    assert "did not add up to your score" in text and "together the factors account" not in text
    pdf = pdf_text(render_letter_pdf(decision, model_record()))
    assert EN["unreliable_title"] in pdf and "A person will review your decision" in pdf


def test_no_counterfactual_found_is_said_honestly(credit_model: CreditModel) -> None:
    decision = make_decision(credit_model)
    cf = Counterfactual(
        found=False,
        text="No change found.",
        searched="debt-to-income ratio from 0% to 100% in steps of 1; 52 model calls",
        evaluations=52,
    )
    ex = decision.explanation.model_copy(update={"counterfactual": cf})
    text = text_of(
        render_letter_html(decision.model_copy(update={"explanation": ex}), model_record())
    )
    assert "found none within the bounds we searched" in text
    assert f"What we searched: {cf.searched}" in text
    assert "would have been “approved”" not in text


def test_an_approval_and_a_decision_without_reasons_or_inputs(credit_model: CreditModel) -> None:
    strong = APPLICANT | {
        "annual_income": 95000.0,
        "debt_to_income": 12.0,
        "late_payments": 0.0,
        "credit_history_years": 20.0,
        "employment_years": 12.0,
    }
    approved = make_decision(credit_model, strong, counterfactual=False)
    assert approved.explanation.favourable
    html = render_letter_html(approved, model_record())
    text = text_of(html)
    assert "Your credit application was approved." in text and 'class="favourable' in html
    principal = [r for r in approved.explanation.reasons if r.towards_outcome]
    assert principal and all(r.effect == "raised" and r.text in text for r in principal)
    # nothing to list: each section says so in a sentence
    ex = approved.explanation.model_copy(update={"reasons": ()})
    empty = approved.model_copy(update={"features": {}, "explanation": ex})
    text = text_of(render_letter_html(empty, model_record()))
    assert EN["reasons_none"] in text and EN["data_none"] in text
    assert EN["logic_reasons"] not in text


def test_decision_of_another_model_version_is_refused(decision: Decision) -> None:
    with pytest.raises(
        InputError,
        match=r"made with model credit-lgbm@3, but the letter was "
        r"given the record of credit-lgbm@4",
    ):
        render_letter_html(decision, model_record(version=4))


# ------------------------------------------------------------------ PDF


def test_pdf_text_has_the_decision_reasons_and_contact(pdf: bytes, decision: Decision) -> None:
    text = pdf_text(pdf)
    assert "dec_01JQ7ZK5T3M9V8X2" in text
    assert "OUTCOME declined" in text and "Your credit application was declined." in text
    for reason in decision.explanation.reasons:
        assert reason.text in text
    assert META.contact is not None and META.contact in text
    assert "the outcome would have been “approved”" in text
    assert "Page 1 of" in text


def test_pdf_metadata_page_size_and_embedded_fonts(pdf: bytes) -> None:
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(pdf))
    info = reader.metadata
    assert info is not None
    assert info.title == "Decision on your credit application"
    assert info.author == SPEC.controller
    assert info.subject == "Decision dec_01JQ7ZK5T3M9V8X2: your credit application was declined"
    assert info.creation_date == T0
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [595, 842]  # A4
    if shutil.which("pdffonts"):
        fonts = subprocess.run(["pdffonts", "-"], input=pdf, capture_output=True, check=True)
        rows = fonts.stdout.decode().splitlines()[2:]
        assert rows and all(re.search(r"\byes\s+yes\s+yes\b", r) for r in rows)  # emb sub uni
        assert any("DejaVuSans" in r.replace("-", "") for r in rows)


def test_pdf_is_byte_identical_for_equal_inputs(pdf: bytes, decision: Decision) -> None:
    assert render_letter_pdf(Decision.model_validate(decision.model_dump()), model_record()) == pdf


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils missing")
def test_page_one_renders_and_is_not_blank(pdf: bytes, tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            "-singlefile",
            str(path),
            str(tmp_path / "page"),
        ],
        check=True,
        capture_output=True,
    )
    with Image.open(tmp_path / "page.png") as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[0] > pixels.shape[1]  # portrait
    grey = pixels.min(axis=-1)
    assert (grey < 128).mean() > 0.01  # text
    assert len(np.unique(grey)) > 32  # anti-aliased glyphs, not a flat fill
    red = (pixels[..., 0] > 130) & (pixels[..., 1] < 60) & (pixels[..., 2] < 80)
    assert red.sum() > 20  # the red bar of a declined decision


# ------------------------------------------------------------------ locales


@pytest.fixture
def catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A templates folder of our own (English copied) that the catalogs are read from."""
    root = tmp_path / "templates"
    (root / "locales" / "en").mkdir(parents=True)
    shipped = _i18n.resource_dir("templates") / "locales" / "en" / "letter.yaml"
    (root / "locales" / "en" / "letter.yaml").write_text(shipped.read_text(encoding="utf-8"))
    monkeypatch.setattr(_i18n, "resource_dir", lambda kind: root)
    _i18n._load.cache_clear()
    yield root
    _i18n._load.cache_clear()


def test_a_second_locale_changes_the_wording_and_falls_back_to_english(
    catalogs: Path, credit_model: CreditModel
) -> None:
    (catalogs / "locales" / "fr").mkdir()
    (catalogs / "locales" / "fr" / "letter.yaml").write_text(
        'title: "Décision concernant votre {subject}"\n'
        'reasons_heading: "Les principaux motifs"\n'
        'decision_sentence: "Votre {subject} a été {outcome}."\n'
        'page_number: "Page {page} sur {pages}"\n'
        'month_3: "mars"\n'
        'decimal_mark: ","\n',
        encoding="utf-8",
    )
    decision = make_decision(credit_model, locale="fr")
    html = render_letter_html(decision, model_record())
    text = text_of(html)
    assert '<html lang="fr">' in html
    assert "Décision concernant votre credit application" in text
    assert "<h2>Les principaux motifs</h2>" in html
    assert f"<h2>{EN['reasons_heading']}</h2>" not in html
    assert "Votre credit application a été declined." in text
    assert "14 mars 2025" in text
    assert f"Your score was {decision.explanation.score:.2f}".replace(".", ",") in text
    # ids the French catalog lacks come from English
    assert EN["data_heading"] in text and EN["rights_heading"] in text
    pdf = pdf_text(render_letter_pdf(decision, model_record()))
    assert "Page 1 sur" in pdf and "Les principaux motifs" in pdf


def test_a_translation_with_an_unknown_placeholder_is_a_clear_error(
    catalogs: Path, credit_model: CreditModel
) -> None:
    (catalogs / "locales" / "de").mkdir()
    (catalogs / "locales" / "de" / "letter.yaml").write_text(
        'title: "Entscheidung über {betreff}"\n', encoding="utf-8"
    )
    decision = make_decision(credit_model, locale="de", counterfactual=False)
    with pytest.raises(RenderError, match=r"message 'title' uses the placeholder \{betreff\}"):
        render_letter_html(decision, model_record())


def _message_ids_in_code() -> set[str]:
    """The message ids ``_letter_view.py`` passes to ``say``: literals, in either branch of
    a conditional, or through a variable assigned such an expression."""
    import ast

    source = (Path(__file__).parent.parent / "govkit" / "report" / "_letter_view.py").read_text()
    tree = ast.parse(source)
    assigned = {
        target.id: node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    ids: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "say":
            arg = node.args[0]
            if isinstance(arg, ast.Name):
                arg = assigned[arg.id]
            ids |= {
                c.value
                for c in ast.walk(arg)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
    return ids


def test_the_english_catalog_has_every_message_the_code_and_template_use() -> None:
    from govkit.report._letter_view import _MODEL_KINDS

    used = _message_ids_in_code()
    assert {"title", "data_intro_plain", "logic_method_unreliable", "reasons_none"} <= used
    # built with f-strings: the model types and month names; the page number is CSS
    used -= {"model_", "month_"}
    used |= {f"model_{kind}" for _, kind in _MODEL_KINDS}
    used |= {f"month_{m}" for m in range(1, 13)} | {"page_number"}
    template = (Path(__file__).parent.parent / "templates" / "letter.html.j2").read_text()
    used |= set(re.findall(r"\bt\.([a-z_]+)", template))
    assert used <= set(EN), sorted(used - set(EN))
    # and every English message is used: no dead wording to translate
    assert set(EN) <= used, sorted(set(EN) - used)
