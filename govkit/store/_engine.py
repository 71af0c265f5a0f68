"""Database URLs and engines for the audit store: SQLite and PostgreSQL (psycopg 3).

SQLite
    WAL journal, ``synchronous=FULL``, a 30 s ``busy_timeout`` and foreign keys
    on, set on every new connection. pysqlite's own transaction handling is
    switched off (``isolation_level = None``) and the store emits ``BEGIN``
    itself, as the pysqlite section of the SQLAlchemy docs describes: writes
    start with ``BEGIN IMMEDIATE`` so they take the database's write lock up
    front and wait (busy timeout) instead of failing with "database is locked"
    when they later try to upgrade a read lock; reads start with a plain
    ``BEGIN`` and see one snapshot.
PostgreSQL
    ``postgresql://`` and ``postgres://`` URLs use the psycopg 3 driver.
    Writers serialise on the audit head row (``SELECT ... FOR UPDATE``);
    serialization failures, deadlocks and unique violations are retried.

Passwords never appear in messages: :func:`redact_url` replaces them with ``***``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from govkit._optional import import_optional
from govkit.exceptions import StoreError

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
        return Target(parsed, redact_url(url), "sqlite", password)
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
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


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
