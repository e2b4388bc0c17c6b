"""``python3 -m bench.ledger``: ledger verification speed and inclusion-proof cost (issue 5).

* verify: ``verify_database`` (every leaf recomputed from the AuditEvent it references, the
  tree rebuilt against every stored node) and ``verify_export`` (tree only; export format 2,
  and the older format 1; given the file's bytes) over N synthetic audited entries, in one
  process and with ``--workers`` processes (default: one per CPU core available; this process and
  ``workers - 1`` worker processes — for the database started by a forkserver, each with its
  own connection, for an export forked), beside a raw single-threaded
  ``hashlib.sha256`` loop over the same leaf bytes in the same run; and the command
  ``hub ledger verify --export FILE`` in a process of its own, as an auditor runs it (the rate
  it prints: its verification, not Python's start or the file's read — a fork of this large
  bench process costs the workers more than a fork of the command does); on SQLite and, with
  ``--database-url``, on that PostgreSQL database too (its tables are emptied). Each figure is
  the best of the rounds, wall clock (a database row with worker processes also shows its
  first round, which starts the forkserver); "per CPU-second" divides by the CPU time of this
  process and its workers (the database server's not included), which a busy machine disturbs
  less — not measured for database workers, which are the forkserver's children, not this
  process's. The machine's speed may drift between runs, so each run is paired with the raw
  loop timed just before it (the faster of two), and the median of those paired ratios is
  printed beside the ratio to the best raw loop;
* proofs: build + verify time of one inclusion proof (``hub.ledger.log.store.inclusion``,
  O(log n) stored-node reads) at 10k, 100k and 1M entries, the tree bulk-built in-process
  into a SQLite file with the store's own leaf format and ``merkle.append``.

* append: µs per ``store.append`` (one per transaction, as an audited read does) on SQLite
  and, with ``--database-url``, PostgreSQL (that database's ledger tables are emptied).

Options: ``--entries N`` (verify, default 100000; 0 skips), ``--rounds R`` (best of R, default
3), ``--appends N`` (default 2000), ``--sizes 10000,100000,1000000`` (empty skips),
``--workers W`` (verify; default 0: one per CPU core available).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from hub.fhir.canonical import canonical
from hub.ledger import Frontier, append, leaf_hash
from hub.ledger.log import parallel, store
from hub.ledger.log.entries import ACCESS, leaf_bytes
from hub.ledger.log.export import verify_export, write_export
from hub.ledger.log.keys import LedgerConfig
from hub.ledger.log.schema import ledger_checkpoint, ledger_entry, ledger_node, ledger_state
from hub.ledger.log.verify import Report, verify_database
from hub.store import schema as s
from hub.store.db import Database, make_engine
from hub.store.migrate import upgrade

T0 = 1_795_000_000_000_000


def _event(i: int) -> bytes:
    """A fictional BALP-shaped AuditEvent of about the size the hub writes."""
    return canonical(
        {
            "resourceType": "AuditEvent",
            "id": f"ae-{i}",
            "meta": {"versionId": "1", "lastUpdated": "2026-11-23T09:00:00.000000+00:00"},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                     "code": "rest"},
            "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
            "action": "R",
            "recorded": "2026-11-23T09:00:00.000000+00:00",
            "outcome": "0",
            "agent": [{"who": {"identifier": {"value": f"client-{i % 7}"}}, "requestor": True}],
            "source": {"observer": {"display": "community-support-hub"}},
            "entity": [{"what": {"reference": f"Patient/p-{i % 1000}"}}],
        }
    )  # fmt: skip


def build(engine: Engine, n: int, *, with_events: bool) -> list[bytes]:
    """Bulk-append ``n`` access entries (and their AuditEvents); return the leaf bytes."""
    frontier, leaves = Frontier(), []
    batch_e: list[dict[str, Any]] = []
    batch_n: list[dict[str, Any]] = []
    batch_r: list[dict[str, Any]] = []
    batch_v: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for i in range(n):
            content = _event(i) if with_events else None
            ref = f"AuditEvent/ae-{i}/_history/1"
            data = leaf_bytes(ACCESS, ref, content or b"", T0 + i)
            h = leaf_hash(data)
            leaves.append(data)
            frontier, nodes = append(frontier, h)
            batch_e.append({"idx": i, "kind": ACCESS, "ref": ref, "entry": data,
                            "leaf_hash": h, "created": T0 + i})  # fmt: skip
            batch_n += [{"level": x.level, "idx": x.index, "hash": x.hash} for x in nodes]
            if with_events:
                row = {"res_type": "AuditEvent", "res_id": f"ae-{i}", "version_id": 1,
                       "last_updated": T0 + i, "deleted": False, "content": content}  # fmt: skip
                batch_r.append({**row, "rid": i + 1})
                batch_v.append({**row, "rid": i + 1, "method": "AUDIT"})
            if len(batch_e) == 20000 or i == n - 1:
                conn.execute(insert(ledger_entry), batch_e)
                conn.execute(insert(ledger_node), batch_n)
                if with_events:
                    conn.execute(insert(s.resource), batch_r)
                    conn.execute(insert(s.resource_version), batch_v)
                batch_e, batch_n, batch_r, batch_v = [], [], [], []
        blob = b"".join(x for _, x in frontier.nodes)
        conn.execute(ledger_state.delete())
        conn.execute(insert(ledger_state).values(id=1, size=n, root=frontier.root(),
                                                 frontier=blob, base_vid=0))  # fmt: skip
    return leaves


def _engine(tmp: Path, name: str, config: LedgerConfig) -> Engine:
    engine = make_engine(f"sqlite:///{tmp / name}")
    upgrade(engine)
    store.install(engine, config)
    return engine


def _empty(engine: Engine) -> None:
    """Empty every table of the hub's schema (the bench's own PostgreSQL database only)."""
    with engine.begin() as conn:
        names = ", ".join(t.name for t in s.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def bench_verify(
    engine: Engine, config: LedgerConfig, n: int, rounds: int, workers: int, tmp: Path
) -> list[tuple[str, str]]:
    """Best of ``rounds`` interleaved runs of each (the machine is shared: noise hits all)."""
    leaves = build(engine, n, with_events=True)
    with engine.begin() as conn:
        store.make_checkpoint(conn, config)
    exports = {}
    for version in (2, 1):
        with engine.connect() as conn:
            out = io.BytesIO()
            write_export(conn, out, config.origin, config.verifier_key(), version=version)
        exports[version] = out.getvalue()  # the file's bytes, as the CLI reads them
    file, key_file = tmp / "ledger-export.jsonl", tmp / "ledger.pub"
    file.write_bytes(exports[2])
    key_file.write_text(config.verifier_key(), encoding="utf-8")
    key, origin = config.public_key(), config.origin
    runs: dict[str, Any] = {
        "database/1": lambda: _db(engine, key, origin, 1),
        f"database/{workers}": lambda: _db(engine, key, origin, workers),
        "export/1": lambda: verify_export(exports[2], key, origin),
        f"export/{workers}": lambda: verify_export(exports[2], key, origin, workers=workers),
        f"export-v1/{workers}": lambda: verify_export(exports[1], key, origin, workers=workers),
        f"cli/{workers}": lambda: _cli(file, key_file, workers),
    }
    raw = 0.0
    best: dict[str, Report] = {}
    first: dict[str, float] = {}
    cpu: dict[str, float] = {}
    ratios: dict[str, list[float]] = {}
    whole: dict[str, float] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            paired = 0.0
            for _ in range(2):  # right before each run, a pair the machine's speed changes
                started, before = time.perf_counter(), _cpu()  # alike; twice: the first
                for data in leaves:  # after a fork pays a page fault per page of leaves
                    hashlib.sha256(b"\x00" + data).digest()
                paired = max(paired, n / (time.perf_counter() - started))
                cpu["raw"] = min(cpu.get("raw", 1e9), _cpu() - before)
            raw = max(raw, paired)
            before = _cpu()
            started = time.perf_counter()
            report = run()
            used = _cpu() - before
            whole[name] = min(whole.get(name, 1e9), time.perf_counter() - started)
            assert report.ok, [str(p) for p in report.problems]
            assert report.rechecked == 0, "the fast path refused a sound log"
            first.setdefault(name, report.rate)
            ratios.setdefault(name, []).append(report.rate / paired)
            if name not in best or report.rate > best[name].rate:
                best[name] = report
            cpu[name] = min(cpu.get(name, used), used)
    mean = statistics.mean(len(d) for d in leaves)
    where = engine.dialect.name
    raw_cpu = n / cpu["raw"] if cpu["raw"] > 0 else 0.0  # os.times ticks are 10 ms
    rows = [(f"raw hashlib.sha256 over the {n} leaves ({mean:.0f} B), 1 thread",
             f"{raw:,.0f} leaves/s; {_per_cpu(raw_cpu)}")]  # fmt: skip
    for name, report in best.items():
        what, _ = name.split("/")
        label = {
            "database": f"hub ledger verify ({where}: content + tree + nodes)",
            "export": "hub ledger verify --export (format 2, tree only)",
            "export-v1": "hub ledger verify --export (format 1, tree only)",
            "cli": "the command hub ledger verify --export FILE (format 2)",
        }[what]
        procs = f"{report.workers} processes" if report.workers > 1 else "1 process"
        per_cpu = n / cpu[name] if cpu[name] > 0 else 0.0
        result = (
            f"{report.rate:,.0f} entries/s ({report.rate / raw:.2f} × best raw; "
            f"{statistics.median(ratios[name]):.2f} × the raw loop just before it, median); "
        )
        if what == "database" and report.workers > 1:
            result += f"first round {first[name]:,.0f}/s; CPU not measured (forkserver's workers)"
        elif what == "cli":
            result += f"the whole command (Python's start, the file read) {whole[name]:.2f} s"
        else:
            result += _per_cpu(per_cpu, raw_cpu)
        rows.append((f"{label}, {procs}", result))
    return rows


def _per_cpu(rate: float, raw: float = 0.0) -> str:
    if rate == 0.0:
        return "CPU time too short to measure"
    return f"{rate:,.0f} per CPU-second" + (f" ({rate / raw:.2f} × raw)" if raw else "")


def _cpu() -> float:
    """CPU seconds of this process and its finished children (verify's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


_CLI_OK = re.compile(
    r"^ok: ([0-9]+) entries, .*; ([0-9,]+) entries/s \([0-9.]+ s, ([0-9]+) workers?, "
    r"([0-9]+) chunks? re-checked"
)


def _cli(file: Path, key_file: Path, workers: int) -> Report:
    """``hub ledger verify --export`` run as a command, in a process of its own (as an auditor
    runs it): the report it prints (its rate is that of the verification, as the command
    times it: not Python's start or the file's read)."""
    argv = [sys.executable, "-m", "hub.cli", "ledger", "verify", "--export", str(file),
            "--public-key", str(key_file), "--workers", str(workers)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    m = _CLI_OK.match(done.stdout)
    if done.returncode != 0 or m is None:
        raise RuntimeError(f"hub ledger verify failed: {done.stdout}{done.stderr}")
    entries, rate = int(m[1]), float(m[2].replace(",", ""))
    seconds = entries / rate if rate > 0 else 0.0  # the rate is printed more precisely
    return Report(entries=entries, seconds=seconds, workers=int(m[3]), rechecked=int(m[4]))


def _db(engine: Engine, key: Any, origin: str, workers: int) -> Report:
    with engine.connect() as conn, conn.begin():
        return verify_database(conn, key, origin, workers=workers)


def bench_append(url: str, config: LedgerConfig, n: int) -> list[tuple[str, str]]:
    """µs per ``store.append`` (the statements of one ledger append, in its own unit)."""
    engine = make_engine(url)
    upgrade(engine)
    store.install(engine, config)
    with engine.begin() as conn:
        for table in (ledger_entry, ledger_node, ledger_checkpoint, ledger_state):
            conn.execute(table.delete())
    db = Database(engine)
    times = []
    for i in range(n):
        with db.unit(write=True) as conn:
            started = time.perf_counter()
            store.append(conn, ACCESS, f"AuditEvent/bench-{i}/_history/1", b"{}")
            times.append(time.perf_counter() - started)
    engine.dispose()
    return [
        (f"ledger append ({engine.dialect.name}, {n} appends, 1 per transaction)",
         f"median {statistics.median(times) * 1e6:.0f} µs, mean "
         f"{statistics.mean(times) * 1e6:.0f} µs"),
    ]  # fmt: skip


def bench_proofs(tmp: Path, config: LedgerConfig, sizes: list[int]) -> list[tuple[str, str]]:
    out = []
    for n in sizes:
        engine = _engine(tmp, f"proof-{n}.sqlite3", config)
        started = time.perf_counter()
        build(engine, n, with_events=False)
        built = time.perf_counter() - started
        with engine.begin() as conn:
            store.make_checkpoint(conn, config)
        times, length = [], 0
        with engine.connect() as conn:
            for k in range(200):
                index = (k * 7919 * 104729) % n
                t = time.perf_counter()
                proof = store.inclusion(conn, index)  # built and verified
                times.append(time.perf_counter() - t)
                length = max(length, len(proof["proof"]))
        engine.dispose()
        out.append(
            (f"inclusion proof at {n:,} entries (tree built in {built:.1f} s)",
             f"median {statistics.median(times) * 1000:.2f} ms, p95 "
             f"{sorted(times)[int(len(times) * 0.95)] * 1000:.2f} ms, {length} hashes")
        )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument(
        "--database-url",
        default="",
        help="also time verify and appends on this (PostgreSQL) database: its tables are emptied",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        config = LedgerConfig("bench.example/ledger", tmp / "key.pem", 0)
        workers = args.workers or parallel.available_cpus()
        rows = [
            ("CPU cores available / verify workers", f"{parallel.available_cpus()} / {workers}")
        ]
        if args.entries:
            engine = _engine(tmp, "verify.sqlite3", config)
            rows += bench_verify(engine, config, args.entries, args.rounds, workers, tmp)
            engine.dispose()
        if args.entries and args.database_url:
            engine = make_engine(args.database_url)
            upgrade(engine)
            store.install(engine, config)
            _empty(engine)
            rows += bench_verify(engine, config, args.entries, args.rounds, workers, tmp)
            _empty(engine)
            engine.dispose()
        every = LedgerConfig("bench.example/ledger", tmp / "key.pem", 1000)
        for url in [f"sqlite:///{tmp / 'append.sqlite3'}", args.database_url]:
            if url and args.appends:
                rows += bench_append(url, every, args.appends)
        if args.sizes:
            rows += bench_proofs(tmp, config, [int(x) for x in args.sizes.split(",")])
    width = max(len(a) for a, _ in rows)
    print(f"{'measure'.ljust(width)}  result")
    for a, b in rows:
        print(f"{a.ljust(width)}  {b}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
