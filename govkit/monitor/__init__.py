"""Production monitoring: a policy run over the decisions recorded in a time window.

``monitor`` decrypts the decisions of one model version made in the window (erased
subjects are excluded and counted), adds their observed outcomes, and evaluates the
policy's rules with the ordinary rule families over the model's recorded predictions
and scores:

* drift against the registered training data (``--reference-data``, else the file at
  the training data's recorded location when its fingerprint still matches; see
  :mod:`govkit.monitor._sources`); prediction drift compares the recorded scores with
  the registered model's scores on that data, the model loaded as ``govkit check``
  loads it;
* fairness and performance; rules that need labels use only decisions with an outcome,
  and rules that group by an attribute decisions do not record (``sex``, ...) use only
  the decisions given in an attributes file (:mod:`govkit.monitor._attributes`), which
  is read for the run and never stored.

A rule with fewer rows than the policy's ``monitoring.min_decisions`` / ``min_outcomes``
is N/A ("not enough data"). The run is recorded like any other; when it fails and the
policy names a webhook, one alert is POSTed (aggregates only).
"""

from __future__ import annotations

import dataclasses
import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from govkit.evaluate import evaluate, prepare_context
from govkit.exceptions import InputError, NotFoundError
from govkit.monitor._alert import build_alert, send_alert
from govkit.monitor._attributes import Attributes, read_attributes
from govkit.monitor._outcomes import conform_outcomes, labels
from govkit.monitor._sources import Reference, load_model, reference_data
from govkit.monitor._window import parse_window, span_text
from govkit.policy import LoadedPolicy, MonitoringSpec, load_policy
from govkit.records import ModelRef, ModelVersionRecord, parse_ref
from govkit.results import CheckResult, EvaluationResult, Status
from govkit.store import Store

__all__ = [
    "MonitorOutcome",
    "monitor",
    "parse_window",
    "build_alert",
    "send_alert",
    "conform_outcomes",
    "read_attributes",
    "LABEL_FREE_FAIRNESS",
]

#: fairness metrics computed from predictions alone (the others need observed outcomes)
LABEL_FREE_FAIRNESS = {
    "selection_rate",
    "impact_ratio",
    "demographic_parity_difference",
    "demographic_parity_ratio",
}
# the recorded output and the outcome, as columns of the window's frame; named so that a
# message listing the frame's columns reads plainly
_PRED, _SCORE, _OUTCOME = "(recorded prediction)", "(recorded score)", "(observed outcome)"


@dataclass(frozen=True)
class MonitorOutcome:
    result: EvaluationResult
    run_id: int
    decisions: int
    outcomes: int
    erased: int
    since: datetime
    until: datetime
    alerted: bool
    #: where the reference data and the attributes came from, for the run's output
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Needs:
    """What the rows of a rule must have (an outcome, attributes) and whether it needs the model."""

    labels: bool
    attributes: bool
    model: bool
    reference: bool


def _needs_labels(rule: Any) -> bool:
    if rule.kind == "performance":
        return True
    return rule.kind == "fairness" and rule.metric not in LABEL_FREE_FAIRNESS


def _result(rule: Any, status: Status, message: str) -> CheckResult:
    return CheckResult(
        rule_id=rule.id,
        check_id=f"{rule.kind}.monitoring",
        kind=rule.kind,
        severity=rule.severity,
        status=status,
        description=getattr(rule, "description", "") or "",
        message=message,
    )


def _version(store: Store, ref: ModelRef) -> int:
    if ref.version is not None:
        return ref.version
    try:
        return store.resolve_alias(ref.name, "production")
    except NotFoundError:
        return store.get_model_version(ref).version  # the latest (or the registry's message)


def _unrecorded_columns(rule: Any, loaded: LoadedPolicy, recorded: Sequence[str]) -> list[str]:
    """The group columns (sensitive features, 'by') of ``rule`` that decisions do not record."""
    from govkit.checks._inputs import group_columns

    only = loaded.policy.model_copy(update={"rules": [rule]})
    return [c for c in group_columns(only) if c not in recorded]


