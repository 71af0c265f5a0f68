"""Aggregates of the Dask engine: what each rule family counts or sums per partition.

Each ``*_aggregate`` function returns an :class:`~govkit.checks._dask.Aggregate` whose
partials merge exactly (counts of rows) or up to the rounding of a different order of
summation (sums and moments of floats, about 1e-16 relative):

* :func:`cells_aggregate` -- rows per (group, true label is positive, prediction is
  positive[, score]): with the score, a table of the distinct scores, which is what
  ROC AUC, average precision, log loss and the Brier score depend on; the metrics are
  then scikit-learn's own functions on the table with the row counts as sample weights
  (equal to the row-by-row values: the curves' points are the same integer counts).
* :func:`regression_aggregate` -- per group: rows, sums of absolute, squared and
  relative errors, and the target's mean and sum of squared deviations (merged with
  Chan et al.'s pairwise formula), from which r2, mae, rmse and mape follow.
* :func:`bins_aggregate`, :func:`categories_aggregate`, :func:`distinct_aggregate` --
  drift: rows per PSI bin (missing values the last), per category, per distinct value.
* :func:`contingency_aggregate`, :func:`moments_aggregate` -- association of a feature
  with a sensitive feature: the contingency table (Cramér's V) or the feature's moments
  per group (correlation ratio).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from govkit.checks import _drift_stats as stats
from govkit.checks._dask import Aggregate, Where

__all__ = [
    "cells_aggregate",
    "regression_aggregate",
    "regression_value",
    "bins_aggregate",
    "categories_aggregate",
    "distinct_aggregate",
    "contingency_aggregate",
    "moments_aggregate",
]

Key = tuple[str, ...]


def _as_text(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, text of each code): ``column.astype(str)`` as the in-memory rules group by.

    The text of the distinct values only (one per code), for the types whose distinct
    values have distinct texts; an object column is converted value by value.
    """
    dtype = column.dtype
    by_value = isinstance(dtype, pd.CategoricalDtype | pd.StringDtype) or (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    )
    if by_value:
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        text = pd.Series(uniques).astype(str).to_numpy(dtype=object)
    else:
        codes, distinct = pd.factorize(column.astype(str).to_numpy(), use_na_sentinel=False)
        text = np.asarray(distinct, dtype=object)
    return codes, text


def _group_keys(
    part: pd.DataFrame, by: Sequence[Hashable]
) -> tuple[pd.DataFrame, list[np.ndarray], np.ndarray]:
    """Integer key columns ``k0, k1, ...``, the text of their codes, and the rows with a key.

    Groups are the values of ``column.astype(str)``, as the in-memory rules form them
    (a missing value's text is missing: groupby drops the row).
    """
    keys = pd.DataFrame(index=pd.RangeIndex(len(part)))
    texts = []
    keep = np.ones(len(part), dtype=bool)
    for i, column in enumerate(by):
        codes, text = _as_text(part[column])
        keys[f"k{i}"] = codes
        texts.append(text)
        if len(text):
            keep &= ~pd.isna(text)[codes]
    return keys, texts, keep


def _keyed_by_text(index: pd.Index, texts: list[np.ndarray]) -> pd.Index:
    """``index`` with its first levels (key codes) replaced by their texts."""
    if not texts:
        return index
    levels = [index.get_level_values(j) for j in range(index.nlevels)]
    arrays = [texts[j][np.asarray(levels[j], dtype=np.intp)] for j in range(len(texts))]
    arrays += [np.asarray(level) for level in levels[len(texts) :]]
    return pd.MultiIndex.from_arrays(arrays, names=index.names)


def _sum_series(parts: list[pd.Series]) -> pd.Series:
    nonempty = [p for p in parts if len(p)]
    if not nonempty:
        return parts[0]
    merged = pd.concat(nonempty)
    levels = list(range(merged.index.nlevels))
    summed: pd.Series = merged.groupby(level=levels, sort=False, dropna=False).sum()
    return summed


# -- classification: rows per (group, label, prediction[, score]) ----------------------------


def _cells(
    part: pd.DataFrame,
    where: Where,
    by: tuple[Hashable, ...],
    target: Hashable,
    prediction: Hashable,
    score: Hashable | None,
    pos_label: Any,
) -> pd.Series:
    frame, texts, keep = _group_keys(part, by)
    frame["t"] = np.asarray(part[target].to_numpy() == pos_label, dtype=bool)
    frame["p"] = np.asarray(part[prediction].to_numpy() == pos_label, dtype=bool)
    if score is not None:
        frame["s"] = part[score].to_numpy(dtype=float)
    frame = frame[keep]
    sizes = frame.groupby(list(frame.columns), sort=False, dropna=False).size()
    return sizes.set_axis(_keyed_by_text(sizes.index, texts))


