"""Recording policy runs (run row + one row per check + audit event) and reading them back."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlmodel import Session, col, select

from govkit.exceptions import StoreError
from govkit.records import ModelRef
from govkit.results import AuditAnchor, EvaluationResult
from govkit.store import _log
from govkit.store._schema import AuditEventRow, AuditHeadRow, CheckResultRow, RunRow

__all__ = ["StoredRun", "insert_run", "latest_run"]


@dataclass(frozen=True)
class StoredRun:
    """A recorded policy run: its id, the result as recorded, and its place in the audit log."""

    run_id: int
    result: EvaluationResult
    anchor: AuditAnchor


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


def latest_run(session: Session, ref: ModelRef) -> StoredRun | None:
    stmt = select(RunRow).where(col(RunRow.model_name) == ref.name)
    if ref.version is not None:
        stmt = stmt.where(col(RunRow.model_version) == ref.version)
    run = session.exec(stmt.order_by(col(RunRow.audit_sequence).desc()).limit(1)).first()
    if run is None:
        return None
    assert run.id is not None
    event_hash = session.exec(
        select(col(AuditEventRow.hash)).where(col(AuditEventRow.sequence) == run.audit_sequence)
    ).first()
    if event_hash is None:
        raise StoreError(
            f"the audit event of run {run.id} (event {run.audit_sequence}) is missing from "
            "the audit log; run verify_chain"
        )
    return StoredRun(
        run_id=run.id,
        result=EvaluationResult.model_validate(run.result),
        anchor=AuditAnchor(sequence=run.audit_sequence, hash=event_hash),
    )
