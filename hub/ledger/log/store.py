"""The ledger in the database: appends, checkpoints and proofs (issue 5; RFC 9162 §2.1).

``append`` runs inside the caller's transaction — the one that writes the AuditEvent or the
Consent version it records — so the entry commits with it or not at all, and if the append
fails the interaction fails. It locks ``ledger_state`` (on PostgreSQL ``SELECT … FOR UPDATE``
inside the ``hub_ledger_append`` function; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), so concurrent processes and hosts append one at a time: indexes are
consecutive and unique, and there is one tree (no forks). Each append writes the entry, the
perfect-subtree nodes it completes (≤ log2(n) + 1 rows, 2 on average) and the new frontier;
every ``checkpoint_every`` entries, and on the first append once the newest checkpoint is
``checkpoint_seconds`` old, it also signs a checkpoint.

Proofs read only stored nodes: ``hub.ledger.merkle`` asks for O(log n) nodes, whose ids do not
depend on their values, so they are collected in a dry run and fetched in one query.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from hub.ledger.checkpoint import Checkpoint
from hub.ledger.hasher import EMPTY_ROOT, HASH_SIZE, leaf_hash
from hub.ledger.log.entries import ACCESS, CONSENT, leaf_bytes
from hub.ledger.log.keys import LedgerConfig, default_config
from hub.ledger.log.schema import ledger_checkpoint, ledger_entry, ledger_node, ledger_state
from hub.ledger.merkle import (
    Frontier,
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from hub.ledger.merkle import append as merkle_append
from hub.store.records import StoredResource, now_micros

CONFIG_OPTION = "hub_ledger"
"""Engine execution option carrying the app's ``LedgerConfig`` (``install``)."""


class LedgerError(ValueError):
    """A request the ledger cannot answer; ``status`` 400 (bad ``param``) or 404."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param


def install(engine: Engine, config: LedgerConfig) -> None:
    """Make every connection of ``engine`` append with ``config`` (key, checkpoint interval)."""
    engine.update_execution_options(**{CONFIG_OPTION: config})


def config_of(conn: Connection) -> LedgerConfig:
    config = conn.get_execution_options().get(CONFIG_OPTION)
    return config if isinstance(config, LedgerConfig) else default_config()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- state and append --------------------------------------------------------------------------


def _set_bits_descending(n: int) -> list[int]:
    return [b for b in range(n.bit_length() - 1, -1, -1) if n >> b & 1]


def frontier_from(size: int, blob: bytes) -> Frontier:
    """The frontier the state row stores: one hash per set bit of ``size``, highest level
    first (``Frontier``). Read on every append: its levels are right by construction, so
    only the blob's length is checked (ValueError), not each hash again."""
    levels = _set_bits_descending(size)
    if size < 0 or len(blob) != HASH_SIZE * len(levels):
        raise ValueError(f"a frontier of size {size} is not {len(blob)} bytes")
    hashes = [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]
    return Frontier._unchecked(size, tuple(zip(levels, hashes, strict=True)))


def _state_query(lock: bool) -> Any:
    q = select(ledger_state.c.size, ledger_state.c.frontier).where(ledger_state.c.id == 1)
    return q.with_for_update() if lock else q


def lock_state(conn: Connection) -> Frontier:
    """The current frontier, with the state row locked until the transaction ends."""
    row = conn.execute(_state_query(True)).first()
    if row is None:  # a fresh (or emptied) database: create the row, racing safely
        make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            make(ledger_state)
            .values(id=1, size=0, root=EMPTY_ROOT, frontier=b"", base_vid=0)
            .on_conflict_do_nothing()
        )
        row = conn.execute(_state_query(True)).one()
    return frontier_from(int(row.size), bytes(row.frontier))


def current_frontier(conn: Connection) -> Frontier:
    row = conn.execute(_state_query(False)).first()
    return frontier_from(int(row.size), bytes(row.frontier)) if row else Frontier()


