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

The first problem names the first bad index. ``verify_export`` (``hub.ledger.log.export``)
runs steps 1, 2, 4 (roots only) and 5 over an export file, with no database — step 2 only for
leaves no verified checkpoint vouches for (``export.vouched``).

Speed: the log is cut into chunks that are aligned subtrees; each is first tried on the fast
path (``hub.ledger.log.fast``: "sound" or "look closer"), also in worker processes over their
own connections when asked (``workers``, ``hub.ledger.log.parallel``), and the subtree hashes are
joined in index order (:meth:`Rebuild.join`). A chunk not proved sound is re-checked here entry
by entry from the same frontier, so the report is the same whichever path or how many workers.
"""

from __future__ import annotations

import bisect
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, String, cast, func, select

from hub.ledger.checkpoint import Checkpoint, SignatureError, open_checkpoint
from hub.ledger.hasher import EMPTY_ROOT, leaf_hash
from hub.ledger.log import fast, parallel, store
from hub.ledger.log.entries import Leaf, LeafError, content_digest, parse_leaf
from hub.ledger.log.schema import ledger_checkpoint, ledger_entry, ledger_node, ledger_state
from hub.ledger.merkle import Frontier, append
from hub.store import schema as s
from hub.store.db import shareable

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
    #: processes proving chunks, this one included (1: this one alone)
    workers: int = 1
    #: chunks each process (by id) proved on the fast path
    provers: dict[int, int] = field(default_factory=dict)

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

    def __init__(
        self, checkpoints: Sequence[tuple[str, Checkpoint]], max_problems: int, vouched: int = 0
    ) -> None:
        self.frontier = Frontier()
        self.problems: list[Problem] = []
        self.max_problems = max_problems
        #: entries before this index are taken as a verified signature vouches for them: their
        #: leaf bytes are not parsed (an export's, ``export.vouched``; 0 for the database)
        self.vouched = vouched
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
        if leaf is None and i >= self.vouched:
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

    def join(self, sub: fast.Subtree, upper: dict[tuple[int, int], bytes] | None) -> bool:
        """Accept a chunk the fast path proved sound if it starts where the tree ends, every
        checkpoint inside or at its end has the joined root and (``upper`` given) every stored
        node the join completes is the joined one; else change nothing and return False."""
        size, before = self.frontier.size, self.frontier.nodes
        if sub.begin != size:
            return False
        nodes, completed = fast.extend(before, size, sub)
        roots = {at: fast.fold(before + parts) for at, parts in sub.at.items()}
        roots[sub.end] = fast.fold(nodes)
        for at, root in roots.items():
            if any(cp.root != root for _, cp in self.by_size.get(at, ())):
                return False
        if upper is not None and any(upper.get((lv, ix)) != h for lv, ix, h in completed):
            return False
        self.frontier = Frontier(sub.end, nodes)
        for done in [k for k in self.by_size if size < k <= sub.end]:
            del self.by_size[done]
        return True

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
    waiting: set[tuple[str, str]] = set()  # version row still on the backlog (hub.store.backlog)
    v, r, b = s.resource_version.c, s.resource.c, s.index_backlog.c
    for t, ids in wanted.items():
        for row in conn.execute(
            select(v.res_id, v.version_id, v.content).where(v.res_type == t, v.res_id.in_(ids))
        ):
            versions[t, row[0], int(row[1])] = _b(row[2]) if row[2] is not None else None
        for cur_row in conn.execute(
            select(r.res_id, r.version_id, r.content, b.method)
            .select_from(s.resource.outerjoin(s.index_backlog, b.rid == r.rid))
            .where(r.res_type == t, r.res_id.in_(ids))
        ):
            res_id, version, content, method = tuple(cur_row)
            current[t, res_id] = (int(version), _b(content) if content is not None else None)
            if method is not None and int(version) == 1:
                waiting.add((t, res_id))

    def check(leaf: Leaf) -> str | None:
        t, i, ver = leaf.target
        if (t, i, ver) not in versions and (t, i) in waiting and ver == 1:
            versions[t, i, ver] = current[t, i][1]  # the version row is the resource row's copy
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


def _catch_up(conn: Connection) -> None:
    """Write the backlog's waiting version rows (:func:`verify_database`) before ``conn``
    reads anything — in a unit of its own that commits first (``hub.store.backlog.ensure``),
    so that this transaction and the workers see them."""
    from hub.store import backlog

    backlog.ensure(conn, backlog.DEFERRED_TYPES)


def _unledgered(conn: Connection, base_vid: int, recorded: int, limit: int) -> list[str]:
    """AuditEvent/Consent versions written since the ledger began that have no entry."""
    from hub.store.backlog import waiting_ledgered

    v = s.resource_version.c
    since = (v.res_type.in_(LEDGERED), v.vid > base_vid)
    total = conn.execute(select(func.count()).where(*since)).scalar_one()
    # an AuditEvent whose version row still waits (hub.store.backlog) has its entry already:
    # count it too, or it would hide a version row that has none
    if int(total) + waiting_ledgered(conn, LEDGERED) <= recorded:
        return []
    ref = v.res_type + "/" + v.res_id + "/_history/" + cast(v.version_id, String)
    rows = conn.execute(
        select(ref)
        .where(*since, ~select(ledger_entry.c.idx).where(ledger_entry.c.ref == ref).exists())
        .limit(limit)
    ).all()
    return [str(row[0]) for row in rows]


def chunks(end: int, size: int, by_size: Iterable[int]) -> list[tuple[int, int, list[int]]]:
    """``(begin, end, checkpoint sizes strictly inside)`` of each chunk of ``[0, end)``."""
    sizes = sorted(by_size)
    out = []
    for begin in range(0, end, size):
        stop = min(begin + size, end)
        inside = sizes[bisect.bisect_right(sizes, begin) : bisect.bisect_left(sizes, stop)]
        out.append((begin, stop, inside))
    return out


_ENTRIES_SQL = (
    "SELECT idx, kind, ref, entry, leaf_hash FROM ledger_entry WHERE idx >= ? AND idx < ? "
    "ORDER BY idx"
)


def _slow_chunk(
    conn: Connection, rebuild: Rebuild, begin: int, end: int, dup_at: dict[int, tuple[str, int]]
) -> None:
    """Entries ``[begin, end)`` one by one, naming every problem (a chunk the fast path did
    not prove sound)."""
    qmark = conn.dialect.paramstyle == "qmark"
    cur = conn.connection.cursor()
    try:
        rows = fast.fetch(cur, qmark, _ENTRIES_SQL, (begin, end))
    finally:
        cur.close()
    pos = rebuild.frontier.size
    n = ledger_node.c
    levels = max(end, pos + len(rows), 1).bit_length()
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
    for idx_, kind, ref, data, stored in rows:
        idx = int(idx_)
        if idx in dup_at:
            ref0, first = dup_at[idx]
            rebuild.problem(rebuild.frontier.size, f"{ref0} is recorded again (first at {first})")
        rebuild.add(idx, _b(data), _b(stored), (kind, ref), check, nodes, leaves.get(idx))


def _local_chunk(
    conn: Connection, begin: int, end: int, sizes: Sequence[int]
) -> fast.Subtree | None:
    cur = conn.connection.cursor()
    try:
        return fast.database_subtree(cur, conn.dialect.name, begin, end, sizes)
    finally:
        cur.close()


def verify_database(
    conn: Connection,
    public_key: Ed25519PublicKey,
    key_name: str,
    *,
    witness: Sequence[str] = (),
    chunk: int = 16384,
    max_problems: int = 10,
    fast_path: bool = True,
    workers: int = 1,
) -> Report:
    """Steps 1–6 of the module docstring over the database behind ``conn``.

    Chunks of ``chunk`` entries (rounded down to a power of two: aligned subtrees) are tried
    on the fast path — by ``workers`` processes if more than one, this one and the others each
    with its own connection (``hub.ledger.log.parallel``) — which only says "sound"; any other
    chunk is re-checked
    entry by entry (``fast_path=False``: all of them), which names every problem — so the
    report is the same either way, only slower.

    First the version rows that still wait on the index backlog are written (``hub.store.
    backlog``), in a transaction of their own that commits before ``conn`` reads anything, so
    that this transaction and the workers see them; an entry appended later whose version
    row waits is checked against its resource row (:func:`_contents`).

    PostgreSQL: open ``conn``'s transaction at REPEATABLE READ (as ``hub ledger verify``
    does), so that its own statements read the one snapshot its workers are given; under
    READ COMMITTED each statement would see entries appended since."""
    started = time.perf_counter()
    _catch_up(conn)
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
    count, top = conn.execute(select(func.count(), func.max(e.idx))).one()
    end = int(top) + 1 if top is not None else 0
    if not (fast_path and workers > 1 and shareable(conn)):
        workers = 1
    size = parallel.chunk_size(chunk, end, workers)
    tasks = chunks(end, size, rebuild.by_size)
    workers = workers if len(tasks) > 1 and end >= parallel.MIN_PARALLEL else 1
    snapshot = parallel.export_snapshot(conn) if workers > 1 else None
    with parallel.database_processes(workers) as executor:
        report.workers = workers
        url = parallel.worker_url(conn) if workers > 1 else ""
        remote = partial(parallel.database_task, url, snapshot)
        local = partial(_local_chunk, conn)
        todo = tasks if fast_path else []
        proved = parallel.results(
            executor, remote, local, todo, report.provers, window=2 * (workers - 1)
        )
        dups = conn.execute(
            select(e.ref, func.min(e.idx), func.max(e.idx)).group_by(e.ref).having(func.count() > 1)
        ).all()
        dup_at = {int(row[2]): (str(row[0]), int(row[1])) for row in dups}
        dup_idx = sorted(dup_at)
        n = ledger_node.c
        upper = {
            (int(lv), int(ix)): _b(h)
            for lv, ix, h in conn.execute(
                select(n.level, n.idx, n.hash).where(n.level > size.bit_length() - 1)
            )
        }
        for begin, stop, _ in tasks:
            sub = next(proved, None)
            dup = bisect.bisect_left(dup_idx, begin) < bisect.bisect_left(dup_idx, stop)
            if sub is not None and not dup and rebuild.join(sub, upper):
                continue
            report.rechecked += 1
            _slow_chunk(conn, rebuild, begin, stop, dup_at)
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
