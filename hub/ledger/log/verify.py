"""Verify the whole ledger: from the database, or from an export with only the public key.

From the database (``verify_database``), entry by entry in index order:

1. indexes run 0, 1, 2, … with no gap, and no resource version is recorded twice;
2. the entry bytes are a well-formed leaf (``hub.ledger.log.entries``) whose kind and ref
   match their columns, and whose RFC 9162 leaf hash matches the stored one;
3. the recorded resource version still exists and its stored content (``resource_version``,
   and ``resource`` while it is the current version) still hashes to the entry's sha256;
4. the tree is rebuilt (``hub.ledger.merkle.append``) and every stored node it completes —
   the leaf itself included — must equal the recomputed one;
5. every stored checkpoint (and every witnessed one, ``witness``) must carry a valid Ed25519
   signature and the recomputed root at its size; one larger than the log means entries were
   removed (rollback);
6. finally the state row must hold the recomputed size and root, and every AuditEvent and
   Consent version written since the ledger began must have an entry.

The first problem names the first bad index. ``verify_export`` runs steps 1, 2, 4 (roots
only) and 5 over an export file, with no database.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, String, cast, func, select

from hub.ledger.checkpoint import Checkpoint, SignatureError, open_checkpoint
from hub.ledger.hasher import EMPTY_ROOT, leaf_hash
from hub.ledger.log import fast, store
from hub.ledger.log.entries import Leaf, LeafError, content_digest, parse_leaf
from hub.ledger.log.schema import ledger_checkpoint, ledger_entry, ledger_node, ledger_state
from hub.ledger.merkle import Frontier, append
from hub.store import schema as s

LEDGERED = ("AuditEvent", "Consent")
ContentCheck = Callable[[Leaf], str | None]


@dataclass(frozen=True, slots=True)
class Problem:
    index: int | None
    what: str

    def __str__(self) -> str:
        return f"index {self.index}: {self.what}" if self.index is not None else self.what


@dataclass
class Report:
    entries: int = 0
    size: int = 0
    root: bytes = EMPTY_ROOT
    checkpoints: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    #: chunks the fast path could not prove sound, re-checked entry by entry
    rechecked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def rate(self) -> float:
        return self.entries / self.seconds if self.seconds > 0 else 0.0


def _b(value: Any) -> bytes:
    """A stored blob as bytes (a tampered SQLite cell may hold text instead)."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class Rebuild:
    """Recompute the tree from entries in index order, collecting problems (steps 1, 2, 4, 5)."""

    def __init__(self, checkpoints: Sequence[tuple[str, Checkpoint]], max_problems: int) -> None:
        self.frontier = Frontier()
        self.problems: list[Problem] = []
        self.max_problems = max_problems
        self.by_size: dict[int, list[tuple[str, Checkpoint]]] = {}
        for label, cp in checkpoints:
            self.by_size.setdefault(cp.size, []).append((label, cp))
        if 0 in self.by_size:
            self._roots(0)

    @property
    def full(self) -> bool:
        return len(self.problems) >= self.max_problems

    def problem(self, index: int | None, what: str) -> None:
        if not self.full:
            self.problems.append(Problem(index, what))

    def add(
        self,
        idx: int,
        data: bytes,
        stored_hash: bytes | None = None,
        columns: tuple[str, str] | None = None,
        check: ContentCheck | None = None,
        nodes: dict[tuple[int, int], bytes] | None = None,
        parsed: Leaf | None = None,
    ) -> None:
        i = self.frontier.size
        if idx != i:
            self.problem(i, f"entry missing or out of place (found index {idx} instead)")
        leaf: Leaf | None = parsed
        if leaf is None:
            try:
                leaf = parse_leaf(data)
            except LeafError as exc:
                self.problem(i, f"entry bytes are not a ledger entry: {exc}")
        if leaf is not None and columns is not None and columns != (leaf.kind, leaf.ref):
            self.problem(i, f"columns kind/ref {columns} differ from the entry's")
        h = leaf_hash(data)
        if stored_hash is not None and stored_hash != h:
            self.problem(i, "stored leaf hash differs from the hash of the entry bytes")
        if leaf is not None and check is not None and (what := check(leaf)):
            self.problem(i, what)
        self.frontier, completed = append(self.frontier, h)
        if nodes is not None:
            for n in completed:
                stored = nodes.get((n.level, n.index))
                if stored != n.hash:
                    what = "missing" if stored is None else "differs from the recomputed hash"
                    self.problem(i, f"stored tree node ({n.level}, {n.index}) {what}")
        if self.frontier.size in self.by_size:
            self._roots(self.frontier.size)

    def advance(self, size: int, pending: dict[int, bytes]) -> None:
        """Accept a chunk the fast path proved sound: the frontier after it, checkpoints of
        sizes up to ``size`` done."""
        self.frontier = Frontier(size, tuple(sorted(pending.items(), reverse=True)))
        for done in [k for k in self.by_size if k <= size]:
            del self.by_size[done]

    def _roots(self, size: int) -> None:
        root = self.frontier.root()
        for label, cp in self.by_size.pop(size):
            if cp.root != root:
                self.problem(
                    None,
                    f"{label} of size {size} does not match the recomputed root: entries "
                    f"before {size} differ from what was signed",
                )

    def finish(self) -> None:
        n = self.frontier.size
        for size in sorted(self.by_size):
            for label, _ in self.by_size[size]:
                self.problem(
                    n,
                    f"{label} of size {size} was signed but the log has only {n} entries: "
                    f"entries {n}..{size - 1} are gone (rolled back?)",
                )


