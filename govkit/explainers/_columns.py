"""Which original input column each column produced by a pipeline's preprocessing comes from.

Attributions computed on the transformed features are summed back to the input
columns a person recognises. That is only sound when every transformed column
depends on exactly one input column (one-hot, scaling, imputation, selection,
binning, passthrough). Each supported transformer type has a small adapter that
returns, for each of its output columns, the index of the input column it comes
from. Anything else (PCA, polynomial features, custom functions, subclasses whose
behaviour we cannot know) raises :class:`Unmappable` and the caller falls back to
a model-agnostic explainer: the mapping is derived from fitted structure, never
guessed from names.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Unmappable", "output_owners", "pipeline_owners"]


class Unmappable(Exception):
    """The output-to-input column mapping of a transformer cannot be established."""


# owners(transformer, n_in, n_out) -> int array of length n_out with values in [0, n_in)
_Adapter = Callable[[Any, int, "int | None"], np.ndarray]


def output_owners(transformer: Any, n_in: int, n_out: int | None) -> np.ndarray:
    """Input-column index of each output column of a fitted ``transformer``.

    ``n_out`` is the number of output columns when known (it is checked); with a
    single input column every output belongs to it, whatever the transformer does.
    """
    if n_in == 1 and n_out is not None:
        return np.zeros(n_out, dtype=np.intp)
    if transformer is None or (isinstance(transformer, str) and transformer == "passthrough"):
        owners = np.arange(n_in, dtype=np.intp)
    elif isinstance(transformer, str) and transformer == "drop":
        owners = np.zeros(0, dtype=np.intp)
    else:
        adapter = _adapter_for(transformer)
        if adapter is None:
            raise Unmappable(
                f"{type(transformer).__name__} is not known to map each output column to a "
                "single input column"
            )
        owners = np.asarray(adapter(transformer, n_in, n_out), dtype=np.intp)
    if n_out is not None and len(owners) != n_out:
        raise Unmappable(
            f"{type(transformer).__name__} produced {n_out} columns but its fitted structure "
            f"accounts for {len(owners)}"
        )
    if len(owners) and (owners.min() < 0 or owners.max() >= n_in):
        raise Unmappable(f"{type(transformer).__name__} refers to columns outside its input")
    return owners


def pipeline_owners(steps: list[Any], n_in: int, n_out: int | None) -> np.ndarray:
    """Owners through a chain of fitted transformers (the steps of a Pipeline)."""
    if n_in == 1 and n_out is not None:
        return np.zeros(n_out, dtype=np.intp)
    current = np.arange(n_in, dtype=np.intp)
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        local = output_owners(step, len(current), n_out if last else None)
        current = current[local]
    if n_out is not None and len(current) != n_out:
        raise Unmappable(
            f"the pipeline produced {n_out} columns but its steps account for {len(current)}"
        )
    return current


# --- adapters -------------------------------------------------------------------------------


def _identity(transformer: Any, n_in: int, n_out: int | None) -> np.ndarray:
    return np.arange(n_in)


def _function_transformer(transformer: Any, n_in: int, n_out: int | None) -> np.ndarray:
    if transformer.func is not None:
        raise Unmappable("a FunctionTransformer with a custom function may combine columns")
    return np.arange(n_in)


def _one_hot(encoder: Any, n_in: int, n_out: int | None) -> np.ndarray:
    infrequent = getattr(encoder, "infrequent_categories_", None) or [None] * n_in
    drop_idx = encoder.drop_idx_
    counts = []
    for i, categories in enumerate(encoder.categories_):
        count = len(categories)
        if infrequent[i] is not None:
            count = count - len(infrequent[i]) + 1
        if drop_idx is not None and drop_idx[i] is not None:
            count -= 1
        counts.append(count)
    owners = np.repeat(np.arange(len(counts)), counts)
    # Cross-check against the encoder's own names: each output name starts with its input's.
    names_out = encoder.get_feature_names_out()
    if len(names_out) != len(owners):
        raise Unmappable("OneHotEncoder output count does not match its categories")
    names_in = getattr(encoder, "feature_names_in_", None)
    if names_in is not None and encoder.feature_name_combiner == "concat":
        for name, owner in zip(names_out, owners, strict=True):
            if not str(name).startswith(f"{names_in[owner]}_"):
                raise Unmappable(f"OneHotEncoder output {name!r} does not name its input column")
    return owners


def _simple_imputer(imputer: Any, n_in: int, n_out: int | None) -> np.ndarray:
    if imputer.keep_empty_features or imputer.strategy == "constant":
        kept = np.arange(n_in)
    else:  # columns with no observed value are dropped
        kept = np.flatnonzero(~pd.isna(np.asarray(imputer.statistics_, dtype=object)))
    indicator = getattr(imputer, "indicator_", None)
    extra = np.asarray(indicator.features_) if indicator is not None else np.zeros(0, dtype=int)
    return np.concatenate([kept, extra])


def _missing_indicator(indicator: Any, n_in: int, n_out: int | None) -> np.ndarray:
    return np.asarray(indicator.features_)


def _kbins(discretizer: Any, n_in: int, n_out: int | None) -> np.ndarray:
    if discretizer.encode == "ordinal":
        return np.arange(n_in)
    return np.repeat(np.arange(n_in), np.asarray(discretizer.n_bins_, dtype=int))


def _selector(selector: Any, n_in: int, n_out: int | None) -> np.ndarray:
    return np.asarray(selector.get_support(indices=True))


def _pipeline(pipeline: Any, n_in: int, n_out: int | None) -> np.ndarray:
    return pipeline_owners([step for _, step in pipeline.steps], n_in, n_out)


def _column_transformer(ct: Any, n_in: int, n_out: int | None) -> np.ndarray:
    names_in = getattr(ct, "feature_names_in_", None)
    slices = ct.output_indices_
    total = max((s.stop for s in slices.values()), default=0)
    owners = np.full(total, -1, dtype=np.intp)
    for name, transformer, columns in ct.transformers_:
        block = slices.get(name)
        if block is None or block.stop == block.start:
            continue
        inputs = _resolve_columns(columns, names_in, n_in)
        local = output_owners(transformer, len(inputs), block.stop - block.start)
        owners[block] = inputs[local]
    if (owners < 0).any():
        raise Unmappable("ColumnTransformer output blocks do not cover all output columns")
    return owners


def _resolve_columns(columns: Any, names_in: np.ndarray | None, n_in: int) -> np.ndarray:
    """Indices of the input columns a ColumnTransformer block selects."""
    names = None if names_in is None else [str(n) for n in names_in]

    def by_name(label: Any) -> int:
        if names is None or str(label) not in names:
            raise Unmappable(f"ColumnTransformer column {label!r} is not one of its inputs")
        return names.index(str(label))

    if callable(columns):
        raise Unmappable("ColumnTransformer kept an unresolved column selector")
    if isinstance(columns, str):
        return np.array([by_name(columns)])
    if isinstance(columns, int | np.integer):
        return np.array([int(columns)])
    if isinstance(columns, slice):
        if isinstance(columns.start, str) or isinstance(columns.stop, str):
            if names is None:
                raise Unmappable("ColumnTransformer uses a label slice without input names")
            span = pd.Index(names).slice_indexer(columns.start, columns.stop, columns.step)
            return np.arange(n_in)[span]
        return np.arange(n_in)[columns]
    arr = np.asarray(columns)
    if arr.size == 0:
        return np.zeros(0, dtype=np.intp)
    if arr.dtype == bool:
        return np.flatnonzero(arr)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.intp)
    return np.array([by_name(label) for label in arr.ravel()], dtype=np.intp)


@cache
def _registry() -> dict[type, _Adapter]:
    """Exact types -> adapter. Exact, so a subclass that may change behaviour is not trusted."""
    from sklearn import compose, impute, pipeline, preprocessing

    reg: dict[type, _Adapter] = {
        compose.ColumnTransformer: _column_transformer,
        pipeline.Pipeline: _pipeline,
        preprocessing.OneHotEncoder: _one_hot,
        preprocessing.FunctionTransformer: _function_transformer,
        preprocessing.KBinsDiscretizer: _kbins,
        impute.SimpleImputer: _simple_imputer,
        impute.MissingIndicator: _missing_indicator,
    }
    # Column-wise transformers: output column j depends only on input column j.
    for name in (
        "StandardScaler",
        "MinMaxScaler",
        "MaxAbsScaler",
        "RobustScaler",
        "QuantileTransformer",
        "PowerTransformer",
        "OrdinalEncoder",
        "Binarizer",
    ):
        reg[getattr(preprocessing, name)] = _identity
    return reg


def _adapter_for(transformer: Any) -> _Adapter | None:
    adapter = _registry().get(type(transformer))
    if adapter is not None:
        return adapter
    from sklearn.feature_selection import SelectorMixin

    # Selectors are defined by their contract: transform keeps the columns get_support names.
    if isinstance(transformer, SelectorMixin):
        return _selector
    return None
