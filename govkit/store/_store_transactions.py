"""The Store's transactions: writes that append their audit event, reads, and the lean append.

Each write is one database transaction that also appends its audit event, so a
record and the event describing it are committed together or not at all
(:meth:`StoreTransactions._write`, given the work as a function of the session and the
locked audit head). Writers are serialised (SQLite ``BEGIN IMMEDIATE``; on PostgreSQL
a row lock on the audit head marker), which also makes "next version" and "already
registered?" decisions race-free; the threads of one process queue on a lock first
(:func:`govkit.store._engine.writer_lock`). Transient failures (PostgreSQL
serialization failures, deadlocks and unique violations; SQLite "database is locked"
after the busy timeout) are retried a few times with the whole transaction.

Events with no ORM record (``record_event``, decisions) take the lean path,
:meth:`StoreTransactions._append`: payloads encoded before the transaction, which runs
on a reused driver connection. Reads run in a transaction of their own, a repeatable
snapshot when asked (:meth:`StoreTransactions._reading`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from govkit.exceptions import GovkitError, StoreError, WouldWait
from govkit.store import _log
from govkit.store._chain import StoredEvent
from govkit.store._engine import DriverConnections, Target, describe_error, is_transient
from govkit.store._log import NewEvent
from govkit.store._schema import AuditHeadRow

__all__ = ["StoreTransactions"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_WRITE_ATTEMPTS = 5


class StoreTransactions:
    """Base of :class:`~govkit.store.Store`: its transaction helpers.

    ``Store.__init__`` sets the state annotated here.
    """

    _engine: Engine
    _target: Target
    _read_only: bool
    _write_engine: Engine
    _snapshot_engine: Engine
    _db_errors: tuple[type[BaseException], ...]
    _driver_connections: DriverConnections
    _writer_lock: AbstractContextManager[Any]
    _closed: bool

    if TYPE_CHECKING:  # provided by Store

        @property
        def url(self) -> str: ...

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

    # -- the lean append path (audit events with no ORM record) ---------------------

    def _append(
        self,
        action: str,
        events: list[NewEvent],
        actor: str | None,
        *,
        extra: Callable[[Any, int], Sequence[_log.EncodedEvent]] | None = None,
        wait: bool = True,
    ) -> tuple[list[StoredEvent], datetime]:
        """Append audit events (no ORM record): the lean path, retried like ``_write``.

        Payloads are encoded before the transaction; the transaction itself runs
        on a reused driver connection (:class:`DriverConnections`). ``extra``:
        statements of a record in the same transaction (see
        :func:`govkit.store._log.append_raw`), run again on a retry. Returns the
        stored events and their timestamp.

        ``wait=False``: one attempt that never waits (:meth:`_append_now`), or
        :class:`WouldWait` whose ``finish`` is this call with waiting.
        """
        self._check_open()
        if self._read_only:
            raise StoreError(f"cannot {action}: the audit store at {self.url} was opened read-only")
        for event in events:
            _log.check_event_type(event.event_type)
        encoded = _log.encode_events(events)
        postgres = self._target.dialect == "postgresql"
        if not wait:
            result = None if postgres else self._append_now(encoded, actor, extra)
            if result is None:
                raise WouldWait(partial(self._append, action, events, actor, extra=extra))
            return result
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

    def _append_now(
        self,
        encoded: list[_log.EncodedEvent],
        actor: str | None,
        extra: Callable[[Any, int], Sequence[_log.EncodedEvent]] | None,
    ) -> tuple[list[StoredEvent], datetime] | None:
        """The SQLite append if it needs no waiting, else None (nothing written).

        Waiting is for a lock another thread of this process or another writer holds
        (SQLite's busy timeout is 0 for this attempt), for opening a connection (none
        idle) and for retries after a fault; the caller does those in a worker thread.
        A govkit error (a record refused) is raised as usual.
        """
        lock = self._writer_lock
        acquire = getattr(lock, "acquire", None)  # a threading.Lock for every SQLite file
        release = getattr(lock, "release", None)
        if acquire is not None and not acquire(blocking=False):
            return None
        conn = None
        try:
            conn = self._driver_connections.acquire_idle()  # opening one may wait
            if conn is None:
                return None
            result = _log.append_raw(
                conn, postgres=False, events=encoded, actor=actor, extra=extra, wait=False
            )
        except self._db_errors:
            self._discard(conn)
            return None
        except BaseException:  # a govkit error (a record refused) included
            self._discard(conn)
            raise
        finally:
            if release is not None:
                release()
        self._driver_connections.release(conn)
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
