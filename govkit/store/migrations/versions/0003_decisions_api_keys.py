"""Schema version 3: per-decision explanations (encrypted), tenants' subjects, hashed API keys.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_META = sa.table("govkit_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    op.create_table(
        "govkit_subjects",
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["govkit_subject_keys.key_id"],
            name=op.f("fk_govkit_subjects_key_id_govkit_subject_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lookup", name=op.f("pk_govkit_subjects")),
        sa.UniqueConstraint("key_id", name=op.f("uq_govkit_subjects_key_id")),
    )
    op.create_index(op.f("ix_govkit_subjects_tenant"), "govkit_subjects", ["tenant"])
    op.create_table(
        "govkit_decisions",
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("has_subject", sa.Boolean(), nullable=False),
        sa.Column("subject_key_id", sa.String(length=32), nullable=False),
        sa.Column("audit_sequence", sa.BigInteger(), nullable=False),
        sa.Column("encryption", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_govkit_decisions")),
        sa.UniqueConstraint("audit_sequence", name=op.f("uq_govkit_decisions_audit_sequence")),
    )
    op.create_index(
        op.f("ix_govkit_decisions_tenant_created_at"),
        "govkit_decisions",
        ["tenant", "created_at"],
    )
    op.create_index(
        op.f("ix_govkit_decisions_subject_key_id"), "govkit_decisions", ["subject_key_id"]
    )
    op.create_table(
        "govkit_api_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_govkit_api_keys")),
    )
    op.create_index(op.f("ix_govkit_api_keys_tenant"), "govkit_api_keys", ["tenant"])
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value="3"))


def downgrade() -> None:
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value="2"))
    op.drop_table("govkit_api_keys")
    op.drop_table("govkit_decisions")
    op.drop_table("govkit_subjects")
