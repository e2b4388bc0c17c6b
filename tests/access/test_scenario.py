"""Issue 4's scenario through HTTP with real tokens, on SQLite and PostgreSQL.

The core center registers a person with the registration form's consent (provider A for TREAT
and CAREMGT, the hospital only for ETREAT). A reads and searches; B (not named) learns nothing
by any path — a consent refusal answers exactly like an unknown id (404), so B cannot tell a
hidden person from one who does not exist; the consent is withdrawn and A loses access on the
next request, including the next page of a search already started.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.auth import schema as _auth_schema  # noqa: F401  (tables on the shared metadata)
from tests.access import (
    ACT_REASON,
    CONSENT_SCOPE,
    FAMILY,
    READER_SCOPE,
    Person,
    World,
    consent_body,
    ids,
    make_world,
    next_link,
    register_person,
)
from tests.auth.helpers import Hub, make_app


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    app = make_app(database_url, tmp_path)
    yield make_world(Hub(app))
    app.extensions["hub.db"].dispose()


@pytest.fixture
def person(world: World) -> Person:
    return register_person(world)


def _bundle(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["resourceType"] == "Bundle"
    return dict(body)


def test_provider_a_reads_and_searches(world: World, person: Person) -> None:
    a = world.tokens["a"]
    p = f"Patient/{person.patient}"
    assert world.get(a, p).get_json()["id"] == person.patient
    assert world.get(a, f"CarePlan/{person.careplan}").status_code == 200
    assert ids(_bundle(world.get(a, f"Patient?name={FAMILY}"))) == [p]
    found = _bundle(world.get(a, f"CarePlan?subject={p}"))
    assert ids(found) == [f"CarePlan/{person.careplan}"] and found["total"] == 1
    chained = _bundle(world.get(a, f"CarePlan?subject:Patient.name={FAMILY}"))
    assert chained["total"] == 1
    everything = ids(_bundle(world.get(a, f"{p}/$everything")))
    assert p in everything and f"CarePlan/{person.careplan}" in everything
    assert f"RelatedPerson/{person.contact}" in everything


def test_unagreed_emergency_contact_is_not_shared_even_to_a(world: World, person: Person) -> None:
    a = world.tokens["a"]
    assert world.get(a, f"RelatedPerson/{person.contact}").status_code == 200
    assert world.get(a, f"RelatedPerson/{person.unagreed_contact}").status_code == 404
    found = _bundle(world.get(a, f"RelatedPerson?patient=Patient/{person.patient}"))
    assert ids(found) == [f"RelatedPerson/{person.contact}"] and found["total"] == 1
    counted = _bundle(
        world.get(a, f"RelatedPerson?patient=Patient/{person.patient}&_summary=count")
    )
    assert counted["total"] == 1
    everything = ids(_bundle(world.get(a, f"Patient/{person.patient}/$everything")))
    assert f"RelatedPerson/{person.unagreed_contact}" not in everything
    # the author (the core center) still reads what it wrote
    core = world.tokens["core"]
    assert world.get(core, f"RelatedPerson/{person.unagreed_contact}").status_code == 200


def _b_paths(pid: str, cp: str) -> list[str]:
    """Every read path B might try for patient ``pid`` and care plan ``cp``."""
    return [
        f"Patient/{pid}",
        f"Patient/{pid}/_history/1",
        f"Patient/{pid}/_history",
        f"CarePlan/{cp}",
        f"CarePlan/{cp}/_history/1",
        f"Patient/{pid}/$everything",
    ]


def test_provider_b_gets_nothing(world: World, person: Person) -> None:
    b = world.tokens["b"]
    pid, cp = person.patient, person.careplan
    for path in _b_paths(pid, cp):
        resp = world.get(b, path)
        assert resp.status_code == 404, (path, resp.status_code)
    for query in (
        f"Patient?name={FAMILY}",
        f"Patient?_id={pid}",
        f"CarePlan?subject=Patient/{pid}",
        f"CarePlan?subject:Patient.name={FAMILY}",
        f"Condition?subject:Patient.name={FAMILY}&_summary=count",
        f"Patient?_id={pid}&_revinclude=CarePlan:subject",
        "CarePlan?_include=CarePlan:subject",
        f"RelatedPerson?patient=Patient/{pid}",
        "Consent",
    ):
        bundle = _bundle(world.get(b, query))
        assert ids(bundle) == [] and bundle["total"] == 0, (query, bundle)
    for history in ("Patient/_history", "CarePlan/_history", "_history"):
        assert ids(_bundle(world.get(b, history))) == [], history
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": f"Patient/{pid}"}},
            {"request": {"method": "GET", "url": f"CarePlan?subject=Patient/{pid}"}},
            {"request": {"method": "GET", "url": f"Patient/{pid}/$everything"}},
        ],
    }
    for kind in ("batch", "transaction"):
        resp = world.hub.fhir("POST", "", b, {**batch, "type": kind})
        if kind == "transaction":  # a failing GET fails the whole transaction: 404, no data
            assert resp.status_code == 404, resp.get_json()
            assert pid not in resp.get_data(as_text=True).replace(f"Patient/{pid} is not known", "")
            continue
        entries = _bundle(resp)["entry"]
        assert [e["response"]["status"].split()[0] for e in entries] == ["404", "200", "404"]
        assert "resource" not in entries[0] and ids(entries[1]["resource"]) == []


def _shape(resp: Any, secret: str) -> tuple[int, Any, str]:
    """Status and body with the asked-for id blanked out (it is echoed in the diagnostics)."""
    body = resp.get_json()
    text = resp.get_data(as_text=True).replace(secret, "X")
    return resp.status_code, (body or {}).get("resourceType"), text


def test_hidden_answers_like_unknown(world: World, person: Person) -> None:
    """B's answers about a hidden person equal those about an id that does not exist."""
    b = world.tokens["b"]
    ghost = "no-such-person"
    for hidden, unknown in zip(
        _b_paths(person.patient, person.careplan), _b_paths(ghost, ghost), strict=True
    ):
        got = _shape(
            world.get(b, hidden), person.patient if "Patient" in hidden else person.careplan
        )
        want = _shape(world.get(b, unknown), ghost)
        assert got == want, (hidden, got, want)
    for query in ("Patient?_id={}", "CarePlan?subject=Patient/{}", "Patient?_id={}&_summary=count"):
        got = _shape(world.get(b, query.format(person.patient)), person.patient)
        want = _shape(world.get(b, query.format(ghost)), ghost)
        assert got[0] == want[0] == 200
        g, w_ = (
            _bundle(world.get(b, query.format(person.patient))),
            _bundle(world.get(b, query.format(ghost))),
        )
        assert (g.get("total"), ids(g)) == (w_.get("total"), ids(w_))


