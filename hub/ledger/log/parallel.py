"""Workers for ``hub ledger verify``: chunks of the log proved on every CPU core.

A chunk is an aligned subtree (``hub.ledger.log.fast``), so its proof needs nothing from any
other chunk: chunks are handed to workers and their :class:`~hub.ledger.log.fast.Subtree`
results come back in index order for the caller to join onto the frontier (RFC 9162 §2.1.1) —
exactly as if it had proved them itself. A worker that fails for any reason counts as "look
closer": the caller proves that chunk itself.

* The database: worker *threads*, each with its own connection from the caller's engine. The
  database work of a query (SQLite's B-tree steps, PostgreSQL's server process) runs without
  the GIL, so one worker's query overlaps another's hashing. On PostgreSQL every worker reads
  the verifying transaction's snapshot (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``);
  on SQLite each reads its own WAL snapshot — the entries, versions and nodes of a chunk are
  append-only, so a difference from the caller's view is itself tampering, which the caller's
  entry-by-entry re-check names. (Not forked processes: a process forked while another thread
  is inside SQLite — the hub's WAL checkpointer, say — can inherit SQLite's mutexes locked and
  hang on its first connection.)
* An export: forked worker *processes* (POSIX; elsewhere everything runs in the calling
  process), which inherit the file's lines and only match patterns and hash.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_all_start_methods, get_context
from typing import Any

from sqlalchemy import Connection, Engine

from hub.ledger.log import fast

MIN_BALANCED = 1024
"""Chunks are halved for balance across workers (at least 4 each) down to this many entries."""

Task = tuple[Any, ...]
Prove = Callable[..., fast.Subtree | None]

_export_lines: tuple[Sequence[bytes], int] = ((), 2)  # (entry lines, version), seen by forks


def available_cpus() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    return "fork" in get_all_start_methods()


def chunk_size(chunk: int, total: int, workers: int) -> int:
    """The largest power of two ≤ ``chunk``; with several workers, halved (not below
    :data:`MIN_BALANCED`) until each worker has at least four chunks."""
    size = 1 << (max(chunk, 1).bit_length() - 1)
    while workers > 1 and size > MIN_BALANCED and total < 4 * workers * size:
        size >>= 1
    return size


def shareable(conn: Connection) -> bool:
    """Whether other connections see this one's database (not an in-memory SQLite)."""
    url = conn.engine.url
    return url.get_backend_name() != "sqlite" or (
        url.database not in (None, "", ":memory:") and url.query.get("mode") != "memory"
    )


def export_snapshot(conn: Connection) -> str | None:
    """PostgreSQL: the id of this transaction's snapshot, for workers to read it too."""
    if conn.dialect.name != "postgresql":
        return None
    snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
    return snapshot if re.fullmatch(r"[0-9A-F\-]+", snapshot) else None


@contextmanager
def threads(workers: int) -> Iterator[Executor | None]:
    """``workers`` threads (None: prove in this thread alone)."""
    if workers < 2:
        yield None
        return
    executor = ThreadPoolExecutor(workers, thread_name_prefix="hub-ledger-verify")
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


@contextmanager
def processes(workers: int, lines: Sequence[bytes], version: int) -> Iterator[Executor | None]:
    """``workers`` forked processes inheriting an export's entry lines (None: prove in this
    process alone — also where ``fork`` is not available)."""
    global _export_lines
    if workers < 2 or not can_fork():
        yield None
        return
    _export_lines = (lines, version)
    gc.freeze()  # workers' collections then leave this process's objects (and pages) alone
    executor = ProcessPoolExecutor(workers, mp_context=get_context("fork"))
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        _export_lines = ((), 2)
        gc.unfreeze()


def results(
    executor: Executor | None, remote: Prove, local: Prove, tasks: Sequence[Task]
) -> Iterator[fast.Subtree | None]:
    """Each task's result in order: ``remote(*task)`` in the pool, or ``local(*task)`` here
    (lazily, so nothing is proved past where the caller stops); a failed worker's task is
    proved here."""
    if executor is None:
        for task in tasks:
            yield local(*task)
        return
    futures: list[Future[fast.Subtree | None]] = [executor.submit(remote, *t) for t in tasks]
    for task, future in zip(tasks, futures, strict=True):
        try:
            result = future.result()
        except Exception:  # any failure of the worker: prove the chunk here
            result = local(*task)
        yield result


def database_task(
    engine: Engine, snapshot: str | None, begin: int, end: int, sizes: Sequence[int]
) -> fast.Subtree | None:
    """In a worker thread: prove entries ``[begin, end)`` over a connection of its own."""
    with engine.connect() as conn:
        if snapshot is not None:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            if snapshot is not None:
                conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            cur = conn.connection.cursor()
            try:
                return fast.database_subtree(cur, conn.dialect.name, begin, end, sizes)
            finally:
                cur.close()


def export_task(begin: int, end: int, sizes: Sequence[int]) -> fast.Subtree | None:
    """In a worker: prove the export's entry lines ``[begin, end)`` (inherited at fork)."""
    lines, version = _export_lines
    return fast.export_subtree(lines[begin:end], version, begin, sizes)
