"""What the audit record costs a read, measured in-process (no HTTP server, no wrk).

``python3 -m bench.audit_cost [--database-url URL] [-n 2000]`` loads 200 Patients (with their
Observations) through the Flask test client (``HUB_AUTH=off``), then times ``n`` reads of
random Patients (``GET /fhir/Patient/<id>``, one thread) twice: with the real audit (each read
writes its AuditEvent and ledger entry in its transaction) and with
``hub.audit.recorder.write`` replaced by a no-op — the same read with the audit off. The server
itself has no way to turn the audit off; only this script does, by monkeypatching. Prints req/s
for both and the ratio audited / unaudited. ``--parts`` adds a third run per round: the
AuditEvent stored but no ledger entry appended (``record_access`` a no-op) — how much of the
cost is the ledger's: a bound on what any design taking the append off the request path could
gain (such a design would still write a queue row). Default database: a fresh SQLite file in a
temporary directory; ``--database-url`` names a PostgreSQL database that is **emptied**. On
SQLite it also prints how many WAL checkpoints the background checkpointer ran (off the request
path, ``hub.store.db.WalCheckpointer``). Figures move with the machine's load: repeat runs and
give the best and the spread. Within a round the runs take turns every 100 reads (the same
reads), so that a machine whose speed drifts moves them alike; each round's own ratio and their
median are printed too.

``--http`` measures *server throughput* instead: ``hub serve`` (gunicorn, ``--workers`` ×
``--threads``, ``HUB_AUTH=off``) driven by wrk (``--connections`` keep-alive connections,
``--duration`` seconds) reading random Patients, alternately with the real server and with
``python3 -m bench.noaudit serve`` — the same server with ``recorder.write`` a no-op, the
benchmark's own baseline. Each round restarts both on a copy of the loaded database; the
AuditEvents' search index is written by the server's background thread, as in production.

Both modes print what the audited reads left on the index backlog (the AuditEvents' version
and index rows, ``hub.store.backlog``) and the time to write it afterwards, so the deferred
cost is on the page beside the request path's.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from typing import Any

from bench import data

H = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}


def _reads(client: Any, ids: list[str], n: int, seed: int) -> float:
    rng = random.Random(seed)
    paths = [f"/fhir/Patient/{rng.choice(ids)}" for _ in range(n)]
    return n / _timed(client, paths)


def _timed(client: Any, paths: list[str]) -> float:
    """Seconds to read ``paths`` one after another (each must answer 200)."""
    t0 = time.perf_counter()
    for path in paths:
        r = client.get(path, headers=H)
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code} {r.data[:200]!r}")
    return time.perf_counter() - t0


BLOCK = 100
"""Reads per block: a round takes turns between its runs every ``BLOCK`` reads."""


def _round(
    client: Any, ids: list[str], n: int, seed: int, modes: dict[str, Any]
) -> dict[str, float]:
    """One round: the same ``n`` reads under each mode (a function that applies it and
    returns its undo), taking turns every :data:`BLOCK` reads, so that a machine whose speed
    drifts moves every mode alike; req/s per mode."""
    rng = random.Random(seed)
    paths = [f"/fhir/Patient/{rng.choice(ids)}" for _ in range(n)]
    took = dict.fromkeys(modes, 0.0)
    for start in range(0, n, BLOCK):
        block = paths[start : start + BLOCK]
        for name, apply in modes.items():
            undo = apply()
            try:
                took[name] += _timed(client, block)
            finally:
                undo()
    return {name: n / t for name, t in took.items()}


def _deferred(engine: Any) -> None:
    """Print the work the audited reads left on the index backlog (``hub.store.backlog``:
    the AuditEvents' version and index rows), and what writing it now costs."""
    from hub.store import backlog
    from hub.store.db import Database

    with Database(engine).unit(write=False) as conn:
        waiting = backlog.backlog_size(conn)
    started = time.perf_counter()
    done = backlog.drain(engine)
    took = time.perf_counter() - started
    each = f"{took / done * 1e6:.0f} µs each" if done else "-"
    print(f"  deferred: {waiting} AuditEvents' version and index rows waited at the end;")
    print(f"            written now in batches: {took:.2f} s ({each}), off the request path")


def _http(args: argparse.Namespace) -> int:
    """Server throughput, audited and not (module docstring, ``--http``)."""
    from pathlib import Path

    from bench import wrk
    from bench.load import load_base
    from bench.server import HubServer, copy_database, drop_database, fresh_database, running

    workdir = Path(tempfile.mkdtemp(prefix="hub-audit-http-"))
    backend = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
    url = fresh_database(backend, workdir, args.database_url or "")
    env = {"HUB_AUTH": "off", "HUB_DATA_DIR": str(workdir)}
    with running(HubServer(url, 1, 4, workdir / "load.log", env)) as server:
        ids = load_base(server.base, patients=200, obs_per_patient=5).patient_ids
    paths = workdir / "reads.txt"
    paths.write_text("".join(f"/fhir/Patient/{i}\n" for i in ids))
    rps: dict[str, list[float]] = {"audited": [], "audit off": []}
    for k in range(args.rounds):
        for name, module in (("audited", "hub.cli"), ("audit off", "bench.noaudit")):
            copy = copy_database(url, f"r{k}-{name.replace(' ', '')}")
            log = workdir / f"{name.replace(' ', '')}-{k}.log"
            try:
                server = HubServer(copy, args.workers, args.threads, log, env, module=module)
                with running(server):
                    wrk.run(server.base, paths, duration=2, connections=args.connections)
                    result = wrk.run(
                        server.base, paths, duration=args.duration, connections=args.connections
                    )
                if name == "audited":
                    from hub.store.db import make_engine

                    engine = make_engine(copy)
                    _deferred(engine)
                    engine.dispose()
            finally:
                if backend == "postgresql":
                    drop_database(copy)
            if result.failures:
                raise SystemExit(f"{name}: {result.non2xx} non-2xx, {result.socket_errors}")
            rps[name].append(round(result.rps, 1))
    a, u = max(rps["audited"]), max(rps["audit off"])
    print(
        f"{backend}: hub serve --workers {args.workers} --threads {args.threads}, wrk "
        f"{args.connections} connections x {args.duration} s, {args.rounds} rounds, best round"
    )
    print(f"  audited read    {a:8.1f} req/s  rounds {rps['audited']}")
    print(f"  audit off       {u:8.1f} req/s  rounds {rps['audit off']}")
    print(f"  ratio audited / audit off: {a / u:.2f}")
    if backend == "postgresql":
        drop_database(url)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--database-url", default="")
    p.add_argument("-n", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=2, help="alternate audited/unaudited rounds")
    p.add_argument(
        "--parts",
        action="store_true",
        help="also time reads that store the AuditEvent but append no ledger entry (the "
        "ledger's share of the cost; an experiment only, the hub has no such mode)",
    )
    p.add_argument("--http", action="store_true", help="server throughput with wrk instead")
    p.add_argument("--workers", type=int, default=2, help="--http: hub serve --workers")
    p.add_argument("--threads", type=int, default=4, help="--http: hub serve --threads")
    p.add_argument("--connections", type=int, default=8, help="--http: wrk connections")
    p.add_argument("--duration", type=int, default=10, help="--http: seconds per run")
    args = p.parse_args(argv)
    if args.http:
        return _http(args)

    from hub.app import create_app
    from hub.audit import recorder
    from hub.config import Settings

    workdir = tempfile.mkdtemp(prefix="hub-audit-cost-")
    url = args.database_url or f"sqlite:///{workdir}/hub.sqlite3"
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    # no background indexer: it would write the audited rounds' backlog during the others;
    # the deferred work is timed apart instead (_deferred)
    env = {"HUB_DATABASE_URL": url, "HUB_AUTH": "off", "HUB_DATA_DIR": workdir}
    env["HUB_AUDIT_INDEX_DELAY"] = "0"
    app = create_app(Settings.from_env(env))
    client = app.test_client()
    ids: list[str] = []
    for bundle in data.transaction_bundles(patients=200):
        r = client.post("/fhir", data=json.dumps(bundle), headers=H)
        assert r.status_code == 200, r.data[:300]
        for e in r.get_json()["entry"]:
            parts = e["response"]["location"].split("/")  # [base/]Patient/<id>/_history/1
            if len(parts) >= 4 and parts[-4] == "Patient":
                ids.append(parts[-3])
    _reads(client, ids, 200, 0)  # warm up both paths' caches
    from hub.ledger.log import store as ledger_store

    real_write, real_append = recorder.write, ledger_store.record_access

    def no_ledger() -> Any:  # the AuditEvent row, but no ledger entry: what the ledger costs
        ledger_store.record_access = lambda conn, stored: 0  # type: ignore[assignment]
        return lambda: setattr(ledger_store, "record_access", real_append)

    def audit_off() -> Any:
        recorder.write = lambda repo, record: None  # type: ignore[assignment,return-value]
        return lambda: setattr(recorder, "write", real_write)

    modes: dict[str, Any] = {"audited": lambda: lambda: None}
    if args.parts:
        modes["row_only"] = no_ledger
    modes["off"] = audit_off
    audited: list[float] = []
    unaudited: list[float] = []
    row_only: list[float] = []
    for k in range(args.rounds):
        rates = _round(client, ids, args.n, k, modes)
        audited.append(rates["audited"])
        unaudited.append(rates["off"])
        if args.parts:
            row_only.append(rates["row_only"])
    a, u = max(audited), max(unaudited)
    backend = url.split(":", 1)[0].split("+", 1)[0]
    print(f"{backend}: {args.n} reads x {args.rounds} rounds, single thread, best round")
    print(f"  audited read    {a:8.1f} req/s  ({1000 / a:.2f} ms)  rounds {audited}")
    if row_only:
        r = max(row_only)
        print(f"  record, no ledger {r:6.1f} req/s  ({1000 / r:.2f} ms)  rounds {row_only}")
    print(f"  audit off       {u:8.1f} req/s  ({1000 / u:.2f} ms)  rounds {unaudited}")
    print(f"  ratio audited / audit off: {a / u:.2f}")
    if row_only:
        print(f"  ratio record without its ledger entry / audit off: {max(row_only) / u:.2f}")
    paired = [x / y for x, y in zip(audited, unaudited, strict=True)]
    print(
        f"  ratio audited / audit off within each round: "
        f"{', '.join(f'{x:.2f}' for x in paired)}; median {statistics.median(paired):.2f}"
    )
    _deferred(app.extensions["hub.db"].engine)
    from hub.store.db import checkpointer_of

    checkpointer = checkpointer_of(app.extensions["hub.db"].engine)
    if checkpointer is not None:
        print(f"  background WAL checkpoints: {checkpointer.passes}")
    app.extensions["hub.db"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
