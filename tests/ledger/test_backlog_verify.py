"""``hub ledger verify`` over AuditEvents whose version rows still wait on the index backlog
(``hub.store.backlog``): such an entry is checked against the AuditEvent's resource row, a
waiting one does not hide a version row written around the ledger, and tampering with a
waiting record is still named."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select, update

from hub.config import Settings
from hub.ledger.log import verify as verify_mod
from hub.ledger.log.store import config_of
from hub.ledger.log.verify import Report, verify_database
from hub.store import schema as s
from tests.ledger.conftest import FHIR_JSON


@pytest.fixture
def no_catch_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the records arrived after verify's own catch-up (a live hub)."""
    monkeypatch.setattr(verify_mod, "_catch_up", lambda conn: None)


@pytest.fixture
def quiet_app(ledger_settings: Settings) -> Iterator[Flask]:
    """No background thread: the records wait until something catches up."""
    from hub.app import create_app

    app = create_app(replace(ledger_settings, audit_index_delay=0))
    yield app
    app.extensions["hub.db"].dispose()


def _verify(app: Flask) -> Report:
    with app.extensions["hub.db"].unit(write=False) as conn:
        config = config_of(conn)
        return verify_database(conn, config.public_key(), config.origin)


def _reads(app: Flask, n: int) -> str:
    http = app.test_client()
    resp = http.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON)
    assert resp.status_code == 201
    pid = str(resp.get_json()["id"])
    for _ in range(n):
        assert http.get(f"/fhir/Patient/{pid}").status_code == 200
    return pid


def _waiting_audit_rids(app: Flask) -> list[int]:
    with app.extensions["hub.db"].unit(write=False) as conn:
        rows = conn.execute(
            select(s.index_backlog.c.rid).where(s.index_backlog.c.method.isnot(None))
        )
        return [int(r[0]) for r in rows]


def test_waiting_records_are_checked_against_their_resource_rows(
    quiet_app: Flask, no_catch_up: Any
) -> None:
    _reads(quiet_app, 4)
    assert len(_waiting_audit_rids(quiet_app)) == 5  # no version row for any of them yet
    report = _verify(quiet_app)
    assert report.ok, [str(p) for p in report.problems]
    assert report.entries == 5


def test_tampering_with_a_waiting_record_is_named(quiet_app: Flask, no_catch_up: Any) -> None:
    _reads(quiet_app, 4)
    rid = _waiting_audit_rids(quiet_app)[2]
    with quiet_app.extensions["hub.db"].unit(write=True) as conn:
        content = conn.execute(
            select(s.resource.c.content).where(s.resource.c.rid == rid)
        ).scalar_one()
        edited = bytes(content).replace(b'"outcome":"0"', b'"outcome":"4"')
        assert edited != bytes(content)
        conn.execute(update(s.resource).where(s.resource.c.rid == rid).values(content=edited))
    report = _verify(quiet_app)
    assert not report.ok
    assert report.problems[0].index == 2
    assert "no longer matches" in str(report.problems[0])


def test_a_waiting_record_does_not_hide_a_version_written_around_the_ledger(
    quiet_app: Flask, no_catch_up: Any
) -> None:
    pid = _reads(quiet_app, 1)
    forged = b'{"resourceType":"Consent","patient":{"reference":"Patient/%s"}}' % pid.encode()
    with quiet_app.extensions["hub.db"].unit(write=True) as conn:  # a forged Consent version
        conn.execute(
            insert(s.resource_version).values(
                rid=1_000_000, res_type="Consent", res_id="forged", version_id=1,
                last_updated=1, method="POST", deleted=False,
                content=forged,
            )
        )  # fmt: skip
    _reads(quiet_app, 1)  # one more waiting record: version rows and entries now tie
    report = _verify(quiet_app)
    assert not report.ok
    assert any("Consent/forged/_history/1 has no ledger entry" in str(p) for p in report.problems)
