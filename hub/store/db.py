"""Engine and units of work.

A unit of work is one database transaction: every interaction (and every entry-set of a
transaction Bundle) runs in exactly one, so the resource, its history row, its search index
— and later the audit record and ledger entry — commit together or not at all.

SQLite: WAL journal, a busy timeout, and ``BEGIN IMMEDIATE`` for writing units so that two
writers serialise at the start instead of failing at commit. ``synchronous=NORMAL`` (the
hub's durability choice, https://www.sqlite.org/pragma.html#pragma_synchronous): in WAL mode a
commit is not fsynced, only checkpoints are; the database never corrupts, and a crash of the
hub loses nothing, but a power loss or OS crash may roll back the last transactions (each
whole: a write never survives without its AuditEvent and ledger entry; a read already answered
may lose its record). PostgreSQL keeps its own ``synchronous_commit`` (on by default).

WAL checkpoints (https://www.sqlite.org/wal.html#ckpt) run off the request path: SQLite's
automatic checkpoint runs inside the ``COMMIT`` of whichever request pushes the WAL past
``wal_autocheckpoint`` pages (default 1000, about every 20 audited reads, 5–40 ms each with
its two fsyncs). Here each file database gets a :class:`WalCheckpointer`: a background thread
with its own connection that runs ``PRAGMA wal_checkpoint(PASSIVE)`` (copies committed frames,
never blocks or waits for a reader or writer) while writes go on, at most every
``CHECKPOINT_INTERVAL`` seconds, and once more when writes stop. The connections keep an
automatic checkpoint at ``WAL_BACKSTOP_PAGES`` (a backstop: it bounds the WAL if the thread
falls behind, and under unbroken load it is what lets the WAL restart from its beginning — by
then the thread has copied nearly every frame, so that checkpoint is short). A checkpoint is
crash-safe whichever connection runs it: frames leave the WAL only once the database file
holding them is synced (the checkpointer's connection uses ``synchronous=NORMAL`` too).

PostgreSQL: READ COMMITTED with row locks (``SELECT … FOR UPDATE``) on version-checked updates.
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from hub.store.threads import OnDemandThread

log = logging.getLogger(__name__)

#: the request-path automatic checkpoint: a backstop only (module docstring); 64 MiB of 4 KiB
WAL_BACKSTOP_PAGES = 16384
#: seconds between background checkpoints while writes go on
CHECKPOINT_INTERVAL = 0.2
#: seconds without a commit after which the checkpointer's thread makes a last pass and ends
CHECKPOINT_IDLE = 2.0
#: the engine attribute holding its checkpointer (SQLite files only)
CHECKPOINTER = "hub_wal_checkpointer"


def make_engine(url: str, **options: Any) -> Engine:
    """Create the engine for ``url`` with the hub's per-dialect settings."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        path = u.database if u.database and u.database != ":memory:" else None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **options)
        _sqlite_setup(engine, WalCheckpointer(path) if path else None)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def checkpointer_of(engine: Engine) -> WalCheckpointer | None:
    """The background checkpointer of a SQLite file engine (None for other engines)."""
    found = getattr(engine, CHECKPOINTER, None)
    return found if isinstance(found, WalCheckpointer) else None


def _sqlite_setup(engine: Engine, checkpointer: WalCheckpointer | None) -> None:
    backstop = WAL_BACKSTOP_PAGES if checkpointer else 1000

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN is ours (see SQLAlchemy docs,
        # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA wal_autocheckpoint={backstop}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("hub_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    if checkpointer is not None:
        setattr(engine, CHECKPOINTER, checkpointer)
        notify = checkpointer.notify

        @event.listens_for(engine, "commit")
        def _on_commit(_conn: Connection) -> None:
            notify()  # (fires just before the COMMIT; the thread's last pass catches it)


class WalCheckpointer(OnDemandThread):
    """Background ``PRAGMA wal_checkpoint(PASSIVE)`` for one SQLite database file.

    ``notify()`` (every commit) wakes a daemon thread, started on demand — again after a fork
    or after it ended for lack of writes — which checkpoints, waits ``interval`` seconds so
    that the next pass copies a batch of commits, and ends after ``idle`` seconds without one,
    with a last pass (also on ``stop()``: ``Database.dispose``, and for good at interpreter
    exit). Errors are logged, never raised: the backstop checkpoint still runs.
    """

    name = "hub-wal-checkpointer"

    def __init__(
        self, path: str, *, interval: float = CHECKPOINT_INTERVAL, idle: float = CHECKPOINT_IDLE
    ) -> None:
        super().__init__()
        self.path = path
        self.interval = interval
        self.idle = idle
        self.passes = 0
        #: the last pass's (busy, WAL frames, frames checkpointed), as the PRAGMA returns it
        self.last: tuple[int, int, int] = (0, 0, 0)
        _LIVE.add(self)

    def run_pass(self, conn: sqlite3.Connection | None = None) -> tuple[int, int, int]:
        """One PASSIVE checkpoint (on ``conn``, or a connection of its own)."""
        own = conn is None
        c = conn or self._connect()
        try:
            row = c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.last = (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)
            self.passes += 1
            return self.last
        finally:
            if own:
                c.close()

    def _connect(self) -> sqlite3.Connection:
        c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        c.execute("PRAGMA synchronous=NORMAL")  # a checkpoint syncs the WAL and database
        return c

    def _safe_pass(self, conn: sqlite3.Connection) -> None:
        try:
            self.run_pass(conn)
        except sqlite3.Error as exc:  # e.g. the file was removed; the backstop remains
            log.warning("WAL checkpoint of %s failed: %s", self.path, exc)

    def _run(self) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            log.warning("WAL checkpointer cannot open %s: %s", self.path, exc)
            with self._lock:
                self._thread = None
            return
        try:
            while not self._halt.is_set():
                if not self._wake.wait(self.idle):
                    if self._idle_end():  # the next commit starts another
                        break
                    continue
                self._wake.clear()
                self._safe_pass(conn)
                self._halt.wait(self.interval)
            self._safe_pass(conn)
        finally:
            conn.close()
            self._ended()


_LIVE: weakref.WeakSet[WalCheckpointer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for checkpointer in list(_LIVE):
        checkpointer.stop(timeout=2.0, final=True)


def shareable(conn: Connection) -> bool:
    """Whether other connections see this one's database (not an in-memory SQLite)."""
    url = conn.engine.url
    return url.get_backend_name() != "sqlite" or (
        url.database not in (None, "", ":memory:") and url.query.get("mode") != "memory"
    )


class Database:
    """The engine plus units of work over it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit(self, *, write: bool) -> Iterator[Connection]:
        """One transaction; committed on success, rolled back on any exception."""
        with self.engine.connect() as conn:
            c = conn.execution_options(hub_write=write)
            with c.begin():
                yield c

    def dispose(self) -> None:
        from hub.store.backlog import indexer_of

        indexer = indexer_of(self.engine)
        if indexer is not None:  # its thread ends
            indexer.stop()
        checkpointer = checkpointer_of(self.engine)
        if checkpointer is not None:
            checkpointer.stop()
        self.engine.dispose()
