"""Turn user-supplied labels, sensitive features and weights into flat numpy arrays.

Everything is positional: pandas indexes are ignored, as in fairlearn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from govkit.fairness._errors import FairnessInputError

__all__ = [
    "as_1d",
    "positive",
    "labels_found",
    "pos_label_not_found",
    "split_features",
    "encode_feature",
    "unorderable",
    "as_weights",
]

#: fairlearn's name for the i-th unnamed sensitive feature is f"{_BASE_NAME}{i}".
_BASE_NAME = "sensitive_feature_"
_SHOW = 5  # how many offending rows / labels an error message lists


def _rows(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(r) for r in rows[:_SHOW])
    return shown + (", ..." if rows.size > _SHOW else "")


def as_1d(values: Any, what: str) -> np.ndarray:
    """A 1-D array of ``values`` (list, ndarray, Series, one-column DataFrame)."""
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise FairnessInputError(
                f"{what} must be one-dimensional; got a DataFrame with {values.shape[1]} columns"
            )
        values = values.iloc[:, 0]
    arr: np.ndarray
    if isinstance(values, pd.Series | pd.Index):
        arr = values.to_numpy()
    elif isinstance(values, list | tuple):
        # object keeps [1, "a"] from becoming strings and pos_label=1 from matching nothing
        arr = np.asarray(values, dtype=object)
    else:
        arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise FairnessInputError(f"{what} must be one-dimensional; got shape {arr.shape}")
    return arr


def positive(arr: np.ndarray, pos_label: Any, what: str) -> np.ndarray:
    """Boolean mask ``arr == pos_label``; missing values are refused."""
    missing = pd.isna(arr)
    if missing.any():
        raise FairnessInputError(
            f"{what} has {int(missing.sum())} missing values (rows {_rows(missing)}); "
            "drop those rows or fill them before computing fairness metrics"
        )
    mask = np.asarray(arr == pos_label, dtype=bool)
    if mask.shape != arr.shape:  # a comparison numpy could not do elementwise
        mask = np.fromiter((v == pos_label for v in arr), dtype=bool, count=arr.size)
    return mask


def labels_found(*arrays: np.ndarray) -> list[Any]:
    """The distinct values of ``arrays`` (at most a few), for an error message."""
    seen: dict[Any, None] = {}
    for arr in arrays:
        for value in pd.unique(arr)[: _SHOW * 2]:
            seen.setdefault(value.item() if isinstance(value, np.generic) else value, None)
    return sorted(seen, key=repr)[: _SHOW * 2]


def pos_label_not_found(
    pos_label: Any, *, with_labels: bool, found: list[Any]
) -> FairnessInputError:
    """The error for a ``pos_label`` that occurs in neither ``y_true`` nor ``y_pred``."""
    where = "either y_true or y_pred" if with_labels else "y_pred"
    return FairnessInputError(
        f"pos_label={pos_label!r} does not occur in {where}; labels found: {found}. "
        "Pass the value that marks a positive (favourable) outcome, with its type "
        "(e.g. 1 and '1' differ)"
    )


def split_features(features: Any, n_rows: int) -> list[tuple[str, Any]]:
    """``[(name, column), ...]``, one per sensitive feature, named as fairlearn names them."""
    if isinstance(features, Mapping):
        features = pd.DataFrame(dict(features))
    if isinstance(features, pd.Index | pd.Categorical | pd.api.extensions.ExtensionArray):
        features = pd.Series(features, name=getattr(features, "name", None), copy=False)
    columns: list[tuple[str, Any]]
    if isinstance(features, pd.Series):
        columns = [(_BASE_NAME + "0" if features.name is None else str(features.name), features)]
    elif isinstance(features, pd.DataFrame):
        columns = [(str(name), features.iloc[:, i]) for i, name in enumerate(features.columns)]
    else:
        arr = (
            np.asarray(features, dtype=object)
            if isinstance(features, list | tuple)
            else np.asarray(features)
        )
        if arr.ndim == 0:
            raise FairnessInputError(
                "sensitive_features must be a sequence with one value per row; "
                f"got the scalar {features!r}"
            )
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise FairnessInputError(
                f"sensitive_features must be one- or two-dimensional; got shape {arr.shape}"
            )
        columns = [(f"{_BASE_NAME}{i}", arr[:, i]) for i in range(arr.shape[1])]
    if not columns:
        raise FairnessInputError("sensitive_features has no columns; give at least one feature")
    names = [name for name, _ in columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FairnessInputError(f"sensitive feature names must be unique; repeated: {dupes}")
    for name, column in columns:
        if len(column) != n_rows:
            raise FairnessInputError(
                f"sensitive feature {name!r} has {len(column)} rows but y_pred has {n_rows}; "
                "they must have the same length"
            )
    return columns


def _check_missing(name: str, codes: np.ndarray) -> None:
    missing = codes < 0
    if missing.any():
        raise FairnessInputError(
            f"sensitive feature {name!r} has {int(missing.sum())} missing values "
            f"(rows {_rows(missing)}); fairlearn refuses them too. Drop those rows or fill "
            "them with an explicit level such as 'Unknown'"
        )


def unorderable(name: str, exc: TypeError) -> FairnessInputError:
    return FairnessInputError(
        f"sensitive feature {name!r} mixes values that cannot be ordered ({exc}); "
        "convert the column to one type, for example with .astype(str)"
    )


def encode_feature(name: str, column: Any) -> tuple[np.ndarray, list[Any]]:
    """Integer codes 0..k-1 (any int dtype) and the k observed levels, sorted as fairlearn sorts.

    Categoricals are sorted by value, not by category order, and unused categories
    are dropped: fairlearn turns the column into a plain list before grouping.
    """
    if isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        _check_missing(name, codes)
        categories = column.cat.categories
        used = np.flatnonzero(np.bincount(codes, minlength=len(categories)))
        try:
            order = np.argsort(np.asarray(categories[used], dtype=object), kind="stable")
        except TypeError as exc:
            raise unorderable(name, exc) from None
        levels = categories[used[order]].tolist()
        if used.size == len(categories) and (order == np.arange(used.size)).all():
            return codes, levels  # already sorted and all used: the codes are right
        remap = np.full(len(categories), -1, dtype=np.intp)
        remap[used[order]] = np.arange(used.size)
        return remap[codes], levels
    try:
        codes, uniques = pd.factorize(column, sort=True)
    except TypeError as exc:
        raise unorderable(name, exc) from None
    _check_missing(name, codes)
    return codes.astype(np.intp, copy=False), uniques.tolist()


def as_weights(sample_weight: Any, n_rows: int) -> np.ndarray:
    """Float weights, one per row, finite and non-negative."""
    weights = as_1d(sample_weight, "sample_weight")
    try:
        weights = weights.astype(np.float64)
    except (TypeError, ValueError):
        raise FairnessInputError(
            f"sample_weight must be numeric; got values of type {weights.dtype}"
        ) from None
    if weights.size != n_rows:
        raise FairnessInputError(
            f"sample_weight has {weights.size} rows but y_pred has {n_rows}; "
            "they must have the same length"
        )
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        raise FairnessInputError(
            f"sample_weight must be finite and non-negative; {int(bad.sum())} rows are not "
            f"(rows {_rows(bad)})"
        )
    return weights
