"""drift.* checks: the evaluated data (or the model's output on it) against the training data.

The reference is the model's registered training data, given with ``--reference-data``
(``govkit check`` verifies its fingerprint); without it the rules are not applicable.
Statistics and binning: see :mod:`govkit.checks._drift_stats` (missing values: a PSI bin
or category of their own; left out by KS, whose message gives their share). Each feature
is judged against its own bound (``features: {age: {max: 0.1}}``) or the rule's ``threshold``;
features with fewer than ``min_rows`` usable rows in either data set are reported, not
judged. The rule's value is the worst judged feature's (largest statistic, or smallest
p-value when the rule judges p-values).

Dask engine: the reference (training data) is held in memory, the evaluated data are
counted per partition, exactly: PSI from the rows per reference bin or per category,
chi-squared from the rows per category, and the Kolmogorov-Smirnov test from the
distinct values and their counts, expanded on the driver into the column's values (8
bytes per row of that one column) for scipy's ``ks_2samp``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from govkit.checks import _dask, _dask_stats
from govkit.checks import _drift_stats as stats
from govkit.checks._registry import CheckContext, Measured, register
from govkit.exceptions import EvaluationError
from govkit.policy import DriftRule, Threshold
from govkit.results import DriftEvidence, FeatureDrift

_NAMES = {"psi": "population_stability_index", "ks": "kolmogorov_smirnov", "chi2": "chi_squared"}
_APPLIES = {"ks": "numeric", "chi2": "categorical"}


def _default_features(rule: DriftRule, ctx: CheckContext) -> list[str]:
    assert ctx.reference_data is not None
    target = ctx.y_true.name if ctx.y_true is not None else None
    names = list(ctx.feature_names) or [
        c for c in ctx.reference_data.columns if c in ctx.data.columns and c != target
    ]
    wanted = _APPLIES.get(rule.statistic)
    if wanted is None:
        return names
    return [
        n for n in names if stats.is_categorical(ctx.reference_data[n]) == (wanted == "categorical")
    ]


@dataclass(frozen=True)
class _DaskColumn:
    """A column of the Dask rows: compared by aggregates, typed by its empty ``meta``."""

    column: str
    meta: pd.Series
    as_text: bool = False  # predicted labels are compared as text


def _aggregate(
    statistic: str, rule: DriftRule, reference: Any, current: _DaskColumn
) -> tuple[Any, _dask.Aggregate]:
    """(key, aggregate) of what ``statistic`` needs from the Dask rows."""
    column = current.column
    if statistic == "ks":
        return ("distinct", column), _dask_stats.distinct_aggregate(column)
    if statistic == "chi2" or stats.is_categorical(reference) or _is_categorical(current):
        key = ("categories", column, current.as_text)
        return key, _dask_stats.categories_aggregate(column, as_text=current.as_text)
    bins = stats.psi_bins(reference, rule.bins)
    return ("bins", column, bins), _dask_stats.bins_aggregate(column, bins)


def _compute_dask(
    statistic: str, rule: DriftRule, reference: Any, current: _DaskColumn, ctx: CheckContext
) -> stats.DriftStat:
    key, aggregate = _aggregate(statistic, rule, reference, current)
    counted = _dask.need(ctx, {key: aggregate})[key]
    if statistic == "ks":
        return stats.ks(reference, counted)
    if key[0] == "categories":
        r_counts, c_counts = stats.aligned(stats.category_counts(reference), counted)
        if statistic == "chi2":
            return stats.chi2_of_counts(r_counts, c_counts)
        return stats.psi_of_counts(r_counts, c_counts, epsilon=rule.epsilon)
    bins: stats.PsiBins = key[2]
    return stats.psi_of_counts(stats.bin_counts(reference, bins), counted, epsilon=rule.epsilon)


def _is_categorical(values: Any) -> bool:
    return stats.is_categorical(values.meta if isinstance(values, _DaskColumn) else values)


def _compute(statistic: str, rule: DriftRule, reference: Any, current: Any) -> stats.DriftStat:
    if statistic == "psi":
        return stats.psi(reference, current, bins=rule.bins, epsilon=rule.epsilon)
    return stats.ks(reference, current) if statistic == "ks" else stats.chi2(reference, current)


def _kind_error(name: str, statistic: str, categorical: bool) -> EvaluationError:
    kind = "categorical" if categorical else "numeric"
    other = "chi2" if categorical else "ks"
    return EvaluationError(
        f"'{name}' is {kind}, and {statistic} compares {_APPLIES[statistic]} distributions; "
        f"use statistic {other} or psi for it (or leave it out of 'features')"
    )


def _judge(
    rule: DriftRule, pairs: list[tuple[str, Any, Any, Threshold | None]], ctx: CheckContext
) -> Measured:
    """pairs: (name, reference values, current values, own bound or None)."""
    on_p = rule.judged_on == "p_value"
    rows: list[FeatureDrift] = []
    judged_values: list[tuple[float, str]] = []
    failing: list[str] = []
    left_out: list[str] = []  # missing values a test could not use (ks)
    for name, reference, current, own in pairs:
        categorical = stats.is_categorical(reference)
        if rule.statistic in _APPLIES and categorical != (
            _APPLIES[rule.statistic] == "categorical"
        ):
            raise _kind_error(name, rule.statistic, categorical)
        if _is_categorical(current) != categorical:
            raise EvaluationError(
                f"'{name}' is {'categorical' if categorical else 'numeric'} in the reference "
                "data but not in the evaluated data; align the column types"
            )
        if isinstance(current, _DaskColumn):
            result = _compute_dask(rule.statistic, rule, reference, current, ctx)
        else:
            result = _compute(rule.statistic, rule, reference, current)
        if result.missing_reference or result.missing_current:
            left_out.append(f"{name} {_missing_shares(result)}")
        threshold = own or rule.threshold
        assert threshold is not None  # the schema guarantees a bound per feature
        bound = threshold.to_bound()
        measured = result.p_value if on_p else result.statistic
        judged = (
            min(result.n_reference, result.n_current) >= rule.min_rows
            and measured is not None
            and bool(np.isfinite(measured))
        )
        ok = bound.holds(measured) if judged else None
        rows.append(
            FeatureDrift(
                feature=name,
                value=_finite(result.statistic),
                judged=judged,
                p_value=_finite(result.p_value),
                bound=bound,
                passed=ok,
            )
        )
        if judged:
            assert measured is not None
            judged_values.append((measured, name))
            if not ok:
                failing.append(f"{name} {bound.shown(measured)} (required {bound})")
    label = {"psi": "PSI", "ks": "KS statistic", "chi2": "chi-squared"}[rule.statistic]
    what = f"{label} p-value" if on_p else label
    if not judged_values:
        raise EvaluationError(
            f"no feature has at least min_rows={rule.min_rows} usable rows in both the "
            "reference and the evaluated data"
        )
    worst, worst_name = (min if on_p else max)(judged_values)
    subject = "the model's output" if rule.scope == "prediction" else f"{len(rows)} feature(s)"
    message = f"{what} of {subject}: worst {worst_name} {worst:.4g}"
    if failing:
        message += f"; outside the bound: {', '.join(failing)}"
    elif rule.threshold is not None:
        message += f"; required {rule.threshold.to_bound()}"
    if left_out:
        message += f"; missing values, left out of the {label}: {', '.join(left_out)}"
    skipped = [r.feature for r in rows if not r.judged]
    if skipped:
        message += (
            f"; {len(skipped)} not judged (under min_rows={rule.min_rows} usable rows): "
            f"{', '.join(skipped[:10])}"
        )
    reference = ctx.reference_record
    evidence = DriftEvidence(
        statistic=_NAMES[rule.statistic],
        reference=str(reference.ref) if reference is not None else None,
        features=tuple(rows),
        judged_on=rule.judged_on,
    )
    return Measured(worst, not failing, message, evidence)


def _missing_shares(result: stats.DriftStat) -> str:
    """'49.1% of the evaluated rows (reference 0.0%)': shares of all rows, missing included."""
    shares = []
    for missing, used in (
        (result.missing_current, result.n_current),
        (result.missing_reference, result.n_reference),
    ):
        total = missing + used
        shares.append(f"{missing / total:.1%}" if total else "-")
    return f"{shares[0]} of the evaluated rows (reference {shares[1]})"


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _feature_pairs(rule: DriftRule, ctx: CheckContext) -> list[tuple[str, Any, Any, Any]]:
    assert ctx.reference_data is not None
    names = list(rule.features) or _default_features(rule, ctx)
    if not names:
        kind = _APPLIES.get(rule.statistic, "")
        raise EvaluationError(
            f"no {kind + ' ' if kind else ''}features to compare; name them under 'features'"
        )
    return [
        (
            n,
            ctx.reference_data[n],
            _current(ctx, n),
            rule.features.get(n) if rule.features else None,
        )
        for n in names
    ]


def _current(ctx: CheckContext, name: str) -> Any:
    if ctx.dask is not None:
        return _DaskColumn(name, ctx.data[name])
    return ctx.data[name]


def check_feature_drift(rule: DriftRule, ctx: CheckContext) -> Measured:
    return _judge(rule, _feature_pairs(rule, ctx), ctx)


def _plan(rule: DriftRule, ctx: CheckContext) -> dict[Hashable, _dask.Aggregate]:
    if ctx.reference_data is None:
        return {}
    if rule.scope == "prediction":
        if ctx.model is None:
            return {}
        pairs = [_prediction_pair(rule, ctx)]
    else:
        pairs = _feature_pairs(rule, ctx)
    plan: dict[Hashable, _dask.Aggregate] = {}
    for _, reference, current, _ in pairs:
        if isinstance(current, _DaskColumn):
            key, aggregate = _aggregate(rule.statistic, rule, reference, current)
            plan[key] = aggregate
    return plan


def _reference_output(ctx: CheckContext) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's predictions (and positive-class scores) on the reference data, once."""
    key = ("reference_output",)
    if key not in ctx.cache:
        assert ctx.model is not None and ctx.reference_data is not None
        frame = ctx.reference_data[list(ctx.feature_names)]
        threshold = ctx.decision_threshold  # labels by the metadata's decision rule, as ctx's
        try:
            if threshold is not None:
                from govkit.explainers._rule import decide_rows

                ref = decide_rows(ctx.model, frame, pos_label=ctx.pos_label, threshold=threshold)
                ctx.cache[key] = ref
                return ref
            y_pred = np.asarray(ctx.model.predict(frame))
        except (ValueError, TypeError, KeyError) as exc:
            raise EvaluationError(
                f"the model cannot predict on the reference data: {exc}"
            ) from None
        scores = None
        if ctx.task == "classification" and ctx.scores is not None:
            classes = list(ctx.model.classes_)
            scores = np.asarray(ctx.model.predict_proba(frame))[:, classes.index(ctx.pos_label)]
        ctx.cache[key] = (y_pred, scores)
    output: tuple[np.ndarray, np.ndarray | None] = ctx.cache[key]
    return output