def open_notes(
    notes: Iterable[tuple[str, str, int | None, bytes | None]],
    public_key: Ed25519PublicKey,
    key_name: str,
    problems: list[Problem],
) -> list[tuple[str, Checkpoint]]:
    """Verify (label, note, stored size, stored root) signatures; bad ones become problems."""
    out = []
    for label, note, size, root in notes:
        try:
            cp = open_checkpoint(note, public_key, key_name, origin=key_name)
        except SignatureError as exc:
            problems.append(Problem(None, f"{label}: {exc}"))
            continue
        if (size is not None and cp.size != size) or (root is not None and cp.root != root):
            problems.append(Problem(None, f"{label}: size/root columns differ from the note"))
        out.append((label, cp))
    return out


def _contents(conn: Connection, leaves: list[Leaf]) -> ContentCheck:
    """Fetch the recorded versions of a chunk of entries; return the step-3 check."""
    wanted: dict[str, set[str]] = {}
    for leaf in leaves:
        try:
            t, i, _ = leaf.target
        except LeafError:
            continue
        wanted.setdefault(t, set()).add(i)
    versions: dict[tuple[str, str, int], bytes | None] = {}
    current: dict[tuple[str, str], tuple[int, bytes | None]] = {}
    v, r = s.resource_version.c, s.resource.c
    for t, ids in wanted.items():
        for row in conn.execute(
            select(v.res_id, v.version_id, v.content).where(v.res_type == t, v.res_id.in_(ids))
        ):
            versions[t, row[0], int(row[1])] = _b(row[2]) if row[2] is not None else None
        for row in conn.execute(
            select(r.res_id, r.version_id, r.content).where(r.res_type == t, r.res_id.in_(ids))
        ):
            current[t, row[0]] = (int(row[1]), _b(row[2]) if row[2] is not None else None)

    def check(leaf: Leaf) -> str | None:
        t, i, ver = leaf.target
        if (t, i, ver) not in versions:
            return f"{leaf.ref} is missing from resource_version (deleted?)"
        if content_digest(versions[t, i, ver]) != leaf.sha256:
            return f"the stored content of {leaf.ref} no longer matches the entry's sha256"
        cur = current.get((t, i))
        if cur is None:
            return f"the resource row of {t}/{i} is missing (deleted?)"
        if cur[0] == ver and content_digest(cur[1]) != leaf.sha256:
            return f"the current resource row of {t}/{i} no longer matches the entry's sha256"
        return None

    return check


def _unledgered(conn: Connection, base_vid: int, recorded: int, limit: int) -> list[str]:
    """AuditEvent/Consent versions written since the ledger began that have no entry."""
    v = s.resource_version.c
    since = (v.res_type.in_(LEDGERED), v.vid > base_vid)
    total = conn.execute(select(func.count()).where(*since)).scalar_one()
    if int(total) <= recorded:
        return []
    ref = v.res_type + "/" + v.res_id + "/_history/" + cast(v.version_id, String)
    rows = conn.execute(
        select(ref)
        .where(*since, ~select(ledger_entry.c.idx).where(ledger_entry.c.ref == ref).exists())
        .limit(limit)
    ).all()
    return [str(row[0]) for row in rows]