def _cells_by_group(merged: pd.Series, n_keys: int, with_score: bool) -> dict[Key, pd.DataFrame]:
    names = [f"k{i}" for i in range(n_keys)] + ["t", "p"] + (["s"] if with_score else [])
    table = merged.rename("w").reset_index()
    table.columns = [*names, "w"]
    table = table[table["w"] > 0]
    if not n_keys:
        return {(): table.reset_index(drop=True)}
    out = {}
    for key, rows in table.groupby([f"k{i}" for i in range(n_keys)], sort=True):
        out[tuple(str(k) for k in key)] = rows.reset_index(drop=True)
    return out


def cells_aggregate(
    *,
    by: Sequence[Hashable],
    target: Hashable,
    prediction: Hashable,
    score: Hashable | None,
    pos_label: Any,
) -> Aggregate:
    """Per group (sorted, as strings): a frame of distinct (t, p[, s]) with row counts ``w``."""
    by = tuple(by)
    columns = (*by, target, prediction) + ((score,) if score is not None else ())
    return Aggregate(
        columns=columns,
        partial=functools.partial(
            _cells,
            by=by,
            target=target,
            prediction=prediction,
            score=score,
            pos_label=pos_label,
        ),
        merge=_sum_series,
        finish=functools.partial(_cells_by_group, n_keys=len(by), with_score=score is not None),
    )


# -- regression: error sums and target moments per group ---------------------------------------

# n, sum |e|, sum e^2, sum |e| / max(|y|, eps), mean y, sum (y - mean y)^2
_N, _ABS, _SQ, _APE, _MEAN, _M2 = range(6)


def _regression(
    part: pd.DataFrame,
    where: Where,
    by: tuple[Hashable, ...],
    target: Hashable,
    prediction: Hashable,
) -> dict[Key, np.ndarray]:
    yt = part[target].to_numpy(dtype=float)
    yp = part[prediction].to_numpy(dtype=float)
    if np.isnan(yp).any() or np.isnan(yt).any():
        raise ValueError("Input contains NaN.")  # as scikit-learn says on the same rows
    frame, texts, keep = _group_keys(part, by)
    eps = np.finfo(np.float64).eps
    frame["abs"] = np.abs(yp - yt)
    frame["sq"] = (yt - yp) ** 2
    frame["ape"] = np.abs(yp - yt) / np.maximum(np.abs(yt), eps)
    frame["y"] = yt
    frame = frame[keep]
    keys = [f"k{i}" for i in range(len(by))]
    if not keys:
        frame["k"] = 0
        keys = ["k"]
    grouped = frame.groupby(keys, sort=False)
    frame["dev"] = (frame["y"] - grouped["y"].transform("mean")) ** 2
    table = frame.groupby(keys, sort=False).agg(
        n=("y", "size"),
        abs=("abs", "sum"),
        sq=("sq", "sum"),
        ape=("ape", "sum"),
        mean=("y", "mean"),
        m2=("dev", "sum"),
    )
    out: dict[Key, np.ndarray] = {}
    for key, row in zip(table.index, table.to_numpy(dtype=float), strict=True):
        codes = key if isinstance(key, tuple) else (key,)
        group = tuple(str(texts[j][c]) for j, c in enumerate(codes)) if by else ()
        out[group] = _combine(out[group], row) if group in out else row
    return out


def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chan et al.: the statistics of the union of two disjoint row sets."""
    n = a[_N] + b[_N]
    if a[_N] == 0:
        return b.copy()
    if b[_N] == 0:
        return a.copy()
    out: np.ndarray = a + b
    delta = b[_MEAN] - a[_MEAN]
    out[_MEAN] = a[_MEAN] + delta * b[_N] / n
    out[_M2] = a[_M2] + b[_M2] + delta * delta * a[_N] * b[_N] / n
    return out


def _merge_regression(parts: list[dict[Key, np.ndarray]]) -> dict[Key, np.ndarray]:
    out: dict[Key, np.ndarray] = {}
    for part in parts:
        for key, value in part.items():
            out[key] = _combine(out[key], value) if key in out else value
    return out


def _sorted(stats_: dict[Key, np.ndarray]) -> dict[Key, np.ndarray]:
    return dict(sorted(stats_.items()))


def regression_aggregate(
    *, by: Sequence[Hashable], target: Hashable, prediction: Hashable
) -> Aggregate:
    """Per group (sorted, as strings): the sums :func:`regression_value` needs."""
    by = tuple(by)
    return Aggregate(
        columns=(*by, target, prediction),
        partial=functools.partial(_regression, by=by, target=target, prediction=prediction),
        merge=_merge_regression,
        finish=_sorted,
    )


def merge_groups(values: Sequence[np.ndarray]) -> np.ndarray:
    """The statistics of all groups together."""
    return functools.reduce(_combine, values)


def regression_value(metric: str, s: np.ndarray) -> float:
    """scikit-learn's r2 / mae / rmse / mape from the sums of :func:`regression_aggregate`."""
    n = s[_N]
    if metric == "r2":
        if n < 2:
            return float("nan")
        numerator, denominator = s[_SQ], s[_M2]
        if denominator == 0:  # scikit-learn's force_finite
            return 1.0 if numerator == 0 else 0.0
        return float(1 - numerator / denominator)
    if metric == "mae":
        return float(s[_ABS] / n)
    if metric == "rmse":
        return float(np.sqrt(s[_SQ] / n))
    return float(s[_APE] / n)  # mape


