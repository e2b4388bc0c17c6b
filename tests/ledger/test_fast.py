"""The fast path of ``hub ledger verify`` proves exactly what the entry-by-entry path does.

* ``levels``/``extend``/``Subtree.at`` (aligned subtrees joined onto a frontier) agree with
  ``merkle.append`` for every aligned chunk of a 40-leaf tree and every checkpoint size;
* for every tampering kind, over several chunk sizes, the report with the fast path equals
  the report without it, and the tampered chunk is the one re-checked; an untouched log is
  proved sound without re-checking anything (the same for exports, formats 1 and 2).

Worker processes: ``tests/ledger/test_parallel.py``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, select, update

from hub.ledger import Frontier, leaf_hash
from hub.ledger.log import fast
from hub.ledger.log.entries import ACCESS, leaf_bytes
from hub.ledger.log.export import verify_export
from hub.ledger.log.keys import LedgerConfig
from hub.ledger.log.schema import ledger_entry, ledger_node
from hub.ledger.log.verify import Report, verify_database
from hub.store import schema as s
from tests.ledger.conftest import build_log, export_lines
from tests.ledger.helpers import NodeStore, leaf
from tests.ledger.test_tamper import TAMPERING


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_aligned_subtrees_join_like_append(k: int) -> None:
    tree = NodeStore([leaf(i) for i in range(40)])
    size = 1 << k
    for end in range(1, 41):
        frontier = Frontier()
        completed: dict[tuple[int, int], bytes] = {}
        for begin in range(0, end, size):
            stop = min(begin + size, end)
            hashes = tree.leaf_hashes[begin:stop]
            out = fast.levels(hashes)
            inner = {
                (level, (begin >> level) + j): h
                for level, row in enumerate(out)
                for j, h in enumerate(row)
            }
            sub = fast.subtree(begin, hashes, out, range(41))
            for at, parts in sub.at.items():
                assert begin < at < stop
                assert fast.fold(frontier.nodes + parts) == tree.roots[at], (k, begin, at)
            nodes, upper = fast.extend(frontier.nodes, begin, sub)
            assert all(level > k for level, _, _ in upper)
            completed |= inner | {(level, ix): h for level, ix, h in upper}
            frontier = Frontier(stop, nodes)
            assert frontier == tree.frontiers[stop], (k, begin, stop)
            assert fast.fold(nodes) == tree.roots[stop]
        # every node appending leaf by leaf completes, and no other
        done = {key: h for key, h in tree.nodes.items() if (key[1] + 1) << key[0] <= end}
        assert completed == done


def test_entry_pattern_takes_only_what_leaf_bytes_writes() -> None:
    from hub.ledger.log.entries import leaf_bytes

    good = leaf_bytes("consent", "Consent/c-1/_history/2", None, 0).decode()
    assert fast.ENTRY.fullmatch(good)
    assert len(fast.LEAVES.findall("\n".join([good, good]))) == 2
    for bad in (
        good.replace('"kind"', ' "kind"'),
        good.replace("null", '"ABC"'),
        good.replace("/_history/2", "/_history/02"),
        good.replace("}", ',"x":1}'),
        good.replace("consent", "access", 1),  # an access entry cannot record a Consent
    ):
        assert fast.ENTRY.fullmatch(bad) is None, bad
        assert fast.LEAVES.findall(bad) == [], bad


# The plain spelling of the patterns (before they were spelled for speed): they must match
# exactly the same strings, with the same groups.
_TIME = r'"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"'


def _plain_leaf(sha: str) -> str:
    return (
        r'\{"kind":"(?:access","ref":"AuditEvent|consent","ref":"Consent)/[A-Za-z0-9\-.]{1,64}'
        r'/_history/[1-9][0-9]{0,17}","sha256":(?:"' + sha + r'"|null),' + _TIME + r"\}"
    )


_IDX = rb"(0|[1-9][0-9]{0,17})"
PLAIN: dict[str, tuple[re.Pattern[Any], re.Pattern[Any]]] = {
    "entry": (re.compile(_plain_leaf("([0-9a-f]{64})")), fast.ENTRY),
    "v2": (
        re.compile(rb"\[" + _IDX + rb",(" + _plain_leaf("[0-9a-f]{64}").encode() + rb")\]"),
        fast.EXPORT_V2,
    ),
    "v1": (
        re.compile(
            rb'\{"type":"entry","index":' + _IDX + rb',"entry":"('
            + _plain_leaf("[0-9a-f]{64}").replace('"', r'\\"').encode() + rb')"\}'
        ),
        fast.EXPORT_V1,
    ),
}  # fmt: skip


def _lines_of(version: str, data: bytes, index: bytes = b"7") -> bytes:
    if version == "v2":
        return b"[" + index + b"," + data + b"]"
    return b'{"type":"entry","index":' + index + b',"entry":"' + data.replace(b'"', b'\\"') + b'"}'


def _samples() -> list[bytes]:
    from hub.ledger.log.entries import leaf_bytes

    rng = random.Random(5)
    out = []
    for i in range(12):
        kind, rtype = [("access", "AuditEvent"), ("consent", "Consent")][i % 2]
        rid = "".join(rng.choice("aZ09-.") for _ in range([1, 5, 64][i % 3]))
        version = [1, 9, 10, 123456789012345678][i % 4]
        content = None if i % 5 == 4 else b"%d" % i
        out.append(leaf_bytes(kind, f"{rtype}/{rid}/_history/{version}", content, i * 10**13))
    return out


def _same(name: str, x: Any) -> None:
    plain, fast_one = PLAIN[name]
    a, b = plain.fullmatch(x), fast_one.fullmatch(x)
    assert (a and a.groups()) == (b and b.groups()), (name, x)


def test_patterns_match_exactly_what_their_plain_spelling_matches() -> None:
    """Every byte in place of a digest's, the time's or the id's characters, and random edits
    (replace, insert, delete) of well-formed leaves and export lines."""
    rng = random.Random(7)
    alphabet = b'0123456789afgAFZz[]{}",:.\\-_/ \r\n\x00\x7f\xff'
    for data in _samples():
        text = data.decode()
        _same("entry", text)
        for name in ("v1", "v2"):
            _same(name, _lines_of(name, data))
        digest, time, ident = text.find('"sha256":"'), text.find('"time":"') + 8, text.find("/")
        places = [time, time + 25, ident + 1, *([digest + 10, digest + 73] if digest > 0 else [])]
        for at in places:
            for c in range(256):
                edited = data[:at] + bytes([c]) + data[at + 1 :]
                for name in ("v1", "v2"):
                    _same(name, _lines_of(name, edited))
            for ch in ("é", "٣", "\U0010ffff", "G", "0"):
                _same("entry", text[:at] + ch + text[at + 1 :])
        for _ in range(300):
            edited = bytearray(data)
            for _ in range(rng.choice([1, 2])):
                at = rng.randrange(len(edited))
                op = rng.randrange(3)
                if op == 0:
                    edited[at] = rng.choice(alphabet)
                elif op == 1:
                    del edited[at]
                else:
                    edited[at:at] = bytes([rng.choice(alphabet)])
            index = rng.choice([b"0", b"7", b"00", b"1" * 18, b"1" * 19, b"-1"])
            for name in ("v1", "v2"):
                _same(name, _lines_of(name, bytes(edited), index))
            _same("entry", bytes(edited).decode("utf-8", "replace"))


@pytest.mark.parametrize("version", [1, 2])
def test_export_subtree_takes_exactly_n_well_formed_lines(version: int) -> None:
    """A span of lines is proved only if it holds exactly the well-formed lines of entries
    ``begin … end - 1``; the subtree is the one ``merkle.append`` builds."""
    from hub.ledger import leaf_hash, root_from_leaf_hashes

    name = f"v{version}"
    data = _samples()
    lines = [_lines_of(name, d, b"%d" % i) for i, d in enumerate(data)]
    text = b"\n".join(lines)
    sub = fast.export_subtree(text, version, 0, 12, [5], 0, len(text))
    assert sub is not None and (sub.begin, sub.end) == (0, 12)
    assert fast.fold(sub.nodes) == root_from_leaf_hashes([leaf_hash(d) for d in data])
    assert fast.fold(sub.at[5]) == root_from_leaf_hashes([leaf_hash(d) for d in data[:5]])
    pos, endpos = len(b"\n".join(lines[:4])) + 1, len(b"\n".join(lines[:8]))
    part = fast.export_subtree(text, version, 4, 8, [], pos, endpos)  # a span, not a copy
    assert part is not None and fast.fold(part.nodes) == fast.fold(
        NodeStore(data[4:8]).frontiers[4].nodes
    )
    bad = {
        "a line broken in two": [*lines[:3], lines[3][:40], lines[3][40:], *lines[4:11]],
        "an empty line": [*lines[:3], b"", *lines[3:11]],
        "a line of no entry among them": [*lines[:6], b'{"type":"note"}', *lines[6:]],
        "a line in the wrong place": [*lines[:3], lines[4], lines[3], *lines[5:]],
        "an upper-case digest": [lines[0].replace(b"a", b"A"), *lines[1:]] if b"a" in lines[0]
        else [lines[1].replace(b"a", b"A"), lines[0], *lines[2:]],
        "a carriage return": [*lines[:11], lines[11] + b"\r"],
    }  # fmt: skip
    for what, edited in bad.items():
        joined = b"\n".join(edited)
        assert fast.export_subtree(joined, version, 0, 12, [], 0, len(joined)) is None, what
    assert fast.export_subtree(text, version, 0, 11, [], 0, len(text)) is None  # 12 lines


@pytest.mark.parametrize("begin", [0, 3, 95, 995, 99_999_990])
def test_signed_leaves_are_what_stands_between_each_exact_index_and_the_bracket(
    begin: int,
) -> None:
    """``signed_leaf_hashes`` hashes the leaves of exactly the lines ``[begin,…]`` … ``[end - 1,…]``
    (across a change of the index's width), whatever the leaves are; any other line — an index
    spelled otherwise, out of place, a line too many or too few, no closing bracket — is None."""
    data = [*_samples(), b"not a leaf at all", b""]
    end = begin + len(data)
    lines = [b"[%d,%s]" % (begin + i, d) for i, d in enumerate(data)]
    text = b"\n".join(lines)
    hashes = [leaf_hash(d) for d in data]
    assert fast.signed_leaf_hashes(text, begin, end, 0, len(text)) == hashes
    pos, endpos = len(b"\n".join(lines[:4])) + 1, len(b"\n".join(lines[:9]))
    assert fast.signed_leaf_hashes(text, begin + 4, begin + 9, pos, endpos) == hashes[4:9]
    k = len(lines) - 3
    bad = {
        "a leading zero": [*lines[:k], lines[k].replace(b"[", b"[0", 1), *lines[k + 1 :]],
        "a space": [*lines[:k], lines[k].replace(b",", b" ,", 1), *lines[k + 1 :]],
        "a sign": [*lines[:k], lines[k].replace(b"[", b"[+", 1), *lines[k + 1 :]],
        "two lines swapped": [*lines[:k], lines[k + 1], lines[k], *lines[k + 2 :]],
        "no closing bracket": [*lines[:k], lines[k][:-1], *lines[k + 1 :]],
        "a line too many": [*lines, b"[%d,x]" % end],
        "a line too few": lines[:-1],
        "an empty line": [*lines[:k], b"", *lines[k:-1]],
        "a line broken in two": [*lines[:k], lines[k][:9], lines[k][9:], *lines[k + 2 :]],
    }
    for what, edited in bad.items():
        joined = b"\n".join(edited)
        assert fast.signed_leaf_hashes(joined, begin, end, 0, len(joined)) is None, what
    assert fast.signed_leaf_hashes(b"", begin, begin, 0, 0) is None


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65])
def test_levels_are_the_nodes_append_completes(n: int) -> None:
    """``levels`` (pairs hashed in one comprehension per level) gives every perfect subtree
    ``merkle.append`` completes, for sizes 1, 2, 3 and 2^k ± 1 of random leaves."""
    rng = random.Random(n)
    data = [rng.randbytes(rng.randrange(1, 200)) for _ in range(n)]
    tree = NodeStore(data)
    out = fast.levels(tree.leaf_hashes)
    got = {(level, j): h for level, row in enumerate(out) for j, h in enumerate(row)}
    assert got == tree.nodes


def _db_report(app: Flask, chunk: int, fast_path: bool, workers: int = 1) -> Report:
    config: LedgerConfig = app.extensions["hub.ledger"]
    with app.extensions["hub.db"].unit(write=False) as conn:
        return verify_database(
            conn,
            config.public_key(),
            config.origin,
            chunk=chunk,
            fast_path=fast_path,
            workers=workers,
        )


def _edit_node(conn: Connection) -> int:
    n = ledger_node.c
    where = (n.level == 1, n.idx == 2)  # leaves 4 and 5: completed by leaf 5
    h = bytes(conn.execute(select(n.hash).where(*where)).scalar_one())
    conn.execute(update(ledger_node).where(*where).values(hash=bytes([h[0] ^ 1]) + h[1:]))
    return 5


def _edit_upper_node(conn: Connection) -> int:
    n = ledger_node.c
    where = (n.level == 3, n.idx == 0)  # leaves 0–7: completed by leaf 7, above chunks of 4
    h = bytes(conn.execute(select(n.hash).where(*where)).scalar_one())
    conn.execute(update(ledger_node).where(*where).values(hash=bytes([h[0] ^ 1]) + h[1:]))
    return 7


def _edit_current_row(conn: Connection) -> int:
    ref = conn.execute(select(ledger_entry.c.ref).where(ledger_entry.c.idx == 7)).scalar_one()
    res_type, res_id, _, _ = ref.split("/")
    r = s.resource.c
    where = (r.res_type == res_type, r.res_id == res_id)
    content = bytes(conn.execute(select(r.content).where(*where)).scalar_one())
    conn.execute(update(s.resource).where(*where).values(content=content.replace(b"0", b"4")))
    return 7


def _edit_ref_column(conn: Connection) -> int:
    e = ledger_entry.c
    ref = conn.execute(select(e.ref).where(e.idx == 9)).scalar_one()
    other = conn.execute(select(e.ref).where(e.idx == 10)).scalar_one()
    assert ref != other
    conn.execute(update(ledger_entry).where(e.idx == 9).values(ref=other))
    return 9


KINDS: dict[str, Callable[[Connection], int]] = {
    **TAMPERING,
    "edit-a-stored-node": _edit_node,
    "edit-a-stored-node-above-the-chunks": _edit_upper_node,
    "edit-the-current-resource-row": _edit_current_row,
    "edit-the-ref-column": _edit_ref_column,
}


def test_an_untouched_log_is_proved_without_rechecking(ledger_app: Flask) -> None:
    build_log(ledger_app)
    with ledger_app.extensions["hub.db"].unit(write=False) as conn:
        data = [bytes(r[0]) for r in conn.execute(select(ledger_entry.c.entry).order_by("idx"))]
    root = NodeStore(data).roots[12]
    for chunk in (1, 2, 3, 4, 5, 16384):
        report, slow = _db_report(ledger_app, chunk, True), _db_report(ledger_app, chunk, False)
        assert report.ok and report.entries == 12 and report.rechecked == 0, report.problems
        assert slow.ok and (slow.size, slow.root) == (report.size, report.root) == (12, root)
        assert slow.rechecked == -(-12 // (1 << (chunk.bit_length() - 1)))


@pytest.mark.parametrize("kind", list(KINDS))
def test_fast_path_reports_every_tampering_like_the_slow_path(ledger_app: Flask, kind: str) -> None:
    build_log(ledger_app)
    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        expected = KINDS[kind](conn)
    for chunk in (2, 4, 16384):
        quick, slow = _db_report(ledger_app, chunk, True), _db_report(ledger_app, chunk, False)
        assert [str(p) for p in quick.problems] == [str(p) for p in slow.problems]
        assert quick.problems and next(p.index for p in quick.problems if p.index is not None) == (
            expected
        )
        assert 1 <= quick.rechecked <= slow.rechecked
        if expected >= chunk:  # the chunks before the tampered one were proved on the fast path
            assert quick.rechecked <= slow.rechecked - expected // chunk


def test_checkpoints_inside_chunks_are_checked(ledger_app: Flask) -> None:
    """Checkpoints at sizes 12 and 17 fall inside chunks of 8 and 16 (``Subtree.at``)."""
    from hub.ledger.log import store

    ids = build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    db = ledger_app.extensions["hub.db"]
    with db.unit(write=True) as conn:
        store.make_checkpoint(conn, config)
    for _ in range(5):
        assert ledger_app.test_client().get(f"/fhir/Patient/{ids['patient']}").status_code == 200
    with db.unit(write=True) as conn:
        store.make_checkpoint(conn, config)
    for chunk in (8, 16):
        report = _db_report(ledger_app, chunk, True)
        assert report.ok and report.checkpoints == 2 and report.rechecked == 0, report.problems
    with db.unit(write=True) as conn:
        TAMPERING["edit-a-byte-of-an-entry"](conn)  # entry 5, under both checkpoints
    for chunk in (8, 16):
        quick, slow = _db_report(ledger_app, chunk, True), _db_report(ledger_app, chunk, False)
        assert [str(p) for p in quick.problems] == [str(p) for p in slow.problems]
        assert any("checkpoint #1 of size 12" in str(p) for p in quick.problems)


EDITS: dict[int, list[Callable[[bytes], bytes]]] = {
    1: [
        lambda line: line.replace(b"access", b"consent", 1),
        lambda line: line.replace(b'\\"time\\"', b'\\"Time\\"'),
        lambda line: line.replace(b'"index":7', b'"index":70'),
        lambda line: line.replace(b"_history/1", b"_history/01"),
        lambda line: line.replace(b'"entry":"{', b'"entry":"{ '),
        lambda line: line[:-1],  # not JSON
    ],
    2: [
        lambda line: line.replace(b"access", b"consent", 1),
        lambda line: line.replace(b'"time"', b'"Time"'),
        lambda line: line.replace(b"[7,", b"[70,"),
        lambda line: line.replace(b"_history/1", b"_history/01"),
        lambda line: line.replace(b"[7,", b"[07,"),
        lambda line: line[:-1],  # no closing bracket
        lambda line: line.replace(b"}]", b"} ]"),
    ],
}


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize(("version", "edit"), [(v, n) for v in EDITS for n in range(len(EDITS[v]))])
def test_export_fast_path_reports_like_the_slow_path(
    ledger_app: Flask, version: int, edit: int, signed: bool
) -> None:
    """Entry 7 edited: the same report with and without the fast path; with ``signed`` the
    log is checkpointed at its end, so every chunk of the file's bytes is a signed one."""
    from hub.ledger.log import store

    build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    if signed:
        with ledger_app.extensions["hub.db"].unit(write=True) as conn:
            store.make_checkpoint(conn, config)
    lines = export_lines(ledger_app, version)
    key = config.public_key()
    for chunk in (4, 5, 16384):
        for given in (lines, b"\n".join(lines) + b"\n"):
            report = verify_export(given, key, config.origin, chunk=chunk)
            assert report.ok and report.rechecked == 0 and report.entries == 12
    lines[8] = EDITS[version][edit](lines[8])  # entry 7
    for chunk in (2, 4, 16384):
        for given in (lines, b"\n".join(lines) + b"\n"):
            quick = verify_export(given, key, config.origin, chunk=chunk)
            slow = verify_export(given, key, config.origin, chunk=chunk, fast_path=False)
            assert [str(p) for p in quick.problems] == [str(p) for p in slow.problems]
            assert quick.problems[0].index == 7 and quick.rechecked >= 1, quick.problems


def test_only_chunks_a_signed_checkpoint_covers_skip_the_leaf_pattern(
    ledger_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file's chunks up to its last checkpoint take their leaves as they stand (its signed
    root vouches for them); those after it — no signature covers them — are matched against
    the leaf pattern, so a leaf of no entry shape there is still named."""
    from hub.ledger.log import store

    ids = build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        store.make_checkpoint(conn, config)  # at 12
    for _ in range(5):  # entries 12 … 16
        assert ledger_app.test_client().get(f"/fhir/Patient/{ids['patient']}").status_code == 200
    data = b"\n".join(export_lines(ledger_app)) + b"\n"
    calls: list[tuple[str, int, int]] = []
    for name in ("signed_leaf_hashes", "_matched_leaves"):
        real = getattr(fast, name)

        def spy(*args: Any, _real: Any = real, _name: str = name) -> Any:
            begin, end = args[-4:-2]
            calls.append((_name, begin, end))
            return _real(*args)

        monkeypatch.setattr(fast, name, spy)
    key = config.public_key()
    report = verify_export(data, key, config.origin, chunk=4)
    assert report.ok and report.entries == 17 and report.rechecked == 0, report.problems
    assert calls == [
        ("signed_leaf_hashes", 0, 4),
        ("signed_leaf_hashes", 4, 8),
        ("signed_leaf_hashes", 8, 12),
        ("_matched_leaves", 12, 16),
        ("_matched_leaves", 16, 17),
    ]
    tampered = data.replace(b"[14,{", b"[14,{ ")  # still a line of entry 14; not a leaf
    report = verify_export(tampered, key, config.origin, chunk=4)
    assert [p.index for p in report.problems] == [14], report.problems
    assert "not a ledger entry" in str(report.problems[0])


def test_fast_path_off_is_honoured_for_a_files_bytes(ledger_app: Flask) -> None:
    """``fast_path=False`` checks every chunk entry by entry, given lines or the file's bytes
    (as the CLI passes them) alike."""
    build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    lines = export_lines(ledger_app)
    key = config.public_key()
    for given in (lines, b"\n".join(lines) + b"\n"):
        slow = verify_export(given, key, config.origin, chunk=4, fast_path=False)
        assert slow.ok and slow.entries == 12 and slow.rechecked == 3, type(given)
        quick = verify_export(given, key, config.origin, chunk=4)
        assert quick.ok and quick.rechecked == 0 and quick.root == slow.root


def test_an_export_with_entry_lines_out_of_place_is_read_line_by_line(ledger_app: Flask) -> None:
    """Version 1 lines reordered by hand (the checkpoint first, an entry line respelled) are
    still read: every entry in file order, each checkpoint wherever it is."""
    import orjson

    build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    from hub.ledger.log import store

    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        store.make_checkpoint(conn, config)
    lines = export_lines(ledger_app, 1)
    assert orjson.loads(lines[-1])["type"] == "checkpoint"
    item = orjson.loads(lines[3])
    lines[3] = orjson.dumps({"index": item["index"], "entry": item["entry"], "type": "entry"})
    lines = [lines[0], lines[-1], *lines[1:-1]]
    report = verify_export(lines, config.public_key(), config.origin)
    assert report.ok and report.entries == 12 and report.checkpoints == 1, report.problems
    assert report.rechecked >= 1  # not on the fast path
    lines.insert(5, b'{"type":"note"}')
    lines[8] = lines[8].replace(b"access", b"consent", 1)  # entry 5 (after the note)
    report = verify_export(lines, config.public_key(), config.origin)
    assert report.problems[0].index == 5


ORIGIN = "tests.example/ledger"


def _signed_export(leaves: list[bytes], sizes: list[int]) -> tuple[bytes, Any]:
    """A format-2 export of ``leaves`` with a checkpoint signed at each of ``sizes`` by a
    fixed test key (no database): the file's bytes and the public key."""
    import orjson
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hub.ledger import root_from_leaf_hashes
    from hub.ledger.checkpoint import Checkpoint, public_key_text, sign_checkpoint

    private = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    key = private.public_key()
    header = {"type": "header", "version": 2, "origin": ORIGIN, "key": public_key_text(key, ORIGIN)}
    out = [orjson.dumps(header), *(b"[%d,%s]" % (i, x) for i, x in enumerate(leaves))]
    for size in sizes:
        root = root_from_leaf_hashes([leaf_hash(x) for x in leaves[:size]])
        note = sign_checkpoint(Checkpoint(ORIGIN, size, root, 10**15), private, ORIGIN)
        out.append(orjson.dumps({"type": "checkpoint", "note": note}))
    return b"\n".join(out) + b"\n", key


def _every_way(data: bytes, key: Any) -> set[tuple[str, ...]]:
    """The problems ``verify_export`` reports for ``data`` every way it can be asked: the
    file's bytes or its lines, with and without the fast path, chunks of 4, 8, 16 and 16384
    entries, 1 and 2 processes."""
    seen = set()
    for given in (data, data.splitlines()):
        for fast_path in (True, False):
            for chunk in (4, 8, 16, 16384):
                for workers in (1, 2):
                    report = verify_export(
                        given, key, ORIGIN, chunk=chunk, fast_path=fast_path, workers=workers
                    )
                    seen.add(tuple(str(p) for p in report.problems))
    return seen


def test_a_leaf_a_verified_checkpoint_covers_is_the_signers_whichever_way_it_is_verified() -> None:
    """Over an export, a leaf of no entry shape before the last verified checkpoint — only the
    key's holder can put one there, and the file's leaves reach that checkpoint's root — is
    the signer's and not reported; after it, it is. Either way the report is the same
    whatever the path, chunk size or processes (it once depended on them)."""
    leaves = [leaf_bytes(ACCESS, f"AuditEvent/a-{i}/_history/1", b"%d" % i, i) for i in range(20)]
    leaves[3] = b"not a ledger entry"
    data, key = _signed_export(leaves, [12])
    assert _every_way(data, key) == {()}
    tampered = data.replace(b"[14,{", b"[14,{ ")  # after the checkpoint: no signature covers it
    (problems,) = _every_way(tampered, key)
    assert len(problems) == 1 and problems[0].startswith("index 14: entry bytes are not"), problems
    data, key = _signed_export(leaves, [2])  # the checkpoint does not cover it
    (problems,) = _every_way(data, key)
    assert len(problems) == 1 and problems[0].startswith("index 3: entry bytes are not"), problems
    moved = data.replace(b"[1,", b"[1,{}").replace(b"[3,", b"[3,{}")  # the root differs now
    (problems,) = _every_way(moved, key)
    assert problems[0].startswith("index 1: entry bytes are not"), problems


FILE_EDITS: dict[str, Callable[[bytes], bytes | list[bytes]]] = {
    "untouched": lambda data: data,
    "no final newline": lambda data: data.rstrip(b"\n"),
    "blank lines at the end": lambda data: data + b"\n\n",
    "carriage returns": lambda data: data.replace(b"\n", b"\r\n"),
    "a blank line among the entries": lambda data: data.replace(b"\n[5,", b"\n\n[5,"),
    "a note among the entries": lambda data: data.replace(b"\n[5,", b'\n{"type":"note"}\n[5,'),
    "a line that is not JSON at the end": lambda data: data + b"not JSON\n",
    "entry 5 twice": lambda data: data.replace(b"\n[6,", b"\n" + data.splitlines()[6] + b"\n[6,"),
    "entry 5 missing": lambda data: b"\n".join(
        x for x in data.split(b"\n") if not x.startswith(b"[5,")
    ),
    "the last index out of reach": lambda data: data.replace(b"\n[11,", b"\n[99999999999999,"),
    "the checkpoint first": lambda data: b"\n".join(
        [*data.splitlines()[:1], data.splitlines()[-1], *data.splitlines()[1:-1]]
    ),
    "the checkpoint's note edited": lambda data: data.replace(b'"note":"', b'"note":"x'),
    "a line holding a line break": lambda data: [
        *data.splitlines()[:-1], b"{}\n" + data.splitlines()[-1]
    ],
    "an entry line holding the next one": lambda data: [
        *data.splitlines()[:3], b"\n".join(data.splitlines()[3:5]), *data.splitlines()[5:]
    ],
    "a line with a carriage return": lambda data: [*data.splitlines(), b'{"type":"note"}\rx'],
}  # fmt: skip


@pytest.mark.parametrize("edit", list(FILE_EDITS))
def test_an_export_given_as_bytes_is_reported_as_its_lines_are(
    ledger_app: Flask, edit: str
) -> None:
    """The fast path over the file's bytes (``export._verify_file``; lines are joined into
    bytes first) reports exactly what verifying the split lines does without it, whatever
    was done to the file — or else it leaves the file to the lines."""
    from hub.ledger.log import store

    build_log(ledger_app)
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        store.make_checkpoint(conn, config)
    key = config.public_key()
    for version in (1, 2):
        edited = FILE_EDITS[edit](b"\n".join(export_lines(ledger_app, version)) + b"\n")
        lines = edited.splitlines() if isinstance(edited, bytes) else edited
        slow = verify_export(lines, key, config.origin, chunk=4, fast_path=False)
        for chunk in (4, 16384):
            for given in ([edited] if isinstance(edited, bytes) else []) + [lines]:
                quick = verify_export(given, key, config.origin, chunk=chunk)
                assert (quick.ok, quick.entries, quick.size, quick.root, quick.checkpoints) == (
                    slow.ok,
                    slow.entries,
                    slow.size,
                    slow.root,
                    slow.checkpoints,
                ), (edit, version, chunk)
                assert [str(p) for p in quick.problems] == [str(p) for p in slow.problems]
        if edit == "untouched":
            assert slow.ok and slow.checkpoints == 1 and quick.rechecked == 0
