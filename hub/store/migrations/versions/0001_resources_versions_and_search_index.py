"""resources, versions and search index

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:37:02.287752
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idx_compartment",
        sa.Column("rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
    )
    with op.batch_alter_table("idx_compartment", schema=None) as batch_op:
        batch_op.create_index("ix_compartment_patient", ["patient_id", "res_type"], unique=False)
        batch_op.create_index("ix_compartment_rid", ["rid"], unique=False)

    op.create_table(
        "idx_date",
        sa.Column("rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("low", sa.BigInteger(), nullable=False),
        sa.Column("high", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("idx_date", schema=None) as batch_op:
        batch_op.create_index("ix_date_high", ["res_type", "code", "high"], unique=False)
        batch_op.create_index("ix_date_low", ["res_type", "code", "low"], unique=False)
        batch_op.create_index("ix_date_rid", ["rid"], unique=False)

    op.create_table(
        "idx_reference",
        sa.Column("rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=256), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
    )
    with op.batch_alter_table("idx_reference", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reference_lookup", ["res_type", "code", "target_id", "target_type"], unique=False
        )
        batch_op.create_index("ix_reference_rid", ["rid"], unique=False)
        batch_op.create_index("ix_reference_target", ["target_type", "target_id"], unique=False)

    op.create_table(
        "idx_string",
        sa.Column("rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("exact", sa.String(length=512), nullable=False),
    )
    with op.batch_alter_table("idx_string", schema=None) as batch_op:
        batch_op.create_index("ix_string_lookup", ["res_type", "code", "value"], unique=False)
        batch_op.create_index("ix_string_rid", ["rid"], unique=False)
    if op.get_bind().dialect.name == "postgresql":  # starts-with search on any collation
        op.create_index(
            "ix_string_prefix",
            "idx_string",
            ["res_type", "code", "value"],
            postgresql_ops={"value": "varchar_pattern_ops"},
        )

    op.create_table(
        "idx_token",
        sa.Column("rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=256), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("text", sa.String(length=512), nullable=False),
    )
    with op.batch_alter_table("idx_token", schema=None) as batch_op:
        batch_op.create_index("ix_token_lookup", ["res_type", "code", "value"], unique=False)
        batch_op.create_index("ix_token_rid", ["rid"], unique=False)

    op.create_table(
        "resource",
        sa.Column(
            "rid",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("res_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("author", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("rid", name=op.f("pk_resource")),
        sa.UniqueConstraint("res_type", "res_id", name="uq_resource_type_id"),
    )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.create_index(
            "ix_resource_type_updated", ["res_type", "last_updated"], unique=False
        )

    op.create_table(
        "resource_version",
        sa.Column(
            "vid",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("res_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("vid", name=op.f("pk_resource_version")),
        sa.UniqueConstraint("res_type", "res_id", "version_id", name="uq_resource_version"),
    )
    with op.batch_alter_table("resource_version", schema=None) as batch_op:
        batch_op.create_index("ix_version_type_updated", ["res_type", "last_updated"], unique=False)
        batch_op.create_index("ix_version_updated", ["last_updated"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("resource_version", schema=None) as batch_op:
        batch_op.drop_index("ix_version_updated")
        batch_op.drop_index("ix_version_type_updated")

    op.drop_table("resource_version")
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.drop_index("ix_resource_type_updated")

    op.drop_table("resource")
    with op.batch_alter_table("idx_token", schema=None) as batch_op:
        batch_op.drop_index("ix_token_rid")
        batch_op.drop_index("ix_token_lookup")

    op.drop_table("idx_token")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_string_prefix", table_name="idx_string")
    with op.batch_alter_table("idx_string", schema=None) as batch_op:
        batch_op.drop_index("ix_string_rid")
        batch_op.drop_index("ix_string_lookup")

    op.drop_table("idx_string")
    with op.batch_alter_table("idx_reference", schema=None) as batch_op:
        batch_op.drop_index("ix_reference_target")
        batch_op.drop_index("ix_reference_rid")
        batch_op.drop_index("ix_reference_lookup")

    op.drop_table("idx_reference")
    with op.batch_alter_table("idx_date", schema=None) as batch_op:
        batch_op.drop_index("ix_date_rid")
        batch_op.drop_index("ix_date_low")
        batch_op.drop_index("ix_date_high")

    op.drop_table("idx_date")
    with op.batch_alter_table("idx_compartment", schema=None) as batch_op:
        batch_op.drop_index("ix_compartment_rid")
        batch_op.drop_index("ix_compartment_patient")

    op.drop_table("idx_compartment")
