"""Per-group confusion counts in one vectorised pass.

Each sensitive feature is factorised to codes ``0..k_j-1``; the codes are combined
into one group code ``((c_0 * k_1) + c_1) * k_2 + c_2 ...`` over the full cross
product of observed levels (the order of ``pandas.MultiIndex.from_product``, which
is how fairlearn's ``MetricFrame.by_group`` is indexed), and one ``np.bincount``
over ``group * 4 + 2 * label + prediction`` gives every cell at once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from govkit.fairness._errors import FairnessInputError

__all__ = [
    "Counts",
    "count_groups",
    "cell_counts",
    "counts_from_cells",
    "check_group_count",
    "group_codes",
    "MAX_GROUPS",
    "TP",
    "FP",
    "TN",
    "FN",
]

#: Column of each cell in ``Counts.counts``.
TP, FP, TN, FN = 0, 1, 2, 3
#: Largest cross product of levels the engine accepts (memory is ~40 bytes per group).
MAX_GROUPS = 1_000_000

# bincount cell 2 * label + prediction -> column: TN (0,0), FP (0,1), FN (1,0), TP (1,1)
_CELL_TO_COLUMN = np.array([TN, FP, FN, TP])


@dataclass(frozen=True, eq=False)
class Counts:
    groups: tuple[tuple[Any, ...], ...]
    sizes: np.ndarray  # int64 (G,) unweighted rows
    counts: np.ndarray  # float64 (G, 4) tp, fp, tn, fn; NaN when there are no labels
    selected: np.ndarray  # float64 (G,) weighted predicted positives
    weight: np.ndarray  # float64 (G,) weighted rows


def check_group_count(names: list[str], n_levels: list[int]) -> int:
    """The number of groups (cross product of levels), or an error past ``MAX_GROUPS``."""
    n_groups = 1
    for k in n_levels:
        n_groups *= k
    if n_groups > MAX_GROUPS:
        sizes = ", ".join(f"{n!r}: {k}" for n, k in zip(names, n_levels, strict=True))
        raise FairnessInputError(
            f"the sensitive features form {n_groups:,} groups (levels per feature: {sizes}), "
            f"more than the {MAX_GROUPS:,} the engine accepts; a sensitive feature should be "
            "categorical - bin continuous columns or drop identifier-like ones"
        )
    return n_groups


def group_codes(codes: list[np.ndarray], dims: list[int]) -> np.ndarray:
    """One code per row over the cross product: ``((c_0 * k_1) + c_1) * k_2 + c_2 ...``."""
    group = codes[0].astype(np.intp, copy=True)
    for c, k in zip(codes[1:], dims[1:], strict=True):
        group *= k
        group += c
    return group


def cell_counts(
    group: np.ndarray,
    n_groups: int,
    *,
    true_pos: np.ndarray | None,
    pred_pos: np.ndarray,
    weights: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(cells, sizes)``: float64 ``(n_groups, 4)`` cells ``2 * label + prediction``
    (weighted; label 0 without labels) and int64 ``(n_groups,)`` rows per group.

    Cells and sizes of disjoint row sets add up to those of their union, which is how
    partitions of a data set are merged (``govkit.fairness._partial``).
    """
    cell = group * 4
    if true_pos is not None:
        cell += 2 * true_pos
    cell += pred_pos
    raw = np.bincount(cell, weights=weights, minlength=4 * n_groups).reshape(n_groups, 4)
    raw = raw.astype(np.float64, copy=False)
    if weights is None:
        sizes = raw.sum(axis=1).astype(np.int64)
    else:
        sizes = np.bincount(group, minlength=n_groups).astype(np.int64)
    return raw, sizes


def counts_from_cells(
    groups: tuple[tuple[Any, ...], ...], cells: np.ndarray, sizes: np.ndarray, *, has_labels: bool
) -> Counts:
    """:class:`Counts` from the cells and sizes of :func:`cell_counts` (summed or not)."""
    counts = np.empty((len(groups), 4))
    counts[:, _CELL_TO_COLUMN] = cells
    selected = counts[:, TP] + counts[:, FP]
    weight = counts.sum(axis=1)
    if not has_labels:
        counts[:] = np.nan
    sizes = np.array(sizes, dtype=np.int64)
    for arr in (sizes, counts, selected, weight):
        arr.setflags(write=False)
    return Counts(groups=groups, sizes=sizes, counts=counts, selected=selected, weight=weight)


def count_groups(
    names: list[str],
    codes: list[np.ndarray],
    levels: list[list[Any]],
    *,
    true_pos: np.ndarray | None,
    pred_pos: np.ndarray,
    weights: np.ndarray | None,
) -> Counts:
    """Confusion counts per group of the cross product of ``levels``."""
    dims = [len(lv) for lv in levels]
    n_groups = check_group_count(names, dims)
    group = group_codes(codes, dims)
    cells, sizes = cell_counts(
        group, n_groups, true_pos=true_pos, pred_pos=pred_pos, weights=weights
    )
    return counts_from_cells(
        tuple(itertools.product(*levels)), cells, sizes, has_labels=true_pos is not None
    )
