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
with ``workers``), any chunk not proved sound re-checked entry by entry. A file whose entry
lines are not one run after the header (hand-edited, say) is checked entry by entry throughout.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from functools import partial
from typing import IO, Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, select

from hub.ledger.log import fast, parallel, store
from hub.ledger.log.schema import ledger_entry
from hub.ledger.log.verify import Problem, Rebuild, Report, chunks, open_notes

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


def _entry_run(lines: Sequence[bytes], version: int) -> tuple[int, int, bool]:
    """``(first, last, True)`` if lines ``first … last-1`` are all the entry lines (one run,
    the usual file; found without a Python step per entry line), else ``(0, 0, False)``."""
    first, last = 0, len(lines)
    while first < last and not _is_entry(lines[first], version):
        first += 1
    while last > first and not _is_entry(lines[last - 1], version):
        last -= 1
    start = _ENTRY_START[version]
    if b"\n".join(lines[first:last]).count(b"\n" + start) == max(last - first - 1, 0):
        return first, last, True
    return 0, 0, False


def verify_export(
    lines: Iterable[bytes],
    public_key: Ed25519PublicKey,
    key_name: str,
    *,
    witness: Sequence[str] = (),
    chunk: int = 16384,
    max_problems: int = 10,
    fast_path: bool = True,
    workers: int = 1,
) -> Report:
    """Steps 1, 2, 4 (roots only) and 5 over an export's lines, with no database (chunks,
    ``fast_path`` and ``workers`` as in ``verify.verify_database``)."""
    started = time.perf_counter()
    lines = lines if isinstance(lines, list) else list(lines)
    version = _version(lines)
    first, last, usual = _entry_run(lines, version)
    if usual:
        others: Iterable[int] = [*range(first), *range(last, len(lines))]
        where = list(range(first, last))
    else:
        where = [n for n, line in enumerate(lines) if _is_entry(line, version)]
        others = sorted(set(range(len(lines))) - set(where))
    problems: list[Problem] = []
    notes: list[tuple[str, str, int | None, bytes | None]] = []
    extra = []
    for n in others:
        if not lines[n].strip():
            continue
        try:
            item = orjson.loads(lines[n])
        except orjson.JSONDecodeError:
            problems.append(Problem(None, f"line {n + 1} is not JSON"))
            continue
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "checkpoint":
            notes.append((f"checkpoint on line {n + 1}", str(item.get("note")), None, None))
        elif kind == "entry":  # an entry line of another shape
            extra.append(n)
    notes += [(f"witnessed checkpoint {n + 1}", note, None, None) for n, note in enumerate(witness)]
    opened = open_notes(notes, public_key, key_name, problems)
    rebuild = Rebuild(opened, max_problems)
    if extra:  # entries not all in one run of entry lines: check them line by line
        usual, where = False, sorted(where + extra)
    block = lines[first:last] if usual else [lines[n] for n in where]
    size = parallel.chunk_size(chunk, len(block), workers)
    tasks = chunks(len(block), size, rebuild.by_size)
    fast_tasks = tasks if fast_path and usual else []
    use = workers if len(fast_tasks) > 1 else 1
    rechecked = 0
    with parallel.processes(use, block, version) as executor:
        local = partial(_local_chunk, block, version)
        proved = parallel.results(executor, parallel.export_task, local, fast_tasks)
        for begin, stop, _ in tasks:
            sub = next(proved, None)
            if sub is not None and rebuild.join(sub, None):
                continue
            rechecked += 1
            for raw in block[begin:stop]:
                rebuild.add(*entry_of(raw, version, rebuild.frontier.size))
            if rebuild.full:
                break
        workers = use if executor is not None else 1
    rebuild.finish()
    report = Report(len(block), rebuild.frontier.size, rebuild.frontier.root(), len(opened))
    report.problems, report.rechecked = problems + rebuild.problems, rechecked
    report.workers = workers
    report.seconds = time.perf_counter() - started
    return report


def _local_chunk(
    block: Sequence[bytes], version: int, begin: int, end: int, sizes: Sequence[int]
) -> fast.Subtree | None:
    return fast.export_subtree(block[begin:end], version, begin, sizes)
