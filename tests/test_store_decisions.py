"""Recorded decisions: encrypted per subject, tenant-scoped, erasable, audited; both databases."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
import multiprocessing
import queue
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy
from audit_helpers import INSERT, build_chain, engine

from govkit.decisions import (
    Counterfactual,
    Decision,
    DecisionExplanation,
    FeatureChange,
    Reason,
)
from govkit.exceptions import ErasedError, InputError, NotFoundError, StoreError
from govkit.records import ModelRef
from govkit.store import Store, commit, new_salt, upgrade_database
from govkit.store._chain import canonical_json
from govkit.store._migrate import HEAD_REVISION, upgrade
from govkit.store._schema import METADATA, SubjectKeyRow

# Distinctive values that must never appear in the database in the clear.
CANARY_NAME = "Zebulon-Quixote-Fennimore"
CANARY_CITY = "Zürich-Wiedikon-8003"
CANARY_INCOME = 987654.321
CANARY_GAIN = 73519
SERVICE_KEY = b"pseudonymisation key kept outside the database"
T0 = datetime(2025, 6, 1, 12, 0, 0, 654321, tzinfo=UTC)


def pseudonym(subject_id: str) -> str:
    """What the service stores a subject as: a keyed HMAC of their id (key not in the database)."""
    return hmac.new(SERVICE_KEY, subject_id.encode(), hashlib.sha256).hexdigest()


def make_decision(
    decision_id: str,
    *,
    tenant: str = "acme",
    income: float = CANARY_INCOME,
    name: str = CANARY_NAME,
    created_at: datetime = T0,
    version: int | None = 3,
) -> Decision:
    """A decision shaped as the explain engine makes them, carrying the canary values."""
    features = {  # deliberately not in sorted order: the order must survive
        "occupation": "Tech-support",
        "income": income,
        "capital_gain": CANARY_GAIN,
        "full_name": name,
        "city": CANARY_CITY,
        "age": 41,
        "homeowner": False,
        "notes": None,
    }
    attributions = {"income": -0.1 - 0.2, "capital_gain": -0.07, "age": 1e-300, "city": -0.0}
    explanation = DecisionExplanation(
        score=0.31337,
        prediction="<=50K",
        outcome="declined",
        favourable=False,
        threshold=0.5,
        base_value=0.68337 - 1e-12,
        output_space="probability",
        attributions=attributions,
        additivity_error=1.2e-16,
        reliable=True,
        method="tree",
        background="sha256:" + "b" * 64,
        reasons=(
            Reason(
                rank=1,
                feature="income",
                label="your reported income",
                value=income,
                display_value=f"${income:,.2f}",
                contribution=-0.3,
                effect="lowered",
                towards_outcome=True,
                text=f"Your reported income (${income:,.2f}) lowered the score the most.",
            ),
            Reason(
                rank=2,
                feature="capital_gain",
                label="your capital gains",
                value=CANARY_GAIN,
                display_value=f"${CANARY_GAIN:,}",
                contribution=-0.07,
                effect="lowered",
                towards_outcome=True,
                text=f"Your capital gains (${CANARY_GAIN:,}) lowered the score.",
            ),
        ),
        counterfactual=Counterfactual(
            found=True,
            changes=(
                FeatureChange(
                    feature="income",
                    label="your reported income",
                    current=income,
                    proposed=income + 5000.5,
                    display_current=f"${income:,.2f}",
                    display_proposed=f"${income + 5000.5:,.2f}",
                ),
            ),
            score=0.52,
            text="An income higher by $5,000.50 would have changed the decision.",
            searched="income within [0, 2e6]; 200 evaluations",
            evaluations=57,
        ),
        locale="en",
    )
    return Decision(
        decision_id=decision_id,
        tenant=tenant,
        model=ModelRef(name="credit-risk", version=version),
        created_at=created_at,
        features=features,
        explanation=explanation,
    )


def personal_content(decision: Decision) -> dict:
    return {
        "features": decision.features,
        "explanation": decision.explanation.model_dump(mode="json"),
    }


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


def rows(db_url: str, sql: str, **params) -> list:
    eng = engine(db_url)
    try:
        with eng.connect() as conn:
            return list(conn.execute(sqlalchemy.text(sql), params))
    finally:
        eng.dispose()


def execute(db_url: str, sql: str, **params) -> None:
    eng = engine(db_url)
    try:
        with eng.begin() as conn:
            conn.execute(sqlalchemy.text(sql), params)
    finally:
        eng.dispose()


def table_dump(db_url: str) -> bytes:
    """Every value of every govkit table, as bytes (text as UTF-8, binary columns as they are)."""
    eng = engine(db_url)
    parts: list[bytes] = []
    try:
        with eng.connect() as conn:
            for table in METADATA.sorted_tables:
                for row in conn.execute(sqlalchemy.select(table)):
                    for value in row:
                        if isinstance(value, bytes | memoryview):
                            parts.append(bytes(value))
                        else:
                            parts.append(str(value).encode("utf-8"))
    finally:
        eng.dispose()
    return b"\x00".join(parts)


def canaries(subject_pseudonym: str) -> list[bytes]:
    return [
        CANARY_NAME.encode(),
        CANARY_CITY.encode(),
        CANARY_CITY.encode("utf-16-le"),
        repr(CANARY_INCOME).encode(),
        f"{CANARY_INCOME:,.2f}".encode(),
        f"{CANARY_GAIN:,}".encode(),  # (digits alone could occur in hex digests by chance)
        subject_pseudonym.encode(),
        b"customer-0042",
    ]


# -- round trip -------------------------------------------------------------------------------


def test_round_trip_and_the_audit_event(store, db_url):
    subject = pseudonym("customer-0042")
    original = make_decision("dec-0001", created_at=T0.astimezone(timezone(timedelta(hours=2))))
    stored = store.record_decision(original, subject_pseudonym=subject, actor="api:key1")
    assert stored.audit_sequence == 1 and stored.has_subject
    assert stored.model_copy(update={"audit_sequence": None, "has_subject": False}) == original

    again = store.get_decision("dec-0001", tenant="acme")
    assert again == stored
    assert again.created_at == T0 and again.created_at.tzinfo is not None
    assert list(again.features) == list(original.features)  # order kept
    assert list(again.explanation.attributions) == list(original.explanation.attributions)
    assert again.explanation.attributions["age"] == 1e-300
    assert again.explanation.attributions["income"] == -0.1 - 0.2  # floats exact
    assert math.copysign(1.0, again.explanation.attributions["city"]) == -1.0  # -0.0 kept
    kinds = {k: type(v) for k, v in again.features.items()}  # JSON types kept: 41 not 41.0
    assert kinds == {k: type(v) for k, v in original.features.items()}
    assert kinds["age"] is int and kinds["homeowner"] is bool and kinds["income"] is float
    assert store.get_decision("dec-0001", tenant=None) == stored  # any tenant (operator)

    anonymous = store.record_decision(
        make_decision("dec-0002"), subject_pseudonym=None, actor="api:key1"
    )
    assert (anonymous.audit_sequence, anonymous.has_subject) == (2, False)
    assert store.get_decision("dec-0002", tenant="acme") == anonymous

    (event, other) = store.audit_events()
    assert (event.event_type, event.actor, event.subject) == (
        "decision.recorded",
        "api:key1",
        "decision:dec-0001",
    )
    key_id = event.payload["key_id"]
    assert other.payload["key_id"] != key_id  # no pseudonym: a key of its own
    assert event.payload == {
        "decision_id": "dec-0001",
        "tenant": "acme",
        "model": "credit-risk",
        "version": 3,
        "method": "tree",
        "reliable": True,
        "key_id": key_id,
        "content": event.payload["content"],
        "ciphertext": event.payload["ciphertext"],
        "encryption": 1,
    }
    # The commitment checks out against the decrypted content while the subject exists ...
    committed = canonical_json({"decision_id": "dec-0001", **personal_content(original)})
    assert event.payload["content"] == store.commit_for(key_id, committed)
    # ... and the chain pins the stored ciphertext.
    ((nonce, ciphertext),) = rows(
        db_url, "SELECT nonce, ciphertext FROM govkit_decisions WHERE decision_id = 'dec-0001'"
    )
    digest = hashlib.sha256(bytes(nonce) + bytes(ciphertext)).hexdigest()
    assert event.payload["ciphertext"] == "sha256:" + digest
    assert store.verify_chain().ok


def test_the_ciphertext_is_aes_256_gcm_under_the_subjects_key(store, db_url):
    """Decrypt the raw row independently with the `cryptography` primitives the docs name."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    decision = make_decision("dec-aes")
    store.record_decision(decision, subject_pseudonym=pseudonym("c-9"), actor=None)
    ((nonce, ciphertext, key_id),) = rows(
        db_url, "SELECT nonce, ciphertext, subject_key_id FROM govkit_decisions"
    )
    ((salt,),) = rows(db_url, "SELECT salt FROM govkit_subject_keys WHERE key_id = :k", k=key_id)
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"govkit/decision-content/aes-256-gcm/v1",
    ).derive(bytes(salt))
    associated = canonical_json(
        {
            "format": 1,
            "decision_id": "dec-aes",
            "tenant": "acme",
            "model": "credit-risk",
            "version": 3,
            "key_id": key_id,
        }
    ).encode()
    assert len(bytes(nonce)) == 12
    plaintext = AESGCM(key).decrypt(bytes(nonce), bytes(ciphertext), associated)
    assert json.loads(plaintext) == personal_content(decision)


