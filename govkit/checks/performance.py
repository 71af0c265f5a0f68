"""performance.* checks: bounds on standard classification metrics (scikit-learn's definitions)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from govkit.checks._registry import CheckContext, Measured, register
from govkit.exceptions import EvaluationError
from govkit.policy import PerformanceRule
from govkit.results import MetricsEvidence

_NEEDS_SCORES = {"roc_auc", "average_precision", "log_loss", "brier_score"}


def _value(metric: str, ctx: CheckContext) -> float:
    assert ctx.y_true is not None
    y_true = (ctx.y_true.to_numpy() == ctx.pos_label).astype(int)
    y_pred = (np.asarray(ctx.y_pred) == ctx.pos_label).astype(int)
    if metric in _NEEDS_SCORES:
        if ctx.scores is None:
            raise EvaluationError(
                f"{metric} needs predicted probabilities, and the model gives none "
                "(no predict_proba); use a label metric such as accuracy or f1"
            )
        s = ctx.scores
        if metric == "roc_auc":
            return float(skm.roc_auc_score(y_true, s))
        if metric == "average_precision":
            return float(skm.average_precision_score(y_true, s))
        if metric == "log_loss":
            return float(skm.log_loss(y_true, s, labels=[0, 1]))
        return float(skm.brier_score_loss(y_true, s))
    fn = {
        "accuracy": lambda: skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y_true, y_pred),
        "precision": lambda: skm.precision_score(y_true, y_pred, zero_division=0),
        "recall": lambda: skm.recall_score(y_true, y_pred, zero_division=0),
        "f1": lambda: skm.f1_score(y_true, y_pred, zero_division=0),
    }[metric]
    return float(fn())


def check_performance(rule: PerformanceRule, ctx: CheckContext) -> Measured:
    value = _value(rule.metric, ctx)
    bound = rule.threshold.to_bound()
    assert ctx.y_true is not None
    yt = ctx.y_true.to_numpy() == ctx.pos_label
    yp = np.asarray(ctx.y_pred) == ctx.pos_label
    confusion = {
        "tp": float(np.sum(yt & yp)),
        "fp": float(np.sum(~yt & yp)),
        "tn": float(np.sum(~yt & ~yp)),
        "fn": float(np.sum(yt & ~yp)),
    }
    evidence = MetricsEvidence(values={rule.metric: value}, confusion=confusion)
    return Measured(
        value,
        bound.holds(value),
        f"{rule.metric} is {value:.4f} on {len(yt):,} rows; required {bound}",
        evidence,
    )


for _metric in (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier_score",
):
    register(
        f"performance.{_metric}",
        summary=f"{_metric.replace('_', ' ')} on the evaluation data within the threshold",
        parameters=("threshold",),
        needs_labels=True,
        needs_model=False,
    )(check_performance)
