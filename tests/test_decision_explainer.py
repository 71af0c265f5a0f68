"""DecisionExplainer: score, decision and attributions of one row, checked against LightGBM's
own pred_contrib, shap and hand computations; additivity; thread safety; bad input."""

from __future__ import annotations

import dataclasses
import logging
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from _decision_helpers import (
    ADULT_CAT,
    ADULT_NUM,
    CREDIT,
    adult_pipeline,
    adult_small,
    credit_data,
    credit_metadata,
    lgbm_classifier,
    sum_back,
)
from threadpoolctl import threadpool_limits

from govkit.data import fingerprint
from govkit.exceptions import InputError
from govkit.explainers import DecisionExplainer, ExplanationError, default_tolerance
from govkit.explainers._shap import load_shap
from govkit.records import DecisionSpec, ModelMetadata

lightgbm = pytest.importorskip("lightgbm")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def credit():
    X, y = credit_data(2_000)
    return X.iloc[:1_700], y.iloc[:1_700], X.iloc[1_700:].reset_index(drop=True)


@pytest.fixture(scope="module")
def lgbm(credit):
    X, y, _ = credit
    return lgbm_classifier().fit(X, y)


@pytest.fixture(scope="module")
def lgbm_explainer(lgbm):
    return DecisionExplainer.build(lgbm, metadata=credit_metadata())


@pytest.fixture(scope="module")
def adult(adult_train):
    X, y = adult_small(adult_train)
    return X.iloc[:1_600], y.iloc[:1_600], X.iloc[1_600:].reset_index(drop=True)


def rows_of(frame: pd.DataFrame, n: int) -> list[pd.DataFrame]:
    return [frame.iloc[[i]] for i in range(min(n, len(frame)))]


# -- LightGBM on numeric columns: LightGBM's single-row API ----------------------------------


def test_lightgbm_attributions_are_lightgbm_pred_contrib(lgbm, lgbm_explainer, credit):
    _, _, test = credit
    explainer = lgbm_explainer
    assert explainer.method == "lightgbm-native"
    assert explainer.feature_names == tuple(CREDIT)
    assert explainer.background_fingerprint is None  # path-dependent TreeSHAP: no background
    contrib = lgbm.booster_.predict(test.to_numpy(dtype=float), pred_contrib=True)
    raw = lgbm.predict(test, raw_score=True)
    proba = lgbm.predict_proba(test)[:, 1]
    for i, row in enumerate(rows_of(test, 40)):
        ex = explainer.explain(row)
        assert list(ex.attributions) == CREDIT
        np.testing.assert_array_equal(list(ex.attributions.values()), contrib[i, :-1])
        assert ex.base_value == contrib[i, -1]
        assert ex.score == proba[i]
        assert ex.output_space == "log_odds"
        assert ex.method == "lightgbm-native" and ex.background is None
        expected_error = abs(ex.base_value + sum(ex.attributions.values()) - raw[i])
        assert ex.additivity_error == pytest.approx(expected_error, abs=1e-12)
        assert ex.reliable and ex.additivity_error <= 1e-6
        assert ex.prediction == (1 if proba[i] >= 0.5 else 0)
        values, base = explainer.attribute(row)
        np.testing.assert_array_equal(values, contrib[i, :-1])
        assert base == contrib[i, -1]


def test_lightgbm_attributions_match_shap(lgbm, lgbm_explainer, credit):
    _, _, test = credit
    shap_values = load_shap().TreeExplainer(lgbm)(test.iloc[:15], check_additivity=False).values
    for i, row in enumerate(rows_of(test, 15)):
        ours = list(lgbm_explainer.explain(row).attributions.values())
        np.testing.assert_allclose(ours, shap_values[i], rtol=0, atol=1e-12)


def test_score_is_predict_proba_of_the_positive_label(lgbm, lgbm_explainer, credit):
    _, _, test = credit
    np.testing.assert_array_equal(lgbm_explainer.score(test), lgbm.predict_proba(test)[:, 1])
    reordered = test[list(reversed(CREDIT))]  # columns are matched by name
    np.testing.assert_array_equal(lgbm_explainer.score(reordered), lgbm.predict_proba(test)[:, 1])


