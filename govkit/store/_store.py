"""The audit store: registered datasets and model versions, policy runs, and the audit log.

Each write is one database transaction that also appends its audit event, so a
record and the event describing it are committed together or not at all.
Writers are serialised (SQLite ``BEGIN IMMEDIATE``; on PostgreSQL a row lock on
the audit head marker), which also makes "next version" and "already
registered?" decisions race-free. Transient failures (PostgreSQL serialization
failures, deadlocks and unique violations; SQLite "database is locked" after the
busy timeout) are retried a few times with the whole transaction.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from govkit.exceptions import GovkitError, InputError, StoreError
from govkit.records import (
    ColumnSchema,
    DatasetRecord,
    DatasetRef,
    ModelMetadata,
    ModelRef,
    ModelVersionRecord,
)
from govkit.results import EvaluationResult
from govkit.store import _log, _records, _registry, _runs
from govkit.store._chain import AUDIT_FORMAT_VERSION, GENESIS_HASH, AuditEvent, ChainReport
from govkit.store._engine import (
    DEFAULT_DATABASE_URL,
    WRITE_OPTION,
    Target,
    build_engine,
    describe_error,
    is_transient,
    parse_target,
)
from govkit.store._runs import StoredRun
from govkit.store._schema import METADATA, SCHEMA_VERSION, AuditHeadRow, MetaRow, ModelVersionRow

__all__ = ["Store", "StoredRun", "default_database_url"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_WRITE_ATTEMPTS = 5
_SCHEMA_LOCK_KEY = 0x676F766B6974  # "govkit": pg_advisory_xact_lock key for table creation
_EVENT_TYPE_MAX = 64


def default_database_url() -> str:
    """``$GOVKIT_DATABASE_URL`` if set, else ``sqlite:///./govkit.db``."""
    return os.environ.get("GOVKIT_DATABASE_URL") or DEFAULT_DATABASE_URL


