"""``python3 -m bench.ledger``: ledger verification speed and inclusion-proof cost (issue 5).

* verify: ``verify_database`` (every leaf recomputed from the AuditEvent it references, the
  tree rebuilt against every stored node) and ``verify_export`` (tree only) over N synthetic
  audited entries, beside a raw ``hashlib.sha256`` loop over the same leaf bytes;
* proofs: build + verify time of one inclusion proof (``hub.ledger.log.store.inclusion``,
  O(log n) stored-node reads) at 10k, 100k and 1M entries, the tree bulk-built in-process
  into a SQLite file with the store's own leaf format and ``merkle.append``.

* append: µs per ``store.append`` (one per transaction, as an audited read does) on SQLite
  and, with ``--database-url``, PostgreSQL (that database's ledger tables are emptied).

Options: ``--entries N`` (verify, default 100000; 0 skips), ``--rounds R`` (best of R, default
3), ``--appends N`` (default 2000), ``--sizes 10000,100000,1000000`` (empty skips).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from hub.fhir.canonical import canonical
from hub.ledger import Frontier, append, leaf_hash
from hub.ledger.log import store
from hub.ledger.log.entries import ACCESS, leaf_bytes
from hub.ledger.log.keys import LedgerConfig
from hub.ledger.log.schema import ledger_checkpoint, ledger_entry, ledger_node, ledger_state
from hub.ledger.log.verify import verify_database, verify_export, write_export
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


def bench_verify(tmp: Path, config: LedgerConfig, n: int, rounds: int) -> list[tuple[str, str]]:
    """Best of ``rounds`` interleaved runs of each (the machine is shared: noise hits all)."""
    engine = _engine(tmp, "verify.sqlite3", config)
    leaves = build(engine, n, with_events=True)
    with engine.begin() as conn:
        store.make_checkpoint(conn, config)
    with engine.connect() as conn:
        out = io.BytesIO()
        write_export(conn, out, config.origin, config.verifier_key())
    lines = out.getvalue().splitlines()
    raw = db = offline = 0.0
    rechecked = 0
    for _ in range(rounds):
        started = time.perf_counter()
        for data in leaves:
            hashlib.sha256(b"\x00" + data).digest()
        raw = max(raw, n / (time.perf_counter() - started))
        with engine.connect() as conn:
            report = verify_database(conn, config.public_key(), config.origin)
        assert report.ok, [str(p) for p in report.problems]
        db, rechecked = max(db, report.rate), rechecked + report.rechecked
        exported = verify_export(lines, config.public_key(), config.origin)
        assert exported.ok, [str(p) for p in exported.problems]
        offline, rechecked = max(offline, exported.rate), rechecked + exported.rechecked
    assert rechecked == 0, "the fast path refused a sound log"
    engine.dispose()
    mean = statistics.mean(len(d) for d in leaves)
    return [
        (f"raw hashlib.sha256 over the {n} leaves ({mean:.0f} B)", f"{raw:,.0f} leaves/s"),
        ("hub ledger verify (database: content + tree + nodes)",
         f"{db:,.0f} entries/s ({db / raw:.2f} × raw)"),
        ("hub ledger verify --export (tree only, no database)",
         f"{offline:,.0f} entries/s ({offline / raw:.2f} × raw)"),
    ]  # fmt: skip


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument(
        "--database-url", default="", help="also time appends on this (PostgreSQL) database"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        config = LedgerConfig("bench.example/ledger", tmp / "key.pem", 0)
        rows = bench_verify(tmp, config, args.entries, args.rounds) if args.entries else []
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


if __name__ == "__main__":
    main()