# -- drift -------------------------------------------------------------------------------------


def _values(part: pd.DataFrame, column: Hashable, as_text: bool) -> Any:
    values = part[column]
    return pd.Series(values.to_numpy()).astype(str) if as_text else values


def _bins(part: pd.DataFrame, where: Where, column: Hashable, bins: stats.PsiBins) -> np.ndarray:
    return stats.bin_counts(part[column], bins)


def _sum_arrays(parts: list[np.ndarray]) -> np.ndarray:
    total: np.ndarray = np.sum(parts, axis=0)
    return total


def bins_aggregate(column: Hashable, bins: stats.PsiBins) -> Aggregate:
    """Rows of ``column`` per PSI bin (the last: missing values)."""
    return Aggregate(
        columns=(column,),
        partial=functools.partial(_bins, column=column, bins=bins),
        merge=_sum_arrays,
    )


def _categories(part: pd.DataFrame, where: Where, column: Hashable, as_text: bool) -> pd.Series:
    return stats.category_counts(_values(part, column, as_text))


def categories_aggregate(column: Hashable, *, as_text: bool = False) -> Aggregate:
    """Rows of ``column`` per category (``as_text``: the values as strings first)."""
    return Aggregate(
        columns=(column,),
        partial=functools.partial(_categories, column=column, as_text=as_text),
        merge=_sum_series,
    )


def _distinct(part: pd.DataFrame, where: Where, column: Hashable) -> pd.Series:
    values = pd.Series(part[column].astype(float).to_numpy())
    return values.value_counts(sort=False, dropna=False)  # missing: counted, as NaN


def _expand(counts: pd.Series) -> np.ndarray:
    return np.repeat(counts.index.to_numpy(dtype=float), counts.to_numpy())


def distinct_aggregate(column: Hashable) -> Aggregate:
    """The values of ``column`` (NaN for missing), gathered as (value, rows) and expanded."""
    return Aggregate(
        columns=(column,),
        partial=functools.partial(_distinct, column=column),
        merge=_sum_series,
        finish=_expand,
    )


# -- association -------------------------------------------------------------------------------


def _contingency(
    part: pd.DataFrame, where: Where, feature: Hashable, sensitive: Hashable
) -> pd.Series:
    frame = pd.DataFrame(
        {
            "a": stats._categories(part[feature]).to_numpy(),
            "b": stats._categories(part[sensitive]).to_numpy(),
        }
    )
    return frame.groupby(["a", "b"], sort=False).size()


def _table(merged: pd.Series) -> np.ndarray:
    if not len(merged):
        return np.zeros((0, 0))
    return merged.unstack(fill_value=0).sort_index(axis=0).sort_index(axis=1).to_numpy(float)


def contingency_aggregate(feature: Hashable, sensitive: Hashable) -> Aggregate:
    """The contingency table of a categorical feature by the sensitive groups."""
    return Aggregate(
        columns=(feature, sensitive),
        partial=functools.partial(_contingency, feature=feature, sensitive=sensitive),
        merge=_sum_series,
        finish=_table,
    )


def _moments(
    part: pd.DataFrame, where: Where, feature: Hashable, sensitive: Hashable
) -> dict[Key, np.ndarray]:
    y = pd.Series(part[feature]).astype(float).to_numpy()
    groups = stats._categories(part[sensitive]).to_numpy()
    keep = np.isfinite(y)
    y, groups = y[keep], groups[keep]
    out: dict[Key, np.ndarray] = {}
    for group, idx in pd.Series(groups).groupby(groups, sort=False).indices.items():
        values = y[idx]
        mean = float(values.mean())
        s = np.zeros(6)
        s[_N], s[_MEAN], s[_M2] = values.size, mean, float(np.sum((values - mean) ** 2))
        out[(str(group),)] = s
    return out


def _correlation_ratio(groups: dict[Key, np.ndarray]) -> float:
    if not groups:
        return 0.0
    total = merge_groups(list(groups.values()))
    if total[_N] == 0 or total[_M2] == 0.0:
        return 0.0
    between = sum(g[_N] * (g[_MEAN] - total[_MEAN]) ** 2 for g in groups.values())
    return float(np.sqrt(min(between / total[_M2], 1.0)))


def moments_aggregate(feature: Hashable, sensitive: Hashable) -> Aggregate:
    """The correlation ratio of a numeric feature over the sensitive groups."""
    return Aggregate(
        columns=(feature, sensitive),
        partial=functools.partial(_moments, feature=feature, sensitive=sensitive),
        merge=_merge_regression,
        finish=_correlation_ratio,
    )
