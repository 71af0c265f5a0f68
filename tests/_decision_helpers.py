"""Shared data, models and metadata of the decision-explainer tests (real models, small data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from govkit.records import DecisionSpec, FeatureSpec, ModelMetadata

CREDIT = ["income", "debt_ratio", "years_employed", "late_payments", "age", "has_mortgage"]


def credit_data(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Numeric credit-like data: money, a ratio, years, a count, age (sensitive), a flag."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "income": rng.normal(50_000, 15_000, n).round(-2).clip(5_000, None),
            "debt_ratio": rng.uniform(0, 1, n).round(3),
            "years_employed": rng.integers(0, 30, n),
            "late_payments": rng.poisson(1.0, n),
            "age": rng.integers(18, 80, n),
            "has_mortgage": rng.integers(0, 2, n),
        }
    )
    logit = (
        (X["income"] - 50_000) / 12_000
        - 3.0 * (X["debt_ratio"] - 0.5)
        + 0.05 * (X["years_employed"] - 15)
        - 0.6 * (X["late_payments"] - 1)
        + 0.3 * X["has_mortgage"]
    )
    y = pd.Series((logit + rng.logistic(size=n) > 0).astype(int), name="repaid")
    return X, y


def credit_metadata(**decision: object) -> ModelMetadata:
    return ModelMetadata(
        sensitive_features=("age",),
        positive_label=1,
        features={
            "income": FeatureSpec(
                description="yearly income",
                kind="money",
                unit="USD",
                actionable=True,
                min=0,
                max=150_000,
                step=1_000,
            ),
            "debt_ratio": FeatureSpec(
                description="debt-to-income ratio",
                kind="percent",
                actionable=True,
                min=0,
                max=1,
                step=0.01,
            ),
            "years_employed": FeatureSpec(description="years in employment", kind="years"),
            # declared actionable but immutable: must never be changed
            "late_payments": FeatureSpec(
                description="number of late payments",
                kind="count",
                actionable=True,
                immutable=True,
                min=0,
                max=10,
            ),
            # sensitive and (wrongly) declared actionable: must never be changed
            "age": FeatureSpec(kind="years", actionable=True, min=18, max=99),
            "has_mortgage": FeatureSpec(description="mortgage", kind="boolean"),
        },
        decision=DecisionSpec(**{"subject": "credit application", **decision}),
    )


def lgbm_classifier(n_estimators: int = 40, **kwargs: object):
    import lightgbm

    return lightgbm.LGBMClassifier(
        n_estimators=n_estimators, n_jobs=1, verbose=-1, random_state=0, **kwargs
    )


ADULT_CAT = ["workclass", "education", "marital-status", "occupation", "sex"]
ADULT_NUM = ["age", "education-num", "capital-gain", "hours-per-week"]


def adult_small(adult_train: pd.DataFrame, n: int = 2_000) -> tuple[pd.DataFrame, pd.Series]:
    """A seeded sample of UCI Adult with five categorical and four numeric columns."""
    sample = adult_train.sample(n=n, random_state=0).reset_index(drop=True)
    return sample[ADULT_CAT + ADULT_NUM], sample["income"]


def adult_pipeline(estimator, *, scale: bool = True):
    """ColumnTransformer(one-hot categorical, scaled numeric) -> estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ADULT_CAT),
            ("num", StandardScaler() if scale else "passthrough", ADULT_NUM),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("encode", encode), ("model", estimator)])


def sum_back(values: np.ndarray, output_names, inputs) -> np.ndarray:
    """Sum attributions of one-hot / scaled output columns back to input columns, by name.

    An output column belongs to input ``c`` when it is named ``c`` or ``c_<category>``
    (``verbose_feature_names_out=False``); done by hand, independently of govkit's mapping.
    """
    out = np.zeros((values.shape[0], len(inputs)))
    for k, name in enumerate(output_names):
        owners = [j for j, c in enumerate(inputs) if name == c or name.startswith(f"{c}_")]
        assert len(owners) == 1, name
        out[:, owners[0]] += values[:, k]
    return out
