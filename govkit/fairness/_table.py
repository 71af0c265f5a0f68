"""``group_table``: confusion counts per group, and every metric derived from them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from govkit.exceptions import closest
from govkit.fairness import _inputs
from govkit.fairness._counts import FN, FP, TN, TP, Counts, count_groups
from govkit.fairness._errors import FairnessInputError
from govkit.fairness._metrics import (
    COUNT_METRICS,
    DISPARITY_METRICS,
    LABEL_FREE_DISPARITIES,
    LABEL_FREE_METRICS,
    Cells,
    CountMetric,
    DisparityMetric,
    between_groups_difference,
    between_groups_ratio,
    builtin_max,
    builtin_min,
    per_group,
)

__all__ = ["GroupTable", "group_table"]


@dataclass(frozen=True, eq=False)
class GroupTable:
    """Weighted confusion counts of every group of one or more sensitive features.

    ``groups`` is the cross product of the levels observed in each feature, in the
    order of fairlearn's ``MetricFrame.by_group`` index; a combination with no rows
    has size 0 and NaN metrics. ``counts`` columns are tp, fp, tn, fn (weighted when
    ``group_table`` got ``sample_weight``; all NaN when it got ``y_true=None``).
    ``selected`` and ``weight`` are the weighted predicted positives and rows.
    """

    features: tuple[str, ...]
    groups: tuple[tuple[Any, ...], ...]
    sizes: np.ndarray
    counts: np.ndarray
    selected: np.ndarray
    weight: np.ndarray
    pos_label: Any
    has_labels: bool
    weighted: bool

    @classmethod
    def from_counts(
        cls,
        features: tuple[str, ...],
        counts: Counts,
        *,
        pos_label: Any,
        has_labels: bool,
        weighted: bool,
    ) -> GroupTable:
        """A table from :class:`~govkit.fairness._counts.Counts` (one pass or summed partitions)."""
        return cls(
            features=tuple(features),
            groups=counts.groups,
            sizes=counts.sizes,
            counts=counts.counts,
            selected=counts.selected,
            weight=counts.weight,
            pos_label=pos_label,
            has_labels=has_labels,
            weighted=weighted,
        )

    # -- what can be asked -------------------------------------------------------------
    @property
    def metrics(self) -> tuple[CountMetric, ...]:
        """The per-group metrics this table can compute (all of them only with labels)."""
        return COUNT_METRICS if self.has_labels else LABEL_FREE_METRICS

    @property
    def disparities(self) -> tuple[DisparityMetric, ...]:
        return DISPARITY_METRICS if self.has_labels else LABEL_FREE_DISPARITIES

    def _check(self, name: str, *, disparity: bool) -> None:
        available, every, other = (
            (self.disparities, DISPARITY_METRICS, COUNT_METRICS)
            if disparity
            else (self.metrics, COUNT_METRICS, DISPARITY_METRICS)
        )
        if name in available:
            return
        kind = "disparity metric" if disparity else "metric"
        if name in every:
            raise FairnessInputError(
                f"{kind} {name!r} needs true labels, but group_table was called with "
                f"y_true=None; without labels only {', '.join(available)} can be computed"
            )
        if name in other:
            use = "metric(), overall(), difference() or ratio()" if disparity else "disparity()"
            raise FairnessInputError(f"{name!r} is not a {kind}; use {use}")
        message = f"unknown {kind} {name!r}"
        suggestion = closest(name, every)
        message += f"; did you mean {suggestion!r}?" if suggestion else "."
        raise FairnessInputError(f"{message} Valid {kind}s: {', '.join(every)}")

    # -- per group -----------------------------------------------------------------------
    def _cells(self, counts: np.ndarray, selected: Any, weight: Any) -> Cells:
        return Cells(
            counts[..., TP], counts[..., FP], counts[..., TN], counts[..., FN], selected, weight
        )

    def metric(self, name: CountMetric) -> np.ndarray:
        """``name`` for each group, aligned with ``groups``.

        NaN for a group with no rows or whose weights sum to 0.
        """
        self._check(name, disparity=False)
        values = per_group(name, self._cells(self.counts, self.selected, self.weight))
        values[self.weight == 0] = math.nan  # empty, or every weight 0: like no rows at all
        return values

    def overall(self, name: CountMetric) -> float:
        """``name`` on all rows together."""
        self._check(name, disparity=False)
        weight = self.weight.sum()
        if weight == 0:
            return math.nan
        cells = self._cells(self.counts.sum(axis=0), self.selected.sum(), weight)
        return float(per_group(name, cells)[0])

    def difference(self, name: CountMetric) -> float:
        """Largest minus smallest group value (``MetricFrame.difference()``, between groups)."""
        return between_groups_difference(self.metric(name))

    def ratio(self, name: CountMetric) -> float:
        """Smallest over largest group value (``MetricFrame.ratio()``, between groups)."""
        return between_groups_ratio(self.metric(name))

    def disparity(self, name: DisparityMetric) -> float:
        """One of ``DISPARITY_METRICS``, as fairlearn's function of that name computes it."""
        self._check(name, disparity=True)
        if name == "demographic_parity_difference":
            return self.difference("selection_rate")
        if name == "demographic_parity_ratio":
            return self.ratio("selection_rate")
        if name == "equalized_odds_difference":
            return builtin_max(
                self.difference("true_positive_rate"), self.difference("false_positive_rate")
            )
        return builtin_min(self.ratio("true_positive_rate"), self.ratio("false_positive_rate"))

    def to_frame(self) -> pd.DataFrame:
        """One row per group: ``count`` (rows), ``weight`` if weighted, every available metric.

        Indexed like ``MetricFrame.by_group`` (an Index for one feature, else a MultiIndex).
        """
        if len(self.features) == 1:
            index = pd.Index([g[0] for g in self.groups], name=self.features[0])
        else:
            index = pd.MultiIndex.from_tuples(list(self.groups), names=list(self.features))
        data: dict[str, np.ndarray] = {"count": np.asarray(self.sizes)}
        if self.weighted:
            data["weight"] = np.asarray(self.weight)
        for name in self.metrics:
            data[name] = self.metric(name)
        return pd.DataFrame(data, index=index)