def _plan(
    loaded: LoadedPolicy,
    record: ModelVersionRecord,
    attrs: Attributes | None,
) -> tuple[dict[_Needs, list[Any]], dict[str, CheckResult], list[str]]:
    """Rules by what they need; the rules that cannot be judged at all (N/A); the attribute
    columns used. InputError when the attributes file lacks a column a rule groups by."""
    recorded = record.metadata.feature_names
    if attrs is not None:
        clash = [c for c in attrs.columns if c in recorded]
        if clash:
            raise InputError(
                f"{attrs.path}:1: column {clash[0]!r} is an input of {record.ref}, recorded "
                "with each decision; the attributes file gives only what decisions do not "
                "record"
            )
    plans: dict[_Needs, list[Any]] = {}
    done: dict[str, CheckResult] = {}
    used: list[str] = []
    for rule in loaded.policy.rules:
        unrecorded = _unrecorded_columns(rule, loaded, recorded)
        if unrecorded and attrs is None:
            names = ",".join(unrecorded)
            done[rule.id] = _result(
                rule,
                Status.NOT_APPLICABLE,
                f"groups by {', '.join(repr(c) for c in unrecorded)}, which decisions do not "
                f"record (they record the inputs of {record.ref}); pass --attributes "
                f"FILE.csv with columns decision_id,{names} (read for this run only, never "
                "stored)",
            )
            continue
        if unrecorded and attrs is not None:
            absent = [c for c in unrecorded if c not in attrs.columns]
            if absent:
                raise InputError(
                    f"{attrs.path}:1: no column {absent[0]!r}, which rule '{rule.id}' groups "
                    f"by and decisions do not record; columns: {', '.join(attrs.columns)}"
                )
            used.extend(c for c in unrecorded if c not in used)
        needs = _Needs(
            labels=_needs_labels(rule),
            attributes=bool(unrecorded),
            model=rule.kind == "drift" and rule.scope == "prediction",
            reference=rule.kind == "drift",
        )
        plans.setdefault(needs, []).append(rule)
    return plans, done, used


def _window_frame(
    win: Any, record: ModelVersionRecord, attrs: Attributes | None, used: list[str]
) -> tuple[pd.DataFrame, pd.Series]:
    """The window's decisions as rows (recorded inputs, used attributes, recorded output,
    outcome), and which rows have attributes."""
    rows = [
        {
            **d.features,
            _PRED: d.explanation.prediction,
            _SCORE: d.explanation.score,
            _OUTCOME: win.outcomes.get(d.decision_id),
        }
        for d in win.decisions
    ]
    frame = pd.DataFrame(rows, columns=[*record.metadata.feature_names, _PRED, _SCORE, _OUTCOME])
    ids = [d.decision_id for d in win.decisions]
    given = attrs.values if attrs is not None else {}
    for col in used:
        assert attrs is not None
        i = attrs.columns.index(col)
        frame[col] = [given[d][i] if d in given else None for d in ids]
    return frame, pd.Series([d in given for d in ids], dtype=bool)


