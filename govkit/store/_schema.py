"""The audit store's tables (SQLModel), schema version 4.

Every table is prefixed ``govkit_`` so the store can share a PostgreSQL
database with other applications. The tables live in their own SQLAlchemy
registry and metadata, not ``SQLModel.metadata``, so creating them never
creates someone else's tables and vice versa. Constraint names follow a fixed
naming convention so a later Alembic migration can refer to them.

Records (datasets, model versions, policy results) are stored whole as JSON
(``model_dump(mode="json")``, read back with ``model_validate``); the other
columns are copies kept for queries and constraints.

Changing the schema: change the tables here, bump :data:`SCHEMA_VERSION`, add an
Alembic revision under ``govkit/store/migrations/versions/`` (its ``upgrade()``
sets ``schema_version`` in ``govkit_meta``) and set ``HEAD_REVISION`` in
:mod:`govkit.store._migrate`. The tests check that the migrations build exactly
these tables on SQLite and PostgreSQL and upgrade databases of every earlier
version.

Versions
    1. Registry, runs, check results, audit events and head marker.
    2. ``govkit_subject_keys`` (erasable per-subject salts for commitments) and a
       ``database_id`` in ``govkit_meta`` that signed checkpoints name.
    3. ``govkit_subjects`` (a tenant's pseudonymous subjects -> their key, by a
       hash of the pseudonym), ``govkit_decisions`` (per-decision explanations,
       encrypted under the subject's key) and ``govkit_api_keys`` (hashed API keys).
    4. Model lifecycle (``govkit_policy_bindings``, ``govkit_model_stages``,
       ``govkit_stage_history``, ``govkit_model_aliases``, ``govkit_approvals``) and
       observed outcomes of decisions (``govkit_outcomes``, encrypted like decisions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

__all__ = [
    "SCHEMA_VERSION",
    "METADATA",
    "MetaRow",
    "DatasetRow",
    "DatasetParentRow",
    "ModelVersionRow",
    "RunRow",
    "CheckResultRow",
    "AuditEventRow",
    "AuditHeadRow",
    "SubjectKeyRow",
    "SubjectRow",
    "DecisionRow",
    "ApiKeyRow",
    "PolicyBindingRow",
    "ModelStageRow",
    "StageHistoryRow",
    "ModelAliasRow",
    "ApprovalRow",
    "OutcomeRow",
]

#: Version of the table layout, stored in ``govkit_meta`` under ``schema_version``.
SCHEMA_VERSION = 5

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

METADATA = MetaData(naming_convention=_NAMING)

_NAME = 128  # dataset and model names: see govkit.records
_DIGEST = 80  # "sha256:" + 64 hex digits, with room for another algorithm
_HEX = 64


class _Table(SQLModel, registry=registry(metadata=METADATA)):
    """Base of the store's tables: own registry, so ``SQLModel.metadata`` stays untouched."""


class MetaRow(_Table, table=True):
    """Key/value facts about the database itself: ``schema_version``, ``audit_format``."""

    __tablename__ = "govkit_meta"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))


class DatasetRow(_Table, table=True):
    __tablename__ = "govkit_datasets"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        UniqueConstraint("name", "fingerprint"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(_NAME), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    fingerprint: str = Field(sa_column=Column(String(_DIGEST), nullable=False))
    order_independent: bool = Field(sa_column=Column(Boolean, nullable=False))
    row_count: int = Field(sa_column=Column(BigInteger, nullable=False))
    source_uri: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    transformation: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    record: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class DatasetParentRow(_Table, table=True):
    """One edge of the lineage graph: ``dataset_id`` was derived from ``parent_id``."""

    __tablename__ = "govkit_dataset_parents"
    __table_args__ = (UniqueConstraint("dataset_id", "parent_id"),)

    dataset_id: int = Field(
        sa_column=Column(Integer, ForeignKey("govkit_datasets.id"), primary_key=True)
    )
    position: int = Field(sa_column=Column(Integer, primary_key=True))
    parent_id: int = Field(
        sa_column=Column(Integer, ForeignKey("govkit_datasets.id"), nullable=False, index=True)
    )


class ModelVersionRow(_Table, table=True):
    __tablename__ = "govkit_model_versions"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(_NAME), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    artifact_uri: str = Field(sa_column=Column(Text, nullable=False))
    artifact_sha256: str = Field(sa_column=Column(String(_HEX), nullable=False))
    artifact_format: str = Field(sa_column=Column(String(32), nullable=False))
    flavour: str = Field(sa_column=Column(String(32), nullable=False))
    estimator: str = Field(sa_column=Column(Text, nullable=False))
    training_dataset_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("govkit_datasets.id"), nullable=True),
    )
    evaluation_dataset_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("govkit_datasets.id"), nullable=True),
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    record: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class RunRow(_Table, table=True):
    """One recorded policy run; ``result`` is the whole EvaluationResult as JSON."""

    __tablename__ = "govkit_runs"
    __table_args__ = (Index(None, "model_name", "model_version"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    # The audit event that recorded this run (its sequence number in govkit_audit_events).
    audit_sequence: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    model_name: str = Field(sa_column=Column(String(_NAME), nullable=False))
    model_version: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    policy_name: str = Field(sa_column=Column(Text, nullable=False))
    policy_digest: str = Field(sa_column=Column(String(_DIGEST), nullable=False))
    status: str = Field(sa_column=Column(String(8), nullable=False))
    data_fingerprint: str | None = Field(
        default=None, sa_column=Column(String(_DIGEST), nullable=True)
    )
    n_rows: int = Field(sa_column=Column(BigInteger, nullable=False))
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    recorded_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class CheckResultRow(_Table, table=True):
    """One CheckResult of a run, for queries; the full result is in ``govkit_runs.result``."""

    __tablename__ = "govkit_check_results"
    __table_args__ = (Index(None, "check_id", "status"),)

    run_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("govkit_runs.id", ondelete="CASCADE"), primary_key=True
        )
    )
    position: int = Field(sa_column=Column(Integer, primary_key=True))
    rule_id: str = Field(sa_column=Column(Text, nullable=False))
    check_id: str = Field(sa_column=Column(String(128), nullable=False))
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    severity: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(8), nullable=False))
    value: float | None = Field(default=None, sa_column=Column(Float, nullable=True))


