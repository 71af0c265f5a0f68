"""Verifying the audit log's hash chain (format version 1, see :mod:`govkit.store._chain`).

:func:`verify_events` checks events in chunks on a fast path (per event: one
payload digest, the canonical bytes built with one f-string with strings escaped
as ``json.dumps`` escapes them, one chain hash) and re-checks a chunk event by
event with the reference encoding only to find and describe a fault. The result
is a :class:`ChainReport` naming the first bad sequence number and a
:data:`Fault` code; what verification can and cannot show is described in
:mod:`govkit.store._chain`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from json.encoder import encode_basestring
from typing import Any

from govkit.store._chain import (
    AUDIT_FORMAT_VERSION,
    GENESIS_HASH,
    ChainReport,
    Fault,
    StoredEvent,
    canonical_event,
    chain_hash,
    payload_digest,
)

__all__ = ["verify_events"]

_CHUNK = 1024  # events checked together on the fast path
_ESCAPE_CACHE_MAX = 4096
_Found = tuple[int, Fault, str]  # (first bad sequence, fault, message)


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _fast_chunk(
    batch: Sequence[Sequence[Any]], last_seq: int, last_hash: str, escaped: dict[Any, str]
) -> int | None:
    """None when every event of ``batch`` (following ``last_seq``/``last_hash``) is intact,
    else the position of the first event the fast path could not accept.

    Exactly the format-1 rules, with the per-event work kept to one digest, one
    f-string and one chain hash. Anything unusual stops it, and the caller
    re-checks from there with :func:`_careful`, which also describes the fault.
    """
    sha256 = hashlib.sha256
    position = 0
    try:
        stamps = "".join([row[2] for row in batch])
        # A timestamp needing JSON escapes is never written by govkit: take the careful path.
        if '"' in stamps or "\\" in stamps or not stamps.isprintable():
            return 0
        if len(escaped) > _ESCAPE_CACHE_MAX:
            escaped.clear()
            escaped[None] = "null"
        expected = last_seq + 1
        prev_bytes = bytes.fromhex(last_hash)
        for seq, fmt, ts, actor, event_type, subject, text, digest, prev, hash_ in batch:
            if seq != expected or fmt != 1 or prev != last_hash:
                return position
            if digest != "sha256:" + sha256(text.encode()).hexdigest():
                return position
            a = escaped.get(actor)
            if a is None:
                a = escaped[actor] = encode_basestring(actor)
            s = escaped.get(subject)
            if s is None:
                s = escaped[subject] = encode_basestring(subject)
            t = escaped.get(event_type)
            if t is None:
                t = escaped[event_type] = encode_basestring(event_type)
            prev_bytes = sha256(
                prev_bytes
                + f'{{"actor":{a},"payload_digest":"{digest}","seq":{seq},"subject":{s},'
                f'"ts":"{ts}","type":{t},"v":1}}'.encode()
            ).digest()
            last_hash = prev_bytes.hex()
            if last_hash != hash_:
                return position
            expected = seq + 1
            position += 1
    except (TypeError, ValueError, AttributeError):
        return position
    return None


def _name(sequence: int) -> str:
    return "the genesis hash" if sequence == 0 else f"event {sequence}"


def _payload_problem(seq: int, text: str, digest: str) -> str | None:
    try:
        recomputed = payload_digest(text)
    except (AttributeError, UnicodeError):
        recomputed = None
    if recomputed == digest:
        return None
    try:
        json.loads(text)
    except (TypeError, ValueError):
        return f"the payload of event {seq} was changed: it is no longer valid JSON"
    return (
        f"the payload of event {seq} was changed: its digest is {recomputed}, "
        f"the event records {digest}"
    )


def _problem(
    row: StoredEvent, expected_prev: str, locate: Callable[[str], int | None]
) -> tuple[int, Fault, str] | None:
    """(bad sequence, fault, message) for ``row`` (whose sequence is right), or None."""
    seq = row.sequence
    if row.format != AUDIT_FORMAT_VERSION:
        return (
            seq,
            "unsupported-format",
            (f"event {seq} uses audit format {row.format}, which this govkit cannot verify"),
        )
    problem = _payload_problem(seq, row.payload, row.payload_digest)
    if problem is not None:
        return seq, "payload-changed", problem
    if row.prev_hash != expected_prev:
        if seq > 1 and not _is_hex64(row.prev_hash):
            return seq, "edited", f"event {seq} was edited: its prev_hash is not 64 hex digits"
        found = 0 if row.prev_hash == GENESIS_HASH else locate(row.prev_hash)
        if found is not None and found == seq - 2:
            return (
                seq - 1,
                "fork",
                (
                    f"the chain forks: events {seq - 1} and {seq} both follow "
                    f"{_name(seq - 2)} (an event was inserted at {seq - 1}, or event "
                    f"{seq - 1} was replaced)"
                ),
            )
        if found is not None and found != seq - 1:
            return (
                seq,
                "reordered",
                (
                    f"events are out of order: event {seq} links to {_name(found)} "
                    f"instead of event {seq - 1} (rows were swapped or renumbered)"
                ),
            )
        before = "the genesis hash" if seq == 1 else f"the hash of event {seq - 1}"
        return (
            seq,
            "unlinked",
            (
                f"event {seq} does not link to {before}: its prev_hash matches no event "
                "(a row was inserted, replaced or renumbered)"
            ),
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
    except (TypeError, ValueError):
        return seq, "edited", f"event {seq} was edited: its prev_hash is not 64 hex digits"
    if recomputed_hash != row.hash:
        return (
            seq,
            "edited",
            (
                f"event {seq} was edited: its hash does not match its contents "
                "(timestamp, actor, type, subject, digest or hash changed)"
            ),
        )
    return None


def _careful_chunk(
    batch: Sequence[Sequence[Any]],
    last_seq: int,
    last_hash: str,
    locate: Callable[[str], int | None],
) -> tuple[int, Fault, str] | None:
    """The first fault in ``batch``, checked event by event."""
    for values in batch:
        row = values if isinstance(values, StoredEvent) else StoredEvent(*values)
        expected = last_seq + 1
        if row.sequence != expected:
            if row.sequence > expected:
                missing = (
                    f"event {expected} is"
                    if row.sequence == expected + 1
                    else f"events {expected} to {row.sequence - 1} are"
                )
                return (
                    expected,
                    "missing",
                    (f"{missing} missing: the sequence jumps from {last_seq} to {row.sequence}"),
                )
            if row.sequence == last_seq:
                return (
                    row.sequence,
                    "fork",
                    (f"the chain forks: two events carry sequence number {row.sequence}"),
                )
            return expected, "reordered", f"event {row.sequence} has an invalid sequence number"
        found = _problem(row, last_hash, locate)
        if found is not None:
            return found
        last_seq, last_hash = row.sequence, row.hash
    return None


def verify_events(
    rows: Iterable[Sequence[Any]],
    *,
    head: tuple[int, str] | None,
    locate: Callable[[str], int | None],
) -> ChainReport:
    """Recompute the chain over ``rows`` (ordered by sequence) and report the first fault.

    ``rows`` are :class:`StoredEvent` values or plain tuples in the same column
    order; ``head`` is the head marker (sequence, hash), or None when it is
    missing; ``locate(hash)`` returns the sequence of the stored event with that
    hash (only called to describe a fault).
    """
    count = 0
    last_seq, last_hash = 0, GENESIS_HASH
    fault: tuple[int, Fault, str] | None = None
    escaped: dict[Any, str] = {None: "null"}
    iterator = iter(rows)
    while batch := list(islice(iterator, _CHUNK)):
        if fault is None:
            stop = _fast_chunk(batch, last_seq, last_hash, escaped)
            if stop is not None:
                if stop > 0:  # events before ``stop`` passed the exact fast checks
                    last_seq, last_hash = batch[stop - 1][0], batch[stop - 1][9]
                fault = _careful_chunk(batch[stop:], last_seq, last_hash, locate)
        count += len(batch)
        last_seq, last_hash = batch[-1][0], batch[-1][9]
    if fault is None:
        fault = _check_head(head, last_seq, last_hash)
    bad, kind, problem = (None, None, None) if fault is None else fault
    return ChainReport(
        ok=fault is None,
        events=count,
        head_sequence=last_seq,
        head_hash=last_hash,
        first_bad_sequence=bad,
        problem=problem,
        fault=kind,
    )


def _check_head(
    head: tuple[int, str] | None, last_seq: int, last_hash: str
) -> tuple[int, Fault, str] | None:
    if head is None:
        return (
            last_seq + 1,
            "head-mismatch",
            ("the head marker row is missing (govkit_audit_head was altered)"),
        )
    head_seq, head_hash = head
    if head_seq > last_seq:
        return (
            last_seq + 1,
            "missing",
            (
                f"events {last_seq + 1} to {head_seq} are missing from the end of the log: "
                f"the head marker records event {head_seq}, the last stored event is {last_seq}"
            ),
        )
    if head_seq < last_seq:
        return (
            head_seq + 1,
            "head-mismatch",
            (
                f"events {head_seq + 1} to {last_seq} were not appended by govkit: the head "
                f"marker records event {head_seq}"
            ),
        )
    if head_hash != last_hash:
        return (
            last_seq,
            "head-mismatch",
            (
                f"event {last_seq} does not match the head marker's hash "
                "(the last event was replaced)"
            ),
        )
    return None
