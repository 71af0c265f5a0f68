"""Signed checkpoints of the audit log: Ed25519 over (sequence, head hash, time, database id).

A hash chain alone cannot show that events were removed from its end, or that
the whole log was rewritten: whoever can write to the database can recompute
every hash. A checkpoint, signed with a key the database never sees and kept
somewhere its writers cannot change (a ticket, a release artefact, a WORM
bucket, a printed card), pins the log up to its sequence number: verification
with the checkpoint then detects any change to events 1..N, and their loss.

Checkpoint format, version 1
----------------------------
A JSON object (written with sorted keys and an indent)::

    {"type": "govkit.audit.checkpoint", "version": 1, "audit_format": 1,
     "database_id": "<32 hex digits, from govkit_meta>",
     "sequence": N, "head_hash": "<hash of event N; 64 zeros when N = 0>",
     "timestamp": "<ISO-8601 UTC when signed>",
     "key_id": "ed25519:<first 16 hex digits of SHA-256 of the raw public key>",
     "public_key": "<base64 of the 32-byte Ed25519 public key>",
     "signature": "<base64 of the 64-byte Ed25519 signature>"}

The signature covers the bytes ``b"govkit-audit-checkpoint-v1\\n"`` followed by
the canonical JSON (sorted keys, no spaces, UTF-8) of every other field except
``key_id`` (derived from ``public_key``) and ``signature``. Unknown fields are
refused, so a checkpoint cannot silently carry unsigned claims.

Keys (:mod:`govkit.store._keys`) come from a file or the
``GOVKIT_AUDIT_SIGNING_KEY`` environment variable, never from the database, and
are never logged or shown in an error. A checkpoint carries its public key so it
can be checked on its own, but only ``--public-key`` (a key obtained
independently) proves *who* signed it: without it, anyone able to rewrite the
log could sign a new checkpoint too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from govkit.exceptions import InputError
from govkit.store._chain import (
    AUDIT_FORMAT_VERSION,
    GENESIS_HASH,
    ChainReport,
    Fault,
    canonical_json,
    format_timestamp,
)
from govkit.store._keys import SigningKey, VerifyKey, key_id

__all__ = [
    "CHECKPOINT_TYPE",
    "CHECKPOINT_VERSION",
    "Checkpoint",
    "CheckpointCheck",
    "sign_checkpoint",
    "parse_checkpoint",
    "read_checkpoint",
    "check_checkpoints",
]

CHECKPOINT_TYPE = "govkit.audit.checkpoint"
CHECKPOINT_VERSION = 1
_DOMAIN = b"govkit-audit-checkpoint-v1\n"
_FIELDS = (
    "type",
    "version",
    "audit_format",
    "database_id",
    "sequence",
    "head_hash",
    "timestamp",
    "key_id",
    "public_key",
    "signature",
)


# -- the checkpoint document --------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "event ``sequence`` of database ``database_id`` had ``head_hash``"."""

    sequence: int
    head_hash: str
    timestamp: str
    database_id: str
    public_key: str  # base64 of the raw 32-byte key
    signature: str  # base64 of the 64-byte signature
    source: str = "<checkpoint>"  # where it was read from, for messages (not serialised)

    @property
    def key_id(self) -> str:
        return key_id(base64.b64decode(self.public_key))

    def signed_fields(self) -> dict[str, Any]:
        return {
            "type": CHECKPOINT_TYPE,
            "version": CHECKPOINT_VERSION,
            "audit_format": AUDIT_FORMAT_VERSION,
            "database_id": self.database_id,
            "sequence": self.sequence,
            "head_hash": self.head_hash,
            "timestamp": self.timestamp,
            "public_key": self.public_key,
        }

    def message(self) -> bytes:
        return _DOMAIN + canonical_json(self.signed_fields()).encode("utf-8")

    def to_json(self) -> str:
        document = {**self.signed_fields(), "key_id": self.key_id, "signature": self.signature}
        return json.dumps(document, indent=2, sort_keys=True) + "\n"


