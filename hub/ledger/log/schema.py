"""The ledger's tables (SQLAlchemy Core, on the hub's shared ``metadata``; migration 0004).

* ``ledger_entry`` — leaf ``idx`` (0, 1, 2, …): the canonical leaf bytes and their RFC 9162
  leaf hash, plus ``kind``/``ref`` copied out of the bytes for look-ups.
* ``ledger_node`` — the hash of every complete (perfect) subtree ``(level, idx)``, level 0
  included, written as entries are appended (``hub.ledger.merkle.append`` returns them), so
  that inclusion and consistency proofs at any size are O(log n) primary-key reads.
* ``ledger_state`` — one row (``id`` = 1): the tree size and its frontier. Every append locks
  it (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
  writers), which is what keeps indexes gap-free and unique across processes and hosts.
* ``ledger_checkpoint`` — every signed checkpoint (C2SP signed note) the hub has made.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, String, Table, Text

from hub.store.schema import metadata

ledger_entry = Table(
    "ledger_entry",
    metadata,
    #: SQLite: INTEGER, the rowid itself (no separate key index; migration 0008)
    Column(
        "idx", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("kind", String(16), nullable=False),  # access | consent
    Column("ref", String(256), nullable=False, index=True),  # "AuditEvent/<id>/_history/1"
    Column("entry", LargeBinary, nullable=False),  # canonical JSON leaf bytes
    Column("leaf_hash", LargeBinary, nullable=False),  # SHA-256(0x00 ‖ entry)
    Column("created", BigInteger, nullable=False),  # µs since the Unix epoch
)

ledger_node = Table(
    "ledger_node",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
    sqlite_with_rowid=False,  # clustered on (level, idx): one B-tree (migration 0008)
)

ledger_state = Table(
    "ledger_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    #: the frontier: concatenated 32-byte hashes, one per set bit of ``size``, highest first
    Column("frontier", LargeBinary, nullable=False),
    #: resource versions with ``vid`` ≤ this predate the ledger (set by migration 0004)
    Column("base_vid", BigInteger, nullable=False),
)

ledger_checkpoint = Table(
    "ledger_checkpoint",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("size", BigInteger, nullable=False, index=True),
    Column("root", LargeBinary, nullable=False),
    Column("created", BigInteger, nullable=False),  # µs, the checkpoint's timestamp
    Column("note", Text, nullable=False),  # the signed note
)
