"""The audit log's hash chain: encoding (format version 1) and verification.

Every registration, policy run, rendered card, explained decision and erasure
appends one event to the audit log, in the same database transaction as the
record it describes. Events are numbered 1, 2, 3, ... without gaps and each
carries the hash of the one before it, so editing, removing, reordering or
inserting an event breaks the chain.

Encoding, format version 1
--------------------------
``payload``
    The event's data, stored as canonical JSON text::

        json.dumps(payload, sort_keys=True, separators=(",", ":"),
                   ensure_ascii=False, allow_nan=False)

    The stored text is hashed byte for byte: a payload rewritten into
    equivalent but different JSON text counts as changed.
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

Personal data
-------------
Hashed content is permanent: an event can never be edited or removed without
breaking the chain. So payloads, actors and subjects must never hold personal
data in the clear. Put a salted commitment (:func:`govkit.store.commit`) or a
ciphertext there instead, with the salt or key kept outside the log; erasing a
person then means destroying their salt (:meth:`Store.erase_subject`), which
leaves every event, and so the chain, verifiable.

What verification shows, and what it cannot
--------------------------------------------
:func:`~govkit.store._verify.verify_events` recomputes every payload digest and
every hash and reports the first event that is wrong, with a :data:`Fault`
code: a changed payload (``payload-changed``), an edited field (``edited``), a
missing event (``missing``), events out of order (``reordered``), two events
following the same predecessor (``fork``), or a row that links to no event
(``unlinked``). It also compares the last event with the head marker row
(``head-mismatch``), which catches naive truncation or appending done with raw
SQL. An export (:mod:`govkit.store._export`) verifies the same way offline.

The log guarantees (tested in ``tests/test_audit_reliability.py``):

- every record and the event describing it are committed together or not at
  all, also when a writer is killed mid-write;
- concurrent writers never fork, lose or duplicate events: appends are
  serialised on the head marker, and ``prev_hash`` is unique in the database;
- any single edited, deleted, swapped or inserted event is reported at its
  sequence number.

It does **not** guarantee:

- **without a signed checkpoint** kept outside the database
  (:mod:`govkit.store._checkpoint`), that nothing was removed from the end
  (together with the head marker) or that the whole log was not rewritten:
  anyone who can write to the database can recompute every hash. With a
  checkpoint for sequence N, any change to events 1..N, and the loss of any of
  them, is detected; events after the newest checkpoint have only the chain's
  protection. A checkpoint proves only as much as its key is secret and its
  public key was obtained independently;
- that events are true: content recorded falsely by someone allowed to write
  is faithfully preserved, and ``ts`` is the writer's clock, not a trusted time.

Verification itself is in :mod:`govkit.store._verify`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from govkit.exceptions import StoreError

if TYPE_CHECKING:
    from govkit.store._checkpoint import CheckpointCheck

__all__ = [
    "AUDIT_FORMAT_VERSION",
    "GENESIS_HASH",
    "Fault",
    "AuditEvent",
    "ChainReport",
    "StoredEvent",
    "canonical_json",
    "payload_digest",
    "format_timestamp",
    "canonical_event",
    "chain_hash",
    "make_event",
]

#: Version of the audit event encoding described in this module's docstring.
AUDIT_FORMAT_VERSION = 1

#: ``prev_hash`` of the first event.
GENESIS_HASH = "0" * 64

#: What is wrong with the first bad event (see the module docstring).
Fault = Literal[
    "payload-changed",
    "edited",
    "missing",
    "reordered",
    "fork",
    "unlinked",
    "head-mismatch",
    "unsupported-format",
    "truncated",
    "checkpoint-mismatch",
    "checkpoint-signature",
]


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
    """The outcome of verifying the audit log (:meth:`Store.verify_chain`, :func:`verify_jsonl`).

    ``events`` counts the stored events; ``head_sequence``/``head_hash`` are the
    last stored event's (0 and the genesis hash for an empty log). When the
    chain is broken, ``first_bad_sequence`` is the first event found wrong,
    ``problem`` says what is wrong with it and ``fault`` classifies it.
    ``checkpoints`` holds one entry per checkpoint checked; with none, truncation
    of the tail and a rewrite of the whole log cannot be detected.
    """

    ok: bool
    events: int
    head_sequence: int
    head_hash: str
    first_bad_sequence: int | None = None
    problem: str | None = None
    fault: Fault | None = None
    checkpoints: tuple[CheckpointCheck, ...] = ()


class StoredEvent(NamedTuple):
    """The stored columns of one event, exactly as read from the database (in column order)."""

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


#: The audit table's columns in :class:`StoredEvent` order.
EVENT_COLUMNS = StoredEvent._fields


# json.dumps(value, **these options) builds this very encoder on every call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (sorted keys, no spaces, UTF-8, no NaN).

    Exactly ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False)``, with the encoder made once.
    """
    return _CANONICAL.encode(value)


