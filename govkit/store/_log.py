"""The audit log in the database: appending under the head lock, reading, verifying.

The encoding and the verification rules themselves are in :mod:`govkit.store._chain`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from govkit.exceptions import StoreError
from govkit.store._chain import (
    GENESIS_HASH,
    AuditEvent,
    ChainReport,
    StoredEvent,
    make_event,
    to_audit_event,
    verify_events,
)
from govkit.store._schema import AuditEventRow, AuditHeadRow

__all__ = ["now", "lock_head", "append_event", "read_events", "verify"]


def now() -> datetime:
    return datetime.now(UTC)


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        sequence=row.sequence,
        format=row.format,
        ts=row.ts,
        actor=row.actor,
        event_type=row.event_type,
        subject=row.subject,
        payload=row.payload,
        payload_digest=row.payload_digest,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def lock_head(session: Session) -> AuditHeadRow | None:
    """The head marker row, locked until the transaction ends (``FOR UPDATE``).

    On PostgreSQL this serialises all writers; SQLite renders no ``FOR UPDATE``
    because its ``BEGIN IMMEDIATE`` already holds the database's write lock.
    """
    return session.exec(
        select(AuditHeadRow).where(col(AuditHeadRow.id) == 1).with_for_update()
    ).first()


def append_event(
    session: Session,
    head: AuditHeadRow,
    event_type: str,
    payload: Mapping[str, Any],
    *,
    actor: str | None,
    subject: str | None,
) -> AuditEvent:
    """Append one event after ``head`` (locked by the caller) and move the head marker."""
    last = session.exec(
        select(col(AuditEventRow.sequence), col(AuditEventRow.hash))
        .order_by(col(AuditEventRow.sequence).desc())
        .limit(1)
    ).first()
    last_seq, last_hash = (0, GENESIS_HASH) if last is None else (last[0], last[1])
    if (last_seq, last_hash) != (head.sequence, head.hash):
        raise StoreError(
            f"refusing to append to the audit log: its head marker records event "
            f"{head.sequence} but the last stored event is {last_seq}; the log was changed "
            "outside govkit. Run verify_chain to find the first bad event."
        )
    event = make_event(
        sequence=head.sequence + 1,
        prev_hash=head.hash,
        moment=now(),
        actor=actor,
        event_type=event_type,
        subject=subject,
        payload=payload,
    )
    session.add(AuditEventRow(**event.__dict__))
    head.sequence, head.hash = event.sequence, event.hash
    session.add(head)
    session.flush()
    return to_audit_event(event)


def read_events(session: Session, *, after: int, limit: int | None) -> list[AuditEvent]:
    stmt = (
        select(AuditEventRow)
        .where(col(AuditEventRow.sequence) > after)
        .order_by(col(AuditEventRow.sequence))
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    events = []
    for row in session.exec(stmt).all():
        try:
            events.append(to_audit_event(_stored(row)))
        except ValueError:
            raise StoreError(
                f"audit event {row.sequence} is corrupt (its payload or timestamp does not "
                "parse); run verify_chain"
            ) from None
    return events


def verify(session: Session) -> ChainReport:
    """Verify the whole chain, streaming the events (run it in a snapshot transaction)."""
    head_row = session.exec(select(AuditHeadRow).where(col(AuditHeadRow.id) == 1)).first()
    head = None if head_row is None else (head_row.sequence, head_row.hash)

    def locate(hash_: str) -> int | None:
        return session.exec(
            select(col(AuditEventRow.sequence)).where(col(AuditEventRow.hash) == hash_)
        ).first()

    table = AuditEventRow.__table__
    rows = (
        session.connection()
        .execution_options(yield_per=1000)
        .execute(table.select().order_by(table.c.sequence))  # type: ignore[attr-defined]
    )
    return verify_events((_stored(row) for row in rows), head=head, locate=locate)