def _slow_chunk(
    conn: Connection,
    rebuild: Rebuild,
    rows: Sequence[tuple[Any, ...]],
    dup_at: dict[int, tuple[str, int]],
    levels: int,
) -> None:
    """Entry by entry, naming every problem (a chunk the fast path did not prove sound)."""
    pos = rebuild.frontier.size
    n = ledger_node.c
    nodes = {
        (int(lv), int(ix)): _b(h)
        for lv, ix, h in conn.execute(
            select(n.level, n.idx, n.hash).where(store.node_ranges(pos, pos + len(rows), levels))
        )
    }
    leaves: dict[int, Leaf] = {}
    for row in rows:
        with contextlib.suppress(LeafError):  # reported by Rebuild.add
            leaves[int(row[0])] = parse_leaf(_b(row[3]))
    check = _contents(conn, list(leaves.values()))
    for idx_, kind, ref, data, stored, *_ in rows:
        idx = int(idx_)
        if idx in dup_at:
            ref0, first = dup_at[idx]
            rebuild.problem(rebuild.frontier.size, f"{ref0} is recorded again (first at {first})")
        rebuild.add(idx, _b(data), _b(stored), (kind, ref), check, nodes, leaves.get(idx))


def verify_database(
    conn: Connection,
    public_key: Ed25519PublicKey,
    key_name: str,
    *,
    witness: Sequence[str] = (),
    chunk: int = 16384,
    max_problems: int = 10,
    fast_path: bool = True,
) -> Report:
    """Steps 1–6 of the module docstring over the database behind ``conn``.

    Each chunk is first tried on the fast path (``hub.ledger.log.fast``), which only says
    "sound"; any other chunk is re-checked entry by entry (``fast_path=False``: all of them),
    which names every problem — so the report is the same either way, only slower."""
    started = time.perf_counter()
    report = Report()
    cps = conn.execute(
        select(ledger_checkpoint.c.id, ledger_checkpoint.c.note, ledger_checkpoint.c.size,
               ledger_checkpoint.c.root).order_by(ledger_checkpoint.c.id)
    ).all()  # fmt: skip
    notes: list[tuple[str, str, int | None, bytes | None]] = [
        (f"checkpoint #{r.id}", str(r.note), int(r.size), bytes(r.root)) for r in cps
    ]
    notes += [(f"witnessed checkpoint {n + 1}", note, None, None) for n, note in enumerate(witness)]
    problems: list[Problem] = []
    opened = open_notes(notes, public_key, key_name, problems)
    report.checkpoints = len(opened)
    rebuild = Rebuild(opened, max_problems)
    e = ledger_entry.c
    dups = conn.execute(
        select(e.ref, func.min(e.idx), func.max(e.idx)).group_by(e.ref).having(func.count() > 1)
    ).all()
    dup_at = {int(row[2]): (str(row[0]), int(row[1])) for row in dups}
    count, top = conn.execute(select(func.count(), func.max(e.idx))).one()
    end = int(top) + 1 if top is not None else 0
    levels = max(end, 1).bit_length()
    entries_sql = fast.entries_sql(conn)
    for begin in range(0, end, chunk):
        rows = fast.fetch(conn, entries_sql, (begin, begin + chunk))
        pos = rebuild.frontier.size
        pending = dict(rebuild.frontier.nodes)
        sound = (
            fast_path
            and rows
            and fast.database_chunk(conn, pos, rows, pending, rebuild.by_size, dup_at)
        )
        if sound:
            rebuild.advance(pos + len(rows), sound)
        else:
            report.rechecked += 1
            _slow_chunk(conn, rebuild, rows, dup_at, levels)
        if rebuild.full:
            break
    rebuild.finish()
    size = rebuild.frontier.size
    state = conn.execute(select(ledger_state).where(ledger_state.c.id == 1)).first()
    base_vid = int(state.base_vid) if state is not None else 0
    if state is not None and (int(state.size), bytes(state.root)) != (
        size,
        rebuild.frontier.root(),
    ):
        rebuild.problem(
            min(size, int(state.size)),
            f"the state row (size {state.size}) does not match the recomputed tree (size {size})",
        )
    for ref in _unledgered(conn, base_vid, int(count) - len(dup_at), 5):
        rebuild.problem(None, f"{ref} has no ledger entry (written around the ledger?)")
    report.problems = problems + rebuild.problems
    report.entries, report.size, report.root = int(count), size, rebuild.frontier.root()
    report.seconds = time.perf_counter() - started
    return report