def test_a_pseudonym_is_one_subject_per_tenant(store, db_url):
    person = pseudonym("customer-0042")
    for i in range(3):
        store.record_decision(make_decision(f"a-{i}"), subject_pseudonym=person, actor=None)
    store.record_decision(
        make_decision("b-0", tenant="globex"), subject_pseudonym=person, actor=None
    )
    keys = {e.payload["tenant"] + ":" + e.payload["key_id"] for e in store.audit_events()}
    assert len(keys) == 2  # one subject in acme (three decisions), another in globex
    assert rows(db_url, "SELECT COUNT(*) FROM govkit_subjects")[0][0] == 2
    assert rows(db_url, "SELECT COUNT(*) FROM govkit_subject_keys")[0][0] == 2


# -- no personal data in the clear ---------------------------------------------------------


def test_no_personal_data_in_the_database_or_the_log(db_url, tmp_path):
    subject = pseudonym("customer-0042")
    with Store.open(db_url) as store:
        store.record_decision(make_decision("dec-canary"), subject_pseudonym=subject, actor="api")
        store.record_decision(make_decision("dec-anon"), subject_pseudonym=None, actor="api")
        exported = io.StringIO()
        assert store.export_jsonl(exported) == 2
        assert store.get_decision("dec-canary", tenant="acme").features["full_name"] == CANARY_NAME
    log_text = exported.getvalue()
    dump = table_dump(db_url)
    stored: list[tuple[str, bytes]] = [("log", log_text.encode()), ("tables", dump)]
    if db_url.startswith("sqlite"):  # the file's raw bytes too, write-ahead log included
        path = Path(db_url.removeprefix("sqlite:///"))
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                stored.append((file.name, file.read_bytes()))
    for where, data in stored:
        for canary in canaries(subject):
            assert canary not in data, f"{canary!r} found in clear in {where}"
        assert b"dec-canary" in data and b"credit-risk" in data  # the search does see text


