"""``hub ledger verify`` with workers (``hub.ledger.log.parallel``).

Chunks of 4 entries over the 12-entry log are proved by worker processes — on the database
started by a forkserver, each with its own connection (on PostgreSQL reading the verifier's
snapshot), for an export forked; ``Report.provers`` shows which process proved how many
chunks. Tampering in a chunk a worker process proved is caught, and the report is the slow
path's, word for word; a worker that fails has its chunk proved by the caller; the caller also
proves chunks itself (from the end); the CLI's ``--workers``/``--chunk`` reach all of it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import Connection, delete, select, update

from hub.cli import main
from hub.ledger.log import fast, parallel
from hub.ledger.log.export import verify_export
from hub.ledger.log.keys import LedgerConfig
from hub.ledger.log.schema import ledger_entry
from hub.ledger.log.verify import Report, verify_database
from hub.store import schema as s
from hub.store.db import shareable
from tests.ledger.conftest import build_log, export_lines

MAIN = os.getpid()


@pytest.fixture
def in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes even for the 12-entry log, and every chunk proved in one of them (the
    calling process takes none: ``parallel.STEAL`` off)."""
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 0)
    monkeypatch.setattr(parallel, "STEAL", False)


def _report(app: Flask, *, workers: int, fast_path: bool = True) -> Report:
    config: LedgerConfig = app.extensions["hub.ledger"]
    with app.extensions["hub.db"].unit(write=False) as conn:
        return verify_database(
            conn, config.public_key(), config.origin, chunk=4, workers=workers, fast_path=fast_path
        )


def test_chunks_are_proved_by_worker_processes(ledger_app: Flask, in_workers: None) -> None:
    build_log(ledger_app)
    report = _report(ledger_app, workers=3)
    assert report.ok and report.workers == 3 and report.rechecked == 0, report.problems
    assert report.entries == report.size == 12
    assert MAIN not in report.provers and sum(report.provers.values()) == 3
    alone = _report(ledger_app, workers=1)
    assert (report.size, report.root) == (alone.size, alone.root) and alone.workers == 1
    assert alone.provers == {MAIN: 3}


def test_the_caller_proves_chunks_too(ledger_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    build_log(ledger_app)
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 0)
    report = _report(ledger_app, workers=2)
    assert report.ok and report.workers == 2 and report.rechecked == 0, report.problems
    assert report.provers.get(MAIN, 0) >= 1 and sum(report.provers.values()) == 3
    alone = _report(ledger_app, workers=1)
    assert (report.size, report.root) == (alone.size, alone.root)


class _InstantPool(Executor):
    """A pool that finishes every task the moment it is handed one: the quickest pool there
    could be, so the caller's share cannot come from the pool being slow to start."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@pytest.mark.parametrize("n, window, mine", [(3, 2, 1), (8, 2, 2), (8, 4, 1), (2, 2, 0)])
def test_the_caller_keeps_what_the_pool_was_not_handed(n: int, window: int, mine: int) -> None:
    """``parallel.results`` hands the pool at most ``window`` tasks ahead of it, so however
    fast the pool is, the caller proves the rest from the back — and every result comes back
    in order."""
    proved: list[int] = []

    def local(k: int) -> Any:
        proved.append(k)
        return ("here", k)

    provers: dict[int, int] = {}
    tasks = [(k,) for k in range(n)]
    out = list(
        parallel.results(
            _InstantPool(), lambda k: (-1, ("pool", k)), local, tasks, provers, window=window
        )
    )
    assert [k for _, k in out] == list(range(n))
    assert provers.get(MAIN, 0) == mine and sum(provers.values()) == n
    assert proved == list(range(n - 1, n - 1 - mine, -1))


def test_small_logs_are_verified_without_workers(ledger_app: Flask) -> None:
    build_log(ledger_app)
    assert parallel.MIN_PARALLEL > 12
    report = _report(ledger_app, workers=2)
    assert report.ok and report.workers == 1 and report.provers == {MAIN: 3}


def _edit_entry_10(conn: Connection) -> int:
    e = ledger_entry.c
    data = bytearray(conn.execute(select(e.entry).where(e.idx == 10)).scalar_one())
    data[data.index(b'"time":"') + 8] ^= 0x01
    conn.execute(update(ledger_entry).where(e.idx == 10).values(entry=bytes(data)))
    return 10


def _delete_entry_9(conn: Connection) -> int:
    conn.execute(delete(ledger_entry).where(ledger_entry.c.idx == 9))
    return 9


def _edit_audit_event_11(conn: Connection) -> int:
    ref = conn.execute(select(ledger_entry.c.ref).where(ledger_entry.c.idx == 11)).scalar_one()
    _, res_id, _, _ = ref.split("/")
    v = s.resource_version.c
    where = (v.res_type == "AuditEvent", v.res_id == res_id)
    content = bytes(conn.execute(select(v.content).where(*where)).scalar_one())
    edited = content.replace(b'"outcome":"0"', b'"outcome":"4"')
    assert edited != content
    conn.execute(update(s.resource_version).where(*where).values(content=edited))
    return 11


@pytest.mark.parametrize("tamper", [_edit_entry_10, _delete_entry_9, _edit_audit_event_11])
def test_tampering_in_a_worker_processs_chunk_is_caught(
    ledger_app: Flask, in_workers: None, tamper: Callable[[Connection], int]
) -> None:
    build_log(ledger_app)
    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        expected = tamper(conn)
    quick = _report(ledger_app, workers=2)
    assert MAIN not in quick.provers and sum(quick.provers.values()) == 3
    slow = _report(ledger_app, workers=1, fast_path=False)
    assert [str(p) for p in quick.problems] == [str(p) for p in slow.problems]
    assert next(p.index for p in quick.problems if p.index is not None) == expected
    assert quick.rechecked == 1 and quick.workers == 2


@pytest.mark.skipif(not parallel.can_fork(), reason="export workers are forked")
def test_an_export_is_proved_by_worker_processes(ledger_app: Flask, in_workers: None) -> None:
    build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    lines = export_lines(ledger_app)
    key = config.public_key()
    report = verify_export(lines, key, config.origin, chunk=4, workers=3)
    assert report.ok and report.workers == 3 and report.rechecked == 0, report.problems
    assert MAIN not in report.provers and sum(report.provers.values()) == 3
    lines[11] = lines[11].replace(b"access", b"consent", 1)  # entry 10
    quick = verify_export(lines, key, config.origin, chunk=4, workers=2)
    slow = verify_export(lines, key, config.origin, chunk=4, fast_path=False)
    assert [str(p) for p in quick.problems] == [str(p) for p in slow.problems]
    assert quick.problems[0].index == 10 and quick.rechecked == 1
    assert MAIN not in quick.provers


@pytest.mark.skipif(not parallel.can_fork(), reason="export workers are forked")
def test_the_caller_and_the_workers_share_an_exports_chunks(ledger_app: Flask) -> None:
    """Chunks claimed from both ends (``parallel.export_results``): each proved once, by
    some process, whichever is quicker; the file's bytes and its lines alike."""
    build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    lines = export_lines(ledger_app)
    for given in (lines, b"\n".join(lines)):
        report = verify_export(given, config.public_key(), config.origin, chunk=2, workers=3)
        assert report.ok and report.workers == 3 and report.rechecked == 0, report.problems
        assert sum(report.provers.values()) == 6 and len(report.provers) <= 3