def group_table(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    pos_label: Any,
    sample_weight: Any = None,
) -> GroupTable:
    """Count tp, fp, tn, fn for every group of ``sensitive_features`` in one pass.

    ``y_pred == pos_label`` is a positive prediction and ``y_true == pos_label`` a
    positive label; every other value is negative. ``y_true`` may be None (predictions
    without outcomes): then only the selection rate and demographic parity exist.
    Several sensitive features (DataFrame columns, 2-D array) make intersectional
    groups.
    """
    if not pd.api.types.is_scalar(pos_label):
        raise FairnessInputError(f"pos_label must be a single value; got {pos_label!r}")
    pred = _inputs.as_1d(y_pred, "y_pred")
    n_rows = pred.size
    if n_rows == 0:
        raise FairnessInputError("y_pred is empty; fairness metrics need at least one row")
    true = None
    if y_true is not None:
        true = _inputs.as_1d(y_true, "y_true")
        if true.size != n_rows:
            raise FairnessInputError(
                f"y_true has {true.size} rows but y_pred has {n_rows}; "
                "they must have the same length"
            )
    pred_pos = _inputs.positive(pred, pos_label, "y_pred")
    true_pos = None if true is None else _inputs.positive(true, pos_label, "y_true")
    if not pred_pos.any() and (true_pos is None or not true_pos.any()):
        found = _inputs.labels_found(pred) if true is None else _inputs.labels_found(true, pred)
        raise _inputs.pos_label_not_found(pos_label, with_labels=true is not None, found=found)
    columns = _inputs.split_features(sensitive_features, n_rows)
    names, codes, levels = [], [], []
    for name, column in columns:
        c, lv = _inputs.encode_feature(name, column)
        names.append(name)
        codes.append(c)
        levels.append(lv)
    weights = None if sample_weight is None else _inputs.as_weights(sample_weight, n_rows)
    counted = count_groups(
        names, codes, levels, true_pos=true_pos, pred_pos=pred_pos, weights=weights
    )
    return GroupTable.from_counts(
        tuple(names),
        counted,
        pos_label=pos_label,
        has_labels=true_pos is not None,
        weighted=weights is not None,
    )