def monitor(
    name: str,
    *,
    policy: str | Path,
    window: str | timedelta,
    store: Store,
    reference_data: str | Path | None = None,
    attributes: str | Path | None = None,
    trust: bool = False,
    trusted_types: Sequence[str] = (),
    end: datetime | None = None,
    actor: str | None = None,
) -> MonitorOutcome:
    """Evaluate ``policy`` over the decisions of ``name`` in the window; record the run.

    ``attributes``: a CSV file ``decision_id,<column>,...`` giving the attributes fairness
    rules group by that decisions do not record; read for this run only. ``trust`` /
    ``trusted_types`` load the model artifact for prediction drift, as ``govkit check``.
    """
    loaded = load_policy(policy)
    spec = loaded.policy.monitoring or MonitoringSpec()
    span = window if isinstance(window, timedelta) else parse_window(window)
    try:
        until = (end or datetime.now(UTC)).astimezone(UTC)
        since = until - span
    except OverflowError:  # datetime covers the years 1 to 9999
        raise InputError(
            f"--end {end.isoformat() if end else '(now)'} with --window {span_text(span)}: "
            "the window must lie within the years 1 to 9999 (UTC)"
        ) from None
    ref = parse_ref(name, what="model", option="NAME")
    version = _version(store, ref)
    record = store.get_model_version(ModelRef(name=ref.name, version=version))
    attrs = read_attributes(attributes) if attributes is not None else None
    reference = _reference(store, record, reference_data, loaded)
    plans, results, used = _plan(loaded, record, attrs)
    win = store.decision_window(ref.name, versions=[version], since=since, until=until)
    frame, attributed = _window_frame(win, record, attrs, used)
    labelled = frame[_OUTCOME].notna()
    counts = f"window: {len(frame)} decisions, {int(labelled.sum())} outcomes"
    notes = []
    if reference.note is not None and any(r.kind == "drift" for r in loaded.policy.rules):
        notes.append(f"reference data: {reference.note}")
    if attrs is not None:
        counts += f", {int(attributed.sum())} with attributes"
        notes.append(
            f"attributes: {attrs.describe()}, given for {int(attributed.sum())} of "
            f"{len(frame)} decisions in the window; read for this run only, not stored"
        )
    started = datetime.now(UTC)
    model: list[Any] = []  # loaded once, when a rule needs it
    for needs, rules in plans.items():
        mask = (labelled if needs.labels else pd.Series(True, index=frame.index)).to_numpy()
        if needs.attributes:
            mask = mask & attributed.to_numpy()
        data = frame[mask].reset_index(drop=True)
        minimum = spec.min_outcomes if needs.labels else spec.min_decisions
        what = ("outcomes" if needs.labels else "decisions") + (
            " with attributes" if needs.attributes else ""
        )
        if len(data) < minimum:
            message = f"not enough data: {len(data)} {what} in the window (minimum {minimum})"
            results.update({r.id: _result(r, Status.NOT_APPLICABLE, message) for r in rules})
            continue
        if needs.reference and reference.missing is not None:
            missing = reference.missing
            results.update({r.id: _result(r, Status.NOT_APPLICABLE, missing) for r in rules})
            continue
        note = f"computed on {len(data)} {what}; {counts}"
        if needs.attributes and attrs is not None:
            note += f"; attributes: {attrs.describe()}"
        part, ran = _evaluate(
            loaded, rules, record, data, needs, reference, model, trust, trusted_types
        )
        if not ran:
            results.update({c.rule_id: c for c in part})
            continue
        for check in part:
            extra = ""
            if check.kind == "drift" and reference.record is not None:
                extra = f"; reference: {reference.record.ref}"
            results[check.rule_id] = check.model_copy(
                update={"message": f"{check.message} [{note}{extra}]".strip()}
            )
    result = EvaluationResult(
        policy_name=loaded.policy.name,
        policy_path=loaded.source,
        policy_digest=loaded.digest,
        model=record.ref,
        data_fingerprint=None,
        n_rows=len(frame),
        started_at=started,
        finished_at=datetime.now(UTC),
        govkit_version=_govkit_version(),
        checks=tuple(results[r.id] for r in loaded.policy.rules),
    )
    stored = store.record_run(result, actor=actor or _actor())
    alerted = False
    if result.status == Status.FAIL and spec.alert is not None:
        alerted = send_alert(
            spec.alert, build_alert(result, stored.run_id, since, until, win.erased, spec, loaded)
        )
    return MonitorOutcome(
        result=result,
        run_id=stored.run_id,
        decisions=len(frame),
        outcomes=int(labelled.sum()),
        erased=win.erased,
        since=since,
        until=until,
        alerted=alerted,
        notes=tuple(notes),
    )


