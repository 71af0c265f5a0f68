"""The audit log's fast paths agree exactly with the reference encoding and verifier.

- the cached canonical JSON encoder writes ``json.dumps``'s bytes;
- appending in two steps (payload encoded before the lock, linked under it) stores
  exactly what ``make_event`` builds;
- the chunked fast verifier reports what the event-by-event reference verifier
  reports, for any single tampered value of any type at any position (chunk
  edges included), also when the forger re-hashes the chain with a naive encoding;
- the append path's reused driver connections: reused, replaced when the server
  dropped them, closed with the store, never shared with a forked child or
  between threads at once;
- a new SQLite file is switched to WAL even while another connection writes to it
  (SQLite then answers "database is locked" at once, without its busy timeout).
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import sqlite3
import threading
from datetime import datetime, timedelta
from json.encoder import encode_basestring
from typing import Any
from unittest import mock

import pytest
import sqlalchemy
from audit_helpers import T0, execute
from hypothesis import given, settings
from hypothesis import strategies as st

from govkit.exceptions import StoreError
from govkit.store import Store, _verify
from govkit.store._chain import (
    GENESIS_HASH,
    StoredEvent,
    canonical_event,
    chain_hash,
    encode_payload,
    format_timestamp,
    link_event,
    make_event,
)
from govkit.store._engine import _sqlite_use_wal
from govkit.store._log import _FETCH

# -- encoding -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8")),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), json_values)
any_text = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=100, deadline=None)
@given(payload=payloads)
def test_canonical_payload_text_is_json_dumps(payload):
    text, digest = encode_payload(payload)
    reference = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    assert text == reference
    assert digest == "sha256:" + hashlib.sha256(reference.encode("utf-8")).hexdigest()


@settings(max_examples=50, deadline=None)
@given(
    payload=payloads,
    seq=st.integers(1, 2**62),
    actor=st.none() | any_text,
    subject=st.none() | any_text,
    event_type=any_text,
    moment=st.datetimes(timezones=st.timezones()),
)
def test_two_step_append_stores_what_make_event_builds(
    payload, seq, actor, subject, event_type, moment
):
    prev = hashlib.sha256(str(seq).encode()).hexdigest()
    expected = make_event(
        sequence=seq, prev_hash=prev, moment=moment, actor=actor, event_type=event_type,
        subject=subject, payload=payload,
    )  # fmt: skip
    text, digest = encode_payload(payload)
    ts = format_timestamp(moment)
    assert link_event(seq, prev, ts, actor, event_type, subject, text, digest) == expected
    canonical = canonical_event(
        sequence=seq, ts=ts, actor=actor, event_type=event_type, subject=subject,
        payload_digest=digest,
    )  # fmt: skip
    assert expected.hash == chain_hash(prev, canonical)


def test_a_circular_payload_is_refused_not_walked_for_ever():
    payload: dict[str, Any] = {"rules": []}
    payload["rules"].append(payload)
    with pytest.raises(StoreError, match="Circular reference detected"):
        encode_payload(payload)


def test_a_non_string_key_is_refused_without_its_value_in_the_message():
    with pytest.raises(StoreError, match="keys must be str, not int") as caught:
        encode_payload({"scores": {918273645: 0.7}})  # say, a customer number
    assert "918273645" not in str(caught.value)


# -- the fast verifier against the reference ------------------------------------------------

LENGTH = 600  # more than two chunks of the fast verifier
CHUNK_EDGES = [
    1,
    _verify._CHUNK - 1,
    _verify._CHUNK,
    _verify._CHUNK + 1,
    2 * _verify._CHUNK,
    LENGTH,
]
TRICKY = [
    None,
    "",
    "ci",
    'quote"d',
    "back\\slash",
    "new\nline",
    "\x00\x1f\x7f",
    "é ü ∑ 🎉",
    "\u2028",
]


@functools.cache
def base_chain() -> tuple[StoredEvent, ...]:
    rows, prev = [], GENESIS_HASH
    for seq in range(1, LENGTH + 1):
        event = make_event(
            sequence=seq,
            prev_hash=prev,
            moment=T0 + timedelta(microseconds=seq),
            actor=TRICKY[seq % len(TRICKY)],
            event_type=TRICKY[(seq + 1) % len(TRICKY)] or "x",
            subject=TRICKY[(seq + 2) % len(TRICKY)],
            payload={"seq": seq, "text": TRICKY[seq % len(TRICKY)], "n": [seq / 7, -seq]},
        )
        rows.append(event)
        prev = event.hash
    return tuple(rows)


def _naive_canonical(row: StoredEvent) -> bytes:
    """What a sloppy fast path might hash: str() of anything, the timestamp unescaped."""

    def quote(value: Any) -> str:
        return "null" if value is None else encode_basestring(str(value))

    text = (
        f'{{"actor":{quote(row.actor)},"payload_digest":"{row.payload_digest}",'
        f'"seq":{row.sequence},"subject":{quote(row.subject)},"ts":"{row.ts}",'
        f'"type":{quote(row.event_type)},"v":1}}'
    )
    return text.encode("utf-8", "surrogatepass")


def _rehashed(rows: list[StoredEvent], k: int) -> list[StoredEvent]:
    """A forger's chain: event ``k`` hashed naively, every later event re-linked."""
    out = rows[: k - 1]
    prev = rows[k - 2].hash if k > 1 else GENESIS_HASH
    for row in rows[k - 1 :]:
        if row.sequence == k:
            canonical = _naive_canonical(row)
        else:
            canonical = canonical_event(
                sequence=row.sequence, ts=row.ts, actor=row.actor, event_type=row.event_type,
                subject=row.subject, payload_digest=row.payload_digest,
            )  # fmt: skip
        row = row._replace(
            prev_hash=prev, hash=hashlib.sha256(bytes.fromhex(prev) + canonical).hexdigest()
        )
        out.append(row)
        prev = row.hash
    return out


