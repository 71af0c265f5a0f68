"""Production monitoring: a policy run over the decisions recorded in a time window.

``monitor`` decrypts the decisions of one model version made in the window (erased
subjects are excluded and counted), adds their observed outcomes, and evaluates the
policy's rules with the ordinary rule families: drift against the registered training
data, fairness and performance over the model's recorded predictions. Rules that need
labels (performance; fairness metrics of errors) use only decisions with an outcome.
A rule with fewer rows than the policy's ``monitoring.min_decisions`` /
``min_outcomes`` is N/A ("not enough data"). The run is recorded like any other; when
it fails and the policy names a webhook, one alert is POSTed (aggregates only).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from govkit.data import fingerprint, read_table
from govkit.evaluate import evaluate
from govkit.exceptions import InputError, NotFoundError
from govkit.monitor._alert import build_alert, send_alert
from govkit.monitor._outcomes import conform_outcomes, labels
from govkit.monitor._window import parse_window, span_text
from govkit.policy import MonitoringSpec, load_policy
from govkit.records import ModelRef, parse_ref
from govkit.results import CheckResult, EvaluationResult, Status
from govkit.store import Store

__all__ = [
    "MonitorOutcome",
    "monitor",
    "parse_window",
    "build_alert",
    "send_alert",
    "conform_outcomes",
    "LABEL_FREE_FAIRNESS",
]

#: fairness metrics computed from predictions alone (the others need observed outcomes)
LABEL_FREE_FAIRNESS = {
    "selection_rate",
    "impact_ratio",
    "demographic_parity_difference",
    "demographic_parity_ratio",
}
_PRED, _SCORE, _OUTCOME = "__govkit_prediction", "__govkit_score", "__govkit_outcome"


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


def _needs_labels(rule: Any) -> bool:
    if rule.kind == "performance":
        return True
    return rule.kind == "fairness" and rule.metric not in LABEL_FREE_FAIRNESS


def _not_enough(rule: Any, have: int, need: int, what: str) -> CheckResult:
    return CheckResult(
        rule_id=rule.id,
        check_id=f"{rule.kind}.monitoring",
        kind=rule.kind,
        severity=rule.severity,
        status=Status.NOT_APPLICABLE,
        description=getattr(rule, "description", "") or "",
        message=f"not enough data: {have} {what} in the window (minimum {need})",
    )


def _version(store: Store, ref: ModelRef) -> int:
    if ref.version is not None:
        return ref.version
    try:
        return store.resolve_alias(ref.name, "production")
    except NotFoundError:
        return store.get_model_version(ref).version  # the latest (or the registry's message)


def _reference(store: Store, record: Any, path: str | Path | None) -> tuple[Any, Any]:
    if path is None:
        return None, None
    lineage = store.lineage(record.training_data) if record.training_data else []
    if not lineage:
        raise InputError(f"--reference-data: {record.ref} has no registered training data")
    frame = read_table(path)
    registered = lineage[0]
    given = fingerprint(frame, order_independent=registered.order_independent)
    if given != registered.fingerprint:
        raise InputError(
            f"--reference-data {path}: not the registered training data of {record.ref} "
            f"(fingerprint {given}, {registered.name}@{registered.version} has "
            f"{registered.fingerprint})"
        )
    return frame, registered


def monitor(
    name: str,
    *,
    policy: str | Path,
    window: str | timedelta,
    store: Store,
    reference_data: str | Path | None = None,
    end: datetime | None = None,
    actor: str | None = None,
) -> MonitorOutcome:
    """Evaluate ``policy`` over the decisions of ``name`` in the window; record the run."""
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
    reference, reference_record = _reference(store, record, reference_data)
    win = store.decision_window(ref.name, versions=[version], since=since, until=until)
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
    labelled = frame[frame[_OUTCOME].notna()].reset_index(drop=True)
    counts = {"decisions": len(frame), "outcomes": len(labelled)}
    started = datetime.now(UTC)
    results: dict[str, CheckResult] = {}
    rules_all = loaded.policy.rules
    groups = (
        (
            [r for r in rules_all if not _needs_labels(r)],
            frame,
            spec.min_decisions,
            "decisions",
            None,
        ),
        (
            [r for r in rules_all if _needs_labels(r)],
            labelled,
            spec.min_outcomes,
            "outcomes",
            _OUTCOME,
        ),
    )
    for rules, data, minimum, what, target in groups:
        if not rules:
            continue
        if len(data) < minimum:
            results.update({r.id: _not_enough(r, len(data), minimum, what) for r in rules})
            continue
        subset = dataclasses.replace(
            loaded, policy=loaded.policy.model_copy(update={"rules": rules})
        )
        # evaluate() needs a label column; rules of the label-free group never read it, so
        # there it holds the predictions (no outcome is invented for a decision)
        values = labels(data[_OUTCOME]) if target is not None else data[_PRED]
        features = data.drop(columns=[_PRED, _SCORE, _OUTCOME]).assign(**{_OUTCOME: values})
        part = evaluate(
            subset,
            record,
            features,
            target=_OUTCOME,
            predictions=data[_PRED].to_numpy(),
            scores=data[_SCORE].to_numpy(dtype=float),
            positive_label=record.metadata.positive_label,
            reference_data=reference,
            reference_record=reference_record,
        )
        for check in part.checks:
            note = (
                f"[computed on {len(data)} {what}; window: {counts['decisions']} decisions, "
                f"{counts['outcomes']} outcomes]"
            )
            results[check.rule_id] = check.model_copy(
                update={"message": f"{check.message} {note}".strip()}
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
        outcomes=len(labelled),
        erased=win.erased,
        since=since,
        until=until,
        alerted=alerted,
    )


def _govkit_version() -> str:
    from govkit import __version__

    return __version__


def _actor() -> str:
    import getpass
    import os

    return os.environ.get("GOVKIT_ACTOR") or getpass.getuser()
