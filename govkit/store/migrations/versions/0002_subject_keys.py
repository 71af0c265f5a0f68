"""Schema version 2: erasable subject salts, and a database id for signed checkpoints.

Revision ID: 0002
Revises: 0001
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_META = sa.table("govkit_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    op.create_table(
        "govkit_subject_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_govkit_subject_keys")),
    )
    op.bulk_insert(_META, [{"key": "database_id", "value": uuid.uuid4().hex}])
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value="2"))


def downgrade() -> None:
    op.execute(_META.delete().where(_META.c.key == "database_id"))
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value="1"))
    op.drop_table("govkit_subject_keys")
