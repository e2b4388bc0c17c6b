"""fewer B-trees per audited interaction: SQLite ledger rowid keys, partial author index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 17:30:00.000000

Every audited interaction commits one page per B-tree it touched, so each index it need not
touch is a page less per request (``bench.audit_cost``):

* SQLite: ``ledger_entry.idx`` becomes ``INTEGER PRIMARY KEY`` — the table's own rowid, no
  separate primary-key index — and ``ledger_node`` a ``WITHOUT ROWID`` table clustered on its
  primary key ``(level, idx)``. (PostgreSQL keeps its heap and primary-key B-trees.)
* Both: ``ix_resource_author`` only holds rows that have an author (partial index): the
  gate's author rule looks up ``author = :org``, never NULL, and AuditEvents (the hub is their
  author) have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ENTRY = (
    "CREATE TABLE ledger_entry (idx INTEGER NOT NULL, kind VARCHAR(16) NOT NULL,"
    " ref VARCHAR(256) NOT NULL, entry BLOB NOT NULL, leaf_hash BLOB NOT NULL,"
    " created BIGINT NOT NULL, CONSTRAINT pk_ledger_entry PRIMARY KEY (idx))"
)
_ENTRY_OLD = _ENTRY.replace("idx INTEGER NOT NULL", "idx BIGINT NOT NULL")
_NODE = (
    "CREATE TABLE ledger_node (level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BLOB NOT NULL,"
    " CONSTRAINT pk_ledger_node PRIMARY KEY (level, idx)) WITHOUT ROWID"
)
_NODE_OLD = _NODE.replace(" WITHOUT ROWID", "")


def _rebuild(table: str, create: str, index: str | None) -> None:
    op.execute(f"ALTER TABLE {table} RENAME TO _old_{table}")
    if index:
        op.execute(f"DROP INDEX IF EXISTS {index}")
    op.execute(create)
    op.execute(f"INSERT INTO {table} SELECT * FROM _old_{table}")
    op.execute(f"DROP TABLE _old_{table}")
    if index:
        op.execute(f"CREATE INDEX {index} ON {table} (ref)")


def _author_index(partial: bool) -> None:
    op.drop_index("ix_resource_author", table_name="resource")
    if partial:
        cond = sa.text("author IS NOT NULL")
        op.create_index(
            "ix_resource_author", "resource", ["author"], sqlite_where=cond, postgresql_where=cond
        )
    else:
        op.create_index("ix_resource_author", "resource", ["author"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("ledger_entry", _ENTRY, "ix_ledger_entry_ref")
        _rebuild("ledger_node", _NODE, None)
    _author_index(True)


def downgrade() -> None:
    _author_index(False)
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("ledger_node", _NODE_OLD, None)
        _rebuild("ledger_entry", _ENTRY_OLD, "ix_ledger_entry_ref")
