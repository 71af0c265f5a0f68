"""Helpers for the audit tests: fill a log, read and rewrite it behind the store's back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy

from govkit.store import Store
from govkit.store._chain import EVENT_COLUMNS, GENESIS_HASH, StoredEvent, make_event

T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
INSERT = (
    f"INSERT INTO govkit_audit_events ({', '.join(EVENT_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in EVENT_COLUMNS)})"
)


def fill(store: Store, n: int, *, start: int = 0) -> None:
    """Append ``n`` small events in one batch."""
    store.record_events(
        [("test.event", {"i": i, "text": "ünïcode"}, f"item:{i}") for i in range(start, start + n)],
        actor="ci",
    )


def build_chain(n: int, *, payload_size: int = 0) -> list[StoredEvent]:
    """A valid chain of ``n`` events, built in memory."""
    events, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        event = make_event(
            sequence=seq,
            prev_hash=prev,
            moment=T0 + timedelta(seconds=seq),
            actor=f"user{seq % 3}",
            event_type="test.event",
            subject=f"item:{seq}",
            payload={"seq": seq, "pad": "x" * payload_size},
        )
        events.append(event)
        prev = event.hash
    return events


def rechain(rows: list[StoredEvent]) -> list[StoredEvent]:
    """``rows`` with every hash recomputed in order: a forger who can write to the database."""
    out, prev = [], GENESIS_HASH
    for row in rows:
        event = make_event(
            sequence=row.sequence,
            prev_hash=prev,
            moment=datetime.fromisoformat(row.ts),
            actor=row.actor,
            event_type=row.event_type,
            subject=row.subject,
            payload=json.loads(row.payload),
        )
        out.append(event)
        prev = event.hash
    return out


def engine(db_url: str) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(db_url)


def read_rows(db_url: str) -> list[StoredEvent]:
    eng = engine(db_url)
    try:
        with eng.connect() as conn:
            result = conn.execute(
                sqlalchemy.text(
                    f"SELECT {', '.join(EVENT_COLUMNS)} FROM govkit_audit_events ORDER BY sequence"
                )
            )
            return [StoredEvent(*row) for row in result]
    finally:
        eng.dispose()


def replace_log(db_url: str, rows: list[StoredEvent], *, head: tuple[int, str] | None) -> None:
    """Replace the whole log (and the head marker) with ``rows``, in one transaction."""
    eng = engine(db_url)
    try:
        with eng.begin() as conn:
            conn.execute(sqlalchemy.text("DELETE FROM govkit_audit_events"))
            if rows:
                conn.execute(sqlalchemy.text(INSERT), [row._asdict() for row in rows])
            if head is not None:
                conn.execute(
                    sqlalchemy.text("UPDATE govkit_audit_head SET sequence = :s, hash = :h"),
                    {"s": head[0], "h": head[1]},
                )
    finally:
        eng.dispose()


def execute(db_url: str, *statements: tuple[str, dict]) -> None:
    eng = engine(db_url)
    try:
        with eng.begin() as conn:
            for sql, params in statements:
                conn.execute(sqlalchemy.text(sql), params)
    finally:
        eng.dispose()
