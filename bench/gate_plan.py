"""The consent gate's search pre-filter on a bench-shaped store: query plan and time per query.

``python3 -m bench.gate_plan <database url> [--load]`` — ``--load`` first fills an *empty*
database (created and migrated by the hub) in-process with the bench's data: 1,000 Patients,
5,000 Observations and 1,000 Consents authored by the core center, each Consent permitting
``Organization/hub-bench`` (TREAT), plus ``--audit`` AuditEvents about those patients (the
audit trail grows with every request). Then, as the bench's reader (``hub-bench``, TREAT), it
prints the gated ``Patient?family=`` search's SQL plan (SQLite ``EXPLAIN QUERY PLAN``,
PostgreSQL ``EXPLAIN ANALYZE``) and the mean time of the gated and the ungated query.
Read-only unless ``--load``; nothing here is part of ``python3 -m bench``.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select, text

from bench import data


def load(url: str, audit: int) -> None:
    from hub.app import create_app
    from hub.audit.events import AuditRecord, Disclosure, render
    from hub.config import Settings
    from hub.store.db import Database, make_engine
    from hub.store.repository import Repository

    create_app(Settings.from_env({"HUB_DATABASE_URL": url, "HUB_AUTH": "off"}))  # migrates
    db = Database(make_engine(url))
    pids: list[str] = []
    with db.unit(write=True) as conn:
        repo = Repository(conn)
        for entry in data.directory_entries():
            res = entry["resource"]
            repo.create(res, res_id=res["id"], author=data.CORE_CENTER)
        for i in range(1000):
            p = repo.create(data.base_patient(i), author=data.CORE_CENTER)
            pids.append(p.res_id)
            ref = f"Patient/{p.res_id}"
            for k in range(5):
                repo.create(data.observation(ref, k, i * 5 + k), author=data.CORE_CENTER)
            repo.create(data.consent(ref), author=data.CORE_CENTER)
        for n in range(audit):
            pid = pids[n % len(pids)]
            rec = AuditRecord("read", "reader", data.BENCH_ORG, "TREAT", "127.0.0.1", "2026-11-23")
            rec.disclosures = [Disclosure(f"Patient/{pid}/_history/1", pid, True, "consent")]
            repo.create(render(rec), method="AUDIT")
    if db.dialect == "postgresql":
        with db.engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    db.dispose()


def explain(url: str, family: str, runs: int) -> None:
    from hub.access.gate import Gate
    from hub.fhir.search import parse_search
    from hub.store.db import Database, make_engine
    from hub.store.repository import Repository
    from hub.store.schema import resource
    from hub.store.search import _filter, _ordered

    db = Database(make_engine(url))
    ctx = SimpleNamespace(
        organization=data.BENCH_ORG, purpose_of_use="TREAT", client_id="x", privacy_officer=False
    )
    with db.unit(write=False) as conn:
        repo = Repository(conn)
        q = parse_search("Patient", [("family", family)], repo.registry)
        restrict = Gate(conn, ctx).restrict({"Patient"})
        gated = _ordered(select(resource).where(*_filter(conn, q, restrict)), q).limit(201)
        plain = _ordered(select(resource).where(*_filter(conn, q, None)), q).limit(201)
        sql = str(gated.compile(conn, compile_kwargs={"literal_binds": True}))
        print(sql)
        prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN ANALYZE "
        for row in conn.exec_driver_sql(prefix + sql):
            print("  ", *row)
        for label, stmt in (("gated", gated), ("ungated", plain)):
            t0 = time.perf_counter()
            n = 0
            for _ in range(runs):
                n = len(conn.execute(stmt).fetchall())
            ms = (time.perf_counter() - t0) / runs * 1000
            print(f"{label:8} {n} rows  {ms:.2f} ms/query (mean of {runs})")
        counts: dict[str, Any] = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("resource", "idx_compartment", "idx_consent_grant")
        }
        print("store:", counts)
    db.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("url")
    p.add_argument("--load", action="store_true")
    p.add_argument("--audit", type=int, default=20_000)
    p.add_argument("--family", default="佐藤")
    p.add_argument("--runs", type=int, default=50)
    args = p.parse_args()
    if args.load:
        load(args.url, args.audit)
    explain(args.url, args.family, args.runs)


if __name__ == "__main__":
    main()
