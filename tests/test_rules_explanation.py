"""explanation.* rules beyond coverage: fidelity, stability, sensitive and proxy features among
the top-k attributions, the required method -- and one explainer shared by all of them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _rule_helpers import by_id, one_thread, policy, record  # noqa: F401 (autouse)
from scipy.stats.contingency import association

from govkit import explainers as explain
from govkit.checks._association import correlation_ratio, cramers_v
from govkit.evaluate import evaluate
from govkit.results import Status

ALL = (
    "{id: cov, kind: explanation, threshold: 0.99, sample: 300}",
    "{id: fid, kind: explanation, metric: fidelity, threshold: 1.0e-9, sample: 300}",
    "{id: fid-mean, kind: explanation, metric: fidelity, aggregate: mean, threshold: 1.0e-9, "
    "sample: 300}",
    "{id: stab, kind: explanation, metric: stability, threshold: 0.0, sample: 300}",
    "{id: sens, kind: explanation, metric: sensitive_not_in_top_k, k: 5, sample: 300}",
    "{id: proxy, kind: explanation, metric: proxy_not_in_top_k, k: 5, sample: 300}",
    "{id: proxy-strict, kind: explanation, metric: proxy_not_in_top_k, k: 5, sample: 300, "
    "max_association: 0.4, sensitive_features: [sex]}",
    "{id: tree, kind: explanation, metric: method, required_method: tree}",
    "{id: perm, kind: explanation, metric: method, required_method: [permutation, linear]}",
)


@pytest.fixture(scope="module")
def counted(adult_model, adult_test):
    """Every rule above in one run, counting explainers built and explain() calls."""
    built, calls = [], []
    real = explain.make_explainer

    def make(*args, **kwargs):
        explainer = real(*args, **kwargs)
        inner = explainer.explain

        def counting(X):
            calls.append(len(X))
            return inner(X)

        explainer.explain = counting
        built.append(kwargs.get("method"))
        return explainer

    mp = pytest.MonkeyPatch()
    mp.setattr(explain, "make_explainer", make)
    try:
        result = evaluate(policy(*ALL), record(), adult_test, model=adult_model)
    finally:
        mp.undo()
    return by_id(result), built, calls


def test_one_explainer_and_one_attribution_pass_serve_every_rule(counted):
    checks, built, calls = counted
    assert built == ["auto"]
    assert calls == [300, 300]  # the attributions, and the stability rule's second pass
    assert {c.status for c in checks.values()} <= {Status.PASS, Status.FAIL}


def test_fidelity_is_the_additivity_error_against_the_model(counted, adult_model, adult_test):
    checks, _, _ = counted
    X = adult_test[list(adult_model.feature_names_in_)]
    rows = X.sample(n=300, random_state=0)
    attributions = explain.make_explainer(adult_model, X).explain(rows)
    # the model's own log-odds, not shap's
    margin = adult_model.decision_function(rows)
    error = np.abs(attributions.base_values + attributions.values.sum(axis=1) - margin)
    assert checks["fid"].value == pytest.approx(error.max(), abs=1e-12)
    assert checks["fid-mean"].value == pytest.approx(error.mean(), abs=1e-12)
    assert checks["fid"].status == Status.PASS and error.max() < 1e-9
    assert "max additivity error over 300 rows (tree, log_odds)" in checks["fid"].message


def test_tree_explanations_are_stable(counted):
    checks, _, _ = counted
    assert checks["stab"].value == 0.0 and checks["stab"].status == Status.PASS


def test_unstable_attributions_fail(adult_model, adult_test, monkeypatch):
    real = explain.make_explainer

    def make(*args, **kwargs):
        explainer = real(*args, **kwargs)
        inner, state = explainer.explain, {"n": 0}

        def jitter(X):
            a = inner(X)
            state["n"] += 1
            if state["n"] == 2:  # the second pass moves one attribution of one row
                values = a.values.copy()
                values[3, 2] += 0.25
                a = type(a)(
                    values, a.base_values, a.model_output, a.feature_names, a.method, a.output_space
                )
            return a

        explainer.explain = jitter
        return explainer

    monkeypatch.setattr(explain, "make_explainer", make)
    check = evaluate(
        policy("{id: s, kind: explanation, metric: stability, threshold: 1.0e-6, sample: 50}"),
        record(),
        adult_test,
        model=adult_model,
    ).checks[0]
    assert check.status == Status.FAIL
    assert check.value == pytest.approx(0.25)
    assert "1 row(s) changed" in check.message
    assert check.evidence.findings[0].item == list(adult_model.feature_names_in_)[2]


def top_features(model, data, k, sample=300):
    X = data[list(model.feature_names_in_)]
    a = explain.make_explainer(model, X).explain(X.sample(n=sample, random_state=0))
    order = np.argsort(-np.abs(a.values).mean(axis=0), kind="stable")
    return [a.feature_names[j] for j in order[:k]]


def test_sensitive_features_not_used_by_the_model_pass(counted, adult_model, adult_test):
    checks, _, _ = counted
    sens = checks["sens"]
    top = top_features(adult_model, adult_test, 5)
    assert [f.item for f in sens.evidence.findings][:5] == [
        f"#{i} {f}" for i, f in enumerate(top, 1)
    ]
    assert sens.status == Status.PASS and sens.value == 0.0
    assert {f.item: f.detail for f in sens.evidence.findings}["sex"] == "not a model input"


@pytest.fixture(scope="module")
def model_with_sex(adult_train):
    from demo import FEATURES_CAT, FEATURES_NUM, build_model

    model = build_model(max_iter=30)
    name, encoder, _ = model.named_steps["encode"].transformers[0]
    columns = [*FEATURES_CAT, "sex"]
    model.named_steps["encode"].set_params(transformers=[(name, encoder, columns)])
    return model.fit(adult_train[columns + FEATURES_NUM], adult_train["income"])


def test_a_sensitive_feature_in_the_top_k_fails(model_with_sex, adult_test):
    features = top_features(model_with_sex, adult_test, 14)
    rank = features.index("sex") + 1
    rules = [
        f"{{id: k{k}, kind: explanation, metric: sensitive_not_in_top_k, k: {k}, sample: 300, "
        "sensitive_features: [sex]}"
        for k in (rank - 1, rank)
    ]
    checks = by_id(evaluate(policy(*rules), record(), adult_test, model=model_with_sex))
    assert checks[f"k{rank - 1}"].status == Status.PASS
    fail = checks[f"k{rank}"]
    assert fail.status == Status.FAIL and fail.value == 1.0
    assert "sensitive among them: sex" in fail.message


def test_proxy_associations_equal_scipy_and_hand_computation(counted, adult_model, adult_test):
    checks, _, _ = counted
    top = top_features(adult_model, adult_test, 5)
    expected = {}
    for feature in top:
        col = adult_test[feature]
        best = 0.0
        for s in ("sex", "race"):
            if pd.api.types.is_numeric_dtype(col):
                # correlation ratio by hand: share of variance explained by the group means
                means = col.groupby(adult_test[s]).transform("mean")
                value = np.sqrt(((means - col.mean()) ** 2).sum() / ((col - col.mean()) ** 2).sum())
                assert correlation_ratio(col, adult_test[s]) == pytest.approx(value, abs=1e-12)
            else:
                table = pd.crosstab(col, adult_test[s]).to_numpy()
                value = association(table, method="cramer")
                assert cramers_v(col, adult_test[s]) == pytest.approx(value, abs=1e-12)
            best = max(best, value)
        expected[feature] = best
    proxy = checks["proxy"]
    assert proxy.value == pytest.approx(max(expected.values()), abs=1e-12)
    # marital status is associated with sex (Cramér's V about 0.46): under 0.5, over 0.4
    assert proxy.status == Status.PASS
    strict = checks["proxy-strict"]
    assert strict.status == Status.FAIL
    assert "marital-status (Cramér's V 0.4" in strict.message and "with sex" in strict.message


def test_required_method(counted):
    checks, _, _ = counted
    assert checks["tree"].status == Status.PASS
    assert checks["perm"].status == Status.FAIL
    assert checks["perm"].message == (
        "explainer method is tree; required one of: permutation, linear"
    )


def test_top_k_rules_need_sensitive_features(adult_model, adult_test):
    check = evaluate(
        policy("{id: s, kind: explanation, metric: sensitive_not_in_top_k, sample: 50}"),
        record(sensitive_features=()),
        adult_test,
        model=adult_model,
    ).checks[0]
    assert check.status == Status.ERROR
    assert "list them under 'sensitive_features'" in check.message


def test_recorded_predictions_leave_explanation_rules_not_applicable(adult_model, adult_test):
    y_pred = adult_model.predict(adult_test[list(adult_model.feature_names_in_)])
    result = evaluate(policy(*ALL), record(), adult_test, predictions=y_pred)
    assert {c.status for c in result.checks} == {Status.NOT_APPLICABLE}
