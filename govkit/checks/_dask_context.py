"""The check context of a Dask DataFrame: validated, predicted per partition, pre-aggregated.

:func:`prepare_dask_context` does what :func:`govkit.evaluate.prepare_context` does for
rows in memory, without loading them:

1. the columns the policy and the model need are checked on the frame's schema;
2. one read of the target column counts the rows of every partition and the target's
   missing values (and, auditing recorded predictions, their distinct labels);
3. the candidate's (and every champion's) predictions and positive-class scores become
   columns computed per partition by ``predict_partitions`` (the model is sent to each
   worker once);
4. the aggregates every rule will ask for (group tables, count tables, drift counts) are
   computed in one more read, each partition predicted once. A model that cannot predict
   on the data is an input error here, before any rule runs, as in memory.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from govkit._optional import import_optional
from govkit.checks import _dask, _inputs
from govkit.checks._dask import PREDICTION, SCORE, DaskData, Where
from govkit.checks._registry import CheckContext, ComparedModel, get_check
from govkit.exceptions import EvaluationError, InputError
from govkit.policy import Policy
from govkit.records import DatasetRecord, ModelVersionRecord

__all__ = ["prepare_dask_context", "RESERVED_PREFIX"]

log = logging.getLogger(__name__)

RESERVED_PREFIX = "__govkit_"
_DISTINCT = 1_000  # distinct labels kept per column to tell a classifier's labels
_FEATURE = "The Dask engine (engine='dask')"


def _facts(
    part: pd.DataFrame, where: Where, target: Hashable, prediction: Hashable | None
) -> tuple[int, int, list[Any], list[Any]]:
    """(rows, missing targets, some distinct targets, some distinct predictions)."""
    y = part[target]
    true = list(pd.unique(y.dropna())[:_DISTINCT]) if prediction is not None else []
    pred = list(pd.unique(part[prediction])[:_DISTINCT]) if prediction is not None else []
    return len(part), int(y.isna().sum()), true, pred


def _read_facts(
    frame: Any, target: str, prediction: str | None
) -> tuple[np.ndarray, int, list[Any], list[Any]]:
    columns = [target] if prediction is None or prediction == target else [target, prediction]
    try:
        facts = _dask.collect(frame, columns, _facts, target, prediction)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"cannot read the data: {exc}") from None
    sizes = np.array([f[0] for f in facts], dtype=np.int64)
    true = list(dict.fromkeys(v for f in facts for v in f[2]))[: _DISTINCT + 1]
    pred = list(dict.fromkeys(v for f in facts for v in f[3]))[: _DISTINCT + 1]
    return sizes, int(sum(f[1] for f in facts)), true, pred


def _dask_series(values: Any, what: str) -> Any:
    if values is not None and not _dask.is_dask_series(values):
        raise InputError(
            f"with a Dask DataFrame, give {what} as a column of it (a Dask Series), e.g. "
            "data['prediction']; got " + type(values).__name__
        )
    return values


def _model_output(
    model: Any,
    data: Any,
    names: Sequence[str],
    declared: Any,
    *,
    what: str,
    columns: tuple[str, str],
    threshold: float | None = None,
) -> tuple[dict[str, Any], Any, _inputs.Task, bool]:
    """({column: lazy output}, positive label, task, has scores) of a model on the rows.

    With a ``threshold`` (its metadata's decision rule) the labels are those the decision
    service decides, as in memory.
    """
    from govkit.explainers._batch import predict_partitions

    task = _inputs.task_of(model)
    pos_label = None
    if task == "classification":
        classes = list(getattr(model, "classes_", ()))
        if not classes:
            raise InputError(
                f"{what} does not record its classes (classes_); the Dask engine needs them "
                "to tell the positive label before predicting"
            )
        pos_label = _inputs.resolve_pos_label(declared, classes, what=f"the classes of {what}")
    has_scores = task == "classification" and hasattr(model, "predict_proba")
    label, score = columns
    output = {
        label: predict_partitions(
            model,
            data,
            feature_names=names,
            positive_class=pos_label,
            threshold=threshold,
            name=label,
        )
    }
    if has_scores:
        output[score] = predict_partitions(
            model,
            data,
            feature_names=names,
            output="score",
            positive_class=pos_label,
            name=score,
        )
    return output, pos_label, task, has_scores


def prepare_dask_context(
    policy: Policy,
    data: Any,
    *,
    model: Any | None,
    model_record: ModelVersionRecord | None,
    target: str | None = None,
    training_lineage: Sequence[DatasetRecord] = (),
    evaluation_data: DatasetRecord | None = None,
    data_fingerprint: str | None = None,
    predictions: Any = None,
    scores: Any = None,
    positive_label: Any = None,
    reference_data: pd.DataFrame | None = None,
    reference_record: DatasetRecord | None = None,
    champions: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> CheckContext:
    """:func:`govkit.evaluate.prepare_context` for a Dask DataFrame (see the module doc)."""
    import_optional("dask.dataframe", feature=_FEATURE)
    schema = data._meta  # an empty pandas frame with the columns and their types
    reserved = [str(c) for c in schema.columns if str(c).startswith(RESERVED_PREFIX)]
    if reserved:
        raise InputError(
            f"the data has column(s) {', '.join(reserved)}: names starting with "
            f"{RESERVED_PREFIX!r} are reserved for the model output the Dask engine adds"
        )
    meta = model_record.metadata if model_record else None
    declared, target, feature_names = _inputs.resolve_inputs(
        policy, schema, meta, model, target=target, positive_label=positive_label
    )
    predictions = _dask_series(predictions, "the recorded predictions")
    scores = _dask_series(scores, "the recorded scores")
    frame = data
    if model is None and predictions is not None:
        frame = frame.assign(**{PREDICTION: predictions})
        if scores is not None:
            frame = frame.assign(**{SCORE: scores.astype(float)})
    elif model is None:
        raise InputError("nothing to evaluate: give a model or its recorded predictions")

    recorded = model is None
    sizes, missing, true_values, pred_values = _read_facts(
        frame, target, PREDICTION if recorded else None
    )
    n_rows = int(sizes.sum())
    if n_rows == 0:
        raise InputError("the data has no rows")
    if missing:
        raise InputError(
            f"target column '{target}' has {missing} missing value(s); drop or fill those rows"
        )
    has_scores = scores is not None
    threshold = None
    if recorded:
        y_true = pd.Series(true_values, dtype=schema[target].dtype)
        y_pred = np.asarray(pd.Series(pred_values, dtype=frame._meta[PREDICTION].dtype))
        task = _inputs.recorded_task(y_true, y_pred, declared)
        pos_label = None
        if task == "classification":
            observed = sorted(set(true_values) | set(pred_values), key=str)
            pos_label = _inputs.resolve_pos_label(
                declared, observed, what="the labels", recorded=True
            )
    else:
        threshold = _inputs.decision_threshold(meta, model, what="the model")
        output, pos_label, task, has_scores = _model_output(
            model,
            data,
            feature_names,
            declared,
            what="the model",
            columns=(PREDICTION, SCORE),
            threshold=threshold,
        )
        frame = frame.assign(**output)

    known_features = tuple(feature_names or (meta.feature_names if meta else ()))
    if reference_data is not None:
        default = known_features or tuple(
            c for c in reference_data.columns if c in schema.columns and c != target
        )
        _inputs.drift_features(
            policy, schema, reference_data, default=default, model_features=feature_names
        )
    compared: dict[str, ComparedModel] = {}
    for i, (spec, champion) in enumerate((champions or {}).items()):
        if champion.unavailable is not None:
            continue
        columns = (f"{RESERVED_PREFIX}champion_{i}__", f"{RESERVED_PREFIX}champion_{i}_score__")
        frame, compared[spec] = _champion(
            spec, champion, frame, data, schema, pos_label=pos_label, task=task, columns=columns
        )
    unavailable = {
        spec: champion.unavailable
        for spec, champion in (champions or {}).items()
        if champion.unavailable is not None
    }
    dask_data = DaskData(
        frame=frame,
        n_rows=n_rows,
        target=target,
        prediction=PREDICTION,
        score=SCORE if has_scores else None,
    )
    ctx = CheckContext(
        data=schema,
        y_true=schema[target],
        y_pred=np.asarray(frame._meta[PREDICTION]),
        scores=np.empty(0) if has_scores else None,
        pos_label=pos_label,
        decision_threshold=threshold,
        model=model,
        features=schema[feature_names] if model is not None else None,
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
        dask=dask_data,
    )
    _prefetch(policy, ctx)
    return ctx


def _champion(
    spec: str,
    champion: Any,
    frame: Any,
    data: Any,
    schema: pd.DataFrame,
    *,
    pos_label: Any,
    task: str,
    columns: tuple[str, str],
) -> tuple[Any, ComparedModel]:
    record = champion.record
    label = str(record.ref) if record else (champion.label or spec)
    if champion.model is not None:
        meta = record.metadata if record else None
        names = _inputs.feature_names_of(champion.model, meta, what=f"champion {label}")
        needed = {c: f"input feature of champion {label}" for c in names}
        _inputs.missing_columns(schema, needed, what="the data")
        declared = pos_label if task == "classification" else None
        threshold = _inputs.decision_threshold(meta, champion.model, what=f"champion {label}")
        output, _, champion_task, has_scores = _model_output(
            champion.model,
            data,
            names,
            declared,
            what=f"champion {label}",
            columns=columns,
            threshold=threshold,
        )
        if champion_task != task:
            raise InputError(f"champion {label} is a {champion_task} model; the candidate is not")
        frame = frame.assign(**output)
    elif champion.predictions is not None:
        threshold = None
        frame = frame.assign(
            **{columns[0]: _dask_series(champion.predictions, "the champion's predictions")}
        )
        has_scores = champion.scores is not None
        if has_scores:
            scores = _dask_series(champion.scores, "the champion's scores")
            frame = frame.assign(**{columns[1]: scores.astype(float)})
    else:
        raise InputError(f"champion {label}: give its model or its recorded predictions")
    compared = ComparedModel(
        label=label,
        y_pred=np.empty(0),
        scores=np.empty(0) if has_scores else None,
        record=record,
        columns=(columns[0], columns[1] if has_scores else None),
        decision_threshold=threshold,
        basis=champion.basis,
    )
    return frame, compared


def _predictions_read(part: pd.DataFrame, where: Where, column: str) -> int:
    return len(part[column])


def _prefetch(policy: Policy, ctx: CheckContext) -> None:
    """Every rule's planned aggregates, and each model's output, in one read of the data."""
    assert ctx.dask is not None  # the Dask engine
    aggregates: dict[Hashable, _dask.Aggregate] = {}
    outputs = [ctx.dask.prediction] + [c.columns[0] for c in ctx.champions.values() if c.columns]
    for column in outputs:  # predicted once here, so a model that cannot predict stops now
        aggregates[("predicted", column)] = _dask.Aggregate(
            columns=(column,),
            partial=functools.partial(_predictions_read, column=column),
            merge=sum,
        )
    for rule in policy.rules:
        plan = get_check(rule.check_id).dask_plan
        if plan is None:
            continue
        try:
            aggregates.update(plan(rule, ctx))
        except Exception as exc:  # the check meets the same problem and reports it
            log.debug("no Dask plan for rule %s: %s", rule.id, exc)
    try:
        _dask.prefetch(ctx, aggregates)
    except EvaluationError as exc:  # predict_partitions: the model refused a partition
        raise InputError(f"the model cannot predict on this data: {exc}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the data: {exc}") from None
