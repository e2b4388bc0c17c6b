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

PostgreSQL: READ COMMITTED with row locks (``SELECT … FOR UPDATE``) on version-checked updates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url


def make_engine(url: str, **options: Any) -> Engine:
    """Create the engine for ``url`` with the hub's per-dialect settings."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **options)
        _sqlite_setup(engine)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def _sqlite_setup(engine: Engine) -> None:
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
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("hub_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


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
        self.engine.dispose()
