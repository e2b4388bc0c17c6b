"""The fast path of ``hub ledger verify``: aligned subtrees of entries proved sound at once.

``verify.Rebuild`` checks one entry at a time and says exactly what is wrong; that costs
microseconds of Python per entry. Here a *chunk* — entries ``[begin, end)`` with ``begin`` a
multiple of a power of two ``2^k`` and at most ``2^k`` entries, i.e. one perfect subtree of the
RFC 9162 §2.1.1 tree, or the left part of the last one — is checked with one SQL query, one
regular expression over the whole chunk, ``hashlib.sha256`` called directly and C-level list
comparisons. The answer is only :class:`Subtree` ("the whole chunk is sound, and these are its
subtree hashes") or None ("look closer"): on None the caller re-runs the chunk through
``Rebuild`` from the same frontier, so every problem is still found and named, in the same
words, at the same first bad index.

A chunk depends on no other chunk (the hash of an aligned subtree is a function of its own
leaves only), so chunks can be proved in any order, in worker processes each with its own
database connection (``hub.ledger.log.parallel``); :func:`extend` then joins the subtree hashes
onto the frontier in index order, completing the nodes above level ``k``.

What a chunk proves is everything the slow path checks (``verify`` module docstring, steps
1–4); checkpoints (step 5) and the nodes above level ``k`` are checked by the caller with
:attr:`Subtree.at` and :func:`extend`:

* indexes: the rows are exactly ``begin … end-1`` (the ``dup_at`` check is the caller's);
* leaf bytes: every entry matches :data:`ENTRY` (exactly what ``entries.leaf_bytes`` writes —
  canonical JSON, without re-serialising it; the kind agrees with the ref's type), and the
  ``kind``/``ref`` columns are the entry's (SQL: the entry starts with
  ``{"kind":"<kind>","ref":"<ref>","sha256":`` built from the columns);
* leaf hashes: ``SHA-256(0x00 ‖ entry)`` (RFC 9162 §2.1.1) equals the stored column;
* content: the version the ``ref`` column names exists and ``SHA-256(content)`` is the entry's
  ``sha256``; its resource row exists and, while it is that version, holds the same bytes
  (SQL byte equality with a version whose hash was just checked proves what hashing would);
* tree: the perfect subtrees of the chunk, level by level (``SHA-256(0x01 ‖ left ‖ right)``),
  equal the stored ``ledger_node`` rows ``(level, idx)`` for every level up to ``k``.

An export chunk (``export_subtree``) proves indexes, leaf bytes and the subtree hashes. A
*signed* one — a format-2 chunk that ends at or before the size of the last verified checkpoint
(``export.cover``) — proves its indexes and that its lines are exactly ``[index,leaf]``, and
hashes what it takes for the leaves without matching :data:`ENTRY`: those leaves are vouched
for by the signature (``export.vouched``: the caller accepts the file's bytes only if the tree
reaches the root signed at that size, and then they are the signed leaves byte for byte), and
the entry-by-entry path does not check their shape either. Past that checkpoint, where no
signature covers them, every leaf is matched.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

P0, P1 = b"\x00", b"\x01"

# The patterns below are spelled for the speed of Python's ``re`` (sre), matching exactly what
# the plain spelling would: a run of fixed length is spelled out (``[0-9][0-9]``, not
# ``[0-9]{2}``: no repeat to enter); a repeat followed by a character its class excludes is
# possessive (``{1,64}+``: it could never give a character back anyway); and ``[0-9a-f]`` is
# its complement negated (the same set — a bitmap, one test per character, where the two
# ranges would branch on every digit/letter change of a digest).
_HEX_STR = r"[^\x00-/:-`g-\U0010ffff]{64}"
_HEX_BYTES = r"[^\x00-/:-`g-\xff]{64}"
_D = "[0-9]"


def _time(q: str) -> str:
    """The ``time`` member, its quotes spelled ``q``."""
    return rf"{q}time{q}:{q}{_D * 4}-{_D * 2}-{_D * 2}T{_D * 2}:{_D * 2}:{_D * 2}\.{_D * 6}Z{q}"


_TIME = _time('"')


def _leaf(sha: str) -> str:
    return (
        r'\{"kind":"(?:access","ref":"AuditEvent|consent","ref":"Consent)/[A-Za-z0-9\-.]{1,64}+'
        r'/_history/[1-9][0-9]{0,17}+","sha256":(?:"' + sha + r'"|null),' + _TIME + r"\}"
    )


_LEAF = _leaf(f"({_HEX_STR})")
ENTRY = re.compile(_LEAF)
"""Exactly the leaves ``entries.leaf_bytes`` writes (group 1: the sha256 hex, if not null)."""

LEAVES = re.compile(f"^{_LEAF}$", re.MULTILINE)
"""Over leaves joined by newlines: one match per well-formed leaf, yielding its sha256 hex
(``""`` for null). n matches over n leaves holding n - 1 newlines: all n are well-formed."""

_INDEX = rb"(0|[1-9][0-9]{0,17}+)"
EXPORT_V1 = re.compile(
    rb'\{"type":"entry","index":' + _INDEX + rb',"entry":"(\{\\"kind\\":\\"'
    rb'(?:access\\",\\"ref\\":\\"AuditEvent|consent\\",\\"ref\\":\\"Consent)'
    rb'/[A-Za-z0-9\-.]{1,64}+/_history/[1-9][0-9]{0,17}+\\",\\"sha256\\":'
    rb'(?:\\"' + _HEX_BYTES.encode() + rb'\\"|null),' + _time(r'\\"').encode() + rb'\})"\}'
)
"""A version-1 export line whose entry is a well-formed leaf (index, escaped leaf); its only
escapes are ``\\"``, so the leaf bytes are the escaped text with ``\\"`` replaced by ``"``."""