class Store:
    """The audit store on one database. Build it with :meth:`Store.open`.

    Usable as a context manager; :meth:`close` releases the connections.
    """

    def __init__(self, engine: Engine, target: Target) -> None:
        self._engine = engine
        self._target = target
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._snapshot_engine = (
            engine.execution_options(isolation_level="REPEATABLE READ")
            if target.dialect == "postgresql"
            else engine
        )
        self._db_errors: tuple[type[BaseException], ...] = (SQLAlchemyError,)
        dbapi = getattr(engine.dialect, "loaded_dbapi", None)
        if dbapi is not None:
            self._db_errors += (dbapi.Error,)
        self._closed = False

    # -- life cycle ---------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Open the store at ``url`` (default :func:`default_database_url`), creating its tables.

        Raises StoreError, with the password redacted from the URL, when the
        database cannot be reached, is read-only, is not a database, or was made
        by a newer govkit.
        """
        target = parse_target(default_database_url() if url is None else url)
        engine = build_engine(target)
        store = cls(engine, target)
        try:
            store._ensure_schema()
        except BaseException:
            engine.dispose()
            raise
        logger.debug("opened audit store %s", target.display)
        return store

    def close(self) -> None:
        """Release the store's connections; the store cannot be used afterwards."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._target.display!r})"

    @property
    def url(self) -> str:
        """The database URL with any password replaced by ``***``."""
        return self._target.display

    def _ensure_schema(self) -> None:
        try:
            with self._write_engine.begin() as conn:
                if self._target.dialect == "postgresql":
                    # Concurrent first opens must not race to create the same tables.
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY}
                    )
                METADATA.create_all(conn)
                meta = dict(conn.execute(select(col(MetaRow.key), col(MetaRow.value))).all())
                if "schema_version" not in meta:
                    conn.execute(
                        insert(MetaRow.__table__),  # type: ignore[arg-type]
                        [
                            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                            {"key": "audit_format", "value": str(AUDIT_FORMAT_VERSION)},
                        ],
                    )
                    conn.execute(
                        insert(AuditHeadRow.__table__),  # type: ignore[arg-type]
                        {"id": 1, "sequence": 0, "hash": GENESIS_HASH},
                    )
                    return
                # Fail now, not at the first write, when the database is read-only.
                conn.execute(text("UPDATE govkit_audit_head SET sequence = sequence WHERE id = 1"))
        except GovkitError:
            raise
        except self._db_errors as exc:
            raise StoreError(
                f"cannot open the audit store at {self.url}: {describe_error(exc, self._target)}"
            ) from None
        found = meta["schema_version"]
        if not found.isdigit() or int(found) > SCHEMA_VERSION:
            raise StoreError(
                f"the audit store at {self.url} has schema version {found}, but this govkit "
                f"reads version {SCHEMA_VERSION}; upgrade govkit"
            )

    # -- transactions -------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the audit store at {self.url} is closed")

    def _failure(self, action: str, exc: BaseException) -> StoreError:
        return StoreError(
            f"could not {action} in the audit store at {self.url}: "
            f"{describe_error(exc, self._target)}"
        )

    def _write(self, action: str, work: Callable[[Session, AuditHeadRow], T]) -> T:
        """Run ``work`` in one write transaction holding the append lock; retry transient faults."""
        self._check_open()
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                with Session(self._write_engine) as session, session.begin():
                    head = _log.lock_head(session)
                    if head is None:
                        raise StoreError(
                            f"could not {action}: the audit head marker row is missing from "
                            f"{self.url}; the database was changed outside govkit"
                        )
                    return work(session, head)
            except GovkitError:
                raise
            except self._db_errors as exc:
                if attempt < _WRITE_ATTEMPTS and is_transient(exc):
                    logger.debug(
                        "retrying %s after a transient failure (attempt %d)", action, attempt
                    )
                    time.sleep(random.uniform(0.01, 0.05) * attempt)
                    continue
                raise self._failure(action, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _reading(self, action: str, *, snapshot: bool = False) -> Iterator[Session]:
        self._check_open()
        engine = self._snapshot_engine if snapshot else self._engine
        try:
            with Session(engine) as session, session.begin():
                yield session
        except GovkitError:
            raise
        except self._db_errors as exc:
            raise self._failure(action, exc) from exc

    # -- datasets -----------------------------------------------------------------

    def add_dataset(
        self,
        *,
        name: str,
        version: int | None,
        fingerprint: str,
        order_independent: bool,
        row_count: int,
        columns: Sequence[ColumnSchema],
        source_uri: str | None,
        parents: Sequence[DatasetRef],
        transformation: str | None,
        actor: str | None,
    ) -> tuple[DatasetRecord, bool]:
        """Register a dataset version; returns ``(record, created)``.

        Registering content (same name and fingerprint) that is already
        registered returns the existing record and ``False`` and records no
        event. ``version=None`` takes the next version number; an explicit
        version that already holds other content is a StoreError. Parents must
        be registered (``version=None`` means their latest) and are stored
        resolved to a version.
        """
        _records.check_name(name, "dataset")
        _records.check_version(version, "dataset")
        work = partial(
            _registry.register_dataset,
            name=name,
            version=version,
            fingerprint=fingerprint,
            order_independent=order_independent,
            row_count=row_count,
            columns=columns,
            source_uri=source_uri,
            parents=parents,
            transformation=transformation,
            actor=actor,
        )
        return self._write(f"register dataset {name!r}", work)

    def get_dataset(self, ref: DatasetRef) -> DatasetRecord:
        """The registered dataset ``ref`` (latest version when ``ref.version`` is None)."""
        with self._reading(f"read dataset {ref}") as session:
            return DatasetRecord.model_validate(_records.find_dataset(session, ref).record)

    def lineage(self, ref: DatasetRef) -> list[DatasetRecord]:
        """The dataset ``ref``, then all its ancestors breadth-first, each once."""
        with self._reading(f"read the lineage of dataset {ref}") as session:
            return _registry.lineage(session, ref)

    # -- models -------------------------------------------------------------------

    def add_model_version(
        self,
        *,
        name: str,
        version: int | None,
        artifact_uri: str,
        artifact_sha256: str,
        artifact_format: str,
        flavour: str,
        estimator: str,
        metadata: ModelMetadata,
        training_data: DatasetRef | None,
        evaluation_data: DatasetRef | None,
        actor: str | None,
    ) -> ModelVersionRecord:
        """Register a model version (``version=None``: the next number).

        The datasets it names must be registered and are stored resolved to a
        version; an explicit version that is already registered is a StoreError.
        """
        _records.check_name(name, "model")
        _records.check_version(version, "model")
        work = partial(
            _registry.register_model,
            name=name,
            version=version,
            artifact_uri=artifact_uri,
            artifact_sha256=artifact_sha256,
            artifact_format=artifact_format,
            flavour=flavour,
            estimator=estimator,
            metadata=metadata,
            training_data=training_data,
            evaluation_data=evaluation_data,
            actor=actor,
        )
        return self._write(f"register model {name!r}", work)

    def get_model_version(self, ref: ModelRef) -> ModelVersionRecord:
        """The registered model version ``ref`` (latest when ``ref.version`` is None)."""
        with self._reading(f"read model {ref}") as session:
            return ModelVersionRecord.model_validate(_records.find_model(session, ref).record)

    def list_model_versions(self) -> list[ModelVersionRecord]:
        """Every registered model version, by name then version."""
        with self._reading("list model versions") as session:
            rows = session.exec(
                select(ModelVersionRow).order_by(
                    col(ModelVersionRow.name), col(ModelVersionRow.version)
                )
            ).all()
            return [ModelVersionRecord.model_validate(row.record) for row in rows]

    # -- policy runs --------------------------------------------------------------

    def record_run(self, result: EvaluationResult, *, actor: str | None) -> StoredRun:
        """Store a policy run, its per-check rows and its audit event, all or nothing."""
        _records.check_name(result.model.name, "model")
        work = partial(_runs.insert_run, result=result, actor=actor)
        return self._write(f"record a policy run of {result.model}", work)

    def latest_run(self, ref: ModelRef) -> StoredRun | None:
        """The most recently recorded run of model ``ref``, or None.

        With ``ref.version`` None, the most recent run of any version of the model.
        """
        with self._reading(f"read the latest run of {ref}") as session:
            return _runs.latest_run(session, ref)

    # -- audit log ----------------------------------------------------------------

    def record_event(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        actor: str | None,
        subject: str | None,
    ) -> AuditEvent:
        """Append one event to the audit log and return it as stored."""
        if not isinstance(event_type, str) or not 0 < len(event_type) <= _EVENT_TYPE_MAX:
            raise InputError(
                f"audit event type must be 1-{_EVENT_TYPE_MAX} characters; got {event_type!r}"
            )
        work = partial(
            _log.append_event,
            event_type=event_type,
            payload=payload,
            actor=actor,
            subject=subject,
        )
        return self._write(f"record a {event_type!r} audit event", work)

    def audit_events(self, *, after: int = 0, limit: int | None = None) -> list[AuditEvent]:
        """Events with a sequence number above ``after``, oldest first, at most ``limit``."""
        with self._reading("read the audit log") as session:
            return _log.read_events(session, after=after, limit=limit)

    def verify_chain(self) -> ChainReport:
        """Recompute the whole hash chain and report the first bad event, if any.

        Checks every payload digest, every hash and link, the sequence numbers
        and the head marker (see :mod:`govkit.store._chain`). Without an
        external checkpoint, removing events from the end together with the
        head marker, or rewriting the whole log, is undetectable.
        """
        with self._reading("verify the audit chain", snapshot=True) as session:
            return _log.verify(session)
