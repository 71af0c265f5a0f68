"""The audit log's reliability battery (issue 5).

1. 16 processes x 100 appends: exactly 1,600 events, no fork, no lock error surfaced.
2. Every single-row tamper of a 1,000-event log (edit, delete, swap, insert) is found
   at its sequence number: all 1,000 positions on the pure verifier, a sample through
   both databases. (Truncation and rewrites, with and without checkpoints, are in
   test_audit_checkpoint.py.)
3. ``kill -9`` of a writer at random points, 100 times: no partial policy run, the
   chain verifies, ``PRAGMA integrity_check`` is ok, the next write succeeds.

Marked ``reliability``: about a minute or two in all on two cores; deselect with
``-m "not reliability"``.
"""

from __future__ import annotations

import faulthandler
import json
import multiprocessing
import queue
import random
import secrets
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from audit_helpers import build_chain, execute, fill, read_rows, replace_log

from govkit.records import ModelRef
from govkit.results import CheckResult, EvaluationResult, Status
from govkit.store import Store
from govkit.store._chain import GENESIS_HASH, StoredEvent, canonical_json, make_event
from govkit.store._verify import verify_events

pytestmark = pytest.mark.reliability

HANG_GUARD_S = 300  # a deadlock fails the test instead of hanging CI; never a speed assertion
STACK_DUMP_S = 240
LOG_SIZE = 1000
KINDS = ("edit", "delete", "swap", "insert")


