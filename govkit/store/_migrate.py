"""Schema migrations of the audit store, with Alembic, on a connection the store holds.

The revisions live in ``govkit/store/migrations/versions/`` (shipped in the
wheel). Revision ``0001`` builds schema version 1 exactly as govkit 0.1 created
it; each later revision also sets ``schema_version`` in ``govkit_meta``.
Alembic's own bookkeeping table is ``govkit_alembic_version``.

:func:`upgrade` runs inside the caller's write transaction (``BEGIN IMMEDIATE``
on SQLite, an advisory lock on PostgreSQL; both databases have transactional
DDL), so an upgrade is applied completely or not at all, and concurrent first
opens of a new database cannot race. A database created by govkit 0.1 (tables,
``schema_version`` 1, no Alembic table) is stamped ``0001`` first.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from govkit.exceptions import GovkitError, StoreError
from govkit.store._engine import (
    DEFAULT_DATABASE_URL,
    WRITE_OPTION,
    build_engine,
    describe_error,
    parse_target,
)
from govkit.store._schema import SCHEMA_VERSION

__all__ = [
    "HEAD_REVISION",
    "VERSION_TABLE",
    "SchemaState",
    "read_state",
    "upgrade",
    "upgrade_database",
    "schema_problem",
    "lock_schema",
    "db_errors",
    "run_environment",
]

logger = logging.getLogger(__name__)

#: The newest revision; ``tests/test_store_migrations.py`` checks it is Alembic's head.
HEAD_REVISION = "0005"
#: Schema version (``govkit_meta``) of each revision.
REVISION_SCHEMA = {"0001": 1, "0002": 2, "0003": 3, "0004": 4, "0005": 5}
VERSION_TABLE = "govkit_alembic_version"
_SCHEMA_LOCK_KEY = 0x676F766B6974  # "govkit": pg_advisory_xact_lock key for schema changes
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class SchemaState:
    """What a database holds: no govkit tables, an Alembic revision, a ``schema_version``."""

    has_store: bool
    revision: str | None
    schema_version: str | None


def read_state(conn: Connection) -> SchemaState:
    """The schema state of the database behind ``conn`` (reads only)."""
    dialect = conn.dialect
    if not dialect.has_table(conn, "govkit_meta"):
        return SchemaState(has_store=False, revision=None, schema_version=None)
    version = conn.execute(
        text("SELECT value FROM govkit_meta WHERE key = 'schema_version'")
    ).scalar()
    revision = None
    if dialect.has_table(conn, VERSION_TABLE):
        revision = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return SchemaState(has_store=True, revision=revision, schema_version=version)


def _config(conn: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def upgrade(conn: Connection, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade the database behind ``conn`` (in the caller's transaction) to ``revision``.

    Returns the revisions before and after; StoreError for a database this
    govkit does not know how to upgrade.
    """
    from alembic import command

    state = read_state(conn)
    before = state.revision
    config = _config(conn)
    if state.has_store and state.revision is None:
        if state.schema_version != "1":
            raise StoreError(
                f"the database holds govkit tables with schema version {state.schema_version} "
                "but no migration history; this govkit cannot upgrade it"
            )
        logger.info("stamping a govkit 0.1 database as schema revision 0001")
        command.stamp(config, "0001")
        before = "0001"
    elif state.revision is not None and state.revision not in REVISION_SCHEMA:
        raise StoreError(
            f"the database is at schema revision {state.revision!r}, which this govkit does "
            "not know (made by a newer govkit?); upgrade govkit"
        )
    command.upgrade(config, revision)
    after = read_state(conn).revision
    assert after is not None
    return before, after


def run_environment(context: Any) -> None:
    """The body of ``migrations/env.py``: run Alembic on govkit's connection, or a URL."""
    from govkit.store._schema import METADATA

    if context.is_offline_mode():
        raise StoreError("govkit's migrations run against a database, not in --sql mode")

    def run(conn: Connection) -> None:
        context.configure(
            connection=conn,
            target_metadata=METADATA,
            version_table=VERSION_TABLE,
            transactional_ddl=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    conn = context.config.attributes.get("connection")
    if conn is not None:
        run(conn)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise StoreError("give the database as: alembic -x url=DATABASE_URL ...")
    engine = build_engine(parse_target(url)).execution_options(**{WRITE_OPTION: True})
    try:
        with engine.begin() as connection:
            run(connection)
    finally:
        engine.dispose()


def db_errors(engine: Engine) -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (SQLAlchemyError,)
    dbapi = getattr(engine.dialect, "loaded_dbapi", None)
    if dbapi is not None:
        errors += (dbapi.Error,)
    return errors


def lock_schema(conn: Connection) -> None:
    """On PostgreSQL, serialise schema creation and upgrades (SQLite: BEGIN IMMEDIATE does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})


def schema_problem(state: SchemaState, url: str, *, readable_older: bool) -> str | None:
    """Why this govkit cannot use a database in ``state``, or None."""
    found = state.schema_version
    newer = (
        found is None
        or not found.isdigit()
        or int(found) > SCHEMA_VERSION
        or (state.revision is not None and state.revision not in REVISION_SCHEMA)
    )
    if newer:
        return (
            f"the audit store at {url} has schema version {found}, but this govkit "
            f"reads version {SCHEMA_VERSION}; upgrade govkit"
        )
    if state.revision != HEAD_REVISION and not readable_older:
        return (
            f"the audit store at {url} has schema version {found}; this govkit needs "
            f"version {SCHEMA_VERSION}: back the database up, then run "
            f"`govkit db upgrade --db URL`"
        )
    return None


def upgrade_database(url: str | None = None) -> tuple[str | None, str]:
    """Create or upgrade the audit store's tables at ``url`` to the newest schema.

    Returns the Alembic revisions before (None: a new database) and after. The
    whole upgrade is one transaction: it applies completely or not at all.
    """
    target = parse_target(
        os.environ.get("GOVKIT_DATABASE_URL") or DEFAULT_DATABASE_URL if url is None else url
    )
    engine = build_engine(target).execution_options(**{WRITE_OPTION: True})
    try:
        with engine.begin() as conn:
            lock_schema(conn)
            state = read_state(conn)
            if state.has_store and state.schema_version is not None:
                problem = schema_problem(state, target.display, readable_older=True)
                if problem is not None:
                    raise StoreError(problem)
            before, after = upgrade(conn)
            return (before if state.has_store else None), after
    except GovkitError:
        raise
    except db_errors(engine) as exc:
        raise StoreError(
            f"cannot upgrade the audit store at {target.display}: {describe_error(exc, target)}"
        ) from None
    finally:
        engine.dispose()
