"""govkit.fairness equals fairlearn: per-group metrics, overall, between-group
difference/ratio and the four disparity functions, to 1e-12, NaN positions included."""

from __future__ import annotations

import ast
import dataclasses
import math
import sys
import warnings
from functools import partial
from pathlib import Path

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govkit.exceptions import InputError
from govkit.fairness import (
    COUNT_METRICS,
    DISPARITY_METRICS,
    FairnessInputError,
    GroupTable,
    group_table,
)

ATOL = 1e-12
ROOT = Path(__file__).resolve().parent.parent
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FL_DISPARITY = {
    "demographic_parity_difference": flm.demographic_parity_difference,
    "demographic_parity_ratio": flm.demographic_parity_ratio,
    "equalized_odds_difference": flm.equalized_odds_difference,
    "equalized_odds_ratio": flm.equalized_odds_ratio,
}


# -- fairlearn reference ----------------------------------------------------------------


def fl_metrics(pos_label):
    """fairlearn / scikit-learn functions for every COUNT_METRIC, plus fairlearn's count."""
    funcs = {
        "selection_rate": partial(flm.selection_rate, pos_label=pos_label),
        "true_positive_rate": partial(flm.true_positive_rate, pos_label=pos_label),
        "false_positive_rate": partial(flm.false_positive_rate, pos_label=pos_label),
        "false_negative_rate": partial(flm.false_negative_rate, pos_label=pos_label),
        "true_negative_rate": partial(flm.true_negative_rate, pos_label=pos_label),
        # zero_division=0 is what the default "warn" returns, without the warning
        "precision": partial(skm.precision_score, pos_label=pos_label, zero_division=0.0),
        "accuracy": skm.accuracy_score,
    }
    assert tuple(funcs) == COUNT_METRICS
    return funcs


def metric_frame(y_true, y_pred, sf, pos_label, weights=None, metrics=None):
    funcs = fl_metrics(pos_label)
    if metrics is not None:
        funcs = {m: funcs[m] for m in metrics}
    params = None if weights is None else {m: {"sample_weight": weights} for m in funcs}
    funcs["count"] = flm.count
    return flm.MetricFrame(
        metrics=funcs, y_true=y_true, y_pred=y_pred, sensitive_features=sf, sample_params=params
    )


def assert_close(ours, theirs, what=""):
    # rates lie in [0, 1]: 1e-12 absolute; weight totals (e.g. 4096.27) differ by an ulp
    # (~1e-16 relative) when summed in another order, hence the tiny relative term
    np.testing.assert_allclose(
        np.asarray(ours, dtype=float),
        np.asarray(theirs, dtype=float),
        rtol=1e-14,
        atol=ATOL,
        equal_nan=True,
        err_msg=what,
    )


def assert_matches_frame(table: GroupTable, mf: flm.MetricFrame, metrics=COUNT_METRICS):
    assert list(table.features) == mf.sensitive_levels
    index = list(mf.by_group.index)
    if len(table.features) == 1:
        assert [g[0] for g in table.groups] == index
    else:
        assert list(table.groups) == index
    assert_close(table.sizes, mf.by_group["count"].fillna(0), "sizes")
    for m in metrics:
        assert_close(table.metric(m), mf.by_group[m], f"by_group {m}")
        assert_close(table.overall(m), mf.overall[m], f"overall {m}")
        assert_close(table.difference(m), mf.difference()[m], f"difference {m}")
        assert_close(table.ratio(m), mf.ratio()[m], f"ratio {m}")


def assert_matches_disparities(table, y_true, y_pred, sf, pos_label, weights=None, names=None):
    # fairlearn's disparity functions take no pos_label and want 0/1 labels
    yt = (np.asarray(y_true, dtype=object) == pos_label).astype(int)
    yp = (np.asarray(y_pred, dtype=object) == pos_label).astype(int)
    for name in names or DISPARITY_METRICS:
        theirs = FL_DISPARITY[name](yt, yp, sensitive_features=sf, sample_weight=weights)
        assert_close(table.disparity(name), theirs, name)


# -- generated data ---------------------------------------------------------------------

LEVELS = {
    "str": ["b", "a", "d", "c"],
    "int": [3, 1, 7, 2],
    "bool": [True, False],
    "category": ["z", "m", "a", "q"],  # category order is not value order
}
LABELS = {  # (negative, positive)
    "int": (0, 1),
    "int_zero_positive": (1, 0),
    "str": ("no", "yes"),
    "bool": (False, True),
}


