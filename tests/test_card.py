"""Model cards: sections, escaping, missing metadata, determinism, PDF output, layering."""

from __future__ import annotations

import ast
import html as html_lib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from poppler import needs_poppler, pdftotext

from govkit import _resources
from govkit.exceptions import RenderError
from govkit.records import (
    ColumnSchema,
    DatasetRecord,
    DatasetRef,
    ModelMetadata,
    ModelRef,
    ModelVersionRecord,
)
from govkit.report import _html as card_html_module
from govkit.report import html_to_pdf, render_card_html, render_card_pdf
from govkit.results import (
    AuditAnchor,
    Bound,
    CheckResult,
    EvaluationResult,
    ExplanationEvidence,
    FeatureImportance,
    Finding,
    FindingsEvidence,
    GroupEvidence,
    GroupRow,
    MetricsEvidence,
    Status,
)

SECTION_TITLES = (
    "Model details",
    "Intended use",
    "Factors",
    "Metrics",
    "Evaluation data",
    "Training data",
    "Quantitative analyses",
    "Ethical considerations",
    "Caveats and recommendations",
    "Policy evaluation",
    "Data lineage",
)

T0 = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(1)> {{ 7*7 }} {% raw %}"


@dataclass(frozen=True)
class CardInputs:
    model: ModelVersionRecord
    lineage: list[DatasetRecord]
    evaluation: DatasetRecord | None
    run: EvaluationResult | None
    anchor: AuditAnchor | None

    def kwargs(self, **overrides: object) -> dict[str, object]:
        out: dict[str, object] = {
            "training_lineage": self.lineage,
            "evaluation_data": self.evaluation,
            "run": self.run,
            "anchor": self.anchor,
            "generated_at": T0,
        }
        out.update(overrides)
        return out


