"""Input checks shared by the in-memory and the Dask evaluation: columns, task, labels.

Each raises :class:`~govkit.exceptions.InputError` naming what is missing or ambiguous,
before any rule runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from govkit.data import csv_lines
from govkit.exceptions import InputError
from govkit.policy import (
    ChampionChallengerRule,
    DriftRule,
    ExplanationRule,
    FairnessRule,
    PerformanceRule,
    Policy,
)
from govkit.records import ModelMetadata

__all__ = [
    "Task",
    "resolve_pos_label",
    "feature_names_of",
    "task_of",
    "decision_threshold",
    "recorded_task",
    "needed_columns",
    "group_columns",
    "refuse_empty_groups",
    "missing_columns",
    "drift_features",
]

log = logging.getLogger(__name__)

Task = Literal["classification", "regression"]


def resolve_pos_label(
    pos_label: Any, observed: Sequence[Any], *, what: str, recorded: bool = False
) -> Any:
    """The favourable label: ``pos_label`` matched to ``observed`` (sorted by text), or,
    when none is declared, scikit-learn's convention for a model's two classes (the
    second). ``recorded`` (labels read from data, no model's ``classes_``): the second of
    two labels only for 0/1 and false/true; any other pair ("approved", "denied") must
    be named, since sorting them says nothing about which is favourable."""
    if pos_label is None:
        if recorded and len(observed) == 2 and not _zero_one(observed):
            raise InputError(
                f"cannot tell which of {what} is the favourable outcome: "
                f"{_shown(observed)}; pass --positive-label (or set "
                "positive_label in the model metadata)"
            )
        if len(observed) != 2:
            raise InputError(
                f"cannot tell the positive label: {what} has {len(observed)} distinct values "
                f"({_shown(observed)}); set positive_label in the model metadata"
            )
        log.info(
            "no positive_label in the metadata; using %r (the second of %s)", observed[1], what
        )
        return observed[1]  # scikit-learn's convention for binary classifiers
    if pos_label in list(observed):
        return pos_label
    # YAML gives "1" where the labels are 1 (or the reverse): match by text, if unambiguous
    same = [v for v in observed if str(v) == str(pos_label)]
    if len(same) == 1:
        return same[0]
    raise InputError(
        f"positive label {_plain(pos_label)!r} does not occur in {what}; found {_shown(observed)}"
    )


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (0, not np.int64(0))."""
    return value.item() if isinstance(value, np.generic) else value


def _shown(values: Sequence[Any]) -> str:
    """The first ten labels for a message, as plain values: '0, 1' or "'no', 'yes'"."""
    return ", ".join(repr(_plain(v)) for v in list(values)[:10])


def _zero_one(labels: Sequence[Any]) -> bool:
    """Whether two labels are 0 and 1 (numbers or booleans), where 1 is the positive one."""
    try:
        return sorted(float(v) for v in labels) == [0.0, 1.0] and not any(
            isinstance(v, str) for v in labels
        )
    except (TypeError, ValueError):
        return False


def feature_names_of(model: Any, meta: ModelMetadata | None, *, what: str) -> list[str]:
    names = list(meta.feature_names if meta and meta.feature_names else ())
    if not names:
        names = [str(c) for c in getattr(model, "feature_names_in_", ())]
    if not names:
        raise InputError(
            f"{what} does not record its input columns; list them as feature_names "
            "in the model metadata"
        )
    return names


def task_of(model: Any) -> Task:
    """A regressor is what scikit-learn calls one (also through a Pipeline); else classifier."""
    from sklearn.base import is_regressor

    try:
        return "regression" if is_regressor(model) else "classification"
    except (AttributeError, TypeError):  # not a scikit-learn-compatible estimator
        return "classification" if hasattr(model, "classes_") else "regression"


def decision_threshold(meta: ModelMetadata | None, model: Any, *, what: str) -> float | None:
    """The threshold the decision service decides a classifier's labels at, or None.

    A model whose metadata has a ``decision`` block is deployed with that decision rule
    (the positive class's probability at or above ``decision.threshold``), so the gate
    judges the labels of that rule, not ``model.predict()``'s.

    Raises:
        InputError: a decision block on a classifier that gives no class probabilities.
    """
    if meta is None or meta.decision is None or task_of(model) != "classification":
        return None
    threshold = meta.decision.threshold
    if not list(getattr(model, "classes_", ())) or not hasattr(model, "predict_proba"):
        raise InputError(
            f"the metadata of {what} declares decision.threshold {threshold:g}, and "
            f"{type(model).__name__} gives no class probabilities (predict_proba and "
            "classes_) to decide with; remove the decision block or register a model "
            "that scores"
        )
    return threshold


def recorded_task(y_true: pd.Series, y_pred: np.ndarray, declared_label: Any) -> Task:
    """Recorded numeric outcomes and predictions with more than two values are a regression."""
    if declared_label is not None:
        return "classification"
    numeric = (
        pd.api.types.is_numeric_dtype(y_true)
        and not pd.api.types.is_bool_dtype(y_true)
        and np.issubdtype(y_pred.dtype, np.number)
    )
    if numeric and len(set(pd.unique(y_true)) | set(pd.unique(y_pred))) > 2:
        return "regression"
    return "classification"


def needed_columns(policy: Policy, target: str, feature_names: Sequence[str]) -> dict[str, str]:
    needed = group_columns(policy)
    needed.setdefault(target, "target column")
    for col in feature_names:
        needed.setdefault(col, "model input feature")
    return needed


def group_columns(policy: Policy) -> dict[str, str]:
    """The columns that split the data into groups (sensitive features, 'by'), and what for."""
    needed: dict[str, str] = {}
    for rule in policy.rules:
        cols: list[str] = []
        if isinstance(rule, FairnessRule):
            cols = list(rule.sensitive_features)
            what = "sensitive feature"
        elif isinstance(rule, PerformanceRule):
            cols, what = list(rule.by), "group column ('by')"
        elif isinstance(rule, ExplanationRule) and rule.metric == "proxy_not_in_top_k":
            cols, what = list(rule.sensitive_features), "sensitive feature"
        elif isinstance(rule, ChampionChallengerRule):
            cols = [c for gap in rule.fairness for c in gap.sensitive_features]
            what = "sensitive feature"
        for col in cols:
            needed.setdefault(col, f"{what} of rule '{rule.id}'")
    return needed


def refuse_empty_groups(frame: pd.DataFrame, policy: Policy, *, source: Path | None) -> None:
    """InputError naming the first empty cell of a group column: FILE:LINE when ``source``
    is a plain CSV file, else the data row (counting from 1).

    A person whose group is unknown cannot be counted in any group; fairlearn's
    MetricFrame refuses missing sensitive values too (fairlearn#1155, #1698), and guessing
    a group ('treat empty as its own group') would let a gate pass on data it never
    judged. Columns the data lacks are left to :func:`missing_columns`.
    """
    for column, why in group_columns(policy).items():
        if column not in frame.columns:
            continue
        empty = [int(i) for i in np.flatnonzero(pd.isna(frame[column]).to_numpy())]
        if not len(empty):
            continue
        lines = csv_lines(source, empty[:5]) if source is not None else None
        if lines is not None:
            where = f"{source}:{lines[0]}"
            rows = f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}"
        else:
            where = str(source) if source is not None else "the data"
            shown = [str(i + 1) for i in empty[:5]]
            rows = f"data row{'s' if len(shown) > 1 else ''} {', '.join(shown)}, counting from 1"
        more = f" and {len(empty) - 5:,} more" if len(empty) > 5 else ""
        raise InputError(
            f"{where}: column '{column}' ({why}) is empty in {len(empty):,} "
            f"row{'s' if len(empty) > 1 else ''} ({rows}{more}); every row needs a group: "
            "drop those rows or fill them with an explicit level such as 'Unknown' "
            "(fairlearn refuses missing sensitive values too)"
        )


