"""Model artifacts: SHA-256 identity and loading under explicit trust.

The bytes are read once, hashed, compared with the registered digest, and the
model is loaded from those same bytes, so the file cannot change between the
check and the load.

Trust rules:

* joblib / pickle files can run arbitrary code when loaded; they load only with
  ``trust=True`` (CLI ``--trust``).
* skops files are audited by skops: types outside its default trusted set load
  only when named in ``trusted_types`` (CLI ``--trust-type``, after review) or
  with ``trust=True`` (the caller trusts the file's source entirely).
* XGBoost's own model files (``.ubj``, ``.json``: ``XGBClassifier.save_model``, and what
  MLflow's ``xgboost`` flavour logs) are data, parsed by XGBoost: they load without trust,
  as the scikit-learn estimator type recorded in them.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from govkit.exceptions import InputError, IntegrityError, UntrustedArtifactError
from govkit.records import Flavour, ModelVersionRecord

__all__ = [
    "sha256_file",
    "artifact_format",
    "load_artifact",
    "load_artifact_with_digest",
    "describe_model",
    "model_classes",
    "artifact_path",
    "load_registered",
]

log = logging.getLogger(__name__)

_FORMATS = {
    ".skops": "skops",
    ".joblib": "joblib",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".ubj": "xgboost-ubj",
    ".json": "xgboost-json",
}
_MAX_ARTIFACT_BYTES = 4 * 1024**3


def artifact_format(path: str | Path) -> str:
    if Path(path).is_dir():
        raise InputError(f"{path}: expected a model artifact file, found a directory")
    suffix = Path(path).suffix.lower()
    try:
        return _FORMATS[suffix]
    except KeyError:
        raise InputError(
            f"{path}: unsupported model artifact type '{suffix or '(none)'}'; expected one of "
            f"{', '.join(_FORMATS)} (skops is the safe choice: "
            "skops.io.dump(model, 'model.skops'); for XGBoost, model.save_model('model.ubj'))"
        ) from None


def _read(path: str | Path) -> bytes:
    with _opened(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > _MAX_ARTIFACT_BYTES:
            raise InputError(f"{path}: artifact is {size:,} bytes, over the 4 GiB limit")
        if size == 0:
            raise InputError(f"{path}: the file is empty (0 bytes); expected a saved model")
        return fh.read()


@contextmanager
def _opened(path: str | Path) -> Iterator[io.BufferedReader]:
    """The artifact file open for reading; InputError naming it when it cannot be."""
    try:
        fh = Path(path).open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: model artifact not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: expected a model artifact file, found a directory") from None
    except PermissionError:
        raise InputError(f"{path}: model artifact is not readable (permission denied)") from None
    with fh:
        yield fh


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read a block at a time (any size, little memory)."""
    with _opened(path) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def load_artifact(
    path: str | Path,
    *,
    expected_sha256: str | None,
    trust: bool = False,
    trusted_types: Sequence[str] = (),
) -> Any:
    """Load a model artifact after checking its digest and the caller's trust."""
    return load_artifact_with_digest(
        path, expected_sha256=expected_sha256, trust=trust, trusted_types=trusted_types
    )[0]


def load_artifact_with_digest(
    path: str | Path,
    *,
    expected_sha256: str | None,
    trust: bool = False,
    trusted_types: Sequence[str] = (),
) -> tuple[Any, str]:
    """(model, hex SHA-256 of exactly the bytes it was loaded from), reading the file once."""
    fmt = artifact_format(path)
    data = _read(path)
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise IntegrityError(
            f"{path}: artifact SHA-256 is {digest}, but the registry recorded {expected_sha256}; "
            "the file was changed after registration. Restore the registered file or register "
            "the new one as a new model version."
        )
    if fmt == "skops":
        return _load_skops(path, data, trust=trust, trusted_types=trusted_types), digest
    if fmt.startswith("xgboost-"):
        return _load_xgboost(path, data), digest
    if not trust:
        raise UntrustedArtifactError(
            f"{path}: refusing to load a {fmt} artifact: loading {fmt} files can execute "
            "arbitrary code. Pass --trust (CLI) or trust=True (Python) only if you trust where "
            "this file came from, or save the model with skops (skops.io.dump) instead."
        )
    log.info("loading trusted %s artifact %s (sha256 %s)", fmt, path, digest)
    try:
        if fmt == "joblib":
            import joblib

            return joblib.load(io.BytesIO(data)), digest
        return pickle.loads(data), digest  # noqa: S301 - the caller opted in with trust=True
    except Exception as exc:  # a corrupt file raises anything the unpickler meets
        raise InputError(f"{path}: cannot load {fmt} artifact: {exc}") from None


