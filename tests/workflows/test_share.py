"""``Patient/[id]/$share-registration`` through HTTP with real tokens (issue 6: "sharing the
registration with the providers expected to act … is one action that records the share")."""

from __future__ import annotations

from typing import Any

from tests.access import World, ids
from tests.workflows.test_end_to_end import (
    ALL,
    CORE,
    OFFICE,
    PROV_A,
    PROV_B,
    C,
    _json,
    form,
    ok,
    out,
    params,
    register,
)

SHARE_CATEGORY = f"{C}/CodeSystem/communication-category|registration-share"


def share(
    w: World, pid: str, *providers: str, note: str | None = None, token: str = "office"
) -> Any:
    p: list[dict[str, Any]] = [
        {"name": "provider", "valueReference": {"reference": r}} for r in providers
    ]
    if note:
        p.append({"name": "note", "valueString": note})
    body = {"resourceType": "Parameters", "parameter": p}
    return w.hub.fhir("POST", f"{pid}/$share-registration", w.tokens[token], body)


def organizations(w: World, *refs: str) -> None:
    for ref in refs:
        rid = ref.split("/")[1]
        body = {"resourceType": "Organization", "id": rid, "name": f"架空事業所 {rid}"}
        assert w.hub.fhir("PUT", ref, w.tokens["office"], body).status_code in (200, 201)


def provider_actors(consent: dict[str, Any]) -> set[str]:
    return {
        a["reference"]["reference"]
        for p in consent["provision"]["provision"]
        if {c["code"] for c in p["purpose"]} == {"TREAT", "ETREAT"}
        and not any(a["reference"]["reference"] in (CORE, OFFICE) for a in p["actor"])
        for a in p["actor"]
    }


def test_share_names_the_provider_and_records_it(world: World) -> None:
    organizations(world, PROV_A, PROV_B)
    first = register(world, params(form(), PROV_A))
    pid, consent_ref = out(first, "patient"), out(first, "consent")
    office, core, b = (world.tokens[k] for k in ("office", "core", "b"))
    assert world.get(b, pid).status_code == 404
    resp = share(world, pid, PROV_B, note="短期入所の受け入れ準備のため共有します")
    result = ok(resp)
    comm_ref = out(result, "communication")
    assert out(result, "added") == PROV_B
    # B now reads the person, the consent names B, the register lists B
    assert world.get(b, pid).status_code == 200
    consent = ok(world.get(office, consent_ref))
    assert provider_actors(consent) == {PROV_A, PROV_B}
    assert ok(world.get(office, f"{consent_ref}/_history"))["total"] == 2
    found = ok(world.get(core, f"EpisodeOfCare?expected-provider={PROV_B}"))
    assert ids(found) == [out(first, "register-entry")]
    assert ids(ok(world.get(core, f"EpisodeOfCare?expected-provider={OFFICE}"))) == []
    # the share is recorded, and B finds it and reads the form it carries
    comms = ok(world.get(b, f"Communication?recipient={PROV_B}&category={SHARE_CATEGORY}"))
    assert ids(comms) == [comm_ref]
    comm = comms["entry"][0]["resource"]
    assert comm["sender"]["reference"] == OFFICE and comm["status"] == "completed"
    assert comm["note"][0]["text"] == "短期入所の受け入れ準備のため共有します"
    form_ref = comm["payload"][0]["contentReference"]["reference"]
    assert form_ref == out(first, "response")
    assert ok(world.get(b, form_ref))["questionnaire"].endswith("emergency-registration")
    # sharing again with B sends again, changes neither the consent nor the register entry
    again = ok(share(world, pid, PROV_B))
    assert not [p for p in again["parameter"] if p["name"] == "added"]
    assert ok(world.get(office, f"{consent_ref}/_history"))["total"] == 2
    assert ok(world.get(office, f"{out(first, 'register-entry')}/_history"))["total"] == 2
    assert len(ids(ok(world.get(b, f"Communication?subject={pid}")))) == 2
    # a change notice keeps the shared provider
    notice = _json(
        "examples/QuestionnaireResponse-example-emergency-registration-change-response.json"
    )
    notice.pop("id")
    notice["subject"] = {"reference": pid}
    register(world, params(notice))
    assert world.get(b, pid).status_code == 200


