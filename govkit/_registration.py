"""Registration: datasets and model versions (files, or models in an MLflow registry).

Part of the Python API of :mod:`govkit.workflows`, which re-exports everything here; kept
apart so that each module stays readable. Nothing here prints.
"""

from __future__ import annotations

import getpass
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from govkit._size_limits import MAX_TOTAL_CHARS, first_oversize, fmt_loc
from govkit._yaml import Marks, YamlWalker, compose, fmt_path
from govkit.artifacts import (
    artifact_format,
    artifact_path,
    describe_model,
    load_artifact_with_digest,
    model_classes,
)
from govkit.exceptions import InputError, PolicyError
from govkit.integrations._openlineage import emits_openlineage
from govkit.records import (
    DatasetRecord,
    DatasetRef,
    ModelMetadata,
    ModelRef,
    ModelVersionRecord,
    clean_source_uri,
    parse_ref,
)
from govkit.store import Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "artifact_file",
    "current_actor",
    "load_metadata",
    "register_dataset",
    "register_model",
    "register_model_or_reuse",
]

log = logging.getLogger(__name__)

MAX_META_BYTES = 256 * 1024


def artifact_file(record: ModelVersionRecord) -> Path:
    """The local file of a registered model version's artifact (digest not checked here).

    A local file as registered; a model from an MLflow registry whose artifact store is
    remote (``mlflow-artifacts:``, ``s3://`` ...) is downloaded to a temporary folder first.
    """
    if record.metadata.mlflow is not None and not record.artifact_uri.startswith("file:"):
        from govkit.integrations._mlflow import fetch_artifact

        return fetch_artifact(record)
    return artifact_path(record)


def current_actor() -> str:
    """Who is acting: $GOVKIT_ACTOR, else the OS user name."""
    import os

    return os.environ.get("GOVKIT_ACTOR") or getpass.getuser()


def _as_dataset_ref(ref: DatasetRef | str, option: str) -> DatasetRef:
    if isinstance(ref, DatasetRef):
        return ref
    parsed = parse_ref(ref, what="dataset", option=option)
    assert isinstance(parsed, DatasetRef)
    return parsed


def _as_model_ref(ref: ModelRef | str, option: str = "--model") -> ModelRef:
    if isinstance(ref, ModelRef):
        return ref
    parsed = parse_ref(ref, what="model", option=option)
    assert isinstance(parsed, ModelRef)
    return parsed


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+")  # two characters or more: C:\ is a drive


def _check_source_uri(uri: str) -> None:
    """InputError unless ``uri`` is a URI: a scheme (s3, https, file, ...) and where."""
    from urllib.parse import urlsplit

    shown = repr(uri[:80]) if len(uri) <= 80 else repr(uri[:80] + "...")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:  # "Invalid IPv6 URL"
        raise InputError(f"--source {shown}: not a URI ({exc})") from None
    if not _SCHEME.fullmatch(parts.scheme) or not (parts.netloc or parts.path.strip("/")):
        local = Path(uri).expanduser()  # a path (no scheme): say how to write it as a URI
        example = (
            f"; for this local file: {local.resolve().as_uri()}"
            if uri.strip() and not parts.scheme
            else ""
        )
        raise InputError(
            f"--source {shown}: expected a URI with a scheme saying where the data came "
            f"from, e.g. s3://bucket/key, https://host/path or file:///abs/path{example}"
        )
    if any(c.isspace() or ord(c) < 32 for c in uri):
        raise InputError(
            f"--source {shown}: a URI has no spaces or control characters (write a space as %20)"
        )


