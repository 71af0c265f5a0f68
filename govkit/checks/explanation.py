"""explanation.* checks: SHAP explanations that exist and add up to the model's output."""

from __future__ import annotations

import numpy as np

from govkit.checks._registry import CheckContext, Measured, register
from govkit.policy import ExplanationRule
from govkit.results import ExplanationEvidence, FeatureImportance

_TOP = 10


@register(
    "explanation.coverage",
    summary=(
        "share of evaluated rows whose SHAP explanation was computed and passes the additivity "
        "check abs(base + sum(phi) - f(x)) <= tolerance"
    ),
    parameters=("threshold", "tolerance", "sample", "method"),
    needs_model=True,
)
def check_coverage(rule: ExplanationRule, ctx: CheckContext) -> Measured:
    from govkit.explain import make_explainer

    assert ctx.features is not None and ctx.model is not None
    X = ctx.features
    n = min(rule.sample, len(X))
    sample = X.sample(n=n, random_state=0) if n < len(X) else X
    explainer = make_explainer(ctx.model, X, method=rule.method, positive_class=ctx.pos_label)
    attributions = explainer.explain(sample)
    errors = attributions.additivity_error()
    valid = attributions.valid(rule.tolerance)
    coverage = float(np.mean(valid)) if n else 0.0
    finite = errors[np.isfinite(errors)]
    importance = attributions.mean_abs()
    evidence = ExplanationEvidence(
        method=attributions.method,
        rows_evaluated=n,
        rows_valid=int(valid.sum()),
        tolerance=rule.tolerance,
        max_abs_error=float(finite.max()) if finite.size else None,
        top_features=tuple(
            FeatureImportance(feature=f, mean_abs_attribution=float(v))
            for f, v in list(importance.items())[:_TOP]
        ),
    )
    bound = rule.threshold.to_bound()
    message = (
        f"{int(valid.sum()):,} of {n:,} explanations ({attributions.method}, "
        f"{attributions.output_space}) add up within {rule.tolerance:g}: coverage "
        f"{coverage:.4f}; required {bound}"
    )
    return Measured(coverage, bound.holds(coverage), message, evidence)
