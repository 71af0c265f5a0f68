"""explanation.* checks: SHAP explanations that exist, add up, repeat, and what dominates them.

All explanation rules of one run share the work: one explainer per ``method`` (built on
the evaluated data as background) and one set of attributions per (``method``,
``sample``) -- a seeded sample of the evaluated rows -- kept in the check context.

* coverage: share of explained rows with finite attributions and
  |base + sum(phi) - f(x)| <= tolerance (f(x) from the model itself).
* fidelity: the mean or largest additivity error |base + sum(phi) - f(x)| (infinite for a
  row with non-finite numbers).
* stability: the same rows explained a second time; the largest |phi_1 - phi_2|.
* sensitive_not_in_top_k: no sensitive feature among the k features with the largest mean
  |attribution|.
* proxy_not_in_top_k: no feature among those k whose association with a sensitive feature
  (Cramér's V or correlation ratio, see :mod:`govkit.checks._association`, on the
  evaluated rows) exceeds ``max_association``.
* method: the explainer method used (tree, linear, permutation) is one of the required.

Dask engine: the explained rows and the explainer's background are the rows the
in-memory run samples (``DataFrame.sample(random_state=0)`` positions), fetched from
their partitions, so every explanation rule gives the in-memory result; drawing the
positions holds 8 bytes per row on the driver. Associations (proxy_not_in_top_k) are
computed over every row from per-partition contingency tables or per-group moments.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np

from govkit.checks import _dask, _dask_stats
from govkit.checks._association import association, cramers_v_of_table
from govkit.checks._drift_stats import is_categorical
from govkit.checks._registry import CheckContext, Measured, register
from govkit.exceptions import EvaluationError
from govkit.policy import ExplanationRule
from govkit.results import (
    ExplanationEvidence,
    FeatureImportance,
    Finding,
    FindingsEvidence,
)

if TYPE_CHECKING:
    from govkit.explainers._factory import MethodChoice

_TOP = 10
_BACKGROUND = 200  # rows of the explainer's reference data (a seeded sample)


#: Default additivity tolerances: float64 models add up to ~1e-12; XGBoost computes its
#: margins and contributions in float32, so errors of a few 1e-6 are rounding, not a fault.
DEFAULT_TOLERANCE = 1e-6
FLOAT32_TOLERANCE = 1e-5


def default_tolerance(model: object) -> float:
    """The coverage tolerance when the policy gives none, by the model's numeric precision."""
    if model is None:
        return DEFAULT_TOLERANCE
    steps = getattr(model, "steps", None)  # a Pipeline: the estimator is its last step
    final = steps[-1][1] if steps else model
    return FLOAT32_TOLERANCE if type(final).__module__.startswith("xgboost") else DEFAULT_TOLERANCE


def _explainer(ctx: CheckContext, method: MethodChoice) -> Any:
    """The run's explainer for ``method``, built once (background: the evaluated rows)."""
    from govkit.explainers import make_explainer

    assert ctx.features is not None and ctx.model is not None
    key = ("explainer", method)
    if key not in ctx.cache:
        background = ctx.features
        if ctx.dask is not None:  # the rows make_explainer would sample from all of them
            background = _rows(ctx, min(_BACKGROUND, ctx.dask.n_rows))
        ctx.cache[key] = make_explainer(
            ctx.model,
            background,
            method=method,
            positive_class=ctx.pos_label,
            max_background=_BACKGROUND,
            random_state=0,
        )
    return ctx.cache[key]


def _rows(ctx: CheckContext, n: int) -> Any:
    """``features.sample(n=n, random_state=0)`` (all rows in order when n is all of them)."""
    X = ctx.features
    assert X is not None
    if ctx.dask is None:
        return X.sample(n=n, random_state=0) if n < len(X) else X
    _fetch(ctx, [n])
    return ctx.cache[("rows", n)]


