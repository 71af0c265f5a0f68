"""Models from an MLflow model registry, registered in govkit under govkit's trust rules.

``mlflow:models:/NAME/VERSION`` or ``mlflow:models:/NAME@ALIAS`` names a registered MLflow
model version. govkit reads its ``MLmodel`` file, picks the one file that holds the model,
loads it under :mod:`govkit.artifacts`' trust rules, and registers a govkit model version
whose artifact SHA-256 is that file's, with the team's metadata if given. Registering the same
MLflow version again reuses the latest govkit version registered from it, unless new metadata
or data links are given (a new govkit version of the same file then; the rule is in
:mod:`govkit.integrations._mlflow_register`); an MLflow version whose file changed since is
refused (IntegrityError).

Flavours (what ``MLmodel`` says) and how they load:

* ``sklearn`` saved with skops (MLflow's default since 3.x): safe, skops' trusted types;
* ``sklearn`` saved with pickle or cloudpickle, ``lightgbm`` scikit-learn API models
  (pickled by MLflow): only with ``trust=True`` (``--trust``);
* anything else (``python_function`` only, LightGBM Boosters, ...): refused, since govkit
  needs a scikit-learn-API model it can describe and explain.

The run that logged the model supplies provenance, and its training input
(``mlflow.log_input(..., context="training")``) is registered as the training dataset.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govkit.artifacts import describe_model, load_artifact_with_digest
from govkit.exceptions import (
    InputError,
    IntegrityError,
    NotFoundError,
    UntrustedArtifactError,
)
from govkit.integrations._mlflow_client import (
    client,
    error_code,
    input_error,
    mlflow_errors,
    quiet_downloads,
    redact_uri,
    require_mlflow,
    scrub,
    tracking_uri,
)
from govkit.integrations._mlflow_data import training_dataset
from govkit.integrations._mlflow_register import (
    check_declared,
    data_links,
    latest_registered,
    merge_metadata,
    same_registration,
)
from govkit.records import DatasetRef, MlflowSource, ModelMetadata, ModelVersionRecord
from govkit.store import Store  # noqa: TC001

__all__ = [
    "MlflowModelURI",
    "parse_mlflow_uri",
    "is_mlflow_uri",
    "default_model_name",
    "register_mlflow_model",
    "fetch_artifact",
]

log = logging.getLogger(__name__)

PREFIX = "mlflow:"
_FORMS = "mlflow:models:/NAME/VERSION or mlflow:models:/NAME@ALIAS"
_URI_RE = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[0-9]+)|@(?P<alias>[\w-]+))$")
_GOVKIT_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class MlflowModelURI:
    """A parsed ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return (
            f"models:/{self.name}/{self.version}"
            if self.alias is None
            else (f"models:/{self.name}@{self.alias}")
        )


def is_mlflow_uri(text: object) -> bool:
    return isinstance(text, str) and text.startswith(PREFIX)


def parse_mlflow_uri(text: str, *, option: str = "--model") -> MlflowModelURI:
    """Parse ``mlflow:models:/NAME/VERSION`` or ``mlflow:models:/NAME@ALIAS`` (prefix optional)."""
    uri = text.removeprefix(PREFIX)
    match = _URI_RE.match(uri)
    if match is None or (match["version"] is not None and int(match["version"]) < 1):
        raise InputError(
            f"{option}: expected an MLflow model URI {_FORMS} (VERSION a positive whole "
            f"number, ALIAS letters, digits, '_' or '-'); got {text!r}"
        )
    version = match["version"]
    return MlflowModelURI(
        name=match["name"], version=int(version) if version else None, alias=match["alias"]
    )


