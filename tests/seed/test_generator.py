"""The demo municipality's generator: deterministic, fictional, and forms the hub accepts."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from hub.fhir.canonical import canonical
from hub.fhir.errors import FhirError
from hub.fhir.validate import validate_resource
from hub.seed import documents as doc
from hub.seed.health import health_certificate
from hub.seed.municipality import SERVICE_KIND, OrgKind, directory, load, service_names
from hub.seed.people import ConsentVariant, Person, person
from hub.workflows.forms import check_response, questionnaire

AS_OF = date(2026, 11, 23)


def _documents(p: Person) -> list[Any]:
    m = load()
    return [
        doc.register_parameters(p, m),
        doc.service_use_plan(p, AS_OF),
        [b for _, b in doc.individual_plans(p, m)],
        health_certificate(p),
    ]


def _bytes(seed: int, count: int) -> bytes:
    m = load()
    return b"\n".join(canonical(_documents(person(seed, i, AS_OF, m))) for i in range(count))


def test_same_seed_same_bytes_other_seed_other_people() -> None:
    first, again = _bytes(1, 40), _bytes(1, 40)
    assert first == again
    assert _bytes(2, 40) != first
    # a person does not depend on how many are drawn before it (skipping is safe)
    m = load()
    alone = canonical(_documents(person(1, 37, AS_OF, m)))
    assert alone == first.split(b"\n")[37]
    # only the reference day moves the dates; the choices stay
    later = person(1, 37, AS_OF + timedelta(days=30), m)
    assert later.birth == person(1, 37, AS_OF, m).birth + timedelta(days=30)
    assert [o.id for o in later.providers] == [o.id for o in person(1, 37, AS_OF, m).providers]


def test_forms_pass_the_hubs_form_check_and_resources_validate() -> None:
    m = load()
    registration = questionnaire(doc.REGISTRATION_FORM)
    certificate = questionnaire(doc.HEALTH_FORM)
    assert registration is not None and certificate is not None
    for i in range(200):
        p = person(7, i, AS_OF, m)
        form = doc.registration(p)
        check_response(form, registration)
        validate_resource(form, "QuestionnaireResponse")
        hc = health_certificate(p)
        if hc is not None:
            check_response(hc, certificate)
            validate_resource(hc, "QuestionnaireResponse")
        for plan in [doc.service_use_plan(p, AS_OF), *(b for _, b in doc.individual_plans(p, m))]:
            if plan is not None:
                validate_resource(plan, "CarePlan")


def test_a_broken_form_is_refused_by_the_same_check() -> None:
    """The check above can fail: drop a required answer and it names the item."""
    form = doc.registration(person(1, 0, AS_OF, load()))
    person_group = next(it for it in form["item"] if it["linkId"] == "person")
    person_group["item"] = [i for i in person_group["item"] if i["linkId"] != "person.birthDate"]
    with pytest.raises(FhirError) as err:
        check_response(form, questionnaire(doc.REGISTRATION_FORM) or {})
    assert "person.birthDate" in json.dumps(err.value.issues[0].expression)


def test_the_mix_of_people() -> None:
    m = load()
    people = [person(1, i, AS_OF, m) for i in range(400)]
    variants = {p.consent for p in people}
    assert variants == set(ConsentVariant)
    plain = sum(p.consent is ConsentVariant.PLAIN for p in people)
    assert plain > len(people) // 2  # most consents stand as the form granted them
    ages = [(AS_OF - p.certificate_date).days for p in people if p.certificate_date]
    assert any(a > 365 for a in ages) and any(a <= 365 for a in ages)
    assert any(p.age(AS_OF) < 18 and p.filer[3] == "guardian" for p in people)
    assert any(not c.agreed for p in people for c in p.contacts)
    for p in people:
        assert p.address.startswith("架空県みどり野市")
        assert all(c.phone.startswith("090-0000-") for c in p.contacts)
        assert p.office.kind is OrgKind.CONSULTATION_OFFICE
        # short stay only for "the carer cannot give care" (the hub's $register rule)
        assert "24" not in p.wanted or "carer-unable" in p.eligibility
        assert {o.id for o in p.short_stays} <= {o.id for o in p.providers}


def test_directory_is_valid_fhir_with_service_kind_codes() -> None:
    m = load()
    resources = directory(m)
    for r in resources:
        validate_resource(r, r["resourceType"])
    kinds = {
        c["code"]
        for r in resources
        if r["resourceType"] == "HealthcareService"
        for t in r["type"]
        for c in t["coding"]
        if c["system"] == SERVICE_KIND
    }
    assert "24" in kinds and kinds <= set(service_names())
    assert len(m.of_kind(OrgKind.CONSULTATION_OFFICE)) >= 3
    assert len(m.of_kind(OrgKind.HOSPITAL)) == 2
    assert len(m.providing("24")) >= 2
    assert sum(c.privacy_officer for c in m.clients) == 1
    assert sum(c.break_glass for c in m.clients) >= 1
    roles = [r for r in resources if r["resourceType"] == "PractitionerRole"]
    assert any(r["code"][0]["text"] == "相談支援専門員" for r in roles)
