"""The audit log's hash chain: the pinned encoding, verification, and tamper detection."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from hypothesis import given, settings
from hypothesis import strategies as st

from govkit.exceptions import StoreError
from govkit.store import Store
from govkit.store._chain import (
    GENESIS_HASH,
    StoredEvent,
    canonical_json,
    make_event,
)
from govkit.store._verify import verify_events

T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
EVENTS = 6


# -- the encoding, format version 1 -----------------------------------------------------


def test_encoding_v1_is_pinned():
    """The documented formula, computed here by hand, and its value pinned: it must not drift."""
    payload = {"version": 1, "name": "adult", "note": "é ü"}
    event = make_event(
        sequence=1,
        prev_hash=GENESIS_HASH,
        moment=T0,
        actor="alice",
        event_type="dataset.registered",
        subject="dataset:adult@1",
        payload=payload,
    )
    text = '{"name":"adult","note":"é ü","version":1}'
    digest = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    canonical = (
        '{"actor":"alice","payload_digest":"' + digest + '","seq":1,'
        '"subject":"dataset:adult@1","ts":"2025-01-02T03:04:05.678901+00:00",'
        '"type":"dataset.registered","v":1}'
    ).encode()
    assert event.payload == text
    assert event.payload_digest == digest
    assert event.ts == "2025-01-02T03:04:05.678901+00:00"
    assert event.hash == hashlib.sha256(bytes(32) + canonical).hexdigest()
    assert event.hash == "0a97e632a6007a869f2d5b4ebf4aead949b087fd2afb015459271ec5631232fd"

    second = make_event(
        sequence=2,
        prev_hash=event.hash,
        moment=datetime(2025, 1, 2, 3, 4, 6, tzinfo=UTC),
        actor=None,
        event_type="policy.run",
        subject=None,
        payload={},
    )
    assert second.ts == "2025-01-02T03:04:06.000000+00:00"  # microseconds always written
    assert second.hash == "0c23eda3612c4c52f8a806cc7464739be47d4443246ae429c53a0436ee1ca20b"


@pytest.mark.parametrize(
    "payload", [{"x": float("nan")}, {"x": object()}, {1: "non-string key"}, ["not", "a dict"]]
)
def test_payload_must_be_json(payload):
    with pytest.raises(StoreError, match="payload"):
        make_event(
            sequence=1,
            prev_hash=GENESIS_HASH,
            moment=T0,
            actor=None,
            event_type="x",
            subject=None,
            payload=payload,
        )


# -- pure verification, property-tested ---------------------------------------------------


def build_chain(n: int) -> list[StoredEvent]:
    events, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        event = make_event(
            sequence=seq,
            prev_hash=prev,
            moment=T0 + timedelta(seconds=seq),
            actor=f"user{seq % 3}",
            event_type="test.event",
            subject=f"item:{seq}",
            payload={"seq": seq, "values": [seq, seq * 0.5, None]},
        )
        events.append(event)
        prev = event.hash
    return events


def verify(rows: list[StoredEvent], head: tuple[int, str] | None):
    by_hash = {row.hash: row.sequence for row in rows}
    return verify_events(iter(rows), head=head, locate=by_hash.get)


def test_intact_chains_verify():
    assert verify([], (0, GENESIS_HASH)).ok
    rows = build_chain(30)
    report = verify(rows, (30, rows[-1].hash))
    assert report == type(report)(ok=True, events=30, head_sequence=30, head_hash=rows[-1].hash)


TAMPERS = ["payload", "actor", "ts", "subject", "hash", "prev_hash", "delete", "swap", "insert"]


def tamper(rows: list[StoredEvent], kind: str, k: int) -> list[StoredEvent]:
    """Change event ``k`` (1-based) of ``rows`` in one way; returns the tampered list."""
    rows = list(rows)
    i = k - 1
    row = rows[i]
    if kind == "payload":
        rows[i] = row._replace(payload=canonical_json({"seq": k, "forged": True}))
    elif kind == "actor":
        rows[i] = row._replace(actor="mallory")
    elif kind == "ts":
        rows[i] = row._replace(ts="2030-01-01T00:00:00.000000+00:00")
    elif kind == "subject":
        rows[i] = row._replace(subject=None)
    elif kind == "hash":
        rows[i] = row._replace(hash=secrets.token_hex(32))
    elif kind == "prev_hash":
        rows[i] = row._replace(prev_hash=secrets.token_hex(32))
    elif kind == "delete":
        del rows[i]
    elif kind == "swap":  # exchange the sequence numbers of events k and k+1
        following = rows[i + 1]
        rows[i] = following._replace(sequence=k)
        rows[i + 1] = row._replace(sequence=k + 1)
    elif kind == "insert":  # a forged, self-consistent event at k; later events renumbered
        forged = make_event(
            sequence=k,
            prev_hash=secrets.token_hex(32),
            moment=T0,
            actor="mallory",
            event_type="test.event",
            subject=None,
            payload={"forged": True},
        )
        rows = rows[:i] + [forged] + [r._replace(sequence=r.sequence + 1) for r in rows[i:]]
    return rows


@settings(max_examples=300, deadline=None)
@given(n=st.integers(2, 12), kind=st.sampled_from(TAMPERS), data=st.data())
def test_any_single_tamper_is_detected_at_its_event(n, kind, data):
    rows = build_chain(n)
    last = n - 1 if kind == "swap" else n
    k = data.draw(st.integers(1, last), label="k")
    report = verify(tamper(rows, kind, k), (n, rows[-1].hash))  # the head marker as left
    assert not report.ok
    assert report.first_bad_sequence == k, report.problem


# -- through the database -----------------------------------------------------------------


def execute(db_url: str, *statements: tuple[str, dict]) -> None:
    """Run raw SQL behind the store's back, as someone tampering with the database would."""
    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.begin() as conn:
            for sql, params in statements:
                conn.execute(sqlalchemy.text(sql), params)
    finally:
        engine.dispose()


