"""Sensitive attributes of recorded decisions, supplied for one monitoring run.

Decisions record the model's inputs, not the attributes a fairness rule groups by (sex,
ethnic origin, ... are special-category data under GDPR Art. 9, and a model that does not
use them has no reason to keep them). A monitoring run that judges fairness by them reads
them from a CSV file keyed by decision id (``decision_id,sex,...``): the file is validated
like every other CSV input (``FILE:LINE`` errors, a decision id given twice refused), held
in memory for the run only, and never written to the store; the run records the file's
SHA-256 and how many decisions it covered, so the result can be tied to the file kept by
whoever is responsible for it. Errors never repeat an attribute's value.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from govkit.exceptions import InputError

__all__ = ["Attributes", "read_attributes"]

MAX_ROWS = 1_000_000
MAX_BYTES = 1024**3
ID = "decision_id"


@dataclass(frozen=True)
class Attributes:
    """``values[decision_id]`` gives one value per column of ``columns``, in order."""

    path: Path
    sha256: str
    columns: tuple[str, ...]
    values: dict[str, tuple[str, ...]]

    def describe(self) -> str:
        return f"{self.path} (sha256 {self.sha256[:16]}…)"


def read_attributes(path: str | Path) -> Attributes:
    """The attributes in ``path``; InputError naming ``FILE:LINE`` and what is wrong."""
    p = Path(path)
    data = _read_bytes(p)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{p}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    columns = _columns(p, header)
    values: dict[str, tuple[str, ...]] = {}
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(header):
            raise InputError(
                f"{p}:{line}: expected {len(header)} fields ({','.join(header)}); found {len(row)}"
            )
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        decision_id = cells[ID]
        if not decision_id:
            raise InputError(f"{p}:{line}: decision_id is empty")
        empty = [c for c in columns if not cells[c]]
        if empty:
            raise InputError(
                f"{p}:{line}: {', '.join(repr(c) for c in empty)} empty for decision "
                f"{decision_id}; every decision in the file needs a value in every column "
                "(a decision whose group is unknown cannot be counted in any group: leave "
                "it out of the file, or give an explicit level such as 'Unknown')"
            )
        if decision_id in first_line:
            raise InputError(
                f"{p}:{line}: decision_id {decision_id!r} is given twice (first at "
                f"{p}:{first_line[decision_id]}); one row per decision"
            )
        first_line[decision_id] = line
        values[decision_id] = tuple(cells[c] for c in columns)
        if len(values) > MAX_ROWS:
            raise InputError(f"{p}: more than {MAX_ROWS:,} rows; split the file")
    if not values:
        raise InputError(f"{p}: no data rows (only a header)")
    return Attributes(
        path=p, sha256=hashlib.sha256(data).hexdigest(), columns=columns, values=values
    )


def _read_bytes(p: Path) -> bytes:
    try:
        with p.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_BYTES:
                raise InputError(f"{p}: the file is {size:,} bytes, over the 1 GiB limit")
            return fh.read()
    except FileNotFoundError:
        raise InputError(f"{p}: attributes file not found") from None
    except IsADirectoryError:
        raise InputError(f"{p}: expected a CSV file, found a directory") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read the file ({type(exc).__name__})") from None


def _columns(p: Path, header: list[str]) -> tuple[str, ...]:
    if ID not in header:
        raise InputError(
            f"{p}:1: expected a CSV header with a decision_id column and one column per "
            f"attribute, such as decision_id,sex; found {','.join(header) or 'no header'}"
        )
    seen: set[str] = set()
    for name in header:
        if not name:
            raise InputError(f"{p}:1: a column has no name; found {','.join(header)}")
        if name in seen:
            raise InputError(f"{p}:1: column {name!r} is given twice")
        seen.add(name)
    columns = tuple(h for h in header if h != ID)
    if not columns:
        raise InputError(
            f"{p}:1: no attribute columns: expected decision_id and at least one more, such "
            "as decision_id,sex"
        )
    return columns