# -- tenants ----------------------------------------------------------------------------------


def test_another_tenant_cannot_tell_a_decision_exists(store):
    store.record_decision(make_decision("dec-acme"), subject_pseudonym=None, actor=None)
    with pytest.raises(NotFoundError) as theirs:
        store.get_decision("dec-acme", tenant="globex")
    with pytest.raises(NotFoundError) as nobody:
        store.get_decision("dec-none", tenant="globex")
    assert type(theirs.value) is NotFoundError  # not ErasedError
    assert str(theirs.value) == "no decision 'dec-acme'"
    assert str(nobody.value) == "no decision 'dec-none'"
    with pytest.raises(NotFoundError, match="no decision '../etc/passwd'"):
        store.get_decision("../etc/passwd", tenant="acme")  # cannot exist: not found
    with pytest.raises(InputError, match="tenant must be 1-64 characters.*got 'a b'"):
        store.get_decision("dec-acme", tenant="a b")


# -- a window of decisions with their outcomes (monitoring) --------------------------------


def test_a_window_has_each_decision_once_with_its_own_outcome(store, db_url):
    jane = pseudonym("jane")
    for i in range(6):  # recorded out of time order; the window is in decision time
        store.record_decision(
            make_decision(f"w-{i}", created_at=T0 + timedelta(minutes=(i * 5) % 6)),
            subject_pseudonym=jane if i == 4 else None,
            actor="api",
        )
    store.record_decision(
        make_decision("other-version", version=2), subject_pseudonym=None, actor="api"
    )
    store.record_decision(
        make_decision("too-late", created_at=T0 + timedelta(hours=2)),
        subject_pseudonym=None,
        actor="api",
    )
    observed = {"w-0": 1, "w-2": "defaulted", "w-3": False, "w-4": 0, "other-version": 1}
    store.record_outcomes(list(observed.items()), tenant="acme", actor="api")
    store.record_outcome("w-0", 0, tenant="acme", actor="api")  # replaced: the newest counts

    def window(**kw):
        return store.decision_window("credit-risk", since=T0, until=T0 + timedelta(hours=1), **kw)

    got = window(versions=[3])
    times = [d.created_at for d in got.decisions]
    assert times == sorted(times) and len(got.decisions) == 6
    assert {d.decision_id for d in got.decisions} == {f"w-{i}" for i in range(6)}
    assert got.outcomes == {"w-0": 0, "w-2": "defaulted", "w-3": False, "w-4": 0}
    assert got.erased == 0
    for decision in got.decisions:  # decrypted as reading each one gives it
        assert decision == store.get_decision(decision.decision_id, tenant="acme")
    assert set(window(versions=None).outcomes) == {"w-0", "w-2", "w-3", "w-4", "other-version"}
    # an erased subject's decision (and outcome) is counted, not read
    store.erase_subject_by_pseudonym(jane, tenant="acme", actor="dpo")
    got = window(versions=[3])
    assert got.erased == 1 and "w-4" not in got.outcomes and len(got.decisions) == 5
    # a tampered outcome fails the window, as it fails an access request
    sql = "SELECT ciphertext FROM govkit_outcomes WHERE decision_id = 'w-2'"
    flipped = bytearray(rows(db_url, sql)[0][0])
    flipped[-1] ^= 0x01
    execute(
        db_url,
        "UPDATE govkit_outcomes SET ciphertext = :c WHERE decision_id = 'w-2'",
        c=bytes(flipped),
    )
    with pytest.raises(StoreError, match="the outcome of decision 'w-2' failed its integrity"):
        window(versions=[3])