@emits_openlineage("register_dataset")
def register_dataset(
    data: pd.DataFrame | str | Path,
    *,
    name: str,
    store: Store,
    version: int | None = None,
    source_uri: str | None = None,
    parents: Sequence[DatasetRef | str] = (),
    transformation: str | None = None,
    order_independent: bool = False,
    actor: str | None = None,
) -> tuple[DatasetRecord, bool]:
    """Register a dataset version (a DataFrame, or a CSV/Parquet path). Returns (record, created).

    Registering the same content under the same name again returns the existing version.
    """
    from govkit.data import fingerprint, read_table, schema_of  # pandas: only when used

    parse_ref(name, what="dataset", option="--name")
    if source_uri is not None:  # recorded for good: a URI, without credentials
        _check_source_uri(source_uri)
        source_uri, removed = clean_source_uri(source_uri)
        if removed:
            log.warning(
                "dataset %s: %s removed from the source URI before recording it (the registry "
                "and audit log keep it for good)",
                name,
                ", ".join(removed),
            )
    # no source given: none is recorded. The file's own path is where a copy sits, not
    # where the data came from; recorded as the source, it let lineage.training_data_registered
    # pass for any file (see docs/concepts/registry.md)
    df = read_table(Path(data)) if isinstance(data, str | Path) else data
    refs = [_as_dataset_ref(p, "--parent") for p in parents]
    return store.add_dataset(
        name=name,
        version=version,
        fingerprint=fingerprint(df, order_independent=order_independent),
        order_independent=order_independent,
        row_count=len(df),
        columns=schema_of(df),
        source_uri=source_uri,
        parents=refs,
        transformation=transformation,
        actor=actor or current_actor(),
    )


def load_metadata(path: str | Path) -> ModelMetadata:
    """Read a model metadata YAML file strictly (unknown fields refused, with their line)."""
    source = str(path)
    p = Path(path)
    if p.is_dir():
        raise InputError(f"--meta {source}: is a directory; expected a metadata YAML file")
    if not p.is_file():
        raise InputError(f"{source}: metadata file not found")
    raw = p.read_bytes()
    if len(raw) > MAX_META_BYTES:
        raise InputError(f"{source}: metadata file is over {MAX_META_BYTES:,} bytes")
    marks: Marks = {}
    key_marks: Marks = {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{source}:{bad_line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as "
            "UTF-8"
        ) from None
    try:
        node = compose(text, source)
        obj = YamlWalker(source, marks, key_marks).build(node, ()) if node else {}
    except PolicyError as exc:
        raise InputError(str(exc)) from None
    if not isinstance(obj, dict):
        raise InputError(f"{source}: expected a mapping of metadata fields")
    try:
        meta = ModelMetadata.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc: tuple[str | int, ...] = tuple(err["loc"])
        key = loc[-1] if loc else None
        at = (
            key_marks.get(loc)
            if err["type"] == "extra_forbidden"
            else marks.get(loc) or key_marks.get(loc)
        )
        up = loc
        while at is None and up:  # a missing field: where its mapping starts
            up = up[:-1]
            at = marks.get(up)
        where = f"{source}:{at[0]}:{at[1]}" if at else source
        if err["type"] == "extra_forbidden":
            from govkit.exceptions import closest

            fields = _fields_at(loc[:-1])
            guess = closest(str(key), fields)
            raise InputError(
                f"{where}: unknown metadata field '{fmt_path(loc)}'"
                + (f" (did you mean '{guess}'?)" if guess else "")
                + f"; expected one of: {', '.join(fields)}"
            ) from None
        raise InputError(
            f"{where}: {fmt_path(loc)}: {err['msg']}; found {err.get('input')!r}"
        ) from None
    check_metadata_size(meta, source, marks, key_marks)
    return meta


def check_metadata_size(
    meta: ModelMetadata, source: str, marks: Marks | None = None, key_marks: Marks | None = None
) -> None:
    """Refuse metadata the model card could not show (:mod:`govkit._size_limits`), naming the
    field (``FILE:LINE:COL`` when the file's ``marks`` are given) and the limit."""
    over, total = first_oversize(meta)
    if over is None:
        if total > MAX_TOTAL_CHARS:
            raise InputError(
                f"{source}: the metadata holds {total:,} characters of text in all; a model "
                f"card takes at most {MAX_TOTAL_CHARS:,}"
            )
        return
    yaml_loc = tuple(part[1] if isinstance(part, tuple) else part for part in over.loc)
    is_key = bool(over.loc) and isinstance(over.loc[-1], tuple) and over.loc[-1][0] == "key"
    at = ((key_marks if is_key else marks) or {}).get(yaml_loc)
    where = f"{source}:{at[0]}:{at[1]}" if at else source
    size = "characters" if over.kind == "text" else "entries"
    holds = "a model card field holds" if over.kind == "text" else "a model card takes"
    raise InputError(
        f"{where}: metadata field '{fmt_loc(over.loc)}' has {over.size:,} {size}; {holds} at "
        f"most {over.limit:,} (`govkit card` would refuse it)"
        + (
            ". Keep long documents next to the model and give their link instead"
            if over.kind == "text"
            else ""
        )
    )


def _fields_at(path: tuple[str | int, ...]) -> list[str]:
    """The field names of the metadata model at ``path`` (``decision``: DecisionSpec's)."""
    from types import UnionType
    from typing import Union, get_args, get_origin

    from pydantic import BaseModel

    model: Any = ModelMetadata
    for part in path:
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part))
            model = field.annotation if field is not None else None
        else:  # the value type of a dict (features: NAME -> FeatureSpec)
            args = get_args(model)
            model = args[-1] if args else None
        if get_origin(model) in (Union, UnionType):  # DecisionSpec | None
            model = next(
                (a for a in get_args(model) if isinstance(a, type) and issubclass(a, BaseModel)),
                None,
            )
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(model.model_fields)
    return []


