"""A person's documents: the registration form, the care plans, the health certificate.

Pure builders from a :class:`hub.seed.people.Person` (no I/O, no clock):

* :func:`registration` — the completed 緊急時利用登録届 (QuestionnaireResponse of
  ``Questionnaire/emergency-registration``, http://hl7.org/fhir/R4/questionnaireresponse.html),
  shaped like ``profiles/jp-hub/examples``; it passes ``hub.workflows.forms.check_response``.
  :func:`register_parameters` wraps it for ``Patient/$register`` with the core center, the
  city and the providers the person's consent names.
* :func:`service_use_plan` — the サービス等利用計画 (CarePlan, profile service-use-plan) the
  consultation office writes; :func:`individual_plans` — each provider's 個別支援計画
  (profile individual-support-plan) ``basedOn`` it.
* the health certificate is in :mod:`hub.seed.health`.
* :func:`changed_consent` — the later version of the registration's Consent for the
  person's :class:`~hub.seed.people.ConsentVariant`.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import date, timedelta
from functools import cache
from typing import Any

from hub.seed.municipality import Municipality, Org, OrgKind, service_coding, service_names
from hub.seed.people import ConsentVariant, Person
from hub.seed.profiles import EXPECTED_RESPONSE, REASONS
from hub.workflows.conformance import CANONICAL_BASE, JP_HUB_DIR

REGISTRATION_FORM = f"{CANONICAL_BASE}/Questionnaire/emergency-registration"
HEALTH_FORM = f"{CANONICAL_BASE}/Questionnaire/health-certificate"
CS = f"{CANONICAL_BASE}/CodeSystem"
SD = f"{CANONICAL_BASE}/StructureDefinition"
GENDER = "http://hl7.org/fhir/administrative-gender"
JST = "+09:00"
CAREPLAN_CATEGORY = f"{CS}/careplan-category"


@cache
def _display(system: str) -> dict[str, str]:
    name = system.rsplit("/", 1)[1]
    data = json.loads((JP_HUB_DIR / f"CodeSystem-{name}.json").read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    stack = list(data.get("concept", []))
    while stack:
        c = stack.pop()
        out[c["code"]] = c.get("display", c["code"])
        stack.extend(c.get("concept", []))
    return out


@cache
def _texts(form: str) -> dict[str, str]:
    data = json.loads((JP_HUB_DIR / f"Questionnaire-{form}.json").read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    stack = list(data["item"])
    while stack:
        it = stack.pop()
        out[it["linkId"]] = it.get("text", "")
        stack.extend(it.get("item", []))
    return out


def coding(name: str, code: str) -> dict[str, str]:
    """A coding of the hub's CodeSystem ``name`` with its display."""
    system = f"{CS}/{name}"
    return {"system": system, "code": code, "display": _display(system)[code]}


def gender(sex: str) -> dict[str, str]:
    return {"system": GENDER, "code": sex, "display": sex.capitalize()}


class Form:
    """Builds ``item`` lists with the Questionnaire's texts."""

    def __init__(self, form: str) -> None:
        self.texts = _texts(form)

    def item(
        self,
        link: str,
        *values: Any,
        items: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"linkId": link, "text": self.texts[link]}
        answers = [_answer(v) for v in values if v is not None]
        if answers:
            out["answer"] = answers
        if items is not None:
            out["item"] = items
        return out


def _answer(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, date):
        return {"valueDate": value.isoformat()}
    if isinstance(value, dict):
        return {"valueCoding": value}
    return {"valueString": str(value)}


def _relationship(code: str) -> dict[str, str]:
    return coding("relationship", code)


# -- the registration form -----------------------------------------------------------------------