# -- subject access (GDPR Art. 15) --------------------------------------------------------


def test_a_subject_access_gives_all_their_decisions_newest_first_and_is_logged(store, db_url):
    jane, john = pseudonym("jane"), pseudonym("john")
    for i in (0, 2, 1):  # recorded out of time order: the answer is by decision time
        store.record_decision(
            make_decision(f"jane-{i}", created_at=T0 + timedelta(minutes=i)),
            subject_pseudonym=jane,
            actor="api",
        )
    store.record_decision(make_decision("john-0"), subject_pseudonym=john, actor="api")
    store.record_decision(make_decision("anon-0"), subject_pseudonym=None, actor="api")
    store.record_decision(
        make_decision("jane-globex", tenant="globex"), subject_pseudonym=jane, actor="api"
    )
    jane_key = store.audit_events()[0].payload["key_id"]
    store.record_outcome("jane-1", "defaulted", tenant="acme", actor="api")

    records = store.subject_records(jane, tenant="acme", actor="dpo")
    given = records.decisions
    assert [d.decision_id for d in given] == ["jane-2", "jane-1", "jane-0"]
    assert records.outcomes == {"jane-1": "defaulted"}  # what was observed later, too
    assert "defaulted" not in repr(records) and CANARY_NAME not in repr(records)
    for decision in given:  # the same as reading each one, personal data included
        assert decision == store.get_decision(decision.decision_id, tenant="acme")
        assert decision.features["full_name"] == CANARY_NAME
    event = store.audit_events()[-1]
    assert event.event_type == "subject.accessed" and event.actor == "dpo"
    assert event.subject == f"subject-key:{jane_key}"
    assert event.payload == {"key_id": jane_key, "tenant": "acme", "decisions": 3}
    assert store.verify_chain().ok
    # the same id in another tenant is another subject
    theirs = store.subject_records(jane, tenant="globex", actor="dpo")
    assert [d.decision_id for d in theirs.decisions] == ["jane-globex"] and not theirs.outcomes

    events = len(store.audit_events())
    with pytest.raises(NotFoundError, match="tenant 'acme' has no such data subject"):
        store.subject_records(pseudonym("nobody"), tenant="acme", actor="dpo")
    # a tampered outcome or decision fails the whole request, and nothing is logged
    for table, problem in (
        ("govkit_outcomes", "the outcome of decision 'jane-1' failed its integrity check"),
        ("govkit_decisions", "decision 'jane-1' failed its integrity check"),
    ):
        sql = f"SELECT ciphertext FROM {table} WHERE decision_id = 'jane-1'"
        flipped = bytearray(rows(db_url, sql)[0][0])
        flipped[0] ^= 0x01
        execute(
            db_url,
            f"UPDATE {table} SET ciphertext = :c WHERE decision_id = 'jane-1'",
            c=bytes(flipped),
        )
        with pytest.raises(StoreError, match=problem):
            store.subject_records(jane, tenant="acme", actor="dpo")
        assert len(store.audit_events()) == events
    # once erased, there is no one to give out
    store.erase_subject_by_pseudonym(jane, tenant="acme", actor="dpo")
    with pytest.raises(NotFoundError, match="no such data subject"):
        store.subject_records(jane, tenant="acme", actor="dpo")
    with pytest.raises(InputError, match="tenant must be 1-64 characters"):
        store.subject_records(jane, tenant="a b", actor="dpo")