def fast_context():
    """Child processes forked from a server that has already imported govkit.store."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["govkit.store", "govkit.results", "test_audit_reliability"])
    return context


# -- 1. concurrent appenders ------------------------------------------------------------------

WORKERS, APPENDS = 16, 100


def append_worker(url: str, worker: int, start, results) -> None:
    faulthandler.dump_traceback_later(STACK_DUMP_S, exit=False)  # where a hung worker is
    try:
        with Store.open(url) as store:
            start.wait(HANG_GUARD_S)
            sequences = [
                store.record_event(
                    "test.concurrent", {"worker": worker, "i": i}, actor=f"w{worker}", subject=None
                ).sequence
                for i in range(APPENDS)
            ]
        results.put((worker, sequences, None))
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put((worker, [], f"{type(exc).__name__}: {exc}"))


def test_16_processes_append_100_events_each(db_url):
    context = fast_context()
    start, results = context.Barrier(WORKERS), context.Queue()
    processes = [
        context.Process(target=append_worker, args=(db_url, w, start, results))
        for w in range(WORKERS)
    ]
    for process in processes:
        process.start()
    outcomes = {}
    try:
        for _ in range(WORKERS):
            worker, sequences, error = results.get(timeout=HANG_GUARD_S)
            outcomes[worker] = (sequences, error)
    except queue.Empty:
        raise AssertionError(
            f"workers {set(range(WORKERS)) - set(outcomes)} never reported"
        ) from None
    finally:
        for process in processes:
            process.join(HANG_GUARD_S)
    assert {w: e for w, (_, e) in outcomes.items() if e} == {}  # no lock error surfaced
    total = WORKERS * APPENDS
    assert sorted(s for seqs, _ in outcomes.values() for s in seqs) == list(range(1, total + 1))
    with Store.open(db_url, read_only=True) as store:
        report = store.verify_chain()
        events = store.audit_events()
    assert report.ok and (report.events, report.head_sequence) == (total, total)
    rows = read_rows(db_url)
    assert len({row.prev_hash for row in rows}) == total  # no two events share a predecessor
    for worker, (sequences, _) in outcomes.items():
        mine = [e for e in events if e.payload["worker"] == worker]
        assert [e.sequence for e in mine] == sequences  # each worker's own order is kept
        assert [e.payload["i"] for e in mine] == list(range(APPENDS))


# -- 2. every single-row tamper -----------------------------------------------------------------


def forged_event(k: int, prev_hash: str) -> StoredEvent:
    return make_event(
        sequence=k,
        prev_hash=prev_hash,
        moment=datetime(2030, 1, 1, tzinfo=UTC),
        actor="mallory",
        event_type="test.event",
        subject=None,
        payload={"forged": True},
    )


def tamper(rows: list[StoredEvent], kind: str, k: int) -> list[StoredEvent]:
    """``rows`` with event ``k`` tampered in one way (in memory)."""
    i = k - 1
    if kind == "edit":
        return [*rows[:i], rows[i]._replace(payload=canonical_json({"forged": k})), *rows[k:]]
    if kind == "delete":
        return rows[:i] + rows[k:]
    if kind == "swap":  # exchange the sequence numbers of events k and k+1
        return [
            *rows[:i],
            rows[k]._replace(sequence=k),
            rows[i]._replace(sequence=k + 1),
            *rows[k + 1 :],
        ]
    # insert: a forged, self-consistent event at k (linked to k-1); later events renumbered
    prev = GENESIS_HASH if k == 1 else rows[i - 1].hash
    shifted = [row._replace(sequence=row.sequence + 1) for row in rows[i:]]
    return [*rows[:i], forged_event(k, prev), *shifted]


def verify_list(rows: list[StoredEvent], head: tuple[int, str]):
    located: dict[str, int] = {}

    def locate(hash_: str) -> int | None:
        if not located:
            located.update((row.hash, row.sequence) for row in rows)
        return located.get(hash_)

    return verify_events(rows, head=head, locate=locate)


def test_every_single_row_tamper_of_1000_events_is_found_at_its_sequence():
    rows = build_chain(LOG_SIZE)
    head = (LOG_SIZE, rows[-1].hash)
    assert verify_list(rows, head).ok
    missed, checked = [], 0
    for k in range(1, LOG_SIZE + 1):
        for kind in KINDS:
            if kind == "swap" and k == LOG_SIZE:
                continue  # no event k+1 to swap with
            report = verify_list(tamper(rows, kind, k), head)
            checked += 1
            if report.ok or report.first_bad_sequence != k:
                missed.append((kind, k, report.first_bad_sequence, report.problem))
    assert checked == 4 * LOG_SIZE - 1
    assert missed == []  # 100 %


SHIFT = 10**6


def tamper_database(db_url: str, rows: list[StoredEvent], kind: str, k: int) -> None:
    """The same tampers, with SQL behind the store's back."""
    if kind == "edit":
        execute(
            db_url,
            (
                "UPDATE govkit_audit_events SET payload = :p WHERE sequence = :k",
                {"p": canonical_json({"forged": k}), "k": k},
            ),
        )
    elif kind == "delete":
        execute(db_url, ("DELETE FROM govkit_audit_events WHERE sequence = :k", {"k": k}))
    elif kind == "swap":
        move = "UPDATE govkit_audit_events SET sequence = :new WHERE sequence = :old"
        execute(
            db_url,
            (move, {"old": k, "new": SHIFT}),
            (move, {"old": k + 1, "new": k}),
            (move, {"old": SHIFT, "new": k + 1}),
        )
    else:  # insert: the unique prev_hash forbids a second successor of k-1, so link elsewhere
        forged = forged_event(k, secrets.token_hex(32))
        columns = ", ".join(forged._fields)
        execute(
            db_url,
            (
                "UPDATE govkit_audit_events SET sequence = sequence + :d WHERE sequence >= :k",
                {"d": SHIFT, "k": k},
            ),
            (
                "UPDATE govkit_audit_events SET sequence = sequence - :d WHERE sequence >= :d",
                {"d": SHIFT - 1},
            ),
            (
                f"INSERT INTO govkit_audit_events ({columns}) "
                f"VALUES ({', '.join(':' + c for c in forged._fields)})",
                forged._asdict(),
            ),
            ("UPDATE govkit_audit_head SET sequence = :s", {"s": LOG_SIZE + 1}),
        )


