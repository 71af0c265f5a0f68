"""The audit log as JSON Lines, verifiable offline without the database.

Export format, version 1
------------------------
UTF-8 text, one JSON object per line. The first line is the header::

    {"type": "govkit.audit.export", "version": 1, "audit_format": 1,
     "database_id": "<32 hex digits or null>", "exported_at": "<ISO-8601 UTC>",
     "head": {"sequence": N, "hash": "<head marker hash>"}}

then one line per event, in sequence order, with the stored columns exactly::

    {"seq": 1, "format": 1, "ts": "...", "actor": "...", "type": "...",
     "subject": "...", "payload": "<the canonical payload JSON, as a string>",
     "payload_digest": "sha256:...", "prev_hash": "...", "hash": "..."}

``payload`` is kept as the exact stored text (decode it with ``jq '.payload |
fromjson'``) because verification hashes those bytes. The header's ``head`` plays
the part of the head marker row. The export is written from one database
snapshot, so it is consistent even while others append.

:func:`verify_jsonl` recomputes the chain from the file alone (and checks any
checkpoints against it), with the same rules and messages as
:meth:`Store.verify_chain`. Like the database, an export on its own cannot
reveal a rewrite of the whole log or lost events at its end: keep checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from govkit.exceptions import InputError
from govkit.store._chain import (
    AUDIT_FORMAT_VERSION,
    ChainReport,
    StoredEvent,
    format_timestamp,
)
from govkit.store._checkpoint import (
    Checkpoint,
    check_checkpoints,
    recording_hashes,
)
from govkit.store._keys import VerifyKey
from govkit.store._verify import verify_events

__all__ = ["EXPORT_TYPE", "EXPORT_VERSION", "ExportHeader", "write_jsonl", "verify_jsonl"]

EXPORT_TYPE = "govkit.audit.export"
EXPORT_VERSION = 1
_EVENT_KEYS = (
    "seq",
    "format",
    "ts",
    "actor",
    "type",
    "subject",
    "payload",
    "payload_digest",
    "prev_hash",
    "hash",
)
_KEY_SET = frozenset(_EVENT_KEYS)


@dataclass(frozen=True)
class ExportHeader:
    """The first line of an export."""

    database_id: str | None
    exported_at: str
    head_sequence: int
    head_hash: str


def _event_line(row: Sequence[Any]) -> str:
    return json.dumps(dict(zip(_EVENT_KEYS, row, strict=True)), ensure_ascii=False) + "\n"


def write_jsonl(
    out: IO[str],
    rows: Iterable[Sequence[Any]],
    *,
    database_id: str | None,
    head: tuple[int, str],
) -> int:
    """Write the header and one line per event (StoredEvent column order); returns the count."""
    header = {
        "type": EXPORT_TYPE,
        "version": EXPORT_VERSION,
        "audit_format": AUDIT_FORMAT_VERSION,
        "database_id": database_id,
        "exported_at": format_timestamp(datetime.now(UTC)),
        "head": {"sequence": head[0], "hash": head[1]},
    }
    out.write(json.dumps(header, sort_keys=True) + "\n")
    count = 0
    for row in rows:
        out.write(_event_line(row))
        count += 1
    return count


def _read_header(line: str, source: str) -> ExportHeader:
    def bad(why: str) -> InputError:
        return InputError(f"{source}: not a govkit audit export: {why}")

    try:
        header = json.loads(line)
    except ValueError:
        raise bad("the first line is not JSON") from None
    if not isinstance(header, dict) or header.get("type") != EXPORT_TYPE:
        raise bad(f'the first line must be a header with "type": "{EXPORT_TYPE}"')
    if header.get("version") != EXPORT_VERSION:
        raise bad(
            f"export version {header.get('version')!r} is not supported (this govkit reads "
            f"version {EXPORT_VERSION})"
        )
    head = header.get("head")
    if (
        not isinstance(head, dict)
        or not isinstance(head.get("sequence"), int)
        or not isinstance(head.get("hash"), str)
    ):
        raise bad("the header's 'head' must hold a 'sequence' number and a 'hash'")
    database_id = header.get("database_id")
    if database_id is not None and not isinstance(database_id, str):
        raise bad("the header's 'database_id' must be text or null")
    return ExportHeader(
        database_id=database_id,
        exported_at=str(header.get("exported_at")),
        head_sequence=head["sequence"],
        head_hash=head["hash"],
    )


class _Lines:
    """The event lines of an export file, parsed; stops at the first malformed line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.malformed: tuple[int, str] | None = None

    def _parse(self, line: str) -> StoredEvent | str:
        try:
            item = json.loads(line)
        except ValueError:
            return "not JSON"
        if not isinstance(item, dict) or item.keys() != _KEY_SET:
            return f"expected exactly the fields {', '.join(_EVENT_KEYS)}"
        if not isinstance(item["seq"], int) or isinstance(item["seq"], bool):
            return "'seq' is not a whole number"
        return StoredEvent(*(item[key] for key in _EVENT_KEYS))

    def __iter__(self) -> Iterator[StoredEvent]:
        with self.path.open(encoding="utf-8") as lines:
            next(lines, None)  # the header
            for number, line in enumerate(lines, start=2):
                parsed = self._parse(line)
                if isinstance(parsed, str):
                    self.malformed = (number, parsed)
                    return
                yield parsed

    def locate(self) -> dict[str, int]:
        found: dict[str, int] = {}
        with self.path.open(encoding="utf-8") as lines:
            next(lines, None)
            for line in lines:
                try:
                    item = json.loads(line)
                    found.setdefault(item["hash"], item["seq"])
                except (ValueError, TypeError, KeyError):
                    continue
        return found


def verify_jsonl(
    path: str | Path,
    *,
    checkpoints: Sequence[Checkpoint] = (),
    public_key: VerifyKey | None = None,
) -> ChainReport:
    """Verify an export file on its own (and the ``checkpoints`` against it).

    InputError when the file cannot be read or is not an export (no valid
    header); a damaged event line is reported as a broken chain.
    """
    file = Path(path)
    try:
        with file.open(encoding="utf-8") as handle:
            first = handle.readline()
    except FileNotFoundError:
        raise InputError(f"export file {file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InputError(f"cannot read export file {file}: {reason}") from None
    header = _read_header(first, str(file))
    lines = _Lines(file)
    located: dict[str, int] | None = None

    def locate(hash_: str) -> int | None:
        nonlocal located
        if located is None:
            located = lines.locate()
        return located.get(hash_)

    wanted = {cp.sequence for cp in checkpoints}
    hashes: dict[int, str] = {}
    try:
        report = verify_events(
            recording_hashes(lines, wanted, hashes),
            head=(header.head_sequence, header.head_hash),
            locate=locate,
        )
    except UnicodeDecodeError:
        raise InputError(f"cannot read export file {file}: not UTF-8 text") from None
    if lines.malformed is not None:
        number, why = lines.malformed
        bad = report.head_sequence + 1
        if report.first_bad_sequence is None or report.first_bad_sequence >= bad:
            report = replace(
                report,
                ok=False,
                first_bad_sequence=bad,
                fault="edited",
                problem=f"line {number} of {file} is not a valid audit event ({why})",
            )
    if checkpoints:
        report = check_checkpoints(
            report,
            checkpoints,
            hash_at=hashes.get,
            database_id=header.database_id,
            public_key=public_key,
        )
    return report