def test_withdrawal_works_at_once_even_mid_search(world: World, person: Person) -> None:
    a, core = world.tokens["a"], world.tokens["core"]
    first = _bundle(world.get(a, f"Condition?subject=Patient/{person.patient}&_count=1"))
    assert len(ids(first)) == 1 and first["total"] == 2
    nxt = next_link(first)
    assert nxt is not None
    withdrawn = consent_body(person.patient, status="inactive", cid=person.consent)
    resp = world.hub.fhir("PUT", f"Consent/{person.consent}", core, withdrawn)
    assert resp.status_code == 200, resp.get_json()
    assert world.get(a, f"Patient/{person.patient}").status_code == 404
    second = _bundle(world.get(a, nxt))
    assert ids(second) == [] and second.get("total", 0) == 0
    assert ids(_bundle(world.get(a, f"CarePlan?subject=Patient/{person.patient}"))) == []


def test_paging_counts_only_visible_and_next_is_stable(world: World, person: Person) -> None:
    """Two contacts of which one is hidden: total 1, one page, no next link leading nowhere."""
    a = world.tokens["a"]
    query = f"RelatedPerson?patient=Patient/{person.patient}&_count=1"
    page = _bundle(world.get(a, query))
    assert page["total"] == 1 and ids(page) == [f"RelatedPerson/{person.contact}"]
    assert next_link(page) is None
    # a second visible person: paging through A's Patient search visits each exactly once
    other = register_person(world, family="架空川")
    seen: list[str] = []
    url: str | None = "Patient?_count=1&_sort=_id"
    while url is not None:
        bundle = _bundle(world.get(a, url))
        assert bundle["total"] == 2
        seen += ids(bundle)
        url = next_link(bundle)
    assert sorted(seen) == sorted([f"Patient/{person.patient}", f"Patient/{other.patient}"])


