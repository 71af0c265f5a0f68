"""Signed checkpoints: the format, keys, and what they detect that the chain alone cannot."""

from __future__ import annotations

import base64
import json
import traceback

import pytest
from audit_helpers import fill, read_rows, rechain, replace_log
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from govkit.exceptions import InputError, StoreError
from govkit.store import (
    Store,
    generate_signing_key,
    load_public_key,
    load_signing_key,
    read_checkpoint,
)
from govkit.store._chain import GENESIS_HASH, canonical_json
from govkit.store._checkpoint import parse_checkpoint, sign_checkpoint
from govkit.store._keys import SIGNING_KEY_ENV


@pytest.fixture(scope="module")
def key():
    return generate_signing_key()


def checkpointed(db_url: str, key, n: int = 20):
    """A log of ``n`` events and a checkpoint of it."""
    with Store.open(db_url) as store:
        fill(store, n)
        return store.checkpoint(key)


def verify(db_url: str, checkpoints=(), public_key=None):
    with Store.open(db_url, read_only=True) as store:
        return store.verify_chain(checkpoints=checkpoints, public_key=public_key)


# -- the document --------------------------------------------------------------------------


def test_checkpoint_document_is_as_documented(tmp_path, key):
    db_url = f"sqlite:///{tmp_path / 'g.db'}"
    checkpoint = checkpointed(db_url, key, 5)
    document = json.loads(checkpoint.to_json())
    assert set(document) == {
        "type", "version", "audit_format", "database_id", "sequence", "head_hash",
        "timestamp", "key_id", "public_key", "signature",
    }  # fmt: skip
    assert document["type"] == "govkit.audit.checkpoint" and document["version"] == 1
    assert document["sequence"] == 5
    assert document["head_hash"] == read_rows(db_url)[-1].hash
    with Store.open(db_url) as store:
        assert document["database_id"] == store.database_id
    raw_public = base64.b64decode(document["public_key"])
    assert raw_public == key.public_key.raw and document["key_id"] == key.public_key.key_id
    signed = {k: v for k, v in document.items() if k not in ("signature", "key_id")}
    message = b"govkit-audit-checkpoint-v1\n" + canonical_json(signed).encode("utf-8")
    assert key.public_key.verify(base64.b64decode(document["signature"]), message)
    assert parse_checkpoint(checkpoint.to_json(), source="x") == checkpoint.__class__(
        **{**checkpoint.__dict__, "source": "x"}
    )


def test_checkpoint_file_round_trip(tmp_path, key):
    checkpoint = sign_checkpoint(sequence=0, head_hash=GENESIS_HASH, database_id="ab" * 16, key=key)
    path = tmp_path / "cp.json"
    path.write_text(checkpoint.to_json())
    read = read_checkpoint(path)
    assert (read.sequence, read.head_hash, read.signature) == (
        0,
        GENESIS_HASH,
        checkpoint.signature,
    )
    assert read.source == str(path)


def _valid_document(key) -> dict:
    checkpoint = sign_checkpoint(sequence=3, head_hash="a" * 64, database_id="cd" * 16, key=key)
    return json.loads(checkpoint.to_json())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: "not json", "not JSON"),
        (lambda d: [1, 2], "expected a JSON object"),
        (lambda d: {**d, "type": "other"}, "'type' must be 'govkit.audit.checkpoint'"),
        (lambda d: {**d, "version": 2}, "'version' 2 is not supported"),
        (lambda d: {**d, "extra": 1}, "unknown field(s) extra"),
        (lambda d: {k: v for k, v in d.items() if k != "signature"}, "missing field(s) signature"),
        (lambda d: {**d, "sequence": -1}, "'sequence' must be a whole number >= 0"),
        (lambda d: {**d, "sequence": True}, "'sequence' must be a whole number >= 0"),
        (lambda d: {**d, "head_hash": "XYZ"}, "'head_hash' must be 64 lowercase hex digits"),
        (lambda d: {**d, "database_id": "1"}, "'database_id' must be 32 lowercase hex digits"),
        (lambda d: {**d, "timestamp": "yesterday"}, "'timestamp' must be an ISO-8601"),
        (lambda d: {**d, "timestamp": "2025-01-01T00:00:00"}, "must carry a time zone"),
        (lambda d: {**d, "signature": "AAAA"}, "'signature' must be 64 bytes in base64"),
        (lambda d: {**d, "public_key": "!!"}, "'public_key' must be 32 bytes in base64"),
        (lambda d: {**d, "key_id": "ed25519:0000000000000000"}, "'key_id' does not belong"),
    ],
)
def test_malformed_checkpoints_are_input_errors(key, change, expected):
    changed = change(_valid_document(key))
    text = changed if isinstance(changed, str) else json.dumps(changed)
    with pytest.raises(InputError) as caught:
        parse_checkpoint(text, source="cp.json")
    message = str(caught.value)
    assert message.startswith("cp.json: not a valid govkit audit checkpoint: ")
    assert expected in message


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(InputError, match="checkpoint file .* does not exist"):
        read_checkpoint(tmp_path / "nope.json")


# -- keys ----------------------------------------------------------------------------------


def test_signing_key_formats(tmp_path, key):
    pem = tmp_path / "k.pem"
    pem.write_bytes(key.pem())
    seed = key._key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    for source in (
        load_signing_key(pem),
        load_signing_key(environ={SIGNING_KEY_ENV: key.pem().decode()}),
        load_signing_key(environ={SIGNING_KEY_ENV: base64.b64encode(seed).decode()}),
        load_signing_key(environ={SIGNING_KEY_ENV: seed.hex()}),
    ):
        assert source.public_key.raw == key.public_key.raw
    public = tmp_path / "k.pub"
    public.write_bytes(key.public_key.pem())
    assert load_public_key(public).raw == key.public_key.raw
    public.write_text(base64.b64encode(key.public_key.raw).decode() + "\n")
    assert load_public_key(public).key_id == key.public_key.key_id


