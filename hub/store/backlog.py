"""The index backlog: the rows derived from a stored resource, written after its transaction.

Every interaction writes an AuditEvent, and its ~40 search index rows (BALP's agents,
entities, codes — ``hub.audit.index``) plus a second copy in ``resource_version`` cost more
than the read they record: each B-tree a transaction touches is a page written at commit. The
AuditEvent itself (its ``resource`` row) and its ledger entry still commit in the
interaction's own transaction — no access without its record, and the ledger entry holds the
record's SHA-256. What is derived from that row is deferred: ``Repository.create(index=
DEFERRED)`` writes the rid (and the version row's method) to ``index_backlog`` instead of the
version row and index rows, and :func:`catch_up` later writes them — the version row a copy of
the resource row (version 1: a deferred resource is never changed afterwards) — and removes
the rid, in batches that share pages and statements.

The guarantee readers need: **a search, history or vread that could return or reveal a
deferred type (:data:`DEFERRED_TYPES`) first catches the backlog up** (``hub.store.search``,
``Repository.vread``/``history`` and the gate's decisions for privacy officers call
:func:`ensure`), so it sees every record committed before it began. On SQLite a writing unit
catches up in its own transaction (it holds the one write lock); otherwise — PostgreSQL, or a
reading unit — in a short unit of its own that commits first, so no backlog lock is held
through the request. ``hub ledger verify`` catches up before it starts, and checks an entry
whose version row still waits against the resource row itself. A resource of a deferred type
is never changed through the API; should one be (``Repository.update``/``delete``), its own
waiting rows are written first.

Between searches, :class:`BacklogIndexer` — a daemon thread per process, started on demand
like the WAL checkpointer — indexes the backlog when the process has been quiet for a moment,
or, traffic or not, once :data:`MAX_WAITING` records wait in the database (down to half of
it), so a search rarely has much to do and the requests rarely wait for it.

Concurrency: catching up takes the backlog rows it indexes with ``SELECT … FOR UPDATE`` on
PostgreSQL (the background thread with ``SKIP LOCKED``; a search waits, so it sees the other
catch-up's rows once that commits), and SQLite's ``BEGIN IMMEDIATE`` serialises writers.
Indexing is idempotent: a rid's old rows are removed before its rows are written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, Engine

from hub.fhir.canonical import loads
from hub.fhir.indexing import IndexRows, index_resource
from hub.fhir.searchparams import SearchParamRegistry, default_registry
from hub.store import repository as repo_mod
from hub.store import statements as stm
from hub.store.db import Database, shareable
from hub.store.threads import OnDemandThread

log = logging.getLogger(__name__)

DEFERRED_TYPES = repo_mod.DEFERRED_TYPES
"""Resource types written with ``index=DEFERRED`` (``hub.audit.recorder``)."""

BATCH = 500
"""Rids indexed per statement batch (and per background transaction)."""

MAX_WAITING = 10_000
"""Backlog size (in the database) at which a thread indexes even while writes go on — down
to half of it — so a search never has more than about this many to write first."""

CAP_CHECK = 1.0
"""Seconds between a waiting thread's looks at the backlog's size."""

Indexer = Callable[[dict[str, Any], SearchParamRegistry], IndexRows | None]

INDEXERS: dict[str, Indexer] = {}
"""Per type, a faster indexer giving the same rows as ``index_resource`` (or None: use it);
``hub.audit.index`` registers the AuditEvent one."""

INDEXER_OPTION = "hub_backlog_indexer"
"""Engine attribute holding the engine's :class:`BacklogIndexer` (``install``)."""

_PENDING_SQL = (
    "SELECT b.rid, b.method, r.res_type, r.res_id, r.version_id, r.last_updated, r.deleted,"
    " r.content FROM index_backlog b"
)
_PENDING_JOIN = " LEFT JOIN resource r ON r.rid = b.rid"
_VERSION_SQL = stm.VERSION_SQL + " ON CONFLICT (res_type, res_id, version_id) DO NOTHING"


def _pending_sql(dialect: str, limit: int, wait: bool, rid: int | None = None) -> str:
    only = f" WHERE b.rid = {int(rid)}" if rid is not None else ""
    sql = f"{_PENDING_SQL}{_PENDING_JOIN}{only} ORDER BY b.rid LIMIT {int(limit)}"
    if dialect == "postgresql":
        sql += " FOR UPDATE OF b" + ("" if wait else " SKIP LOCKED")
    return sql


