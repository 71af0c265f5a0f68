"""Database URLs and engines for the audit store: SQLite and PostgreSQL (psycopg 3).

SQLite
    WAL journal, ``synchronous=FULL``, a 30 s ``busy_timeout`` and foreign keys
    on, set on every new connection. pysqlite's own transaction handling is
    switched off (``isolation_level = None``) and the store emits ``BEGIN``
    itself, as the pysqlite section of the SQLAlchemy docs describes: writes
    start with ``BEGIN IMMEDIATE`` so they take the database's write lock up
    front and wait (busy timeout) instead of failing with "database is locked"
    when they later try to upgrade a read lock; reads start with a plain
    ``BEGIN`` and see one snapshot. Switching a new database file to WAL needs
    a moment alone with the file, and SQLite reports "database is locked" at
    once, without the busy timeout, when another connection is using it (say,
    several processes opening a new store together): :func:`_sqlite_use_wal`
    waits and retries, within the busy timeout.
PostgreSQL
    ``postgresql://`` and ``postgres://`` URLs use the psycopg 3 driver.
    Writers serialise on the audit head row (``SELECT ... FOR UPDATE``);
    serialization failures, deadlocks and unique violations are retried.

The audit log's append path (``Store.record_event(s)``) runs on driver connections
reused through :class:`DriverConnections` rather than checked out of the pool for
each append: the pool's bookkeeping costs more than a SQLite insert.

Passwords never appear in messages: :func:`redact_url` replaces them with ``***``.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from govkit._optional import import_optional
from govkit.exceptions import StoreError

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SQLITE_BUSY_TIMEOUT_S",
    "Target",
    "parse_target",
    "redact_url",
    "build_engine",
    "describe_error",
    "is_transient",
    "WRITE_OPTION",
    "DriverConnections",
    "writer_lock",
]

DEFAULT_DATABASE_URL = "sqlite:///./govkit.db"
SQLITE_BUSY_TIMEOUT_S = 30
PG_CONNECT_TIMEOUT_S = 10
#: Execution option that marks an engine whose transactions write (``BEGIN IMMEDIATE``).
WRITE_OPTION = "govkit_write"

_SECRET_QUERY_KEYS = {"password", "passwd", "pwd", "sslpassword", "passfile"}
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")
_SUPPORTED = "sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"

# SQLite's terse messages, and what a person can do about them.
_SQLITE_HINTS = {
    "unable to open database file": (
        "the database file cannot be opened or created (does its directory exist, "
        "and may this user write there?)"
    ),
    "attempt to write a readonly database": (
        "the database is read-only; the audit store needs write access to the file "
        "and its directory"
    ),
    "file is not a database": "the file is not a SQLite database",
    "database is locked": (
        f"the database stayed locked by another writer for more than {SQLITE_BUSY_TIMEOUT_S} s"
    ),
    "disk i/o error": "a disk I/O error occurred (is the disk full or the file system read-only?)",
}


@dataclass(frozen=True)
class Target:
    """A parsed, supported database URL."""

    url: URL
    display: str  # the URL with any password replaced by ***
    dialect: str  # "sqlite" or "postgresql"
    password: str | None


def redact_url(url: str | URL) -> str:
    """``url`` as text with the password (and password query parameters) replaced by ``***``."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return _USERINFO.sub(r"\g<scheme>\g<user>:***@", str(url))
    marker = "REDACTED0SECRET"
    secret = {k: marker for k in parsed.query if k.lower() in _SECRET_QUERY_KEYS}
    if isinstance(url, str) and parsed.password is None and not secret:
        return url  # nothing to hide: keep the user's spelling
    if secret:
        parsed = parsed.update_query_dict(secret)
    return parsed.render_as_string(hide_password=True).replace(marker, "***")


