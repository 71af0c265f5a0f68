"""The Dask backend: group tables of data too big for one process's memory.

Every partition counts its own rows (:mod:`govkit.fairness._partial`, keyed by level
values because partitions factorise differently); the partial tables are summed in a
tree (``split_every`` at a time) on the workers, and only the small merged table comes
back to the driver. Several tables (one per feature set) come from one read of the data.

    client = connect("tcp://scheduler:8786")      # or connect() for a LocalCluster
    data = read_parquet("s3://bucket/scores/")     # lazy
    table = group_table_dask(data, y_true="label", y_pred="decision",
                             sensitive_features=["sex", "race"], pos_label=1)

Tables equal :func:`~govkit.fairness.group_table` on the same rows held in memory:
same groups in the same order, same counts (weighted counts up to float rounding, as
the order of summation differs). Dask and distributed are an optional extra
(``pip install 'govkit[dask]'``).
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from govkit._optional import import_optional
from govkit.exceptions import InputError, closest
from govkit.fairness._errors import FairnessInputError
from govkit.fairness._partial import TableSpec, finish, merge, partial_tables
from govkit.fairness._table import GroupTable

__all__ = [
    "group_table_dask",
    "group_tables_dask",
    "is_dask_collection",
    "read_parquet",
    "connect",
    "session",
    "as_dask_frame",
]

logger = logging.getLogger(__name__)

_FEATURE = "The Dask engine (engine='dask')"


def is_dask_collection(obj: object) -> bool:
    """Whether ``obj`` is a Dask collection (DataFrame, Series, ...), without importing dask."""
    return type(obj).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(
        obj, "__dask_graph__"
    )


def group_table_dask(
    data: Any,
    *,
    y_true: Hashable | None,
    y_pred: Hashable,
    sensitive_features: Hashable | Sequence[Hashable],
    pos_label: Any,
    sample_weight: Hashable | None = None,
    split_every: int = 8,
) -> GroupTable:
    """:func:`~govkit.fairness.group_table` of the columns of a Dask DataFrame.

    ``y_true`` (or None), ``y_pred``, ``sample_weight`` and the ``sensitive_features``
    (one column or a list of columns, for intersectional groups) name columns of
    ``data``. The data is read once; only counts travel to the driver.
    """
    return group_tables_dask(
        data,
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=[sensitive_features],
        pos_label=pos_label,
        sample_weight=sample_weight,
        split_every=split_every,
    )[0]


def group_tables_dask(
    data: Any,
    *,
    y_true: Hashable | None,
    y_pred: Hashable,
    sensitive_features: Sequence[Hashable | Sequence[Hashable]],
    pos_label: Any,
    sample_weight: Hashable | None = None,
    split_every: int = 8,
) -> list[GroupTable]:
    """One :class:`GroupTable` per entry of ``sensitive_features``, in one pass over ``data``.

    Each entry is a column or a list of columns (their intersection), e.g.
    ``["sex", "race", ["sex", "race"]]`` gives three tables.
    """
    dask = import_optional("dask", feature=_FEATURE)
    spec = _spec(data, y_true, y_pred, sensitive_features, pos_label, sample_weight)
    if isinstance(split_every, bool) or not isinstance(split_every, int) or split_every < 2:
        raise FairnessInputError(f"split_every must be a whole number >= 2; got {split_every!r}")
    parts = data[spec.columns].to_delayed()
    n = len(parts)
    partial = dask.delayed(partial_tables, pure=True)
    level = [partial(p, spec, where=f"partition {i} of {n}") for i, p in enumerate(parts)]
    combine = dask.delayed(merge, pure=True)
    while len(level) > 1:
        level = [combine(level[i : i + split_every]) for i in range(0, len(level), split_every)]
    if not level:
        raise FairnessInputError("y_pred is empty; fairness metrics need at least one row")
    (merged,) = dask.compute(level[0])
    return finish(merged, spec)


def _spec(
    data: Any,
    y_true: Hashable | None,
    y_pred: Hashable,
    sensitive_features: Sequence[Hashable | Sequence[Hashable]],
    pos_label: Any,
    sample_weight: Hashable | None,
) -> TableSpec:
    if not (is_dask_collection(data) and hasattr(data, "columns")):
        hint = (
            "; for a pandas DataFrame use group_table()" if isinstance(data, pd.DataFrame) else ""
        )
        raise FairnessInputError(
            f"data must be a Dask DataFrame; got {type(data).__module__}.{type(data).__name__}"
            + hint
        )
    if not pd.api.types.is_scalar(pos_label):
        raise FairnessInputError(f"pos_label must be a single value; got {pos_label!r}")
    if isinstance(sensitive_features, str) or not isinstance(sensitive_features, Sequence):
        raise FairnessInputError(
            "sensitive_features must be a list of feature sets (a column or a list of "
            f"columns each); got {sensitive_features!r}"
        )
    if not sensitive_features:
        raise FairnessInputError("sensitive_features is empty; give at least one feature set")
    feature_sets = []
    for entry in sensitive_features:
        columns: tuple[Hashable, ...]
        if isinstance(entry, str) or not isinstance(entry, Sequence):
            columns = (entry,)
        else:
            columns = tuple(entry)
        if not columns:
            raise FairnessInputError("sensitive_features has no columns; give at least one feature")
        names = [str(c) for c in columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise FairnessInputError(f"sensitive feature names must be unique; repeated: {dupes}")
        feature_sets.append(columns)
    spec = TableSpec(
        y_true=y_true,
        y_pred=y_pred,
        feature_sets=tuple(feature_sets),
        pos_label=pos_label,
        sample_weight=sample_weight,
    )
    present = list(data.columns)
    missing = [c for c in spec.columns if c not in present]
    if missing:
        parts = []
        for column in missing:
            match = closest(str(column), [str(c) for c in present])
            parts.append(repr(column) + (f" (did you mean {match!r}?)" if match else ""))
        raise FairnessInputError(
            f"the Dask DataFrame lacks {len(missing)} column(s): {', '.join(parts)}; "
            f"columns found: {', '.join(map(str, present[:30]))}"
        )
    return spec


# -- reading and connecting ------------------------------------------------------------------


def read_parquet(
    path: str | Path | Sequence[str | Path], *, columns: Sequence[str] | None = None
) -> Any:
    """A lazy Dask DataFrame of Parquet files: a file, a directory, a glob or a list of them.

    Nothing is read but the metadata; remote URLs (``s3://...``) go to fsspec.
    """
    dd = import_optional("dask.dataframe", feature=_FEATURE)
    paths = [path] if isinstance(path, str | Path) else list(path)
    if not paths:
        raise InputError("no Parquet path given")
    for p in paths:
        text = str(p)
        if "://" not in text and not any(ch in text for ch in "*?[") and not Path(text).exists():
            raise InputError(f"{text}: Parquet data not found")
    source = [str(p) for p in paths] if len(paths) > 1 else str(paths[0])
    _agree(paths)
    try:
        return dd.read_parquet(source, columns=None if columns is None else list(columns))
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"{source}: cannot read as Parquet: {exc}") from None


def _files(paths: Sequence[str | Path]) -> list[str]:
    """The local Parquet files ``paths`` name, as dask reads them; InputError for a bare glob."""
    import pyarrow.dataset as ds

    files: list[str] = []
    for p in paths:
        text = str(p)
        if any(ch in text for ch in "*?["):
            matched = sorted(glob.glob(text, recursive=True))
            if not matched:
                raise InputError(
                    f"{text}: no files match this pattern; expected Parquet data (a file, a "
                    "directory of files or a glob that matches some)"
                )
            files.extend(matched)
        else:
            files.append(text)
    try:
        return [
            f
            for source in files  # a directory stands for its files (dask's listing)
            for f in ds.dataset(source, format="parquet").files
        ]
    except (OSError, ValueError):  # dask says what is wrong with them when it reads them
        return []


def _kind(t: Any) -> str:
    """An Arrow type as pandas reads it, for comparing files (widths and units aside)."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_integer(t):
        return "int64" if pa.types.is_signed_integer(t) else "uint64"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.tz}]" if t.tz else "timestamp"
    return str(t)