@st.composite
def datasets(draw, *, max_rows=30):
    n = draw(st.integers(1, max_rows))
    columns = {}
    for j in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(sorted(LEVELS)))
        levels = LEVELS[kind][: draw(st.integers(1, len(LEVELS[kind])))]
        values = draw(st.lists(st.sampled_from(levels), min_size=n, max_size=n))
        if kind == "category":
            # all four categories in unsorted order (some unused), or exactly the used ones
            categories = LEVELS[kind] if draw(st.booleans()) else sorted(set(values))
            column = pd.Series(pd.Categorical(values, categories=categories))
        else:
            column = pd.Series(values)
        columns[f"f{j}_{kind}"] = column
    sf = pd.DataFrame(columns)
    if sf.shape[1] == 1 and draw(st.booleans()):
        sf = sf.iloc[:, 0]
    neg, pos = LABELS[draw(st.sampled_from(sorted(LABELS)))]
    bits = st.lists(st.booleans(), min_size=n, max_size=n)
    y_true = [pos if b else neg for b in draw(bits)]
    y_pred = [pos if b else neg for b in draw(bits)]
    if pos not in y_true and pos not in y_pred:
        y_true[draw(st.integers(0, n - 1))] = pos
    weights = draw(
        st.none() | st.lists(st.floats(0.001, 1000.0), min_size=n, max_size=n).map(np.array)
    )
    return y_true, y_pred, sf, pos, weights


@HYPOTHESIS
@given(datasets())
def test_metrics_equal_fairlearn(data):
    y_true, y_pred, sf, pos, weights = data
    table = group_table(y_true, y_pred, sensitive_features=sf, pos_label=pos, sample_weight=weights)
    assert_matches_frame(table, metric_frame(y_true, y_pred, sf, pos, weights))
    assert_matches_disparities(table, y_true, y_pred, sf, pos, weights)


@settings(max_examples=30, deadline=None)
@given(datasets())
def test_without_labels_selection_rate_equals_fairlearn(data):
    _, y_pred, sf, pos, weights = data
    if pos not in y_pred:
        y_pred[0] = pos
    table = group_table(None, y_pred, sensitive_features=sf, pos_label=pos, sample_weight=weights)
    assert table.metrics == ("selection_rate",)
    mf = metric_frame(y_pred, y_pred, sf, pos, weights, metrics=["selection_rate"])
    assert_matches_frame(table, mf, metrics=["selection_rate"])
    assert_matches_disparities(table, y_pred, y_pred, sf, pos, weights, names=DISPARITY_METRICS[:2])
    assert np.isnan(table.counts).all()
    assert_close(
        table.selected.sum(),
        sum(weights[i] if weights is not None else 1 for i, v in enumerate(y_pred) if v == pos),
    )


# -- input types ------------------------------------------------------------------------


def _seeded(n=300, seed=7):
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    age = rng.choice([20, 40, 60], n)
    y_true = rng.choice([0, 1], n)
    y_pred = np.where(rng.random(n) < 0.3, 1 - y_true, y_true)
    weights = rng.uniform(0.5, 2.0, n)
    return y_true, y_pred, sex, age, weights