def make_inputs(text: str | None = None) -> CardInputs:
    """A hand-built model, lineage, policy run and anchor; ``text`` replaces all free text."""

    def t(s: str) -> str:
        return s if text is None else text

    cols = tuple(
        ColumnSchema(name=n, dtype=d)
        for n, d in [
            ("age", "int"),
            ("workclass", "category"),
            ("education", "category"),
            ("race", "category"),
            ("sex", "category"),
            ("hours_per_week", "int"),
            ("income", "bool"),
        ]
    )
    raw = DatasetRecord(
        name="adult-raw",
        version=1,
        fingerprint="sha256:" + "1f" * 32,
        row_count=48842,
        columns=cols,
        source_uri=t("https://archive.ics.uci.edu/dataset/2/adult"),
        created_at=T0,
        created_by=t("data-eng@example.org"),
    )
    clean = DatasetRecord(
        name="adult-clean",
        version=3,
        fingerprint="sha256:" + "2e" * 32,
        row_count=45222,
        columns=cols,
        source_uri=t("s3://govkit-demo/adult/clean.parquet"),
        parents=(DatasetRef(name="adult-raw", version=1),),
        transformation=t("Dropped rows with missing values."),
        created_at=T0,
    )
    train = DatasetRecord(
        name="adult-train",
        version=2,
        fingerprint="sha256:" + "3d" * 32,
        row_count=36177,
        columns=cols,
        source_uri=t("s3://govkit-demo/adult/train.parquet"),
        parents=(
            DatasetRef(name="adult-clean", version=3),
            DatasetRef(name="census-extra", version=1),
        ),
        transformation=t("Stratified 80% split (seed 7)."),
        created_at=T0,
        created_by=t("ml-team"),
    )
    test = DatasetRecord(
        name="adult-test",
        version=2,
        fingerprint="sha256:" + "4c" * 32,
        row_count=9045,
        columns=cols,
        source_uri=t("s3://govkit-demo/adult/test.parquet"),
        parents=(DatasetRef(name="adult-clean", version=3),),
        transformation=t("Stratified 20% split (seed 7)."),
        created_at=T0,
        created_by=t("ml-team"),
    )
    meta = ModelMetadata(
        description=t("Gradient-boosted income classifier used to pre-screen credit applications."),
        owner=t("Credit Risk ML team"),
        contact=t("credit-ml@example.org"),
        intended_use=t("Pre-screening of consumer credit applications with human review."),
        intended_users=t("Credit officers."),
        out_of_scope_uses=(t("Fully automated credit decisions."), t("Employment decisions.")),
        factors=t("Performance is reported by sex and race."),
        ethical_considerations=t("The census data encode historical income gaps."),
        caveats_and_recommendations=t("Retrain yearly."),
        license=t("Apache-2.0"),
        risk_tier=t("high (EU AI Act Annex III 5(b))"),
        flavour="sklearn",
        target=t("income"),
        sensitive_features=(t("sex"), t("race")),
    )
    model = ModelVersionRecord(
        name="credit-income",
        version=4,
        artifact_uri="file:///models/credit-income-4.skops",
        artifact_sha256="5b" * 32,
        artifact_format="skops",
        flavour="sklearn",
        estimator=t("Pipeline[HistGradientBoostingClassifier]"),
        metadata=meta,
        training_data=DatasetRef(name="adult-train", version=2),
        evaluation_data=DatasetRef(name="adult-test", version=2),
        created_at=T0,
        created_by=t("alice"),
    )
    checks = (
        CheckResult(
            rule_id="min-accuracy",
            check_id="performance.accuracy",
            kind="performance",
            severity="error",
            status=Status.PASS,
            description=t("Accuracy on evaluation data"),
            value=0.8712,
            bound=Bound(min=0.8),
            message=t("accuracy 0.8712 >= 0.8"),
            evidence=MetricsEvidence(
                values={"accuracy": 0.8712, "roc_auc": 0.9265},
                confusion={"tp": 1437.0, "fp": 403.0, "tn": 6437.0, "fn": 768.0},
            ),
        ),
        CheckResult(
            rule_id="dp-ratio-sex",
            check_id="fairness.demographic_parity_ratio",
            kind="fairness",
            severity="error",
            status=Status.FAIL,
            description=t("Selection-rate ratio by sex"),
            value=0.3312,
            bound=Bound(min=0.8, max=1.25),
            message=t("demographic parity ratio 0.3312 is below 0.8"),
            evidence=GroupEvidence(
                sensitive_features=("sex",),
                metric="selection_rate",
                overall={"selection_rate": 0.2034},
                groups=(
                    GroupRow(group=(t("Female"),), count=2982, metrics={"selection_rate": 0.0781}),
                    GroupRow(group=(t("Male"),), count=6063, metrics={"selection_rate": 0.2358}),
                ),
            ),
        ),
        CheckResult(
            rule_id="eo-diff-race",
            check_id="fairness.equalized_odds_difference",
            kind="fairness",
            severity="warning",
            status=Status.WARN,
            description=t("Equalised-odds difference by race"),
            value=0.1532,
            bound=Bound(max=0.1),
            message=t("difference 0.1532 exceeds 0.1"),
            evidence=GroupEvidence(
                sensitive_features=("race",),
                metric="equalized_odds_difference",
                overall={"tpr": 0.6543, "fpr": 0.0589},
                groups=(
                    GroupRow(
                        group=(t("White"),), count=7763, metrics={"tpr": 0.6612, "fpr": 0.0621}
                    ),
                    GroupRow(
                        group=(t("Black"),), count=856, metrics={"tpr": 0.5911, "fpr": 0.0301}
                    ),
                    GroupRow(
                        group=(t("Other"),),
                        count=64,
                        metrics={"tpr": None, "fpr": 0.0172},
                        judged=False,
                    ),
                ),
            ),
        ),
        CheckResult(
            rule_id="no-pickle",
            check_id="artifact.safe_format",
            kind="artifact",
            severity="error",
            status=Status.PASS,
            description=t("Artifact loads without code"),
            message=t("skops format"),
            evidence=FindingsEvidence(
                findings=(Finding(item=t("format"), ok=True, detail=t("skops")),)
            ),
        ),
        CheckResult(
            rule_id="shap-top",
            check_id="explain.top_features",
            kind="explain",
            severity="warning",
            status=Status.PASS,
            description=t("Explanations are additive"),
            message=t("max error 1e-06"),
            evidence=ExplanationEvidence(
                method="tree",
                rows_evaluated=500,
                rows_valid=500,
                tolerance=1e-4,
                max_abs_error=1e-6,
                top_features=(FeatureImportance(feature="age", mean_abs_attribution=0.8125),),
            ),
        ),
        CheckResult(
            rule_id="shap-additivity",
            check_id="explain.additivity",
            kind="explain",
            severity="error",
            status=Status.ERROR,
            description=t("SHAP values add up"),
            message=t("explainer failed: unsupported pipeline"),
        ),
        CheckResult(
            rule_id="docs-complete",
            check_id="documentation.required_fields",
            kind="documentation",
            severity="warning",
            status=Status.NOT_APPLICABLE,
            description=t("Required metadata declared"),
            message=t("not checked"),
        ),
    )
    run = EvaluationResult(
        policy_name="credit-baseline",
        policy_digest="sha256:" + "6a" * 32,
        model=ModelRef(name="credit-income", version=4),
        data_fingerprint="sha256:" + "4c" * 32,
        n_rows=9045,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=12),
        govkit_version="0.1.0",
        checks=checks,
    )
    anchor = AuditAnchor(sequence=1207, hash="7e" * 32)
    return CardInputs(model, [train, clean, raw], test, run, anchor)