def _fetch(ctx: CheckContext, sizes: list[int]) -> None:
    """Dask: the samples of ``sizes`` rows not fetched yet, in one read of the features."""
    wanted = [n for n in dict.fromkeys(sizes) if ("rows", n) not in ctx.cache]
    if not wanted:
        return
    assert ctx.features is not None and ctx.dask is not None
    n_rows = ctx.dask.n_rows
    chosen = {
        n: _dask.sample_positions(n_rows, n) if n < n_rows else np.arange(n_rows) for n in wanted
    }
    union = np.unique(np.concatenate(list(chosen.values())))
    rows = _dask.take_rows(ctx.dask, list(ctx.features.columns), union)
    for n, positions in chosen.items():
        ctx.cache[("rows", n)] = rows.loc[positions]


def explained(ctx: CheckContext, method: MethodChoice, sample: int) -> tuple[Any, Any, Any]:
    """(explainer, explained rows, attributions), computed once per run and (method, sample)."""
    X = ctx.features
    assert X is not None
    n = min(sample, ctx.dask.n_rows if ctx.dask is not None else len(X))
    if ctx.dask is not None:  # the background and the explained rows in one read
        _fetch(ctx, [min(_BACKGROUND, ctx.dask.n_rows), n])
    explainer = _explainer(ctx, method)
    key = ("attributions", method, n)
    if key not in ctx.cache:
        rows = _rows(ctx, n)
        ctx.cache[key] = (rows, explainer.explain(rows))
    rows, attributions = ctx.cache[key]
    return explainer, rows, attributions


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
    _, rows, attributions = explained(ctx, rule.method, rule.sample)
    n = len(rows)
    errors = attributions.additivity_error()
    tolerance = rule.tolerance if rule.tolerance is not None else default_tolerance(ctx.model)
    valid = attributions.valid(tolerance)
    coverage = float(np.mean(valid)) if n else 0.0
    finite = errors[np.isfinite(errors)]
    importance = attributions.mean_abs()
    from govkit.curves import attribution_distributions

    distributions = attribution_distributions(
        attributions.values,
        rows.reset_index(drop=True),
        attributions.feature_names,
        features=list(importance)[:_TOP],
    )
    evidence = ExplanationEvidence(
        distributions=distributions,
        method=attributions.method,
        rows_evaluated=n,
        rows_valid=int(valid.sum()),
        tolerance=tolerance,
        max_abs_error=float(finite.max()) if finite.size else None,
        top_features=tuple(
            FeatureImportance(feature=f, mean_abs_attribution=float(v))
            for f, v in list(importance.items())[:_TOP]
        ),
    )
    assert rule.threshold is not None
    bound = rule.threshold.to_bound()
    message = (
        f"{int(valid.sum()):,} of {n:,} explanations ({attributions.method}, "
        f"{attributions.output_space}) add up within {tolerance:g}: coverage "
        f"{bound.shown(coverage, '.4f')}; required {bound}"
    )
    return Measured(coverage, bound.holds(coverage), message, evidence)


def _findings(items: list[tuple[str, bool, str]]) -> FindingsEvidence:
    return FindingsEvidence(findings=tuple(Finding(item=i, ok=o, detail=d) for i, o, d in items))


@register(
    "explanation.fidelity",
    summary=(
        "the mean or largest additivity error abs(base + sum(phi) - f(x)) of the explained rows "
        "within the threshold"
    ),
    parameters=("threshold", "aggregate", "sample", "method"),
    needs_model=True,
)
def check_fidelity(rule: ExplanationRule, ctx: CheckContext) -> Measured:
    _, rows, attributions = explained(ctx, rule.method, rule.sample)
    errors = attributions.additivity_error()
    errors = np.where(np.isfinite(errors), errors, np.inf)
    if errors.size == 0:
        raise EvaluationError("no rows were explained")
    mean, largest = float(errors.mean()), float(errors.max())
    value = largest if rule.aggregate == "max" else mean
    assert rule.threshold is not None
    bound = rule.threshold.to_bound()
    ok = bound.holds(value) and np.isfinite(value)
    space = f"{attributions.method}, {attributions.output_space}"
    shown = bound.shown(value, ".3g")
    message = (
        f"{rule.aggregate} additivity error over {len(rows):,} rows ({space}) is {shown} "
        f"(mean {mean:.3g}, max {largest:.3g}); required {bound}"
    )
    evidence = _findings(
        [
            ("mean additivity error", bound.holds(mean), f"{mean:.3g}"),
            ("max additivity error", bound.holds(largest), f"{largest:.3g}"),
            ("rows explained", True, f"{len(rows):,} ({space})"),
        ]
    )
    return Measured(value if np.isfinite(value) else None, ok, message, evidence)


