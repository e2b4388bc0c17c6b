"""Fixtures for the ledger store tests: the ledger tables on the shared metadata (so that the
table-emptying fixture empties them too), a hub app without tokens, and the CLI's environment."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from hub.config import Settings
from hub.ledger.log import schema as _ledger_schema  # noqa: F401
from hub.ledger.log.export import write_export
from hub.ledger.log.keys import LedgerConfig
from hub.store.backlog import catch_up


@pytest.fixture
def ledger_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        auth_required=False,
        auto_migrate=False,
        checkpoint_every=1000,
    )


@pytest.fixture
def ledger_app(ledger_settings: Settings) -> Iterator[Flask]:
    from hub.app import create_app

    app = create_app(ledger_settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["hub.db"].dispose()


@pytest.fixture
def cli(ledger_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CliRunner whose ``hub`` sees the same database and key as ``ledger_app``."""
    monkeypatch.setenv("HUB_DATABASE_URL", ledger_settings.database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(ledger_settings.data_dir))
    monkeypatch.delenv("HUB_LEDGER_KEY_FILE", raising=False)
    monkeypatch.delenv("HUB_LEDGER_ORIGIN", raising=False)
    return CliRunner()


FHIR_JSON = {"Content-Type": "application/fhir+json"}


def consent(patient_id: str, status: str = "active") -> dict[str, object]:
    """A fictional opt-in Consent (FHIR R4 Consent, privacy scope)."""
    return {
        "resourceType": "Consent",
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
    }


def build_log(app: Flask) -> dict[str, str]:
    """Twelve entries whose indexes the tamper tests rely on:

    0 access (create Patient) · 1 consent v1 · 2 access (create Consent) · 3 consent v2 ·
    4 access (update) · 5, 6, 7 access (reads) · 8 consent v3 (delete) · 9 access (delete) ·
    10, 11 access (reads).
    """
    http = app.test_client()
    patient = {"resourceType": "Patient", "name": [{"family": "架空", "given": ["花子"]}]}
    resp = http.post("/fhir/Patient", json=patient, headers=FHIR_JSON)
    assert resp.status_code == 201, resp.get_data()
    pid = resp.get_json()["id"]
    resp = http.post("/fhir/Consent", json=consent(pid), headers=FHIR_JSON)
    assert resp.status_code == 201, resp.get_data()
    cid = resp.get_json()["id"]
    body = {**consent(pid, "inactive"), "id": cid}
    assert http.put(f"/fhir/Consent/{cid}", json=body, headers=FHIR_JSON).status_code == 200
    for _ in range(3):
        assert http.get(f"/fhir/Patient/{pid}").status_code == 200
    assert http.delete(f"/fhir/Consent/{cid}").status_code in (200, 204)
    for _ in range(2):
        assert http.get(f"/fhir/Patient/{pid}").status_code == 200
    with app.extensions["hub.db"].unit(write=True) as conn:  # the AuditEvents' version rows,
        catch_up(conn)  # as the hub writes them before any reader (hub.store.backlog)
    return {"patient": pid, "consent": cid}


def export_lines(app: Flask, version: int = 2) -> list[bytes]:
    """The app's ledger exported (``write_export``, format ``version``), as lines."""
    config: LedgerConfig = app.extensions["hub.ledger"]
    out = io.BytesIO()
    with app.extensions["hub.db"].unit(write=False) as conn:
        write_export(conn, out, config.origin, config.verifier_key(), version=version)
    return out.getvalue().splitlines()
