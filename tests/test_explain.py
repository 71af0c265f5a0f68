"""govkit.explainers on the bundled Adult data: method choice, additivity, sum-back, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from govkit.exceptions import EvaluationError
from govkit.explainers import Attributions, Explainer, ExplanationError, make_explainer
from govkit.explainers._shap import load_shap

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "credit"))
from adult import CATEGORICAL, COLUMNS, NUMERIC, POSITIVE, TARGET, load_adult  # noqa: E402

shap = load_shap()  # imported as govkit does, without matplotlib's import-time notice
FEATURES = [c for c in COLUMNS if c != TARGET]  # original order
EXACT = 1e-6  # tree / linear explanations: additivity against the model's own output
PERMUTATION_TOL = 1e-9  # permutation: additive by construction, rounding only


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """OpenMP models (HistGradientBoosting, KNN distances) crawl on a busy 2-core runner."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """2,000 training rows (X, y) and 200 other rows to explain."""
    df = load_adult("train").sample(n=2200, random_state=0)
    X, y = df[FEATURES], df[TARGET]
    return X.iloc[:2000], y.iloc[:2000], X.iloc[2000:]


def _one_hot(numeric: object = "passthrough") -> ColumnTransformer:
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    return ColumnTransformer([("cat", encoder, CATEGORICAL), ("num", numeric, NUMERIC)])


@pytest.fixture(scope="module")
def hgb(adult):
    X, y, _ = adult
    model = Pipeline([("pre", _one_hot()), ("clf", HistGradientBoostingClassifier(max_iter=60))])
    return model.fit(X, y)


@pytest.fixture(scope="module")
def logistic(adult):
    X, y, _ = adult
    model = Pipeline(
        [("pre", _one_hot(StandardScaler())), ("clf", LogisticRegression(max_iter=2000))]
    )
    return model.fit(X, y)


@pytest.fixture(scope="module")
def numeric(adult):
    """Numeric features and a 0/1 label (what LightGBM / XGBoost tests train on)."""
    X, y, rows = adult
    return X[NUMERIC], (y == POSITIVE).astype(int), rows[NUMERIC]


# --- tree ------------------------------------------------------------------------------------


def test_hist_gradient_boosting_pipeline_is_exact_on_original_columns(adult, hgb):
    X, _, rows = adult
    explainer = make_explainer(hgb, X)
    assert isinstance(explainer, Explainer)
    assert (explainer.method, explainer.output_space) == ("tree", "log_odds")
    assert explainer.feature_names == tuple(FEATURES)

    att = explainer.explain(rows)
    assert isinstance(att, Attributions)
    assert att.values.shape == (200, 14) and att.feature_names == tuple(FEATURES)
    np.testing.assert_allclose(att.model_output, hgb.decision_function(rows), rtol=0, atol=1e-12)
    assert att.additivity_error().max() <= EXACT
    assert att.valid(EXACT).all()


def test_sum_back_equals_shaps_own_one_hot_values(adult, hgb):
    X, _, rows = adult
    att = make_explainer(hgb, X).explain(rows)

    pre, clf = hgb.named_steps["pre"], hgb.named_steps["clf"]
    reference = shap.TreeExplainer(clf, feature_perturbation="tree_path_dependent")(
        pre.transform(rows), check_additivity=False
    )
    out_names = list(pre.get_feature_names_out())
    for column in FEATURES:
        if column in CATEGORICAL:
            own = [j for j, n in enumerate(out_names) if n.startswith(f"cat__{column}_")]
            assert len(own) == len(
                pre.named_transformers_["cat"].categories_[CATEGORICAL.index(column)]
            )
        else:
            own = [out_names.index(f"num__{column}")]
        expected = reference.values[:, own].sum(axis=1)
        np.testing.assert_allclose(att.values[:, FEATURES.index(column)], expected, atol=1e-12)
    np.testing.assert_allclose(att.base_values, reference.base_values, atol=1e-12)


def test_string_labels_explain_the_requested_class(adult, hgb):
    X, _, rows = adult
    assert list(hgb.classes_) == ["<=50K", ">50K"]
    positive = make_explainer(hgb, X, positive_class=">50K").explain(rows)
    negative = make_explainer(hgb, X, positive_class="<=50K").explain(rows)
    np.testing.assert_allclose(negative.values, -positive.values, atol=1e-12)
    np.testing.assert_allclose(negative.model_output, -hgb.decision_function(rows), atol=1e-12)
    assert negative.additivity_error().max() <= EXACT
    # a row the model scores as >50K gets a positive total attribution for ">50K"
    high = hgb.predict(rows) == ">50K"
    assert high.any()
    assert (positive.values[high].sum(1) + positive.base_values[high] > 0).all()


def test_unknown_positive_class_names_the_classes(adult, hgb):
    X, _, _ = adult
    with pytest.raises(ExplanationError, match=r"'>50k' is not one of .*did you mean '>50K'"):
        make_explainer(hgb, X, positive_class=">50k")


def test_random_forest_is_explained_in_probability_space(adult):
    X, y, rows = adult
    model = Pipeline(
        [
            ("pre", _one_hot()),
            ("clf", RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0)),
        ]
    )
    model.fit(X, y)
    explainer = make_explainer(model, X)
    assert (explainer.method, explainer.output_space) == ("tree", "probability")
    att = explainer.explain(rows)
    np.testing.assert_allclose(att.model_output, model.predict_proba(rows)[:, 1], atol=1e-12)
    assert att.additivity_error().max() <= EXACT


def test_lightgbm_equals_native_contributions(numeric):
    lightgbm = pytest.importorskip("lightgbm")
    X, y, rows = numeric
    model = lightgbm.LGBMClassifier(n_estimators=40, n_jobs=1, verbose=-1).fit(X, y)
    explainer = make_explainer(model, X)
    assert (explainer.method, explainer.output_space) == ("tree", "log_odds")
    att = explainer.explain(rows)
    native = model.booster_.predict(rows, pred_contrib=True)
    np.testing.assert_allclose(att.values, native[:, :-1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(att.base_values, native[:, -1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(att.model_output, model.predict(rows, raw_score=True), atol=1e-12)
    assert att.additivity_error().max() <= EXACT


def test_xgboost_equals_native_contributions(numeric):
    xgboost = pytest.importorskip("xgboost")
    X, y, rows = numeric
    model = xgboost.XGBClassifier(n_estimators=40, max_depth=4, n_jobs=1).fit(X, y)
    explainer = make_explainer(model, X)
    assert (explainer.method, explainer.output_space) == ("tree", "log_odds")
    att = explainer.explain(rows)
    native = model.get_booster().predict(xgboost.DMatrix(rows), pred_contribs=True)
    np.testing.assert_allclose(att.values, native[:, :-1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(att.base_values, native[:, -1], rtol=0, atol=1e-6)
    # XGBoost computes in float32, so additivity holds to float32 rounding, not 1e-12.
    assert att.additivity_error().max() <= 1e-5


def test_multiclass_needs_a_positive_class(numeric):
    lightgbm = pytest.importorskip("lightgbm")
    X, _, rows = numeric
    y = pd.cut(X["age"], [0, 30, 45, 200], labels=["young", "middle", "older"]).astype(str)
    model = lightgbm.LGBMClassifier(n_estimators=20, n_jobs=1, verbose=-1).fit(
        X.drop(columns="age"), y
    )
    with pytest.raises(ExplanationError, match="3 classes .*positive_class="):
        make_explainer(model, X)
    att = make_explainer(model, X, positive_class="middle").explain(rows)
    assert att.feature_names == tuple(c for c in NUMERIC if c != "age")
    index = list(model.classes_).index("middle")
    np.testing.assert_allclose(
        att.model_output, model.predict(rows.drop(columns="age"), raw_score=True)[:, index]
    )
    assert att.additivity_error().max() <= EXACT


def test_regressors_are_explained_in_raw_space(numeric):
    X, _, rows = numeric
    target = X["hours-per-week"] * 0.5 + X["education-num"]
    for model, method in (
        (GradientBoostingRegressor(n_estimators=30), "tree"),
        (Ridge(), "linear"),
    ):
        model.fit(X, target)
        explainer = make_explainer(model, X)
        assert (explainer.method, explainer.output_space) == (method, "raw")
        att = explainer.explain(rows)
        np.testing.assert_allclose(att.model_output, model.predict(rows), atol=1e-12)
        assert att.additivity_error().max() <= EXACT


# --- linear ----------------------------------------------------------------------------------


def test_logistic_pipeline_is_linear_and_additive_in_log_odds(adult, logistic):
    X, _, rows = adult
    explainer = make_explainer(logistic, X)
    assert (explainer.method, explainer.output_space) == ("linear", "log_odds")
    att = explainer.explain(rows)
    assert att.feature_names == tuple(FEATURES)
    np.testing.assert_allclose(att.model_output, logistic.decision_function(rows), atol=1e-12)
    assert att.additivity_error().max() <= EXACT
    # interventional linear SHAP: phi_j = coef_j * (x_j - mean_j), summed over one-hot columns
    pre, clf = logistic.named_steps["pre"], logistic.named_steps["clf"]
    background = pre.transform(X.sample(n=200, random_state=0))
    phi = clf.coef_[0] * (pre.transform(rows) - background.mean(axis=0))
    age = list(pre.get_feature_names_out()).index("num__age")
    np.testing.assert_allclose(att.values[:, FEATURES.index("age")], phi[:, age], atol=1e-10)


def test_explicit_method_that_does_not_fit_the_model_is_refused(adult, logistic):
    X, _, _ = adult
    with pytest.raises(
        ExplanationError,
        match=r"method='tree' cannot explain .*LogisticRegression is a linear model",
    ):
        make_explainer(logistic, X, method="tree")


# --- model-agnostic fallback -------------------------------------------------------------------


def test_model_without_structure_falls_back_to_permutation(adult):
    X, y, rows = adult
    model = Pipeline([("pre", _one_hot(StandardScaler())), ("clf", KNeighborsClassifier(15))])
    model.fit(X.iloc[:600], y.iloc[:600])
    explainer = make_explainer(model, X, max_background=25)
    assert (explainer.method, explainer.output_space) == ("permutation", "probability")
    assert "KNeighborsClassifier" in explainer.fallback_reason
    att = explainer.explain(rows.iloc[:12])
    assert att.values.shape == (12, 14)
    np.testing.assert_allclose(
        att.model_output, model.predict_proba(rows.iloc[:12])[:, 1], atol=1e-12
    )
    assert att.additivity_error().max() <= PERMUTATION_TOL
    assert att.valid(PERMUTATION_TOL).all()


def test_pca_pipeline_falls_back_and_is_reproducible(adult):
    X, y, rows = adult
    model = Pipeline(
        [("pre", _one_hot(StandardScaler())), ("pca", PCA(8)), ("clf", LogisticRegression())]
    )
    model.fit(X, y)
    explainer = make_explainer(model, X, max_background=30, random_state=3)
    assert explainer.method == "permutation"
    assert "PCA" in explainer.fallback_reason
    with pytest.raises(ExplanationError, match="PCA"):
        make_explainer(model, X, method="linear")

    before = np.random.get_state()[1].copy()
    first = explainer.explain(rows.iloc[:10])
    assert (np.random.get_state()[1] == before).all(), "the global numpy RNG was disturbed"
    again = make_explainer(model, X, max_background=30, random_state=3).explain(rows.iloc[:10])
    np.testing.assert_array_equal(first.values, again.values)
    np.testing.assert_allclose(
        first.model_output, model.predict_proba(rows.iloc[:10])[:, 1], atol=1e-12
    )
    assert first.additivity_error().max() <= PERMUTATION_TOL
    # features the model uses carry attribution; the background sample is 30 rows
    assert set(first.mean_abs()) == set(FEATURES)


# --- inputs and errors ---------------------------------------------------------------------------


def test_missing_column_is_named(adult, hgb):
    X, _, rows = adult
    explainer = make_explainer(hgb, X)
    with pytest.raises(
        ExplanationError, match=r"X is missing 1 column\(s\) the model needs: 'age'"
    ) as info:
        explainer.explain(rows.drop(columns="age"))
    assert isinstance(info.value, EvaluationError)
    with pytest.raises(ExplanationError, match=r"'occupation' \(did you mean 'Occupation'\?\)"):
        explainer.explain(rows.rename(columns={"occupation": "Occupation"}))
    with pytest.raises(ExplanationError, match="background is missing .*'sex'"):
        make_explainer(hgb, X.drop(columns="sex"))


def test_extra_and_reordered_columns_are_accepted(adult, hgb):
    X, y, rows = adult
    explainer = make_explainer(hgb, X)
    plain = explainer.explain(rows)
    shuffled = rows.assign(income=y.iloc[:200].to_numpy())[list(reversed(FEATURES)) + ["income"]]
    np.testing.assert_array_equal(explainer.explain(shuffled).values, plain.values)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (object(), r"cannot explain a builtins.object; supported models: a fitted scikit-learn"),
        (LogisticRegression(), "LogisticRegression is not fitted"),
    ],
)
def test_unsupported_models_say_what_is_supported(adult, model, message):
    X, _, _ = adult
    with pytest.raises(ExplanationError, match=message):
        make_explainer(model, X)


def test_bad_options_are_reported(adult, hgb):
    X, _, rows = adult
    with pytest.raises(
        ExplanationError,
        match=r"method must be one of \['auto', 'tree', 'linear', 'permutation'\]; got 'shap'",
    ):
        make_explainer(hgb, X, method="shap")
    with pytest.raises(ExplanationError, match="max_background must be a whole number >= 1; got 0"):
        make_explainer(hgb, X, max_background=0)
    with pytest.raises(ExplanationError, match="background must be a pandas DataFrame"):
        make_explainer(hgb, X.to_numpy())
    with pytest.raises(ExplanationError, match="background has no rows"):
        make_explainer(hgb, X.iloc[:0])


def test_no_rows_give_empty_attributions(adult, hgb):
    X, _, rows = adult
    att = make_explainer(hgb, X).explain(rows.iloc[:0])
    assert att.values.shape == (0, 14) and att.valid(1e-6).shape == (0,)
    assert set(att.mean_abs()) == set(FEATURES)


def test_global_importance_is_sorted(adult, hgb):
    X, _, rows = adult
    importance = make_explainer(hgb, X).explain(rows).mean_abs()
    assert list(importance) != FEATURES and set(importance) == set(FEATURES)
    values = list(importance.values())
    assert values == sorted(values, reverse=True)
    assert next(iter(importance)) in {"relationship", "marital-status", "capital-gain", "age"}


def test_shap_loads_lazily_and_quietly():
    """import govkit stays cheap; building an explainer imports shap without any warning."""
    code = (
        "import sys, govkit, govkit.explainers\n"
        "assert 'shap' not in sys.modules, 'shap loaded at import'\n"
        "import pandas as pd\n"
        "from sklearn.linear_model import LinearRegression\n"
        "X = pd.DataFrame({'a': [0.0, 1.0, 2.0], 'b': [1.0, 0.0, 1.0]})\n"
        "model = LinearRegression().fit(X, [0.0, 1.0, 3.0])\n"
        "govkit.explainers.make_explainer(model, X).explain(X)\n"
        "assert 'shap' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)