@register(
    "explanation.stability",
    summary=(
        "the same rows explained twice give the same attributions: the largest abs difference "
        "within the threshold"
    ),
    parameters=("threshold", "sample", "method"),
    needs_model=True,
)
def check_stability(rule: ExplanationRule, ctx: CheckContext) -> Measured:
    explainer, rows, first = explained(ctx, rule.method, rule.sample)
    key = ("attributions-again", rule.method, len(rows))
    if key not in ctx.cache:
        ctx.cache[key] = explainer.explain(rows)
    second = ctx.cache[key]
    with np.errstate(invalid="ignore"):
        diff = np.abs(first.values - second.values)
    same_nan = np.isnan(first.values) & np.isnan(second.values)
    diff = np.where(same_nan, 0.0, np.where(np.isnan(diff), np.inf, diff))
    largest = float(diff.max()) if diff.size else 0.0
    changed = int((diff.max(axis=1) > 0).sum()) if diff.size else 0
    assert rule.threshold is not None
    bound = rule.threshold.to_bound()
    shown = bound.shown(largest, ".3g")
    message = (
        f"{len(rows):,} rows explained twice ({first.method}): largest attribution "
        f"difference {shown}, {changed:,} row(s) changed at all; required {bound}"
    )
    worst: list[int] = list(np.argsort(-diff.max(axis=0))[:_TOP]) if diff.size else []
    evidence = _findings(
        [
            (
                first.feature_names[j],
                bound.holds(float(diff[:, j].max())),
                f"{diff[:, j].max():.3g}",
            )
            for j in worst
        ]
    )
    return Measured(
        largest if np.isfinite(largest) else None, bound.holds(largest), message, evidence
    )


def _sensitive(rule: ExplanationRule, ctx: CheckContext) -> list[str]:
    names = list(rule.sensitive_features)
    if not names and ctx.model_record is not None:
        names = list(ctx.model_record.metadata.sensitive_features)
    if not names:
        raise EvaluationError(
            "no sensitive features: list them under 'sensitive_features' in the rule or in the "
            "model metadata"
        )
    return names


def _top_k(rule: ExplanationRule, ctx: CheckContext) -> list[tuple[str, float]]:
    _, _, attributions = explained(ctx, rule.method, rule.sample)
    return list(attributions.mean_abs().items())[: rule.k]


@register(
    "explanation.sensitive_not_in_top_k",
    summary=(
        "no sensitive feature (the rule's, else the model metadata's) among the k features with "
        "the largest mean abs attribution"
    ),
    parameters=("k", "sensitive_features", "sample", "method"),
    needs_model=True,
)
def check_sensitive_top_k(rule: ExplanationRule, ctx: CheckContext) -> Measured:
    sensitive = _sensitive(rule, ctx)
    top = _top_k(rule, ctx)
    items = []
    for rank, (feature, value) in enumerate(top, 1):
        bad = feature in sensitive
        note = " -- a sensitive feature" if bad else ""
        items.append((f"#{rank} {feature}", not bad, f"mean |attribution| {value:.4g}{note}"))
    inputs = {str(c) for c in ctx.features.columns} if ctx.features is not None else set()
    for name in sensitive:
        if name not in inputs:
            items.append((name, True, "not a model input"))
    found = [f for f, _ in top if f in sensitive]
    message = (
        f"top {len(top)} features: {', '.join(f for f, _ in top)}; "
        + (f"sensitive among them: {', '.join(found)}" if found else "no sensitive feature")
        + f" ({', '.join(sensitive)})"
    )
    return Measured(float(len(found)), not found, message, _findings(items))


