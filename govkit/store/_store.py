"""The audit store: registered datasets and model versions, policy runs, and the audit log.

Each write is one database transaction that also appends its audit event, so a
record and the event describing it are committed together or not at all.
Writers are serialised (SQLite ``BEGIN IMMEDIATE``; on PostgreSQL a row lock on
the audit head marker), which also makes "next version" and "already
registered?" decisions race-free. Transient failures (PostgreSQL serialization
failures, deadlocks and unique violations; SQLite "database is locked" after the
busy timeout) are retried a few times with the whole transaction.

Schema: ``Store.open`` creates a new database at the newest schema (Alembic, see
:mod:`govkit.store._migrate`); a database of an older schema is refused with a
pointer to ``govkit db upgrade`` (:func:`upgrade_database`), so a production
database is never migrated as a side effect. ``Store.open(url, read_only=True)``
never writes (verification, export and checkpoints work on a read-only role or
replica) and reads databases of older schemas too.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import IO, Any, Self, TypeVar

from sqlalchemy import Engine, delete, text
from sqlmodel import Session, col, select

from govkit.exceptions import GovkitError, NotFoundError, StoreError
from govkit.records import (
    ColumnSchema,
    DatasetRecord,
    DatasetRef,
    ModelMetadata,
    ModelRef,
    ModelVersionRecord,
)
from govkit.results import EvaluationResult
from govkit.store import (
    _log,
    _migrate,
    _privacy,
    _records,
    _registry,
    _runs,
)
from govkit.store._chain import AuditEvent, ChainReport, StoredEvent, to_audit_event
from govkit.store._checkpoint import Checkpoint, sign_checkpoint
from govkit.store._engine import (
    DEFAULT_DATABASE_URL,
    WRITE_OPTION,
    DriverConnections,
    Target,
    build_engine,
    describe_error,
    is_transient,
    parse_target,
    sqlite_path,
    writer_lock,
)
from govkit.store._keys import SigningKey, VerifyKey
from govkit.store._log import EventRef, NewEvent
from govkit.store._registry_verify import RegistryReport
from govkit.store._runs import StoredRun
from govkit.store._schema import (
    AuditHeadRow,
    ModelVersionRow,
    SubjectKeyRow,
)
from govkit.store._store_services import StoreServices

__all__ = ["Store", "StoredRun", "default_database_url"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_WRITE_ATTEMPTS = 5


def default_database_url() -> str:
    """``$GOVKIT_DATABASE_URL`` if set, else ``sqlite:///./govkit.db``."""
    return os.environ.get("GOVKIT_DATABASE_URL") or DEFAULT_DATABASE_URL


