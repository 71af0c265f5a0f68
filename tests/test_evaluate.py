"""evaluate(): rule results on the real Adult data, cross-checked with fairlearn and sklearn."""

from __future__ import annotations

from datetime import UTC, datetime

import fairlearn.metrics as flm
import numpy as np
import pytest
from sklearn import metrics as skm

from govkit.evaluate import evaluate
from govkit.exceptions import InputError
from govkit.policy import parse_policy
from govkit.records import ModelMetadata, ModelVersionRecord
from govkit.results import GroupEvidence, Status

POS = ">50K"


def record(**meta) -> ModelVersionRecord:
    base = dict(target="income", positive_label=POS, owner="team@example.org")
    base.update(meta)
    return ModelVersionRecord(
        name="credit",
        version=1,
        artifact_uri="file:///model.skops",
        artifact_sha256="0" * 64,
        artifact_format="skops",
        flavour="sklearn",
        estimator="Pipeline",
        metadata=ModelMetadata(**base),
        created_at=datetime.now(UTC),
    )


POLICY = """\
schema_version: 1
name: t
rules:
  - {id: dp-ratio-sex, kind: fairness, metric: demographic_parity_ratio,
     sensitive_features: [sex], threshold: 0.8}
  - {id: dp-diff-race, kind: fairness, metric: demographic_parity_difference,
     sensitive_features: [race], threshold: 0.5}
  - {id: eo-diff-sex, kind: fairness, metric: equalized_odds_difference,
     sensitive_features: [sex], threshold: 0.1, severity: warning}
  - {id: eo-ratio-sex, kind: fairness, metric: equalized_odds_ratio,
     sensitive_features: [sex], threshold: 0.0}
  - {id: tpr-sex-race, kind: fairness, metric: true_positive_rate,
     sensitive_features: [sex, race], threshold: {min: 0.0}}
  - {id: accuracy, kind: performance, metric: accuracy, threshold: 0.8}
  - {id: auc, kind: performance, metric: roc_auc, threshold: 0.85}
  - {id: f1, kind: performance, metric: f1, threshold: 0.99, severity: warning}
  - {id: docs, kind: lineage, requirement: metadata_present, fields: [owner, contact]}
"""


@pytest.fixture(scope="module")
def outcome(adult_model, adult_test):
    policy = parse_policy(POLICY, source="t.yaml")
    result = evaluate(policy, record(), adult_test, model=adult_model)
    y_pred = adult_model.predict(adult_test[list(adult_model.feature_names_in_)])
    scores = adult_model.predict_proba(adult_test[list(adult_model.feature_names_in_)])[:, 1]
    return {c.rule_id: c for c in result.checks}, result, y_pred, scores


def test_fairness_values_equal_fairlearn(outcome, adult_test):
    checks, _, y_pred, _ = outcome
    y = adult_test["income"]
    sex, race = adult_test["sex"], adult_test["race"]
    # fairlearn's disparity functions take 0/1 labels (positive = 1)
    yb, pb = (y == POS).astype(int), (y_pred == POS).astype(int)
    assert checks["dp-ratio-sex"].value == pytest.approx(
        flm.demographic_parity_ratio(yb, pb, sensitive_features=sex), abs=1e-12
    )
    assert checks["dp-diff-race"].value == pytest.approx(
        flm.demographic_parity_difference(yb, pb, sensitive_features=race), abs=1e-12
    )
    assert checks["eo-diff-sex"].value == pytest.approx(
        flm.equalized_odds_difference(yb, pb, sensitive_features=sex), abs=1e-12
    )
    assert checks["eo-ratio-sex"].value == pytest.approx(
        flm.equalized_odds_ratio(yb, pb, sensitive_features=sex), abs=1e-12
    )
    # per-group table of the intersectional rule equals MetricFrame's by_group
    mf = flm.MetricFrame(
        metrics={
            "tpr": lambda t, p: flm.true_positive_rate(t, p, pos_label=POS),
            "sr": lambda t, p: flm.selection_rate(t, p, pos_label=POS),
        },
        y_true=y,
        y_pred=y_pred,
        sensitive_features=adult_test[["sex", "race"]],
    )
    evidence = checks["tpr-sex-race"].evidence
    assert isinstance(evidence, GroupEvidence)
    assert len(evidence.groups) == len(mf.by_group) == 10
    for row in evidence.groups:
        ref = mf.by_group.loc[row.group]
        assert row.metrics["true_positive_rate"] == pytest.approx(ref["tpr"], abs=1e-12)
        assert row.metrics["selection_rate"] == pytest.approx(ref["sr"], abs=1e-12)
        assert row.count == int(((sex == row.group[0]) & (race == row.group[1])).sum())
    assert checks["tpr-sex-race"].value == pytest.approx(mf.by_group["tpr"].min(), abs=1e-12)


