"""The training dataset an MLflow run logged (``mlflow.log_input``), as a govkit dataset.

MLflow records a dataset's name, a digest of its own making (a short MD5-based hash, not a
content fingerprint in govkit's sense), its source, schema and profile. govkit registers:

* with govkit's own fingerprint, when the source is a CSV or Parquet file readable here
  whose MLflow digest equals the one MLflow recorded (so it is the same data);
* otherwise with ``fingerprint="mlflow-digest:<digest>"``, saying plainly whose digest it
  is. Such a dataset cannot serve as verified ``--reference-data`` (govkit's fingerprint of
  any file will not equal it), which is the honest outcome.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from govkit.exceptions import GovkitError
from govkit.records import ColumnSchema, DatasetRecord

if TYPE_CHECKING:
    from govkit.store import Store

__all__ = ["training_dataset", "DIGEST_PREFIX"]

log = logging.getLogger(__name__)

DIGEST_PREFIX = "mlflow-digest:"
_CONTEXT = "mlflow.data.context"
_BAD = re.compile(r"[^A-Za-z0-9._-]")
_TYPES = {
    "double": "float",
    "float": "float",
    "long": "int",
    "integer": "int",
    "boolean": "bool",
    "string": "string",
    "datetime": "datetime",
    "binary": "string",
}


def training_dataset(
    run: Any, *, store: Store, actor: str | None, tracking: str
) -> DatasetRecord | None:
    """Register the run's training input (context "training", else its only input)."""
    inputs = list(getattr(run.inputs, "dataset_inputs", None) or [])
    if not inputs:
        return None
    training = [i for i in inputs if _context(i) == "training"]
    if len(training) != 1 and len(inputs) == 1:
        training = inputs
    if len(training) != 1:
        log.info(
            "MLflow run %s logged %d datasets and none (or several) with context 'training'; "
            "no training data linked",
            run.info.run_id,
            len(inputs),
        )
        return None
    ds = training[0].dataset
    source_uri = _source_uri(ds)
    name = _name(ds.name, ds.digest)
    local = _local_match(ds, source_uri)
    if local is not None:
        fingerprint, row_count, columns = local
    else:
        fingerprint = f"{DIGEST_PREFIX}{ds.digest}"
        row_count = _rows(ds)
        columns = _columns(ds)
    record, created = store.add_dataset(
        name=name,
        version=None,
        fingerprint=fingerprint,
        order_independent=False,
        row_count=row_count,
        columns=columns,
        source_uri=source_uri,
        parents=[],
        transformation=f"logged with mlflow.log_input by MLflow run {run.info.run_id}",
        actor=actor,
    )
    log.info(
        "training data of MLflow run %s: %s %s",
        run.info.run_id,
        record.ref,
        "registered" if created else "already registered",
    )
    return record


def _context(dataset_input: Any) -> str | None:
    for tag in getattr(dataset_input, "tags", None) or ():
        if tag.key == _CONTEXT:
            return str(tag.value)
    return None


def _name(name: str | None, digest: str) -> str:
    clean = _BAD.sub("-", name or "").lstrip("._-")[:128]
    return clean or f"mlflow-dataset-{digest}"


def _source_uri(ds: Any) -> str | None:
    """The dataset source's URI (``{"uri": ...}``, ``{"url": ...}``, ``{"path": ...}``)."""
    try:
        source = json.loads(ds.source) if ds.source else {}
    except (TypeError, ValueError):
        return None
    if not isinstance(source, dict):
        return None
    for key in ("uri", "url", "path"):
        value = source.get(key)
        if isinstance(value, str) and value:
            if key in ("uri", "url"):
                # a source may carry credentials in the URL; keep them out of the store
                from govkit.integrations._mlflow_client import redact_uri

                return redact_uri(value) if urlsplit(value).scheme else value
            return value
    return None


def _local_file(uri: str | None) -> Path | None:
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
    elif parts.scheme == "" or len(parts.scheme) == 1:
        path = Path(uri)
    else:
        return None
    if path.suffix.lower() not in (".csv", ".parquet", ".pq") or not path.is_file():
        return None
    return path


def _local_match(ds: Any, uri: str | None) -> tuple[str, int, list[ColumnSchema]] | None:
    """govkit's fingerprint of the source file, when it holds the data MLflow recorded."""
    path = _local_file(uri)
    if path is None:
        return None
    from govkit.data import fingerprint, read_table, schema_of

    try:
        frame = read_table(path)
        from mlflow.data.digest_utils import compute_pandas_digest

        with warnings.catch_warnings():  # MLflow's call style that pandas 4 will refuse
            warnings.filterwarnings("ignore", message="Starting with pandas version 4.0")
            digest = compute_pandas_digest(frame)
    except (GovkitError, OSError, ValueError) as exc:
        log.info("cannot read MLflow dataset source %s: %s", path, exc)
        return None
    if digest != ds.digest:
        log.info(
            "MLflow dataset source %s has digest %s, MLflow recorded %s: using MLflow's digest",
            path,
            digest,
            ds.digest,
        )
        return None
    return fingerprint(frame), len(frame), list(schema_of(frame))


def _rows(ds: Any) -> int:
    try:
        profile = json.loads(ds.profile) if ds.profile else {}
        return int(profile.get("num_rows", 0))
    except (TypeError, ValueError, AttributeError):
        return 0


def _columns(ds: Any) -> list[ColumnSchema]:
    try:
        schema = json.loads(ds.schema) if ds.schema else {}
        specs = schema.get("mlflow_colspec") or []
        return [
            ColumnSchema(name=str(c["name"]), dtype=_TYPES.get(str(c.get("type")), "string"))
            for c in specs
            if isinstance(c, dict) and "name" in c
        ]
    except (TypeError, ValueError, AttributeError):
        return []
