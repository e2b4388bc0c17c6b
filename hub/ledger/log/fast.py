"""The fast path of ``hub ledger verify``: whole chunks of entries proved sound at once.

``verify.Rebuild`` checks one entry at a time and says exactly what is wrong; that costs
microseconds of Python per entry. Here a chunk (thousands of entries) is checked with list
comprehensions over raw DB-API rows, ``hashlib.sha256`` called directly, and C-level list
comparisons; the answer is only "the whole chunk is sound" or "look closer". On "look
closer" the caller re-runs the chunk through ``Rebuild`` from the same frontier, so every
problem is still found and named, in the same words, at the same first bad index. The fast
path checks everything the slow one does (module docstring of ``verify``, steps 1–5):

* indexes: the chunk's rows are ``pos … pos+n-1`` (primary key, ordered: first and last
  suffice), and none of them records a version recorded before (``dup_at``);
* leaf bytes: :data:`ENTRY` accepts only exactly what ``entries.leaf_bytes`` writes — so the
  bytes are canonical JSON without re-serialising them — and the ``kind``/``ref`` columns
  and the ref's resource type must agree with them;
* leaf hashes: ``SHA-256(0x00 ‖ entry)`` (RFC 9162 §2.1.1) equals the stored column;
* content: every recorded version exists and ``SHA-256(content)`` equals the entry's sha256;
  the current resource row must exist and, while it is that version, hold the same bytes
  (byte equality with a version whose hash was just checked proves the same as hashing it);
* tree: :func:`grow` rebuilds the perfect subtrees level by level (RFC 9162 §2.1.1,
  ``node = SHA-256(0x01 ‖ left ‖ right)``), and every node completed in the chunk must equal
  the stored ``ledger_node`` row ``(level, idx)``; roots at checkpoint sizes must match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from hashlib import sha256
from typing import Any, cast

from sqlalchemy import Connection

from hub.ledger.hasher import EMPTY_ROOT

P0, P1 = b"\x00", b"\x01"
_TIME = r'"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"'
ENTRY = re.compile(
    r'\{"kind":"(access|consent)","ref":"((AuditEvent|Consent)/([A-Za-z0-9\-.]{1,64})'
    r'/_history/[1-9][0-9]{0,17})","sha256":(?:"([0-9a-f]{64})"|null),' + _TIME + r"\}"
)
"""Exactly the leaves ``entries.leaf_bytes`` writes (kind, ref, type, id, sha256 groups)."""

EXPORT_LINE = re.compile(
    rb'\{"type":"entry","index":(0|[1-9][0-9]{0,17}),"entry":"(\{\\"kind\\":\\"'
    rb'(?:access\\",\\"ref\\":\\"AuditEvent|consent\\",\\"ref\\":\\"Consent)'
    rb'/[A-Za-z0-9\-.]{1,64}/_history/[1-9][0-9]{0,17}\\",\\"sha256\\":'
    rb'(?:\\"[0-9a-f]{64}\\"|null),\\"time\\":\\"[0-9]{4}-[0-9]{2}-[0-9]{2}'
    rb'T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\\"\})"\}'
)
"""An export line (``write_export``) whose entry is a well-formed leaf; its only escapes are
``\\"``, so the leaf bytes are the escaped text with ``\\"`` replaced by ``"``."""

_PAIRS = {("access", "AuditEvent"), ("consent", "Consent")}


def grow(pending: dict[int, bytes], pos: int, hashes: list[bytes]) -> list[list[bytes]]:
    """Append leaf hashes ``pos, pos+1, …`` to the frontier ``pending`` (level → hash of the
    perfect subtree awaiting its right sibling; updated in place).

    Returns the nodes completed, per level: ``out[L]`` holds nodes ``(L, pos >> L)`` onward
    (``out[0]`` is ``hashes``). Each level is one list comprehension over the level below.
    """
    out = [hashes]
    cur, start, level = hashes, pos, 0
    while cur:
        seq = [pending.pop(level), *cur] if start & 1 else cur
        if len(seq) & 1:
            pending[level] = seq[-1]
        nxt = [sha256(P1 + a + b).digest() for a, b in zip(seq[::2], seq[1::2], strict=False)]
        if nxt:
            out.append(nxt)
        cur, start, level = nxt, start >> 1, level + 1
    return out


def root_at(size: int, pos: int, before: dict[int, bytes], out: list[list[bytes]]) -> bytes:
    """MTH of the first ``size`` leaves (pos < size ≤ pos + len(out[0])) after :func:`grow`,
    from the frontier ``before`` it and the nodes it completed (RFC 9162 §2.1.1)."""
    parts = []
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            idx, first = (size >> level) - 1, pos >> level
            parts.append(out[level][idx - first] if idx >= first else before[level])
    if not parts:
        return EMPTY_ROOT
    acc = parts[-1]
    for h in reversed(parts[:-1]):
        acc = sha256(P1 + h + acc).digest()
    return acc