def test_statuses_follow_bounds_and_severity(outcome):
    checks, result, _, _ = outcome
    # Adult's historical income gap by sex: selection-rate ratio far below four-fifths
    assert checks["dp-ratio-sex"].value < 0.8
    assert checks["dp-ratio-sex"].status == Status.FAIL
    assert checks["eo-ratio-sex"].status == Status.PASS
    assert checks["f1"].status == Status.WARN  # warning severity: reported, not blocking
    assert checks["docs"].status == Status.FAIL and "contact" in checks["docs"].message
    assert result.status == Status.FAIL and result.exit_code() == 1


def test_performance_values_equal_sklearn(outcome, adult_test):
    checks, _, y_pred, scores = outcome
    y = (adult_test["income"] == POS).astype(int)
    p = (y_pred == POS).astype(int)
    assert checks["accuracy"].value == pytest.approx(skm.accuracy_score(y, p), abs=1e-12)
    assert checks["auc"].value == pytest.approx(skm.roc_auc_score(y, scores), abs=1e-12)
    assert checks["f1"].value == pytest.approx(skm.f1_score(y, p), abs=1e-12)
    assert checks["accuracy"].status == Status.PASS
    confusion = checks["accuracy"].evidence.confusion
    assert confusion["tp"] == float(((y == 1) & (p == 1)).sum())
    assert sum(confusion.values()) == len(y)


def test_passing_policy_exits_zero(adult_model, adult_test):
    policy = parse_policy(
        "schema_version: 1\nname: p\nrules:\n"
        "  - {id: acc, kind: performance, metric: accuracy, threshold: 0.8}\n"
        "  - {id: dp, kind: fairness, metric: demographic_parity_ratio, sensitive_features: [sex],"
        " threshold: 0.8, severity: warning}\n"
    )
    result = evaluate(policy, record(), adult_test, model=adult_model)
    assert [c.status for c in result.checks] == [Status.PASS, Status.WARN]
    assert result.status == Status.WARN
    assert result.exit_code() == 0 and result.exit_code(fail_on_warn=True) == 1


def test_a_crashing_check_is_an_error_result_and_the_run_goes_on(
    adult_model, adult_test, monkeypatch
):
    from govkit.checks import _registry

    spec = _registry.get_check("performance.accuracy")

    def boom(rule, ctx):
        raise ZeroDivisionError("synthetic failure")

    monkeypatch.setitem(
        _registry._REGISTRY, "performance.accuracy", spec.__class__(**{**spec.__dict__, "fn": boom})
    )
    policy = parse_policy(
        "schema_version: 1\nname: p\nrules:\n"
        "  - {id: acc, kind: performance, metric: accuracy, threshold: 0.8}\n"
        "  - {id: auc, kind: performance, metric: roc_auc, threshold: 0.8}\n"
    )
    result = evaluate(policy, record(), adult_test, model=adult_model)
    assert result.checks[0].status == Status.ERROR
    assert "ZeroDivisionError: synthetic failure" in result.checks[0].message
    assert result.checks[1].status == Status.PASS
    assert result.exit_code() == 1  # an error rule that could not be judged fails the gate


@pytest.mark.parametrize(
    "drop,match",
    [
        ("sex", "'sex' (sensitive feature of rule 'dp')"),
        ("income", "'income' (target column)"),
        ("age", "'age' (model input feature)"),
    ],
)
def test_missing_columns_are_input_errors(adult_model, adult_test, drop, match):
    policy = parse_policy(
        "schema_version: 1\nname: p\nrules:\n"
        "  - {id: dp, kind: fairness, metric: demographic_parity_ratio, sensitive_features: [sex],"
        " threshold: 0.8}\n"
    )
    with pytest.raises(InputError, match=match.replace("(", r"\(").replace(")", r"\)")):
        evaluate(policy, record(), adult_test.drop(columns=[drop]), model=adult_model)


def test_unknown_positive_label(adult_model, adult_test):
    policy = parse_policy(
        "schema_version: 1\nname: p\nrules:\n"
        "  - {id: acc, kind: performance, metric: accuracy, threshold: 0.8}\n"
    )
    with pytest.raises(InputError, match="positive label '>50k' does not occur"):
        evaluate(policy, record(positive_label=">50k"), adult_test, model=adult_model)


def test_recorded_predictions_without_a_model(adult_model, adult_test):
    """A vendor model's decisions: label rules judged, model-only rules not applicable."""
    y_pred = adult_model.predict(adult_test[list(adult_model.feature_names_in_)])
    policy = parse_policy(
        "schema_version: 1\nname: p\nrules:\n"
        "  - {id: dp, kind: fairness, metric: demographic_parity_ratio, sensitive_features: [sex],"
        " threshold: 0.8}\n"
        "  - {id: cov, kind: explanation, threshold: 0.9}\n"
    )
    result = evaluate(policy, record(), adult_test, predictions=y_pred)
    assert result.checks[0].value == pytest.approx(
        flm.demographic_parity_ratio(
            (adult_test["income"] == POS).astype(int),
            (y_pred == POS).astype(int),
            sensitive_features=adult_test["sex"],
        ),
        abs=1e-12,
    )
    assert result.checks[1].status == Status.NOT_APPLICABLE
    assert np.isfinite(result.checks[0].value)


