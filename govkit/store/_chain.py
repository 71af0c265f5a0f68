"""The audit log's hash chain: encoding (format version 1) and verification.

Every registration and policy run appends one event to the audit log, in the
same database transaction as the record it describes. Events are numbered
1, 2, 3, ... without gaps and each carries the hash of the one before it, so
editing, removing, reordering or inserting an event breaks the chain.

Encoding, format version 1
--------------------------
``payload``
    The event's data, stored as canonical JSON text::

        json.dumps(payload, sort_keys=True, separators=(",", ":"),
                   ensure_ascii=False, allow_nan=False)

``payload_digest``
    ``"sha256:"`` + hex SHA-256 of the UTF-8 bytes of that text.
``ts``
    When the event was recorded: ISO-8601, UTC, with microseconds, as
    ``datetime.isoformat(timespec="microseconds")`` of an aware UTC datetime,
    e.g. ``"2025-03-01T09:30:00.000000+00:00"``. Stored as this exact text.
``canonical(event)``
    The UTF-8 bytes of::

        json.dumps({"v": 1, "seq": sequence, "ts": ts, "actor": actor,
                    "type": event_type, "subject": subject,
                    "payload_digest": payload_digest},
                   sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    (``actor`` and ``subject`` may be ``null``.)
``hash``
    Hex SHA-256 of ``bytes.fromhex(prev_hash) + canonical(event)``.
``prev_hash``
    The previous event's ``hash``; for event 1 the genesis value, 64 zeros.

A worked example is pinned by ``tests/test_store_chain.py`` so the encoding
cannot drift. Changing it: add format version 2 (the ``format`` column of
each event says which encoding hashed it), keep verifying version-1 events
under test, and describe the change here.

What verification can and cannot show
-------------------------------------
:func:`verify_events` recomputes every payload digest and every hash and
reports the first event that is wrong: a changed payload, an edited field
(hash mismatch), a missing event (sequence gap), events out of order, or a
row that does not link to its predecessor. It also compares the last event
with the head marker row, which catches naive truncation or appending done
with raw SQL. Without an external checkpoint (a head hash kept somewhere the
database's writers cannot change), removing events from the end together with
the head marker, or rewriting the whole log, is **not** detectable: anyone who
can write to the database can recompute every hash. Checkpoints are planned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from govkit.exceptions import StoreError

__all__ = [
    "AUDIT_FORMAT_VERSION",
    "GENESIS_HASH",
    "AuditEvent",
    "ChainReport",
    "canonical_json",
    "payload_digest",
    "format_timestamp",
    "canonical_event",
    "chain_hash",
    "make_event",
    "verify_events",
]

#: Version of the audit event encoding described in this module's docstring.
AUDIT_FORMAT_VERSION = 1

#: ``prev_hash`` of the first event.
GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    """One event of the audit log, as stored."""

    sequence: int
    timestamp: datetime  # UTC
    actor: str | None
    event_type: str
    subject: str | None
    payload: dict[str, Any]
    payload_digest: str  # "sha256:<hex>" of the canonical payload JSON
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of :meth:`Store.verify_chain`.

    ``events`` counts the stored events; ``head_sequence``/``head_hash`` are the
    last stored event's (0 and the genesis hash for an empty log). When the
    chain is broken, ``first_bad_sequence`` is the first event found wrong and
    ``problem`` says what is wrong with it.
    """

    ok: bool
    events: int
    head_sequence: int
    head_hash: str
    first_bad_sequence: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class StoredEvent:
    """The stored columns of one event, exactly as read from the database."""

    sequence: int
    format: int
    ts: str
    actor: str | None
    event_type: str
    subject: str | None
    payload: str
    payload_digest: str
    prev_hash: str
    hash: str


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (sorted keys, no spaces, UTF-8, no NaN)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def payload_digest(payload_text: str) -> str:
    return "sha256:" + hashlib.sha256(payload_text.encode("utf-8")).hexdigest()


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with microseconds, the ``ts`` of format version 1."""
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_event(
    *,
    sequence: int,
    ts: str,
    actor: str | None,
    event_type: str,
    subject: str | None,
    payload_digest: str,
) -> bytes:
    """The bytes that format version 1 hashes for one event (after ``prev_hash``)."""
    return json.dumps(
        {
            "v": 1,
            "seq": sequence,
            "ts": ts,
            "actor": actor,
            "type": event_type,
            "subject": subject,
            "payload_digest": payload_digest,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """``SHA-256(bytes.fromhex(prev_hash) || canonical)`` as hex."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


def _json_payload(payload: Mapping[str, Any]) -> str:
    if not isinstance(payload, Mapping):
        raise StoreError(
            f"an audit event payload must be a dict of JSON values; got {type(payload).__name__}"
        )
    try:
        _check_keys(payload)
        return canonical_json(dict(payload))
    except (TypeError, ValueError) as exc:
        raise StoreError(
            "an audit event payload must hold only JSON values (str keys; str, int, finite "
            f"float, bool, None, list and dict values): {exc}"
        ) from None