def _failing_in_workers(how: str) -> Any:
    """``fast.export_subtree`` failing for the chunk at 4 in a worker process (forked, so it
    inherits this patch): raising, or the process dying."""
    real = fast.export_subtree

    def prove(text: bytes, version: int, begin: int, *rest: Any) -> Any:
        if begin == 4 and os.getpid() != MAIN:
            if how == "dies":
                os._exit(3)
            raise RuntimeError("worker failed")
        return real(text, version, begin, *rest)

    return prove


@pytest.mark.skipif(not parallel.can_fork(), reason="export workers are forked")
@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_failing_export_worker_leaves_its_chunk_to_the_caller(
    ledger_app: Flask, in_workers: None, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    monkeypatch.setattr(fast, "export_subtree", _failing_in_workers(how))
    report = verify_export(
        export_lines(ledger_app), config.public_key(), config.origin, chunk=4, workers=2
    )
    assert report.ok and report.rechecked == 0 and report.workers == 2, report.problems
    assert report.provers[MAIN] >= 1 and sum(report.provers.values()) == 3


def _flaky(url: str, snapshot: str | None, begin: int, end: int, sizes: Any) -> Any:
    """``parallel.database_task`` failing for the chunk at 4 (run in a worker process, which
    finds this function by importing this module)."""
    if begin == 4:
        raise RuntimeError("worker lost its connection")
    return real_database_task(url, snapshot, begin, end, sizes)


real_database_task = parallel.database_task


def test_a_failing_worker_leaves_its_chunk_to_the_caller(
    ledger_app: Flask, in_workers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_log(ledger_app)
    monkeypatch.setattr(parallel, "database_task", _flaky)
    report = _report(ledger_app, workers=2)
    assert report.ok and report.rechecked == 0 and report.workers == 2, report.problems
    assert report.provers[MAIN] == 1 and sum(report.provers.values()) == 3


def test_chunk_sizes_and_where_workers_cannot_go(tmp_path: Path) -> None:
    assert parallel.chunk_size(16384, 100_000, 1) == 16384
    assert parallel.chunk_size(16384, 100_000, 2) == 8192  # ≥ 4 chunks per worker
    assert parallel.chunk_size(16384, 12, 2) == parallel.MIN_BALANCED
    assert [parallel.chunk_size(c, 12, 2) for c in (1, 3, 4, 5)] == [1, 2, 4, 4]
    from hub.store.db import make_engine

    file = f"sqlite:///{tmp_path / 'x.db'}"
    for url, shared in [("sqlite://", False), ("sqlite:///:memory:", False), (file, True)]:
        engine = make_engine(url)
        with engine.connect() as conn:
            assert shareable(conn) == shared
        engine.dispose()


def test_verify_cli_workers_and_chunk(ledger_app: Flask, cli: CliRunner, in_workers: None) -> None:
    build_log(ledger_app)
    assert cli.invoke(main, ["ledger", "checkpoint"]).exit_code == 0
    result = cli.invoke(main, ["ledger", "verify", "--workers", "2", "--chunk", "4"])
    assert result.exit_code == 0, result.output
    ok = r"ok: 12 entries, 1 checkpoints verified; .* entries/s \(.*2 workers, 0 chunks re-checked"
    assert re.search(ok, result.stdout), result.stdout
    result = cli.invoke(main, ["ledger", "verify", "--workers", "1"])
    assert result.exit_code == 0 and "1 worker, 0 chunks re-checked" in result.stdout, result.output
    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        _edit_entry_10(conn)
    result = cli.invoke(main, ["ledger", "verify", "--workers", "2", "--chunk", "4"])
    assert result.exit_code == 1 and "first bad index 10" in result.stderr, result.output
    result = cli.invoke(main, ["ledger", "verify", "--workers", "-1"])
    assert result.exit_code == 2 and "--workers" in result.output
