"""Read-only queries behind the compliance dashboard: summaries without loading whole records.

The inventory needs the latest run of every model version (one grouped query), the
model page the value of every rule over a version's runs (the check rows, not the
runs' JSON), the decisions page counts per day and the reliability flag (from the
``decision.recorded`` events: nothing is decrypted), and the audit page recent events
by subject. All return plain tuples and dicts; :mod:`govkit.dashboard` shapes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import Session

from govkit.exceptions import NotFoundError, StoreError
from govkit.results import AuditAnchor, EvaluationResult
from govkit.store import _log
from govkit.store._runs import StoredRun
from govkit.store._schema import (
    ApiKeyRow,
    AuditEventRow,
    CheckResultRow,
    DecisionRow,
    RunRow,
    SubjectKeyRow,
)

__all__ = [
    "RunInfo",
    "CheckPoint",
    "DecisionInfo",
    "EventInfo",
    "latest_runs",
    "runs_of",
    "check_points",
    "get_run",
    "decision_infos",
    "events_about",
    "recent_events",
    "has_api_keys",
]

_RUNS = RunRow.__table__  # type: ignore[attr-defined]
_CHECKS = CheckResultRow.__table__  # type: ignore[attr-defined]
_EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]
_DECISIONS = DecisionRow.__table__  # type: ignore[attr-defined]
_KEYS = SubjectKeyRow.__table__  # type: ignore[attr-defined]
_API_KEYS = ApiKeyRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RunInfo:
    """A policy run without its evidence: for lists and the inventory."""

    run_id: int
    audit_sequence: int
    model_name: str
    model_version: int | None
    policy_name: str
    status: str
    finished_at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class CheckPoint:
    """One rule's result in one run (for trends)."""

    run_id: int
    finished_at: datetime
    position: int
    rule_id: str
    check_id: str
    status: str
    value: float | None


@dataclass(frozen=True)
class DecisionInfo:
    """What a decision's row and event say in the clear (no personal data)."""

    decision_id: str
    tenant: str
    model_name: str
    model_version: int
    created_at: datetime
    has_subject: bool
    erased: bool
    method: str | None
    reliable: bool | None


@dataclass(frozen=True)
class EventInfo:
    """An audit event's header and payload (payload may name a tenant)."""

    sequence: int
    ts: str
    actor: str | None
    event_type: str
    subject: str | None
    payload: dict[str, Any]


def _run_info(row: Any) -> RunInfo:
    return RunInfo(
        run_id=row.id,
        audit_sequence=row.audit_sequence,
        model_name=row.model_name,
        model_version=row.model_version,
        policy_name=row.policy_name,
        status=row.status,
        finished_at=_log.stored_time(row.finished_at),
        recorded_at=_log.stored_time(row.recorded_at),
    )


_RUN_COLUMNS = (
    _RUNS.c.id,
    _RUNS.c.audit_sequence,
    _RUNS.c.model_name,
    _RUNS.c.model_version,
    _RUNS.c.policy_name,
    _RUNS.c.status,
    _RUNS.c.finished_at,
    _RUNS.c.recorded_at,
)


def latest_runs(session: Session) -> dict[tuple[str, int | None], tuple[RunInfo, list[Any]]]:
    """The latest run of every (model, version), with the waivers of its WAIVED checks.

    One grouped query for the runs; run JSON is parsed only for runs holding a waiver.
    """
    conn = session.connection()
    newest = (
        select(func.max(_RUNS.c.audit_sequence).label("seq"))
        .group_by(_RUNS.c.model_name, _RUNS.c.model_version)
        .subquery()
    )
    rows = conn.execute(
        select(*_RUN_COLUMNS).where(_RUNS.c.audit_sequence.in_(select(newest.c.seq)))
    ).all()
    runs = {row.id: _run_info(row) for row in rows}
    waived_runs = set(
        conn.execute(
            select(_CHECKS.c.run_id)
            .where(_CHECKS.c.status == "WAIVED", _CHECKS.c.run_id.in_(list(runs) or [-1]))
            .distinct()
        ).scalars()
    )
    waivers: dict[int, list[Any]] = {}
    if waived_runs:
        for run_id, result in conn.execute(
            select(_RUNS.c.id, _RUNS.c.result).where(_RUNS.c.id.in_(waived_runs))
        ).all():
            data = result if isinstance(result, dict) else json.loads(result)
            waivers[run_id] = [c["waiver"] for c in data.get("checks", ()) if c.get("waiver")]
    return {
        (info.model_name, info.model_version): (info, waivers.get(info.run_id, []))
        for info in runs.values()
    }


def runs_of(session: Session, name: str, version: int) -> list[RunInfo]:
    """Every run of model version ``name@version``, newest first."""
    rows = (
        session.connection()
        .execute(
            select(*_RUN_COLUMNS)
            .where(_RUNS.c.model_name == name, _RUNS.c.model_version == version)
            .order_by(_RUNS.c.audit_sequence.desc())
        )
        .all()
    )
    return [_run_info(row) for row in rows]


