"""Where each model version stands: its stage, the aliases naming it, its stage history.

``govkit_model_stages`` holds a version's current stage (no row: ``candidate``),
``govkit_stage_history`` every change, and ``govkit_model_aliases`` the version each
alias names. :func:`move_stage` and :func:`set_alias_row` write these rows under the
event a caller has just appended; :func:`set_alias` is the whole change for any alias
but ``production``, which moves only through the gate (:mod:`govkit.store._lifecycle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import Session, col, select

from govkit.exceptions import InputError, NotFoundError
from govkit.records import ModelRef
from govkit.store import _log
from govkit.store._lifecycle_base import log_time, model_subject, version_of
from govkit.store._lifecycle_bindings import stage_names
from govkit.store._records import find_model
from govkit.store._schema import AuditHeadRow, ModelAliasRow, ModelStageRow, StageHistoryRow

__all__ = [
    "PRODUCTION",
    "StageChange",
    "stage_of",
    "history",
    "aliases",
    "resolve_alias",
    "move_stage",
    "set_alias_row",
    "set_alias",
]

Stage = Literal["candidate", "approved", "production", "retired"]
PRODUCTION = "production"


@dataclass(frozen=True)
class StageChange:
    model: ModelRef
    from_stage: str
    to_stage: str
    changed_at: datetime
    changed_by: str | None
    reason: str | None
    audit_sequence: int


def stage_of(session: Session, name: str, version: int) -> str:
    row = session.get(ModelStageRow, (name, version))
    return "candidate" if row is None else row.stage


def history(session: Session, name: str) -> list[StageChange]:
    """Every stage change of the model's versions, oldest first."""
    rows = session.exec(
        select(StageHistoryRow)
        .where(col(StageHistoryRow.model_name) == name)
        .order_by(col(StageHistoryRow.audit_sequence), col(StageHistoryRow.id))
    ).all()
    return [
        StageChange(
            model=ModelRef(name=r.model_name, version=r.model_version),
            from_stage=r.from_stage,
            to_stage=r.to_stage,
            changed_at=log_time(r.changed_at),
            changed_by=r.changed_by,
            reason=r.reason,
            audit_sequence=r.audit_sequence,
        )
        for r in rows
    ]


def aliases(session: Session, name: str) -> dict[str, int]:
    rows = session.exec(select(ModelAliasRow).where(col(ModelAliasRow.model_name) == name)).all()
    return {r.alias: r.model_version for r in sorted(rows, key=lambda r: r.alias)}


def resolve_alias(session: Session, name: str, alias: str) -> int:
    """The version ``alias`` of model ``name`` names; NotFoundError when it names none."""
    row = session.get(ModelAliasRow, (name, alias))
    if row is None:
        find_model(session, ModelRef(name=name))  # an unknown model: the registry's message
        raise NotFoundError(f"model {name!r} has no alias {alias!r}")
    return row.model_version


def move_stage(
    session: Session,
    head: AuditHeadRow,
    name: str,
    version: int,
    to_stage: str,
    *,
    actor: str | None,
    reason: str | None,
    sequence: int,
) -> None:
    """Record a stage change of ``name@version`` under the event ``sequence`` (no event)."""
    moment = _log.now()
    before = stage_of(session, name, version)
    row = session.get(ModelStageRow, (name, version))
    if row is None:
        session.add(
            ModelStageRow(
                model_name=name,
                model_version=version,
                stage=to_stage,
                updated_at=moment,
                audit_sequence=sequence,
            )
        )
    else:
        row.stage, row.updated_at, row.audit_sequence = to_stage, moment, sequence
        session.add(row)
    session.add(
        StageHistoryRow(
            model_name=name,
            model_version=version,
            from_stage=before,
            to_stage=to_stage,
            changed_at=moment,
            changed_by=actor,
            reason=reason,
            audit_sequence=sequence,
        )
    )


def set_alias_row(session: Session, name: str, alias: str, version: int, sequence: int) -> None:
    row = session.get(ModelAliasRow, (name, alias))
    if row is None:
        row = ModelAliasRow(
            model_name=name,
            alias=alias,
            model_version=version,
            updated_at=_log.now(),
            audit_sequence=sequence,
        )
    else:
        row.model_version, row.updated_at, row.audit_sequence = version, _log.now(), sequence
    session.add(row)


def set_alias(
    session: Session, head: AuditHeadRow, *, ref: ModelRef, alias: str, actor: str | None
) -> int:
    """Point ``alias`` (not ``production``: that is promotion) at ``ref``; the event sequence."""
    version = version_of(ref)
    if alias == PRODUCTION:
        raise InputError(
            f"the {PRODUCTION!r} alias moves only through the gate: `govkit model promote "
            f"{ref} --to production` (or `govkit model rollback {ref.name}`)"
        )
    find_model(session, ref)
    names = stage_names(session, ref.name)
    if alias in names.names.values():
        raise InputError(
            f"{alias!r} is what policy {names.policy!r} calls a stage "
            f"({names.label(names.resolve(alias))}); an alias of that name would read as the "
            "stage: choose another alias"
        )
    if stage_of(session, ref.name, version) == "retired":
        raise InputError(f"{ref} is retired; an alias cannot name it")
    before = aliases(session, ref.name).get(alias)
    event = _log.append_event(
        session,
        head,
        "model.alias_set",
        {"model": ref.name, "alias": alias, "from": before, "to": version},
        actor=actor,
        subject=model_subject(ref.name, version),
    )
    set_alias_row(session, ref.name, alias, version, event.sequence)
    return event.sequence
