"""performance.* checks: classification and regression metrics (scikit-learn's definitions),
overall or in every group of ``by``.

* Classification metrics need a binary classifier (labels compared with the positive label);
  roc_auc, average_precision, log_loss and brier_score need its scores.
* Regression metrics (r2, mae, rmse, mape) need a regressor: numeric targets and predictions.
* With ``by``, the bound must hold in every judged group; groups smaller than
  ``min_group_size``, and groups where the metric is undefined (one class only for roc_auc,
  fewer than two rows for r2), are reported but not judged. The value is the worst group's.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from govkit.checks._registry import CheckContext, Measured, register
from govkit.exceptions import EvaluationError
from govkit.policy import CLASSIFICATION_METRICS, REGRESSION_METRICS, PerformanceRule
from govkit.results import GroupEvidence, GroupRow, MetricsEvidence

__all__ = ["metric_value", "HIGHER_IS_BETTER_METRICS"]

_NEEDS_SCORES = {"roc_auc", "average_precision", "log_loss", "brier_score"}
#: metrics where larger is better (for "worst group" and champion comparisons)
HIGHER_IS_BETTER_METRICS = frozenset(
    {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc"}
    | {"average_precision", "r2"}
)


def metric_value(
    metric: str,
    y_true: Any,
    y_pred: Any,
    scores: np.ndarray | None,
    *,
    pos_label: Any,
    task: str,
) -> float:
    """The metric on these rows; NaN where it is undefined (e.g. one class only for roc_auc)."""
    if metric in REGRESSION_METRICS:
        if task != "regression":
            raise EvaluationError(
                f"{metric} is a regression metric, and the model is a classifier; use e.g. "
                "accuracy, f1 or roc_auc"
            )
        yt = np.asarray(y_true, dtype=float)
        yp = np.asarray(y_pred, dtype=float)
        if len(yt) < 2 and metric == "r2":
            return float("nan")
        fn = {
            "r2": skm.r2_score,
            "mae": skm.mean_absolute_error,
            "rmse": skm.root_mean_squared_error,
            "mape": skm.mean_absolute_percentage_error,
        }[metric]
        return float(fn(yt, yp))
    if task != "classification":
        raise EvaluationError(
            f"{metric} is a classification metric, and the model is a regressor; use r2, mae, "
            "rmse or mape"
        )
    yt = (np.asarray(y_true) == pos_label).astype(int)
    yp = (np.asarray(y_pred) == pos_label).astype(int)
    if metric in _NEEDS_SCORES:
        if scores is None:
            raise EvaluationError(
                f"{metric} needs predicted probabilities, and the model gives none "
                "(no predict_proba); use a label metric such as accuracy or f1"
            )
        if metric in ("roc_auc", "average_precision") and len(np.unique(yt)) < 2:
            return float("nan")
        s = scores
        if metric == "roc_auc":
            return float(skm.roc_auc_score(yt, s))
        if metric == "average_precision":
            return float(skm.average_precision_score(yt, s))
        if metric == "log_loss":
            return float(skm.log_loss(yt, s, labels=[0, 1]))
        return float(skm.brier_score_loss(yt, s, pos_label=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fn2 = {
            "accuracy": lambda: skm.accuracy_score(yt, yp),
            "balanced_accuracy": lambda: skm.balanced_accuracy_score(yt, yp),
            "precision": lambda: skm.precision_score(yt, yp, zero_division=0),
            "recall": lambda: skm.recall_score(yt, yp, zero_division=0),
            "f1": lambda: skm.f1_score(yt, yp, zero_division=0),
        }[metric]
        return float(fn2())


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _curves(ctx: CheckContext):
    """ROC and calibration overall and per sensitive group, once per run (aggregates only)."""
    if ctx.task != "classification" or ctx.scores is None or ctx.y_true is None:
        return None
    if "card.curves" not in ctx.cache:
        from govkit.curves import classifier_curves

        meta = ctx.model_record.metadata if ctx.model_record else None
        cols = [c for c in (meta.sensitive_features if meta else ()) if c in ctx.data.columns]
        y = ctx.y_true.to_numpy() == ctx.pos_label
        ctx.cache["card.curves"] = classifier_curves(
            y, ctx.scores, groups=ctx.data[cols] if cols else None, min_group_size=30
        )
    return ctx.cache["card.curves"]


def _overall(rule: PerformanceRule, ctx: CheckContext) -> Measured:
    assert ctx.y_true is not None
    value = metric_value(
        rule.metric, ctx.y_true, ctx.y_pred, ctx.scores, pos_label=ctx.pos_label, task=ctx.task
    )
    if not np.isfinite(value):
        raise EvaluationError(
            f"{rule.metric} is undefined on this data (only one class in the labels)"
        )
    bound = rule.threshold.to_bound()
    confusion = None
    if ctx.task == "classification":
        yt = ctx.y_true.to_numpy() == ctx.pos_label
        yp = np.asarray(ctx.y_pred) == ctx.pos_label
        confusion = {
            "tp": float(np.sum(yt & yp)),
            "fp": float(np.sum(~yt & yp)),
            "tn": float(np.sum(~yt & ~yp)),
            "fn": float(np.sum(yt & ~yp)),
        }
    evidence = MetricsEvidence(
        values={rule.metric: _finite(value)}, confusion=confusion, curves=_curves(ctx)
    )
    return Measured(
        _finite(value),
        bound.holds(value),
        f"{rule.metric} is {value:.4f} on {len(ctx.y_true):,} rows; required {bound}",
        evidence,
    )


def _by_group(rule: PerformanceRule, ctx: CheckContext) -> Measured:
    assert ctx.y_true is not None
    keys = [ctx.data[c].astype(str).to_numpy() for c in rule.by]
    frame = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)})
    y_true = ctx.y_true.to_numpy()
    y_pred = np.asarray(ctx.y_pred)
    overall = metric_value(
        rule.metric, y_true, y_pred, ctx.scores, pos_label=ctx.pos_label, task=ctx.task
    )
    rows: list[GroupRow] = []
    values: list[float] = []
    for group, index in sorted(frame.groupby(list(frame.columns), sort=True).indices.items()):
        group = group if isinstance(group, tuple) else (group,)
        scores = None if ctx.scores is None else ctx.scores[index]
        value = metric_value(
            rule.metric,
            y_true[index],
            y_pred[index],
            scores,
            pos_label=ctx.pos_label,
            task=ctx.task,
        )
        judged = len(index) >= rule.min_group_size and bool(np.isfinite(value))
        rows.append(
            GroupRow(
                group=tuple(str(g) for g in group),
                count=len(index),
                metrics={rule.metric: _finite(value)},
                judged=judged,
            )
        )
        values.append(value)
    bound = rule.threshold.to_bound()
    judged_values = [v for v, r in zip(values, rows, strict=True) if r.judged]
    if not judged_values:
        raise EvaluationError(
            f"no group of {' x '.join(rule.by)} has at least min_group_size="
            f"{rule.min_group_size} rows and a defined {rule.metric}"
        )
    higher = rule.metric in HIGHER_IS_BETTER_METRICS
    worst = min(judged_values) if higher else max(judged_values)
    failing = [
        " / ".join(r.group)
        for r, v in zip(rows, values, strict=True)
        if r.judged and not bound.holds(v)
    ]
    by = " x ".join(rule.by)
    message = f"{rule.metric} by {by}: worst group {worst:.4f} (overall {overall:.4f})"
    if failing:
        message += f"; outside the bound: {', '.join(failing)}"
    message += f"; required {bound}"
    skipped = [" / ".join(r.group) for r in rows if not r.judged]
    if skipped:
        message += (
            f"; {len(skipped)} group(s) under min_group_size={rule.min_group_size} or with "
            f"{rule.metric} undefined, reported but not judged: {', '.join(skipped[:10])}"
        )
    evidence = GroupEvidence(
        sensitive_features=tuple(rule.by),
        metric=rule.metric,
        overall={rule.metric: _finite(overall)},
        groups=tuple(rows),
    )
    return Measured(worst, not failing, message, evidence)


def check_performance(rule: PerformanceRule, ctx: CheckContext) -> Measured:
    return _by_group(rule, ctx) if rule.by else _overall(rule, ctx)


for _metric in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS):
    register(
        f"performance.{_metric}",
        summary=(
            f"{_metric.replace('_', ' ')} on the evaluation data within the threshold, overall "
            "or in every group of 'by'" + (" (regressors)" if _metric in REGRESSION_METRICS else "")
        ),
        parameters=("threshold", "by", "min_group_size"),
        needs_labels=True,
        needs_model=False,
    )(check_performance)
