"""Approvals: sign-offs of a model version, and who counts as its owner.

An approval records the approver and a note with a ``model.approved`` event; a
``candidate`` becomes ``approved``. Whether an approval is independent (four-eyes: the
approver is neither the version's owner nor its registrant, :func:`owners_of`) is logged
with it and decided again by the promotion gate (:mod:`govkit.store._lifecycle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from govkit.exceptions import InputError
from govkit.records import ModelRef
from govkit.store import _log
from govkit.store._lifecycle_base import log_time, model_subject, version_of
from govkit.store._lifecycle_bindings import stage_names
from govkit.store._lifecycle_state import move_stage, stage_of
from govkit.store._records import find_model
from govkit.store._schema import ApprovalRow, AuditHeadRow, ModelVersionRow

__all__ = ["Approval", "approvals", "approve", "owners_of"]


@dataclass(frozen=True)
class Approval:
    model: ModelRef
    approver: str
    note: str
    approved_at: datetime
    recorded_by: str | None
    audit_sequence: int


def approvals(session: Session, ref: ModelRef) -> list[Approval]:
    stmt = select(ApprovalRow).where(col(ApprovalRow.model_name) == ref.name)
    if ref.version is not None:
        stmt = stmt.where(col(ApprovalRow.model_version) == ref.version)
    rows = session.exec(stmt.order_by(col(ApprovalRow.audit_sequence))).all()
    return [
        Approval(
            model=ModelRef(name=r.model_name, version=r.model_version),
            approver=r.approver,
            note=r.note,
            approved_at=log_time(r.approved_at),
            recorded_by=r.recorded_by,
            audit_sequence=r.audit_sequence,
        )
        for r in rows
    ]


def approve(
    session: Session,
    head: AuditHeadRow,
    *,
    ref: ModelRef,
    approver: str,
    note: str,
    actor: str | None,
) -> Approval:
    """Record a sign-off; a ``candidate`` becomes ``approved``. A retired version: InputError."""
    version = version_of(ref)
    model = find_model(session, ref)
    stage = stage_of(session, ref.name, version)
    if stage == "retired":
        retired = stage_names(session, ref.name).label("retired")
        raise InputError(f"{ref} is {retired}; a retired version cannot be approved")
    owner = owners_of(model)
    event = _log.append_event(
        session,
        head,
        "model.approved",
        {
            "model": str(ref),
            "approver": approver,
            "note": note,
            "owner": sorted(owner),
            "independent": approver.casefold() not in owner,
            "stage": {"from": stage, "to": "approved" if stage == "candidate" else stage},
        },
        actor=actor,
        subject=model_subject(ref.name, version),
    )
    moment = _log.now()
    session.add(
        ApprovalRow(
            model_name=ref.name,
            model_version=version,
            approver=approver,
            note=note,
            approved_at=moment,
            recorded_by=actor,
            audit_sequence=event.sequence,
        )
    )
    if stage == "candidate":
        move_stage(
            session,
            head,
            ref.name,
            version,
            "approved",
            actor=actor,
            reason=f"approved by {approver}: {note}",
            sequence=event.sequence,
        )
    return Approval(ref, approver, note, moment, actor, event.sequence)


def owners_of(model: ModelVersionRow) -> set[str]:
    owners = {(model.record.get("metadata") or {}).get("owner"), model.created_by}
    return {str(o).strip().casefold() for o in owners if o}
