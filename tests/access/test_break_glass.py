"""Break-glass (緊急時, 個人情報保護法 27条1項2号) and its review queue, through HTTP with real
tokens, on SQLite and PostgreSQL.

B's client is registered with ``hub client add --break-glass`` (the CLI, through click's
runner); the power is that flag *and* an ETREAT token. B names the patient and a reason, then
reads the record; every access is flagged in its AuditEvent (purpose ETREAT, the reason) and the
grant waits in the privacy officers' queue until one closes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.auth import schema as _auth_schema  # noqa: F401  (tables on the shared metadata)
from hub.cli import main
from tests.access import (
    CORE,
    PROVIDER_B,
    READER_SCOPE,
    Person,
    World,
    ids,
    make_world,
    register_person,
)
from tests.auth.helpers import Hub, cached_key, make_app

REASON = "意識不明で搬送、既往歴の確認が必要"
REVIEW = "$break-glass-review"


@pytest.fixture
def world(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    app = make_app(database_url, tmp_path)
    w = make_world(Hub(app))
    jwks = tmp_path / "b-glass.json"
    jwks.write_text(json.dumps(cached_key("ec-a").jwks()), encoding="utf-8")
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    result = CliRunner().invoke(
        main,
        [
            "client",
            "add",
            "--name",
            "事業所 B (緊急時)",
            "--organization",
            PROVIDER_B,
            "--scope",
            READER_SCOPE,
            "--jwks",
            str(jwks),
            "--break-glass",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    client = w.hub.registry.get(json.loads(result.output)["client_id"])
    assert client is not None and client.break_glass
    w.clients["b-glass"] = (client, cached_key("ec-a"))
    w.client("officer", CORE, READER_SCOPE, privacy_officer=True)
    w.tokens["officer"] = w.token("officer", READER_SCOPE)
    yield w
    app.extensions["hub.db"].dispose()


@pytest.fixture
def person(world: World) -> Person:
    return register_person(world)


def _glass(w: World, token: str, pid: str, reason: str | None = REASON) -> Any:
    params = [{"name": "reason", "valueString": reason}] if reason is not None else []
    body = {"resourceType": "Parameters", "parameter": params}
    return w.hub.fhir("POST", f"Patient/{pid}/$break-glass", token, body)


def _review(w: World, token: str, **values: Any) -> Any:
    kinds = {"id": "valueString", "justified": "valueBoolean", "comment": "valueString"}
    params = [{"name": k, kinds[k]: v} for k, v in values.items()]
    return w.hub.fhir("POST", REVIEW, token, {"resourceType": "Parameters", "parameter": params})


def _grants(resp: Any) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.get_json()
    out = []
    for p in resp.get_json().get("parameter", []):
        assert p["name"] == "grant"
        out.append({x["name"]: next(v for k, v in x.items() if k != "name") for x in p["part"]})
    return out


def test_break_glass_refused_without_power_or_reason(world: World, person: Person) -> None:
    pid = person.patient
    plain_etreat = world.token("b", READER_SCOPE, "ETREAT")  # ETREAT, but no flag
    glass_treat = world.token("b-glass", READER_SCOPE, "TREAT")  # flag, but not ETREAT
    glass = world.token("b-glass", READER_SCOPE, "ETREAT")
    assert _glass(world, plain_etreat, pid).status_code == 403
    assert _glass(world, glass_treat, pid).status_code == 403
    for reason in (None, "   "):
        resp = _glass(world, glass, pid, reason)
        assert resp.status_code == 400
        assert resp.get_json()["issue"][0]["expression"] == ["Parameters.parameter"]
    # the power alone opens nothing: no grant was made
    assert world.get(glass, f"Patient/{pid}").status_code == 404
    assert _grants(world.get(world.tokens["officer"], REVIEW)) == []


def test_break_glass_grants_flags_and_queues(world: World, person: Person) -> None:
    pid, officer = person.patient, world.tokens["officer"]
    glass = world.token("b-glass", READER_SCOPE, "ETREAT")
    assert world.get(glass, f"Patient/{pid}").status_code == 404
    granted = _glass(world, glass, pid)
    assert granted.status_code == 200, granted.get_json()
    assert world.get(glass, f"Patient/{pid}").get_json()["id"] == pid
    assert ids(world.get(glass, f"CarePlan?subject=Patient/{pid}").get_json()) == [
        f"CarePlan/{person.careplan}"
    ]
    everything = ids(world.get(glass, f"Patient/{pid}/$everything").get_json())
    assert f"Condition/{person.conditions[0]}" in everything
    # a contact's own missing agreement is not overridden by the emergency
    assert world.get(glass, f"RelatedPerson/{person.unagreed_contact}").status_code == 404
    # the grant is used only with the emergency purpose asserted (an ETREAT token)
    treat = world.token("b-glass", READER_SCOPE, "TREAT")
    assert world.get(treat, f"Patient/{pid}").status_code == 404
    # the accesses are flagged: AuditEvent with purpose ETREAT and the break-glass reason
    events = world.get(officer, "AuditEvent?_count=1000").get_json()
    flagged = [
        e["resource"]
        for e in events.get("entry", [])
        if any(x.get("description") == "break-glass" for x in e["resource"].get("entity", []))
    ]
    read = [
        e
        for e in flagged
        if e["subtype"][0]["code"] == "read"
        and any(
            x.get("what", {}).get("reference", "").startswith(f"Patient/{pid}/")
            for x in e["entity"]
        )
    ]
    assert len(read) == 1, flagged
    event = read[0]
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"
    glass_entity = next(x for x in event["entity"] if x.get("description") == "break-glass")
    assert glass_entity["detail"][0]["valueString"] == REASON
    decisions = [
        d["valueString"]
        for x in event["entity"]
        for d in x.get("detail", [])
        if d["type"] == "decision"
    ]
    assert "permit:break-glass" in decisions
    # ... and queued for review
    queue = _grants(world.get(officer, REVIEW))
    assert len(queue) == 1
    grant = queue[0]
    assert grant["patient"] == {"reference": f"Patient/{pid}"}
    assert grant["reason"] == REASON and grant["status"] == "open"
    assert grant["organization"] == {"reference": PROVIDER_B}


def test_review_queue_is_for_privacy_officers(world: World, person: Person) -> None:
    officer, core = world.tokens["officer"], world.tokens["core"]
    glass = world.token("b-glass", READER_SCOPE, "ETREAT")
    assert _glass(world, glass, person.patient).status_code == 200
    for token in (core, glass, world.tokens["a"]):
        assert world.get(token, REVIEW).status_code == 403
        denied = _review(world, token, id="1", justified=True, comment="ok")
        assert denied.status_code == 403
    gid = _grants(world.get(officer, REVIEW))[0]["id"]
    missing = _review(world, officer, id=gid, justified=True)
    assert missing.status_code == 400
    assert "comment" in missing.get_json()["issue"][0]["expression"][0]
    no_verdict = _review(world, officer, id=gid, comment="確認")
    assert no_verdict.status_code == 400
    assert _review(world, officer, id="999999", justified=True, comment="x").status_code == 404
    closed = _review(world, officer, id=gid, justified=False, comment="救急搬送の記録なし")
    assert closed.status_code == 200, closed.get_json()
    assert _grants(closed)[0]["status"] == "unjustified"
    assert _grants(world.get(officer, REVIEW)) == []
    again = _review(world, officer, id=gid, justified=True, comment="再審査")
    assert again.status_code == 409
    every = _grants(world.get(officer, f"{REVIEW}?status=all"))
    assert [(g["id"], g["status"], g["comment"]) for g in every] == [
        (gid, "unjustified", "救急搬送の記録なし")
    ]
    assert world.get(officer, f"{REVIEW}?status=bogus").status_code == 400
