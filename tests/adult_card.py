"""An Adult-sized model card for the visual, golden and hostile-input tests and the benchmark.

:func:`adult_card_inputs` turns arrays (labels, scores, sensitive features,
attributions) into the records and policy run a card is rendered from, with the
evidence a full run of ``policies/credit-scoring.yaml`` keeps: group rates for
each fairness rule, confusion counts with ROC and calibration curves overall and
per group, feature importance with attribution histograms, lineage findings.
:func:`synthetic_adult` makes such arrays from a seed (no training), shaped like
the 16,281-row Adult test split; the benchmark passes a real model's instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from govkit.curves import attribution_distributions, classifier_curves
from govkit.records import (
    ColumnSchema,
    DatasetRecord,
    DatasetRef,
    ModelMetadata,
    ModelRef,
    ModelVersionRecord,
)
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

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
FEATURES = [
    "age",
    "workclass",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
]
NUMERIC = {"age", "education-num", "capital-gain", "capital-loss", "hours-per-week"}


@dataclass(frozen=True)
class AdultArrays:
    y_true: np.ndarray  # bool, income >50K
    scores: np.ndarray  # P(>50K)
    sensitive: pd.DataFrame  # sex, race
    attributions: np.ndarray  # (n_explained, len(FEATURES))
    explained: pd.DataFrame  # the explained rows' feature values


@dataclass(frozen=True)
class CardInputs:
    model: ModelVersionRecord
    lineage: list[DatasetRecord]
    evaluation: DatasetRecord
    run: EvaluationResult
    anchor: AuditAnchor

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


def synthetic_adult(n: int = 16_281, n_explained: int = 500, seed: int = 0) -> AdultArrays:
    """Seeded arrays with Adult's group sizes, base rate and a realistic score (AUC ~0.9)."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["Male", "Female"], n, p=[0.67, 0.33])
    race = rng.choice(
        ["White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"],
        n,
        p=[0.855, 0.096, 0.031, 0.01, 0.008],
    )
    logit = rng.normal(-1.6, 1.6, n) + np.where(sex == "Male", 0.9, -0.4)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    noisy = logit + rng.normal(0, 0.9, n)
    scores = np.round(1 / (1 + np.exp(-noisy)), 4)
    m = n_explained
    explained = pd.DataFrame(
        {
            "age": rng.integers(17, 90, m),
            "workclass": rng.choice(["Private", "Self-emp", "Gov"], m),
            "education": rng.choice(["HS-grad", "Bachelors", "Masters", "Some-college"], m),
            "education-num": rng.integers(1, 17, m),
            "marital-status": rng.choice(["Married", "Never-married", "Divorced"], m),
            "occupation": rng.choice(["Exec", "Craft", "Sales", "Service"], m),
            "relationship": rng.choice(["Husband", "Wife", "Own-child", "Unmarried"], m),
            "capital-gain": np.where(rng.random(m) < 0.08, rng.integers(1000, 99999, m), 0),
            "capital-loss": np.where(rng.random(m) < 0.05, rng.integers(100, 4000, m), 0),
            "hours-per-week": rng.integers(1, 99, m),
            "native-country": rng.choice(
                ["United-States", "Mexico", "Other"], m, p=[0.9, 0.05, 0.05]
            ),
        }
    )
    weights = np.array([0.9, 0.15, 0.2, 0.7, 1.1, 0.45, 1.0, 0.6, 0.12, 0.4, 0.05])
    phi = np.empty((m, len(FEATURES)))
    for j, name in enumerate(FEATURES):
        col = explained[name]
        if name in NUMERIC:
            z = (col - col.mean()) / (col.std() or 1.0)
            phi[:, j] = weights[j] * z + rng.normal(0, 0.05, m)
        else:
            codes = pd.factorize(col, sort=True)[0]
            phi[:, j] = weights[j] * (codes - codes.mean()) / 2 + rng.normal(0, 0.05, m)
    return AdultArrays(
        y_true=y,
        scores=scores,
        sensitive=pd.DataFrame({"sex": sex, "race": race}),
        attributions=phi,
        explained=explained,
    )


def _group_rows(
    y: np.ndarray, pred: np.ndarray, frame: pd.DataFrame, features: list[str], min_size: int
) -> tuple[tuple[GroupRow, ...], dict[str, float | None]]:
    def rates(mask: np.ndarray) -> dict[str, float | None]:
        yt, yp = y[mask], pred[mask]
        pos, neg = yt.sum(), (~yt).sum()
        return {
            "selection_rate": float(yp.mean()) if mask.any() else None,
            "true_positive_rate": float((yp & yt).sum() / pos) if pos else None,
            "false_positive_rate": float((yp & ~yt).sum() / neg) if neg else None,
            "accuracy": float((yp == yt).mean()) if mask.any() else None,
        }

    keys_s = frame[features[0]].astype(str)
    for f in features[1:]:
        keys_s = keys_s + " / " + frame[f].astype(str)
    keys = keys_s.to_numpy()
    rows = []
    for key in sorted(set(keys)):
        mask = keys == key
        rows.append(
            GroupRow(
                group=tuple(key.split(" / ")),
                count=int(mask.sum()),
                metrics=rates(mask),
                judged=bool(mask.sum() >= min_size),
            )
        )
    return tuple(rows), rates(np.ones(len(y), dtype=bool))