def default_model_name(text: str, *, store: Store, tracking: str | None) -> str:
    """The govkit model name MLflow model ``text`` registers under when none is given.

    The name its MLflow version was last registered under in govkit, else the MLflow
    model's name (characters govkit does not allow become '-'). A version number is looked
    up in the registry alone; an alias asks MLflow which version it names now.
    """
    parsed = parse_mlflow_uri(text, option="ARTIFACT")
    fallback = _govkit_name(parsed.name)
    track = tracking_uri(tracking)
    number = parsed.version
    if number is None:
        number = int(_model_version(client(track), parsed, track).version)
    found = latest_registered(
        store, None, registered_model=parsed.name, version=number, tracking_uri=redact_uri(track)
    )
    return found.name if found is not None else fallback


@dataclass(frozen=True)
class _Flavour:
    name: str  # MLflow flavour
    file: str  # the model file, relative to the model's artifact root
    serialization: str | None
    pickled: bool


def register_mlflow_model(
    uri: str,
    *,
    store: Store,
    trust: bool = False,
    trusted_types: Sequence[str] = (),
    tracking: str | None = None,
    actor: str | None = None,
    name: str | None = None,
    metadata: ModelMetadata | None = None,
    metadata_file: str | Path | None = None,
    training_data: DatasetRef | str | None = None,
    evaluation_data: DatasetRef | str | None = None,
) -> tuple[ModelVersionRecord, bool]:
    """Register MLflow model ``uri`` in govkit; returns ``(record, created)``.

    The govkit model takes ``name``; by default the name this MLflow version was last
    registered under in govkit, else the MLflow registered model's name (characters govkit
    does not allow in names become '-'). ``tracking`` defaults to
    ``MLFLOW_TRACKING_URI``. ``metadata`` (read from ``metadata_file``, named in errors),
    ``training_data`` and ``evaluation_data`` (registered datasets; the evaluation data
    defaults to the metadata's ``evaluation_data``) replace those of the latest govkit version
    registered from the same MLflow version; nothing new: that version is reused (``created``
    False). See :mod:`govkit.integrations._mlflow_register`.
    """
    parsed = parse_mlflow_uri(uri)
    if metadata is not None:
        check_declared(metadata, metadata_file=metadata_file)
    given_training, given_evaluation = data_links(  # all checked before any network call
        store,
        training_data=training_data,
        evaluation_data=evaluation_data,
        metadata=metadata,
        metadata_file=metadata_file,
    )
    track = tracking_uri(tracking)
    mlflow_client = client(track)
    version = _model_version(mlflow_client, parsed, track)
    with mlflow_errors(f"read MLflow model {parsed}", track):
        root = mlflow_client.get_model_version_download_uri(parsed.name, str(version.version))
    with tempfile.TemporaryDirectory(prefix="govkit-mlflow-") as tmp:
        mlmodel = _read_mlmodel(root, Path(tmp), parsed, track)
        flavour = _flavour(mlmodel, parsed)
        if flavour.pickled and not trust:
            raise UntrustedArtifactError(
                f"MLflow model {parsed}: its {flavour.name} flavour is stored as "
                f"{flavour.serialization} ({flavour.file}), and loading pickle-based files can "
                "execute arbitrary code. Pass --trust (CLI) or trust=True (Python) only if you "
                "trust whoever can write to this MLflow registry; or log the model with "
                "mlflow.sklearn.log_model(..., serialization_format='skops')."
            )
        local = _download(f"{root.rstrip('/')}/{flavour.file}", Path(tmp), parsed, track)
        try:
            model, digest = load_artifact_with_digest(
                local, expected_sha256=None, trust=trust, trusted_types=trusted_types
            )
        except (InputError, UntrustedArtifactError) as exc:  # name the model, not the temp copy
            text = str(exc).replace(str(local), f"MLflow model {parsed} ({flavour.file})")
            raise type(exc)(text) from None
    kind, estimator, features = describe_model(model)
    source = MlflowSource(
        model_uri=str(parsed),
        registered_model=parsed.name,
        version=int(version.version),
        alias=parsed.alias,
        tracking_uri=redact_uri(track),
        run_id=version.run_id or None,
        experiment_id=None,
        model_id=_model_id(version, mlmodel),
        source=_clean(version.source, track),
        artifact_location=_clean(root, track),
        model_file=flavour.file,
        flavour=flavour.name,
        serialization_format=flavour.serialization,
    )
    # no name given: the govkit model this MLflow version was registered as, whatever its name
    existing = latest_registered(
        store,
        name,
        registered_model=source.registered_model,
        version=source.version,
        tracking_uri=source.tracking_uri,
    )
    name = name or (existing.name if existing is not None else _govkit_name(parsed.name))
    if existing is not None and existing.artifact_sha256 != digest:
        raise IntegrityError(
            f"MLflow model {parsed} (version {source.version}) was registered in govkit as "
            f"{existing.ref} with artifact SHA-256 {existing.artifact_sha256}, but its "
            f"{flavour.file} now has SHA-256 {digest}: the model changed in MLflow after "
            "registration. Restore it, or register the new model as a new MLflow version."
        )
    # the new version: what is given, else the current version's, else MLflow's
    if metadata is not None:
        meta = merge_metadata(
            metadata,
            metadata_file=metadata_file,
            model=str(parsed),
            flavour=kind,
            estimator=estimator,
            features=features,
            description=version.description or None,
            source=source,
        )
    elif existing is not None:
        meta = existing.metadata
    else:
        meta = ModelMetadata(
            description=version.description or None, flavour=kind, feature_names=features
        )
    training = given_training or (existing.training_data if existing else None)
    evaluation = given_evaluation or (existing.evaluation_data if existing else None)
    if existing is not None and same_registration(
        existing, metadata=meta, training_data=training, evaluation_data=evaluation
    ):
        log.info("MLflow model %s is already registered as %s", parsed, existing.ref)
        return existing, False
    if source.run_id:
        run = _run(mlflow_client, source.run_id, track)
        if run is not None:
            source = source.model_copy(update={"experiment_id": run.info.experiment_id})
            if given_training is None and existing is None:  # the run's logged training input
                logged = training_dataset(run, store=store, actor=actor, tracking=track)
                training = logged.ref if logged else None
    record = store.add_model_version(
        name=name,
        version=None,
        artifact_uri=_artifact_uri(root, flavour.file, track),
        artifact_sha256=digest,
        artifact_format=_format(flavour),
        flavour=kind,
        estimator=estimator,
        metadata=meta.model_copy(update={"mlflow": source}),
        training_data=training,
        evaluation_data=evaluation,
        actor=actor,
    )
    log.info("registered MLflow model %s as %s (sha256 %s)", parsed, record.ref, digest)
    return record, True


