"""SQLite WAL checkpoints off the request path (``hub.store.db.WalCheckpointer``).

https://www.sqlite.org/wal.html#ckpt — in WAL mode committed pages reach the database file only
at a checkpoint; these tests watch the file itself, so they fail if no checkpoint ran.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.store.db import WAL_BACKSTOP_PAGES, Database, checkpointer_of, make_engine

ROW = b"x" * 3000  # about one page per row


def _db(path: Path) -> Database:
    db = Database(make_engine(f"sqlite:///{path}"))
    with db.unit(write=True) as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)"))
    return db


def _write(db: Database, rows: int) -> None:
    for _ in range(rows):
        with db.unit(write=True) as conn:
            conn.execute(text("INSERT INTO t (data) VALUES (:d)"), {"d": ROW})


def _wait(predicate: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.02)
    return False


def test_request_connections_keep_only_a_backstop_autocheckpoint(tmp_path: Path) -> None:
    db = _db(tmp_path / "hub.sqlite3")
    with db.unit(write=False) as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WAL_BACKSTOP_PAGES
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()


def test_the_background_thread_copies_committed_pages_into_the_database_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hub.sqlite3"
    db = _db(path)
    checkpointer = checkpointer_of(db.engine)
    assert checkpointer is not None
    before = path.stat().st_size
    _write(db, 300)  # ~300 frames: far below the backstop, so only the thread checkpoints
    assert _wait(lambda: path.stat().st_size >= before + 300 * len(ROW)), "no checkpoint ran"
    assert checkpointer.passes >= 1
    db.dispose()  # a last pass: every frame copied
    busy, frames, copied = checkpointer.last
    assert busy == 0 and frames == copied > 0
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM t").fetchone() == (300,)


def test_the_thread_ends_when_writes_stop_and_a_commit_starts_it_again(tmp_path: Path) -> None:
    db = _db(tmp_path / "hub.sqlite3")
    checkpointer = checkpointer_of(db.engine)
    assert checkpointer is not None
    checkpointer.idle = 0.1
    _write(db, 3)
    assert checkpointer.running
    assert _wait(lambda: not checkpointer.running), "the idle thread did not end"
    passes = checkpointer.passes
    _write(db, 3)
    assert checkpointer.running
    db.dispose()
    assert not checkpointer.running
    assert checkpointer.passes > passes


def test_memory_databases_have_no_checkpointer() -> None:
    assert checkpointer_of(make_engine("sqlite://")) is None
    assert checkpointer_of(make_engine("sqlite:///:memory:")) is None


_CHILD = """
import sys
from sqlalchemy import text
from hub.store.db import Database, make_engine
db = Database(make_engine("sqlite:///" + sys.argv[1]))
with db.unit(write=True) as conn:
    conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)"))
n = 0
while True:
    n += 1
    with db.unit(write=True) as conn:
        conn.execute(text("INSERT INTO t (id, data) VALUES (:i, :d)"), {"i": n, "d": b"x" * 3000})
    print(n, flush=True)  # answered only after its commit, as a response is
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_process_loses_no_committed_transaction(tmp_path: Path) -> None:
    """Kill -9 a writer while its checkpointer copies frames: every commit it reported is
    there and the file is sound (a checkpoint is crash-safe on whichever connection)."""
    path = tmp_path / "hub.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    reported = 0
    for line in child.stdout:
        reported = int(line)
        if reported >= 1500:  # past several background passes
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        count, top = check.execute("SELECT count(*), max(id) FROM t").fetchone()
    assert top >= reported and count == top
