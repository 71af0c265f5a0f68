"""The categories a model's encoders learned, per original input column.

A scikit-learn encoder fitted with ``handle_unknown="ignore"`` (one-hot) or
``"use_encoded_value"`` (ordinal) turns a category it never saw into all zeros or a
fixed code: the model then scores a person as if the field were blank, and the
explanation adds up, so nothing says it is wrong. The decision service refuses such a
value instead; this module finds what the encoders accept.

Only encoders that read an input column as given count: the column reaches them
through ColumnTransformer blocks, nested Pipelines, ``passthrough`` and SimpleImputer
(whose missing-value marker is then accepted too). After any other step the values are
no longer the person's, and nothing is checked from there on. When one column reaches
several encoders, a value must be known to all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from govkit.explainers._columns import Unmappable, _resolve_columns, output_owners

__all__ = ["known_categories"]

Category = str | int | float | bool
_NOT_RAW = -1  # an input position whose values are no longer a person's


def known_categories(steps: Sequence[Any], names: Sequence[str]) -> dict[str, tuple[Category, ...]]:
    """Input column -> the categories every encoder reading it learned, in their order.

    ``steps`` are the fitted preprocessing steps of a pipeline (its final estimator
    excluded), ``names`` the model's input columns. Columns no encoder reads as given
    are left out: anything is accepted there.
    """
    found: dict[int, list[Category]] = {}
    extras: dict[int, set[Category]] = {}
    _walk_steps(list(steps), np.arange(len(names)), found, extras)
    out: dict[str, tuple[Category, ...]] = {}
    for index, categories in found.items():
        accepted = [*categories, *sorted(extras.get(index, set()) - set(categories), key=str)]
        out[names[index]] = tuple(accepted)
    return out


def _walk_steps(
    steps: list[Any],
    inputs: np.ndarray,
    found: dict[int, list[Category]],
    extras: dict[int, set[Category]],
) -> None:
    from sklearn.impute import SimpleImputer

    for step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        _walk(step, inputs, found, extras)
        if type(step) is not SimpleImputer or step.add_indicator:
            return  # the next steps see transformed values
        marker = _category(step.missing_values)
        if marker is not None:
            for index in inputs[inputs >= 0]:
                extras.setdefault(int(index), set()).add(marker)
        try:
            inputs = inputs[output_owners(step, len(inputs), None)]
        except Unmappable:
            return


def _walk(
    transformer: Any,
    inputs: np.ndarray,
    found: dict[int, list[Category]],
    extras: dict[int, set[Category]],
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if len(inputs) == 0 or (inputs < 0).all():
        return
    kind = type(transformer)
    if kind is Pipeline:
        _walk_steps([step for _, step in transformer.steps], inputs, found, extras)
    elif kind is ColumnTransformer:
        names_in = getattr(transformer, "feature_names_in_", None)
        for _, block, columns in transformer.transformers_:
            try:
                selected = _resolve_columns(columns, names_in, len(inputs))
            except Unmappable:
                continue
            _walk(block, inputs[selected], found, extras)
    elif kind in (OneHotEncoder, OrdinalEncoder):
        for position, categories in enumerate(transformer.categories_):
            index = int(inputs[position])
            if index == _NOT_RAW:
                continue
            learned = [c for c in map(_category, categories) if c is not None]
            if index in found:  # a second encoder reads it: known to both
                found[index] = [c for c in found[index] if c in learned]
            else:
                found[index] = learned


def _category(value: Any) -> Category | None:
    """A learned category as a JSON scalar; None for a missing-value marker (NaN, None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and not math.isnan(value):
        return value
    return None
