"""policy + model + data → :class:`EvaluationResult`. The one place rules are run.

Input problems (a column the policy or model needs is missing, no target, an
unknown positive label, reference data without a column a drift rule compares)
raise :class:`InputError` before any rule runs, so the gate never half-evaluates
bad input. A rule whose check raises is recorded as ERROR with the reason, and
the other rules still run; a rule that cannot be judged on this input (no model,
no labels, no reference data, no champion) is N/A with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike  # one value per row: list, ndarray, Series, Dask Series

from govkit import __version__
from govkit.checks import CheckContext, ComparedModel, NotApplicable, _inputs, get_check
from govkit.checks._inputs import Task
from govkit.exceptions import GovkitError, InputError
from govkit.policy import (
    LoadedPolicy,
    Policy,
    WaiverSpec,
)
from govkit.records import DatasetRecord, ModelRef, ModelVersionRecord
from govkit.results import CheckResult, EvaluationResult, Status, Waiver

__all__ = ["evaluate", "prepare_context", "Champion"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
#: A pandas DataFrame, or a Dask DataFrame (the Dask engine: the rows stay out of memory)
Frame = Any


@dataclass(frozen=True)
class Champion:
    """The champion of a champion_challenger rule: its loaded model, or its recorded output.

    ``record`` (when registered) names it in the evidence and supplies its input columns.
    """

    record: ModelVersionRecord | None = None
    model: Any | None = None
    predictions: ArrayLike | None = None
    scores: ArrayLike | None = None
    label: str | None = None  # how to name it when there is no record
    unavailable: str | None = None  # why there is nothing to compare with (rule is then N/A)
    #: how the registry chose this version for the rule's ``champion`` ("the version in
    #: production", "alias 'shadow'", ...); the rule's message says it
    basis: str | None = None


def _predict(
    model: Any,
    features: pd.DataFrame,
    declared_label: Any,
    *,
    what: str,
    threshold: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None, Any, Task]:
    """(predictions, positive-class scores or None, positive label or None, task).

    With a ``threshold`` (:func:`govkit.checks._inputs.decision_threshold`) the predictions
    are the labels the decision service decides (:func:`govkit.explainers._rule.decide_rows`).
    """
    if threshold is not None:
        return _decide(model, features, declared_label, what=what, threshold=threshold)
    try:
        y_pred = np.asarray(model.predict(features))
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{what} cannot predict on this data: {exc}") from None
    task = _inputs.task_of(model)
    if task == "regression":
        return y_pred, None, None, task
    classes = list(getattr(model, "classes_", np.unique(y_pred)))
    pos_label = _inputs.resolve_pos_label(declared_label, classes, what=f"the classes of {what}")
    scores = None
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(features))
        scores = proba[:, classes.index(pos_label)]
    return y_pred, scores, pos_label, task


def _decide(
    model: Any, features: pd.DataFrame, declared_label: Any, *, what: str, threshold: float
) -> tuple[np.ndarray, np.ndarray | None, Any, Task]:
    from govkit.explainers._rule import decide_rows

    classes = list(model.classes_)  # decision_threshold made sure of classes_, predict_proba
    pos_label = _inputs.resolve_pos_label(declared_label, classes, what=f"the classes of {what}")
    try:
        y_pred, scores = decide_rows(model, features, pos_label=pos_label, threshold=threshold)
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{what} cannot predict on this data: {exc}") from None
    log.info("%s: labels decided at decision.threshold %g of its metadata", what, threshold)
    return y_pred, scores, pos_label, "classification"


def _compared(
    spec: str,
    champion: Champion,
    data: pd.DataFrame,
    *,
    pos_label: Any,
    task: Task,
) -> ComparedModel:
    record = champion.record
    label = str(record.ref) if record else (champion.label or spec)
    if champion.model is not None:
        meta = record.metadata if record else None
        names = _inputs.feature_names_of(champion.model, meta, what=f"champion {label}")
        _inputs.missing_columns(
            data, {c: f"input feature of champion {label}" for c in names}, what="the data"
        )
        declared = pos_label if task == "classification" else None
        threshold = _inputs.decision_threshold(meta, champion.model, what=f"champion {label}")
        y_pred, scores, _, champion_task = _predict(
            champion.model, data[names], declared, what=f"champion {label}", threshold=threshold
        )
        if champion_task != task:
            raise InputError(f"champion {label} is a {champion_task} model; the candidate is not")
    elif champion.predictions is not None:
        threshold = None
        y_pred = np.asarray(champion.predictions)
        scores = None if champion.scores is None else np.asarray(champion.scores, dtype=float)
        if len(y_pred) != len(data):
            raise InputError(
                f"{len(y_pred):,} recorded champion predictions for {len(data):,} rows of data"
            )
    else:
        raise InputError(f"champion {label}: give its model or its recorded predictions")
    return ComparedModel(
        label=label,
        y_pred=y_pred,
        scores=scores,
        record=record,
        decision_threshold=threshold,
        basis=champion.basis,
    )


def prepare_context(
    policy: Policy,
    data: Frame,
    *,
    model: Any | None,
    model_record: ModelVersionRecord | None,
    target: str | None = None,
    training_lineage: Sequence[DatasetRecord] = (),
    evaluation_data: DatasetRecord | None = None,
    data_fingerprint: str | None = None,
    predictions: ArrayLike | None = None,
    scores: ArrayLike | None = None,
    positive_label: Any = None,
    reference_data: pd.DataFrame | None = None,
    reference_record: DatasetRecord | None = None,
    champions: Mapping[str, Champion] | None = None,
    now: datetime | None = None,
) -> CheckContext:
    """Validate the input against the policy and the model, predict, and build the context.

    ``data`` may be a Dask DataFrame (the Dask engine, :mod:`govkit.checks._dask_context`):
    recorded predictions, scores and champion predictions are then columns of it.
    """
    from govkit.fairness import is_dask_collection

    if is_dask_collection(data):
        from govkit.checks._dask_context import prepare_dask_context

        return prepare_dask_context(
            policy,
            data,
            model=model,
            model_record=model_record,
            target=target,
            training_lineage=training_lineage,
            evaluation_data=evaluation_data,
            data_fingerprint=data_fingerprint,
            predictions=predictions,
            scores=scores,
            positive_label=positive_label,
            reference_data=reference_data,
            reference_record=reference_record,
            champions=champions,
            now=now,
        )
    meta = model_record.metadata if model_record else None
    declared_label, target, feature_names = _inputs.resolve_inputs(
        policy, data, meta, model, target=target, positive_label=positive_label
    )
    if data.empty:
        raise InputError("the data has no rows")
    y_true = data[target]
    if y_true.isna().any():
        raise InputError(
            f"target column '{target}' has {int(y_true.isna().sum())} missing value(s); "
            "drop or fill those rows"
        )
    features = data[feature_names] if model is not None else None
    task: Task
    threshold = None
    if model is not None:
        assert features is not None
        threshold = _inputs.decision_threshold(meta, model, what="the model")
        y_pred, scores_, pos_label, task = _predict(
            model, features, declared_label, what="the model", threshold=threshold
        )
    elif predictions is not None:
        y_pred = np.asarray(predictions)
        if len(y_pred) != len(data):
            raise InputError(f"{len(y_pred):,} recorded predictions for {len(data):,} rows of data")
        task = _inputs.recorded_task(y_true, y_pred, declared_label)
        pos_label = None
        if task == "classification":
            observed = sorted(set(pd.unique(y_true)) | set(pd.unique(y_pred)), key=str)
            pos_label = _inputs.resolve_pos_label(
                declared_label, observed, what="the labels", recorded=True
            )
        scores_ = None if scores is None else np.asarray(scores, dtype=float)
    else:
        raise InputError("nothing to evaluate: give a model or its recorded predictions")
    known_features = tuple(feature_names or (meta.feature_names if meta else ()))
    if reference_data is not None:
        default = known_features or tuple(
            c for c in reference_data.columns if c in data.columns and c != target
        )
        _inputs.drift_features(
            policy, data, reference_data, default=default, model_features=feature_names
        )
    compared = {
        spec: _compared(spec, champion, data, pos_label=pos_label, task=task)
        for spec, champion in (champions or {}).items()
        if champion.unavailable is None
    }
    unavailable = {
        spec: champion.unavailable
        for spec, champion in (champions or {}).items()
        if champion.unavailable is not None
    }
    return CheckContext(
        data=data,
        y_true=y_true,
        y_pred=y_pred,
        scores=scores_,
        pos_label=pos_label,
        decision_threshold=threshold,
        model=model,
        features=features,
        model_record=model_record,
        training_lineage=tuple(training_lineage),
        evaluation_data=evaluation_data,
        data_fingerprint=data_fingerprint,
        task=task,
        feature_names=known_features,
        reference_data=reference_data,
        reference_record=reference_record,
        champions=compared,
        champions_unavailable=unavailable,
        now=now,
    )


def evaluate(
    policy: LoadedPolicy | Policy,
    model_record: ModelVersionRecord | None,
    data: Frame,
    *,
    model: Any | None = None,
    target: str | None = None,
    training_lineage: Sequence[DatasetRecord] = (),
    evaluation_data: DatasetRecord | None = None,
    data_fingerprint: str | None = None,
    predictions: ArrayLike | None = None,
    scores: ArrayLike | None = None,
    positive_label: Any = None,
    reference_data: pd.DataFrame | None = None,
    reference_record: DatasetRecord | None = None,
    champions: Mapping[str, Champion] | None = None,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Run every rule of ``policy`` on ``data`` for one model version.

    ``reference_data`` is the training data drift rules compare with (its registry record,
    when verified, names it in the evidence); ``champions`` maps the ``champion`` of each
    champion_challenger rule to that version's model or recorded output. Rules whose input
    is not given are reported as not applicable.

    ``data`` may be a Dask DataFrame (e.g. ``govkit.fairness.read_parquet(path)``): the
    rules then run partition by partition on whatever Dask scheduler is active, the
    recorded ``predictions`` / ``scores`` (and champion predictions) are columns of it,
    and the results equal the in-memory run's (see :mod:`govkit.checks._dask`).
    """
    started = datetime.now(UTC)
    loaded = policy if isinstance(policy, LoadedPolicy) else None
    pol = loaded.policy if loaded else policy
    assert isinstance(pol, Policy)
    ctx = prepare_context(
        pol,
        data,
        model=model,
        model_record=model_record,
        target=target,
        training_lineage=training_lineage,
        evaluation_data=evaluation_data,
        data_fingerprint=data_fingerprint,
        predictions=predictions,
        scores=scores,
        positive_label=positive_label,
        reference_data=reference_data,
        reference_record=reference_record,
        champions=champions,
        now=started,
    )
    results = []
    today = started.date()
    for rule in pol.rules:
        if progress:
            progress(rule.id)
        result = _run_rule(rule, ctx)
        results.append(_apply_waivers(result, pol.waivers, model_record, today))
    if loaded is not None:
        digest, source = loaded.digest, loaded.source
    else:
        import hashlib

        digest = "sha256:" + hashlib.sha256(pol.model_dump_json().encode()).hexdigest()
        source = None
    return EvaluationResult(
        policy_name=pol.name,
        policy_path=source,
        policy_digest=digest,
        model=model_record.ref if model_record else ModelRef(name="unregistered"),
        data_fingerprint=data_fingerprint,
        n_rows=ctx.dask.n_rows if ctx.dask is not None else len(data),
        started_at=started,
        finished_at=datetime.now(UTC),
        govkit_version=__version__,
        checks=tuple(results),
        decision_threshold=ctx.decision_threshold,
    )


