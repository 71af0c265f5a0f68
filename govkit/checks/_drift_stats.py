"""Two-sample drift statistics of one column: PSI, Kolmogorov-Smirnov, chi-squared.

Each function takes the reference (training) values and the current values and returns
``DriftStat``. Missing values (NaN, None): one bin of their own in numeric columns for
PSI, left out by KS (which counts them, for the message), one category of their own
(``"<missing>"``) in categorical columns.

* :func:`psi` -- population stability index, sum over bins of (c - r) * ln(c / r) with
  r, c the shares of the reference and current rows in each bin. Numeric columns
  (:func:`psi_bins`): the bin edges are the reference's quantiles at 1/bins, ...,
  (bins-1)/bins (``numpy.quantile``, linear interpolation, over its finite values),
  duplicates merged, so a column with few distinct values gets fewer bins; a value x falls
  in bin i when edge_i <= x < edge_i+1, and the outer bins are open (values beyond the
  reference's range count, infinities too). An edge that at least 1/bins of the reference
  rows equal is a point mass, with a bin of its own: [e, e], between edge_i-1 <= x < e and
  e < x < edge_i+1 (a column that is 0 in 92% of the reference, or constant, would
  otherwise share one bin with every larger value). Missing values are one more bin. A
  column with neither point masses nor missing values keeps the bins (and the PSI, to
  float rounding) it had before these two rules. Categorical columns: one bin per
  category seen in either sample.
  A share below ``epsilon`` (an empty bin) is raised to ``epsilon`` before the sum, so the
  index stays finite; shares are not renormalised.
* :func:`ks` -- ``scipy.stats.ks_2samp`` (two-sided; exact or asymptotic p-value as scipy
  chooses), numeric columns, over the non-missing values.
* :func:`chi2` -- ``scipy.stats.chi2_contingency`` on the 2 x k table of category counts
  (reference row, current row) over the categories seen in either sample; a test of
  homogeneity. Yates' correction applies only when k = 2, as scipy does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DriftStat",
    "is_categorical",
    "psi",
    "ks",
    "chi2",
    "MISSING",
    "category_counts",
    "aligned",
    "PsiBins",
    "psi_bins",
    "bin_counts",
    "psi_of_counts",
    "chi2_of_counts",
]

MISSING = "<missing>"


@dataclass(frozen=True)
class DriftStat:
    statistic: float
    p_value: float | None
    n_reference: int  # rows used (non-missing for ks)
    n_current: int
    missing_reference: int = 0  # missing values ks left out
    missing_current: int = 0


def is_categorical(values: Any) -> bool:
    """Not numeric (strings, categories, booleans): compared by category counts."""
    s = pd.Series(values)
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def _floats(values: Any) -> np.ndarray:
    arr: np.ndarray = pd.Series(values).astype(float).to_numpy()
    return arr


def _categories(values: Any) -> pd.Series:
    s = pd.Series(values).astype(object)
    return s.where(s.notna(), MISSING).astype(str)


def category_counts(values: Any) -> pd.Series:
    """Rows per category (missing values are the category ``MISSING``)."""
    return _categories(values).value_counts()


def _aligned_counts(reference: Any, current: Any) -> tuple[np.ndarray, np.ndarray]:
    return aligned(category_counts(reference), category_counts(current))


def aligned(r: pd.Series, c: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Two category count tables over the sorted union of their categories."""
    cats = sorted(set(r.index) | set(c.index))
    return (
        r.reindex(cats, fill_value=0).to_numpy(dtype=float),
        c.reindex(cats, fill_value=0).to_numpy(dtype=float),
    )


@dataclass(frozen=True)
class PsiBins:
    """The PSI bins of a numeric column (see the module docstring); hashable."""

    edges: tuple[float, ...]  # the reference's distinct quantiles, ascending
    points: tuple[float, ...] = ()  # the edges that are point masses: a bin [e, e] each

    @property
    def size(self) -> int:
        """Bins, the missing values' included."""
        return len(self.edges) + len(self.points) + 2


def psi_bins(reference: Any, bins: int) -> PsiBins:
    """The bins of a numeric column from its reference values."""
    r = _floats(reference)
    r = np.sort(r[np.isfinite(r)])
    if r.size == 0:
        return PsiBins(())
    edges = np.unique(np.quantile(r, np.arange(1, bins) / bins))
    ties = np.searchsorted(r, edges, side="right") - np.searchsorted(r, edges, side="left")
    points = edges[ties * bins >= r.size]
    return PsiBins(tuple(edges.tolist()), tuple(points.tolist()))


def bin_counts(values: Any, bins: PsiBins) -> np.ndarray:
    """Rows per bin: below, at and above each edge as the bins say, then the missing values."""
    x = _floats(values)
    missing = np.isnan(x)
    x = x[~missing]
    index = np.searchsorted(np.asarray(bins.edges, dtype=float), x, side="right")
    index += np.searchsorted(np.asarray(bins.points, dtype=float), x, side="left")
    counts = np.bincount(index, minlength=bins.size - 1)
    return np.append(counts, np.count_nonzero(missing))


def psi(reference: Any, current: Any, *, bins: int = 10, epsilon: float = 1e-4) -> DriftStat:
    if is_categorical(reference) or is_categorical(current):
        r_counts, c_counts = _aligned_counts(reference, current)
    else:
        edges = psi_bins(reference, bins)
        r_counts, c_counts = bin_counts(reference, edges), bin_counts(current, edges)
    return psi_of_counts(r_counts, c_counts, epsilon=epsilon)


def psi_of_counts(r_counts: np.ndarray, c_counts: np.ndarray, *, epsilon: float) -> DriftStat:
    """PSI of two aligned count vectors (bins or categories)."""
    n_r, n_c = int(r_counts.sum()), int(c_counts.sum())
    if n_r == 0 or n_c == 0:
        return DriftStat(float("nan"), None, n_r, n_c)
    p = np.maximum(r_counts / n_r, epsilon)
    q = np.maximum(c_counts / n_c, epsilon)
    return DriftStat(float(np.sum((q - p) * np.log(q / p))), None, n_r, n_c)


def ks(reference: Any, current: Any) -> DriftStat:
    from scipy import stats

    r_all, c_all = _floats(reference), _floats(current)
    r, c = r_all[~np.isnan(r_all)], c_all[~np.isnan(c_all)]
    missing = (r_all.size - r.size, c_all.size - c.size)
    if r.size == 0 or c.size == 0:
        return DriftStat(float("nan"), None, int(r.size), int(c.size), *missing)
    result = stats.ks_2samp(r, c)
    return DriftStat(
        float(result.statistic), float(result.pvalue), int(r.size), int(c.size), *missing
    )


def chi2(reference: Any, current: Any) -> DriftStat:
    return chi2_of_counts(*_aligned_counts(reference, current))


def chi2_of_counts(r_counts: np.ndarray, c_counts: np.ndarray) -> DriftStat:
    """The chi-squared test of two aligned category count vectors."""
    from scipy import stats

    n_r, n_c = int(r_counts.sum()), int(c_counts.sum())
    if n_r == 0 or n_c == 0:
        return DriftStat(float("nan"), None, n_r, n_c)
    if len(r_counts) < 2:  # one category in both samples: identical distributions
        return DriftStat(0.0, 1.0, n_r, n_c)
    result = stats.chi2_contingency(np.vstack([r_counts, c_counts]))
    return DriftStat(float(result.statistic), float(result.pvalue), n_r, n_c)
