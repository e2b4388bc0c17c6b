"""The fast path of ``hub ledger verify`` proves exactly what the entry-by-entry path does.

* ``grow``/``root_at`` (level-by-level tree building) agree with ``merkle.append`` for every
  chunk start and length in a 40-leaf tree;
* for every tampering kind, over several chunk sizes (aligned or not with subtrees), the
  report with the fast path equals the report without it, and the tampered chunk is the one
  re-checked; an untouched log is proved sound without re-checking anything.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import Connection, select, update

from hub.ledger import Frontier, append
from hub.ledger.log import fast
from hub.ledger.log.keys import LedgerConfig
from hub.ledger.log.schema import ledger_entry, ledger_node
from hub.ledger.log.verify import Report, verify_database, verify_export, write_export
from hub.store import schema as s
from tests.ledger.conftest import build_log
from tests.ledger.helpers import NodeStore, leaf
from tests.ledger.test_tamper import TAMPERING


@pytest.mark.parametrize("pos", [0, 1, 2, 3, 5, 8, 13, 16, 31])
def test_grow_completes_the_same_nodes_as_append(pos: int) -> None:
    tree = NodeStore([leaf(i) for i in range(40)])
    for n in range(1, 40 - pos + 1):
        pending = dict(tree.frontiers[pos].nodes)
        before = dict(pending)
        out = fast.grow(pending, pos, tree.leaf_hashes[pos : pos + n])
        completed: dict[tuple[int, int], bytes] = {}
        frontier = tree.frontiers[pos]
        for h in tree.leaf_hashes[pos : pos + n]:
            frontier, nodes = append(frontier, h)
            completed.update({(x.level, x.index): x.hash for x in nodes})
        got = {
            (level, (pos >> level) + k): h
            for level, row in enumerate(out)
            for k, h in enumerate(row)
        }
        assert got == completed, (pos, n)
        assert Frontier(pos + n, tuple(sorted(pending.items(), reverse=True))) == frontier
        for size in range(pos + 1, pos + n + 1):
            assert fast.root_at(size, pos, before, out) == tree.roots[size], (pos, n, size)


def test_entry_pattern_takes_only_what_leaf_bytes_writes() -> None:
    from hub.ledger.log.entries import leaf_bytes

    good = leaf_bytes("consent", "Consent/c-1/_history/2", None, 0).decode()
    assert fast.ENTRY.fullmatch(good)
    for bad in (
        good.replace('"kind"', ' "kind"'),
        good.replace("null", '"ABC"'),
        good.replace("/_history/2", "/_history/02"),
        good.replace("}", ',"x":1}'),
    ):
        assert fast.ENTRY.fullmatch(bad) is None, bad


def _db_report(app: Flask, chunk: int, fast_path: bool) -> Report:
    config: LedgerConfig = app.extensions["hub.ledger"]
    with app.extensions["hub.db"].unit(write=False) as conn:
        return verify_database(
            conn, config.public_key(), config.origin, chunk=chunk, fast_path=fast_path
        )


def _edit_node(conn: Connection) -> int:
    n = ledger_node.c
    where = (n.level == 1, n.idx == 2)  # leaves 4 and 5: completed by leaf 5
    h = bytes(conn.execute(select(n.hash).where(*where)).scalar_one())
    conn.execute(update(ledger_node).where(*where).values(hash=bytes([h[0] ^ 1]) + h[1:]))
    return 5


def _edit_current_row(conn: Connection) -> int:
    ref = conn.execute(select(ledger_entry.c.ref).where(ledger_entry.c.idx == 7)).scalar_one()
    res_type, res_id, _, _ = ref.split("/")
    r = s.resource.c
    where = (r.res_type == res_type, r.res_id == res_id)
    content = bytes(conn.execute(select(r.content).where(*where)).scalar_one())
    conn.execute(update(s.resource).where(*where).values(content=content.replace(b"0", b"4")))
    return 7


KINDS: dict[str, Callable[[Connection], int]] = {
    **TAMPERING,
    "edit-a-stored-node": _edit_node,
    "edit-the-current-resource-row": _edit_current_row,
}


def test_an_untouched_log_is_proved_without_rechecking(ledger_app: Flask) -> None:
    build_log(ledger_app)
    with ledger_app.extensions["hub.db"].unit(write=False) as conn:
        data = [bytes(r[0]) for r in conn.execute(select(ledger_entry.c.entry).order_by("idx"))]
    root = NodeStore(data).roots[12]
    for chunk in (3, 4, 5, 16384):
        report, slow = _db_report(ledger_app, chunk, True), _db_report(ledger_app, chunk, False)
        assert report.ok and report.entries == 12 and report.rechecked == 0, report.problems
        assert slow.ok and (slow.size, slow.root) == (report.size, report.root) == (12, root)


@pytest.mark.parametrize("kind", list(KINDS))
def test_fast_path_reports_every_tampering_like_the_slow_path(ledger_app: Flask, kind: str) -> None:
    build_log(ledger_app)
    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        expected = KINDS[kind](conn)
    for chunk in (4, 5, 16384):
        quick, slow = _db_report(ledger_app, chunk, True), _db_report(ledger_app, chunk, False)
        assert [str(p) for p in quick.problems] == [str(p) for p in slow.problems]
        assert quick.problems and next(p.index for p in quick.problems if p.index is not None) == (
            expected
        )
        assert 1 <= quick.rechecked <= slow.rechecked
        if expected >= chunk:  # the chunks before the tampered one were proved on the fast path
            assert quick.rechecked <= slow.rechecked - expected // chunk


def _export_lines(app: Flask) -> list[bytes]:
    config: LedgerConfig = app.extensions["hub.ledger"]
    out = io.BytesIO()
    with app.extensions["hub.db"].unit(write=False) as conn:
        write_export(conn, out, config.origin, config.verifier_key())
    return out.getvalue().splitlines()


@pytest.mark.parametrize(
    "edit",
    [
        lambda line: line.replace(b"access", b"consent", 1),
        lambda line: line.replace(b'\\"time\\"', b'\\"Time\\"'),
        lambda line: line.replace(b'"index":7', b'"index":70'),
        lambda line: line.replace(b"_history/1", b"_history/01"),
    ],
)
def test_export_fast_path_reports_like_the_slow_path(
    ledger_app: Flask, edit: Callable[[bytes], bytes]
) -> None:
    build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    lines = _export_lines(ledger_app)
    key = config.public_key()
    for chunk in (4, 5, 16384):
        report = verify_export(lines, key, config.origin, chunk=chunk)
        assert report.ok and report.rechecked == 0 and report.entries == 12
    lines[8] = edit(lines[8])  # entry 7
    for chunk in (4, 5, 16384):
        quick = verify_export(lines, key, config.origin, chunk=chunk)
        slow = verify_export(lines, key, config.origin, chunk=chunk, fast_path=False)
        assert [str(p) for p in quick.problems] == [str(p) for p in slow.problems]
        assert quick.problems[0].index == 7 and quick.rechecked >= 1
