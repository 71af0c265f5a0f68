"""Schema version 1: registry, policy runs, check results, the audit log and its head marker.

Exactly the tables govkit 0.1 created with ``METADATA.create_all`` (the tests compare
them); databases made that way are stamped with this revision by ``govkit db upgrade``.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.create_table(
        "govkit_audit_events",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("format", sa.Integer(), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_digest", sa.String(length=80), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_govkit_audit_events_sequence_positive")),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_govkit_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_govkit_audit_events_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_govkit_audit_events_prev_hash")),
    )
    op.create_index(
        op.f("ix_govkit_audit_events_event_type"), "govkit_audit_events", ["event_type"]
    )
    op.create_index(op.f("ix_govkit_audit_events_subject"), "govkit_audit_events", ["subject"])
    head = op.create_table(
        "govkit_audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_govkit_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_govkit_audit_head")),
    )
    op.create_table(
        "govkit_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=80), nullable=False),
        sa.Column("order_independent", sa.Boolean(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("source_uri", sa.Text(), nullable=True),
        sa.Column("transformation", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_govkit_datasets_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_govkit_datasets")),
        sa.UniqueConstraint(
            "name", "fingerprint", name=op.f("uq_govkit_datasets_name_fingerprint")
        ),
        sa.UniqueConstraint("name", "version", name=op.f("uq_govkit_datasets_name_version")),
    )
    meta = op.create_table(
        "govkit_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_govkit_meta")),
    )
    op.create_table(
        "govkit_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_sequence", sa.BigInteger(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("policy_name", sa.Text(), nullable=False),
        sa.Column("policy_digest", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("data_fingerprint", sa.String(length=80), nullable=True),
        sa.Column("n_rows", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_govkit_runs")),
        sa.UniqueConstraint("audit_sequence", name=op.f("uq_govkit_runs_audit_sequence")),
    )
    op.create_index(
        op.f("ix_govkit_runs_model_name_model_version"),
        "govkit_runs",
        ["model_name", "model_version"],
    )
    op.create_table(
        "govkit_check_results",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("check_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["govkit_runs.id"],
            name=op.f("fk_govkit_check_results_run_id_govkit_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "position", name=op.f("pk_govkit_check_results")),
    )
    op.create_index(
        op.f("ix_govkit_check_results_check_id_status"),
        "govkit_check_results",
        ["check_id", "status"],
    )
    op.create_table(
        "govkit_dataset_parents",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["govkit_datasets.id"],
            name=op.f("fk_govkit_dataset_parents_dataset_id_govkit_datasets"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["govkit_datasets.id"],
            name=op.f("fk_govkit_dataset_parents_parent_id_govkit_datasets"),
        ),
        sa.PrimaryKeyConstraint("dataset_id", "position", name=op.f("pk_govkit_dataset_parents")),
        sa.UniqueConstraint(
            "dataset_id", "parent_id", name=op.f("uq_govkit_dataset_parents_dataset_id_parent_id")
        ),
    )
    op.create_index(
        op.f("ix_govkit_dataset_parents_parent_id"), "govkit_dataset_parents", ["parent_id"]
    )
    op.create_table(
        "govkit_model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("artifact_uri", sa.Text(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("artifact_format", sa.String(length=32), nullable=False),
        sa.Column("flavour", sa.String(length=32), nullable=False),
        sa.Column("estimator", sa.Text(), nullable=False),
        sa.Column("training_dataset_id", sa.Integer(), nullable=True),
        sa.Column("evaluation_dataset_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_govkit_model_versions_version_positive")),
        sa.ForeignKeyConstraint(
            ["evaluation_dataset_id"],
            ["govkit_datasets.id"],
            name=op.f("fk_govkit_model_versions_evaluation_dataset_id_govkit_datasets"),
        ),
        sa.ForeignKeyConstraint(
            ["training_dataset_id"],
            ["govkit_datasets.id"],
            name=op.f("fk_govkit_model_versions_training_dataset_id_govkit_datasets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_govkit_model_versions")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_govkit_model_versions_name_version")),
    )
    op.bulk_insert(
        meta,
        [{"key": "schema_version", "value": "1"}, {"key": "audit_format", "value": "1"}],
    )
    op.bulk_insert(head, [{"id": 1, "sequence": 0, "hash": GENESIS_HASH}])


def downgrade() -> None:
    raise NotImplementedError("the audit store's first schema cannot be downgraded")
