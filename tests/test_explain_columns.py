"""Tracing a pipeline's transformed columns back to its input columns (govkit.explainers._columns).

The mapping is checked by behaviour, not by names: changing only input column c may
change only the transformed columns the mapping assigns to c.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    Normalizer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    StandardScaler,
)

from govkit.explainers import make_explainer
from govkit.explainers._columns import Unmappable, output_owners

CATS = ["colour", "size"]
NUMS = ["x", "y", "z"]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(7)
    n = 120
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue", "pink"], n, p=[0.4, 0.3, 0.27, 0.03]),
            "x": rng.normal(size=n),
            "size": rng.choice(["S", "M", "L"], n),
            "y": rng.integers(0, 50, n).astype(float),
            "z": rng.normal(size=n),
        }
    )
    frame.loc[rng.choice(n, 10, replace=False), "y"] = np.nan
    frame.loc[rng.choice(n, 10, replace=False), "size"] = None
    target = pd.Series(np.where(frame["x"] + (frame["colour"] == "red") > 0.3, "yes", "no"))
    return frame, target


def _num_imputer() -> Pipeline:
    return make_pipeline(SimpleImputer(add_indicator=True), StandardScaler())


MAPPABLE = {
    "onehot-drop-infrequent": lambda: ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(drop="first", min_frequency=6, sparse_output=False),
                ),
                CATS,
            ),
            ("num", _num_imputer(), NUMS),
        ]
    ),
    "selectors-and-remainder": lambda: ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(drop="if_binary", handle_unknown="ignore"),
                make_column_selector(pattern="^(?:colour|size)$"),
            ),
            ("ints", SimpleImputer(), [1, 3]),
        ],
        remainder="passthrough",
    ),
    "bool-mask-and-drop": lambda: ColumnTransformer(
        [
            ("ord", OrdinalEncoder(), np.array([True, False, True, False, False])),
            ("z", "passthrough", ["z"]),
        ],
        remainder="drop",
    ),
    "bins-and-single-column-pca": lambda: ColumnTransformer(
        [
            (
                "bins",
                KBinsDiscretizer(
                    n_bins=3, encode="onehot-dense", quantile_method="averaged_inverted_cdf"
                ),
                ["x", "z"],
            ),
            ("pca-of-one", PCA(1), ["x"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
        ]
    ),
    "pandas-output-and-selection": lambda: Pipeline(
        [
            (
                "ct",
                ColumnTransformer(
                    [
                        ("cat", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), CATS),
                        ("num", _num_imputer(), NUMS),
                    ]
                ),
            ),
            ("var", VarianceThreshold(0.2)),
        ]
    ).set_output(transform="pandas"),
}


def _changed_columns(a: object, b: object) -> np.ndarray:
    a = np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=float)
    b = np.asarray(b.toarray() if hasattr(b, "toarray") else b, dtype=float)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return np.flatnonzero(~same.all(axis=0))


@pytest.mark.parametrize("name", sorted(MAPPABLE))
def test_each_output_column_depends_only_on_its_owner(data, name):
    frame, target = data
    transformer = MAPPABLE[name]().fit(frame, target)
    transformed = transformer.transform(frame)
    owners = output_owners(transformer, frame.shape[1], transformed.shape[1])
    assert owners.shape == (transformed.shape[1],)
    rng = np.random.default_rng(0)
    for c, column in enumerate(frame.columns):
        changed = frame.copy()
        changed[column] = frame[column].to_numpy()[rng.permutation(len(frame))]
        moved = _changed_columns(transformed, transformer.transform(changed))
        assert set(owners[moved]) <= {c}, f"changing {column!r} moved columns owned by others"


def test_one_hot_blocks_follow_categories(data):
    frame, target = data
    transformer = MAPPABLE["onehot-drop-infrequent"]().fit(frame, target)
    names = transformer.get_feature_names_out()
    owners = output_owners(transformer, frame.shape[1], len(names))
    for name, owner in zip(names, owners, strict=True):
        assert frame.columns[owner] in name.split("__", 1)[1]


@pytest.mark.parametrize(
    ("transformer", "message"),
    [
        (ColumnTransformer([("pca", PCA(1), ["x", "z"])]), "PCA"),
        (
            ColumnTransformer(
                [
                    ("log", FunctionTransformer(np.log1p), ["y"]),
                    ("f", FunctionTransformer(np.abs), ["x", "z"]),
                ]
            ),
            "custom function",
        ),
        (ColumnTransformer([("poly", PolynomialFeatures(2), ["x", "z"])]), "PolynomialFeatures"),
        (ColumnTransformer([("norm", Normalizer(), ["x", "z"])]), "Normalizer"),
    ],
)
def test_column_mixing_transformers_are_unmappable(data, transformer, message):
    frame, _ = data
    transformer.fit(frame)
    width = transformer.transform(frame).shape[1]
    with pytest.raises(Unmappable, match=message):
        output_owners(transformer, frame.shape[1], width)


def test_subclasses_are_not_trusted(data):
    class Scaler(StandardScaler):
        pass

    frame, _ = data
    transformer = ColumnTransformer([("s", Scaler(), ["x", "z"])]).fit(frame)
    with pytest.raises(Unmappable, match="Scaler is not known"):
        output_owners(transformer, frame.shape[1], 2)


def test_width_mismatch_is_refused(data):
    frame, _ = data
    transformer = ColumnTransformer([("s", StandardScaler(), ["x", "z"])]).fit(frame)
    with pytest.raises(Unmappable, match="produced 3 columns"):
        output_owners(transformer, frame.shape[1], 3)


def test_custom_function_pipeline_falls_back(data):
    frame, target = data
    model = Pipeline(
        [
            (
                "pre",
                ColumnTransformer(
                    [
                        ("cat", OneHotEncoder(handle_unknown="ignore"), CATS),
                        ("num", FunctionTransformer(lambda v: v.fillna(0)), NUMS),
                    ]
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(frame, target)
    explainer = make_explainer(model, frame, max_background=20)
    assert explainer.method == "permutation"
    assert "FunctionTransformer with a custom function" in explainer.fallback_reason


@pytest.mark.parametrize("name", ["onehot-drop-infrequent", "pandas-output-and-selection"])
def test_linear_pipeline_sums_back_exactly(data, name):
    frame, target = data
    model = Pipeline([("pre", MAPPABLE[name]()), ("clf", LogisticRegression())]).fit(frame, target)
    explainer = make_explainer(model, frame, positive_class="yes")
    assert explainer.method == "linear"
    att = explainer.explain(frame)
    np.testing.assert_allclose(att.model_output, model.decision_function(frame), atol=1e-12)
    assert att.additivity_error().max() <= 1e-9
    # "colour" carries the signal; the two noise columns "y" and "size" carry less
    importance = att.mean_abs()
    assert importance["colour"] > importance["size"]
