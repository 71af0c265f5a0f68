"""performance.* checks: classification and regression metrics (scikit-learn's definitions),
overall or in every group of ``by``.

* Classification metrics need a binary classifier (labels compared with the positive label);
  roc_auc, average_precision, log_loss and brier_score need its scores.
* Regression metrics (r2, mae, rmse, mape) need a regressor: numeric targets and predictions.
* With ``by``, the bound must hold in every judged group; groups smaller than
  ``min_group_size``, and groups where the metric is undefined (one class only for roc_auc,
  fewer than two rows for r2), are reported but not judged. The value is the worst group's.

Dask engine: every metric is exact, from one read of the data. Label metrics come from
the rows per (group, label, prediction) -- scikit-learn's functions on those counts as
sample weights give the row-by-row values; score metrics (roc_auc, average_precision,
log_loss, brier_score) from the rows per distinct score (the driver holds one row per
distinct score and group; both engines sum log_loss and brier_score over the distinct
(score, label) pairs in sorted order, so they are the same float); regression metrics
from per-group error sums and the target's moments (equal up to float rounding of the
summation order). The ROC and calibration curves the card draws from an overall rule's
evidence are not computed.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from govkit.checks import _dask, _dask_stats
from govkit.checks._registry import CheckContext, Measured, register
from govkit.exceptions import EvaluationError
from govkit.policy import CLASSIFICATION_METRICS, REGRESSION_METRICS, PerformanceRule
from govkit.results import ClassifierCurves, GroupEvidence, GroupRow, MetricsEvidence

log = logging.getLogger(__name__)

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
    sample_weight: np.ndarray | None = None,
) -> float:
    """The metric on these rows; NaN where it is undefined (e.g. one class only for roc_auc).

    ``sample_weight``: each row stands for that many rows (the Dask engine's count tables).
    """
    _check_metric(metric, task, has_scores=scores is not None)
    w = sample_weight
    if metric in REGRESSION_METRICS:
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
        return float(fn(yt, yp, sample_weight=w))
    yt = (np.asarray(y_true) == pos_label).astype(int)
    yp = (np.asarray(y_pred) == pos_label).astype(int)
    if metric in _NEEDS_SCORES:
        if metric in ("roc_auc", "average_precision") and len(np.unique(yt)) < 2:
            return float("nan")
        s = scores
        if metric == "roc_auc":
            return float(skm.roc_auc_score(yt, s, sample_weight=w))
        if metric == "average_precision":
            return float(skm.average_precision_score(yt, s, sample_weight=w))
        yt, s, w = _score_table(yt, s, w)  # the same sum in both engines
        if metric == "log_loss":
            return float(skm.log_loss(yt, s, labels=[0, 1], sample_weight=w))
        return float(skm.brier_score_loss(yt, s, pos_label=1, sample_weight=w))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fn2: Callable[[], float] = {
            "accuracy": lambda: skm.accuracy_score(yt, yp, sample_weight=w),
            "balanced_accuracy": lambda: skm.balanced_accuracy_score(yt, yp, sample_weight=w),
            "precision": lambda: skm.precision_score(yt, yp, zero_division=0, sample_weight=w),
            "recall": lambda: skm.recall_score(yt, yp, zero_division=0, sample_weight=w),
            "f1": lambda: skm.f1_score(yt, yp, zero_division=0, sample_weight=w),
        }[metric]
        return float(fn2())


def _score_table(
    y: np.ndarray, scores: Any, weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (score, label) pairs, sorted, with their rows (or summed weights).

    log_loss and brier_score are weighted means over rows; summed over this table, in
    this order, the in-memory rows and the Dask engine's per-partition counts give the
    same float, not two summation orders a few ulps apart.
    """
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    frame = pd.DataFrame({"s": np.asarray(scores, dtype=float), "t": y, "w": w})
    table = frame.groupby(["s", "t"], sort=True, dropna=False)["w"].sum()
    return (
        table.index.get_level_values("t").to_numpy(),
        table.index.get_level_values("s").to_numpy(),
        table.to_numpy(dtype=float),
    )


def _check_metric(metric: str, task: str, *, has_scores: bool) -> None:
    """The metric fits the model (classifier or regressor) and its output."""
    if metric in REGRESSION_METRICS:
        if task != "regression":
            raise EvaluationError(
                f"{metric} is a regression metric, and the model is a classifier; use e.g. "
                "accuracy, f1 or roc_auc"
            )
        return
    if task != "classification":
        raise EvaluationError(
            f"{metric} is a classification metric, and the model is a regressor; use r2, mae, "
            "rmse or mape"
        )
    if metric in _NEEDS_SCORES and not has_scores:
        raise EvaluationError(
            f"{metric} needs predicted probabilities, and the model gives none "
            "(no predict_proba); use a label metric such as accuracy or f1"
        )


# -- Dask ------------------------------------------------------------------------------------


def dask_aggregate(
    metric: str,
    ctx: CheckContext,
    *,
    by: tuple[str, ...] = (),
    prediction: str | None = None,
    score: str | None = None,
) -> tuple[Any, _dask.Aggregate]:
    """(key, aggregate) of what ``metric`` needs per group of ``by``.

    ``prediction`` / ``score``: columns of another model's output (default: the candidate's).
    """
    data = ctx.dask
    assert data is not None  # the Dask engine
    if prediction is None:
        prediction, score = data.prediction, data.score
    key: tuple[Any, ...]
    if ctx.task == "regression":
        key = ("regression", by, prediction)
        return key, _dask_stats.regression_aggregate(
            by=by, target=data.target, prediction=prediction
        )
    score = score if metric in _NEEDS_SCORES else None
    key = ("cells", by, prediction, score, ctx.pos_label)
    return key, _dask_stats.cells_aggregate(
        by=by, target=data.target, prediction=prediction, score=score, pos_label=ctx.pos_label
    )


def dask_values(
    metric: str,
    ctx: CheckContext,
    *,
    by: tuple[str, ...] = (),
    prediction: str | None = None,
    score: str | None = None,
) -> dict[tuple[str, ...], tuple[int, float]]:
    """Per group of ``by`` (sorted; ``()`` without ``by``): (rows, metric value)."""
    assert ctx.dask is not None  # the Dask engine
    has_scores = (ctx.dask.score if prediction is None else score) is not None
    _check_metric(metric, ctx.task, has_scores=has_scores)
    key, aggregate = dask_aggregate(metric, ctx, by=by, prediction=prediction, score=score)
    groups = _dask.need(ctx, {key: aggregate})[key]
    out = {}
    for group, stats in groups.items():
        if ctx.task == "regression":
            out[group] = (int(stats[0]), _dask_stats.regression_value(metric, stats))
            continue
        scores = stats["s"].to_numpy() if "s" in stats else None
        w = stats["w"].to_numpy(dtype=float)
        value = metric_value(
            metric,
            stats["t"].to_numpy(),
            stats["p"].to_numpy(),
            scores,
            pos_label=True,
            task=ctx.task,
            sample_weight=w,
        )
        out[group] = (int(w.sum()), value)
    return out


def _dask_confusion(ctx: CheckContext) -> dict[str, float]:
    key, aggregate = dask_aggregate("accuracy", ctx)
    (cells,) = _dask.need(ctx, {key: aggregate})[key].values()
    w = {(bool(t), bool(p)): 0.0 for t in (0, 1) for p in (0, 1)}
    for t, p, n in zip(cells["t"], cells["p"], cells["w"], strict=True):
        w[(bool(t), bool(p))] += float(n)
    return {"tp": w[True, True], "fp": w[False, True], "tn": w[False, False], "fn": w[True, False]}


def _plan(rule: PerformanceRule, ctx: CheckContext) -> dict[Hashable, _dask.Aggregate]:
    assert ctx.dask is not None  # plans are made for the Dask engine only
    try:
        _check_metric(rule.metric, ctx.task, has_scores=ctx.dask.score is not None)
    except EvaluationError:
        return {}  # the check reports it
    plan = dict([dask_aggregate(rule.metric, ctx)])
    if rule.by:
        plan.update([dask_aggregate(rule.metric, ctx, by=tuple(rule.by))])
    elif ctx.task == "classification":
        plan.update([dask_aggregate("accuracy", ctx)])  # the confusion counts of the evidence
    return plan


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _curves(ctx: CheckContext) -> ClassifierCurves | None:
    """ROC and calibration overall and per sensitive group, once per run (aggregates only)."""
    if ctx.task != "classification" or ctx.scores is None or ctx.y_true is None:
        return None
    if "card.curves" not in ctx.cache:
        from govkit.curves import classifier_curves

        meta = ctx.model_record.metadata if ctx.model_record else None
        cols = [c for c in (meta.sensitive_features if meta else ()) if c in ctx.data.columns]
        # a row without a group belongs to none: no curves by a column with empty cells
        # (a policy's own group columns are refused earlier, see refuse_empty_groups)
        empty = [c for c in cols if ctx.data[c].isna().any()]
        if empty:
            log.warning("no curves by %s: the column has empty cells", ", ".join(empty))
            cols = [c for c in cols if c not in empty]
        y = ctx.y_true.to_numpy() == ctx.pos_label
        ctx.cache["card.curves"] = classifier_curves(
            y, ctx.scores, groups=ctx.data[cols] if cols else None, min_group_size=30
        )
    curves: ClassifierCurves = ctx.cache["card.curves"]
    return curves


def _overall(rule: PerformanceRule, ctx: CheckContext) -> Measured:
    assert ctx.y_true is not None
    if ctx.dask is not None:
        ((n_rows, value),) = dask_values(rule.metric, ctx).values()
    else:
        n_rows = len(ctx.y_true)
        value = metric_value(
            rule.metric, ctx.y_true, ctx.y_pred, ctx.scores, pos_label=ctx.pos_label, task=ctx.task
        )
    if not np.isfinite(value):
        raise EvaluationError(
            f"{rule.metric} is undefined on this data (only one class in the labels)"
        )
    bound = rule.threshold.to_bound()
    confusion = None
    if ctx.task == "classification" and ctx.dask is not None:
        confusion = _dask_confusion(ctx)
    elif ctx.task == "classification":
        yt = ctx.y_true.to_numpy() == ctx.pos_label
        yp = np.asarray(ctx.y_pred) == ctx.pos_label
        confusion = {
            "tp": float(np.sum(yt & yp)),
            "fp": float(np.sum(~yt & yp)),
            "tn": float(np.sum(~yt & ~yp)),
            "fn": float(np.sum(yt & ~yp)),
        }
    evidence = MetricsEvidence(
        values={rule.metric: _finite(value)},
        confusion=confusion,
        curves=_curves(ctx) if ctx.dask is None else None,
    )
    return Measured(
        _finite(value),
        bound.holds(value),
        f"{rule.metric} is {bound.shown(value, '.4f')} on {n_rows:,} rows; required {bound}",
        evidence,
    )


def _group_values(
    rule: PerformanceRule, ctx: CheckContext
) -> tuple[float, list[tuple[tuple[str, ...], int, float]]]:
    """(overall value, [(group, rows, value)] in group order)."""
    if ctx.dask is not None:
        ((_, overall),) = dask_values(rule.metric, ctx).values()
        groups = dask_values(rule.metric, ctx, by=tuple(rule.by))
        return overall, [(g, n, v) for g, (n, v) in groups.items()]
    assert ctx.y_true is not None
    keys = [ctx.data[c].astype(str).to_numpy() for c in rule.by]
    frame = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)})
    y_true = ctx.y_true.to_numpy()
    y_pred = np.asarray(ctx.y_pred)
    overall = metric_value(
        rule.metric, y_true, y_pred, ctx.scores, pos_label=ctx.pos_label, task=ctx.task
    )
    out = []
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
        out.append((tuple(str(g) for g in group), len(index), value))
    return overall, out


def _by_group(rule: PerformanceRule, ctx: CheckContext) -> Measured:
    overall, groups = _group_values(rule, ctx)
    rows: list[GroupRow] = []
    values: list[float] = []
    for group, count, value in groups:
        judged = count >= rule.min_group_size and bool(np.isfinite(value))
        rows.append(
            GroupRow(
                group=group,
                count=count,
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
    shown = bound.shown(worst, ".4f")
    message = f"{rule.metric} by {by}: worst group {shown} (overall {overall:.4f})"
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
        dask_plan=_plan,
    )(check_performance)