@pytest.fixture(scope="module")
def inputs() -> CardInputs:
    return make_inputs()


@pytest.fixture(scope="module")
def card(inputs: CardInputs) -> str:
    return render_card_html(inputs.model, **inputs.kwargs())


@pytest.fixture(scope="module")
def card_pdf(inputs: CardInputs) -> bytes:
    return render_card_pdf(inputs.model, **inputs.kwargs())


class _Sections(HTMLParser):
    """Collects the h2 titles and the visible text of each <section>."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self.bodies: dict[str, str] = {}
        self._in_h2 = False
        self._title: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "title"):
            self._skip += 1
        if tag == "h2":
            self._in_h2 = True
            self.titles.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._skip -= 1
        if tag == "h2":
            self._in_h2 = False
            self._title = self.titles[-1]
            self.bodies[self._title] = ""
        if tag == "section":
            self._title = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_h2:
            self.titles[-1] += data
        elif self._title is not None:
            self.bodies[self._title] += data


def _text_only(html: str) -> str:
    """The card without its plot images (base64 can hold any short string by chance)."""
    return re.sub(r'src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]*"', 'src=""', html)


def _sections(html: str) -> _Sections:
    parser = _Sections()
    parser.feed(html)
    return parser


# ------------------------------------------------------------------------ HTML


def test_card_has_every_section_title_in_order(card: str) -> None:
    titles = _sections(card).titles
    assert [t for t in titles if t in SECTION_TITLES] == list(SECTION_TITLES)
    for title in SECTION_TITLES:
        assert card.count(f"<h2>{title}</h2>") == 1


def test_card_shows_model_details_and_data(card: str) -> None:
    body = _sections(card).bodies
    details = body["Model details"]
    for expected in (
        "credit-income@4",
        "Pipeline[HistGradientBoostingClassifier]",
        "sklearn",
        "Credit Risk ML team",
        "credit-ml@example.org",
        "Apache-2.0",
        "high (EU AI Act Annex III 5(b))",
        "5b" * 32,
        "alice",
        "2025-03-14 09:26:53 UTC",
    ):
        assert expected in details
    assert "adult-test@2" in body["Evaluation data"]
    assert "9,045" in body["Evaluation data"]
    assert "sha256:" + "4c" * 32 in body["Evaluation data"]
    assert "hours_per_week" in body["Training data"]
    assert "36,177" in body["Training data"]
    assert "Fully automated credit decisions." in body["Intended use"]
    assert "sex, race" in body["Factors"]


def test_metrics_and_policy_tables_cover_every_rule(card: str, inputs: CardInputs) -> None:
    body = _sections(card).bodies
    assert inputs.run is not None
    metrics = body["Metrics"]
    assert "selection_rate" in metrics and "0.3312" in metrics and "≥ 0.8 and ≤ 1.25" in metrics
    assert "performance.accuracy" in metrics
    assert "docs-complete" not in metrics  # not a measurement
    policy = body["Policy evaluation"]
    assert "credit-baseline" in policy and "sha256:" + "6a" * 32 in policy
    for check in inputs.run.checks:
        assert check.rule_id in policy and check.check_id in policy
        assert check.message in policy and check.description in policy
    # the verdict and every status carry text, a symbol and a colour class
    assert re.search(r'status status-fail large"><span aria-hidden="true">✗</span> FAIL', card)
    for status, css in [
        ("PASS", "pass"),
        ("WARN", "warn"),
        ("FAIL", "fail"),
        ("ERROR", "error"),
        ("N/A", "na"),
    ]:
        assert re.search(
            rf'class="status status-{css}"><span aria-hidden="true">.</span> {status}<', card
        ), status


def test_quantitative_analyses_show_group_tables(card: str) -> None:
    body = _sections(card).bodies["Quantitative analyses"]
    for expected in (
        "Female",
        "2,982",
        "0.0781",
        "All groups",
        "0.6543",
        "roc_auc",
        "0.9265",
        "1,437",
        "age",
        "0.8125",
    ):
        assert expected in body
    # the small group is shown, marked as not judged in words, not colour alone
    row = re.search(r'<tr class="unjudged">(.*?)</tr>', card, re.S)
    assert row is not None
    assert "Other" in row.group(1) and "not judged" in row.group(1) and "n/a" in row.group(1)


def test_lineage_tree_lists_ancestors_and_missing_parents(card: str) -> None:
    lineage = _sections(card).bodies["Data lineage"]
    for expected in (
        "adult-train@2",
        "adult-clean@3",
        "adult-raw@1",
        "census-extra@1",
        "record not provided",
        "Dropped rows with missing values.",
        "https://archive.ics.uci.edu/dataset/2/adult",
    ):
        assert expected in lineage
    assert (
        lineage.index("adult-train@2")
        < lineage.index("adult-clean@3")
        < lineage.index("adult-raw@1")
    )


def test_lineage_survives_cycles() -> None:
    base = make_inputs()
    a = base.lineage[0].model_copy(update={"parents": (DatasetRef(name="adult-clean", version=3),)})
    b = base.lineage[1].model_copy(update={"parents": (DatasetRef(name="adult-train", version=2),)})
    html = render_card_html(base.model, **base.kwargs(training_lineage=[a, b]))
    assert "shown above" in _sections(html).bodies["Data lineage"]


def test_audit_anchor_is_shown(card: str) -> None:
    assert "1207" in card and "7e" * 32 in card
    anchor = _sections(card).bodies["Audit anchor"]
    assert "sha256:" + "4c" * 32 in anchor  # the data the run evaluated
    assert "does not match" not in card


def test_fingerprint_mismatch_is_called_out(inputs: CardInputs) -> None:
    assert inputs.run is not None
    run = inputs.run.model_copy(update={"data_fingerprint": "sha256:" + "ee" * 32})
    html = render_card_html(inputs.model, **inputs.kwargs(run=run))
    assert "does not match the fingerprint of the evaluation dataset adult-test@2" in html


def test_run_of_another_model_is_called_out(inputs: CardInputs) -> None:
    assert inputs.run is not None
    run = inputs.run.model_copy(update={"model": ModelRef(name="credit-income", version=3)})
    html = render_card_html(inputs.model, **inputs.kwargs(run=run))
    policy = _sections(html).bodies["Policy evaluation"]
    assert "This policy run evaluated credit-income@3, not credit-income@4" in policy


def test_same_inputs_give_byte_identical_html(inputs: CardInputs) -> None:
    first = render_card_html(inputs.model, **inputs.kwargs())
    second = render_card_html(make_inputs().model, **make_inputs().kwargs())
    assert first == second
    later = render_card_html(inputs.model, **inputs.kwargs(generated_at=T0 + timedelta(days=1)))
    assert later != first
    assert (
        later.replace("2025-03-15 09:26:53", "2025-03-14 09:26:53").replace(
            "2025-03-15T09:26:53Z", "2025-03-14T09:26:53Z"
        )
        == first
    )


def test_generated_at_defaults_to_now(inputs: CardInputs) -> None:
    kwargs = inputs.kwargs()
    del kwargs["generated_at"]
    html = render_card_html(inputs.model, **kwargs)
    assert f"Generated {datetime.now(UTC):%Y-%m-%d}" in html


def test_cards_carry_no_script_or_external_resources(card: str) -> None:
    assert "<script" not in card.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?|file|ftp):""", card, re.I)
    assert "url(" not in card and "@import" not in card and "@font-face" not in card
    assert "Content-Security-Policy" in card


