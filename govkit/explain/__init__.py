"""Explanations on a model's original input columns, checked for additivity.

>>> explainer = make_explainer(model, background)            # build once
>>> attributions = explainer.explain(rows)                    # many rows per call
>>> attributions.valid(tol=1e-6).mean(), attributions.mean_abs()

shap and scikit-learn load when an explainer is built, not when this package is imported.
"""

from __future__ import annotations

from govkit.explain._attributions import Attributions, Method, OutputSpace
from govkit.explain._errors import ExplanationError
from govkit.explain._explainers import Explainer
from govkit.explain._factory import SUPPORTED_MODELS, make_explainer

__all__ = [
    "make_explainer",
    "Explainer",
    "Attributions",
    "ExplanationError",
    "Method",
    "OutputSpace",
    "SUPPORTED_MODELS",
]