def roots_ok(
    pos: int, n: int, before: dict[int, bytes], out: list[list[bytes]], by_size: dict[int, Any]
) -> bool:
    """Every checkpoint of a size in (pos, pos + n] has the recomputed root (``before``: the
    frontier before :func:`grow`)."""
    for size, cps in by_size.items():
        if pos < size <= pos + n:
            root = root_at(size, pos, before, out)
            if any(cp.root != root for _, cp in cps):
                return False
    return True


def param(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def fetch(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Rows of a raw DB-API query in the connection's transaction (``?`` placeholders)."""
    if param(conn) != "?":
        sql = sql.replace("?", "%s")
    cur = conn.connection.cursor()
    try:
        cur.execute(sql, tuple(params))
        return list(cur.fetchall())
    finally:
        cur.close()


def entries_sql(conn: Connection) -> str:
    """Entries ``[?, ?)`` in index order, each with what its ``ref`` column names: the stored
    content of that version, and ``ok`` — 1 when the version and the resource row exist and
    the row, while it is that version, holds the same bytes (index look-ups by parsed ref)."""
    if conn.dialect.name == "sqlite":
        rest = "substr(e.ref, instr(e.ref, '/') + 1)"
        res_type = "substr(e.ref, 1, instr(e.ref, '/') - 1)"
        res_id = f"substr({rest}, 1, instr({rest}, '/_history/') - 1)"
        version = f"CAST(substr({rest}, instr({rest}, '/_history/') + 10) AS INTEGER)"
        same = "IS"
    else:
        res_type, res_id = "split_part(e.ref, '/', 1)", "split_part(e.ref, '/', 2)"
        v = "split_part(e.ref, '/', 4)"
        version = f"CASE WHEN {v} ~ '^[1-9][0-9]{{0,8}}$' THEN CAST({v} AS INTEGER) END"
        same = "IS NOT DISTINCT FROM"
    return (
        "SELECT e.idx, e.kind, e.ref, e.entry, e.leaf_hash, v.content, "
        "CASE WHEN v.vid IS NULL OR r.rid IS NULL THEN 0 WHEN r.version_id <> v.version_id "
        f"THEN 1 WHEN r.content {same} v.content THEN 1 ELSE 0 END "
        "FROM ledger_entry e "
        f"LEFT JOIN resource_version v ON v.res_type = {res_type} AND v.res_id = {res_id} "
        f"AND v.version_id = {version} "
        "LEFT JOIN resource r ON r.res_type = v.res_type AND r.res_id = v.res_id "
        "WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx"
    )


def database_chunk(
    conn: Connection,
    pos: int,
    rows: Sequence[Any],
    pending: dict[int, bytes],
    by_size: dict[int, Any],
    dup_at: dict[int, Any],
) -> dict[int, bytes] | None:
    """The frontier after ``rows`` (of :func:`entries_sql`, the first expected at ``pos``) if
    the whole chunk is sound, else None."""
    n = len(rows)
    idxs, kinds, refs, datas, stored, contents, current = zip(*rows, strict=True)
    if idxs[0] != pos or idxs[-1] != pos + n - 1 or 0 in current:
        return None
    if dup_at and any(i in dup_at for i in idxs):
        return None
    try:
        maybe = [ENTRY.fullmatch(d.decode()) for d in datas]
        if None in maybe:
            return None
        matches = cast(list[re.Match[str]], maybe)
        if [m.group(1, 2) for m in matches] != list(zip(kinds, refs, strict=True)):
            return None
        if not {m.group(1, 3) for m in matches} <= _PAIRS:
            return None
        hashes = [sha256(P0 + d).digest() for d in datas]
        if list(stored) != hashes:
            return None
        digests = [sha256(c).hexdigest() if c is not None else None for c in contents]
        if digests != [m[5] for m in matches]:
            return None
    except (AttributeError, TypeError, UnicodeDecodeError):  # a tampered cell of another type
        return None
    new = dict(pending)
    out = grow(new, pos, hashes)
    if not nodes_ok(conn, pos, out) or not roots_ok(pos, n, pending, out, by_size):
        return None
    return new


def nodes_ok(conn: Connection, pos: int, out: list[list[bytes]]) -> bool:
    """The stored nodes completed in the chunk are exactly the recomputed ones."""
    for level, hashes in enumerate(out):
        first = pos >> level
        rows = fetch(
            conn,
            "SELECT hash FROM ledger_node WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
            (level, first, first + len(hashes)),
        )
        if [r[0] for r in rows] != hashes:
            return False
    return True


def export_chunk(
    pos: int,
    idxs: list[int],
    datas: list[bytes],
    formed: list[bool],
    pending: dict[int, bytes],
    by_size: dict[int, Any],
) -> dict[int, bytes] | None:
    """As :func:`database_chunk` for an export: indexes, leaf bytes and whether EXPORT_LINE
    proved each well-formed; no columns, stored hashes, nodes or contents to compare."""
    if not all(formed) or idxs != list(range(pos, pos + len(idxs))):
        return None
    hashes = [sha256(P0 + d).digest() for d in datas]
    new = dict(pending)
    out = grow(new, pos, hashes)
    return new if roots_ok(pos, len(idxs), pending, out, by_size) else None