@register(
    "explanation.proxy_not_in_top_k",
    summary=(
        "no feature among the top k global attributions is strongly associated with a "
        "sensitive feature: Cramér's V (categorical) or correlation ratio (numeric) at most "
        "max_association"
    ),
    parameters=("k", "sensitive_features", "max_association", "sample", "method"),
    needs_model=True,
)
def check_proxy_top_k(rule: ExplanationRule, ctx: CheckContext) -> Measured:
    sensitive = _sensitive(rule, ctx)
    missing = [s for s in sensitive if s not in ctx.data.columns]
    if missing:
        raise EvaluationError(
            f"sensitive feature(s) {', '.join(missing)} not in the data; the proxy check needs "
            "them to measure associations"
        )
    items = []
    proxies = []
    strongest = 0.0
    top = _top_k(rule, ctx)
    if ctx.dask is not None:
        _dask_associations(ctx, [f for f, _ in top], sensitive)
    for rank, (feature, _) in enumerate(top, 1):
        key = ("association", feature)
        if key not in ctx.cache:
            ctx.cache[key] = {s: association(ctx.data[feature], ctx.data[s]) for s in sensitive}
        scores = ctx.cache[key]
        name, (value, measure) = max(scores.items(), key=lambda kv: kv[1][0])
        strongest = max(strongest, value)
        label = "Cramér's V" if measure == "cramers_v" else "correlation ratio"
        ok = value <= rule.max_association
        if not ok:
            proxies.append(f"{feature} ({label} {value:.3f} with {name})")
        items.append((f"#{rank} {feature}", ok, f"{label} {value:.3f} with {name}"))
    message = (
        f"strongest association of a top-{rule.k} feature with {', '.join(sensitive)}: "
        f"{strongest:.3f}; allowed {rule.max_association:g}"
    )
    if proxies:
        message += f"; proxies: {'; '.join(proxies)}"
    return Measured(strongest, not proxies, message, _findings(items))


def _dask_associations(ctx: CheckContext, features: list[str], sensitive: list[str]) -> None:
    """The associations of ``features`` with ``sensitive`` over the Dask rows, in one pass."""
    wanted = [f for f in features if ("association", f) not in ctx.cache]
    aggregates: dict[Hashable, _dask.Aggregate] = {}
    for feature in wanted:
        for name in sensitive:
            categorical = is_categorical(ctx.data[feature])
            make = (
                _dask_stats.contingency_aggregate if categorical else _dask_stats.moments_aggregate
            )
            aggregates[("association", feature, name)] = make(feature, name)
    values = _dask.need(ctx, aggregates)
    for feature in wanted:
        scores = {}
        for name in sensitive:
            value = values[("association", feature, name)]
            if is_categorical(ctx.data[feature]):
                scores[name] = (cramers_v_of_table(value), "cramers_v")
            else:
                scores[name] = (value, "correlation_ratio")
        ctx.cache[("association", feature)] = scores


@register(
    "explanation.method",
    summary="the explainer method used (tree, linear or permutation) is one of required_method",
    parameters=("required_method", "method"),
    needs_model=True,
)
def check_method(rule: ExplanationRule, ctx: CheckContext) -> Measured:
    explainer = _explainer(ctx, rule.method)
    used = explainer.method
    ok = used in rule.required_method
    reason = getattr(explainer, "fallback_reason", None)
    detail = used + (f" (fallback: {reason})" if reason else "")
    message = f"explainer method is {detail}; required one of: {', '.join(rule.required_method)}"
    return Measured(float(ok), ok, message, _findings([("explainer method", ok, detail)]))
