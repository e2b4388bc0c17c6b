"""oauth clients, tokens, jti and initial access tokens (hub.auth.schema, issue 3)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:34:16.472337
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "oauth_client",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("jwks", sa.Text(), nullable=True),
        sa.Column("jwks_uri", sa.String(length=1024), nullable=True),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        sa.Column("privacy_officer", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_oauth_client")),
    )
    op.create_table(
        "oauth_initial_token",
        sa.Column("token_id", RID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.Column("used_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_oauth_initial_token")),
        sa.UniqueConstraint("token_hash", name="uq_oauth_initial_token_hash"),
    )
    op.create_table(
        "oauth_jti",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("client_id", "jti", name="uq_oauth_jti"),
    )
    op.create_index("ix_oauth_jti_expires", "oauth_jti", ["expires_at"], unique=False)
    op.create_table(
        "oauth_token",
        sa.Column("token_id", RID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("purpose_of_use", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_oauth_token")),
        sa.UniqueConstraint("token_hash", name="uq_oauth_token_hash"),
    )
    op.create_index("ix_oauth_token_client", "oauth_token", ["client_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_oauth_token_client", table_name="oauth_token")
    op.drop_table("oauth_token")
    op.drop_index("ix_oauth_jti_expires", table_name="oauth_jti")
    op.drop_table("oauth_jti")
    op.drop_table("oauth_initial_token")
    op.drop_table("oauth_client")
