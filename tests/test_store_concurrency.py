"""Concurrent appenders in separate processes never fork, lose or duplicate audit events."""

from __future__ import annotations

import multiprocessing
import queue

import sqlalchemy

from govkit.store import Store

WORKERS = 8
APPENDS = 25
# A safety net so a deadlock fails the test instead of hanging CI; never a speed assertion.
HANG_GUARD_S = 600


def append_events(url: str, worker: int, start, results) -> None:
    """Child process: open the store, wait for the others, append APPENDS events."""
    try:
        with Store.open(url) as store:
            start.wait(HANG_GUARD_S)
            sequences = [
                store.record_event(
                    "test.concurrent",
                    {"worker": worker, "i": i},
                    actor=f"worker-{worker}",
                    subject=f"worker:{worker}",
                ).sequence
                for i in range(APPENDS)
            ]
        results.put((worker, sequences, None))
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put((worker, [], f"{type(exc).__name__}: {exc}"))


def test_concurrent_appenders(db_url):
    # No Store.open here: the workers also race to create the tables on the empty database.
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=append_events, args=(db_url, worker, start, results))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    outcomes = {}
    try:
        for _ in range(WORKERS):
            worker, sequences, error = results.get(timeout=HANG_GUARD_S)
            outcomes[worker] = (sequences, error)
    except queue.Empty:
        missing = set(range(WORKERS)) - set(outcomes)
        raise AssertionError(f"workers {missing} never reported") from None
    finally:
        for process in processes:
            process.join(HANG_GUARD_S)
    assert {w: e for w, (_, e) in outcomes.items() if e} == {}
    assert [p.exitcode for p in processes] == [0] * WORKERS

    total = WORKERS * APPENDS
    every = sorted(seq for sequences, _ in outcomes.values() for seq in sequences)
    assert every == list(range(1, total + 1))  # no duplicates, no gaps
    with Store.open(db_url) as store:
        report = store.verify_chain()
        assert report.ok, report.problem
        assert (report.events, report.head_sequence) == (total, total)
        events = store.audit_events()
    assert len(events) == total
    for worker, (sequences, _) in outcomes.items():
        mine = [e for e in events if e.payload["worker"] == worker]
        assert [e.sequence for e in mine] == sequences  # each worker's own order is kept
        assert [e.payload["i"] for e in mine] == list(range(APPENDS))


def test_sqlite_connection_settings(tmp_path):
    """WAL, synchronous=FULL and a busy timeout on every connection; writes BEGIN IMMEDIATE."""
    statements: list[str] = []
    with Store.open(f"sqlite:///{tmp_path / 'govkit.db'}") as store:
        engine = store._engine
        engine.dispose()  # new connections from here on trace every statement SQLite runs
        sqlalchemy.event.listen(
            engine, "connect", lambda dbapi, _rec: dbapi.set_trace_callback(statements.append)
        )
        store.record_event("test.event", {}, actor=None, subject=None)  # the lean append path
        store.new_subject_key()  # an ORM write transaction
        store.audit_events()
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "busy_timeout": 30000,
        "foreign_keys": 1,
    }
    begins = [sql for sql in statements if sql.startswith("BEGIN")]
    assert begins[:3] == ["BEGIN IMMEDIATE", "BEGIN IMMEDIATE", "BEGIN"]  # 2 writes, 1 read