# --------------------------------------------------------------------- escaping


def test_free_text_is_escaped_everywhere() -> None:
    hostile = make_inputs(HOSTILE)
    html = render_card_html(hostile.model, **hostile.kwargs())
    escaped = html_lib.escape(HOSTILE, quote=False)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.lower()
    # the only images are the card's own plots, SVG data: URLs
    images = re.findall(r"<img\b[^>]*>", html, re.I)
    assert images and all(
        i.startswith('<img class="plot-img" src="data:image/svg+xml;base64,') for i in images
    )

    class Attrs(HTMLParser):
        names: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "img":
                self.names.update(name for name, _ in attrs)

    attrs = Attrs()
    attrs.feed(html)
    assert attrs.names == {"class", "src", "alt", "style"}  # no handler slipped in via alt
    assert "{{ 7*7 }}" in html and "{% raw %}" in html
    assert not re.search(r"\b49\b", _text_only(html))
    # each free-text field reached the card (escaped) in its own section
    body = _sections(html).bodies
    for title in (
        "Model details",
        "Intended use",
        "Factors",
        "Evaluation data",
        "Training data",
        "Quantitative analyses",
        "Ethical considerations",
        "Caveats and recommendations",
        "Policy evaluation",
        "Data lineage",
    ):
        assert HOSTILE in body[title], title
    assert html.count(escaped) >= 30


