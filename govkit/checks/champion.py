"""champion_challenger.* checks: the candidate against the current champion on the same rows.

For each named metric the *worsening* is champion - candidate for metrics where higher is
better (accuracy, roc_auc, r2, ...) and candidate - champion for losses and errors
(log_loss, brier_score, mae, rmse, mape); it must not exceed ``max_drop``. For each
fairness gap the widening is candidate - champion for a difference and champion -
candidate for a ratio or the worst group's impact ratio; it must not exceed
``max_widening``. Values are computed exactly as the performance and fairness rules
compute them. The rule's value is the largest worsening or widening found.

Dask engine: both models' outputs are columns computed per partition; the metrics and
group tables are the performance and fairness rules' exact aggregates, planned into the
evaluation's first read of the data.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from govkit.checks import _dask
from govkit.checks._registry import CheckContext, ComparedModel, Measured, register
from govkit.checks.fairness import rule_values, table_aggregate, table_for
from govkit.checks.performance import (
    HIGHER_IS_BETTER_METRICS,
    dask_aggregate,
    dask_values,
    metric_value,
)
from govkit.exceptions import EvaluationError
from govkit.fairness import group_table
from govkit.policy import ChampionChallengerRule, FairnessGap, FairnessRule, Threshold
from govkit.results import ComparisonEvidence, MetricComparison


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _gap(gap: FairnessGap, ctx: CheckContext, y_pred: np.ndarray, column: str | None) -> float:
    rule = FairnessRule(
        id="gap",
        kind="fairness",
        metric=gap.metric,
        sensitive_features=gap.sensitive_features,
        threshold=Threshold(min=0.0),  # "worst group" = the lowest ratio
        min_group_size=gap.min_group_size,
    )
    if ctx.dask is not None:
        table = table_for(ctx, gap.sensitive_features, column)
    else:
        table = group_table(
            ctx.y_true,
            y_pred,
            sensitive_features=ctx.data[list(gap.sensitive_features)],
            pos_label=ctx.pos_label,
        )
    judged = table.sizes >= gap.min_group_size
    if not judged.any():
        raise EvaluationError(
            f"no group of {' x '.join(gap.sensitive_features)} has at least "
            f"min_group_size={gap.min_group_size} rows"
        )
    return rule_values(rule, table, judged)[0]


def _compare(
    metric: str,
    champion: float,
    challenger: float,
    *,
    worse_when_lower: bool,
    allowed: float,
    sensitive: tuple[str, ...] = (),
) -> MetricComparison:
    worsening = champion - challenger if worse_when_lower else challenger - champion
    ok = bool(np.isfinite(worsening)) and worsening <= allowed
    return MetricComparison(
        metric=metric,
        sensitive_features=sensitive,
        champion=_finite(champion),
        challenger=_finite(challenger),
        worsening=_finite(worsening),
        allowed=allowed,
        ok=ok,
    )


def _comparisons(
    rule: ChampionChallengerRule, ctx: CheckContext, champ: ComparedModel
) -> list[MetricComparison]:
    out = []
    for metric, margin in rule.metrics.items():
        if ctx.y_true is None:
            raise EvaluationError(f"{metric} needs true labels (a target column)")
        if metric in ("roc_auc", "average_precision", "log_loss", "brier_score") and (
            champ.scores is None
        ):
            raise EvaluationError(
                f"{metric} needs the champion's scores ({champ.label} gives none; with recorded "
                "predictions pass --champion-score-column)"
            )
        if ctx.dask is not None:
            assert champ.columns is not None
            column, score = champ.columns
            values = [
                _only(dask_values(metric, ctx, prediction=column, score=score)),
                _only(dask_values(metric, ctx)),
            ]
        else:
            values = [
                metric_value(
                    metric, ctx.y_true, pred, scores, pos_label=ctx.pos_label, task=ctx.task
                )
                for pred, scores in ((champ.y_pred, champ.scores), (ctx.y_pred, ctx.scores))
            ]
        out.append(
            _compare(
                metric,
                *values,
                worse_when_lower=metric in HIGHER_IS_BETTER_METRICS,
                allowed=margin.max_drop,
            )
        )
    for gap in rule.fairness:
        if ctx.task != "classification":
            raise EvaluationError("fairness gaps need a binary classifier")
        out.append(
            _compare(
                gap.metric,
                _gap(gap, ctx, champ.y_pred, champ.columns[0] if champ.columns else None),
                _gap(gap, ctx, np.asarray(ctx.y_pred), None),
                worse_when_lower=not gap.metric.endswith("_difference"),
                allowed=gap.max_widening,
                sensitive=tuple(gap.sensitive_features),
            )
        )
    return out


def _only(values: dict[tuple[str, ...], tuple[int, float]]) -> float:
    """The value of the one group (no ``by``)."""
    ((_, value),) = values.values()
    return value


def _plan(rule: ChampionChallengerRule, ctx: CheckContext) -> dict[Hashable, _dask.Aggregate]:
    champ = ctx.champions.get(rule.champion)
    if champ is None or champ.columns is None:
        return {}
    column, score = champ.columns
    plan: dict[Hashable, _dask.Aggregate] = {}
    for metric in rule.metrics:
        plan.update([dask_aggregate(metric, ctx, prediction=column, score=score)])
        plan.update([dask_aggregate(metric, ctx)])
    if ctx.task == "classification":
        for gap in rule.fairness:
            plan.update([table_aggregate(ctx, gap.sensitive_features, column)])
            plan.update([table_aggregate(ctx, gap.sensitive_features)])
    return plan


@register(
    "champion_challenger.no_regression",
    summary=(
        "the candidate is not worse than the champion by more than max_drop on each named "
        "metric, and widens no named fairness gap by more than max_widening (both models on "
        "the same rows; every value recorded)"
    ),
    parameters=("champion", "metrics", "fairness"),
    needs_champion=True,
    dask_plan=_plan,
)
def check_no_regression(rule: ChampionChallengerRule, ctx: CheckContext) -> Measured:
    champ = ctx.champions[rule.champion]
    challenger = str(ctx.model_record.ref) if ctx.model_record else "the candidate"
    comparisons = _comparisons(rule, ctx, champ)

    def describe(c: MetricComparison) -> str:
        by = f" by {' x '.join(c.sensitive_features)}" if c.sensitive_features else ""
        change = "undefined" if c.worsening is None else f"{c.worsening:+.4f}"
        return (
            f"{c.metric}{by} {_fmt(c.challenger)} vs {_fmt(c.champion)} "
            f"(worsening {change}, allowed {c.allowed:g})"
        )

    bad = [c for c in comparisons if not c.ok]
    chosen = f" ({champ.basis})" if champ.basis else ""
    message = f"{challenger} vs champion {champ.label}{chosen}: " + "; ".join(
        map(describe, comparisons)
    )
    if bad:
        message += f" -- worse beyond the margin: {', '.join(c.metric for c in bad)}"
    message += _decided_at(ctx.decision_threshold, champ.decision_threshold)
    worst = [c.worsening for c in comparisons if c.worsening is not None]
    evidence = ComparisonEvidence(
        champion=champ.label, challenger=challenger, comparisons=tuple(comparisons)
    )
    return Measured(max(worst) if worst else None, not bad, message, evidence)


def _decided_at(candidate: float | None, champion: float | None) -> str:
    """Which decision thresholds the labels were decided at (their metadata's), if any."""
    if candidate is None and champion is None:
        return ""

    def at(threshold: float | None) -> str:
        return "model.predict()" if threshold is None else f"score >= {threshold:g}"

    if candidate == champion:
        return f" (labels of both decided at {at(candidate)}, their decision.threshold)"
    return (
        f" (labels decided at {at(candidate)} for the candidate, {at(champion)} for the "
        "champion, by their metadata's decision.threshold)"
    )


def _fmt(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.4f}"
