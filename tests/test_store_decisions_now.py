"""record_decision(wait=False): record at once, or say WouldWait and write nothing.

The HTTP API makes decisions on its event loop's thread, where nothing may wait: not for
SQLite's write lock held by another connection or thread, not for a new connection,
not for a PostgreSQL round trip. Each of those gives WouldWait, whose ``finish`` (run
in a worker thread) records the decision exactly once.
"""

from __future__ import annotations

import sqlite3

import pytest
from test_store_decisions import make_decision, pseudonym, rows

from govkit.exceptions import InputError, WouldWait
from govkit.store import Store
from govkit.store._engine import SQLITE_BUSY_TIMEOUT_S


def _sqlite_file(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _warm(store: Store) -> None:
    """One waiting write, so the store has an idle driver connection to reuse."""
    store.record_event("test.warm", {}, actor=None, subject=None)


def _decision_count(url: str) -> int:
    return rows(url, "SELECT count(*) FROM govkit_decisions")[0][0]


def test_records_at_once_when_nothing_waits(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(url) as store:
        _warm(store)
        before = store.verify_chain().events
        stored = store.record_decision(
            make_decision("d-1"), subject_pseudonym=pseudonym("a"), actor="k", wait=False
        )
        assert stored.audit_sequence == before + 1 and stored.has_subject
        assert store.get_decision("d-1", tenant="acme").features == make_decision("d-1").features
        assert store.verify_chain().ok
    assert _decision_count(url) == 1


def test_a_lock_held_by_another_connection_gives_wouldwait_and_writes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(url) as store:
        _warm(store)
        before = store.verify_chain().events
        other = sqlite3.connect(_sqlite_file(url), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer (process) holds the lock
        try:
            # with SQLite's 30 s busy timeout this would wait; it must not
            with pytest.raises(WouldWait) as caught:
                store.record_decision(
                    make_decision("d-1"), subject_pseudonym=None, actor=None, wait=False
                )
            # the attempt restored the connection's busy timeout for later, waiting writes
            idle = store._driver_connections._idle
            assert [c.execute("PRAGMA busy_timeout").fetchone()[0] for c in idle] == [
                SQLITE_BUSY_TIMEOUT_S * 1000
            ]
        finally:
            other.rollback()
            other.close()
        assert _decision_count(url) == 0 and store.verify_chain().events == before
        stored = caught.value.finish()  # what the API runs in a worker thread
        assert stored.decision_id == "d-1" and stored.audit_sequence == before + 1
        assert store.verify_chain().ok and store.verify_chain().events == before + 1
    assert _decision_count(url) == 1


def test_a_lock_held_by_a_thread_of_this_process_gives_wouldwait(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(url) as store:
        _warm(store)
        with store._writer_lock:  # a worker thread mid-write holds it
            with pytest.raises(WouldWait) as caught:
                store.record_decision(
                    make_decision("d-1"), subject_pseudonym=None, actor=None, wait=False
                )
        assert _decision_count(url) == 0
        caught.value.finish()
    assert _decision_count(url) == 1


def test_no_idle_connection_gives_wouldwait(tmp_path):
    """Opening a connection runs pragmas that may wait: not on the event loop."""
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(url) as store:
        store._driver_connections.discard_idle()
        with pytest.raises(WouldWait) as caught:
            store.record_decision(
                make_decision("d-1"), subject_pseudonym=None, actor=None, wait=False
            )
        assert caught.value.finish().audit_sequence is not None
        # the connection the finish opened is idle now: the next one goes at once
        store.record_decision(make_decision("d-2"), subject_pseudonym=None, actor=None, wait=False)
    assert _decision_count(url) == 2


def test_a_refused_decision_is_refused_at_once_not_deferred(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(url) as store:
        _warm(store)
        store.record_decision(make_decision("d-1"), subject_pseudonym=None, actor=None)
        with pytest.raises(InputError, match="already recorded"):
            store.record_decision(
                make_decision("d-1"), subject_pseudonym=None, actor=None, wait=False
            )
        # the failed attempt left the connection usable, with no transaction open
        store.record_decision(make_decision("d-2"), subject_pseudonym=None, actor=None, wait=False)
        assert store.verify_chain().ok
    assert _decision_count(url) == 2


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_always_defers_to_a_worker_thread(db_url):
    """Every PostgreSQL statement is a network round trip: never on the event loop."""
    with Store.open(db_url) as store:
        _warm(store)
        with pytest.raises(WouldWait) as caught:
            store.record_decision(
                make_decision("d-1"), subject_pseudonym=pseudonym("a"), actor=None, wait=False
            )
        with pytest.raises(Exception, match="no decision"):
            store.get_decision("d-1", tenant="acme")
        stored = caught.value.finish()
        assert store.get_decision("d-1", tenant="acme").decision_id == stored.decision_id
        assert store.verify_chain().ok