def _prediction_pair(rule: DriftRule, ctx: CheckContext) -> tuple[str, Any, Any, None]:
    ref_pred, ref_scores = _reference_output(ctx)
    data = ctx.dask
    has_scores = ctx.scores is not None if data is None else data.score is not None
    current: np.ndarray | pd.Series | _DaskColumn | None
    if ctx.task == "regression":
        if rule.statistic == "chi2":
            raise EvaluationError(
                "chi2 compares categories, and a regressor's output is numeric; use ks or psi"
            )
        current = (
            np.asarray(ctx.y_pred, dtype=float)
            if data is None
            else _DaskColumn(data.prediction, pd.Series(dtype=float))
        )
        return "prediction", ref_pred, current, None
    if rule.statistic == "chi2" or not has_scores or ref_scores is None:
        if rule.statistic == "ks":
            raise EvaluationError(
                "ks compares numeric distributions, and the model gives no scores "
                "(predict_proba); use chi2 or psi on its predicted labels"
            )
        reference = pd.Series(ref_pred).astype(str)
        current = (
            pd.Series(np.asarray(ctx.y_pred)).astype(str)
            if data is None
            else _DaskColumn(data.prediction, pd.Series(dtype=object), as_text=True)
        )
        return "predicted label", reference, current, None
    if data is None:
        current = ctx.scores
    else:
        assert data.score is not None  # has_scores
        current = _DaskColumn(data.score, pd.Series(dtype=float))
    return f"score ({ctx.pos_label})", ref_scores, current, None


