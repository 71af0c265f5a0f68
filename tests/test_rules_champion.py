"""champion_challenger rules: both versions on the same rows, every value recorded, each
cross-checked with scikit-learn and fairlearn."""

from __future__ import annotations

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
from _rule_helpers import POS, one_thread, policy, record  # noqa: F401 (autouse)
from sklearn import metrics as skm

from govkit.evaluate import Champion, evaluate
from govkit.results import ComparisonEvidence, Status

RULE = (
    "{id: cc, kind: champion_challenger, champion: credit@1, "
    "metrics: {accuracy: 0.01, roc_auc: {max_drop: 0.005}, log_loss: 0.01, brier_score: 0.0}, "
    "fairness: [{metric: demographic_parity_difference, sensitive_features: [sex]}, "
    "{metric: equalized_odds_ratio, sensitive_features: [sex], max_widening: 0.1}, "
    "{metric: impact_ratio, sensitive_features: [race], max_widening: 0.05, "
    "min_group_size: 200}]}"
)


@pytest.fixture(scope="module")
def champion_model(adult_train):
    from demo import FEATURES_CAT, FEATURES_NUM, build_model

    model = build_model(max_iter=15)
    return model.fit(adult_train[FEATURES_CAT + FEATURES_NUM], adult_train["income"])


def outputs(model, data):
    cols = list(model.feature_names_in_)
    return model.predict(data[cols]), model.predict_proba(data[cols])[:, 1]


def expected_values(data, y_pred, scores) -> dict[str, float]:
    y = (data["income"] == POS).astype(int)
    p = (y_pred == POS).astype(int)
    selected = pd.Series(y_pred == POS, index=data.index)
    large = data["race"].map(data["race"].value_counts()) >= 200
    by_race = selected[large].groupby(data["race"][large]).mean()
    return {
        "accuracy": skm.accuracy_score(y, p),
        "roc_auc": skm.roc_auc_score(y, scores),
        "log_loss": skm.log_loss(y, scores),
        "brier_score": skm.brier_score_loss(y, scores),
        "demographic_parity_difference": flm.demographic_parity_difference(
            y, p, sensitive_features=data["sex"]
        ),
        "equalized_odds_ratio": flm.equalized_odds_ratio(y, p, sensitive_features=data["sex"]),
        "impact_ratio": (by_race / by_race.max()).min(),
    }


@pytest.fixture(scope="module")
def compared(adult_model, champion_model, adult_test):
    result = evaluate(
        policy(RULE),
        record(version=2),
        adult_test,
        model=adult_model,
        champions={"credit@1": Champion(record=record(version=1), model=champion_model)},
    )
    return result.checks[0]


def test_both_versions_are_recorded_with_sklearn_and_fairlearn_values(
    compared, adult_model, champion_model, adult_test
):
    ev = compared.evidence
    assert isinstance(ev, ComparisonEvidence)
    assert ev.champion == "credit@1" and ev.challenger == "credit@2"
    champ = expected_values(adult_test, *outputs(champion_model, adult_test))
    cand = expected_values(adult_test, *outputs(adult_model, adult_test))
    rows = {c.metric: c for c in ev.comparisons}
    assert list(rows) == list(champ)  # metrics first, then fairness gaps, in policy order
    higher_better = {"accuracy", "roc_auc", "equalized_odds_ratio", "impact_ratio"}
    for metric, row in rows.items():
        assert row.champion == pytest.approx(champ[metric], abs=1e-12), metric
        assert row.challenger == pytest.approx(cand[metric], abs=1e-12), metric
        sign = 1 if metric in higher_better else -1
        assert row.worsening == pytest.approx(sign * (champ[metric] - cand[metric]), abs=1e-12)
        assert row.ok == (row.worsening <= row.allowed)
    assert rows["demographic_parity_difference"].sensitive_features == ("sex",)
    assert rows["impact_ratio"].allowed == 0.05
    # the stronger model is better on every metric, but its selection-rate gap by sex is wider
    assert all(rows[m].worsening < 0 for m in ("accuracy", "roc_auc", "log_loss", "brier_score"))
    assert rows["demographic_parity_difference"].worsening > 0
    assert not rows["demographic_parity_difference"].ok
    assert compared.status == Status.FAIL
    assert "worse beyond the margin: demographic_parity_difference" in compared.message
    assert compared.value == pytest.approx(max(r.worsening for r in rows.values()))


def test_the_same_model_as_champion_passes_with_zero_margins(adult_model, adult_test):
    rule = RULE.replace("0.01", "0.0").replace("0.005", "0.0").replace("0.1", "0.0")
    result = evaluate(
        policy(rule),
        record(version=2),
        adult_test,
        model=adult_model,
        champions={"credit@1": Champion(record=record(version=1), model=adult_model)},
    )
    check = result.checks[0]
    assert check.status == Status.PASS
    assert all(c.worsening == 0.0 for c in check.evidence.comparisons)