def test_sampled_tampers_are_found_in_the_database(db_url):
    with Store.open(db_url) as store:
        fill(store, LOG_SIZE)
    rows = read_rows(db_url)
    head = (LOG_SIZE, rows[-1].hash)
    positions = [1, 2, 500, LOG_SIZE - 1, LOG_SIZE, *random.Random(5).sample(range(3, 998), 3)]
    missed = []
    for k in positions:
        for kind in KINDS:
            if kind == "swap" and k == LOG_SIZE:
                continue
            tamper_database(db_url, rows, kind, k)
            with Store.open(db_url, read_only=True) as store:
                report = store.verify_chain()
            if report.ok or report.first_bad_sequence != k:
                missed.append((kind, k, report.first_bad_sequence, report.problem))
            replace_log(db_url, rows, head=head)
    assert missed == []
    with Store.open(db_url, read_only=True) as store:
        assert store.verify_chain().ok


# -- 3. kill -9 -----------------------------------------------------------------------------------

TRIALS = 100
T0 = datetime(2025, 1, 2, tzinfo=UTC)


def make_result(i: int) -> EvaluationResult:
    checks = tuple(
        CheckResult(
            rule_id=f"rule-{n}",
            check_id="performance.accuracy",
            kind="performance",
            severity="error",
            status=Status.PASS,
            value=0.9,
        )
        for n in range(4)
    )
    return EvaluationResult(
        policy_name="p",
        policy_digest="sha256:" + "d" * 64,
        model=ModelRef(name="credit", version=1),
        n_rows=100,
        started_at=T0 + timedelta(seconds=i),
        finished_at=T0 + timedelta(seconds=i + 1),
        govkit_version="0.1.0",
        checks=checks,
    )


def kill_me_writer(url: str, ready, first: int) -> None:
    """Write runs, single events and batches in a loop until killed (ready after one write)."""
    with Store.open(url) as store:
        i = first
        while True:
            if i == first + 1:
                ready.set()
            step = i % 3
            if step == 0:
                store.record_run(make_result(i), actor="writer")
            elif step == 1:
                store.record_event("test.kill", {"i": i}, actor="writer", subject=None)
            else:
                store.record_events(
                    [("test.kill.batch", {"i": i, "k": k}) for k in range(5)], actor="writer"
                )
            i += 1


def check_after_kill(path, url: str, trial: int) -> None:
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        runs = con.execute("SELECT id, audit_sequence, result FROM govkit_runs").fetchall()
        events = {
            seq: json.loads(payload)
            for seq, payload in con.execute(
                "SELECT sequence, payload FROM govkit_audit_events WHERE event_type = 'policy.run'"
            )
        }
        checks = dict(
            con.execute("SELECT run_id, count(*) FROM govkit_check_results GROUP BY run_id")
        )
    finally:
        con.close()
    for run_id, sequence, result in runs:  # every run whole: its event and every check row
        assert events.get(sequence, {}).get("run_id") == run_id
        assert checks.get(run_id, 0) == len(json.loads(result)["checks"]) == 4
    assert {e["run_id"] for e in events.values()} == {r[0] for r in runs}  # no orphan events
    with Store.open(url) as store:
        report = store.verify_chain()
        assert report.ok, f"trial {trial}: {report.problem}"
        store.record_event("test.after_kill", {"trial": trial}, actor="parent", subject=None)


def test_kill_9_at_random_points(tmp_path):
    path = tmp_path / "govkit.db"
    url = f"sqlite:///{path}"
    Store.open(url).close()
    context = fast_context()
    rng = random.Random(9)
    for trial in range(TRIALS):
        ready = context.Event()
        writer = context.Process(target=kill_me_writer, args=(url, ready, trial % 3))
        writer.start()
        assert ready.wait(HANG_GUARD_S), "the writer never started"
        time.sleep(rng.uniform(0.0, 0.05))
        writer.kill()
        writer.join(HANG_GUARD_S)
        assert writer.exitcode == -signal.SIGKILL
        check_after_kill(path, url, trial)
    with Store.open(url, read_only=True) as store:
        events = store.audit_events()
    assert sum(e.event_type == "test.after_kill" for e in events) == TRIALS
    assert sum(e.event_type == "policy.run" for e in events) >= TRIALS // 3  # it did write