def test_explaining_the_other_class_flips_signs_and_score(lgbm, credit):
    _, _, test = credit
    meta = credit_metadata().model_copy(update={"positive_label": None})
    explainer = DecisionExplainer.build(lgbm, metadata=meta, positive_class=0)
    contrib = lgbm.booster_.predict(test.to_numpy(dtype=float), pred_contrib=True)
    proba0 = lgbm.predict_proba(test)[:, 0]
    for i, row in enumerate(rows_of(test, 10)):
        ex = explainer.explain(row)
        np.testing.assert_array_equal(list(ex.attributions.values()), -contrib[i, :-1])
        assert ex.score == proba0[i]
        assert ex.prediction == (0 if proba0[i] >= 0.5 else 1)
        assert ex.reliable


def test_metadata_positive_label_is_matched_as_text(lgbm, credit):
    _, _, test = credit
    meta = credit_metadata().model_copy(update={"positive_label": "0"})
    explainer = DecisionExplainer.build(lgbm, metadata=meta)
    assert explainer.explain(test.iloc[[0]]).score == lgbm.predict_proba(test.iloc[[0]])[0, 0]
    wrong = credit_metadata().model_copy(update={"positive_label": "yes"})
    with pytest.raises(ExplanationError, match=r"positive_label 'yes' is not one of .*\[0, 1\]"):
        DecisionExplainer.build(lgbm, metadata=wrong)


def test_threshold_and_favourable_outcome(lgbm, credit):
    _, _, test = credit
    meta = credit_metadata(
        threshold=0.7,
        positive_is_favourable=False,
        favourable_outcome="cleared",
        unfavourable_outcome="flagged",
    )
    explainer = DecisionExplainer.build(lgbm, metadata=meta)
    proba = lgbm.predict_proba(test)[:, 1]
    seen = set()
    for i, row in enumerate(rows_of(test, 60)):
        ex = explainer.explain(row)
        positive = proba[i] >= 0.7
        assert ex.threshold == 0.7
        assert ex.prediction == (1 if positive else 0)
        assert ex.favourable is (not positive)
        assert ex.outcome == ("cleared" if not positive else "flagged")
        seen.add(ex.outcome)
    assert seen == {"cleared", "flagged"}


def test_no_decision_spec_means_threshold_one_half(lgbm, credit):
    _, _, test = credit
    explainer = DecisionExplainer.build(lgbm, metadata=ModelMetadata())
    proba = lgbm.predict_proba(test)[:, 1]
    for i, row in enumerate(rows_of(test, 20)):
        ex = explainer.explain(row)
        assert ex.threshold == 0.5
        assert ex.favourable is bool(proba[i] >= 0.5)
        assert ex.outcome == ("approved" if proba[i] >= 0.5 else "declined")


def test_categorical_lightgbm_uses_lightgbms_own_api(credit):
    X, y, test = credit
    cats = pd.CategoricalDtype(["rent", "own", "family"])
    rng = np.random.default_rng(3)
    Xc = X.assign(home=pd.Series(rng.choice(cats.categories, len(X)), index=X.index).astype(cats))
    tc = test.assign(home=pd.Series(rng.choice(cats.categories, len(test))).astype(cats))
    model = lgbm_classifier().fit(Xc, y)
    explainer = DecisionExplainer.build(model, metadata=ModelMetadata())
    assert explainer.method == "lightgbm-native"  # through the sklearn API, not the fast path
    contrib = model.predict(tc, pred_contrib=True)
    for i, row in enumerate(rows_of(tc, 10)):
        ex = explainer.explain(row)
        np.testing.assert_array_equal(list(ex.attributions.values()), contrib[i, :-1])
        assert ex.reliable


def test_numpy_trained_model_takes_names_from_metadata(credit):
    X, y, test = credit
    model = lgbm_classifier().fit(X.to_numpy(dtype=float), y)
    meta = credit_metadata().model_copy(update={"feature_names": tuple(CREDIT)})
    explainer = DecisionExplainer.build(model, metadata=meta)
    assert explainer.feature_names == tuple(CREDIT)
    ex = explainer.explain(test.iloc[[0]])
    contrib = model.predict(test.iloc[[0]].to_numpy(dtype=float), pred_contrib=True)[0]
    np.testing.assert_array_equal(list(ex.attributions.values()), contrib[:-1])
    with pytest.raises(ExplanationError, match="without column names.*metadata.feature_names"):
        DecisionExplainer.build(model, metadata=ModelMetadata())


# -- pipelines with one-hot encoding: attributions on the original columns --------------------