INPUT_TYPES = {
    # name: (convert y / weights, build sensitive features from (sex, age))
    "list": (list, lambda sex, age: list(sex)),
    "ndarray-1d": (np.asarray, lambda sex, age: np.asarray(sex)),
    "ndarray-2d": (np.asarray, lambda sex, age: np.column_stack([sex, age.astype(object)])),
    "series": (pd.Series, lambda sex, age: pd.Series(sex, name="sex")),
    "dataframe": (pd.Series, lambda sex, age: pd.DataFrame({"sex": sex, "age": age})),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("kind", list(INPUT_TYPES))
def test_input_types(kind, weighted):
    y_true, y_pred, sex, age, weights = _seeded()
    convert, features = INPUT_TYPES[kind]
    yt, yp, sf = convert(y_true), convert(y_pred), features(sex, age)
    w = convert(weights) if weighted else None
    table = group_table(yt, yp, sensitive_features=sf, pos_label=1, sample_weight=w)
    assert_matches_frame(table, metric_frame(yt, yp, sf, 1, w))
    assert_matches_disparities(table, y_true, y_pred, sf, 1, w)


def test_unnamed_features_follow_fairlearn_naming():
    y_true, y_pred, sex, age, _ = _seeded()
    sf = np.column_stack([sex, age])
    table = group_table(y_true, y_pred, sensitive_features=sf, pos_label=1)
    assert table.features == ("sensitive_feature_0", "sensitive_feature_1")
    assert list(table.features) == metric_frame(y_true, y_pred, sf, 1).sensitive_levels


def test_to_frame_matches_metricframe_by_group():
    y_true, y_pred, sex, age, weights = _seeded()
    sf = pd.DataFrame({"sex": sex, "age": age})
    table = group_table(y_true, y_pred, sensitive_features=sf, pos_label=1, sample_weight=weights)
    frame = table.to_frame()
    by_group = metric_frame(y_true, y_pred, sf, 1, weights).by_group
    assert frame.index.equals(by_group.index)
    assert list(frame.columns) == ["count", "weight", *COUNT_METRICS]
    assert_close(frame["count"], by_group["count"])
    assert_close(frame["weight"], pd.Series(weights).groupby([sex, age]).sum())
    for m in COUNT_METRICS:
        assert_close(frame[m], by_group[m], m)


def test_zero_weights_on_some_rows_follow_fairlearn():
    """Group a's positives and group b's negatives weigh 0: sklearn's nan_to_num gives 0."""
    y_true = [1, 1, 0, 0, 1, 0, 0]
    y_pred = [1, 0, 1, 0, 1, 1, 0]
    sf = ["a", "a", "a", "a", "b", "b", "b"]
    weights = [0.0, 0.0, 2.0, 1.0, 3.0, 0.0, 0.0]
    table = group_table(y_true, y_pred, sensitive_features=sf, pos_label=1, sample_weight=weights)
    assert_matches_frame(table, metric_frame(y_true, y_pred, sf, 1, weights))
    assert_matches_disparities(table, y_true, y_pred, sf, 1, weights)
    assert table.metric("true_positive_rate")[0] == 0.0


def test_group_with_zero_total_weight_is_nan():
    """fairlearn: NaN selection rate (with a RuntimeWarning); its other metrics raise."""
    y_true = [1, 0, 1, 0, 1, 0]
    y_pred = [1, 1, 0, 0, 1, 0]
    sf = ["a", "a", "a", "b", "b", "b"]
    weights = [1.0, 2.0, 0.5, 0.0, 0.0, 0.0]
    table = group_table(y_true, y_pred, sensitive_features=sf, pos_label=1, sample_weight=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mf = metric_frame(y_true, y_pred, sf, 1, weights, metrics=["selection_rate"])
        assert_matches_frame(table, mf, metrics=["selection_rate"])
        assert_matches_disparities(table, y_true, y_pred, sf, 1, weights, DISPARITY_METRICS[:2])
    with pytest.raises(ValueError, match="non-zero"):
        flm.true_positive_rate([1, 0, 1], [1, 0, 0], sample_weight=[0.0, 0.0, 0.0])
    assert all(math.isnan(table.metric(m)[1]) for m in COUNT_METRICS)
    assert all(not math.isnan(table.metric(m)[0]) for m in COUNT_METRICS)


def test_empty_intersections_are_nan_with_size_zero():
    table = group_table(
        [1, 0, 1],
        [1, 1, 0],
        sensitive_features=pd.DataFrame({"a": ["x", "y", "x"], "b": [1, 1, 2]}),
        pos_label=1,
    )
    assert table.groups == (("x", 1), ("x", 2), ("y", 1), ("y", 2))
    assert table.sizes.tolist() == [1, 1, 1, 0]
    assert all(math.isnan(table.metric(m)[3]) for m in COUNT_METRICS)


# -- real data --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adult():
    sys.path.insert(0, str(ROOT / "examples" / "credit"))
    try:
        from adult import load_adult
    finally:
        sys.path.remove(str(ROOT / "examples" / "credit"))
    return load_adult("train")


@pytest.mark.parametrize("features", [["sex"], ["sex", "race"]], ids=["sex", "sex-x-race"])
def test_adult_selection_rate_equals_fairlearn(adult, features):
    y_true = adult["income"]
    y_pred = pd.Series(np.where(adult["education-num"] >= 13, ">50K", "<=50K"))
    sf = adult[features[0]] if len(features) == 1 else adult[features]
    table = group_table(y_true, y_pred, sensitive_features=sf, pos_label=">50K")
    mf = metric_frame(y_true, y_pred, sf, ">50K", metrics=["selection_rate", "true_positive_rate"])
    assert_matches_frame(table, mf, metrics=["selection_rate", "true_positive_rate"])
    assert_matches_disparities(table, y_true, y_pred, sf, ">50K")
    assert table.sizes.sum() == len(adult)


# -- errors -----------------------------------------------------------------------------


def _table(**overrides):
    args = dict(y_true=[1, 0, 1, 0], y_pred=[1, 1, 0, 0], sensitive_features=["a", "a", "b", "b"])
    args.update(overrides)
    return group_table(args.pop("y_true"), args.pop("y_pred"), pos_label=1, **args)


def test_error_is_an_input_error():
    assert issubclass(FairnessInputError, InputError)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"y_true": [1, 0, 1]}, "y_true has 3 rows but y_pred has 4"),
        ({"sensitive_features": ["a", "b"]}, "'sensitive_feature_0' has 2 rows but y_pred has 4"),
        ({"sample_weight": [1.0, 2.0]}, "sample_weight has 2 rows but y_pred has 4"),
    ],
    ids=["y_true", "sensitive_features", "sample_weight"],
)
def test_mismatched_lengths(overrides, message):
    with pytest.raises(FairnessInputError, match=message):
        _table(**overrides)