def test_data_is_never_compiled_as_a_template() -> None:
    hostile = make_inputs("{{ card.__class__ }}{% for x in range(3) %}x{% endfor %}")
    html = render_card_html(hostile.model, **hostile.kwargs())
    assert "{{ card.__class__ }}{% for x in range(3) %}x{% endfor %}" in html
    assert "CardView" not in html and "xxx" not in _text_only(html)


# --------------------------------------------------------------- missing metadata


def _bare_model() -> ModelVersionRecord:
    return ModelVersionRecord(
        name="bare",
        version=1,
        artifact_uri="file:///m.skops",
        artifact_sha256="ab" * 32,
        artifact_format="skops",
        flavour="sklearn",
        estimator="LogisticRegression",
        metadata=ModelMetadata(),
        created_at=T0,
    )


def test_missing_metadata_reads_not_provided_and_no_section_is_empty() -> None:
    html = render_card_html(
        _bare_model(),
        training_lineage=[],
        evaluation_data=None,
        run=None,
        anchor=None,
        generated_at=T0,
    )
    parsed = _sections(html)
    assert [t for t in parsed.titles if t in SECTION_TITLES] == list(SECTION_TITLES)
    for title, text in parsed.bodies.items():
        assert text.strip(), f"section {title!r} is empty"
    for title in (
        "Intended use",
        "Factors",
        "Metrics",
        "Evaluation data",
        "Training data",
        "Quantitative analyses",
        "Ethical considerations",
        "Caveats and recommendations",
        "Policy evaluation",
        "Data lineage",
        "Audit anchor",
    ):
        assert "Not provided" in parsed.bodies[title], title
    assert "None" not in re.sub(r"<style>.*?</style>", "", html, flags=re.S)


def test_blank_text_counts_as_missing_and_declared_refs_are_named() -> None:
    model = _bare_model().model_copy(
        update={
            "metadata": ModelMetadata(owner="  ", ethical_considerations="\n"),
            "training_data": DatasetRef(name="train", version=2),
            "evaluation_data": DatasetRef(name="holdout", version=5),
        }
    )
    html = render_card_html(
        model, training_lineage=[], evaluation_data=None, run=None, anchor=None, generated_at=T0
    )
    body = _sections(html).bodies
    assert "Not provided" in body["Ethical considerations"]
    assert "holdout@5" in body["Evaluation data"] and "Not provided" in body["Evaluation data"]
    assert "train@2" in body["Data lineage"]


