"""The registration form (緊急時利用登録届) → the resources it stands for. Pure: no database.

Mapping (DOMAIN.md "A proposed FHIR mapping"; JP Core for the Patient):

* ``Patient`` (profile ``registered-person``, JP Core ``JP_Patient``): the kanji name
  (``iso21090-EN-representation`` = IDE) and the kana name (SYL, written in katakana as JP
  Core does — the form's hiragana is converted), birth date, sex, home address and postcode,
  home and mobile phones, the registration number (``…/sid/registration-number``).
* ``RelatedPerson`` per emergency contact (relationship ``v2-0131#C`` plus the form's
  relationship) carrying the contact's own agreement in the ``contact-agreement`` extension —
  the consent gate hides a contact whose agreement is not recorded; one per household member.
* ``Condition``: the main disability or illness (病状・治療状況 as its note).
* ``MedicationStatement`` per medication named.
* ``Observation`` per certificate held (code: ``CodeSystem/disability-certificate``; value:
  the grade, or ``true``), the support class (障がい支援区分) and the care level (要介護区分)
  (code: the form's canonical url as system and the item's linkId as code — the answer is the
  value, so the Observation says which question of which form it answers).

Every resource gets a deterministic id (``<prefix>-<part>``) so that submitting the same
form again writes the same content to the same ids (no new versions), and a change notice
updates in place. None of them points at the form that last changed it: a reference to the
newest form would make every resource change with every notice.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from hub.consent.codes import CONTACT_AGREEMENT_EXTENSION
from hub.workflows.conformance import CANONICAL_BASE
from hub.workflows.forms import FormAnswers

REGISTRATION_FORM = f"{CANONICAL_BASE}/Questionnaire/emergency-registration"
CHANGE_FORM = f"{CANONICAL_BASE}/Questionnaire/emergency-registration-change"
REGISTRATION_NUMBER = f"{CANONICAL_BASE}/sid/registration-number"
PROFILE_PERSON = f"{CANONICAL_BASE}/StructureDefinition/registered-person"
CONTACT_AGREEMENT = CONTACT_AGREEMENT_EXTENSION
REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
CERTIFICATE_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/disability-certificate"
V2_0131 = "http://terminology.hl7.org/CodeSystem/v2-0131"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CERTIFICATES = (
    "physical",
    "intellectual",
    "mental",
    "independence-support-medical",
    "specified-medical",
    "other",
)
CERTIFICATE_NAMES = {
    "physical": "身体障害者手帳",
    "intellectual": "療育手帳",
    "mental": "精神障害者保健福祉手帳",
    "independence-support-medical": "自立支援医療受給者証",
    "specified-medical": "特定医療費受給者証",
    "other": "その他",
}
#: short id parts (ids are at most 64 characters)
_CERT_PART = {
    "physical": "physical",
    "intellectual": "intellectual",
    "mental": "mental",
    "independence-support-medical": "indep-medical",
    "specified-medical": "specified-medical",
    "other": "other",
}
#: the types extraction writes under ``<prefix>-…`` ids (stale ones are deleted)
DERIVED_TYPES = ("RelatedPerson", "Condition", "MedicationStatement", "Observation")
_ID_ROOM = 36


def id_prefix(patient_id: str) -> str:
    """The prefix of the ids derived for a person (a hash when their id is long)."""
    if len(patient_id) <= _ID_ROOM:
        return patient_id
    return "p" + hashlib.sha256(patient_id.encode()).hexdigest()[: _ID_ROOM - 1]


def katakana(text: str) -> str:
    """Hiragana → katakana (JP Core writes the SYL name in katakana)."""
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)


def _human_name(text: str, representation: str | None = None) -> dict[str, Any]:
    parts = re.split(r"[\s\u3000]+", text.strip(), maxsplit=1)
    name: dict[str, Any] = {"use": "official", "text": text.strip(), "family": parts[0]}
    if len(parts) > 1:
        name["given"] = [parts[1]]
    if representation:
        name["extension"] = [{"url": REPRESENTATION, "valueCode": representation}]
    return name


def _concept(answers: FormAnswers, link: str) -> dict[str, Any] | None:
    coding = answers.coding(link)
    if coding is not None:
        return {"coding": [coding]}
    text = answers.string(link)
    return {"text": text} if text else None


def patient(
    answers: FormAnswers, pid: str, existing: dict[str, Any] | None, number: str
) -> dict[str, Any]:
    """The Patient: the form's fields over whatever else the stored Patient holds."""
    body = {k: v for k, v in (existing or {}).items() if k not in ("meta", "text")}
    body.update(resourceType="Patient", id=pid, meta={"profile": [PROFILE_PERSON]})
    identifiers = [i for i in body.get("identifier", []) if i.get("system") != REGISTRATION_NUMBER]
    body["identifier"] = [{"system": REGISTRATION_NUMBER, "value": number}, *identifiers]
    kanji, kana = answers.string("person.name.kanji"), answers.string("person.name.kana")
    names = [_human_name(kanji, "IDE")] if kanji else []
    if kana:
        names.append(_human_name(katakana(kana), "SYL"))
    if names:
        body["name"] = names
    phones = [
        {"system": "phone", "value": v, "use": use}
        for link, use in (("person.phone.home", "home"), ("person.phone.mobile", "mobile"))
        if (v := answers.string(link))
    ]
    others = [t for t in body.get("telecom", []) if t.get("system") != "phone"]
    if phones or others:
        body["telecom"] = phones + others
    if (sex := answers.coding("person.sex")) is not None:
        body["gender"] = sex.get("code")
    if (birth := answers.date("person.birthDate")) is not None:
        body["birthDate"] = birth
    if (address := answers.string("person.address.text")) is not None:
        addr: dict[str, Any] = {"use": "home", "text": address, "country": "JP"}
        if postal := answers.string("person.address.postalCode"):
            addr["postalCode"] = postal
        body["address"] = [addr]
    return body


