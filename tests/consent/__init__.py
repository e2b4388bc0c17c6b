"""Tests of the pure consent engine, and the fixtures they share.

:func:`registration_consent` is the consent a 緊急時利用登録届 (emergency-use registration
form) gives, for a fictional person: the form and the data needed for support may be shared
with the city (障がい者福祉課), the core consultation center (基幹相談支援センター) and provider A
(the short-stay provider expected to act), to prepare for and handle emergencies (TREAT,
CAREMGT, ETREAT) — and, as the person asked, provider A does not see their medication.
"""

from __future__ import annotations

import copy
from typing import Any

from hub.consent.codes import (
    CONSENT_ACTION_SYSTEM,
    CONSENT_SCOPE_SYSTEM,
    PURPOSE_OF_USE_SYSTEM,
    RESOURCE_TYPES_SYSTEM,
)
from hub.fhir.indexing import date_range

HUB = "https://community-support-hub.example/fhir"
CITY = "Organization/matsue-city-welfare"
CORE = "Organization/core-center-kizuna"
PROVIDER_A = "Organization/short-stay-a"
PROVIDER_B = "Organization/short-stay-b"
HOSPITAL = "Organization/hospital-h"
PATIENT = "p-0001"
REGISTRATION_POLICY = f"{HUB}/CodeSystem/consent-policy"

#: the moment the tests run at, well inside the consent's period
NOW = date_range("2025-10-01T12:00:00+09:00")[0]


def at(value: str) -> int:
    """µs since the epoch of the start of a FHIR date/dateTime."""
    return date_range(value)[0]


def actor(ref: str) -> dict[str, Any]:
    role = {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
    return {"role": {"coding": [role]}, "reference": {"reference": ref}}


def purpose(code: str) -> dict[str, str]:
    return {"system": PURPOSE_OF_USE_SYSTEM, "code": code}


def action(code: str) -> dict[str, Any]:
    return {"coding": [{"system": CONSENT_ACTION_SYSTEM, "code": code}]}


def rclass(resource_type: str) -> dict[str, str]:
    return {"system": RESOURCE_TYPES_SYSTEM, "code": resource_type}


_REGISTRATION: dict[str, Any] = {
    "resourceType": "Consent",
    "id": "registration-0001",
    "meta": {"versionId": "1", "lastUpdated": "2025-04-01T10:00:00+09:00"},
    "status": "active",
    "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "patient-privacy"}]},
    "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
    "patient": {"reference": f"Patient/{PATIENT}"},
    "dateTime": "2025-04-01T10:00:00+09:00",
    "performer": [{"reference": "RelatedPerson/guardian-0001"}],
    "organization": [{"reference": CORE}],
    "sourceReference": {"reference": "QuestionnaireResponse/registration-form-0001"},
    "policyRule": {
        "coding": [{"system": REGISTRATION_POLICY, "code": "emergency-registration"}],
        "text": "緊急時利用登録届による情報共有の同意",
    },
    "provision": {
        "type": "deny",
        "period": {"start": "2025-04-01", "end": "2028-03-31"},
        "provision": [
            {
                "type": "permit",
                "actor": [actor(CITY), actor(CORE), actor(PROVIDER_A)],
                "action": [action("access"), action("use")],
                "purpose": [purpose("TREAT"), purpose("CAREMGT"), purpose("ETREAT")],
                "provision": [
                    {
                        "type": "deny",
                        "actor": [actor(PROVIDER_A)],
                        "class": [rclass("MedicationStatement")],
                    }
                ],
            }
        ],
    },
}


def registration_consent() -> dict[str, Any]:
    """A fresh copy of the registration-form Consent (FHIR JSON)."""
    return copy.deepcopy(_REGISTRATION)