def test_lightgbm_pipeline_sums_one_hot_columns_back(adult):
    X, y, test = adult
    model = adult_pipeline(lgbm_classifier(), scale=False).fit(X, y)
    explainer = DecisionExplainer.build(model, metadata=ModelMetadata())
    assert explainer.method == "lightgbm-native"
    assert explainer.feature_names == tuple(ADULT_CAT + ADULT_NUM)
    encode, final = model[:-1], model[-1]
    Xt = encode.transform(test.iloc[:12])
    contrib = final.booster_.predict(Xt, pred_contrib=True)
    expected = sum_back(contrib[:, :-1], encode.get_feature_names_out(), ADULT_CAT + ADULT_NUM)
    proba = model.predict_proba(test.iloc[:12])[:, 1]
    for i, row in enumerate(rows_of(test, 12)):
        ex = explainer.explain(row)
        np.testing.assert_allclose(list(ex.attributions.values()), expected[i], atol=1e-12)
        assert ex.base_value == pytest.approx(contrib[i, -1], abs=1e-12)
        assert ex.score == proba[i]
        assert ex.reliable


def test_sklearn_tree_pipeline_needs_no_background_and_matches_shap(adult):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y, test = adult
    hgb = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    model = adult_pipeline(hgb).fit(X, y)
    explainer = DecisionExplainer.build(model, metadata=ModelMetadata())
    assert explainer.method == "tree" and explainer.background_fingerprint is None
    encode, final = model[:-1], model[-1]
    Xt = encode.transform(test.iloc[:8])
    shap_explainer = load_shap().TreeExplainer(final, feature_perturbation="tree_path_dependent")
    reference = shap_explainer(Xt, check_additivity=False)
    expected = sum_back(reference.values, encode.get_feature_names_out(), ADULT_CAT + ADULT_NUM)
    margin = model.decision_function(test.iloc[:8])
    for i, row in enumerate(rows_of(test, 8)):
        ex = explainer.explain(row)
        assert ex.output_space == "log_odds"
        np.testing.assert_allclose(list(ex.attributions.values()), expected[i], atol=1e-9)
        total = ex.base_value + sum(ex.attributions.values())
        assert total == pytest.approx(margin[i], abs=1e-6)
        assert ex.reliable
        assert ex.score == model.predict_proba(row)[0, 1]
        assert ex.prediction in (">50K", "<=50K")


def test_linear_pipeline_needs_background_and_matches_hand_computation(adult):
    from sklearn.linear_model import LogisticRegression

    X, y, test = adult
    model = adult_pipeline(LogisticRegression(max_iter=500)).fit(X, y)
    with pytest.raises(ExplanationError, match="without background data.*background="):
        DecisionExplainer.build(model, metadata=ModelMetadata())
    background = X.iloc[:150]
    explainer = DecisionExplainer.build(model, metadata=ModelMetadata(), background=background)
    assert explainer.method == "linear"
    assert explainer.background_fingerprint == fingerprint(background[ADULT_CAT + ADULT_NUM])
    encode, final = model[:-1], model[-1]
    # LinearSHAP by hand: phi_j = coef_j * (x_j - mean_j) on the encoded columns, summed back
    mean = encode.transform(background).mean(axis=0)
    Xt = encode.transform(test.iloc[:10])
    phi = final.coef_[0] * (Xt - mean)
    expected = sum_back(phi, encode.get_feature_names_out(), ADULT_CAT + ADULT_NUM)
    base = final.intercept_[0] + final.coef_[0] @ mean
    for i, row in enumerate(rows_of(test, 10)):
        ex = explainer.explain(row)
        np.testing.assert_allclose(list(ex.attributions.values()), expected[i], atol=1e-9)
        assert ex.base_value == pytest.approx(base, abs=1e-9)
        assert ex.background == explainer.background_fingerprint
        assert ex.reliable


def test_random_forest_without_background(credit):
    from sklearn.ensemble import RandomForestClassifier

    X, y, test = credit
    model = RandomForestClassifier(n_estimators=15, max_depth=5, random_state=0).fit(X, y)
    explainer = DecisionExplainer.build(model, metadata=credit_metadata())
    assert explainer.method == "tree" and explainer.output_space == "probability"
    reference = load_shap().TreeExplainer(model)(test.iloc[:5], check_additivity=False)
    for i, row in enumerate(rows_of(test, 5)):
        ex = explainer.explain(row)
        np.testing.assert_allclose(
            list(ex.attributions.values()), reference.values[i, :, 1], atol=1e-12
        )
        assert ex.score == model.predict_proba(row)[0, 1]
        assert ex.reliable


