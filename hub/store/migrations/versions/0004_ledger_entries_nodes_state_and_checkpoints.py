"""ledger: entries, stored Merkle nodes, state and signed checkpoints (issue 5)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entry",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=256), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_entry")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entry_ref"), ["ref"], unique=False)

    op.create_table(
        "ledger_node",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_ledger_node")),
    )
    state = op.create_table(
        "ledger_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("base_vid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_state")),
    )
    op.create_table(
        "ledger_checkpoint",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoint")),
    )
    with op.batch_alter_table("ledger_checkpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_checkpoint_size"), ["size"], unique=False)

    # The empty tree (root = SHA-256 of nothing); AuditEvent and Consent versions written
    # before this revision (vid ≤ base_vid) predate the ledger and are not in it.
    base = op.get_bind().execute(sa.text("SELECT COALESCE(MAX(vid), 0) FROM resource_version"))
    op.bulk_insert(
        state,
        [
            {
                "id": 1,
                "size": 0,
                "root": bytes.fromhex(
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                ),
                "frontier": b"",
                "base_vid": int(base.scalar_one()),
            }
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("ledger_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_checkpoint_size"))
    op.drop_table("ledger_checkpoint")
    op.drop_table("ledger_state")
    op.drop_table("ledger_node")
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry_ref"))
    op.drop_table("ledger_entry")