def _replacements(row: StoredEvent) -> dict[str, list[Any]]:
    seq, hash_ = row.sequence, row.hash
    return {
        "sequence": [seq + 1, seq - 1, True, float(seq), str(seq), None],
        "format": [2, 1.0, True, "1", None],
        "ts": [row.ts.replace(":", '"', 1), row.ts + "\\", row.ts + "\n", row.ts + "é",
               row.ts + "\ud800", "", 5, None],
        "actor": TRICKY + ["\ud800", 1, b"x", ["x"]],
        "event_type": TRICKY + [2.5, False],
        "subject": TRICKY + [0, {"a": 1}],
        "payload": [row.payload + " ", "{", "", "\ud800", b"{}", None],
        "payload_digest": [row.payload_digest.upper(), row.payload_digest[:-1],
                           row.payload_digest + " ", None, 7],
        "prev_hash": [row.prev_hash.upper(), row.prev_hash[:-1], " " + row.prev_hash[1:],
                      None, 0],
        "hash": [hash_.upper(), hash_[:-1], hash_ + "0", None, 1],
    }  # fmt: skip


def _verify_both(rows: list[StoredEvent], head: tuple[int, str] | None):
    located = {row.hash: row.sequence for row in rows if isinstance(row.hash, str)}
    fast = _verify.verify_events(rows, head=head, locate=located.get)
    with (
        mock.patch.object(_verify, "_chunk_intact", lambda *a: False),
        mock.patch.object(_verify, "_first_unverified", lambda *a: 0),
    ):
        reference = _verify.verify_events(rows, head=head, locate=located.get)
    return fast, reference


def test_the_untouched_chain_verifies_on_the_fast_path():
    rows = list(base_chain())
    with mock.patch.object(_verify, "_careful_chunk", side_effect=AssertionError("careful")):
        report = _verify.verify_events(rows, head=(LENGTH, rows[-1].hash), locate=dict().get)
    assert report.ok and report.events == LENGTH


@settings(max_examples=250, deadline=None)
@given(
    k=st.sampled_from(CHUNK_EDGES) | st.integers(1, LENGTH),
    column=st.sampled_from(StoredEvent._fields),
    rehash=st.booleans(),
    data=st.data(),
)
def test_fast_verifier_reports_what_the_reference_reports(k, column, rehash, data):
    rows = list(base_chain())
    value = data.draw(st.sampled_from(_replacements(rows[k - 1])[column]), label="value")
    rows[k - 1] = rows[k - 1]._replace(**{column: value})
    if rehash and column not in ("sequence", "prev_hash", "hash"):
        rows = _rehashed(rows, k)
    head = (LENGTH, rows[-1].hash)
    fast, reference = _verify_both(rows, head)
    assert fast == reference
    if rows[k - 1] != base_chain()[k - 1] and not rehash:
        assert not fast.ok