def fetch_artifact(record: ModelVersionRecord) -> Path:
    """A local copy of ``record``'s model file from MLflow's artifact store (digest unchecked).

    For artifact stores that are not local folders (``s3://``, ``mlflow-artifacts:``, ...);
    the copy lives in a temporary folder removed when the process exits. The caller checks
    the copy against the registered SHA-256 (govkit.artifacts.load_artifact).
    """
    source = record.metadata.mlflow
    if source is None:
        raise InputError(f"model {record.ref} was not registered from MLflow")
    # the registry keeps the URI without credentials: MLflow knows where the file is now
    track = tracking_uri()
    if redact_uri(track) != source.tracking_uri:
        raise InputError(
            f"model {record.ref} was registered from the MLflow tracking server "
            f"{source.tracking_uri}, but MLFLOW_TRACKING_URI is {redact_uri(track)}: point it "
            "at the server the model came from"
        )
    parsed = MlflowModelURI(name=source.registered_model, version=source.version)
    with mlflow_errors(f"read MLflow model {parsed}", track):
        root = client(track).get_model_version_download_uri(parsed.name, str(parsed.version))
    folder = tempfile.TemporaryDirectory(prefix="govkit-mlflow-")
    _DOWNLOADS.append(folder)  # kept until exit: the caller reads the file after we return
    file = f"{root.rstrip('/')}/{source.model_file}"
    return _download(file, Path(folder.name), source.model_uri, track)