def fetch(db_url: str, sql: str, params: dict | None = None) -> list:
    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sqlalchemy.text(sql), params or {}))
    finally:
        engine.dispose()


@pytest.fixture
def logged(db_url: str) -> Iterator[str]:
    """A database whose audit log holds EVENTS events; yields its URL."""
    with Store.open(db_url) as store:
        for i in range(1, EVENTS + 1):
            store.record_event(
                "test.event", {"i": i, "text": "ünïcode"}, actor="alice", subject=f"s{i}"
            )
        assert store.verify_chain().ok
    yield db_url


def verify_db(db_url: str):
    with Store.open(db_url) as store:
        return store.verify_chain()


def test_chain_verifies_after_many_appends(db_url):
    with Store.open(db_url) as store:
        events = [
            store.record_event("test.event", {"i": i}, actor=None if i % 2 else "ci", subject=None)
            for i in range(150)
        ]
        report = store.verify_chain()
        assert report.ok and report.problem is None and report.first_bad_sequence is None
        assert report.events == 150 and report.head_sequence == 150
        assert report.head_hash == events[-1].hash
        assert store.audit_events() == events
        assert store.audit_events(after=140, limit=5) == events[140:145]
        assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
        assert events[0].prev_hash == GENESIS_HASH


def test_empty_log_verifies(db_url):
    with Store.open(db_url) as store:
        assert store.verify_chain() == type(store.verify_chain())(
            ok=True, events=0, head_sequence=0, head_hash=GENESIS_HASH
        )


def test_edited_payload_is_detected(logged):
    forged = json.dumps({"i": 3, "text": "forged"}, separators=(",", ":"))
    execute(
        logged, ("UPDATE govkit_audit_events SET payload = :p WHERE sequence = 3", {"p": forged})
    )
    report = verify_db(logged)
    assert not report.ok and report.first_bad_sequence == 3
    assert "payload of event 3 was changed" in report.problem
    assert report.events == EVENTS


def test_edited_field_is_detected(logged):
    execute(logged, ("UPDATE govkit_audit_events SET actor = 'mallory' WHERE sequence = 4", {}))
    report = verify_db(logged)
    assert (report.ok, report.first_bad_sequence) == (False, 4)
    assert "event 4 was edited" in report.problem


def test_deleted_row_is_detected(logged):
    execute(logged, ("DELETE FROM govkit_audit_events WHERE sequence = 3", {}))
    report = verify_db(logged)
    assert (report.ok, report.first_bad_sequence, report.events) == (False, 3, EVENTS - 1)
    assert "event 3 is missing" in report.problem


def test_deleted_last_row_is_detected_by_the_head_marker(logged):
    execute(logged, ("DELETE FROM govkit_audit_events WHERE sequence = :s", {"s": EVENTS}))
    report = verify_db(logged)
    assert (report.ok, report.first_bad_sequence) == (False, EVENTS)
    assert "missing from the end of the log" in report.problem
    with Store.open(logged) as store, pytest.raises(StoreError, match="refusing to append"):
        store.record_event("test.event", {}, actor=None, subject=None)


def test_swapped_rows_are_detected(logged):
    update = "UPDATE govkit_audit_events SET sequence = :new WHERE sequence = :old"
    execute(
        logged,
        (update, {"old": 3, "new": 1000}),
        (update, {"old": 4, "new": 3}),
        (update, {"old": 1000, "new": 4}),
    )
    report = verify_db(logged)
    assert (report.ok, report.first_bad_sequence) == (False, 3)
    assert "out of order" in report.problem