def _shown(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return f"{'ordered ' if t.ordered else ''}categorical of {_shown(t.value_type)}"
    return "string" if _kind(t) == "string" else str(t)


def _same(a: Any, b: Any) -> bool:
    """Whether dask reads two files' Arrow types of a column as one pandas type."""
    import pyarrow as pa

    if pa.types.is_dictionary(a) != pa.types.is_dictionary(b):
        return False
    if pa.types.is_dictionary(a) and a.ordered != b.ordered:
        return False
    return _kind(a) == _kind(b)


def _agree(paths: Sequence[str | Path]) -> None:
    """Check that local Parquet files agree on their columns and the columns' types.

    Reads the files' footers only. A file that lacks a column another has, or a column
    whose type differs between files, is an InputError naming both files and the column.
    Dask cannot join a categorical column to a plain one (or an ordered categorical to an
    unordered one) and reads each column with the first file's type, so a column that
    is categorical in some files only is refused too; widths (int32, int64) and units of
    time may differ, as pandas reads them alike.
    """
    if any("://" in str(p) for p in paths):
        return
    files = _files(paths)
    if len(files) < 2:
        return
    import pyarrow.parquet as pq

    try:
        schemas = [(f, pq.read_schema(f)) for f in files]
    except (OSError, ValueError):  # dask says what is wrong with them when it reads them
        return
    first, reference = schemas[0]
    for name, schema in schemas[1:]:
        for column in reference.names:
            if column not in schema.names:
                raise InputError(
                    f"{name}: no column '{column}', which {first} has; the Parquet files of "
                    "one dataset must have the same columns"
                )
        for column in schema.names:
            if column not in reference.names:
                raise InputError(
                    f"{name}: column '{column}', which {first} does not have; the Parquet "
                    "files of one dataset must have the same columns"
                )
            a, b = reference.field(column).type, schema.field(column).type
            if a == b or a.equals(b):
                continue
            if _same(a, b) or "null" in (str(a), str(b)):
                continue
            raise InputError(
                f"column '{column}' is {_shown(a)} in {first} and {_shown(b)} in {name}; "
                "the Parquet files of one dataset must agree on each column's type (write "
                "them with the same types, e.g. convert the categorical column to text)"
            )


def connect(
    scheduler: str | None = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    timeout: float = 30.0,
) -> Any:
    """A ``distributed.Client``: to ``scheduler`` (``tcp://host:8786``), or a new LocalCluster.

    With ``scheduler=None`` the client starts a LocalCluster of worker processes
    (``n_workers`` x ``threads_per_worker``; dask's defaults fit the machine) and stops
    it when closed. Use it as a context manager, or call ``close()``.
    """
    distributed = import_optional("distributed", feature=_FEATURE)
    if scheduler is None:
        logger.info("starting a local Dask cluster")
        return distributed.Client(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=None,
        )
    if n_workers is not None or threads_per_worker is not None:
        raise InputError(
            "n_workers and threads_per_worker apply to a local cluster only; the scheduler "
            f"at {scheduler} already has its workers"
        )
    try:
        return distributed.Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}. Check the address "
            "(tcp://host:8786) and that the scheduler is running"
        ) from None