_DOWNLOADS: list[tempfile.TemporaryDirectory[str]] = []


# ---------------------------------------------------------------- resolution


def _model_version(mlflow_client: Any, parsed: MlflowModelURI, uri: str) -> Any:
    mlflow = require_mlflow()
    try:
        if parsed.alias is not None:
            return mlflow_client.get_model_version_by_alias(parsed.name, parsed.alias)
        return mlflow_client.get_model_version(parsed.name, str(parsed.version))
    except mlflow.exceptions.MlflowException as exc:
        if error_code(exc) not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise input_error(exc, f"read MLflow model {parsed}", uri) from None
        raise NotFoundError(_not_found(mlflow_client, parsed, uri)) from None
    except Exception as exc:  # the network, the database
        raise input_error(exc, f"read MLflow model {parsed}", uri) from None


def _not_found(mlflow_client: Any, parsed: MlflowModelURI, uri: str) -> str:
    """What exists instead: the registered model names, or the model's versions and aliases."""
    from govkit.exceptions import closest

    where = f"in the MLflow registry at {redact_uri(uri)}"
    with mlflow_errors("list MLflow registered models", uri):
        names = [m.name for m in mlflow_client.search_registered_models(max_results=200)]
    if parsed.name not in names:
        guess = closest(parsed.name, names)
        hint = f" (did you mean '{guess}'?)" if guess else ""
        known = ", ".join(sorted(names)[:20]) or "none"
        return f"no registered model '{parsed.name}' {where}{hint}; registered models: {known}"
    with mlflow_errors(f"read MLflow model '{parsed.name}'", uri):
        model = mlflow_client.get_registered_model(parsed.name)
        versions = sorted(
            int(v.version)
            for v in mlflow_client.search_model_versions(f"name='{_quote(parsed.name)}'")
        )
    if parsed.alias is not None:
        aliases = ", ".join(f"@{a} -> {v}" for a, v in sorted(dict(model.aliases).items()))
        return (
            f"model '{parsed.name}' has no alias '@{parsed.alias}' {where}; aliases: "
            f"{aliases or 'none'}"
        )
    return (
        f"model '{parsed.name}' has no version {parsed.version} {where}; versions: "
        f"{', '.join(map(str, versions)) or 'none'}"
    )


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace("'", "\\'")


def _run(mlflow_client: Any, run_id: str, uri: str) -> Any:
    """The run that logged the model, or None when it was deleted."""
    mlflow = require_mlflow()
    try:
        return mlflow_client.get_run(run_id)
    except mlflow.exceptions.MlflowException as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            log.warning("MLflow run %s of the model no longer exists", run_id)
            return None
        raise input_error(exc, f"read MLflow run {run_id}", uri) from None
    except Exception as exc:
        raise input_error(exc, f"read MLflow run {run_id}", uri) from None


# ---------------------------------------------------------------- files


def _download(artifact_uri: str, directory: Path, what: object, uri: str) -> Path:
    import mlflow.artifacts

    action = f"download {artifact_uri.rpartition('/')[2]} of MLflow model {what}"
    with mlflow_errors(action, uri, also=artifact_uri), quiet_downloads():
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=artifact_uri, dst_path=str(directory), tracking_uri=uri
        )
    return Path(local)