def record_digest(value: Any) -> str:
    """``sha256:`` of the canonical JSON of part of a registry record (e.g. its metadata)."""
    return payload_digest(canonical_json(value))


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


def _canonical_fast(
    sequence: int,
    ts: str,
    actor: str | None,
    event_type: str,
    subject: str | None,
    digest: str,
) -> bytes:
    """:func:`canonical_event` without building a dict (same bytes; pinned by the tests).

    Only for a ``ts`` from :func:`format_timestamp` and a ``digest`` from
    :func:`payload_digest`: both are plain ASCII that JSON leaves unescaped.
    """
    a = "null" if actor is None else encode_basestring(actor)
    s = "null" if subject is None else encode_basestring(subject)
    return (
        f'{{"actor":{a},"payload_digest":"{digest}","seq":{int(sequence)},'
        f'"subject":{s},"ts":"{ts}","type":{encode_basestring(event_type)},"v":1}}'
    ).encode()


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """``SHA-256(bytes.fromhex(prev_hash) || canonical)`` as hex."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


def _json_payload(payload: Mapping[str, Any]) -> str:
    """The canonical text of ``payload``; StoreError for anything JSON would not keep as is."""
    if not isinstance(payload, Mapping):
        raise StoreError(
            f"an audit event payload must be a dict of JSON values; got {type(payload).__name__}"
        )
    try:
        plain = payload if type(payload) is dict else dict(payload)
        text = canonical_json(plain)  # first: it refuses circular references, which
        _check_keys(plain)  # would send this walk round in circles for ever
        return text
    except (TypeError, ValueError) as exc:
        raise StoreError(
            "an audit event payload must hold only JSON values (str keys; str, int, finite "
            f"float, bool, None, list and dict values): {exc}"
        ) from None


_CONTAINERS = (dict, list, tuple)
_PLAIN_CONTAINERS = frozenset(_CONTAINERS)
_SCALARS = frozenset((str, int, float, bool, type(None)))


def _check_keys(value: dict[Any, Any]) -> None:
    """JSON would turn non-string keys into strings silently; refuse them instead.

    Only dicts, lists and tuples (and their subclasses) are walked: json.dumps
    refuses any other container. Written for speed: it runs for every event.
    """
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key in item:
                if type(key) is not str and not isinstance(key, str):
                    raise TypeError(f"keys must be str, not {type(key).__name__}")
            children = item.values()
        else:
            children = item
        for child in children:
            kind = type(child)
            if kind in _PLAIN_CONTAINERS or (
                kind not in _SCALARS and isinstance(child, _CONTAINERS)
            ):
                pending.append(child)


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
    return build_event(
        sequence, prev_hash, format_timestamp(moment), actor, event_type, subject, payload
    )


def build_event(
    sequence: int,
    prev_hash: str,
    ts: str,
    actor: str | None,
    event_type: str,
    subject: str | None,
    payload: Mapping[str, Any],
) -> StoredEvent:
    """:func:`make_event` with ``ts`` already formatted (one timestamp for a batch)."""
    text, digest = encode_payload(payload)
    return link_event(sequence, prev_hash, ts, actor, event_type, subject, text, digest)


def encode_payload(payload: Mapping[str, Any]) -> tuple[str, str]:
    """The stored text of ``payload`` and its digest: the part of an event that does not
    depend on its place in the chain (so appends compute it before taking the lock)."""
    text = _json_payload(payload)
    return text, payload_digest(text)


def link_event(
    sequence: int,
    prev_hash: str,
    ts: str,
    actor: str | None,
    event_type: str,
    subject: str | None,
    text: str,
    digest: str,
) -> StoredEvent:
    """The event at ``sequence`` after ``prev_hash``, its payload already encoded.

    ``ts`` from :func:`format_timestamp`, ``text``/``digest`` from :func:`encode_payload`.
    """
    canonical = _canonical_fast(sequence, ts, actor, event_type, subject, digest)
    return StoredEvent(  # positional: this is the hot path of appends
        sequence,
        AUDIT_FORMAT_VERSION,
        ts,
        actor,
        event_type,
        subject,
        text,
        digest,
        prev_hash,
        hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest(),
    )


def to_audit_event(
    row: StoredEvent, *, payload: dict[str, Any] | None = None, timestamp: datetime | None = None
) -> AuditEvent:
    """The public view of a stored event (``payload``/``timestamp``: already parsed)."""
    return AuditEvent(
        sequence=row.sequence,
        timestamp=datetime.fromisoformat(row.ts) if timestamp is None else timestamp,
        actor=row.actor,
        event_type=row.event_type,
        subject=row.subject,
        payload=json.loads(row.payload) if payload is None else payload,
        payload_digest=row.payload_digest,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
