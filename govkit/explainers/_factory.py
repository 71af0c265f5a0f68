"""make_explainer: pick the exact explainer a model's structure allows, else a model-agnostic one.

Choice of shap explainer, and why:

* Tree models (sklearn trees, forests, GradientBoosting, HistGradientBoosting; LightGBM;
  XGBoost): ``shap.TreeExplainer(est, feature_perturbation="tree_path_dependent",
  model_output="raw")``. Path-dependent TreeSHAP is exact for the model's raw output
  (margin / log-odds for boosting, averaged leaf probability for sklearn forest
  classifiers, the prediction for regressors) and needs no background pass, so its
  cost does not grow with the background size. For LightGBM and XGBoost shap calls the
  libraries' own ``pred_contrib`` / ``pred_contribs``, so the attributions *are* the
  native contributions (and LightGBM categorical splits are handled natively).
  Interventional TreeSHAP is also additive, but costs a pass over the background per
  row, does not match the native contributions, and goes through shap's own tree
  conversion, which cannot read categorical splits. XGBoost computes in float32, so its
  additivity error is float32 rounding (~1e-6 on margins of a few units), not ~1e-12.
* Linear models: ``shap.LinearExplainer(est, Independent(background, all rows))``
  (interventional): phi_j = coef_j * (x_j - mean_j), exact against ``decision_function``
  (log-odds for logistic models) or ``predict``.
* Everything else, and pipelines whose preprocessing mixes input columns:
  ``shap.PermutationExplainer`` on the original columns with an Independent masker over
  the background, explaining P(positive class) (or the prediction for regressors).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from govkit.explainers._columns import Unmappable, pipeline_owners
from govkit.explainers._errors import ExplanationError
from govkit.explainers._explainers import (
    Explainer,
    PermutationExplainer,
    StructuredExplainer,
    select_columns,
)
from govkit.explainers._models import Family, agnostic_output, family_of, target_of
from govkit.explainers._shap import load_shap

__all__ = ["make_explainer", "SUPPORTED_MODELS"]

logger = logging.getLogger(__name__)

MethodChoice = Literal["auto", "tree", "linear", "permutation"]
_METHODS = ("auto", "tree", "linear", "permutation")

SUPPORTED_MODELS = (
    "a fitted scikit-learn estimator or Pipeline, a LightGBM sklearn-API model "
    "(LGBMClassifier, LGBMRegressor) or an XGBoost sklearn-API model (XGBClassifier, "
    "XGBRegressor)"
)


class _NoStructure(Exception):
    """The model cannot be explained with the tree or linear explainer (reason in args)."""


def make_explainer(
    model: Any,
    background: pd.DataFrame,
    *,
    method: MethodChoice = "auto",
    positive_class: object | None = None,
    max_background: int = 200,
    random_state: int = 0,
) -> Explainer:
    """Build an explainer for ``model`` once; call ``explain(X)`` on as many rows as needed.

    ``background`` holds the model's original input columns (extra columns are ignored);
    a seeded sample of at most ``max_background`` rows is the reference data.
    ``method="auto"`` uses TreeSHAP for tree models, LinearSHAP for linear models (also
    as the last step of a Pipeline whose preprocessing maps every produced column to one
    input column) and the permutation explainer otherwise. Binary classifiers are
    explained for ``positive_class`` (default ``classes_[1]``); multiclass models need it.
    """
    if method not in _METHODS:
        raise ExplanationError(f"method must be one of {list(_METHODS)!r}; got {method!r}")
    if (
        isinstance(max_background, bool)
        or not isinstance(max_background, int)
        or max_background < 1
    ):
        raise ExplanationError(
            f"max_background must be a whole number >= 1; got {max_background!r}"
        )
    _check_model(model)
    names, to_native = _input_schema(model, background)
    frame = select_columns(background, names, what="background")
    if len(frame) == 0:
        raise ExplanationError("background has no rows; pass a sample of the model's input data")
    if len(frame) > max_background:
        frame = frame.sample(n=max_background, random_state=random_state)
    target = target_of(model, positive_class)
    is_classifier = target.classes is not None
    common: dict[str, Any] = {"feature_names": names, "to_native": to_native, "target": target}

    reason = None
    if method != "permutation":
        try:
            return _structured(model, frame, method, is_classifier, common)
        except _NoStructure as exc:
            reason = str(exc)
            if method != "auto":
                raise ExplanationError(
                    f"method={method!r} cannot explain this model: {reason}. Use method='auto' "
                    "or method='permutation' for a model-agnostic explanation"
                ) from None
            logger.info("explaining with the permutation explainer: %s", reason)
    explainer = PermutationExplainer(
        background=frame,
        random_state=random_state,
        output=agnostic_output(model, is_classifier),
        **common,
    )
    explainer.fallback_reason = reason
    return explainer


def _check_model(model: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not (callable(getattr(model, "fit", None)) and callable(getattr(model, "predict", None))):
        raise ExplanationError(
            f"cannot explain a {type(model).__module__}.{type(model).__name__}; "
            f"supported models: {SUPPORTED_MODELS}"
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise ExplanationError(
            f"{type(model).__name__} is not fitted; fit it before explaining it"
        ) from None
    except TypeError:
        raise ExplanationError(
            f"{type(model).__name__} is not a scikit-learn-compatible estimator; "
            f"supported models: {SUPPORTED_MODELS}"
        ) from None


def _input_schema(
    model: Any, background: Any
) -> tuple[tuple[str, ...], Callable[[pd.DataFrame], Any]]:
    """Original input column names, and how to turn a frame of them into the model's input."""
    fitted_names = getattr(model, "feature_names_in_", None)
    if fitted_names is not None:
        return tuple(str(n) for n in fitted_names), lambda frame: frame
    if not isinstance(background, pd.DataFrame):
        raise ExplanationError(
            f"background must be a pandas DataFrame of the model's input columns; "
            f"got {type(background).__name__}"
        )
    n_features = getattr(model, "n_features_in_", None)
    if n_features is not None and n_features != background.shape[1]:
        raise ExplanationError(
            f"{type(model).__name__} was fitted without column names on {n_features} columns; "
            f"background must then hold exactly those columns in training order, but it has "
            f"{background.shape[1]}"
        )
    return tuple(str(c) for c in background.columns), lambda frame: frame.to_numpy()


