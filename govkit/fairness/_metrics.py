"""Group metrics from confusion counts, with fairlearn's zero-division conventions.

Where fairlearn (and the scikit-learn functions it calls) decide an undefined value:

* ``selection_rate`` = selected weight / total weight: ``np.dot(selected, w) / w.sum()``
  in ``fairlearn/metrics/_base_metrics.py::selection_rate``.
* ``true/false positive/negative rate``: fairlearn reads them off
  ``sklearn.metrics.confusion_matrix(..., normalize="true")``
  (``_base_metrics.py::true_positive_rate`` etc.), which divides each row by its sum and
  then applies ``nan_to_num`` (``sklearn/metrics/_classification.py::confusion_matrix``):
  a group with no (weighted) positives has TPR = FNR = 0, one with no negatives
  FPR = TNR = 0.
* ``precision`` = tp / (tp + fp); with no predicted positives scikit-learn's
  ``precision_score`` returns ``zero_division``, whose default ``"warn"`` means 0.0.
* ``accuracy`` = (tp + tn) / total weight (``sklearn.metrics.accuracy_score``).
* a group whose weights sum to 0 is NaN for every metric (``GroupTable.metric``);
  fairlearn gives NaN for its selection rate and raises for the rest.
* groups of the cross product with no rows are NaN for every metric: fairlearn
  reindexes ``by_group`` to ``MultiIndex.from_product`` of the observed levels
  (``_disaggregated_result.py::_apply_functions``).
* between-group ``difference`` and ``ratio`` skip NaN groups (pandas ``min``/``max``
  in ``DisaggregatedResult.apply_grouping``); ``ratio`` = min / max is NaN when max is 0
  (pandas 0/0) and when every group is NaN.
* ``equalized_odds_difference`` is ``max(eo.difference())`` and ``equalized_odds_ratio``
  ``min(eo.ratio())`` over the Series (tpr, fpr) with Python's builtin ``max``/``min``
  (``_fairness_metrics.py``): a NaN for the TPR wins, a NaN for the FPR loses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NamedTuple, get_args

import numpy as np

__all__ = [
    "CountMetric",
    "DisparityMetric",
    "COUNT_METRICS",
    "DISPARITY_METRICS",
    "LABEL_FREE_METRICS",
    "LABEL_FREE_DISPARITIES",
    "Cells",
    "per_group",
    "between_groups_difference",
    "between_groups_ratio",
    "builtin_max",
    "builtin_min",
]

CountMetric = Literal[
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "true_negative_rate",
    "precision",
    "accuracy",
]
DisparityMetric = Literal[
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
]
COUNT_METRICS: tuple[CountMetric, ...] = get_args(CountMetric)
DISPARITY_METRICS: tuple[DisparityMetric, ...] = get_args(DisparityMetric)
#: What can be computed from predictions alone (``y_true=None``).
LABEL_FREE_METRICS: tuple[CountMetric, ...] = ("selection_rate",)
LABEL_FREE_DISPARITIES: tuple[DisparityMetric, ...] = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
)


class Cells(NamedTuple):
    """Weighted counts per group (arrays of one length, or scalars for the whole data)."""

    tp: np.ndarray
    fp: np.ndarray
    tn: np.ndarray
    fn: np.ndarray
    selected: np.ndarray
    weight: np.ndarray


def _divide(num: np.ndarray, den: np.ndarray, *, if_zero: float) -> np.ndarray:
    num, den = np.atleast_1d(num, den)
    out = np.full(np.broadcast(num, den).shape, if_zero, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


_FORMULAS: dict[str, Callable[[Cells], np.ndarray]] = {
    "selection_rate": lambda c: _divide(c.selected, c.weight, if_zero=math.nan),
    "true_positive_rate": lambda c: _divide(c.tp, c.tp + c.fn, if_zero=0.0),
    "false_positive_rate": lambda c: _divide(c.fp, c.fp + c.tn, if_zero=0.0),
    "false_negative_rate": lambda c: _divide(c.fn, c.tp + c.fn, if_zero=0.0),
    "true_negative_rate": lambda c: _divide(c.tn, c.fp + c.tn, if_zero=0.0),
    "precision": lambda c: _divide(c.tp, c.tp + c.fp, if_zero=0.0),
    "accuracy": lambda c: _divide(c.tp + c.tn, c.weight, if_zero=math.nan),
}


def per_group(name: CountMetric, cells: Cells) -> np.ndarray:
    """The metric ``name`` for every entry of ``cells``."""
    return _FORMULAS[name](cells)


def between_groups_difference(values: np.ndarray) -> float:
    """max - min over the groups that are not NaN (NaN when all are)."""
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return math.nan
    return float(defined.max() - defined.min())


def between_groups_ratio(values: np.ndarray) -> float:
    """min / max over the groups that are not NaN; NaN when max is 0 or all are NaN."""
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return math.nan
    low, high = float(defined.min()), float(defined.max())
    if high == 0:
        return math.nan if low == 0 else math.copysign(math.inf, low)
    return low / high


def builtin_max(first: float, second: float) -> float:
    """Python's ``max(first, second)``: ``first`` unless ``second > first`` (so NaN first wins)."""
    return second if second > first else first


def builtin_min(first: float, second: float) -> float:
    """Python's ``min(first, second)``: ``first`` unless ``second < first``."""
    return second if second < first else first
