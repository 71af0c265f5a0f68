"""record_decision's driver-level write path: same stored forms as SQLAlchemy's, same refusals."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

import pytest
import sqlalchemy
from test_store_decisions import T0, make_decision, pseudonym, rows

from govkit.exceptions import StoreError
from govkit.store import Store
from govkit.store._schema import DecisionRow, SubjectKeyRow


def test_sqlite_columns_are_stored_as_sqlalchemy_stores_them(tmp_path):
    """Times as SQLAlchemy's DateTime text (UTC fields), flags as 0/1, bytes as blobs.

    The dashboard orders decisions by ``created_at`` and the ORM reads the rows back,
    so the raw inserts must write exactly what an ORM insert would.
    """
    url = f"sqlite:///{tmp_path / 'g.db'}"
    dialect = sqlalchemy.create_engine("sqlite://").dialect
    as_orm = DecisionRow.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    moment = T0.astimezone(timezone(timedelta(hours=-5)))  # stored as UTC, like the ORM did
    with Store.open(url) as store:
        store.record_decision(
            make_decision("d-1", created_at=moment), subject_pseudonym=pseudonym("a"), actor=None
        )
        store.record_decision(make_decision("d-2"), subject_pseudonym=None, actor=None)
    stored = rows(
        url,
        "SELECT decision_id, created_at, typeof(created_at), has_subject, typeof(has_subject), "
        "typeof(nonce), typeof(ciphertext) FROM govkit_decisions ORDER BY decision_id",
    )
    assert stored == [
        ("d-1", as_orm(moment.astimezone(UTC)), "text", 1, "integer", "blob", "blob"),
        ("d-2", as_orm(T0), "text", 0, "integer", "blob", "blob"),
    ]
    assert stored[0][1] == "2025-06-01 12:00:00.654321"
    key_times = rows(url, "SELECT created_at, typeof(salt) FROM govkit_subject_keys")
    subject_times = rows(url, "SELECT created_at FROM govkit_subjects")
    assert len(key_times) == 2 and len(subject_times) == 1
    key_type = SubjectKeyRow.__table__.c.created_at.type.dialect_impl(dialect)
    parse = key_type.result_processor(dialect, None)
    for text, salt_type in key_times:
        assert salt_type == "blob"
        assert as_orm(parse(text)) == text  # the DateTime text form, round-trips


def test_a_log_changed_outside_govkit_refuses_the_decision(db_url):
    with Store.open(db_url) as store:
        store.record_event("x.y", {"n": 1}, actor=None, subject=None)
        engine = sqlalchemy.create_engine(db_url)
        try:
            with engine.begin() as conn:
                conn.execute(sqlalchemy.text("DELETE FROM govkit_audit_events"))
        finally:
            engine.dispose()
        with pytest.raises(StoreError, match="head marker records event 1 but the last stored"):
            store.record_decision(make_decision("d"), subject_pseudonym=pseudonym("x"), actor=None)
    for table in ("govkit_decisions", "govkit_subjects", "govkit_subject_keys"):
        assert rows(db_url, f"SELECT COUNT(*) FROM {table}")[0][0] == 0
