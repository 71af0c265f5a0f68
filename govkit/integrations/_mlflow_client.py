"""MLflow connection helpers: the tracking URI, its redaction, and MLflow errors as govkit's.

The tracking URI comes from the caller or ``MLFLOW_TRACKING_URI``. It may carry credentials
(``https://user:secret@host``, ``?token=...``): they never reach a log line, an error message
or the govkit store; :func:`redact_uri` removes them first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from govkit._optional import import_optional
from govkit.exceptions import GovkitError, InputError

__all__ = [
    "redact_uri",
    "scrub",
    "tracking_uri",
    "client",
    "mlflow_errors",
    "input_error",
    "require_mlflow",
    "quiet_downloads",
]

log = logging.getLogger(__name__)

_REDACTED = "***"


def require_mlflow(feature: str = "the MLflow integration") -> Any:
    """The ``mlflow`` module, or MissingDependencyError naming the ``mlflow`` extra."""
    return import_optional("mlflow", feature=feature)


def redact_uri(uri: str) -> str:
    """``uri`` without user name, password or query-string values (keys stay visible)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return _REDACTED
    if "@" not in parts.netloc and not parts.query and not parts.fragment:
        return uri  # nothing to hide; urlunsplit would turn sqlite://// into sqlite://
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{_REDACTED}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        keys = [k for k, _ in parse_qsl(query, keep_blank_values=True)]
        query = "&".join(f"{quote(k)}={_REDACTED}" for k in keys)
    rest = urlunsplit(("", netloc, parts.path, query, ""))
    if netloc == "" and uri.startswith(f"{parts.scheme}://"):
        rest = "//" + rest
    return f"{parts.scheme}:{rest}" if parts.scheme else rest


def _secrets(uri: str) -> list[str]:
    """The pieces of ``uri`` that must not be shown: the URI itself, userinfo, query values."""
    out = [uri]
    try:
        parts = urlsplit(uri)
    except ValueError:
        return out
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        out += [userinfo, *userinfo.split(":")]
    out += [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
    return [s for s in out if len(s) >= 3]


def scrub(text: str, uri: str | None) -> str:
    """``text`` with every secret of ``uri`` replaced (MLflow's messages may quote the URI)."""
    if not uri:
        return text
    redacted = redact_uri(uri)
    text = text.replace(uri, redacted)
    for secret in sorted(_secrets(uri)[1:], key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return text


def tracking_uri(given: str | None = None) -> str:
    """The tracking URI to use: ``given``, else ``MLFLOW_TRACKING_URI``; checked to exist.

    A local store (``sqlite:///path``, a ``file:`` or plain folder) must already exist:
    MLflow would otherwise create an empty one and report the model as unknown.
    """
    uri = given or os.environ.get("MLFLOW_TRACKING_URI") or ""
    if not uri.strip():
        raise InputError(
            "no MLflow tracking URI: set MLFLOW_TRACKING_URI (for example "
            "sqlite:///mlflow.db, ./mlruns or http://mlflow.example:5000)"
        )
    local = _local_store_path(uri)
    if local is not None:
        path, kind = local
        ok = path.is_file() if kind == "database" else path.is_dir()
        if not ok:
            raise InputError(
                f"MLflow tracking URI {redact_uri(uri)}: no MLflow {kind} at {path}; check "
                "MLFLOW_TRACKING_URI (govkit does not create an empty tracking store)"
            )
    return uri


def _local_store_path(uri: str) -> tuple[Path, str] | None:
    if uri.startswith("sqlite:"):
        rest = uri.removeprefix("sqlite:")
        if not rest.startswith("///"):
            raise InputError(
                f"MLflow tracking URI {redact_uri(uri)}: expected sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db"
            )
        path = rest[3:].split("?", 1)[0]
        if path in ("", ":memory:"):
            raise InputError(
                f"MLflow tracking URI {redact_uri(uri)}: an in-memory database holds no models"
            )
        return Path(path), "database"
    scheme = urlsplit(uri).scheme
    if scheme == "file":
        from urllib.parse import unquote

        return Path(unquote(urlsplit(uri).path)), "file store"
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        return Path(uri), "file store"
    return None


def client(uri: str) -> Any:
    """An ``MlflowClient`` for tracking and registry at ``uri``."""
    mlflow = require_mlflow()
    with mlflow_errors("connect to the MLflow tracking server", uri):
        return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def quiet_downloads() -> Iterator[None]:
    """No tqdm progress bars from MLflow's downloads on stderr (unless the user asked)."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    if key in os.environ:
        yield
        return
    os.environ[key] = "false"
    try:
        yield
    finally:
        os.environ.pop(key, None)


@contextlib.contextmanager
def mlflow_errors(action: str, uri: str | None, *, also: str | None = None) -> Iterator[None]:
    """Turn MLflow's and the network's exceptions into an InputError, credentials removed
    (those of the tracking ``uri`` and of ``also``, e.g. the artifact store's URI)."""
    try:
        yield
    except GovkitError:
        raise
    except Exception as exc:  # MLflow raises MlflowException, requests' and OS errors alike
        raise input_error(exc, action, uri, also=also) from None


def input_error(
    exc: BaseException, action: str, uri: str | None, *, also: str | None = None
) -> InputError:
    """An InputError for a failed MLflow call: what failed, where (redacted) and why."""
    detail = scrub(scrub(_first_line(exc), uri), also)
    where = f" at {redact_uri(uri)}" if uri else ""
    unsupported = type(exc).__name__.startswith("Unsupported")
    hint = (
        "; expected an MLflow tracking URI such as sqlite:///mlflow.db, a folder, or "
        "http(s)://host:port"
        if unsupported
        else ""
    )
    log.debug("MLflow call failed: %s", scrub(scrub(repr(exc), uri), also))
    return InputError(f"cannot {action}{where}: {detail}{hint}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    return re.sub(r"\s+", " ", line)[:400]


def error_code(exc: BaseException) -> str | None:
    return getattr(exc, "error_code", None)
