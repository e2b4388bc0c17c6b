"""index_backlog: resources stored with their version row and search index deferred

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "index_backlog",
        sa.Column("rid", RID, primary_key=True, autoincrement=False),
        sa.Column("method", sa.String(8), nullable=True),
        sa.PrimaryKeyConstraint("rid", name="pk_index_backlog"),
    )


def downgrade() -> None:
    op.drop_table("index_backlog")