def parse_target(url: str) -> Target:
    """Check that ``url`` names a supported database; normalise the PostgreSQL driver."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"not a database URL: {redact_url(url)!r}; expected {_SUPPORTED}"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    password = None if parsed.password is None else str(parsed.password)
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise StoreError(
                f"unsupported SQLite driver {driver!r} in {redact_url(url)}; use sqlite:///PATH"
            )
        target = Target(parsed, redact_url(url), "sqlite", password)
        if sqlite_path(target) is None:
            raise StoreError(
                f"{target.display} is an in-memory SQLite database, which cannot hold the "
                "audit store: each connection would see an empty database of its own, and "
                "the audit log would vanish with the process; give a database file, "
                "sqlite:///PATH (created if missing), or a PostgreSQL URL"
            )
        return target
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise StoreError(
                f"unsupported PostgreSQL driver {driver!r} in {redact_url(url)}; govkit "
                "uses psycopg 3: write postgresql://... or postgresql+psycopg://..."
            )
        parsed = parsed.set(drivername="postgresql+psycopg")
        return Target(parsed, redact_url(url), "postgresql", password)
    raise StoreError(
        f"unsupported database {backend!r} in {redact_url(url)}; expected {_SUPPORTED}"
    )


def sqlite_path(target: Target) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    database = target.url.database
    if not database or database == ":memory:":
        return None
    if target.url.query.get("uri") == "true":
        if not database.startswith("file:"):
            return None
        database = database[len("file:") :]
        if database.startswith(":memory:") or target.url.query.get("mode") == "memory":
            return None
    return Path(database)


def build_engine(target: Target, *, read_only: bool = False) -> Engine:
    """A new engine for ``target`` with the store's connection settings; nothing connects yet.

    ``read_only``: never change the database, not even its SQLite journal mode
    (a database that is not yet in WAL mode is then read in its own mode).
    """
    if target.dialect == "postgresql":
        import_optional("psycopg", feature="A PostgreSQL audit store")
        return create_engine(
            target.url,
            connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S, "application_name": "govkit"},
            pool_pre_ping=True,
        )
    path = sqlite_path(target)
    if path is not None and not path.parent.is_dir():
        raise StoreError(
            f"cannot open the audit store at {target.display}: the directory "
            f"{str(path.parent)!r} does not exist; create it first"
        )
    engine = create_engine(target.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(
        engine, "connect", _sqlite_on_connect_read_only if read_only else _sqlite_on_connect
    )
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when a transaction begins (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        _sqlite_use_wal(cursor)
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_use_wal(
    cursor: Any,
    *,
    timeout_s: float = SQLITE_BUSY_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Put the database in WAL mode (a lasting property of the file: once is enough).

    Changing the journal mode needs the file to itself, and SQLite answers
    "database is locked" at once, not after the busy timeout, while another
    connection is reading or writing it. That happens when several processes
    open a new database together: one switches it to WAL while the others are
    already reading it. So: nothing to do when the file is in WAL already;
    otherwise retry with short sleeps, re-reading the mode (another connection
    may have switched it meanwhile), until the busy timeout has passed.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.001
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() + delay > deadline:
                raise
        sleep(delay)
        delay = min(delay * 2, 0.05)


def _sqlite_on_connect_read_only(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def _driver_message(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(orig) if not isinstance(orig, SQLAlchemyError) else _plain(orig)
    return " ".join(text.split()).rstrip(".") or type(orig).__name__


def _plain(exc: SQLAlchemyError) -> str:
    # SQLAlchemy appends "[SQL: ...]" and "(Background on this error at: ...)" to str(exc).
    text = exc.args[0] if exc.args else type(exc).__name__
    return str(text)


def describe_error(exc: BaseException, target: Target) -> str:
    """One line saying what went wrong, without SQL, links or the password."""
    message = _driver_message(exc)
    if target.dialect == "sqlite":
        lowered = message.lower()
        for needle, hint in _SQLITE_HINTS.items():
            if needle in lowered:
                message = hint
                break
    if target.password and len(target.password) >= 3:
        message = message.replace(target.password, "***")
    return message


def is_transient(exc: BaseException) -> bool:
    """True for failures that a retry of the whole transaction can cure."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc  # raw driver errors too
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in ("40001", "40P01", "23505"):  # serialization, deadlock, unique violation
        return True
    return "database is locked" in str(orig).lower()


