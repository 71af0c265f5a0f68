"""`govkit audit verify|checkpoint|export|keygen` and `govkit db upgrade`: output and exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat

import pytest
import sqlalchemy
from audit_helpers import fill, read_rows, replace_log
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.store import Store
from govkit.store._migrate import upgrade

PASSWORD = "s3cret-Passw0rd"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env)


@pytest.fixture
def logged(tmp_path):
    """A 20-event SQLite log and a key pair: (db url, private key, public key)."""
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    with Store.open(db) as store:
        fill(store, 20)
    r = run("audit", "keygen", "--output", str(tmp_path / "audit.key"))
    assert r.exit_code == 0, r.output
    return db, tmp_path / "audit.key", tmp_path / "audit.key.pub"


def test_keygen_writes_a_private_key_only_its_owner_can_read(logged, tmp_path):
    _, private, public = logged
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    mask = os.umask(0o022)
    os.umask(mask)  # the public key is public: the mode of any new file (was 0600)
    assert stat.S_IMODE(public.stat().st_mode) == 0o666 & ~mask
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()
    r = run("audit", "keygen", "--output", str(private))
    assert r.exit_code == 2 and "already exists; refusing to overwrite" in r.stderr


def test_checkpoint_then_verify(logged, tmp_path):
    db, private, public = logged
    cp = tmp_path / "cp.json"
    r = run("audit", "checkpoint", "--key-file", str(private), "--output", str(cp), "--db", db)
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and "signed checkpoint of event 20" in r.stderr
    assert json.loads(cp.read_text())["sequence"] == 20

    r = run("audit", "verify", "--checkpoint", str(cp), "--public-key", str(public), "--db", db)
    assert r.exit_code == 0, r.output
    assert f"checkpoint {cp}: ok (event 20" in r.stdout
    assert "audit chain intact: 20 events" in r.stdout
    assert "cannot be detected" not in r.stderr

    r = run("audit", "verify", "--db", db)  # honest about the limit without a checkpoint
    assert r.exit_code == 0 and "no checkpoint given" in r.stderr
    assert "truncation of the tail or a rewrite of the whole chain cannot be detected" in r.stderr

    r = run("audit", "verify", "--checkpoint", str(cp), "--db", db)
    assert "NOT pinned" in r.stdout and "pass --public-key" in r.stderr


def test_checkpoint_key_from_the_environment_to_stdout(logged):
    db, private, _ = logged
    env = {"GOVKIT_AUDIT_SIGNING_KEY": private.read_text()}
    r = run("audit", "checkpoint", "--db", db, env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["type"] == "govkit.audit.checkpoint"


def test_truncation_after_a_checkpoint_exits_1(logged, tmp_path):
    db, private, public = logged
    cp = tmp_path / "cp.json"
    run("audit", "checkpoint", "--key-file", str(private), "--output", str(cp), "--db", db)
    rows = read_rows(db)[:12]
    replace_log(db, rows, head=(12, rows[-1].hash))
    assert run("audit", "verify", "--db", db).exit_code == 0  # the chain alone cannot tell
    r = run("audit", "verify", "--checkpoint", str(cp), "--public-key", str(public), "--db", db)
    assert r.exit_code == 1
    assert "audit chain BROKEN at sequence 13 [truncated]: the log was truncated" in r.stdout
    assert f"checkpoint {cp}: FAILED" in r.stdout


def test_input_errors_exit_2_without_leaking_the_key(logged, tmp_path):
    db, private, _ = logged
    secret = private.read_text()
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "govkit.audit.checkpoint"}')
    cases = [
        (("audit", "verify", "--checkpoint", str(bad), "--db", db), "not a valid govkit audit"),
        (("audit", "verify", "--public-key", str(private), "--db", db), "this is a private key"),
        (("audit", "checkpoint", "--key-file", str(bad), "--db", db), "not a signing key"),
        (("audit", "checkpoint", "--db", db), "no signing key"),
        (("audit", "verify", "--jsonl", str(bad)), "not a govkit audit export"),
    ]
    for args, expected in cases:
        r = run(*args, env={"GOVKIT_AUDIT_SIGNING_KEY": ""})
        assert r.exit_code == 2, (args, r.output)
        assert r.stderr.startswith("govkit: error: ") and expected in r.stderr
        assert secret.splitlines()[1] not in r.output and "Traceback" not in r.output


def test_export_and_verify_offline(logged, tmp_path):
    db, private, public = logged
    out, cp = tmp_path / "log.jsonl", tmp_path / "cp.json"
    run("audit", "checkpoint", "--key-file", str(private), "--output", str(cp), "--db", db)
    r = run("audit", "export", "--output", str(out), "--db", db)
    assert r.exit_code == 0 and "exported 20 audit events" in r.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".log")] == []  # no temp
    r = run("audit", "verify", "--jsonl", str(out), "--checkpoint", str(cp), "--public-key",
            str(public))  # fmt: skip
    assert r.exit_code == 0 and f"audit export {out} intact: 20 events" in r.stdout
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:5] + lines[6:]) + "\n")
    r = run("audit", "verify", "--jsonl", str(out))
    assert r.exit_code == 1 and "BROKEN at sequence 5 [missing]" in r.stdout
    r = run("audit", "export", "--db", db)  # to stdout: the JSON Lines and nothing else
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 21
    assert json.loads(r.stdout.splitlines()[0])["type"] == "govkit.audit.export"


# -- unreachable and read-only databases --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "command",
    [("audit", "verify"), ("audit", "export"), ("audit", "checkpoint"), ("db", "upgrade")],
)
def test_unreachable_database_exits_2(command, tmp_path):
    db = f"postgresql://auditor:{PASSWORD}@127.0.0.1:{free_port()}/govkit"
    key = tmp_path / "k"
    run("audit", "keygen", "--output", str(key))
    extra = ("--key-file", str(key)) if command[1] == "checkpoint" else ()
    r = run(*command, *extra, "--db", db)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("govkit: error: ") and "auditor:***@" in r.stderr
    assert PASSWORD not in r.output and "Traceback" not in r.output


def file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_only_copy(path) -> str:
    path.chmod(0o444)
    if os.geteuid() == 0:  # root writes any file whatever its mode: make the connection read-only
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    return f"sqlite:///{path}"


def test_read_only_sqlite_files(tmp_path):
    current, old = tmp_path / "current.db", tmp_path / "old.db"
    with Store.open(f"sqlite:///{current}") as store:
        fill(store, 5)
    eng = sqlalchemy.create_engine(f"sqlite:///{old}")
    with eng.begin() as conn:
        upgrade(conn, "0001")  # schema version 1: needs `govkit db upgrade`
    eng.dispose()
    current_db, old_db = read_only_copy(current), read_only_copy(old)
    before = {p: file_digest(p) for p in (current, old)}
    r = run("audit", "verify", "--db", current_db)  # reading works
    assert r.exit_code == 0 and "5 events" in r.stdout
    assert run("audit", "verify", "--db", old_db).exit_code == 0  # older schemas too
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    for command, db in (
        (("db", "upgrade"), old_db),
        (("dataset", "register", str(tmp_path / "x.csv"), "--name", "x"), current_db),
        (("audit", "keygen", "--output", str(tmp_path / "k")), None),
        (("audit", "checkpoint", "--key-file", str(tmp_path / "k")), old_db),
    ):
        r = run(*command, *(("--db", db) if db else ()))
        if db is None:
            continue
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith("govkit: error: ") and "Traceback" not in r.output
    assert {p: file_digest(p) for p in (current, old)} == before  # no half-written state


@pytest.fixture
def pg_database(pg_url):
    """A fresh PostgreSQL database of its own (it is made read-only by the test)."""
    import uuid

    import psycopg

    base = sqlalchemy.make_url(pg_url)
    name = f"t_{uuid.uuid4().hex}"
    admin = {"host": base.host, "port": base.port, "user": base.username, "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False), name
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_read_only_postgres_database(pg_database, tmp_path):
    db_url, name = pg_database
    with Store.open(db_url) as store:
        fill(store, 5)
    admin = sqlalchemy.create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sqlalchemy.text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        )
    admin.dispose()
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    r = run("dataset", "register", str(tmp_path / "x.csv"), "--name", "x", "--db", db_url)
    assert r.exit_code == 2 and "read-only transaction" in r.stderr, r.output
    r = run("audit", "verify", "--db", db_url)  # a read-only role or replica can still verify
    assert r.exit_code == 0 and "5 events" in r.stdout
    assert run("audit", "export", "--db", db_url).exit_code == 0
    assert len(read_rows(db_url)) == 5