def _apply_waivers(
    result: CheckResult,
    waivers: Sequence[WaiverSpec],
    model: ModelVersionRecord | None,
    today: date,
) -> CheckResult:
    """A FAIL or WARN covered by an unexpired waiver becomes WAIVED; an expired one is named."""
    if result.status not in (Status.FAIL, Status.WARN) or model is None:
        return result
    matching = [
        w for w in waivers if w.rule == result.rule_id and w.covers(model.name, model.version)
    ]
    valid = [w for w in matching if today <= w.expires]
    if valid:
        w = max(valid, key=lambda w: w.expires)
        return result.model_copy(
            update={
                "status": Status.WAIVED,
                "unmet_status": result.status,
                "waiver": Waiver(
                    rule_id=w.rule,
                    model=w.model,
                    justification=w.justification,
                    approver=w.approver,
                    expires=w.expires,
                ),
                "message": f"{result.message} — waived by {w.approver} until {w.expires}",
            }
        )
    if matching:
        w = max(matching, key=lambda w: w.expires)
        return result.model_copy(
            update={
                "message": f"{result.message} (a waiver by {w.approver} expired on {w.expires} "
                "and no longer applies)"
            }
        )
    return result


def _not_applicable(spec: Any, rule: Any, ctx: CheckContext) -> str | None:
    """Why the rule cannot be judged on this input, or None."""
    if spec.needs_model and ctx.model is None:
        return "needs the model itself; only recorded predictions were given"
    if spec.needs_labels and ctx.y_true is None:
        return "needs true labels (a target column)"
    if spec.needs_reference and ctx.reference_data is None:
        return (
            "needs reference data to compare with: pass --reference-data PATH (the model's "
            "registered training data)"
        )
    if spec.needs_champion and rule.champion not in ctx.champions:
        if rule.champion in ctx.champions_unavailable:
            return ctx.champions_unavailable[rule.champion]
        if ctx.model is None:
            return (
                f"needs the output of champion {rule.champion} on the same rows: with recorded "
                "predictions, pass --champion-prediction-column COL"
            )
        return f"needs champion {rule.champion}: its model was not given"
    return None


