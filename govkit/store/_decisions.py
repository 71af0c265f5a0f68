"""Recorded decisions: personal content encrypted per subject, one audit event each, erasable.

What is stored where
--------------------
A decision's **personal content** -- the input features and the explanation
(which repeats the values in its reasons and counterfactual) -- is encrypted
with AES-256-GCM (format 1) and kept in ``govkit_decisions.ciphertext`` with its
random 96-bit nonce. Everything else in the row is not personal: decision id,
tenant, model name and version, time, whether a subject id was given, the
subject's random ``key_id`` and the audit sequence.

The key is per **subject**: HKDF-SHA-256 of the subject's random 32-byte salt
in ``govkit_subject_keys`` (info ``govkit/decision-content/aes-256-gcm/v1``),
the same salt that keys the subject's commitments. A subject is a tenant's
*pseudonym* (made by the caller with a keyed HMAC whose key is not in the
database); the store keeps only ``SHA-256(tenant, pseudonym)`` to find the
subject again (``govkit_subjects``). Without a pseudonym each decision gets a
subject, and a key, of its own. The associated data binds the ciphertext to
its decision id, tenant, model, version and key id, so a ciphertext moved to
another row, or a row relabelled, fails authentication instead of decrypting.

The ``decision.recorded`` audit event holds no personal data in the clear:
ids, model, method, the reliability flag, the subject's ``key_id``, the SHA-256
of nonce and ciphertext, and a salted commitment (:func:`govkit.store._privacy.commit`
under the subject's salt) to the canonical JSON of decision id, features and
explanation. While the subject exists, the decrypted content can be checked
against the chain; once they are erased, neither can be linked to anything.

Erasure (crypto-shredding) deletes the subject's salt and their pseudonym row
and records ``subject.erased``; their decisions stay, unreadable
(:class:`~govkit.exceptions.ErasedError`), and the chain still verifies.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlmodel import Session

from govkit.decisions import Decision
from govkit.exceptions import ErasedError, InputError, NotFoundError, StoreError
from govkit.store import _log, _privacy
from govkit.store._chain import canonical_json
from govkit.store._records import check_name
from govkit.store._schema import AuditHeadRow, DecisionRow, SubjectKeyRow, SubjectRow

__all__ = [
    "ENCRYPTION_FORMAT",
    "PreparedDecision",
    "check_tenant",
    "check_decision_id",
    "check_pseudonym",
    "subject_lookup",
    "prepare",
    "record",
    "read",
    "erase_by_pseudonym",
]

#: Version of the encrypted content's layout and algorithm (``govkit_decisions.encryption``).
ENCRYPTION_FORMAT = 1
_HKDF_INFO = b"govkit/decision-content/aes-256-gcm/v1"
_NONCE_BYTES = 12
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_PSEUDONYM_MAX = 256

_SUBJECTS = SubjectRow.__table__  # type: ignore[attr-defined]
_KEYS = SubjectKeyRow.__table__  # type: ignore[attr-defined]
_DECISIONS = DecisionRow.__table__  # type: ignore[attr-defined]


def check_tenant(tenant: Any) -> str:
    """``tenant`` if it is 1-64 letters, digits, '.', '_' or '-' (starting alphanumeric)."""
    if not isinstance(tenant, str) or not _ID_RE.match(tenant):
        raise InputError(
            "tenant must be 1-64 characters of letters, digits, '.', '_' or '-', starting "
            f"with a letter or digit; got {_shown(tenant)}"
        )
    return tenant


def check_decision_id(decision_id: Any) -> str:
    if not isinstance(decision_id, str) or not _ID_RE.match(decision_id):
        raise InputError(
            "decision id must be 1-64 characters of letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit; got {_shown(decision_id)}"
        )
    return decision_id


def check_pseudonym(pseudonym: Any) -> str:
    """A subject pseudonym: text of 1-256 characters. Never echoed in the message."""
    if not isinstance(pseudonym, str) or not 0 < len(pseudonym) <= _PSEUDONYM_MAX:
        kind = type(pseudonym).__name__
        found = f"text of {len(pseudonym)} characters" if isinstance(pseudonym, str) else kind
        raise InputError(
            f"a subject pseudonym must be text of 1-{_PSEUDONYM_MAX} characters; got {found}"
        )
    return pseudonym


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def subject_lookup(tenant: str, pseudonym: str) -> str:
    """The stored handle of a tenant's pseudonym: SHA-256 over both, length-prefixed.

    The pseudonym is already a keyed HMAC of the person's id, made with a key the
    database never sees, so a plain hash of it cannot be reversed by guessing ids.
    """
    data = f"govkit-subject-v1\0{len(tenant)}:{tenant}\0{pseudonym}".encode()
    return hashlib.sha256(data).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- encryption -----------------------------------------------------------------------


def _aead(salt: bytes) -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(salt)
    return AESGCM(key)


def _associated_data(decision_id: str, tenant: str, model: str, version: int, key_id: str) -> bytes:
    return canonical_json(
        {
            "format": ENCRYPTION_FORMAT,
            "decision_id": decision_id,
            "tenant": tenant,
            "model": model,
            "version": version,
            "key_id": key_id,
        }
    ).encode("utf-8")


class PreparedDecision:
    """A validated decision with its personal content serialised, ready to store."""

    __slots__ = ("decision", "plaintext", "canonical", "pseudonym", "lookup")

    def __init__(self, decision: Decision, pseudonym: str | None) -> None:
        self.decision = decision
        self.pseudonym = pseudonym
        self.lookup = None if pseudonym is None else subject_lookup(decision.tenant, pseudonym)
        content = {
            "features": dict(decision.features),
            "explanation": decision.explanation.model_dump(mode="json"),
        }
        try:
            # The order of features and attributions is kept in the ciphertext (letters
            # list them in the model's order); the commitment uses the canonical form.
            self.plaintext = json.dumps(
                content, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode("utf-8")
            self.canonical = canonical_json({"decision_id": decision.decision_id, **content})
        except ValueError:
            raise InputError(
                f"decision {decision.decision_id!r} cannot be stored: its features or "
                "explanation hold NaN or an infinity, which JSON cannot keep"
            ) from None


def prepare(decision: Any, pseudonym: str | None) -> PreparedDecision:
    """Validate what :func:`record` needs, outside the write transaction."""
    if not isinstance(decision, Decision):
        raise InputError(f"record_decision takes a Decision; got {type(decision).__name__}")
    check_decision_id(decision.decision_id)
    check_tenant(decision.tenant)
    check_name(decision.model.name, "model")
    if decision.model.version is None:
        raise InputError(
            f"decision {decision.decision_id!r} names model {decision.model.name!r} without a "
            "version; a decision is made by one registered version (NAME@VERSION)"
        )
    if decision.created_at.tzinfo is None:
        raise InputError(
            f"decision {decision.decision_id!r}: created_at must be timezone-aware "
            "(for example datetime.now(UTC)); got a naive datetime"
        )
    if pseudonym is not None:
        check_pseudonym(pseudonym)
    return PreparedDecision(decision, pseudonym)


# -- the write and read paths ----------------------------------------------------------------


def _subject_key(session: Session, prepared: PreparedDecision) -> tuple[str, bytes]:
    """The subject's (key_id, salt): found by pseudonym, or created (with its pseudonym row)."""
    conn = session.connection()
    if prepared.lookup is not None:
        found = conn.execute(
            select(_KEYS.c.key_id, _KEYS.c.salt)
            .join(_SUBJECTS, _SUBJECTS.c.key_id == _KEYS.c.key_id)
            .where(_SUBJECTS.c.lookup == prepared.lookup)
        ).first()
        if found is not None:
            return found[0], bytes(found[1])
    key_id, salt, now = _privacy.new_key_id(), _privacy.new_salt(), _now()
    conn.execute(insert(_KEYS), {"key_id": key_id, "salt": salt, "created_at": now})
    if prepared.lookup is not None:
        conn.execute(
            insert(_SUBJECTS),
            {
                "lookup": prepared.lookup,
                "tenant": prepared.decision.tenant,
                "key_id": key_id,
                "created_at": now,
            },
        )
    return key_id, salt