def _check_keys(value: Any) -> None:
    """JSON would turn non-string keys into strings silently; refuse them instead."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"keys must be str, not {type(key).__name__} ({key!r})")
            _check_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_keys(item)


def make_event(
    *,
    sequence: int,
    prev_hash: str,
    moment: datetime,
    actor: str | None,
    event_type: str,
    subject: str | None,
    payload: Mapping[str, Any],
) -> StoredEvent:
    """Build the next event of the chain (format version 1)."""
    text = _json_payload(payload)
    digest = payload_digest(text)
    ts = format_timestamp(moment)
    canonical = canonical_event(
        sequence=sequence,
        ts=ts,
        actor=actor,
        event_type=event_type,
        subject=subject,
        payload_digest=digest,
    )
    return StoredEvent(
        sequence=sequence,
        format=AUDIT_FORMAT_VERSION,
        ts=ts,
        actor=actor,
        event_type=event_type,
        subject=subject,
        payload=text,
        payload_digest=digest,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, canonical),
    )


def to_audit_event(row: StoredEvent) -> AuditEvent:
    return AuditEvent(
        sequence=row.sequence,
        timestamp=datetime.fromisoformat(row.ts),
        actor=row.actor,
        event_type=row.event_type,
        subject=row.subject,
        payload=json.loads(row.payload),
        payload_digest=row.payload_digest,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _problem(
    row: StoredEvent, expected_prev: str, locate: Callable[[str], int | None]
) -> str | None:
    """What is wrong with ``row`` (whose sequence is right), or None."""
    seq = row.sequence
    if row.format != AUDIT_FORMAT_VERSION:
        return f"event {seq} uses audit format {row.format}, which this govkit cannot verify"
    try:
        parsed = json.loads(row.payload)
        recomputed = payload_digest(canonical_json(parsed))
    except ValueError:
        return f"the payload of event {seq} was changed: it is no longer valid JSON"
    if recomputed != row.payload_digest:
        return (
            f"the payload of event {seq} was changed: its digest is {recomputed}, "
            f"the event records {row.payload_digest}"
        )
    if row.prev_hash != expected_prev:
        if seq > 1 and not _is_hex64(row.prev_hash):
            return f"event {seq} was edited: its prev_hash is not 64 hex digits"
        found = locate(row.prev_hash)
        if found is not None and found != seq - 1:
            return (
                f"events are out of order: event {seq} links to event {found} "
                f"instead of event {seq - 1} (rows were swapped or renumbered)"
            )
        before = "the genesis hash" if seq == 1 else f"the hash of event {seq - 1}"
        return (
            f"event {seq} does not link to {before}: its prev_hash matches no event "
            "(a row was inserted, replaced or renumbered)"
        )
    try:
        canonical = canonical_event(
            sequence=seq,
            ts=row.ts,
            actor=row.actor,
            event_type=row.event_type,
            subject=row.subject,
            payload_digest=row.payload_digest,
        )
        recomputed_hash = chain_hash(row.prev_hash, canonical)
    except ValueError:
        return f"event {seq} was edited: its prev_hash is not 64 hex digits"
    if recomputed_hash != row.hash:
        return (
            f"event {seq} was edited: its hash does not match its contents "
            "(timestamp, actor, type, subject, digest or hash changed)"
        )
    return None


def verify_events(
    rows: Iterable[StoredEvent],
    *,
    head: tuple[int, str] | None,
    locate: Callable[[str], int | None],
) -> ChainReport:
    """Recompute the chain over ``rows`` (ordered by sequence) and report the first fault.

    ``head`` is the head marker (sequence, hash), or None when it is missing;
    ``locate(hash)`` returns the sequence of the stored event with that hash.
    """
    count = 0
    last_seq, last_hash = 0, GENESIS_HASH
    bad: int | None = None
    problem: str | None = None
    for row in rows:
        count += 1
        if bad is None:
            expected = last_seq + 1
            if row.sequence != expected:
                bad = expected
                if row.sequence > expected:
                    missing = (
                        f"event {expected} is"
                        if row.sequence == expected + 1
                        else f"events {expected} to {row.sequence - 1} are"
                    )
                    problem = (
                        f"{missing} missing: the sequence jumps from {last_seq} to {row.sequence}"
                    )
                else:
                    problem = f"event {row.sequence} has an invalid sequence number"
            else:
                problem = _problem(row, last_hash, locate)
                if problem is not None:
                    bad = row.sequence
        last_seq, last_hash = row.sequence, row.hash
    if bad is None:
        bad, problem = _check_head(head, last_seq, last_hash)
    return ChainReport(
        ok=bad is None,
        events=count,
        head_sequence=last_seq,
        head_hash=last_hash,
        first_bad_sequence=bad,
        problem=problem,
    )


def _check_head(
    head: tuple[int, str] | None, last_seq: int, last_hash: str
) -> tuple[int | None, str | None]:
    if head is None:
        return last_seq + 1, "the head marker row is missing (govkit_audit_head was altered)"
    head_seq, head_hash = head
    if head_seq > last_seq:
        return last_seq + 1, (
            f"events {last_seq + 1} to {head_seq} are missing from the end of the log: "
            f"the head marker records event {head_seq}, the last stored event is {last_seq}"
        )
    if head_seq < last_seq:
        return head_seq + 1, (
            f"events {head_seq + 1} to {last_seq} were not appended by govkit: the head "
            f"marker records event {head_seq}"
        )
    if head_hash != last_hash:
        return last_seq, (
            f"event {last_seq} does not match the head marker's hash (the last event was replaced)"
        )
    return None, None