def _reference(
    store: Store, record: ModelVersionRecord, path: str | Path | None, loaded: LoadedPolicy
) -> Reference:
    if path is None and not any(r.kind == "drift" for r in loaded.policy.rules):
        return Reference(None, None, missing="no drift rule")  # nothing to read
    return reference_data(store, record, path)


def _evaluate(
    loaded: LoadedPolicy,
    rules: list[Any],
    record: ModelVersionRecord,
    data: pd.DataFrame,
    needs: _Needs,
    reference: Reference,
    model: list[Any],
    trust: bool,
    trusted_types: Sequence[str],
) -> tuple[tuple[CheckResult, ...], bool]:
    """(results, whether the rules ran on ``data``): over the recorded output, or
    (prediction drift) with the registered model, once it reproduces the recorded output."""
    subset = dataclasses.replace(loaded, policy=loaded.policy.model_copy(update={"rules": rules}))
    # evaluate() needs a label column; rules that need no outcome never read it, so there
    # it holds the recorded predictions (no outcome is invented for a decision)
    target = _OUTCOME if needs.labels else _PRED
    values = labels(data[_OUTCOME]) if needs.labels else data[_PRED]
    features = data.drop(columns=[_PRED, _SCORE, _OUTCOME]).assign(**{target: values})
    common: dict[str, Any] = dict(
        target=target,
        positive_label=record.metadata.positive_label,
        reference_data=reference.frame,
        reference_record=reference.record,
    )
    if not needs.model:
        return evaluate(
            subset,
            record,
            features,
            predictions=data[_PRED].to_numpy(),
            scores=data[_SCORE].to_numpy(dtype=float),
            **common,
        ).checks, True
    if not model:
        model.append(load_model(record, trust=trust, trusted_types=trusted_types))
    estimator, why = model[0]
    if estimator is None:
        return tuple(_result(r, Status.NOT_APPLICABLE, why) for r in rules), False
    try:
        ctx = prepare_context(
            subset.policy, features, model=estimator, model_record=record, **common
        )
    except InputError as exc:
        message = f"the registered model {record.ref} cannot score the recorded decisions: {exc}"
        return tuple(_result(r, Status.ERROR, message) for r in rules), False
    differ = _differences(ctx.y_pred, ctx.scores, data)
    if differ:
        message = (
            f"the registered model {record.ref}, scoring the recorded inputs again, does not "
            f"reproduce the recorded output of {differ} of {len(data)} decisions, so its "
            "output on the reference data is no baseline for them; were they decided by "
            "this artifact and the decision rule of its metadata?"
        )
        return tuple(_result(r, Status.ERROR, message) for r in rules), False
    # the model reproduces the recorded output: the window's side of the comparison is
    # the recorded scores (labels), the reference side the model's output on the reference
    return evaluate(subset, record, features, model=estimator, **common).checks, True


def _differences(y_pred: Any, scores: Any, data: pd.DataFrame) -> int:
    """How many decisions' recorded prediction (or score) the model's output differs from."""
    recorded = data[_PRED].to_numpy()
    again = np.asarray(y_pred)
    if np.issubdtype(again.dtype, np.floating):  # a regressor
        same = np.isclose(again, recorded.astype(float), rtol=1e-6, atol=1e-9)
    else:
        same = np.array([str(a) == str(b) for a, b in zip(again, recorded, strict=True)])
    if scores is not None:
        kept = data[_SCORE].to_numpy(dtype=float)
        same &= np.isclose(np.asarray(scores, dtype=float), kept, rtol=1e-6, atol=1e-9)
    return int((~same).sum())


def _govkit_version() -> str:
    from govkit import __version__

    return __version__


def _actor() -> str:
    return os.environ.get("GOVKIT_ACTOR") or getpass.getuser()
