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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, func, select
from sqlmodel import Session

from govkit.decisions import Decision, DecisionExplanation, JsonScalar
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
    "Recorder",
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


class _RawSQL:
    """The write path's statements in one driver's parameter style (``?`` or ``%s``)."""

    def __init__(self, marker: str) -> None:
        def values(count: int) -> str:
            return ", ".join([marker] * count)

        self.taken = f"SELECT 1 FROM govkit_decisions WHERE decision_id = {marker}"
        self.subject = (
            "SELECT k.key_id, k.salt FROM govkit_subject_keys AS k JOIN govkit_subjects AS s "
            f"ON s.key_id = k.key_id WHERE s.lookup = {marker}"
        )
        self.insert_key = (
            f"INSERT INTO govkit_subject_keys (key_id, salt, created_at) VALUES ({values(3)})"
        )
        self.insert_subject = (
            f"INSERT INTO govkit_subjects (lookup, tenant, key_id, created_at) VALUES ({values(4)})"
        )
        self.insert_decision = (
            "INSERT INTO govkit_decisions (decision_id, tenant, model_name, model_version, "
            "created_at, has_subject, subject_key_id, audit_sequence, encryption, nonce, "
            f"ciphertext) VALUES ({values(11)})"
        )


_SQLITE = _RawSQL("?")
_POSTGRES = _RawSQL("%s")


def _sqlite_time(moment: datetime) -> str:
    """A time as SQLAlchemy stores ``DateTime`` in SQLite: the UTC fields, no offset."""
    t = moment.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}"
    )


def _subject_key(
    cursor: Any, sql: _RawSQL, stamp: Callable[[datetime], Any], prepared: PreparedDecision
) -> tuple[str, bytes]:
    """The subject's (key_id, salt): found by pseudonym, or created (with its pseudonym row)."""
    if prepared.lookup is not None:
        cursor.execute(sql.subject, (prepared.lookup,))
        found = cursor.fetchone()
        if found is not None:
            return found[0], bytes(found[1])
    key_id, salt, now = _privacy.new_key_id(), _privacy.new_salt(), stamp(_now())
    cursor.execute(sql.insert_key, (key_id, salt, now))
    if prepared.lookup is not None:
        cursor.execute(sql.insert_subject, (prepared.lookup, prepared.decision.tenant, key_id, now))
    return key_id, salt


class Recorder:
    """Stores one prepared decision inside :func:`govkit.store._log.append_raw`'s transaction.

    Called (as ``extra``) once the audit head is locked and checked, on the same
    driver cursor: refuses a decision id already taken, finds or creates the
    subject, encrypts the content under the subject's key, inserts the row
    (its ``audit_sequence`` is the sequence its event will get) and returns the
    ``decision.recorded`` event to append. Afterwards :meth:`result` is the
    decision as stored.
    """

    def __init__(self, prepared: PreparedDecision, *, postgres: bool) -> None:
        self._prepared = prepared
        self._sql = _POSTGRES if postgres else _SQLITE
        self._stamp: Callable[[datetime], Any] = (
            (lambda moment: moment.astimezone(UTC)) if postgres else _sqlite_time
        )
        self._sequence: int | None = None

    def __call__(self, cursor: Any, sequence: int) -> list[_log.EncodedEvent]:
        prepared, sql = self._prepared, self._sql
        decision = prepared.decision
        cursor.execute(sql.taken, (decision.decision_id,))
        if cursor.fetchone() is not None:
            raise InputError(
                f"decision id {decision.decision_id!r} is already recorded; every decision "
                "needs a new id"
            )
        key_id, salt = _subject_key(cursor, sql, self._stamp, prepared)
        model, version = decision.model.name, decision.model.version
        assert version is not None  # checked by prepare()
        nonce = _nonce()
        ciphertext = _aead(salt).encrypt(
            nonce,
            prepared.plaintext,
            _associated_data(decision.decision_id, decision.tenant, model, version, key_id),
        )
        cursor.execute(
            sql.insert_decision,
            (
                decision.decision_id,
                decision.tenant,
                model,
                version,
                self._stamp(decision.created_at),
                prepared.pseudonym is not None,
                key_id,
                sequence,
                ENCRYPTION_FORMAT,
                nonce,
                ciphertext,
            ),
        )
        explanation = decision.explanation
        event = _log.NewEvent(
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
            f"decision:{decision.decision_id}",
        )
        encoded = _log.encode_events([event])
        self._sequence = sequence
        return encoded

    def result(self) -> Decision:
        """The decision with ``audit_sequence`` and ``has_subject`` set (after the commit)."""
        assert self._sequence is not None, "the decision was not recorded"
        return self._prepared.decision.model_copy(
            update={
                "audit_sequence": self._sequence,
                "has_subject": self._prepared.pseudonym is not None,
            }
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


class _Content(BaseModel):
    """A decision's decrypted content (format 1): parsed and validated in one pass, twice
    as fast as ``json.loads`` and then validating (the values come out the same, down to
    -0.0, 5e-324 and integers beyond 64 bits)."""

    model_config = ConfigDict(extra="ignore")

    features: dict[str, JsonScalar]
    explanation: DecisionExplanation


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
    content = _Content.model_validate_json(plaintext)
    return Decision.model_validate(
        {
            "decision_id": row.decision_id,
            "tenant": row.tenant,
            "model": {"name": row.model_name, "version": row.model_version},
            "created_at": _log.stored_time(row.created_at),
            "features": content.features,
            "explanation": content.explanation,
            "has_subject": bool(row.has_subject),
            "audit_sequence": row.audit_sequence,
        }
    )


def _subject_key_id(conn: Any, pseudonym: str, tenant: str) -> tuple[str, str]:
    """(lookup, key_id) of a tenant's subject; NotFoundError when there is none (any more)."""
    lookup = subject_lookup(tenant, pseudonym)
    key_id = conn.execute(
        select(_SUBJECTS.c.key_id).where(_SUBJECTS.c.lookup == lookup, _SUBJECTS.c.tenant == tenant)
    ).scalar()
    if key_id is None:
        raise NotFoundError(
            f"tenant {tenant!r} has no such data subject (none recorded, or already erased)"
        )
    return lookup, str(key_id)


def _subject_event(
    session: Session,
    head: AuditHeadRow,
    event_type: str,
    key_id: str,
    tenant: str,
    decisions: int,
    actor: str | None,
) -> None:
    """An event about a subject, naming only their random key id: no personal data."""
    _log.append_event(
        session,
        head,
        event_type,
        {"key_id": key_id, "tenant": tenant, "decisions": decisions},
        actor=actor,
        subject=f"subject-key:{key_id}",
    )


def erase_by_pseudonym(
    session: Session, head: AuditHeadRow, pseudonym: str, *, tenant: str, actor: str | None
) -> int:
    """Crypto-shred a tenant's subject; returns how many of their decisions became unreadable."""
    conn = session.connection()
    lookup, key_id = _subject_key_id(conn, pseudonym, tenant)
    count = conn.execute(
        select(func.count()).select_from(_DECISIONS).where(_DECISIONS.c.subject_key_id == key_id)
    ).scalar_one()
    conn.execute(delete(_SUBJECTS).where(_SUBJECTS.c.lookup == lookup))
    conn.execute(delete(_KEYS).where(_KEYS.c.key_id == key_id))
    _subject_event(session, head, "subject.erased", key_id, tenant, int(count), actor)
    return int(count)
