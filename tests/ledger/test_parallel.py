"""``hub ledger verify`` with workers (``hub.ledger.log.parallel``).

Chunks of 4 entries over the 12-entry log are proved by two workers — threads, each with its
own database connection (on PostgreSQL reading the verifier's snapshot), or for an export
forked processes; a recording wrapper shows which worker proved which chunk. Tampering in the
last chunk — the second worker's, at least — is caught, and the report is the slow path's,
word for word; a worker that fails has its chunk proved by the caller; the CLI's
``--workers``/``--chunk`` reach all of it.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import Connection, delete, select, update

from hub.cli import main
from hub.ledger.log import fast, parallel
from hub.ledger.log.export import verify_export, write_export
from hub.ledger.log.keys import LedgerConfig
from hub.ledger.log.schema import ledger_entry
from hub.ledger.log.verify import Report, verify_database
from hub.store import schema as s
from tests.ledger.conftest import build_log


def _worker() -> str:
    return f"{os.getpid()}.{threading.get_ident()}"


MAIN = _worker()


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Wrap both fast-path provers (seen by worker threads, inherited by forked workers): each
    call appends ``worker begin sound`` to a file (worker: process and thread id), then waits
    (≤ 10 s) until two workers have written, so that the first chunks go to different ones."""
    path = tmp_path / "calls.txt"
    path.write_text("")

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def prove(*args: Any) -> Any:
            result = real(*args)
            with open(path, "a") as f:
                f.write(f"{_worker()} {args[2]} {result is not None}\n")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(_calls(path)[0]) < 2:
                time.sleep(0.01)
            return result

        return prove

    monkeypatch.setattr(fast, "database_subtree", wrap(fast.database_subtree))
    monkeypatch.setattr(fast, "export_subtree", wrap(fast.export_subtree))
    yield path


def _calls(path: Path) -> tuple[set[str], dict[int, bool]]:
    """(workers that proved chunks, chunk begin → proved sound)."""
    rows = [line.split() for line in path.read_text().splitlines()]
    return {w for w, _, _ in rows}, {int(b): ok == "True" for _, b, ok in rows}


def _report(app: Flask, *, workers: int, fast_path: bool = True) -> Report:
    config: LedgerConfig = app.extensions["hub.ledger"]
    with app.extensions["hub.db"].unit(write=False) as conn:
        return verify_database(
            conn, config.public_key(), config.origin, chunk=4, workers=workers, fast_path=fast_path
        )


def test_chunks_are_proved_by_two_workers(ledger_app: Flask, record: Path) -> None:
    build_log(ledger_app)
    report = _report(ledger_app, workers=2)
    assert report.ok and report.workers == 2 and report.rechecked == 0, report.problems
    assert report.entries == report.size == 12
    workers, chunks = _calls(record)
    assert chunks == {0: True, 4: True, 8: True}
    assert len(workers) == 2 and MAIN not in workers
    alone = _report(ledger_app, workers=1)
    assert (report.size, report.root) == (alone.size, alone.root) and alone.workers == 1


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
def test_tampering_in_the_second_workers_range_is_caught(
    ledger_app: Flask, record: Path, tamper: Callable[[Connection], int]
) -> None:
    build_log(ledger_app)
    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        expected = tamper(conn)
    quick = _report(ledger_app, workers=2)
    workers, chunks = _calls(record)
    assert chunks == {0: True, 4: True, 8: False}  # the workers said "look closer" for 8–11
    assert len(workers) == 2 and MAIN not in workers
    slow = _report(ledger_app, workers=1, fast_path=False)
    assert [str(p) for p in quick.problems] == [str(p) for p in slow.problems]
    assert next(p.index for p in quick.problems if p.index is not None) == expected
    assert quick.rechecked == 1 and quick.workers == 2


@pytest.mark.skipif(not parallel.can_fork(), reason="export workers are forked")
def test_an_export_is_proved_by_two_worker_processes(ledger_app: Flask, record: Path) -> None:
    build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    out = io.BytesIO()
    with ledger_app.extensions["hub.db"].unit(write=False) as conn:
        write_export(conn, out, config.origin, config.verifier_key())
    lines = out.getvalue().splitlines()
    key = config.public_key()
    report = verify_export(lines, key, config.origin, chunk=4, workers=2)
    assert report.ok and report.workers == 2 and report.rechecked == 0, report.problems
    workers, chunks = _calls(record)
    assert chunks == {0: True, 4: True, 8: True}
    assert len(workers) == 2 and MAIN not in workers
    lines[11] = lines[11].replace(b"access", b"consent", 1)  # entry 10
    record.write_text("")
    quick = verify_export(lines, key, config.origin, chunk=4, workers=2)
    slow = verify_export(lines, key, config.origin, chunk=4, fast_path=False)
    assert [str(p) for p in quick.problems] == [str(p) for p in slow.problems]
    assert quick.problems[0].index == 10 and quick.rechecked == 1
    assert _calls(record)[1] == {0: True, 4: True, 8: False}


def test_a_failing_worker_leaves_its_chunk_to_the_caller(
    ledger_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_log(ledger_app)
    real = parallel.database_task

    def flaky(engine: Any, snapshot: str | None, begin: int, end: int, sizes: Any) -> Any:
        if begin == 4 and _worker() != MAIN:
            raise RuntimeError("worker lost its connection")
        return real(engine, snapshot, begin, end, sizes)

    monkeypatch.setattr(parallel, "database_task", flaky)
    report = _report(ledger_app, workers=2)
    assert report.ok and report.rechecked == 0 and report.workers == 2, report.problems


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
            assert parallel.shareable(conn) == shared
        engine.dispose()


def test_verify_cli_workers_and_chunk(ledger_app: Flask, cli: CliRunner) -> None:
    build_log(ledger_app)
    assert cli.invoke(main, ["ledger", "checkpoint"]).exit_code == 0
    result = cli.invoke(main, ["ledger", "verify", "--workers", "2", "--chunk", "4"])
    assert result.exit_code == 0, result.output
    assert re.search(r"ok: 12 entries, 1 checkpoints verified; .* entries/s \(.*2 workers\)",
                     result.stdout), result.stdout  # fmt: skip
    result = cli.invoke(main, ["ledger", "verify", "--workers", "1"])
    assert result.exit_code == 0 and "1 worker)" in result.stdout, result.output
    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        _edit_entry_10(conn)
    result = cli.invoke(main, ["ledger", "verify", "--workers", "2", "--chunk", "4"])
    assert result.exit_code == 1 and "first bad index 10" in result.stderr, result.output
    result = cli.invoke(main, ["ledger", "verify", "--workers", "-1"])
    assert result.exit_code == 2 and "--workers" in result.output