def write_export(conn: Connection, out: IO[bytes], origin: str, verifier_key: str) -> int:
    """Entries and checkpoints as JSON lines (a header first); returns the entry count."""
    out.write(orjson.dumps({"type": "header", "origin": origin, "key": verifier_key}) + b"\n")
    e = ledger_entry.c
    written, last = 0, -1
    while True:
        rows = conn.execute(
            select(e.idx, e.entry).where(e.idx > last).order_by(e.idx).limit(5000)
        ).all()
        if not rows:
            break
        for row in rows:
            line = {"type": "entry", "index": int(row.idx), "entry": _b(row.entry).decode()}
            out.write(orjson.dumps(line) + b"\n")
        written += len(rows)
        last = int(rows[-1].idx)
    for cp in store.checkpoints(conn):
        out.write(orjson.dumps({"type": "checkpoint", "note": cp.note}) + b"\n")
    return written


def verify_export(
    lines: Iterable[bytes],
    public_key: Ed25519PublicKey,
    key_name: str,
    *,
    witness: Sequence[str] = (),
    chunk: int = 16384,
    max_problems: int = 10,
    fast_path: bool = True,
) -> Report:
    """Steps 1, 2, 4 (roots only) and 5 over an export, with no database (fast path and
    ``fast_path`` as in :func:`verify_database`)."""
    started = time.perf_counter()
    lines = lines if isinstance(lines, list) else list(lines)
    matched = [fast.EXPORT_LINE.fullmatch(raw) for raw in lines]
    idxs: list[int] = []
    datas: list[bytes] = []
    formed: list[bool] = []
    notes: list[tuple[str, str, int | None, bytes | None]] = []
    others = [(n, raw) for n, (raw, m) in enumerate(zip(lines, matched, strict=True), 1) if not m]
    items: list[tuple[int, Any]] = [(n, orjson.loads(raw)) for n, raw in others if raw.strip()]
    if not any(item.get("type") == "entry" for _, item in items):
        # the usual file: every entry line matched, its leaf proved well-formed by the pattern
        found = [m for m in matched if m is not None]
        idxs = [int(m[1]) for m in found]
        datas = [m[2].replace(b'\\"', b'"') for m in found]
        formed = [True] * len(found)
    else:  # entry lines of another shape: keep the file's order, parse those with orjson
        parsed = dict(items)
        for number, m in enumerate(matched, 1):
            item = parsed.get(number) or {}
            if m is not None:
                idxs.append(int(m[1]))
                datas.append(m[2].replace(b'\\"', b'"'))
                formed.append(True)
            elif item.get("type") == "entry":
                idxs.append(int(item["index"]))
                datas.append(str(item["entry"]).encode("utf-8"))
                formed.append(False)
    for number, item in items:
        if item.get("type") == "checkpoint":
            notes.append((f"checkpoint on line {number}", str(item["note"]), None, None))
    notes += [(f"witnessed checkpoint {n + 1}", note, None, None) for n, note in enumerate(witness)]
    problems: list[Problem] = []
    opened = open_notes(notes, public_key, key_name, problems)
    rebuild = Rebuild(opened, max_problems)
    rechecked = 0
    for begin in range(0, len(idxs), chunk):
        part = slice(begin, begin + chunk)
        pos = rebuild.frontier.size
        sound = fast_path and fast.export_chunk(
            pos, idxs[part], datas[part], formed[part], dict(rebuild.frontier.nodes),
            rebuild.by_size,
        )  # fmt: skip
        if sound:
            rebuild.advance(pos + len(idxs[part]), sound)
            continue
        rechecked += 1
        for idx, data in zip(idxs[part], datas[part], strict=True):
            rebuild.add(idx, data)
        if rebuild.full:
            break
    rebuild.finish()
    report = Report(len(idxs), rebuild.frontier.size, rebuild.frontier.root(), len(opened))
    report.problems, report.rechecked = problems + rebuild.problems, rechecked
    report.seconds = time.perf_counter() - started
    return report