def check_prediction_drift(rule: DriftRule, ctx: CheckContext) -> Measured:
    return _judge(rule, [_prediction_pair(rule, ctx)], ctx)


_COMMON = ("threshold", "judge_on", "min_rows")
for _stat in ("psi", "ks", "chi2"):
    _extra = ("bins", "epsilon") if _stat == "psi" else ()
    _what = {
        "psi": "population stability index",
        "ks": "Kolmogorov-Smirnov statistic (or p-value)",
        "chi2": "chi-squared test p-value (or statistic)",
    }[_stat]
    _of = {
        "psi": "every feature",
        "ks": "every numeric feature",
        "chi2": "every categorical feature",
    }
    register(
        f"drift.{_stat}",
        summary=(
            f"{_what} of {_of[_stat]} between the training data and the evaluated data, "
            "within the feature's bound or the rule's threshold"
        ),
        parameters=("features", *_COMMON, *_extra),
        needs_reference=True,
        dask_plan=_plan,
    )(check_feature_drift)
    register(
        f"drift.prediction_{_stat}",
        summary=(
            f"{_what} of the model's output (score, else predicted label; a regressor's "
            "prediction) on the training data against the evaluated data"
        ),
        parameters=("scope", *_COMMON, *_extra),
        needs_reference=True,
        needs_model=True,
        dask_plan=_plan,
    )(check_prediction_drift)
