"""OpenLineage run events for govkit's actions: dataset and model registration, policy runs.

Opt-in and configured the way every OpenLineage client is: govkit emits only when
``openlineage-python`` would find a transport, i.e. one of

- ``$OPENLINEAGE_CONFIG`` (a YAML file), ``./openlineage.yml``, ``~/.openlineage/openlineage.yml``;
- ``$OPENLINEAGE_URL`` (with ``$OPENLINEAGE_API_KEY``, ``$OPENLINEAGE_ENDPOINT``);
- ``$OPENLINEAGE__TRANSPORT__*`` variables (e.g. ``OPENLINEAGE__TRANSPORT__TYPE=file``);

and ``$OPENLINEAGE_DISABLED`` is not ``true``; or when Python code passes a client with
:func:`emit_openlineage`. Otherwise nothing happens, and the client is not even imported.

Failure policy: lineage is a side channel. When an event cannot be sent (endpoint down,
unwritable file, extra not installed), govkit logs one warning (the transport's kind and the
error's type, never the URL, headers or API key) and the governance action goes on: the
registration or policy run stands, and is recorded in the audit log as usual; and for
:data:`PAUSE_AFTER_FAILURE` seconds govkit sends no further events with that configuration
from this process, so that an endpoint that is down (the HTTP client retries for about 9 s)
delays one action, not every one. With
``GOVKIT_OPENLINEAGE_STRICT=1`` the failure is an error instead (exit code 2 in the CLI): a
START that cannot be sent stops the action before it runs; a COMPLETE that cannot be sent
after the action was recorded says so.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from govkit.exceptions import GovkitError, MissingDependencyError

__all__ = [
    "Action",
    "emit_openlineage",
    "emits_openlineage",
    "openlineage_configured",
    "OpenLineageError",
]

log = logging.getLogger(__name__)

Action = Literal["register_dataset", "register_model", "check"]
_JOB_TYPE = {
    "register_dataset": "REGISTER_DATASET",
    "register_model": "REGISTER_MODEL",
    "check": "POLICY_CHECK",
}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TRUE = ("1", "true", "yes", "on")
F = TypeVar("F", bound=Callable[..., Any])

#: Seconds during which govkit sends no events with a configuration whose emission failed
#: (not in strict mode: there every action must send its events or stop).
PAUSE_AFTER_FAILURE = 300.0
_clock = time.monotonic  # tests move it


class _Pauses:
    """Configurations whose last emission failed, and until when they are left alone."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def active(self, key: str) -> bool:
        with self._lock:
            until = self._until.get(key)
            if until is not None and _clock() >= until:
                del self._until[key]
                until = None
        return until is not None

    def start(self, key: str) -> None:
        with self._lock:
            self._until[key] = _clock() + PAUSE_AFTER_FAILURE


_PAUSES = _Pauses()


def _configuration_key() -> str:
    """A digest of what the client's configuration is read from (env and config files).

    A changed URL, key or file is a new configuration, tried at once. Kept in memory only.
    """
    digest = hashlib.sha256()
    for key in sorted(os.environ):
        if key.startswith("OPENLINEAGE"):
            digest.update(f"{key}={os.environ[key]}\0".encode("utf-8", "surrogatepass"))
    for path in _config_files():
        with contextlib.suppress(OSError):
            stat = os.stat(path)
            digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}\0".encode())
    return "config:" + digest.hexdigest()


