"""Tables of the access gate: break-glass grants and their review queue."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from hub.store.schema import RID, metadata

break_glass = Table(
    "break_glass",
    metadata,
    Column("id", RID, primary_key=True, autoincrement=True),
    Column("client_id", String(128), nullable=False),
    Column("organization", String(128), nullable=True),
    Column("patient_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    #: open → justified | unjustified, closed by a privacy officer with a comment
    Column("review_status", String(16), nullable=False, default="open"),
    Column("reviewer", String(128), nullable=True),
    Column("review_comment", Text, nullable=True),
    Column("reviewed_at", BigInteger, nullable=True),
)
Index(
    "ix_break_glass_client",
    break_glass.c.client_id,
    break_glass.c.patient_id,
    break_glass.c.expires,
)
Index("ix_break_glass_review", break_glass.c.review_status, break_glass.c.created)
