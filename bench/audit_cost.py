"""What the audit record costs a read, measured in-process (no HTTP server, no wrk).

``python3 -m bench.audit_cost [--database-url URL] [-n 2000]`` loads 200 Patients (with their
Observations) through the Flask test client (``HUB_AUTH=off``), then times ``n`` reads of
random Patients (``GET /fhir/Patient/<id>``, one thread) twice: with the real audit (each read
writes its AuditEvent and ledger entry in its transaction) and with
``hub.audit.recorder.write`` replaced by a no-op — the same read with the audit off. The server
itself has no way to turn the audit off; only this script does, by monkeypatching. Prints
req/s for both and the ratio audited / unaudited. Default database: a fresh SQLite file in a
temporary directory; ``--database-url`` names a PostgreSQL database that is **emptied**.
On SQLite it also prints how many WAL checkpoints the background checkpointer ran (off the
request path, ``hub.store.db.WalCheckpointer``). Figures move with the machine's load: repeat
runs and give the best and the spread.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from typing import Any

from bench import data

H = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}


def _reads(client: Any, ids: list[str], n: int, seed: int) -> float:
    rng = random.Random(seed)
    paths = [f"/fhir/Patient/{rng.choice(ids)}" for _ in range(n)]
    t0 = time.perf_counter()
    for path in paths:
        r = client.get(path, headers=H)
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code} {r.data[:200]!r}")
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--database-url", default="")
    p.add_argument("-n", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=2, help="alternate audited/unaudited rounds")
    args = p.parse_args(argv)

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
    env = {"HUB_DATABASE_URL": url, "HUB_AUTH": "off", "HUB_DATA_DIR": workdir}
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
    real_write = recorder.write
    audited: list[float] = []
    unaudited: list[float] = []
    for k in range(args.rounds):
        audited.append(_reads(client, ids, args.n, k))
        recorder.write = lambda repo, record: None  # type: ignore[assignment,return-value]
        try:
            unaudited.append(_reads(client, ids, args.n, k))
        finally:
            recorder.write = real_write
    a, u = max(audited), max(unaudited)
    backend = url.split(":", 1)[0].split("+", 1)[0]
    print(f"{backend}: {args.n} reads x {args.rounds} rounds, single thread, best round")
    print(f"  audited read    {a:8.1f} req/s  ({1000 / a:.2f} ms)  rounds {audited}")
    print(f"  audit off       {u:8.1f} req/s  ({1000 / u:.2f} ms)  rounds {unaudited}")
    print(f"  ratio audited / audit off: {a / u:.2f}")
    from hub.store.db import checkpointer_of

    checkpointer = checkpointer_of(app.extensions["hub.db"].engine)
    if checkpointer is not None:
        print(f"  background WAL checkpoints: {checkpointer.passes}")
    app.extensions["hub.db"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