def _relationship(answers: FormAnswers, link: str) -> list[dict[str, Any]]:
    concept = _concept(answers, link)
    return [concept] if concept else []


def contacts(answers: FormAnswers, pid: str) -> dict[str, dict[str, Any]]:
    """Emergency contacts 1 and 2 (with their agreement) and the household members."""
    prefix = id_prefix(pid)
    out: dict[str, dict[str, Any]] = {}
    for n in (1, 2):
        base = f"contact.{n}"
        name = answers.string(f"{base}.name")
        if name is None:
            continue
        body: dict[str, Any] = {
            "resourceType": "RelatedPerson",
            "id": f"{prefix}-contact-{n}",
            "extension": [
                {
                    "url": CONTACT_AGREEMENT,
                    "valueBoolean": answers.boolean(f"{base}.agreement") is True,
                }
            ],
            "patient": {"reference": f"Patient/{pid}"},
            "relationship": [
                {"coding": [{"system": V2_0131, "code": "C", "display": "Emergency Contact"}]},
                *_relationship(answers, f"{base}.relationship"),
            ],
            "name": [_human_name(name)],
        }
        if phone := answers.string(f"{base}.phone"):
            body["telecom"] = [{"system": "phone", "value": phone}]
        if address := answers.string(f"{base}.address"):
            body["address"] = [{"text": address}]
        out[body["id"]] = body
    for n, member in enumerate(answers.groups.get("household.member", []), start=1):
        name = member.string("household.member.name")
        if name is None:
            continue
        body = {
            "resourceType": "RelatedPerson",
            "id": f"{prefix}-household-{n}",
            "patient": {"reference": f"Patient/{pid}"},
            "relationship": _relationship(member, "household.member.relationship"),
            "name": [_human_name(name)],
        }
        out[body["id"]] = body
    return out


def clinical(answers: FormAnswers, pid: str) -> dict[str, dict[str, Any]]:
    """The main disability (Condition) and the medications (MedicationStatement)."""
    prefix = id_prefix(pid)
    subject = {"reference": f"Patient/{pid}"}
    out: dict[str, dict[str, Any]] = {}
    if main := answers.string("status.main-disability"):
        cond: dict[str, Any] = {
            "resourceType": "Condition",
            "id": f"{prefix}-main-disability",
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "code": {"text": main},
            "subject": subject,
        }
        if note := answers.string("status.condition"):
            cond["note"] = [{"text": note}]
        out[cond["id"]] = cond
    if answers.boolean("status.medication") is not False:
        for n, text in enumerate(answers.strings("status.medication.detail"), start=1):
            mid = f"{prefix}-medication-{n}"
            out[mid] = {
                "resourceType": "MedicationStatement",
                "id": mid,
                "status": "active",
                "medicationCodeableConcept": {"text": text},
                "subject": subject,
            }
    return out


def _observation(rid: str, pid: str, code: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": code,
        "subject": {"reference": f"Patient/{pid}"},
        **value,
    }


def observations(
    answers: FormAnswers, pid: str, texts: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Certificates held, the support class and the care level."""
    prefix = id_prefix(pid)
    out: dict[str, dict[str, Any]] = {}
    for cert in CERTIFICATES:
        link = f"certificates.{cert}"
        if cert == "other":
            other = answers.string(link)
            value: dict[str, Any] | None = {"valueString": other} if other else None
        elif answers.boolean(link) is True:
            grade = answers.coding(f"{link}.grade")
            value = (
                {"valueCodeableConcept": {"coding": [grade]}} if grade else {"valueBoolean": True}
            )
        else:
            value = None
        if value is not None:
            code = {
                "coding": [
                    {"system": CERTIFICATE_SYSTEM, "code": cert, "display": CERTIFICATE_NAMES[cert]}
                ]
            }
            rid = f"{prefix}-cert-{_CERT_PART[cert]}"
            out[rid] = _observation(rid, pid, code, value)
    for link, part in (("status.support-class", "support-class"), ("care-level", "care-level")):
        coding = answers.coding(link)
        if coding is None:
            continue
        code = {
            "coding": [{"system": REGISTRATION_FORM, "code": link, "display": texts.get(link, "")}]
        }
        rid = f"{prefix}-{part}"
        out[rid] = _observation(rid, pid, code, {"valueCodeableConcept": {"coding": [coding]}})
    return out
