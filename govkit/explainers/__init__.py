"""Explanations on a model's original input columns, checked for additivity.

>>> explainer = make_explainer(model, background)            # build once
>>> attributions = explainer.explain(rows)                    # many rows per call
>>> attributions.valid(tol=1e-6).mean(), attributions.mean_abs()

Many rows: :func:`make_batch_explainer` (LightGBM / XGBoost through their own TreeSHAP),
:func:`explain_batch` (chunks), :func:`explain_dask` / :func:`predict_partitions` (Dask).
One decision at a time: :class:`DecisionExplainer` (score, attributions, reason codes,
counterfactual; built once per model version, ``explain(row)`` per request).

shap and scikit-learn load when an explainer is built, not when this package is imported.
"""

from __future__ import annotations

from govkit.explainers._attributions import Attributions, Method, OutputSpace
from govkit.explainers._batch import (
    explain_batch,
    explain_dask,
    make_batch_explainer,
    predict_partitions,
)
from govkit.explainers._decision import DecisionExplainer, default_tolerance
from govkit.explainers._errors import ExplanationError
from govkit.explainers._explainers import Explainer
from govkit.explainers._factory import SUPPORTED_MODELS, make_explainer

__all__ = [
    "make_explainer",
    "make_batch_explainer",
    "explain_batch",
    "explain_dask",
    "predict_partitions",
    "DecisionExplainer",
    "default_tolerance",
    "Explainer",
    "Attributions",
    "ExplanationError",
    "Method",
    "OutputSpace",
    "SUPPORTED_MODELS",
]