def sign_checkpoint(
    *,
    sequence: int,
    head_hash: str,
    database_id: str,
    key: SigningKey,
    moment: datetime | None = None,
) -> Checkpoint:
    """Sign (sequence, head hash, time, database id) with ``key``."""
    unsigned = Checkpoint(
        sequence=sequence,
        head_hash=head_hash,
        timestamp=format_timestamp(moment or datetime.now(UTC)),
        database_id=database_id,
        public_key=base64.b64encode(key.public_key.raw).decode("ascii"),
        signature="",
    )
    signature = key.sign(unsigned.message())
    return replace(unsigned, signature=base64.b64encode(signature).decode("ascii"))


def _is_hex(text: Any, length: int) -> bool:
    return (
        isinstance(text, str) and len(text) == length and all(c in "0123456789abcdef" for c in text)
    )


def parse_checkpoint(text: str, *, source: str = "<checkpoint>") -> Checkpoint:
    """Read a checkpoint document strictly; InputError naming ``source`` and the field."""

    def bad(why: str) -> InputError:
        return InputError(f"{source}: not a valid govkit audit checkpoint: {why}")

    try:
        document = json.loads(text)
    except ValueError as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise bad("expected a JSON object")
    if document.get("type") != CHECKPOINT_TYPE:
        raise bad(f"'type' must be {CHECKPOINT_TYPE!r}, found {document.get('type')!r}")
    if document.get("version") != CHECKPOINT_VERSION:
        raise bad(
            f"'version' {document.get('version')!r} is not supported (this govkit reads "
            f"version {CHECKPOINT_VERSION})"
        )
    unknown = sorted(set(document) - set(_FIELDS))
    missing = [name for name in _FIELDS if name not in document]
    if unknown:
        raise bad(f"unknown field(s) {', '.join(unknown)}")
    if missing:
        raise bad(f"missing field(s) {', '.join(missing)}")
    if document["audit_format"] != AUDIT_FORMAT_VERSION:
        raise bad(f"'audit_format' {document['audit_format']!r} is not supported")
    sequence = document["sequence"]
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        raise bad(f"'sequence' must be a whole number >= 0, found {sequence!r}")
    if not _is_hex(document["head_hash"], 64):
        raise bad("'head_hash' must be 64 lowercase hex digits")
    if not _is_hex(document["database_id"], 32):
        raise bad("'database_id' must be 32 lowercase hex digits")
    try:
        stamp = datetime.fromisoformat(document["timestamp"])
    except (TypeError, ValueError):
        raise bad("'timestamp' must be an ISO-8601 date and time") from None
    if stamp.tzinfo is None:
        raise bad("'timestamp' must carry a time zone")
    for name, size in (("public_key", 32), ("signature", 64)):
        value = document[name]
        try:
            raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != size:
            raise bad(f"'{name}' must be {size} bytes in base64")
    checkpoint = Checkpoint(
        sequence=sequence,
        head_hash=document["head_hash"],
        timestamp=document["timestamp"],
        database_id=document["database_id"],
        public_key=document["public_key"],
        signature=document["signature"],
        source=source,
    )
    if document["key_id"] != checkpoint.key_id:
        raise bad("'key_id' does not belong to 'public_key'")
    return checkpoint


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Parse the checkpoint file ``path`` (InputError when unreadable or malformed)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"checkpoint file {file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InputError(f"cannot read checkpoint file {file}: {reason}") from None
    return parse_checkpoint(text, source=str(file))


# -- checking checkpoints against a verified chain ---------------------------------------


@dataclass(frozen=True)
class CheckpointCheck:
    """The outcome of checking one checkpoint against the log."""

    source: str
    sequence: int
    head_hash: str
    timestamp: str
    key_id: str
    pinned: bool  # the signature was checked against a key given independently
    ok: bool
    problem: str | None = None