def _fairness(
    rule_id: str,
    metric: str,
    features: list[str],
    bound: Bound,
    severity: str,
    description: str,
    y: np.ndarray,
    pred: np.ndarray,
    frame: pd.DataFrame,
) -> CheckResult:
    rows, overall = _group_rows(y, pred, frame, features, min_size=30)
    judged = [r for r in rows if r.judged]

    def spread(name: str, ratio: bool) -> float:
        vals = [r.metrics[name] for r in judged if r.metrics[name] is not None]
        return min(vals) / max(vals) if ratio else max(vals) - min(vals)

    if metric == "demographic_parity_ratio":
        value = spread("selection_rate", True)
    elif metric == "equalized_odds_difference":
        value = max(spread("true_positive_rate", False), spread("false_positive_rate", False))
    else:  # per-group selection rate: the worst group
        value = min(r.metrics["selection_rate"] or 0.0 for r in judged)
    ok = bound.holds(value)
    status = Status.PASS if ok else (Status.FAIL if severity == "error" else Status.WARN)
    return CheckResult(
        rule_id=rule_id,
        check_id=f"fairness.{metric}",
        kind="fairness",
        severity=severity,  # type: ignore[arg-type]
        status=status,
        description=description,
        value=value,
        bound=bound,
        message=f"{metric} by {' x '.join(features)} is {value:.4f}; required {bound}",
        evidence=GroupEvidence(
            sensitive_features=tuple(features), metric=metric, overall=overall, groups=rows
        ),
    )