def _rows(res_type: str, resource: dict[str, Any], registry: SearchParamRegistry) -> IndexRows:
    fast = INDEXERS.get(res_type)
    rows = fast(resource, registry) if fast is not None else None
    return rows if rows is not None else index_resource(resource, registry)


def catch_up(
    conn: Connection,
    registry: SearchParamRegistry | None = None,
    *,
    limit: int | None = None,
    wait: bool = True,
    rid: int | None = None,
) -> int:
    """Index backlogged resources in the caller's transaction, oldest first, until the
    backlog is empty (or ``limit`` rids are done; or, ``rid``, just that one); return how
    many were indexed. ``wait=False`` (PostgreSQL): skip rows another catch-up holds instead
    of waiting."""
    registry = registry or default_registry()
    dialect = conn.dialect.name
    done = 0
    while limit is None or done < limit:
        size = BATCH if limit is None else min(BATCH, limit - done)
        pending = stm.raw_rows(conn, _pending_sql(dialect, size, wait, rid), ())
        if not pending:
            break
        rids = [int(p[0]) for p in pending]
        versions: list[tuple[Any, ...]] = []
        statements: dict[str, list[tuple[Any, ...]]] = {}
        # (not ``rid``: that is the parameter the next batch's query is built from)
        for each, method, res_type, res_id, version, stamp, deleted, content in pending:
            if res_type is None:
                continue  # the resource row is gone: nothing to write
            if method is not None and int(version) == 1:  # its (first and only) version row
                versions.append((each, res_type, res_id, 1, stamp, method, deleted, content))
            if content is None or deleted:
                continue  # deleted since: nothing to index
            rows = _rows(str(res_type), loads(bytes(content)), registry)
            for sql, values in stm.index_statements(int(each), str(res_type), rows, []):
                statements.setdefault(sql, []).extend(values)
        stm.unindex_rids(conn, rids)
        stm.execute(conn, [(_VERSION_SQL, versions)] if versions else [])
        stm.execute_bulk(conn, list(statements.items()))
        marks = ", ".join("?" * len(rids))
        stm.execute(conn, [(f"DELETE FROM index_backlog WHERE rid IN ({marks})", [tuple(rids)])])
        done += len(rids)
        if len(pending) < size:
            break
    return done


def _involves(types: Iterable[str | None]) -> bool:
    return any(t is None or t in DEFERRED_TYPES for t in types)


def ensure(
    conn: Connection, types: Iterable[str | None], registry: SearchParamRegistry | None = None
) -> int:
    """Before a search or decision over ``types`` (None: any type): if one of them is
    deferred, catch the backlog up (module docstring); return how many were indexed.

    Where: in ``conn``'s own transaction only on SQLite when it is a writing unit (it holds
    the one write lock already, so another unit would wait for it forever). Otherwise in a
    short unit of its own that commits first — on PostgreSQL the caller's next statement
    (READ COMMITTED) sees its rows, the backlog row locks are not held through the caller's
    request (no lock-order cycle with its ledger append, nothing lost if it rolls back); on
    SQLite a reading unit that has not read yet takes its snapshot after. Once per
    transaction: what it has seen of the backlog began before it."""
    if not _involves(types):
        return 0
    tx = conn.get_transaction()
    if tx is not None and conn.info.get(_CAUGHT_UP) is tx:
        return 0  # once per transaction: a search's pages, its includes and the gate's checks
    done = _ensure(conn, registry)
    if tx is not None:
        conn.info[_CAUGHT_UP] = tx
    return done


_CAUGHT_UP = "hub_backlog_caught_up"
"""``conn.info`` key: the transaction that has caught the backlog up already."""


def _ensure(conn: Connection, registry: SearchParamRegistry | None) -> int:
    sqlite = conn.dialect.name == "sqlite"
    if (sqlite and conn.get_execution_options().get("hub_write")) or not shareable(conn):
        return catch_up(conn, registry)
    with Database(conn.engine).unit(write=True) as own:
        return catch_up(own, registry)


def backlog_size(conn: Connection) -> int:
    return int(stm.raw_rows(conn, "SELECT count(*) FROM index_backlog", ())[0][0])


