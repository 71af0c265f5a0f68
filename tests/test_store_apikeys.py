"""API keys: created with scopes, stored hashed, authenticated, revoked; both databases."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator

import pytest
import sqlalchemy
from audit_helpers import engine

from govkit.decisions import ApiPrincipal
from govkit.exceptions import InputError, NotFoundError
from govkit.store import Store
from govkit.store import _apikeys as apikeys

TOKEN = re.compile(r"gk_([0-9a-f]{24})_([A-Za-z0-9_-]{43})")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


def raw_keys(db_url: str) -> list:
    eng = engine(db_url)
    try:
        with eng.connect() as conn:
            return list(conn.execute(sqlalchemy.text("SELECT * FROM govkit_api_keys")).mappings())
    finally:
        eng.dispose()


def test_create_authenticate_and_list(store):
    info, token = store.create_api_key(
        tenant="acme", scopes=["read", "decide"], name="loan front end", actor="ops"
    )
    match = TOKEN.fullmatch(token)
    assert match is not None and match[1] == info.key_id
    assert (info.tenant, info.scopes, info.name, info.revoked_at) == (
        "acme",
        ("decide", "read"),  # canonical order
        "loan front end",
        None,
    )
    assert info.created_at.tzinfo is not None
    assert store.api_principal(token) == ApiPrincipal(
        key_id=info.key_id,
        tenant="acme",
        scopes=frozenset({"decide", "read"}),
        name="loan front end",
    )
    admin, admin_token = store.create_api_key(
        tenant="globex", scopes=("admin", "admin"), name=None, actor="ops"
    )
    assert admin.scopes == ("admin",) and admin_token != token
    assert store.api_principal(admin_token).tenant == "globex"
    assert store.list_api_keys() == [info, admin]
    assert store.list_api_keys(tenant="acme") == [info]
    assert store.list_api_keys(tenant="initech") == []

    created = store.audit_events()
    assert [e.event_type for e in created] == ["api_key.created"] * 2
    assert created[0].payload == {
        "key_id": info.key_id,
        "tenant": "acme",
        "scopes": ["decide", "read"],
        "name": "loan front end",
    }
    assert (created[0].actor, created[0].subject) == ("ops", f"api-key:{info.key_id}")


def test_only_a_hash_of_the_secret_is_stored(store, db_url):
    info, token = store.create_api_key(tenant="acme", scopes=["read"], name=None, actor=None)
    secret = TOKEN.fullmatch(token)[2]
    (row,) = raw_keys(db_url)
    assert row["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert len(secret) == 43  # 32 random bytes, URL-safe base64 without padding
    stored = " ".join(str(value) for value in row.values())
    assert secret not in stored and token not in stored
    exported = io.StringIO()
    store.export_jsonl(exported)
    assert secret not in exported.getvalue()
    assert row["secret_sha256"] not in exported.getvalue()  # nor its hash in the log


def test_authentication_compares_in_constant_time(store, monkeypatch):
    _, token = store.create_api_key(tenant="acme", scopes=["read"], name=None, actor=None)
    calls = []
    real = apikeys.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(apikeys.hmac, "compare_digest", spy)
    assert store.api_principal(token) is not None
    assert len(calls) == 1


def test_wrong_malformed_and_unknown_tokens_get_nobody(store):
    _, token = store.create_api_key(tenant="acme", scopes=["decide"], name=None, actor=None)
    key_id, secret = TOKEN.fullmatch(token).groups()
    other_secret = ("A" if secret[0] != "A" else "B") + secret[1:]
    unknown_id = ("0" if key_id[0] != "0" else "1") + key_id[1:]
    for bad in (
        f"gk_{key_id}_{other_secret}",  # right key, wrong secret
        f"gk_{unknown_id}_{secret}",  # unknown key
        "",
        "gk_",
        "gk__",
        token + "x",
        token[:-1],
        token.upper(),
        f"Bearer {token}",
        f" {token}",
        f"gk_{key_id}_{secret[:-1]}=",
        "gk_" + "g" * 24 + "_" + secret,
        "x" * 10_000,
        None,
        42,
        token.encode(),
    ):
        assert store.api_principal(bad) is None, bad
    assert store.api_principal(token) is not None


def test_revoking_a_key(store):
    info, token = store.create_api_key(tenant="acme", scopes=["admin"], name="old", actor="ops")
    revoked = store.revoke_api_key(info.key_id, actor="security")
    assert revoked.revoked_at is not None and revoked.revoked_at >= info.created_at
    assert revoked.model_copy(update={"revoked_at": None}) == info
    assert store.api_principal(token) is None
    assert store.list_api_keys() == [revoked]
    event = store.audit_events()[-1]
    assert (event.event_type, event.actor) == ("api_key.revoked", "security")
    assert event.payload == {"key_id": info.key_id, "tenant": "acme"}
    # Revoking again changes nothing and records nothing.
    assert store.revoke_api_key(info.key_id, actor="security") == revoked
    assert len(store.audit_events()) == 2
    with pytest.raises(NotFoundError, match="no API key 'ffffffffffffffffffffffff'"):
        store.revoke_api_key("f" * 24, actor=None)
    with pytest.raises(NotFoundError, match="no API key 'not a key'"):
        store.revoke_api_key("not a key", actor=None)
    assert store.verify_chain().ok


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"tenant": ""}, "tenant must be 1-64 characters of letters, digits, .* got ''"),
        ({"tenant": "acme/eu"}, "tenant must be .*got 'acme/eu'"),
        ({"tenant": "x" * 65}, "tenant must be 1-64 characters"),
        ({"tenant": None}, "tenant must be .*got None"),
        ({"scopes": []}, r"needs at least one scope; expected some of decide, read, admin"),
        ({"scopes": ["raed"]}, r"unknown API key scope 'raed'; .* \(did you mean 'read'\?\)"),
        ({"scopes": ["root"]}, r"unknown API key scope 'root'; expected one of decide, read, ad"),
        ({"scopes": [1]}, "unknown API key scope 1"),
        ({"scopes": "read"}, r"must be a list of scope names \(decide, read, admin\); got str"),
        ({"scopes": None}, "must be a list of scope names .*got NoneType"),
        ({"name": ""}, "API key name must be 1-128 characters"),
        ({"name": "a\nb"}, "without control characters"),
        ({"name": "n" * 129}, "API key name must be 1-128 characters"),
    ],
)
def test_invalid_key_arguments(tmp_path, arguments, message):
    fields = {"tenant": "acme", "scopes": ["read"], "name": None, "actor": None, **arguments}
    with Store.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        with pytest.raises(InputError, match=message):
            store.create_api_key(**fields)
        assert store.list_api_keys() == [] and store.audit_events() == []
        with pytest.raises(InputError, match="tenant must be"):
            store.list_api_keys(tenant="bad tenant")
