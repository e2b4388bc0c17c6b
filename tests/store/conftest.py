"""Fixtures for the store tests: an engine per backend with ``metadata.create_all`` applied.

``engine`` runs on a temp SQLite file and, when ``HUB_TEST_DATABASE_URL`` is set (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), on that database too. On PostgreSQL
the tables live in a schema private to this test process (``search_path``), dropped and
recreated at the start, so that concurrent runs — or the root conftest's
``DROP SCHEMA public`` — cannot interfere. The engine is module-scoped: a module seeds its
data once and its tests read it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, insert, text

from hub.fhir.indexing import index_resource
from hub.store.schema import (
    idx_compartment,
    idx_date,
    idx_reference,
    idx_string,
    idx_token,
    metadata,
    resource,
)

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("store") / "hub.sqlite3"
        eng = create_engine(f"sqlite:///{path}")
        metadata.create_all(eng)
        yield eng
        eng.dispose()
        return
    schema = f"hub_store_test_{os.getpid()}"
    with create_engine(PG_URL).begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    metadata.drop_all(eng)
    metadata.create_all(eng)
    yield eng
    eng.dispose()
    with create_engine(PG_URL).begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


StoreResource = Callable[..., int]


@pytest.fixture(scope="session")
def store_resource() -> StoreResource:
    """``store_resource(conn, res, *, last_updated, deleted=False) -> rid``."""
    return _store_resource


def _store_resource(
    conn: Connection, res: dict[str, Any], *, last_updated: int, deleted: bool = False
) -> int:
    """Write ``res`` as a current resource row plus its index rows (via the real
    ``hub.fhir.indexing.index_resource``); return its rid. A ``deleted`` row keeps index rows
    too, so that tests prove the search filters deletions itself."""
    rtype, rid_text = res["resourceType"], res["id"]
    rid = conn.execute(
        insert(resource)
        .values(
            res_type=rtype,
            res_id=rid_text,
            version_id=1,
            last_updated=last_updated,
            deleted=deleted,
            content=None if deleted else json.dumps(res, ensure_ascii=False).encode(),
        )
        .returning(resource.c.rid)
    ).scalar_one()
    rows = index_resource(res)
    key = {"rid": rid, "res_type": rtype}
    tables: list[tuple[Any, list[dict[str, Any]]]] = [
        (
            idx_string,
            [{**key, "code": r.code, "value": r.value, "exact": r.exact} for r in rows.strings],
        ),
        (
            idx_token,
            [
                {**key, "code": r.code, "system": r.system, "value": r.value, "text": r.text}
                for r in rows.tokens
            ],
        ),
        (idx_date, [{**key, "code": r.code, "low": r.low, "high": r.high} for r in rows.dates]),
        (
            idx_reference,
            [
                {
                    **key,
                    "code": r.code,
                    "target_type": r.target_type,
                    "target_id": r.target_id,
                    "url": r.url,
                }
                for r in rows.references
            ],
        ),
        (idx_compartment, [{**key, "patient_id": p} for p in rows.compartments]),
    ]
    for table, values in tables:
        if values:
            conn.execute(insert(table), values)
    return int(rid)
