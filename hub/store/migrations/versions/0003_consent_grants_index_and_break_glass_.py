"""consent grants index and break-glass grants

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:41:53.263773
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "break_glass",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("organization", sa.String(length=128), nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.Column("review_status", sa.String(length=16), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass")),
    )
    with op.batch_alter_table("break_glass", schema=None) as batch_op:
        batch_op.create_index(
            "ix_break_glass_client", ["client_id", "patient_id", "expires"], unique=False
        )
        batch_op.create_index("ix_break_glass_review", ["review_status", "created"], unique=False)

    op.create_table(
        "idx_consent_grant",
        sa.Column("rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.String(length=256), nullable=False),
        sa.Column("date", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("low", sa.BigInteger(), nullable=False),
        sa.Column("high", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("idx_consent_grant", schema=None) as batch_op:
        batch_op.create_index("ix_grant_actor", ["actor", "purpose", "kind"], unique=False)
        batch_op.create_index("ix_grant_patient", ["patient_id", "policy", "kind"], unique=False)
        batch_op.create_index("ix_grant_rid", ["rid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idx_consent_grant", schema=None) as batch_op:
        batch_op.drop_index("ix_grant_rid")
        batch_op.drop_index("ix_grant_patient")
        batch_op.drop_index("ix_grant_actor")

    op.drop_table("idx_consent_grant")
    with op.batch_alter_table("break_glass", schema=None) as batch_op:
        batch_op.drop_index("ix_break_glass_review")
        batch_op.drop_index("ix_break_glass_client")

    op.drop_table("break_glass")