def test_recorded_predictions_need_the_champion_column(adult_model, champion_model, adult_test):
    y_pred, scores = outputs(adult_model, adult_test)
    c_pred, c_scores = outputs(champion_model, adult_test)
    pol = policy(RULE)
    alone = evaluate(pol, record(version=2), adult_test, predictions=y_pred, scores=scores)
    assert alone.checks[0].status == Status.NOT_APPLICABLE
    assert "--champion-prediction-column" in alone.checks[0].message
    recorded = evaluate(
        pol,
        record(version=2),
        adult_test,
        predictions=y_pred,
        scores=scores,
        champions={"credit@1": Champion(predictions=c_pred, scores=c_scores, label="credit@1")},
    ).checks[0]
    # the same numbers as running both models
    ran = evaluate(
        pol,
        record(version=2),
        adult_test,
        model=adult_model,
        champions={"credit@1": Champion(record=record(version=1), model=champion_model)},
    ).checks[0]
    assert recorded.evidence.comparisons == ran.evidence.comparisons
    # score metrics without the champion's scores: an error naming the option
    no_scores = evaluate(
        pol,
        record(version=2),
        adult_test,
        predictions=y_pred,
        scores=scores,
        champions={"credit@1": Champion(predictions=c_pred, label="credit@1")},
    ).checks[0]
    assert no_scores.status == Status.ERROR and "--champion-score-column" in no_scores.message


def test_no_champion_is_not_applicable_with_the_reason(adult_model, adult_test):
    result = evaluate(
        policy(RULE),
        record(version=1),
        adult_test,
        model=adult_model,
        champions={"credit@1": Champion(unavailable="no champion: nothing else registered")},
    )
    assert result.checks[0].status == Status.NOT_APPLICABLE
    assert result.checks[0].message == "no champion: nothing else registered"


def test_regression_metrics_compare_errors(adult_train, adult_test):
    from sklearn.linear_model import LinearRegression

    cols = ["age", "education-num", "capital-gain"]
    strong = LinearRegression().fit(adult_train[cols], adult_train["hours-per-week"])
    weak = LinearRegression().fit(adult_train[cols[:1]], adult_train["hours-per-week"])
    result = evaluate(
        policy(
            "{id: cc, kind: champion_challenger, champion: hours@1, metrics: {mae: 0.0, r2: 0.0}}"
        ),
        None,
        adult_test,
        model=weak,
        target="hours-per-week",
        champions={"hours@1": Champion(model=strong, label="hours@1")},
    ).checks[0]
    y = adult_test["hours-per-week"]
    rows = {c.metric: c for c in result.evidence.comparisons}
    mae_strong = skm.mean_absolute_error(y, strong.predict(adult_test[cols]))
    mae_weak = skm.mean_absolute_error(y, weak.predict(adult_test[cols[:1]]))
    assert rows["mae"].worsening == pytest.approx(mae_weak - mae_strong, abs=1e-12)
    assert rows["r2"].champion == pytest.approx(
        skm.r2_score(y, strong.predict(adult_test[cols])), abs=1e-12
    )
    assert result.status == Status.FAIL and np.isfinite(result.value)


def test_each_version_is_judged_at_its_own_decision_threshold(
    adult_model, champion_model, adult_test
):
    """Each version's metadata decision.threshold is the rule it is deployed with: the
    champion at 0.3, the candidate at 0.2 (as `govkit explain` decides for each)."""
    from govkit.records import DecisionSpec

    rule = (
        "{id: cc, kind: champion_challenger, champion: credit@1, metrics: {accuracy: 0.0}, "
        "fairness: [{metric: demographic_parity_ratio, sensitive_features: [sex]}]}"
    )
    result = evaluate(
        policy(rule),
        record(version=2, decision=DecisionSpec(threshold=0.2)),
        adult_test,
        model=adult_model,
        champions={
            "credit@1": Champion(
                record=record(version=1, decision=DecisionSpec(threshold=0.3)),
                model=champion_model,
            )
        },
    ).checks[0]
    y = (adult_test["income"] == POS).to_numpy()
    sex = adult_test["sex"]
    rows = {c.metric: c for c in result.evidence.comparisons}
    for model, threshold, side in (
        (champion_model, 0.3, "champion"),
        (adult_model, 0.2, "challenger"),
    ):
        decided = outputs(model, adult_test)[1] >= threshold
        assert getattr(rows["accuracy"], side) == pytest.approx(
            skm.accuracy_score(y, decided), abs=1e-12
        )
        assert getattr(rows["demographic_parity_ratio"], side) == pytest.approx(
            flm.demographic_parity_ratio(y, decided, sensitive_features=sex), abs=1e-12
        )
    assert result.message.endswith(
        "(labels decided at score >= 0.2 for the candidate, score >= 0.3 for the champion, "
        "by their metadata's decision.threshold)"
    )


def test_a_champion_with_other_labels_is_named_with_plain_values(adult_model, adult_test):
    """A champion trained on 0/1 labels for a '>50K' candidate: the labels read 0, 1 (they
    read np.int64(0), np.int64(1), and the positive label np.str_('>50K'))."""
    from sklearn.linear_model import LogisticRegression

    from govkit.exceptions import InputError

    cols = ["age", "hours-per-week"]
    numeric = LogisticRegression().fit(adult_test[cols], (adult_test["income"] == POS).astype(int))
    with pytest.raises(InputError) as caught:
        evaluate(
            policy(RULE),
            record(version=2),
            adult_test,
            model=adult_model,
            champions={"credit@1": Champion(record=record(version=1), model=numeric)},
        )
    assert str(caught.value) == (
        "positive label '>50K' does not occur in the classes of champion credit@1; found 0, 1"
    )