def _load_skops(path: str | Path, data: bytes, *, trust: bool, trusted_types: Sequence[str]) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # not a zip / not a skops file
        raise InputError(f"{path}: not a valid skops file: {exc}") from None
    missing = [t for t in untrusted if t not in trusted_types]
    if missing and not trust:
        flags = " ".join(f"--trust-type {t}" for t in missing)
        raise UntrustedArtifactError(
            f"{path}: the skops file contains types outside skops' trusted set: "
            f"{', '.join(missing)}. Review them (skops.io.get_untrusted_types) and, if you trust "
            f"them, pass {flags} (CLI) or trusted_types=[...] (Python); --trust trusts the "
            "whole file."
        )
    try:
        return sio.loads(data, trusted=list(untrusted))
    except Exception as exc:
        raise InputError(f"{path}: cannot load skops artifact: {exc}") from None


def _load_xgboost(path: str | Path, data: bytes) -> Any:
    """An XGBoost scikit-learn estimator from its own model file (no code runs: it is data)."""
    import json

    from govkit._optional import import_optional

    xgb = import_optional("xgboost", feature="XGBoost model files")
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(data))
    except xgb.core.XGBoostError as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a valid XGBoost model file: {first}") from None
    try:
        kind = json.loads(booster.attr("scikit_learn") or "{}").get("_estimator_type")
    except (ValueError, AttributeError):
        kind = None
    classes = {"classifier": xgb.XGBClassifier, "regressor": xgb.XGBRegressor}
    if kind not in classes:
        raise InputError(
            f"{path}: the XGBoost model was not saved from the scikit-learn API (estimator type "
            f"{kind or 'not recorded'}); govkit needs an XGBClassifier or XGBRegressor saved "
            "with model.save_model('model.ubj')"
        )
    model = classes[kind]()
    model.load_model(bytearray(data))
    return model


def describe_model(model: Any) -> tuple[Flavour, str, tuple[str, ...]]:
    """(flavour, estimator description, input feature names) of a loaded model."""
    final = model
    name = type(model).__name__
    steps = getattr(model, "steps", None)
    if steps:
        final = steps[-1][1]
        name = f"{name}[{type(final).__name__}]"
    module = type(final).__module__.split(".")[0]
    flavour: Flavour
    if module == "lightgbm":
        flavour = "lightgbm"
    elif module == "xgboost":
        flavour = "xgboost"
    elif module == "sklearn":
        flavour = "sklearn"
    else:
        raise InputError(
            f"unsupported model type {type(final).__module__}.{type(final).__name__}; "
            "govkit supports scikit-learn estimators and Pipelines, LightGBM and XGBoost "
            "(scikit-learn API)"
        )
    if not hasattr(model, "predict"):
        raise InputError(f"the artifact holds a {name}, which has no predict(); not a model")
    features = tuple(str(f) for f in getattr(model, "feature_names_in_", ()))
    return flavour, name, features


def model_classes(model: Any) -> tuple[str | int | bool, ...]:
    """The labels a loaded classifier predicts (``classes_``) as plain values; () otherwise."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        return ()
    out: list[str | int | bool] = []
    for value in list(classes):
        plain = value.item() if hasattr(value, "item") else value
        if isinstance(plain, float) and plain.is_integer():
            plain = int(plain)
        out.append(plain if isinstance(plain, str | int | bool) else str(plain))
    return tuple(out)


def artifact_path(record: ModelVersionRecord) -> Path:
    """The local file a registered model version's artifact URI points to."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(record.artifact_uri)
    if parsed.scheme != "file":
        raise InputError(
            f"model {record.ref}: artifact URI {record.artifact_uri} is not a local file"
        )
    return Path(unquote(parsed.path))


def load_registered(
    record: ModelVersionRecord, *, trust: bool = False, trusted_types: Sequence[str] = ()
) -> Any:
    """Load a registered model version's artifact, checked against its registered SHA-256."""
    return load_artifact(
        artifact_path(record),
        expected_sha256=record.artifact_sha256,
        trust=trust,
        trusted_types=trusted_types,
    )
