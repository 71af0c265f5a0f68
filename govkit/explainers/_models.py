"""Model adapters: which estimators have tree or linear structure, and their own output.

A :class:`Family` says how shap explains an estimator (``tree`` or ``linear``) and,
for a fitted instance, which output that explanation adds up to together with a
function computing that output from the model itself. Families live in a small
registry keyed by estimator class; LightGBM and XGBoost are matched by module and
imported only when the model is one of theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np

from govkit._optional import import_optional
from govkit.explainers._attributions import OutputSpace
from govkit.explainers._errors import ExplanationError

__all__ = ["Family", "ModelOutput", "Target", "family_of", "agnostic_output", "target_of"]


@dataclass(frozen=True)
class ModelOutput:
    """The model's own output in ``space``: ``compute(native_X)`` -> (n,) or (n, n_outputs)."""

    space: OutputSpace
    compute: Callable[[Any], np.ndarray]


@dataclass(frozen=True)
class Family:
    name: str
    method: Literal["tree", "linear"]
    output: Callable[[Any, bool], ModelOutput]  # (estimator, is_classifier) -> ModelOutput
    refuse: Callable[[Any], str | None] = lambda est: None  # why shap cannot take this instance


# --- own outputs ----------------------------------------------------------------------------


def _call(method: str, **kwargs: Any) -> Callable[[Any], Callable[[Any], np.ndarray]]:
    def bind(est: Any) -> Callable[[Any], np.ndarray]:
        fn = getattr(est, method)
        return lambda X: np.asarray(fn(X, **kwargs), dtype=np.float64)

    return bind


def _sklearn_forest_output(est: Any, is_classifier: bool) -> ModelOutput:
    # shap's raw output for sklearn tree/forest classifiers is the averaged leaf probability.
    if is_classifier:
        return ModelOutput("probability", _call("predict_proba")(est))
    return ModelOutput("raw", _call("predict")(est))


def _sklearn_boosting_output(est: Any, is_classifier: bool) -> ModelOutput:
    if is_classifier:
        space: OutputSpace = "log_odds" if est.loss == "log_loss" else "raw"
        return ModelOutput(space, _call("decision_function")(est))
    if getattr(est, "loss", None) in (
        "poisson",
        "gamma",
    ):  # HistGradientBoostingRegressor: log link
        predict = est.predict
        return ModelOutput("raw", lambda X: np.log(np.asarray(predict(X), dtype=np.float64)))
    return ModelOutput("raw", _call("predict")(est))


def _hgb_refuse(est: Any) -> str | None:
    categorical = getattr(est, "is_categorical_", None)
    if categorical is not None and np.any(categorical):
        return "shap's TreeExplainer cannot read HistGradientBoosting native categorical splits"
    return None


def _lightgbm_output(est: Any, is_classifier: bool) -> ModelOutput:
    objective = est.objective_ if isinstance(est.objective_, str) else ""
    margin_is_log_odds = objective in {
        "binary",
        "multiclass",
        "softmax",
        "multiclassova",
        "multiclass_ova",
        "ova",
        "ovr",
        "cross_entropy",
        "xentropy",
    }
    space: OutputSpace = "log_odds" if is_classifier and margin_is_log_odds else "raw"
    return ModelOutput(space, _call("predict", raw_score=True)(est))


def _xgboost_output(est: Any, is_classifier: bool) -> ModelOutput:
    objective = str(est.get_params().get("objective") or "")
    log_odds = is_classifier and (
        objective.startswith(("binary:logistic", "multi:")) or not objective
    )
    space: OutputSpace = "log_odds" if log_odds else "raw"
    return ModelOutput(space, _call("predict", output_margin=True)(est))


def _linear_output(est: Any, is_classifier: bool) -> ModelOutput:
    if is_classifier:
        logistic = type(est).__name__ in ("LogisticRegression", "LogisticRegressionCV") or (
            type(est).__name__ == "SGDClassifier" and est.loss == "log_loss"
        )
        return ModelOutput("log_odds" if logistic else "raw", _call("decision_function")(est))
    return ModelOutput("raw", _call("predict")(est))


def agnostic_output(model: Any, is_classifier: bool) -> ModelOutput:
    """Output a model-agnostic explainer explains: P(class) for classifiers, else the prediction."""
    if not is_classifier:
        return ModelOutput("raw", _call("predict")(model))
    if hasattr(model, "predict_proba"):
        return ModelOutput("probability", _call("predict_proba")(model))
    if hasattr(model, "decision_function"):
        return ModelOutput("raw", _call("decision_function")(model))
    raise ExplanationError(
        f"{type(model).__name__} is a classifier without predict_proba or decision_function; "
        "a classifier's explanation needs a score, not only the predicted label"
    )


# --- registry ------------------------------------------------------------------------------