def registration(p: Person) -> dict[str, Any]:
    """The completed 緊急時利用登録届 of ``p`` (seed 003 別紙3)."""
    f = Form("emergency-registration")
    filer_name, filer_kana, filer_rel, method = p.filer
    self_filed = filer_rel == "self"
    filer = [
        f.item("filer.name.kanji", filer_name),
        f.item("filer.name.kana", filer_kana),
        f.item("filer.relationship", _relationship(filer_rel)),
        f.item("filer.signature-method", coding("signature-method", method)),
    ]
    phones = [
        f.item(link, value)
        for link, value in (("person.phone.home", p.home_phone), ("person.phone.mobile", p.mobile))
        if value
    ]
    person = [
        f.item("person.same-as-filer", self_filed),
        f.item("person.name.kanji", p.name),
        f.item("person.name.kana", p.kana),
        f.item("person.birthDate", p.birth),
        f.item("person.sex", gender(p.sex)),
        f.item("person.address.postalCode", p.postal),
        f.item("person.address.text", p.address),
    ]
    if phones:
        person.append(f.item("person.phone", items=phones))
    certs: list[dict[str, Any]] = []
    for cert, grade in p.certificates:
        certs.append(f.item(f"certificates.{cert}", True))
        if grade:
            certs.append(f.item(f"certificates.{cert}.grade", coding("disability-grade", grade)))
    used_codes = list(dict.fromkeys(code for code, _ in p.used))
    status = [
        f.item("status.main-disability", p.profile.main),
        f.item("status.support-class", coding("support-class", p.support_class)),
        f.item("status.services", bool(used_codes)),
    ]
    if used_codes:
        status.append(
            f.item("status.services.kind", *(coding("welfare-service-kind", c) for c in used_codes))
        )
        status.append(
            f.item(
                "status.services.detail",
                *dict.fromkeys(f"{org.name}（{service_names()[c]}）" for c, org in p.used),
            )
        )
    status.append(f.item("status.family-doctor", p.family_doctor is not None))
    if p.family_doctor:
        status.append(f.item("status.family-doctor.name", p.family_doctor))
    status.append(f.item("status.condition", p.profile.condition))
    status.append(f.item("status.medication", bool(p.medications)))
    if p.medications:
        status.append(f.item("status.medication.detail", *p.medications))
    items = [
        f.item("filed-date", p.filed),
        f.item("filer", items=filer),
        f.item("person", items=person),
    ]
    if certs:
        items.append(f.item("certificates", items=certs))
    items += [
        f.item("care-level", coding("care-level", p.care_level)),
        f.item(
            "registration",
            items=[
                f.item("registration.reason", "".join(REASONS[e] for e in p.eligibility)),
                f.item(
                    "registration.eligibility",
                    *(coding("registration-eligibility", e) for e in p.eligibility),
                ),
            ],
        ),
        f.item("status", items=status),
        f.item(
            "emergency.expected",
            items=[
                f.item(
                    "emergency.expected.kind",
                    *(coding("expected-emergency", e) for e in p.expected),
                ),
                f.item(
                    "emergency.expected.response",
                    "".join(EXPECTED_RESPONSE[e] for e in p.expected),
                ),
            ],
        ),
    ]
    if p.wanted:
        detail = "、".join(o.name for o in p.short_stays) or "相談支援事業所と相談して決める"
        items.append(
            f.item(
                "emergency.wanted-services",
                items=[
                    f.item(
                        "emergency.wanted-services.kind",
                        *(coding("welfare-service-kind", c) for c in p.wanted),
                    ),
                    f.item("emergency.wanted-services.detail", detail),
                ],
            )
        )
    for n, c in enumerate(p.contacts[:2], start=1):
        items.append(
            f.item(
                f"contact.{n}",
                items=[
                    f.item(f"contact.{n}.name", c.name),
                    f.item(f"contact.{n}.relationship", _relationship(c.relationship)),
                    f.item(f"contact.{n}.address", c.address),
                    f.item(f"contact.{n}.phone", c.phone),
                    f.item(f"contact.{n}.agreement", c.agreed),
                ],
            )
        )
    if p.household:
        members = [
            f.item(
                "household.member",
                items=[
                    f.item("household.member.relationship", _relationship(m.relationship)),
                    f.item("household.member.name", m.name),
                ],
            )
            for m in p.household
        ]
        items.append(f.item("household", items=members))
    body: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": REGISTRATION_FORM,
        "status": "completed",
        "subject": {"reference": p.ref},
        "authored": f"{p.filed.isoformat()}T10:00:00{JST}",
        "item": items,
    }
    if p.specialist is not None:
        body["author"] = {"reference": p.specialist.role_ref}
    return body


def register_parameters(p: Person, m: Municipality) -> dict[str, Any]:
    """``Patient/$register`` Parameters: the form and the actors its consent names."""
    core = m.of_kind(OrgKind.CORE_CENTER)[0]
    city = m.of_kind(OrgKind.CITY)[0]
    params: list[dict[str, Any]] = [
        {"name": "response", "resource": registration(p)},
        {"name": "consultation-office", "valueReference": {"reference": p.office.ref}},
        {"name": "core-center", "valueReference": {"reference": core.ref}},
        {"name": "city", "valueReference": {"reference": city.ref}},
    ]
    params += [{"name": "provider", "valueReference": {"reference": o.ref}} for o in p.providers]
    return {"resourceType": "Parameters", "parameter": params}


# -- care plans ------------------------------------------------------------------------------------


def _plan_start(p: Person) -> date:
    return p.filed + timedelta(days=14)


