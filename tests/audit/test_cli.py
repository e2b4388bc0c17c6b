"""``hub audit export`` and ``hub audit provisions`` over what real clients did through HTTP."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from hub.auth import schema as _auth_schema  # noqa: F401
from hub.cli import main
from tests.auth.helpers import Hub, cached_key, make_app

CORE = "Organization/core-center"
A = "Organization/short-stay-a"
SCOPES = "system/*.cruds"


@pytest.fixture
def hub_app(database_url: str, tmp_path: Path) -> Any:
    app: Flask = make_app(database_url, tmp_path)
    yield app
    app.extensions["hub.db"].dispose()


def _consent(pid: str) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{pid}"},
        "dateTime": "2026-04-01T10:00:00+09:00",
        "organization": [{"reference": CORE}],
        "provision": {
            "type": "permit",
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "IRCP",
                            }
                        ]
                    },
                    "reference": {"reference": A},
                }
            ],
            "purpose": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}
            ],
        },
    }


def _run(database_url: str, *args: str) -> str:
    return _run_env(database_url, {}, *args)


def _run_env(database_url: str, env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env={"HUB_DATABASE_URL": database_url, **env})
    assert result.exit_code == 0, result.output
    return result.output


def test_a_privacy_officer_sees_who_received_what_under_which_consent(
    hub_app: Flask, database_url: str
) -> None:
    hub = Hub(hub_app)
    core, core_key = hub.add_client(SCOPES, cached_key("rsa-a"), organization=CORE)
    a, a_key = hub.add_client(SCOPES, cached_key("rsa-b"), organization=A)
    core_token = hub.token(core, core_key, SCOPES)
    a_token = hub.token(a, a_key, SCOPES)

    org = {
        "resourceType": "Organization",
        "id": "short-stay-a",
        "name": "短期入所事業所A",
        "address": [{"text": "島根県松江市末次町1-1"}],
    }
    assert hub.fhir("PUT", "Organization/short-stay-a", core_token, org).status_code == 201
    patient = {"resourceType": "Patient", "name": [{"family": "山田", "given": ["花子"]}]}
    pid = hub.fhir("POST", "Patient", core_token, patient).get_json()["id"]
    other = hub.fhir("POST", "Patient", core_token, patient).get_json()["id"]
    made = hub.fhir("POST", "Consent", core_token, _consent(pid))
    assert made.status_code == 201, made.get_json()
    consent = made.get_json()

    assert hub.fhir("GET", f"Patient/{pid}", a_token).status_code == 200
    assert hub.fhir("GET", f"Patient/{other}", a_token).status_code == 404  # no consent
    assert hub.fhir("GET", f"Patient/{pid}", core_token).status_code == 200  # its own data

    rows = list(
        csv.DictReader(
            io.StringIO(_run(database_url, "audit", "provisions", "--patient", f"Patient/{pid}"))
        )
    )
    assert len(rows) == 1  # A's read; the core center reading its own record provides nothing
    row = rows[0]
    assert row["recipient"] == A and row["recipient_name"] == "短期入所事業所A"
    assert row["recipient_address"] == "島根県松江市末次町1-1"
    assert row["patient"] == f"Patient/{pid}" and row["patient_name"] == "山田 花子"
    assert row["items"] == "Patient" and row["basis"] == "consent"
    assert row["consents"] == f"Consent/{consent['id']}/_history/1"
    assert row["purpose"] == "TREAT"
    assert int(row["retain_until"][:4]) == int(row["recorded"][:4]) + 3
    kept_longer = _run_env(
        database_url, {"HUB_AUDIT_RETENTION_YEARS": "7"}, "audit", "provisions", "--format", "json"
    )
    (longer,) = json.loads(kept_longer)
    assert int(longer["retain_until"][:4]) == int(row["recorded"][:4]) + 7

    by_recipient = json.loads(
        _run(database_url, "audit", "provisions", "--recipient", A, "--format", "json")
    )
    assert [r["patient"] for r in by_recipient] == [f"Patient/{pid}"]
    none_before = json.loads(
        _run(
            database_url,
            "audit",
            "provisions",
            "--recipient",
            A,
            "--to",
            "2000-01-01",
            "--format",
            "json",
        )
    )
    assert none_before == []

    bundle = json.loads(_run(database_url, "audit", "export", "--patient", f"Patient/{pid}"))
    decisions = [
        d["valueString"]
        for e in bundle["entry"]
        for ent in e["resource"].get("entity", [])
        for d in ent.get("detail", [])
        if d["type"] == "decision"
    ]
    assert "permit:consent-permit" in decisions and "permit:author" in decisions
    refused = json.loads(_run(database_url, "audit", "export", "--patient", f"Patient/{other}"))
    outcomes = [
        e["resource"]["outcome"]
        for e in refused["entry"]
        if e["resource"]["subtype"][0]["code"] == "read"
    ]
    assert "4" in outcomes  # A's refused read is on the record too


def test_bad_filters_are_usage_errors(database_url: str) -> None:
    runner = CliRunner()
    env = {"HUB_DATABASE_URL": database_url}
    bad_date = runner.invoke(
        main, ["audit", "export", "--patient", "p1", "--from", "01/02"], env=env
    )
    assert bad_date.exit_code == 2 and "FHIR date" in bad_date.output
    bad_ref = runner.invoke(main, ["audit", "provisions", "--recipient", "Patient/x"], env=env)
    assert bad_ref.exit_code == 2 and "Organization/<id>" in bad_ref.output
    nothing = runner.invoke(main, ["audit", "export"], env=env)
    assert nothing.exit_code == 2 and "--patient" in nothing.output
