"""Tabular data in: reading CSV/Parquet files, canonical schema, and content fingerprints.

Fingerprint format 1 (``sha256:<hex>``): SHA-256 over a canonical encoding of
the schema and the values, column by column, in column order:

* header: ``b"govkit-fingerprint\\x001\\x00"``;
* per column: the UTF-8 name and canonical kind (int, float, bool, string,
  datetime) each followed by ``\\x00``, then the values:
  int → little-endian int64; float → little-endian float64 with every NaN as
  the one canonical NaN and -0.0 as 0.0; bool → one byte; datetime → int64
  nanoseconds since the epoch (UTC), NaT as int64 min; string/other → each
  value as UTF-8 prefixed by its byte length (uint64 LE), missing as length
  2**64-1.
* ``order_independent=True`` sorts the rows (by every column) first, so the
  same rows in another order give the same fingerprint.

The same values read from CSV or Parquet give the same fingerprint as long as
the column kinds agree. The format is versioned; a new version gets a new
header and the old one keeps its tests.
"""

from __future__ import annotations

import csv
import hashlib
import re
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from govkit.exceptions import InputError
from govkit.records import ColumnSchema

__all__ = [
    "read_table",
    "schema_of",
    "fingerprint",
    "canonical_kind",
    "not_utf8",
    "csv_lines",
    "FINGERPRINT_VERSION",
]

FINGERPRINT_VERSION = 1
_HEADER = b"govkit-fingerprint\x001\x00"
_MISSING = struct.pack("<Q", 2**64 - 1)
_CANONICAL_NAN = struct.pack("<d", float("nan"))

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (header row required; compressed is fine) or Parquet file."""
    p = Path(path)
    name = p.name.lower()
    if not p.exists():
        raise InputError(f"{path}: data file not found")
    if p.is_dir():
        raise InputError(f"{path}: expected a data file, found a directory")
    try:
        if name.endswith(_PARQUET_SUFFIXES):
            df = pd.read_parquet(p)
        elif name.endswith(_CSV_SUFFIXES):
            df = _read_csv(p, path)
            # pandas renames a repeated header ('a', 'a.1'); read the header as written
            header = pd.read_csv(p, header=None, nrows=1, dtype=str).iloc[0].tolist()
            if len(set(header)) != len(header):
                dups = sorted({h for h in header if header.count(h) > 1})
                raise InputError(f"{path}: duplicate column names: {', '.join(dups)}")
        else:
            raise InputError(
                f"{path}: unsupported data file type; expected one of "
                f"{', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)}"
            )
    except InputError:
        raise
    except pd.errors.ParserError as exc:
        fields = _FIELDS_RE.search(str(exc))
        if fields is not None:  # "Expected 2 fields in line 3, saw 3"
            expected, line, found = fields.groups()
            raise InputError(
                f"{path}:{line}: expected {expected} fields (as in the header), found {found}"
            ) from None
        raise InputError(f"{path}: cannot parse CSV: {str(exc).strip()}") from None
    except UnicodeDecodeError as exc:
        raise not_utf8(p, path, exc, plain=name.endswith((".csv", ".txt"))) from None
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path}: cannot read data: {exc}") from None
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
        raise InputError(f"{path}: cannot read data: {exc}") from None
    if df.columns.duplicated().any():
        dups = sorted(set(df.columns[df.columns.duplicated()]))
        raise InputError(f"{path}: duplicate column names: {', '.join(map(str, dups))}")
    if df.empty:  # a header alone registered as a 0-row dataset, and every metric was empty
        raise InputError(
            f"{path}: no data rows"
            + (" (only a header)" if len(df.columns) else "")
            + "; expected at least one row"
        )
    return df


_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_csv(p: Path, path: str | Path) -> pd.DataFrame:
    """``pd.read_csv``, refusing a first data row with more fields than the header.

    pandas reads such a row's extra field as a row index, silently shifting every value
    one column to the right (and dropping the first); ``index_col=False`` stops that
    and warns instead, and the warning becomes this error. Extra fields on a later row
    are pandas' own ParserError (see :func:`read_table`).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        df = pd.read_csv(p, index_col=False)
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        line, found = _first_data_row(p)
        where = f"{path}:{line}" if line is not None else f"{path}: the first data row"
        raise InputError(
            f"{where}: expected {len(df.columns)} fields (as in the header), found {found}"
        )
    return df