def test_unknown_metric_suggests_the_closest_name():
    table = _table()
    with pytest.raises(FairnessInputError, match="did you mean 'true_positive_rate'"):
        table.metric("true_postive_rate")
    with pytest.raises(FairnessInputError, match="did you mean 'equalized_odds_ratio'"):
        table.disparity("equalised_odds_ratio")
    with pytest.raises(FairnessInputError, match=r"not a metric; use disparity\(\)"):
        table.difference("demographic_parity_ratio")


def test_pos_label_absent_names_it_and_the_labels_found():
    with pytest.raises(FairnessInputError) as info:
        group_table(["no", "yes"], ["no", "no"], sensitive_features=["a", "b"], pos_label=1)
    assert "pos_label=1 does not occur in either y_true or y_pred" in str(info.value)
    assert "['no', 'yes']" in str(info.value)


def test_without_labels_only_selection_rate():
    table = group_table(None, [1, 0, 1], sensitive_features=["a", "b", "b"], pos_label=1)
    for call, name in [
        (table.metric, "true_positive_rate"),
        (table.overall, "precision"),
        (table.disparity, "equalized_odds_difference"),
    ]:
        with pytest.raises(FairnessInputError, match=f"'{name}' needs true labels"):
            call(name)
    assert list(table.to_frame().columns) == ["count", "selection_rate"]


def test_missing_sensitive_value_is_refused_like_fairlearn():
    sf = pd.Series(["a", None, "b", "b"], name="sex")
    with pytest.raises(ValueError, match="missing values"):
        flm.MetricFrame(
            metrics=flm.count, y_true=[1, 0, 1, 0], y_pred=[1, 1, 0, 0], sensitive_features=sf
        )
    with pytest.raises(FairnessInputError, match=r"'sex' has 1 missing values \(rows 1\)"):
        _table(sensitive_features=sf)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sample_weight": [1.0, -1.0, 1.0, 1.0]}, "finite and non-negative"),
        ({"y_pred": [1, None, 0, 0]}, "y_pred has 1 missing values"),
        ({"y_true": [], "y_pred": [], "sensitive_features": []}, "y_pred is empty"),
        ({"sensitive_features": pd.DataFrame(index=range(4))}, "has no columns"),
    ],
    ids=["negative-weight", "missing-label", "empty", "no-features"],
)
def test_other_bad_inputs(overrides, message):
    with pytest.raises(FairnessInputError, match=message):
        _table(**overrides)


# -- shape of the API -------------------------------------------------------------------


def test_public_names():
    assert COUNT_METRICS == (
        "selection_rate",
        "true_positive_rate",
        "false_positive_rate",
        "false_negative_rate",
        "true_negative_rate",
        "precision",
        "accuracy",
    )
    assert DISPARITY_METRICS == (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
    )


def test_table_is_immutable():
    table = _table()
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.features = ("x",)  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        table.counts[0, 0] = 99.0


def test_engine_imports_only_lower_layers():
    # pyarrow: a core dependency, for the Parquet footers read_parquet compares (fairness/_dask.py)
    allowed = {"numpy", "pandas", "pyarrow", "govkit"}
    allowed_govkit = (
        "govkit.exceptions",
        "govkit.results",
        "govkit.records",
        "govkit.fairness",
        "govkit._optional",  # L0: the lazy import of the dask extra (fairness/_dask.py)
    )
    for path in sorted((ROOT / "govkit" / "fairness").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top in allowed or top in sys.stdlib_module_names, (path, module)
                if top == "govkit":
                    assert module.startswith(allowed_govkit), (path, module)
