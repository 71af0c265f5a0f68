"""Recording policy runs (run row + one row per check + audit event) and reading them back."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from govkit.exceptions import StoreError
from govkit.records import ModelRef
from govkit.results import AuditAnchor, EvaluationResult, Status
from govkit.store import _log
from govkit.store._schema import AuditEventRow, AuditHeadRow, CheckResultRow, RunRow

__all__ = [
    "RunHeadline",
    "StoredRun",
    "insert_run",
    "latest_headlines",
    "latest_run",
    "run_mismatches",
]


@dataclass(frozen=True)
class StoredRun:
    """A recorded policy run: its id, the result as recorded, and its place in the audit log."""

    run_id: int
    result: EvaluationResult
    anchor: AuditAnchor


@dataclass(frozen=True)
class RunHeadline:
    """A recorded run without its checks and evidence: what a list of model versions shows."""

    run_id: int
    status: Status
    counts: dict[Status, int]  # checks by status, every status present (as EvaluationResult)
    policy_name: str
    policy_digest: str
    finished_at: datetime
    anchor: AuditAnchor

    @classmethod
    def of(cls, run: StoredRun) -> RunHeadline:
        """The headline of a run read whole."""
        result = run.result
        return cls(
            run_id=run.run_id,
            status=result.status,
            counts=result.counts,
            policy_name=result.policy_name,
            policy_digest=result.policy_digest,
            finished_at=_log.stored_time(result.finished_at),  # in UTC, as read from the table
            anchor=run.anchor,
        )


def insert_run(
    session: Session, head: AuditHeadRow, result: EvaluationResult, *, actor: str | None
) -> StoredRun:
    """Add the run row, its check rows and its ``policy.run`` event to ``session``."""
    run = RunRow(
        audit_sequence=head.sequence + 1,  # the event appended below; the head is locked
        model_name=result.model.name,
        model_version=result.model.version,
        policy_name=result.policy_name,
        policy_digest=result.policy_digest,
        status=result.status.value,
        data_fingerprint=result.data_fingerprint,
        n_rows=result.n_rows,
        started_at=result.started_at,
        finished_at=result.finished_at,
        recorded_at=_log.now(),
        recorded_by=actor,
        result=result.model_dump(mode="json"),
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    for position, check in enumerate(result.checks):
        finite = check.value is not None and math.isfinite(check.value)
        session.add(
            CheckResultRow(
                run_id=run.id,
                position=position,
                rule_id=check.rule_id,
                check_id=check.check_id,
                kind=check.kind,
                severity=check.severity,
                status=check.status.value,
                value=check.value if finite else None,
            )
        )
    session.flush()
    payload = {
        "run_id": run.id,
        "model": str(result.model),
        "policy": {"name": result.policy_name, "digest": result.policy_digest},
        "verdict": result.status.value,
        "rules": [
            {"rule_id": c.rule_id, "check_id": c.check_id, "status": c.status.value}
            for c in result.checks
        ],
        "data_fingerprint": result.data_fingerprint,
    }
    event = _log.append_event(
        session, head, "policy.run", payload, actor=actor, subject=f"model:{result.model}"
    )
    return StoredRun(
        run_id=run.id,
        result=result,
        anchor=AuditAnchor(sequence=event.sequence, hash=event.hash),
    )


def _logged_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What a ``policy.run`` event says of its run, by the name of the run's column."""
    policy = payload.get("policy")
    policy = policy if isinstance(policy, Mapping) else {}
    return {
        "run_id": payload.get("run_id"),
        "model": payload.get("model"),
        "policy_name": policy.get("name"),
        "policy_digest": policy.get("digest"),
        "status": payload.get("verdict"),
        "data_fingerprint": payload.get("data_fingerprint"),
    }


def _stored_fields(row: Any) -> dict[str, Any]:
    """The same fields of a ``govkit_runs`` row (a RunRow or a row of its columns)."""
    version = row.model_version
    return {
        "run_id": row.id,
        "model": row.model_name if version is None else f"{row.model_name}@{version}",
        "policy_name": row.policy_name,
        "policy_digest": row.policy_digest,
        "status": row.status,
        "data_fingerprint": row.data_fingerprint,
    }


