"""Schema migrations (Alembic): new databases, govkit 0.1 databases, revision 1, upgrades."""

from __future__ import annotations

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from audit_helpers import INSERT, build_chain, engine, fill
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.exceptions import StoreError
from govkit.store import SCHEMA_VERSION, Store, upgrade_database
from govkit.store._migrate import (
    HEAD_REVISION,
    MIGRATIONS,
    REVISION_SCHEMA,
    VERSION_TABLE,
    read_state,
    upgrade,
)
from govkit.store._schema import METADATA

# Tables added after schema version 1 (by revisions 0002, 0003 and 0004).
LATER_TABLES = {
    "govkit_subject_keys",
    "govkit_subjects",
    "govkit_decisions",
    "govkit_api_keys",
    "govkit_policy_bindings",
    "govkit_model_stages",
    "govkit_stage_history",
    "govkit_model_aliases",
    "govkit_approvals",
    "govkit_outcomes",
}


def v1_metadata() -> sqlalchemy.MetaData:
    """The tables of schema version 1, as govkit 0.1 created them (``create_all``)."""
    v1 = sqlalchemy.MetaData(naming_convention=METADATA.naming_convention)
    for table in METADATA.sorted_tables:
        if table.name not in LATER_TABLES:
            table.to_metadata(v1)
    return v1


def schema_diff(db_url: str, metadata: sqlalchemy.MetaData) -> list:
    eng = engine(db_url)
    try:
        with eng.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        eng.dispose()
    return [d for d in diff if VERSION_TABLE not in repr(d)]


def make_v01_database(db_url: str, events: int = 5) -> list:
    """A database exactly as govkit 0.1 left it: v1 tables, meta rows, a chain, no Alembic."""
    chain = build_chain(events)
    eng = engine(db_url)
    try:
        with eng.begin() as conn:
            v1_metadata().create_all(conn)
            conn.execute(
                sqlalchemy.text("INSERT INTO govkit_meta (key, value) VALUES (:k, :v)"),
                [{"k": "schema_version", "v": "1"}, {"k": "audit_format", "v": "1"}],
            )
            conn.execute(sqlalchemy.text(INSERT), [row._asdict() for row in chain])
            conn.execute(
                sqlalchemy.text(
                    "INSERT INTO govkit_audit_head (id, sequence, hash) VALUES (1, :s, :h)"
                ),
                {"s": events, "h": chain[-1].hash},
            )
    finally:
        eng.dispose()
    return chain


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_head_revision_matches_the_scripts():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == HEAD_REVISION
    assert [rev.revision for rev in script.walk_revisions()][::-1] == list(REVISION_SCHEMA)
    assert REVISION_SCHEMA[HEAD_REVISION] == SCHEMA_VERSION


def test_new_database_is_migrated_to_exactly_the_models(db_url):
    Store.open(db_url).close()
    assert schema_diff(db_url, METADATA) == []
    eng = engine(db_url)
    with eng.connect() as conn:
        state = read_state(conn)
    eng.dispose()
    assert (state.revision, state.schema_version) == (HEAD_REVISION, str(SCHEMA_VERSION))


def test_revision_0001_is_schema_v1_exactly(db_url):
    eng = engine(db_url)
    try:
        with eng.begin() as conn:
            upgrade(conn, "0001")
            meta = dict(conn.execute(sqlalchemy.text("SELECT key, value FROM govkit_meta")).all())
    finally:
        eng.dispose()
    assert schema_diff(db_url, v1_metadata()) == []
    missing = schema_diff(db_url, METADATA)  # the comparison does see differences
    assert {d[1].name for d in missing if d[0] == "add_table"} == LATER_TABLES
    assert {d[1].table.name for d in missing if d[0] == "add_index"} <= LATER_TABLES
    assert {d[0] for d in missing} <= {"add_table", "add_index"}
    assert meta == {"schema_version": "1", "audit_format": "1"}


def test_govkit_01_database_is_refused_then_upgraded(db_url):
    chain = make_v01_database(db_url)
    with pytest.raises(StoreError) as caught:
        Store.open(db_url)
    assert f"has schema version 1; this govkit needs version {SCHEMA_VERSION}" in str(caught.value)
    assert "govkit db upgrade" in str(caught.value)
    with Store.open(db_url, read_only=True) as store:  # still readable and verifiable
        assert store.verify_chain().ok
        assert store.database_id is None
    assert upgrade_database(db_url) == ("0001", HEAD_REVISION)
    assert schema_diff(db_url, METADATA) == []
    with Store.open(db_url) as store:
        report = store.verify_chain()
        assert report.ok and report.head_hash == chain[-1].hash  # history kept
        assert len(store.database_id) == 32
        fill(store, 3)
        assert store.new_subject_key()
        assert store.verify_chain().events == 8
    assert upgrade_database(db_url) == (HEAD_REVISION, HEAD_REVISION)  # idempotent