class AuditEventRow(_Table, table=True):
    """One link of the hash chain; see :mod:`govkit.store._chain` for the encoding.

    ``sequence`` (primary key) and ``prev_hash`` are both unique: two writers
    that raced for the same head would collide on both, so the chain cannot fork.
    """

    __tablename__ = "govkit_audit_events"
    __table_args__ = (
        CheckConstraint("sequence >= 1", name="sequence_positive"),
        Index(None, "event_type"),
        Index(None, "subject"),
    )

    sequence: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    format: int = Field(sa_column=Column(Integer, nullable=False))
    ts: str = Field(sa_column=Column(String(40), nullable=False))  # the exact hashed text
    actor: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    event_type: str = Field(sa_column=Column(String(64), nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    payload: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON text
    payload_digest: str = Field(sa_column=Column(String(_DIGEST), nullable=False))
    prev_hash: str = Field(sa_column=Column(String(_HEX), nullable=False, unique=True))
    hash: str = Field(sa_column=Column(String(_HEX), nullable=False, unique=True))


class AuditHeadRow(_Table, table=True):
    """The one-row head marker: the last event's sequence and hash.

    Writers lock this row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
    ``BEGIN IMMEDIATE`` locks the whole file) so appends are serialised, and
    :meth:`Store.verify_chain` compares it with the last event.
    """

    __tablename__ = "govkit_audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    sequence: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(sa_column=Column(String(_HEX), nullable=False))


class SubjectKeyRow(_Table, table=True):
    """The secret salt behind one data subject's commitments (schema version 2).

    Not part of the hash chain and deliberately mutable: erasing the subject
    deletes the row, after which their commitments in the audit log can no
    longer be linked to any value. ``key_id`` is random, never personal data.
    """

    __tablename__ = "govkit_subject_keys"

    key_id: str = Field(sa_column=Column(String(32), primary_key=True))
    salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


_TENANT = 64  # tenant names: see govkit.store._decisions.check_tenant


class SubjectRow(_Table, table=True):
    """A tenant's data subject, found by a hash of their pseudonym (schema version 3).

    ``lookup`` is SHA-256 over the tenant and the pseudonym (itself a keyed HMAC
    made outside the database), so neither appears here. Deleting the subject's
    key deletes this row too (``ON DELETE CASCADE``): an erased person is
    forgotten, and a later decision about them starts a new subject.
    """

    __tablename__ = "govkit_subjects"

    lookup: str = Field(sa_column=Column(String(_HEX), primary_key=True))
    tenant: str = Field(sa_column=Column(String(_TENANT), nullable=False, index=True))
    key_id: str = Field(
        sa_column=Column(
            String(32),
            ForeignKey("govkit_subject_keys.key_id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        )
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class DecisionRow(_Table, table=True):
    """One recorded decision (schema version 3): personal content encrypted, the rest plain.

    ``ciphertext`` is AES-256-GCM under a key derived from the subject's salt
    (``govkit_subject_keys``); ``subject_key_id`` is deliberately not a foreign
    key: erasing the subject deletes the key and leaves this row unreadable.
    See :mod:`govkit.store._decisions`.
    """

    __tablename__ = "govkit_decisions"
    __table_args__ = (Index(None, "tenant", "created_at"),)

    decision_id: str = Field(sa_column=Column(String(64), primary_key=True))
    tenant: str = Field(sa_column=Column(String(_TENANT), nullable=False))
    model_name: str = Field(sa_column=Column(String(_NAME), nullable=False))
    model_version: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    has_subject: bool = Field(sa_column=Column(Boolean, nullable=False))
    subject_key_id: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    # The decision.recorded event (its sequence number in govkit_audit_events).
    audit_sequence: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    encryption: int = Field(sa_column=Column(Integer, nullable=False))  # format version
    nonce: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ApiKeyRow(_Table, table=True):
    """An HTTP API key (schema version 3): the SHA-256 of its secret, never the secret."""

    __tablename__ = "govkit_api_keys"

    key_id: str = Field(sa_column=Column(String(32), primary_key=True))
    secret_sha256: str = Field(sa_column=Column(String(_HEX), nullable=False))
    tenant: str = Field(sa_column=Column(String(_TENANT), nullable=False, index=True))
    scopes: str = Field(sa_column=Column(String(64), nullable=False))  # space-separated
    name: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


# -- schema version 4: model lifecycle and outcomes (see govkit.store._lifecycle) ----------

_STAGE = 16


class PolicyBindingRow(_Table, table=True):
    """The policy a model is bound to (the newest row of a model wins; history kept)."""

    __tablename__ = "govkit_policy_bindings"
    __table_args__ = (Index(None, "model_name"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    model_name: str = Field(sa_column=Column(String(_NAME), nullable=False))
    policy_name: str = Field(sa_column=Column(Text, nullable=False))
    policy_digest: str = Field(sa_column=Column(String(_DIGEST), nullable=False))
    approval_required: bool = Field(sa_column=Column(Boolean, nullable=False))
    approval_independent: bool = Field(sa_column=Column(Boolean, nullable=False))
    bound_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    bound_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    audit_sequence: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    # schema version 5: the policy's stage display names (stage id -> name); None: the ids
    stage_names: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ModelStageRow(_Table, table=True):
    """The current stage of a model version (no row: ``candidate``)."""

    __tablename__ = "govkit_model_stages"

    model_name: str = Field(sa_column=Column(String(_NAME), primary_key=True))
    model_version: int = Field(sa_column=Column(Integer, primary_key=True))
    stage: str = Field(sa_column=Column(String(_STAGE), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    audit_sequence: int = Field(sa_column=Column(BigInteger, nullable=False))


class StageHistoryRow(_Table, table=True):
    """One stage transition of a model version: from, to, who, when, why."""

    __tablename__ = "govkit_stage_history"
    __table_args__ = (Index(None, "model_name", "model_version"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    model_name: str = Field(sa_column=Column(String(_NAME), nullable=False))
    model_version: int = Field(sa_column=Column(Integer, nullable=False))
    from_stage: str = Field(sa_column=Column(String(_STAGE), nullable=False))
    to_stage: str = Field(sa_column=Column(String(_STAGE), nullable=False))
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    changed_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    audit_sequence: int = Field(sa_column=Column(BigInteger, nullable=False))


class ModelAliasRow(_Table, table=True):
    """An alias of a model (``production`` and any other name) and the version it serves."""

    __tablename__ = "govkit_model_aliases"

    model_name: str = Field(sa_column=Column(String(_NAME), primary_key=True))
    alias: str = Field(sa_column=Column(String(32), primary_key=True))
    model_version: int = Field(sa_column=Column(Integer, nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    audit_sequence: int = Field(sa_column=Column(BigInteger, nullable=False))


class ApprovalRow(_Table, table=True):
    """A sign-off of a model version by a named approver."""

    __tablename__ = "govkit_approvals"
    __table_args__ = (Index(None, "model_name", "model_version"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    model_name: str = Field(sa_column=Column(String(_NAME), nullable=False))
    model_version: int = Field(sa_column=Column(Integer, nullable=False))
    approver: str = Field(sa_column=Column(Text, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    approved_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    recorded_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    audit_sequence: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))


class OutcomeRow(_Table, table=True):
    """The observed outcome (label) of a recorded decision, encrypted like the decision."""

    __tablename__ = "govkit_outcomes"

    decision_id: str = Field(
        sa_column=Column(String(64), ForeignKey("govkit_decisions.decision_id"), primary_key=True)
    )
    tenant: str = Field(sa_column=Column(String(_TENANT), nullable=False))
    subject_key_id: str = Field(sa_column=Column(String(32), nullable=False))
    observed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    audit_sequence: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    encryption: int = Field(sa_column=Column(Integer, nullable=False))
    nonce: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