# -- erasure ------------------------------------------------------------------------------


def test_erasing_a_subject_shreds_their_decisions_only(store, db_url):
    jane, john = pseudonym("jane"), pseudonym("john")
    for i in range(3):
        store.record_decision(make_decision(f"jane-{i}"), subject_pseudonym=jane, actor="api")
    store.record_decision(make_decision("john-0"), subject_pseudonym=john, actor="api")
    store.record_decision(make_decision("anon-0"), subject_pseudonym=None, actor="api")
    store.record_decision(
        make_decision("jane-globex", tenant="globex"), subject_pseudonym=jane, actor="api"
    )
    jane_key = store.audit_events()[0].payload["key_id"]

    assert store.erase_subject_by_pseudonym(jane, tenant="acme", actor="dpo") == 3
    for i in range(3):
        with pytest.raises(ErasedError, match=f"decision 'jane-{i}' was recorded, but its subj"):
            store.get_decision(f"jane-{i}", tenant="acme")
    for other, tenant in (("john-0", "acme"), ("anon-0", "acme"), ("jane-globex", "globex")):
        assert store.get_decision(other, tenant=tenant).features["full_name"] == CANARY_NAME
    with pytest.raises(NotFoundError, match="no decision 'jane-0'"):  # still tenant-scoped
        store.get_decision("jane-0", tenant="globex")

    erased = store.audit_events()[-1]
    assert erased.event_type == "subject.erased" and erased.actor == "dpo"
    assert erased.payload == {"key_id": jane_key, "tenant": "acme", "decisions": 3}
    report = store.verify_chain()
    assert report.ok and report.events == 7
    assert rows(db_url, "SELECT COUNT(*) FROM govkit_decisions")[0][0] == 6  # rows stay
    assert rows(db_url, "SELECT 1 FROM govkit_subject_keys WHERE key_id = :k", k=jane_key) == []

    with pytest.raises(NotFoundError, match="tenant 'acme' has no such data subject"):
        store.erase_subject_by_pseudonym(jane, tenant="acme", actor="dpo")
    with pytest.raises(NotFoundError) as caught:
        store.erase_subject_by_pseudonym(pseudonym("never"), tenant="acme", actor="dpo")
    assert pseudonym("never") not in str(caught.value)
    # A later decision about the same person starts a new subject, readable.
    later = store.record_decision(make_decision("jane-3"), subject_pseudonym=jane, actor="api")
    assert store.get_decision("jane-3", tenant="acme") == later
    assert store.erase_subject_by_pseudonym(jane, tenant="acme", actor="dpo") == 1
    assert store.verify_chain().ok


def test_erasing_by_key_id_forgets_the_pseudonym_too(store):
    person = pseudonym("customer-7")
    store.record_decision(make_decision("d-1"), subject_pseudonym=person, actor=None)
    key_id = store.audit_events()[0].payload["key_id"]
    store.erase_subject(key_id, actor="dpo")  # the older, key-id based erasure
    with pytest.raises(ErasedError):
        store.get_decision("d-1", tenant="acme")
    with pytest.raises(NotFoundError, match="no such data subject"):
        store.erase_subject_by_pseudonym(person, tenant="acme", actor="dpo")
    assert store.verify_chain().ok


# -- tampering --------------------------------------------------------------------------------