def test_hospital_reads_only_for_etreat(world: World, person: Person) -> None:
    etreat = world.token("hospital", READER_SCOPE, "ETREAT")
    treat = world.token("hospital", READER_SCOPE, "TREAT")
    p = f"Patient/{person.patient}"
    assert world.get(etreat, p).status_code == 200
    assert ids(_bundle(world.get(etreat, f"Patient?name={FAMILY}"))) == [p]
    assert world.get(treat, p).status_code == 404
    assert ids(_bundle(world.get(treat, f"Patient?name={FAMILY}"))) == []
    # ETREAT by consent is not break-glass: the hospital has no such power
    resp = world.hub.fhir(
        "POST",
        f"{p}/$break-glass",
        etreat,
        {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "急変"}]},
    )
    assert resp.status_code == 403


# The hub Consent profile -------------------------------------------------------------------

PROFILE = Path(__file__).resolve().parents[2] / "profiles/hub/StructureDefinition-hub-consent.json"


def _profile_violations(sd: dict[str, Any], consent: dict[str, Any]) -> list[str]:
    """The profile's key constraints, read from its differential and checked simply: required
    elements, the scope pattern, actor reference target types, the purpose value set."""
    from hub.consent.codes import PurposeOfUse

    elements = {e["path"]: e for e in sd["differential"]["element"]}
    out: list[str] = []
    for path, e in elements.items():
        if e.get("min", 0) >= 1 and path.count(".") == 1 and path.split(".")[1] not in consent:
            out.append(f"{path}: required")
    pattern = elements["Consent.scope"]["patternCodeableConcept"]["coding"][0]
    codings = (consent.get("scope") or {}).get("coding", [])
    if not any(
        c.get("system") == pattern["system"] and c.get("code") == pattern["code"] for c in codings
    ):
        out.append("Consent.scope: not patient-privacy")
    targets = {
        t.rsplit("/", 1)[1]
        for t in elements["Consent.provision.actor.reference"]["type"][0]["targetProfile"]
    }
    binding = elements["Consent.provision.purpose"]["binding"]
    assert binding["valueSet"].endswith("/v3-PurposeOfUse") and binding["strength"] == "required"

    def walk(provision: dict[str, Any], where: str) -> None:
        for i, actor in enumerate(provision.get("actor", [])):
            ref = actor["reference"].get("reference", "")
            if ref.split("/")[0] not in targets:
                out.append(f"{where}.actor[{i}].reference: {ref.split('/')[0]} not allowed")
        for i, purpose in enumerate(provision.get("purpose", [])):
            if purpose.get("code") not in set(PurposeOfUse) or not purpose.get(
                "system", ""
            ).endswith("/v3-ActReason"):
                out.append(f"{where}.purpose[{i}]: not a v3 PurposeOfUse code")
        for i, nested in enumerate(provision.get("provision", [])):
            if "type" not in nested:
                out.append(f"{where}.provision[{i}].type: required (hub-consent-2)")
            walk(nested, f"{where}.provision[{i}]")

    walk(consent.get("provision", {}), "Consent.provision")
    return out


def test_hub_consent_profile_and_the_scenario_consent() -> None:
    sd = json.loads(PROFILE.read_text(encoding="utf-8"))
    assert sd["resourceType"] == "StructureDefinition" and sd["type"] == "Consent"
    assert sd["baseDefinition"] == "http://hl7.org/fhir/StructureDefinition/Consent"
    assert sd["derivation"] == "constraint" and sd["fhirVersion"] == "4.0.1"
    assert sd["url"].endswith("/" + sd["id"])
    assert all(
        e["id"] == e["path"] and e["path"].startswith("Consent")
        for e in sd["differential"]["element"]
    )
    example = consent_body("p-1")
    assert example["meta"]["profile"] == [sd["url"]]
    assert _profile_violations(sd, example) == []
    # ... and the check can fail: each key constraint broken once
    bad = consent_body("p-1")
    del bad["patient"]
    bad["scope"] = {"coding": [{"system": CONSENT_SCOPE, "code": "research"}]}
    bad["provision"]["provision"][0]["actor"][0]["reference"] = {"reference": "Patient/p-2"}
    bad["provision"]["provision"][1]["purpose"] = [{"system": ACT_REASON, "code": "FUN"}]
    del bad["provision"]["provision"][1]["type"]
    assert len(_profile_violations(sd, bad)) == 5, _profile_violations(sd, bad)