def test_cli_upgrades_revision_1(db_url):
    eng = engine(db_url)
    with eng.begin() as conn:
        upgrade(conn, "0001")
    eng.dispose()
    r = cli("db", "upgrade", "--db", db_url)
    assert r.exit_code == 0, r.output
    assert f"from schema revision 0001 to {HEAD_REVISION} (schema version {SCHEMA_VERSION})" in (
        r.stdout
    )
    r = cli("db", "upgrade", "--db", db_url)
    assert r.exit_code == 0 and f"already at schema version {SCHEMA_VERSION}" in r.stdout


def test_cli_creates_a_new_database(tmp_path):
    r = cli("db", "upgrade", "--db", f"sqlite:///{tmp_path / 'new.db'}")
    assert r.exit_code == 0 and "created the audit store" in r.stdout
    with Store.open(f"sqlite:///{tmp_path / 'new.db'}") as store:
        assert store.verify_chain().ok


def test_a_failed_upgrade_changes_nothing(db_url):
    eng = engine(db_url)
    with eng.begin() as conn:
        upgrade(conn, "0001")
        # something in the way of revision 0002: its CREATE TABLE will fail
        conn.execute(sqlalchemy.text("CREATE TABLE govkit_subject_keys (x INTEGER)"))
    r = cli("db", "upgrade", "--db", db_url)
    assert r.exit_code == 2 and "govkit: error: cannot upgrade the audit store" in r.stderr
    assert "Traceback" not in r.output
    with eng.connect() as conn:
        state = read_state(conn)
        meta = dict(conn.execute(sqlalchemy.text("SELECT key, value FROM govkit_meta")).all())
    eng.dispose()
    assert state.revision == "0001" and "database_id" not in meta  # rolled back as a whole


def test_database_from_a_newer_govkit_is_refused(db_url):
    Store.open(db_url).close()
    eng = engine(db_url)
    with eng.begin() as conn:
        conn.execute(sqlalchemy.text(f"UPDATE {VERSION_TABLE} SET version_num = '0099'"))
    eng.dispose()
    for attempt in (lambda: Store.open(db_url), lambda: upgrade_database(db_url)):
        with pytest.raises(StoreError, match="upgrade govkit"):
            attempt()


def test_a_missing_store_names_where_its_url_came_from(tmp_path, monkeypatch):
    monkeypatch.delenv("GOVKIT_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError) as caught:  # the default: ./govkit.db
        Store.open(read_only=True)
    said = str(caught.value)
    assert f"the default: govkit.db in the current folder {str(tmp_path.resolve())!r}" in said
    assert "--db" in said and "registering a dataset or model does" in said
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("GOVKIT_DATABASE_URL", url)
    for given in (None, url):  # the CLI hands the variable's value on as --db
        with pytest.raises(
            StoreError, match=r"env\.db' does not exist \(from \$GOVKIT_DATABASE_URL\)"
        ):
            Store.open(given, read_only=True)
    with pytest.raises(StoreError, match=r"other\.db' does not exist \(the URL given\)"):
        Store.open(f"sqlite:///{tmp_path / 'other.db'}", read_only=True)
    assert not list(tmp_path.iterdir())  # nothing created


def test_read_only_open_needs_an_existing_store(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(f"sqlite:///{tmp_path / 'nothing.db'}", read_only=True)
    assert not (tmp_path / "nothing.db").exists()  # nothing created
    eng = engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with eng.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE other (x INTEGER)"))
    eng.dispose()
    with pytest.raises(StoreError, match="holds no audit store"):
        Store.open(f"sqlite:///{tmp_path / 'empty.db'}", read_only=True)


def test_read_only_store_refuses_writes(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    Store.open(url).close()
    with Store.open(url, read_only=True) as store:
        assert store.read_only
        for write in (
            lambda: store.record_event("t", {}, actor=None, subject=None),
            lambda: store.record_events([("t", {})], actor=None),
            store.new_subject_key,
        ):
            with pytest.raises(StoreError, match="was opened read-only"):
                write()
