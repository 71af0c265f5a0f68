"""The check registry: every check under a stable id, with what it needs to run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from govkit.exceptions import GovkitError
from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.results import Evidence, Interval

if TYPE_CHECKING:
    from govkit.checks._dask import DaskData

__all__ = [
    "CheckContext",
    "ComparedModel",
    "Measured",
    "CheckSpec",
    "NotApplicable",
    "register",
    "get_check",
    "all_checks",
]


class NotApplicable(GovkitError):
    """Raised by a check when the rule cannot be judged on this input (reported as N/A)."""


@dataclass(frozen=True)
class ComparedModel:
    """Another model version's output on the same rows (the champion of a comparison)."""

    label: str  # NAME@VERSION, or a description when only its predictions were given
    y_pred: np.ndarray
    scores: np.ndarray | None
    record: ModelVersionRecord | None = None
    # Dask engine: the columns of ctx.dask.frame holding its predictions and scores
    columns: tuple[str, str | None] | None = None
    #: the decision threshold its labels were decided at (its metadata's ``decision``)
    decision_threshold: float | None = None
    #: how the registry chose this version ("the version in production", ...), if it did
    basis: str | None = None


@dataclass
class CheckContext:
    """Everything a check may read. Built once per evaluation by :func:`govkit.evaluate`."""

    data: pd.DataFrame
    y_true: pd.Series | None
    y_pred: np.ndarray
    scores: np.ndarray | None  # positive-class probability, when the model gives one
    pos_label: Any  # None for a regressor
    #: the metadata's decision threshold the model's labels were decided at (score >= it,
    #: as the decision service decides; govkit.explainers._rule); None: model.predict()
    decision_threshold: float | None = None
    model: Any | None = None  # the loaded estimator; None when auditing recorded predictions
    features: pd.DataFrame | None = None  # the model's input columns
    model_record: ModelVersionRecord | None = None
    training_lineage: tuple[DatasetRecord, ...] = ()  # training dataset, then its ancestors
    evaluation_data: DatasetRecord | None = None
    data_fingerprint: str | None = None
    task: Literal["classification", "regression"] = "classification"
    feature_names: tuple[str, ...] = ()  # the model's input columns, when known
    reference_data: pd.DataFrame | None = None  # the training data, for drift
    reference_record: DatasetRecord | None = None  # its registry record, when verified
    champions: dict[str, ComparedModel] = field(default_factory=dict)  # by rule.champion
    champions_unavailable: dict[str, str] = field(default_factory=dict)  # champion -> why
    now: datetime | None = None  # when the evaluation started (UTC)
    cache: dict[Any, Any] = field(default_factory=dict)  # shared work between rules of a run
    # Dask engine (govkit.checks._dask.DaskData): the rows stay out of memory; ``data``,
    # ``y_true`` and ``features`` are then empty frames with the columns and types only
    dask: DaskData | None = None


@dataclass(frozen=True)
class Measured:
    """What a check function returns; evaluate() turns it into a CheckResult."""

    value: float | None
    passed: bool
    message: str
    evidence: Evidence | None = None
    interval: Interval | None = None


CheckFn = Callable[[Any, CheckContext], Measured]
#: (rule, context) -> the Dask aggregates the check will ask for, keyed as it asks
PlanFn = Callable[[Any, CheckContext], dict[Any, Any]]


@dataclass(frozen=True)
class CheckSpec:
    check_id: str
    kind: str
    summary: str
    parameters: tuple[str, ...]
    needs_model: bool
    needs_labels: bool
    fn: CheckFn
    needs_reference: bool = False  # the training data as reference (--reference-data)
    needs_champion: bool = False  # the champion's output on the same rows
    dask_plan: PlanFn | None = None  # what to read in the evaluation's first Dask pass


_REGISTRY: dict[str, CheckSpec] = {}


def register(
    check_id: str,
    *,
    summary: str,
    parameters: tuple[str, ...],
    needs_model: bool = False,
    needs_labels: bool = False,
    needs_reference: bool = False,
    needs_champion: bool = False,
    dask_plan: PlanFn | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as the implementation of ``check_id`` (e.g. ``performance.accuracy``)."""

    def deco(fn: CheckFn) -> CheckFn:
        if check_id in _REGISTRY:
            raise GovkitError(f"check id {check_id!r} registered twice")
        kind = check_id.split(".", 1)[0]
        _REGISTRY[check_id] = CheckSpec(
            check_id,
            kind,
            summary,
            parameters,
            needs_model,
            needs_labels,
            fn,
            needs_reference=needs_reference,
            needs_champion=needs_champion,
            dask_plan=dask_plan,
        )
        return fn

    return deco


def get_check(check_id: str) -> CheckSpec:
    _load_all()
    return _REGISTRY[check_id]


def all_checks() -> dict[str, CheckSpec]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def _load_all() -> None:
    # importing the rule-family modules registers their checks
    from govkit.checks import (  # noqa: F401
        champion,
        documentation,
        drift,
        explanation,
        fairness,
        lineage,
        performance,
    )
