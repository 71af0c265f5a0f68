"""performance.* rules per group (``by``) and for regressors, cross-checked with scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _rule_helpers import POS, by_id, one_thread, policy, record  # noqa: F401 (autouse)
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from govkit.evaluate import evaluate
from govkit.results import GroupEvidence, MetricsEvidence, Status


@pytest.fixture(scope="module")
def by_group(adult_model, adult_test):
    return by_id(
        evaluate(
            policy(
                "{id: acc-sex, kind: performance, metric: accuracy, by: sex, threshold: 0.8}",
                "{id: acc-race, kind: performance, metric: accuracy, by: [race], "
                "threshold: 0.87, min_group_size: 200}",
                "{id: auc-sex-race, kind: performance, metric: roc_auc, by: [sex, race], "
                "threshold: 0.8, min_group_size: 100}",
                "{id: f1, kind: performance, metric: f1, threshold: 0.6}",
            ),
            record(),
            adult_test,
            model=adult_model,
        )
    )


def test_per_group_values_equal_sklearn(by_group, adult_model, adult_test):
    X = adult_test[list(adult_model.feature_names_in_)]
    frame = adult_test.assign(
        _y=(adult_test["income"] == POS).astype(int),
        _p=(adult_model.predict(X) == POS).astype(int),
        _s=adult_model.predict_proba(X)[:, 1],
    )
    acc = frame.groupby("sex").apply(
        lambda g: skm.accuracy_score(g["_y"], g["_p"]), include_groups=False
    )
    check = by_group["acc-sex"]
    assert isinstance(check.evidence, GroupEvidence)
    got = {r.group: r.metrics["accuracy"] for r in check.evidence.groups}
    assert got == {(k,): pytest.approx(v, abs=1e-12) for k, v in acc.items()}
    assert check.value == pytest.approx(acc.min(), abs=1e-12)
    assert check.evidence.overall["accuracy"] == pytest.approx(
        skm.accuracy_score(frame["_y"], frame["_p"]), abs=1e-12
    )
    assert check.status == Status.PASS

    auc = frame.groupby(["sex", "race"]).apply(
        lambda g: skm.roc_auc_score(g["_y"], g["_s"]) if g["_y"].nunique() == 2 else np.nan,
        include_groups=False,
    )
    sizes = frame.groupby(["sex", "race"]).size()
    check = by_group["auc-sex-race"]
    rows = {r.group: r for r in check.evidence.groups}
    for key, value in auc.items():
        assert rows[key].count == sizes[key]
        assert rows[key].judged == (sizes[key] >= 100)
        if rows[key].metrics["roc_auc"] is not None:
            assert rows[key].metrics["roc_auc"] == pytest.approx(value, abs=1e-12)
    assert check.value == pytest.approx(auc[sizes >= 100].min(), abs=1e-12)


def test_small_and_failing_groups_are_named(by_group, adult_test):
    check = by_group["acc-race"]
    sizes = adult_test["race"].value_counts()
    small = sorted(sizes[sizes < 200].index)
    rows = {r.group[0]: r for r in check.evidence.groups}
    assert [g for g in rows if not rows[g].judged] == small
    failing = sorted(g for g, r in rows.items() if r.judged and r.metrics["accuracy"] < 0.87)
    assert failing, "the bound is chosen so that some group fails"
    assert check.status == Status.FAIL
    assert f"outside the bound: {', '.join(failing)}" in check.message
    assert "reported but not judged" in check.message
    # without 'by' the evidence stays the overall metrics with the confusion counts
    assert isinstance(by_group["f1"].evidence, MetricsEvidence)


@pytest.fixture(scope="module")
def regressor(adult_train):
    cat = ["workclass", "education", "occupation"]
    num = ["age", "education-num", "capital-gain"]
    encode = ColumnTransformer(
        [("c", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat)],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    model = Pipeline(
        [("e", encode), ("r", HistGradientBoostingRegressor(max_iter=30, random_state=0))]
    )
    return model.fit(adult_train[cat + num], adult_train["hours-per-week"])


REGRESSION = (
    "{id: r2, kind: performance, metric: r2, threshold: 0.05}",
    "{id: mae, kind: performance, metric: mae, threshold: 9}",
    "{id: rmse, kind: performance, metric: rmse, threshold: 11.5, by: sex}",
    "{id: mape, kind: performance, metric: mape, threshold: 0.25}",
    "{id: acc, kind: performance, metric: accuracy, threshold: 0.5}",
    "{id: dp, kind: fairness, metric: demographic_parity_ratio, sensitive_features: [sex], "
    "threshold: 0.8}",
)


@pytest.mark.parametrize("mode", ["model", "recorded"])
def test_regression_metrics_equal_sklearn(regressor, adult_test, mode):
    y = adult_test["hours-per-week"]
    pred = regressor.predict(adult_test[list(regressor.feature_names_in_)])
    kwargs = {"model": regressor} if mode == "model" else {"predictions": pred}
    checks = by_id(
        evaluate(policy(*REGRESSION), None, adult_test, target="hours-per-week", **kwargs)
    )
    assert checks["r2"].value == pytest.approx(skm.r2_score(y, pred), abs=1e-12)
    assert checks["mae"].value == pytest.approx(skm.mean_absolute_error(y, pred), abs=1e-12)
    assert checks["mape"].value == pytest.approx(
        skm.mean_absolute_percentage_error(y, pred), abs=1e-12
    )
    rmse = {
        sex: skm.root_mean_squared_error(
            y[adult_test["sex"] == sex], pred[adult_test["sex"] == sex]
        )
        for sex in ("Female", "Male")
    }
    assert checks["rmse"].value == pytest.approx(max(rmse.values()), abs=1e-12)
    assert checks["mae"].evidence.confusion is None
    assert checks["r2"].status == Status.PASS and checks["mae"].status == Status.PASS
    assert checks["mape"].status == Status.FAIL  # hours per week are hard to guess
    assert checks["acc"].status == Status.ERROR
    assert "accuracy is a classification metric, and the model is a regressor" in (
        checks["acc"].message
    )
    assert checks["dp"].status == Status.ERROR and "regressor" in checks["dp"].message


def test_regression_metric_on_a_classifier_is_an_error(adult_model, adult_test):
    check = evaluate(
        policy("{id: mae, kind: performance, metric: mae, threshold: 1}"),
        record(),
        adult_test,
        model=adult_model,
    ).checks[0]
    assert check.status == Status.ERROR
    assert "mae is a regression metric, and the model is a classifier" in check.message


def test_recorded_zero_one_labels_stay_a_classification():
    data = pd.DataFrame({"y": [0, 1, 1, 0, 1, 0], "g": list("aabbab")})
    check = evaluate(
        policy("{id: acc, kind: performance, metric: accuracy, threshold: 0.5}"),
        None,
        data,
        target="y",
        predictions=np.array([0, 1, 0, 0, 1, 1]),
        positive_label=1,
    ).checks[0]
    assert check.value == pytest.approx(4 / 6) and check.evidence.confusion["tp"] == 2


@pytest.mark.parametrize("metric", ["log_loss", "brier_score"])
def test_score_means_are_the_same_float_from_rows_and_from_partition_counts(metric):
    """The Dask engine's per-partition counts of distinct scores and the in-memory rows are
    summed over the same sorted (score, label) table: equal to the last bit (they were a
    few ulps apart: 0.2764510460819166 against 0.27645104608191656 on the Adult test set)."""
    from govkit.checks import _dask_stats
    from govkit.checks.performance import metric_value

    rng = np.random.default_rng(10)  # a seed where both sums differed in the last bit
    n = 20_000
    scores = np.round(rng.beta(2, 5, n), 4)  # ties, as a tree model's scores have
    frame = pd.DataFrame({"y": rng.random(n) < scores, "p": scores >= 0.5, "s": scores})
    rows = metric_value(
        metric, frame["y"], frame["p"], frame["s"].to_numpy(), pos_label=True, task="classification"
    )
    assert rows == pytest.approx(
        skm.log_loss(frame["y"], frame["s"])
        if metric == "log_loss"
        else skm.brier_score_loss(frame["y"], frame["s"]),
        abs=1e-15,
    )
    aggregate = _dask_stats.cells_aggregate(
        by=(), target="y", prediction="p", score="s", pos_label=True
    )
    parts = [aggregate.partial(frame.iloc[i::4], i) for i in (3, 1, 0, 2)]  # any order
    (table,) = aggregate.finish(aggregate.merge(parts)).values()
    counted = metric_value(
        metric,
        table["t"].to_numpy(),
        table["p"].to_numpy(),
        table["s"].to_numpy(),
        pos_label=True,
        task="classification",
        sample_weight=table["w"].to_numpy(dtype=float),
    )
    assert counted == rows


def test_a_message_never_rounds_a_miss_into_a_pass(adult_model, adult_test):
    X = adult_test[list(adult_model.feature_names_in_)]
    acc = skm.accuracy_score(adult_test["income"] == POS, adult_model.predict(X) == POS)
    printed = float(f"{acc:.4f}")  # what the message printed before
    # a bound a hair past the value, on the side 4 decimals round it to: the old message
    # read as meeting the bound next to FAIL
    end = "min" if printed > acc else "max"
    bound = acc + 1e-12 if end == "min" else acc - 1e-12
    (check,) = evaluate(
        policy(
            f"{{id: acc, kind: performance, metric: accuracy, threshold: {{{end}: {bound!r}}}}}"
        ),
        record(),
        adult_test,
        model=adult_model,
    ).checks
    assert check.status == Status.FAIL and check.bound is not None
    assert check.bound.holds(printed)
    value_text = check.message.split(" is ")[1].split(" ")[0]
    assert not check.bound.holds(float(value_text)), check.message
    assert f"required {'>=' if end == 'min' else '<='} {bound!r}" in check.message