def _split(model: Any) -> tuple[list[Any], Any]:
    """(preprocessing steps, final estimator), flattening nested Pipelines."""
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return [], model
    steps: list[Any] = []
    for _, step in model.steps[:-1]:
        steps.append(step)
    inner, final = _split(model.steps[-1][1])
    return steps + inner, final


def _transformer(steps: list[Any]) -> Callable[[Any], Any]:
    active = [s for s in steps if s is not None and not (isinstance(s, str) and s == "passthrough")]

    def transform(X: Any) -> Any:
        for step in active:
            X = step.transform(X)
        return X

    return transform


def _structured(
    model: Any, frame: pd.DataFrame, method: str, is_classifier: bool, common: dict[str, Any]
) -> Explainer:
    steps, final = _split(model)
    family = family_of(final)
    if family is None:
        raise _NoStructure(f"{type(final).__name__} has no tree or linear structure shap can read")
    if method not in ("auto", family.method):
        raise _NoStructure(f"{type(final).__name__} is a {family.method} model")
    refusal = family.refuse(final)
    if refusal:
        raise _NoStructure(refusal)
    transform = _transformer(steps)
    background = transform(common["to_native"](frame))
    width = background.shape[1]
    n_inputs = len(common["feature_names"])
    if steps:
        try:
            owners = pipeline_owners(steps, n_inputs, width)
        except Unmappable as exc:
            raise _NoStructure(
                f"the pipeline's preprocessing cannot be traced back to input columns ({exc})"
            ) from None
    elif width == n_inputs:
        owners = np.arange(n_inputs)
    else:
        raise _NoStructure(f"the model takes {width} columns, not {n_inputs}")
    return StructuredExplainer(
        method=family.method,
        shap_explainer=_build_shap(family, final, background),
        transform=transform,
        owners=owners,
        output=family.output(final, is_classifier),
        **common,
    )


def _build_shap(family: Family, final: Any, background: Any) -> Any:
    shap = load_shap()
    if family.method == "tree":
        from shap.utils._exceptions import InvalidModelError

        # Path-dependent TreeSHAP uses the trees' own training cover, not the background.
        try:
            return shap.TreeExplainer(
                final, feature_perturbation="tree_path_dependent", model_output="raw"
            )
        except (InvalidModelError, NotImplementedError) as exc:  # shap cannot read these trees
            raise _NoStructure(
                f"shap's TreeExplainer cannot read this {type(final).__name__}: {exc}"
            ) from None
    if hasattr(background, "toarray"):
        background = background.toarray()
    data = np.asarray(background, dtype=np.float64)
    return shap.LinearExplainer(final, shap.maskers.Independent(data, max_samples=len(data)))