def test_a_nan_bound_fails_closed():
    # the policy loader refuses NaN bounds; a Bound built in Python with one still holds
    # for no value (a NaN compares false both ways: "not below min" would pass everything)
    from govkit.results import Bound

    nan = float("nan")
    for bound in (Bound(min=nan), Bound(max=nan), Bound(min=0.0, max=nan)):
        assert not any(bound.holds(v) for v in (0.0, 0.5, 1.0, -1e300, 1e300))
    assert Bound(min=0.0, max=1.0).holds(0.5) and not Bound(min=0.0, max=1.0).holds(nan)


THRESHOLD_POLICY = """\
schema_version: 1
name: deployed-rule
rules:
  - {id: acc, kind: performance, metric: accuracy, threshold: 0.5}
  - {id: dp, kind: fairness, metric: demographic_parity_ratio, sensitive_features: [sex],
     threshold: 0.0}
  - {id: drift, kind: drift, statistic: chi2, scope: prediction, threshold: {min: 0.0}}
"""


def test_a_declared_decision_threshold_is_the_rule_the_gate_judges(adult_model, adult_test):
    """metadata decision.threshold 0.2: the labels are P(>50K) >= 0.2, as `govkit explain`
    decides, not model.predict()'s 0.5 cut; by hand, then against sklearn and fairlearn."""
    from govkit.records import DecisionSpec

    policy = parse_policy(THRESHOLD_POLICY)
    features = adult_test[list(adult_model.feature_names_in_)]
    score = adult_model.predict_proba(features)[:, list(adult_model.classes_).index(POS)]
    y = (adult_test["income"] == POS).to_numpy()
    decided = score >= 0.2
    # by hand: share of right decisions; lowest / highest share of positive decisions by sex
    hand_accuracy = float(np.mean(decided == y))
    rates = [float(decided[(adult_test["sex"] == g).to_numpy()].mean()) for g in ("Female", "Male")]
    hand_dp = min(rates) / max(rates)
    assert hand_accuracy == pytest.approx(skm.accuracy_score(y, decided), abs=1e-12)
    assert hand_dp == pytest.approx(
        flm.demographic_parity_ratio(y, decided, sensitive_features=adult_test["sex"]), abs=1e-12
    )
    at_half = adult_model.predict(features) == POS
    assert hand_accuracy < skm.accuracy_score(y, at_half) - 0.03  # a different rule indeed

    meta = record(decision=DecisionSpec(threshold=0.2))
    result = evaluate(
        policy, meta, adult_test, model=adult_model, reference_data=adult_test.iloc[:4000]
    )
    checks = {c.rule_id: c for c in result.checks}
    assert checks["acc"].value == pytest.approx(hand_accuracy, abs=1e-12)
    assert checks["dp"].value == pytest.approx(hand_dp, abs=1e-12)
    confusion = checks["acc"].evidence.confusion
    assert confusion["tp"] + confusion["fp"] == float(decided.sum())
    # prediction drift of labels compares the same rule on the reference rows (the half
    # cut there against 0.2 here would be a drift of the rule, not of the data)
    drift = checks["drift"].evidence.features[0]
    assert drift.p_value is not None and drift.p_value > 0.01, checks["drift"].message
    assert result.decision_threshold == 0.2

    # no decision block: model.predict() as before, and no threshold recorded
    plain = evaluate(policy, record(), adult_test, model=adult_model)
    assert plain.checks[0].value == pytest.approx(skm.accuracy_score(y, at_half), abs=1e-12)
    assert plain.decision_threshold is None


def test_a_decision_threshold_on_a_model_without_probabilities_is_an_input_error(adult_test):
    from sklearn.svm import LinearSVC

    from govkit.records import DecisionSpec

    X = adult_test[["age", "hours-per-week"]]
    model = LinearSVC().fit(X, adult_test["income"])
    policy = parse_policy(THRESHOLD_POLICY.split("  - {id: dp")[0])
    with pytest.raises(
        InputError,
        match=r"the metadata of the model declares decision.threshold 0.3, and LinearSVC gives "
        r"no class probabilities \(predict_proba and classes_\)",
    ):
        evaluate(
            policy,
            record(decision=DecisionSpec(threshold=0.3), feature_names=["age", "hours-per-week"]),
            adult_test,
            model=model,
        )