_LOCK_SQL = {
    "postgresql": "SELECT size, frontier FROM ledger_state WHERE id = 1 FOR UPDATE",
    "sqlite": "SELECT size, frontier FROM ledger_state WHERE id = 1",  # BEGIN IMMEDIATE locks
}
_ENTRY_SQL = (
    "INSERT INTO ledger_entry (idx, kind, ref, entry, leaf_hash, created) VALUES (?, ?, ?, ?, ?, ?)"
)
_STATE_SQL = "UPDATE ledger_state SET size = ?, root = ?, frontier = ? WHERE id = 1"
_NEWEST_SQL = (
    "SELECT COALESCE((SELECT created FROM ledger_checkpoint ORDER BY id DESC LIMIT 1), "
    "(SELECT created FROM ledger_entry WHERE idx = 0))"
)


def _nodes_sql(count: int) -> str:
    return "INSERT INTO ledger_node (level, idx, hash) VALUES " + ", ".join(["(?, ?, ?)"] * count)


#: PostgreSQL: the whole append in one statement (migration 0007's ``hub_ledger_append``: lock
#: the state row, extend the frontier, write the entry, its nodes and the new state).
_PG_APPEND_SQL = (
    "SELECT entry_idx, new_size, new_frontier, new_root"
    " FROM hub_ledger_append(%s::varchar, %s::varchar, %s::bytea, %s::bytea, %s::bigint)"
)


def _blob(frontier: Frontier) -> bytes:
    return b"".join(x for _, x in frontier.nodes)


def append(conn: Connection, kind: str, ref: str, content: bytes | None) -> int:
    """Append one entry in the caller's transaction; return its index (module docstring).

    Raw DB-API statements on the transaction's own connection, no ORM or statement compiling.
    PostgreSQL: one statement, ``hub_ledger_append`` (migration 0007), which takes the state
    row lock (``FOR UPDATE``: concurrent appenders queue on it, held until each commits) and
    does the RFC 9162 §2.1.1 frontier update on the server. SQLite (``BEGIN IMMEDIATE``
    already serialises writers): four short statements, the tree update in Python
    (``hub.ledger.merkle.append``). No checkpoint look-up either, except when a time
    checkpoint may be due (:func:`_time_due`).
    """
    config = config_of(conn)
    if not conn.in_transaction():
        conn.begin()
    now = now_micros()
    data = leaf_bytes(kind, ref, content, now)
    h = leaf_hash(data)
    entry_params = (kind, ref, data, h, now)
    cur = conn.connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            cur.execute(_PG_APPEND_SQL, entry_params)
            row = cur.fetchone()
            if row is None:  # the function always returns its row
                raise RuntimeError("hub_ledger_append returned nothing")
            new = frontier_from(int(row[1]), bytes(row[2]))
        else:
            cur.execute(_LOCK_SQL.get(conn.dialect.name, _LOCK_SQL["postgresql"]))
            row = cur.fetchone()
            frontier = frontier_from(int(row[0]), bytes(row[1])) if row else lock_state(conn)
            new, nodes = merkle_append(frontier, h)
            node_params = tuple(v for n in nodes for v in (n.level, n.index, n.hash))
            cur.execute(_ENTRY_SQL, (frontier.size, *entry_params))
            cur.execute(_nodes_sql(len(nodes)), node_params)
            cur.execute(_STATE_SQL, (new.size, new.root(), _blob(new)))
        every, seconds = config.checkpoint_every, config.checkpoint_seconds
        if (every and new.size % every == 0) or (seconds and _time_due(cur, config, now)):
            _sign(conn, config, new, now)
    finally:
        cur.close()
    return new.size - 1


def _time_due(cur: Any, config: LedgerConfig, now: int) -> bool:
    """Whether the newest checkpoint (or, before the first, the first entry) is at least
    ``checkpoint_seconds`` old. The newest checkpoint time this process has seen is kept in
    ``config``; checkpoints only get newer, so the database is asked only once it says "due"."""
    period = config.checkpoint_seconds * 1_000_000
    seen = config.newest_checkpoint.get("time")
    if seen is not None and now - seen < period:
        return False
    cur.execute(_NEWEST_SQL)
    row = cur.fetchone()
    newest = int(row[0]) if row and row[0] is not None else now
    config.newest_checkpoint["time"] = newest
    return now - newest >= period