def test_xgboost_uses_its_float32_tolerance(credit):
    xgboost = pytest.importorskip("xgboost")
    X, y, test = credit
    model = xgboost.XGBClassifier(n_estimators=30, max_depth=4, n_jobs=1).fit(X, y)
    explainer = DecisionExplainer.build(model, metadata=credit_metadata())
    assert explainer.method == "xgboost-native"
    assert explainer.tolerance == 1e-5
    contribs = model.get_booster().predict(xgboost.DMatrix(test.iloc[:8]), pred_contribs=True)
    for i, row in enumerate(rows_of(test, 8)):
        ex = explainer.explain(row)
        np.testing.assert_allclose(list(ex.attributions.values()), contribs[i, :-1], atol=1e-6)
        assert ex.reliable


def test_multiclass_needs_a_positive_class(credit):
    X, _, test = credit
    y3 = pd.cut(X["income"], 3, labels=["low", "mid", "high"]).astype(str)
    model = lgbm_classifier(n_estimators=20).fit(X, y3)
    with pytest.raises(ExplanationError, match="positive_class"):
        DecisionExplainer.build(model, metadata=ModelMetadata())
    explainer = DecisionExplainer.build(model, metadata=ModelMetadata(), positive_class="high")
    proba = model.predict_proba(test.iloc[:20])
    high = list(model.classes_).index("high")
    for i, row in enumerate(rows_of(test, 20)):
        ex = explainer.explain(row)
        assert ex.score == proba[i, high]
        if ex.score >= 0.5:
            assert ex.prediction == "high"
        else:  # the likeliest of the other classes
            others = {c: p for c, p in zip(model.classes_, proba[i], strict=True) if c != "high"}
            assert ex.prediction == max(others, key=others.get)
        assert ex.reliable


def test_default_tolerance_agrees_with_the_coverage_check(lgbm, adult):
    from sklearn.linear_model import LogisticRegression

    from govkit.checks.explanation import default_tolerance as coverage_tolerance

    xgboost = pytest.importorskip("xgboost")
    X, y, _ = adult
    for model in (lgbm, xgboost.XGBClassifier(), adult_pipeline(LogisticRegression())):
        assert default_tolerance(model) == coverage_tolerance(model)
    assert default_tolerance(adult_pipeline(xgboost.XGBClassifier())) == 1e-5


# -- additivity: an explanation that does not add up says so ---------------------------------


def test_a_perturbed_attribution_is_marked_unreliable(lgbm, credit, monkeypatch, caplog):
    _, _, test = credit
    explainer = DecisionExplainer.build(lgbm, metadata=credit_metadata())
    backend = explainer._backend
    honest = backend.explain_row

    def perturbed(row):
        result = honest(row)
        return dataclasses.replace(result, values=result.values + np.eye(len(CREDIT))[0] * 1e-3)

    monkeypatch.setattr(backend, "explain_row", perturbed)
    row = test.iloc[[0]]
    with caplog.at_level(logging.WARNING, logger="govkit.explainers._decision"):
        ex = explainer.explain(row)
    assert ex.reliable is False
    assert ex.additivity_error == pytest.approx(1e-3, rel=1e-6)
    (record,) = [r for r in caplog.records if r.name == "govkit.explainers._decision"]
    # numbers of the check only: no feature values in the log
    assert re.fullmatch(
        r"explanation failed its additivity check \(error [0-9.e+-]+, tolerance 1e-06, "
        r"method lightgbm-native\); it is marked unreliable",
        record.getMessage(),
    )


def test_tolerance_option_decides_reliability(adult):
    from sklearn.linear_model import LogisticRegression

    X, y, test = adult
    model = adult_pipeline(LogisticRegression(max_iter=500)).fit(X, y)
    strict = DecisionExplainer.build(
        model, metadata=ModelMetadata(), background=X.iloc[:150], tolerance=0.0
    )
    results = [strict.explain(row) for row in rows_of(test, 30)]
    assert all(ex.reliable == (ex.additivity_error == 0.0) for ex in results)
    assert any(not ex.reliable for ex in results)  # rounding is never exactly zero everywhere
    loose = DecisionExplainer.build(model, metadata=ModelMetadata(), background=X.iloc[:150])
    assert all(loose.explain(row).reliable for row in rows_of(test, 30))


