"""The audit store: registered datasets and model versions, policy runs, and the audit log.

Each write is one database transaction that also appends its audit event, so a
record and the event describing it are committed together or not at all; writers
are serialised and transient failures retried (:mod:`govkit.store._store_transactions`).

Schema: ``Store.open`` creates a new database at the newest schema (Alembic, see
:mod:`govkit.store._migrate`); a database of an older schema is refused with a
pointer to ``govkit db upgrade`` (:func:`upgrade_database`), so a production
database is never migrated as a side effect. ``Store.open(url, read_only=True)``
never writes (verification, export and checkpoints work on a read-only role or
replica) and reads databases of older schemas too.

:class:`Store` opens, checks and closes the database here; its methods come from
mixins, each a unit of its own: the transactions (:mod:`govkit.store._store_transactions`),
datasets, model versions and policy runs (:mod:`govkit.store._store_registry`), the
audit log, its verification, checkpoints, export and data subjects
(:mod:`govkit.store._store_audit`), and decisions, API keys, outcomes, the model
lifecycle and dashboard queries (:mod:`govkit.store._store_services`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import Engine, text

from govkit.exceptions import GovkitError, StoreError
from govkit.store import _migrate
from govkit.store._engine import (
    DEFAULT_DATABASE_URL,
    WRITE_OPTION,
    DriverConnections,
    Target,
    build_engine,
    describe_error,
    parse_target,
    sqlite_path,
    writer_lock,
)
from govkit.store._store_audit import StoreAuditLog
from govkit.store._store_registry import StoreRegistry
from govkit.store._store_services import StoreServices

__all__ = ["Store", "default_database_url"]

logger = logging.getLogger(__name__)


def default_database_url() -> str:
    """``$GOVKIT_DATABASE_URL`` if set, else ``sqlite:///./govkit.db``."""
    return os.environ.get("GOVKIT_DATABASE_URL") or DEFAULT_DATABASE_URL


def _origin(url: str | None, path: Path) -> str:
    """Where a database URL came from, for an error that names it."""
    from_env = os.environ.get("GOVKIT_DATABASE_URL")
    if from_env and url in (None, from_env):
        return "from $GOVKIT_DATABASE_URL"
    if url is not None:
        return "the URL given"
    return (
        f"the default: govkit.db in the current folder {str(path.resolve().parent)!r}; name "
        "another with --db, $GOVKIT_DATABASE_URL or Store.open(url)"
    )


# The reference page lists inherited methods from the last base to the first.
class Store(StoreAuditLog, StoreRegistry, StoreServices):
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
        folder = sqlite_path(target) if target.dialect == "sqlite" else None
        if folder is not None and folder.is_dir():
            raise StoreError(
                f"cannot open the audit store at {target.display}: {str(folder)!r} is a "
                f"directory ({_origin(url, folder)}); name a database file, e.g. "
                f"sqlite:///{folder / 'govkit.db'}"
            )
        if read_only and target.dialect == "sqlite":
            path = sqlite_path(target)
            if path is not None and not path.is_file():
                raise StoreError(
                    f"cannot open the audit store at {target.display}: the file "
                    f"{str(path)!r} does not exist ({_origin(url, path)}). Reading never "
                    "creates a store; registering a dataset or model does (govkit dataset "
                    "register, govkit model register)"
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