def version_ref(stored: StoredResource) -> str:
    return f"{stored.res_type}/{stored.res_id}/_history/{stored.version_id}"


def record_access(conn: Connection, stored: StoredResource) -> int:
    """The 'access' entry of an AuditEvent just written (``hub.audit.recorder.write``)."""
    return append(conn, ACCESS, version_ref(stored), stored.content)


def record_consent(conn: Connection, stored: StoredResource) -> int:
    """The 'consent' entry of a Consent version just written (create, update or delete)."""
    return append(conn, CONSENT, version_ref(stored), stored.content)


# -- checkpoints --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    size: int
    root: bytes
    created: int
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "root": b64(self.root), "time": self.created, "note": self.note}


def _sign(conn: Connection, config: LedgerConfig, frontier: Frontier, now: int) -> CheckpointRow:
    root = frontier.root()
    note = config.sign(Checkpoint(config.origin, frontier.size, root, now))
    conn.execute(
        insert(ledger_checkpoint).values(size=frontier.size, root=root, created=now, note=note)
    )
    config.newest_checkpoint["time"] = now
    return CheckpointRow(frontier.size, root, now, note)


def make_checkpoint(conn: Connection, config: LedgerConfig | None = None) -> CheckpointRow:
    """Sign the current tree head now (on demand); in a writing unit."""
    return _sign(conn, config or config_of(conn), lock_state(conn), now_micros())


_CP = (ledger_checkpoint.c.size, ledger_checkpoint.c.root, ledger_checkpoint.c.created)


def _cp(row: Any) -> CheckpointRow:
    return CheckpointRow(int(row.size), bytes(row.root), int(row.created), str(row.note))


def checkpoints(conn: Connection) -> list[CheckpointRow]:
    """Every stored checkpoint, oldest first."""
    rows = conn.execute(
        select(*_CP, ledger_checkpoint.c.note).order_by(ledger_checkpoint.c.id)
    ).all()
    return [_cp(r) for r in rows]


def latest_checkpoint(conn: Connection, size: int | None = None) -> CheckpointRow | None:
    """The newest checkpoint (of exactly ``size`` leaves, if given)."""
    q = select(*_CP, ledger_checkpoint.c.note).order_by(ledger_checkpoint.c.id.desc()).limit(1)
    if size is not None:
        q = q.where(ledger_checkpoint.c.size == size)
    row = conn.execute(q).first()
    return _cp(row) if row else None


# -- entries and proofs -------------------------------------------------------------------------


def entry(conn: Connection, index: int) -> dict[str, Any]:
    e = ledger_entry.c
    row = conn.execute(select(ledger_entry).where(e.idx == index)).first()
    if row is None:
        raise LedgerError(f"no ledger entry {index}", status=404, param="index")
    return {
        "index": int(row.idx),
        "kind": row.kind,
        "ref": row.ref,
        "entry": bytes(row.entry).decode("utf-8"),
        "leaf_hash": b64(bytes(row.leaf_hash)),
        "created": int(row.created),
    }


def _getter(conn: Connection, run: Any) -> Any:
    """Run ``run(get_node)`` twice: a dry run noting the node ids, then over one fetch."""
    wanted: list[tuple[int, int]] = []

    def dry(level: int, index: int) -> bytes:
        wanted.append((level, index))
        return EMPTY_ROOT

    run(dry)
    found: dict[tuple[int, int], bytes] = {}
    n = ledger_node.c
    for i in range(0, len(wanted), 200):
        chunk = wanted[i : i + 200]
        rows = conn.execute(
            select(n.level, n.idx, n.hash).where(
                or_(*(and_(n.level == lv, n.idx == ix) for lv, ix in chunk))
            )
        ).all()
        found.update({(int(r.level), int(r.idx)): bytes(r.hash) for r in rows})

    def get(level: int, index: int) -> bytes:
        if (level, index) not in found:
            raise LedgerError(f"ledger node ({level}, {index}) is missing", status=500)
        return found[level, index]

    return run(get)