def test_forged_inserted_row_is_detected(logged):
    """A self-consistent forged event at 3, later events renumbered and the head moved."""
    update = "UPDATE govkit_audit_events SET sequence = :new WHERE sequence = :old"
    shifts = [(update, {"old": s, "new": s + 1}) for s in range(EVENTS, 2, -1)]
    forged = make_event(
        sequence=3,
        prev_hash=secrets.token_hex(32),  # prev_hash is unique: the true one is taken
        moment=T0,
        actor="mallory",
        event_type="test.event",
        subject="s3",
        payload={"i": 3},
    )
    insert = (
        "INSERT INTO govkit_audit_events (sequence, format, ts, actor, event_type, subject, "
        "payload, payload_digest, prev_hash, hash) VALUES (:sequence, :format, :ts, :actor, "
        ":event_type, :subject, :payload, :payload_digest, :prev_hash, :hash)"
    )
    head = "UPDATE govkit_audit_head SET sequence = :s WHERE id = 1"
    execute(logged, *shifts, (insert, forged._asdict()), (head, {"s": EVENTS + 1}))
    report = verify_db(logged)
    assert (report.ok, report.first_bad_sequence, report.events) == (False, 3, EVENTS + 1)
    assert "event 3 does not link to the hash of event 2" in report.problem


def test_forged_appended_row_is_detected_by_the_head_marker(logged):
    (last,) = fetch(
        logged, "SELECT hash FROM govkit_audit_events WHERE sequence = :s", {"s": EVENTS}
    )
    forged = make_event(
        sequence=EVENTS + 1,
        prev_hash=last.hash,
        moment=T0,
        actor="mallory",
        event_type="test.event",
        subject=None,
        payload={},
    )
    columns = ", ".join(forged._fields)
    values = ", ".join(f":{name}" for name in forged._fields)
    execute(
        logged,
        (
            f"INSERT INTO govkit_audit_events ({columns}) VALUES ({values})",
            forged._asdict(),
        ),
    )
    report = verify_db(logged)
    assert (report.ok, report.first_bad_sequence) == (False, EVENTS + 1)
    assert "not appended by govkit" in report.problem


def test_database_refuses_a_fork(logged):
    """A second event claiming the same predecessor breaks the unique prev_hash constraint."""
    (third,) = fetch(logged, "SELECT * FROM govkit_audit_events WHERE sequence = 3")
    fork = {**third._asdict(), "sequence": 100, "hash": secrets.token_hex(32)}
    columns = ", ".join(fork)
    values = ", ".join(f":{name}" for name in fork)
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        execute(logged, (f"INSERT INTO govkit_audit_events ({columns}) VALUES ({values})", fork))
    assert verify_db(logged).ok


# -- the fast paths compute exactly the reference encoding ---------------------------------

any_text = st.text(st.characters(codec="utf-8"), max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(1, 2**62),
    actor=st.none() | any_text,
    subject=st.none() | any_text,
    event_type=any_text,
)
def test_fast_canonical_bytes_equal_the_reference(seq, actor, subject, event_type):
    from govkit.store._chain import _canonical_fast, canonical_event, format_timestamp

    ts = format_timestamp(T0)
    digest = "sha256:" + "ab" * 32
    assert _canonical_fast(seq, ts, actor, event_type, subject, digest) == canonical_event(
        sequence=seq, ts=ts, actor=actor, event_type=event_type, subject=subject,
        payload_digest=digest,
    )  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(
    fields=st.lists(
        st.tuples(st.none() | any_text, st.none() | any_text, any_text), min_size=1, max_size=8
    ),
    data=st.data(),
)
def test_chains_with_any_text_verify_and_tamper_is_found(fields, data):
    rows, prev = [], GENESIS_HASH
    for seq, (actor, subject, event_type) in enumerate(fields, start=1):
        event = make_event(
            sequence=seq, prev_hash=prev, moment=T0, actor=actor, event_type=event_type,
            subject=subject, payload={"actor": actor, "t": event_type},
        )  # fmt: skip
        rows.append(event)
        prev = event.hash
    assert verify(rows, (len(rows), prev)).ok
    k = data.draw(st.integers(1, len(rows)), label="k")
    kind = data.draw(st.sampled_from(["payload", "actor", "ts", "subject", "hash"]), label="kind")
    report = verify(tamper(rows, kind, k), (len(rows), prev))
    changed = tamper(rows, kind, k)[k - 1] != rows[k - 1]
    assert report.ok is not changed
    if changed:
        assert report.first_bad_sequence == k


def test_timestamps_needing_escapes_take_the_careful_path():
    """A row whose ts JSON must escape is verified by the reference encoding, not the fast one."""
    from govkit.store._chain import canonical_event, chain_hash

    odd = 'a"b\\c'
    digest = "sha256:" + hashlib.sha256(b"{}").hexdigest()
    canonical = canonical_event(
        sequence=1, ts=odd, actor=None, event_type="x", subject=None, payload_digest=digest
    )
    row = StoredEvent(1, 1, odd, None, "x", None, "{}", digest, GENESIS_HASH, "")
    row = row._replace(hash=chain_hash(GENESIS_HASH, canonical))
    assert verify([row], (1, row.hash)).ok
