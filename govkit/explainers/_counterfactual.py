"""Counterfactuals: the smallest change to what a person can act on that flips the decision.

Which features may change: those the metadata declares ``actionable``, never one that
is ``immutable`` or listed in ``sensitive_features`` (proposing that someone change
their sex, age or origin is neither actionable nor lawful advice), and only to values
the metadata allows:

* numbers (kinds number, integer, money, percent, years, count): the grid ``min``,
  ``min + step``, ... up to ``max`` (``step`` defaults to 1 for integer, count and
  years features and integer columns, else a hundredth of the range; integer and count
  features and integer columns take whole values); a feature without both ``min`` and
  ``max`` is not searched. A grid longer than ``max_candidates`` is coarsened to a
  multiple of ``step``.
* categories: the declared ``values``; booleans: the other value.

Distance: for a number ``|new - current| / (max - min)``, for a category or boolean 1;
a change of two features costs the sum.

The search is bounded by ``budget`` model calls and is exhaustive within it:

1. single-feature changes: for each feature, every candidate value is scored in one
   batch call; the flipping change of least distance wins (ties: column order, then
   the smaller value). A single change is preferred to any pair -- one thing to act on.
2. only when no single change flips: pairs of features, most promising first (how far
   each feature alone moved the score towards the threshold), each pair's candidates
   on a grid of at most ``pair_grid`` values per feature scored in one call; pairs
   that cannot beat the best found so far are skipped without a call.

When nothing flips within the bounds and the budget, the answer says so
("None found within bounds") with what was searched; it never invents a change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from govkit.decisions import Counterfactual, FeatureChange
from govkit.explainers._reasons import FeatureText, Formatter, json_scalar, numeric_kind
from govkit.explainers._rule import is_positive

__all__ = ["search_counterfactual", "searchable", "DEFAULT_BUDGET"]

DEFAULT_BUDGET = 64  # model calls
MAX_CANDIDATES = 1000  # values of one feature scored in one call
PAIR_GRID = 16  # values per feature when two change together

Scorer = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class _Grid:
    column: int
    values: tuple[Any, ...]  # candidate values, in the column's type
    distance: np.ndarray  # normalised distance of each from the current value
    summary: tuple[str, int] | tuple[str, float, float]  # ("values", count), ("range", min, max)


def searchable(feature: FeatureText, sensitive: frozenset[str]) -> bool:
    """May the counterfactual search change this feature at all?"""
    spec = feature.spec
    return spec.actionable and not spec.immutable and feature.name not in sensitive


def _grid(feature: FeatureText, column: int, current: Any, dtype: Any) -> _Grid | None:
    spec = feature.spec
    if spec.kind == "boolean" or pd.api.types.is_bool_dtype(dtype):
        if current is None:
            return None
        flipped = not bool(current)
        value = flipped if isinstance(current, bool) else type(current)(flipped)
        return _Grid(column, (value,), np.ones(1), ("values", 2))
    if spec.kind == "category" or not numeric_kind(spec) or not _numeric_dtype(dtype):
        allowed = list(spec.values)
        if isinstance(dtype, pd.CategoricalDtype):  # a category the model never saw: skip it
            allowed = [v for v in allowed if v in dtype.categories]
        options = tuple(v for v in allowed if v != current)
        if not options:
            return None
        return _Grid(column, options, np.ones(len(options)), ("values", len(allowed)))
    if spec.min is None or spec.max is None or current is None or spec.max < spec.min:
        return None
    whole = spec.kind in ("integer", "count") or pd.api.types.is_integer_dtype(dtype)
    span = spec.max - spec.min
    step = spec.step or (1.0 if whole or spec.kind == "years" else span / 100 or 1.0)
    count = int(math.floor(span / step + 1e-9)) + 1
    if count > MAX_CANDIDATES:
        step *= math.ceil(count / MAX_CANDIDATES)
        count = int(math.floor(span / step + 1e-9)) + 1
    grid = np.round(spec.min + step * np.arange(count), 10)
    if whole:
        grid = np.unique(np.round(grid))
    grid = grid[~np.isclose(grid, float(current), rtol=0, atol=1e-12)]
    if grid.size == 0:
        return None
    distance = np.abs(grid - float(current)) / (span or 1.0)
    values = tuple(int(v) for v in grid) if whole else tuple(float(v) for v in grid)
    return _Grid(column, values, distance, ("range", spec.min, spec.max))


def _numeric_dtype(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _batch(row: pd.DataFrame, changes: Mapping[int, Sequence[Any]], n: int) -> pd.DataFrame:
    """``n`` copies of ``row`` with ``changes[j]`` (n values) in column ``j``; dtypes kept."""
    data: dict[Any, Any] = {}
    for j, name in enumerate(row.columns):
        if j in changes:
            data[name] = np.asarray(changes[j], dtype=object)
        else:
            data[name] = np.repeat(row.iloc[:, j].to_numpy(), n)
    return pd.DataFrame(data, columns=row.columns).astype(row.dtypes.to_dict())


def search_counterfactual(
    row: pd.DataFrame,
    features: Sequence[FeatureText],
    *,
    sensitive: frozenset[str],
    score: Scorer,
    threshold: float,
    current_score: float,
    other_outcome: str,
    fmt: Formatter,
    budget: int = DEFAULT_BUDGET,
    pair_grid: int = PAIR_GRID,
) -> Counterfactual:
    """The smallest flipping change to the searchable features of a 1-row frame ``row``."""
    positive = bool(is_positive(current_score, threshold))
    grids: list[_Grid] = []
    for j, feature in enumerate(features):
        if searchable(feature, sensitive):
            current_value = json_scalar(row.iat[0, j])
            grid = _grid(feature, j, current_value, row.dtypes.iloc[j])
            if grid is not None:
                grids.append(grid)
    if not grids:
        return Counterfactual(
            found=False,
            text=fmt.text("counterfactual_no_features"),
            searched=fmt.catalog["searched_nothing"],
            evaluations=0,
        )

    calls = 0
    truncated = False
    best: tuple[float, dict[int, Any], float] | None = None  # (distance, changes, score)
    progress: dict[int, float] = {}
    for grid in grids:  # 1. one feature at a time
        if calls >= budget:
            truncated = True
            break
        scores = score(_batch(row, {grid.column: grid.values}, len(grid.values)))
        calls += 1
        towards = (current_score - scores) if positive else (scores - current_score)
        progress[grid.column] = float(np.max(towards))
        flips = np.flatnonzero(is_positive(scores, threshold) != positive)
        if flips.size:
            i = int(flips[np.argmin(grid.distance[flips])])  # first of the smallest
            if best is None or grid.distance[i] < best[0]:
                best = (float(grid.distance[i]), {grid.column: grid.values[i]}, float(scores[i]))

    if best is None and not truncated:  # 2. two features at a time
        by_column = {g.column: g for g in grids if g.column in progress}
        pairs = sorted(
            combinations(sorted(by_column), 2),
            key=lambda p: -(progress[p[0]] + progress[p[1]]),
        )
        for a, b in pairs:
            ga, gb = _coarse(by_column[a], pair_grid), _coarse(by_column[b], pair_grid)
            if best is not None and ga.distance.min() + gb.distance.min() >= best[0]:
                continue
            if calls >= budget:
                truncated = True
                break
            ia, ib = (
                m.ravel()
                for m in np.meshgrid(
                    np.arange(len(ga.values)), np.arange(len(gb.values)), indexing="ij"
                )
            )
            pair_changes = {a: [ga.values[i] for i in ia], b: [gb.values[i] for i in ib]}
            scores = score(_batch(row, pair_changes, len(ia)))
            calls += 1
            flips = np.flatnonzero(is_positive(scores, threshold) != positive)
            if flips.size:
                distance = ga.distance[ia] + gb.distance[ib]
                i = int(flips[np.argmin(distance[flips])])
                if best is None or distance[i] < best[0]:
                    change = {a: ga.values[ia[i]], b: gb.values[ib[i]]}
                    best = (float(distance[i]), change, float(scores[i]))

    searched = _searched(grids, features, fmt, calls, budget if truncated else None)
    if best is None:
        labels = fmt.join([fmt.label(features[g.column]) for g in grids])
        return Counterfactual(
            found=False,
            text=fmt.text("counterfactual_none", features=labels),
            searched=searched,
            evaluations=calls,
        )
    changes = []
    for j, proposed in sorted(best[1].items()):
        feature, current = features[j], row.iat[0, j]
        changes.append(
            FeatureChange(
                feature=feature.name,
                label=fmt.label(feature),
                current=json_scalar(current),
                proposed=json_scalar(proposed),
                display_current=fmt.value(feature, current),
                display_proposed=fmt.value(feature, proposed),
            )
        )
    phrase = fmt.catalog["counterfactual_change"]
    described = fmt.catalog["counterfactual_and"].join(
        phrase.format(label=c.label, proposed=c.display_proposed, current=c.display_current)
        for c in changes
    )
    return Counterfactual(
        found=True,
        changes=tuple(changes),
        score=best[2],
        text=fmt.text("counterfactual_found", changes=described, outcome=other_outcome),
        searched=searched,
        evaluations=calls,
    )


def _coarse(grid: _Grid, size: int) -> _Grid:
    """At most ``size`` of the grid's values, spread over it (both ends kept)."""
    if len(grid.values) <= size:
        return grid
    keep = np.unique(np.linspace(0, len(grid.values) - 1, size).round().astype(int))
    return _Grid(
        grid.column, tuple(grid.values[i] for i in keep), grid.distance[keep], grid.summary
    )


def _searched(
    grids: Sequence[_Grid],
    features: Sequence[FeatureText],
    fmt: Formatter,
    calls: int,
    budget: int | None,
) -> str:
    parts = []
    for grid in grids:
        feature = features[grid.column]
        label = fmt.label(feature)
        if grid.summary[0] == "range":
            low, high = (fmt.value(feature, v) for v in grid.summary[1:])
            parts.append(fmt.catalog["searched_range"].format(label=label, min=low, max=high))
        else:
            count = str(grid.summary[1])
            parts.append(fmt.catalog["searched_values"].format(label=label, count=count))
    text = fmt.catalog["searched_summary"].format(features=fmt.join(parts), calls=calls)
    if budget is not None:
        text += fmt.catalog["searched_budget"].format(budget=budget)
    return text