def test_share_refusals(world: World) -> None:
    organizations(world, PROV_A, PROV_B)
    first = register(world, params(form(), PROV_A))
    pid, consent_ref = out(first, "patient"), out(first, "consent")
    where = "Parameters.parameter.where(name='provider')"
    for providers, status in (((), 400), (("Patient/x",), 400), (("Organization/nowhere",), 422)):
        resp = share(world, pid, *providers)
        assert resp.status_code == status, resp.get_json()
        assert resp.get_json()["issue"][0]["expression"] == [where]
    # a caller who may not see the person learns nothing
    assert share(world, pid, PROV_B, token="b").status_code == 404
    assert share(world, "Patient/no-such-person", PROV_B).status_code == 404
    # a person with no registration
    other = world.create(world.tokens["office"], {"resourceType": "Patient", "gender": "male"})
    assert share(world, f"Patient/{other}", PROV_B).status_code == 422
    # a withdrawn consent cannot be shared, and a change notice does not grant it again
    consent = ok(world.get(world.tokens["office"], consent_ref))
    consent["status"] = "inactive"
    consent.pop("meta")
    resp = world.hub.fhir("PUT", consent_ref, world.tokens["office"], consent)
    assert resp.status_code == 200, resp.get_json()
    assert world.get(world.tokens["a"], pid).status_code == 404
    refused = share(world, pid, PROV_B)
    assert refused.status_code == 409, refused.get_json()
    assert ok(world.get(world.tokens["office"], f"{consent_ref}/_history"))["total"] == 2
    notice = _json(
        "examples/QuestionnaireResponse-example-emergency-registration-change-response.json"
    )
    notice.pop("id")
    notice["subject"] = {"reference": pid}
    register(world, params(notice))
    assert ok(world.get(world.tokens["office"], consent_ref))["status"] == "inactive"
    assert world.get(world.tokens["a"], pid).status_code == 404
    # refusals wrote nothing: B is in neither the consent nor the register
    assert (
        ids(ok(world.get(world.tokens["core"], f"EpisodeOfCare?expected-provider={PROV_B}"))) == []
    )


def test_share_needs_write_scopes(world: World) -> None:
    organizations(world, PROV_A, PROV_B)
    pid = out(register(world, params(form(), PROV_A)), "patient")
    world.client("reader", OFFICE, "system/*.rs")
    world.tokens["reader"] = world.token("reader", "system/*.rs")
    resp = share(world, pid, PROV_B, token="reader")
    assert resp.status_code == 403, resp.get_json()


HOSPITAL = "Organization/hospital-h"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def test_only_the_consents_keepers_may_share_or_change_it(world: World) -> None:
    """A provider the consent names, or a hospital under break-glass, may read the person but
    may neither share the registration nor change, replace or forge the consent (403)."""
    organizations(world, PROV_A, PROV_B, HOSPITAL)
    first = register(world, params(form(), PROV_A))
    pid, consent_ref = out(first, "patient"), out(first, "consent")
    a = world.tokens["a"]
    assert world.get(a, pid).status_code == 200
    refused = share(world, pid, PROV_B, token="a")
    assert refused.status_code == 403, refused.get_json()
    # the hospital's emergency department breaks the glass: it reads, and nothing more
    world.client("er", HOSPITAL, ALL, break_glass=True)
    world.tokens["er"] = world.token("er", ALL, "ETREAT")
    reason = {
        "resourceType": "Parameters",
        "parameter": [{"name": "reason", "valueString": "救急"}],
    }
    er = world.tokens["er"]
    assert world.hub.fhir("POST", f"{pid}/$break-glass", er, reason).status_code == 200
    assert world.get(er, pid).status_code == 200
    assert share(world, pid, HOSPITAL, token="er").status_code == 403
    consent = ok(world.get(er, consent_ref))
    consent.pop("meta")
    consent["provision"]["provision"].append(
        {
            "type": "permit",
            "actor": [
                {
                    "role": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]},
                    "reference": {"reference": HOSPITAL},
                }
            ],
            "purpose": [{"system": ACT_REASON, "code": "TREAT"}],
        }
    )
    for token in (er, a):
        resp = world.hub.fhir("PUT", consent_ref, token, consent)
        assert resp.status_code == 403, resp.get_json()
        assert world.hub.fhir("DELETE", consent_ref, token).status_code == 403
        forged = {k: v for k, v in consent.items() if k != "id"}
        resp = world.hub.fhir("POST", "Consent", token, forged)
        assert resp.status_code == 403, resp.get_json()
        assert resp.get_json()["issue"][0]["expression"] == ["Consent.patient"]
    assert ok(world.get(world.tokens["office"], f"{consent_ref}/_history"))["total"] == 1
    # a provider the consent does not name cannot forge one either
    b = world.tokens["b"]
    resp = world.hub.fhir("POST", "Consent", b, {k: v for k, v in consent.items() if k != "id"})
    assert resp.status_code == 403
    assert world.get(b, pid).status_code == 404
    # the keepers may: the office (author) and the core center (Consent.organization)
    assert share(world, pid, PROV_B).status_code == 200
    resp = share(world, pid, HOSPITAL, token="core")
    assert resp.status_code == 200, resp.get_json()
    # a keeper who did not create the person's record (the core center) may record another
    another = ok(world.get(world.tokens["core"], consent_ref))
    another.pop("meta")
    another.pop("id")
    resp = world.hub.fhir("POST", "Consent", world.tokens["core"], another)
    assert resp.status_code == 201, resp.get_json()


def test_malformed_provider_parameter_is_a_400(world: World) -> None:
    organizations(world, PROV_A)
    pid = out(register(world, params(form(), PROV_A)), "patient")
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "provider", "valueReference": "Organization/provider-a"}],
    }
    resp = world.hub.fhir("POST", f"{pid}/$share-registration", world.tokens["office"], body)
    assert resp.status_code == 400
    assert resp.get_json()["issue"][0]["expression"] == [
        "Parameters.parameter.where(name='provider')"
    ]
    bad = params(form(), PROV_A)
    bad["parameter"][1]["valueReference"] = "Organization/core-center"
    resp = world.hub.fhir("POST", "Patient/$register", world.tokens["office"], bad)
    assert resp.status_code == 400, resp.get_json()
