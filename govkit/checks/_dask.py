"""The Dask engine of the checks: data too big for memory, aggregated partition by partition.

When :func:`govkit.evaluate` gets a Dask DataFrame (``govkit check --engine dask``), the
check context holds a :class:`DaskData` instead of the rows: the lazy frame with the model's
output added per partition (``predict_partitions``) and the row count. A check asks for
:class:`Aggregate` values -- a function of one partition whose results merge by addition
(counts, sums, moments), finished on the driver -- with :func:`need`. The evaluation plans
the aggregates of every rule first and computes them in one read of the data (each partition
predicted once); a check that asks for one not planned gets it in a pass of its own. A
failure inside one aggregate (e.g. a sensitive feature with missing values) is kept and
raised by the check that asks for it, so it is that rule's ERROR, as in the in-memory run,
and not the others'.

What stays in memory on the driver: the merged aggregates (group tables, count tables,
moments), the sampled rows an explanation rule explains, and for the few computations
noted in each rule family one small number per row (bootstrap resampling) or one column
(the Kolmogorov-Smirnov test).

:func:`fingerprint_dask` is :func:`govkit.data.fingerprint` of the rows in partition
order, streamed column by column; :func:`sample_positions` / :func:`take_rows` fetch
the rows ``DataFrame.sample(n, random_state=seed)`` picks from the same rows in memory.
Partitions keep the rows' order, but which rows make a partition depends on the columns
read (dask fuses small Parquet partitions), so nothing here ties partitions of
different reads together; ``Where`` numbers the partitions of one read.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from govkit._optional import import_optional

__all__ = [
    "PREDICTION",
    "SCORE",
    "Aggregate",
    "DaskData",
    "Failure",
    "Where",
    "need",
    "run_aggregates",
    "partition_lengths",
    "collect",
    "sample_positions",
    "take_rows",
    "fingerprint_dask",
    "is_dask_series",
    "prefetch",
]

log = logging.getLogger(__name__)

_FEATURE = "The Dask engine (engine='dask')"
#: Columns the evaluation adds to the Dask frame: the candidate's output on each row.
PREDICTION = "__govkit_prediction__"
SCORE = "__govkit_score__"


@dataclass(frozen=True)
class Where:
    """Which partition a function runs on (for error messages)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"partition {self.index} of {self.count}"


@dataclass(frozen=True)
class Aggregate:
    """A value computed per partition, merged across partitions, finished on the driver.

    ``partial(frame, where)`` gets one partition holding ``columns``; ``merge`` takes a
    list of partials (or of merged partials) and returns one; ``finish`` (optional) turns
    the merge of all partitions into the value the check uses. All three must be
    picklable (module-level functions, ``functools.partial`` of them).
    """

    columns: tuple[Hashable, ...]
    partial: Callable[[pd.DataFrame, Where], Any]
    merge: Callable[[list[Any]], Any]
    finish: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Failure:
    """An aggregate that raised: kept, and raised again by the check that asks for it."""

    error: BaseException


@dataclass
class DaskData:
    """The evaluated rows as a Dask DataFrame, and what the evaluation learnt about them."""

    frame: Any  # the data, plus PREDICTION / SCORE / champion output columns
    n_rows: int
    target: str
    prediction: str = PREDICTION  # column of the candidate's predictions
    score: str | None = None  # column of its positive-class scores, if any
    split_every: int = 8
    passes: list[tuple[str, ...]] = field(default_factory=list)  # aggregates of each read
    # rows per partition of frame[columns], by columns (see partition_lengths)
    lengths: dict[tuple[Hashable, ...], np.ndarray] = field(default_factory=dict)


# -- aggregating -------------------------------------------------------------------------------


def _partials(
    part: pd.DataFrame, aggregates: Mapping[Hashable, Aggregate], where: Where
) -> dict[Hashable, Any]:
    out: dict[Hashable, Any] = {}
    for key, agg in aggregates.items():
        try:
            out[key] = agg.partial(part, where)
        except Exception as exc:  # kept for the check that asked; the other aggregates go on
            out[key] = Failure(exc)
    return out


