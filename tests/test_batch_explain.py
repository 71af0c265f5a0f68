"""Batch explanations: LightGBM / XGBoost through their own TreeSHAP, summed back to the
original columns, chunked; equal to make_explainer (shap) and to the native numbers."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from govkit.explainers import ExplanationError, make_explainer
from govkit.explainers._batch import NativeTreeExplainer, explain_batch, make_batch_explainer

lightgbm = pytest.importorskip("lightgbm")
xgboost = pytest.importorskip("xgboost")

CATEGORICAL = ["colour", "size"]
NUMERIC = ["x0", "x1", "x2"]
FEATURES = [*CATEGORICAL, *NUMERIC]


def make_data(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue", "grey"], n),
            "size": rng.choice(["S", "M", "L"], n),
            **{c: rng.normal(size=n) for c in NUMERIC},
        }
    )
    score = X["x0"] + X["x1"] * X["x2"] + (X["colour"] == "red") - (X["size"] == "S")
    y = pd.Series(np.where(score + rng.normal(size=n) > 0.3, "approve", "deny"), name="y")
    return X, y


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """OpenMP models crawl on a busy 2-core runner."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data():
    X, y = make_data(1_500)
    return X.iloc[:1_200], y.iloc[:1_200], X.iloc[1_200:]


def one_hot_pipeline(estimator) -> Pipeline:
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    pre = ColumnTransformer([("cat", encoder, CATEGORICAL), ("num", "passthrough", NUMERIC)])
    return Pipeline([("pre", pre), ("model", estimator)])


def lgbm(**kwargs):
    return lightgbm.LGBMClassifier(n_estimators=30, n_jobs=1, verbose=-1, **kwargs)


def xgbc(**kwargs):
    return xgboost.XGBClassifier(n_estimators=30, max_depth=4, n_jobs=1, **kwargs)


def fit_binary(estimator, X, y):
    """XGBoost wants 0/1 labels; LightGBM takes the strings."""
    if isinstance(estimator, xgboost.XGBClassifier):
        return one_hot_pipeline(estimator).fit(X, (y == "approve").astype(int))
    return one_hot_pipeline(estimator).fit(X, y)


def assert_same(a, b, *, atol=0.0):
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=atol)
    np.testing.assert_allclose(a.base_values, b.base_values, rtol=0, atol=atol)
    np.testing.assert_allclose(a.model_output, b.model_output, rtol=0, atol=atol)
    assert (a.feature_names, a.method, a.output_space) == (
        b.feature_names,
        b.method,
        b.output_space,
    )


@pytest.mark.parametrize("estimator", [lgbm, xgbc], ids=["lightgbm", "xgboost"])
def test_native_contributions_equal_shaps_tree_explainer(data, estimator):
    X, y, rows = data
    model = fit_binary(estimator(), X, y)
    native = make_batch_explainer(model, X)
    assert isinstance(native, NativeTreeExplainer)
    assert (native.method, native.output_space) == ("tree", "log_odds")
    ours = native.explain(rows)
    assert_same(ours, make_explainer(model, X).explain(rows), atol=1e-12)
    assert ours.feature_names == tuple(FEATURES)
    tol = 1e-9 if estimator is lgbm else 1e-5  # XGBoost computes in float32
    assert ours.additivity_error().max() <= tol


def test_one_hot_columns_are_summed_back_to_their_input(data):
    X, y, rows = data
    model = fit_binary(lgbm(), X, y)
    att = make_batch_explainer(model, X).explain(rows)
    Xt = model[:-1].transform(rows)
    phi = model[-1].booster_.predict(Xt, pred_contrib=True)
    names = model[:-1].get_feature_names_out()
    for j, feature in enumerate(FEATURES):
        produced = [k for k, n in enumerate(names) if n.split("__")[1].startswith(feature)]
        assert produced, feature
        np.testing.assert_allclose(att.values[:, j], phi[:, produced].sum(axis=1), atol=1e-12)
    np.testing.assert_array_equal(att.base_values, phi[:, -1])
    np.testing.assert_array_equal(att.model_output, model[-1].predict(Xt, raw_score=True))


@pytest.mark.parametrize("estimator", [lgbm, xgbc], ids=["lightgbm", "xgboost"])
def test_chunks_do_not_change_any_number(data, estimator):
    X, y, rows = data
    explainer = make_batch_explainer(fit_binary(estimator(), X, y), X)
    whole = explainer.explain(rows)
    seen = []
    chunked = explain_batch(
        explainer, rows, chunk_size=70, progress=lambda d, t: seen.append((d, t))
    )
    assert_same(chunked, whole)
    assert seen == [(min(k * 70, 300), 300) for k in range(1, 6)]