def _read_mlmodel(root: str, directory: Path, parsed: MlflowModelURI, uri: str) -> dict[str, Any]:
    import yaml

    path = _download(f"{root.rstrip('/')}/MLmodel", directory, parsed, uri)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(
            f"MLflow model {parsed}: its MLmodel file is not valid YAML: {exc}"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise InputError(f"MLflow model {parsed}: its MLmodel file lists no flavors")
    return data


def _flavour(mlmodel: dict[str, Any], parsed: MlflowModelURI) -> _Flavour:
    flavors = mlmodel["flavors"]
    sk = flavors.get("sklearn")
    if isinstance(sk, dict) and sk.get("pickled_model"):
        fmt = str(sk.get("serialization_format") or "pickle")
        return _Flavour("sklearn", _file(sk["pickled_model"], parsed), fmt, fmt != "skops")
    lgb = flavors.get("lightgbm")
    if isinstance(lgb, dict) and lgb.get("data"):
        file = _file(lgb["data"], parsed)
        if file.endswith((".pkl", ".skops")):  # a scikit-learn API model; .lgb: a Booster
            fmt = str(lgb.get("serialization_format") or "cloudpickle")
            return _Flavour("lightgbm", file, fmt, fmt != "skops")
        raise InputError(
            f"MLflow model {parsed}: unsupported lightgbm model {lgb.get('model_class', '?')} "
            f"({file}); govkit needs the scikit-learn API (log an LGBMClassifier or "
            "LGBMRegressor with mlflow.lightgbm.log_model)"
        )
    xg = flavors.get("xgboost")
    if isinstance(xg, dict) and xg.get("data"):
        file = _file(xg["data"], parsed)
        fmt = Path(file).suffix.lstrip(".").lower()
        if fmt in ("ubj", "json") and str(xg.get("model_class", "")).startswith("xgboost.sklearn"):
            return _Flavour("xgboost", file, fmt, False)  # XGBoost's own format: data
        raise InputError(
            f"MLflow model {parsed}: unsupported xgboost model {xg.get('model_class', '?')} "
            f"({file}); govkit needs an XGBClassifier or XGBRegressor logged with "
            "mlflow.xgboost.log_model(..., model_format='ubj' or 'json')"
        )
    raise InputError(
        f"MLflow model {parsed}: unsupported MLflow flavour "
        f"({', '.join(sorted(flavors)) or 'none'}); govkit loads the 'sklearn' flavour "
        "(scikit-learn, and LightGBM / XGBoost scikit-learn API models logged with "
        "mlflow.sklearn), the 'lightgbm' flavour of LGBMClassifier / LGBMRegressor and the "
        "'xgboost' flavour of XGBClassifier / XGBRegressor"
    )


def _file(name: object, parsed: MlflowModelURI) -> str:
    text = str(name)
    if text.startswith("/") or ".." in Path(text).parts or "\\" in text:
        raise InputError(f"MLflow model {parsed}: MLmodel names an unsafe model file {text!r}")
    return text


def _format(flavour: _Flavour) -> str:
    if flavour.name == "xgboost":
        return f"xgboost-{flavour.serialization}"
    return "skops" if flavour.serialization == "skops" else "pickle"


def _artifact_uri(root: str, file: str, track: str) -> str:
    """A ``file:`` URI when MLflow stores artifacts locally (govkit reloads it directly);
    else the remote URI without credentials: it goes into the registry and the audit log,
    and :func:`fetch_artifact` asks MLflow for the real location when it needs the file."""
    if root.startswith("file:"):
        from mlflow.utils.file_utils import local_file_uri_to_path

        local = Path(local_file_uri_to_path(root))  # type: ignore[no-untyped-call]
        return (local / file).resolve().as_uri()
    return _clean(f"{root.rstrip('/')}/{file}", track) or file


def _model_id(version: Any, mlmodel: dict[str, Any]) -> str | None:
    value = getattr(version, "model_id", None) or mlmodel.get("model_id")
    return str(value) if value else None


def _clean(value: str | None, uri: str) -> str | None:
    return redact_uri(scrub(value, uri)) if value else None


def _govkit_name(mlflow_name: str) -> str:
    name = _GOVKIT_NAME_BAD.sub("-", mlflow_name).lstrip("._-")[:128]
    if not name:
        raise InputError(f"MLflow model name {mlflow_name!r} has no usable characters")
    return name