def test_key_errors_name_the_source_never_the_secret(tmp_path, key):
    secret = base64.b64encode(b"\x01" * 31).decode()  # 31 bytes: not a seed
    bad = tmp_path / "bad.key"
    bad.write_text(secret)
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(
        key._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    cases = [
        (lambda: load_signing_key(bad), f"{bad}: not a signing key"),
        (lambda: load_signing_key(rsa_key), "is not an Ed25519 key"),
        (lambda: load_signing_key(encrypted), "the signing key is encrypted"),
        (lambda: load_signing_key(tmp_path / "missing"), "does not exist"),
        (lambda: load_signing_key(environ={}), f"pass --key-file FILE or set {SIGNING_KEY_ENV}"),
        (
            lambda: load_signing_key(environ={SIGNING_KEY_ENV: secret}),
            f"${SIGNING_KEY_ENV}: not a signing key",
        ),
        (lambda: load_public_key(tmp_path / "k.pem"), "does not exist"),
    ]
    (tmp_path / "priv.pem").write_bytes(key.pem())
    cases.append((lambda: load_public_key(tmp_path / "priv.pem"), "this is a private key"))
    for call, expected in cases:
        with pytest.raises(InputError) as caught:
            call()
        whole = "".join(traceback.format_exception(caught.value))
        assert expected in str(caught.value)
        assert secret not in whole and "PRIVATE KEY-----\nMC" not in whole
    assert "PRIVATE" not in repr(key) and key.public_key.key_id in repr(key)


# -- what checkpoints detect ----------------------------------------------------------------


def test_intact_log_with_checkpoints(db_url, key):
    first = checkpointed(db_url, key, 10)
    with Store.open(db_url) as store:
        fill(store, 10, start=10)
        second = store.checkpoint(key)
        report = store.verify_chain(checkpoints=[first, second], public_key=key.public_key)
    assert report.ok, report.problem
    assert [(c.sequence, c.ok, c.pinned) for c in report.checkpoints] == [
        (10, True, True),
        (20, True, True),
    ]


def test_empty_log_checkpoint(tmp_path, key):
    db_url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(db_url) as store:
        checkpoint = store.checkpoint(key)
        assert (checkpoint.sequence, checkpoint.head_hash) == (0, GENESIS_HASH)
        assert store.verify_chain(checkpoints=[checkpoint]).ok


def test_truncation_is_detected_only_with_a_checkpoint(db_url, key):
    checkpoint = checkpointed(db_url, key, 20)
    rows = read_rows(db_url)[:15]  # drop events 16-20 and move the head marker to match
    replace_log(db_url, rows, head=(15, rows[-1].hash))
    alone = verify(db_url)
    assert alone.ok  # undetectable without a checkpoint: the documented limit
    report = verify(db_url, [checkpoint], key.public_key)
    assert (report.ok, report.first_bad_sequence, report.fault) == (False, 16, "truncated")
    assert "records event 20, but the log ends at event 15" in report.problem


def test_full_rewrite_is_detected_only_with_a_checkpoint(db_url, key):
    checkpoint = checkpointed(db_url, key, 20)
    rows = read_rows(db_url)
    rows[2] = rows[2]._replace(payload=canonical_json({"i": 2, "text": "rewritten"}))
    forged = rechain(rows)
    replace_log(db_url, forged, head=(20, forged[-1].hash))
    assert verify(db_url).ok  # a consistent rewrite: undetectable without a checkpoint
    report = verify(db_url, [checkpoint], key.public_key)
    assert (report.ok, report.first_bad_sequence, report.fault) == (
        False,
        20,
        "checkpoint-mismatch",
    )
    assert "events up to 20 were rewritten" in report.problem


def test_earliest_fault_wins(db_url, key):
    checkpoint = checkpointed(db_url, key, 20)
    rows = read_rows(db_url)
    rows[4] = rows[4]._replace(actor="mallory")  # a plain edit at 5, not re-hashed
    replace_log(db_url, rows, head=(20, rows[-1].hash))
    report = verify(db_url, [checkpoint])
    assert (report.first_bad_sequence, report.fault) == (5, "edited")
    assert report.checkpoints[0].ok  # event 20 still carries the signed hash


def test_tampered_or_foreign_checkpoints(tmp_path, key):
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    checkpoint = checkpointed(db_url, key, 5)
    document = json.loads(checkpoint.to_json())
    document["sequence"] = 4  # altered after signing
    altered = parse_checkpoint(json.dumps(document), source="altered.json")
    report = verify(db_url, [altered])
    assert (report.ok, report.fault) == (False, "checkpoint-signature")
    assert "invalid signature" in report.problem

    other = generate_signing_key()
    report = verify(db_url, [checkpoint], other.public_key)
    assert report.fault == "checkpoint-signature" and "not by the trusted key" in report.problem

    other_db = f"sqlite:///{tmp_path / 'b.db'}"
    checkpointed(other_db, key, 5)
    report = verify(other_db, [checkpoint], key.public_key)
    assert report.fault == "checkpoint-mismatch" and "was made for database" in report.problem


def test_refuses_to_sign_a_broken_log(tmp_path, key):
    db_url = f"sqlite:///{tmp_path / 'g.db'}"
    checkpointed(db_url, key, 5)
    rows = read_rows(db_url)
    rows[1] = rows[1]._replace(subject="forged")
    replace_log(db_url, rows, head=(5, rows[-1].hash))
    with Store.open(db_url) as store, pytest.raises(StoreError, match="refusing to sign"):
        store.checkpoint(key)