@pytest.mark.parametrize("estimator", [lgbm, xgbc], ids=["lightgbm", "xgboost"])
def test_first_class_and_multiclass_equal_shap(data, estimator):
    X, y, rows = data
    binary = fit_binary(estimator(), X, y)
    first = binary.classes_[0]
    assert_same(
        make_batch_explainer(binary, X, positive_class=first).explain(rows),
        make_explainer(binary, X, positive_class=first).explain(rows),
        atol=1e-12,
    )
    bands = pd.cut(X["x0"], [-np.inf, -0.5, 0.5, np.inf], labels=False).astype(int)
    multi = one_hot_pipeline(estimator()).fit(X, bands)
    with pytest.raises(ExplanationError, match="3 classes"):
        make_batch_explainer(multi, X)
    native = make_batch_explainer(multi, X, positive_class=2)
    assert isinstance(native, NativeTreeExplainer)
    ours = native.explain(rows)
    assert_same(ours, make_explainer(multi, X, positive_class=2).explain(rows), atol=1e-12)
    assert ours.additivity_error().max() <= 1e-5


def test_regressor_and_early_stopping_add_up(data):
    X, y, rows = data
    target = X["x0"] * 2 + X["x1"]
    reg = one_hot_pipeline(lightgbm.LGBMRegressor(n_estimators=30, n_jobs=1, verbose=-1))
    reg.fit(X, target)
    att = make_batch_explainer(reg, X).explain(rows)
    assert att.output_space == "raw"
    np.testing.assert_allclose(att.model_output, reg.predict(rows), atol=1e-12)
    assert att.additivity_error().max() <= 1e-9

    # early stopping: contributions come from the same trees as the explained output
    Xt = reg[:-1].transform(X)
    stopped = lightgbm.LGBMRegressor(n_estimators=400, n_jobs=1, verbose=-1)
    held_out = (Xt[900:], target[900:])
    if "eval_X" in inspect.signature(stopped.fit).parameters:  # lightgbm >= 4.7
        evaluation = {"eval_X": held_out[0], "eval_y": held_out[1]}
    else:
        evaluation = {"eval_set": [held_out]}
    stopped.fit(
        Xt[:900], target[:900], callbacks=[lightgbm.early_stopping(5, verbose=False)], **evaluation
    )
    assert stopped.best_iteration_ < 400
    model = Pipeline([("pre", reg[:-1]), ("model", stopped)])
    att = make_batch_explainer(model, X).explain(rows)
    assert att.additivity_error().max() <= 1e-9


def test_bare_model_on_a_dataframe(data):
    X, y, rows = data
    model = lgbm().fit(X[NUMERIC], y)
    native = make_batch_explainer(model, X)
    assert isinstance(native, NativeTreeExplainer) and native.feature_names == tuple(NUMERIC)
    assert_same(native.explain(rows), make_explainer(model, X).explain(rows), atol=1e-12)


def test_other_models_get_make_explainers_explainer(data):
    X, y, rows = data
    hgb = one_hot_pipeline(HistGradientBoostingClassifier(max_iter=20)).fit(X, y)
    batch = make_batch_explainer(hgb, X)
    assert type(batch) is type(make_explainer(hgb, X)) and batch.method == "tree"
    assert_same(batch.explain(rows), make_explainer(hgb, X).explain(rows))

    # preprocessing that mixes columns cannot be summed back: the permutation fallback
    mixed = Pipeline(
        [("pre", one_hot_pipeline(StandardScaler())[0]), ("pca", PCA(3)), ("model", lgbm())]
    ).fit(X, y)
    fallback = make_batch_explainer(mixed, X)
    assert fallback.method == "permutation" and "PCA" in (fallback.fallback_reason or "")


def test_errors_are_make_explainers(data):
    X, y, rows = data
    with pytest.raises(ExplanationError, match="LGBMClassifier is not fitted"):
        make_batch_explainer(lgbm(), X)
    model = fit_binary(lgbm(), X, y)
    with pytest.raises(ExplanationError, match="missing 1 column.*'colour'"):
        make_batch_explainer(model, X.drop(columns="colour"))
    explainer = make_batch_explainer(model, X)
    with pytest.raises(ExplanationError, match="missing 1 column.*'size'"):
        explain_batch(explainer, rows.drop(columns="size"))
    with pytest.raises(ExplanationError, match="chunk_size must be a whole number >= 1; got 0"):
        explain_batch(explainer, rows, chunk_size=0)
    empty = explain_batch(explainer, rows.iloc[:0])
    assert empty.values.shape == (0, len(FEATURES))


def test_thread_count_does_not_change_numbers(data):
    X, y, rows = data
    for estimator in (lgbm, xgbc):
        explainer = make_batch_explainer(fit_binary(estimator(), X, y), X)
        assert isinstance(explainer, NativeTreeExplainer)
        single = explainer.with_threads(1)
        assert single.n_threads == 1 and explainer.n_threads is None
        assert_same(single.explain(rows), explainer.explain(rows))
