"""Policy bindings: the policy a model is bound to, and the stage names it gives.

``govkit model bind`` records the policy's name, digest and ``approval`` requirement
(and its ``lifecycle.stage_names``, if any) with a ``model.policy_bound`` event; the
latest binding is the one in force. The promotion gate (:mod:`govkit.store._lifecycle`)
reads it, and so does everything that shows a stage by the policy's name for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from govkit.records import ModelRef
from govkit.store import _log
from govkit.store._lifecycle_base import log_time, model_subject
from govkit.store._records import find_model
from govkit.store._schema import AuditHeadRow, PolicyBindingRow
from govkit.store._stages import StageNameMap, check_stage_names

__all__ = ["Binding", "binding", "stage_names", "bind"]


@dataclass(frozen=True)
class Binding:
    model: str
    policy_name: str
    policy_digest: str
    approval_required: bool
    approval_independent: bool
    bound_at: datetime
    bound_by: str | None
    stage_names: dict[str, str] | None = None  # the policy's names (id -> name), if any


def binding(session: Session, name: str) -> Binding | None:
    row = session.exec(
        select(PolicyBindingRow)
        .where(col(PolicyBindingRow.model_name) == name)
        .order_by(col(PolicyBindingRow.audit_sequence).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return Binding(
        model=row.model_name,
        policy_name=row.policy_name,
        policy_digest=row.policy_digest,
        approval_required=row.approval_required,
        approval_independent=row.approval_independent,
        bound_at=log_time(row.bound_at),
        bound_by=row.bound_by,
        stage_names=dict(row.stage_names) if row.stage_names else None,
    )


def stage_names(session: Session, name: str) -> StageNameMap:
    """The stage names in force for model ``name``: its binding's, else the ids."""
    bound = binding(session, name)
    if bound is None or not bound.stage_names:
        return StageNameMap()
    return StageNameMap(bound.stage_names, policy=bound.policy_name)


def bind(
    session: Session,
    head: AuditHeadRow,
    *,
    name: str,
    policy_name: str,
    policy_digest: str,
    approval_required: bool,
    approval_independent: bool,
    actor: str | None,
    stage_names: dict[str, str] | None = None,
) -> Binding:
    names = check_stage_names(stage_names)
    find_model(session, ModelRef(name=name))  # NotFoundError for an unregistered model
    payload: dict[str, Any] = {
        "model": name,
        "policy": {"name": policy_name, "digest": policy_digest},
        "approval": {"required": approval_required, "independent": approval_independent},
    }
    if names:
        payload["stage_names"] = names
    event = _log.append_event(
        session, head, "model.policy_bound", payload, actor=actor, subject=model_subject(name)
    )
    moment = _log.now()
    session.add(
        PolicyBindingRow(
            model_name=name,
            policy_name=policy_name,
            policy_digest=policy_digest,
            approval_required=approval_required,
            approval_independent=approval_independent,
            bound_at=moment,
            bound_by=actor,
            audit_sequence=event.sequence,
            stage_names=names,
        )
    )
    return Binding(
        name,
        policy_name,
        policy_digest,
        approval_required,
        approval_independent,
        moment,
        actor,
        names,
    )