class DriverConnections:
    """Driver (DBAPI) connections of ``engine``, reused without the pool's bookkeeping.

    The audit log's append path takes a connection, runs its transaction on it
    (``BEGIN``/``COMMIT`` or ``ROLLBACK`` itself, so a connection is always idle
    when it comes back) and gives it back. Checking a connection out of
    SQLAlchemy's pool and back costs more CPU than the SQLite insert it serves,
    and on PostgreSQL the pool's pre-ping adds a round trip; here both cost a
    list operation. Connections are made by ``engine`` (so they carry the store's
    settings: SQLite pragmas, timeouts) and detached from its pool. At most
    ``keep`` idle ones are kept; further concurrent callers get new connections,
    closed when given back. Lock-free (list ``pop``/``append`` are atomic), so it
    is safe in threads and cannot deadlock a child forked while a thread held a
    lock. A connection inherited over ``fork`` is never used (SQLite forbids it)
    nor closed by the child: a child starts with none.

    An idle connection may have died meanwhile (a PostgreSQL restart): the
    caller retries once on a new connection after :meth:`discard_idle`.
    """

    def __init__(self, engine: Engine, *, keep: int = 4) -> None:
        self._engine = engine
        self._keep = keep
        self._idle: list[Any] = []
        self._inherited: list[Any] = []  # from the parent process: never used, never closed
        self._pid = os.getpid()
        self._closed = False

    def acquire(self) -> tuple[Any, bool]:
        """A driver connection, and whether it was used before (then it may have died)."""
        if self._pid != os.getpid():
            self._forked()
        try:
            return self._idle.pop(), True
        except IndexError:
            pass
        proxied = self._engine.raw_connection()
        driver = proxied.dbapi_connection
        proxied.detach()
        return driver, False

    def acquire_idle(self) -> Any | None:
        """An idle driver connection, or None when there is none (nothing is opened)."""
        if self._pid != os.getpid():
            self._forked()
        try:
            return self._idle.pop()
        except IndexError:
            return None

    def release(self, connection: Any) -> None:
        """Give back an idle connection (no transaction open)."""
        if self._closed or self._pid != os.getpid() or len(self._idle) >= self._keep:
            self.close_connection(connection)
            return
        self._idle.append(connection)
        if self._closed:  # close() ran meanwhile and may have missed it
            self._drain()

    def close_connection(self, connection: Any) -> None:
        """Close ``connection``, ignoring the driver's complaints (it is being dropped)."""
        if self._pid != os.getpid():
            return
        try:
            connection.close()
        except self._driver_errors() as exc:
            logger.debug("closing a dropped audit-log connection failed: %s", type(exc).__name__)

    def discard_idle(self) -> None:
        """Close every idle connection (after one turned out to be dead)."""
        self._drain()

    def close(self) -> None:
        self._closed = True
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return
            self.close_connection(connection)

    def _forked(self) -> None:
        idle, self._idle = self._idle, []
        self._inherited.extend(idle)
        self._pid = os.getpid()

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        dbapi = getattr(self._engine.dialect, "loaded_dbapi", None)
        return (dbapi.Error,) if dbapi is not None else ()


# -- one writer at a time per SQLite file, per process ------------------------------------

_WRITER_LOCKS: dict[str, threading.Lock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _forget_writer_locks() -> None:  # a forked child must not inherit a held lock
    global _WRITER_LOCKS_GUARD
    _WRITER_LOCKS.clear()
    _WRITER_LOCKS_GUARD = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_writer_locks)


def writer_lock(target: Target) -> AbstractContextManager[Any]:
    """The lock the threads of this process take around a write transaction on ``target``.

    SQLite admits one writer at a time. Threads that collide wait in SQLite's busy
    handler, which sleeps in growing steps (up to 100 ms) and wakes in no order: with 16
    writer threads that gives p99 latencies of seconds. Queueing the threads of one
    process on a lock first leaves SQLite's busy timeout to arbitrate only between
    processes. PostgreSQL (row locks, no sleeping) gets no lock.
    """
    if target.dialect != "sqlite":
        return nullcontext()
    path = sqlite_path(target)
    if path is None:
        return nullcontext()
    key = os.path.realpath(path)
    with _WRITER_LOCKS_GUARD:
        lock = _WRITER_LOCKS.get(key)
        if lock is None:
            lock = _WRITER_LOCKS[key] = threading.Lock()
    return lock
