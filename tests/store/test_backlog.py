"""The index backlog (``hub.store.backlog``): AuditEvents are stored with their search index
deferred, and every search that could return one sees it — through HTTP, the background
thread and the catch-up itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from hub.config import Settings
from hub.fhir.canonical import loads
from hub.fhir.indexing import index_resource
from hub.store import backlog
from hub.store import schema as s
from hub.store.db import Database
from hub.store.repository import DEFERRED, Repository

H = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}


def _app(settings: Settings, delay: float) -> Flask:
    from hub.app import create_app

    app = create_app(replace(settings, audit_index_delay=delay))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def quiet(settings: Settings) -> Iterator[Flask]:
    """An app with no background thread: only searches catch the backlog up."""
    app = _app(settings, 0)
    yield app
    app.extensions["hub.db"].dispose()


def _db(app: Flask) -> Database:
    db = app.extensions["hub.db"]
    assert isinstance(db, Database)
    return db


def _waiting(app: Flask) -> int:
    with _db(app).unit(write=False) as conn:
        return backlog.backlog_size(conn)


def _waiting_until_below(app: Flask, n: int, timeout: float = 15.0) -> int:
    """The backlog's size once it is below ``n`` (the thread at work), or at ``timeout``."""
    deadline = time.monotonic() + timeout
    while (waiting := _waiting(app)) >= n and time.monotonic() < deadline:
        time.sleep(0.05)
    return waiting


def _index_rows(conn: Any, rid: int) -> set[tuple[str, tuple[Any, ...]]]:
    out = set()
    for table in s.INDEX_TABLES:
        for row in conn.execute(table.select().where(table.c.rid == rid)):
            out.add((table.name, tuple(row)))
    return out


def _generic_rows(conn: Any, rid: int, content: bytes) -> set[tuple[str, tuple[Any, ...]]]:
    """What the generic FHIRPath indexer gives, as rows of the tables (reference: no backlog)."""
    from hub.store.statements import index_statements

    out = set()
    names = {t.name: t for t in s.INDEX_TABLES}
    rows_of = index_resource(loads(content), Repository(conn).registry)
    for sql, rows in index_statements(rid, "AuditEvent", rows_of, []):
        table = names[sql.split()[2]]
        for r in rows:
            full = dict(zip([c.name for c in table.columns], r, strict=False))
            out.add((table.name, tuple(full[c.name] for c in table.columns)))
    return out


def _patient(client: Any) -> str:
    resp = client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=H)
    assert resp.status_code == 201
    return str(resp.get_json()["id"])


def test_an_audited_read_defers_its_index_and_a_search_catches_up(quiet: Flask) -> None:
    client = quiet.test_client()
    pid = _patient(client)
    for _ in range(3):
        assert client.get(f"/fhir/Patient/{pid}", headers=H).status_code == 200
    assert _waiting(quiet) == 4  # the create's AuditEvent and the three reads'
    with _db(quiet).unit(write=False) as conn:
        rids = [r for (r,) in conn.execute(text("SELECT rid FROM index_backlog"))]
        assert all(_index_rows(conn, rid) == set() for rid in rids)  # nothing indexed yet

    found = client.get(f"/fhir/AuditEvent?patient=Patient/{pid}&subtype=read", headers=H)
    assert found.status_code == 200
    assert found.get_json()["total"] == 3  # every read recorded before the search began
    assert _waiting(quiet) == 1  # only the search's own record waits
    with _db(quiet).unit(write=False) as conn:
        for rid in rids:
            content = conn.execute(s.resource.select().where(s.resource.c.rid == rid)).one().content
            # the rows are exactly the generic indexer's (hub.audit.index's fast path)
            assert _index_rows(conn, rid) == _generic_rows(conn, rid, bytes(content)) != set()