def check_points(session: Session, name: str, version: int) -> list[CheckPoint]:
    """Every rule result of every run of ``name@version``, oldest run first."""
    rows = (
        session.connection()
        .execute(
            select(
                _CHECKS.c.run_id,
                _RUNS.c.finished_at,
                _CHECKS.c.position,
                _CHECKS.c.rule_id,
                _CHECKS.c.check_id,
                _CHECKS.c.status,
                _CHECKS.c.value,
            )
            .join(_RUNS, _RUNS.c.id == _CHECKS.c.run_id)
            .where(_RUNS.c.model_name == name, _RUNS.c.model_version == version)
            .order_by(_RUNS.c.audit_sequence, _CHECKS.c.position)
        )
        .all()
    )
    return [
        CheckPoint(
            run_id=row.run_id,
            finished_at=_log.stored_time(row.finished_at),
            position=row.position,
            rule_id=row.rule_id,
            check_id=row.check_id,
            status=row.status,
            value=row.value,
        )
        for row in rows
    ]


def get_run(session: Session, run_id: int) -> tuple[StoredRun, RunInfo, str | None]:
    """The run ``run_id`` (NotFoundError), its summary and who recorded it."""
    conn = session.connection()
    row = conn.execute(
        select(*_RUN_COLUMNS, _RUNS.c.result, _RUNS.c.recorded_by).where(_RUNS.c.id == run_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no policy run {run_id} is recorded")
    event_hash = conn.execute(
        select(_EVENTS.c.hash).where(_EVENTS.c.sequence == row.audit_sequence)
    ).scalar()
    if event_hash is None:
        raise StoreError(
            f"the audit event of run {run_id} (event {row.audit_sequence}) is missing from "
            "the audit log; run verify_chain"
        )
    result = EvaluationResult.model_validate(row.result)
    stored = StoredRun(
        run_id=row.id,
        result=result,
        anchor=AuditAnchor(sequence=row.audit_sequence, hash=event_hash),
    )
    return stored, _run_info(row), row.recorded_by


def decision_infos(
    session: Session, *, tenant: str | None, since: datetime | None, limit: int | None
) -> list[DecisionInfo]:
    """Decisions (of ``tenant`` when given, since ``since``), newest first, without decrypting.

    The reliability flag and method come from each decision's ``decision.recorded``
    event; ``erased`` says the subject's key is gone.
    """
    stmt = (
        select(
            _DECISIONS.c.decision_id,
            _DECISIONS.c.tenant,
            _DECISIONS.c.model_name,
            _DECISIONS.c.model_version,
            _DECISIONS.c.created_at,
            _DECISIONS.c.has_subject,
            _KEYS.c.key_id.label("live_key"),
            _EVENTS.c.payload,
        )
        .outerjoin(_KEYS, _KEYS.c.key_id == _DECISIONS.c.subject_key_id)
        .outerjoin(_EVENTS, _EVENTS.c.sequence == _DECISIONS.c.audit_sequence)
        .order_by(_DECISIONS.c.created_at.desc(), _DECISIONS.c.decision_id)
    )
    if tenant is not None:
        stmt = stmt.where(_DECISIONS.c.tenant == tenant)
    if since is not None:
        stmt = stmt.where(_DECISIONS.c.created_at >= since)
    if limit is not None:
        stmt = stmt.limit(limit)
    out = []
    for row in session.connection().execute(stmt).all():
        payload = json.loads(row.payload) if row.payload else {}
        reliable = payload.get("reliable")
        out.append(
            DecisionInfo(
                decision_id=row.decision_id,
                tenant=row.tenant,
                model_name=row.model_name,
                model_version=row.model_version,
                created_at=_log.stored_time(row.created_at),
                has_subject=bool(row.has_subject),
                erased=row.live_key is None,
                method=payload.get("method"),
                reliable=reliable if isinstance(reliable, bool) else None,
            )
        )
    return out


def _event_info(row: Any) -> EventInfo:
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = {}
    return EventInfo(
        sequence=row.sequence,
        ts=row.ts,
        actor=row.actor,
        event_type=row.event_type,
        subject=row.subject,
        payload=payload if isinstance(payload, dict) else {},
    )


_EVENT_COLUMNS = (
    _EVENTS.c.sequence,
    _EVENTS.c.ts,
    _EVENTS.c.actor,
    _EVENTS.c.event_type,
    _EVENTS.c.subject,
    _EVENTS.c.payload,
)


def events_about(session: Session, subjects: list[str], *, limit: int) -> list[EventInfo]:
    """The newest events whose subject is one of ``subjects``, newest first."""
    rows = (
        session.connection()
        .execute(
            select(*_EVENT_COLUMNS)
            .where(or_(*(_EVENTS.c.subject == s for s in subjects)))
            .order_by(_EVENTS.c.sequence.desc())
            .limit(limit)
        )
        .all()
    )
    return [_event_info(row) for row in rows]


def recent_events(session: Session, *, limit: int) -> tuple[list[EventInfo], dict[str, int]]:
    """The newest ``limit`` events (newest first) and the count of events of each type."""
    conn = session.connection()
    rows = conn.execute(
        select(*_EVENT_COLUMNS).order_by(_EVENTS.c.sequence.desc()).limit(limit)
    ).all()
    counts: dict[str, int] = dict(
        conn.execute(
            select(_EVENTS.c.event_type, func.count()).group_by(_EVENTS.c.event_type)
        ).all()
    )
    return [_event_info(row) for row in rows], {k: int(v) for k, v in counts.items()}


def has_api_keys(session: Session) -> bool:
    """True when any API key was ever created (revoked ones count: keys are configured)."""
    return session.connection().execute(select(_API_KEYS.c.key_id).limit(1)).first() is not None
