"""Opening a store that cannot be used fails with one clear line, never a password."""

from __future__ import annotations

import os
import socket
import traceback

import pytest
import sqlalchemy

from govkit.exceptions import StoreError
from govkit.store import Store, default_database_url, redact_url

PASSWORD = "hunter2-Secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def open_error(url: str) -> StoreError:
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    return caught.value


def assert_clean(error: StoreError) -> str:
    """The message is one line, names no password and carries no SQL or traceback text."""
    message = str(error)
    whole = "".join(traceback.format_exception(error))
    assert PASSWORD not in whole
    assert "\n" not in message
    for noise in ("Traceback", "[SQL", "sqlalche.me", "Background on this error", "psycopg."):
        assert noise not in message
    return message


def test_unreachable_postgres_port():
    port = free_port()  # nothing listens there
    error = open_error(f"postgresql://auditor:{PASSWORD}@127.0.0.1:{port}/govkit")
    message = assert_clean(error)
    assert message.startswith(
        f"cannot open the audit store at postgresql://auditor:***@127.0.0.1:{port}/govkit: "
    )
    assert "refused" in message.lower()


@pytest.mark.postgres
def test_missing_postgres_database(pg_url):
    url = sqlalchemy.make_url(pg_url).set(password=PASSWORD, database="no_such_db")
    message = assert_clean(open_error(url.render_as_string(hide_password=False)))
    assert "postgres:***@" in message and 'database "no_such_db" does not exist' in message


def test_sqlite_directory_missing(tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    message = assert_clean(open_error(f"sqlite:///{missing / 'govkit.db'}"))
    assert message == (
        f"cannot open the audit store at sqlite:///{missing / 'govkit.db'}: the directory "
        f"'{missing}' does not exist; create it first"
    )


def test_sqlite_read_only_file(tmp_path):
    path = tmp_path / "govkit.db"
    Store.open(f"sqlite:///{path}").close()
    path.chmod(0o444)
    url = f"sqlite:///{path}"
    if os.geteuid() == 0:
        # root may write to any file whatever its mode, so make the connection read-only
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    message = assert_clean(open_error(url))
    assert message == (
        f"cannot open the audit store at {url}: the database is read-only; the audit store "
        "needs write access to the file and its directory"
    )


def test_sqlite_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not the tables you are looking for\n" * 100)
    message = assert_clean(open_error(f"sqlite:///{path}"))
    assert message.endswith(": the file is not a SQLite database")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "mysql://root:" + PASSWORD + "@db/govkit",
            "unsupported database 'mysql' in mysql://root:***@db/govkit",
        ),
        (
            "postgresql+psycopg2://u:" + PASSWORD + "@h/d",
            "unsupported PostgreSQL driver 'psycopg2'",
        ),
        ("not a url", "not a database URL: 'not a url'"),
    ],
)
def test_unsupported_urls(url, expected):
    assert expected in assert_clean(open_error(url))


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file::memory:?uri=true",
        "sqlite:///file:audit?mode=memory&uri=true",
    ],
)
def test_an_in_memory_sqlite_database_is_refused_at_open(url):
    """Each connection to one would see an empty database of its own (and the log would
    vanish at exit): refused before anything is written, with what to give instead."""
    message = assert_clean(open_error(url))
    assert message.startswith(f"{url} is an in-memory SQLite database")
    assert "sqlite:///PATH" in message and "PostgreSQL" in message


def test_govkit_refuses_an_in_memory_store_with_exit_code_2():
    from typer.testing import CliRunner

    from govkit.cli._app import app as cli

    result = CliRunner().invoke(cli, ["audit", "verify", "--db", "sqlite://"])
    assert result.exit_code == 2, result.output
    assert "in-memory SQLite database" in result.output and "Traceback" not in result.output


def test_newer_schema_is_refused(db_url):
    Store.open(db_url).close()
    engine = sqlalchemy.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.text("UPDATE govkit_meta SET value = '99' WHERE key = 'schema_version'")
        )
    engine.dispose()
    message = assert_clean(open_error(db_url))
    assert "schema version 99" in message and "upgrade govkit" in message


def test_closed_store_refuses_work(db_url):
    store = Store.open(db_url)
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.audit_events()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://u:{PASSWORD}@h:5432/d", "postgresql://u:***@h:5432/d"),
        (
            f"postgresql://u@h/d?password={PASSWORD}&sslmode=require",
            "postgresql://u@h/d?password=***&sslmode=require",
        ),
        ("sqlite:///./govkit.db", "sqlite:///./govkit.db"),
        (f"weird://u:{PASSWORD}@[bad", "weird://u:***@[bad"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_default_database_url(monkeypatch):
    monkeypatch.delenv("GOVKIT_DATABASE_URL", raising=False)
    assert default_database_url() == "sqlite:///./govkit.db"
    monkeypatch.setenv("GOVKIT_DATABASE_URL", "postgresql://u@h/d")
    assert default_database_url() == "postgresql://u@h/d"
