"""How strongly a feature is associated with a sensitive feature (for proxy detection).

The sensitive feature is treated as categorical (its groups), as everywhere in govkit.

* Categorical feature: Cramér's V of the contingency table, without bias correction,
  V = sqrt(chi2 / (n * (min(rows, columns) - 1))) with chi2 Pearson's statistic without
  Yates' correction (``scipy.stats.contingency.association(table, method="cramer")``).
* Numeric feature: the correlation ratio eta = sqrt(SS_between / SS_total) of the feature
  over the sensitive groups (the share of its variance the groups explain, square-rooted).

Both lie in [0, 1]; 0 when either side is constant. Missing values are a category of their
own for categorical columns; rows with a missing numeric value are left out.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from govkit.checks._drift_stats import MISSING, is_categorical

__all__ = ["association", "cramers_v", "cramers_v_of_table", "correlation_ratio"]


def _codes(values: Any) -> np.ndarray:
    s = pd.Series(values).astype(object)
    s = s.where(s.notna(), MISSING).astype(str)
    return pd.factorize(s, sort=True)[0]


def cramers_v(feature: Any, sensitive: Any) -> float:
    a, b = _codes(feature), _codes(sensitive)
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)
    return cramers_v_of_table(table)


def cramers_v_of_table(table: np.ndarray) -> float:
    """Cramér's V of a contingency table (categories of the feature by sensitive groups)."""
    from scipy import stats

    if min(table.shape) < 2:
        return 0.0
    chi2 = stats.chi2_contingency(table, correction=False).statistic
    return float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))


def correlation_ratio(feature: Any, sensitive: Any) -> float:
    y = pd.Series(feature).astype(float).to_numpy()
    groups = _codes(sensitive)
    keep = np.isfinite(y)
    y, groups = y[keep], groups[keep]
    if y.size == 0:
        return 0.0
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0.0:
        return 0.0
    counts = np.bincount(groups)
    sums = np.bincount(groups, weights=y)
    present = counts > 0
    means = sums[present] / counts[present]
    between = float(np.sum(counts[present] * (means - y.mean()) ** 2))
    return float(np.sqrt(min(between / total, 1.0)))


def association(
    feature: Any, sensitive: Any
) -> tuple[float, Literal["cramers_v", "correlation_ratio"]]:
    """(strength in [0, 1], which measure)."""
    if is_categorical(feature):
        return cramers_v(feature, sensitive), "cramers_v"
    return correlation_ratio(feature, sensitive), "correlation_ratio"
