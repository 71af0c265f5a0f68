"""The audit log in the database: appending under the head lock, reading, verifying, exporting.

Two ways to append, with the same rules: inside an ORM write transaction that
also writes a record (:func:`append_event`, used by registrations and policy
runs), and :func:`append_raw`, the hot path of ``Store.record_event(s)`` and, with
its ``extra`` hook inserting the record, of ``Store.record_decision``. That
one encodes and digests the payloads first (:func:`encode_events`, no lock
needed), then runs its few statements straight on a driver connection (SQLite:
``BEGIN IMMEDIATE``, one query for the head marker and the last event, insert,
move the head, commit; PostgreSQL: the head marker ``FOR UPDATE``, then the last
event): the ORM's bookkeeping would otherwise cost more than the database work.
Under the lock only the chain hashes are computed. Verification and export stream
the rows from a driver cursor (:func:`_event_rows`) for the same reason.

The encoding and the verification rules themselves are in :mod:`govkit.store._chain`,
checkpoints in :mod:`govkit.store._checkpoint`, the export format in
:mod:`govkit.store._export`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, Any, NamedTuple

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from govkit.exceptions import InputError, StoreError
from govkit.records import INT64_MAX
from govkit.store._chain import (
    EVENT_COLUMNS,
    GENESIS_HASH,
    AuditEvent,
    ChainReport,
    StoredEvent,
    encode_payload,
    format_timestamp,
    link_event,
    to_audit_event,
)
from govkit.store._checkpoint import Checkpoint, check_checkpoints, recording_hashes
from govkit.store._engine import SQLITE_BUSY_TIMEOUT_S
from govkit.store._export import write_jsonl
from govkit.store._keys import VerifyKey
from govkit.store._schema import AuditEventRow, AuditHeadRow, MetaRow
from govkit.store._verify import verify_events

__all__ = [
    "EventRef",
    "NewEvent",
    "EncodedEvent",
    "encode_events",
    "now",
    "lock_head",
    "check_event_type",
    "check_public_event_type",
    "RESERVED_EVENT_PREFIXES",
    "append_event",
    "append_events",
    "append_raw",
    "read_events",
    "read_head",
    "database_id",
    "verify",
    "export",
]

_EVENT_TYPE_MAX = 64


class EventRef(NamedTuple):
    """Where an appended event sits in the log."""

    sequence: int
    hash: str


class NewEvent(NamedTuple):
    """One event to append with :meth:`Store.record_events`."""

    event_type: str
    payload: Mapping[str, Any]
    subject: str | None = None


def check_event_type(event_type: Any) -> None:
    if not isinstance(event_type, str) or not 0 < len(event_type) <= _EVENT_TYPE_MAX:
        raise InputError(
            f"audit event type must be 1-{_EVENT_TYPE_MAX} characters; got {event_type!r}"
        )


#: event types only the store writes, with the row they describe; `audit verify` replays
#: them against the registry tables and the promotion gate believes them, so the public
#: record_event(s) refuse them
RESERVED_EVENT_PREFIXES = ("model.", "dataset.", "api_key.", "policy.")


def check_public_event_type(event_type: Any) -> None:
    """:func:`check_event_type`, and not a type the store writes itself (reserved prefixes)."""
    check_event_type(event_type)
    if event_type.startswith(RESERVED_EVENT_PREFIXES):
        raise InputError(
            f"audit event type {event_type!r} is reserved: the registry writes model.*, "
            "dataset.*, api_key.* and policy.* events itself, with the row each describes; "
            "use another prefix"
        )


def now() -> datetime:
    return datetime.now(UTC)


def stored_time(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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


def _check_tail(session: Session, head: AuditHeadRow) -> None:
    """Refuse to append when the last stored event is not the one the head marker records."""
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


class EncodedEvent(NamedTuple):
    """A :class:`NewEvent` with its payload encoded (:func:`encode_events`)."""

    event_type: str
    subject: str | None
    text: str
    digest: str


class _RawSQL(NamedTuple):
    head: str
    tail: str
    insert: str
    update: str


def _raw_sql(marker: str, lock: str) -> _RawSQL:
    columns = ", ".join(EVENT_COLUMNS)
    return _RawSQL(
        # Two statements on purpose: on PostgreSQL (READ COMMITTED) a statement that
        # waited for the lock sees the locked row's new version but an old snapshot
        # of everything else; the tail query after it sees the newest commits.
        head=f"SELECT sequence, hash FROM govkit_audit_head WHERE id = 1{lock}",
        tail="SELECT sequence, hash FROM govkit_audit_events ORDER BY sequence DESC LIMIT 1",
        insert=(
            f"INSERT INTO govkit_audit_events ({columns}) "
            f"VALUES ({', '.join([marker] * len(EVENT_COLUMNS))})"
        ),
        update=f"UPDATE govkit_audit_head SET sequence = {marker}, hash = {marker} WHERE id = 1",
    )


_SQLITE = _raw_sql("?", "")
_POSTGRES = _raw_sql("%s", " FOR UPDATE")
# SQLite: after BEGIN IMMEDIATE nobody else can write, so one statement reads the
# head marker and the last event together.
_SQLITE_HEAD_AND_TAIL = (
    "SELECT h.sequence, h.hash, t.sequence, t.hash FROM govkit_audit_head AS h "
    "LEFT JOIN (SELECT sequence, hash FROM govkit_audit_events "
    "ORDER BY sequence DESC LIMIT 1) AS t ON 1 WHERE h.id = 1"
)


def encode_events(events: Sequence[NewEvent]) -> list[EncodedEvent]:
    """Encode and digest the payloads: the work that needs no lock (StoreError for bad ones)."""
    return [
        EncodedEvent(event_type, subject, *encode_payload(payload))
        for event_type, payload, subject in events
    ]


def _link(
    events: Sequence[EncodedEvent], sequence: int, prev_hash: str, actor: str | None
) -> tuple[list[StoredEvent], datetime]:
    """The chained events after (``sequence``, ``prev_hash``), all stamped with one timestamp."""
    moment = now()
    ts = format_timestamp(moment)
    built = []
    for event_type, subject, text, digest in events:
        sequence += 1
        event = link_event(sequence, prev_hash, ts, actor, event_type, subject, text, digest)
        built.append(event)
        prev_hash = event.hash
    return built, moment


def _build(
    events: Sequence[NewEvent], sequence: int, prev_hash: str, actor: str | None
) -> list[StoredEvent]:
    """The chained events, all stamped with one timestamp."""
    return _link(encode_events(events), sequence, prev_hash, actor)[0]


def _tail_problem(head: tuple[int, str], tail: tuple[int, str]) -> StoreError:
    return StoreError(
        f"refusing to append to the audit log: its head marker records event "
        f"{head[0]} but the last stored event is {tail[0]}"
        + ("" if tail[0] != head[0] else " with another hash")
        + "; the log was changed outside govkit. Run verify_chain to find the first "
        "bad event."
    )


def append_raw(
    conn: Any,
    *,
    postgres: bool,
    events: Sequence[EncodedEvent],
    actor: str | None,
    extra: Callable[[Any, int], Sequence[EncodedEvent]] | None = None,
    wait: bool = True,
) -> tuple[list[StoredEvent], datetime]:
    """Append ``events`` in one transaction on the DBAPI connection ``conn``, and commit.

    ``extra``, when given, runs its own statements in the transaction once the
    head is locked and checked: it gets the cursor and the sequence number its
    first event will get, and returns the events to append after ``events``
    (so a record and the event describing it commit together, as with
    :func:`append_event`). Returns the stored events and the moment they were
    stamped with. The caller rolls back ``conn`` when this raises.

    ``wait=False`` (SQLite): SQLite's busy timeout is 0 while the write lock is
    taken, so a lock another connection holds fails at once ("database is locked")
    instead of waiting; the timeout is restored before anything else runs.
    """
    cursor = conn.cursor()
    try:
        if postgres:
            sql = _POSTGRES
            cursor.execute(sql.head)
            row = cursor.fetchone()
            if row is not None:
                cursor.execute(sql.tail)
                last = cursor.fetchone()
                row = (*row, *(last or (None, None)))
        else:
            sql = _SQLITE
            if wait:
                cursor.execute("BEGIN IMMEDIATE")
            else:
                cursor.execute("PRAGMA busy_timeout = 0")
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                finally:
                    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
            cursor.execute(_SQLITE_HEAD_AND_TAIL)
            row = cursor.fetchone()
        if row is None:
            raise StoreError(
                "refusing to append to the audit log: its head marker row is missing; the "
                "database was changed outside govkit"
            )
        head_seq, head_hash, last_seq, last_hash = row
        if last_seq is None:
            last_seq, last_hash = 0, GENESIS_HASH
        if last_seq != head_seq or last_hash != head_hash:
            raise _tail_problem((head_seq, head_hash), (last_seq, last_hash))
        if extra is not None:
            events = [*events, *extra(cursor, head_seq + len(events) + 1)]
        built, moment = _link(events, head_seq, head_hash, actor)
        if built:
            if len(built) == 1:
                cursor.execute(sql.insert, built[0])
            else:
                cursor.executemany(sql.insert, built)
            cursor.execute(sql.update, (built[-1].sequence, built[-1].hash))
        conn.commit()
    finally:
        cursor.close()
    return built, moment


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
    (event,) = append_events(session, head, [NewEvent(event_type, payload, subject)], actor=actor)
    return to_audit_event(event)


def append_events(
    session: Session,
    head: AuditHeadRow,
    events: Sequence[NewEvent],
    *,
    actor: str | None,
) -> list[StoredEvent]:
    """Append ``events`` in order after ``head`` (locked by the caller) in ``session``."""
    _check_tail(session, head)
    built = _build(events, head.sequence, head.hash, actor)
    if built:
        session.connection().execute(
            insert(AuditEventRow.__table__),  # type: ignore[attr-defined]
            [event._asdict() for event in built],
        )
        head.sequence, head.hash = built[-1].sequence, built[-1].hash
        session.add(head)
        session.flush()
    return built


def read_events(session: Session, *, after: int, limit: int | None) -> list[AuditEvent]:
    stmt = (
        select(AuditEventRow)
        .where(col(AuditEventRow.sequence) > after)
        .order_by(col(AuditEventRow.sequence))
    )
    if limit is not None:
        stmt = stmt.limit(min(limit, INT64_MAX))  # (a larger int overflows SQLite)
    return [_parsed(row) for row in session.exec(stmt).all()]


def find_events(
    session: Session,
    *,
    subjects: Sequence[str] = (),
    event_types: Sequence[str] = (),
    since: datetime | None = None,
    limit: int | None = None,
) -> list[AuditEvent]:
    """The newest events (newest first) with one of ``subjects`` and one of
    ``event_types`` (each filter only when given), at or after ``since``."""
    stmt = select(AuditEventRow).order_by(col(AuditEventRow.sequence).desc())
    if subjects:
        stmt = stmt.where(col(AuditEventRow.subject).in_(list(subjects)))
    if event_types:
        stmt = stmt.where(col(AuditEventRow.event_type).in_(list(event_types)))
    if since is not None:
        # timestamps are stored as the hashed ISO text in UTC, fixed width up to the seconds
        bound = since.astimezone(UTC).replace(microsecond=0).isoformat()
        stmt = stmt.where(col(AuditEventRow.ts) >= bound)
    if limit is not None:
        stmt = stmt.limit(min(limit, INT64_MAX))  # (a larger int overflows SQLite)
    return [_parsed(row) for row in session.exec(stmt).all()]


def event_types(session: Session) -> dict[str, int]:
    """Every event type in the log, with how many events have it (by type)."""
    stmt = (
        select(AuditEventRow.event_type, func.count())
        .group_by(col(AuditEventRow.event_type))
        .order_by(col(AuditEventRow.event_type))
    )
    return {event_type: n for event_type, n in session.exec(stmt).all()}


def _parsed(row: AuditEventRow) -> AuditEvent:
    try:
        return to_audit_event(_stored(row))
    except ValueError:
        raise StoreError(
            f"audit event {row.sequence} is corrupt (its payload or timestamp does not "
            "parse); run verify_chain"
        ) from None


def read_head(session: Session) -> tuple[int, str] | None:
    """The head marker (sequence, hash), or None when the row is missing."""
    row = session.exec(select(AuditHeadRow).where(col(AuditHeadRow.id) == 1)).first()
    return None if row is None else (row.sequence, row.hash)


def database_id(session: Session) -> str | None:
    """The database's id (``govkit_meta``), None before schema version 2."""
    return session.exec(select(col(MetaRow.value)).where(col(MetaRow.key) == "database_id")).first()


