"""policy + model + data → :class:`EvaluationResult`. The one place rules are run.

Input problems (a column the policy or model needs is missing, no target, an
unknown positive label) raise :class:`InputError` before any rule runs, so the
gate never half-evaluates bad input. A rule whose check raises is recorded as
ERROR with the reason, and the other rules still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from govkit import __version__
from govkit.checks import CheckContext, get_check
from govkit.exceptions import GovkitError, InputError
from govkit.policy import FairnessRule, LoadedPolicy, Policy, WaiverSpec
from govkit.records import DatasetRecord, ModelRef, ModelVersionRecord
from govkit.results import CheckResult, EvaluationResult, Status, Waiver

__all__ = ["evaluate", "prepare_context"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _resolve_pos_label(pos_label: Any, observed: Sequence[Any], *, what: str) -> Any:
    if pos_label is None:
        if len(observed) != 2:
            raise InputError(
                f"cannot tell the positive label: {what} has {len(observed)} distinct values "
                f"({', '.join(map(repr, list(observed)[:10]))}); set positive_label in the "
                "model metadata"
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
        f"positive label {pos_label!r} does not occur in {what}; found "
        f"{', '.join(map(repr, list(observed)[:10]))}"
    )


def prepare_context(
    policy: Policy,
    data: pd.DataFrame,
    *,
    model: Any | None,
    model_record: ModelVersionRecord | None,
    target: str | None = None,
    training_lineage: Sequence[DatasetRecord] = (),
    evaluation_data: DatasetRecord | None = None,
    data_fingerprint: str | None = None,
    predictions: Sequence[Any] | None = None,
    scores: Sequence[float] | None = None,
    positive_label: Any = None,
) -> CheckContext:
    """Validate the input against the policy and the model, predict, and build the context."""
    meta = model_record.metadata if model_record else None
    declared_label = (
        positive_label if positive_label is not None else (meta.positive_label if meta else None)
    )
    target = target or (meta.target if meta else None)
    needed: dict[str, str] = {}
    for rule in policy.rules:
        if isinstance(rule, FairnessRule):
            for col in rule.sensitive_features:
                needed.setdefault(col, f"sensitive feature of rule '{rule.id}'")
    if target is None:
        raise InputError(
            "no target column: pass --target COLUMN or set 'target' in the model metadata"
        )
    needed.setdefault(target, "target column")
    feature_names: list[str] = []
    if model is not None:
        feature_names = list(meta.feature_names if meta and meta.feature_names else ())
        if not feature_names:
            feature_names = [str(c) for c in getattr(model, "feature_names_in_", ())]
        if not feature_names:
            raise InputError(
                "the model does not record its input columns; list them as feature_names "
                "in the model metadata"
            )
        for col in feature_names:
            needed.setdefault(col, "model input feature")
    missing = [c for c in needed if c not in data.columns]
    if missing:
        details = "; ".join(f"'{c}' ({needed[c]})" for c in missing)
        raise InputError(
            f"the data lacks {len(missing)} column(s) it needs: {details}. "
            f"Columns found: {', '.join(map(str, data.columns[:30]))}"
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
    if model is not None:
        try:
            y_pred = np.asarray(model.predict(features))
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(f"the model cannot predict on this data: {exc}") from None
        classes = list(getattr(model, "classes_", np.unique(y_pred)))
        pos_label = _resolve_pos_label(declared_label, classes, what="the model's classes")
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(features))
            scores = proba[:, classes.index(pos_label)]
    elif predictions is not None:
        y_pred = np.asarray(predictions)
        if len(y_pred) != len(data):
            raise InputError(f"{len(y_pred):,} recorded predictions for {len(data):,} rows of data")
        observed = sorted(set(pd.unique(y_true)) | set(pd.unique(y_pred)), key=str)
        pos_label = _resolve_pos_label(declared_label, observed, what="the labels")
        scores = None if scores is None else np.asarray(scores, dtype=float)
    else:
        raise InputError("nothing to evaluate: give a model or its recorded predictions")
    return CheckContext(
        data=data,
        y_true=y_true,
        y_pred=y_pred,
        scores=scores,
        pos_label=pos_label,
        model=model,
        features=features,
        model_record=model_record,
        training_lineage=tuple(training_lineage),
        evaluation_data=evaluation_data,
        data_fingerprint=data_fingerprint,
    )


def evaluate(
    policy: LoadedPolicy | Policy,
    model_record: ModelVersionRecord | None,
    data: pd.DataFrame,
    *,
    model: Any | None = None,
    target: str | None = None,
    training_lineage: Sequence[DatasetRecord] = (),
    evaluation_data: DatasetRecord | None = None,
    data_fingerprint: str | None = None,
    predictions: Sequence[Any] | None = None,
    scores: Sequence[float] | None = None,
    positive_label: Any = None,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Run every rule of ``policy`` on ``data`` for one model version."""
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
        n_rows=len(data),
        started_at=started,
        finished_at=datetime.now(UTC),
        govkit_version=__version__,
        checks=tuple(results),
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


def _run_rule(rule: Any, ctx: CheckContext) -> CheckResult:
    spec = get_check(rule.check_id)
    base = dict(
        rule_id=rule.id,
        check_id=spec.check_id,
        kind=spec.kind,
        severity=rule.severity,
        description=rule.description,
        bound=rule.threshold.to_bound() if hasattr(rule, "threshold") else None,
    )
    if spec.needs_model and ctx.model is None:
        return CheckResult(
            **base,
            status=Status.NOT_APPLICABLE,
            message="needs the model itself; only recorded predictions were given",
        )
    if spec.needs_labels and ctx.y_true is None:
        return CheckResult(
            **base, status=Status.NOT_APPLICABLE, message="needs true labels (a target column)"
        )
    try:
        measured = spec.fn(rule, ctx)
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