class _QuietRetries(logging.Filter):
    """Drop urllib3's "Retrying ..." warnings (they name the host) while govkit emits.

    Only in the threads that are emitting for govkit; govkit's own warning says what failed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()
        self.attached = False

    def filter(self, record: logging.LogRecord) -> bool:
        retrying = isinstance(record.msg, str) and record.msg.startswith("Retrying")
        return not (retrying and threading.get_ident() in self.threads)

    @contextlib.contextmanager
    def around(self) -> Iterator[None]:
        if not self.attached:  # on the first emission, not when govkit is imported
            logging.getLogger("urllib3.connectionpool").addFilter(self)
            self.attached = True
        ident = threading.get_ident()
        self.threads.add(ident)
        try:
            yield
        finally:
            self.threads.discard(ident)


_QUIET = _QuietRetries()


class OpenLineageError(GovkitError):
    """An OpenLineage event could not be sent and ``GOVKIT_OPENLINEAGE_STRICT`` is set."""


@dataclass(frozen=True)
class _Explicit:
    client: Any
    namespace: str | None
    strict: bool | None
    #: the pause after a failure applies to this block's client only
    key: str = field(default_factory=lambda: "block:" + secrets.token_hex(8))


_EXPLICIT: ContextVar[_Explicit | None] = ContextVar("govkit_openlineage", default=None)


def openlineage_configured() -> bool:
    """True when the OpenLineage client would find a transport (and is not disabled).

    Reads environment variables and checks for the config files only: cheap, and it does not
    import the client.
    """
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OPENLINEAGE_URL"):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") for k in os.environ):
        return True
    return any(os.path.isfile(p) for p in _config_files())


def _config_files() -> list[str]:
    candidates = [
        os.environ.get("OPENLINEAGE_CONFIG"),
        os.path.join(os.getcwd(), "openlineage.yml"),
        os.path.join(os.path.expanduser("~/.openlineage"), "openlineage.yml"),
    ]
    return [p for p in candidates if p]


@contextlib.contextmanager
def emit_openlineage(
    client: Any = None, *, namespace: str | None = None, strict: bool | None = None
) -> Iterator[None]:
    """Send the OpenLineage events of the govkit actions run inside this block.

    ``client`` is an ``openlineage.client.OpenLineageClient`` (or any object with
    ``emit(event)``); by default one built from the usual configuration. ``namespace`` is the
    job namespace (default ``$OPENLINEAGE_NAMESPACE``, else ``govkit``); ``strict`` makes a
    failed emission an :class:`OpenLineageError` (default ``$GOVKIT_OPENLINEAGE_STRICT``).
    Otherwise a failed emission is logged once, and the block's later actions send nothing
    for :data:`PAUSE_AFTER_FAILURE` seconds.
    """
    if client is None:
        client = _new_client(strict=bool(strict))
    token = _EXPLICIT.set(_Explicit(client, namespace, strict))
    try:
        yield
    finally:
        _EXPLICIT.reset(token)


def _strict_from_env() -> bool:
    return os.environ.get("GOVKIT_OPENLINEAGE_STRICT", "").strip().lower() in _TRUE


def _new_client(*, strict: bool) -> Any:
    """An OpenLineageClient from the usual configuration; None (warned) if not installed."""
    from govkit._optional import import_optional

    try:
        module = import_optional("openlineage.client", feature="OpenLineage emission")
    except MissingDependencyError as exc:
        if strict:
            raise
        log.warning("OpenLineage is configured, but no event is sent: %s", exc)
        return None
    return module.OpenLineageClient()


class _Run:
    """One govkit action's OpenLineage run: START, then COMPLETE, FAIL or ABORT."""

    def __init__(
        self,
        client: Any,
        *,
        owned: bool,
        namespace: str,
        job: str,
        action: Action,
        strict: bool,
        key: str,
    ) -> None:
        from openlineage.client.uuid import generate_new_uuid

        self.client, self.owned, self.namespace, self.job = client, owned, namespace, job
        self.action, self.strict, self.key = action, strict, key
        self.run_id = str(generate_new_uuid())
        self.broken = False

    def _send(self, state: str, build: Callable[[], Any]) -> None:
        if self.broken:  # the first failure was reported; the rest of this run is not sent
            return
        try:
            with _QUIET.around():
                self.client.emit(build())
        except Exception as exc:  # any transport error (HTTP, file, Kafka...): a side channel
            self.broken = True
            transport = getattr(getattr(self.client, "transport", None), "kind", None)
            where = f" with the {transport} transport" if transport else ""
            if state == "START":
                done = "the action was not run" if self.strict else "the action goes on"
            else:
                done = "the action itself ran to its end and govkit recorded it as usual"
            message = (
                f"OpenLineage: could not send the {state} event of job {self.job} "
                f"(run {self.run_id}){where}: {type(exc).__name__}; {done}"
            )
            if self.strict and state in ("START", "COMPLETE"):  # never hide the action's error
                raise OpenLineageError(message) from exc
            if not self.strict:
                _PAUSES.start(self.key)
                message += (
                    "; govkit sends no OpenLineage events with this configuration for the next "
                    f"{PAUSE_AFTER_FAILURE / 60:g} minutes"
                )
            log.warning("%s (set GOVKIT_OPENLINEAGE_STRICT=1 to make this an error)", message)

    def start(self) -> None:
        from govkit.integrations import _openlineage_events as ev

        self._send(
            "START",
            lambda: ev.start_event(
                namespace=self.namespace,
                job_name=self.job,
                job_type=_JOB_TYPE[self.action],
                run_id=self.run_id,
                when=datetime.now(UTC),
            ),
        )

    def finish(self, state: str, **parts: Any) -> None:
        from openlineage.client.event_v2 import RunState

        from govkit.integrations import _openlineage_events as ev

        def build() -> Any:
            extra = parts.pop("build", None)
            return ev.finish_event(
                RunState(state),
                namespace=self.namespace,
                job_name=self.job,
                job_type=_JOB_TYPE[self.action],
                run_id=self.run_id,
                when=datetime.now(UTC),
                **(extra() if extra else {}),
                **parts,
            )

        try:
            self._send(state, build)
        finally:
            if self.owned:
                self.client.close()