# ------------------------------------------------------------ template loading


def test_templates_load_through_resources(
    monkeypatch: pytest.MonkeyPatch, inputs: CardInputs
) -> None:
    calls: list[tuple[str, str]] = []
    original = _resources.read_text

    def spy(kind: str, name: str) -> str:
        calls.append((kind, name))
        return original(kind, name)  # type: ignore[arg-type]

    monkeypatch.setattr(_resources, "read_text", spy)
    card_html_module.environment.cache_clear()
    try:
        render_card_html(inputs.model, **inputs.kwargs())
    finally:
        card_html_module.environment.cache_clear()
    assert ("templates", "card.html.j2") in calls
    assert ("templates", "_card_macros.j2") in calls
    assert ("templates", "card.css") in calls
    assert card_html_module._resources is _resources


def test_card_renders_from_an_unpacked_wheel(tmp_path: Path) -> None:
    import zipfile

    root = Path(card_html_module.__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=root,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("govkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("card.html.j2", "_card_macros.j2", "card.css"):
        assert f"govkit/_data/templates/{name}" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import datetime, govkit\n"
        "from govkit.records import ModelMetadata, ModelVersionRecord\n"
        "from govkit.report import render_card_html\n"
        "m = ModelVersionRecord(name='w', version=1, artifact_uri='x', artifact_sha256='ab',\n"
        "    artifact_format='skops', flavour='sklearn', estimator='LR',\n"
        "    metadata=ModelMetadata(), created_at=datetime.datetime(2025, 1, 1))\n"
        "html = render_card_html(m, training_lineage=[], evaluation_data=None, run=None,\n"
        "    anchor=None)\n"
        "print(govkit.__file__)\n"
        "print(html.count('<h2>'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        check=True,
    ).stdout.splitlines()
    assert out[0].startswith(str(site))
    assert int(out[1]) == len(SECTION_TITLES) + 1  # and the audit anchor


def test_environment_is_strict_and_autoescaping() -> None:
    import jinja2

    env = card_html_module.environment()
    assert env.autoescape is True
    assert env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.TemplateNotFound):
        env.get_template("../pyproject.toml")


def test_missing_template_is_a_render_error(
    monkeypatch: pytest.MonkeyPatch, inputs: CardInputs
) -> None:
    def missing(kind: str, name: str) -> str:
        raise FileNotFoundError(name)

    monkeypatch.setattr(_resources, "read_text", missing)
    card_html_module.environment.cache_clear()
    try:
        with pytest.raises(RenderError, match=r"template 'card\.html\.j2' is not installed"):
            render_card_html(inputs.model, **inputs.kwargs())
    finally:
        card_html_module.environment.cache_clear()


# --------------------------------------------------------------------------- PDF


def _pdf_text_pypdf(pdf: bytes) -> tuple[str, int]:
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


@needs_poppler
def test_pdf_contains_every_section_and_page_numbers(card_pdf: bytes) -> None:
    assert card_pdf.startswith(b"%PDF-")
    text, pages = _pdf_text_pypdf(card_pdf)
    poppler = pdftotext(card_pdf, "-layout")
    for title in (*SECTION_TITLES, "Audit anchor", "credit-income@4"):
        assert title in text, title
        assert title in poppler, title
    assert pages >= 2
    info = subprocess.run(["pdfinfo", "-"], input=card_pdf, capture_output=True, check=True)
    assert re.search(rf"^Pages:\s+{pages}$", info.stdout.decode(), re.M)
    for n in range(1, pages + 1):
        assert f"Page {n} of {pages}" in poppler
    # the running header names the model on every page after the first
    assert poppler.count("credit-income@4") >= pages


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_pdf_first_page_is_not_blank(card_pdf: bytes, tmp_path: Path) -> None:
    (tmp_path / "card.pdf").write_bytes(card_pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "50",
            "-f",
            "1",
            "-l",
            "1",
            "-gray",
            "-singlefile",
            str(tmp_path / "card.pdf"),
            str(tmp_path / "page"),
        ],
        capture_output=True,
        check=True,
    )
    gray = (tmp_path / "page.pgm").read_bytes()
    assert gray.startswith(b"P5")
    # P5 header: magic, width, height, maxval, then one byte per pixel
    parts = gray.split(maxsplit=4)
    width, height = int(parts[1]), int(parts[2])
    pixels = parts[4][-width * height :]
    assert len(pixels) == width * height
    assert len(set(pixels)) > 16  # text, rules and badges: many grey levels
    dark = sum(1 for p in pixels if p < 200)
    assert dark / len(pixels) > 0.01


