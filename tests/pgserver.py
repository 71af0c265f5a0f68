"""A throw-away PostgreSQL server for the test session, and the ``db_url`` fixture.

``pg_url`` (session) starts a private PostgreSQL server from the machine's
server binaries (``initdb``/``pg_ctl``: ``$GOVKIT_PG_BIN``,
``/usr/lib/postgresql/15/bin``, ``$PATH``, then any ``/usr/lib/postgresql/*/bin``)
in a temporary directory, on a free loopback port with trust authentication,
and stops and removes it when the session ends. PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` OS user (``runuser``).
Missing binaries fail the tests with a message saying how to install them:
the PostgreSQL tests must run in CI, never be skipped.

``db_url`` runs a test once on a SQLite file and once on a fresh PostgreSQL
database (``CREATE DATABASE t_<uuid>``, dropped afterwards).

Use from ``tests/conftest.py``: ``from pgserver import pg_url, db_url  # noqa: F401``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["pg_url", "db_url", "PostgresServer", "find_pg_bin"]

_TEST_DATABASE = "govkit_test"
_START_ATTEMPTS = 3
_INSTALL_HINT = (
    "install the PostgreSQL server (Debian: apt-get install postgresql, which `make "
    "system-deps` does) or set GOVKIT_PG_BIN to the directory holding initdb and pg_ctl"
)


def find_pg_bin() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``; fails the test when there is none."""
    candidates: list[Path] = []
    if os.environ.get("GOVKIT_PG_BIN"):
        candidates.append(Path(os.environ["GOVKIT_PG_BIN"]))
    candidates.append(Path("/usr/lib/postgresql/15/bin"))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += [Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))]
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    searched = ", ".join(str(c) for c in candidates) or "(nothing)"
    pytest.fail(
        f"PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; searched {searched}. "
        f"The store tests need them: {_INSTALL_HINT}.",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A private PostgreSQL server in ``root`` listening on 127.0.0.1:``port``."""

    bin_dir: Path
    root: Path
    port: int = 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.root)

    def _fail(self, what: str, done: subprocess.CompletedProcess[str]) -> None:
        log = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
        pytest.fail(
            f"could not {what} the test PostgreSQL server (exit {done.returncode}):\n"
            f"{done.stdout}{done.stderr}{log}",
            pytrace=False,
        )

    def init(self) -> None:
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail(
                    "running the tests as root needs the 'postgres' OS user to run the test "
                    f"PostgreSQL server (initdb refuses root); {_INSTALL_HINT}",
                    pytrace=False,
                )
            os.chown(self.root, user.pw_uid, user.pw_gid)
        done = self._run(
            "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            self._fail("initialise", done)

    def start(self) -> None:
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            done = self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file),
                "-o", options, "-w", "-t", "60", "start",
            )  # fmt: skip
            if done.returncode == 0:
                return
            if attempt == _START_ATTEMPTS:  # the port may have been taken meanwhile: retry
                self._fail("start", done)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def admin(self):  # type: ignore[no-untyped-def]
        """An autocommit psycopg connection to the ``postgres`` maintenance database."""
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of database ``govkit_test`` on a PostgreSQL server private to this test session."""
    bin_dir = find_pg_bin()
    server = PostgresServer(bin_dir, Path(tempfile.mkdtemp(prefix="govkit-pg-")))
    try:
        server.init()
        server.start()
        try:
            with server.admin() as conn:
                conn.execute(f'CREATE DATABASE "{_TEST_DATABASE}"')
            yield server.url(_TEST_DATABASE)
        finally:
            server.stop()
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'govkit.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(request.getfixturevalue("pg_url"))
    name = f"t_{uuid.uuid4().hex}"
    admin = {"host": base.host, "port": base.port, "user": base.username, "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
