"""The audit trail through HTTP: every decision recorded, searchable by privacy officers only,
never writable (http://hl7.org/fhir/R4/auditevent.html; IHE BALP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hub.auth import schema as _auth_schema  # noqa: F401
from tests.audit.test_cli import CORE, A, _consent
from tests.auth.helpers import Hub, cached_key, make_app

SCOPES = "system/*.cruds"


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Any:
    app: Flask = make_app(database_url, tmp_path)
    yield Hub(app)
    app.extensions["hub.db"].dispose()


def _events(hub: Hub, token: str, query: str) -> list[dict[str, Any]]:
    resp = hub.fhir("GET", f"AuditEvent?{query}", token)
    assert resp.status_code == 200, resp.get_json()
    return [e["resource"] for e in resp.get_json().get("entry", [])]


def _setup(hub: Hub) -> tuple[str, str, str, str]:
    core, ck = hub.add_client(SCOPES, cached_key("rsa-a"), organization=CORE)
    a, ak = hub.add_client(SCOPES, cached_key("rsa-b"), organization=A)
    officer, ok = hub.add_client(
        "system/AuditEvent.rs system/Patient.rs",
        cached_key("ec-po"),
        organization="Organization/privacy-office",
        privacy_officer=True,
    )
    core_t, a_t = hub.token(core, ck, SCOPES), hub.token(a, ak, SCOPES)
    po_t = hub.token(officer, ok, "system/AuditEvent.rs system/Patient.rs")
    pid = hub.fhir("POST", "Patient", core_t, {"resourceType": "Patient"}).get_json()["id"]
    assert hub.fhir("POST", "Consent", core_t, _consent(pid)).status_code == 201
    return core_t, a_t, po_t, pid


def test_every_decision_is_recorded_and_searchable_by_a_privacy_officer(hub: Hub) -> None:
    core_t, a_t, po_t, pid = _setup(hub)
    hidden = hub.fhir("POST", "Patient", core_t, {"resourceType": "Patient"}).get_json()["id"]
    assert hub.fhir("GET", f"Patient/{pid}", a_t).status_code == 200
    assert hub.fhir("GET", f"Patient/{hidden}", a_t).status_code == 404  # consent refused
    assert hub.fhir("GET", "Observation", "not-a-token").status_code == 401
    assert hub.fhir("DELETE", f"Patient/{pid}", po_t).status_code == 403  # no scope

    about = _events(hub, po_t, f"patient=Patient/{pid}&_count=100")
    reads = [e for e in about if e["subtype"][0]["code"] == "read"]
    assert len(reads) == 1 and reads[0]["outcome"] == "0"
    agents = {a["who"].get("reference") for a in reads[0]["agent"]}
    assert A in agents
    assert reads[0]["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"

    refused = _events(hub, po_t, f"patient=Patient/{hidden}&outcome=4")
    assert [e["subtype"][0]["code"] for e in refused] == ["read"]
    assert _events(hub, po_t, "subtype=auth")  # the bad token
    forbidden = _events(hub, po_t, "subtype=delete&outcome=4")
    assert len(forbidden) == 1 and "403" in forbidden[0]["outcomeDesc"]
    assert len(_events(hub, po_t, f"agent={A}&subtype=read")) == 2
    assert _events(hub, po_t, "purpose=ETREAT") == []
    assert _events(hub, po_t, "purpose=TREAT")
    assert _events(hub, po_t, "date=lt2000-01-01") == []

    # Other clients do not see the audit trail, whatever their scopes.
    assert hub.fhir("GET", f"AuditEvent?patient=Patient/{pid}", a_t).get_json().get("total") == 0
    some = about[0]["id"]
    assert hub.fhir("GET", f"AuditEvent/{some}", core_t).status_code == 404
    assert hub.fhir("GET", f"AuditEvent/{some}", po_t).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_audit_events_can_never_be_written(hub: Hub, method: str) -> None:
    core_t, _, po_t, pid = _setup(hub)
    hub.fhir("GET", f"Patient/{pid}", core_t)
    (event, *_) = _events(hub, po_t, f"patient=Patient/{pid}&subtype=read")
    path = "AuditEvent" if method == "POST" else f"AuditEvent/{event['id']}"
    body: Any = (
        {**event, "outcome": "0"}
        if method != "PATCH"
        else [{"op": "replace", "path": "/outcome", "value": "0"}]
    )
    if method == "DELETE":
        body = None
    media = "application/json-patch+json" if method == "PATCH" else "application/fhir+json"
    for token in (core_t, po_t):
        resp = hub.http.open(
            f"/fhir/{path}",
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": media},
        )
        assert resp.status_code == 405, (method, resp.get_json())
    assert hub.fhir("GET", f"AuditEvent/{event['id']}", po_t).get_json() == event


def test_no_access_without_its_record(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    core_t, a_t, _, pid = _setup(hub)

    def failing_write(repo: Any, record: Any) -> Any:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("hub.audit.recorder.write", failing_write)
    read = hub.fhir("GET", f"Patient/{pid}", a_t)
    assert read.status_code == 500 and "resourceType" in read.get_json()
    assert "Patient" not in str(read.get_json()["issue"])
    created = hub.fhir("POST", "Patient", core_t, {"resourceType": "Patient", "gender": "male"})
    assert created.status_code == 500
    monkeypatch.undo()
    found = hub.fhir("GET", "Patient?gender=male", core_t).get_json()
    assert found["total"] == 0  # the create rolled back with its missing record


def test_writes_name_the_person_whose_data_they_are(hub: Hub) -> None:
    """A create or update of data in a person's compartment names the person (BALP patient
    entity), so ``AuditEvent?patient=`` lists writes too, not only reads."""
    core_t, _, po_t, pid = _setup(hub)
    body = {
        "resourceType": "Condition",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"text": "架空の病名"},
    }
    created = hub.fhir("POST", "Condition", core_t, body).get_json()["id"]
    body["id"] = created
    body["code"] = {"text": "架空の病名（改）"}
    assert hub.fhir("PUT", f"Condition/{created}", core_t, body).status_code == 200
    about = _events(hub, po_t, f"patient=Patient/{pid}&_count=100")
    writes = {
        (e["subtype"][0]["code"], w["what"]["reference"])
        for e in about
        for w in e.get("entity", [])
        if any(d["type"] == "written" for d in w.get("detail", []))
    }
    assert ("create", f"Condition/{created}/_history/1") in writes
    assert ("update", f"Condition/{created}/_history/2") in writes
    # directory data names no person
    org = hub.fhir("POST", "Organization", core_t, {"resourceType": "Organization", "name": "x"})
    assert org.status_code == 201
    oid = org.get_json()["id"]
    events = _events(hub, po_t, "subtype=create&_count=100")
    refs = [[w["what"]["reference"] for w in e.get("entity", [])] for e in events]
    org_refs = next(r for r in refs if f"Organization/{oid}/_history/1" in r)
    assert not [r for r in org_refs if r.startswith("Patient/")]


def test_a_privacy_officers_read_of_a_waiting_record_still_names_the_person(hub: Hub) -> None:
    """An AuditEvent read by id before the index backlog reached it (``hub.store.backlog``):
    the gate catches up first, so the officer's own record names the person it was about."""
    from hub.store import backlog

    _core_t, a_t, po_t, pid = _setup(hub)
    assert hub.fhir("GET", f"Patient/{pid}", a_t).status_code == 200
    db = hub.app.extensions["hub.db"]
    with db.unit(write=True) as conn:
        backlog.catch_up(conn)
    some = _events(hub, po_t, f"patient=Patient/{pid}&subtype=read")[0]["id"]
    with db.unit(write=True) as conn:  # as if that record were still waiting
        conn.exec_driver_sql(
            "DELETE FROM idx_compartment WHERE rid = "
            f"(SELECT rid FROM resource WHERE res_type = 'AuditEvent' AND res_id = '{some}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO index_backlog (rid) SELECT rid FROM resource"
            f" WHERE res_type = 'AuditEvent' AND res_id = '{some}'"
        )
    assert hub.fhir("GET", f"AuditEvent/{some}", po_t).status_code == 200
    officer_reads = _events(
        hub, po_t, f"patient=Patient/{pid}&entity=AuditEvent/{some}&subtype=read"
    )
    assert len(officer_reads) == 1  # the officer's read, naming the person