def register_model(
    artifact: str | Path,
    *,
    store: Store,
    name: str | None = None,
    training_data: DatasetRef | str | None = None,
    version: int | None = None,
    evaluation_data: DatasetRef | str | None = None,
    metadata: ModelMetadata | str | Path | None = None,
    trust: bool = False,
    trusted_types: Sequence[str] = (),
    actor: str | None = None,
    mlflow_tracking_uri: str | None = None,
) -> ModelVersionRecord:
    """Register a model version: its artifact digest, flavour, metadata and data links.

    ``artifact`` is a model file, or ``mlflow:models:/NAME/VERSION`` /
    ``mlflow:models:/NAME@ALIAS``: a model version in an MLflow registry (at
    ``mlflow_tracking_uri``, default ``$MLFLOW_TRACKING_URI``). The artifact is loaded (under
    the trust rules of :mod:`govkit.artifacts`) to learn its flavour and input columns.

    A model file needs ``name``. From MLflow, ``name`` defaults to the MLflow registered
    model's, ``training_data`` to the dataset the run logged with ``mlflow.log_input``, and
    the version number is govkit's next (``version`` is refused). Registering an MLflow
    version again reuses the latest govkit version registered from it when nothing new is
    given (the same ``metadata``, ``training_data`` and ``evaluation_data``, or none);
    otherwise a new govkit version of the same artifact is registered with what is given
    (what is not given is carried over), and ``check(model="mlflow:...")`` uses it from
    then on. :func:`register_model_or_reuse` also says which happened.
    """
    record, _created = register_model_or_reuse(
        artifact,
        store=store,
        name=name,
        training_data=training_data,
        version=version,
        evaluation_data=evaluation_data,
        metadata=metadata,
        trust=trust,
        trusted_types=trusted_types,
        actor=actor,
        mlflow_tracking_uri=mlflow_tracking_uri,
    )
    return record