@pytest.mark.parametrize("k", CHUNK_EDGES)
def test_a_naively_hashed_boolean_sequence_is_rejected(k):
    """``seq`` True equals 1 but JSON writes ``true``: hashed as "True" it must not pass."""
    rows = list(base_chain()[:k])
    rows[k - 1] = rows[k - 1]._replace(sequence=True if k == 1 else float(k))
    rows = _rehashed(rows, k)
    fast, reference = _verify_both(rows, (k, rows[-1].hash))
    assert fast == reference
    assert fast.ok is (k != 1)  # JSON writes float(k) as the f-string does; True is not "True"
    if k == 1:
        assert (fast.first_bad_sequence, fast.fault) == (1, "edited")


def test_a_timestamp_hashed_without_escapes_is_rejected():
    rows = list(base_chain()[:300])
    rows[279] = rows[279]._replace(ts=rows[279].ts.replace("T", '"'))
    rows = _rehashed(rows, 280)
    fast, reference = _verify_both(rows, (300, rows[-1].hash))
    assert fast == reference
    assert (fast.ok, fast.first_bad_sequence, fast.fault) == (False, 280, "edited")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("actor", b"bytes", "a field holds a value the audit format cannot encode"),
        (
            "subject",
            "lone \ud800 surrogate",
            "a field holds a value the audit format cannot encode",
        ),
        ("sequence", "seven", "event 7 has an invalid sequence number"),
        ("prev_hash", None, "its prev_hash is not 64 hex digits"),
    ],
)
def test_values_of_the_wrong_type_are_reported_not_raised(column, value, message):
    rows = list(base_chain()[:10])
    rows[6] = rows[6]._replace(**{column: value})
    fast, reference = _verify_both(rows, (10, rows[-1].hash))
    assert fast == reference
    assert (fast.ok, fast.first_bad_sequence) == (False, 7)
    assert message in fast.problem


# -- through the databases: streaming, timestamps -------------------------------------------


def test_verification_streams_across_fetch_batches(db_url):
    n = _FETCH + 300
    with Store.open(db_url) as store:
        store.record_events([("test.event", {"i": i}, None) for i in range(n)], actor="ci")
        report = store.verify_chain()
        assert (report.ok, report.events, report.head_sequence) == (True, n, n)
    k = _FETCH + 1
    execute(db_url, ("UPDATE govkit_audit_events SET payload = :p WHERE sequence = :k",
                     {"p": '{"i":-1}', "k": k}))  # fmt: skip
    with Store.open(db_url, read_only=True) as store:
        report = store.verify_chain()
    assert (report.ok, report.first_bad_sequence, report.fault) == (False, k, "payload-changed")
    assert report.events == n


def test_record_event_returns_the_event_as_stored(db_url):
    payload = {"b": (1, 2), "a": "ü"}
    with Store.open(db_url) as store:
        event = store.record_event("test.event", payload, actor="ci", subject="item:1")
        (stored,) = store.audit_events()
    assert event == stored
    assert event.timestamp == datetime.fromisoformat(format_timestamp(event.timestamp))
    assert event.payload == {"a": "ü", "b": [1, 2]}  # as the log holds it: a list, sorted keys


# -- the append path's driver connections ---------------------------------------------------


def _connections_made(store: Store) -> list[Any]:
    made: list[Any] = []
    store._engine.dispose()  # from here on every connection is a new one
    sqlalchemy.event.listen(store._engine, "connect", lambda dbapi, _rec: made.append(dbapi))
    return made


def _is_closed(dbapi: Any) -> bool:
    if isinstance(dbapi, sqlite3.Connection):
        try:
            dbapi.execute("SELECT 1")
        except sqlite3.ProgrammingError:
            return True
        return False
    return bool(dbapi.closed)


def test_appends_reuse_one_connection_and_close_it_with_the_store(db_url):
    store = Store.open(db_url)
    made = _connections_made(store)
    for i in range(5):
        store.record_event("test.event", {"i": i}, actor=None, subject=None)
    store.record_events([("test.event", {"i": 5}), ("test.event", {"i": 6})], actor=None)
    assert len(made) == 1
    assert not _is_closed(made[0])
    store.close()
    assert _is_closed(made[0])
    with Store.open(db_url, read_only=True) as reader:
        assert reader.verify_chain().events == 7


