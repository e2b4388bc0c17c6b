"""The register entry (台帳) and the consent a registration grants — pure builders.

The register entry is an ``EpisodeOfCare`` per person (the person's registration with the
base): ``type`` holds the form code, the eligibility case(s), the expected emergencies and the
wanted services (each a CodeableConcept, so ``EpisodeOfCare?type=…`` filters by any of them),
``managingOrganization`` the consultation office, ``period.start`` the filing date, and
extensions the expected providers (searchable: ``EpisodeOfCare?expected-provider=``), the core
center, the city and the registration form. It is in the Patient compartment
(http://hl7.org/fhir/R4/compartmentdefinition-patient.html), so reading it goes through the
consent gate like everything else.

The consent the form grants (``Consent``, profile hub-consent): scope patient-privacy; deny by
default with permits for the city (CAREMGT), the core center and the consultation office
(CAREMGT, TREAT, ETREAT) and the expected providers (TREAT, ETREAT) — the form's purpose is
"to prepare for and handle emergencies" (緊急時に備えることを目的に); ``sourceReference`` → the
registration form. A withdrawn consent (``status`` inactive or rejected) stays withdrawn when a
change notice is filed or the registration is shared; only a new registration form grants it
again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.consent.codes import CONSENT_SCOPE_SYSTEM, PURPOSE_OF_USE_SYSTEM
from hub.workflows import extract as x
from hub.workflows.conformance import CANONICAL_BASE
from hub.workflows.forms import FormAnswers

EXT = f"{CANONICAL_BASE}/StructureDefinition"
EXT_PROVIDER = f"{EXT}/register-expected-provider"
EXT_CORE = f"{EXT}/register-core-center"
EXT_CITY = f"{EXT}/register-city"
EXT_FORM = f"{EXT}/register-form"
FORM_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/form"
HUB_CONSENT = f"{EXT}/hub-consent"
PROVIDER_PURPOSES = ("TREAT", "ETREAT")
WITHDRAWN = ("inactive", "rejected")


def consent_id(pid: str) -> str:
    return f"{x.id_prefix(pid)}-registration-consent"


def episode_id(pid: str) -> str:
    return f"{x.id_prefix(pid)}-registration"


def ext_refs(body: dict[str, Any] | None, url: str) -> list[str]:
    return [
        e["valueReference"]["reference"]
        for e in (body or {}).get("extension", [])
        if e.get("url") == url and isinstance(e.get("valueReference"), dict)
    ]


@dataclass
class Actors:
    """Who the registration involves (references to Organizations)."""

    office: str | None = None
    core: str | None = None
    city: str | None = None
    providers: list[str] = field(default_factory=list)


def actors(given: Actors, episode: dict[str, Any] | None, organization: str | None) -> Actors:
    """The form's actors: as given, else as registered, else the caller's organization."""
    old_office = ((episode or {}).get("managingOrganization") or {}).get("reference")
    providers = given.providers or ext_refs(episode, EXT_PROVIDER)
    return Actors(
        given.office or old_office or organization,
        given.core or next(iter(ext_refs(episode, EXT_CORE)), None),
        given.city or next(iter(ext_refs(episode, EXT_CITY)), None),
        list(dict.fromkeys(providers)),
    )


def permit(refs: list[str], purposes: tuple[str, ...]) -> dict[str, Any]:
    role = {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
    return {
        "type": "permit",
        "actor": [{"role": {"coding": [role]}, "reference": {"reference": r}} for r in refs],
        "purpose": [{"system": PURPOSE_OF_USE_SYSTEM, "code": p} for p in purposes],
    }


def consent(
    pid: str,
    who: Actors,
    registration: dict[str, Any],
    form_id: str,
    answers: FormAnswers,
    signer: str | None = None,
) -> dict[str, Any]:
    """The consent the registration form grants (see the module docstring). ``performer`` is
    the person (signed by themselves), or ``signer`` — the RelatedPerson who signed for them
    (guardian, proxy) — else still the person, on whose behalf the proxy signed; a reference
    either way, as the consent engine requires (hub/consent/README.md)."""
    provisions = []
    if who.city:
        provisions.append(permit([who.city], ("CAREMGT",)))
    coordinators = [r for r in (who.core, who.office) if r]
    if coordinators:
        provisions.append(permit(list(dict.fromkeys(coordinators)), ("CAREMGT", "TREAT", "ETREAT")))
    if who.providers:
        provisions.append(permit(who.providers, PROVIDER_PURPOSES))
    filed = answers.date("filed-date") or str(registration.get("authored", ""))[:10]
    performer = {"reference": signer or f"Patient/{pid}"}
    return {
        "resourceType": "Consent",
        "id": consent_id(pid),
        "meta": {"profile": [HUB_CONSENT]},
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{pid}"},
        "dateTime": filed,
        "performer": [performer],
        "organization": [{"reference": who.core or who.office or ""}],
        "sourceReference": {"reference": f"QuestionnaireResponse/{form_id}"},
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": {"type": "deny", "provision": provisions},
    }


def signer_of(answers: FormAnswers, related: dict[str, dict[str, Any]]) -> str | None:
    """The RelatedPerson who signed the form for the person (signature method not ``self``):
    the contact or household member whose name is the filer's (spaces ignored)."""
    method = (answers.coding("filer.signature-method") or {}).get("code")
    filer = "".join((answers.string("filer.name.kanji") or "").split())
    if method in (None, "self") or not filer:
        return None
    for _, body in sorted(related.items()):
        names = {"".join(str(n.get("text", "")).split()) for n in body.get("name", [])}
        if filer in names:
            return f"RelatedPerson/{body['id']}"
    return None


def episode(
    pid: str, who: Actors, answers: FormAnswers, number: str, form_id: str, filed: str
) -> dict[str, Any]:
    """The register entry (see the module docstring)."""
    types = [
        {
            "coding": [
                {
                    "system": FORM_SYSTEM,
                    "code": "emergency-registration",
                    "display": "緊急時利用登録届",
                }
            ]
        },
    ]
    for link in (
        "registration.eligibility",
        "emergency.expected.kind",
        "emergency.wanted-services.kind",
    ):
        types += [{"coding": [c]} for c in answers.codings(link)]
    ext = [{"url": EXT_PROVIDER, "valueReference": {"reference": p}} for p in who.providers]
    if who.core:
        ext.append({"url": EXT_CORE, "valueReference": {"reference": who.core}})
    if who.city:
        ext.append({"url": EXT_CITY, "valueReference": {"reference": who.city}})
    ext.append(
        {"url": EXT_FORM, "valueReference": {"reference": f"QuestionnaireResponse/{form_id}"}}
    )
    body: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": episode_id(pid),
        "extension": ext,
        "identifier": [{"system": x.REGISTRATION_NUMBER, "value": number}],
        "status": "active",
        "type": types,
        "patient": {"reference": f"Patient/{pid}"},
        "period": {"start": filed},
    }
    if who.office:
        body["managingOrganization"] = {"reference": who.office}
    return body
