"""``hub ledger export`` files, and their verification with only the public key (issue 5).

An export is JSON lines. Version 2 (what :func:`write_export` writes)::

    {"type":"header","version":2,"origin":"<log origin>","key":"<verifier key>"}
    [0,{"kind":"access","ref":"AuditEvent/…/_history/1","sha256":"…","time":"…"}]
    [1,…]                                  one line per entry, in index order
    {"type":"checkpoint","note":"<signed note>"}   one line per checkpoint

An entry line is ``[index,leaf]`` with the leaf bytes verbatim (they are canonical JSON,
``hub.ledger.log.entries``): the leaf is exactly the bytes between the first comma and the
final ``]``, and its RFC 9162 leaf hash is ``SHA-256(0x00 ‖ leaf)``. Version 1 (a header with
no ``version``) has ``{"type":"entry","index":N,"entry":"<leaf as a JSON string>"}`` lines; it
is still read. Any other version is refused (:class:`ExportError`).

:func:`verify_export` runs steps 1, 2, 4 (roots only) and 5 of ``hub.ledger.log.verify`` over
the file: chunks of entry lines on the fast path (``fast.export_subtree``; in worker processes
with ``workers``), any chunk not proved sound re-checked entry by entry. The fast path reads
the file's bytes as they are — each chunk a span of them, found from the index its first line
claims; format-2 chunks up to the last verified checkpoint *signed* (their leaves taken as
they stand: the signed root they must reach vouches for them, :func:`vouched`) — and falls back
to the file's lines, from the start, unless it proves every entry line. Leaves a verified
checkpoint vouches for are not checked for shape on any path: an export is verified as being
what the key's holder signed.
A file whose entry lines are not one run after the header (hand-edited, say) is checked entry
by entry throughout.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from itertools import islice, repeat
from typing import IO, Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, select

from hub.ledger.checkpoint import Checkpoint
from hub.ledger.hasher import leaf_hash
from hub.ledger.log import fast, parallel, store
from hub.ledger.log.schema import ledger_entry
from hub.ledger.log.verify import Problem, Rebuild, Report, chunks, open_notes
from hub.ledger.merkle import root_from_leaf_hashes

VERSIONS = (1, 2)
_LOOSE_V2 = re.compile(rb"\[(0|[1-9][0-9]*),(.*)\]", re.DOTALL)


class ExportError(ValueError):
    """A file this hub cannot read as an export (an unknown version)."""


def write_export(
    conn: Connection, out: IO[bytes], origin: str, verifier_key: str, *, version: int = 2
) -> int:
    """Entries and checkpoints as JSON lines (module docstring); returns the entry count."""
    if version not in VERSIONS:
        raise ExportError(f"unknown export version {version}")
    header: dict[str, Any] = {"type": "header", "origin": origin, "key": verifier_key}
    out.write(orjson.dumps({**header, "version": 2} if version == 2 else header) + b"\n")
    e = ledger_entry.c
    written, last = 0, -1
    while True:
        rows = conn.execute(
            select(e.idx, e.entry).where(e.idx > last).order_by(e.idx).limit(5000)
        ).all()
        if not rows:
            break
        for idx, data in rows:
            entry = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            if version == 2:
                out.write(b"[%d,%s]\n" % (int(idx), entry))
            else:
                line = {"type": "entry", "index": int(idx), "entry": entry.decode()}
                out.write(orjson.dumps(line) + b"\n")
        written += len(rows)
        last = int(rows[-1].idx)
    for cp in store.checkpoints(conn):
        out.write(orjson.dumps({"type": "checkpoint", "note": cp.note}) + b"\n")
    return written


def _version(lines: Sequence[bytes]) -> int:
    try:
        header = orjson.loads(lines[0]) if lines else {}
    except orjson.JSONDecodeError:
        header = {}
    if not isinstance(header, dict) or header.get("type") != "header":
        return 1
    version = header.get("version", 1)
    if version not in VERSIONS:
        raise ExportError(
            f"export version {version!r} is not one this hub reads "
            f"({', '.join(map(str, VERSIONS))}); verify it with the hub that wrote it"
        )
    return int(version)


def entry_of(line: bytes, version: int, position: int) -> tuple[int, bytes]:
    """(index, leaf bytes) an entry line claims; a line of no entry shape counts as the
    entry at ``position`` with the whole line as its bytes (so the problem is named there)."""
    if version == 2:
        m = fast.EXPORT_V2.fullmatch(line) or _LOOSE_V2.fullmatch(line)
        return (int(m[1]), m[2]) if m else (position, line)
    m = fast.EXPORT_V1.fullmatch(line)
    if m:
        return int(m[1]), m[2].replace(b'\\"', b'"')
    try:
        item = orjson.loads(line)
        return int(item["index"]), str(item["entry"]).encode("utf-8")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return position, line


_ENTRY_START = {1: b'{"type":"entry"', 2: b"["}


def _is_entry(line: bytes, version: int) -> bool:
    return line.startswith(_ENTRY_START[version])


def _entry_bounds(lines: Sequence[bytes], version: int) -> tuple[int, int]:
    """``(first, last)``: the first entry line and one past the last one (lines before
    ``first`` and from ``last`` on are not entry lines)."""
    first, last = 0, len(lines)
    while first < last and not _is_entry(lines[first], version):
        first += 1
    while last > first and not _is_entry(lines[last - 1], version):
        last -= 1
    return first, last


def _entry_run(lines: Sequence[bytes], version: int) -> tuple[int, int, bool]:
    """``(first, last, True)`` if lines ``first … last-1`` are all the entry lines (one run,
    the usual file; found without a Python step per entry line), else ``(0, 0, False)``."""
    first, last = _entry_bounds(lines, version)
    if all(map(bytes.startswith, lines[first:last], repeat(_ENTRY_START[version]))):
        return first, last, True
    return 0, 0, False


def verify_export(
    lines: Iterable[bytes] | bytes,
    public_key: Ed25519PublicKey,
    key_name: str,
    *,
    witness: Sequence[str] = (),
    chunk: int = 16384,
    max_problems: int = 10,
    fast_path: bool = True,
    workers: int = 1,
) -> Report:
    """Steps 1, 2, 4 (roots only) and 5 over an export's lines — or the whole file's bytes —
    with no database (chunks, ``fast_path`` and ``workers`` as in ``verify.verify_database``).

    The fast path first proves the file's bytes as they are (:func:`_verify_file`: no line is
    split off, the workers read the one buffer; given lines, they are joined first); only if
    that does not prove every entry line sound are the lines verified one run of chunks at a
    time (:func:`_verify_lines`), from the start — so the report is the same either way."""
    started = time.perf_counter()
    if not isinstance(lines, bytes):
        lines = lines if isinstance(lines, list) else list(lines)
    data = (lines if isinstance(lines, bytes) else _joined(lines)) if fast_path else None
    report = None
    if data is not None:
        report = _verify_file(data, public_key, key_name, witness, chunk, max_problems, workers)
    if report is None:
        report = _verify_lines(
            lines.splitlines() if isinstance(lines, bytes) else lines,
            public_key, key_name, witness, chunk, max_problems, fast_path, workers,
        )  # fmt: skip
    report.seconds = time.perf_counter() - started
    return report


def _joined(lines: list[bytes]) -> bytes | None:
    """The lines as one file's bytes, whose ``splitlines()`` they are: None if a line holds a
    line break or a carriage return (such "lines" are verified as they are given)."""
    joined = b"\n".join(lines)
    if joined.count(b"\n") != len(lines) - 1 or b"\r" in joined:
        return None
    return joined


def _others(
    numbered: Iterable[tuple[int, bytes]], witness: Sequence[str], problems: list[Problem]
) -> tuple[list[tuple[str, str, int | None, bytes | None]], list[int]]:
    """The notes to open (checkpoint lines, then ``witness``) among the lines that are not
    entry lines (``(line number - 1, line)``), and those that are entries of another shape;
    a line that is not JSON is a problem."""
    notes: list[tuple[str, str, int | None, bytes | None]] = []
    extra = []
    for n, line in numbered:
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            problems.append(Problem(None, f"line {n + 1} is not JSON"))
            continue
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "checkpoint":
            notes.append((f"checkpoint on line {n + 1}", str(item.get("note")), None, None))
        elif kind == "entry":  # an entry line of another shape
            extra.append(n)
    notes += [(f"witnessed checkpoint {n + 1}", note, None, None) for n, note in enumerate(witness)]
    return notes, extra


def _verify_lines(
    lines: list[bytes],
    public_key: Ed25519PublicKey,
    key_name: str,
    witness: Sequence[str],
    chunk: int,
    max_problems: int,
    fast_path: bool,
    workers: int,
) -> Report:
    """:func:`verify_export` over lines: chunks on the fast path, any chunk not proved sound
    re-checked entry by entry (all of them when the entry lines are not one run)."""
    version = _version(lines)
    first, last, usual = _entry_run(lines, version)
    if usual:
        others: Iterable[int] = [*range(first), *range(last, len(lines))]
        where = list(range(first, last))
    else:
        where = [n for n, line in enumerate(lines) if _is_entry(line, version)]
        others = sorted(set(range(len(lines))) - set(where))
    problems: list[Problem] = []
    notes, extra = _others(((n, lines[n]) for n in others), witness, problems)
    opened = open_notes(notes, public_key, key_name, problems)
    if extra:  # entries not all in one run of entry lines: check them line by line
        usual, where = False, sorted(where + extra)
    block = lines[first:last] if usual else [lines[n] for n in where]
    rebuild = Rebuild(opened, max_problems, vouched(block, version, opened))
    size = parallel.chunk_size(chunk, len(block), workers)
    tasks = chunks(len(block), size, rebuild.by_size)
    text, spans = _spans(block, tasks if fast_path and usual else [])
    use = parallel.export_processes(workers, len(spans))
    rechecked, provers = 0, dict[int, int]()
    with parallel.export_results(use, text, version, spans, provers) as proved:
        for begin, stop, _ in tasks:
            sub = next(proved, None)
            if sub is not None and rebuild.join(sub, None):
                continue
            rechecked += 1
            for raw in block[begin:stop]:
                rebuild.add(*entry_of(raw, version, rebuild.frontier.size))
            if rebuild.full:
                break
    rebuild.finish()
    report = Report(len(block), rebuild.frontier.size, rebuild.frontier.root(), len(opened))
    report.problems, report.rechecked = problems + rebuild.problems, rechecked
    report.workers, report.provers = use, provers
    return report


def cover(opened: Sequence[tuple[str, Checkpoint]], entries: int) -> int:
    """The size of the last verified checkpoint (the file's or a witnessed one) that is not
    past the ``entries`` (0: none)."""
    return max((cp.size for _, cp in opened if cp.size <= entries), default=0)


def vouched(block: Sequence[bytes], version: int, opened: Sequence[tuple[str, Checkpoint]]) -> int:
    """:func:`cover` of the entry lines ``block`` if the leaves of its first that many lines
    (in file order, as ``Rebuild`` takes them) reach every root signed at that size, else 0.
    Those leaves are then, byte for byte, the ones the key's holder signed: an export is
    verified as being what was signed, and their shape is not checked again (the database's
    verify checks every leaf). Decided before any entry is checked, so the report is the same
    whichever path proves them, in chunks of any size, in any number of processes."""
    size = cover(opened, len(block))
    if size == 0:
        return 0
    hashes = [leaf_hash(entry_of(raw, version, k)[1]) for k, raw in enumerate(block[:size])]
    root = root_from_leaf_hashes(hashes)
    return size if all(cp.root == root for _, cp in opened if cp.size == size) else 0


def _verify_file(
    data: bytes,
    public_key: Ed25519PublicKey,
    key_name: str,
    witness: Sequence[str],
    chunk: int,
    max_problems: int,
    workers: int,
) -> Report | None:
    """:func:`verify_export` over a whole file's bytes, if its entry lines are one run and
    every chunk of them is proved sound (else None): what ``_verify_lines`` over
    ``data.splitlines()`` would report, without a Python step per line."""
    run = _file_run(data)
    if run is None:
        return None
    version, head, start, stop, n, tail = run
    problems: list[Problem] = []
    numbered = [*enumerate(head), *enumerate(tail, len(head) + n)]
    notes, extra = _others(numbered, witness, problems)
    if extra:
        return None
    opened = open_notes(notes, public_key, key_name, problems)
    rebuild = Rebuild(opened, max_problems)
    size = parallel.chunk_size(chunk, n, workers)
    signed = cover(opened, n) if version == 2 else 0
    spans = _file_spans(data, version, start, stop, chunks(n, size, rebuild.by_size), signed)
    if spans is None:
        return None
    use = parallel.export_processes(workers, len(spans))
    provers = dict[int, int]()
    with parallel.export_results(use, data, version, spans, provers) as proved:
        if not all(sub is not None and rebuild.join(sub, None) for sub in proved):
            return None
    rebuild.finish()
    report = Report(n, rebuild.frontier.size, rebuild.frontier.root(), len(opened))
    report.problems, report.workers, report.provers = problems + rebuild.problems, use, provers
    return report


_LAST_INDEX = {
    1: re.compile(rb'\{"type":"entry","index":([0-9]+),'),
    2: re.compile(rb"\[([0-9]+),"),
}


def _file_run(data: bytes) -> tuple[int, list[bytes], int, int, int, list[bytes]] | None:
    """``(version, leading lines, start, stop, n, trailing lines)`` of an export file whose
    lines ``data[start:stop]`` are entry lines (the last one claiming index ``n - 1``) and
    the others, before and after, are not — as ``_entry_run`` over ``data.splitlines()``
    would find them, if every line in ``data[start:stop]`` is an entry line; None for a file
    this cannot tell without splitting it (no entry line, a carriage return outside them)."""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    head: list[bytes] = []
    pos, version = 0, 1
    while True:
        nl = data.find(b"\n", pos, end)
        line = data[pos : nl if nl >= 0 else end]
        if pos == 0:
            version = _version([line])
        if line.startswith(_ENTRY_START[version]):
            break
        head.append(line)
        if nl < 0:
            return None
        pos = nl + 1
    start, stop, tail = pos, end, []
    while True:
        nl = data.rfind(b"\n", start, stop)
        line = data[nl + 1 if nl >= 0 else start : stop]
        if line.startswith(_ENTRY_START[version]):
            break
        tail.append(line)
        stop = nl  # ≥ start: the first entry line is not in the tail
    last = _LAST_INDEX[version].match(line)
    if last is None or any(b"\r" in x for x in (*head, *tail)):
        return None
    n = int(last[1]) + 1
    if n > (stop - start) // _MIN_LINE + 1:  # more entries than lines could hold
        return None
    return version, head, start, stop, n, tail[::-1]


_MIN_LINE = 64
"""Fewer bytes than any well-formed entry line has (a leaf alone has more)."""

_WINDOW = 1 << 16
"""Bytes either side of where a chunk's first line is looked for, at first."""


def _file_spans(
    data: bytes,
    version: int,
    start: int,
    stop: int,
    tasks: Sequence[tuple[int, int, list[int]]],
    signed: int,
) -> list[parallel.ExportTask] | None:
    """Each chunk ``(begin, end, sizes)`` of the entry lines ``data[start:stop]`` with the
    span ``(pos, endpos)`` of its lines: from the start of the line that claims index
    ``begin`` to the newline before the one claiming ``end``, looked for near where the
    lines' mean length puts it (None if there is no such line); and, for chunks ending at or
    before ``signed`` (:func:`cover`), True: their leaves are taken as they stand (the
    ``fast`` module docstring). Whatever lines claim, the spans cut ``data[start:stop]`` into
    consecutive pieces, so chunks proving that piece ``j`` holds exactly the well-formed
    entries ``begin … end - 1`` prove the whole run."""
    n = tasks[-1][1] if tasks else 0
    mean = (stop - start) / max(n, 1)
    form = b"\n[%d," if version == 2 else b'\n{"type":"entry","index":%d,'
    spans: list[parallel.ExportTask] = []
    pos = start
    for begin, end, sizes in tasks:
        endpos = stop
        if end < n:
            guess = start + int(end * mean)
            at = data.find(form % end, max(pos, guess - _WINDOW), min(stop, guess + _WINDOW))
            endpos = at if at >= 0 else data.find(form % end, pos, stop)
            if endpos < 0:
                return None
        spans.append((begin, end, sizes, pos, endpos, end <= signed))
        pos = endpos + 1
    return spans


def _spans(
    block: Sequence[bytes], tasks: Sequence[tuple[int, int, Sequence[int]]]
) -> tuple[bytes, list[parallel.ExportTask]]:
    """The entry lines joined by newlines (one buffer, which forked workers read without
    touching the lines' objects), and each chunk ``(begin, end, sizes)`` with the span
    ``(pos, endpos)`` of its lines in it (every leaf matched: not signed)."""
    if not tasks:
        return b"", []
    lengths, pos, spans = map(len, block), 0, list[parallel.ExportTask]()
    for begin, end, sizes in tasks:
        endpos = pos + sum(islice(lengths, end - begin)) + end - begin - 1
        spans.append((begin, end, sizes, pos, endpos, False))
        pos = endpos + 1
    return b"\n".join(block), spans