def _merge(
    items: list[dict[Hashable, Any]], aggregates: Mapping[Hashable, Aggregate]
) -> dict[Hashable, Any]:
    out: dict[Hashable, Any] = {}
    for key, agg in aggregates.items():
        values = [item[key] for item in items]
        failed = next((v for v in values if isinstance(v, Failure)), None)
        if failed is not None:
            out[key] = failed
            continue
        try:
            out[key] = agg.merge(values)
        except Exception as exc:  # e.g. levels that cannot be ordered together
            out[key] = Failure(exc)
    return out


def _columns(aggregates: Mapping[Hashable, Aggregate], fallback: Hashable) -> list[Hashable]:
    wanted = [c for agg in aggregates.values() for c in agg.columns]
    return list(dict.fromkeys(wanted)) or [fallback]


def run_aggregates(data: DaskData, aggregates: Mapping[Hashable, Aggregate]) -> dict[Hashable, Any]:
    """Every aggregate of ``aggregates`` in one read of the data: key -> value or Failure."""
    if not aggregates:
        return {}
    dask = import_optional("dask", feature=_FEATURE)
    columns = _columns(aggregates, data.target)
    parts = data.frame[columns].to_delayed()
    n = len(parts)
    partial = dask.delayed(_partials, pure=True)
    level = [partial(p, aggregates, Where(i, n)) for i, p in enumerate(parts)]
    combine = dask.delayed(_merge, pure=True)
    step = data.split_every
    while len(level) > 1:
        level = [combine(level[i : i + step], aggregates) for i in range(0, len(level), step)]
    log.info("reading %d partition(s) for %d aggregate(s)", n, len(aggregates))
    data.passes.append(tuple(str(k) for k in aggregates))
    (merged,) = dask.compute(level[0])
    out: dict[Hashable, Any] = {}
    for key, agg in aggregates.items():
        value = merged[key]
        if agg.finish is not None and not isinstance(value, Failure):
            try:
                value = agg.finish(value)
            except Exception as exc:
                value = Failure(exc)
        out[key] = value
    return out


def need(ctx: Any, aggregates: Mapping[Hashable, Aggregate]) -> dict[Hashable, Any]:
    """The values of ``aggregates``: from this run's cache, the missing ones in one pass.

    Raises the error of an aggregate that failed.
    """
    data: DaskData = ctx.dask
    missing = {k: a for k, a in aggregates.items() if ("dask", k) not in ctx.cache}
    for key, value in run_aggregates(data, missing).items():
        ctx.cache[("dask", key)] = value
    out = {}
    for key in aggregates:
        value = ctx.cache[("dask", key)]
        if isinstance(value, Failure):
            raise value.error
        out[key] = value
    return out


def prefetch(ctx: Any, aggregates: Mapping[Hashable, Aggregate]) -> None:
    """Compute the aggregates not yet cached, in one pass; failures wait for their check."""
    missing = {k: a for k, a in aggregates.items() if ("dask", k) not in ctx.cache}
    for key, value in run_aggregates(ctx.dask, missing).items():
        ctx.cache[("dask", key)] = value


# -- per-partition results ---------------------------------------------------------------------


def collect(
    frame: Any, columns: Sequence[Hashable], fn: Callable[..., Any], *args: Any
) -> list[Any]:
    """``[fn(partition, where, *args) for each partition]``, in partition order."""
    dask = import_optional("dask", feature=_FEATURE)
    parts = frame[list(columns)].to_delayed()
    call = dask.delayed(fn, pure=True)
    n = len(parts)
    return list(dask.compute(*[call(p, Where(i, n), *args) for i, p in enumerate(parts)]))


# -- sampled rows ------------------------------------------------------------------------------


def sample_positions(n_rows: int, n: int, *, seed: int = 0) -> np.ndarray:
    """The positions ``DataFrame.sample(n=n, random_state=seed)`` picks from ``n_rows`` rows.

    pandas draws them with ``RandomState(seed).choice(n_rows, n, replace=False)``, which
    permutes all positions: the driver holds 8 bytes per row while drawing.
    """
    return np.random.RandomState(seed).choice(n_rows, size=n, replace=False).astype(np.intp)


def _take(part: pd.DataFrame, where: Where, local: np.ndarray, start: int) -> pd.DataFrame:
    rows = part.iloc[local]
    return rows.set_axis(pd.Index(local + start), axis=0)


