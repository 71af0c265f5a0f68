"""Personal data: salted commitments in the log, salts outside it, erasure keeps the chain whole."""

from __future__ import annotations

import hashlib
import hmac

import pytest
import sqlalchemy
from audit_helpers import engine

from govkit.exceptions import InputError, NotFoundError
from govkit.store import Store, commit, new_salt

PERSON = "Jane Q. Applicant, born 1980-02-29"


def test_commit_is_an_hmac_under_the_salt():
    salt = new_salt()
    assert len(salt) == 32 and new_salt() != salt
    digest = commit(PERSON, salt)
    assert digest == "hmac-sha256:" + hmac.new(salt, PERSON.encode(), hashlib.sha256).hexdigest()
    assert commit(PERSON.encode(), salt) == digest  # text is hashed as UTF-8
    assert commit(PERSON, new_salt()) != digest  # another subject's salt: unlinkable
    assert commit("someone else", salt) != digest


@pytest.mark.parametrize(
    ("value", "salt", "expected"),
    [
        ("x", b"short", "at least 16 random bytes"),
        ("x", "not bytes" * 4, "at least 16 random bytes"),
        (12345, b"s" * 32, "takes text or bytes; got int"),
    ],
)
def test_commit_refuses_weak_salts_and_other_types(value, salt, expected):
    with pytest.raises(InputError, match=expected):
        commit(value, salt)


def test_erasing_a_subject_keeps_the_chain_verifiable(db_url):
    with Store.open(db_url) as store:
        key_id = store.new_subject_key()
        applicant = store.commit_for(key_id, PERSON)
        assert applicant == store.commit_for(key_id, PERSON)  # checkable while the salt exists
        store.record_event(
            "decision.explained",
            {"applicant": applicant, "subject_key": key_id, "outcome": "declined"},
            actor="api",
            subject=f"subject-key:{key_id}",
        )
        other = store.new_subject_key()
        store.record_event(
            "decision.explained",
            {"applicant": store.commit_for(other, "Other Person")},
            actor="api",
            subject=f"subject-key:{other}",
        )
        erased = store.erase_subject(key_id, actor="dpo")
        assert erased.event_type == "subject.erased" and erased.payload == {"key_id": key_id}
        report = store.verify_chain()
        assert report.ok and report.events == 3
        with pytest.raises(NotFoundError, match="subject was erased"):
            store.commit_for(key_id, PERSON)  # nothing can be linked to them any more
        with pytest.raises(NotFoundError, match="already erased"):
            store.erase_subject(key_id, actor="dpo")
        assert store.commit_for(other, "Other Person").startswith("hmac-sha256:")
        events = store.audit_events()
    assert events[0].payload["applicant"] == applicant  # the commitment stays, meaningless
    eng = engine(db_url)
    try:
        with eng.connect() as conn:
            salts = conn.execute(
                sqlalchemy.text("SELECT key_id FROM govkit_subject_keys")
            ).scalars()
            assert list(salts) == [other]
            dump = " ".join(
                str(value)
                for table in ("govkit_audit_events", "govkit_subject_keys", "govkit_meta")
                for row in conn.execute(sqlalchemy.text(f"SELECT * FROM {table}"))
                for value in row
            )
    finally:
        eng.dispose()
    # whole values: a random hex digest may well contain "1980", never "1980-02-29"
    assert "Jane" not in dump and "1980-02-29" not in dump and "Other Person" not in dump


def test_erasure_is_atomic_with_its_event(tmp_path, monkeypatch):
    from govkit.store import _log

    db_url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(db_url) as store:
        key_id = store.new_subject_key()

        def crash(*args, **kwargs):
            raise RuntimeError("power cut")

        monkeypatch.setattr(_log, "append_event", crash)
        with pytest.raises(RuntimeError):
            store.erase_subject(key_id, actor="dpo")
        monkeypatch.undo()
        assert store.commit_for(key_id, PERSON)  # the salt is still there: nothing half-done
        assert store.audit_events() == []
