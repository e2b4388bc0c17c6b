"""Helpers for the consent-gate tests: a hub with tokens required, the organizations of the
scenario (issue 4) as registered clients, and the person the core center registers.

Everything goes through HTTP with real tokens (SMART Backend Services, ``tests.auth.helpers``).
Patient data is fictional.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.auth.helpers import BASE, Hub, cached_key

CORE = "Organization/core-center"
PROVIDER_A = "Organization/provider-a"
PROVIDER_B = "Organization/provider-b"
HOSPITAL = "Organization/hospital-h"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONTACT_AGREEMENT = (
    "https://community-support-hub.example/fhir/StructureDefinition/contact-agreement"
)
V2_0131 = "http://terminology.hl7.org/CodeSystem/v2-0131"
READER_SCOPE = "system/*.rs"
WRITER_SCOPE = "system/*.cruds"
FAMILY = "架空野"


def consent_body(
    patient_id: str, *, status: str = "active", cid: str | None = None
) -> dict[str, Any]:
    """The registration form's consent (緊急時利用登録届): deny by default; provider A for TREAT
    and CAREMGT; the hospital only for ETREAT (emergencies)."""
    body: dict[str, Any] = {
        "resourceType": "Consent",
        "meta": {
            "profile": [
                "https://community-support-hub.example/fhir/StructureDefinition/hub-consent"
            ]
        },
        "status": status,
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "dateTime": "2024-04-01T10:00:00+09:00",
        "organization": [{"reference": CORE}],
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": {
            "type": "deny",
            "provision": [
                {
                    "type": "permit",
                    "actor": [_actor(PROVIDER_A)],
                    "purpose": [
                        {"system": ACT_REASON, "code": "TREAT"},
                        {"system": ACT_REASON, "code": "CAREMGT"},
                    ],
                },
                {
                    "type": "permit",
                    "actor": [_actor(HOSPITAL)],
                    "purpose": [{"system": ACT_REASON, "code": "ETREAT"}],
                },
            ],
        },
    }
    if cid is not None:
        body["id"] = cid
    return body


def _actor(reference: str) -> dict[str, Any]:
    return {
        "role": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": "IRCP",
                }
            ]
        },
        "reference": {"reference": reference},
    }


@dataclass
class Person:
    patient: str
    contact: str  # agreed emergency contact
    unagreed_contact: str  # a contact whose own agreement is not recorded
    careplan: str
    conditions: list[str]
    consent: str


@dataclass
class World:
    """The scenario's hub and one token per organization (purpose of use as named)."""

    hub: Hub
    tokens: dict[str, str] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, name: str, organization: str, scope: str, **flags: Any) -> None:
        client, key = self.hub.add_client(
            scope, cached_key("ec-a"), organization=organization, **flags
        )
        self.clients[name] = (client, key)

    def token(self, name: str, scope: str, purpose: str | None = None) -> str:
        client, key = self.clients[name]
        extra = {"purpose_of_use": purpose} if purpose else {}
        return self.hub.token(client, key, scope, **extra)

    def get(self, token: str, path: str) -> Any:
        return self.hub.fhir("GET", _rel(path), token)

    def create(self, token: str, body: dict[str, Any]) -> str:
        resp = self.hub.fhir("POST", body["resourceType"], token, body)
        assert resp.status_code == 201, resp.get_json()
        return str(resp.get_json()["id"])


def _rel(path: str) -> str:
    """A path relative to /fhir (``next`` links are absolute)."""
    return path[len(BASE) + 1 :] if path.startswith(BASE) else path.lstrip("/")


def make_world(hub: Hub) -> World:
    w = World(hub)
    w.client("core", CORE, WRITER_SCOPE)
    w.client("a", PROVIDER_A, READER_SCOPE)
    w.client("b", PROVIDER_B, READER_SCOPE)
    w.client("hospital", HOSPITAL, READER_SCOPE)
    w.tokens["core"] = w.token("core", WRITER_SCOPE)
    w.tokens["a"] = w.token("a", READER_SCOPE, "TREAT")
    w.tokens["b"] = w.token("b", READER_SCOPE, "TREAT")
    return w


def register_person(w: World, family: str = FAMILY) -> Person:
    """The core center registers a person: Patient, contacts, CarePlan, Conditions, Consent."""
    core = w.tokens["core"]
    pid = w.create(
        core,
        {
            "resourceType": "Patient",
            "name": [{"family": family, "given": ["花子"]}],
            "birthDate": "1950-02-03",
        },
    )

    def contact(agreed: bool | None, given: str) -> str:
        body: dict[str, Any] = {
            "resourceType": "RelatedPerson",
            "patient": {"reference": f"Patient/{pid}"},
            "relationship": [{"coding": [{"system": V2_0131, "code": "C"}]}],
            "name": [{"family": family, "given": [given]}],
        }
        if agreed is not None:
            body["extension"] = [{"url": CONTACT_AGREEMENT, "valueBoolean": agreed}]
        return w.create(core, body)

    agreed = contact(True, "一郎")
    unagreed = contact(None, "次郎")
    careplan = w.create(
        core,
        {
            "resourceType": "CarePlan",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": f"Patient/{pid}"},
            "title": "緊急時対応計画",
        },
    )
    conditions = [
        w.create(
            core,
            {
                "resourceType": "Condition",
                "subject": {"reference": f"Patient/{pid}"},
                "code": {"text": text},
            },
        )
        for text in ("架空の疾患一", "架空の疾患二")
    ]
    consent = w.create(core, consent_body(pid))
    return Person(pid, agreed, unagreed, careplan, conditions, consent)


def ids(bundle: dict[str, Any]) -> list[str]:
    """``Type/id`` of every entry of a searchset/history Bundle that carries a resource."""
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if "resource" in e
    ]


def next_link(bundle: dict[str, Any]) -> str | None:
    return next((x["url"] for x in bundle.get("link", []) if x["relation"] == "next"), None)