def service_use_plan(p: Person, as_of: date) -> dict[str, Any] | None:
    """The サービス等利用計画 (by the consultation office's 相談支援専門員), or None when the
    person uses no service."""
    if not p.used:
        return None
    rng = random.Random(f"plan:{p.id}")
    start = _plan_start(p)
    last = max(start, as_of - timedelta(days=rng.randint(0, 150)))
    activity: list[dict[str, Any]] = [
        {
            "detail": {
                "code": {"coding": [service_coding(code)]},
                "status": "in-progress",
                "description": f"{service_names()[code]}の利用（{org.name}）",
                "performer": [{"reference": org.ref, "display": org.name}],
            }
        }
        for code, org in p.used
    ]
    for org in p.short_stays[:1]:
        activity.append(
            {
                "detail": {
                    "code": {"coding": [service_coding("24")]},
                    "status": "scheduled",
                    "description": "緊急時に備えた体験利用（年2回）と、介護者不在時の緊急利用",
                    "performer": [{"reference": org.ref, "display": org.name}],
                }
            }
        )
    stay = p.short_stays[0].name if p.short_stays else "相談支援事業所が調整する事業所"
    body: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": f"{p.id}-sup",
        "meta": {"profile": [f"{SD}/service-use-plan"]},
        "extension": [
            {
                "url": f"{SD}/careplan-person-wishes",
                "valueString": "今の家で安心して暮らし続けたい。",
            },
            {"url": f"{SD}/careplan-issue", "valueString": p.profile.condition},
            {
                "url": f"{SD}/careplan-emergency-response",
                "valueString": f"緊急時は{stay}を利用する。利用できない時は基幹相談支援センターの"
                "支援を受けて他の事業所を調整する。",
            },
            {"url": f"{SD}/monitoring-last-date", "valueDate": last.isoformat()},
        ],
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [coding("careplan-category", "service-use-plan")]}],
        "title": "サービス等利用計画",
        "description": "本人の思いを大切にし、日中活動の継続と緊急時への備えを進める。",
        "subject": {"reference": p.ref, "display": p.name},
        "period": {"start": start.isoformat(), "end": (start + timedelta(days=364)).isoformat()},
        "created": p.filed.isoformat(),
        "activity": activity,
    }
    if p.specialist is not None:
        body["author"] = {
            "reference": p.specialist.role_ref,
            "display": f"{p.specialist.role} {p.specialist.name}",
        }
    return body


def individual_plans(p: Person, m: Municipality) -> list[tuple[Org, dict[str, Any]]]:
    """Each service provider's 個別支援計画 (at most two), ``basedOn`` the service-use plan."""
    out: list[tuple[Org, dict[str, Any]]] = []
    seen: set[str] = set()
    start = _plan_start(p) + timedelta(days=7)
    for code, org in p.used:
        if org.id in seen or len(out) == 2:
            continue
        seen.add(org.id)
        body: dict[str, Any] = {
            "resourceType": "CarePlan",
            "id": f"{p.id}-isp-{len(out) + 1}",
            "meta": {"profile": [f"{SD}/individual-support-plan"]},
            "basedOn": [{"reference": f"CarePlan/{p.id}-sup"}],
            "status": "active",
            "intent": "plan",
            "category": [{"coding": [coding("careplan-category", "individual-support-plan")]}],
            "title": f"個別支援計画（{service_names()[code]}）",
            "description": "見通しの持てる日課で安心して活動できるよう支援する。",
            "subject": {"reference": p.ref, "display": p.name},
            "period": {
                "start": start.isoformat(),
                "end": (start + timedelta(days=182)).isoformat(),
            },
            "created": start.isoformat(),
            "activity": [
                {
                    "detail": {
                        "code": {"coding": [service_coding(code)]},
                        "status": "in-progress",
                        "performer": [{"reference": org.ref, "display": org.name}],
                    }
                }
            ],
        }
        staff = m.staff_of(org.id)
        if staff:
            body["author"] = {"reference": staff[0].role_ref, "display": staff[0].name}
        out.append((org, body))
    return out


# -- the consent's later version -----------------------------------------------------------------


def changed_consent(p: Person, current: dict[str, Any]) -> dict[str, Any] | None:
    """The Consent after the person's change (None for :attr:`ConsentVariant.PLAIN`).

    Narrowing rewrites the provision that permits the providers (the registration's
    ``TREAT``/``ETREAT`` permit); withdrawal sets ``status`` inactive (hub/consent/README.md
    rule 4: a withdrawn consent no longer counts).
    """
    if p.consent is ConsentVariant.PLAIN:
        return None
    body = {k: v for k, v in copy.deepcopy(current).items() if k != "meta" or v.get("profile")}
    body.pop("text", None)
    if isinstance(body.get("meta"), dict):
        body["meta"] = {"profile": body["meta"]["profile"]}
    if p.consent is ConsentVariant.WITHDRAWN:
        body["status"] = "inactive"
        return body
    refs = {o.ref for o in p.providers}
    dropped = p.providers[-1].ref
    kept: list[dict[str, Any]] = []
    for prov in body["provision"].get("provision", []):
        actors = {a["reference"]["reference"] for a in prov.get("actor", [])}
        if actors and actors <= refs:
            if p.consent is ConsentVariant.DROP_PROVIDER:
                prov["actor"] = [a for a in prov["actor"] if a["reference"]["reference"] != dropped]
                if not prov["actor"]:
                    continue
            else:
                prov["purpose"] = [c for c in prov["purpose"] if c["code"] == "ETREAT"]
        kept.append(prov)
    body["provision"]["provision"] = kept
    body["dateTime"] = p.changed.isoformat()
    return body