def record(
    session: Session, head: AuditHeadRow, prepared: PreparedDecision, *, actor: str | None
) -> Decision:
    """Store ``prepared`` and append its ``decision.recorded`` event (the caller's transaction)."""
    decision = prepared.decision
    conn = session.connection()
    taken = conn.execute(
        select(_DECISIONS.c.decision_id).where(_DECISIONS.c.decision_id == decision.decision_id)
    ).first()
    if taken is not None:
        raise InputError(
            f"decision id {decision.decision_id!r} is already recorded; every decision needs "
            "a new id"
        )
    key_id, salt = _subject_key(session, prepared)
    model, version = decision.model.name, decision.model.version
    assert version is not None  # checked by prepare()
    nonce = _nonce()
    ciphertext = _aead(salt).encrypt(
        nonce,
        prepared.plaintext,
        _associated_data(decision.decision_id, decision.tenant, model, version, key_id),
    )
    explanation = decision.explanation
    event = _log.append_event(
        session,
        head,
        "decision.recorded",
        {
            "decision_id": decision.decision_id,
            "tenant": decision.tenant,
            "model": model,
            "version": version,
            "method": explanation.method,
            "reliable": explanation.reliable,
            "key_id": key_id,
            "content": _privacy.commit(prepared.canonical, salt),
            "ciphertext": "sha256:" + hashlib.sha256(nonce + ciphertext).hexdigest(),
            "encryption": ENCRYPTION_FORMAT,
        },
        actor=actor,
        subject=f"decision:{decision.decision_id}",
    )
    has_subject = prepared.pseudonym is not None
    conn.execute(
        insert(_DECISIONS),
        {
            "decision_id": decision.decision_id,
            "tenant": decision.tenant,
            "model_name": model,
            "model_version": version,
            "created_at": decision.created_at.astimezone(UTC),
            "has_subject": has_subject,
            "subject_key_id": key_id,
            "audit_sequence": event.sequence,
            "encryption": ENCRYPTION_FORMAT,
            "nonce": nonce,
            "ciphertext": ciphertext,
        },
    )
    return decision.model_copy(
        update={"audit_sequence": event.sequence, "has_subject": has_subject}
    )