def _run_rule(rule: Any, ctx: CheckContext) -> CheckResult:
    spec = get_check(rule.check_id)
    base = dict(
        rule_id=rule.id,
        check_id=spec.check_id,
        kind=spec.kind,
        severity=rule.severity,
        description=rule.description,
        bound=rule.bound,
    )
    reason = _not_applicable(spec, rule, ctx)
    if reason:
        return CheckResult(**base, status=Status.NOT_APPLICABLE, message=reason)
    try:
        measured = spec.fn(rule, ctx)
    except NotApplicable as exc:
        return CheckResult(**base, status=Status.NOT_APPLICABLE, message=str(exc))
    except GovkitError as exc:
        return CheckResult(**base, status=Status.ERROR, message=str(exc))
    except Exception as exc:  # a crashing check is an ERROR result, not a crashed run
        log.exception("check %s of rule %s raised", spec.check_id, rule.id)
        return CheckResult(
            **base, status=Status.ERROR, message=f"check raised {type(exc).__name__}: {exc}"
        )
    if measured.passed:
        status = Status.PASS
    else:
        status = Status.FAIL if rule.severity == "error" else Status.WARN
    return CheckResult(
        **base,
        status=status,
        value=measured.value,
        message=measured.message,
        evidence=measured.evidence,
        interval=measured.interval,
    )