def waiting_ledgered(conn: Connection, types: Iterable[str]) -> int:
    """Resources of ``types`` whose version row still waits (``hub ledger verify``)."""
    names = sorted(set(types))
    marks = ", ".join("?" * len(names))
    sql = (
        "SELECT count(*) FROM index_backlog b JOIN resource r ON r.rid = b.rid"
        f" WHERE b.method IS NOT NULL AND r.version_id = 1 AND r.res_type IN ({marks})"
    )
    return int(stm.raw_rows(conn, sql, names)[0][0])


def drain(
    engine: Engine,
    registry: SearchParamRegistry | None = None,
    *,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Catch up in transactions of :data:`BATCH` rids (each committed) until the backlog is
    empty or ``stop()`` says so between two; return how many were done."""
    db, total = Database(engine), 0
    while True:
        with db.unit(write=True) as conn:
            n = catch_up(conn, registry, limit=BATCH, wait=False)
        total += n
        if n < BATCH or (stop is not None and stop()):
            return total


# -- the background thread ----------------------------------------------------------------------


class BacklogIndexer(OnDemandThread):
    """A daemon thread that catches the backlog up once this process has had ``delay``
    seconds without a deferred write — or, writes or not, once :data:`MAX_WAITING` wait in
    the database — in transactions of :data:`BATCH` rids, stopping between batches when
    writes resume (and fewer than half the cap wait). Indexing when the hub is quiet keeps it
    off the requests' way (on SQLite each batch holds the one write lock); the cap bounds
    what a search may have to write first.

    ``notify()`` (each deferred write) starts it on demand in the current process — again
    after a fork, or after it ended for lack of writes (``idle`` seconds;
    ``hub.store.threads``). Errors are logged, never raised: a search still catches up itself.
    """

    name = "hub-index-backlog"

    def __init__(
        self,
        engine: Engine,
        registry: SearchParamRegistry | None = None,
        *,
        delay: float = 1.0,
        idle: float = 30.0,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.delay = delay
        self.idle = idle
        super().__init__()
        self.indexed = 0
        self.passes = 0
        self._last = 0.0  # time.monotonic() of the last notify

    def notify(self) -> None:
        """A resource was stored with its rows deferred: make sure a pass follows."""
        self._last = time.monotonic()
        super().notify()

    def _quiet_for(self) -> float:
        """Seconds left before this process counts as quiet (0: quiet now)."""
        return max(0.0, self.delay - (time.monotonic() - self._last))

    def _waiting(self) -> int:
        """The backlog's size in the database (every process's deferred writes)."""
        with Database(self.engine).unit(write=False) as conn:
            return backlog_size(conn)

    def run_pass(self, *, yielding: bool = False) -> int:
        """Catch up in transactions of :data:`BATCH` rids until the backlog is empty — or,
        ``yielding``, until writes resume in this process while fewer than half of
        :data:`MAX_WAITING` wait (so under steady traffic the backlog stays under the cap)."""

        def stop() -> bool:
            if self._halt.is_set():
                return True
            return yielding and self._quiet_for() > 0 and self._waiting() < MAX_WAITING // 2

        total = drain(self.engine, self.registry, stop=stop)
        self.indexed += total
        self.passes += 1
        return total

    def _run(self) -> None:
        try:
            while not self._halt.is_set():
                if not self._wake.wait(self.idle):
                    if self._idle_end():  # the next write starts another
                        return
                    continue
                # until this process has been quiet for ``delay``, or the backlog is full
                while (left := self._quiet_for()) > 0 and not self._halt.is_set():
                    if self._waiting() >= MAX_WAITING:
                        break
                    self._halt.wait(min(left, CAP_CHECK))
                if self._halt.is_set():
                    break
                self._wake.clear()
                try:
                    self.run_pass(yielding=True)
                except Exception as exc:  # logged; searches catch up themselves
                    log.warning("index backlog pass failed: %s", type(exc).__name__)
        finally:
            self._ended()


def install(engine: Engine, indexer: BacklogIndexer | None) -> None:
    """Make deferred writes on ``engine`` notify ``indexer`` (None: no background thread)."""
    engine.update_execution_options(**{INDEXER_OPTION: indexer})


def indexer_of(conn_or_engine: Connection | Engine) -> BacklogIndexer | None:
    found = conn_or_engine.get_execution_options().get(INDEXER_OPTION)
    return found if isinstance(found, BacklogIndexer) else None
