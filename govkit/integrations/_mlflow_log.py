"""A govkit policy run logged to MLflow, beside the model it judged (``--mlflow-log``).

One new MLflow run per policy run, in ``experiment`` (created if missing), else in the
experiment of the run that logged the MLflow model. It holds:

* metrics: each rule's numeric value, keyed by its rule id (characters MLflow does not allow
  in keys become '_'); linked to the MLflow logged model when there is one;
* tags: ``govkit.verdict`` (PASS / WARN / FAIL / ERROR), ``govkit.policy``,
  ``govkit.policy_digest``, ``govkit.model`` (NAME@VERSION in govkit), the audit anchor
  (``govkit.audit_sequence``, ``govkit.audit_hash``, ``govkit.run_id``) and each rule's
  status (``govkit.rule.<id>``);
* artifacts under ``govkit/``: the evaluation JSON and the model card as HTML and PDF.

The MLflow model version also gets ``govkit.verdict`` and ``govkit.run`` tags, so the
registry page shows the gate's latest verdict.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from govkit.exceptions import GovkitError, InputError
from govkit.integrations._mlflow_client import (
    client,
    error_code,
    input_error,
    mlflow_errors,
    redact_uri,
    require_mlflow,
    tracking_uri,
)
from govkit.records import ModelVersionRecord
from govkit.results import AuditAnchor, EvaluationResult

__all__ = ["MlflowLogError", "log_check", "metric_key"]

log = logging.getLogger(__name__)

_KEY_BAD = re.compile(r"[^A-Za-z0-9_\-. /]")
_TAG_MAX = 5000


class MlflowLogError(GovkitError):
    """The policy run was recorded by govkit, but could not be logged to MLflow."""


def metric_key(rule_id: str) -> str:
    """``rule_id`` as an MLflow metric key (letters, digits, '_', '-', '.', ' ', '/')."""
    return _KEY_BAD.sub("_", rule_id)[:250] or "_"


def log_check(
    result: EvaluationResult,
    *,
    record: ModelVersionRecord,
    anchor: AuditAnchor | None,
    govkit_run_id: int | None,
    evaluation_json: str,
    files: Callable[[], Mapping[str, bytes]],
    experiment: str | None = None,
    tracking: str | None = None,
) -> str:
    """Log ``result`` as a new MLflow run; returns its run id.

    ``files()`` gives the extra artifacts (name -> bytes), called only once MLflow has
    answered and the experiment is known, so nothing is rendered for an unusable MLflow.
    """
    uri = tracking_uri(tracking)
    require_mlflow("--mlflow-log")
    from mlflow.entities import Metric, RunTag

    c = client(uri)
    source = record.metadata.mlflow
    experiment_id = _experiment(c, experiment, source, uri)
    verdict = result.status.value
    tags = {
        "mlflow.runName": f"govkit check {result.policy_name} on {result.model}"[:250],
        "govkit.verdict": verdict,
        "govkit.policy": result.policy_name,
        "govkit.policy_digest": result.policy_digest,
        "govkit.model": str(record.ref),
        "govkit.model_sha256": record.artifact_sha256,
        "govkit.data_fingerprint": result.data_fingerprint or "",
        "govkit.version": result.govkit_version,
    }
    if anchor is not None:
        tags["govkit.audit_sequence"] = str(anchor.sequence)
        tags["govkit.audit_hash"] = anchor.hash
    if govkit_run_id is not None:
        tags["govkit.run_id"] = str(govkit_run_id)
    if source is not None:
        tags["govkit.mlflow_model"] = source.model_uri
    keys: dict[str, str] = {}
    now = int(time.time() * 1000)
    model_id = source.model_id if source is not None else None
    metrics = []
    for check in result.checks:
        key = _unique(metric_key(check.rule_id), keys, check.rule_id)
        tags[f"govkit.rule.{key}"] = check.status.value
        if check.value is not None and math.isfinite(check.value):
            metrics.append(Metric(key, float(check.value), now, 0, model_id=model_id))
    with mlflow_errors("start an MLflow run for the policy run", uri):
        run = c.create_run(experiment_id)
    run_id = str(run.info.run_id)
    status = "FAILED"
    try:
        with mlflow_errors(f"log the policy run to MLflow run {run_id}", uri):
            run_tags = [RunTag(k, str(v)[:_TAG_MAX]) for k, v in tags.items()]
            c.log_batch(run_id, metrics=metrics, tags=run_tags)
            if model_id:
                _link_model(c, run_id, model_id)
            with tempfile.TemporaryDirectory(prefix="govkit-mlflow-") as tmp:
                folder = Path(tmp) / "govkit"
                folder.mkdir()
                (folder / "evaluation.json").write_text(evaluation_json, encoding="utf-8")
                for name, content in files().items():
                    (folder / name).write_bytes(content)
                c.log_artifacts(run_id, str(folder), artifact_path="govkit")
            if source is not None:
                _tag_version(c, source.registered_model, source.version, verdict, run_id, uri)
        status = "FINISHED"
    finally:
        try:
            c.set_terminated(run_id, status=status)
        except Exception as exc:  # the run stays RUNNING; the error that matters is raised above
            log.warning("could not close MLflow run %s: %s", run_id, type(exc).__name__)
    log.info("logged policy run to MLflow run %s at %s", run_id, redact_uri(uri))
    return run_id


def _unique(key: str, seen: dict[str, str], rule_id: str) -> str:
    """Rule ids that differ only in characters MLflow refuses get a numbered suffix."""
    candidate, n = key, 2
    while candidate in seen and seen[candidate] != rule_id:
        candidate, n = f"{key}_{n}", n + 1
    seen[candidate] = rule_id
    return candidate


def _experiment(c: Any, name: str | None, source: Any, uri: str) -> str:
    """The experiment id: ``name`` (created if missing), else the MLflow model's experiment."""
    if name is None:
        if source is None or not source.experiment_id:
            raise InputError(
                "--mlflow-log: name the MLflow experiment to log to with --mlflow-experiment "
                "(the model was not registered from MLflow, so it has no experiment of its own)"
            )
        return str(source.experiment_id)
    if not name.strip():
        raise InputError("--mlflow-experiment: expected an experiment name; got an empty one")
    with mlflow_errors(f"find or create the MLflow experiment '{name}'", uri):
        found = c.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                raise InputError(
                    f"--mlflow-experiment: MLflow experiment '{name}' is deleted; restore it or "
                    "name another"
                )
            return str(found.experiment_id)
        return str(c.create_experiment(name))


def _link_model(c: Any, run_id: str, model_id: str) -> None:
    """Show the run among the MLflow logged model's evaluations (MLflow 3)."""
    from mlflow.entities import LoggedModelInput

    c.log_inputs(run_id, models=[LoggedModelInput(model_id)])


def _tag_version(c: Any, name: str, version: int, verdict: str, run_id: str, uri: str) -> None:
    mlflow = require_mlflow()
    try:
        c.set_model_version_tag(name, str(version), "govkit.verdict", verdict)
        c.set_model_version_tag(name, str(version), "govkit.run", run_id)
    except mlflow.exceptions.MlflowException as exc:
        if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise input_error(exc, f"tag MLflow model {name} version {version}", uri) from None
        log.warning("MLflow model %s version %s no longer exists; not tagged", name, version)