EXPORT_V2 = re.compile(rb"\[" + _INDEX + rb",(" + _leaf(_HEX_BYTES).encode() + rb")\]")
"""A version-2 export line ``[index,leaf]`` with the leaf bytes verbatim (index, leaf)."""

EXPORT_LINES = {
    v: re.compile(rb"^(?:" + p.pattern + rb"|[^\n]*+)$", re.MULTILINE)
    for v, p in ((1, EXPORT_V1), (2, EXPORT_V2))
}
"""Over lines joined by newlines: one match per line, ``(index, leaf)`` for a well-formed one
(as :data:`EXPORT_V1`/:data:`EXPORT_V2`), ``(b"", b"")`` for any other. n matches over n lines,
none with an empty index: all n are well-formed (a newline inside a line would make more)."""


@dataclass(frozen=True, slots=True)
class Subtree:
    """Entries ``[begin, end)`` proved sound (``begin`` a multiple of a power of two ≥ their
    number): their own perfect subtrees (one per set bit of ``end - begin``, highest level
    first) and, for each checkpoint size ``s`` strictly inside, those of ``[begin, s)``."""

    begin: int
    end: int
    nodes: tuple[tuple[int, bytes], ...]
    at: dict[int, tuple[tuple[int, bytes], ...]]


def levels(hashes: list[bytes]) -> list[list[bytes]]:
    """Every perfect subtree of leaves starting at an aligned position: ``out[L][j]`` is node
    ``(L, begin >> L) + j``, the hash of leaves ``j·2^L … (j+1)·2^L - 1`` of ``hashes``."""
    out, cur = [hashes], hashes
    while len(cur) > 1:
        pairs = iter(cur)  # zip(pairs, pairs): (cur[0], cur[1]), (cur[2], cur[3]), …
        cur = [sha256(P1 + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        out.append(cur)
    return out


def _parts(out: list[list[bytes]], m: int) -> tuple[tuple[int, bytes], ...]:
    """The perfect subtrees covering the first ``m`` leaves of ``out``, highest level first."""
    bits = range(m.bit_length() - 1, -1, -1)
    return tuple((level, out[level][(m >> level) - 1]) for level in bits if m >> level & 1)


def subtree(
    begin: int, hashes: list[bytes], out: list[list[bytes]], sizes: Sequence[int]
) -> Subtree:
    """The :class:`Subtree` of leaf hashes ``hashes`` from ``begin`` (``out``: their levels)."""
    end = begin + len(hashes)
    at = {s: _parts(out, s - begin) for s in sizes if begin < s < end}
    return Subtree(begin, end, _parts(out, len(hashes)), at)


def extend(
    nodes: tuple[tuple[int, bytes], ...], size: int, sub: Subtree
) -> tuple[tuple[tuple[int, bytes], ...], list[tuple[int, int, bytes]]]:
    """The frontier of ``size`` leaves (``nodes``, highest level first) followed by ``sub``
    (``sub.begin == size``): its nodes, and the nodes ``(level, idx, hash)`` completed by
    joining (levels above the chunk's; RFC 9162 §2.1.1, as ``merkle.append``)."""
    stack = list(nodes)
    completed: list[tuple[int, int, bytes]] = []
    pos = size
    for level, h in sub.nodes:
        start, pos = pos, pos + (1 << level)
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            h = sha256(P1 + left + h).digest()
            start -= 1 << level
            level += 1
            completed.append((level, start >> level, h))
        stack.append((level, h))
    return tuple(stack), completed


def fold(nodes: Sequence[tuple[int, bytes]]) -> bytes | None:
    """MTH of the leaves a frontier covers (RFC 9162 §2.1.1); None for no nodes."""
    if not nodes:
        return None
    acc = nodes[-1][1]
    for _, h in reversed(nodes[:-1]):
        acc = sha256(P1 + h + acc).digest()
    return acc


# -- the database -----------------------------------------------------------------------------


def entries_sql(dialect: str) -> str:
    """Entries ``[?, ?)`` in index order with the stored content of the version their ``ref``
    column names — only those whose columns are their entry's, whose version and resource row
    exist, and whose resource row, while it is that version, holds the same bytes. The row is
    found by the version's ``rid`` (one primary-key look-up; a row found only by type and id,
    as the slow path finds it, makes the chunk "look closer"); SQLite's ``CROSS JOIN`` keeps its
    planner to this order."""
    prefix = """'{"kind":"' || e.kind || '","ref":"' || e.ref || '","sha256":'"""
    if dialect == "sqlite":
        rest = "substr(e.ref, instr(e.ref, '/') + 1)"
        res_type = "substr(e.ref, 1, instr(e.ref, '/') - 1)"
        res_id = f"substr({rest}, 1, instr({rest}, '/_history/') - 1)"
        version = f"CAST(substr({rest}, instr({rest}, '/_history/') + 10) AS INTEGER)"
        starts = f"substr(e.entry, 1, 29 + length(e.kind) + length(e.ref)) = CAST({prefix} AS BLOB)"
        same, join = "IS", "CROSS JOIN"
    else:
        res_type, res_id = "split_part(e.ref, '/', 1)", "split_part(e.ref, '/', 2)"
        v = "split_part(e.ref, '/', 4)"
        version = f"CASE WHEN {v} ~ '^[1-9][0-9]{{0,8}}$' THEN CAST({v} AS INTEGER) END"
        starts = f"position(convert_to({prefix}, 'UTF8') in e.entry) = 1"
        same, join = "IS NOT DISTINCT FROM", "JOIN"
    return (
        "SELECT e.idx, e.entry, e.leaf_hash, v.content FROM ledger_entry e "
        f"{join} resource_version v ON v.res_type = {res_type} AND v.res_id = {res_id} "
        f"AND v.version_id = {version} "
        f"{join} resource r ON r.rid = v.rid AND r.res_type = v.res_type "
        "AND r.res_id = v.res_id "
        f"WHERE e.idx >= ? AND e.idx < ? AND {starts} "
        f"AND (r.version_id <> v.version_id OR r.content {same} v.content) ORDER BY e.idx"
    )


NODES_SQL = "SELECT hash FROM ledger_node WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx"
"""The stored nodes of one level in a range of indexes (one query per level: an ``OR`` of
the levels' ranges makes SQLite merge and sort them, about twice the cost per node)."""


def stored_nodes(cur: Any, qmark: bool, begin: int, counts: Sequence[int]) -> list[Any]:
    """The stored nodes ``(L, (begin >> L) + j)``, ``j < counts[L]``, by level then index."""
    out: list[Any] = []
    for level, count in enumerate(counts):
        first = begin >> level
        out += [r[0] for r in fetch(cur, qmark, NODES_SQL, (level, first, first + count))]
    return out


def fetch(cur: Any, qmark: bool, sql: str, params: Sequence[Any]) -> list[Any]:
    """Rows of a raw DB-API query (``?`` placeholders; ``%s`` unless ``qmark``)."""
    cur.execute(sql if qmark else sql.replace("?", "%s"), tuple(params))
    return list(cur.fetchall())


def database_subtree(
    cur: Any, dialect: str, begin: int, end: int, sizes: Sequence[int]
) -> Subtree | None:
    """Entries ``[begin, end)`` (module docstring) through the DB-API cursor ``cur``."""
    n, qmark = end - begin, dialect == "sqlite"
    rows = fetch(cur, qmark, entries_sql(dialect), (begin, end))
    if len(rows) != n or n == 0:
        return None
    idxs, datas, stored, contents = zip(*rows, strict=True)
    if list(idxs) != list(range(begin, end)):
        return None
    try:
        text = b"\n".join(datas).decode("utf-8")
        found = LEAVES.findall(text)
        if len(found) != n or text.count("\n") != n - 1:
            return None
        hashes = [sha256(P0 + d).digest() for d in datas]
        if list(stored) != hashes:
            return None
        if [sha256(c).hexdigest() if c is not None else "" for c in contents] != found:
            return None
    except (TypeError, UnicodeDecodeError):  # a tampered cell of another type
        return None
    out = levels(hashes)
    counts = [len(row) for row in out]
    if stored_nodes(cur, qmark, begin, counts) != [h for row in out for h in row]:
        return None
    return subtree(begin, hashes, out, sizes)


# -- an export ----------------------------------------------------------------------------------


def export_subtree(
    text: bytes,
    version: int,
    begin: int,
    end: int,
    sizes: Sequence[int],
    pos: int,
    endpos: int,
    signed: bool = False,
) -> Subtree | None:
    """Entries ``[begin, end)`` from ``text[pos:endpos]``, their entry lines of an export joined
    by newlines (module docstring): one pattern over the span (not a copy of it), or with
    ``signed`` (format 2 only) :func:`signed_leaf_hashes`; every line's index compared at once, the
    leaves hashed and the levels built with tight loops. The cyclic garbage collector is off
    meanwhile: nothing here makes a cycle, and it would only walk the chunk's tuples over and
    over."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        if signed and version == 2:
            hashes = signed_leaf_hashes(text, begin, end, pos, endpos)
        else:
            leaves = _matched_leaves(text, version, begin, end, pos, endpos)
            hashes = None if leaves is None else [sha256(P0 + d).digest() for d in leaves]
        if hashes is None:
            return None
        return subtree(begin, hashes, levels(hashes), sizes)
    finally:
        if collecting:
            gc.enable()


def _matched_leaves(
    text: bytes, version: int, begin: int, end: int, pos: int, endpos: int
) -> list[bytes] | None:
    """The leaves of ``n`` lines each matching the entry-line pattern, with indexes ``begin …
    end - 1`` (None otherwise)."""
    n = end - begin
    found = EXPORT_LINES[version].findall(text, pos, endpos)
    if len(found) != n or n == 0:
        return None
    try:  # a line that is not well-formed has the index b""
        if list(map(int, [i for i, _ in found])) != list(range(begin, end)):
            return None
    except ValueError:
        return None
    leaves = [x for _, x in found]
    if version == 1:  # their only backslashes are those of \" escapes: drop them all
        leaves = [x.translate(None, b"\\") for x in leaves]
    return leaves


def signed_leaf_hashes(
    text: bytes, begin: int, end: int, pos: int, endpos: int
) -> list[bytes] | None:
    """The leaf hashes (RFC 9162 §2.1.1) of format-2 lines ``text[pos:endpos]`` if they are
    exactly ``[begin,<leaf>]`` … ``[end - 1,<leaf>]`` (the index in its one decimal spelling),
    else None. Whatever the leaf bytes are, they are hashed as they stand: only for a chunk a
    signed root will vouch for (module docstring). Lines are compared in runs of one index
    width, and each leaf is hashed straight from its slice of the line."""
    span = text[pos:endpos]
    lines = span.split(b"\n")
    # every line ends with "]": each newline follows one, and so does the end
    if len(lines) != end - begin or span.count(b"]\n") != len(lines) - 1:
        return None
    if not span.endswith(b"]"):
        return None
    hashes: list[bytes] = []
    k = begin
    while k < end:
        width = len(str(k))
        stop = min(end, 10**width)
        run, at = lines[k - begin : stop - begin], width + 2
        if [x[:at] for x in run] != [b"[%d," % i for i in range(k, stop)]:
            return None
        hashes += [sha256(P0 + x[at:-1]).digest() for x in run]
        k = stop
    return hashes