def test_tampered_ciphertext_is_refused_not_garbage(store, db_url):
    person = pseudonym("customer-1")
    for name in ("d-1", "d-2", "d-3"):
        store.record_decision(make_decision(name), subject_pseudonym=person, actor=None)
    ((ciphertext,),) = rows(
        db_url, "SELECT ciphertext FROM govkit_decisions WHERE decision_id='d-1'"
    )
    flipped = bytearray(ciphertext)
    flipped[len(flipped) // 2] ^= 0x01
    execute(
        db_url,
        "UPDATE govkit_decisions SET ciphertext = :c WHERE decision_id = 'd-1'",
        c=bytes(flipped),
    )
    with pytest.raises(StoreError, match="decision 'd-1' failed its integrity check") as caught:
        store.get_decision("d-1", tenant="acme")
    assert not isinstance(caught.value, NotFoundError)

    # A valid ciphertext moved to another row fails too (bound to its decision id).
    execute(
        db_url,
        "UPDATE govkit_decisions SET ciphertext = (SELECT ciphertext FROM govkit_decisions "
        "WHERE decision_id = 'd-3'), nonce = (SELECT nonce FROM govkit_decisions "
        "WHERE decision_id = 'd-3') WHERE decision_id = 'd-2'",
    )
    with pytest.raises(StoreError, match="integrity check"):
        store.get_decision("d-2", tenant="acme")
    # So does a row relabelled to another tenant.
    execute(db_url, "UPDATE govkit_decisions SET tenant = 'globex' WHERE decision_id = 'd-3'")
    with pytest.raises(StoreError, match="integrity check"):
        store.get_decision("d-3", tenant="globex")


# -- bad input and atomicity -----------------------------------------------------------------


def test_duplicate_decision_id_is_refused_and_changes_nothing(store, db_url):
    store.record_decision(make_decision("dup"), subject_pseudonym=None, actor=None)
    with pytest.raises(InputError, match="decision id 'dup' is already recorded"):
        store.record_decision(make_decision("dup"), subject_pseudonym=pseudonym("x"), actor=None)
    assert len(store.audit_events()) == 1
    assert rows(db_url, "SELECT COUNT(*) FROM govkit_subject_keys")[0][0] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tenant": ""}, "tenant must be 1-64 characters .* got ''"),
        ({"tenant": "acme corp"}, "tenant must be .*got 'acme corp'"),
        ({"tenant": "t" * 65}, "tenant must be 1-64 characters"),
        ({"tenant": "-acme"}, "starting with a letter or digit; got '-acme'"),
        ({"decision_id": "a/b"}, "decision id must be 1-64 characters.*got 'a/b'"),
        ({"model": ModelRef(name="credit-risk")}, "without a version; a decision is made by"),
        ({"model": ModelRef(name="bad name", version=1)}, "model name must be 1-128 characters"),
        ({"created_at": datetime(2025, 1, 1)}, "created_at must be timezone-aware"),
    ],
)
def test_invalid_decisions_are_refused(tmp_path, change, message):
    decision = make_decision("ok-id").model_copy(update=change)
    with Store.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        with pytest.raises(InputError, match=message):
            store.record_decision(decision, subject_pseudonym=None, actor=None)
        assert store.audit_events() == []


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("", "text of 1-256 characters; got text of 0 characters"),
        ("p" * 257, "got text of 257 characters"),
        (42, "got int"),
    ],
)
def test_invalid_pseudonyms_are_refused_without_echoing_them(tmp_path, subject, message):
    with Store.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        with pytest.raises(InputError, match=message) as caught:
            store.record_decision(make_decision("d"), subject_pseudonym=subject, actor=None)
        with pytest.raises(InputError, match=message):
            store.erase_subject_by_pseudonym(subject, tenant="acme", actor=None)
        with pytest.raises(InputError, match="tenant must be"):
            store.erase_subject_by_pseudonym("p", tenant="", actor=None)
    assert "ppp" not in str(caught.value)


def test_non_finite_values_are_refused_without_echoing_them(tmp_path):
    decision = make_decision("d-nan", income=math.inf, name="Secret Name")
    with Store.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        with pytest.raises(InputError, match="NaN or an infinity") as caught:
            store.record_decision(decision, subject_pseudonym=None, actor=None)
    assert str(caught.value) == (
        "decision 'd-nan' cannot be stored: its features or explanation hold NaN or an "
        "infinity, which JSON cannot keep"
    )