def _first_data_row(p: Path) -> tuple[int | None, str]:
    """The line and field count of the first data row of a plain CSV file (not compressed)."""
    if not p.name.lower().endswith((".csv", ".txt")):
        return None, "more"
    with p.open(newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows, None)  # the header
        for row in rows:
            if row:
                return rows.line_num, str(len(row))
    return None, "more"


def not_utf8(p: Path, path: str | Path, exc: UnicodeDecodeError, *, plain: bool) -> InputError:
    """``FILE:LINE: not UTF-8 text (byte 0x..)``; LINE only for a ``plain`` (uncompressed) file."""
    where = _bad_utf8_line(p) if plain else None
    at = f"{path}:{where}" if where is not None else str(path)
    return InputError(
        f"{at}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save the file as UTF-8"
    )


def csv_lines(p: Path, positions: Sequence[int]) -> list[int] | None:
    """The file lines (1-based) of data rows at 0-based ``positions`` of a plain CSV file with
    one header line, as :func:`read_table` read it; None for other files."""
    if not p.name.lower().endswith((".csv", ".txt")):
        return None
    wanted = sorted(set(int(i) for i in positions))
    found: dict[int, int] = {}
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader, None)  # the header
        start = reader.line_num + 1
        index = 0
        for row in reader:
            if row:  # pandas skips blank lines
                if index in wanted:
                    found[index] = start
                    if len(found) == len(wanted):
                        break
                index += 1
            start = reader.line_num + 1
    return [found[i] for i in positions] if all(i in found for i in positions) else None


def _bad_utf8_line(p: Path) -> int | None:
    """The line (1-based) of the first byte sequence that is not UTF-8, in a plain file."""
    with p.open("rb") as f:
        for number, line in enumerate(f, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def canonical_kind(series: pd.Series) -> str:
    """The canonical kind of a column: int, float, bool, datetime or string."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "string"


def schema_of(df: pd.DataFrame) -> tuple[ColumnSchema, ...]:
    return tuple(ColumnSchema(name=str(c), dtype=canonical_kind(df[c])) for c in df.columns)


def _column_bytes(series: pd.Series, kind: str) -> bytes:
    if kind == "int" and not series.hasnans:
        return series.to_numpy(dtype="<i8").tobytes()
    if kind in ("int", "float"):
        values = series.to_numpy(dtype="<f8", na_value=np.nan).copy()
        values[values == 0.0] = 0.0  # -0.0 → 0.0
        raw = bytearray(values.tobytes())
        for i in np.flatnonzero(np.isnan(values)):
            raw[8 * i : 8 * i + 8] = _CANONICAL_NAN
        return bytes(raw)
    if kind == "bool" and not series.hasnans:
        return series.to_numpy(dtype="u1").tobytes()
    if kind == "datetime":
        stamps = pd.to_datetime(series, utc=True)
        # the int64 ticks in the column's own unit; pandas-stubs lacks DatetimeArray.asi8
        ticks: np.ndarray = stamps.array.asi8  # type: ignore[attr-defined]
        return ticks.astype("<i8").tobytes()
    # strings: encode each distinct value once; code -1 (missing) picks the last entry
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    encoded = [struct.pack("<Q", len(b)) + b for b in (str(u).encode("utf-8") for u in uniques)]
    encoded.append(_MISSING)
    return b"".join(map(encoded.__getitem__, codes.tolist()))


def fingerprint(df: pd.DataFrame, *, order_independent: bool = False) -> str:
    """Stable SHA-256 content fingerprint of a table (see the module docstring)."""
    if order_independent and len(df):
        try:
            df = df.sort_values(list(df.columns), kind="mergesort", na_position="last")
        except TypeError as exc:
            raise InputError(
                f"cannot compute an order-independent fingerprint: a column mixes value types "
                f"that cannot be sorted ({exc})"
            ) from None
    digest = hashlib.sha256(_HEADER)
    digest.update(struct.pack("<Q", len(df)))
    for col in df.columns:
        series = df[col]
        kind = canonical_kind(series)
        digest.update(str(col).encode("utf-8") + b"\x00" + kind.encode() + b"\x00")
        digest.update(_column_bytes(series, kind))
    return "sha256:" + digest.hexdigest()