def run_mismatches(payload: Mapping[str, Any], row: Any) -> list[tuple[str, Any, Any]]:
    """``(field, logged, stored)`` for each field where ``row`` differs from its event.

    The fields are the run's id, model (``NAME@VER``), policy name and digest, verdict
    (the ``status`` column) and data fingerprint: what identifies the run and decides the
    promotion gate. Used by the gate and by ``audit verify``.
    """
    logged, stored = _logged_fields(payload), _stored_fields(row)
    return [
        (field, logged[field], stored[field])
        for field in logged
        if logged[field] != stored[field] or type(logged[field]) is not type(stored[field])
    ]


def latest_run(session: Session, ref: ModelRef, *, policy: str | None = None) -> StoredRun | None:
    stmt = select(RunRow).where(col(RunRow.model_name) == ref.name)
    if ref.version is not None:
        stmt = stmt.where(col(RunRow.model_version) == ref.version)
    if policy is not None:
        stmt = stmt.where(col(RunRow.policy_name) == policy)
    run = session.exec(stmt.order_by(col(RunRow.audit_sequence).desc()).limit(1)).first()
    if run is None:
        return None
    assert run.id is not None
    event_hash = session.exec(
        select(col(AuditEventRow.hash)).where(col(AuditEventRow.sequence) == run.audit_sequence)
    ).first()
    if event_hash is None:
        raise _missing_event(run.id, run.audit_sequence)
    return StoredRun(
        run_id=run.id,
        result=EvaluationResult.model_validate(run.result),
        anchor=AuditAnchor(sequence=run.audit_sequence, hash=event_hash),
    )


def _missing_event(run_id: int, sequence: int) -> StoreError:
    return StoreError(
        f"the audit event of run {run_id} (event {sequence}) is missing from the audit log; "
        "run verify_chain"
    )


def latest_headlines(session: Session) -> dict[ModelRef, RunHeadline]:
    """The latest run of every model version, from the run and check tables alone.

    Three queries whatever the number of versions, and no run's result JSON is read
    (it holds the evidence, kilobytes to megabytes a run).
    """
    runs: Any = RunRow.__table__  # type: ignore[attr-defined]
    checks: Any = CheckResultRow.__table__  # type: ignore[attr-defined]
    events: Any = AuditEventRow.__table__  # type: ignore[attr-defined]
    conn = session.connection()
    newest = (
        sa_select(func.max(runs.c.audit_sequence))
        .where(runs.c.model_version.is_not(None))
        .group_by(runs.c.model_name, runs.c.model_version)
    )
    rows = conn.execute(
        sa_select(
            runs.c.id,
            runs.c.audit_sequence,
            runs.c.model_name,
            runs.c.model_version,
            runs.c.policy_name,
            runs.c.policy_digest,
            runs.c.status,
            runs.c.finished_at,
        ).where(runs.c.audit_sequence.in_(newest))
    ).all()
    hashes: dict[int, str] = {
        sequence: digest
        for sequence, digest in conn.execute(
            sa_select(events.c.sequence, events.c.hash).where(
                events.c.sequence.in_([row.audit_sequence for row in rows])
            )
        ).all()
    }
    counts: dict[int, dict[Status, int]] = {row.id: {s: 0 for s in Status} for row in rows}
    for run_id, status, n in conn.execute(
        sa_select(checks.c.run_id, checks.c.status, func.count())
        .where(checks.c.run_id.in_(list(counts)))
        .group_by(checks.c.run_id, checks.c.status)
    ).all():
        counts[run_id][Status(status)] = n
    out: dict[ModelRef, RunHeadline] = {}
    for row in rows:
        if row.audit_sequence not in hashes:
            raise _missing_event(row.id, row.audit_sequence)
        out[ModelRef(name=row.model_name, version=row.model_version)] = RunHeadline(
            run_id=row.id,
            status=Status(row.status),
            counts=counts[row.id],
            policy_name=row.policy_name,
            policy_digest=row.policy_digest,
            finished_at=_log.stored_time(row.finished_at),
            anchor=AuditAnchor(sequence=row.audit_sequence, hash=hashes[row.audit_sequence]),
        )
    return out