def test_a_failed_record_leaves_nothing_behind(tmp_path, monkeypatch):
    from govkit.store import _log

    url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(url) as store:

        def crash(*args, **kwargs):
            raise RuntimeError("power cut")

        monkeypatch.setattr(_log, "encode_events", crash)
        with pytest.raises(RuntimeError):
            store.record_decision(make_decision("d"), subject_pseudonym=pseudonym("x"), actor=None)
        monkeypatch.undo()
        with pytest.raises(NotFoundError):
            store.get_decision("d", tenant="acme")
    for table in ("govkit_decisions", "govkit_subjects", "govkit_subject_keys"):
        assert rows(url, f"SELECT COUNT(*) FROM {table}")[0][0] == 0


# -- concurrency ------------------------------------------------------------------------------

WORKERS = 4
DECISIONS = 50
SUBJECTS = 5  # shared by all workers: find-or-create of subjects races too
HANG_GUARD_S = 600  # a deadlock fails the test instead of hanging CI; never a speed assertion


def record_decisions(url: str, worker: int, start, results) -> None:
    """Child process: record DECISIONS decisions, cycling through the shared subjects."""
    try:
        with Store.open(url) as store:
            start.wait(HANG_GUARD_S)
            sequences = [
                store.record_decision(
                    make_decision(f"w{worker}-{i}", income=1000.0 * worker + i),
                    subject_pseudonym=pseudonym(f"subject-{i % SUBJECTS}"),
                    actor=f"worker-{worker}",
                ).audit_sequence
                for i in range(DECISIONS)
            ]
        results.put((worker, sequences, None))
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put((worker, [], f"{type(exc).__name__}: {exc}"))


def test_concurrent_writers_record_every_decision_once(db_url):
    Store.open(db_url).close()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=record_decisions, args=(db_url, worker, start, results))
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
        raise AssertionError(
            f"workers {set(range(WORKERS)) - set(outcomes)} never reported"
        ) from None
    finally:
        for process in processes:
            process.join(HANG_GUARD_S)
    assert {w: e for w, (_, e) in outcomes.items() if e} == {}
    total = WORKERS * DECISIONS
    every = sorted(seq for sequences, _ in outcomes.values() for seq in sequences)
    assert every == list(range(1, total + 1))
    assert rows(db_url, "SELECT COUNT(*) FROM govkit_decisions")[0][0] == total
    assert rows(db_url, "SELECT COUNT(*) FROM govkit_subjects")[0][0] == SUBJECTS
    with Store.open(db_url) as store:
        report = store.verify_chain()
        assert report.ok, report.problem
        assert report.events == total
        for worker in range(WORKERS):
            last = store.get_decision(f"w{worker}-{DECISIONS - 1}", tenant="acme")
            assert last.features["income"] == 1000.0 * worker + DECISIONS - 1
        erased = store.erase_subject_by_pseudonym(pseudonym("subject-0"), tenant="acme", actor=None)
        assert erased == WORKERS * DECISIONS // SUBJECTS


# -- migration ------------------------------------------------------------------------------


def test_a_schema_2_database_upgrades_and_keeps_its_data(db_url):
    chain = build_chain(4)
    salt, key_id = new_salt(), "a" * 32
    eng = engine(db_url)
    try:
        with eng.begin() as conn:
            upgrade(conn, "0002")  # the previous head
            conn.execute(sqlalchemy.text(INSERT), [row._asdict() for row in chain])
            conn.execute(
                sqlalchemy.text("UPDATE govkit_audit_head SET sequence = :s, hash = :h"),
                {"s": 4, "h": chain[-1].hash},
            )
            conn.execute(
                sqlalchemy.insert(SubjectKeyRow.__table__),
                {"key_id": key_id, "salt": salt, "created_at": T0},
            )
    finally:
        eng.dispose()
    with pytest.raises(StoreError, match="has schema version 2; .*govkit db upgrade"):
        Store.open(db_url)
    assert upgrade_database(db_url) == ("0002", HEAD_REVISION)
    with Store.open(db_url) as store:
        report = store.verify_chain()
        assert report.ok and report.head_hash == chain[-1].hash  # history kept
        assert store.commit_for(key_id, CANARY_NAME) == commit(CANARY_NAME, salt)  # salt kept
        stored = store.record_decision(make_decision("d-1"), subject_pseudonym="p", actor=None)
        assert stored.audit_sequence == 5
        assert store.get_decision("d-1", tenant="acme") == stored
        store.create_api_key(tenant="acme", scopes=["read"], name=None, actor=None)
        assert store.verify_chain().events == 6
