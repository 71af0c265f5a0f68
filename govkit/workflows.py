"""The jobs govkit does, composed from the layers below: the Python API the CLI mirrors.

This module sits above store and report (it composes them) and below the CLI.
Each function takes an open :class:`~govkit.store.Store`; nothing here prints.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from govkit._champions import resolve_champions
from govkit._registration import (
    _as_model_ref,
    artifact_file,
    current_actor,
    load_metadata,
    register_dataset,
    register_model,
    register_model_or_reuse,
)
from govkit.artifacts import load_artifact
from govkit.cards import card
from govkit.checks._inputs import refuse_empty_groups
from govkit.data import fingerprint, read_table
from govkit.evaluate import Champion, evaluate
from govkit.exceptions import GovkitError, InputError
from govkit.integrations._openlineage import emits_openlineage
from govkit.policy import LoadedPolicy, load_policy
from govkit.records import DatasetRecord, ModelRef, ModelVersionRecord
from govkit.results import AuditAnchor, EvaluationResult
from govkit.store import Store

__all__ = [
    "CheckOutcome",
    "register_dataset",
    "register_model",
    "register_model_or_reuse",
    "load_metadata",
    "check",
    "log_to_mlflow",
    "card",
    "current_actor",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckOutcome:
    """A policy run and where it was recorded in the audit log."""

    result: EvaluationResult
    anchor: AuditAnchor | None
    run_id: int | None
    policy: LoadedPolicy | None = None
    mlflow_run_id: str | None = None  # set by mlflow_log=True (--mlflow-log)


def _model_record(
    model: ModelRef | str,
    *,
    store: Store,
    trust: bool,
    trusted_types: Sequence[str],
    actor: str | None,
    tracking_uri: str | None,
) -> ModelVersionRecord:
    """A registered model version; ``mlflow:models:/...``: the latest govkit version registered
    from that MLflow version (see :func:`register_model`), registered from MLflow if none."""
    from govkit.integrations._mlflow import is_mlflow_uri

    if is_mlflow_uri(model):
        from govkit.integrations._mlflow import register_mlflow_model

        record, _ = register_mlflow_model(
            str(model),
            store=store,
            trust=trust,
            trusted_types=trusted_types,
            tracking=tracking_uri,
            actor=actor or current_actor(),
        )
        return record
    return store.get_model_version(_as_model_ref(model))


def log_to_mlflow(
    outcome: CheckOutcome,
    *,
    store: Store,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    actor: str | None = None,
) -> CheckOutcome:
    """Log a recorded policy run to a new MLflow run: rule metrics, verdict tags, JSON and cards.

    The run goes to ``experiment`` (created if missing), else to the experiment of the run
    that logged the MLflow model. Raises MlflowLogError if MLflow cannot be written: the
    policy run stays recorded in govkit's audit log, as the message says.
    """
    from dataclasses import replace

    from govkit.integrations._mlflow_log import MlflowLogError, log_check
    from govkit.output import render

    if outcome.anchor is None or outcome.run_id is None:
        raise InputError("--mlflow-log: the policy run was not recorded; nothing to log")
    result = outcome.result
    record = store.get_model_version(result.model)

    def files() -> dict[str, bytes]:
        return {
            "card.html": card(record.ref, store=store, format="html", actor=actor),
            "card.pdf": card(record.ref, store=store, format="pdf", actor=actor),
        }

    try:
        run_id = log_check(
            result,
            record=record,
            anchor=outcome.anchor,
            govkit_run_id=outcome.run_id,
            evaluation_json=render(result, "json", policy=outcome.policy),
            files=files,
            experiment=experiment,
            tracking=tracking_uri,
        )
    except GovkitError as exc:
        raise MlflowLogError(
            f"logging to MLflow failed: {exc}. The policy run itself is recorded in govkit's "
            f"audit log as run {outcome.run_id} at audit sequence {outcome.anchor.sequence} "
            f"(verdict {result.status.value})"
        ) from None
    return replace(outcome, mlflow_run_id=run_id)


@emits_openlineage("check")
def check(
    policy: str | Path,
    *,
    data: pd.DataFrame | str | Path,
    store: Store,
    model: ModelRef | str | None = None,
    target: str | None = None,
    prediction_column: str | None = None,
    score_column: str | None = None,
    positive_label: str | None = None,
    trust: bool = False,
    trusted_types: Sequence[str] = (),
    record: bool = True,
    actor: str | None = None,
    progress: Callable[[str], None] | None = None,
    reference_data: pd.DataFrame | str | Path | None = None,
    champion_prediction_column: str | None = None,
    champion_score_column: str | None = None,
    engine: Literal["pandas", "dask"] = "pandas",
    dask_scheduler: str | None = None,
    dask_timeout: float | None = None,
    mlflow_log: bool = False,
    mlflow_experiment: str | None = None,
    mlflow_tracking_uri: str | None = None,
) -> CheckOutcome:
    """Evaluate a model against a policy file and record the run in the audit log.

    ``model`` is a registered ``NAME[@VERSION]``, or ``mlflow:models:/NAME/VERSION`` /
    ``mlflow:models:/NAME@ALIAS``: a model in an MLflow registry (at ``mlflow_tracking_uri``,
    default ``$MLFLOW_TRACKING_URI``), registered in govkit first (once per MLflow version).
    ``mlflow_log=True`` then logs the run to MLflow (see :func:`log_to_mlflow`).

    With ``prediction_column`` the model is not loaded: its recorded predictions (and scores)
    are audited, and rules that need the model itself are reported as not applicable. The
    registered model (if named) still supplies metadata and lineage.

    ``reference_data`` (for drift rules) must be the model's registered training data: its
    fingerprint is checked against the registry. The champions named by champion_challenger
    rules are loaded under the same trust flags and run on the same data, unless their
    recorded predictions are given in ``champion_prediction_column``.

    ``engine="dask"`` checks data too big for memory: ``data`` is a path to Parquet files
    (a file, a directory of them, a glob or a remote URL) or a Dask DataFrame, read
    partition by partition on the Dask scheduler at ``dask_scheduler`` (``tcp://host:8786``;
    default: the active client, else threads in this process), waiting at most
    ``dask_timeout`` seconds (default 30) for it to answer. Results equal the in-memory
    run's; what each rule family does is in :mod:`govkit.checks._dask`.
    """
    loaded = load_policy(policy)
    if engine not in ("pandas", "dask"):
        raise InputError(f"engine must be 'pandas' or 'dask'; got {engine!r}")
    if engine != "dask":
        for option, value in (
            ("--dask-scheduler", dask_scheduler),
            ("--dask-timeout", dask_timeout),
        ):
            if value is not None:
                raise InputError(f"{option} applies to --engine dask only (engine='dask')")
    if model is None and prediction_column is None:
        raise InputError("name a registered model (--model) or a --prediction-column to audit")
    if mlflow_log:
        from govkit.integrations._mlflow_client import require_mlflow

        require_mlflow("--mlflow-log")
        if model is None or not record:
            raise InputError("--mlflow-log needs a --model and the run recorded in the audit log")
    record_ = (
        _model_record(
            model,
            store=store,
            trust=trust,
            trusted_types=trusted_types,
            actor=actor,
            tracking_uri=mlflow_tracking_uri,
        )
        if model is not None
        else None
    )
    if engine == "dask":
        from govkit.fairness._dask import as_dask_frame, session

        context: Any = session(dask_scheduler, timeout=dask_timeout)
    else:
        context = contextlib.nullcontext()
    with context:
        if engine == "dask":
            df = as_dask_frame(data)
        elif _is_dask(data):
            raise InputError("data is a Dask DataFrame: pass engine='dask' (--engine dask)")
        else:
            df = read_table(data) if isinstance(data, str | Path) else data
            source = Path(data) if isinstance(data, str | Path) else None
            refuse_empty_groups(df, loaded.policy, source=source)
        estimator = predictions = scores = None
        if prediction_column is not None:
            for option, col in (
                ("--prediction-column", prediction_column),
                ("--score-column", score_column),
            ):
                if col is not None and col not in df.columns:
                    raise InputError(
                        f"{option}: the data has no column '{col}'; columns: "
                        f"{', '.join(map(str, df.columns[:30]))}"
                    )
            predictions = _column(df, prediction_column, engine)
            scores = _scores(df, score_column, engine, "--score-column") if score_column else None
        if champion_score_column is not None and champion_prediction_column is None:
            raise InputError("--champion-score-column needs --champion-prediction-column")
        for option, col in (
            ("--champion-prediction-column", champion_prediction_column),
            ("--champion-score-column", champion_score_column),
        ):
            if col is not None and col not in df.columns:
                raise InputError(
                    f"{option}: the data has no column '{col}'; columns: "
                    f"{', '.join(map(str, df.columns[:30]))}"
                )
        if prediction_column is None and record_ is not None:
            estimator = load_artifact(
                artifact_file(record_),
                expected_sha256=record_.artifact_sha256,
                trust=trust,
                trusted_types=trusted_types,
            )
        lineage = []
        evaluation = None
        if record_ is not None:
            lineage = store.lineage(record_.training_data) if record_.training_data else []
            if record_.evaluation_data:
                evaluation = store.get_dataset(record_.evaluation_data)
        reference, reference_record = _reference(reference_data, record_, lineage)
        champions = _champions(
            loaded,
            df,
            engine=engine,
            store=store,
            candidate=None if prediction_column is not None else record_,
            recorded=(champion_prediction_column, champion_score_column),
            load=lambda rec: load_artifact(
                artifact_file(rec),
                expected_sha256=rec.artifact_sha256,
                trust=trust,
                trusted_types=trusted_types,
            ),
        )
        result = evaluate(
            loaded,
            record_,
            df,
            model=estimator,
            target=target,
            training_lineage=lineage,
            evaluation_data=evaluation,
            data_fingerprint=_fingerprint(df, engine),
            predictions=predictions,
            scores=scores,
            positive_label=positive_label,
            reference_data=reference,
            reference_record=reference_record,
            champions=champions,
            progress=progress,
        )
        if not record or record_ is None:
            return CheckOutcome(result=result, anchor=None, run_id=None, policy=loaded)
        stored = store.record_run(result, actor=actor or current_actor())
        outcome = CheckOutcome(
            result=result, anchor=stored.anchor, run_id=stored.run_id, policy=loaded
        )
    if mlflow_log:
        outcome = log_to_mlflow(
            outcome,
            store=store,
            experiment=mlflow_experiment,
            tracking_uri=mlflow_tracking_uri,
            actor=actor,
        )
    return outcome


def _is_dask(data: Any) -> bool:
    from govkit.fairness import is_dask_collection

    return is_dask_collection(data)


def _column(df: Any, column: str, engine: str, *, dtype: Any = None) -> Any:
    """A column's values: an array in memory, a lazy Dask Series with the Dask engine."""
    if engine == "dask":
        return df[column] if dtype is None else df[column].astype(dtype)
    return df[column].to_numpy(dtype=dtype)