class Store(StoreServices):
    """The audit store on one database. Build it with :meth:`Store.open`.

    Usable as a context manager; :meth:`close` releases the connections.
    """

    def __init__(self, engine: Engine, target: Target, *, read_only: bool = False) -> None:
        self._engine = engine
        self._target = target
        self._read_only = read_only
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._snapshot_engine = (
            engine.execution_options(isolation_level="REPEATABLE READ")
            if target.dialect == "postgresql"
            else engine
        )
        self._db_errors = _migrate.db_errors(engine)
        self._driver_connections = DriverConnections(engine)  # the append path's
        self._writer_lock = writer_lock(target)  # threads of this process queue here
        self._closed = False

    # -- life cycle ---------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, read_only: bool = False) -> Store:
        """Open the store at ``url`` (default :func:`default_database_url`).

        A new (empty) database gets the store's tables, at the newest schema.
        With ``read_only=True`` nothing is ever written: the database must
        already hold a store (of any schema version this govkit can read) and
        every write method raises StoreError.

        Raises StoreError, with the password redacted from the URL, when the
        database cannot be reached, is read-only (unless ``read_only``), is not
        a database, holds an older schema (run ``govkit db upgrade``) or was
        made by a newer govkit.
        """
        target = parse_target(default_database_url() if url is None else url)
        if read_only and target.dialect == "sqlite":
            path = sqlite_path(target)
            if path is not None and not path.is_file():
                raise StoreError(
                    f"cannot open the audit store at {target.display}: the file "
                    f"{str(path)!r} does not exist"
                )
        engine = build_engine(target, read_only=read_only)
        store = cls(engine, target, read_only=read_only)
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
            self._driver_connections.close()
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

    @property
    def read_only(self) -> bool:
        return self._read_only

    def _ensure_schema(self) -> None:
        problem: str | None = None
        engine = self._engine if self._read_only else self._write_engine
        try:
            with engine.begin() as conn:
                if self._read_only:
                    state = _migrate.read_state(conn)
                    if not state.has_store:
                        problem = (
                            "the database holds no audit store (no govkit tables); "
                            "`govkit db upgrade` creates one"
                        )
                    else:
                        problem = _migrate.schema_problem(state, self.url, readable_older=True)
                    return
                _migrate.lock_schema(conn)
                state = _migrate.read_state(conn)
                if not state.has_store:
                    _migrate.upgrade(conn)
                    logger.info("created the audit store tables in %s", self.url)
                    return
                problem = _migrate.schema_problem(state, self.url, readable_older=False)
                if problem is None:
                    # Fail now, not at the first write, when the database is read-only.
                    conn.execute(
                        text("UPDATE govkit_audit_head SET sequence = sequence WHERE id = 1")
                    )
        except GovkitError:
            raise
        except self._db_errors as exc:
            raise StoreError(
                f"cannot open the audit store at {self.url}: {describe_error(exc, self._target)}"
            ) from None
        finally:
            if problem is not None:
                raise StoreError(problem)

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
        if self._read_only:
            raise StoreError(f"cannot {action}: the audit store at {self.url} was opened read-only")
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                with (
                    self._writer_lock,
                    Session(self._write_engine) as session,
                    session.begin(),
                ):
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

    def _append(
        self,
        action: str,
        events: list[NewEvent],
        actor: str | None,
        *,
        extra: Callable[[Any, int], Sequence[_log.EncodedEvent]] | None = None,
    ) -> tuple[list[StoredEvent], datetime]:
        """Append audit events (no ORM record): the lean path, retried like ``_write``.

        Payloads are encoded before the transaction; the transaction itself runs
        on a reused driver connection (:class:`DriverConnections`). ``extra``:
        statements of a record in the same transaction (see
        :func:`govkit.store._log.append_raw`), run again on a retry. Returns the
        stored events and their timestamp.
        """
        self._check_open()
        if self._read_only:
            raise StoreError(f"cannot {action}: the audit store at {self.url} was opened read-only")
        for event in events:
            _log.check_event_type(event.event_type)
        encoded = _log.encode_events(events)
        postgres = self._target.dialect == "postgresql"
        connections = self._driver_connections
        fresh_retry = True  # one extra attempt when a reused connection turned out dead
        attempt = 1
        while True:
            conn, reused = None, False
            try:
                conn, reused = connections.acquire()
                with self._writer_lock:
                    result = _log.append_raw(
                        conn, postgres=postgres, events=encoded, actor=actor, extra=extra
                    )
            except GovkitError:
                self._discard(conn)
                raise
            except self._db_errors as exc:
                alive = self._discard(conn)
                if reused and not alive and fresh_retry:
                    # Pooled connections are pinged before use; idle ones here are not.
                    fresh_retry = False
                    connections.discard_idle()
                    continue
                if attempt < _WRITE_ATTEMPTS and is_transient(exc):
                    logger.debug(
                        "retrying %s after a transient failure (attempt %d)", action, attempt
                    )
                    time.sleep(random.uniform(0.01, 0.05) * attempt)
                    attempt += 1
                    continue
                raise self._failure(action, exc) from exc
            except BaseException:
                self._discard(conn)
                raise
            connections.release(conn)
            return result

    def _discard(self, conn: Any) -> bool:
        """Roll back a failed raw transaction and keep the connection if it is still sound.

        Returns False (and closes the connection) when even the rollback fails.
        """
        if conn is None:  # connecting failed
            return False
        try:
            conn.rollback()
        except self._db_errors:
            self._driver_connections.close_connection(conn)
            return False
        self._driver_connections.release(conn)
        return True

    def record_event(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        actor: str | None,
        subject: str | None,
    ) -> AuditEvent:
        """Append one event to the audit log and return it as stored.

        No personal data in the clear (payload, actor or subject): see
        :mod:`govkit.store._privacy`.
        """
        _log.check_public_event_type(event_type)
        (event,), moment = self._append(
            f"record a {event_type!r} audit event",
            [NewEvent(event_type, payload, subject)],
            actor,
        )
        return to_audit_event(event, timestamp=moment)

    def record_events(
        self, events: Iterable[NewEvent | tuple[Any, ...]], *, actor: str | None
    ) -> list[EventRef]:
        """Append several events, in order, in one transaction: all of them or none.

        Each item is a :class:`NewEvent` ``(event_type, payload, subject=None)``
        or a plain tuple of the same; all share one timestamp. Returns where each
        event sits in the log (:class:`EventRef`: sequence and hash). Much faster than one
        ``record_event`` per event: one lock, one INSERT batch, one commit (one
        disk sync on SQLite).
        """
        batch = [NewEvent(*item) for item in events]
        for event in batch:
            _log.check_public_event_type(event.event_type)
        stored, _ = self._append(f"record {len(batch)} audit events", batch, actor)
        return [EventRef(event.sequence, event.hash) for event in stored]

    def audit_events(self, *, after: int = 0, limit: int | None = None) -> list[AuditEvent]:
        """Events with a sequence number above ``after``, oldest first, at most ``limit``."""
        with self._reading("read the audit log") as session:
            return _log.read_events(session, after=after, limit=limit)

    def verify_chain(
        self,
        *,
        checkpoints: Sequence[Checkpoint] = (),
        public_key: VerifyKey | None = None,
    ) -> ChainReport:
        """Recompute the whole hash chain, check ``checkpoints``, report the first bad event.

        Checks every payload digest, every hash and link, the sequence numbers
        and the head marker (see :mod:`govkit.store._chain`), then each
        checkpoint's signature (against ``public_key`` when given), database id
        and pinned hash (see :mod:`govkit.store._checkpoint`). Without a
        checkpoint, removing events from the end together with the head marker,
        or rewriting the whole log, is undetectable.
        """
        with self._reading("verify the audit chain", snapshot=True) as session:
            return _log.verify(session, checkpoints=checkpoints, public_key=public_key)

    def verify_registry(self) -> RegistryReport:
        """Cross-check the registry, lifecycle and API-key tables against the audit log.

        In one snapshot, compares each dataset and model version row (its columns
        and its ``record`` JSON, which the loaders read) with its registration
        event, and reports rows that differ, rows with no event and events whose
        row is gone; aliases, stages, approvals, policy bindings and API keys
        likewise (see :mod:`govkit.store._registry_verify`). It trusts the log:
        run :meth:`verify_chain` first.
        """
        from govkit.store import _registry_verify

        with self._reading("cross-check the registry", snapshot=True) as session:
            return _registry_verify.verify(session)

    @property
    def database_id(self) -> str | None:
        """This database's random id (named by checkpoints); None before schema version 2."""
        with self._reading("read the database id") as session:
            return _log.database_id(session)

    def checkpoint(self, key: SigningKey) -> Checkpoint:
        """Verify the chain, then sign a checkpoint of its head with ``key``.

        Refuses (StoreError) to sign a log that does not verify, and a database
        without an id (schema version 1: run ``govkit db upgrade``).
        """
        with self._reading("make a checkpoint", snapshot=True) as session:
            database_id = _log.database_id(session)
            if database_id is None:
                raise StoreError(
                    f"the audit store at {self.url} has no database id (schema version 1); "
                    "run `govkit db upgrade` before making checkpoints"
                )
            report = _log.verify(session)
        if not report.ok:
            raise StoreError(
                f"refusing to sign a checkpoint: the audit chain is broken at sequence "
                f"{report.first_bad_sequence}: {report.problem}"
            )
        return sign_checkpoint(
            sequence=report.head_sequence,
            head_hash=report.head_hash,
            database_id=database_id,
            key=key,
        )

    def export_jsonl(self, out: IO[str]) -> int:
        """Write the audit log to ``out`` as JSON Lines (one snapshot); returns the event count.

        The format is described in :mod:`govkit.store._export`; the file verifies
        offline with :func:`govkit.store.verify_jsonl`.
        """
        with self._reading("export the audit log", snapshot=True) as session:
            return _log.export(session, out)

    # -- data subjects --------------------------------------------------------------

    def new_subject_key(self) -> str:
        """Create a data subject's random salt; returns its ``key_id`` (not personal data)."""
        key_id = _privacy.new_key_id()

        def work(session: Session, _head: AuditHeadRow) -> str:
            session.add(
                SubjectKeyRow(key_id=key_id, salt=_privacy.new_salt(), created_at=datetime.now(UTC))
            )
            return key_id

        return self._write("create a subject key", work)

    def commit_for(self, key_id: str, value: str | bytes) -> str:
        """The commitment to ``value`` under subject ``key_id``'s salt (see ``commit``).

        NotFoundError once the subject was erased: nothing can be linked to them.
        """
        with self._reading("read a subject key") as session:
            row = session.get(SubjectKeyRow, key_id)
            if row is None:
                raise NotFoundError(
                    f"no subject key {key_id!r}: it never existed or the subject was erased"
                )
            salt = bytes(row.salt)
        return _privacy.commit(value, salt)

    def erase_subject(self, key_id: str, *, actor: str | None) -> AuditEvent:
        """Destroy subject ``key_id``'s salt and record a ``subject.erased`` event, atomically.

        Their commitments stay in the log, and the chain stays verifiable, but no
        value can be linked to them any more. NotFoundError when there is no such key.
        """

        def work(session: Session, head: AuditHeadRow) -> AuditEvent:
            deleted = session.execute(
                delete(SubjectKeyRow).where(SubjectKeyRow.key_id == key_id)  # type: ignore[arg-type]
            )
            if deleted.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFoundError(
                    f"no subject key {key_id!r}: it never existed or was already erased"
                )
            return _log.append_event(
                session,
                head,
                "subject.erased",
                {"key_id": key_id},
                actor=actor,
                subject=f"subject-key:{key_id}",
            )

        return self._write("erase a data subject", work)