_FETCH = 2000  # rows per round trip when streaming the log
_SELECT_EVENTS = f"SELECT {', '.join(EVENT_COLUMNS)} FROM govkit_audit_events ORDER BY sequence"


def _event_rows(session: Session) -> Iterator[tuple[Any, ...]]:
    """Every event as a tuple of the stored columns in StoredEvent order, streamed.

    Straight from a driver cursor in the session's transaction (so in its
    snapshot), ``_FETCH`` rows at a time: SQLAlchemy's per-row result objects
    would cost more than verifying the row. On PostgreSQL a server-side cursor,
    so the log never has to fit in memory.
    """
    driver: Any = session.connection().connection.dbapi_connection
    postgres = session.get_bind().dialect.name == "postgresql"
    cursor = driver.cursor(name="govkit_audit_events") if postgres else driver.cursor()
    try:
        cursor.execute(_SELECT_EVENTS)
        while rows := cursor.fetchmany(_FETCH):
            yield from rows
    finally:
        cursor.close()


def verify(
    session: Session,
    *,
    checkpoints: Sequence[Checkpoint] = (),
    public_key: VerifyKey | None = None,
) -> ChainReport:
    """Verify the whole chain and ``checkpoints`` (run it in a snapshot transaction)."""
    head = read_head(session)

    def locate(hash_: str) -> int | None:
        return session.exec(
            select(col(AuditEventRow.sequence)).where(col(AuditEventRow.hash) == hash_)
        ).first()

    wanted = {checkpoint.sequence for checkpoint in checkpoints}
    hashes: dict[int, str] = {}
    report = verify_events(
        recording_hashes(_event_rows(session), wanted, hashes), head=head, locate=locate
    )
    if checkpoints:
        report = check_checkpoints(
            report,
            checkpoints,
            hash_at=hashes.get,
            database_id=database_id(session),
            public_key=public_key,
        )
    return report


def export(session: Session, out: IO[str]) -> int:
    """Write the log as JSON Lines (see :mod:`govkit.store._export`); returns the event count."""
    head = read_head(session) or (0, GENESIS_HASH)
    return write_jsonl(out, _event_rows(session), database_id=database_id(session), head=head)