def adult_card_inputs(arrays: AdultArrays, *, n_rows_registered: int | None = None) -> CardInputs:
    """The records, policy run and anchor of an Adult credit model, from ``arrays``."""
    meta_yaml = yaml.safe_load((ROOT / "examples" / "credit" / "meta.yaml").read_text())
    meta = ModelMetadata(**{**meta_yaml, "feature_names": tuple(FEATURES), "flavour": "sklearn"})
    y, s = arrays.y_true.astype(bool), arrays.scores
    pred = s >= 0.5
    n = len(y)
    columns = tuple(
        ColumnSchema(name=c, dtype="int" if c in NUMERIC else "category")
        for c in [*FEATURES, "race", "sex", "income"]
    )
    raw = DatasetRecord(
        name="adult-raw",
        version=1,
        fingerprint="sha256:" + "a1" * 32,
        row_count=48_842,
        columns=columns,
        source_uri="https://archive.ics.uci.edu/dataset/2/adult",
        created_at=T0,
        created_by="data-eng",
    )
    train = DatasetRecord(
        name="adult-train",
        version=1,
        fingerprint="sha256:" + "b2" * 32,
        row_count=32_561,
        columns=columns,
        source_uri="file:///data/adult/train.parquet",
        parents=(DatasetRef(name="adult-raw", version=1),),
        transformation="UCI training split; '?' read as 'Unknown'.",
        created_at=T0,
        created_by="ml-team",
    )
    test = DatasetRecord(
        name="adult-test",
        version=1,
        fingerprint="sha256:" + "c3" * 32,
        row_count=n_rows_registered or n,
        columns=columns,
        source_uri="file:///data/adult/test.parquet",
        parents=(DatasetRef(name="adult-raw", version=1),),
        transformation="UCI test split; labels stripped of the trailing '.'.",
        created_at=T0,
        created_by="ml-team",
    )
    model = ModelVersionRecord(
        name="credit-income",
        version=3,
        artifact_uri="file:///models/credit-income-3.skops",
        artifact_sha256="d4" * 32,
        artifact_format="skops",
        flavour="sklearn",
        estimator="Pipeline[ColumnTransformer, HistGradientBoostingClassifier]",
        metadata=meta,
        training_data=DatasetRef(name="adult-train", version=1),
        evaluation_data=DatasetRef(name="adult-test", version=1),
        created_at=T0,
        created_by="alice",
    )
    sens = arrays.sensitive
    curves = classifier_curves(y, s, groups=sens, min_group_size=30)
    confusion = {
        "tp": float((pred & y).sum()),
        "fp": float((pred & ~y).sum()),
        "tn": float((~pred & ~y).sum()),
        "fn": float((~pred & y).sum()),
    }
    accuracy = float((pred == y).mean())
    auc = curves.overall.roc.auc if curves.overall.roc else None
    importance = np.abs(arrays.attributions).mean(axis=0)
    order = np.argsort(-importance, kind="stable")[:10]
    top = [FEATURES[j] for j in order]
    checks = [
        _fairness(
            "four-fifths-sex",
            "demographic_parity_ratio",
            ["sex"],
            Bound(min=0.8),
            "error",
            "EEOC Uniform Guidelines, 29 CFR 1607.4(D) four-fifths rule.",
            y,
            pred,
            sens,
        ),
        _fairness(
            "four-fifths-race",
            "demographic_parity_ratio",
            ["race"],
            Bound(min=0.8),
            "error",
            "EEOC four-fifths rule (29 CFR 1607.4(D)) by race.",
            y,
            pred,
            sens,
        ),
        _fairness(
            "equalized-odds-sex",
            "equalized_odds_difference",
            ["sex"],
            Bound(max=0.1),
            "warning",
            "True and false positive rates may differ by at most 10 points between sexes.",
            y,
            pred,
            sens,
        ),
        _fairness(
            "selection-rate-sex-race",
            "selection_rate",
            ["sex", "race"],
            Bound(min=0.02),
            "warning",
            "Every intersectional group is selected at least sometimes (2%).",
            y,
            pred,
            sens,
        ),
        CheckResult(
            rule_id="accuracy",
            check_id="performance.accuracy",
            kind="performance",
            severity="error",
            status=Status.PASS if accuracy >= 0.8 else Status.FAIL,
            description="At least 80% of evaluation cases classified correctly.",
            value=accuracy,
            bound=Bound(min=0.8),
            message=f"accuracy is {accuracy:.4f} on {n:,} rows; required >= 0.8",
            evidence=MetricsEvidence(
                values={"accuracy": accuracy}, confusion=confusion, curves=curves
            ),
        ),
        CheckResult(
            rule_id="roc-auc",
            check_id="performance.roc_auc",
            kind="performance",
            severity="error",
            status=Status.PASS if (auc or 0) >= 0.85 else Status.FAIL,
            description="Ranking quality of the score.",
            value=auc,
            bound=Bound(min=0.85),
            message=f"roc_auc is {auc:.4f} on {n:,} rows; required >= 0.85",
            evidence=MetricsEvidence(values={"roc_auc": auc}, confusion=confusion, curves=curves),
        ),
        CheckResult(
            rule_id="explanation-coverage",
            check_id="explanation.coverage",
            kind="explanation",
            severity="error",
            status=Status.PASS,
            description="GDPR Art. 15(1)(h) / Art. 22(3): every decision can be explained.",
            value=1.0,
            bound=Bound(min=0.99),
            message=f"{len(arrays.explained)} of {len(arrays.explained)} explanations add up",
            evidence=ExplanationEvidence(
                method="tree",
                rows_evaluated=len(arrays.explained),
                rows_valid=len(arrays.explained),
                tolerance=1e-6,
                max_abs_error=3.1e-9,
                top_features=tuple(
                    FeatureImportance(
                        feature=FEATURES[j], mean_abs_attribution=float(importance[j])
                    )
                    for j in order
                ),
                distributions=attribution_distributions(
                    arrays.attributions, arrays.explained, FEATURES, features=top
                ),
            ),
        ),
        CheckResult(
            rule_id="training-data-lineage",
            check_id="lineage.training_data_registered",
            kind="lineage",
            severity="error",
            status=Status.PASS,
            description="Training data registered, with a source for every dataset on its path.",
            message="adult-train@1 and its 1 ancestor are registered with sources",
            evidence=FindingsEvidence(
                findings=(
                    Finding(
                        item="adult-train@1", ok=True, detail="file:///data/adult/train.parquet"
                    ),
                    Finding(
                        item="adult-raw@1",
                        ok=True,
                        detail="https://archive.ics.uci.edu/dataset/2/adult",
                    ),
                )
            ),
        ),
        CheckResult(
            rule_id="documentation",
            check_id="lineage.metadata_present",
            kind="lineage",
            severity="error",
            status=Status.PASS,
            description="The model card's essential fields are filled in.",
            message="5 of 5 fields present",
        ),
    ]
    run = EvaluationResult(
        policy_name="credit-scoring",
        policy_path="policies/credit-scoring.yaml",
        policy_digest="sha256:" + "e5" * 32,
        model=ModelRef(name="credit-income", version=3),
        data_fingerprint=test.fingerprint,
        n_rows=n,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=7),
        govkit_version="0.1.0",
        checks=tuple(checks),
    )
    anchor = AuditAnchor(sequence=42, hash="f6" * 32)
    return CardInputs(model, [train, raw], test, run, anchor)
