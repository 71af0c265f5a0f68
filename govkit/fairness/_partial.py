"""Count tables of slices of the rows (partitions), keyed by level values, merged by addition.

Each partition factorises its sensitive features on its own, so code 3 in one partition
need not be code 3 in the next. :func:`partial_tables` therefore keeps, beside the
counts of every combination observed in the slice, each feature's observed levels
(the values); :func:`merge` re-codes two partials onto the union of their levels and
adds the counts of equal combinations; :func:`finish` lays the merged counts over the
full cross product of levels, as :func:`~govkit.fairness.group_table` does, and builds
the :class:`~govkit.fairness.GroupTable`.

Levels are kept sorted the way ``group_table`` sorts them (``pd.factorize(sort=True)``;
a categorical by value, unused categories dropped). The sorted union of the levels of
each slice is the sorted set of levels of the whole column, so groups, their order and
their values are those of ``group_table`` on the concatenated rows. Within a slice, a
feature set contained in another requested set (``"sex"`` in ``["sex", "race"]``) is
summed out of the larger set's counts rather than counted again. Unweighted counts are
integers, so all of this is exact; weighted counts are float sums that equal the
one-pass sums up to rounding (the order of summation differs: about 1e-16 relative).

Nothing here imports dask: the functions run on pandas frames and plain arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from govkit.fairness import _inputs
from govkit.fairness._counts import (
    cell_counts,
    check_group_count,
    counts_from_cells,
    group_codes,
)
from govkit.fairness._errors import FairnessInputError
from govkit.fairness._table import GroupTable

__all__ = ["TableSpec", "Levels", "Partial", "Partials", "partial_tables", "merge", "finish"]

_SHOW_LABELS = 10  # labels kept per slice for the "pos_label does not occur" message


@dataclass(frozen=True)
class TableSpec:
    """Which columns hold labels, predictions and weights, and one table per feature set.

    Columns are labels of the frame; a table's feature names are ``str()`` of them.
    """

    y_true: Hashable | None
    y_pred: Hashable
    feature_sets: tuple[tuple[Hashable, ...], ...]
    pos_label: Any
    sample_weight: Hashable | None = None

    @property
    def columns(self) -> list[Hashable]:
        """Every column the tables read, each once, in a stable order."""
        wanted = [self.y_true, self.y_pred, self.sample_weight]
        wanted += [c for fs in self.feature_sets for c in fs]
        return list(dict.fromkeys(c for c in wanted if c is not None))


@dataclass(frozen=True, eq=False)
class Levels:
    """The observed levels of one feature (object array, sorted as ``group_table`` sorts)."""

    values: np.ndarray
    categorical: bool


@dataclass(frozen=True, eq=False)
class Partial:
    """Counts of the combinations of levels observed in a slice (rows > 0 only)."""

    names: tuple[str, ...]
    levels: tuple[Levels, ...]
    codes: np.ndarray  # (m, n_features) intp: the level of each feature, per combination
    cells: np.ndarray  # (m, 4) float64: cell_counts' cells
    sizes: np.ndarray  # (m,) int64: rows


@dataclass(frozen=True, eq=False)
class Partials:
    """What one slice of rows contributes: a :class:`Partial` per feature set, and label facts."""

    tables: tuple[Partial, ...]
    n_rows: int
    any_positive: bool  # pos_label occurs in y_pred or y_true
    labels: tuple[Any, ...]  # a few distinct labels, for the error when pos_label never occurs


def partial_tables(frame: pd.DataFrame, spec: TableSpec, *, where: str = "") -> Partials:
    """The counts of ``frame`` (one partition) for every feature set of ``spec``.

    Input errors name ``where`` (e.g. "partition 3 of 20"); row numbers in them are
    positions within ``frame``.
    """
    try:
        return _partial_tables(frame, spec)
    except FairnessInputError as exc:
        if not where:
            raise
        raise FairnessInputError(f"{where} (row numbers within it): {exc}") from None


def _partial_tables(frame: pd.DataFrame, spec: TableSpec) -> Partials:
    n_rows = len(frame)
    pred = _inputs.as_1d(frame[spec.y_pred], "y_pred")
    pred_pos = _inputs.positive(pred, spec.pos_label, "y_pred")
    true = true_pos = None
    if spec.y_true is not None:
        true = _inputs.as_1d(frame[spec.y_true], "y_true")
        true_pos = _inputs.positive(true, spec.pos_label, "y_true")
    weights = None
    if spec.sample_weight is not None:
        weights = _inputs.as_weights(frame[spec.sample_weight], n_rows)
    encoded: dict[Hashable, tuple[np.ndarray, Levels]] = {}
    for features in spec.feature_sets:
        for column in features:
            if column not in encoded:
                encoded[column] = _encode(str(column), frame[column])
    # Largest sets first: a set inside one already counted is summed out of that one's
    # cells (one bincount for "a", "b" and "a x b") - exact for counts of rows.
    dense: dict[tuple[Hashable, ...], tuple[np.ndarray, np.ndarray]] = {}
    tables: list[Partial | None] = [None] * len(spec.feature_sets)
    order = sorted(range(len(spec.feature_sets)), key=lambda i: -len(spec.feature_sets[i]))
    for i in order:
        features = spec.feature_sets[i]
        levels = tuple(encoded[c][1] for c in features)
        names = tuple(str(c) for c in features)
        dims = [len(lv.values) for lv in levels]
        if n_rows == 0:
            tables[i] = _sparse(names, levels, dims, np.zeros((0, 4)), np.zeros(0, np.int64))
            continue
        # A slice has no more levels than the whole column: an overflow here is one there too.
        n_groups = check_group_count(list(names), dims)
        counted = _marginal(features, dense, encoded)
        if counted is None:
            group = group_codes([encoded[c][0] for c in features], dims)
            counted = cell_counts(
                group, n_groups, true_pos=true_pos, pred_pos=pred_pos, weights=weights
            )
            dense[features] = counted
        tables[i] = _sparse(names, levels, dims, *counted)
    any_positive = bool(pred_pos.any()) or (true_pos is not None and bool(true_pos.any()))
    labels: tuple[Any, ...] = ()
    if not any_positive:
        labels = tuple(
            _inputs.labels_found(pred) if true is None else _inputs.labels_found(true, pred)
        )
    return Partials(tuple(t for t in tables if t is not None), n_rows, any_positive, labels)


def _encode(name: str, column: pd.Series) -> tuple[np.ndarray, Levels]:
    codes, levels = _inputs.encode_feature(name, column)
    categorical = isinstance(column.dtype, pd.CategoricalDtype)
    values = np.empty(len(levels), dtype=object)
    values[:] = levels
    return codes, Levels(values, categorical)


def _marginal(
    features: tuple[Hashable, ...],
    dense: dict[tuple[Hashable, ...], tuple[np.ndarray, np.ndarray]],
    encoded: dict[Hashable, tuple[np.ndarray, Levels]],
) -> tuple[np.ndarray, np.ndarray] | None:
    """Cells and sizes of ``features`` summed out of a counted superset, or None."""
    for superset, (cells, sizes) in dense.items():
        if not set(features) <= set(superset):
            continue
        dims = [len(encoded[c][1].values) for c in superset]
        dropped = tuple(j for j, c in enumerate(superset) if c not in features)
        kept = [c for c in superset if c in features]
        order = [kept.index(c) for c in features]  # kept axes -> the order of ``features``
        n_groups = int(np.prod([len(encoded[c][1].values) for c in features], dtype=np.int64))
        c = cells.reshape(*dims, 4).sum(axis=dropped).transpose(*order, len(order))
        n = sizes.reshape(dims).sum(axis=dropped).transpose(*order)
        return (
            np.ascontiguousarray(c).reshape(n_groups, 4),
            np.ascontiguousarray(n).reshape(n_groups),
        )
    return None


def _sparse(
    names: tuple[str, ...],
    levels: tuple[Levels, ...],
    dims: list[int],
    cells: np.ndarray,
    sizes: np.ndarray,
) -> Partial:
    """Only the combinations with rows, as codes into ``levels``."""
    observed = np.flatnonzero(sizes)
    combos = np.stack(np.unravel_index(observed, dims), axis=1).astype(np.intp, copy=False)
    combos = combos.reshape(len(observed), len(dims))
    return Partial(names, levels, combos, cells[observed], sizes[observed])


# -- merging ---------------------------------------------------------------------------------


def merge(parts: Sequence[Partials]) -> Partials:
    """The counts of the union of the (disjoint) slices of ``parts``, in one ``Partials``."""
    nonempty = [p for p in parts if p.n_rows]
    if not nonempty:
        return parts[0]
    out = nonempty[0]
    for part in nonempty[1:]:
        any_positive = out.any_positive or part.any_positive
        labels = () if any_positive else _some_labels(out.labels + part.labels)
        out = Partials(
            tuple(_merge_two(a, b) for a, b in zip(out.tables, part.tables, strict=True)),
            out.n_rows + part.n_rows,
            any_positive,
            labels,
        )
    return out


def _some_labels(labels: tuple[Any, ...]) -> tuple[Any, ...]:
    seen = dict.fromkeys(labels)
    return tuple(sorted(seen, key=repr)[:_SHOW_LABELS])


def _merge_levels(name: str, a: Levels, b: Levels) -> tuple[Levels, np.ndarray, np.ndarray]:
    """The union of two level sets, sorted, and where each old level went."""
    both = np.concatenate([a.values, b.values])
    categorical = a.categorical and b.categorical
    try:
        if categorical:  # group_table: categories sorted by value with numpy's object sort
            codes, uniques = pd.factorize(both)
            uniques = np.asarray(uniques, dtype=object)
            order = np.argsort(uniques, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size)
            codes, uniques = rank[codes], uniques[order]
        else:  # group_table: pd.factorize(column, sort=True)
            codes, uniques = pd.factorize(both, sort=True)
            uniques = np.asarray(uniques, dtype=object)
    except TypeError as exc:
        raise _inputs.unorderable(name, exc) from None
    n = len(a.values)
    return Levels(uniques, categorical), codes[:n], codes[n:]


def _merge_two(a: Partial, b: Partial) -> Partial:
    levels, columns = [], []
    for j, (la, lb) in enumerate(zip(a.levels, b.levels, strict=True)):
        merged, remap_a, remap_b = _merge_levels(a.names[j], la, lb)
        levels.append(merged)
        columns.append(np.concatenate([remap_a[a.codes[:, j]], remap_b[b.codes[:, j]]]))
    dims = [len(lv.values) for lv in levels]
    check_group_count(list(a.names), dims)
    linear = np.ravel_multi_index(columns, dims)
    keys, inverse = np.unique(linear, return_inverse=True)
    cells = np.zeros((keys.size, 4))
    np.add.at(cells, inverse, np.concatenate([a.cells, b.cells]))  # a's rows, then b's
    sizes = np.zeros(keys.size, dtype=np.int64)
    np.add.at(sizes, inverse, np.concatenate([a.sizes, b.sizes]))
    combos = np.stack(np.unravel_index(keys, dims), axis=1).astype(np.intp, copy=False)
    return Partial(a.names, tuple(levels), combos, cells, sizes)


# -- the result --------------------------------------------------------------------------------


def finish(merged: Partials, spec: TableSpec) -> list[GroupTable]:
    """One :class:`GroupTable` per feature set of ``spec``, from the counts of all rows."""
    if merged.n_rows == 0:
        raise FairnessInputError("y_pred is empty; fairness metrics need at least one row")
    if not merged.any_positive:
        raise _inputs.pos_label_not_found(
            spec.pos_label, with_labels=spec.y_true is not None, found=list(merged.labels)
        )
    tables = []
    for part in merged.tables:
        dims = [len(lv.values) for lv in part.levels]
        n_groups = check_group_count(list(part.names), dims)
        linear = np.ravel_multi_index(tuple(part.codes.T), dims)
        cells = np.zeros((n_groups, 4))
        cells[linear] = part.cells
        sizes = np.zeros(n_groups, dtype=np.int64)
        sizes[linear] = part.sizes
        groups = tuple(itertools.product(*(lv.values.tolist() for lv in part.levels)))
        counts = counts_from_cells(groups, cells, sizes, has_labels=spec.y_true is not None)
        tables.append(
            GroupTable.from_counts(
                part.names,
                counts,
                pos_label=spec.pos_label,
                has_labels=spec.y_true is not None,
                weighted=spec.sample_weight is not None,
            )
        )
    return tables
