"""Verifying the audit log's hash chain (format version 1, see :mod:`govkit.store._chain`).

:func:`verify_events` checks events in chunks. A chunk first goes through
:func:`_chunk_intact`, which checks all of it at once: the sequence numbers,
formats and links compared as whole columns, the payload digests compared as
one joined string, and the chain recomputed in one tight loop (per event one
f-string, in which strings are escaped exactly as ``json.dumps`` escapes them,
and two SHA-256 calls). Any doubt sends the chunk to :func:`_first_unverified`,
the same rules event by event, which finds where the chunk stops being
intact; from there :func:`_careful_chunk` re-checks with the reference
encoding (:func:`~govkit.store._chain.canonical_event`) and describes the
fault. So the fast paths only ever accept what the reference accepts; the
tests check that they agree on every kind of tampering. The result is a
:class:`ChainReport` naming the first bad sequence number and a :data:`Fault`
code; what verification can and cannot show is described in
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

_CHUNK = 256  # events checked together (small enough to stay in the CPU cache)
_ESCAPE_CACHE_MAX = 4096
_DIGEST_PREFIX = "sha256:"
_DIGEST_LENGTH = len(_DIGEST_PREFIX) + 64
_JSON_ESCAPED = bytes(range(0x20)) + b'"\\'  # the ASCII characters JSON strings escape
_Found = tuple[int, Fault, str]  # (first bad sequence, fault, message)
# What a malformed row (wrong types, bad text) raises on the fast paths: they then give
# way to the careful path, which names the fault.
_MALFORMED = (TypeError, ValueError, AttributeError, KeyError)


def _is_hex64(text: Any) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _plain_stamps(stamps: str) -> bool:
    """True when timestamps (joined) need no JSON escaping, as govkit always writes them.

    ``json.dumps`` (``ensure_ascii=False``) escapes exactly ``"``, ``\\`` and the
    control characters below U+0020. Non-ASCII text is left to the careful path.
    """
    if not stamps.isascii():
        return False
    ascii_bytes = stamps.encode()
    return len(ascii_bytes.translate(None, _JSON_ESCAPED)) == len(ascii_bytes)


def _escapes(escaped: dict[Any, str], values: Iterable[Any]) -> None:
    """Add the JSON encoding of each new value (str or None; TypeError for others)."""
    if len(escaped) > _ESCAPE_CACHE_MAX:
        escaped.clear()
        escaped[None] = "null"
    for value in values:
        if value not in escaped:
            escaped[value] = encode_basestring(value)


def _chunk_intact(
    batch: Sequence[Sequence[Any]], last_seq: int, last_hash: str, escaped: dict[Any, str]
) -> bool:
    """True when every event of ``batch`` (after ``last_seq``/``last_hash``) is intact.

    Exactly the format-1 rules, checked column by column so that the Python work
    per event is one f-string and two SHA-256 calls. Joined strings are compared
    only after checking that every part has its fixed length, so a match means
    every event matches. False, or an exception from ``_MALFORMED``, means "not
    sure": the caller re-checks event by event.
    """
    count = len(batch)
    # strict: rows of unequal length raise; rows of another length fail to unpack.
    columns = zip(*batch, strict=True)
    seqs, formats, stamps, actors, types, subjects, texts, digests, prevs, hashes = columns
    if (
        seqs != tuple(range(last_seq + 1, last_seq + count + 1))
        or set(map(type, seqs)) != {int}
        or formats.count(AUDIT_FORMAT_VERSION) != count
        or prevs[0] != last_hash
        or prevs[1:] != hashes[:-1]
        or set(map(len, digests)) != {_DIGEST_LENGTH}
        or set(map(len, hashes)) != {64}
        or not _plain_stamps("".join(stamps))
    ):
        return False
    sha256 = hashlib.sha256
    recomputed = [sha256(text.encode()).hexdigest() for text in texts]
    if "".join(digests) != _DIGEST_PREFIX + _DIGEST_PREFIX.join(recomputed):
        return False
    _escapes(escaped, {*actors, *types, *subjects})
    escape = escaped.__getitem__
    canonicals = [
        f'{{"actor":{a},"payload_digest":"{d}","seq":{q},"subject":{s},'
        f'"ts":"{t}","type":{y},"v":1}}'.encode()
        for a, d, q, s, t, y in zip(
            map(escape, actors),
            digests,
            seqs,
            map(escape, subjects),
            stamps,
            map(escape, types),
            strict=True,
        )
    ]
    link = bytes.fromhex(last_hash)
    links: list[bytes] = []
    keep = links.append
    for canonical in canonicals:
        link = sha256(link + canonical).digest()
        keep(link)
    return b"".join(links).hex() == "".join(hashes)


def _first_unverified(
    batch: Sequence[Sequence[Any]], last_seq: int, last_hash: str, escaped: dict[Any, str]
) -> int:
    """The position of the first event of ``batch`` that the fast rules cannot accept.

    The same rules as :func:`_chunk_intact`, event by event; the events before
    the returned position are intact.
    """
    sha256 = hashlib.sha256
    position = 0
    try:
        if not _plain_stamps("".join([row[2] for row in batch])):
            return 0
        expected = last_seq + 1
        prev_bytes = bytes.fromhex(last_hash)
        for seq, fmt, ts, actor, event_type, subject, text, digest, prev, hash_ in batch:
            if type(seq) is not int or seq != expected or fmt != 1 or prev != last_hash:
                return position
            if digest != _DIGEST_PREFIX + sha256(text.encode()).hexdigest():
                return position
            _escapes(escaped, (actor, subject, event_type))
            a, s, t = escaped[actor], escaped[subject], escaped[event_type]
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
    except _MALFORMED:
        return position
    return position


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
    except (TypeError, ValueError):  # bytes, a list, a lone surrogate ... where text belongs
        return (
            seq,
            "edited",
            f"event {seq} was edited: a field holds a value the audit format cannot encode",
        )
    try:
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
        try:
            row.sequence > expected  # noqa: B015  (a number? a database may hold anything)
        except TypeError:
            return expected, "reordered", f"event {expected} has an invalid sequence number"
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
            try:
                intact = _chunk_intact(batch, last_seq, last_hash, escaped)
            except _MALFORMED:
                intact = False
            if not intact:
                stop = _first_unverified(batch, last_seq, last_hash, escaped)
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
