"""fairness.* checks: group metrics with fairlearn's definitions, computed from confusion counts.

* Per-group metrics (selection_rate, true_positive_rate, false_positive_rate,
  false_negative_rate, precision, accuracy, impact_ratio) must hold for every judged group;
  the reported value is the worst group.
* impact_ratio = a group's selection rate / the highest group selection rate (or the
  reference group's), as in the EEOC four-fifths rule and NYC Local Law 144 bias audits.
* Difference/ratio metrics are fairlearn's ``between_groups`` values; with
  ``reference_group`` they compare every group with the reference instead (ratio: the
  smaller of the two rates over the larger, as fairlearn's ``to_overall`` does).
* Groups with fewer rows than ``min_group_size`` are reported, marked not judged, and left
  out of every value.
* A rule comparing groups (differences, ratios, impact_ratio) with fewer than two judged
  groups, or an unjudged reference group, is an ERROR: fairlearn's 1.0 / 0.0 for a single
  group would pass a gate with nothing compared.
* ``confidence_interval``: rows are resampled with replacement (as bootstrap weights, so
  each replicate is one weighted counting pass); the rule can judge the interval's bound.

Dask engine: the group tables of every fairness rule come from the evaluation's first
read of the data (per-partition counts summed, :mod:`govkit.fairness._partial`): equal to
the in-memory tables. The bootstrap is exact too: a second read gives each row's cell
(group, label, prediction) as one small integer per row on the driver, and the same
seeded draws of row numbers are counted per cell, so the interval equals the in-memory
one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from govkit.checks import _dask
from govkit.checks._registry import CheckContext, Measured, register
from govkit.exceptions import EvaluationError
from govkit.fairness import CountMetric, DisparityMetric, GroupTable, group_table
from govkit.policy import FairnessRule
from govkit.results import GroupEvidence, GroupRow, Interval

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs from Python 3.13

PER_GROUP: tuple[CountMetric, ...] = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
    "accuracy",
)
BETWEEN: dict[DisparityMetric, tuple[Literal["difference", "ratio"], tuple[CountMetric, ...]]] = {
    "demographic_parity_difference": ("difference", ("selection_rate",)),
    "demographic_parity_ratio": ("ratio", ("selection_rate",)),
    "equalized_odds_difference": ("difference", ("true_positive_rate", "false_positive_rate")),
    "equalized_odds_ratio": ("ratio", ("true_positive_rate", "false_positive_rate")),
}
_SHOWN: tuple[CountMetric, ...] = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "accuracy",
)
_LABEL_FREE = (
    "selection_rate",
    "impact_ratio",
    "demographic_parity_difference",
    "demographic_parity_ratio",
)


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _is_between(metric: str) -> TypeIs[DisparityMetric]:
    """A difference or ratio between groups (fairlearn's ``between_groups``)."""
    return metric in BETWEEN


def _is_per_group(metric: str) -> TypeIs[CountMetric]:
    """A metric that must hold in every judged group."""
    return metric in PER_GROUP


def _reference_index(rule: FairnessRule, table: GroupTable) -> int | None:
    if rule.reference_group is None:
        return None
    wanted = tuple(rule.reference_group)
    for i, group in enumerate(table.groups):
        if tuple(str(v) for v in group) == wanted:
            return i
    found = ", ".join(" / ".join(map(str, g)) for g in table.groups[:20])
    raise EvaluationError(
        f"reference_group {' / '.join(wanted)} does not occur in the data; groups: {found}"
    )


def _between(values: np.ndarray, kind: str, ref: int | None) -> float:
    """fairlearn between_groups (NaN groups skipped), or against the reference group."""
    if ref is None:
        if np.all(np.isnan(values)):
            return float("nan")
        hi, lo = np.nanmax(values), np.nanmin(values)
        if kind == "difference":
            return float(hi - lo)
        return float("nan") if hi == 0 else float(lo / hi)
    r = values[ref]
    if kind == "difference":
        return float(np.nanmax(np.abs(values - r)))
    lo, hi = np.minimum(values, r), np.maximum(values, r)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.where(hi == 0, np.nan, lo / hi)
    return float(np.nanmin(ratios)) if not np.all(np.isnan(ratios)) else float("nan")


def rule_values(
    rule: FairnessRule, table: GroupTable, judged: np.ndarray
) -> tuple[float, np.ndarray | None]:
    """(the rule's value, per-group values or None) over the judged groups."""
    ref = _reference_index(rule, table)
    metric = rule.metric
    if _is_between(metric):
        if ref is None and judged.all():
            return float(table.disparity(metric)), None  # exactly fairlearn's function
        kind, parts = BETWEEN[metric]
        values = [_between(np.where(judged, table.metric(p), np.nan), kind, ref) for p in parts]
        # fairlearn: builtin max()/min() over the two parts (NaN handling included)
        return float(max(values) if kind == "difference" else min(values)), None
    if metric == "impact_ratio":
        rates = np.where(judged, table.metric("selection_rate"), np.nan)
        denominator = rates[ref] if ref is not None else np.nanmax(rates)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_group = rates / denominator if denominator else np.full_like(rates, np.nan)
    else:
        per_group = np.where(judged, table.metric(metric), np.nan)
    bound = rule.threshold.to_bound()
    if np.all(np.isnan(per_group)):
        return float("nan"), per_group
    worst = np.nanmin(per_group) if bound.min is not None else np.nanmax(per_group)
    return float(worst), per_group


def _table(ctx: CheckContext, rule: FairnessRule, weights: np.ndarray | None) -> GroupTable:
    if ctx.dask is not None:
        assert weights is None
        return table_for(ctx, rule.sensitive_features)
    return group_table(
        ctx.y_true,
        ctx.y_pred,
        sensitive_features=ctx.data[list(rule.sensitive_features)],
        pos_label=ctx.pos_label,
        sample_weight=weights,
    )


# -- Dask ------------------------------------------------------------------------------------


def _table_partial(part: Any, where: Any, spec: Any) -> Any:
    from govkit.fairness._partial import partial_tables

    return partial_tables(part, spec, where=str(where))


def _table_finish(merged: Any, spec: Any) -> GroupTable:
    from govkit.fairness._partial import finish

    return finish(merged, spec)[0]


def table_aggregate(
    ctx: CheckContext, features: Sequence[str], prediction: str | None = None
) -> tuple[Hashable, _dask.Aggregate]:
    """(key, aggregate) of the group table of ``features`` (default: the candidate's output)."""
    from govkit.fairness._partial import TableSpec, merge

    data = ctx.dask
    assert data is not None  # the Dask engine
    prediction = prediction or data.prediction
    spec = TableSpec(
        y_true=data.target,
        y_pred=prediction,
        feature_sets=(tuple(features),),
        pos_label=ctx.pos_label,
    )
    aggregate = _dask.Aggregate(
        columns=tuple(spec.columns),
        partial=functools.partial(_table_partial, spec=spec),
        merge=merge,
        finish=functools.partial(_table_finish, spec=spec),
    )
    return ("group-table", prediction, tuple(features)), aggregate


def table_for(
    ctx: CheckContext, features: Sequence[str], prediction: str | None = None
) -> GroupTable:
    """The group table of ``features`` over the Dask rows (from the first pass when planned)."""
    key, aggregate = table_aggregate(ctx, features, prediction)
    table: GroupTable = _dask.need(ctx, {key: aggregate})[key]
    return table


def _plan(rule: FairnessRule, ctx: CheckContext) -> dict[Hashable, _dask.Aggregate]:
    if ctx.task != "classification":
        return {}
    return dict([table_aggregate(ctx, rule.sensitive_features)])


def _row_cells(
    part: pd.DataFrame,
    where: Any,
    features: tuple[str, ...],
    levels: tuple[tuple[Any, ...], ...],
    target: str,
    prediction: str,
    pos_label: Any,
) -> np.ndarray:
    """Each row's cell ``group * 4 + 2 * label + prediction`` in the table's group order."""
    from govkit.fairness import _inputs

    group = np.zeros(len(part), dtype=np.int64)
    for column, values in zip(features, levels, strict=True):
        index = pd.Index(np.asarray(values, dtype=object), dtype=object)
        codes = index.get_indexer(pd.Index(part[column].to_numpy(), dtype=object))
        if (codes < 0).any():
            raise EvaluationError(f"{where}: '{column}' has a value the group table lacks")
        group = group * len(values) + codes
    true = _inputs.positive(part[target].to_numpy(), pos_label, "y_true")
    pred = _inputs.positive(part[prediction].to_numpy(), pos_label, "y_pred")
    cells: np.ndarray = group * 4 + 2 * true + pred
    dtype = np.uint8 if cells.max(initial=0) < 2**8 else np.uint32
    return cells.astype(dtype)


def _dask_bootstrap_tables(
    rule: FairnessRule, ctx: CheckContext, table: GroupTable
) -> Iterator[GroupTable]:
    """The bootstrap's weighted tables, equal to the in-memory run's, one at a time."""
    from govkit.fairness._counts import counts_from_cells

    ci = rule.confidence_interval
    assert ci is not None
    data = ctx.dask
    assert data is not None  # the Dask engine
    features = tuple(rule.sensitive_features)
    levels = tuple(tuple(dict.fromkeys(g[j] for g in table.groups)) for j in range(len(features)))
    columns = list(dict.fromkeys([*features, data.target, data.prediction]))
    pieces = _dask.collect(
        data.frame,
        columns,
        _row_cells,
        features,
        levels,
        data.target,
        data.prediction,
        ctx.pos_label,
    )
    cells = np.concatenate(pieces)
    n, n_cells = cells.size, 4 * len(table.groups)
    rng = np.random.default_rng(ci.seed)
    chunk = 1 << 22  # draws at a time: the same stream as one call of n draws
    for _ in range(ci.resamples):
        raw = np.zeros(n_cells, dtype=np.int64)
        for start in range(0, n, chunk):
            draws = rng.integers(0, n, min(chunk, n - start))
            raw += np.bincount(cells[draws], minlength=n_cells)
        counts = counts_from_cells(
            table.groups, raw.reshape(-1, 4).astype(np.float64), table.sizes, has_labels=True
        )
        yield GroupTable.from_counts(
            table.features, counts, pos_label=table.pos_label, has_labels=True, weighted=True
        )


def _bootstrap(
    rule: FairnessRule,
    ctx: CheckContext,
    judged: np.ndarray,
    value_of: Callable[[GroupTable, np.ndarray], float],
) -> tuple[float, float]:
    ci = rule.confidence_interval
    assert ci is not None
    values = []
    if ctx.dask is not None:
        table = _table(ctx, rule, None)
        values = [value_of(t, judged) for t in _dask_bootstrap_tables(rule, ctx, table)]
    else:
        rng = np.random.default_rng(ci.seed)
        n = len(ctx.data)
        for _ in range(ci.resamples):
            weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
            table = _table(ctx, rule, weights)
            values.append(value_of(table, judged))
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size < ci.resamples // 2:
        raise EvaluationError(
            f"bootstrap failed: only {arr.size} of {ci.resamples} resamples gave a value "
            "(groups too small); raise min_group_size or drop confidence_interval"
        )
    alpha = (1 - ci.level) / 2
    low, high = np.quantile(arr, [alpha, 1 - alpha])
    return float(low), float(high)


def _require_comparison(rule: FairnessRule, table: GroupTable, judged: np.ndarray) -> None:
    """A rule comparing groups needs two judged groups (and a judged reference group).

    fairlearn gives ratio 1.0 and difference 0.0 for a single group; a gate must not read
    that as "fair", so the rule is an ERROR naming the groups instead.
    """
    if not (_is_between(rule.metric) or rule.metric == "impact_ratio"):
        return  # per-group bounds hold or not in each group on its own
    by = " x ".join(rule.sensitive_features)

    def named(i: int) -> str:
        return f"{' / '.join(map(str, table.groups[i]))} ({int(table.sizes[i]):,} rows)"

    ref = _reference_index(rule, table)
    if ref is not None and not judged[ref]:
        raise EvaluationError(
            f"{rule.metric} compares groups of {by} with reference_group {named(ref)}, which "
            f"is under min_group_size={rule.min_group_size}: the rule cannot be judged; "
            "lower min_group_size or pick a larger reference group"
        )
    n_judged = int(judged.sum())
    if n_judged >= 2:
        return
    kept = named(int(np.flatnonzero(judged)[0]))
    if len(table.groups) == 1:
        found = f"the data holds one group only, {kept}"
        hint = "evaluate on data holding at least two groups"
    else:
        small = [named(i) for i in np.flatnonzero(~judged)[:10]]
        found = (
            f"only 1 of {len(table.groups)} groups has at least "
            f"min_group_size={rule.min_group_size} rows, {kept}; not judged: {', '.join(small)}"
        )
        hint = "lower min_group_size or evaluate on more rows"
    raise EvaluationError(
        f"{rule.metric} compares groups of {by}, and {found}: nothing to compare, so the "
        f"rule cannot be judged; {hint}"
    )


def check_fairness(rule: FairnessRule, ctx: CheckContext) -> Measured:
    if ctx.task != "classification":
        raise EvaluationError(
            "fairness metrics compare a binary classifier's decisions between groups, and the "
            "model is a regressor; bound its error per group with a performance rule and 'by'"
        )
    table = _table(ctx, rule, None)
    judged = table.sizes >= rule.min_group_size
    if not judged.any():
        raise EvaluationError(
            f"no group has at least min_group_size={rule.min_group_size} rows "
            f"(largest: {int(table.sizes.max())})"
        )
    _require_comparison(rule, table, judged)
    value, per_group = rule_values(rule, table, judged)
    bound = rule.threshold.to_bound()

    shown: list[CountMetric] = list(_SHOWN) if ctx.y_true is not None else ["selection_rate"]
    if _is_per_group(rule.metric) and rule.metric not in shown:
        shown.append(rule.metric)
    columns: dict[str, np.ndarray] = {m: table.metric(m) for m in shown}
    if rule.metric == "impact_ratio" and per_group is not None:
        columns["impact_ratio"] = per_group
    rows = tuple(
        GroupRow(
            group=tuple(str(v) for v in group),
            count=int(table.sizes[i]),
            metrics={m: _finite(columns[m][i]) for m in columns},
            judged=bool(judged[i]),
        )
        for i, group in enumerate(table.groups)
    )
    evidence = GroupEvidence(
        sensitive_features=tuple(rule.sensitive_features),
        metric=rule.metric,
        overall={m: _finite(table.overall(m)) for m in shown},
        groups=rows,
    )

    interval = None
    judged_value = value
    if rule.confidence_interval is not None:
        ci = rule.confidence_interval
        low, high = _bootstrap(rule, ctx, judged, lambda t, j: rule_values(rule, t, j)[0])
        interval = Interval(
            low=low, high=high, level=ci.level, resamples=ci.resamples, judged_on=ci.judge_on
        )
        judged_value = {"estimate": value, "lower": low, "upper": high}[ci.judge_on]

    by = " x ".join(rule.sensitive_features)
    against = f" against {' / '.join(rule.reference_group)}" if rule.reference_group else ""
    message = f"{rule.metric} by {by}{against} is {value:.4f}"
    if per_group is not None:
        failing = [
            " / ".join(r.group)
            for r, v in zip(rows, per_group, strict=True)
            if r.judged and not bound.holds(v)
        ]
        message = f"{rule.metric} by {by}{against}: worst group {bound.shown(value, '.4f')}"
        passed = bound.holds(judged_value) and (interval is not None or not failing)
        if failing and interval is None:
            message += f"; outside the bound: {', '.join(failing)}"
    else:
        passed = bound.holds(judged_value)
    if interval is not None:
        message += (
            f" ({interval.level:.0%} CI {interval.low:.4f}-{interval.high:.4f}, "
            f"judged on the {interval.judged_on})"
        )
    message += f"; required {bound}"
    skipped = [" / ".join(r.group) for r in rows if not r.judged]
    if skipped:
        message += (
            f"; {len(skipped)} group(s) under min_group_size={rule.min_group_size} "
            f"reported but not judged: {', '.join(skipped[:10])}"
        )
    return Measured(_finite(value), passed, message, evidence, interval)


for _metric in (*PER_GROUP, "impact_ratio", *BETWEEN):
    register(
        f"fairness.{_metric}",
        summary=(
            "a group's selection rate over the highest group's (or the reference group's); "
            "every judged group must meet the threshold (EEOC four-fifths, NYC LL144)"
            if _metric == "impact_ratio"
            else f"{_metric.replace('_', ' ')} of every judged group within the threshold"
            if _metric in PER_GROUP
            else f"{_metric.replace('_', ' ')} between groups (fairlearn's definition) or "
            "against reference_group"
        ),
        parameters=(
            "sensitive_features",
            "threshold",
            "reference_group",
            "min_group_size",
            "confidence_interval",
        ),
        needs_labels=_metric not in _LABEL_FREE,
        dask_plan=_plan,
    )(check_fairness)