def test_threads_append_on_their_own_connections(db_url):
    threads, appends = 4, 25  # no more threads than idle connections kept (4)
    sequences: list[int] = []
    errors: list[BaseException] = []
    with Store.open(db_url) as store:
        made = _connections_made(store)
        start = threading.Barrier(threads)

        def work(worker: int) -> None:
            try:
                start.wait(60)
                for i in range(appends):
                    event = store.record_event(
                        "t.e", {"w": worker, "i": i}, actor=None, subject=None
                    )
                    sequences.append(event.sequence)
            except BaseException as exc:  # reported below
                errors.append(exc)

        running = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join(120)
        connections = len(made)
        report = store.verify_chain()
    assert errors == []
    assert sorted(sequences) == list(range(1, threads * appends + 1))
    assert report.ok and report.events == threads * appends
    assert 1 <= connections <= threads  # reused; never more than one per concurrent caller


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite has no server to drop it
def test_a_dropped_connection_is_replaced_and_a_refusing_server_is_a_store_error(db_url):
    with Store.open(db_url) as store:
        store.record_event("test.event", {"i": 0}, actor=None, subject=None)
        others = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        execute(db_url, (others, {}))  # as a server restart would
        event = store.record_event("test.event", {"i": 1}, actor=None, subject=None)
        assert event.sequence == 2
        assert store.verify_chain().ok
        # The server refuses new connections: a clear StoreError, not a driver traceback.
        database = sqlalchemy.engine.make_url(db_url).database
        admin = sqlalchemy.engine.make_url(db_url).set(database="postgres")
        admin_url = admin.render_as_string(hide_password=False)
        execute(
            admin_url,
            (f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false', {}),
            ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d",
             {"d": database}),
        )  # fmt: skip
        try:
            with pytest.raises(StoreError, match="could not record a 'test.event' audit event"):
                store.record_event("test.event", {"i": 2}, actor=None, subject=None)
        finally:
            execute(admin_url, (f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true', {}))
        assert store.record_event("test.event", {"i": 3}, actor=None, subject=None).sequence == 3


def _append_in_child(store: Store, made: list[Any], out: Any) -> None:
    before = len(made)
    for i in range(3):
        store.record_event("test.child", {"i": i}, actor=None, subject=None)
    out.put(len(made) - before)


def test_a_forked_child_never_uses_the_parents_connection(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'govkit.db'}") as store:
        made = _connections_made(store)
        store.record_event("test.parent", {"i": 0}, actor=None, subject=None)
        context = multiprocessing.get_context("fork")
        out = context.Queue()
        child = context.Process(target=_append_in_child, args=(store, made, out))
        child.start()
        assert out.get(timeout=60) == 1  # the child opened its own connection
        child.join(60)
        assert child.exitcode == 0
        store.record_event("test.parent", {"i": 1}, actor=None, subject=None)
        assert len(made) == 1  # the parent still uses its own
        report = store.verify_chain()
    assert report.ok and report.events == 5


# -- switching a new SQLite file to WAL -----------------------------------------------------


def test_wal_switch_waits_for_a_writer_that_makes_sqlite_refuse_at_once(tmp_path):
    path = tmp_path / "new.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    opener = sqlite3.connect(path, isolation_level=None)
    opener.execute("PRAGMA busy_timeout = 30000")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        opener.execute("PRAGMA journal_mode = WAL")  # the refusal the store must ride out
    naps: list[float] = []

    def nap(seconds: float) -> None:  # the writer finishes while the opener waits
        naps.append(seconds)
        writer.execute("COMMIT")

    _sqlite_use_wal(opener.cursor(), sleep=nap)
    assert naps and opener.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert writer.execute("SELECT x FROM t").fetchall() == [(1,)]
    writer.close()
    opener.close()


def test_wal_switch_gives_up_after_the_busy_timeout(tmp_path):
    path = tmp_path / "new.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    opener = sqlite3.connect(path, isolation_level=None)
    naps: list[float] = []
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _sqlite_use_wal(opener.cursor(), timeout_s=0.0, sleep=naps.append)
    assert naps == []
    writer.execute("ROLLBACK")
    writer.close()
    opener.close()


def test_a_database_already_in_wal_is_left_alone(tmp_path):
    path = tmp_path / "wal.db"
    first = sqlite3.connect(path, isolation_level=None)
    first.execute("PRAGMA journal_mode = WAL")
    first.execute("CREATE TABLE t (x)")
    first.execute("BEGIN IMMEDIATE")  # a writer holds the lock: a switch would be refused
    first.execute("INSERT INTO t VALUES (1)")
    statements: list[str] = []
    second = sqlite3.connect(path, isolation_level=None)
    second.set_trace_callback(statements.append)
    _sqlite_use_wal(second.cursor(), timeout_s=0.0, sleep=pytest.fail)
    assert statements == ["PRAGMA journal_mode"]
    first.execute("COMMIT")
    first.close()
    second.close()
