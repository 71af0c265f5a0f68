"""The decision rule of a deployed model: its score against ``DecisionSpec.threshold``.

A classifier's score is the probability of its positive class; a score at or above the
threshold is a positive decision (the positive label), a lower one decides the most
probable other class. This module is the one definition of that rule. The decision
service (:class:`~govkit.explainers.DecisionExplainer`, its counterfactual search) decides
with it, and the gate (:func:`govkit.evaluate.evaluate`, in memory and on Dask) judges a
model whose metadata declares a ``decision`` block by it, so the rule a policy run
certifies is the rule that decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["is_positive", "other_labels", "decide", "decide_rows"]


def is_positive(score: ArrayLike, threshold: float) -> Any:
    """Whether each score is a positive decision: at or above ``threshold``."""
    return np.greater_equal(score, threshold)


def other_labels(proba: ArrayLike, index: int, classes: Sequence[Any] | np.ndarray) -> np.ndarray:
    """The label decided below the threshold, per row: the most probable class but ``index``.

    ``proba`` has one row per decision and one column per class of ``classes``.
    """
    others = np.array(proba, dtype=np.float64)
    others[:, index] = -np.inf
    labels: np.ndarray = np.asarray(classes)[np.argmax(others, axis=1)]
    return labels


def decide(
    proba: ArrayLike, *, classes: Sequence[Any] | np.ndarray, index: int, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(decided labels, positive-class scores) of rows of class probabilities ``proba``."""
    proba = np.asarray(proba, dtype=np.float64)
    scores = proba[:, index]
    labels = np.where(
        is_positive(scores, threshold),
        np.asarray(classes)[index],
        other_labels(proba, index, classes),
    )
    return labels, scores


def decide_rows(
    model: Any, rows: Any, *, pos_label: Any, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(decided labels, positive-class scores) of ``model`` on ``rows``, as the service decides.

    The model must be a classifier with ``classes_`` and ``predict_proba``; whatever the
    model raises on these rows propagates (the caller says which rows they were).
    """
    classes = np.asarray(model.classes_)  # decided labels keep the type of model.predict's
    return decide(
        model.predict_proba(rows),
        classes=classes,
        index=list(classes).index(pos_label),
        threshold=threshold,
    )