# -- thread safety -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lightgbm", "sklearn-tree"])
def test_concurrent_explanations_equal_sequential_ones(kind, lgbm, credit):
    from sklearn.ensemble import RandomForestClassifier

    X, y, test = credit
    if kind == "lightgbm":
        model = lgbm
    else:
        model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    explainer = DecisionExplainer.build(model, metadata=credit_metadata(counterfactual=True))
    rows = rows_of(test, 24)
    expected = [explainer.explain(row).model_dump() for row in rows]
    jobs = [i % len(rows) for i in range(96)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda i: explainer.explain(rows[i]).model_dump(), jobs))
    for i, result in zip(jobs, got, strict=True):
        assert result == expected[i]


# -- bad input -------------------------------------------------------------------------------


def test_bad_rows_are_input_errors_without_values(lgbm_explainer, credit):
    _, _, test = credit
    with pytest.raises(InputError, match="pandas DataFrame.*got dict"):
        lgbm_explainer.explain(test.iloc[0].to_dict())
    with pytest.raises(InputError, match="exactly one row; got 2"):
        lgbm_explainer.explain(test.iloc[:2])
    with pytest.raises(InputError, match="missing 1 column.*'income'"):
        lgbm_explainer.explain(test.iloc[[0]].drop(columns="income"))
    bad = test.iloc[[0]].astype({"income": object})
    bad.iloc[0, 0] = "secret-salary-123"
    with pytest.raises(InputError, match=r"takes numbers.*\['income'\]") as info:
        lgbm_explainer.explain(bad)
    assert "secret-salary-123" not in str(info.value)
    # extra and reordered columns are fine
    shuffled = test.iloc[[0]][list(reversed(CREDIT))].assign(extra=1)
    assert lgbm_explainer.explain(shuffled) == lgbm_explainer.explain(test.iloc[[0]])
    with pytest.raises(InputError, match="rows must be a pandas DataFrame"):
        lgbm_explainer.score(test.to_numpy())


@pytest.mark.parametrize("reasons", [-1, True, "3", 2.5])
def test_bad_reason_count(lgbm_explainer, credit, reasons):
    with pytest.raises(InputError, match=f"reasons must be a whole number >= 0; got {reasons!r}"):
        lgbm_explainer.explain(credit[2].iloc[[0]], reasons=reasons)


def test_bad_locale(lgbm_explainer, credit):
    with pytest.raises(InputError, match="locale must look like 'en' or 'pt-BR'"):
        lgbm_explainer.explain(credit[2].iloc[[0]], locale="../../etc")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tolerance": -1.0}, "tolerance must be a number >= 0; got -1.0"),
        ({"tolerance": "tight"}, "tolerance must be a number >= 0; got 'tight'"),
        ({"counterfactual_budget": 0}, "counterfactual_budget must be a whole number >= 1"),
        ({"max_background": 0}, "max_background must be a whole number >= 1"),
        ({"opposing_reasons": -1}, "opposing_reasons must be a whole number >= 0"),
    ],
)
def test_bad_build_options(lgbm, options, message):
    with pytest.raises(ExplanationError, match=message):
        DecisionExplainer.build(lgbm, metadata=ModelMetadata(), **options)


def test_bad_models_and_metadata(lgbm, credit):
    X, _, _ = credit
    with pytest.raises(ExplanationError, match="metadata must be a govkit ModelMetadata"):
        DecisionExplainer.build(lgbm, metadata={"features": {}})
    with pytest.raises(ExplanationError, match="not fitted"):
        DecisionExplainer.build(lgbm_classifier(), metadata=ModelMetadata())
    with pytest.raises(ExplanationError, match="cannot explain a builtins.str"):
        DecisionExplainer.build("model.txt", metadata=ModelMetadata())
    with pytest.raises(ExplanationError, match="background is missing 1 column.*'income'"):
        DecisionExplainer.build(lgbm, metadata=ModelMetadata(), background=X.drop(columns="income"))


def test_build_once_explain_many(lgbm, credit):
    """explain() builds nothing: the backend and its state are the same objects after calls."""
    explainer = DecisionExplainer.build(lgbm, metadata=credit_metadata())
    backend, texts = explainer._backend, explainer._texts
    for row in rows_of(credit[2], 5):
        explainer.explain(row)
    assert explainer._backend is backend and explainer._texts is texts
    assert "lightgbm-native" in repr(explainer)


def test_unused_feature_has_zero_attribution_and_regressor_scores(credit):
    X, y, test = credit
    model = lightgbm.LGBMRegressor(n_estimators=20, n_jobs=1, verbose=-1).fit(
        X.assign(constant=1.0), X["income"] / 1000
    )
    explainer = DecisionExplainer.build(
        model, metadata=ModelMetadata(decision=DecisionSpec(threshold=0.5))
    )
    assert explainer.method == "lightgbm-native" and explainer.output_space == "raw"
    row = test.iloc[[0]].assign(constant=1.0)
    ex = explainer.explain(row)
    assert ex.attributions["constant"] == 0.0
    assert ex.score == model.predict(row)[0] and ex.prediction == ex.score
    assert ex.reliable
    assert all(r.feature != "constant" for r in ex.reasons)


