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

import hashlib
import struct
from pathlib import Path

import numpy as np
import pandas as pd

from govkit.exceptions import InputError
from govkit.records import ColumnSchema

__all__ = ["read_table", "schema_of", "fingerprint", "canonical_kind", "FINGERPRINT_VERSION"]

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
            df = pd.read_csv(p)
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
        raise InputError(f"{path}: cannot parse CSV: {exc}") from None
    except (UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: cannot read data: {exc}") from None
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
        raise InputError(f"{path}: cannot read data: {exc}") from None
    if df.columns.duplicated().any():
        dups = sorted(set(df.columns[df.columns.duplicated()]))
        raise InputError(f"{path}: duplicate column names: {', '.join(map(str, dups))}")
    return df


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