def partition_lengths(data: DaskData, columns: Sequence[Hashable]) -> np.ndarray:
    """Rows of each partition of ``frame[columns]``, read once per run and projection.

    Dask fuses neighbouring Parquet partitions when a read projects few columns, so the
    partitions (not their order) depend on the columns read: positions are mapped to
    partitions of the very projection that fetches them.
    """
    key = tuple(columns)
    if key not in data.lengths:
        data.lengths[key] = np.array(collect(data.frame, columns, _len_of), dtype=np.int64)
    return data.lengths[key]


def take_rows(data: DaskData, columns: Sequence[Hashable], positions: np.ndarray) -> pd.DataFrame:
    """The rows at global ``positions`` (in that order), indexed by position."""
    dask = import_optional("dask", feature=_FEATURE)
    columns = list(columns)
    positions = np.asarray(positions, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(partition_lengths(data, columns))])
    owner = np.searchsorted(offsets, positions, side="right") - 1
    parts = data.frame[columns].to_delayed()
    take = dask.delayed(_take, pure=True)
    n = len(parts)
    tasks = []
    for p in np.unique(owner):
        local = np.sort(positions[owner == p] - offsets[p])
        tasks.append(take(parts[p], Where(int(p), n), local, int(offsets[p])))
    pieces = dask.compute(*tasks)
    if not pieces:
        empty: pd.DataFrame = data.frame[columns]._meta.copy()
        return empty
    rows: pd.DataFrame = pd.concat(pieces)
    return rows.loc[positions]


# -- the data fingerprint ----------------------------------------------------------------------


def _hasnans(part: pd.DataFrame, where: Where, column: Hashable) -> bool:
    return bool(part[column].hasnans)


def _column_part_bytes(part: pd.DataFrame, where: Where, column: Hashable, kind: str) -> bytes:
    from govkit.data import _column_bytes  # the one encoding of fingerprint format 1

    return _column_bytes(part[column], kind)


def fingerprint_dask(frame: Any, *, n_rows: int | None = None, batch: int = 8) -> str:
    """:func:`govkit.data.fingerprint` of ``frame``'s rows, in partition order.

    Format 1 hashes each column in turn, so the data are read column by column (a column
    of ``batch`` partitions at a time in memory) and the bytes fed to one SHA-256 in
    order: the result equals ``fingerprint`` of the partitions concatenated in one pandas
    DataFrame -- hence the registered fingerprint of the same rows read by pandas, as long
    as the column kinds agree. SHA-256 is sequential, so this runs at one core's hashing
    speed and every value travels to the driver once. The order-independent variant sorts
    every row in one process and has no Dask counterpart.
    """
    from govkit.data import _HEADER, canonical_kind

    dask = import_optional("dask", feature=_FEATURE)
    if n_rows is None:
        n_rows = int(sum(collect(frame, [frame.columns[0]], _len_of)))
    meta = frame._meta
    digest = hashlib.sha256(_HEADER)
    digest.update(struct.pack("<Q", n_rows))
    for column in frame.columns:
        kind = canonical_kind(meta[column])
        encoding = kind
        if kind in ("int", "bool") and pd.api.types.is_extension_array_dtype(meta[column].dtype):
            # a nullable column is encoded as float (int) or as text (bool) when the column
            # holds any missing value: that is a property of the whole column
            if any(collect(frame, [column], _hasnans, column)):
                encoding = "float" if kind == "int" else "string"
        digest.update(str(column).encode("utf-8") + b"\x00" + kind.encode() + b"\x00")
        parts = frame[[column]].to_delayed()
        encode = dask.delayed(_column_part_bytes, pure=True)
        n = len(parts)
        for start in range(0, n, batch):
            chunk = [
                encode(parts[i], Where(i, n), column, encoding)
                for i in range(start, min(start + batch, n))
            ]
            for piece in dask.compute(*chunk):
                digest.update(piece)
    return "sha256:" + digest.hexdigest()


def _len_of(part: pd.DataFrame, where: Where) -> int:
    return len(part)


def is_dask_series(obj: object) -> bool:
    """Whether ``obj`` is a Dask Series (a column of a Dask DataFrame)."""
    from govkit.fairness import is_dask_collection

    if not is_dask_collection(obj):
        return False
    import dask.dataframe as dd

    return isinstance(obj, dd.Series)