def _nonce() -> bytes:
    return secrets.token_bytes(_NONCE_BYTES)


def _not_found(decision_id: Any) -> NotFoundError:
    # One message whether the id is unknown or another tenant's: existence is not revealed.
    return NotFoundError(f"no decision {_shown(decision_id)}")


def read(session: Session, decision_id: str, *, tenant: str | None) -> Decision:
    """The decision ``decision_id`` (of ``tenant`` when given), decrypted.

    A malformed id is simply not found (it cannot have been recorded).
    """
    if not isinstance(decision_id, str) or not _ID_RE.match(decision_id):
        raise _not_found(decision_id)
    conn = session.connection()
    row = conn.execute(select(_DECISIONS).where(_DECISIONS.c.decision_id == decision_id)).first()
    if row is None or (tenant is not None and row.tenant != tenant):
        raise _not_found(decision_id)
    salt = conn.execute(select(_KEYS.c.salt).where(_KEYS.c.key_id == row.subject_key_id)).scalar()
    if salt is None:
        raise ErasedError(
            f"decision {decision_id!r} was recorded, but its subject was erased: the personal "
            "data in it can no longer be read (the audit record remains)"
        )
    return _decrypt(row, bytes(salt))


def _decrypt(row: Any, salt: bytes) -> Decision:
    from cryptography.exceptions import InvalidTag

    if row.encryption != ENCRYPTION_FORMAT:
        raise StoreError(
            f"decision {row.decision_id!r} is stored in encryption format {row.encryption}, "
            f"which this govkit cannot read (it reads format {ENCRYPTION_FORMAT}); upgrade govkit"
        )
    data = _associated_data(
        row.decision_id, row.tenant, row.model_name, row.model_version, row.subject_key_id
    )
    try:
        plaintext = _aead(salt).decrypt(bytes(row.nonce), bytes(row.ciphertext), data)
    except InvalidTag:
        raise StoreError(
            f"decision {row.decision_id!r} failed its integrity check (AES-GCM "
            "authentication): its ciphertext, nonce or identifying columns were changed "
            "outside govkit, so it is not shown"
        ) from None
    content = json.loads(plaintext)
    return Decision.model_validate(
        {
            "decision_id": row.decision_id,
            "tenant": row.tenant,
            "model": {"name": row.model_name, "version": row.model_version},
            "created_at": _utc(row.created_at),
            "features": content["features"],
            "explanation": content["explanation"],
            "has_subject": bool(row.has_subject),
            "audit_sequence": row.audit_sequence,
        }
    )


def erase_by_pseudonym(
    session: Session, head: AuditHeadRow, pseudonym: str, *, tenant: str, actor: str | None
) -> int:
    """Crypto-shred a tenant's subject; returns how many of their decisions became unreadable."""
    conn = session.connection()
    lookup = subject_lookup(tenant, pseudonym)
    key_id = conn.execute(
        select(_SUBJECTS.c.key_id).where(_SUBJECTS.c.lookup == lookup, _SUBJECTS.c.tenant == tenant)
    ).scalar()
    if key_id is None:
        raise NotFoundError(
            f"tenant {tenant!r} has no such data subject (none recorded, or already erased)"
        )
    count = conn.execute(
        select(func.count()).select_from(_DECISIONS).where(_DECISIONS.c.subject_key_id == key_id)
    ).scalar_one()
    conn.execute(delete(_SUBJECTS).where(_SUBJECTS.c.lookup == lookup))
    conn.execute(delete(_KEYS).where(_KEYS.c.key_id == key_id))
    _log.append_event(
        session,
        head,
        "subject.erased",
        {"key_id": key_id, "tenant": tenant, "decisions": int(count)},
        actor=actor,
        subject=f"subject-key:{key_id}",
    )
    return int(count)