def _job_name(action: Action, bound: inspect.BoundArguments) -> str | None:
    args = bound.arguments
    if action == "check":
        model = args.get("model")
        if model is None:
            return "govkit.check"
        name = model.name if hasattr(model, "name") else str(model).partition("@")[0]
        return f"govkit.check.{name}" if _NAME_RE.match(name) else None
    name = args.get("name")
    return f"govkit.{action}.{name}" if isinstance(name, str) and _NAME_RE.match(name) else None


def _begin(action: Action, bound: inspect.BoundArguments) -> _Run | None:
    explicit = _EXPLICIT.get()
    if explicit is None and not openlineage_configured():
        return None
    job = _job_name(action, bound)
    if job is None:  # the action will refuse its own input; nothing worth a lineage run
        return None
    strict = _strict_from_env()
    if explicit is not None and explicit.strict is not None:
        strict = explicit.strict
    client = explicit.client if explicit is not None else _new_client(strict=strict)
    if client is None:
        return None
    # after the client is built: reading OPENLINEAGE_URL, it sets OPENLINEAGE__ variables
    key = explicit.key if explicit is not None else _configuration_key()
    if not strict and _PAUSES.active(key):
        log.debug("OpenLineage: no events for job %s: a recent emission failed", job)
        if explicit is None:
            client.close()
        return None
    namespace = (explicit.namespace if explicit else None) or os.environ.get(
        "OPENLINEAGE_NAMESPACE", "govkit"
    )
    run = _Run(
        client,
        owned=explicit is None,
        namespace=namespace,
        job=job,
        action=action,
        strict=strict,
        key=key,
    )
    try:
        run.start()
    except BaseException:
        if run.owned:
            client.close()
        raise
    return run


def _error_message(exc: BaseException) -> str:
    """What a FAIL event says: govkit's own messages (written for people, no personal data)."""
    if isinstance(exc, GovkitError):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__} (details in the govkit log)"


def emits_openlineage(action: Action) -> Callable[[F], F]:
    """Decorate a workflow so that it emits START and COMPLETE / FAIL / ABORT run events."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _EXPLICIT.get() is None and not openlineage_configured():
                return fn(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            run = _begin(action, bound)
            if run is None:
                return fn(*args, **kwargs)
            try:
                out = fn(*args, **kwargs)
            except Exception as exc:
                run.finish("FAIL", error=_error_message(exc))
                raise
            except BaseException:  # KeyboardInterrupt, SystemExit: the run was stopped
                run.finish("ABORT")
                raise
            run.finish("COMPLETE", build=lambda: _parts(action, bound, out))
            return out

        return wrapper  # type: ignore[return-value]

    return decorate


def _parts(action: Action, bound: inspect.BoundArguments, out: Any) -> dict[str, Any]:
    """Inputs, outputs and run facets of a finished action, from its arguments and result."""
    from govkit.integrations import _openlineage_events as ev

    store = bound.arguments["store"]
    registry = ev.registry_namespace(store.url)
    if action == "register_dataset":
        record, _created = out
        parents = [store.get_dataset(p) for p in record.parents]
        data = bound.arguments.get("data")  # the file read is an input, though not a source
        read = Path(data).resolve().as_uri() if isinstance(data, str | Path) else None
        return ev.dataset_registered(record, registry=registry, parents=parents, read=read)
    if action == "register_model":
        model, _created = out
        return ev.model_registered(
            model,
            registry=registry,
            training=store.get_dataset(model.training_data) if model.training_data else None,
            evaluation=store.get_dataset(model.evaluation_data) if model.evaluation_data else None,
        )
    result = out.result
    model = None
    if bound.arguments.get("model") is not None:
        model = store.get_model_version(result.model)
    evaluation = None
    if model is not None and model.evaluation_data is not None:
        evaluation = store.get_dataset(model.evaluation_data)
    data = bound.arguments.get("data")
    data_uri = str(data) if isinstance(data, str | Path) else None
    return ev.policy_checked(
        result,
        anchor=out.anchor,
        registry=registry,
        model=model,
        evaluation=evaluation,
        data_uri=data_uri,
    )
