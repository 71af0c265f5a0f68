"""Aggregates for model cards, computed once from the evaluated data: curves, histograms, drift.

Pure functions from arrays to the evidence types of :mod:`govkit.results`. They
keep what a card needs to draw a plot and nothing that identifies a row: curve
points are thinned rates, histogram bins and calibration bins with fewer than
``min_bin_rows`` rows keep their count but not their values, and no feature
value is ever copied (a beeswarm is coloured by the mean percentile rank of the
rows in a bin).

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); s = np.array([0.1, 0.4, 0.35, 0.8])
>>> curves = classifier_curves(y, s, min_group_size=1, min_bin_rows=1)
>>> curves.overall.roc.auc
0.75
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from govkit.exceptions import InputError
from govkit.results import (
    AttributionDistribution,
    CalibrationCurve,
    ClassifierCurves,
    CurveSet,
    GroupCurves,
    RocCurve,
)

__all__ = [
    "classifier_curves",
    "roc_curve",
    "calibration_curve",
    "attribution_distributions",
]

_DIGITS = 6  # rounding of stored rates: deterministic JSON, smaller cards


def _r(x: float) -> float:
    return round(float(x), _DIGITS)


def _as_bool(y_true: Any, what: str = "y_true") -> np.ndarray:
    arr = np.asarray(y_true)
    if arr.ndim != 1:
        raise InputError(f"{what} must be one-dimensional; got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    uniq = set(np.unique(arr).tolist())
    if not uniq <= {0, 1}:
        raise InputError(
            f"{what} must hold 0/1 or booleans (1 = the positive label); found "
            f"{sorted(map(repr, uniq))[:5]}"
        )
    return arr.astype(bool)


def _as_scores(scores: Any, n: int) -> np.ndarray:
    arr = np.asarray(scores, dtype=float)
    if arr.shape != (n,):
        raise InputError(f"scores must have shape ({n},) to match y_true; got {arr.shape}")
    return arr


# ----------------------------------------------------------------------- curves


def roc_curve(y_true: Any, scores: Any, *, max_points: int = 101) -> RocCurve | None:
    """The ROC curve thinned to at most ``max_points`` points of the exact curve, and its AUC.

    Points are picked evenly along the curve's length, so the kept points are real
    operating points (nothing is interpolated). None when only one class occurs.
    """
    y = _as_bool(y_true)
    s = _as_scores(scores, len(y))
    keep = np.isfinite(s)
    y, s = y[keep], s[keep]
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # one point per distinct score (ties move together), as scikit-learn's roc_curve
    last_of_run = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tps = np.cumsum(y_sorted)[last_of_run]
    fps = (last_of_run + 1) - tps
    tpr = np.r_[0.0, tps / pos]
    fpr = np.r_[0.0, fps / neg]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    if len(fpr) > max_points:
        length = np.r_[0.0, np.cumsum(np.hypot(np.diff(fpr), np.diff(tpr)))]
        targets = np.linspace(0.0, length[-1], max_points)
        idx = np.unique(np.r_[0, np.searchsorted(length, targets), len(fpr) - 1])
        idx = idx[idx < len(fpr)]
        fpr, tpr = fpr[idx], tpr[idx]
    return RocCurve(fpr=tuple(_r(v) for v in fpr), tpr=tuple(_r(v) for v in tpr), auc=_r(auc))


def calibration_curve(
    y_true: Any, scores: Any, *, n_bins: int = 10, min_bin_rows: int = 5
) -> CalibrationCurve | None:
    """A reliability diagram over ``n_bins`` equal-width score bins on [0, 1].

    Bins with fewer than ``min_bin_rows`` rows keep their count, not their values.
    None when the scores are not probabilities (outside [0, 1]).
    """
    y = _as_bool(y_true)
    s = _as_scores(scores, len(y))
    keep = np.isfinite(s)
    y, s = y[keep], s[keep]
    if len(s) == 0 or s.min() < 0.0 or s.max() > 1.0:
        return None
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    sums = np.bincount(which, weights=s, minlength=n_bins)
    hits = np.bincount(which, weights=y.astype(float), minlength=n_bins)
    shown = counts >= max(min_bin_rows, 1)
    return CalibrationCurve(
        bin_edges=tuple(_r(e) for e in edges),
        mean_predicted=tuple(_r(sums[i] / counts[i]) if shown[i] else None for i in range(n_bins)),
        fraction_positive=tuple(
            _r(hits[i] / counts[i]) if shown[i] else None for i in range(n_bins)
        ),
        counts=tuple(int(c) for c in counts),
    )


def _curve_set(
    y: np.ndarray,
    s: np.ndarray,
    group: tuple[str, ...],
    *,
    judged: bool,
    max_points: int,
    n_bins: int,
    min_bin_rows: int,
) -> CurveSet:
    return CurveSet(
        group=group,
        count=len(y),
        positives=int(y.sum()),
        roc=roc_curve(y, s, max_points=max_points) if judged else None,
        calibration=(
            calibration_curve(y, s, n_bins=n_bins, min_bin_rows=min_bin_rows) if judged else None
        ),
        judged=judged,
    )


def classifier_curves(
    y_true: Any,
    scores: Any,
    *,
    groups: pd.DataFrame | Mapping[str, Any] | None = None,
    min_group_size: int = 30,
    max_points: int = 101,
    n_bins: int = 10,
    min_bin_rows: int = 5,
    max_groups: int = 50,
) -> ClassifierCurves:
    """ROC and calibration curves overall and per group of each sensitive feature.

    Args:
        y_true: 1 (or True) where the true label is the positive one.
        scores: the model's probability of the positive label, one per row.
        groups: sensitive feature columns (a DataFrame, or a mapping name -> values),
            aligned with ``y_true``. Each feature is split on its own.
        min_group_size: smaller groups keep their size, not their curves.
        max_groups: per feature, the largest groups kept (a card cannot draw 1,000 lines).
    """
    y = _as_bool(y_true)
    s = _as_scores(scores, len(y))
    opts = {"max_points": max_points, "n_bins": n_bins, "min_bin_rows": min_bin_rows}
    overall = _curve_set(y, s, (), judged=True, **opts)
    by_feature: list[GroupCurves] = []
    columns = groups.items() if groups is not None else ()
    for name, values in columns:
        col = pd.Series(np.asarray(values, dtype=object)).astype(str).to_numpy()
        if len(col) != len(y):
            raise InputError(
                f"sensitive feature {name!r} has {len(col):,} values for {len(y):,} rows"
            )
        labels, codes, sizes = np.unique(col, return_inverse=True, return_counts=True)
        # largest groups first; ties by label, so the order is deterministic
        order = sorted(range(len(labels)), key=lambda i: (-sizes[i], str(labels[i])))
        sets = []
        for i in order[:max_groups]:
            mask = codes == i
            sets.append(
                _curve_set(
                    y[mask],
                    s[mask],
                    (str(labels[i]),),
                    judged=bool(sizes[i] >= min_group_size),
                    **opts,
                )
            )
        by_feature.append(GroupCurves(sensitive_feature=str(name), groups=tuple(sets)))
    return ClassifierCurves(overall=overall, by_feature=tuple(by_feature))


# --------------------------------------------------------- attribution histograms


def _round_out(x: float, direction: int) -> float:
    """``x`` rounded to two significant digits, away from the data (down for -1, up for +1)."""
    if x == 0.0 or not math.isfinite(x):
        return x
    step = 10.0 ** (math.floor(math.log10(abs(x))) - 1)
    value = (math.floor(x / step) if direction < 0 else math.ceil(x / step)) * step
    if (direction < 0 and value == x) or (direction > 0 and value == x):
        value += direction * step
    return float(f"{value:.6g}")


def _percentile_ranks(column: pd.Series) -> np.ndarray | None:
    """0..1 rank of each value (ties averaged); None when the column is not numeric."""
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_complex_dtype(column):
        return None
    values = column.astype(float)
    ranks = values.rank(method="average", pct=False).to_numpy(dtype=float)
    n = int(np.isfinite(ranks).sum())
    if n < 2:
        return None
    return (ranks - 1.0) / (n - 1.0)


def attribution_distributions(
    values: Any,
    feature_values: pd.DataFrame,
    feature_names: Sequence[str],
    *,
    features: Sequence[str] | None = None,
    bins: int = 24,
    min_bin_rows: int = 5,
) -> tuple[AttributionDistribution, ...]:
    """Per feature, a histogram of its attributions with the mean rank of the feature in each bin.

    Args:
        values: attributions, shape (n_rows, n_features), columns in ``feature_names`` order.
        feature_values: the explained rows (same order), holding the feature columns.
        features: which features, in this order (default: all, in column order).
        min_bin_rows: a bin with fewer rows keeps its count but no colour.

    Rows whose attribution is not finite are left out of that feature's histogram.
    """
    arr = np.asarray(values, dtype=float)
    names = [str(n) for n in feature_names]
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise InputError(
            f"values must have shape (n_rows, {len(names)}) to match feature_names; got {arr.shape}"
        )
    if len(feature_values) != arr.shape[0]:
        raise InputError(
            f"feature_values has {len(feature_values):,} rows for {arr.shape[0]:,} attribution rows"
        )
    wanted = list(features) if features is not None else names
    out = []
    for feature in wanted:
        if feature not in names:
            raise InputError(f"feature {feature!r} is not among the attribution columns")
        col = arr[:, names.index(feature)]
        finite = np.isfinite(col)
        phi = col[finite]
        if phi.size == 0:
            continue
        # the range is rounded outwards to two significant digits, so no edge is the
        # attribution of the most extreme row
        lo, hi = _round_out(float(phi.min()), -1), _round_out(float(phi.max()), +1)
        if hi - lo <= 1e-12 * max(1.0, abs(lo)):
            edges = np.array([lo - 0.5e-9, hi + 0.5e-9])
        else:
            edges = np.linspace(lo, hi, bins + 1)
        n_bins = len(edges) - 1
        which = np.clip(np.searchsorted(edges, phi, side="right") - 1, 0, n_bins - 1)
        counts = np.bincount(which, minlength=n_bins)
        ranks = None
        if feature in feature_values.columns:
            ranks = _percentile_ranks(feature_values[feature].reset_index(drop=True))
        means: list[float | None] = []
        for i in range(n_bins):
            if ranks is None or counts[i] < max(min_bin_rows, 1):
                means.append(None)
                continue
            r = ranks[finite][which == i]
            r = r[np.isfinite(r)]
            means.append(_r(r.mean()) if r.size else None)
        out.append(
            AttributionDistribution(
                feature=feature,
                bin_edges=tuple(float(f"{e:.6g}") for e in edges),
                counts=tuple(int(c) for c in counts),
                mean_feature_rank=tuple(means),
            )
        )
    return tuple(out)
