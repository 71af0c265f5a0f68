"""API keys for the HTTP API: a tenant, scopes, and only the SHA-256 of the secret stored.

A token reads ``gk_<key_id>_<secret>``: ``key_id`` is 24 random hex digits (it
finds the row and names the key in logs and audit events), ``secret`` is 32
random bytes in URL-safe base64 without padding (43 characters). The token is
shown once, by :func:`create`; the store keeps ``SHA-256(secret)``.

Why a fast hash is right here: password hashes (bcrypt, scrypt, Argon2) are slow
on purpose because people choose guessable passwords, and slowness limits how
many guesses an attacker holding the table can try. A 256-bit random secret
cannot be guessed at any speed (2^256 tries), so a slow hash would add nothing
but cost on every request; a stolen table still yields no usable key.
Authentication compares digests with :func:`hmac.compare_digest` (constant time).

Creating and revoking a key each record an audit event (``api_key.created``,
``api_key.revoked``) naming the key id, tenant and scopes, never the secret or
its hash. Revoking is final and idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session

from govkit.decisions import SCOPES, ApiKeyInfo, ApiPrincipal, Scope
from govkit.exceptions import InputError, NotFoundError, closest
from govkit.store import _log
from govkit.store._decisions import check_tenant
from govkit.store._schema import ApiKeyRow, AuditHeadRow

__all__ = [
    "TOKEN_PREFIX",
    "check_scopes",
    "check_key_name",
    "validate_new_key",
    "parse_token",
    "create",
    "principal",
    "list_keys",
    "revoke",
]

TOKEN_PREFIX = "gk_"
_KEY_ID_HEX = 24
_SECRET_BYTES = 32
_TOKEN_RE = re.compile(r"gk_([0-9a-f]{24})_([A-Za-z0-9_-]{43})\Z")
_KEY_ID_RE = re.compile(r"[0-9a-f]{24}\Z")
_NAME_MAX = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_KEYS = ApiKeyRow.__table__  # type: ignore[attr-defined]


def check_scopes(scopes: Any) -> tuple[Scope, ...]:
    """``scopes`` as a tuple in :data:`SCOPES` order, duplicates removed; InputError otherwise."""
    expected = ", ".join(SCOPES)
    if isinstance(scopes, str | bytes) or not isinstance(scopes, Sequence | set | frozenset):
        raise InputError(
            f"API key scopes must be a list of scope names ({expected}); "
            f"got {type(scopes).__name__} {scopes!r}"[:200]
        )
    if not scopes:
        raise InputError(f"an API key needs at least one scope; expected some of {expected}")
    for scope in scopes:
        if scope not in SCOPES:
            hint = closest(scope, SCOPES) if isinstance(scope, str) else None
            raise InputError(
                f"unknown API key scope {scope!r}; expected one of {expected}"
                + (f" (did you mean {hint!r}?)" if hint else "")
            )
    return tuple(scope for scope in SCOPES if scope in scopes)


def check_key_name(name: Any) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not 0 < len(name) <= _NAME_MAX or _CONTROL.search(name):
        raise InputError(
            f"an API key name must be 1-{_NAME_MAX} characters without control characters; "
            f"got {name!r}"[:200]
        )
    return name


def validate_new_key(
    tenant: Any, scopes: Any, name: Any
) -> tuple[str, tuple[Scope, ...], str | None]:
    """The arguments of ``Store.create_api_key``, checked (InputError naming the problem)."""
    return check_tenant(tenant), check_scopes(scopes), check_key_name(name)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse_token(token: Any) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed token, else None."""
    if not isinstance(token, str) or len(token) > 80:
        return None
    match = _TOKEN_RE.match(token)
    return None if match is None else (match[1], match[2])


def _scopes(text: str) -> tuple[Scope, ...]:
    return tuple(scope for scope in SCOPES if scope in text.split())


def _info(row: Any) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=row.key_id,
        tenant=row.tenant,
        scopes=_scopes(row.scopes),
        name=row.name,
        created_at=_log.stored_time(row.created_at),
        revoked_at=None if row.revoked_at is None else _log.stored_time(row.revoked_at),
    )


def create(
    session: Session,
    head: AuditHeadRow,
    *,
    tenant: str,
    scopes: tuple[Scope, ...],
    name: str | None,
    actor: str | None,
) -> tuple[ApiKeyInfo, str]:
    """Insert a new key (validated arguments) and its event; returns the info and the token."""
    key_id = secrets.token_hex(_KEY_ID_HEX // 2)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    now = datetime.now(UTC)
    session.connection().execute(
        insert(_KEYS),
        {
            "key_id": key_id,
            "secret_sha256": _digest(secret),
            "tenant": tenant,
            "scopes": " ".join(scopes),
            "name": name,
            "created_at": now,
            "created_by": actor,
            "revoked_at": None,
        },
    )
    _log.append_event(
        session,
        head,
        "api_key.created",
        {"key_id": key_id, "tenant": tenant, "scopes": list(scopes), "name": name},
        actor=actor,
        subject=f"api-key:{key_id}",
    )
    info = ApiKeyInfo(key_id=key_id, tenant=tenant, scopes=scopes, name=name, created_at=now)
    return info, f"{TOKEN_PREFIX}{key_id}_{secret}"


def principal(session: Session, key_id: str, secret: str) -> ApiPrincipal | None:
    """The principal of a live key whose secret matches, else None."""
    row = (
        session.connection()
        .execute(
            select(
                _KEYS.c.secret_sha256,
                _KEYS.c.tenant,
                _KEYS.c.scopes,
                _KEYS.c.name,
                _KEYS.c.revoked_at,
            ).where(_KEYS.c.key_id == key_id)
        )
        .first()
    )
    if row is None:
        return None
    matches = hmac.compare_digest(_digest(secret).encode(), row.secret_sha256.encode())
    if not matches or row.revoked_at is not None:
        return None
    return ApiPrincipal(
        key_id=key_id, tenant=row.tenant, scopes=frozenset(_scopes(row.scopes)), name=row.name
    )


def list_keys(session: Session, *, tenant: str | None) -> list[ApiKeyInfo]:
    stmt = select(_KEYS).order_by(_KEYS.c.created_at, _KEYS.c.key_id)
    if tenant is not None:
        stmt = stmt.where(_KEYS.c.tenant == tenant)
    return [_info(row) for row in session.connection().execute(stmt)]


def revoke(session: Session, head: AuditHeadRow, key_id: str, *, actor: str | None) -> ApiKeyInfo:
    """Revoke ``key_id`` (recording ``api_key.revoked``); a revoked key is returned as it is."""
    conn = session.connection()
    row = None
    if isinstance(key_id, str) and _KEY_ID_RE.match(key_id):
        row = conn.execute(select(_KEYS).where(_KEYS.c.key_id == key_id)).first()
    if row is None:
        raise NotFoundError(f"no API key {key_id!r}"[:200])
    info = _info(row)
    if info.revoked_at is not None:
        return info
    now = datetime.now(UTC)
    conn.execute(update(_KEYS).where(_KEYS.c.key_id == key_id).values(revoked_at=now))
    _log.append_event(
        session,
        head,
        "api_key.revoked",
        {"key_id": key_id, "tenant": info.tenant},
        actor=actor,
        subject=f"api-key:{key_id}",
    )
    return info.model_copy(update={"revoked_at": now})
