"""Schema version 4: model lifecycle (policy bindings, stages, aliases, approvals), outcomes.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_META = sa.table("govkit_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def _when(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "govkit_policy_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("policy_name", sa.Text(), nullable=False),
        sa.Column("policy_digest", sa.String(length=80), nullable=False),
        sa.Column("approval_required", sa.Boolean(), nullable=False),
        sa.Column("approval_independent", sa.Boolean(), nullable=False),
        _when("bound_at"),
        sa.Column("bound_by", sa.Text(), nullable=True),
        sa.Column("audit_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_govkit_policy_bindings")),
        sa.UniqueConstraint(
            "audit_sequence", name=op.f("uq_govkit_policy_bindings_audit_sequence")
        ),
    )
    op.create_index(
        op.f("ix_govkit_policy_bindings_model_name"), "govkit_policy_bindings", ["model_name"]
    )
    op.create_table(
        "govkit_model_stages",
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        _when("updated_at"),
        sa.Column("audit_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("model_name", "model_version", name=op.f("pk_govkit_model_stages")),
    )
    op.create_table(
        "govkit_stage_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(length=16), nullable=False),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        _when("changed_at"),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("audit_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_govkit_stage_history")),
    )
    op.create_index(
        op.f("ix_govkit_stage_history_model_name_model_version"),
        "govkit_stage_history",
        ["model_name", "model_version"],
    )
    op.create_table(
        "govkit_model_aliases",
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("alias", sa.String(length=32), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        _when("updated_at"),
        sa.Column("audit_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("model_name", "alias", name=op.f("pk_govkit_model_aliases")),
    )
    op.create_table(
        "govkit_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("approver", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _when("approved_at"),
        sa.Column("recorded_by", sa.Text(), nullable=True),
        sa.Column("audit_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_govkit_approvals")),
        sa.UniqueConstraint("audit_sequence", name=op.f("uq_govkit_approvals_audit_sequence")),
    )
    op.create_index(
        op.f("ix_govkit_approvals_model_name_model_version"),
        "govkit_approvals",
        ["model_name", "model_version"],
    )
    op.create_table(
        "govkit_outcomes",
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("subject_key_id", sa.String(length=32), nullable=False),
        _when("observed_at"),
        _when("recorded_at"),
        sa.Column("audit_sequence", sa.BigInteger(), nullable=False),
        sa.Column("encryption", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["govkit_decisions.decision_id"],
            name=op.f("fk_govkit_outcomes_decision_id_govkit_decisions"),
        ),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_govkit_outcomes")),
        sa.UniqueConstraint("audit_sequence", name=op.f("uq_govkit_outcomes_audit_sequence")),
    )
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value="4"))


def downgrade() -> None:
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value="3"))
    for table in (
        "govkit_outcomes",
        "govkit_approvals",
        "govkit_model_aliases",
        "govkit_stage_history",
        "govkit_model_stages",
        "govkit_policy_bindings",
    ):
        op.drop_table(table)