def _scores(df: Any, column: str, engine: str, option: str) -> Any:
    """A score column as floats; InputError naming the option and column when it is not numbers."""
    series = df[column]
    if engine != "dask":
        try:
            return series.to_numpy(dtype=float)
        except (TypeError, ValueError):  # "could not convert string to float": text
            pass
    elif pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    text = pd.api.types.is_string_dtype(series.dtype) or pd.api.types.is_object_dtype(series.dtype)
    raise InputError(
        f"{option}: column '{column}' holds {'text' if text else f'{series.dtype} values'}; "
        "expected numbers, the model's score (probability of the positive label) for each row"
    )


def _fingerprint(df: Any, engine: str) -> str:
    if engine == "dask":  # the same format, streamed column by column (one more read)
        from govkit.checks._dask import fingerprint_dask

        try:
            return fingerprint_dask(df)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InputError(f"cannot read the data: {exc}") from None
    return fingerprint(df)


def _reference(
    data: pd.DataFrame | str | Path | None,
    model: ModelVersionRecord | None,
    lineage: Sequence[DatasetRecord],
) -> tuple[pd.DataFrame | None, DatasetRecord | None]:
    """The reference data for drift rules, verified to be the model's registered training data."""
    if data is None:
        return None, None
    where = f"--reference-data {data}" if isinstance(data, str | Path) else "reference data"
    if model is None:
        raise InputError(
            f"{where}: cannot verify it without a registered model; name the model with --model "
            "(the reference must be its registered training data)"
        )
    if model.training_data is None or not lineage:
        raise InputError(
            f"{where}: model {model.ref} has no registered training data to verify it against; "
            "register the model with --training-data"
        )
    frame = read_table(data) if isinstance(data, str | Path) else data
    registered = lineage[0]
    given = fingerprint(frame, order_independent=registered.order_independent)
    if given != registered.fingerprint:
        raise InputError(
            f"{where}: this is not the registered training data of model {model.ref}: its "
            f"fingerprint is {given}, but {registered.name}@{registered.version} has "
            f"{registered.fingerprint}; pass the file the model was trained on"
        )
    return frame, registered


def _champions(
    loaded: LoadedPolicy,
    data: Any,
    *,
    engine: str = "pandas",
    store: Store,
    candidate: ModelVersionRecord | None,
    recorded: tuple[str | None, str | None],
    load: Callable[[ModelVersionRecord], Any],
) -> dict[str, Champion]:
    """The champion of every champion_challenger rule: recorded output, or loaded model."""
    from govkit.policy import ChampionChallengerRule

    specs = sorted(
        {r.champion for r in loaded.policy.rules if isinstance(r, ChampionChallengerRule)}
    )
    column, score_column = recorded
    if column is not None:
        if len(specs) > 1:
            raise InputError(
                f"--champion-prediction-column: the policy's rules name {len(specs)} champions "
                f"({', '.join(specs)}); one recorded column cannot stand for all of them"
            )
        return {
            spec: Champion(
                predictions=_column(data, column, engine),
                scores=(
                    _scores(data, score_column, engine, "--champion-score-column")
                    if score_column
                    else None
                ),
                label=f"{spec} (recorded in column '{column}')",
            )
            for spec in specs
        }
    if candidate is None:
        return {}  # auditing recorded predictions, and no champion column: the rules are N/A
    return resolve_champions(loaded, specs, store=store, candidate=candidate, load=load)