def test_a_search_catches_up_a_backlog_of_several_batches(
    quiet: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of ``BATCH`` rows, until none waits: a search sees every read recorded before
    it, however many batches that takes."""
    monkeypatch.setattr(backlog, "BATCH", 2)
    client = quiet.test_client()
    pid = _patient(client)
    for _ in range(5):
        assert client.get(f"/fhir/Patient/{pid}", headers=H).status_code == 200
    assert _waiting(quiet) == 6
    found = client.get(f"/fhir/AuditEvent?patient=Patient/{pid}&subtype=read", headers=H)
    assert found.status_code == 200 and found.get_json()["total"] == 5
    assert _waiting(quiet) == 1  # only the search's own record waits


def test_a_search_reaching_audit_events_by_revinclude_catches_up(quiet: Flask) -> None:
    client = quiet.test_client()
    pid = _patient(client)
    assert client.get(f"/fhir/Patient/{pid}", headers=H).status_code == 200
    resp = client.get(f"/fhir/Patient?_id={pid}&_revinclude=AuditEvent:entity", headers=H)
    assert resp.status_code == 200
    kinds = [e["resource"]["resourceType"] for e in resp.get_json()["entry"]]
    assert kinds.count("AuditEvent") == 2  # the create and the read
    assert _waiting(quiet) <= 1  # (this search's own AuditEvent waits)


def test_searches_of_other_types_leave_the_backlog_alone(quiet: Flask) -> None:
    client = quiet.test_client()
    _patient(client)
    before = _waiting(quiet)
    assert client.get("/fhir/Observation?code=1234-5", headers=H).status_code == 200
    assert _waiting(quiet) == before + 1  # not caught up; the search's own record joined it


def test_catch_up_is_idempotent_and_a_delete_writes_the_waiting_version_first(
    quiet: Flask,
) -> None:
    db = _db(quiet)
    with db.unit(write=True) as conn:
        repo = Repository(conn)
        kept = repo.create(
            {"resourceType": "AuditEvent", "recorded": "2026-11-23T10:00:00Z",
             "type": {"system": "http://x", "code": "rest"},
             "agent": [{"who": {"reference": "Patient/p1"}, "requestor": True}],
             "source": {"observer": {"display": "hub"}}},
            method="AUDIT", index=DEFERRED,
        )  # fmt: skip
        gone = repo.create(
            {"resourceType": "AuditEvent", "recorded": "2026-11-23T10:00:00Z",
             "type": {"system": "http://x", "code": "rest"}, "agent": [],
             "source": {"observer": {"display": "hub"}}},
            method="AUDIT", index=DEFERRED,
        )  # fmt: skip
        repo.delete(gone)  # catches up first: version 1 is written before version 2
    with db.unit(write=True) as conn:
        v = s.resource_version.c
        versions = conn.execute(
            select(v.version_id, v.deleted).where(v.rid == gone.rid).order_by(v.version_id)
        ).all()
        assert [tuple(r) for r in versions] == [(1, False), (2, True)]
        assert backlog.catch_up(conn) == 1  # the one still waiting
        first = _index_rows(conn, kept.rid)
        assert ("idx_compartment", (kept.rid, "AuditEvent", "p1")) in first
        assert _index_rows(conn, gone.rid) == set()
        assert backlog.catch_up(conn) == 0
        conn.execute(text(f"INSERT INTO index_backlog (rid) VALUES ({kept.rid})"))
        assert backlog.catch_up(conn) == 1
        assert _index_rows(conn, kept.rid) == first  # indexed again, not twice


def test_the_background_thread_empties_the_backlog(settings: Settings) -> None:
    app = _app(settings, 0.05)
    try:
        client = app.test_client()
        pid = _patient(client)
        for _ in range(5):
            assert client.get(f"/fhir/Patient/{pid}", headers=H).status_code == 200
        indexer = backlog.indexer_of(_db(app).engine)
        assert indexer is not None
        assert _waiting_until_below(app, 1) == 0
        assert indexer.indexed >= 6 and indexer.passes >= 1
    finally:
        app.extensions["hub.db"].dispose()


def test_a_background_pass_skips_rows_another_catch_up_holds(quiet: Flask) -> None:
    db = _db(quiet)
    if db.dialect != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite's BEGIN IMMEDIATE serialises writers)")
    client = quiet.test_client()
    _patient(client)
    with db.unit(write=True) as holder:
        held = holder.execute(text("SELECT rid FROM index_backlog FOR UPDATE")).all()
        assert held
        with db.unit(write=True) as other:
            assert backlog.catch_up(other, wait=False) == 0  # skipped, not waited for
    with db.unit(write=True) as conn:
        assert backlog.catch_up(conn, wait=False) == len(held)


def test_the_thread_waits_for_a_quiet_moment(quiet: Flask) -> None:
    client = quiet.test_client()
    pid = _patient(client)
    assert client.get(f"/fhir/Patient/{pid}", headers=H).status_code == 200
    waiting = _waiting(quiet)
    indexer = backlog.BacklogIndexer(_db(quiet).engine, delay=30.0)
    try:
        indexer.notify()
        assert indexer._quiet_for() > 29  # a write just now: not yet
        time.sleep(0.3)
        assert indexer.passes == 0 and _waiting(quiet) == waiting == 2  # nothing written yet
    finally:
        indexer.stop()


def test_under_steady_writes_the_thread_keeps_the_backlog_under_the_cap(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never quiet (delay 60 s), yet once MAX_WAITING wait the thread writes them down to
    under half the cap — the most a search may then have to write first."""
    monkeypatch.setattr(backlog, "MAX_WAITING", 8)
    monkeypatch.setattr(backlog, "CAP_CHECK", 0.05)
    app = _app(settings, 60.0)
    try:
        client = app.test_client()
        pid = _patient(client)
        for _ in range(11):
            assert client.get(f"/fhir/Patient/{pid}", headers=H).status_code == 200
        indexer = backlog.indexer_of(_db(app).engine)
        assert indexer is not None
        assert _waiting_until_below(app, 4) < 4 and indexer.passes >= 1
    finally:
        app.extensions["hub.db"].dispose()


def test_a_reading_unit_catches_up_in_a_unit_of_its_own(quiet: Flask) -> None:
    """A reading unit (``hub audit export``'s) that has read already while the server commits:
    writing in it would be refused on SQLite (its snapshot is stale), so ``ensure`` writes the
    waiting rows in a short unit of its own."""
    client = quiet.test_client()
    pid = _patient(client)
    db = _db(quiet)
    with db.unit(write=False) as conn:
        conn.execute(text("SELECT count(*) FROM resource")).scalar_one()  # the snapshot starts
        assert client.get(f"/fhir/Patient/{pid}", headers=H).status_code == 200  # a commit
        assert backlog.ensure(conn, ["AuditEvent"]) == 2
    assert _waiting(quiet) == 0


def test_a_transaction_catches_up_once(quiet: Flask) -> None:
    """A search's pages, its includes and the gate's checks ask again and again within one
    transaction; only the first asks the database."""
    client = quiet.test_client()
    pid = _patient(client)
    db = _db(quiet)
    with db.unit(write=False) as conn:
        assert backlog.ensure(conn, ["AuditEvent"]) == 1
        assert client.get(f"/fhir/Patient/{pid}", headers=H).status_code == 200  # one more
        assert backlog.ensure(conn, ["AuditEvent"]) == 0  # not asked again
    with db.unit(write=False) as conn:
        assert backlog.ensure(conn, ["AuditEvent"]) == 1  # a new transaction asks