def _check_one(
    checkpoint: Checkpoint,
    *,
    head_sequence: int,
    hash_at: Callable[[int], str | None],
    database_id: str | None,
    public_key: VerifyKey | None,
) -> tuple[CheckpointCheck, tuple[int, Fault, str] | None]:
    cp = checkpoint
    name = f"checkpoint {cp.source}"
    where = max(cp.sequence, 1)
    fault: tuple[int, Fault, str] | None = None
    embedded = VerifyKey.from_raw(base64.b64decode(cp.public_key))
    signature = base64.b64decode(cp.signature)
    if public_key is not None and public_key.raw != embedded.raw:
        fault = (
            where,
            "checkpoint-signature",
            (
                f"{name} was signed by key {embedded.key_id}, not by the trusted key "
                f"{public_key.key_id}"
            ),
        )
    elif not (public_key or embedded).verify(signature, cp.message()):
        fault = (
            where,
            "checkpoint-signature",
            (f"{name} has an invalid signature: the checkpoint file was altered"),
        )
    elif database_id is not None and cp.database_id != database_id:
        fault = (
            where,
            "checkpoint-mismatch",
            (
                f"{name} was made for database {cp.database_id}, but this log belongs to "
                f"database {database_id} (the wrong checkpoint, or the database was replaced)"
            ),
        )
    elif cp.sequence > head_sequence:
        fault = (
            head_sequence + 1,
            "truncated",
            (
                f"the log was truncated: {name} (signed {cp.timestamp}) records event "
                f"{cp.sequence}, but the log ends at event {head_sequence}"
            ),
        )
    else:
        stored = GENESIS_HASH if cp.sequence == 0 else hash_at(cp.sequence)
        if stored is None:
            fault = where, "missing", f"event {cp.sequence}, pinned by {name}, is missing"
        elif stored != cp.head_hash:
            fault = (
                where,
                "checkpoint-mismatch",
                (
                    f"event {cp.sequence} does not match {name} (signed {cp.timestamp}): its "
                    f"hash is {stored}, the checkpoint records {cp.head_hash}; events up to "
                    f"{cp.sequence} were rewritten after the checkpoint was made"
                ),
            )
    check = CheckpointCheck(
        source=cp.source,
        sequence=cp.sequence,
        head_hash=cp.head_hash,
        timestamp=cp.timestamp,
        key_id=embedded.key_id,
        pinned=public_key is not None,
        ok=fault is None,
        problem=None if fault is None else fault[2],
    )
    return check, fault


def check_checkpoints(
    report: ChainReport,
    checkpoints: Sequence[Checkpoint],
    *,
    hash_at: Callable[[int], str | None],
    database_id: str | None,
    public_key: VerifyKey | None = None,
) -> ChainReport:
    """``report`` with every checkpoint checked; the earliest fault of either is reported.

    ``hash_at(n)`` is the stored hash of event ``n`` (None when there is none);
    ``database_id`` the log's database id (None: not compared).
    """
    checks = []
    faults = []
    if report.first_bad_sequence is not None:
        faults.append((report.first_bad_sequence, report.fault, report.problem))
    for checkpoint in checkpoints:
        check, fault = _check_one(
            checkpoint,
            head_sequence=report.head_sequence,
            hash_at=hash_at,
            database_id=database_id,
            public_key=public_key,
        )
        checks.append(check)
        if fault is not None:
            faults.append(fault)
    if not faults:
        return replace(report, checkpoints=tuple(checks))
    bad, fault_kind, problem = min(faults, key=lambda item: item[0])
    return replace(
        report,
        ok=False,
        first_bad_sequence=bad,
        fault=fault_kind,
        problem=problem,
        checkpoints=tuple(checks),
    )


def recording_hashes(
    rows: Iterable[Sequence[Any]], wanted: set[int], found: dict[int, str]
) -> Iterable[Sequence[Any]]:
    """Pass ``rows`` through, noting the hash of each event whose sequence is ``wanted``."""
    if not wanted:
        yield from rows
        return
    for row in rows:
        if row[0] in wanted:
            found[row[0]] = row[9]
        yield row