def test_pdf_first_page_renders_with_pdfium(card_pdf: bytes) -> None:
    import numpy as np
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(card_pdf)
    try:
        assert len(pdf) == _pdf_text_pypdf(card_pdf)[1]
        page = pdf[0]
        bitmap = page.render(scale=50 / 72)
        pixels = np.asarray(bitmap.to_numpy())
        bitmap.close()
        page.close()
    finally:
        pdf.close()
    assert pixels.std() > 10
    assert (pixels.min(axis=-1) < 128).mean() > 0.003  # page 1: title, summary, contents
    # colour is present (status badges), not only greys
    assert (np.ptp(pixels[..., :3].astype(int), axis=-1) > 40).any()


def test_pdf_has_no_attachments_and_title_metadata(card_pdf: bytes) -> None:
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(card_pdf))
    assert dict(reader.attachments) == {}
    assert reader.metadata is not None and reader.metadata.title == "Model card: credit-income@4"


def test_same_inputs_give_identical_pdf_bytes(card_pdf: bytes, inputs: CardInputs) -> None:
    assert render_card_pdf(inputs.model, **inputs.kwargs()) == card_pdf


def test_weasyprint_failure_is_a_render_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import weasyprint

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("layout exploded")

    monkeypatch.setattr(weasyprint, "HTML", broken)
    with pytest.raises(RenderError, match="could not render the PDF: ValueError: layout exploded"):
        html_to_pdf("<p>x</p>", timeout=None)  # in this process, where the patch applies


def test_html_to_pdf_rejects_bytes() -> None:
    with pytest.raises(TypeError, match="expects the HTML document as str"):
        html_to_pdf(b"<p>hi</p>")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- layering

_ALLOWED = {
    "govkit",
    "govkit.exceptions",
    "govkit._resources",
    "govkit._i18n",
    "govkit.results",
    "govkit.records",
    "govkit.decisions",  # the decision letters (govkit/report/_letter*.py)
    "govkit._lazy",  # the package exports its names lazily
    "govkit._size_limits",  # the card's size limits, which registration checks too
    "govkit._text",  # control and bidi characters shown, not acted on
}


def test_report_imports_only_lower_layers() -> None:
    package = Path(card_html_module.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] == "govkit" and not name.startswith("govkit.report"):
                    assert name in _ALLOWED, f"{path.name} imports {name}"


