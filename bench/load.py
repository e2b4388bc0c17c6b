"""Loading data: base data over HTTP (transaction Bundles), filler in-process for ``--scale``."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench import data

T = TypeVar("T")
FHIR_JSON = "application/fhir+json"


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> tuple[int, Any]:
    """One request; returns (status, parsed JSON body or None)."""
    raw = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    req = urllib.request.Request(
        url,
        data=raw,
        method=method,
        headers={
            "Accept": FHIR_JSON,
            **({"Content-Type": FHIR_JSON} if raw else {}),
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            payload = r.read()
            return int(r.status), json.loads(payload) if payload else None
    except urllib.error.HTTPError as e:
        payload = e.read()
        return int(e.code), json.loads(payload) if payload else None


@dataclass
class LoadResult:
    patient_ids: list[str]
    resources: int
    seconds: float
    by_type: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return round(self.resources / self.seconds, 1) if self.seconds else 0.0


def load_base(
    base: str,
    headers: dict[str, str] | None = None,
    patients: int = 1000,
    obs_per_patient: int = 5,
    consent_for: str | None = None,
) -> LoadResult:
    """POST the base data as transaction Bundles; collect the server-assigned Patient ids.
    With ``consent_for``, each Patient gets a Consent permitting that organization (TREAT)."""
    ids: list[str] = []
    count = 0
    by_type: dict[str, int] = {}
    t0 = time.perf_counter()
    for bundle in data.transaction_bundles(patients, obs_per_patient, consent_for=consent_for):
        status, body = http("POST", f"{base}/fhir", bundle, headers)
        if status != 200:
            raise RuntimeError(f"transaction failed: {status} {json.dumps(body)[:2000]}")
        for entry in body["entry"]:
            res_type, res_id = entry["response"]["location"].split("/fhir/", 1)[1].split("/")[:2]
            count += 1
            by_type[res_type] = by_type.get(res_type, 0) + 1
            if res_type == "Patient":
                ids.append(res_id)
    return LoadResult(ids, count, round(time.perf_counter() - t0, 2), by_type)


def verify(base: str, patient_ids: list[str], headers: dict[str, str] | None = None) -> None:
    """Before timing anything: reads (first, middle and last Patient) answer 200 and every
    search path matches exactly 20 — in the auth modes, as the benchmark client sees them."""
    for pid in {patient_ids[0], patient_ids[len(patient_ids) // 2], patient_ids[-1]}:
        status, body = http("GET", f"{base}/fhir/Patient/{pid}", headers=headers)
        if status != 200:
            raise RuntimeError(f"read of Patient/{pid} answered {status}: {json.dumps(body)[:500]}")
    for path in data.search_paths():
        # _count above 20 so that a 21st match would show
        status, body = http("GET", f"{base}{path}&_count=100", headers=headers)
        got = sum(
            1
            for e in (body or {}).get("entry", [])
            if e.get("search", {}).get("mode", "match") == "match"
        )
        if status != 200 or got != data.PER_FAMILY:
            raise RuntimeError(
                f"GET {path} answered {status} with {got} matches, expected {data.PER_FAMILY}"
            )


def batched(items: Iterable[T], n: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(itertools.islice(it, n)):
        yield batch


@dataclass
class BulkResult:
    before: int
    added: int
    seconds: float

    @property
    def per_second(self) -> float:
        return round(self.added / self.seconds, 1) if self.seconds else 0.0


def bulk_load(
    database_url: str, target_total: int, batch: int = 2000, progress: bool = True
) -> BulkResult:
    """Grow the store to ``target_total`` resources (current versions) through the hub's own
    Repository, ``batch`` resources per transaction. PostgreSQL is ANALYZEd afterwards, as
    autovacuum would within a minute in production."""
    from sqlalchemy import func, select, text
    from tqdm import tqdm

    from hub.store import schema
    from hub.store.db import Database, make_engine
    from hub.store.repository import Repository

    db = Database(make_engine(database_url))
    try:
        with db.unit(write=False) as conn:
            before = int(
                conn.execute(select(func.count()).select_from(schema.resource)).scalar_one()
            )
        need = max(0, target_total - before)
        t0 = time.perf_counter()
        with tqdm(
            total=need,
            unit="res",
            unit_scale=True,
            disable=not progress,
            desc=f"bulk load → {target_total:,}",
        ) as bar:
            for chunk in batched(data.filler(need, start=before), batch):
                with db.unit(write=True) as conn:
                    repo = Repository(conn)
                    for resource in chunk:
                        repo.create(resource, res_id=resource.pop("id", None))
                bar.update(len(chunk))
        if db.dialect == "postgresql" and need:
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        return BulkResult(before, need, round(time.perf_counter() - t0, 2))
    finally:
        db.dispose()