_SKLEARN_FORESTS = (
    "tree:DecisionTreeClassifier",
    "tree:DecisionTreeRegressor",
    "tree:ExtraTreeClassifier",
    "tree:ExtraTreeRegressor",
    "ensemble:RandomForestClassifier",
    "ensemble:RandomForestRegressor",
    "ensemble:ExtraTreesClassifier",
    "ensemble:ExtraTreesRegressor",
)
_SKLEARN_BOOSTING = (
    "ensemble:GradientBoostingClassifier",
    "ensemble:GradientBoostingRegressor",
)
_SKLEARN_HGB = (
    "ensemble:HistGradientBoostingClassifier",
    "ensemble:HistGradientBoostingRegressor",
)
# Estimators whose decision_function (classifiers) / predict (regressors) is X @ coef_ + intercept_.
_SKLEARN_LINEAR = (
    "LogisticRegression",
    "LogisticRegressionCV",
    "SGDClassifier",
    "RidgeClassifier",
    "RidgeClassifierCV",
    "Perceptron",
    "LinearRegression",
    "Ridge",
    "RidgeCV",
    "Lasso",
    "LassoCV",
    "ElasticNet",
    "ElasticNetCV",
    "SGDRegressor",
    "BayesianRidge",
    "ARDRegression",
    "HuberRegressor",
    "Lars",
    "LarsCV",
    "LassoLars",
    "LassoLarsCV",
    "LassoLarsIC",
    "OrthogonalMatchingPursuit",
    "QuantileRegressor",
    "TheilSenRegressor",
)

_FOREST = Family("sklearn-forest", "tree", _sklearn_forest_output)
_BOOSTING = Family("sklearn-gradient-boosting", "tree", _sklearn_boosting_output)
_HGB = Family("sklearn-hist-gradient-boosting", "tree", _sklearn_boosting_output, _hgb_refuse)
_LINEAR = Family("sklearn-linear", "linear", _linear_output)
_LIGHTGBM = Family("lightgbm", "tree", _lightgbm_output)
_XGBOOST = Family("xgboost", "tree", _xgboost_output)


@cache
def _sklearn_registry() -> dict[type, Family]:
    import importlib

    reg: dict[type, Family] = {}
    for family, specs in (
        (_FOREST, _SKLEARN_FORESTS),
        (_BOOSTING, _SKLEARN_BOOSTING),
        (_HGB, _SKLEARN_HGB),
    ):
        for spec in specs:
            module, name = spec.split(":")
            reg[getattr(importlib.import_module(f"sklearn.{module}"), name)] = family
    linear_model = importlib.import_module("sklearn.linear_model")
    for name in _SKLEARN_LINEAR:
        cls = getattr(linear_model, name, None)
        if cls is not None:
            reg[cls] = _LINEAR
    from sklearn import svm

    reg[svm.LinearSVC] = _LINEAR
    reg[svm.LinearSVR] = _LINEAR
    return reg


def _third_party(est: Any) -> Family | None:
    module = type(est).__module__.split(".")[0]
    if module == "lightgbm":
        lgb = import_optional("lightgbm", feature="Explaining a LightGBM model")
        if isinstance(est, lgb.LGBMClassifier | lgb.LGBMRegressor):
            return _LIGHTGBM
    elif module == "xgboost":
        xgb = import_optional("xgboost", feature="Explaining an XGBoost model")
        if isinstance(est, xgb.XGBClassifier | xgb.XGBRegressor):
            return _XGBOOST
    return None


def family_of(est: Any) -> Family | None:
    """The tree or linear family of a final estimator, or None when it has neither structure."""
    return _sklearn_registry().get(type(est)) or _third_party(est)


# --- which output column ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Which output of the model is explained: the positive class, or the regression output."""

    classes: tuple[Any, ...] | None  # None for a regressor
    index: int | None

    def pick(self, arr: np.ndarray, *, lead: int, space: OutputSpace) -> np.ndarray:
        """Select the explained output from ``arr`` whose first ``lead`` axes are rows (x features).

        A trailing axis is one entry per class. A single-output binary classifier's score
        is for ``classes[1]``; for ``classes[0]`` it is negated (margins) or 1 - p.
        """
        arr = np.asarray(arr, dtype=np.float64)
        if arr.ndim == lead + 1 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim == lead + 1:
            if self.classes is None or arr.shape[-1] != len(self.classes):
                raise ExplanationError(
                    f"the model has {arr.shape[-1]} outputs; only single-output regressors and "
                    "classifiers (one score per class) can be explained"
                )
            return arr[..., self.index]
        if arr.ndim != lead:
            raise ExplanationError(f"unexpected model output of shape {arr.shape}")
        if self.classes is None or self.index == 1:
            return arr
        if len(self.classes) != 2:
            raise ExplanationError(
                f"the model gives one score for {len(self.classes)} classes; cannot pick one"
            )
        return -arr if lead == 2 or space != "probability" else 1.0 - arr


def target_of(model: Any, positive_class: object | None) -> Target:
    from govkit.exceptions import closest

    classes = getattr(model, "classes_", None)
    if classes is None:
        if positive_class is not None:
            raise ExplanationError(
                f"positive_class={positive_class!r} was given but {type(model).__name__} is not a "
                "classifier (it has no classes_)"
            )
        return Target(None, None)
    classes = tuple(np.asarray(classes).tolist()) if np.ndim(classes) == 1 else None
    if classes is None:
        raise ExplanationError("multi-output classifiers are not supported")
    if positive_class is None:
        if len(classes) != 2:
            raise ExplanationError(
                f"the model has {len(classes)} classes {list(classes)!r}; pass positive_class= "
                "to say which class to explain"
            )
        return Target(classes, 1)
    matches = [i for i, c in enumerate(classes) if c == positive_class]
    if not matches:
        hint = closest(str(positive_class), [str(c) for c in classes])
        raise ExplanationError(
            f"positive_class={positive_class!r} is not one of the model's classes "
            f"{list(classes)!r}" + (f" (did you mean {hint!r}?)" if hint else "")
        )
    return Target(classes, matches[0])
