"""Workers for ``hub ledger verify``: chunks of the log proved on every CPU core.

A chunk is an aligned subtree (``hub.ledger.log.fast``), so its proof needs nothing from any
other chunk: chunks are handed to worker *processes* and their
:class:`~hub.ledger.log.fast.Subtree` results come back in index order for the caller to join
onto the frontier (RFC 9162 §2.1.1) — exactly as if it had proved them itself. ``workers`` is
the number of processes proving chunks, the calling one included: ``workers - 1`` are started,
and the caller proves chunks too, taking them from the end of the list while the workers take
them from the front (:func:`results`, :func:`export_results`). A worker that fails for any
reason counts as "look closer": the caller proves that chunk itself.

* The database: processes started with ``forkserver`` (``spawn`` where there is none), each
  opening its own connection from the engine's URL; on PostgreSQL every worker reads the
  verifying transaction's snapshot (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``); on
  SQLite each reads its own WAL snapshot — the entries, versions and nodes of a chunk are
  append-only, so a difference from the caller's view is itself tampering, which the caller's
  entry-by-entry re-check names. Not ``fork``: a process forked while another thread is
  inside SQLite — the hub's WAL checkpointer, say — can inherit SQLite's mutexes locked and hang
  on its first connection; a forkserver is a fresh, single-threaded interpreter, started once
  per process, that forks the workers. (Threads would share one GIL: two are no faster than one.)
* An export: forked processes (POSIX; elsewhere everything runs in the calling process), which
  inherit the file as one buffer and only match patterns and hash — they never touch SQLite.
  No pool: the processes claim chunks through two shared counters and each worker sends its
  proofs through a pipe of its own (:func:`export_results`), so no chunk waits for a thread of
  the caller's to hand it out.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait
from typing import Any

from sqlalchemy import Connection, Engine

from hub.ledger.log import fast

MIN_BALANCED = 1024
"""Chunks are halved for balance across workers (at least 4 each) down to this many entries."""

MIN_PARALLEL = 16384
"""A database of fewer entries is verified by the calling process alone: starting worker
processes (a forkserver, then each worker's connection) costs more than they would save."""

STEAL = True
"""Whether the caller proves chunks too (from the end of the list); tests turn it off to see
every chunk go through a worker process."""

Task = tuple[Any, ...]
Result = tuple[int, fast.Subtree | None]
"""What a worker returns: its process id and the chunk's proof."""
Prove = Callable[..., fast.Subtree | None]

_engines: dict[str, Engine] = {}  # a database worker's engines, by URL


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


def worker_url(conn: Connection) -> str:
    """The URL a worker process connects with (password included; a SQLite path made
    absolute, as the worker may start in another directory)."""
    url = conn.engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        url = url.set(database=os.path.abspath(url.database))
    return url.render_as_string(hide_password=False)


def export_snapshot(conn: Connection) -> str | None:
    """PostgreSQL: the id of this transaction's snapshot, for workers to read it too."""
    if conn.dialect.name != "postgresql":
        return None
    snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
    return snapshot if re.fullmatch(r"[0-9A-F\-]+", snapshot) else None


def _context() -> Any:
    """``forkserver`` (its server preloading this module), else ``spawn``."""
    if "forkserver" in get_all_start_methods():
        ctx = get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return get_context("spawn")


@contextmanager
def database_processes(workers: int) -> Iterator[Executor | None]:
    """``workers - 1`` fresh processes for database chunks (None: this process alone)."""
    if workers < 2:
        yield None
        return
    executor = ProcessPoolExecutor(workers - 1, mp_context=_context())
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def results(
    executor: Executor | None,
    remote: Callable[..., Result],
    local: Prove,
    tasks: Sequence[Task],
    provers: dict[int, int],
    window: int = 2,
) -> Iterator[fast.Subtree | None]:
    """Each task's result in order: ``remote(*task)`` in the pool, or ``local(*task)`` here.
    Without a pool, lazily (nothing is proved past where the caller stops). With one, the pool
    is fed from the front, never more than ``window`` tasks ahead of it (the caller passes two per
    worker: one running, one waiting), while this process proves tasks from the back (with
    :data:`STEAL`), topping the pool up after each, until the two ends meet; then it waits for
    the pool's. As nothing is handed to the pool that the caller might still take, the split
    does not depend on how fast the pool starts: with more tasks than the window, the caller
    proves at least one. A failed worker's task is proved here. ``provers`` counts the chunks
    each process (by id) proved."""
    me = os.getpid()
    if executor is None:
        for task in tasks:
            provers[me] = provers.get(me, 0) + 1
            yield local(*task)
        return
    futures: dict[int, Future[Result]] = {}
    pending: list[Future[Result]] = []  # handed to the pool, not done when last looked at
    mine: dict[int, fast.Subtree | None] = {}
    front, back = 0, len(tasks)

    def top_up(room: int) -> None:
        nonlocal front
        pending[:] = [f for f in pending if not f.done()]
        while front < back and len(pending) < room:
            futures[front] = executor.submit(remote, *tasks[front])
            pending.append(futures[front])
            front += 1

    top_up(window if STEAL else len(tasks))
    while front < back:  # (only with STEAL)
        back -= 1
        mine[back] = local(*tasks[back])
        top_up(window)
    for k, task in enumerate(tasks):
        pid, result = me, mine.get(k)
        if k not in mine:
            try:
                pid, result = futures[k].result()
            except Exception:  # any failure of the worker: prove the chunk here
                pid, result = me, local(*task)
        provers[pid] = provers.get(pid, 0) + 1
        yield result


def database_task(
    url: str, snapshot: str | None, begin: int, end: int, sizes: Sequence[int]
) -> Result:
    """In a worker process: prove entries ``[begin, end)`` over a connection of its own (one
    engine per URL for the process's life), in a read-only transaction rolled back after."""
    from hub.store.db import make_engine

    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    with engine.connect() as conn:
        if snapshot is not None:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        tx = conn.begin()
        try:
            if snapshot is not None:
                conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            cur = conn.connection.cursor()
            try:
                return os.getpid(), fast.database_subtree(cur, conn.dialect.name, begin, end, sizes)
            finally:
                cur.close()
        finally:
            tx.rollback()


ExportTask = tuple[int, int, Sequence[int], int, int, bool]
"""An export chunk: entries ``[begin, end)``, checkpoint sizes inside, the span
``(pos, endpos)`` of its lines in the text, and whether a signed checkpoint covers it
(``fast.export_subtree``)."""


def export_processes(workers: int, chunks: int) -> int:
    """The processes that prove an export's chunks: ``workers``, if there are two chunks or
    more and ``fork`` is available, else this one alone."""
    return workers if workers > 1 and chunks > 1 and can_fork() else 1


@contextmanager
def export_results(
    workers: int, text: bytes, version: int, tasks: Sequence[ExportTask], provers: dict[int, int]
) -> Iterator[Iterator[fast.Subtree | None]]:
    """Each export chunk's proof, in order: proved by this process and ``workers - 1`` forked
    ones (where ``fork`` is available; else here alone, lazily). The processes share two
    counters: the workers claim chunks from the front, this process from the back (with
    :data:`STEAL`), each until they meet — no chunk waits in a queue for a process busy with
    another, and no thread has to hand chunks out. A worker sends each proof through a pipe
    of its own; a chunk whose proof never comes (the worker failed) is proved here. The workers
    read ``text`` inherited at fork, a single buffer: they write to none of this process's
    pages, so none is copied. ``provers`` counts the chunks each process (by id) proved."""
    me = os.getpid()
    if export_processes(workers, len(tasks)) < 2:
        yield _ordered(text, version, tasks, {}, provers)
        return
    ctx = get_context("fork")
    claims = ctx.RawArray("q", [0, len(tasks)])  # [next from the front, end of the front's]
    lock = ctx.Lock()
    done: dict[int, tuple[int, fast.Subtree | None]] = {}
    readers, started = [], []
    first = _claim_back(claims, lock) if STEAL else None  # before any worker can take it
    gc.freeze()  # workers' collections then leave this process's objects (and pages) alone
    try:
        for _ in range(workers - 1):
            reader, writer = ctx.Pipe(duplex=False)
            args = (text, version, tasks, claims, lock, writer)
            process = ctx.Process(target=_export_worker, args=args, daemon=True)
            process.start()
            writer.close()
            readers.append(reader)
            started.append(process)
        k = first
        while k is not None:
            done[k] = (me, fast.export_subtree(text, version, *tasks[k]))
            _receive(readers, done, block=False)
            k = _claim_back(claims, lock)
        while readers:
            _receive(readers, done, block=True)
    finally:
        if readers:  # left early (an exception here): a worker may wait on a full pipe
            for process in started:
                process.kill()
                process.join()
        gc.unfreeze()
    for process in started:  # every worker has closed its pipe: reap it (counted in the time)
        process.join()
    yield _ordered(text, version, tasks, done, provers)


def _claim_back(claims: Any, lock: Any) -> int | None:
    """The caller's next chunk, from the back (None: the claims have met)."""
    with lock:
        k = claims[1] - 1
        if k < claims[0]:
            return None
        claims[1] = k
        return int(k)


def _receive(
    readers: list[Pipe], done: dict[int, tuple[int, fast.Subtree | None]], *, block: bool
) -> None:
    """Proofs the workers have sent (waiting for one if ``block``); a closed pipe is a worker
    that is done."""
    for reader in wait(readers, None if block else 0):
        assert isinstance(reader, Pipe)
        try:
            k, pid, sub = reader.recv()
        except (EOFError, OSError):
            readers.remove(reader)
            continue
        done[k] = (pid, sub)


def _ordered(
    text: bytes,
    version: int,
    tasks: Sequence[ExportTask],
    done: dict[int, tuple[int, fast.Subtree | None]],
    provers: dict[int, int],
) -> Iterator[fast.Subtree | None]:
    me = os.getpid()
    for k, task in enumerate(tasks):
        pid, sub = done[k] if k in done else (me, fast.export_subtree(text, version, *task))
        provers[pid] = provers.get(pid, 0) + 1
        yield sub


def _export_worker(
    text: bytes,
    version: int,
    tasks: Sequence[ExportTask],
    claims: Any,
    lock: Any,
    out: Pipe,
) -> None:
    """In a forked worker: prove chunks claimed from the front until the claims meet."""
    pid = os.getpid()
    while True:
        with lock:
            k = claims[0]
            if k >= claims[1]:
                break
            claims[0] = k + 1
        try:
            out.send((k, pid, fast.export_subtree(text, version, *tasks[k])))
        except Exception:  # the caller proves a chunk whose proof never comes
            continue
    out.close()
