"""Schema version 5: a policy binding records the policy's lifecycle stage names.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_META = sa.table("govkit_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    # nullable: bindings made before keep None (the stage ids are their names)
    op.add_column("govkit_policy_bindings", sa.Column("stage_names", sa.JSON(), nullable=True))
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value="5"))


def downgrade() -> None:
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value="4"))
    with op.batch_alter_table("govkit_policy_bindings") as batch:
        batch.drop_column("stage_names")
