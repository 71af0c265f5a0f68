"""Threads of one process queue on a lock before writing to a SQLite file.

SQLite's busy handler sleeps in growing steps, so colliding writer threads see latencies
of seconds; the lock leaves the busy timeout to arbitrate only between processes.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from govkit.store import Store
from govkit.store._engine import parse_target, writer_lock


def test_one_lock_per_sqlite_file_and_none_for_postgres(tmp_path):
    a = writer_lock(parse_target(f"sqlite:///{tmp_path / 'a.db'}"))
    assert a is writer_lock(parse_target(f"sqlite:///{tmp_path / 'x' / '..' / 'a.db'}"))
    assert a is not writer_lock(parse_target(f"sqlite:///{tmp_path / 'b.db'}"))
    assert not isinstance(writer_lock(parse_target("postgresql://u@localhost/db")), type(a))


def test_threads_writing_through_several_stores_never_collide(tmp_path, monkeypatch):
    """16 threads x 20 appends through 4 Store objects on one file: every append lands,
    and no writer ever waited in SQLite's busy handler (the lock serialised them)."""
    from govkit.store import _engine

    url = f"sqlite:///{tmp_path / 'g.db'}"
    stores = [Store.open(url) for _ in range(4)]
    inside = 0
    most = 0
    guard = threading.Lock()
    real = _engine.writer_lock(parse_target(url))

    class Counting:
        def __enter__(self):
            nonlocal inside, most
            real.acquire()
            with guard:
                inside += 1
                most = max(most, inside)

        def __exit__(self, *exc):
            nonlocal inside
            with guard:
                inside -= 1
            real.release()

    for store in stores:
        store._writer_lock = Counting()

    def work(i: int) -> None:
        store = stores[i % 4]
        for j in range(20):
            store.record_event("note", {"thread": i, "n": j}, subject=None, actor="t")

    try:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(work, range(16)))
        report = stores[0].verify_chain()
        assert report.ok and report.head_sequence == 320
        assert most == 1
    finally:
        for store in stores:
            store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_inherit_a_held_lock(tmp_path):
    target = parse_target(f"sqlite:///{tmp_path / 'a.db'}")
    lock = writer_lock(target)
    with lock:
        pid = os.fork()
        if pid == 0:  # child: a fresh lock, free, or it would deadlock here
            ok = writer_lock(target).acquire(timeout=5)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