def root_at(conn: Connection, size: int) -> bytes:
    """MTH of the first ``size`` entries, from popcount(size) stored nodes."""
    result: bytes = _getter(conn, lambda get: Frontier.load(size, get).root())
    return result


def _size_or_latest(conn: Connection, size: int | None, param: str) -> tuple[int, str | None]:
    current = current_frontier(conn).size
    if size is None:
        cp = latest_checkpoint(conn)
        if cp is None:
            raise LedgerError(
                "no checkpoint yet: give the tree size, or make one (POST /ledger/checkpoint, "
                "hub ledger checkpoint)",
                status=404,
                param=param,
            )
        return cp.size, cp.note
    if not 0 <= size <= current:
        raise LedgerError(f"{param}={size} is outside the log (size {current})", param=param)
    cp = latest_checkpoint(conn, size)
    return size, cp.note if cp else None


def inclusion(conn: Connection, index: int, size: int | None = None) -> dict[str, Any]:
    """PATH(index, D[size]) (RFC 9162 §2.1.3.1), checked, with the entry and tree head.

    ``size`` defaults to the latest checkpoint's; the checkpoint note is included when one
    was signed at that size, otherwise ``checkpoint`` is null and only the root is given.
    """
    size, note = _size_or_latest(conn, size, "size")
    if not 0 <= index < size:
        raise LedgerError(f"index {index} is not in the tree of size {size}", param="index")
    item = entry(conn, index)
    proof: list[bytes] = _getter(conn, lambda get: inclusion_proof(index, size, get))
    root = root_at(conn, size)
    verify_inclusion(index, size, base64.b64decode(item["leaf_hash"]), proof, root)
    return {
        "index": index,
        "size": size,
        "entry": item,
        "leaf_hash": item["leaf_hash"],
        "proof": [b64(p) for p in proof],
        "root": b64(root),
        "checkpoint": note,
    }


def consistency(conn: Connection, size1: int, size2: int | None = None) -> dict[str, Any]:
    """PROOF(size1, D[size2]) (RFC 9162 §2.1.4.1), checked, with both tree heads."""
    size2, note2 = _size_or_latest(conn, size2, "to")
    if not 0 <= size1 <= size2:
        raise LedgerError(f"from={size1} must be between 0 and to={size2}", param="from")
    proof: list[bytes] = _getter(conn, lambda get: consistency_proof(size1, size2, get))
    root1, root2 = root_at(conn, size1), root_at(conn, size2)
    verify_consistency(size1, size2, root1, root2, proof)
    cp1 = latest_checkpoint(conn, size1)
    return {
        "from": size1,
        "to": size2,
        "proof": [b64(p) for p in proof],
        "root_from": b64(root1),
        "root_to": b64(root2),
        "checkpoint_from": cp1.note if cp1 else None,
        "checkpoint_to": note2,
    }


def counts(conn: Connection) -> dict[str, int]:
    e = ledger_entry.c
    rows = conn.execute(select(e.kind, func.count()).group_by(e.kind)).all()
    return {str(k): int(c) for k, c in rows}


def node_ranges(begin: int, end: int, top: int) -> Any:
    """SQL condition: the nodes completed while appending leaves [begin, end).

    Node (L, j) is completed by leaf ((j + 1) << L) - 1, so for each level L the indexes are
    ceil((begin + 1) / 2^L) - 1 ≤ j < end >> L.
    """
    n = ledger_node.c
    parts = []
    for level in range(top + 1):
        lo, hi = ((begin + (1 << level)) >> level) - 1, end >> level
        if lo < hi:
            parts.append(and_(n.level == level, n.idx >= lo, n.idx < hi))
    return or_(*parts) if parts else n.level < 0