def test_models_without_structure_use_the_permutation_explainer(credit):
    from sklearn.naive_bayes import GaussianNB

    X, y, test = credit
    model = GaussianNB().fit(X, y)
    with pytest.raises(ExplanationError, match="GaussianNB has no tree structure"):
        DecisionExplainer.build(model, metadata=credit_metadata())
    background = X.iloc[:40]
    explainer = DecisionExplainer.build(model, metadata=credit_metadata(), background=background)
    assert explainer.method == "permutation" and explainer.output_space == "probability"
    assert explainer.background_fingerprint == fingerprint(background)
    for row in rows_of(test, 3):
        ex = explainer.explain(row)
        assert ex.score == model.predict_proba(row)[0, 1]
        # P(x) - E[P(background)] is split among the features, exactly
        assert ex.base_value == pytest.approx(model.predict_proba(background)[:, 1].mean())
        assert ex.base_value + sum(ex.attributions.values()) == pytest.approx(ex.score, abs=1e-9)
        assert ex.reliable


def test_nullable_and_missing_values(lgbm_explainer, lgbm, credit):
    _, _, test = credit
    row = test.iloc[[0]].astype({"late_payments": "Int64"})
    row.loc[row.index[0], "late_payments"] = pd.NA  # LightGBM treats missing natively
    ex = lgbm_explainer.explain(row)
    as_float = row.astype({"late_payments": float})
    assert ex.score == lgbm.predict_proba(as_float)[0, 1]
    assert ex.reliable
    shown = {r.feature: r for r in lgbm_explainer.explain(row, reasons=6).reasons}
    if "late_payments" in shown:
        assert shown["late_payments"].value is None
        assert shown["late_payments"].display_value == "not given"


def test_tree_models_ignore_a_given_background(lgbm, credit):
    from govkit.explainers._single_row import LightGBMFast

    X, _, test = credit
    background = X.iloc[:50].assign(repaid=1, flag=True)  # extra columns are ignored
    explainer = DecisionExplainer.build(lgbm, metadata=credit_metadata(), background=background)
    assert isinstance(explainer._backend, LightGBMFast)  # LightGBM's single-row API
    assert explainer.background_fingerprint is None  # path-dependent: the background is unused
    plain = DecisionExplainer.build(lgbm, metadata=credit_metadata())
    for row in rows_of(test, 5):
        assert explainer.explain(row) == plain.explain(row)


def test_the_metadata_asks_for_counterfactuals_of_adverse_decisions_only(lgbm, credit):
    _, _, test = credit
    explainer = DecisionExplainer.build(lgbm, metadata=credit_metadata(counterfactual=True))
    results = [explainer.explain(row) for row in rows_of(test, 40)]
    favourable = [r for r in results if r.favourable]
    adverse = [r for r in results if not r.favourable]
    assert favourable and adverse
    assert all(r.counterfactual is None for r in favourable)
    assert all(r.counterfactual is not None for r in adverse)
    row = rows_of(test, 40)[results.index(favourable[0])]
    assert explainer.explain(row, counterfactual=True).counterfactual is not None
    assert explainer.explain(rows_of(test, 40)[results.index(adverse[0])],
                             counterfactual=False).counterfactual is None  # fmt: skip


def test_may_wait_only_with_a_locked_explainer_or_a_counterfactual_search(lgbm, credit):
    """What the HTTP API asks before explaining on its event loop (DecisionService.decide)."""
    from sklearn.ensemble import RandomForestClassifier

    X, y, _ = credit
    native = DecisionExplainer.build(lgbm, metadata=ModelMetadata())
    assert native.method == "lightgbm-native"
    assert (native.may_wait(), native.may_wait(False), native.may_wait(True)) == (
        False,
        False,
        True,
    )
    searching = DecisionExplainer.build(
        lgbm, metadata=ModelMetadata(decision=DecisionSpec(counterfactual=True))
    )
    assert searching.may_wait() and not searching.may_wait(False)
    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    shap_tree = DecisionExplainer.build(forest, metadata=ModelMetadata())
    assert shap_tree.method == "tree" and shap_tree.may_wait(False)  # shap's: one at a time