def register_model_or_reuse(
    artifact: str | Path,
    *,
    store: Store,
    name: str | None = None,
    training_data: DatasetRef | str | None = None,
    version: int | None = None,
    evaluation_data: DatasetRef | str | None = None,
    metadata: ModelMetadata | str | Path | None = None,
    trust: bool = False,
    trusted_types: Sequence[str] = (),
    actor: str | None = None,
    mlflow_tracking_uri: str | None = None,
) -> tuple[ModelVersionRecord, bool]:
    """:func:`register_model`, and whether a version was added (False: an MLflow version
    already registered with the same metadata and data links was reused)."""
    from govkit.integrations._mlflow import default_model_name, is_mlflow_uri

    if is_mlflow_uri(artifact):
        if version is not None:
            raise InputError(
                f"--version: a model from MLflow ({artifact}) gets govkit's next version "
                "number; MLflow's version is recorded in its 'mlflow' metadata, and a new "
                "govkit version is added only when its metadata or data links change. Omit "
                f"--version (found {version})"
            )
        if name is None:  # named before the OpenLineage run starts: its job is named after it
            name = default_model_name(str(artifact), store=store, tracking=mlflow_tracking_uri)
    elif name is None:
        raise InputError(
            f"--name is required to register a model file ({artifact}): the govkit model "
            "name, e.g. --name credit (only an mlflow:models:/... model takes MLflow's name)"
        )
    return _register_model(
        artifact,
        name=name,
        store=store,
        training_data=training_data,
        version=version,
        evaluation_data=evaluation_data,
        metadata=metadata,
        trust=trust,
        trusted_types=trusted_types,
        actor=actor or current_actor(),
        tracking_uri=mlflow_tracking_uri,
    )


@emits_openlineage("register_model")  # the job is named after ``name``: resolved above
def _register_model(
    artifact: str | Path,
    *,
    name: str,
    store: Store,
    training_data: DatasetRef | str | None,
    version: int | None,
    evaluation_data: DatasetRef | str | None,
    metadata: ModelMetadata | str | Path | None,
    trust: bool,
    trusted_types: Sequence[str],
    actor: str,
    tracking_uri: str | None,
) -> tuple[ModelVersionRecord, bool]:
    """The version, and whether it was added (as register_dataset returns it)."""
    from govkit.integrations._mlflow import is_mlflow_uri, register_mlflow_model

    parse_ref(name, what="model", option="--name")
    if isinstance(metadata, ModelMetadata):
        declared: ModelMetadata | None = metadata
        check_metadata_size(metadata, "metadata")
    elif metadata is not None:
        declared = load_metadata(metadata)
    else:
        declared = None
    if is_mlflow_uri(artifact):
        return register_mlflow_model(
            str(artifact),
            store=store,
            trust=trust,
            trusted_types=trusted_types,
            tracking=tracking_uri,
            actor=actor,
            name=name,
            metadata=declared,
            metadata_file=None if isinstance(metadata, ModelMetadata) else metadata,
            training_data=training_data,
            evaluation_data=evaluation_data,
        )
    meta = declared or ModelMetadata()
    fmt = artifact_format(artifact)
    model, digest = load_artifact_with_digest(  # one read: the digest is of the loaded bytes
        artifact, expected_sha256=None, trust=trust, trusted_types=trusted_types
    )
    flavour, estimator, features = describe_model(model)
    if meta.flavour and meta.flavour != flavour:
        raise InputError(
            f"metadata says flavour '{meta.flavour}', but the artifact holds a {flavour} model "
            f"({estimator})"
        )
    updates: dict[str, Any] = {"flavour": flavour}
    if not meta.feature_names and features:
        updates["feature_names"] = features
    classes = model_classes(model)
    if meta.classes and set(map(str, meta.classes)) != set(map(str, classes)):
        raise InputError(
            f"metadata says classes {list(meta.classes)}, but the artifact's model predicts "
            f"{list(classes) or 'no classes (not a classifier)'}"
        )
    updates["classes"] = classes or meta.classes
    meta = meta.model_copy(update=updates)
    eval_ref = evaluation_data or meta.evaluation_data
    record = store.add_model_version(
        name=name,
        version=version,
        artifact_uri=Path(artifact).resolve().as_uri(),
        artifact_sha256=digest,
        artifact_format=fmt,
        flavour=flavour,
        estimator=estimator,
        metadata=meta,
        training_data=_as_dataset_ref(training_data, "--training-data") if training_data else None,
        evaluation_data=_as_dataset_ref(eval_ref, "--evaluation-data") if eval_ref else None,
        actor=actor,
    )
    return record, True