def missing_columns(frame: pd.DataFrame, needed: Mapping[str, str], *, what: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        details = "; ".join(f"'{c}' ({needed[c]})" for c in missing)
        raise InputError(
            f"{what} lacks {len(missing)} column(s) it needs: {details}. "
            f"Columns found: {', '.join(map(str, frame.columns[:30]))}"
        )


def resolve_inputs(
    policy: Policy,
    frame: Any,
    meta: ModelMetadata | None,
    model: Any,
    *,
    target: str | None,
    positive_label: Any,
) -> tuple[Any, str, list[str]]:
    """(declared positive label, target column, model features), with the columns checked.

    ``frame`` is the data (or, out of core, anything with the data's ``columns``).
    """
    declared = (
        positive_label if positive_label is not None else (meta.positive_label if meta else None)
    )
    target = target or (meta.target if meta else None)
    if target is None:
        raise InputError(
            "no target column: pass --target COLUMN or set 'target' in the model metadata"
        )
    feature_names: list[str] = []
    if model is not None:
        feature_names = feature_names_of(model, meta, what="the model")
    missing_columns(frame, needed_columns(policy, target, feature_names), what="the data")
    return declared, target, feature_names


def drift_features(
    policy: Policy,
    data: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    default: Sequence[str],
    model_features: Sequence[str],
) -> None:
    """Every column a drift rule compares must be in both the data and the reference."""
    needed: dict[str, str] = {}
    for rule in policy.rules:
        if not isinstance(rule, DriftRule):
            continue
        if rule.scope == "prediction":
            cols, what = list(model_features), "model input, to score the reference"
        else:
            cols, what = list(rule.features) or list(default), "compared for drift"
        for col in cols:
            needed.setdefault(col, f"{what} by rule '{rule.id}'")
    missing_columns(reference, needed, what="the reference data")
    missing_columns(data, needed, what="the data")
