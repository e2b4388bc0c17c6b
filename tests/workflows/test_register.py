"""Change notices (変更届) that remove a section: ``contact-2`` declared and left empty removes
the second emergency contact; a declared section that is answered is changed, not removed."""

from __future__ import annotations

from typing import Any

from tests.access import World, ids
from tests.workflows.test_end_to_end import (
    CORE,
    PROV_A,
    C,
    _item,
    _json,
    form,
    ok,
    out,
    params,
    register,
)

CHANGE_ITEM = f"{C}/CodeSystem/registration-change-item"


def notice(pid: str, *codes: str, keep_phone: bool = False) -> dict[str, Any]:
    body = _json(
        "examples/QuestionnaireResponse-example-emergency-registration-change-response.json"
    )
    body.pop("id")
    body["subject"] = {"reference": pid}
    _item(body["item"], "change.items")["answer"] = [
        {"valueCoding": {"system": CHANGE_ITEM, "code": c}} for c in codes
    ]
    if not keep_phone:
        person = _item(body["item"], "person")
        person["item"] = [i for i in person["item"] if i["linkId"] != "person.phone"]
    return body


def test_notice_removes_contact_2(world: World) -> None:
    qr = form()
    _item(qr["item"], "contact.2.agreement")["answer"] = [{"valueBoolean": True}]
    pid = out(register(world, params(qr, PROV_A)), "patient")
    office = world.tokens["office"]
    rp = f"RelatedPerson/{pid.split('/')[1]}"
    before = sorted(ids(ok(world.get(office, f"RelatedPerson?patient={pid}"))))
    assert f"{rp}-contact-2" in before
    # declaring "phone" but answering it changes the phone and removes nothing
    register(world, params(notice(pid, "phone", keep_phone=True)))
    assert sorted(ids(ok(world.get(office, f"RelatedPerson?patient={pid}")))) == before
    # declaring contact-2 with no contact.2 answers: the second contact is gone
    register(world, params(notice(pid, "contact-2")))
    after = sorted(ids(ok(world.get(office, f"RelatedPerson?patient={pid}"))))
    assert after == [r for r in before if r != f"{rp}-contact-2"]
    assert world.get(office, f"{rp}-contact-2").status_code == 410
    # the phone number of the earlier notice is kept
    mobile = [t["value"] for t in ok(world.get(office, pid))["telecom"] if t.get("use") == "mobile"]
    assert mobile == ["090-0000-0009"]
    # contact 1 is required: declaring it without answers removes nothing
    register(world, params(notice(pid, "contact-1")))
    assert f"{rp}-contact-1" in ids(ok(world.get(office, f"RelatedPerson?patient={pid}")))


def test_core_center_flow_and_the_high_risk_list(world: World) -> None:
    """A person using no services: the core center keeps them on the high-risk list
    (ハイリスク者登録台帳: an EpisodeOfCare typed register-list|high-risk), then takes their
    registration form itself; the form names the same Patient (``subject``)."""
    core, a = world.tokens["core"], world.tokens["a"]
    pid = world.create(
        core,
        {
            "resourceType": "Patient",
            "name": [{"text": "架空 次郎"}, {"text": "カクウ ジロウ"}],
            "birthDate": "1975-02-03",
        },
    )
    high_risk = {"system": f"{C}/CodeSystem/register-list", "code": "high-risk"}
    entry = world.create(
        core,
        {
            "resourceType": "EpisodeOfCare",
            "status": "planned",
            "type": [{"coding": [high_risk]}],
            "patient": {"reference": f"Patient/{pid}"},
            "managingOrganization": {"reference": CORE},
        },
    )
    listed = ok(world.get(core, f"EpisodeOfCare?type={high_risk['system']}|high-risk"))
    assert ids(listed) == [f"EpisodeOfCare/{entry}"]
    # no consent yet: nobody else sees the person or the list entry
    assert world.get(a, f"Patient/{pid}").status_code == 404
    assert ids(ok(world.get(a, "EpisodeOfCare?type=high-risk"))) == []
    # the core center takes the form (no services used, no consultation office yet)
    qr = form()
    status_group = _item(qr["item"], "status")
    status_group["item"] = [i for i in status_group["item"] if i["linkId"] != "status.services"] + [
        {"linkId": "status.services", "answer": [{"valueBoolean": False}]}
    ]
    qr["subject"] = {"reference": f"Patient/{pid}"}
    resp = world.hub.fhir("POST", "Patient/$register", core, params(qr, PROV_A))
    result = ok(resp)
    assert out(result, "patient") == f"Patient/{pid}"
    episode = ok(world.get(core, out(result, "register-entry")))
    assert episode["managingOrganization"]["reference"] == CORE  # the caller, until assigned
    assert world.get(a, f"Patient/{pid}").status_code == 200  # the form's consent names A


def test_a_form_signed_for_the_person_gives_a_usable_consent(world: World) -> None:
    """Signed by a proxy (代筆) or guardian: the consent's performer is the RelatedPerson who
    signed when the form names them as a contact, else the person — always a reference, so the
    consent gate can read it and the named provider sees the person."""
    signed = form()
    contact = _item(signed["item"], "contact.1.name")["answer"][0]["valueString"]
    _item(signed["item"], "filer.name.kanji")["answer"] = [{"valueString": contact}]
    method = _item(signed["item"], "filer.signature-method")
    method["answer"] = [
        {"valueCoding": {"system": f"{C}/CodeSystem/signature-method", "code": "proxy"}}
    ]
    first = register(world, params(signed, PROV_A))
    pid = out(first, "patient")
    consent = ok(world.get(world.tokens["office"], out(first, "consent")))
    assert consent["performer"] == [{"reference": f"RelatedPerson/{pid.split('/')[1]}-contact-1"}]
    assert world.get(world.tokens["a"], pid).status_code == 200
    # a proxy the form does not name as a contact: the person is the performer
    other = form()
    _item(other["item"], "person.name.kana")["answer"] = [{"valueString": "かくう はなこ"}]
    _item(other["item"], "filer.name.kanji")["answer"] = [{"valueString": "代筆 太郎"}]
    _item(other["item"], "filer.signature-method")["answer"] = method["answer"]
    second = register(world, params(other, PROV_A))
    consent = ok(world.get(world.tokens["office"], out(second, "consent")))
    assert consent["performer"] == [{"reference": out(second, "patient")}]
    assert world.get(world.tokens["a"], out(second, "patient")).status_code == 200