def test_import_is_cheap_and_does_not_load_weasyprint() -> None:
    code = (
        "import sys, govkit.report\n"
        "assert 'weasyprint' not in sys.modules, 'weasyprint imported eagerly'\n"
        "assert 'govkit.report._fetcher' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


def _close_to_bound_inputs() -> CardInputs:
    """The hand-built card with the measured values of the Adult demo against bounds just
    above them (0.87317, 0.33801): both rules fail, by less than the 4th digit."""
    inputs = make_inputs()
    assert inputs.run is not None
    acc, dpr, *rest = inputs.run.checks
    acc = acc.model_copy(
        update={"value": 0.873165039002518, "bound": Bound(min=0.87317), "status": Status.FAIL}
    )
    dpr = dpr.model_copy(
        update={"value": 0.338005803908843, "bound": Bound(min=0.33801), "status": Status.FAIL}
    )
    run = inputs.run.model_copy(update={"checks": (acc, dpr, *rest)})
    return CardInputs(inputs.model, inputs.lineage, inputs.evaluation, run, inputs.anchor)


def test_a_failing_value_never_reads_as_meeting_its_bound() -> None:
    """The bound is printed as written and the value with the digits it takes to tell them
    apart ('0.338 >= 0.338  FAIL' was printed for 0.338006 against 0.33801)."""
    from govkit.report import card_markdown

    inputs = _close_to_bound_inputs()
    html = _sections(render_card_html(inputs.model, **inputs.kwargs(), figures=False))
    metrics = " ".join(html.bodies["Metrics"].split())
    policy = " ".join(html.bodies["Policy evaluation"].split())
    for value, bound in (("0.873165", "0.87317"), ("0.338006", "0.33801")):
        assert f"{value} \u2265 {bound} \u2717 FAIL" in metrics, metrics
        assert f"\u2717 FAIL {value} \u2265 {bound}" in policy, policy
    markdown = card_markdown(inputs.model, **inputs.kwargs())
    assert "| performance.accuracy | 0.873165 | \u2265 0.87317 | \u2717 FAIL |" in markdown
    assert "| 0.338006 | \u2265 0.33801 | \u2717 FAIL |" in markdown
    assert "0.338 |" not in markdown and "\u2265 0.338 " not in markdown


@needs_poppler
def test_a_failing_value_never_reads_as_meeting_its_bound_in_the_pdf() -> None:
    inputs = _close_to_bound_inputs()
    pdf = render_card_pdf(inputs.model, **inputs.kwargs())
    text = " ".join(pdftotext(pdf, "-layout").split())
    assert "0.873165 \u2265 0.87317 \u2717 FAIL" in text
    assert "0.338006 \u2265 0.33801 \u2717 FAIL" in text
    assert "\u2265 0.338 " not in text and "\u2265 0.8732 " not in text


def test_context_shows_lifecycle_the_run_shown_and_flags_other_data() -> None:
    """What the store knows around the version (filled by govkit.cards.card): the stage,
    bound policy and approvals; which run is shown; the data that run evaluated, flagged
    when it is not the registered evaluation dataset; the evaluation data's lineage."""
    from govkit.report._context import CardApproval, CardBinding, CardContext

    inputs = make_inputs()
    assert inputs.run is not None and inputs.evaluation is not None
    run = inputs.run.model_copy(
        update={"policy_name": "lenient", "data_fingerprint": "sha256:" + "99" * 32, "n_rows": 199}
    )
    context = CardContext(
        run_choice="the latest run of policy lenient, not the bound policy credit-baseline",
        run_id=2,
        stage="approved",
        aliases=("champion",),
        binding=CardBinding("credit-baseline", "sha256:" + "6a" * 32, True, True),
        approvals=(CardApproval("bob@example.org", "four-eyes review", T0),),
        evaluation_lineage=(inputs.evaluation, inputs.lineage[1]),
    )
    html = render_card_html(inputs.model, **inputs.kwargs(run=run), figures=False, context=context)
    header = " ".join(html[html.index("<header") : html.index("</header>")].split())
    assert "<td>unregistered data (199 rows, sha256:" + "99" * 32 + ")</td>" in header
    assert (
        "Evaluated data: This is not the registered evaluation dataset adult-test@2 "
        "(9,045 rows)." in header
    )
    assert "This run is of policy lenient, not credit-baseline, the policy the model" in header
    sections = {k: "".join(v.split()) for k, v in _sections(html).bodies.items()}

    def has(section: str, text: str) -> bool:  # cells run together in the parsed text
        return "".join(text.split()) in sections[section]

    assert has("Model details", "Lifecycle stage approved Aliases champion")
    assert has("Model details", "Bound policy credit-baseline (sha256:")
    assert has("Model details", "Approval required yes, independent")
    assert has("Model details", "Approvals bob@example.org, 2025-03-14 09:26:53 UTC: four-eyes")
    assert has("Policy evaluation", "Run shown run 2: the latest run of policy lenient, not the")
    assert has("Data lineage", "adult-test@2 Source: s3://govkit-demo/adult/test.parquet")
