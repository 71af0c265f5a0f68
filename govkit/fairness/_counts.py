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

__all__ = ["Counts", "count_groups", "MAX_GROUPS", "TP", "FP", "TN", "FN"]

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


def _group_codes(names: list[str], codes: list[np.ndarray], levels: list[list[Any]]) -> np.ndarray:
    n_groups = 1
    for lv in levels:
        n_groups *= len(lv)
    if n_groups > MAX_GROUPS:
        sizes = ", ".join(f"{n!r}: {len(lv)}" for n, lv in zip(names, levels, strict=True))
        raise FairnessInputError(
            f"the sensitive features form {n_groups:,} groups (levels per feature: {sizes}), "
            f"more than the {MAX_GROUPS:,} the engine accepts; a sensitive feature should be "
            "categorical - bin continuous columns or drop identifier-like ones"
        )
    group = codes[0].astype(np.intp, copy=True)
    for c, lv in zip(codes[1:], levels[1:], strict=True):
        group *= len(lv)
        group += c
    return group


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
    group = _group_codes(names, codes, levels)
    n_groups = int(np.prod([len(lv) for lv in levels]))
    cell = group * 4
    if true_pos is not None:
        cell += 2 * true_pos
    cell += pred_pos
    raw = np.bincount(cell, weights=weights, minlength=4 * n_groups).reshape(n_groups, 4)
    raw = raw.astype(np.float64, copy=False)
    counts = np.empty((n_groups, 4))
    counts[:, _CELL_TO_COLUMN] = raw
    if weights is None:
        sizes = raw.sum(axis=1).astype(np.int64)
    else:
        sizes = np.bincount(group, minlength=n_groups).astype(np.int64)
    selected = counts[:, TP] + counts[:, FP]
    weight = counts.sum(axis=1)
    if true_pos is None:
        counts[:] = np.nan
    for arr in (sizes, counts, selected, weight):
        arr.setflags(write=False)
    return Counts(
        groups=tuple(itertools.product(*levels)),
        sizes=sizes,
        counts=counts,
        selected=selected,
        weight=weight,
    )
