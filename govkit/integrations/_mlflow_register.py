"""What a govkit version registered from an MLflow model version holds, and when one is reused.

A govkit model version registered from MLflow (``govkit model register mlflow:models:/...``,
or ``govkit check --model mlflow:models:/...``) is made of:

* the **metadata**: the team's metadata file (``--meta``) if given, plus what govkit learns
  from the artifact and MLflow: the flavour (a file that says another flavour is an error),
  the feature names (when the file lists none), the MLflow version's description (when the
  file has none) and ``mlflow``, the provenance govkit records itself (a file that sets it is
  an error);
* the **data links**: the training data (``--training-data``, else the dataset the run logged
  with ``mlflow.log_input``) and the evaluation data (``--evaluation-data``, else the file's
  ``evaluation_data``).

The reuse rule: the *latest* govkit version registered (under the same name) from the same
MLflow version is the current one. A registration takes it as the base and replaces only what
is given (metadata, training data, evaluation data). Nothing given, or everything given equal
to the base's: the base is reused, no version is added. Something different: a new govkit
version of the same artifact (same SHA-256) is registered, and becomes the current one, so
``govkit check --model mlflow:models:/...`` uses it from then on.
"""

from __future__ import annotations

from pathlib import Path

from govkit.exceptions import InputError, NotFoundError
from govkit.records import DatasetRef, MlflowSource, ModelMetadata, ModelVersionRecord, parse_ref
from govkit.store import Store  # noqa: TC001

__all__ = [
    "check_declared",
    "data_links",
    "merge_metadata",
    "latest_registered",
    "same_registration",
]


def data_links(
    store: Store,
    *,
    training_data: DatasetRef | str | None,
    evaluation_data: DatasetRef | str | None,
    metadata: ModelMetadata | None,
    metadata_file: str | Path | None,
) -> tuple[DatasetRef | None, DatasetRef | None]:
    """The registered datasets given (None: not given), versions fixed, checked before any
    write; the evaluation data comes from the option, else the metadata's ``evaluation_data``."""
    training = _linked(store, training_data, "--training-data")
    if evaluation_data is not None:
        return training, _linked(store, evaluation_data, "--evaluation-data")
    declared = metadata.evaluation_data if metadata is not None else None
    if declared is None:
        return training, None
    where = _where(metadata_file, "evaluation_data")
    return training, _linked(store, declared, f"{where}: evaluation_data")


def _linked(store: Store, ref: DatasetRef | str | None, option: str) -> DatasetRef | None:
    if ref is None:
        return None
    parsed = ref if isinstance(ref, DatasetRef) else parse_ref(ref, what="dataset", option=option)
    try:
        return store.get_dataset(parsed).ref
    except NotFoundError as exc:
        raise type(exc)(f"{option}: {exc}") from None


def check_declared(metadata: ModelMetadata, *, metadata_file: str | Path | None) -> None:
    """Refuse declared metadata that sets ``mlflow``: govkit records it from the registry."""
    if metadata.mlflow is None:
        return
    raise InputError(
        f"{_where(metadata_file, 'mlflow')}: mlflow: expected no 'mlflow' field: govkit records "
        "it itself from the MLflow registry (model version, run, model file and its digest); "
        f"found one naming {metadata.mlflow.model_uri!r}. Remove it from the metadata"
    )


def merge_metadata(
    declared: ModelMetadata,
    *,
    metadata_file: str | Path | None,
    model: str,
    flavour: str,
    estimator: str,
    features: tuple[str, ...],
    description: str | None,
    source: MlflowSource,
) -> ModelMetadata:
    """The declared metadata plus what govkit knows from the artifact and MLflow."""
    check_declared(declared, metadata_file=metadata_file)
    if declared.flavour and declared.flavour != flavour:
        raise InputError(
            f"{_where(metadata_file, 'flavour')}: flavour: expected '{flavour}' (MLflow model "
            f"{model} holds a {flavour} model, {estimator}) or no flavour; found "
            f"'{declared.flavour}'"
        )
    updates: dict[str, object] = {"flavour": flavour, "mlflow": source}
    if not declared.feature_names and features:
        updates["feature_names"] = features
    if declared.description is None and description:
        updates["description"] = description
    return declared.model_copy(update=updates)


def latest_registered(
    store: Store, name: str | None, *, registered_model: str, version: int, tracking_uri: str
) -> ModelVersionRecord | None:
    """The latest govkit version registered from MLflow version ``version`` of
    ``registered_model`` (tracking server ``tracking_uri``, redacted): of model ``name``, or
    (``name`` None) of any model, the one registered last."""
    found = [
        record
        for record in store.list_model_versions()
        if (name is None or record.name == name)
        and (other := record.metadata.mlflow) is not None
        and other.registered_model == registered_model
        and other.version == version
        and other.tracking_uri == tracking_uri
    ]
    return max(found, key=lambda r: (r.created_at, r.version), default=None)


def same_registration(
    existing: ModelVersionRecord,
    *,
    metadata: ModelMetadata,
    training_data: DatasetRef | None,
    evaluation_data: DatasetRef | None,
) -> bool:
    """Would a new version hold what ``existing`` holds? (``mlflow`` provenance aside: naming
    the MLflow version by alias or number, or the run's experiment, changes nothing.)"""
    return (
        _declared(existing.metadata) == _declared(metadata)
        and existing.training_data == training_data
        and existing.evaluation_data == evaluation_data
    )


def _declared(metadata: ModelMetadata) -> ModelMetadata:
    return metadata.model_copy(update={"mlflow": None})


def _where(metadata_file: str | Path | None, key: str) -> str:
    """``FILE:LINE`` of top-level ``key`` in the metadata file, or what names the metadata."""
    if metadata_file is None:
        return "metadata"
    line = _key_line(Path(metadata_file), key)
    return f"{metadata_file}:{line}" if line else str(metadata_file)


def _key_line(path: Path, key: str) -> int | None:
    import yaml

    try:  # the file was read and validated already (size, syntax): this only finds the line
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return int(key_node.start_mark.line) + 1
    return None
