"""Observed outcomes of recorded decisions; reading a window of decisions to monitor, and
everything recorded about one subject (an access request, :func:`read_subject`).

An outcome (the label observed later: repaid or not) is personal data like the decision
it belongs to: it is encrypted with AES-256-GCM under the same subject's key (the
associated data names the decision, tenant and key, and says "outcome", so it cannot be
swapped with a decision's ciphertext). The ``decision.outcome_recorded`` event holds the
decision id, tenant, key id and a salted commitment to the outcome, never the outcome.
Recording an outcome again replaces it (the event says so). Erasing the subject makes
the outcome unreadable together with the decision.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from govkit.decisions import Decision, JsonScalar, SubjectRecords
from govkit.exceptions import ErasedError, InputError, NotFoundError, StoreError
from govkit.records import INT64_MAX, INT64_MIN
from govkit.store import _decisions, _log, _privacy
from govkit.store._chain import canonical_json
from govkit.store._schema import AuditHeadRow, DecisionRow, OutcomeRow, SubjectKeyRow

__all__ = ["check_outcome", "record", "Window", "read_window"]

_FORMAT = 1
_OUTCOMES = OutcomeRow.__table__  # type: ignore[attr-defined]
_DECISIONS = DecisionRow.__table__  # type: ignore[attr-defined]
_KEYS = SubjectKeyRow.__table__  # type: ignore[attr-defined]
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


def check_outcome(value: Any) -> JsonScalar:
    """A whole number, boolean or short string; InputError (without the value) otherwise."""
    if isinstance(value, bool) or (isinstance(value, int) and INT64_MIN <= value <= INT64_MAX):
        return value
    if isinstance(value, str) and 0 < len(value) <= 200:
        return value
    raise InputError(
        "an outcome must be a whole number, a boolean or a string of 1-200 characters "
        f"(got {type(value).__name__})"
    )


def _associated(decision_id: str, tenant: str, key_id: str) -> bytes:
    return canonical_json(
        {
            "format": _FORMAT,
            "kind": "outcome",
            "decision_id": decision_id,
            "tenant": tenant,
            "key_id": key_id,
        }
    ).encode("utf-8")


def record(
    session: Session,
    head: AuditHeadRow,
    *,
    decision_id: str,
    tenant: str | None,
    outcome: JsonScalar,
    actor: str | None,
) -> bool:
    """Store the outcome of ``decision_id`` (of ``tenant``) and its event; True if replaced."""
    if not isinstance(decision_id, str) or not _ID_RE.match(decision_id):
        raise NotFoundError("no such decision")
    conn = session.connection()
    row = conn.execute(select(_DECISIONS).where(_DECISIONS.c.decision_id == decision_id)).first()
    if row is None or (tenant is not None and row.tenant != tenant):
        raise NotFoundError(f"no decision {decision_id!r}")
    salt = conn.execute(select(_KEYS.c.salt).where(_KEYS.c.key_id == row.subject_key_id)).scalar()
    if salt is None:
        raise ErasedError(f"decision {decision_id!r}: its subject was erased")
    plaintext = canonical_json({"outcome": outcome})
    nonce = _decisions._nonce()
    ciphertext = _decisions._aead(bytes(salt)).encrypt(
        nonce, plaintext.encode("utf-8"), _associated(decision_id, row.tenant, row.subject_key_id)
    )
    existing = session.get(OutcomeRow, decision_id)
    event = _log.append_event(
        session,
        head,
        "decision.outcome_recorded",
        {
            "decision_id": decision_id,
            "tenant": row.tenant,
            "key_id": row.subject_key_id,
            "outcome": _privacy.commit(plaintext, bytes(salt)),
            "replaced": existing is not None,
        },
        actor=actor,
        subject=f"decision:{decision_id}",
    )
    now = _log.now()
    if existing is None:
        existing = OutcomeRow(
            decision_id=decision_id,
            tenant=row.tenant,
            subject_key_id=row.subject_key_id,
            observed_at=now,
            recorded_at=now,
            audit_sequence=event.sequence,
            encryption=_FORMAT,
            nonce=nonce,
            ciphertext=ciphertext,
        )
        replaced = False
    else:
        existing.recorded_at, existing.audit_sequence = now, event.sequence
        existing.nonce, existing.ciphertext = nonce, ciphertext
        replaced = True
    session.add(existing)
    return replaced


@dataclass(frozen=True)
class Window:
    """The decisions of a model in a time window, decrypted, with their outcomes."""

    decisions: list[Decision]
    outcomes: dict[str, JsonScalar]  # decision id -> observed outcome
    erased: int  # decisions in the window whose subject was erased (excluded)


def read_window(
    session: Session,
    *,
    model: str,
    versions: Sequence[int] | None,
    since: datetime,
    until: datetime,
) -> Window:
    """Decrypt every decision of ``model`` made in ``[since, until)`` and its outcome."""
    conn = session.connection()
    joined = _with_outcomes(
        _DECISIONS.outerjoin(_KEYS, _KEYS.c.key_id == _DECISIONS.c.subject_key_id)
    )
    stmt = select(_DECISIONS, _KEYS.c.salt, *_OUTCOME_COLUMNS).select_from(joined)
    stmt = stmt.where(
        _DECISIONS.c.model_name == model,
        _DECISIONS.c.created_at >= since.astimezone(UTC),
        _DECISIONS.c.created_at < until.astimezone(UTC),
    )
    if versions is not None:
        stmt = stmt.where(_DECISIONS.c.model_version.in_(list(versions)))
    decisions: list[Decision] = []
    outcomes: dict[str, JsonScalar] = {}
    erased = 0
    for row in conn.execute(stmt.order_by(_DECISIONS.c.created_at)).all():
        if row.salt is None:
            erased += 1
            continue
        salt = bytes(row.salt)
        decisions.append(_decisions._decrypt(row, salt))
        found, outcome = _outcome_of(row, salt)
        if found:
            outcomes[row.decision_id] = outcome
    return Window(decisions=decisions, outcomes=outcomes, erased=erased)


#: the outcome's columns beside a decision row's (see :func:`_with_outcomes`)
_OUTCOME_COLUMNS = (
    _OUTCOMES.c.nonce.label("outcome_nonce"),
    _OUTCOMES.c.ciphertext.label("outcome_ciphertext"),
)


def _with_outcomes(decisions: Any) -> Any:
    """``decisions`` (a FROM clause holding the decisions table) with each decision's
    outcome, if any: one query for a window of decisions, not one more per decision."""
    return decisions.outerjoin(_OUTCOMES, _OUTCOMES.c.decision_id == _DECISIONS.c.decision_id)


def _outcome_of(row: Any, salt: bytes) -> tuple[bool, JsonScalar]:
    """(True, the outcome) observed for decision ``row`` (read with :data:`_OUTCOME_COLUMNS`),
    decrypted; (False, None) if none."""
    from cryptography.exceptions import InvalidTag

    if row.outcome_nonce is None:
        return False, None
    try:
        plain = _decisions._aead(salt).decrypt(
            bytes(row.outcome_nonce),
            bytes(row.outcome_ciphertext),
            _associated(row.decision_id, row.tenant, row.subject_key_id),
        )
    except InvalidTag:
        raise StoreError(
            f"the outcome of decision {row.decision_id!r} failed its integrity check; "
            "it was changed outside govkit"
        ) from None
    return True, json.loads(plain)["outcome"]


def read_subject(
    session: Session, head: AuditHeadRow, pseudonym: str, *, tenant: str, actor: str | None
) -> SubjectRecords:
    """A tenant's subject's decisions, newest first, and their outcomes, decrypted (an
    access request).

    Records ``subject.accessed`` naming only the subject's random ``key_id`` and how many
    decisions were given out, so the log shows when a person's data was disclosed and to
    whom. A decision or outcome failing its integrity check fails the whole request
    (StoreError): an access request must not come back silently incomplete.
    """
    conn = session.connection()
    _, key_id = _decisions._subject_key_id(conn, pseudonym, tenant)
    salt = conn.execute(select(_KEYS.c.salt).where(_KEYS.c.key_id == key_id)).scalar()
    if salt is None:  # the key went without its pseudonym row: erased all the same
        raise NotFoundError(
            f"tenant {tenant!r} has no such data subject (none recorded, or already erased)"
        )
    rows = conn.execute(
        select(_DECISIONS, *_OUTCOME_COLUMNS)
        .select_from(_with_outcomes(_DECISIONS))
        .where(_DECISIONS.c.subject_key_id == key_id, _DECISIONS.c.tenant == tenant)
        .order_by(_DECISIONS.c.created_at.desc(), _DECISIONS.c.decision_id)
    ).all()
    decisions = tuple(_decisions._decrypt(row, bytes(salt)) for row in rows)
    outcomes: dict[str, JsonScalar] = {}
    for row in rows:
        found, outcome = _outcome_of(row, bytes(salt))
        if found:
            outcomes[row.decision_id] = outcome
    _decisions._subject_event(
        session, head, "subject.accessed", key_id, tenant, len(decisions), actor
    )
    return SubjectRecords(decisions=decisions, outcomes=outcomes)