@contextmanager
def session(scheduler: str | None, *, timeout: float | None = None) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler`` for the duration of a block.

    ``None``: no new client (dask computes with the active client, else with threads in
    this process). ``timeout`` (default 30 s) bounds the wait for the scheduler.
    """
    if scheduler is None:
        yield None
        return
    client = connect(scheduler, timeout=30.0 if timeout is None else timeout)
    try:
        yield client
    finally:
        client.close()


_CSV = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".txt")


def as_dask_frame(data: Any) -> Any:
    """The rows to evaluate as a lazy Dask DataFrame: a Parquet path read lazily, or as given.

    A path is a Parquet file, a directory of them, a glob or a URL (:func:`read_parquet`).
    """
    if isinstance(data, str | Path):
        if str(data).lower().endswith(_CSV):
            raise InputError(
                f"{data}: --engine dask reads Parquet (a file, a directory of files or a "
                "glob); convert the CSV to Parquet, or use --engine pandas"
            )
        return read_parquet(data)
    if isinstance(data, pd.DataFrame):
        raise InputError(
            "engine='dask' takes a Parquet path or a Dask DataFrame; got a pandas DataFrame "
            "(use engine='pandas' for data in memory)"
        )
    if is_dask_collection(data):
        dd = import_optional("dask.dataframe", feature=_FEATURE)
        if isinstance(data, dd.DataFrame):
            return data
    raise InputError(
        f"engine='dask': data must be a Parquet path or a Dask DataFrame; got {type(data).__name__}"
    )
